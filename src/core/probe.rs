//! The preflight's probe: a tiny object written with a throwaway key tells whether the
//! server enforces SSE-C (a GET without the key must fail, one with it must return the
//! bytes), and what it does differently: whether it re-keys the object onto itself with
//! `MetadataDirective=COPY` or needs `REPLACE`, whether UploadPartCopy with SSE-C works, and
//! whether it accepts an UploadPart without the key into an SSE-C multipart upload (partial
//! enforcement). Everything it writes is
//! deleted or aborted before it returns.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use super::key::{SseHeaders, SseKey};
use super::meta::ObjectMeta;
use super::preflight::Enforcement;
use super::registry::{BucketTraits, Rekey};
use super::s3::{Op, S3ErrorKind, WithCopySourceSse as _, WithSse as _, sdk_error};

const PAYLOAD: &[u8] = b"ssec-manager SSE-C enforcement probe";

/// Runs the probe on `bucket`; the traits are only learned when SSE-C is enforced.
pub async fn probe(client: &Client, bucket: &str) -> (Enforcement, BucketTraits) {
    let key = match SseKey::generate() {
        Ok(k) => k,
        Err(e) => {
            return (
                Enforcement::Failed(format!("no random key: {e}")),
                BucketTraits::default(),
            );
        }
    };
    let mut id = [0u8; 6];
    let _ = getrandom::fill(&mut id);
    let object = format!(".ssec-manager-probe-{}", hex::encode(id));
    let h = key.headers();
    let enforcement = enforcement(client, bucket, &object, &h).await;
    let mut traits = BucketTraits {
        checked_at: Some(super::registry::now()),
        ..BucketTraits::default()
    };
    if enforcement == Enforcement::Enforced {
        let (rekey, moved_to) = rekey(client, bucket, &object, &h).await;
        traits.rekey = rekey;
        let moved = moved_to.as_ref().map(SseKey::headers);
        let current = moved.as_ref().unwrap_or(&h);
        traits.part_copy = part_copy(client, bucket, &object, current).await;
        traits.keyless_part_accepted = keyless_part(client, bucket, &object, &h).await;
    }
    let _ = client
        .delete_object()
        .bucket(bucket)
        .key(&object)
        .send()
        .await;
    (enforcement, traits)
}

/// Writes the probe object with the key, reads it without and with the key.
async fn enforcement(client: &Client, bucket: &str, object: &str, h: &SseHeaders) -> Enforcement {
    let url = format!("s3://{bucket}/{object}");
    let put = client
        .put_object()
        .bucket(bucket)
        .key(object)
        .body(ByteStream::from_static(PAYLOAD))
        .sse(h)
        .send()
        .await;
    if let Err(e) = put {
        return Enforcement::Failed(sdk_error(e, Op::Write, &url, true).message);
    }
    let keyless = client.get_object().bucket(bucket).key(object).send().await;
    match keyless {
        Ok(_) => return Enforcement::Ignored,
        Err(e) => {
            let err = sdk_error(e, Op::Read, &url, false);
            if err.kind != S3ErrorKind::KeyRequired {
                return Enforcement::Failed(format!("a keyless GET failed oddly: {}", err.message));
            }
        }
    }
    let with_key = client
        .get_object()
        .bucket(bucket)
        .key(object)
        .sse(h)
        .send()
        .await;
    match with_key {
        Ok(out) => match out.body.collect().await.map(|b| b.into_bytes()) {
            Ok(b) if b.as_ref() == PAYLOAD => Enforcement::Enforced,
            _ => Enforcement::Failed("the probe object came back changed".into()),
        },
        Err(e) => Enforcement::Failed(sdk_error(e, Op::Read, &url, true).message),
    }
}

/// How the server re-keys the probe object onto itself: with COPY, else with REPLACE; None
/// when it refuses both. Also the key the object moved to, if it did.
async fn rekey(
    client: &Client,
    bucket: &str,
    object: &str,
    old: &SseHeaders,
) -> (Option<Rekey>, Option<SseKey>) {
    let Ok(key) = SseKey::generate() else {
        return (None, None);
    };
    let (new, meta) = (key.headers(), ObjectMeta::default());
    let copy = |how| super::rotate::rekey_copy(client, bucket, object, old, &new, how, &meta);
    match copy(Rekey::Copy).await {
        Ok(()) => (Some(Rekey::Copy), Some(key)),
        Err(e) if super::quirks::refuses_self_copy(&e) => match copy(Rekey::Replace).await {
            Ok(()) => (Some(Rekey::Replace), Some(key)),
            Err(_) => (None, None),
        },
        Err(_) => (None, None),
    }
}

/// Whether UploadPartCopy with SSE-C works: one part copied from the probe object (under
/// `source`) into a multipart upload under another key, then aborted. None when the server
/// neither did it nor said it cannot (Garage refuses to copy a part out of an object under
/// 5 MiB, and the probe object is tiny): a rotation learns it then.
async fn part_copy(
    client: &Client,
    bucket: &str,
    object: &str,
    source: &SseHeaders,
) -> Option<bool> {
    let target = format!("{object}-pc");
    let new = SseKey::generate().ok()?.headers();
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(&target)
        .sse(&new)
        .send()
        .await
        .ok()?;
    let upload_id = created.upload_id()?.to_string();
    let copied = client
        .upload_part_copy()
        .bucket(bucket)
        .key(&target)
        .upload_id(&upload_id)
        .part_number(1)
        .copy_source(super::rotate::copy_source(bucket, object))
        .copy_source_range("bytes=0-9")
        .copy_source_sse(source)
        .sse(&new)
        .send()
        .await;
    let works = match copied {
        Ok(_) => Some(true),
        Err(e) => {
            let err = sdk_error(e, Op::Write, &target, true);
            err.has_code("NotImplemented").then_some(false)
        }
    };
    let _ = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(&target)
        .upload_id(&upload_id)
        .send()
        .await;
    works
}

/// Whether the server takes a part without the key into an SSE-C multipart upload: Some(true)
/// if it does, Some(false) if it refuses, None if the test could not run.
async fn keyless_part(client: &Client, bucket: &str, object: &str, h: &SseHeaders) -> Option<bool> {
    let object = format!("{object}-mp");
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(&object)
        .sse(h)
        .send()
        .await
        .ok()?;
    let upload_id = created.upload_id()?.to_string();
    let part = client
        .upload_part()
        .bucket(bucket)
        .key(&object)
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from_static(PAYLOAD))
        .send()
        .await;
    let accepted = match part {
        Ok(_) => Some(true),
        Err(e) => {
            let err = sdk_error(e, Op::Write, &object, false);
            err.outcome_known.then_some(false)
        }
    };
    let _ = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(&object)
        .upload_id(&upload_id)
        .send()
        .await;
    accepted
}

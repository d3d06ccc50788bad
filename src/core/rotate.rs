//! Key rotation without downloading: the server copies each object onto itself, reading it
//! with the old key (`x-amz-copy-source-server-side-encryption-customer-*`) and writing it
//! with the new one. CopyObject up to a threshold (S3 allows 5 GiB in one copy), above it a
//! multipart upload of UploadPartCopy ranges, each with both sets of headers.
//!
//! The rotation is recorded before the copy starts (which object, from which key, to which),
//! so an interrupted run can be settled afterwards: a HEAD with the new key tells whether the
//! copy landed, a HEAD with the old key whether the object is still as it was. Only after a
//! HEAD with the new key confirmed the copy does the registry move the object to the new key.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use serde::Serialize;

use super::key::SseKey;
use super::registry::{ObjectRecord, ObjectState, PendingRotation};
use super::s3::{Op, client_for, sdk_error};
use super::transfer::progress::{MIB, TransferOptions};
use super::{Error, Home, Result};
use crate::core::s3::{WithCopySourceSse as _, WithSse as _};

/// S3's limit for one CopyObject.
pub const MAX_SINGLE_COPY: u64 = 5 * 1024 * MIB;

#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// Objects above this size are copied in parts (UploadPartCopy).
    pub copy_threshold: u64,
    pub part_size: u64,
}

impl Default for RotateOptions {
    fn default() -> Self {
        Self {
            copy_threshold: MAX_SINGLE_COPY,
            part_size: 512 * MIB,
        }
    }
}

/// One object's rotation, as planned or done.
#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    pub object: String,
    pub from: String,
    pub to: String,
    pub size: Option<u64>,
    /// "copy" (one CopyObject) or "multipart copy (N parts)".
    pub method: String,
}

/// Percent-encodes an object key for `x-amz-copy-source` ("bucket/key"), keeping '/'.
pub fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn method(size: u64, opts: &RotateOptions) -> String {
    if size <= opts.copy_threshold {
        "copy".into()
    } else {
        let part = TransferOptions {
            part_size: opts.part_size,
            ..TransferOptions::default()
        }
        .part_size_for(size);
        format!("multipart copy ({} parts)", size.div_ceil(part))
    }
}

impl Home {
    /// The stored objects that `from_label` encrypts (optionally under `bucket/prefix`).
    pub fn rotation_candidates(
        &self,
        from_label: &str,
        bucket: Option<&str>,
        prefix: &str,
    ) -> Result<Vec<ObjectRecord>> {
        let from = self.key_record(from_label)?;
        Ok(self
            .registry
            .dependent_objects(&from.fingerprint)?
            .into_iter()
            .filter(|o| o.state == ObjectState::Stored)
            .filter(|o| bucket.is_none_or(|b| o.bucket == b) && o.key.starts_with(prefix))
            .collect())
    }

    /// What a rotation of these objects would do, without doing it.
    pub fn plan_rotation(
        &self,
        objects: &[ObjectRecord],
        to_label: &str,
        opts: &RotateOptions,
    ) -> Result<Vec<Rotation>> {
        let to = self.key_record(to_label)?;
        Ok(objects
            .iter()
            .map(|o| Rotation {
                object: format!("{}:{}", o.connection, o.url()),
                from: o
                    .key_label
                    .clone()
                    .unwrap_or_else(|| o.key_fingerprint.to_string()),
                to: to.label.clone(),
                size: o.size,
                method: method(o.size.unwrap_or(0), opts),
            })
            .collect())
    }

    /// Rotates one registered object to the key labelled `to_label`, server-side.
    pub async fn rotate_object(
        &self,
        object: &ObjectRecord,
        to_label: &str,
        opts: &RotateOptions,
    ) -> Result<Rotation> {
        let from_rec = self
            .registry
            .key_by_fingerprint(&object.key_fingerprint)?
            .ok_or_else(|| {
                Error::Transfer(format!(
                    "{} is under a key that is not registered; import it first",
                    object.url()
                ))
            })?;
        let from = self.load_key(&from_rec)?;
        let to_rec = self.key_record(to_label)?;
        if to_rec.fingerprint == from_rec.fingerprint {
            return Err(Error::Transfer(format!(
                "{} is already encrypted with \"{to_label}\"",
                object.url()
            )));
        }
        let to = self.load_key(&to_rec)?;
        let conn = self
            .registry
            .connection_of_object(object.id)?
            .ok_or_else(|| Error::Transfer(format!("object {} has no connection", object.id)))?;
        let client = client_for(&conn, self.secrets().ok()).await?;
        self.registry.begin_rotation(&PendingRotation {
            object_id: object.id,
            from: from_rec.fingerprint.clone(),
            to: to_rec.fingerprint.clone(),
        })?;
        let size = copy_with_new_key(&client, object, &from, &to, opts).await?;
        self.confirm_rotation(&client, object, &to, &from_rec.label, &to_rec.label)
            .await?;
        Ok(Rotation {
            object: format!("{}:{}", object.connection, object.url()),
            from: from_rec.label,
            to: to_rec.label,
            size: Some(size),
            method: method(size, opts),
        })
    }

    /// HEAD with the new key; only then the registry moves the object to it.
    async fn confirm_rotation(
        &self,
        client: &Client,
        object: &ObjectRecord,
        to: &SseKey,
        from_label: &str,
        to_label: &str,
    ) -> Result<()> {
        let h = to.headers();
        let head = client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .sse(&h)
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Read, &object.url(), true))?;
        let detail = format!(
            "{}: {from_label} -> {to_label} (previous version {})",
            object.url(),
            object.version_id.as_deref().unwrap_or("-")
        );
        self.registry
            .finish_rotation(object.id, &to.fingerprint(), head.version_id(), &detail)?;
        Ok(())
    }

    /// Settles rotations that were interrupted: confirmed under the new key, or done again.
    pub async fn resume_rotations(&self, opts: &RotateOptions) -> Result<Vec<Rotation>> {
        let mut done = Vec::new();
        for p in self.registry.pending_rotations()? {
            let Some(object) = self.registry.object_by_id(p.object_id)? else {
                continue;
            };
            let to_rec = self.registry.key_by_fingerprint(&p.to)?.ok_or_else(|| {
                Error::Transfer(format!("the target key {} is not registered", p.to))
            })?;
            let to = self.load_key(&to_rec)?;
            let conn = self
                .registry
                .connection_of_object(object.id)?
                .ok_or_else(|| {
                    Error::Transfer(format!("object {} has no connection", object.id))
                })?;
            let client = client_for(&conn, self.secrets().ok()).await?;
            let from_label = object.key_label.clone().unwrap_or_default();
            // Landed already? Then only the registry is behind.
            if self
                .confirm_rotation(&client, &object, &to, &from_label, &to_rec.label)
                .await
                .is_ok()
            {
                done.push(Rotation {
                    object: format!("{}:{}", object.connection, object.url()),
                    from: from_label,
                    to: to_rec.label,
                    size: object.size,
                    method: "confirmed".into(),
                });
                continue;
            }
            done.push(self.rotate_object(&object, &to_rec.label, opts).await?);
        }
        Ok(done)
    }
}

/// The copy itself: returns the object's size.
async fn copy_with_new_key(
    client: &Client,
    object: &ObjectRecord,
    from: &SseKey,
    to: &SseKey,
    opts: &RotateOptions,
) -> Result<u64> {
    let url = object.url();
    let (old, new) = (from.headers(), to.headers());
    let head = client
        .head_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .sse(&old)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Read, &url, true))?;
    let size = head.content_length().unwrap_or(0).max(0) as u64;
    let source = copy_source(&object.bucket, &object.key);
    if size <= opts.copy_threshold {
        client
            .copy_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .copy_source(&source)
            .metadata_directive(MetadataDirective::Copy)
            .copy_source_sse(&old)
            .sse(&new)
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Write, &url, true))?;
        return Ok(size);
    }
    // Multipart copy: content type and user metadata are not copied by UploadPartCopy, so
    // they go on the new upload explicitly.
    let created = client
        .create_multipart_upload()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_content_type(head.content_type().map(str::to_string))
        .set_metadata(head.metadata().cloned())
        .sse(&new)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Write, &url, true))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| Error::Transfer(format!("{url}: no multipart upload id")))?
        .to_string();
    let part = TransferOptions {
        part_size: opts.part_size,
        ..TransferOptions::default()
    }
    .part_size_for(size);
    let copied = async {
        let mut parts = Vec::new();
        for (i, start) in (0..size).step_by(part as usize).enumerate() {
            let end = (start + part).min(size) - 1;
            let n = i as i32 + 1;
            let out = client
                .upload_part_copy()
                .bucket(&object.bucket)
                .key(&object.key)
                .upload_id(&upload_id)
                .part_number(n)
                .copy_source(&source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .copy_source_sse(&old)
                .sse(&new)
                .send()
                .await
                .map_err(|e| sdk_error(e, Op::Write, &url, true))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(
                        out.copy_part_result()
                            .and_then(|r| r.e_tag())
                            .map(str::to_string),
                    )
                    .build(),
            );
        }
        client
            .complete_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .sse(&new)
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Write, &url, true))?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = copied {
        let _ = client
            .abort_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(&upload_id)
            .send()
            .await;
        return Err(e);
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_percent_encoded_but_keep_slashes() {
        assert_eq!(copy_source("b", "a/b c+d.txt"), "b/a/b%20c%2Bd.txt");
        assert_eq!(copy_source("b", "é"), "b/%C3%A9");
    }

    #[test]
    fn big_objects_are_copied_in_parts() {
        let opts = RotateOptions {
            copy_threshold: 10 * MIB,
            part_size: 5 * MIB,
        };
        assert_eq!(method(10 * MIB, &opts), "copy");
        assert_eq!(method(12 * MIB, &opts), "multipart copy (3 parts)");
    }
}

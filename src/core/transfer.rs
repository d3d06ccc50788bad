//! Moving objects with SSE-C: upload (PutObject), download (GetObject), head (HeadObject).
//!
//! First cut (single requests); the transfer-engine issue adds multipart and parallelism.
//! Two rules hold already:
//! - the registry row naming the key is written `pending` before the first byte is sent,
//!   and becomes `stored` only when the server confirmed the object;
//! - a download is written to a temp file beside the target and renamed over it only when
//!   complete and checked, so a failure never leaves a partial file or touches an existing one.
//!
//! Because the ETag of an SSE-C object is not the MD5 of its content, integrity comes from
//! our own SHA-256 of the plaintext, recorded at upload and checked at download.

use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use super::key::{KeyFingerprint, SseKey};
use super::registry::{ConnectionRecord, ObjectRecord, StoredObject};
use super::s3::{Op, S3ErrorKind, S3Url, client_for, sdk_error};
use super::{Error, Home, Result};

/// Uploads one file with SSE-C under the key labelled `key_label`, recording it first.
pub async fn upload(
    home: &Home,
    conn: &ConnectionRecord,
    src: &Path,
    dest: &S3Url,
    key_label: &str,
) -> Result<ObjectRecord> {
    let record = home.key_record(key_label)?;
    let key = home.load_key(&record)?;
    let meta = std::fs::metadata(src).map_err(|e| Error::io(src, "cannot read the file", e))?;
    if !meta.is_file() {
        return Err(Error::io(
            src,
            "is not a regular file",
            std::io::Error::other("give a file to upload"),
        ));
    }
    // First cut: one PutObject from memory. An in-memory body also keeps the SDK from
    // switching to aws-chunked streaming with a signed trailer over http, which Garage
    // refuses ("Invalid payload signature").
    let body = tokio::fs::read(src)
        .await
        .map_err(|e| Error::io(src, "cannot read the file", e))?;
    let sha256 = hex::encode(Sha256::digest(&body));
    let client = client_for(conn, home.secrets().ok()).await?;
    let url = dest.to_string();

    let id = home.registry.begin_upload(
        conn,
        &dest.bucket,
        &dest.key,
        &key.fingerprint(),
        meta.len(),
    )?;
    let result = put_object(&client, body, dest, &key).await;
    match result {
        Ok(out) => {
            let versioned = bucket_keeps_versions(&client, &dest.bucket).await;
            home.registry.finish_upload(
                id,
                &StoredObject {
                    size: meta.len(),
                    sha256,
                    etag: out.e_tag,
                    version_id: out.version_id,
                },
                versioned,
            )?;
            home.registry
                .log_event("uploaded", Some(&record.fingerprint), Some(id), &url)?;
            let stored = home
                .registry
                .objects()?
                .into_iter()
                .find(|o| o.id == id)
                .ok_or_else(|| Error::Download(format!("{url}: the registry lost row {id}")))?;
            Ok(stored)
        }
        Err(e) => {
            home.registry.fail_upload(id, &e.to_string())?;
            home.registry
                .log_event("upload_failed", Some(&record.fingerprint), Some(id), &url)?;
            Err(e)
        }
    }
}

/// Whether an overwrite keeps the old version (and so its key dependency). Garage returns a
/// version id on every PUT without keeping old versions, so the version id alone cannot
/// tell. When the answer is unknown, assume versions are kept: wrongly keeping a key
/// dependency is safe, wrongly dropping one could let a needed key be deleted.
async fn bucket_keeps_versions(client: &aws_sdk_s3::Client, bucket: &str) -> bool {
    match client.get_bucket_versioning().bucket(bucket).send().await {
        Ok(out) => out.status().is_some(),
        Err(_) => true,
    }
}

struct PutResult {
    e_tag: Option<String>,
    version_id: Option<String>,
}

async fn put_object(
    client: &aws_sdk_s3::Client,
    body: Vec<u8>,
    dest: &S3Url,
    key: &SseKey,
) -> Result<PutResult> {
    let size = body.len();
    let h = key.headers();
    let out = client
        .put_object()
        .bucket(&dest.bucket)
        .key(&dest.key)
        .body(ByteStream::from(body))
        .content_length(size as i64)
        .sse_customer_algorithm(h.algorithm)
        .sse_customer_key(h.key_base64.as_str())
        .sse_customer_key_md5(&h.key_md5)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Write, &dest.to_string(), true))?;
    if let Some(echo) = out.sse_customer_key_md5()
        && echo != h.key_md5
    {
        return Err(Error::Download(format!(
            "{dest}: the server confirmed the upload with another key's MD5 ({echo}); do not trust this server with SSE-C"
        )));
    }
    Ok(PutResult {
        e_tag: out.e_tag().map(str::to_string),
        version_id: out.version_id().map(str::to_string),
    })
}

/// What a download did.
#[derive(Debug)]
pub struct DownloadReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub key_label: Option<String>,
    pub sha256: String,
}

/// Downloads an object. The key is `key_label` if given, else the one the registry records
/// for the object; an unregistered object is read without a key (and a clear error says so
/// if it turns out to be SSE-C).
pub async fn download(
    home: &Home,
    conn: &ConnectionRecord,
    src: &S3Url,
    out: &Path,
    key_label: Option<&str>,
) -> Result<DownloadReport> {
    let out = target_path(out, src)?;
    let recorded = home.registry.current_object(conn, &src.bucket, &src.key)?;
    let expected = recorded.as_ref().map(|o| o.key_fingerprint.clone());

    let (key, label) = match key_label {
        Some(label) => {
            let record = home.key_record(label)?;
            (Some(home.load_key(&record)?), Some(record.label))
        }
        None => match &expected {
            Some(fp) => {
                let record = home.registry.key_by_fingerprint(fp)?;
                match record {
                    Some(r) if r.deleted_at.is_none() => (Some(home.load_key(&r)?), Some(r.label)),
                    Some(r) => {
                        return Err(Error::Download(format!(
                            "{src} was uploaded with key \"{}\" ({fp}), which was deleted; \
                             import that key again (from an export or backup) to read it",
                            r.label
                        )));
                    }
                    None => {
                        return Err(Error::Download(format!(
                            "{src} was uploaded with a key of fingerprint {fp} that is not \
                             registered; import it with `ssec-manager key import LABEL FILE`"
                        )));
                    }
                }
            }
            None => (None, None),
        },
    };

    let client = client_for(conn, home.secrets().ok()).await?;
    let mut request = client.get_object().bucket(&src.bucket).key(&src.key);
    if let Some(k) = &key {
        let h = k.headers();
        request = request
            .sse_customer_algorithm(h.algorithm)
            .sse_customer_key(h.key_base64.as_str())
            .sse_customer_key_md5(&h.key_md5);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let err = sdk_error(e, Op::Read, &src.to_string(), key.is_some());
            return Err(explain_read_error(
                home,
                src,
                err,
                label.as_deref(),
                &expected,
            ));
        }
    };

    let expected_len = response.content_length().map(|n| n.max(0) as u64);
    let dir = out.parent().unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "download".into());
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".ssec-part")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, "cannot create a file in this folder", e))?;
    let std_file = temp
        .as_file()
        .try_clone()
        .map_err(|e| Error::io(temp.path(), "cannot write", e))?;
    let mut file = tokio::fs::File::from_std(std_file);
    let mut body = response.body;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = body.try_next().await.map_err(|e| {
        Error::Download(format!(
            "{src}: the download broke off after {bytes} bytes ({e}); nothing was written to {}",
            out.display()
        ))
    })? {
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::io(temp.path(), "cannot write the download", e))?;
    }
    file.flush()
        .await
        .map_err(|e| Error::io(temp.path(), "cannot write the download", e))?;
    file.sync_all()
        .await
        .map_err(|e| Error::io(temp.path(), "cannot write the download", e))?;
    drop(file);
    if let Some(n) = expected_len
        && n != bytes
    {
        return Err(Error::Download(format!(
            "{src}: the server announced {n} bytes but sent {bytes}; nothing was written"
        )));
    }
    let sha256 = hex::encode(hasher.finalize());
    if let Some(rec) = &recorded
        && key.as_ref().map(|k| k.fingerprint()) == Some(rec.key_fingerprint.clone())
        && let Some(recorded_sha) = &rec.sha256
        && recorded_sha != &sha256
    {
        return Err(Error::Download(format!(
            "{src}: the content's SHA-256 differs from the one recorded at upload \
             (the object was changed since, or corrupted); nothing was written"
        )));
    }
    temp.persist(&out)
        .map_err(|e| Error::io(&out, "cannot move the download into place", e.error))?;
    home.registry.log_event(
        "downloaded",
        key.as_ref().map(|k| k.fingerprint()).as_ref(),
        recorded.as_ref().map(|o| o.id),
        &format!("{src} -> {}", out.display()),
    )?;
    Ok(DownloadReport {
        path: out,
        bytes,
        key_label: label,
        sha256,
    })
}

/// A folder target means "into this folder, under the object's name", like `aws s3 cp`.
fn target_path(out: &Path, src: &S3Url) -> Result<PathBuf> {
    if out.is_dir() {
        let name = src.key.rsplit('/').next().unwrap_or(&src.key);
        return Ok(out.join(name));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::io(
            parent,
            "the folder to download into does not exist",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    Ok(out.to_path_buf())
}

/// Adds what the registry knows to a read failure: which key the object expects.
fn explain_read_error(
    home: &Home,
    src: &S3Url,
    err: super::s3::S3Error,
    used: Option<&str>,
    expected: &Option<KeyFingerprint>,
) -> Error {
    let expected_name =
        expected.as_ref().map(
            |fp| match home.registry.key_by_fingerprint(fp).ok().flatten() {
                Some(k) => format!("key \"{}\" ({fp})", k.label),
                None => format!("an unregistered key ({fp})"),
            },
        );
    let text = match err.kind {
        S3ErrorKind::WrongKey => {
            let used = used.map(|l| format!(" than \"{l}\"")).unwrap_or_default();
            match expected_name {
                Some(name) => format!(
                    "{src} is encrypted with a different key{used}; the registry says it was uploaded with {name}"
                ),
                None => format!(
                    "{src} is encrypted with a different key{used}; the registry has no record of its key"
                ),
            }
        }
        S3ErrorKind::KeyRequired => format!(
            "{src} is encrypted with SSE-C and the registry has no key for it; pass --key LABEL"
        ),
        _ => return err.into(),
    };
    Error::Download(text)
}

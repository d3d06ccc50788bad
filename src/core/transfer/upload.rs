//! Uploads with SSE-C: one PutObject for small files, a parallel multipart upload above the
//! threshold, and the resumption of a multipart upload that was interrupted.
//!
//! Parts are read from the file in order by one reader (which also feeds the BLAKE3 of the
//! whole content, the integrity check we record because an SSE-C ETag is not an MD5), and
//! sent by up to `concurrency` requests at once; memory stays near `concurrency` parts
//! whatever the file size. Every CreateMultipartUpload, UploadPart and
//! CompleteMultipartUpload carries the three SSE-C headers (PROTOCOL.md).
//!
//! Bodies are in memory (one part at a time): besides bounding memory, that keeps the SDK
//! from streaming with a signed aws-chunked trailer over http, which Garage refuses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures_util::{StreamExt as _, stream};

use super::progress::TransferCtx;
use crate::core::key::SseKey;
use crate::core::location::S3Url;
use crate::core::meta::{ObjectMeta, WithMeta as _};
use crate::core::registry::{
    ConnectionRecord, Landing, MultipartRecord, ObjectRecord, ObjectState, Registry, StoredObject,
    now,
};
use crate::core::s3::WithSse as _;
use crate::core::s3::{Op, S3ErrorKind, client_for, head_with_key, sdk_error};
use crate::core::{Error, Home, Result};

/// What the server confirmed.
struct Uploaded {
    /// BLAKE3 of the content sent (hex).
    blake3: String,
    etag: Option<String>,
    version_id: Option<String>,
}

/// Uploads one file under the key labelled `key_label`. The registry row naming the key is
/// written before the first byte is sent. The object's content type is guessed from the
/// file name, as the aws CLI does.
pub async fn upload(
    ctx: &TransferCtx,
    home: &Home,
    conn: &ConnectionRecord,
    src: &Path,
    dest: &S3Url,
    key_label: &str,
) -> Result<ObjectRecord> {
    upload_with_meta(
        ctx,
        home,
        conn,
        src,
        dest,
        key_label,
        ObjectMeta::guess(dest),
    )
    .await
}

/// `upload` with the object's content type and user metadata given (a rotation by re-upload
/// keeps the original's).
pub async fn upload_with_meta(
    ctx: &TransferCtx,
    home: &Home,
    conn: &ConnectionRecord,
    src: &Path,
    dest: &S3Url,
    key_label: &str,
    meta: ObjectMeta,
) -> Result<ObjectRecord> {
    let record = home.key_record(key_label)?;
    let key = home.load_key(&record)?;
    let client = client_for(conn, home.secrets().ok()).await?;
    let with = UploadWith {
        client: &client,
        fingerprint: &record.fingerprint,
        key: &key,
    };
    upload_prepared(ctx, home, conn, &with, src, dest, meta, None).await
}

/// A registry row reserved ahead for an upload (see `Registry::reserve_uploads`), and the
/// landing order when it was.
#[derive(Debug, Clone, Copy)]
pub struct Reserved {
    pub id: i64,
    pub since: i64,
}

/// What the uploads of many files share: one client, the key read from the keyring once.
pub struct UploadWith<'a> {
    pub client: &'a Client,
    pub fingerprint: &'a crate::core::key::KeyFingerprint,
    pub key: &'a SseKey,
}

/// One file's upload with a client and key already at hand (see `upload_with_meta`), under
/// a row reserved ahead (a folder's files are reserved in batches) or reserved here.
#[allow(clippy::too_many_arguments)]
pub async fn upload_prepared(
    ctx: &TransferCtx,
    home: &Home,
    conn: &ConnectionRecord,
    with: &UploadWith<'_>,
    src: &Path,
    dest: &S3Url,
    meta: ObjectMeta,
    reserved: Option<Reserved>,
) -> Result<ObjectRecord> {
    let UploadWith {
        client,
        fingerprint,
        key,
    } = *with;
    let mut source = match SourceFile::open(src) {
        Ok(s) => s,
        Err(e) => {
            if let Some(r) = reserved {
                home.registry.drop_reservation(r.id)?;
            }
            return Err(e);
        }
    };
    source.meta = meta;
    ctx.progress.set_total(source.size);
    let Reserved {
        id,
        since: reserved_since,
    } = match reserved {
        Some(r) => r,
        None => {
            // What had landed before this upload was reserved: if nothing of this object
            // lands or runs beside it, the server's answer alone says it is current.
            let since = home.registry.landing_mark()?;
            // The key is reserved before anything is sent (the preflight included): from
            // here a key delete sees this upload, and a key deleted before makes this refuse.
            let id = home.registry.reserve_upload(
                conn,
                &dest.bucket,
                &dest.key,
                fingerprint,
                source.size,
            )?;
            Reserved { id, since }
        }
    };
    let upload = Upload {
        ctx,
        home,
        id,
        dest,
        key,
        reserved_since,
    };
    if let Err(e) = ensure_preflight(ctx, home, conn, &dest.bucket).await {
        return upload.unsent(e);
    }
    let sent = if source.size <= ctx.options.multipart_threshold {
        single_put(ctx, client, &source, dest, key, signs_payload(conn)).await
    } else {
        let part_size = ctx.options.part_size_for(source.size);
        let sign = signs_payload(conn);
        multipart(
            ctx, home, client, id, &source, dest, key, part_size, None, sign,
        )
        .await
    };
    upload.settle(client, sent).await
}

/// Before the first upload to a bucket: does it take SSE-C, and does it enforce it? Asked
/// once per job (a job of many files runs it before its first file).
pub async fn ensure_preflight(
    ctx: &TransferCtx,
    home: &Home,
    conn: &ConnectionRecord,
    bucket: &str,
) -> Result<()> {
    if ctx.learned.preflighted(bucket) || home.registry.has_stored_in(conn, bucket)? {
        return Ok(());
    }
    let report = ctx
        .or_cancel(crate::core::preflight::preflight(home, conn, bucket))
        .await?;
    if report.ok() {
        ctx.learned.set_preflighted(bucket);
        return Ok(());
    }
    Err(Error::Refused(format!(
        "preflight of s3://{bucket} refused the upload: {}",
        report.problems.join("; ")
    )))
}

/// Resumes an interrupted multipart upload: asks the server which parts it holds, sends
/// the missing ones with the same key, and completes it. Only an upload whose owner process
/// is gone can be resumed; it is claimed first, so two resumes never race.
pub async fn resume(ctx: &TransferCtx, home: &Home, object_id: i64) -> Result<ObjectRecord> {
    let (m, object, conn) = interrupted(home, object_id)?;
    let fp = object.key_fingerprint.clone();
    let record = home
        .registry
        .key_by_fingerprint(&fp)?
        .ok_or_else(|| Error::NotFound(format!("the key {fp} of this upload is not registered")))?;
    let key = home.load_key(&record)?;
    let source = SourceFile::open(Path::new(&m.source_path))?;
    if source.size != m.source_size || source.mtime != m.source_mtime {
        return Err(Error::Refused(format!(
            "{} changed since the upload began (size or modification time differ); abort \
             this upload (`ssec-manager uploads --abort {object_id}`) and upload the file again",
            m.source_path
        )));
    }
    let dest = S3Url {
        bucket: object.bucket.clone(),
        key: object.key.clone(),
    };
    ctx.progress.set_total(source.size);
    let client = client_for(&conn, home.secrets().ok()).await?;
    home.registry.claim_upload(object_id)?;
    home.registry.log_event(
        "upload_resumed",
        Some(&fp),
        Some(object_id),
        &dest.to_string(),
    )?;
    let sent = multipart(
        ctx,
        home,
        &client,
        object_id,
        &source,
        &dest,
        &key,
        m.part_size,
        Some(m.upload_id.clone()),
        signs_payload(&conn),
    )
    .await;
    let upload = Upload {
        ctx,
        home,
        reserved_since: 0,
        id: object_id,
        dest: &dest,
        key: &key,
    };
    upload.settle(&client, sent).await
}

/// An interrupted upload (its owner gone) with its object and connection.
fn interrupted(
    home: &Home,
    object_id: i64,
) -> Result<(MultipartRecord, ObjectRecord, ConnectionRecord)> {
    let missing = || {
        Error::NotFound(format!(
            "no interrupted upload with id {object_id}; `ssec-manager uploads` lists them \
             (an upload another ssec-manager is still sending is not one)"
        ))
    };
    if home
        .registry
        .running_uploads()?
        .iter()
        .any(|m| m.object_id == object_id)
    {
        return Err(Error::Refused(format!(
            "upload #{object_id} is being sent by another ssec-manager that is still running; \
             nothing was touched"
        )));
    }
    let m = home
        .registry
        .interrupted_uploads()?
        .into_iter()
        .find(|m| m.object_id == object_id)
        .ok_or_else(missing)?;
    let object = home.registry.object_by_id(object_id)?.ok_or_else(missing)?;
    let conn = home
        .registry
        .connection_of_object(object_id)?
        .ok_or_else(missing)?;
    Ok((m, object, conn))
}

/// Aborts an interrupted multipart upload on the server and forgets it (claimed first, so
/// an upload another process is sending is never aborted under it).
pub async fn abort_interrupted(home: &Home, object_id: i64) -> Result<()> {
    let (m, object, conn) = interrupted(home, object_id)?;
    home.registry.claim_upload(object_id)?;
    let client = client_for(&conn, home.secrets().ok()).await?;
    let url = object.url();
    let aborted = client
        .abort_multipart_upload()
        .bucket(&object.bucket)
        .key(&object.key)
        .upload_id(&m.upload_id)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Other, &url, false));
    if let Err(e) = aborted {
        home.registry.release_multipart(object_id)?;
        return Err(e.into());
    }
    home.registry.clear_multipart(object_id)?;
    home.registry
        .fail_upload(object_id, ObjectState::Cancelled, "aborted by the user")?;
    home.registry.log_event(
        "upload_aborted",
        Some(&object.key_fingerprint),
        Some(object_id),
        &url,
    )?;
    Ok(())
}

/// How an upload that did not land ended.
enum Unlanded {
    /// The server answered no, or nothing was sent: it does not hold this upload.
    Absent(Error),
    /// The answer was lost (timeout, connection lost, cancelled while the request was out):
    /// the server may hold it. The BLAKE3 of the content sent, to record with it.
    Doubt(Error, String),
}

impl Unlanded {
    /// The failure of a request that writes the object (PutObject, CompleteMultipartUpload)
    /// whose content has this BLAKE3. Only a refusal that no earlier attempt can have beaten
    /// proves it absent (the SDK retries: a first attempt may have landed before a retry
    /// failed); a server error, a lost answer or a cancel leaves the outcome to the server.
    fn of_write(e: Error, blake3: &str) -> Self {
        use crate::core::s3::S3ErrorKind as K;
        match &e {
            Error::S3(s3)
                if s3.outcome_known
                    && matches!(
                        s3.kind,
                        K::WriteDenied
                            | K::AccessDenied
                            | K::Credentials
                            | K::KeyMd5Mismatch
                            | K::NoSuchBucket
                    ) =>
            {
                Unlanded::Absent(e)
            }
            Error::S3(_) | Error::Cancelled | Error::Server(_) => {
                Unlanded::Doubt(e, blake3.to_string())
            }
            _ => Unlanded::Absent(e),
        }
    }

    /// The failure of a CompleteMultipartUpload. "No such upload" may answer a retry whose
    /// first attempt completed it (its answer lost), so it proves nothing either.
    fn of_complete(e: Error, blake3: &str) -> Self {
        match &e {
            Error::S3(s3) if s3.kind == S3ErrorKind::NoSuchObject => {
                Unlanded::Doubt(e, blake3.to_string())
            }
            _ => Self::of_write(e, blake3),
        }
    }
}

/// One upload's registry row and what it needs to record its outcome.
struct Upload<'a> {
    ctx: &'a TransferCtx,
    home: &'a Home,
    /// The landing order when the row was reserved (0: unknown, the server is asked).
    reserved_since: i64,
    id: i64,
    dest: &'a S3Url,
    key: &'a SseKey,
}

impl Upload<'_> {
    /// Records the outcome: `stored` (or superseded, when the server already holds a later
    /// upload), `failed`/`cancelled` when proved absent, `in_doubt` when the answer was lost.
    async fn settle(
        &self,
        client: &Client,
        sent: std::result::Result<(Uploaded, u64), Unlanded>,
    ) -> Result<ObjectRecord> {
        match sent {
            Ok((up, size)) => self.landed(client, up, size).await,
            Err(Unlanded::Absent(e)) => self.failed(e),
            Err(Unlanded::Doubt(e, blake3)) => self.doubt(client, e, blake3).await,
        }
    }

    /// The server took it. Where it stands among the object's versions comes from the
    /// server (a HEAD with the key), not from when this process heard back: another upload
    /// to the same object may have landed after it.
    async fn landed(&self, client: &Client, up: Uploaded, size: u64) -> Result<ObjectRecord> {
        let url = self.dest.to_string();
        let since = self.home.registry.landing_mark()?;
        let registry = &self.home.registry;
        // Alone: no other upload, rotation or landing of this object since the reservation,
        // so nothing else can be the current object (an answer lost and the request sent
        // again writes this upload's own content). Else the server is asked.
        let alone =
            self.reserved_since > 0 && registry.alone_since(self.id, self.reserved_since)?;
        let landing = if alone {
            Landing::Current
        } else {
            landing(client, self.dest, self.key, &up, registry, self.id).await?
        };
        // Whether old versions are kept matters only when another row of the object is
        // stored; with none, "kept" is assumed (it retires nothing, and a row landing in
        // between is ordered after this one by `finish_upload`).
        let versioned = if registry.other_stored(self.id)? {
            self.ctx
                .learned
                .keeps_versions(client, &self.dest.bucket)
                .await
        } else {
            true
        };
        let stored = StoredObject {
            size,
            blake3: Some(up.blake3),
            etag: up.etag,
            version_id: up.version_id,
        };
        let fp = self.key.fingerprint();
        match landing {
            Landing::Current => {
                registry.finish_upload_logged(self.id, &stored, versioned, since, &url)?;
            }
            other => {
                let kept = other == Landing::OlderVersion;
                let evidence = if kept {
                    "the server holds a later version as the current one; this one is kept as an older version"
                } else {
                    "another upload replaced it on the server before this one was checked"
                };
                registry.supersede_upload(self.id, &stored, kept, evidence)?;
                registry.log_event(
                    "upload_superseded",
                    Some(&fp),
                    Some(self.id),
                    &format!("{url}: {evidence}"),
                )?;
            }
        }
        registry.clear_multipart(self.id)?;
        registry
            .object_by_id(self.id)?
            .ok_or_else(|| Error::Internal(format!("{url}: the registry lost row {}", self.id)))
    }

    /// Nothing was sent under this key (no client, or the preflight refused): the
    /// reservation goes, and no row claims anything.
    fn unsent(&self, e: Error) -> Result<ObjectRecord> {
        self.home.registry.drop_reservation(self.id)?;
        Err(e)
    }

    /// Proved absent: `failed`, or `cancelled`. A multipart upload left on the server (its
    /// abort failed) is released to be resumed or aborted later.
    fn failed(&self, e: Error) -> Result<ObjectRecord> {
        let registry = &self.home.registry;
        let (state, kind) = match &e {
            Error::Cancelled => (ObjectState::Cancelled, "upload_cancelled"),
            _ => (ObjectState::Failed, "upload_failed"),
        };
        let resumable = registry.release_multipart(self.id)?;
        let text = if resumable {
            format!(
                "{e} (interrupted: `ssec-manager resume {}` continues it)",
                self.id
            )
        } else {
            e.to_string()
        };
        registry.fail_upload(self.id, state, &text)?;
        registry.log_event(
            kind,
            Some(&self.key.fingerprint()),
            Some(self.id),
            &self.dest.to_string(),
        )?;
        Err(e)
    }

    /// The answer was lost. The row becomes `in_doubt` (its key stays protected); one HEAD
    /// with the key may settle it at once: the object opens with our key at our size. A
    /// "not ours" answer proves nothing yet (the request may still be landing): that is
    /// left to `reconcile`.
    async fn doubt(&self, client: &Client, e: Error, blake3: String) -> Result<ObjectRecord> {
        let registry = &self.home.registry;
        let url = self.dest.to_string();
        let fp = self.key.fingerprint();
        registry.doubt_upload(self.id, &e.to_string(), &blake3)?;
        registry.log_event("upload_in_doubt", Some(&fp), Some(self.id), &url)?;
        let row = registry.object_by_id(self.id)?;
        let size = row.as_ref().and_then(|o| o.size);
        if let Some(mut found) = head_with(client, self.dest, self.key).await
            && size.is_none_or(|s| s == found.size)
            && !self.earlier_upload_is(row.as_ref(), &found)?
        {
            found.uploaded.blake3 = blake3;
            let settled = self.landed(client, found.uploaded, found.size).await?;
            registry.log_event(
                "reconciled",
                Some(&fp),
                Some(self.id),
                &format!("{url}: the answer was lost; a HEAD with the key found it stored"),
            )?;
            return match e {
                Error::Cancelled => Err(e),
                _ => Ok(settled),
            };
        }
        match e {
            Error::Cancelled => Err(e),
            other => Err(Error::InDoubt(format!(
                "{other}. The answer was lost, so the server may hold this upload under key \
                 {fp}, which stays protected; `ssec-manager reconcile` asks the server and \
                 records what it holds"
            ))),
        }
    }
}

impl Upload<'_> {
    /// Whether what a HEAD found is an earlier upload of this object with the same key (the
    /// stored row's ETag): then it proves nothing about this one.
    fn earlier_upload_is(&self, row: Option<&ObjectRecord>, found: &Found) -> Result<bool> {
        let (Some(row), Some(etag)) = (row, found.uploaded.etag.as_deref()) else {
            return Ok(false);
        };
        let conn = self.home.registry.connection_by_name(&row.connection)?;
        let stored = match conn {
            Some(c) => self
                .home
                .registry
                .current_object(&c, &row.bucket, &row.key)?,
            None => None,
        };
        Ok(stored.is_some_and(|s| {
            s.id != row.id
                && s.state == ObjectState::Stored
                && s.key_fingerprint == row.key_fingerprint
                && s.etag.as_deref() == Some(etag)
        }))
    }
}

/// What a HEAD with the key found.
struct Found {
    size: u64,
    uploaded: Uploaded,
}

/// A HEAD of the current object with `key`: Some when it opens with it (and the server
/// echoes that key's MD5). The content checksum is not on the server: it stays the one the
/// row recorded (this is only reached for a row whose content we sent).
async fn head_with(client: &Client, dest: &S3Url, key: &SseKey) -> Option<Found> {
    let head = head_with_key(client, &dest.bucket, &dest.key, None, key)
        .await
        .ok()?;
    Some(Found {
        size: head.content_length().unwrap_or(0).max(0) as u64,
        uploaded: Uploaded {
            blake3: String::new(),
            etag: head.e_tag().map(str::to_string),
            version_id: head.version_id().map(str::to_string),
        },
    })
}

/// Whether the upload that just landed (row `id`) is still the server's current object.
async fn landing(
    client: &Client,
    dest: &S3Url,
    key: &SseKey,
    up: &Uploaded,
    registry: &Registry,
    id: i64,
) -> Result<Landing> {
    let head = head_with_key(client, &dest.bucket, &dest.key, None, key).await;
    let other = match head {
        // The same key may have written again since: compare what names the write.
        Ok(head) => match (head.version_id(), up.version_id.as_deref()) {
            (Some(now), Some(ours)) => now != ours,
            // Another ETag under our key is another upload's write only if that upload's
            // row records it. Otherwise it is this upload's own request landing twice (the
            // SDK sends a PUT or a Complete again when its answer is late, and each write
            // has its own ETag), and this row must go on protecting the key: a later
            // upload of ours is ordered after it by `finish_upload`.
            _ => match (head.e_tag(), up.etag.as_deref()) {
                (Some(now), Some(ours)) if now != ours => registry.other_row_has_etag(id, now)?,
                _ => false,
            },
        },
        // Another key or nothing there now, but only when that is proved: a 403 may as
        // well be a missing read permission, and then the server's word that it took the
        // upload stands.
        Err(err) => {
            crate::core::s3::proves_not_under_key(client, &dest.bucket, &dest.key, None, &err).await
                == Some(true)
        }
    };
    Ok(if !other {
        Landing::Current
    } else if crate::core::bucket::keeps_versions(client, &dest.bucket).await {
        // Kept as a version (or maybe: unknown counts as yes, so its key stays protected).
        Landing::OlderVersion
    } else {
        Landing::Replaced
    })
}

/// The file being uploaded, as it was when the upload began.
struct SourceFile {
    path: PathBuf,
    size: u64,
    mtime: String,
    /// Sent on PutObject or CreateMultipartUpload.
    meta: ObjectMeta,
}

impl SourceFile {
    fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot read", e))?;
        if !meta.is_file() {
            return Err(Error::io(
                path,
                "is not a regular file",
                std::io::Error::other("give a file (or a folder, from the command line)"),
            ));
        }
        let mtime = meta
            .modified()
            .map(|t| format!("{:?}", t.duration_since(std::time::UNIX_EPOCH).ok()))
            .unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            size: meta.len(),
            mtime,
            meta: ObjectMeta::default(),
        })
    }
}

/// One PutObject. Reading the file fails before anything is sent (absent); the request's
/// failure, or a cancel while it is out, leaves the outcome to the server (see `Unlanded`).
async fn single_put(
    ctx: &TransferCtx,
    client: &Client,
    source: &SourceFile,
    dest: &S3Url,
    key: &SseKey,
    sign_payload: bool,
) -> std::result::Result<(Uploaded, u64), Unlanded> {
    let body = tokio::fs::read(&source.path)
        .await
        .map_err(|e| Unlanded::Absent(Error::io(&source.path, "cannot read the file", e)))?;
    let size = body.len() as u64;
    let blake3 = crate::core::checksum::blake3_hex(&body);
    tokio::select! {
        () = ctx.throttle(size) => {}
        () = ctx.cancel.cancelled() => return Err(Unlanded::Absent(Error::Cancelled)),
    }
    let h = key.headers();
    let count = super::counting::CountPart::new(ctx.progress.clone());
    let put = client
        .put_object()
        .bucket(&dest.bucket)
        .key(&dest.key)
        .body(ByteStream::from(body))
        .content_length(size as i64)
        .meta(&source.meta)
        .sse(&h)
        .customize()
        .interceptor(count.clone());
    // As for parts (see `signs_payload`): no second hash of every byte where the transport
    // already protects the body.
    let put = if sign_payload {
        put
    } else {
        put.disable_payload_signing()
    }
    .send();
    let out = tokio::select! {
        r = put => r.map_err(|e| {
            Unlanded::of_write(sdk_error(e, Op::Write, &dest.to_string(), true).into(), &blake3)
        })?,
        () = ctx.cancel.cancelled() => return Err(Unlanded::Doubt(Error::Cancelled, blake3)),
    };
    check_echo(dest, out.sse_customer_key_md5(), &h.key_md5)
        .map_err(|e| Unlanded::of_write(e, &blake3))?;
    count.finish(size);
    Ok((
        Uploaded {
            blake3,
            etag: out.e_tag().map(str::to_string),
            version_id: out.version_id().map(str::to_string),
        },
        size,
    ))
}

/// A server that confirms an SSE-C write with another key's MD5 is not doing SSE-C right.
fn check_echo(dest: &S3Url, echo: Option<&str>, sent: &str) -> Result<()> {
    match echo {
        Some(e) if e != sent => Err(Error::Server(format!(
            "{dest}: the server confirmed the upload with another key's MD5 ({e}); do not trust this server with SSE-C"
        ))),
        _ => Ok(()),
    }
}

/// A multipart upload (new, or resumed with `resume_id`). A failure before the
/// CompleteMultipartUpload is sent leaves no object (absent: the upload is aborted so no
/// billed parts linger); the Complete's own failure without an answer, or a cancel while it
/// is out, leaves the outcome to the server.
#[allow(clippy::too_many_arguments)]
async fn multipart(
    ctx: &TransferCtx,
    home: &Home,
    client: &Client,
    object_id: i64,
    source: &SourceFile,
    dest: &S3Url,
    key: &SseKey,
    part_size: u64,
    resume_id: Option<String>,
    sign_payload: bool,
) -> std::result::Result<(Uploaded, u64), Unlanded> {
    let resuming = resume_id.is_some();
    let started = start_multipart(
        home, client, object_id, source, dest, key, part_size, resume_id,
    );
    let (upload_id, on_server) = tokio::select! {
        r = started => r.map_err(|e| match &e {
            // The upload id is gone: aborted, or completed by an attempt whose answer was
            // lost. Only the object itself can tell.
            Error::S3(s3) if resuming && s3.kind == S3ErrorKind::NoSuchObject => {
                Unlanded::Doubt(e, String::new())
            }
            _ => Unlanded::Absent(e),
        })?,
        () = ctx.cancel.cancelled() => return Err(Unlanded::Absent(Error::Cancelled)),
    };
    let target = Arc::new(PartTarget {
        client: client.clone(),
        dest: dest.clone(),
        upload_id: upload_id.clone(),
        headers: key.headers(),
        sign_payload,
    });
    let parts = tokio::select! {
        r = send_parts(ctx, source, part_size, &target, on_server) => r,
        () = ctx.cancel.cancelled() => Err(Error::Cancelled),
    };
    let completed = match parts {
        Ok((parts, blake3)) => {
            let complete = complete(&target, parts, blake3.clone(), source.size);
            tokio::select! {
                r = complete => r.map_err(|e| Unlanded::of_complete(e, &blake3)),
                () = ctx.cancel.cancelled() => Err(Unlanded::Doubt(Error::Cancelled, blake3)),
            }
        }
        Err(e) => Err(Unlanded::Absent(e)),
    };
    if let Err(Unlanded::Absent(_)) = &completed {
        // Abort so no invisible parts linger on the server (they are billed). When the
        // server cannot be reached, the upload stays recorded and can be resumed later.
        let aborted = client
            .abort_multipart_upload()
            .bucket(&dest.bucket)
            .key(&dest.key)
            .upload_id(&upload_id)
            .send()
            .await
            .is_ok();
        if aborted {
            home.registry
                .clear_multipart(object_id)
                .map_err(|e| Unlanded::Absent(e.into()))?;
        }
    }
    completed
}

/// The upload id and the parts the server holds already: a new multipart upload (recorded
/// at once, so a crash leaves it resumable), or the one being resumed.
#[allow(clippy::too_many_arguments)]
async fn start_multipart(
    home: &Home,
    client: &Client,
    object_id: i64,
    source: &SourceFile,
    dest: &S3Url,
    key: &SseKey,
    part_size: u64,
    resume_id: Option<String>,
) -> Result<(String, BTreeMap<i32, CompletedPart>)> {
    if let Some(id) = resume_id {
        let parts = list_parts(client, dest, &id, key).await?;
        return Ok((id, parts));
    }
    let url = dest.to_string();
    let out = client
        .create_multipart_upload()
        .bucket(&dest.bucket)
        .key(&dest.key)
        .meta(&source.meta)
        .sse(&key.headers())
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Write, &url, true))?;
    let id = out
        .upload_id()
        .ok_or_else(|| Error::Server(format!("{url}: the server gave no multipart upload id")))?
        .to_string();
    home.registry.record_multipart(&MultipartRecord {
        object_id,
        object: url.to_string(),
        upload_id: id.clone(),
        source_path: source.path.display().to_string(),
        source_size: source.size,
        source_mtime: source.mtime.clone(),
        part_size,
        started_at: now(),
    })?;
    Ok((id, BTreeMap::new()))
}

/// The parts a multipart upload already holds on the server.
async fn list_parts(
    client: &Client,
    dest: &S3Url,
    upload_id: &str,
    key: &SseKey,
) -> Result<BTreeMap<i32, CompletedPart>> {
    let h = key.headers();
    let mut parts = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_parts()
            .bucket(&dest.bucket)
            .key(&dest.key)
            .upload_id(upload_id)
            .set_part_number_marker(marker.clone())
            .sse(&h)
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Other, &dest.to_string(), true))?;
        for p in out.parts() {
            if let Some(n) = p.part_number() {
                parts.insert(n, completed_part(n, p.e_tag()));
            }
        }
        match (out.is_truncated(), out.next_part_number_marker()) {
            (Some(true), Some(m)) if Some(m) != marker.as_deref() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(parts)
}

/// One part read from the file: its number, length, and its bytes unless the server
/// already holds it.
type PartRead = (i32, u64, Option<bytes::Bytes>);

/// Part buffers, used again once a part is sent. A fresh 8 MiB buffer per part cost a page
/// fault and a zeroed page every 4 KiB: about a fifth of an upload's client CPU in a perf
/// profile.
#[derive(Default)]
struct BufferPool(Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    fn take(&self, len: usize) -> Vec<u8> {
        let reused = self.0.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match reused {
            Some(buf) if buf.len() >= len => buf,
            _ => vec![0u8; len],
        }
    }
}

/// A part's bytes, given back to the pool when the SDK drops the body.
struct PooledPart {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for PooledPart {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledPart {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.pool
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(buf);
    }
}

/// Bytes read from the file between two hash updates: small enough to still be in the CPU's
/// cache when they are hashed.
const READ_PIECE: usize = 256 << 10;

/// Reads the parts of a file strictly in order, hashing the whole content on the way.
struct PartReader {
    next: u64,
    count: u64,
    part_size: u64,
    size: u64,
    path: PathBuf,
    file_and_hash: Arc<Mutex<(std::fs::File, blake3::Hasher)>>,
    on_server: Arc<std::collections::HashSet<i32>>,
    pool: Arc<BufferPool>,
}

impl PartReader {
    /// The next part, read on a blocking thread; `None` after the last.
    async fn read_next(mut self) -> Option<(Result<PartRead>, Self)> {
        if self.next > self.count {
            return None;
        }
        let n = self.next;
        self.next += 1;
        let len = self.part_size.min(self.size - (n - 1) * self.part_size);
        let skip = self.on_server.contains(&(n as i32));
        let shared = self.file_and_hash.clone();
        let path = self.path.clone();
        let pool = self.pool.clone();
        let read = tokio::task::spawn_blocking(move || -> Result<PartRead> {
            use std::io::Read as _;
            let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
            let (file, hasher) = &mut *guard;
            let mut part = PooledPart {
                buf: pool.take(len as usize),
                len: len as usize,
                pool: pool.clone(),
            };
            for piece in part.buf[..len as usize].chunks_mut(READ_PIECE) {
                file.read_exact(piece)
                    .map_err(|e| Error::io(&path, "cannot read the file", e))?;
                hasher.update(piece);
            }
            Ok((
                n as i32,
                len,
                (!skip).then(|| bytes::Bytes::from_owner(part)),
            ))
        })
        .await
        .map_err(|e| Error::Internal(format!("reading task failed: {e}")))
        .and_then(|r| r);
        Some((read, self))
    }
}

/// Where parts go: shared by all part requests of one upload.
struct PartTarget {
    client: Client,
    dest: S3Url,
    upload_id: String,
    headers: crate::core::key::SseHeaders,
    /// See `signs_payload`.
    sign_payload: bool,
}

/// Whether part bodies are signed (SigV4 SHA-256 of every byte) or sent as UNSIGNED-PAYLOAD.
/// Over https or to this machine the transport already protects the body, and the SDK's
/// CRC32 (when the connection's checksum mode computes one) lets the server check each part:
/// signing would hash every byte a second time, on the client and on the server (it was most
/// of the upload gap to the aws CLI, docs/BENCHMARKS.md). Over plain http to another host,
/// allowed only explicitly, the signature is what protects the body, so it stays.
fn signs_payload(conn: &ConnectionRecord) -> bool {
    conn.endpoint.as_deref().is_some_and(|e| {
        e.starts_with("http://") && !crate::core::preflight::is_loopback_endpoint(e)
    })
}

/// Sends one part (or counts it, when the server already holds it).
async fn send_part(
    ctx: TransferCtx,
    target: Arc<PartTarget>,
    read: Result<PartRead>,
) -> Result<Option<CompletedPart>> {
    let (n, len, data) = read?;
    let Some(data) = data else {
        ctx.progress.add(len);
        return Ok(None);
    };
    ctx.throttle(len).await;
    let h = &target.headers;
    let count = super::counting::CountPart::new(ctx.progress.clone());
    let request = target
        .client
        .upload_part()
        .bucket(&target.dest.bucket)
        .key(&target.dest.key)
        .upload_id(&target.upload_id)
        .part_number(n)
        .content_length(len as i64)
        .body(ByteStream::from(data))
        .sse(h)
        .customize()
        .interceptor(count.clone());
    let request = if target.sign_payload {
        request
    } else {
        request.disable_payload_signing()
    };
    let out = request
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Write, &target.dest.to_string(), true))?;
    count.finish(len);
    Ok(Some(completed_part(n, out.e_tag())))
}

/// A part as CompleteMultipartUpload lists it: number and ETag only. The SDK's per-part
/// CRC32 was already checked by the server on each UploadPart; repeating it in Complete is
/// refused when the upload was created without a checksum algorithm (Garage: "uploaded
/// part = None"), and the whole content's SHA-256 is ours to check anyway.
fn completed_part(n: i32, etag: Option<&str>) -> CompletedPart {
    CompletedPart::builder()
        .part_number(n)
        .set_e_tag(etag.map(str::to_string))
        .build()
}

/// Sends every part the server does not hold yet (`concurrency` at a time), reading and
/// hashing the file in order; returns the parts and the content's BLAKE3.
async fn send_parts(
    ctx: &TransferCtx,
    source: &SourceFile,
    part_size: u64,
    target: &Arc<PartTarget>,
    mut done: BTreeMap<i32, CompletedPart>,
) -> Result<(BTreeMap<i32, CompletedPart>, String)> {
    let file = std::fs::File::open(&source.path)
        .map_err(|e| Error::io(&source.path, "cannot read the file", e))?;
    let file_and_hash = Arc::new(Mutex::new((file, blake3::Hasher::new())));
    let reader = PartReader {
        next: 1,
        count: source.size.div_ceil(part_size).max(1),
        part_size,
        size: source.size,
        path: source.path.clone(),
        file_and_hash: file_and_hash.clone(),
        on_server: Arc::new(done.keys().copied().collect()),
        pool: Arc::default(),
    };
    // unfold polls one read at a time, so parts are read (and hashed) in order while up
    // to `concurrency` of them are being sent.
    let sends = stream::unfold(reader, PartReader::read_next)
        .map(|read| send_part(ctx.clone(), target.clone(), read))
        .buffer_unordered(ctx.options.concurrency.max(1));
    futures_util::pin_mut!(sends);
    while let Some(sent) = sends.next().await {
        if let Some(part) = sent?
            && let Some(n) = part.part_number()
        {
            done.insert(n, part);
        }
    }
    let blake3 = {
        let guard = file_and_hash.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.finalize().to_hex().to_string()
    };
    Ok((done, blake3))
}

/// CompleteMultipartUpload with the parts sent: the request that makes the object exist.
async fn complete(
    target: &PartTarget,
    parts: BTreeMap<i32, CompletedPart>,
    blake3: String,
    size: u64,
) -> Result<(Uploaded, u64)> {
    let url = target.dest.to_string();
    let out = target
        .client
        .complete_multipart_upload()
        .bucket(&target.dest.bucket)
        .key(&target.dest.key)
        .upload_id(&target.upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts.into_values().collect()))
                .build(),
        )
        .sse(&target.headers)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Write, &url, true))?;
    Ok((
        Uploaded {
            blake3,
            etag: out.e_tag().map(str::to_string),
            version_id: out.version_id().map(str::to_string),
        },
        size,
    ))
}

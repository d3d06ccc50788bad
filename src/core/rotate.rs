//! Key rotation without downloading: the server copies each object onto itself, reading it
//! with the old key (`x-amz-copy-source-server-side-encryption-customer-*`) and writing it
//! with the new one. CopyObject up to a threshold (S3 allows 5 GiB in one copy), above it a
//! multipart upload of UploadPartCopy ranges, each with both sets of headers.
//!
//! The rotation is recorded before the copy starts (which object, from which key, to which),
//! so an interrupted run can be settled afterwards: a HEAD with the new key tells whether the
//! copy landed, a HEAD with the old key whether the object is still as it was. Only after a
//! HEAD with the new key confirmed the copy does the registry move the object to the new key.
//!
//! A copy onto itself is made with `MetadataDirective=COPY` where the server allows it, else
//! with `REPLACE` and the headers a HEAD read (SeaweedFS): what the preflight or an earlier
//! rotation learned of the bucket (`BucketTraits::rekey`) decides, and a refusal teaches it.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use serde::Serialize;

use super::key::{KeyFingerprint, SseHeaders, SseKey};
use super::location::{S3Location, S3Url};
use super::meta::{ObjectMeta, WithMeta as _};
use super::registry::{
    BucketTraits, KeyRecord, ObjectRecord, ObjectScope, ObjectState, PendingRotation, Pick, Rekey,
    ScopePages as _,
};
use super::s3::{Op, S3Error, client_for, head_with_key, proves_not_under_key, sdk_error};
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
    /// When to move the data through this computer instead of copying on the server.
    pub reupload: Reupload,
    /// Stops a re-upload fallback mid-way (the job's cancel; a server-side copy is never cut).
    pub cancel: tokio_util::sync::CancellationToken,
}

impl Default for RotateOptions {
    fn default() -> Self {
        Self {
            copy_threshold: MAX_SINGLE_COPY,
            part_size: 512 * MIB,
            reupload: Reupload::IfCopyRefused,
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }
}

/// The fallback for servers that refuse a server-side copy with SSE-C: download the object
/// with the old key (checked against its recorded SHA-256) into a private temp folder and
/// upload it again with the new key. It moves every byte twice through this computer, so
/// it is labelled in every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reupload {
    /// Only server-side copies; a refused copy is an error.
    Never,
    /// Fall back when the server answers that it does not do the copy.
    IfCopyRefused,
    /// Always download and upload again (for servers known to refuse copies).
    Always,
}

impl std::str::FromStr for Reupload {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "never" => Ok(Reupload::Never),
            "if-refused" => Ok(Reupload::IfCopyRefused),
            "always" => Ok(Reupload::Always),
            other => Err(format!(
                "\"{other}\" is not a re-upload mode; use never, if-refused or always"
            )),
        }
    }
}

/// Whether a failed copy means "this server does not do that" (not a key or access error).
fn copy_refused(e: &Error) -> bool {
    let Error::S3(s3) = e else {
        return false;
    };
    s3.kind == super::s3::S3ErrorKind::Service && super::preflight::not_implemented(&s3.message)
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

/// Which objects a rotation takes.
#[derive(Debug, Clone, PartialEq)]
pub enum RotateSelection {
    /// Registered objects by registry id (ticked in the window, or one row).
    Ids(Vec<i64>),
    /// One object by its location on a connection.
    Object { connection: String, url: S3Url },
    /// Everything a key encrypts, optionally only under s3://BUCKET/PREFIX.
    Key {
        from: KeyFingerprint,
        within: Option<S3Location>,
    },
    /// Every registered object under a folder of a bucket.
    Folder {
        connection: String,
        bucket: String,
        prefix: String,
    },
}

impl RotateSelection {
    /// The registry's words for the same selection.
    pub fn pick(&self) -> Pick {
        match self.clone() {
            RotateSelection::Ids(ids) => Pick::Ids(ids),
            RotateSelection::Object { connection, url } => Pick::Object {
                connection,
                bucket: url.bucket,
                key: url.key,
            },
            RotateSelection::Key { from, within } => Pick::Key {
                fingerprint: from.to_string(),
                within: within.map(|w| (w.bucket.clone(), w.prefix().to_string())),
            },
            RotateSelection::Folder {
                connection,
                bucket,
                prefix,
            } => Pick::Folder {
                connection,
                bucket,
                prefix,
            },
        }
    }

    /// The rows a rotation of it to `to` moves: stored, named, not already under `to` (None:
    /// no target chosen yet). The window previews exactly what the operation will take, a
    /// count and a first page.
    pub fn scope(&self, to: Option<&KeyFingerprint>) -> ObjectScope {
        ObjectScope::Targets {
            pick: self.pick(),
            not_under: to.map(|fp| fp.to_string()),
        }
    }
}

/// How many targets a rotation or migration reads from the registry at a time.
pub const TARGETS_PAGE: usize = 200;

/// What happened to one object of a many-object rotation.
#[derive(Debug, Clone)]
pub enum RotateOutcome {
    Rotated(Rotation),
    Failed {
        object: String,
        error: String,
    },
    /// No longer stored, or already under the target key, when its turn came.
    Skipped,
}

/// An object a rotation could not move.
#[derive(Debug, Clone, Serialize)]
pub struct RotateFailure {
    pub object: String,
    pub error: String,
}

/// What a rotation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RotateReport {
    /// The target key's label.
    pub to: String,
    pub rotated: Vec<Rotation>,
    /// Each object that could not be rotated, and why.
    pub failed: Vec<RotateFailure>,
    pub skipped: usize,
    /// Rotations interrupted earlier, settled before this one started.
    pub settled: Vec<Rotation>,
    /// Why earlier interrupted rotations could not be settled, if they could not.
    pub settle_error: Option<String>,
}

impl RotateReport {
    /// One line: what was rotated, how, what was skipped or settled first.
    pub fn summary(&self) -> String {
        let to = &self.to;
        let mut summary = format!("rotated {} object(s) to key \"{to}\"", self.rotated.len());
        let reuploaded = self
            .rotated
            .iter()
            .filter(|r| r.method.starts_with("download"))
            .count();
        if reuploaded > 0 {
            summary.push_str(&format!(
                " ({reuploaded} by download and re-upload: the server refused the copy)"
            ));
        }
        if self.skipped > 0 {
            summary.push_str(&format!(
                ", {} skipped (already there or not stored)",
                self.skipped
            ));
        }
        if !self.settled.is_empty() {
            summary.push_str(&format!(
                ", {} interrupted rotation(s) settled first",
                self.settled.len()
            ));
        }
        if let Some(e) = &self.settle_error {
            summary.push_str(&format!(
                "; earlier interrupted rotations could not be settled ({e}): \
                 `ssec-manager rotate --resume` retries"
            ));
        }
        summary
    }

    /// The summary as a result: an error naming the first failure if any object failed.
    pub fn into_result(self) -> Result<String> {
        let summary = self.summary();
        match self.failed.first() {
            None => Ok(summary),
            Some(f) => Err(Error::Partial(format!(
                "{summary}; {} failed, first: {}: {}",
                self.failed.len(),
                f.object,
                f.error
            ))),
        }
    }
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
        let (from_rec, from, to_rec, to) = self.rotation_keys(object, to_label)?;
        let conn = self
            .registry
            .connection_of_object(object.id)?
            .ok_or_else(|| Error::NotFound(format!("object {} has no connection", object.id)))?;
        let client = client_for(&conn, self.secrets().ok()).await?;
        let traits = self.registry.bucket_traits(&conn.name, &object.bucket)?;
        self.registry.begin_rotation(&PendingRotation {
            object_id: object.id,
            from: from_rec.fingerprint.clone(),
            to: to_rec.fingerprint.clone(),
        })?;
        let copied = match opts.reupload {
            Reupload::Always => Err("re-upload asked for".to_string()),
            _ => match copy_with_new_key(&client, object, &from, &to, opts, &traits).await {
                Ok(done) => {
                    self.learn_from_copy(&conn.name, &object.bucket, &traits, &done)?;
                    Ok(done)
                }
                Err(e) if opts.reupload == Reupload::IfCopyRefused && copy_refused(&e) => {
                    Err(format!("the server refused the copy: {e}"))
                }
                Err(e) => {
                    let pending = PendingRotation {
                        object_id: object.id,
                        from: from_rec.fingerprint.clone(),
                        to: to_rec.fingerprint.clone(),
                    };
                    return self.after_failed_copy(&pending, from_rec.label, e).await;
                }
            },
        };
        let done = match copied {
            Ok(done) => done,
            Err(why) => {
                return self
                    .rotate_by_reupload(object, &conn, &from_rec.label, &to_rec, &why, opts)
                    .await;
            }
        };
        self.confirm_rotation(&client, object, &to, &from_rec.label, &to_rec.label)
            .await?;
        let method = if done.parts_refused {
            "copy (one CopyObject: the server refuses UploadPartCopy with SSE-C)".to_string()
        } else {
            method(done.size, opts)
        };
        Ok(Rotation {
            object: format!("{}:{}", object.connection, object.url()),
            from: from_rec.label,
            to: to_rec.label,
            size: Some(done.size),
            method,
        })
    }

    /// The keys of a rotation of `object` to `to_label`: its current key and the new one,
    /// records and loaded; refused when they are the same.
    fn rotation_keys(
        &self,
        object: &ObjectRecord,
        to_label: &str,
    ) -> Result<(KeyRecord, SseKey, KeyRecord, SseKey)> {
        let from_rec = self
            .registry
            .key_by_fingerprint(&object.key_fingerprint)?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{} is under a key that is not registered; import it first",
                    object.url()
                ))
            })?;
        let to_rec = self.key_record(to_label)?;
        if to_rec.fingerprint == from_rec.fingerprint {
            return Err(Error::Refused(format!(
                "{} is already encrypted with \"{to_label}\"",
                object.url()
            )));
        }
        let (from, to) = (self.load_key(&from_rec)?, self.load_key(&to_rec)?);
        Ok((from_rec, from, to_rec, to))
    }

    /// A copy that failed: what the server holds decides, not the error (a copy whose answer
    /// was lost, or a retry refused after the first attempt landed, may be done). Settled now
    /// when the server answers; else it stays pending, protecting both keys.
    async fn after_failed_copy(
        &self,
        pending: &PendingRotation,
        from_label: String,
        e: Error,
    ) -> Result<Rotation> {
        match self.settle_rotation(pending).await {
            Ok(Settled::Confirmed(mut r)) => {
                r.from = from_label;
                r.method = format!("copy (its answer was lost: {e}; a HEAD confirmed it)");
                Ok(r)
            }
            _ => Err(e),
        }
    }

    /// Keeps what a copy taught of the bucket's server, for the next rotation there.
    fn learn_from_copy(
        &self,
        connection: &str,
        bucket: &str,
        known: &BucketTraits,
        done: &CopyDone,
    ) -> Result<()> {
        if Some(done.rekey) != known.rekey {
            self.registry.learn_rekey(connection, bucket, done.rekey)?;
        }
        if done.parts_refused && known.part_copy != Some(false) {
            self.registry.learn_no_part_copy(connection, bucket)?;
        }
        Ok(())
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
        let head = head_with_key(client, &object.bucket, &object.key, None, to).await?;
        self.record_rotation(client, object, to, head.version_id(), from_label, to_label)
            .await
    }

    /// The server holds the object under the new key (at `version`): the registry moves it
    /// there. In a bucket that keeps versions (or may: unknown counts as yes, a dependency
    /// is kept rather than dropped), the previous version stays recorded under the old key;
    /// deleting it later needs a definite yes. (A row without a version id predates
    /// versioning: its version is S3's "null" one.)
    async fn record_rotation(
        &self,
        client: &Client,
        object: &ObjectRecord,
        to: &SseKey,
        version: Option<&str>,
        from_label: &str,
        to_label: &str,
    ) -> Result<()> {
        let keeps_old = version != object.version_id.as_deref()
            && crate::core::bucket::keeps_versions(client, &object.bucket).await;
        let detail = format!(
            "{}: {from_label} -> {to_label} (previous version {}{})",
            object.url(),
            object.version_id.as_deref().unwrap_or("-"),
            if keeps_old {
                ", kept by the bucket under the old key"
            } else {
                ""
            }
        );
        self.registry
            .finish_rotation(object.id, &to.fingerprint(), version, &detail, keeps_old)?;
        Ok(())
    }

    /// The labelled fallback: the object through this computer, old key in, new key out.
    async fn rotate_by_reupload(
        &self,
        object: &ObjectRecord,
        conn: &super::registry::ConnectionRecord,
        from_label: &str,
        to_rec: &super::registry::KeyRecord,
        why: &str,
        opts: &RotateOptions,
    ) -> Result<Rotation> {
        let url = S3Url {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
        };
        // A private folder (0700) that disappears with its content, whatever happens.
        let tmp = tempfile::Builder::new()
            .prefix("ssec-manager-rotate.")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), "cannot create a temp folder", e))?;
        let file = tmp.path().join("object");
        // What the copy would have kept: content type and user metadata.
        let from = self.load_key(&self.key_record(from_label)?)?;
        let client = client_for(conn, self.secrets().ok()).await?;
        let head = client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .sse(&from.headers())
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Read, &url.to_string(), true))?;
        let meta = ObjectMeta::from_head(&head);
        let mut ctx = super::transfer::TransferCtx::new(TransferOptions::default());
        ctx.cancel = opts.cancel.child_token();
        super::transfer::download(&ctx, self, conn, &url, &file, Some(from_label)).await?;
        let uploaded = super::transfer::upload::upload_with_meta(
            &ctx,
            self,
            conn,
            &file,
            &url,
            &to_rec.label,
            meta,
        )
        .await?;
        let method = format!("download and re-upload ({why})");
        let kept = crate::core::bucket::versioning(&client, &object.bucket).await == Some(true);
        self.registry.drop_rotation(
            object.id,
            &to_rec.fingerprint,
            &format!(
                "{url}: {from_label} -> {} by {method}; now object #{}",
                to_rec.label, uploaded.id
            ),
            kept,
        )?;
        Ok(Rotation {
            object: format!("{}:{}", object.connection, object.url()),
            from: from_label.to_string(),
            to: to_rec.label.clone(),
            size: uploaded.size,
            method,
        })
    }

    /// The registry rows a selection takes now: stored, and not already under `to` (every
    /// page of `rotation_scope`, for a dry run's list).
    pub fn rotation_targets(
        &self,
        selection: &RotateSelection,
        to: &KeyFingerprint,
    ) -> Result<Vec<ObjectRecord>> {
        Ok(self
            .registry
            .scope_all(&self.rotation_scope(selection, to)?)?)
    }

    /// Which rows a rotation of `selection` to `to` takes, after the checks a selection
    /// needs: a key is not rotated onto itself; one object named by its location must be
    /// registered and stored (its key is needed to read it).
    pub fn rotation_scope(
        &self,
        selection: &RotateSelection,
        to: &KeyFingerprint,
    ) -> Result<ObjectScope> {
        match selection {
            RotateSelection::Key { from, .. } if from == to => Err(Error::Refused(
                "the new key is the key the objects are under already; choose another".into(),
            )),
            RotateSelection::Object { connection, url } => {
                let conn = self.resolve_connection(Some(connection))?;
                let row = self
                    .registry
                    .current_object(&conn, &url.bucket, &url.key)?
                    .ok_or_else(|| {
                        Error::NotFound(format!(
                            "{url} is not in the registry; rotation needs to know its current \
                             key (upload it with ssec-manager, or adopt it with a scan)"
                        ))
                    })?;
                if row.key_fingerprint == *to {
                    return Err(Error::Refused(format!(
                        "{url} is already encrypted with that key"
                    )));
                }
                if row.state != ObjectState::Stored {
                    return Err(Error::Refused(format!(
                        "{url} is not confirmed stored yet ({}): `ssec-manager reconcile` \
                         asks the server first",
                        row.state.as_str()
                    )));
                }
                Ok(RotateSelection::Ids(vec![row.id]).scope(Some(to)))
            }
            _ => Ok(selection.scope(Some(to))),
        }
    }

    /// Rotates what `selection` takes to the key labelled `to_label`, as one operation:
    /// rotations interrupted earlier are settled first; progress counts objects; a cancel
    /// takes effect between objects, so none is left half-rotated; a failed object does not
    /// stop the others. `on_object` hears each object's outcome as it happens. The report
    /// lists what was done; check `RotateReport::failed` (or `into_result`).
    pub async fn rotate(
        &self,
        ctx: &super::transfer::TransferCtx,
        selection: &RotateSelection,
        to_label: &str,
        opts: &RotateOptions,
        on_object: &mut (dyn FnMut(&RotateOutcome) + Send),
    ) -> Result<RotateReport> {
        // A rotation left stuck (its key gone, its server down) must not block this one.
        let opts = &RotateOptions {
            cancel: ctx.cancel.clone(),
            ..opts.clone()
        };
        let to = self.key_record(to_label)?;
        self.load_key(&to)?;
        let mut report = RotateReport {
            to: to_label.to_string(),
            ..RotateReport::default()
        };
        // What the registry does not know for sure is asked first: uploads in doubt, then
        // rotations left pending (done again when their copy never happened).
        let mut doubts = super::reconcile::ReconcileReport::default();
        if let Err(e) = self.reconcile_uploads(&ctx.step(), &mut doubts).await {
            report.settle_error = Some(e.to_string());
        }
        match self.resume_rotations(opts).await {
            Ok(settled) => report.settled = settled,
            Err(e) => report.settle_error = Some(e.to_string()),
        }
        // The targets are read a page at a time: a rotation of a million objects holds one
        // page. Each row is read again at its turn (another job may have moved it).
        let scope = self.rotation_scope(selection, &to.fingerprint)?;
        let total = self.registry.scope_count(&scope)?;
        if let RotateSelection::Ids(ids) = selection {
            report.skipped = ids.len().saturating_sub(total as usize);
        }
        ctx.progress.set_total(total);
        let mut after = 0;
        loop {
            let page = self.registry.scope_page(&scope, after, TARGETS_PAGE)?;
            let Some(last) = page.last() else {
                return Ok(report);
            };
            after = last.id;
            for target in &page {
                if ctx.cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let outcome = self.rotate_target(target.id, &to, to_label, opts).await?;
                on_object(&outcome);
                match outcome {
                    RotateOutcome::Rotated(r) => report.rotated.push(r),
                    RotateOutcome::Failed { object, error } => {
                        report.failed.push(RotateFailure { object, error })
                    }
                    RotateOutcome::Skipped => report.skipped += 1,
                }
                ctx.progress.add(1);
            }
        }
    }

    /// One object of a rotation, read again first: skipped if it is no longer stored or
    /// already under the target key.
    async fn rotate_target(
        &self,
        id: i64,
        to: &KeyRecord,
        to_label: &str,
        opts: &RotateOptions,
    ) -> Result<RotateOutcome> {
        Ok(match self.registry.object_by_id(id)? {
            Some(o) if o.state == ObjectState::Stored && o.key_fingerprint != to.fingerprint => {
                match self.rotate_object(&o, to_label, opts).await {
                    Ok(r) => RotateOutcome::Rotated(r),
                    Err(Error::Cancelled) => return Err(Error::Cancelled),
                    Err(e) => RotateOutcome::Failed {
                        object: format!("{}:{}", o.connection, o.url()),
                        error: e.to_string(),
                    },
                }
            }
            _ => RotateOutcome::Skipped,
        })
    }

    /// Deletes noncurrent versions kept under an old key after a rotation (registry rows in
    /// state `old_version`), by version id. Only on explicit request: after this, whatever
    /// those versions held is gone.
    pub async fn delete_old_versions(&self, ids: &[i64]) -> Result<usize> {
        let mut deleted = 0;
        for id in ids {
            let Some(o) = self.registry.object_by_id(*id)? else {
                continue;
            };
            let (ObjectState::OldVersion, Some(version)) = (o.state, o.version_id.as_deref())
            else {
                continue;
            };
            let conn = self
                .registry
                .connection_of_object(o.id)?
                .ok_or_else(|| Error::NotFound(format!("object {} has no connection", o.id)))?;
            let client = client_for(&conn, self.secrets().ok()).await?;
            // Deleting a version by id is only safe where versions are really kept, and never
            // for the version the registry says is current.
            if crate::core::bucket::versioning(&client, &o.bucket).await != Some(true) {
                return Err(Error::Refused(format!(
                    "s3://{}: the server does not confirm that this bucket keeps versions; \
                     nothing was deleted",
                    o.bucket
                )));
            }
            if self
                .registry
                .current_object(&conn, &o.bucket, &o.key)?
                .is_some_and(|cur| cur.version_id.as_deref() == Some(version))
            {
                return Err(Error::Refused(format!(
                    "{} version {version} is the current version; nothing was deleted",
                    o.url()
                )));
            }
            client
                .delete_object()
                .bucket(&o.bucket)
                .key(&o.key)
                .version_id(version)
                .send()
                .await
                .map_err(|e| sdk_error(e, Op::Other, &o.url(), false))?;
            self.registry.mark_old_version_deleted(
                o.id,
                &format!("{} version {version}, deleted on request", o.url()),
            )?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Settles rotations interrupted earlier (their owner process is gone), then does again
    /// those whose copy did not happen. One that cannot be settled (server unreachable, key
    /// gone) stays pending, protecting both keys; the others still are settled.
    pub async fn resume_rotations(&self, opts: &RotateOptions) -> Result<Vec<Rotation>> {
        let mut done = Vec::new();
        let mut failures = Vec::new();
        for p in self.registry.abandoned_rotations()? {
            match self.settle_rotation(&p).await {
                Ok(Settled::Confirmed(r)) => done.push(r),
                Ok(Settled::NotDone(object)) => match self.rotate_to_fp(&object, &p.to, opts).await
                {
                    Ok(r) => done.push(r),
                    Err(e) => failures.push(format!("{}: {e}", object.url())),
                },
                Ok(Settled::Nothing) => {}
                Err(e) => failures.push(e.to_string()),
            }
        }
        match failures.first() {
            None => Ok(done),
            Some(first) => Err(Error::Partial(format!(
                "{} interrupted rotation(s) settled, {} not: {first}",
                done.len(),
                failures.len()
            ))),
        }
    }

    /// Rotates `object` to the key of fingerprint `to`.
    async fn rotate_to_fp(
        &self,
        object: &ObjectRecord,
        to: &KeyFingerprint,
        opts: &RotateOptions,
    ) -> Result<Rotation> {
        let to_rec = self
            .registry
            .key_by_fingerprint(to)?
            .filter(|r| r.deleted_at.is_none())
            .ok_or_else(|| Error::NotFound(format!("the target key {to} is not registered")))?;
        self.rotate_object(object, &to_rec.label, opts).await
    }

    /// Asks the server where one pending rotation stands: under the new key (the registry
    /// moves the object there), still under the old key (the rotation did not happen and is
    /// no longer pending), or not known (it stays pending).
    pub async fn settle_rotation(&self, p: &PendingRotation) -> Result<Settled> {
        let Some(object) = self.registry.object_by_id(p.object_id)? else {
            self.registry
                .drop_stale_rotation(p.object_id, "its object is no longer in the registry")?;
            return Ok(Settled::Nothing);
        };
        if object.state != ObjectState::Stored {
            self.registry.drop_stale_rotation(
                object.id,
                &format!("{}: the row is {} now", object.url(), object.state.as_str()),
            )?;
            return Ok(Settled::Nothing);
        }
        let key_of = |fp: &KeyFingerprint| -> Result<(super::registry::KeyRecord, SseKey)> {
            let rec = self.registry.key_by_fingerprint(fp)?.ok_or_else(|| {
                Error::NotFound(format!("{}: key {fp} is not registered", object.url()))
            })?;
            let key = self.load_key(&rec)?;
            Ok((rec, key))
        };
        let (to_rec, to) = key_of(&p.to)?;
        let conn = self
            .registry
            .connection_of_object(object.id)?
            .ok_or_else(|| Error::NotFound(format!("object {} has no connection", object.id)))?;
        let client = client_for(&conn, self.secrets().ok()).await?;
        let from_label = object.key_label.clone().unwrap_or_default();
        let (bucket, key) = (&object.bucket, &object.key);
        match head_with_key(&client, bucket, key, None, &to).await {
            Ok(head) => {
                let version = head.version_id();
                self.record_rotation(&client, &object, &to, version, &from_label, &to_rec.label)
                    .await?;
                return Ok(Settled::Confirmed(Rotation {
                    object: format!("{}:{}", object.connection, object.url()),
                    from: from_label,
                    to: to_rec.label,
                    size: object.size,
                    method: "confirmed".into(),
                }));
            }
            Err(e) => {
                if proves_not_under_key(&client, bucket, key, None, &e).await != Some(true) {
                    return Err(e.into());
                }
            }
        }
        // Not under the new key. Under the old one: the copy never happened.
        let (_, from) = key_of(&p.from)?;
        head_with_key(&client, bucket, key, None, &from).await?;
        self.registry.abandon_rotation(
            object.id,
            &p.to,
            &format!(
                "{}: still under key \"{from_label}\" (a HEAD with it opens the object)",
                object.url()
            ),
        )?;
        Ok(Settled::NotDone(Box::new(object)))
    }
}

/// Where a pending rotation was found to stand.
#[derive(Debug)]
pub enum Settled {
    /// The object is under the new key; the registry moved it there.
    Confirmed(Rotation),
    /// The object is still under the old key; the rotation is no longer pending.
    NotDone(Box<ObjectRecord>),
    /// There was nothing left to settle (the row is gone or no longer stored).
    Nothing,
}

/// How a copy went, and what it taught of the server.
struct CopyDone {
    size: u64,
    /// The way of re-keying in place that worked.
    rekey: Rekey,
    /// The server refused UploadPartCopy with SSE-C: one CopyObject did it instead.
    parts_refused: bool,
}

/// The copy itself, the way the bucket's server does it (`traits`; learned again when the
/// server refuses): in parts above the copy threshold, else (or where the server refuses
/// UploadPartCopy, up to S3's 5 GiB) one CopyObject.
async fn copy_with_new_key(
    client: &Client,
    object: &ObjectRecord,
    from: &SseKey,
    to: &SseKey,
    opts: &RotateOptions,
    traits: &BucketTraits,
) -> Result<CopyDone> {
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
    let meta = ObjectMeta::from_head(&head);
    let rekey = traits.rekey.unwrap_or(Rekey::Copy);
    let mut parts_refused = traits.part_copy == Some(false) && size <= MAX_SINGLE_COPY;
    if size > opts.copy_threshold && !parts_refused {
        match multipart_copy(client, object, &meta, &old, &new, opts, size).await {
            Ok(()) => {
                return Ok(CopyDone {
                    size,
                    rekey,
                    parts_refused,
                });
            }
            Err(e) if size <= MAX_SINGLE_COPY && super::quirks::refuses_part_copy(&e) => {
                parts_refused = true;
            }
            Err(e) => return Err(e),
        }
    }
    let (bucket, key) = (&object.bucket, &object.key);
    let used = match rekey_copy(client, bucket, key, &old, &new, rekey, &meta).await {
        Ok(()) => rekey,
        Err(e) if rekey == Rekey::Copy && super::quirks::refuses_self_copy(&e) => {
            rekey_copy(client, bucket, key, &old, &new, Rekey::Replace, &meta).await?;
            Rekey::Replace
        }
        Err(e) => return Err(e.into()),
    };
    Ok(CopyDone {
        size,
        rekey: used,
        parts_refused: parts_refused && size > opts.copy_threshold,
    })
}

/// One CopyObject of an object onto itself from key `old` to key `new`: with
/// `MetadataDirective=COPY`, or `REPLACE` sending `meta` (what a HEAD read).
pub(crate) async fn rekey_copy(
    client: &Client,
    bucket: &str,
    key: &str,
    old: &SseHeaders,
    new: &SseHeaders,
    rekey: Rekey,
    meta: &ObjectMeta,
) -> std::result::Result<(), S3Error> {
    let copy = client
        .copy_object()
        .bucket(bucket)
        .key(key)
        .copy_source(copy_source(bucket, key))
        .copy_source_sse(old)
        .sse(new);
    let copy = match rekey {
        Rekey::Copy => copy.metadata_directive(MetadataDirective::Copy),
        Rekey::Replace => copy
            .metadata_directive(MetadataDirective::Replace)
            .meta(meta),
    };
    copy.send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error(e, Op::Write, &format!("s3://{bucket}/{key}"), true))
}

/// The copy in parts (UploadPartCopy ranges), aborted if any part fails. UploadPartCopy
/// copies bytes only, so what the object carries goes on the new upload explicitly.
async fn multipart_copy(
    client: &Client,
    object: &ObjectRecord,
    meta: &ObjectMeta,
    old: &super::key::SseHeaders,
    new: &super::key::SseHeaders,
    opts: &RotateOptions,
    size: u64,
) -> Result<()> {
    let url = object.url();
    let created = client
        .create_multipart_upload()
        .bucket(&object.bucket)
        .key(&object.key)
        .meta(meta)
        .sse(new)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Write, &url, true))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| Error::Server(format!("{url}: no multipart upload id")))?
        .to_string();
    let part = TransferOptions {
        part_size: opts.part_size,
        ..TransferOptions::default()
    }
    .part_size_for(size);
    let copied = copy_parts(client, object, &upload_id, old, new, part, size).await;
    if copied.is_err() {
        let _ = client
            .abort_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    copied
}

/// Copies every range of the object as a part of `upload_id`, then completes it.
async fn copy_parts(
    client: &Client,
    object: &ObjectRecord,
    upload_id: &str,
    old: &super::key::SseHeaders,
    new: &super::key::SseHeaders,
    part: u64,
    size: u64,
) -> Result<()> {
    let url = object.url();
    let source = copy_source(&object.bucket, &object.key);
    let mut parts = Vec::new();
    for (i, start) in (0..size).step_by(part as usize).enumerate() {
        let end = (start + part).min(size) - 1;
        let n = i as i32 + 1;
        let out = client
            .upload_part_copy()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .part_number(n)
            .copy_source(&source)
            .copy_source_range(format!("bytes={start}-{end}"))
            .copy_source_sse(old)
            .sse(new)
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
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .sse(new)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Write, &url, true))?;
    Ok(())
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
            ..RotateOptions::default()
        };
        assert_eq!(method(10 * MIB, &opts), "copy");
        assert_eq!(method(12 * MIB, &opts), "multipart copy (3 parts)");
    }
}

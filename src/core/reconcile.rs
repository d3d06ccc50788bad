//! Reconcile: asks the server about everything the registry does not know for sure, and
//! records its answer with the evidence in the event log.
//!
//! - Uploads `in_doubt` (their answer was lost) and `pending` ones whose process is gone
//!   (without a multipart upload to resume): a HEAD of the object with each candidate key,
//!   newest first (the unsettled rows' keys, then the key of the row it would replace). The
//!   row whose key opens it becomes `stored`; the others are proved absent (`failed`) once
//!   no request of theirs can still be landing (`DOUBT_GRACE_SECS` after their last
//!   change). In a bucket that keeps versions, an upload that is not the current object is
//!   looked for among the versions and kept as an `old_version` when found.
//! - Rotations left pending by a process that is gone: confirmed under the new key, or
//!   found still under the old one (no longer pending).
//!
//! A question the server does not answer (network, a key not in the keyring) leaves the
//! row as it is: its keys stay protected.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use serde::Serialize;

use super::key::{KeyFingerprint, SseKey};
use super::registry::{ConnectionRecord, ObjectRecord, ObjectState, StoredObject};
use super::rotate::Settled;
use super::s3::{Op, S3ErrorKind, client_for, head_with_key, proves_not_under_key, sdk_error};
use super::transfer::TransferCtx;
use super::{Error, Home, Result};

/// How long after its last change an unsettled upload may still land on the server (a
/// request the server was still reading when its answer was lost).
pub const DOUBT_GRACE_SECS: i64 = 120;

/// What one reconcile settled and what it could not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    /// "connection:s3://bucket/key: stored under key \"x\"" and the like.
    pub settled: Vec<String>,
    /// Rows still unsettled, with why.
    pub unsettled: Vec<String>,
}

impl ReconcileReport {
    pub fn summary(&self) -> String {
        format!(
            "{} settled, {} still in doubt",
            self.settled.len(),
            self.unsettled.len()
        )
    }
}

/// What the server said about one object, asked with each candidate key.
enum Answer {
    /// It opens with this key (the HEAD's size, ETag and version).
    Opens(KeyFingerprint, StoredObject),
    /// None of the keys opens it; the words say what it is.
    NoneOpens(String),
    /// The server could not be asked.
    Unknown(String),
}

impl Home {
    /// Settles every unsettled upload and every abandoned rotation (see the module's text).
    pub async fn reconcile(&self, ctx: &TransferCtx) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        self.reconcile_uploads(ctx, &mut report).await?;
        for p in self.registry.abandoned_rotations()? {
            if ctx.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            match self.settle_rotation(&p).await {
                Ok(Settled::Confirmed(r)) => report.settled.push(format!(
                    "{}: rotated to key \"{}\" (confirmed)",
                    r.object, r.to
                )),
                Ok(Settled::NotDone(o)) => report.settled.push(format!(
                    "{}:{}: the rotation did not happen; still under key \"{}\"",
                    o.connection,
                    o.url(),
                    o.key_label.as_deref().unwrap_or("?")
                )),
                Ok(Settled::Nothing) => {}
                Err(e) => report
                    .unsettled
                    .push(format!("rotation of #{}: {e}", p.object_id)),
            }
        }
        let (settled, unsettled) = self.settle_migrations().await?;
        report
            .settled
            .extend(settled.into_iter().map(|s| format!("{s}: move off SSE-C")));
        report.unsettled.extend(
            unsettled
                .into_iter()
                .map(|(o, e)| format!("migration of {o}: {e}")),
        );
        if !report.settled.is_empty() || !report.unsettled.is_empty() {
            self.registry
                .log_event("reconciled", None, None, &report.summary())?;
        }
        Ok(report)
    }

    /// The upload half of `reconcile`, object by object.
    pub(crate) async fn reconcile_uploads(
        &self,
        ctx: &TransferCtx,
        report: &mut ReconcileReport,
    ) -> Result<()> {
        let mut places: BTreeMap<(String, String, String), Vec<ObjectRecord>> = BTreeMap::new();
        for row in self.registry.unsettled()? {
            places
                .entry((row.connection.clone(), row.bucket.clone(), row.key.clone()))
                .or_default()
                .push(row);
        }
        ctx.progress.set_total(places.len() as u64);
        for ((connection, bucket, key), rows) in places {
            if ctx.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let conn = self.resolve_connection(Some(&connection))?;
            match self.settle_place(&conn, &bucket, &key, rows.clone()).await {
                Ok(lines) => report.settled.extend(lines),
                Err(e) => report.unsettled.extend(
                    rows.iter()
                        .map(|r| format!("{connection}:{}: {e}", r.url())),
                ),
            }
            ctx.progress.add(1);
        }
        Ok(())
    }

    /// Settles the unsettled rows of one object; returns what was recorded.
    async fn settle_place(
        &self,
        conn: &ConnectionRecord,
        bucket: &str,
        object_key: &str,
        mut rows: Vec<ObjectRecord>,
    ) -> Result<Vec<String>> {
        rows.sort_by_key(|r| std::cmp::Reverse(r.id));
        let client = client_for(conn, self.secrets().ok()).await?;
        let stored = self
            .registry
            .current_object(conn, bucket, object_key)?
            .filter(|o| o.state == ObjectState::Stored);
        // Candidates newest first, each key once; then the key of the row they would replace.
        let mut candidates: Vec<KeyFingerprint> = Vec::new();
        for fp in rows
            .iter()
            .map(|r| &r.key_fingerprint)
            .chain(stored.as_ref().map(|s| &s.key_fingerprint))
        {
            if !candidates.contains(fp) {
                candidates.push(fp.clone());
            }
        }
        let url = format!("s3://{bucket}/{object_key}");
        let since = self.registry.landing_mark()?;
        let answer = self.ask(&client, bucket, object_key, &candidates).await;
        // Unknown counts as "keeps versions": a dependency is kept rather than dropped.
        let versioned = super::bucket::keeps_versions(&client, bucket).await;
        let mut lines = Vec::new();
        let opener = match &answer {
            Answer::Unknown(why) => return Err(Error::InDoubt(why.clone())),
            // The stored row's own object (same key, same ETag): no unsettled row landed.
            Answer::Opens(fp, found)
                if stored.as_ref().is_some_and(|s| {
                    s.key_fingerprint == *fp && s.etag.is_some() && s.etag == found.etag
                }) =>
            {
                None
            }
            Answer::Opens(fp, found) => {
                // The newest row of that key whose size the server confirms is the one it
                // holds; the row keeps the content checksum it recorded.
                let row = rows
                    .iter()
                    .find(|r| r.key_fingerprint == *fp && r.size.is_none_or(|s| s == found.size));
                if let Some(row) = row {
                    let stored = StoredObject {
                        blake3: row.blake3.clone(),
                        ..found.clone()
                    };
                    self.registry
                        .finish_upload(row.id, &stored, versioned, since)?;
                    self.registry.clear_multipart(row.id)?;
                    let line = format!(
                        "{}:{url}: stored under key \"{}\" (a HEAD with it opens the object)",
                        conn.name,
                        self.label_of(fp)
                    );
                    self.registry
                        .log_event("reconciled", Some(fp), Some(row.id), &line)?;
                    lines.push(line);
                }
                row.map(|r| r.id)
            }
            Answer::NoneOpens(_) => None,
        };
        for row in rows.iter().filter(|r| Some(r.id) != opener) {
            if let Some(line) = self
                .settle_absent(&client, conn, row, &answer, versioned)
                .await?
            {
                lines.push(line);
            }
        }
        Ok(lines)
    }

    /// A row the current object is not: an older version (found among the versions), or
    /// proved absent once it can no longer be landing. None while it stays in doubt.
    async fn settle_absent(
        &self,
        client: &Client,
        conn: &ConnectionRecord,
        row: &ObjectRecord,
        answer: &Answer,
        versioned: bool,
    ) -> Result<Option<String>> {
        let age = chrono::DateTime::parse_from_rfc3339(&row.updated_at)
            .map(|t| chrono::Utc::now().timestamp() - t.timestamp())
            .unwrap_or(i64::MAX);
        if age < DOUBT_GRACE_SECS {
            return Ok(None);
        }
        let name = format!("{}:{}", conn.name, row.url());
        if versioned {
            let key = self.key_for(&row.key_fingerprint)?;
            if let Some(version) = find_version(client, row, &key).await? {
                let evidence = format!(
                    "{name}: kept by the bucket as version {} (a HEAD of that version with its \
                     key opens it)",
                    version.version_id.as_deref().unwrap_or("?")
                );
                self.registry
                    .supersede_upload(row.id, &version, true, &evidence)?;
                self.registry.log_event(
                    "reconciled",
                    Some(&row.key_fingerprint),
                    Some(row.id),
                    &evidence,
                )?;
                return Ok(Some(evidence));
            }
        }
        let why = match answer {
            Answer::Opens(fp, _) => format!(
                "the server holds another upload there, under key \"{}\"",
                self.label_of(fp)
            ),
            Answer::NoneOpens(what) => what.clone(),
            Answer::Unknown(why) => return Err(Error::InDoubt(why.clone())),
        };
        let evidence = format!("{name}: not on the server under this row's key: {why}");
        // Only if nobody claimed or settled it since it was read.
        if !self
            .registry
            .settle_absent(row.id, &row.updated_at, &evidence)?
        {
            return Ok(None);
        }
        self.registry.log_event(
            "reconciled",
            Some(&row.key_fingerprint),
            Some(row.id),
            &evidence,
        )?;
        Ok(Some(evidence))
    }

    /// A HEAD of the current object with each candidate key in turn.
    async fn ask(
        &self,
        client: &Client,
        bucket: &str,
        object_key: &str,
        candidates: &[KeyFingerprint],
    ) -> Answer {
        for fp in candidates {
            let key = match self.key_for(fp) {
                Ok(k) => k,
                Err(e) => return Answer::Unknown(format!("key {fp} cannot be read: {e}")),
            };
            match head_with_key(client, bucket, object_key, None, &key).await {
                Ok(out) => {
                    return Answer::Opens(
                        fp.clone(),
                        StoredObject {
                            size: out.content_length().unwrap_or(0).max(0) as u64,
                            blake3: None,
                            etag: out.e_tag().map(str::to_string),
                            version_id: out.version_id().map(str::to_string),
                        },
                    );
                }
                Err(err) if err.kind == S3ErrorKind::NoSuchObject => {
                    return Answer::NoneOpens("the object is not on the server".into());
                }
                // A refusal proves another key only when a keyless HEAD says the object
                // needs one (a 403 may be a missing permission or an expired token).
                Err(err) => {
                    let proved = proves_not_under_key(client, bucket, object_key, None, &err).await;
                    if proved != Some(true) {
                        return Answer::Unknown(err.message);
                    }
                }
            }
        }
        Answer::NoneOpens("none of its candidate keys opens the object".into())
    }

    /// The key material of a fingerprint (a deleted key's too, while the keyring has it).
    fn key_for(&self, fp: &KeyFingerprint) -> Result<SseKey> {
        super::keystore::load_key(self.secrets()?, fp)?
            .ok_or_else(|| Error::NotFound(format!("key {fp} is not in the keyring")))
    }

    fn label_of(&self, fp: &KeyFingerprint) -> String {
        self.registry
            .key_by_fingerprint(fp)
            .ok()
            .flatten()
            .map(|k| k.label)
            .unwrap_or_else(|| fp.to_string())
    }
}

/// Looks for `row`'s upload among the versions of its object made since the row was
/// written: the newest one its key opens (the current version is not one: it was asked
/// already). A HEAD that proves nothing makes the whole search say nothing (an error).
async fn find_version(
    client: &Client,
    row: &ObjectRecord,
    key: &SseKey,
) -> Result<Option<StoredObject>> {
    let url = row.url();
    let since = chrono::DateTime::parse_from_rfc3339(&row.created_at)
        .map(|t| t.timestamp() - 60)
        .unwrap_or(0);
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let out = client
            .list_object_versions()
            .bucket(&row.bucket)
            .prefix(&row.key)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Other, &url, false))?;
        for v in out.versions() {
            let (Some(k), Some(id)) = (v.key(), v.version_id()) else {
                continue;
            };
            let too_old = v.last_modified().is_some_and(|t| t.secs() < since);
            if k != row.key || too_old || v.is_latest() == Some(true) {
                continue;
            }
            match head_with_key(client, &row.bucket, &row.key, Some(id), key).await {
                Ok(head) => {
                    return Ok(Some(StoredObject {
                        size: head.content_length().unwrap_or(0).max(0) as u64,
                        blake3: row.blake3.clone(),
                        etag: head.e_tag().map(str::to_string),
                        version_id: Some(id.to_string()),
                    }));
                }
                Err(e) => {
                    let proved =
                        proves_not_under_key(client, &row.bucket, &row.key, Some(id), &e).await;
                    if proved != Some(true) {
                        return Err(e.into());
                    }
                }
            }
        }
        if out.is_truncated() != Some(true) {
            return Ok(None);
        }
        key_marker = out.next_key_marker().map(str::to_string);
        version_marker = out.next_version_id_marker().map(str::to_string);
        if key_marker.is_none() {
            return Ok(None);
        }
    }
}

//! What an object on the server is, found with HEAD requests alone (no data moved): plain,
//! SSE-C under one of our keys, or SSE-C under a key we do not hold.
//!
//! A HEAD without a key succeeds on a plain object and fails on an SSE-C one; a HEAD with the
//! right key succeeds, with a wrong key fails (400 on Garage, 403 on AWS). Candidates are
//! tried in the order given, so callers put the registry's expected key first.

use aws_sdk_s3::Client;
use futures_util::StreamExt as _;
use serde::Serialize;

use super::key::SseKey;
use super::registry::{ConnectionRecord, StoredObject};
use super::s3::{Op, S3ErrorKind, client_for, head_with_key, proves_not_under_key, sdk_error};
use super::transfer::TransferCtx;
use super::{Home, Result};
use crate::core::s3::WithSse as _;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObjectKind {
    Plain,
    /// SSE-C under the candidate with this label.
    KnownKey {
        label: String,
    },
    /// SSE-C, and none of the candidates opens it.
    UnknownKey,
    Missing,
    /// The server answered something else; the text says what.
    Unchecked {
        reason: String,
    },
}

impl ObjectKind {
    /// In the Objects table's words.
    pub fn describe(&self) -> String {
        match self {
            ObjectKind::Plain => "not encrypted".into(),
            ObjectKind::KnownKey { label } => label.clone(),
            ObjectKind::UnknownKey => "SSE-C, unknown key".into(),
            ObjectKind::Missing => "not on the server".into(),
            ObjectKind::Unchecked { .. } => "unchecked".into(),
        }
    }
}

/// Classifies one object with HEADs: first without a key, then with each candidate.
pub async fn classify_object(
    client: &Client,
    bucket: &str,
    key: &str,
    candidates: &[(String, SseKey)],
) -> ObjectKind {
    let url = format!("s3://{bucket}/{key}");
    // Refused without a key and not as SSE-C: the keys may all be refused for the same
    // reason (permissions), which says nothing about them.
    let mut denied_without_key = None;
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => return ObjectKind::Plain,
        Err(e) => {
            let err = sdk_error(e, Op::Read, &url, false);
            match err.kind {
                S3ErrorKind::KeyRequired => {}
                S3ErrorKind::AccessDenied => denied_without_key = Some(err.message),
                S3ErrorKind::NoSuchObject => return ObjectKind::Missing,
                _ => {
                    return ObjectKind::Unchecked {
                        reason: err.message,
                    };
                }
            }
        }
    }
    let mut tried = 0;
    for (label, candidate) in candidates {
        tried += 1;
        let h = candidate.headers();
        let answer = client
            .head_object()
            .bucket(bucket)
            .key(key)
            .sse(&h)
            .send()
            .await;
        match answer {
            Ok(out) if out.sse_customer_key_md5().is_none_or(|m| m == h.key_md5) => {
                return ObjectKind::KnownKey {
                    label: label.clone(),
                };
            }
            Ok(_) => {}
            Err(e) => {
                let err = sdk_error(e, Op::Read, &url, true);
                if !matches!(err.kind, S3ErrorKind::WrongKey) {
                    return ObjectKind::Unchecked {
                        reason: err.message,
                    };
                }
            }
        }
    }
    match denied_without_key {
        Some(denied) if tried == 0 => ObjectKind::Unchecked {
            reason: format!("{denied}; and this home has no key to try"),
        },
        Some(denied) => ObjectKind::Unchecked {
            reason: format!(
                "{denied}; every key was refused too, so the credentials most likely lack \
                 permission to read it (this does not show an unknown key)"
            ),
        },
        None => ObjectKind::UnknownKey,
    }
}

/// One object found by a scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScannedObject {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    #[serde(flatten)]
    pub kind: ObjectKind,
    /// Recorded in the registry by this scan (--adopt).
    pub adopted: bool,
}

impl Home {
    /// The keys this home can try on an object, each with its label.
    fn candidate_keys(&self) -> Result<Vec<(String, SseKey)>> {
        let mut candidates = Vec::new();
        for k in self.registry.key_records()? {
            if let Ok(key) = self.load_key(&k) {
                candidates.push((k.label.clone(), key));
            }
        }
        Ok(candidates)
    }

    /// Classifies the given objects of `bucket` with HEADs (eight at a time), trying the key
    /// the registry expects for each first, then every other key of this home. Progress
    /// counts objects; a cancel stops between requests.
    pub async fn check_objects(
        &self,
        ctx: &TransferCtx,
        conn: &ConnectionRecord,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<Vec<(String, ObjectKind)>> {
        let client = client_for(conn, self.secrets().ok()).await?;
        let candidates = self.candidate_keys()?;
        ctx.progress.set_total(keys.len() as u64);
        let (client, candidates) = (&client, &candidates);
        let work = futures_util::stream::iter(keys)
            .map(|key| async move {
                // The registry's expected key first saves HEADs on a large bucket.
                let expected = self
                    .registry
                    .current_object(conn, bucket, &key)
                    .ok()
                    .flatten()
                    .and_then(|o| o.key_label);
                let mut order: Vec<(String, SseKey)> = candidates.to_vec();
                if let Some(l) = expected {
                    order.sort_by_key(|(label, _)| *label != l);
                }
                let kind = classify_object(client, bucket, &key, &order).await;
                ctx.progress.add(1);
                (key, kind)
            })
            .buffer_unordered(8)
            .collect::<Vec<_>>();
        ctx.or_cancel(async { Ok(work.await) }).await
    }

    /// Lists `bucket/prefix` (all levels) and classifies every object (`check_objects`).
    /// With `adopt`, objects found under one of our keys and not yet registered are recorded
    /// as stored: this also rebuilds a lost registry from the bucket plus the keyring.
    pub async fn scan(
        &self,
        ctx: &TransferCtx,
        conn: &ConnectionRecord,
        bucket: &str,
        prefix: &str,
        adopt: bool,
    ) -> Result<Vec<ScannedObject>> {
        if adopt {
            // Rows in doubt are settled first: what the server says is then adopted on top.
            self.reconcile(ctx).await?;
        }
        let client = client_for(conn, self.secrets().ok()).await?;
        let listed = ctx
            .or_cancel(super::bucket::list_all(&client, bucket, prefix))
            .await?;
        let keys = listed.iter().map(|l| l.key.clone()).collect();
        let mut kinds: std::collections::HashMap<String, ObjectKind> = self
            .check_objects(ctx, conn, bucket, keys)
            .await?
            .into_iter()
            .collect();
        let mut out = Vec::new();
        for l in listed {
            let kind = kinds.remove(&l.key).unwrap_or(ObjectKind::Missing);
            let adopted = adopt && self.adopt(&client, conn, bucket, &l, &kind).await?;
            out.push(ScannedObject {
                key: l.key,
                size: l.size,
                etag: l.etag,
                kind,
                adopted,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Whether the object is, now, under `found` and not under `row`'s key. The scan's HEADs
    /// may be stale by the time it records: another process may have rotated or rewritten
    /// the object since (found by the fault campaign: a scan racing `rotate --from`
    /// retired the row the rotation had just moved, and adopted the old key).
    async fn still_elsewhere(
        &self,
        client: &Client,
        row: &super::registry::ObjectRecord,
        found: &super::registry::KeyRecord,
    ) -> Result<bool> {
        let found_key = self.load_key(found)?;
        if head_with_key(client, &row.bucket, &row.key, None, &found_key)
            .await
            .is_err()
        {
            return Ok(false);
        }
        let Some(row_rec) = self.registry.key_by_fingerprint(&row.key_fingerprint)? else {
            return Ok(true);
        };
        let Ok(row_key) = self.load_key(&row_rec) else {
            // The row's key is gone from the keyring: what opens the object decides.
            return Ok(true);
        };
        Ok(
            match head_with_key(client, &row.bucket, &row.key, None, &row_key).await {
                Ok(_) => false,
                Err(e) => proves_not_under_key(client, &row.bucket, &row.key, None, &e)
                    .await
                    .unwrap_or(false),
            },
        )
    }

    /// Records an object found under one of our keys, unless the registry already records
    /// it under that key. A row that names another key is wrong (the object was rewritten
    /// behind the registry's back): it is retired, with what the server said as evidence,
    /// but only if the server still says so now (see `still_elsewhere`) and no rotation of
    /// it is under way.
    async fn adopt(
        &self,
        client: &Client,
        conn: &ConnectionRecord,
        bucket: &str,
        listed: &super::bucket::Listed,
        kind: &ObjectKind,
    ) -> Result<bool> {
        let ObjectKind::KnownKey { label } = kind else {
            return Ok(false);
        };
        let rec = self.key_record(label)?;
        let current = self.registry.current_object(conn, bucket, &listed.key)?;
        let url = format!("s3://{bucket}/{}", listed.key);
        let mut replacing = None;
        match current {
            Some(row) if row.key_fingerprint == rec.fingerprint => return Ok(false),
            // Running or in doubt: its owner, or `reconcile`, settles it.
            Some(row) if row.state != super::registry::ObjectState::Stored => return Ok(false),
            Some(row) => {
                if !self.still_elsewhere(client, &row, &rec).await? {
                    return Ok(false);
                }
                let evidence =
                    format!("{url}: a scan found it under key \"{label}\", not this row's key");
                replacing = Some((row, evidence));
            }
            None => {}
        }
        let stored = StoredObject {
            size: listed.size,
            blake3: None,
            etag: listed.etag.clone(),
            version_id: None,
        };
        let replacing = replacing.as_ref().map(|(row, why)| (row, why.as_str()));
        let Some(id) = self.registry.adopt_object(
            conn,
            bucket,
            &listed.key,
            &rec.fingerprint,
            &stored,
            replacing,
        )?
        else {
            return Ok(false);
        };
        self.registry
            .log_event("adopted", Some(&rec.fingerprint), Some(id), &url)?;
        Ok(true)
    }
}

//! The ledger of objects: which key encrypts what, through an object's whole life. An
//! upload is reserved before anything is sent (in the same transaction that checks its key
//! still exists), runs as `pending` under its owner process, and ends `stored`, `failed`
//! (the server answered no, or nothing was sent), or `in_doubt` (the answer was lost). A
//! rotation is recorded before its copy and protects both keys until settled.
//!
//! The rule every query here keeps: an object that may be on the server under a key
//! protects that key, until the server has answered otherwise.

use rusqlite::{OptionalExtension, params};

use super::owners::owned_elsewhere;
use super::*;

/// The ids of the rows a key protects (see `dependent_objects`), in id order.
fn dependent_ids(db: &rusqlite::Connection, fp: &KeyFingerprint) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = db.prepare_cached(&format!(
        "SELECT id FROM objects WHERE (key_fingerprint = ?1 AND state IN {MAY_BE_ON_SERVER})
            OR id IN (SELECT object_id FROM rotations WHERE to_fingerprint = ?1)
         ORDER BY id"
    ))?;
    let ids = stmt.query_map([fp.as_str()], |r| r.get(0))?;
    ids.collect()
}

/// "Rows of the key in parameter `n`" (always bound: None binds NULL and asks for no key).
fn key_condition(only: Option<&KeyFingerprint>, n: usize) -> String {
    match only {
        Some(_) => format!("o.key_fingerprint = ?{n}"),
        None => format!("?{n} IS NULL"),
    }
}

/// What a checked key delete found.
#[derive(Debug)]
pub enum Dependents {
    /// Objects depend on the key and the delete was neither forced nor confirmed for
    /// exactly them: nothing changed.
    Refused(Vec<ObjectRecord>),
    /// The key is marked deleted; these objects depended on it.
    Deleted(Vec<ObjectRecord>),
}

/// Where a finished upload stands among the server's versions of its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// The server's current object is this upload.
    Current,
    /// Another upload replaced it before it was checked (unversioned bucket).
    Replaced,
    /// The bucket keeps versions and this one is no longer the current one.
    OlderVersion,
}

/// Whether a rotation of the object is under way (its copy may land at any moment). An
/// upload and a rotation of one object never overlap: each refuses while the other runs, so
/// which row protects which key can always be told. The one upload a rotation makes itself
/// (its fallback by download and re-upload: this process, the rotation's target key) is
/// part of it.
fn under_rotation(
    tx: &rusqlite::Transaction<'_>,
    (connection, bucket, object_key): (&ConnectionRecord, &str, &str),
    (owner, fingerprint): (&str, &KeyFingerprint),
) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM rotations r JOIN objects o ON o.id = r.object_id
            WHERE o.connection_id = ?1 AND o.bucket = ?2 AND o.object_key = ?3
              AND NOT (r.owner IS ?4 AND r.to_fingerprint = ?5))
         OR EXISTS(SELECT 1 FROM migrations m JOIN objects o ON o.id = m.object_id
            WHERE o.connection_id = ?1 AND o.bucket = ?2 AND o.object_key = ?3)",
        params![
            connection.id,
            bucket,
            object_key,
            owner,
            fingerprint.as_str()
        ],
        |r| r.get(0),
    )
}

/// An IMMEDIATE transaction: it takes the write lock at once, so a read-check-write inside
/// it sees no other process's write in between.
pub(super) fn immediate(
    db: &mut rusqlite::Connection,
) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// SQL: whether another row of object ?1's place is an upload running or in doubt (it may
/// land at any moment, so a copy of the object would not know what it copies).
pub(super) const UPLOAD_UNSETTLED: &str = "EXISTS(SELECT 1 FROM objects o, objects me
    WHERE me.id = ?1 AND o.id != me.id AND o.state IN ('pending', 'in_doubt')
    AND (o.connection_id, o.bucket, o.object_key) = (me.connection_id, me.bucket, me.object_key))";

/// Records the version an in-place copy leaves behind (a versioned bucket keeps it) as an
/// `old_version` row under its key, so the key is still known to be needed.
pub(super) fn keep_old_version_row(
    tx: &rusqlite::Transaction<'_>,
    object_id: i64,
    now: &str,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO objects (connection_id, bucket, object_key, version_id, size, sha256,
            blake3, etag, key_fingerprint, state, error, created_at, updated_at,
            last_verified_at, verify_status, verify_detail)
         SELECT connection_id, bucket, object_key, COALESCE(version_id, 'null'), size,
            sha256, blake3, etag, key_fingerprint, 'old_version', NULL, created_at, ?2,
            last_verified_at, verify_status, verify_detail
         FROM objects WHERE id = ?1",
        params![object_id, now],
    )
}

impl Registry {
    // ---- objects ----

    /// The object was deleted on the server: its stored rows become `deleted`, or, when the
    /// bucket keeps versions (`kept_versions`; assumed when unknown), `old_version`: the
    /// versions are still there under their keys. Rows still running are left to settle.
    pub fn mark_object_deleted(
        &self,
        connection: &ConnectionRecord,
        url: &crate::core::location::S3Url,
        kept_versions: bool,
    ) -> Result<()> {
        self.db()
            .execute(
                "UPDATE objects SET state = ?5, updated_at = ?4,
                    version_id = CASE WHEN ?5 = 'old_version'
                        THEN COALESCE(version_id, 'null') ELSE version_id END
                 WHERE connection_id = ?1 AND bucket = ?2 AND object_key = ?3
                   AND state = 'stored'",
                params![
                    connection.id,
                    url.bucket,
                    url.key,
                    now(),
                    if kept_versions {
                        "old_version"
                    } else {
                        "deleted"
                    }
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Reserves the key for an upload about to start: in one transaction, checks that the
    /// key is still live and writes the `pending` row naming it, owned by this process. A
    /// key delete sees this row as a dependent from then on; a key deleted first makes this
    /// refuse (nothing has been sent yet).
    pub fn reserve_upload(
        &self,
        connection: &ConnectionRecord,
        bucket: &str,
        object_key: &str,
        fingerprint: &KeyFingerprint,
        size: u64,
    ) -> Result<i64> {
        let reserved =
            self.reserve_uploads(connection, bucket, &[(object_key, size)], fingerprint)?;
        reserved
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| RegistryError::RotationUnderWay(format!("s3://{bucket}/{object_key}")))
    }

    /// `reserve_upload` for many objects of one bucket at once, in one transaction (one
    /// commit for a batch of a folder's files); returns the ids in the order given, None for
    /// an object whose rotation is under way (it is not reserved).
    pub fn reserve_uploads(
        &self,
        connection: &ConnectionRecord,
        bucket: &str,
        objects: &[(&str, u64)],
        fingerprint: &KeyFingerprint,
    ) -> Result<Vec<Option<i64>>> {
        let now = now();
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let live: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM keys WHERE fingerprint = ?1 AND deleted_at IS NULL)",
                [fingerprint.as_str()],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if !live {
            return Err(RegistryError::KeyGone {
                fingerprint: fingerprint.clone(),
            });
        }
        let mut ids = Vec::with_capacity(objects.len());
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO objects(connection_id, bucket, object_key, size, key_fingerprint,
                        state, created_at, updated_at, owner)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?7)",
                )
                .map_err(|e| self.err(e))?;
            for (object_key, size) in objects {
                if under_rotation(
                    &tx,
                    (connection, bucket, object_key),
                    (&self.owner, fingerprint),
                )
                .map_err(|e| self.err(e))?
                {
                    ids.push(None);
                    continue;
                }
                insert
                    .execute(params![
                        connection.id,
                        bucket,
                        object_key,
                        *size as i64,
                        fingerprint.as_str(),
                        now,
                        self.owner
                    ])
                    .map_err(|e| self.err(e))?;
                ids.push(Some(tx.last_insert_rowid()));
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(ids)
    }

    /// Removes a reservation under which nothing was sent (its upload stopped before its
    /// first request): the row would claim nothing.
    pub fn drop_reservation(&self, id: i64) -> Result<()> {
        self.db()
            .execute(
                "DELETE FROM objects WHERE id = ?1 AND state = 'pending'
                   AND NOT EXISTS (SELECT 1 FROM multipart_uploads WHERE object_id = ?1)
                   AND NOT EXISTS (SELECT 1 FROM rotations WHERE object_id = ?1)",
                [id],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records an object found on the server under one of our keys (a scan's adoption), as
    /// stored. With `replacing` (a stored row the server contradicts, and why), that row
    /// becomes `replaced` in the same transaction, so no moment has neither; unless it
    /// changed since or a rotation of it is under way (its process, or `reconcile`, settles
    /// it), or an upload of the object is running or in doubt: then nothing is recorded
    /// (None).
    pub fn adopt_object(
        &self,
        connection: &ConnectionRecord,
        bucket: &str,
        object_key: &str,
        fingerprint: &KeyFingerprint,
        stored: &StoredObject,
        replacing: Option<(&ObjectRecord, &str)>,
    ) -> Result<Option<i64>> {
        let now = now();
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        // An upload of the object running or in doubt: what the scan saw may be its write
        // (or be replaced by it); its owner, or `reconcile`, settles the object first.
        let busy: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM objects WHERE connection_id = ?1 AND bucket = ?2
                    AND object_key = ?3 AND state IN ('pending', 'in_doubt'))",
                params![connection.id, bucket, object_key],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if busy {
            return Ok(None);
        }
        if let Some((old, evidence)) = replacing {
            // Still the row the scan judged: same key, still stored, no rotation holding it.
            let changed = tx
                .execute(
                    "UPDATE objects SET state = 'replaced', updated_at = ?2
                     WHERE id = ?1 AND state = 'stored' AND key_fingerprint = ?3
                       AND NOT EXISTS (SELECT 1 FROM rotations WHERE object_id = ?1)",
                    params![old.id, now, old.key_fingerprint.as_str()],
                )
                .map_err(|e| self.err(e))?;
            if changed == 0 {
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
                 SELECT ?1, 'retired', key_fingerprint, id, ?3 FROM objects WHERE id = ?2",
                params![now, old.id, evidence],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.execute(
            "INSERT INTO objects(connection_id, bucket, object_key, size, key_fingerprint, etag,
                version_id, state, created_at, updated_at, last_verified_at, verify_status,
                landed_seq, blake3)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'stored', ?8, ?8, ?8, 'ok',
                (SELECT COALESCE(MAX(landed_seq), 0) + 1 FROM objects), ?9)",
            params![
                connection.id,
                bucket,
                object_key,
                stored.size as i64,
                fingerprint.as_str(),
                stored.etag,
                stored.version_id,
                now,
                // Known when the content was read (a folder download), not from a listing.
                stored.blake3.as_deref().filter(|h| !h.is_empty())
            ],
        )
        .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Some(id))
    }

    /// Whether another row of the same object records `etag`: its upload wrote what the
    /// server holds now.
    pub fn other_row_has_etag(&self, id: i64, etag: &str) -> Result<bool> {
        self.db()
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM objects o, objects me WHERE me.id = ?1
                    AND o.id != me.id AND o.etag = ?2
                    AND (o.connection_id, o.bucket, o.object_key) =
                        (me.connection_id, me.bucket, me.object_key))",
                params![id, etag],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Whether upload row `id` ran alone: no other row of its object is running or in doubt,
    /// none landed after `since` (the landing order when `id` was reserved), and no
    /// rotation of the object is under way. Then the server's "stored" answer to this
    /// upload makes it the current object without asking again.
    pub fn alone_since(&self, id: i64, since: i64) -> Result<bool> {
        self.db()
            .query_row(
                "SELECT NOT EXISTS(SELECT 1 FROM objects o, objects me WHERE me.id = ?1
                    AND o.id != me.id
                    AND (o.connection_id, o.bucket, o.object_key) =
                        (me.connection_id, me.bucket, me.object_key)
                    AND (o.state IN ('pending', 'in_doubt') OR o.landed_seq > ?2
                         OR o.id IN (SELECT object_id FROM rotations)
                         OR o.id IN (SELECT object_id FROM migrations)))",
                params![id, since],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Whether another row of the same object is `stored` (an upload would replace it).
    pub fn other_stored(&self, id: i64) -> Result<bool> {
        self.db()
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM objects o, objects me WHERE me.id = ?1
                    AND o.id != me.id AND o.state = 'stored'
                    AND (o.connection_id, o.bucket, o.object_key) =
                        (me.connection_id, me.bucket, me.object_key))",
                [id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The landing order so far: take it before asking the server whether an upload is the
    /// current object, and hand it to `finish_upload`.
    pub fn landing_mark(&self) -> Result<i64> {
        self.db()
            .query_row(
                "SELECT COALESCE(MAX(landed_seq), 0) FROM objects",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The server holds the upload as its current object (a HEAD said so after `since` was
    /// taken): the row becomes `stored` (from `pending` or `in_doubt`), and unless the bucket
    /// keeps versions the `stored` rows of earlier uploads to the same object key become
    /// `replaced`. Rows of other uploads still running or in doubt are left to their own
    /// outcome. If another upload of the same object was recorded as landed since the HEAD,
    /// that one is the newer: this row is superseded instead (returns false).
    pub fn finish_upload(
        &self,
        id: i64,
        stored: &StoredObject,
        versioned: bool,
        since: i64,
    ) -> Result<bool> {
        self.finish(id, stored, versioned, since, None)
    }

    /// `finish_upload`, with its event ("uploaded" or "upload_superseded", `detail`) written
    /// in the same transaction: one commit per upload instead of two.
    pub fn finish_upload_logged(
        &self,
        id: i64,
        stored: &StoredObject,
        versioned: bool,
        since: i64,
        detail: &str,
    ) -> Result<bool> {
        self.finish(id, stored, versioned, since, Some(detail))
    }

    fn finish(
        &self,
        id: i64,
        stored: &StoredObject,
        versioned: bool,
        since: i64,
        log: Option<&str>,
    ) -> Result<bool> {
        let now = now();
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let newer: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM objects o, objects me WHERE me.id = ?1
                    AND o.id != me.id AND o.state = 'stored' AND o.landed_seq > ?2
                    AND (o.connection_id, o.bucket, o.object_key) =
                        (me.connection_id, me.bucket, me.object_key))",
                params![id, since],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let state = match (newer, versioned) {
            (false, _) => "stored",
            (true, true) => "old_version",
            (true, false) => "replaced",
        };
        tx.execute(
            "UPDATE objects SET state = ?7, size = ?2, blake3 = ?3, etag = ?4,
                version_id = ?5, error = NULL, updated_at = ?6, last_verified_at = ?6,
                verify_status = 'ok', verify_detail = NULL, owner = NULL,
                landed_seq = (SELECT COALESCE(MAX(landed_seq), 0) + 1 FROM objects)
             WHERE id = ?1",
            params![
                id,
                stored.size as i64,
                // Adopted objects have no recorded content hash: NULL, not an empty one.
                stored.blake3.as_deref().filter(|h| !h.is_empty()),
                stored.etag,
                stored.version_id,
                now,
                state
            ],
        )
        .map_err(|e| self.err(e))?;
        if !newer && !versioned {
            tx.execute(
                "UPDATE objects SET state = 'replaced', updated_at = ?2
                 WHERE id != ?1 AND state = 'stored'
                   AND (connection_id, bucket, object_key) =
                       (SELECT connection_id, bucket, object_key FROM objects WHERE id = ?1)",
                params![id, now],
            )
            .map_err(|e| self.err(e))?;
        }
        if let Some(detail) = log {
            let kind = if newer {
                "upload_superseded"
            } else {
                "uploaded"
            };
            tx.execute(
                "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
                 SELECT ?1, ?2, key_fingerprint, id, ?3 FROM objects WHERE id = ?4",
                params![now, kind, detail, id],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(!newer)
    }

    /// Proved absent by another process's settling: `failed` with the server's answer as
    /// evidence, only if the row is still as it was read (`seen_update`) and its owner is
    /// gone, so a row claimed or settled since is left alone.
    pub fn settle_absent(&self, id: i64, seen_update: &str, evidence: &str) -> Result<bool> {
        let live = self.live_owners()?;
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let owner: Option<String> = tx
            .query_row("SELECT owner FROM objects WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        if owner.is_some_and(|o| live.contains(&o)) {
            return Ok(false);
        }
        let changed = tx
            .execute(
                "UPDATE objects SET state = 'failed', error = ?3, updated_at = ?4, owner = NULL
                 WHERE id = ?1 AND updated_at = ?2 AND state IN ('pending', 'in_doubt')",
                params![id, seen_update, evidence, now()],
            )
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(changed > 0)
    }

    /// The server took the upload, but by the time it was checked another upload had
    /// replaced it (or, in a bucket that keeps versions, it is a noncurrent version): the
    /// row says so, with the server's answer as evidence. A kept version still protects its
    /// key (`old_version`).
    pub fn supersede_upload(
        &self,
        id: i64,
        stored: &StoredObject,
        kept_as_version: bool,
        evidence: &str,
    ) -> Result<()> {
        let state = if kept_as_version {
            "old_version"
        } else {
            "replaced"
        };
        self.db()
            .execute(
                "UPDATE objects SET state = ?2, size = ?3, blake3 = ?4, etag = ?5,
                    version_id = COALESCE(?6, version_id, CASE WHEN ?2 = 'old_version'
                        THEN 'null' END), error = ?7, updated_at = ?8, owner = NULL
                 WHERE id = ?1 AND state IN ('pending', 'in_doubt')",
                params![
                    id,
                    state,
                    stored.size as i64,
                    stored.blake3.as_deref().filter(|h| !h.is_empty()),
                    stored.etag,
                    stored.version_id,
                    evidence,
                    now()
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The upload's answer was lost: the server may or may not hold it. The row keeps its
    /// key protected until `reconcile` settles it.
    pub fn doubt_upload(&self, id: i64, why: &str, blake3: &str) -> Result<()> {
        self.db()
            .execute(
                "UPDATE objects SET state = 'in_doubt', error = ?2, updated_at = ?3,
                    blake3 = ?4
                 WHERE id = ?1 AND state = 'pending'",
                params![id, why, now(), Some(blake3).filter(|h| !h.is_empty())],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The upload ended without the object (`failed` or `cancelled`): proved absent, because
    /// the server said no or nothing was sent. A row already settled otherwise is left.
    pub fn fail_upload(&self, id: i64, state: ObjectState, error: &str) -> Result<()> {
        self.db()
            .execute(
                "UPDATE objects SET state = ?4, error = ?2, updated_at = ?3, owner = NULL
                 WHERE id = ?1 AND state IN ('pending', 'in_doubt')",
                params![id, error, now(), state.as_str()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Takes an interrupted upload over for a resume or an abort: in one transaction, only
    /// if its owner is gone and its outcome is not in doubt (a lost CompleteMultipartUpload
    /// may have made it: `reconcile` settles that first); the row becomes `pending` under
    /// this process.
    pub fn claim_upload(&self, id: i64) -> Result<()> {
        let live = self.live_owners()?;
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let row: Option<(Option<String>, String)> = tx
            .query_row(
                "SELECT m.owner, o.state FROM multipart_uploads m JOIN objects o
                   ON o.id = m.object_id WHERE m.object_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((owner, state)) = row else {
            return Err(RegistryError::NotInterrupted(id));
        };
        if state == "in_doubt" {
            return Err(RegistryError::InDoubt(id));
        }
        if let Some(o) = owner.filter(|o| live.contains(o) && *o != self.owner) {
            drop(tx);
            drop(db);
            return Err(owned_elsewhere(format!("upload #{id}"), self.owner_pid(&o)));
        }
        tx.execute(
            "UPDATE objects SET state = 'pending', error = NULL, updated_at = ?2, owner = ?3
             WHERE id = ?1",
            params![id, now(), self.owner],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE multipart_uploads SET owner = ?2 WHERE object_id = ?1",
            params![id, self.owner],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    pub fn object_by_id(&self, id: i64) -> Result<Option<ObjectRecord>> {
        Ok(self.query_objects("WHERE o.id = ?1", &[&id])?.pop())
    }

    pub fn connection_of_object(&self, id: i64) -> Result<Option<ConnectionRecord>> {
        let name = self.object_by_id(id)?.map(|o| o.connection);
        match name {
            Some(n) => self.connection_by_name(&n),
            None => Ok(None),
        }
    }

    // ---- multipart uploads ----

    pub fn record_multipart(&self, m: &MultipartRecord) -> Result<()> {
        self.db()
            .execute(
                "INSERT OR REPLACE INTO multipart_uploads(object_id, upload_id, source_path,
                    source_size, source_mtime, part_size, started_at, owner)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    m.object_id,
                    m.upload_id,
                    m.source_path,
                    m.source_size as i64,
                    m.source_mtime,
                    m.part_size as i64,
                    m.started_at,
                    self.owner
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Gives up this process's ownership of a multipart upload left on the server (its abort
    /// failed), so a resume or an abort may take it now. Whether there was one.
    pub fn release_multipart(&self, object_id: i64) -> Result<bool> {
        let changed = self
            .db()
            .execute(
                "UPDATE multipart_uploads SET owner = NULL WHERE object_id = ?1",
                [object_id],
            )
            .map_err(|e| self.err(e))?;
        Ok(changed > 0)
    }

    pub fn clear_multipart(&self, object_id: i64) -> Result<()> {
        self.db()
            .execute(
                "DELETE FROM multipart_uploads WHERE object_id = ?1",
                [object_id],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Multipart uploads begun and neither completed nor aborted whose owner process is
    /// gone (oldest first): the ones a resume or an abort may take. Uploads another live
    /// process is still sending, and uploads in doubt (for `reconcile`), are not listed.
    pub fn interrupted_uploads(&self) -> Result<Vec<MultipartRecord>> {
        let live = self.live_owners()?;
        Ok(self
            .multipart_uploads()?
            .into_iter()
            .filter(|(_, owner, state)| {
                state != "in_doubt" && owner.as_ref().is_none_or(|o| !live.contains(o))
            })
            .map(|(m, _, _)| m)
            .collect())
    }

    /// Multipart uploads a live process is still sending (not for resume or abort).
    pub fn running_uploads(&self) -> Result<Vec<MultipartRecord>> {
        let live = self.live_owners()?;
        Ok(self
            .multipart_uploads()?
            .into_iter()
            .filter(|(_, owner, _)| owner.as_ref().is_some_and(|o| live.contains(o)))
            .map(|(m, _, _)| m)
            .collect())
    }

    /// Every recorded multipart upload, with its owner and its row's state.
    fn multipart_uploads(&self) -> Result<Vec<(MultipartRecord, Option<String>, String)>> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT m.object_id, m.upload_id, m.source_path, m.source_size, m.source_mtime,
                    m.part_size, m.started_at, m.owner, COALESCE(o.state, ''),
                    's3://' || COALESCE(o.bucket, '?') || '/' || COALESCE(o.object_key, '?')
                 FROM multipart_uploads m LEFT JOIN objects o ON o.id = m.object_id
                 ORDER BY m.started_at, m.object_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    MultipartRecord {
                        object_id: r.get(0)?,
                        object: r.get(9)?,
                        upload_id: r.get(1)?,
                        source_path: r.get(2)?,
                        source_size: r.get::<_, i64>(3)?.max(0) as u64,
                        source_mtime: r.get(4)?,
                        part_size: r.get::<_, i64>(5)?.max(0) as u64,
                        started_at: r.get(6)?,
                    },
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    pub(super) fn query_objects(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<ObjectRecord>> {
        let db = self.db();
        let mut stmt = db
            .prepare(&format!(
                "SELECT {OBJECT_COLUMNS} {OBJECT_FROM} {filter} ORDER BY o.id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, object_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    pub fn objects(&self) -> Result<Vec<ObjectRecord>> {
        self.query_objects("", &[])
    }

    /// One page of every object in id order: the `limit` after id `after` (keyset paging:
    /// one index seek per page, whatever the registry's size; rows added meanwhile come
    /// last, so walking the pages lists each row once).
    pub fn objects_after(&self, after: i64, limit: usize) -> Result<Vec<ObjectRecord>> {
        let db = self.db();
        let mut stmt = db
            .prepare(&format!(
                "SELECT {OBJECT_COLUMNS} {OBJECT_FROM} WHERE o.id > ?1 ORDER BY o.id LIMIT ?2"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, limit as i64], object_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// A stored object row, straight into the table (unit tests of what reads rows).
    #[cfg(test)]
    pub(crate) fn insert_object_for_tests(
        &self,
        conn: &ConnectionRecord,
        object_key: &str,
        fp: &KeyFingerprint,
    ) {
        self.db()
            .execute(
                "INSERT INTO objects (connection_id, bucket, object_key, size, sha256,
                    key_fingerprint, state, created_at, updated_at)
                 VALUES (?1, 'b', ?2, 1, '', ?3, 'stored', 'now', 'now')",
                params![conn.id, object_key, fp.as_str()],
            )
            .unwrap();
    }

    /// Every object in id order, a page at a time: memory holds one page, never the table.
    pub fn for_each_object(
        &self,
        mut each: impl FnMut(&ObjectRecord) -> std::io::Result<()>,
    ) -> std::result::Result<(), crate::core::Error> {
        const PAGE: usize = 2000;
        let mut after = 0;
        loop {
            let page = self.objects_after(after, PAGE)?;
            for o in &page {
                each(o).map_err(|e| crate::core::Error::io("standard output", "write", e))?;
            }
            match page.last() {
                Some(o) if page.len() == PAGE => after = o.id,
                _ => return Ok(()),
            }
        }
    }

    /// Records what a verify found: only the server's answers. "Could not ask" (no key,
    /// unreachable) changes nothing, so a network blip never erases an earlier finding.
    pub fn record_verification(
        &self,
        id: i64,
        status: VerifyStatus,
        detail: Option<&str>,
    ) -> Result<()> {
        self.record_verifications(&[(id, status, detail.map(str::to_string))], None)
    }

    /// `record_verification` for many objects in one transaction (a verify of a million
    /// objects writes a batch a second, not a million transactions), marked with the verify
    /// `run` that asked.
    pub fn record_verifications(
        &self,
        batch: &[(i64, VerifyStatus, Option<String>)],
        run: Option<i64>,
    ) -> Result<()> {
        let mut db = self.db();
        let tx = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE objects SET verify_status = ?2, verify_detail = ?3,
                        last_verified_at = ?4, verify_run = ?5 WHERE id = ?1",
                )
                .map_err(|e| self.err(e))?;
            let at = now();
            for (id, status, detail) in batch {
                if matches!(status, VerifyStatus::NoKey | VerifyStatus::Unreachable) {
                    continue;
                }
                update
                    .execute(params![id, status.as_str(), detail, at, run])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// A page of stored objects for a verify: (of one key, if given) after id `after`, at
    /// most `limit`, leaving out those verify run `skip_run` already had answers about (a
    /// verify that resumes).
    pub fn stored_after(
        &self,
        after: i64,
        limit: usize,
        only: Option<&KeyFingerprint>,
        skip_run: Option<i64>,
    ) -> Result<Vec<ObjectRecord>> {
        let db = self.db();
        // The key's condition only when there is one: "?2 IS NULL OR ..." keeps SQLite from
        // seeking the key's rows in the (key, state) index.
        let mut stmt = db
            .prepare_cached(&format!(
                "SELECT {OBJECT_COLUMNS} {OBJECT_FROM}
                 WHERE o.id > ?1 AND o.state = 'stored' AND {}
                   AND (?3 IS NULL OR o.verify_run IS NOT ?3)
                 ORDER BY o.id LIMIT ?4",
                key_condition(only, 2)
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![
                    after,
                    only.map(KeyFingerprint::as_str),
                    skip_run,
                    limit as i64
                ],
                object_from_row,
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// How many objects and bytes `stored_after` will walk in all (a verify's total).
    pub fn stored_totals(
        &self,
        only: Option<&KeyFingerprint>,
        skip_run: Option<i64>,
    ) -> Result<(u64, u64)> {
        self.db()
            .query_row(
                &format!(
                    "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects o
                     WHERE o.state = 'stored' AND {}
                       AND (?2 IS NULL OR o.verify_run IS NOT ?2)",
                    key_condition(only, 1)
                ),
                params![only.map(KeyFingerprint::as_str), skip_run],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?.max(0) as u64,
                        r.get::<_, i64>(1)?.max(0) as u64,
                    ))
                },
            )
            .map_err(|e| self.err(e))
    }

    /// The newest live record of an object: what a download should use.
    pub fn current_object(
        &self,
        connection: &ConnectionRecord,
        bucket: &str,
        object_key: &str,
    ) -> Result<Option<ObjectRecord>> {
        let mut rows = self.query_objects(
            "WHERE o.connection_id = ?1 AND o.bucket = ?2 AND o.object_key = ?3
               AND o.state IN ('stored', 'pending', 'in_doubt')",
            &[&connection.id, &bucket, &object_key],
        )?;
        // Prefer the newest confirmed upload; fall back to one that may exist.
        let stored = rows
            .iter()
            .rposition(|o| o.state == ObjectState::Stored)
            .or_else(|| rows.len().checked_sub(1));
        Ok(stored.map(|i| rows.swap_remove(i)))
    }

    /// The newest stored or moved-off (migrated) row of each of these objects of a bucket,
    /// by object key: what the Objects view shows of the rows it lists, read a page of keys
    /// at a time through the location index (never the whole registry).
    pub fn current_rows(
        &self,
        connection: &str,
        bucket: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, ObjectRecord>> {
        let mut rows = std::collections::HashMap::new();
        for chunk in keys.chunks(500) {
            let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
            // Rows come in id order: a later row of the same object wins.
            for o in self.query_objects(
                "WHERE c.name = ?1 AND o.bucket = ?2
                   AND o.object_key IN (SELECT value FROM json_each(?3))
                   AND o.state IN ('stored', 'migrated')",
                &[&connection, &bucket, &list],
            )? {
                rows.insert(o.key.clone(), o);
            }
        }
        Ok(rows)
    }

    /// Every row of one object that is not settled: running (`pending`) or `in_doubt`.
    pub fn unsettled_rows(
        &self,
        connection: &ConnectionRecord,
        bucket: &str,
        object_key: &str,
    ) -> Result<Vec<ObjectRecord>> {
        self.query_objects(
            "WHERE o.connection_id = ?1 AND o.bucket = ?2 AND o.object_key = ?3
               AND o.state IN ('pending', 'in_doubt')",
            &[&connection.id, &bucket, &object_key],
        )
    }

    /// Whether any upload to this bucket of this connection was ever confirmed.
    pub fn has_stored_in(&self, connection: &ConnectionRecord, bucket: &str) -> Result<bool> {
        self.db()
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM objects WHERE connection_id = ?1 AND bucket = ?2
                    AND state IN ('stored', 'replaced', 'deleted'))",
                params![connection.id, bucket],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Objects that the key protects: every row that may be on the server under it (stored,
    /// pending, in doubt, a kept old version), and every object a pending rotation may
    /// already have moved to it.
    pub fn dependent_objects(&self, fp: &KeyFingerprint) -> Result<Vec<ObjectRecord>> {
        self.query_objects(
            &format!(
                "WHERE (o.key_fingerprint = ?1 AND o.state IN {MAY_BE_ON_SERVER})
                    OR o.id IN (SELECT object_id FROM rotations WHERE to_fingerprint = ?1)"
            ),
            &[&fp.as_str()],
        )
    }

    /// The ids of `dependent_objects`, in id order (what a delete dialog holds: 8 bytes an
    /// object, where the rows would be a kilobyte).
    pub fn dependent_ids(&self, fp: &KeyFingerprint) -> Result<Vec<i64>> {
        dependent_ids(&self.db(), fp).map_err(|e| self.err(e))
    }

    /// Rows whose outcome must be asked of the server: `in_doubt` ones, and `pending` ones
    /// whose owner process is gone without a multipart record to resume them by (a single
    /// upload cut off, or a multipart one before its id was recorded).
    pub fn unsettled(&self) -> Result<Vec<ObjectRecord>> {
        let live = self.live_owners()?;
        let resumable: std::collections::HashSet<i64> = self
            .multipart_uploads()?
            .into_iter()
            .map(|(m, _, _)| m.object_id)
            .collect();
        let rows = self.query_objects("WHERE o.state IN ('in_doubt', 'pending')", &[])?;
        let owners = self.row_owners()?;
        Ok(rows
            .into_iter()
            .filter(|o| {
                o.state == ObjectState::InDoubt
                    || (!resumable.contains(&o.id)
                        && owners
                            .get(&o.id)
                            .cloned()
                            .flatten()
                            .is_none_or(|w| !live.contains(&w)))
            })
            .collect())
    }

    /// The owner of every pending or in-doubt row.
    fn row_owners(&self) -> Result<std::collections::HashMap<i64, Option<String>>> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT id, owner FROM objects WHERE state IN ('pending', 'in_doubt')")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// In one transaction: what the key protects now, compared with what the user was shown
    /// (`shown`, object ids; None: nothing was shown), refused while anything depends on it
    /// unless `force`; then the key is marked deleted. Returns what it protected.
    pub fn delete_key_checked(
        &self,
        fp: &KeyFingerprint,
        label: &str,
        shown: Option<&[i64]>,
        force: bool,
    ) -> Result<Dependents> {
        let deps = self.dependent_objects(fp)?;
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        // Read again inside the transaction: a reservation made since is seen here.
        let ids = dependent_ids(&tx, fp).map_err(|e| self.err(e))?;
        if let Some(shown) = shown {
            let mut shown = shown.to_vec();
            shown.sort_unstable();
            if shown != ids {
                return Err(RegistryError::DependentsChanged {
                    label: label.to_string(),
                    shown: shown.len(),
                    now: ids.len(),
                });
            }
        }
        let refused = !ids.is_empty() && !force && shown.is_none();
        if !refused {
            tx.execute(
                "UPDATE keys SET deleted_at = ?2 WHERE fingerprint = ?1",
                params![fp.as_str(), now()],
            )
            .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
        } else {
            drop(tx);
        }
        drop(db);
        // The report lists exactly what the transaction saw.
        // `ids` is in id order: each lookup is a binary search (a key of a million objects).
        let mut objects: Vec<ObjectRecord> = deps
            .into_iter()
            .filter(|o| ids.binary_search(&o.id).is_ok())
            .collect();
        let listed: std::collections::HashSet<i64> = objects.iter().map(|o| o.id).collect();
        let missing: Vec<i64> = ids
            .iter()
            .filter(|i| !listed.contains(i))
            .copied()
            .collect();
        for id in missing {
            objects.extend(self.object_by_id(id)?);
        }
        Ok(if refused {
            Dependents::Refused(objects)
        } else {
            Dependents::Deleted(objects)
        })
    }

    // ---- rotations ----

    /// Records a rotation about to copy, reserving its target key: in one transaction, the
    /// target key must be live and no other live process may be rotating the object.
    pub fn begin_rotation(&self, r: &PendingRotation) -> Result<()> {
        let live = self.live_owners()?;
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let key_live: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM keys WHERE fingerprint = ?1 AND deleted_at IS NULL)",
                [r.to.as_str()],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        if !key_live {
            return Err(RegistryError::KeyGone {
                fingerprint: r.to.clone(),
            });
        }
        let other: Option<String> = tx
            .query_row(
                "SELECT owner FROM rotations WHERE object_id = ?1",
                [r.object_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        if let Some(o) = other.filter(|o| live.contains(o) && *o != self.owner) {
            drop(tx);
            drop(db);
            return Err(owned_elsewhere(
                format!("the rotation of object #{}", r.object_id),
                self.owner_pid(&o),
            ));
        }
        // An upload of the same object running or in doubt may land under the old key at
        // any moment, and the copy would take its content: which row then protects which
        // key could not be told. The rotation waits for it, and for a migration of it.
        let unsettled: bool = tx
            .query_row(
                &format!("SELECT {UPLOAD_UNSETTLED} OR EXISTS(SELECT 1 FROM migrations WHERE object_id = ?1)"),
                [r.object_id],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        if unsettled {
            return Err(RegistryError::UploadUnsettled(r.object_id));
        }
        tx.execute(
            "INSERT OR REPLACE INTO rotations(object_id, from_fingerprint, to_fingerprint,
                started_at, owner) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                r.object_id,
                r.from.as_str(),
                r.to.as_str(),
                now(),
                self.owner
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// A rotation whose copy did not happen (the server answered that the object is still
    /// under the old key): no longer pending; the object stays under its old key. Only a
    /// rotation of `to` that is this process's own or whose owner is gone is dropped, so
    /// one begun again by another live process stays.
    pub fn abandon_rotation(
        &self,
        object_id: i64,
        to: &KeyFingerprint,
        detail: &str,
    ) -> Result<()> {
        let live = self.live_owners()?;
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let owner: Option<Option<String>> = tx
            .query_row(
                "SELECT owner FROM rotations WHERE object_id = ?1 AND to_fingerprint = ?2",
                params![object_id, to.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(owner) = owner else {
            return Ok(());
        };
        if owner.is_some_and(|o| live.contains(&o) && o != self.owner) {
            return Ok(());
        }
        tx.execute("DELETE FROM rotations WHERE object_id = ?1", [object_id])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
             VALUES (?1, 'rotation_not_done', ?2, ?3, ?4)",
            params![now(), to.as_str(), object_id, detail],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// A pending rotation whose object row is gone or no longer stored: nothing to settle.
    pub fn drop_stale_rotation(&self, object_id: i64, detail: &str) -> Result<()> {
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM rotations WHERE object_id = ?1", [object_id])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
             VALUES (?1, 'rotation_not_done', NULL, ?2, ?3)",
            params![now(), object_id, detail],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// The server confirmed the object under the new key: move it there, in one transaction
    /// with the event and the end of the pending rotation. With `keep_old_version` (a
    /// versioned bucket kept the previous version), that version stays recorded under its
    /// old key as an `old_version` row, so the old key is still known to be needed.
    pub fn finish_rotation(
        &self,
        object_id: i64,
        to: &KeyFingerprint,
        version_id: Option<&str>,
        detail: &str,
        keep_old_version: bool,
    ) -> Result<()> {
        let now = now();
        let mut db = self.db();
        let tx = db.transaction().map_err(|e| self.err(e))?;
        if keep_old_version {
            keep_old_version_row(&tx, object_id, &now).map_err(|e| self.err(e))?;
        }
        tx.execute(
            "UPDATE objects SET key_fingerprint = ?2, version_id = COALESCE(?3, version_id),
                updated_at = ?4, last_verified_at = ?4, verify_status = 'ok',
                verify_detail = NULL WHERE id = ?1",
            params![object_id, to.as_str(), version_id, now],
        )
        .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM rotations WHERE object_id = ?1", [object_id])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
             VALUES (?1, 'rotated', ?2, ?3, ?4)",
            params![now, to.as_str(), object_id, detail],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// A rotation that ended another way (the object was uploaded again under the new key,
    /// as a new row): no longer pending, the old row becomes `replaced` (or `old_version`
    /// when the bucket keeps it), and the event says how.
    pub fn drop_rotation(
        &self,
        object_id: i64,
        to: &KeyFingerprint,
        detail: &str,
        old_version_kept: bool,
    ) -> Result<()> {
        let mut db = self.db();
        let tx = db.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE objects SET state = ?2, version_id = COALESCE(version_id, ?3),
                updated_at = ?4 WHERE id = ?1 AND state = 'stored'",
            params![
                object_id,
                if old_version_kept {
                    "old_version"
                } else {
                    "replaced"
                },
                old_version_kept.then_some("null"),
                now()
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM rotations WHERE object_id = ?1", [object_id])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
             VALUES (?1, 'rotated_by_reupload', ?2, ?3, ?4)",
            params![now(), to.as_str(), object_id, detail],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// An old version was deleted on request: its row says so.
    pub fn mark_old_version_deleted(&self, id: i64, detail: &str) -> Result<()> {
        let mut db = self.db();
        let tx = db.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE objects SET state = 'deleted', updated_at = ?2 WHERE id = ?1 AND state = 'old_version'",
            params![id, now()],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
             SELECT ?1, 'old_version_deleted', key_fingerprint, id, ?3 FROM objects WHERE id = ?2",
            params![now(), id, detail],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every rotation recorded and not settled.
    pub fn pending_rotations(&self) -> Result<Vec<PendingRotation>> {
        Ok(self.rotation_rows()?.into_iter().map(|(r, _)| r).collect())
    }

    /// Pending rotations whose owner process is gone: the ones another may settle.
    pub fn abandoned_rotations(&self) -> Result<Vec<PendingRotation>> {
        let live = self.live_owners()?;
        Ok(self
            .rotation_rows()?
            .into_iter()
            .filter(|(_, owner)| owner.as_ref().is_none_or(|o| !live.contains(o)))
            .map(|(r, _)| r)
            .collect())
    }

    fn rotation_rows(&self) -> Result<Vec<(PendingRotation, Option<String>)>> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT object_id, from_fingerprint, to_fingerprint, owner FROM rotations
                 ORDER BY started_at",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    PendingRotation {
                        object_id: r.get(0)?,
                        from: KeyFingerprint::from_stored(r.get::<_, String>(1)?),
                        to: KeyFingerprint::from_stored(r.get::<_, String>(2)?),
                    },
                    r.get(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }
}

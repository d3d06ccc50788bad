//! Keys tied to places and people: the default key of a bucket or prefix, the keys shared
//! with others (their public keys only), and migrations off SSE-C in flight.

use rusqlite::{OptionalExtension as _, params};
use serde::Serialize;

use super::ledger::{UPLOAD_UNSETTLED, immediate, keep_old_version_row};
use super::{ConnectionRecord, KeyFingerprint, Registry, RegistryError, Result, now};

/// The key uploads to a bucket or prefix use unless told otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultKey {
    pub connection: String,
    pub bucket: String,
    /// "" for the whole bucket, else a folder ending in '/'.
    pub prefix: String,
    pub key_fingerprint: KeyFingerprint,
    /// The key's label, when the key is registered and live.
    pub key_label: Option<String>,
    pub set_at: String,
}

impl DefaultKey {
    pub fn place(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// One key handed to one recipient.
#[derive(Debug, Clone, Serialize)]
pub struct KeyShare {
    pub key_fingerprint: KeyFingerprint,
    pub key_label: Option<String>,
    /// The recipient as its public identity: an age recipient, or an SSH key's type and
    /// SHA-256 fingerprint with its comment. Never key material.
    pub recipient: String,
    pub file: String,
    /// How many objects the manifest named for this key.
    pub objects: u64,
    pub at: String,
}

/// A migration off SSE-C recorded before its copy: the object may be under the key until
/// a HEAD without it answers.
#[derive(Debug, Clone)]
pub struct PendingMigration {
    pub object_id: i64,
    pub from: KeyFingerprint,
    /// "sse-s3", "sse-kms[:ID]" or "none".
    pub target: String,
}

impl Registry {
    // ---- default keys ----

    /// Makes `fp` the default key of `prefix` ("" = the whole bucket) on a connection.
    pub fn set_default_key(
        &self,
        connection: &ConnectionRecord,
        bucket: &str,
        prefix: &str,
        fp: &KeyFingerprint,
    ) -> Result<()> {
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let live: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM keys WHERE fingerprint = ?1 AND deleted_at IS NULL)",
                [fp.as_str()],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if !live {
            return Err(RegistryError::KeyGone {
                fingerprint: fp.clone(),
            });
        }
        let now = now();
        tx.execute(
            "INSERT OR REPLACE INTO default_keys(connection_id, bucket, prefix, key_fingerprint,
                set_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![connection.id, bucket, prefix, fp.as_str(), now],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
             VALUES (?1, 'default_key_set', ?2, NULL, ?3)",
            params![
                now,
                fp.as_str(),
                format!("{}: s3://{bucket}/{prefix}", connection.name)
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Removes the default key of exactly this place; whether there was one.
    pub fn clear_default_key(
        &self,
        connection: &ConnectionRecord,
        bucket: &str,
        prefix: &str,
    ) -> Result<bool> {
        let n = self
            .db()
            .execute(
                "DELETE FROM default_keys WHERE connection_id = ?1 AND bucket = ?2
                   AND prefix = ?3",
                params![connection.id, bucket, prefix],
            )
            .map_err(|e| self.err(e))?;
        if n > 0 {
            self.log_event(
                "default_key_cleared",
                None,
                None,
                &format!("{}: s3://{bucket}/{prefix}", connection.name),
            )?;
        }
        Ok(n > 0)
    }

    /// Every default key, by connection, bucket and prefix.
    pub fn default_keys(&self) -> Result<Vec<DefaultKey>> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT c.name, d.bucket, d.prefix, d.key_fingerprint, k.label, d.set_at
                 FROM default_keys d JOIN connections c ON c.id = d.connection_id
                 LEFT JOIN keys k ON k.fingerprint = d.key_fingerprint AND k.deleted_at IS NULL
                 ORDER BY c.name, d.bucket, d.prefix",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DefaultKey {
                    connection: r.get(0)?,
                    bucket: r.get(1)?,
                    prefix: r.get(2)?,
                    key_fingerprint: KeyFingerprint::from_stored(r.get::<_, String>(3)?),
                    key_label: r.get(4)?,
                    set_at: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    // ---- shares ----

    /// Records that these keys went to these recipients in `file`, with the events, in one
    /// transaction. `keys` pairs each key with the number of objects its manifest named.
    pub fn record_shares(
        &self,
        keys: &[(KeyFingerprint, u64)],
        recipients: &[String],
        file: &str,
    ) -> Result<()> {
        let now = now();
        let mut db = self.db();
        let tx = db.transaction().map_err(|e| self.err(e))?;
        for (fp, objects) in keys {
            for r in recipients {
                tx.execute(
                    "INSERT INTO key_shares(key_fingerprint, recipient, file, objects, at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![fp.as_str(), r, file, *objects as i64, now],
                )
                .map_err(|e| self.err(e))?;
            }
            tx.execute(
                "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
                 VALUES (?1, 'shared', ?2, NULL, ?3)",
                params![
                    now,
                    fp.as_str(),
                    format!(
                        "to {} in {file} ({objects} object(s) in the manifest)",
                        recipients.join(", ")
                    )
                ],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every share recorded, newest first.
    pub fn key_shares(&self) -> Result<Vec<KeyShare>> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT s.key_fingerprint, k.label, s.recipient, s.file, s.objects, s.at
                 FROM key_shares s LEFT JOIN keys k ON k.fingerprint = s.key_fingerprint
                 ORDER BY s.id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(KeyShare {
                    key_fingerprint: KeyFingerprint::from_stored(r.get::<_, String>(0)?),
                    key_label: r.get(1)?,
                    recipient: r.get(2)?,
                    file: r.get(3)?,
                    objects: r.get::<_, i64>(4)?.max(0) as u64,
                    at: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    // ---- migrations off SSE-C ----

    /// Records a migration about to copy. Refused while another live process migrates or
    /// rotates the object, or an upload of it is running or in doubt.
    pub fn begin_migration(&self, m: &PendingMigration) -> Result<()> {
        let live = self.live_owners()?;
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        // Any migration of the object already recorded (another job's, another process's,
        // or one cut off and not settled yet) or a rotation of it: this one waits.
        let other: Option<Option<String>> = tx
            .query_row(
                "SELECT owner FROM migrations WHERE object_id = ?1
                 UNION ALL SELECT owner FROM rotations WHERE object_id = ?1",
                [m.object_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some(owner) = other {
            drop(tx);
            drop(db);
            return Err(
                match owner.filter(|o| live.contains(o) && *o != self.owner) {
                    Some(o) => super::owners::owned_elsewhere(
                        format!("the migration of object #{}", m.object_id),
                        self.owner_pid(&o),
                    ),
                    None => RegistryError::MigrationUnderWay(m.object_id),
                },
            );
        }
        let unsettled: bool = tx
            .query_row(
                &format!(
                    "SELECT {UPLOAD_UNSETTLED} OR EXISTS(SELECT 1 FROM rotations WHERE object_id = ?1)"
                ),
                [m.object_id],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        if unsettled {
            return Err(RegistryError::UploadUnsettled(m.object_id));
        }
        tx.execute(
            "INSERT OR REPLACE INTO migrations(object_id, from_fingerprint, target, started_at,
                owner) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![m.object_id, m.from.as_str(), m.target, now(), self.owner],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// A HEAD without the key confirmed the object is off SSE-C (at `version_id`): the row
    /// becomes `migrated`, in one transaction with the event and the end of the pending
    /// migration. With `keep_old_version`, the previous version stays recorded under its
    /// key as an `old_version` row (a versioned bucket still holds it).
    pub fn finish_migration(
        &self,
        m: &PendingMigration,
        version_id: Option<&str>,
        detail: &str,
        keep_old_version: bool,
    ) -> Result<()> {
        let now = now();
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        // Only the migration this process holds: another that took it over settles it.
        let mine = tx
            .execute(
                "DELETE FROM migrations WHERE object_id = ?1 AND owner IS ?2",
                params![m.object_id, self.owner],
            )
            .map_err(|e| self.err(e))?;
        if mine == 0 {
            return Err(RegistryError::MigrationUnderWay(m.object_id));
        }
        if keep_old_version {
            keep_old_version_row(&tx, m.object_id, &now).map_err(|e| self.err(e))?;
        }
        tx.execute(
            "UPDATE objects SET state = 'migrated', migrated_to = ?2,
                version_id = COALESCE(?3, version_id), updated_at = ?4, last_verified_at = ?4,
                verify_status = 'ok', verify_detail = NULL WHERE id = ?1",
            params![m.object_id, m.target, version_id, now],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
             VALUES (?1, 'migrated', ?2, ?3, ?4)",
            params![now, m.from.as_str(), m.object_id, detail],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// A migration this process holds whose copy did not happen (the object is still under
    /// its key), or whose row is no longer stored: no longer pending.
    pub fn drop_migration(&self, object_id: i64, detail: &str) -> Result<()> {
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let mine = tx
            .execute(
                "DELETE FROM migrations WHERE object_id = ?1 AND owner IS ?2",
                params![object_id, self.owner],
            )
            .map_err(|e| self.err(e))?;
        if mine == 0 {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
             SELECT ?1, 'migration_not_done', key_fingerprint, id, ?3 FROM objects WHERE id = ?2",
            params![now(), object_id, detail],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Takes over a migration whose owner process is gone (in one transaction, so two that
    /// settle at once never both do); false if it is gone or another live process holds it.
    pub fn claim_migration(&self, object_id: i64) -> Result<bool> {
        let live = self.live_owners()?;
        let mut db = self.db();
        let tx = immediate(&mut db).map_err(|e| self.err(e))?;
        let owner: Option<Option<String>> = tx
            .query_row(
                "SELECT owner FROM migrations WHERE object_id = ?1",
                [object_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match owner {
            None => return Ok(false),
            Some(Some(o)) if live.contains(&o) && o != self.owner => return Ok(false),
            Some(_) => {}
        }
        tx.execute(
            "UPDATE migrations SET owner = ?2 WHERE object_id = ?1",
            params![object_id, self.owner],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(true)
    }

    /// Pending migrations whose owner process is gone: the ones to settle.
    pub fn abandoned_migrations(&self) -> Result<Vec<PendingMigration>> {
        let live = self.live_owners()?;
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT object_id, from_fingerprint, target, owner FROM migrations
                 ORDER BY started_at",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    PendingMigration {
                        object_id: r.get(0)?,
                        from: KeyFingerprint::from_stored(r.get::<_, String>(1)?),
                        target: r.get(2)?,
                    },
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let rows: Vec<_> = rows
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .filter(|(_, owner)| owner.as_ref().is_none_or(|o| !live.contains(o)))
            .map(|(m, _)| m)
            .collect())
    }
}

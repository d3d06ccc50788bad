//! What folder sync keeps: the registered objects under a prefix, the BLAKE3 of local files
//! (so a run with nothing changed reads no file), and the window's saved folder pairings.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension as _, params};

use super::{ConnectionRecord, ObjectRecord, ObjectState, Registry, Result, now};

/// What identifies a local file's content without reading it: a hash cached under the same
/// stamp is taken as the file's (rsync's and git's rule; `--checksum` reads anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
}

impl FileStamp {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            size: meta.len(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            inode: meta.ino(),
        }
    }
}

/// A local folder paired with a bucket prefix and a key, saved so the window can sync it
/// again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPair {
    pub id: i64,
    pub local_dir: PathBuf,
    pub connection: String,
    pub bucket: String,
    pub prefix: String,
    pub key_label: String,
    pub last_run_at: Option<String>,
}

impl Registry {
    /// The current `stored` row of every registered object under `prefix`, by object key.
    pub fn stored_under(
        &self,
        connection: &ConnectionRecord,
        bucket: &str,
        prefix: &str,
    ) -> Result<HashMap<String, ObjectRecord>> {
        // "Starts with the prefix" as a range the location index seeks to.
        let filter = "WHERE o.connection_id = ?1 AND o.bucket = ?2 AND o.state = 'stored'
               AND o.object_key >= ?3";
        let rows = match super::sums::after_prefix(prefix) {
            Some(upper) => self.query_objects(
                &format!("{filter} AND o.object_key < ?4"),
                &[&connection.id, &bucket, &prefix, &upper],
            )?,
            None => self.query_objects(filter, &[&connection.id, &bucket, &prefix])?,
        };
        // Rows come in id order: a later confirmed upload wins, as in `current_object`.
        Ok(rows
            .into_iter()
            .filter(|o| o.state == ObjectState::Stored)
            .map(|o| (o.key.clone(), o))
            .collect())
    }

    /// The cached BLAKE3 of the file at `path`, if it was hashed with this stamp.
    pub fn cached_hash(&self, path: &Path, stamp: FileStamp) -> Result<Option<String>> {
        let db = self.db();
        let mut stmt = db
            .prepare_cached(
                "SELECT blake3 FROM file_hashes
                 WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3 AND inode = ?4",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_row(
            params![
                path.as_os_str().as_bytes(),
                stamp.size as i64,
                stamp.mtime_ns,
                stamp.inode as i64
            ],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| self.err(e))
    }

    /// Remembers the BLAKE3 of files (one transaction for the batch).
    pub fn cache_hashes(&self, hashed: &[(PathBuf, FileStamp, String)]) -> Result<()> {
        if hashed.is_empty() {
            return Ok(());
        }
        let mut db = self.db();
        let tx = db.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT OR REPLACE INTO file_hashes(path, size, mtime_ns, inode, blake3)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| self.err(e))?;
            for (path, stamp, hash) in hashed {
                stmt.execute(params![
                    path.as_os_str().as_bytes(),
                    stamp.size as i64,
                    stamp.mtime_ns,
                    stamp.inode as i64,
                    hash
                ])
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Saves a folder pairing (or finds the same one saved before); returns its id.
    pub fn save_sync_pair(
        &self,
        local_dir: &Path,
        connection: &ConnectionRecord,
        bucket: &str,
        prefix: &str,
        key_label: &str,
    ) -> Result<i64> {
        let db = self.db();
        db.execute(
            "INSERT INTO sync_pairs(local_dir, connection_id, bucket, prefix, key_label)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (local_dir, connection_id, bucket, prefix)
             DO UPDATE SET key_label = excluded.key_label",
            params![
                local_dir.as_os_str().as_bytes(),
                connection.id,
                bucket,
                prefix,
                key_label
            ],
        )
        .map_err(|e| self.err(e))?;
        db.query_row(
            "SELECT id FROM sync_pairs WHERE local_dir = ?1 AND connection_id = ?2
               AND bucket = ?3 AND prefix = ?4",
            params![
                local_dir.as_os_str().as_bytes(),
                connection.id,
                bucket,
                prefix
            ],
            |r| r.get(0),
        )
        .map_err(|e| self.err(e))
    }

    pub fn sync_pairs(&self) -> Result<Vec<SyncPair>> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT p.id, p.local_dir, c.name, p.bucket, p.prefix, p.key_label, p.last_run_at
                 FROM sync_pairs p JOIN connections c ON c.id = p.connection_id ORDER BY p.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let dir: Vec<u8> = r.get(1)?;
                Ok(SyncPair {
                    id: r.get(0)?,
                    local_dir: PathBuf::from(std::ffi::OsStr::from_bytes(&dir)),
                    connection: r.get(2)?,
                    bucket: r.get(3)?,
                    prefix: r.get(4)?,
                    key_label: r.get(5)?,
                    last_run_at: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    pub fn mark_sync_pair_run(&self, id: i64) -> Result<()> {
        self.db()
            .execute(
                "UPDATE sync_pairs SET last_run_at = ?2 WHERE id = ?1",
                params![id, now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn remove_sync_pair(&self, id: i64) -> Result<()> {
        self.db()
            .execute("DELETE FROM sync_pairs WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

//! What the preflight (or a rotation) learned about how a bucket's server does SSE-C, kept
//! per connection and bucket so that the next operation does what that server needs.

use rusqlite::{OptionalExtension as _, params};
use serde::Serialize;

use super::{Registry, Result, now};

/// How an object is re-keyed onto itself by CopyObject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rekey {
    /// `MetadataDirective=COPY`: the server copies everything the object carries.
    Copy,
    /// `MetadataDirective=REPLACE` with the headers a HEAD read: the server refuses a copy
    /// onto itself otherwise (SeaweedFS).
    Replace,
}

impl Rekey {
    fn as_str(self) -> &'static str {
        match self {
            Rekey::Copy => "copy",
            Rekey::Replace => "replace",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "copy" => Some(Rekey::Copy),
            "replace" => Some(Rekey::Replace),
            _ => None,
        }
    }
}

/// What is known of one bucket's server; None where nothing was learned yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BucketTraits {
    pub rekey: Option<Rekey>,
    /// Whether UploadPartCopy with SSE-C works (SeaweedFS answers 501): without it, objects
    /// up to 5 GiB are re-keyed with one CopyObject.
    pub part_copy: Option<bool>,
    /// The server accepted an UploadPart without the key into an SSE-C multipart upload.
    pub keyless_part_accepted: Option<bool>,
    /// When the preflight last checked (RFC 3339).
    pub checked_at: Option<String>,
}

impl Registry {
    /// What is known of `bucket` on connection `connection` (all None when nothing).
    pub fn bucket_traits(&self, connection: &str, bucket: &str) -> Result<BucketTraits> {
        let row = self
            .db()
            .query_row(
                "SELECT t.rekey, t.part_copy, t.keyless_part_accepted, t.checked_at
                 FROM bucket_traits t
                 JOIN connections c ON c.id = t.connection_id
                 WHERE c.name = ?1 AND t.bucket = ?2",
                params![connection, bucket],
                |r| {
                    Ok(BucketTraits {
                        rekey: r
                            .get::<_, Option<String>>(0)?
                            .as_deref()
                            .and_then(Rekey::parse),
                        part_copy: r.get(1)?,
                        keyless_part_accepted: r.get(2)?,
                        checked_at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.unwrap_or_default())
    }

    /// Records what a preflight found (every field, including the unknown ones).
    pub fn save_bucket_traits(
        &self,
        connection: &str,
        bucket: &str,
        t: &BucketTraits,
    ) -> Result<()> {
        self.db()
            .execute(
                "INSERT INTO bucket_traits(connection_id, bucket, rekey, part_copy,
                    keyless_part_accepted, checked_at)
                 SELECT id, ?2, ?3, ?4, ?5, ?6 FROM connections WHERE name = ?1
                 ON CONFLICT(connection_id, bucket) DO UPDATE SET rekey = excluded.rekey,
                    part_copy = excluded.part_copy,
                    keyless_part_accepted = excluded.keyless_part_accepted,
                    checked_at = excluded.checked_at",
                params![
                    connection,
                    bucket,
                    t.rekey.map(Rekey::as_str),
                    t.part_copy,
                    t.keyless_part_accepted,
                    t.checked_at.clone().unwrap_or_else(now)
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records that the server refuses UploadPartCopy with SSE-C, learned by a rotation.
    pub fn learn_no_part_copy(&self, connection: &str, bucket: &str) -> Result<()> {
        self.db()
            .execute(
                "INSERT INTO bucket_traits(connection_id, bucket, part_copy)
                 SELECT id, ?2, 0 FROM connections WHERE name = ?1
                 ON CONFLICT(connection_id, bucket) DO UPDATE SET part_copy = 0",
                params![connection, bucket],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records how the server re-keys in place, learned by a rotation.
    pub fn learn_rekey(&self, connection: &str, bucket: &str, rekey: Rekey) -> Result<()> {
        self.db()
            .execute(
                "INSERT INTO bucket_traits(connection_id, bucket, rekey)
                 SELECT id, ?2, ?3 FROM connections WHERE name = ?1
                 ON CONFLICT(connection_id, bucket) DO UPDATE SET rekey = excluded.rekey",
                params![connection, bucket, rekey.as_str()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

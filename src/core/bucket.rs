//! What a bucket is and holds, as the server says: whether it keeps versions, its buckets
//! and object listings, the multipart uploads left on it. No keys are sent for any of it
//! (ListObjects and ListMultipartUploads say nothing about encryption).

use aws_sdk_s3::Client;
use serde::Serialize;

use super::registry::ConnectionRecord;
use super::s3::{Op, client_for, sdk_error};
use super::{Home, Result};

/// Whether an overwrite keeps the old version (and so its key dependency). Garage returns a
/// version id on every PUT without keeping old versions, so the version id alone cannot
/// tell. When the answer is unknown, assume versions are kept: wrongly keeping a key
/// dependency is safe, wrongly dropping one could let a needed key be deleted.
pub async fn keeps_versions(client: &Client, bucket: &str) -> bool {
    versioning(client, bucket).await.unwrap_or(true)
}

/// Whether the bucket keeps versions (versioning enabled or suspended); None when the server
/// did not say. Steps that delete or re-label versions need a definite yes.
pub async fn versioning(client: &Client, bucket: &str) -> Option<bool> {
    client
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .map(|out| out.status().is_some())
}

/// The buckets a connection's credentials can see.
pub async fn list_buckets(home: &Home, conn: &ConnectionRecord) -> Result<Vec<String>> {
    let client = client_for(conn, home.secrets().ok()).await?;
    let target = conn.endpoint.clone().unwrap_or_else(|| "AWS".into());
    let out = client
        .list_buckets()
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Other, &target, false))?;
    Ok(out
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect())
}

/// One entry of a listing one level deep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Entry {
    /// A "folder": a common prefix, ending in '/'.
    Prefix(String),
    Object {
        key: String,
        size: u64,
        /// "YYYY-MM-DD HH:MM" (UTC).
        modified: String,
    },
}

impl Entry {
    /// The object's key; None for a folder.
    pub fn object_key(&self) -> Option<&str> {
        match self {
            Entry::Object { key, .. } => Some(key),
            Entry::Prefix(_) => None,
        }
    }
}

/// What `list_level` lists: one level under `prefix` (folders and objects), or with `all`
/// every object below it (no folders).
#[derive(Debug, Clone, Copy)]
pub struct Level<'a> {
    pub prefix: &'a str,
    pub all: bool,
}

/// Lists one level under the prefix (delimiter '/'; with `all`, every object below it), page
/// by page: `on_page` gets everything listed so far after each page and whether more pages
/// follow, so a bucket of many thousand objects can be shown at once and fill in.
pub async fn list_level(
    home: &Home,
    conn: &ConnectionRecord,
    bucket: &str,
    Level { prefix, all }: Level<'_>,
    mut on_page: impl FnMut(&[Entry], bool),
) -> Result<Vec<Entry>> {
    let client = client_for(conn, home.secrets().ok()).await?;
    let mut token: Option<String> = None;
    let mut entries = Vec::new();
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter((!all).then(|| "/".to_string()))
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Other, &format!("s3://{bucket}/{prefix}"), false))?;
        entries.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .map(|p| Entry::Prefix(p.to_string())),
        );
        entries.extend(page.contents().iter().filter_map(|o| {
            Some(Entry::Object {
                key: o.key()?.to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                modified: o
                    .last_modified()
                    .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0))
                    .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
            })
        }));
        token = page.next_continuation_token().map(str::to_string);
        let more = page.is_truncated().unwrap_or(false) && token.is_some();
        on_page(&entries, more);
        if !more {
            return Ok(entries);
        }
    }
}

/// One object found by a recursive listing.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

/// Every object under `prefix`, all levels.
pub async fn list_all(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<Listed>> {
    let mut listed = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Other, &format!("s3://{bucket}/{prefix}"), false))?;
        listed.extend(page.contents().iter().filter_map(|o| {
            Some(Listed {
                key: o.key()?.to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                etag: o.e_tag().map(str::to_string),
            })
        }));
        token = page.next_continuation_token().map(str::to_string);
        if !page.is_truncated().unwrap_or(false) || token.is_none() {
            return Ok(listed);
        }
    }
}

/// A multipart upload the server holds, begun and never completed or aborted.
#[derive(Debug, Clone, Serialize)]
pub struct ServerUpload {
    pub bucket: String,
    pub key: Option<String>,
    pub upload_id: Option<String>,
    /// Seconds since it began, when the server says.
    pub age_secs: Option<u64>,
}

/// The multipart uploads left in a bucket.
pub async fn multipart_uploads(client: &Client, bucket: &str) -> Result<Vec<ServerUpload>> {
    let out = client
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Other, &format!("s3://{bucket}"), false))?;
    let now = chrono::Utc::now().timestamp();
    Ok(out
        .uploads()
        .iter()
        .map(|u| ServerUpload {
            bucket: bucket.to_string(),
            key: u.key().map(str::to_string),
            upload_id: u.upload_id().map(str::to_string),
            age_secs: u.initiated().map(|t| (now - t.secs()).max(0) as u64),
        })
        .collect())
}

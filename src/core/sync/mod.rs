//! Folders both ways: a bucket prefix downloaded into a folder, and content-aware sync.
//!
//! An SSE-C object's ETag is not the MD5 of its content, so the aws CLI and rclone compare
//! size and time, or download. The registry records the BLAKE3 of every object's content at
//! upload (and at a folder download): a file is unchanged when the server still holds the
//! recorded object (same ETag and size in its listing) and the file's BLAKE3 is the recorded
//! one. A cache of local hashes keyed by (path, size, mtime, inode) keeps a run with nothing
//! changed from reading files; `checksum` reads them anyway.
//!
//! A plan is made first, from one listing of the prefix, the registry and the local tree;
//! nothing moves until the faces have shown it (`--dry-run`, the window's Sync dialog).
//! `run` then moves the plan's files many at once (one client, the key read once, a bound
//! on the bytes held in memory), each file on its own: a failed file is listed and the
//! others go on.

mod filter;
mod run;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use futures_util::{StreamExt as _, stream};

pub use filter::Filters;
pub use run::{SyncFailure, SyncReport, run};

use super::bucket::{Listed, list_all};
use super::key::{KeyFingerprint, SseKey};
use super::location::{S3Url, folder_prefix, local_path_for};
use super::registry::{FileStamp, ObjectRecord};
use super::s3::{Keyless, S3ErrorKind, client_for, head_with_key, head_without_key};
use super::{Error, Home, Result};

/// Files in flight at once by default: many small files need many requests out at once
/// (the aws CLI keeps 10); memory stays bounded by `run`'s budget, not by this.
pub const FILES_AT_ONCE: usize = 32;

/// Which way files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The local folder is the source: new and changed files are uploaded.
    Up,
    /// The bucket prefix is the source: new and changed objects are downloaded.
    Down,
}

/// What to sync (or download), as the faces ask for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRequest {
    pub connection: String,
    pub local: PathBuf,
    pub bucket: String,
    /// A folder prefix: "" or ending in '/'.
    pub prefix: String,
    pub direction: Direction,
    /// The key new and changed files are uploaded with (up only).
    pub key_label: Option<String>,
    /// Delete what the source no longer has (the faces confirm first).
    pub delete: bool,
    /// Re-key, on the server, objects whose content is current but under another key (up).
    pub rekey: bool,
    /// Read every file instead of trusting the hash cache.
    pub checksum: bool,
    /// Transfer everything, changed or not (a folder download, `aws s3 cp --recursive`).
    pub everything: bool,
    pub filters: Filters,
    /// Only these object keys (a selection in the window, or "Retry failed").
    pub only: Option<Vec<String>>,
    /// The paths (below the folder and prefix) the user saw listed for deletion and
    /// confirmed, when the run plans again later (a window job): nothing else is deleted.
    pub confirmed_delete: Option<Vec<String>>,
}

impl SyncRequest {
    /// Downloads every object under `s3://bucket/prefix` into `local` (a folder download).
    pub fn download_folder(connection: &str, bucket: &str, prefix: &str, local: &Path) -> Self {
        Self {
            connection: connection.to_string(),
            local: local.to_path_buf(),
            bucket: bucket.to_string(),
            prefix: folder_prefix(prefix),
            direction: Direction::Down,
            key_label: None,
            delete: false,
            rekey: false,
            checksum: false,
            everything: true,
            filters: Filters::default(),
            only: None,
            confirmed_delete: None,
        }
    }

    /// Whether the object `key` is part of the request (`only` names a selection).
    pub fn takes(&self, key: &str) -> bool {
        // A selection is short (ticked rows, failed files): a scan beats building a set.
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|k| k == key))
    }

    pub fn remote(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// "DIR -> s3://b/p/" or "s3://b/p/ -> DIR".
    pub fn describe(&self) -> String {
        let local = self.local.display();
        match self.direction {
            Direction::Up => format!("{local} -> {}", self.remote()),
            Direction::Down => format!("{} -> {local}", self.remote()),
        }
    }
}

/// One file of a plan: the local path, the object, and what is known of it.
#[derive(Debug, Clone)]
pub struct SyncItem {
    /// The path below the folder and the prefix, '/'-separated.
    pub rel: String,
    pub local: PathBuf,
    pub url: S3Url,
    /// The source's size.
    pub size: u64,
    /// Down: the key that opens the object (None: a plain object). Up: the key of the
    /// object the server holds now, when the registry knows it.
    pub key: Option<KeyFingerprint>,
    /// The label of that key, for the faces.
    pub key_label: Option<String>,
    /// Down: the listing's ETag (the GET asks for exactly that object).
    pub etag: Option<String>,
    /// Down: the registry row the content must match (None: the server's object is not the
    /// one recorded, so it is recorded anew after the download).
    pub recorded: Option<ObjectRecord>,
}

/// What a sync would do. Nothing has moved when it is made.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub request: SyncRequest,
    /// Only at the source.
    pub new: Vec<SyncItem>,
    /// At both, with other content.
    pub changed: Vec<SyncItem>,
    /// At both, the same content.
    pub unchanged: Vec<SyncItem>,
    /// Only at the target: deleted there when the request says `delete`.
    pub delete: Vec<SyncItem>,
    /// Up: the same content on the server, under a key other than the request's; re-keyed
    /// with `rekey`, else only reported.
    pub other_key: Vec<SyncItem>,
    /// Down: objects that no key we hold opens, or that cannot be saved under the folder,
    /// with why (reported, never guessed).
    pub skipped: Vec<(String, String)>,
    /// Files whose hash the plan read (not from the cache).
    pub files_read: usize,
}

impl SyncPlan {
    /// The files to move, in object-key order.
    pub fn transfers(&self) -> impl Iterator<Item = &SyncItem> {
        self.new.iter().chain(self.changed.iter())
    }

    pub fn transfer_bytes(&self) -> u64 {
        self.transfers().map(|i| i.size).sum()
    }

    /// "12 new, 1 changed, 4,988 unchanged, 2 to delete".
    pub fn summary(&self) -> String {
        let mut parts = vec![
            format!("{} new", self.new.len()),
            format!("{} changed", self.changed.len()),
            format!("{} unchanged", self.unchanged.len()),
        ];
        if !self.delete.is_empty() {
            let verb = if self.request.delete {
                "to delete"
            } else {
                "only at the target (kept; --delete removes them)"
            };
            parts.push(format!("{} {verb}", self.delete.len()));
        }
        if !self.other_key.is_empty() {
            let what = if self.request.rekey {
                "to re-key"
            } else {
                "under another key (--rekey re-keys them)"
            };
            parts.push(format!("{} {what}", self.other_key.len()));
        }
        if !self.skipped.is_empty() {
            parts.push(format!("{} skipped", self.skipped.len()));
        }
        parts.join(", ")
    }
}

/// A local file found by the walk.
struct LocalFile {
    path: PathBuf,
    stamp: FileStamp,
}

/// Makes the plan of `request`: one listing of the prefix, the registry, the local tree.
pub async fn plan(home: &Home, request: &SyncRequest) -> Result<SyncPlan> {
    let conn = home.resolve_connection(Some(&request.connection))?;
    let request = &SyncRequest {
        prefix: folder_prefix(&request.prefix),
        ..request.clone()
    };
    let client = client_for(&conn, home.secrets().ok()).await?;
    // The local walk runs while the listing's pages come in.
    let walk = {
        let request = request.clone();
        tokio::task::spawn_blocking(move || local_files(&request))
    };
    let listed = list_all(&client, &request.bucket, &request.prefix).await;
    let local = walk.await.map_err(|e| Error::Internal(e.to_string()))??;
    let listed: Vec<Listed> = listed?
        .into_iter()
        // Folder markers ("photos/") hold no file.
        .filter(|l| !l.key.ends_with('/'))
        .filter(|l| request.filters.admits(&l.key[request.prefix.len()..]))
        .filter(|l| request.takes(&l.key))
        .collect();
    let recorded = home
        .registry
        .stored_under(&conn, &request.bucket, &request.prefix)?;
    let mut plan = SyncPlan {
        request: request.clone(),
        new: vec![],
        changed: vec![],
        unchanged: vec![],
        delete: vec![],
        other_key: vec![],
        skipped: vec![],
        files_read: 0,
    };
    let labels = home
        .registry
        .key_records()?
        .into_iter()
        .map(|k| (k.fingerprint, k.label))
        .collect();
    let planner = Planner {
        home,
        client: &client,
        request,
        recorded: &recorded,
        labels,
    };
    match request.direction {
        Direction::Up => planner.up(&mut plan, &listed, &local).await?,
        Direction::Down => planner.down(&mut plan, &listed, &local).await?,
    }
    Ok(plan)
}

/// The regular files under the request's folder that its filters admit, by relative path.
fn local_files(request: &SyncRequest) -> Result<BTreeMap<String, LocalFile>> {
    let root = &request.local;
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        // A download creates its folder.
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound && request.direction == Direction::Down =>
        {
            return Ok(BTreeMap::new());
        }
        Ok(_) => {
            return Err(Error::io(
                root,
                "is not a folder",
                std::io::Error::from(std::io::ErrorKind::NotADirectory),
            ));
        }
        Err(e) => return Err(Error::io(root, "cannot read", e)),
    }
    let mut out = BTreeMap::new();
    for (path, rel) in super::transfer::plan::files_of(root)? {
        if !request.filters.admits(&rel) || is_part_file(&rel) {
            continue;
        }
        // A name that is not UTF-8 has no object key of its own (two such names could
        // become one): it is left out rather than guessed.
        if path
            .strip_prefix(root)
            .ok()
            .and_then(Path::to_str)
            .is_none()
        {
            tracing::warn!(path = %path.display(), "not synced: the name is not UTF-8");
            continue;
        }
        let key = format!("{}{rel}", request.prefix);
        if !request.takes(&key) {
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, "cannot read", e))?;
        out.insert(
            rel,
            LocalFile {
                path,
                stamp: FileStamp::of(&meta),
            },
        );
    }
    Ok(out)
}

/// What a plan is made from.
struct Planner<'a> {
    home: &'a Home,
    client: &'a Client,
    request: &'a SyncRequest,
    /// The registry's stored rows under the prefix, by object key.
    recorded: &'a HashMap<String, ObjectRecord>,
    /// The labels of the live keys.
    labels: HashMap<KeyFingerprint, String>,
}

impl Planner<'_> {
    fn url(&self, rel: &str) -> S3Url {
        S3Url {
            bucket: self.request.bucket.clone(),
            key: format!("{}{rel}", self.request.prefix),
        }
    }

    /// The row that names what the server lists now: same ETag and size. None when the
    /// registry does not know the object, or it changed since (another tool wrote it).
    fn matching_row(&self, l: &Listed) -> Option<&ObjectRecord> {
        let row = self.recorded.get(&l.key)?;
        let same_etag = match (row.etag.as_deref(), l.etag.as_deref()) {
            (Some(a), Some(b)) => a.trim_matches('"') == b.trim_matches('"'),
            _ => false,
        };
        (same_etag && row.size == Some(l.size)).then_some(row)
    }

    fn label_of(&self, fp: &KeyFingerprint) -> Result<Option<String>> {
        Ok(self.labels.get(fp).cloned())
    }

    async fn up(
        &self,
        plan: &mut SyncPlan,
        listed: &[Listed],
        local: &BTreeMap<String, LocalFile>,
    ) -> Result<()> {
        let label = self.request.key_label.as_deref().ok_or_else(|| {
            Error::Refused("a sync up needs the key to encrypt with (--key LABEL)".into())
        })?;
        let want = self.home.key_record(label)?.fingerprint;
        let on_server: HashMap<&str, &Listed> =
            listed.iter().map(|l| (l.key.as_str(), l)).collect();
        // The files whose content must be compared: on the server as recorded, same size.
        let mut compare = Vec::new();
        for (rel, file) in local {
            let url = self.url(rel);
            let mut item = SyncItem {
                rel: rel.clone(),
                local: file.path.clone(),
                url,
                size: file.stamp.size,
                key: None,
                key_label: None,
                etag: None,
                recorded: None,
            };
            let Some(l) = on_server.get(item.url.key.as_str()) else {
                plan.new.push(item);
                continue;
            };
            match self.matching_row(l) {
                Some(row) if !self.request.everything && row.size == Some(file.stamp.size) => {
                    item.key = Some(row.key_fingerprint.clone());
                    item.key_label = self.label_of(&row.key_fingerprint)?;
                    item.recorded = Some(row.clone());
                    compare.push((item, file.stamp));
                }
                _ => plan.changed.push(item),
            }
        }
        let hashes = self.local_hashes(plan, &compare).await?;
        for ((item, _), hash) in compare.into_iter().zip(hashes) {
            let same = item.recorded.as_ref().and_then(|r| r.blake3.as_deref()) == Some(&hash);
            if !same {
                plan.changed.push(item);
            } else if item.key.as_ref() != Some(&want) {
                plan.other_key.push(item);
            } else {
                plan.unchanged.push(item);
            }
        }
        for l in listed {
            let rel = &l.key[self.request.prefix.len()..];
            if !local.contains_key(rel) && behind_link(&self.request.local, rel) {
                // Under a linked folder the walk does not enter: the file may well be here.
                plan.skipped.push((
                    l.key.clone(),
                    "its folder here is a link, which sync does not follow; kept".into(),
                ));
            } else if !local.contains_key(rel) {
                let row = self.recorded.get(&l.key);
                plan.delete.push(SyncItem {
                    rel: rel.to_string(),
                    local: self.request.local.join(rel),
                    url: self.url(rel),
                    size: l.size,
                    key: row.map(|r| r.key_fingerprint.clone()),
                    key_label: match row {
                        Some(r) => self.label_of(&r.key_fingerprint)?,
                        None => None,
                    },
                    etag: l.etag.clone(),
                    recorded: row.cloned(),
                });
            }
        }
        plan.changed.sort_by(|a, b| a.url.key.cmp(&b.url.key));
        Ok(())
    }

    async fn down(
        &self,
        plan: &mut SyncPlan,
        listed: &[Listed],
        local: &BTreeMap<String, LocalFile>,
    ) -> Result<()> {
        let keys = held_keys(self.home)?;
        let mut compare = Vec::new();
        let mut unknown = Vec::new();
        for l in listed {
            let rel = &l.key[self.request.prefix.len()..];
            let path = match local_path_for(&self.request.local, &self.request.prefix, &l.key) {
                Ok(p) => p,
                Err(e) => {
                    plan.skipped.push((l.key.clone(), e.to_string()));
                    continue;
                }
            };
            let mut item = SyncItem {
                rel: rel.to_string(),
                local: path,
                url: self.url(rel),
                size: l.size,
                key: None,
                key_label: None,
                etag: l.etag.clone(),
                recorded: None,
            };
            let Some(row) = self.matching_row(l) else {
                unknown.push(item);
                continue;
            };
            if !keys.iter().any(|(fp, _)| *fp == row.key_fingerprint) {
                plan.skipped.push((
                    l.key.clone(),
                    format!(
                        "its key {} is not in the keyring; import or restore it",
                        row.key_fingerprint
                    ),
                ));
                continue;
            }
            item.key = Some(row.key_fingerprint.clone());
            item.key_label = self.label_of(&row.key_fingerprint)?;
            item.recorded = Some(row.clone());
            match local.get(rel) {
                Some(f) if !self.request.everything && f.stamp.size == l.size => {
                    compare.push((item, f.stamp))
                }
                Some(_) => plan.changed.push(item),
                None => plan.new.push(item),
            }
        }
        let hashes = self.local_hashes(plan, &compare).await?;
        for ((item, _), hash) in compare.into_iter().zip(hashes) {
            let recorded = item.recorded.as_ref().and_then(|r| r.blake3.as_deref());
            if recorded == Some(hash.as_str()) {
                plan.unchanged.push(item);
            } else {
                plan.changed.push(item);
            }
        }
        // Objects the registry does not know (or that changed on the server): the keys we
        // hold are tried, the recorded one first.
        let asks: Vec<_> = unknown
            .into_iter()
            .map(|item| self.find_key(item, &keys))
            .collect();
        let found = stream::iter(asks).buffered(16).collect::<Vec<_>>().await;
        for found in found {
            match found {
                Ok(item) if local.contains_key(&item.rel) => plan.changed.push(item),
                Ok(item) => plan.new.push(item),
                Err((key, why)) => plan.skipped.push((key, why)),
            }
        }
        plan.new.sort_by(|a, b| a.url.key.cmp(&b.url.key));
        plan.changed.sort_by(|a, b| a.url.key.cmp(&b.url.key));
        let on_server: HashSet<&str> = listed
            .iter()
            .map(|l| &l.key[self.request.prefix.len()..])
            .collect();
        for (rel, file) in local {
            if !on_server.contains(rel.as_str()) {
                plan.delete.push(SyncItem {
                    rel: rel.clone(),
                    local: file.path.clone(),
                    url: self.url(rel),
                    size: file.stamp.size,
                    key: None,
                    key_label: None,
                    etag: None,
                    recorded: None,
                });
            }
        }
        Ok(())
    }

    /// Finds which key we hold opens an object the registry does not know as listed (a
    /// HEAD with each, the recorded key first); a plain object opens without one.
    async fn find_key(
        &self,
        mut item: SyncItem,
        keys: &[(KeyFingerprint, SseKey)],
    ) -> std::result::Result<SyncItem, (String, String)> {
        let recorded = self.recorded.get(&item.url.key).map(|r| &r.key_fingerprint);
        let mut order: Vec<&(KeyFingerprint, SseKey)> = keys.iter().collect();
        order.sort_by_key(|(fp, _)| Some(fp) != recorded);
        for (fp, key) in order {
            match head_with_key(self.client, &item.url.bucket, &item.url.key, None, key).await {
                Ok(head) => {
                    item.key = Some(fp.clone());
                    item.key_label = self.label_of(fp).ok().flatten();
                    item.etag = head.e_tag().map(str::to_string).or(item.etag);
                    return Ok(item);
                }
                // Refused with this key: the next one may open it.
                Err(e) if matches!(e.kind, S3ErrorKind::WrongKey | S3ErrorKind::NotEncrypted) => {}
                // A timeout, a 5xx, a missing permission: nothing learned about keys.
                Err(e) => return Err((item.url.key.clone(), e.to_string())),
            }
        }
        let url = item.url.to_string();
        match head_without_key(self.client, &item.url.bucket, &item.url.key, None, &url).await {
            Keyless::Served => Ok(item),
            Keyless::NeedsKey => Err((
                item.url.key.clone(),
                "no key in this home's keyring opens it (SSE-C with a key we do not hold)".into(),
            )),
            Keyless::Missing(e) | Keyless::Denied(e) | Keyless::Failed(e) => {
                Err((item.url.key.clone(), e.to_string()))
            }
        }
    }

    /// The BLAKE3 of each file: from the cache when its stamp matches (unless `checksum`),
    /// else read (several at once, off the runtime's threads), and cached.
    async fn local_hashes(
        &self,
        plan: &mut SyncPlan,
        files: &[(SyncItem, FileStamp)],
    ) -> Result<Vec<String>> {
        let registry = &self.home.registry;
        let mut out = vec![String::new(); files.len()];
        let mut read = Vec::new();
        for (i, (item, stamp)) in files.iter().enumerate() {
            match (!self.request.checksum)
                .then(|| registry.cached_hash(&item.local, *stamp))
                .transpose()?
                .flatten()
            {
                Some(h) => out[i] = h,
                None => read.push(i),
            }
        }
        let reads: Vec<_> = read
            .iter()
            .map(|&i| {
                let path = files[i].0.local.clone();
                async move {
                    let p = path.clone();
                    let h = tokio::task::spawn_blocking(move || hash_file(&p))
                        .await
                        .map_err(|e| Error::Internal(e.to_string()))?;
                    h.map(|h| (i, path, h))
                }
            })
            .collect();
        let hashed = stream::iter(reads)
            .buffer_unordered(4)
            .collect::<Vec<_>>()
            .await;
        let mut cache = Vec::new();
        for r in hashed {
            let (i, path, h) = r?;
            cache.push((path, files[i].1, h.clone()));
            out[i] = h;
        }
        plan.files_read += cache.len();
        registry.cache_hashes(&cache)?;
        Ok(out)
    }
}

/// A download's part file left by a crash where it could not be unnamed (see `part_file`):
/// never a file of the user's to sync.
fn is_part_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with('.') && name.ends_with(".ssec-part")
}

/// Whether a folder on the way from `root` to `rel` is a symbolic link (or not a folder).
fn behind_link(root: &Path, rel: &str) -> bool {
    let mut at = root.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return false;
        }
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// The keys this home holds in the keyring, each read once.
fn held_keys(home: &Home) -> Result<Vec<(KeyFingerprint, SseKey)>> {
    let mut out = Vec::new();
    for k in home.registry.key_records()? {
        if let Ok(key) = home.load_key(&k) {
            out.push((k.fingerprint.clone(), key));
        }
    }
    Ok(out)
}

/// The BLAKE3 of a file's content (hex).
pub fn hash_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let mut hasher = blake3::Hasher::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, "cannot read", e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

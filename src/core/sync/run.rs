//! Carrying out a sync plan: many files at once, each on its own.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::Client;
use futures_util::stream::FuturesUnordered;
use futures_util::{StreamExt as _, stream};
use serde::Serialize;
use tokio::sync::Semaphore;

use super::{Direction, SyncItem, SyncPlan};
use crate::core::checksum::Algorithm;
use crate::core::key::SseKey;
use crate::core::meta::ObjectMeta;
use crate::core::registry::{ConnectionRecord, FileStamp, StoredObject};
use crate::core::rotate::{RotateOptions, RotateSelection};
use crate::core::s3::client_for;
use crate::core::transfer::download::{Listed, download_listed};
use crate::core::transfer::progress::{MIB, TransferCtx};
use crate::core::transfer::upload::{Reserved, UploadWith, ensure_preflight, upload_prepared};
use crate::core::{Error, Home, Result};

/// How many MiB of file bodies may be held at once: a small file is sent from memory, a
/// large one holds `concurrency` parts; files wait for room rather than grow memory.
const MEMORY_BUDGET_MIB: u32 = 128;

/// Upload rows reserved per transaction.
const RESERVE_BATCH: usize = 64;

/// One file that did not make it.
#[derive(Debug, Clone, Serialize)]
pub struct SyncFailure {
    pub rel: String,
    pub object: String,
    pub error: String,
}

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub uploaded: usize,
    pub downloaded: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub rekeyed: usize,
    /// Bytes moved.
    pub bytes: u64,
    pub failed: Vec<SyncFailure>,
    /// Left out by the plan, with why.
    pub skipped: Vec<(String, String)>,
}

impl SyncReport {
    /// "3 uploaded, 4,997 unchanged, 1 failed".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (n, what) in [
            (self.uploaded, "uploaded"),
            (self.downloaded, "downloaded"),
            (self.unchanged, "unchanged"),
            (self.rekeyed, "re-keyed"),
            (self.deleted, "deleted"),
            (self.skipped.len(), "skipped"),
            (self.failed.len(), "failed"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        if parts.is_empty() {
            return "nothing to do".into();
        }
        parts.join(", ")
    }

    /// An error naming the failed files when any failed (for the faces' exit status).
    pub fn into_result(self) -> Result<Self> {
        if self.failed.is_empty() {
            return Ok(self);
        }
        let first: Vec<String> = self
            .failed
            .iter()
            .take(5)
            .map(|f| format!("{}: {}", f.object, f.error))
            .collect();
        Err(Error::Partial(format!(
            "{}; {} file(s) failed, first: {}",
            self.summary(),
            self.failed.len(),
            first.join("; ")
        )))
    }
}

/// Carries out `plan`: transfers (up to `files_at_once` at a time), then re-keys and deletes
/// when the request asks for them. A cancel stops new files from starting; the report of
/// what was done is lost then, the registry keeps it.
pub async fn run(
    ctx: &TransferCtx,
    home: &Home,
    plan: &SyncPlan,
    files_at_once: usize,
) -> Result<SyncReport> {
    let request = &plan.request;
    let conn = home.resolve_connection(Some(&request.connection))?;
    let client = client_for(&conn, home.secrets().ok()).await?;
    let mut report = SyncReport {
        unchanged: plan.unchanged.len(),
        skipped: plan.skipped.clone(),
        ..SyncReport::default()
    };
    let items: Vec<&SyncItem> = plan.transfers().collect();
    ctx.progress.set_files_total(items.len() as u64);
    ctx.progress.set_total(plan.transfer_bytes());
    let mover = Mover {
        ctx,
        home,
        conn: &conn,
        client: &client,
        root: &request.local,
        made: Mutex::default(),
        hashed: Mutex::default(),
        room: Arc::new(Semaphore::new(MEMORY_BUDGET_MIB as usize)),
    };
    match request.direction {
        Direction::Up => {
            let label = request
                .key_label
                .as_deref()
                .ok_or_else(|| Error::Refused("a sync up needs a key (--key LABEL)".into()))?;
            let record = home.key_record(label)?;
            let key = home.load_key(&record)?;
            if !items.is_empty() {
                ensure_preflight(ctx, home, &conn, &request.bucket).await?;
            }
            let with = UploadWith {
                client: &client,
                fingerprint: &record.fingerprint,
                key: &key,
            };
            let outcomes = mover.upload_all(&with, &items, files_at_once).await;
            let hashed =
                std::mem::take(&mut *mover.hashed.lock().unwrap_or_else(|p| p.into_inner()));
            home.registry.cache_hashes(&hashed)?;
            tally(&mut report, outcomes, Direction::Up);
            if request.rekey && !plan.other_key.is_empty() {
                rekey(ctx, home, plan, label, &mut report).await?;
            }
        }
        Direction::Down => {
            let files: Vec<_> = items.iter().map(|item| mover.down(item)).collect();
            let outcomes = stream::iter(files)
                .buffer_unordered(files_at_once.max(1))
                .collect::<Vec<_>>()
                .await;
            let hashed =
                std::mem::take(&mut *mover.hashed.lock().unwrap_or_else(|p| p.into_inner()));
            home.registry.cache_hashes(&hashed)?;
            tally(&mut report, outcomes, Direction::Down);
        }
    }
    if ctx.cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    if request.delete {
        delete(home, &conn, plan, &mut report).await;
    }
    home.registry.log_event(
        "sync",
        None,
        None,
        &format!("{}: {}", request.describe(), report.summary()),
    )?;
    Ok(report)
}

type Outcome<'a> = (&'a SyncItem, Result<u64>);

fn tally(report: &mut SyncReport, outcomes: Vec<Outcome<'_>>, direction: Direction) {
    for (item, outcome) in outcomes {
        match outcome {
            Ok(bytes) => {
                report.bytes += bytes;
                match direction {
                    Direction::Up => report.uploaded += 1,
                    Direction::Down => report.downloaded += 1,
                }
            }
            // A file never started because of a cancel is not a failure to list.
            Err(Error::Cancelled) => {}
            Err(e) => report.failed.push(SyncFailure {
                rel: item.rel.clone(),
                object: item.url.to_string(),
                error: e.to_string(),
            }),
        }
    }
    report.failed.sort_by(|a, b| a.object.cmp(&b.object));
}

/// Re-keys, on the server, the objects whose content is current but under another key.
async fn rekey(
    ctx: &TransferCtx,
    home: &Home,
    plan: &SyncPlan,
    label: &str,
    report: &mut SyncReport,
) -> Result<()> {
    let ids: Vec<i64> = plan
        .other_key
        .iter()
        .filter_map(|i| i.recorded.as_ref().map(|r| r.id))
        .collect();
    let rotated = home
        .rotate(
            &ctx.step(),
            &RotateSelection::Ids(ids),
            label,
            &RotateOptions::default(),
            &mut |_| {},
        )
        .await?;
    report.rekeyed = rotated.rotated.len();
    report
        .failed
        .extend(rotated.failed.into_iter().map(|f| SyncFailure {
            rel: String::new(),
            object: f.object,
            error: f.error,
        }));
    Ok(())
}

/// Deletes what only the target holds: objects on the server (up), files here (down).
async fn delete(home: &Home, conn: &ConnectionRecord, plan: &SyncPlan, report: &mut SyncReport) {
    for item in &plan.delete {
        let confirmed = plan
            .request
            .confirmed_delete
            .as_ref()
            .is_none_or(|c| c.contains(&item.rel));
        let done = match plan.request.direction {
            _ if !confirmed => Err(Error::Refused(
                "it was not in the list confirmed for deletion (it appeared since); kept".into(),
            )),
            Direction::Up => home.delete_object(conn, &item.url).await,
            Direction::Down => remove_local(&item.local),
        };
        match done {
            Ok(()) => report.deleted += 1,
            Err(e) => report.failed.push(SyncFailure {
                rel: item.rel.clone(),
                object: match plan.request.direction {
                    Direction::Up => item.url.to_string(),
                    Direction::Down => item.local.display().to_string(),
                },
                error: format!("not deleted: {e}"),
            }),
        }
    }
}

/// The refusal of an upload whose object is being rotated.
fn rotating(item: &SyncItem) -> Error {
    crate::core::registry::RegistryError::RotationUnderWay(item.url.to_string()).into()
}

fn stamp_of(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|m| FileStamp::of(&m))
}

/// Removes a regular file (never a folder, nor what a link points to).
fn remove_local(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, "cannot read", e))?;
    if !meta.is_file() {
        return Err(Error::io(
            path,
            "is not a regular file; left alone",
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        ));
    }
    std::fs::remove_file(path).map_err(|e| Error::io(path, "cannot delete", e))
}

/// What the files of one run share.
struct Mover<'a> {
    ctx: &'a TransferCtx,
    home: &'a Home,
    conn: &'a ConnectionRecord,
    client: &'a Client,
    root: &'a Path,
    /// Folders made (or checked) under the root so far.
    made: Mutex<HashSet<PathBuf>>,
    /// Downloaded files' hashes, cached at the end in one transaction.
    hashed: Mutex<Vec<(PathBuf, FileStamp, String)>>,
    room: Arc<Semaphore>,
}

impl Mover<'_> {
    /// Room in memory for a file of `size` (see `MEMORY_BUDGET_MIB`).
    async fn room_for(&self, size: u64) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let o = &self.ctx.options;
        let held = if size > o.multipart_threshold {
            o.part_size_for(size) * o.concurrency.max(1) as u64
        } else {
            size
        };
        let mib = held.div_ceil(MIB).clamp(1, MEMORY_BUDGET_MIB as u64) as u32;
        tokio::select! {
            p = self.room.clone().acquire_many_owned(mib) => {
                p.map_err(|e| Error::Internal(e.to_string()))
            }
            () = self.ctx.cancel.cancelled() => Err(Error::Cancelled),
        }
    }

    /// Uploads `items`, `at_once` in flight. Rows are reserved `RESERVE_BATCH` at a time,
    /// each batch in one transaction written before any of its files is sent (the ledger's
    /// write-ahead rule, one commit instead of one per file). A cancel leaves the batch's
    /// unsent reservations dropped.
    async fn upload_all<'i>(
        &self,
        with: &UploadWith<'_>,
        items: &[&'i SyncItem],
        at_once: usize,
    ) -> Vec<Outcome<'i>> {
        let mut out = Vec::with_capacity(items.len());
        let mut running = FuturesUnordered::new();
        let mut queue: VecDeque<(&'i SyncItem, Reserved)> = VecDeque::new();
        let mut next = 0;
        loop {
            while running.len() < at_once.max(1) && !self.ctx.cancel.is_cancelled() {
                if queue.is_empty() && next < items.len() {
                    let batch = &items[next..(next + RESERVE_BATCH).min(items.len())];
                    next += batch.len();
                    match self.reserve(with, batch) {
                        Ok(rows) => {
                            for (item, row) in batch.iter().copied().zip(rows) {
                                match row {
                                    Some(reserved) => queue.push_back((item, reserved)),
                                    None => out.push((item, Err(rotating(item)))),
                                }
                            }
                        }
                        Err(e) => {
                            let why = e.to_string();
                            out.extend(
                                batch.iter().map(|i| (*i, Err(Error::Refused(why.clone())))),
                            );
                            continue;
                        }
                    }
                }
                let Some((item, reserved)) = queue.pop_front() else {
                    break;
                };
                running.push(self.up(with, item, reserved));
            }
            match running.next().await {
                Some(outcome) => out.push(outcome),
                None => break,
            }
        }
        for (item, reserved) in queue {
            let _ = self.home.registry.drop_reservation(reserved.id);
            out.push((item, Err(Error::Cancelled)));
        }
        out.extend(items[next..].iter().map(|i| (*i, Err(Error::Cancelled))));
        out
    }

    /// The rows of a batch, reserved in one transaction.
    fn reserve(&self, with: &UploadWith<'_>, batch: &[&SyncItem]) -> Result<Vec<Option<Reserved>>> {
        let since = self.home.registry.landing_mark()?;
        let objects: Vec<(&str, u64)> =
            batch.iter().map(|i| (i.url.key.as_str(), i.size)).collect();
        let bucket = batch
            .first()
            .map(|i| i.url.bucket.as_str())
            .unwrap_or_default();
        let ids =
            self.home
                .registry
                .reserve_uploads(self.conn, bucket, &objects, with.fingerprint)?;
        Ok(ids
            .into_iter()
            .map(|id| id.map(|id| Reserved { id, since }))
            .collect())
    }

    async fn up<'i>(
        &self,
        with: &UploadWith<'_>,
        item: &'i SyncItem,
        reserved: Reserved,
    ) -> Outcome<'i> {
        let run = async {
            let _room = match self.room_for(item.size).await {
                Ok(room) => room,
                Err(e) => {
                    // Cancelled while waiting for room: nothing was sent under this row.
                    self.home.registry.drop_reservation(reserved.id)?;
                    return Err(e);
                }
            };
            let meta = ObjectMeta::guess(&item.url);
            let ctx = self.ctx.file();
            let before = stamp_of(&item.local);
            let done = upload_prepared(
                &ctx,
                self.home,
                self.conn,
                with,
                &item.local,
                &item.url,
                meta,
                Some(reserved),
            )
            .await;
            self.ctx.progress.file_done();
            let object = done?;
            // The hash of what was sent is the file's, if the file did not change meanwhile:
            // the next sync need not read it.
            if let (Some(before), Some(hash)) = (before, &object.blake3)
                && stamp_of(&item.local) == Some(before)
            {
                self.hashed.lock().unwrap_or_else(|p| p.into_inner()).push((
                    item.local.clone(),
                    before,
                    hash.clone(),
                ));
            }
            Ok(object.size.unwrap_or(item.size))
        };
        (item, run.await)
    }

    async fn down<'i>(&self, item: &'i SyncItem) -> Outcome<'i> {
        let run = async {
            let _room = self.room_for(item.size.min(MIB)).await?;
            self.make_parent(&item.local)?;
            let key = self.key_of(item)?;
            let ctx = self.ctx.file();
            let listed = Listed {
                client: self.client,
                key: key.as_ref(),
                size: item.size,
                etag: item.etag.as_deref(),
                recorded: item.recorded.as_ref(),
            };
            let done = download_listed(&ctx, &item.url, &item.local, &listed).await;
            self.ctx.progress.file_done();
            let (bytes, digest, algorithm, stamp) = done?;
            self.record_download(item, key.as_ref(), (&digest, algorithm), stamp)?;
            Ok(bytes)
        };
        (item, run.await)
    }

    fn key_of(&self, item: &SyncItem) -> Result<Option<SseKey>> {
        let Some(fp) = &item.key else {
            return Ok(None);
        };
        let record = self.home.registry.key_by_fingerprint(fp)?.ok_or_else(|| {
            Error::NotFound(format!("{}: its key {fp} is not registered", item.url))
        })?;
        self.home.load_key(&record).map(Some)
    }

    /// After a download: the file's hash is cached, and an object the registry did not
    /// know as it is now (written by another tool) is recorded under the key that opened
    /// it, with the content's BLAKE3. A row of another key is left alone (the server's
    /// current object does not open with it, but older versions may).
    fn record_download(
        &self,
        item: &SyncItem,
        key: Option<&SseKey>,
        (digest, algorithm): (&str, Algorithm),
        stamp: FileStamp,
    ) -> Result<()> {
        if algorithm == Algorithm::Blake3 {
            self.hashed.lock().unwrap_or_else(|p| p.into_inner()).push((
                item.local.clone(),
                stamp,
                digest.to_string(),
            ));
        }
        let (Some(key), None) = (key, &item.recorded) else {
            return Ok(());
        };
        let fp = key.fingerprint();
        let registry = &self.home.registry;
        let current = registry.current_object(self.conn, &item.url.bucket, &item.url.key)?;
        let evidence = format!(
            "{}: a folder download found other content under the same key (written by another tool)",
            item.url
        );
        // A row of another key is kept (older versions may still need that key); the key
        // that opened the object gets its own row.
        let replacing = match &current {
            Some(row) if row.key_fingerprint == fp => Some((row, evidence.as_str())),
            _ => None,
        };
        let stored = StoredObject {
            size: item.size,
            blake3: (algorithm == Algorithm::Blake3).then(|| digest.to_string()),
            etag: item.etag.clone(),
            version_id: None,
        };
        let id = registry.adopt_object(
            self.conn,
            &item.url.bucket,
            &item.url.key,
            &fp,
            &stored,
            replacing,
        )?;
        if id.is_some() {
            registry.log_event("adopted", Some(&fp), id, &item.url.to_string())?;
        }
        Ok(())
    }

    /// Makes the folders of `path` under the root, and checks that they are real folders
    /// inside it: a link planted in the tree never carries a download elsewhere.
    fn make_parent(&self, path: &Path) -> Result<()> {
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        if made.contains(parent) {
            return Ok(());
        }
        std::fs::create_dir_all(self.root)
            .map_err(|e| Error::io(self.root, "cannot create the folder", e))?;
        let rel = parent.strip_prefix(self.root).map_err(|_| {
            Error::Internal(format!(
                "{} is not under {}",
                parent.display(),
                self.root.display()
            ))
        })?;
        // One folder at a time from the root, each checked before the next is made in it:
        // a link planted in the tree (to a folder anywhere) is never entered.
        let mut at = self.root.to_path_buf();
        for part in rel.components() {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::io(
                        &at,
                        "is a link or a file, not a folder; nothing is downloaded through it",
                        std::io::Error::from(std::io::ErrorKind::InvalidInput),
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    match std::fs::create_dir(&at) {
                        Ok(()) => {}
                        // Made meanwhile (by another file of this run): checked next time.
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(Error::io(&at, "cannot create the folder", e)),
                    }
                    let m = std::fs::symlink_metadata(&at)
                        .map_err(|e| Error::io(&at, "cannot read", e))?;
                    if !m.is_dir() {
                        return Err(Error::io(
                            &at,
                            "is a link or a file, not a folder; nothing is downloaded through it",
                            std::io::Error::from(std::io::ErrorKind::InvalidInput),
                        ));
                    }
                }
                Err(e) => return Err(Error::io(&at, "cannot read", e)),
            }
        }
        made.insert(parent.to_path_buf());
        Ok(())
    }
}

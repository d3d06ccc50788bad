//! Verify: asks the server about every registered object with the key the registry records
//! for it. A HEAD with the key moves no data and proves three things at once: the server
//! still holds the object, that key still opens it, and its size is the recorded one. A deep
//! verify also reads the content and compares its checksum with the one recorded at upload.
//!
//! Requests run `concurrency` at a time; progress counts objects (bytes when deep); each
//! answer is written to the registry (`verify_status`, and `last_verified_at` when the
//! server answered), which is what the audit reads.

use std::collections::HashMap;
use std::sync::Arc;

use super::checksum::{self, Algorithm, Hasher};
use aws_sdk_s3::Client;
use futures_util::StreamExt as _;
use serde::Serialize;

use super::key::SseKey;
use super::registry::{ObjectRecord, VerifyStatus};
use super::s3::{Keyless, Op, S3Error, S3ErrorKind, client_for, head_without_key, sdk_error};
use super::transfer::TransferCtx;
use super::{Home, Result};
use crate::core::s3::WithSse as _;

/// What to verify and how.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Also read every object and compare its checksum with the recorded one.
    pub deep: bool,
    /// HEAD (or GET) requests in flight at once.
    pub concurrency: usize,
    /// Only the objects of this key.
    pub key_label: Option<String>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            deep: false,
            concurrency: 16,
            key_label: None,
        }
    }
}

/// One object whose check did not come back ok.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyProblem {
    pub object_id: i64,
    /// connection:s3://bucket/key
    pub object: String,
    pub key_label: Option<String>,
    pub status: VerifyStatus,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub deep: bool,
    pub checked: usize,
    pub ok: usize,
    /// A verify cut off earlier was resumed: when it began, and how many objects it had
    /// checked then (not checked again).
    pub resumed_from: Option<String>,
    pub skipped: usize,
    /// Everything not ok, the server's answers first.
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    /// Objects the server answered about badly (missing, wrong key, changed).
    pub fn server_problems(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.status.is_problem())
            .count()
    }

    /// One line: "1000 object(s) checked: 998 ok, 1 missing, 1 not checked".
    pub fn summary(&self) -> String {
        let mut counts: Vec<(VerifyStatus, usize)> = Vec::new();
        for p in &self.problems {
            match counts.iter_mut().find(|(s, _)| *s == p.status) {
                Some((_, n)) => *n += 1,
                None => counts.push((p.status, 1)),
            }
        }
        let mut parts = vec![format!("{} ok", self.ok)];
        parts.extend(
            counts
                .iter()
                .map(|(s, n)| format!("{n} {}", status_words(*s))),
        );
        let resumed = match &self.resumed_from {
            Some(at) => format!(
                " (resumed: {} checked by the run begun {at}, not again)",
                self.skipped
            ),
            None => String::new(),
        };
        format!(
            "{} object(s) {}: {}{resumed}",
            self.checked,
            if self.deep {
                "read and checked"
            } else {
                "checked"
            },
            parts.join(", ")
        )
    }
}

/// A status in a sentence.
pub fn status_words(s: VerifyStatus) -> &'static str {
    match s {
        VerifyStatus::Ok => "ok",
        VerifyStatus::Missing => "missing on the server",
        VerifyStatus::WrongKey => "no longer opened by their key",
        VerifyStatus::Changed => "changed on the server",
        VerifyStatus::NoKey => "not checked (key not in the keyring)",
        VerifyStatus::Unreachable => "not checked (server unreachable)",
    }
}

/// What every check of one verify shares: each key once from the keyring, each
/// connection's client once, and which buckets keep versions (there each row is checked at
/// its own version).
#[derive(Default)]
struct Shared {
    keys: HashMap<String, Option<Arc<SseKey>>>,
    clients: HashMap<String, std::result::Result<Client, String>>,
    versioned: HashMap<(String, String), bool>,
}

impl Shared {
    /// Learns what `objects` need that it does not know yet (keys, clients, versioning).
    async fn learn(&mut self, home: &Home, objects: &[ObjectRecord]) -> Result<()> {
        let shared = self;
        for o in objects {
            let fp = o.key_fingerprint.to_string();
            if let std::collections::hash_map::Entry::Vacant(slot) = shared.keys.entry(fp) {
                let key = match home.registry.key_by_fingerprint(&o.key_fingerprint)? {
                    Some(r) if r.deleted_at.is_none() => home.load_key(&r).ok().map(Arc::new),
                    _ => None,
                };
                slot.insert(key);
            }
            if !shared.clients.contains_key(&o.connection) {
                let client = match home.resolve_connection(Some(&o.connection)) {
                    Ok(conn) => client_for(&conn, home.secrets().ok())
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                shared.clients.insert(o.connection.clone(), client);
            }
            let place = (o.connection.clone(), o.bucket.clone());
            if let std::collections::hash_map::Entry::Vacant(slot) = shared.versioned.entry(place) {
                let keeps = match shared.clients.get(&o.connection) {
                    Some(Ok(c)) => {
                        crate::core::bucket::versioning(c, &o.bucket).await == Some(true)
                    }
                    _ => false,
                };
                slot.insert(keeps);
            }
        }
        Ok(())
    }

    /// Checks one object; `read` counts the bytes a deep check read.
    async fn check(
        &self,
        ctx: &TransferCtx,
        o: &ObjectRecord,
        deep: bool,
        read: &mut u64,
    ) -> (VerifyStatus, String) {
        let Some(key) = self.keys.get(o.key_fingerprint.as_str()).cloned().flatten() else {
            return (
                VerifyStatus::NoKey,
                format!(
                    "key {} is not in the keyring; nothing was asked",
                    o.key_label
                        .as_deref()
                        .map(|l| format!("\"{l}\""))
                        .unwrap_or_else(|| o.key_fingerprint.to_string())
                ),
            );
        };
        match self.clients.get(&o.connection) {
            Some(Ok(client)) => {
                let version = o.version_id.as_deref().filter(|_| {
                    self.versioned
                        .get(&(o.connection.clone(), o.bucket.clone()))
                        .copied()
                        .unwrap_or(false)
                });
                let target = Target {
                    client,
                    key: &key,
                    object: o,
                    version,
                };
                check_one(ctx, &target, deep, read).await
            }
            Some(Err(e)) => (VerifyStatus::Unreachable, e.clone()),
            None => (
                VerifyStatus::Unreachable,
                format!("connection \"{}\" is not configured", o.connection),
            ),
        }
    }
}

impl VerifyReport {
    fn add(&mut self, o: &ObjectRecord, status: VerifyStatus, detail: String) {
        self.checked += 1;
        if status == VerifyStatus::Ok {
            self.ok += 1;
        } else {
            self.problems.push(VerifyProblem {
                object_id: o.id,
                object: format!("{}:{}", o.connection, o.url()),
                key_label: o.key_label.clone(),
                status,
                detail,
            });
        }
    }
}

/// The registry's note of a verify under way: "RUN START SCOPE" (see `Home::verify`).
const VERIFY_RUN: &str = "verify_run";
/// The number of the last verify run.
const VERIFY_RUNS: &str = "verify_runs";

/// Objects read from the registry at a time: a verify of millions holds one page.
const PAGE: usize = 500;

impl Home {
    /// Verifies every stored object (of one key, if asked), walking the registry a page at a
    /// time and writing the answers in a transaction a second. A verify of the same objects
    /// that was cut off (killed, cancelled) resumes: what it had answers about is
    /// skipped. Fails only when the registry cannot be read; each object's outcome,
    /// including "could not ask", is in the report.
    pub async fn verify(&self, ctx: &TransferCtx, opts: &VerifyOptions) -> Result<VerifyReport> {
        // Settle what is in doubt first: a verify reports on what the ledger claims.
        self.reconcile(&ctx.step()).await?;
        let only = match &opts.key_label {
            Some(l) => Some(self.key_record(l)?.fingerprint),
            None => None,
        };
        let scope = format!(
            "{}:{}",
            only.as_ref().map_or("*", |f| f.as_str()),
            if opts.deep { "deep" } else { "head" }
        );
        let (run, resumed) = self.verify_run(&scope)?;
        let skip = resumed.is_some().then_some(run);
        let (count, bytes) = self.registry.stored_totals(only.as_ref(), skip)?;
        ctx.progress
            .set_total(if opts.deep { bytes } else { count });
        let mut report = VerifyReport {
            deep: opts.deep,
            ..VerifyReport::default()
        };
        if resumed.is_some() {
            let (all, _) = self.registry.stored_totals(only.as_ref(), None)?;
            report.skipped = all.saturating_sub(count) as usize;
            report.resumed_from = resumed;
        }
        let mut shared = Shared::default();
        let mut run = Run {
            id: run,
            batch: Vec::new(),
            report,
        };
        let mut after = 0;
        loop {
            let page = self
                .registry
                .stored_after(after, PAGE, only.as_ref(), skip)?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            let more = page.len() == PAGE;
            shared.learn(self, &page).await?;
            self.verify_page(ctx, opts, &shared, page, &mut run).await?;
            if !more {
                break;
            }
        }
        self.flush(&mut run)?;
        // Done: the next verify starts afresh.
        self.registry.set_meta(VERIFY_RUN, None)?;
        let mut report = run.report;
        report
            .problems
            .sort_by_key(|p| (!p.status.is_problem(), p.object_id));
        self.registry
            .log_event("verified", None, None, &report.summary())?;
        Ok(report)
    }

    /// Checks one page of objects, `concurrency` at a time; the answers go into the batch,
    /// written at least once a second (and before a cancel returns).
    async fn verify_page(
        &self,
        ctx: &TransferCtx,
        opts: &VerifyOptions,
        shared: &Shared,
        page: Vec<ObjectRecord>,
        run: &mut Run,
    ) -> Result<()> {
        let checks = futures_util::stream::iter(page)
            .map(|o| async move {
                let mut read = 0;
                let outcome = shared.check(ctx, &o, opts.deep, &mut read).await;
                if opts.deep {
                    // Bytes not read (not checked, or broken off) still count as done, so
                    // the total is reached.
                    ctx.progress.add(o.size.unwrap_or(0).saturating_sub(read));
                } else {
                    ctx.progress.add(1);
                }
                (o, outcome)
            })
            .buffer_unordered(opts.concurrency.max(1));
        futures_util::pin_mut!(checks);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            let next = tokio::select! {
                n = checks.next() => n,
                _ = tick.tick() => {
                    self.flush(run)?;
                    continue;
                }
                () = ctx.cancel.cancelled() => {
                    self.flush(run)?;
                    return Err(super::Error::Cancelled);
                }
            };
            let Some((o, (status, detail))) = next else {
                return Ok(());
            };
            let detail_opt =
                (status != VerifyStatus::Ok || !detail.is_empty()).then(|| detail.clone());
            run.batch.push((o.id, status, detail_opt));
            run.report.add(&o, status, detail);
        }
    }

    /// Writes the answers gathered so far.
    fn flush(&self, run: &mut Run) -> Result<()> {
        if !run.batch.is_empty() {
            self.registry
                .record_verifications(&run.batch, Some(run.id))?;
            run.batch.clear();
        }
        Ok(())
    }

    /// The number of this verify run, and when it began if it resumes one that was cut off
    /// (same scope: key and depth). A new run is numbered after the last one.
    fn verify_run(&self, scope: &str) -> Result<(i64, Option<String>)> {
        let noted = self.registry.meta(VERIFY_RUN)?.and_then(|v| {
            let mut parts = v.splitn(3, ' ');
            let run = parts.next()?.parse::<i64>().ok()?;
            let began = parts.next()?.to_string();
            (parts.next()? == scope).then_some((run, began))
        });
        if let Some((run, began)) = noted {
            return Ok((run, Some(began)));
        }
        let run = self
            .registry
            .meta(VERIFY_RUNS)?
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(0)
            + 1;
        self.registry
            .set_meta(VERIFY_RUNS, Some(&run.to_string()))?;
        let note = format!("{run} {} {scope}", super::registry::now());
        self.registry.set_meta(VERIFY_RUN, Some(&note))?;
        Ok((run, None))
    }
}

/// A verify under way: its number, the answers not yet written, and the report so far.
struct Run {
    id: i64,
    batch: Vec<(i64, VerifyStatus, Option<String>)>,
    report: VerifyReport,
}

/// What one check asks about: an object (at its version, in a bucket that keeps versions)
/// and the key that must open it.
struct Target<'a> {
    client: &'a Client,
    key: &'a SseKey,
    object: &'a ObjectRecord,
    version: Option<&'a str>,
}

/// One object: HEAD with its key; when deep, a GET that hashes the content.
async fn check_one(
    ctx: &TransferCtx,
    t: &Target<'_>,
    deep: bool,
    read: &mut u64,
) -> (VerifyStatus, String) {
    let o = t.object;
    let url = o.url();
    let h = t.key.headers();
    let head = t
        .client
        .head_object()
        .bucket(&o.bucket)
        .key(&o.key)
        .set_version_id(t.version.map(str::to_string))
        .sse(&h)
        .send()
        .await;
    let head = match head {
        Ok(head) => head,
        Err(e) => {
            let err = sdk_error(e, Op::Read, &url, true);
            let status = match err.kind {
                S3ErrorKind::NoSuchObject | S3ErrorKind::NoSuchBucket => VerifyStatus::Missing,
                S3ErrorKind::WrongKey | S3ErrorKind::KeyMd5Mismatch => {
                    return without_key(t, err).await;
                }
                S3ErrorKind::NotEncrypted => VerifyStatus::Changed,
                _ => VerifyStatus::Unreachable,
            };
            return (status, err.message);
        }
    };
    if head.sse_customer_key_md5().is_some_and(|m| m != h.key_md5) {
        return (
            VerifyStatus::WrongKey,
            format!("{url}: the server answered for another key"),
        );
    }
    let size = head.content_length().unwrap_or(0).max(0) as u64;
    if let Some(recorded) = o.size
        && recorded != size
    {
        return (
            VerifyStatus::Changed,
            format!("{url}: {size} bytes on the server, {recorded} recorded"),
        );
    }
    if !deep {
        return (VerifyStatus::Ok, String::new());
    }
    let recorded = checksum::recorded(o);
    let algorithm = recorded.map_or(Algorithm::Blake3, |(a, _)| a);
    match read_digest(ctx, t, algorithm, read).await {
        Err(e) => (VerifyStatus::Unreachable, e),
        Ok(digest) => match recorded {
            Some((a, expected)) if expected != digest => (
                VerifyStatus::Changed,
                format!(
                    "{url}: the content's {} is not the one recorded at upload",
                    a.name()
                ),
            ),
            Some(_) => (VerifyStatus::Ok, String::new()),
            None => (
                VerifyStatus::Ok,
                "read in full; no checksum was recorded to compare (adopted by a scan)".into(),
            ),
        },
    }
}

/// A HEAD with the key was refused (400/403). A HEAD body says nothing, and a 403 may as
/// well mean missing permissions, so a HEAD without the key decides: refused as SSE-C
/// (400: the credentials work, the object needs a key) means the recorded key is wrong;
/// served means the object is no longer encrypted; anything else means we could not tell.
async fn without_key(t: &Target<'_>, with_key: S3Error) -> (VerifyStatus, String) {
    let o = t.object;
    let url = o.url();
    let with_key_error = with_key.message;
    match head_without_key(t.client, &o.bucket, &o.key, t.version, &url).await {
        Keyless::Served => (
            VerifyStatus::Changed,
            format!("{url} is no longer encrypted with SSE-C (replaced by a plain object)"),
        ),
        // The object asks for a key and ours was refused: settled, whatever the status.
        Keyless::NeedsKey if with_key.kind == S3ErrorKind::WrongKey => (
            VerifyStatus::WrongKey,
            format!("{url} is encrypted with a different key than the one recorded for it"),
        ),
        Keyless::NeedsKey => (VerifyStatus::WrongKey, with_key_error),
        Keyless::Missing(_) => (
            VerifyStatus::Missing,
            format!("{url} does not exist on the server"),
        ),
        Keyless::Denied(_) => (
            VerifyStatus::Unreachable,
            format!(
                "{with_key_error}; a request without the key was refused too, so the \
                 credentials may lack permission (not recorded as a wrong key)"
            ),
        ),
        Keyless::Failed(failed) => (
            VerifyStatus::Unreachable,
            format!(
                "{with_key_error}; asking without the key to tell a wrong key from missing \
                 permission failed ({}), so nothing is recorded",
                failed.message
            ),
        ),
    }
}

/// Reads the whole object with its key, hashing as it comes; nothing is written anywhere.
async fn read_digest(
    ctx: &TransferCtx,
    t: &Target<'_>,
    algorithm: Algorithm,
    read: &mut u64,
) -> std::result::Result<String, String> {
    let o = t.object;
    let url = o.url();
    let h = t.key.headers();
    let response = t
        .client
        .get_object()
        .bucket(&o.bucket)
        .key(&o.key)
        .set_version_id(t.version.map(str::to_string))
        .sse(&h)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Read, &url, true).message)?;
    let mut body = response.body;
    let mut hasher = Hasher::new(algorithm);
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| format!("{url}: the read broke off ({e})"))?
    {
        ctx.throttle(chunk.len() as u64).await;
        hasher.update(&chunk);
        // Never past the recorded size, which is what the total was made of.
        let credit = (chunk.len() as u64).min(o.size.unwrap_or(0).saturating_sub(*read));
        *read += credit;
        ctx.progress.add(credit);
    }
    Ok(hasher.finalize_hex())
}

//! What a running transfer shares with whoever watches it: progress as a latest value
//! (published by the transfer, read by the UI or the terminal at their own pace), the
//! cancellation token, the options, and a bandwidth limiter.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub const MIB: u64 = 1024 * 1024;
/// S3 allows at most 10,000 parts, each at least 5 MiB (but the last).
pub const MAX_PARTS: u64 = 10_000;
pub const MIN_PART_SIZE: u64 = 5 * MIB;

/// Knobs of one transfer. Defaults suit a desktop line; benchmarks and tests change them.
#[derive(Debug, Clone)]
pub struct TransferOptions {
    /// Files above this size go multipart; objects above it download in ranges.
    pub multipart_threshold: u64,
    /// Part size; grown automatically so a file never needs more than 10,000 parts. Download
    /// ranges are this size rounded up to a power of two (so their BLAKE3 hashes join).
    pub part_size: u64,
    /// Parts or ranges in flight at once, per transfer.
    pub concurrency: usize,
    /// Bytes per second, all parts together; None = unlimited.
    pub bandwidth_limit: Option<u64>,
}

impl Default for TransferOptions {
    fn default() -> Self {
        Self {
            multipart_threshold: 16 * MIB,
            part_size: 8 * MIB,
            concurrency: 8,
            bandwidth_limit: None,
        }
    }
}

impl TransferOptions {
    /// The part size for a file of `size` bytes: the configured size, at least 5 MiB, and
    /// grown (in whole MiB) until 10,000 parts cover the file.
    pub fn part_size_for(&self, size: u64) -> u64 {
        let mut part = self.part_size.max(MIN_PART_SIZE);
        let needed = size.div_ceil(MAX_PARTS);
        if needed > part {
            part = needed.div_ceil(MIB) * MIB;
        }
        part
    }
}

/// A snapshot for display.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProgressSnapshot {
    /// Files finished and files in all, for a job of many files (0 of 0 otherwise).
    pub files_done: u64,
    pub files_total: u64,
    pub done: u64,
    pub total: u64,
    /// Bytes per second over the last few seconds.
    pub rate: f64,
    pub eta: Option<Duration>,
}

impl ProgressSnapshot {
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f64 / self.total as f64) as f32
        }
    }
}

/// Bytes done out of a total. `done` only grows, so any reader sees a monotone value.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
    files_done: AtomicU64,
    files_total: AtomicU64,
    /// A job of many files: each file's progress also counts here.
    parent: Option<std::sync::Arc<Progress>>,
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

const RATE_WINDOW: Duration = Duration::from_secs(3);

impl Progress {
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    pub fn add(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
        if let Some(p) = &self.parent {
            p.add(bytes);
        }
    }

    /// The progress of one file of a job of many: its bytes also count in `parent`.
    pub fn child_of(parent: std::sync::Arc<Progress>) -> Self {
        Self {
            parent: Some(parent),
            ..Self::default()
        }
    }

    /// A job of many files: how many there are in all.
    pub fn set_files_total(&self, files: u64) {
        self.files_total.store(files, Ordering::Relaxed);
    }

    /// A job of many files: one more finished (well or not).
    pub fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds to the total (a job of many files learns sizes as it goes).
    pub fn add_total(&self, bytes: u64) {
        self.total.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> ProgressSnapshot {
        let done = self.done();
        let total = self.total.load(Ordering::Relaxed);
        let now = Instant::now();
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.push_back((now, done));
        while samples.len() > 2
            && samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            samples.pop_front();
        }
        let rate = match samples.front() {
            Some((t0, d0)) if now.duration_since(*t0) > Duration::from_millis(200) => {
                (done - d0) as f64 / now.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        };
        let eta = (rate > 0.0 && total >= done)
            .then(|| Duration::from_secs_f64((total - done) as f64 / rate));
        ProgressSnapshot {
            files_done: self.files_done.load(Ordering::Relaxed),
            files_total: self.files_total.load(Ordering::Relaxed),
            done,
            total,
            rate,
            eta,
        }
    }
}

/// Spaces out bytes so that all users of one limiter stay under a rate (like rclone's
/// --bwlimit). Callers ask before they send or after they receive.
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_second: u64,
    next_free: tokio::sync::Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(bytes_per_second: u64) -> Self {
        Self {
            bytes_per_second: bytes_per_second.max(1),
            next_free: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    pub async fn take(&self, bytes: u64) {
        let start = {
            let mut next = self.next_free.lock().await;
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_second as f64);
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }
}

/// What a job learned about buckets, shared by its files.
#[derive(Debug, Default)]
pub struct Learned {
    versioning: Mutex<std::collections::HashMap<String, bool>>,
    preflighted: Mutex<std::collections::HashSet<String>>,
}

impl Learned {
    /// Whether this job already ran the preflight of `bucket` and it passed.
    pub fn preflighted(&self, bucket: &str) -> bool {
        self.preflighted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(bucket)
    }

    pub fn set_preflighted(&self, bucket: &str) {
        self.preflighted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(bucket.to_string());
    }

    /// Whether `bucket` keeps versions (unknown counts as yes: see `bucket::keeps_versions`),
    /// asked of the server once per job.
    pub async fn keeps_versions(&self, client: &aws_sdk_s3::Client, bucket: &str) -> bool {
        let known = self
            .versioning
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(bucket)
            .copied();
        if let Some(v) = known {
            return v;
        }
        let v = crate::core::bucket::versioning(client, bucket).await;
        if let Some(v) = v {
            self.versioning
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(bucket.to_string(), v);
        }
        v.unwrap_or(true)
    }
}

/// Everything a transfer needs besides its endpoints.
#[derive(Debug, Clone)]
pub struct TransferCtx {
    pub options: TransferOptions,
    /// What the job learned about buckets, asked once per job rather than once per file.
    pub learned: std::sync::Arc<Learned>,
    pub progress: std::sync::Arc<Progress>,
    pub cancel: CancellationToken,
    pub limiter: Option<std::sync::Arc<RateLimiter>>,
}

impl TransferCtx {
    pub fn new(options: TransferOptions) -> Self {
        let limiter = options
            .bandwidth_limit
            .map(|b| std::sync::Arc::new(RateLimiter::new(b)));
        Self {
            options,
            progress: Default::default(),
            learned: Default::default(),
            cancel: CancellationToken::new(),
            limiter,
        }
    }

    /// A context for a step of this one (a reconcile before a rotation): the same cancel,
    /// its own progress, so the step's counts never land in this one's.
    /// The context of one file of a job of many: its own progress, counted in this one's;
    /// the same options, cancel and bandwidth limit.
    pub fn file(&self) -> Self {
        Self {
            progress: std::sync::Arc::new(Progress::child_of(self.progress.clone())),
            ..self.clone()
        }
    }

    pub fn step(&self) -> Self {
        Self {
            progress: Default::default(),
            ..self.clone()
        }
    }

    /// Runs `work` unless the transfer is cancelled first. For the steps before data moves
    /// (preflight, HEAD): the data phases handle cancellation themselves, with cleanup.
    pub async fn or_cancel<T>(
        &self,
        work: impl std::future::Future<Output = crate::core::Result<T>>,
    ) -> crate::core::Result<T> {
        tokio::select! {
            r = work => r,
            () = self.cancel.cancelled() => Err(crate::core::Error::Cancelled),
        }
    }

    pub async fn throttle(&self, bytes: u64) {
        if let Some(l) = &self.limiter {
            l.take(bytes).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_to_stay_within_ten_thousand_parts() {
        let o = TransferOptions::default();
        assert_eq!(o.part_size_for(100 * MIB), 8 * MIB);
        let huge = 5 * 1024 * 1024 * MIB; // 5 TiB, the S3 maximum
        let part = o.part_size_for(huge);
        assert!(huge.div_ceil(part) <= MAX_PARTS);
        assert_eq!(part % MIB, 0);
        let tiny = TransferOptions { part_size: 1, ..o };
        assert_eq!(tiny.part_size_for(50 * MIB), MIN_PART_SIZE);
    }

    #[test]
    fn progress_is_monotone_with_rate_and_eta() {
        let p = Progress::default();
        p.set_total(100);
        p.add(10);
        let a = p.snapshot();
        std::thread::sleep(Duration::from_millis(250));
        p.add(40);
        let b = p.snapshot();
        assert!(b.done >= a.done);
        assert!(b.rate > 0.0);
        assert!(b.eta.is_some());
        assert!((b.fraction() - 0.5).abs() < 1e-6);
    }
}

//! One job mechanism for every long operation: uploads, downloads, resumptions.
//!
//! Shaped after gitui's asyncgit and rerun: jobs run on the tokio runtime that `main` owns;
//! a queue with a limit on how many run at once; progress is a latest value each job
//! publishes and any viewer reads at its own pace; each job ends with exactly one
//! `JobFinished` event; a waker closure (the UI sets it to `request_repaint`) is called on
//! every state change. Nothing here knows about egui.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};

use super::location::S3Url;
use super::rotate::RotateSelection;
use super::sync::{Direction, SyncFailure, SyncRequest};
use super::transfer::{self, Progress, ProgressSnapshot, TransferCtx, TransferOptions};
use super::{Error, Home};

pub type JobId = u64;

/// Called whenever a job changes state, from a worker thread.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// What a job does.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    Upload {
        connection: String,
        src: PathBuf,
        dest: S3Url,
        key_label: String,
    },
    Download {
        connection: String,
        src: S3Url,
        dest: PathBuf,
        /// None: the key the registry records for the object.
        key_label: Option<String>,
    },
    /// Continue an interrupted multipart upload (registry object id).
    Resume { object_id: i64 },
    /// Ask the server about registered objects with their keys (all, or one key's);
    /// `deep` also reads them and compares the recorded SHA-256.
    Verify {
        deep: bool,
        key_label: Option<String>,
    },
    /// Re-encrypt what a selection takes with another key on the server.
    Rotate {
        selection: RotateSelection,
        to_label: String,
    },
    /// Move what a selection takes off SSE-C (SSE-S3, SSE-KMS or none), in place.
    Migrate {
        selection: RotateSelection,
        target: super::migrate::Target,
    },
    /// A folder both ways: planned when it starts (the plan shown before was a preview),
    /// then its files moved many at once (`sync::run`).
    Sync { request: Box<SyncRequest> },
}

impl JobSpec {
    /// One line for lists: "report.pdf -> s3://bucket/report.pdf".
    pub fn describe(&self) -> String {
        match self {
            JobSpec::Upload { src, dest, .. } => format!("{} -> {dest}", src.display()),
            JobSpec::Download { src, dest, .. } => format!("{src} -> {}", dest.display()),
            JobSpec::Resume { object_id } => format!("resume upload #{object_id}"),
            JobSpec::Verify { deep, key_label } => format!(
                "{} of {}",
                if *deep { "deep verify" } else { "verify" },
                key_label
                    .as_deref()
                    .map(|l| format!("the objects of key \"{l}\""))
                    .unwrap_or_else(|| "every object".into())
            ),
            JobSpec::Rotate {
                selection,
                to_label,
            } => format!(
                "rotate {} to key \"{to_label}\"",
                describe_selection(selection)
            ),
            JobSpec::Migrate { selection, target } => format!(
                "migrate {} off SSE-C to {target}",
                describe_selection(selection)
            ),
            JobSpec::Sync { request } => {
                let what = match (request.direction, request.everything) {
                    (_, false) => "sync",
                    (Direction::Up, true) => "upload folder",
                    (Direction::Down, true) => "download folder",
                };
                let only = request
                    .only
                    .as_ref()
                    .map(|o| format!(" ({} selected)", o.len()))
                    .unwrap_or_default();
                format!("{what} {}{only}", request.describe())
            }
        }
    }

    pub fn is_upload(&self) -> bool {
        matches!(self, JobSpec::Upload { .. } | JobSpec::Resume { .. })
    }

    /// Whether progress counts objects rather than bytes.
    pub fn counts_objects(&self) -> bool {
        matches!(
            self,
            JobSpec::Verify { deep: false, .. } | JobSpec::Rotate { .. } | JobSpec::Migrate { .. }
        )
    }
}

/// "3 object(s)", "s3://b/photos/", "every object of a key": what a rotation takes.
fn describe_selection(selection: &RotateSelection) -> String {
    match selection {
        RotateSelection::Ids(ids) => format!("{} object(s)", ids.len()),
        RotateSelection::Object { url, .. } => url.to_string(),
        RotateSelection::Key { within: None, .. } => "every object of a key".into(),
        RotateSelection::Key {
            within: Some(w), ..
        } => format!("the objects of a key under {w}"),
        RotateSelection::Folder { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Queued,
    Running,
    /// Finished well; a one-line summary.
    Done(String),
    /// Finished badly; the error in the user's words.
    Failed(String),
    Cancelled,
}

impl JobState {
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            JobState::Done(_) | JobState::Failed(_) | JobState::Cancelled
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done(_) => "done",
            JobState::Failed(_) => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// A job as a viewer sees it.
#[derive(Debug, Clone)]
pub struct JobView {
    pub id: JobId,
    pub spec: JobSpec,
    /// Jobs started together (a folder) share a group name.
    pub group: Option<String>,
    pub state: JobState,
    pub progress: ProgressSnapshot,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
    /// The files of a folder job that failed, each with why.
    pub failures: Vec<SyncFailure>,
}

/// The one event a job sends when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFinished {
    pub id: JobId,
    pub state: JobState,
}

struct Job {
    id: JobId,
    spec: JobSpec,
    group: Option<String>,
    ctx: TransferCtx,
    status: Mutex<(JobState, Option<Instant>, Option<Instant>)>,
    failures: Mutex<Vec<SyncFailure>>,
}

impl Job {
    fn set(&self, state: JobState) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match state {
            JobState::Running => s.1 = Some(Instant::now()),
            ref st if st.is_finished() => s.2 = Some(Instant::now()),
            _ => {}
        }
        s.0 = state;
    }

    fn view(&self) -> JobView {
        let s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        JobView {
            id: self.id,
            spec: self.spec.clone(),
            group: self.group.clone(),
            state: s.0.clone(),
            progress: self.ctx.progress.snapshot(),
            started: s.1,
            finished: s.2,
            failures: self
                .failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

struct Inner {
    home: Arc<Home>,
    runtime: Handle,
    slots: Arc<Semaphore>,
    options: Mutex<TransferOptions>,
    jobs: Mutex<Vec<Arc<Job>>>,
    next_id: AtomicU64,
    waker: Mutex<Option<Waker>>,
    finished_tx: mpsc::UnboundedSender<JobFinished>,
    finished_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<JobFinished>>,
}

impl Inner {
    fn wake(&self) {
        let waker = self.waker.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(w) = waker {
            w();
        }
    }
}

/// Runs jobs on the runtime; cheap to clone (all clones share the same jobs).
#[derive(Clone)]
pub struct JobManager {
    inner: Arc<Inner>,
}

impl JobManager {
    /// `max_running`: jobs transferring at once; the rest wait in the queue.
    pub fn new(
        home: Arc<Home>,
        runtime: Handle,
        max_running: usize,
        options: TransferOptions,
    ) -> Self {
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                home,
                runtime,
                slots: Arc::new(Semaphore::new(max_running.max(1))),
                options: Mutex::new(options),
                jobs: Mutex::default(),
                next_id: AtomicU64::new(1),
                waker: Mutex::default(),
                finished_tx,
                finished_rx: tokio::sync::Mutex::new(finished_rx),
            }),
        }
    }

    pub fn home(&self) -> &Arc<Home> {
        &self.inner.home
    }

    /// The closure called on every state change (the UI passes `request_repaint`).
    pub fn set_waker(&self, waker: Waker) {
        *self.inner.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(waker);
    }

    /// Options for jobs started from now on.
    pub fn set_options(&self, options: TransferOptions) {
        *self.inner.options.lock().unwrap_or_else(|p| p.into_inner()) = options;
    }

    pub fn start(&self, spec: JobSpec) -> JobId {
        self.start_in_group(spec, None)
    }

    /// Starts a job that belongs to a group (the files of one folder).
    pub fn start_in_group(&self, spec: JobSpec, group: Option<String>) -> JobId {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let options = self
            .inner
            .options
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let job = Arc::new(Job {
            id,
            spec,
            group,
            ctx: TransferCtx::new(options),
            status: Mutex::new((JobState::Queued, None, None)),
            failures: Mutex::default(),
        });
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job.clone());
        let inner = self.inner.clone();
        self.inner.runtime.spawn(async move {
            let permit = tokio::select! {
                p = inner.slots.clone().acquire_owned() => p.ok(),
                () = job.ctx.cancel.cancelled() => None,
            };
            let state = match permit {
                None => JobState::Cancelled,
                Some(_permit) => {
                    job.set(JobState::Running);
                    inner.wake();
                    match run(&inner.home, &job).await {
                        Ok(summary) => JobState::Done(summary),
                        Err(Error::Cancelled) => JobState::Cancelled,
                        Err(e) => JobState::Failed(e.to_string()),
                    }
                }
            };
            job.set(state.clone());
            let _ = inner.finished_tx.send(JobFinished { id: job.id, state });
            inner.wake();
        });
        self.inner.wake();
        id
    }

    /// Starts one upload job per planned file (see `transfer::plan_upload`), all with the
    /// same connection and key; the files of one folder share a group.
    pub fn start_uploads(
        &self,
        plan: Vec<super::transfer::PlannedUpload>,
        connection: &str,
        key_label: &str,
    ) -> Vec<JobId> {
        plan.into_iter()
            .map(|p| {
                self.start_in_group(
                    JobSpec::Upload {
                        connection: connection.to_string(),
                        src: p.src,
                        dest: p.dest,
                        key_label: key_label.to_string(),
                    },
                    p.group,
                )
            })
            .collect()
    }

    pub fn cancel(&self, id: JobId) {
        if let Some(job) = self.find(id) {
            job.ctx.cancel.cancel();
        }
    }

    pub fn cancel_all(&self) {
        for job in self
            .inner
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            job.ctx.cancel.cancel();
        }
    }

    /// Starts a failed or cancelled job again as a new job; None if it is not retryable.
    pub fn retry(&self, id: JobId) -> Option<JobId> {
        let job = self.find(id)?;
        let state = job.view().state;
        matches!(state, JobState::Failed(_) | JobState::Cancelled)
            .then(|| self.start_in_group(job.spec.clone(), job.group.clone()))
    }

    /// Starts a folder job again for only the files that failed in it; None if none did.
    pub fn retry_failed(&self, id: JobId) -> Option<JobId> {
        let view = self.find(id)?.view();
        let JobSpec::Sync { request } = &view.spec else {
            return None;
        };
        let only: Vec<String> = view
            .failures
            .iter()
            .filter(|f| !f.rel.is_empty())
            .map(|f| format!("{}{}", request.prefix, f.rel))
            .collect();
        (!only.is_empty()).then(|| {
            self.start(JobSpec::Sync {
                request: Box::new(SyncRequest {
                    only: Some(only),
                    ..(**request).clone()
                }),
            })
        })
    }

    pub fn jobs(&self) -> Vec<JobView> {
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|j| j.view())
            .collect()
    }

    /// Forgets the finished jobs (the Transfers list's "Clear finished"); how many.
    pub fn clear_finished(&self) -> usize {
        let mut jobs = self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let before = jobs.len();
        jobs.retain(|j| !j.view().state.is_finished());
        before - jobs.len()
    }

    pub fn job(&self, id: JobId) -> Option<JobView> {
        self.find(id).map(|j| j.view())
    }

    /// The live progress of a job (for watchers that sample it themselves).
    pub fn progress(&self, id: JobId) -> Option<Arc<Progress>> {
        self.find(id).map(|j| j.ctx.progress.clone())
    }

    pub fn running(&self) -> usize {
        self.jobs()
            .iter()
            .filter(|j| !j.state.is_finished())
            .count()
    }

    /// Finished events not yet taken, without waiting (for the UI's frame loop).
    pub fn take_finished(&self) -> Vec<JobFinished> {
        let mut out = Vec::new();
        if let Ok(mut rx) = self.inner.finished_rx.try_lock() {
            while let Ok(ev) = rx.try_recv() {
                out.push(ev);
            }
        }
        out
    }

    /// Waits for the next finished event (for the CLI).
    pub async fn next_finished(&self) -> Option<JobFinished> {
        self.inner.finished_rx.lock().await.recv().await
    }

    fn find(&self, id: JobId) -> Option<Arc<Job>> {
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|j| j.id == id)
            .cloned()
    }
}

async fn run(home: &Home, job: &Job) -> Result<String, Error> {
    match &job.spec {
        JobSpec::Upload {
            connection,
            src,
            dest,
            key_label,
        } => {
            let conn = home.resolve_connection(Some(connection))?;
            let rec = transfer::upload(&job.ctx, home, &conn, src, dest, key_label).await?;
            let since = match rec.state {
                super::registry::ObjectState::Replaced => {
                    "; another upload replaced it on the server since"
                }
                super::registry::ObjectState::OldVersion => {
                    "; a later upload is the current version on the server"
                }
                _ => "",
            };
            Ok(format!(
                "uploaded {} to {} with key \"{key_label}\"{since}",
                super::human_bytes(rec.size.unwrap_or(0)),
                rec.url()
            ))
        }
        JobSpec::Download {
            connection,
            src,
            dest,
            key_label,
        } => {
            let conn = home.resolve_connection(Some(connection))?;
            let report =
                transfer::download(&job.ctx, home, &conn, src, dest, key_label.as_deref()).await?;
            Ok(format!(
                "downloaded {} to {}{}",
                super::human_bytes(report.bytes),
                report.path.display(),
                report
                    .key_label
                    .map(|l| format!(" with key \"{l}\""))
                    .unwrap_or_else(|| " (not encrypted)".into())
            ))
        }
        JobSpec::Verify { deep, key_label } => {
            let opts = super::verify::VerifyOptions {
                deep: *deep,
                key_label: key_label.clone(),
                ..Default::default()
            };
            Ok(home.verify(&job.ctx, &opts).await?.summary())
        }
        JobSpec::Rotate {
            selection,
            to_label,
        } => {
            let opts = super::rotate::RotateOptions::default();
            home.rotate(&job.ctx, selection, to_label, &opts, &mut |_| {})
                .await?
                .into_result()
        }
        JobSpec::Migrate { selection, target } => home
            .migrate(&job.ctx, selection, target, &mut |_| {})
            .await?
            .into_result(),
        JobSpec::Sync { request } => {
            let plan = job.ctx.or_cancel(super::sync::plan(home, request)).await?;
            let report =
                super::sync::run(&job.ctx, home, &plan, super::sync::FILES_AT_ONCE).await?;
            *job.failures.lock().unwrap_or_else(|p| p.into_inner()) = report.failed.clone();
            report.into_result().map(|r| r.summary())
        }
        JobSpec::Resume { object_id } => {
            let rec = transfer::resume(&job.ctx, home, *object_id).await?;
            Ok(format!(
                "completed the upload of {} ({})",
                rec.url(),
                super::human_bytes(rec.size.unwrap_or(0))
            ))
        }
    }
}

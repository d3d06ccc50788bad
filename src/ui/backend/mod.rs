//! The window's worker: every command that touches SQLite, the keyring or the network runs
//! here, on the tokio runtime, and its result comes back as an `Event` that the UI drains
//! once per frame. The UI never waits on any of it (STYLE.md: commands go through one
//! channel and are executed in one place).
//!
//! Each command is one call of a core operation; the handlers only turn its result into
//! events. They are grouped by what they touch: `keys`, `connections`, `objects`.

mod connections;
mod keys;
mod objects;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

use tokio::runtime::Handle;
use zeroize::Zeroizing;

pub use crate::core::bucket::Entry;
use crate::core::connections::NewConnection;
use crate::core::jobs::{JobManager, Waker};
use crate::core::location::S3Url;
use crate::core::registry::{ConnectionRecord, ObjectRecord};
use crate::core::scan::ObjectKind;
use crate::core::transfer::TransferOptions;
use crate::core::{Error, Home};

/// A key row as the Keys table shows it.
pub type KeyRow = crate::core::keys::KeyListing;

#[derive(Debug)]
pub enum Command {
    Refresh,
    /// Register the keys found in the keyring whose registry is gone.
    AdoptKeys,
    /// Ask the server about uploads in doubt and interrupted rotations (reconcile).
    Reconcile,
    GenerateKey {
        label: String,
    },
    ImportKey {
        label: String,
        bytes: Zeroizing<Vec<u8>>,
        origin: String,
    },
    ImportKeyFile {
        label: String,
        path: PathBuf,
    },
    ExportKey {
        label: String,
        path: PathBuf,
    },
    /// The seed's env lines, for the clipboard.
    KeyEnvLines {
        label: String,
    },
    /// The base64 key, for an explicit reveal.
    RevealKey {
        label: String,
    },
    /// Delete a key, accepting as lost exactly the objects the dialog showed (registry ids);
    /// the core refuses if they changed since.
    DeleteKey {
        label: String,
        fingerprint: crate::core::key::KeyFingerprint,
        shown: Vec<i64>,
    },
    /// Objects a key still protects, for the delete dialog.
    KeyDependents {
        label: String,
    },
    AddConnection {
        spec: NewConnection,
        secret: Option<Zeroizing<String>>,
    },
    UpdateConnection {
        record: ConnectionRecord,
        secret: Option<Zeroizing<String>>,
    },
    RemoveConnection {
        name: String,
    },
    TestConnection {
        name: String,
    },
    ListBuckets {
        connection: String,
    },
    /// One level under the prefix, or with `all` every object below it.
    ListObjects {
        connection: String,
        bucket: String,
        prefix: String,
        all: bool,
    },
    DeleteObject {
        connection: String,
        url: S3Url,
    },
    /// Classify objects with HEADs (plain, which key, unknown key).
    CheckObjects {
        connection: String,
        bucket: String,
        keys: Vec<String>,
    },
    /// All keys into a new age file (passphrase), checked by reading it back.
    BackupKeys {
        path: PathBuf,
        passphrase: Zeroizing<String>,
    },
    RestoreKeys {
        path: PathBuf,
        passphrase: Zeroizing<String>,
    },
    /// Files or folders dropped on the window, into `bucket`/`prefix`: planned on the
    /// worker (a folder keeps its name) and queued as one job per file.
    Upload {
        files: Vec<PathBuf>,
        connection: String,
        bucket: String,
        prefix: String,
        key: String,
    },
    /// Abort an interrupted multipart upload (registry object id).
    AbortUpload {
        object_id: i64,
    },
    /// Scan bucket/prefix (HEADs) and record the objects found under our keys.
    ScanAdopt {
        connection: String,
        bucket: String,
        prefix: String,
    },
    /// Check a bucket: transport, encryption rules, SSE-C enforcement probe.
    Preflight {
        connection: String,
        bucket: String,
        /// Unblock SSE-C on the bucket first (PutBucketEncryption).
        allow_sse_c: bool,
    },
    /// Rotate-away old versions of a key, deleted on the user's explicit request: exactly
    /// the `count` the dialog showed, or nothing.
    DeleteOldVersions {
        scope: crate::core::registry::ObjectScope,
        count: u64,
    },
    /// The audit report into a file (Markdown, JSON or CSV by the file's extension).
    ExportAudit {
        path: PathBuf,
    },
    /// The registry's current rows of these objects of a bucket (what the listing shows).
    Registered {
        connection: String,
        bucket: String,
        keys: Vec<String>,
    },
    /// How many objects a rotation or migration would take, and the first few.
    PreviewTargets {
        scope: crate::core::registry::ObjectScope,
    },
    /// The next page of a finding's objects (the audit holds the first page of each).
    FindingPage {
        index: usize,
        scope: crate::core::registry::ObjectScope,
        after: i64,
    },
    /// What a sync would do (answered by `SyncPlanned`); nothing moves.
    PlanSync {
        request: Box<crate::core::sync::SyncRequest>,
    },
    /// Remember a folder pairing to run it again from the Objects screen.
    SaveSyncPair {
        request: Box<crate::core::sync::SyncRequest>,
    },
    /// Keys into a new age file for the recipients (one per line, as pasted or read from a
    /// keys file), with the manifest of their objects if asked.
    ShareKeys {
        labels: Vec<String>,
        recipients: String,
        manifest: bool,
        path: PathBuf,
    },
    /// Open a key share with an identity file (passphrase for a protected SSH key).
    ReceiveKeys {
        path: PathBuf,
        identity: PathBuf,
        passphrase: Zeroizing<String>,
    },
    /// Make a key the default of a bucket folder (None: remove the folder's default).
    SetDefaultKey {
        connection: String,
        bucket: String,
        prefix: String,
        label: Option<String>,
    },
    /// A presigned GET with its curl recipe, for the clipboard.
    PresignRecipe {
        connection: String,
        url: S3Url,
    },
}

/// How many more objects of a finding "Show more" reads.
pub const FINDING_PAGE: usize = 500;

#[derive(Debug)]
pub enum Event {
    /// The home is open (or could not be).
    Opened(Result<PathBuf, String>),
    /// The keyring answered, or why it cannot.
    Keyring(Result<String, String>),
    Keys(Vec<KeyRow>),
    /// Keys of this application in the keyring whose registry is gone: (label, fingerprint).
    Orphans(Vec<(String, String)>),
    Connections(Vec<ConnectionRecord>),
    /// A refresh is complete: keys, connections and the audit are in. With it, the bucket of
    /// the newest registered object (where an upload goes when nothing else says).
    Refreshed {
        last_bucket: Option<String>,
    },
    Preflight(Result<Box<crate::core::preflight::PreflightReport>, String>),
    /// The audit of what the registry and the keyring hold (sent before `Objects`).
    Audit(Box<crate::core::audit::AuditReport>),
    /// The answer to `PreviewTargets`: the count and the first rows (s3 URL, key label).
    TargetsPreview {
        scope: crate::core::registry::ObjectScope,
        count: u64,
        first: Vec<(String, Option<String>)>,
    },
    /// The next page of the objects of the audit's finding `index` ((id, name) in order).
    FindingPage {
        index: usize,
        scope: crate::core::registry::ObjectScope,
        rows: Result<Vec<(i64, String)>, String>,
    },
    /// Multipart uploads begun and not finished (resumable).
    Interrupted(Vec<crate::core::registry::MultipartRecord>),
    Info(String),
    Error(String),
    /// The open dialog's operation succeeded (it closes; the text is shown).
    DialogDone(String),
    /// The open dialog's operation failed: the dialog shows it and keeps its input.
    DialogFailed(String),
    /// A connection test's answer: the buckets it sees, or why it failed.
    Tested {
        name: String,
        result: std::result::Result<usize, String>,
    },
    EnvLines {
        label: String,
        text: Zeroizing<String>,
    },
    Revealed {
        label: String,
        base64: Zeroizing<String>,
    },
    /// What a key protects: every registry id, and the first ones' "connection: s3://bucket/key".
    Dependents {
        label: String,
        ids: Vec<i64>,
        first: Vec<String>,
    },
    KeyCreated {
        label: String,
    },
    Buckets {
        connection: String,
        buckets: Result<Vec<String>, String>,
    },
    Listing {
        connection: String,
        bucket: String,
        prefix: String,
        /// Every object below the prefix, not one level.
        all: bool,
        entries: Result<Vec<Entry>, String>,
        /// Still more pages coming.
        partial: bool,
        /// The registry's current rows of the objects this page added (`current_rows`).
        registered: Vec<ObjectRecord>,
    },
    /// The registry's current rows of the objects a listing shows, read again (a refresh):
    /// for each of `keys`, its row in `rows` or none any more.
    Registered {
        connection: String,
        bucket: String,
        keys: Vec<String>,
        rows: std::collections::HashMap<String, ObjectRecord>,
    },
    Checked {
        connection: String,
        bucket: String,
        results: Vec<(String, ObjectKind)>,
    },
    SyncPlanned(Result<Box<crate::core::sync::SyncPlan>, String>),
    SyncPairs(Vec<crate::core::registry::SyncPair>),
    /// The default keys of buckets and folders.
    Defaults(Vec<crate::core::registry::DefaultKey>),
    /// A curl recipe to copy (it holds no key: the key comes from $SSE_KEY/$SSE_MD5).
    Recipe(String),
}

/// Sends commands to the worker and hands their events back.
pub struct Backend {
    runtime: Handle,
    home: Arc<tokio::sync::OnceCell<Arc<Home>>>,
    events_tx: mpsc::Sender<Event>,
    events_rx: mpsc::Receiver<Event>,
    waker: Waker,
    jobs: Arc<std::sync::OnceLock<JobManager>>,
    refreshes: Arc<RefreshGate>,
}

/// At most one refresh runs at a time; the requests made meanwhile fold into one more run
/// after it (a folder of small files finishes many jobs a second: each asked for a refresh,
/// and each refresh reads the registry's sums).
#[derive(Default)]
struct RefreshGate(std::sync::Mutex<(bool, bool)>);

impl RefreshGate {
    /// Whether this caller should run the refresh (none running); else it is noted.
    fn enter(&self) -> bool {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 {
            s.1 = true;
            return false;
        }
        s.0 = true;
        true
    }

    /// Whether to run once more (asked for while running); else the gate opens.
    fn again(&self) -> bool {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if s.1 {
            s.1 = false;
            return true;
        }
        s.0 = false;
        false
    }
}

impl Backend {
    /// Opens the home on a worker; `waker` is called after every event.
    pub fn new(home_dir: PathBuf, runtime: Handle, waker: Waker) -> Self {
        let (events_tx, events_rx) = mpsc::channel();
        let backend = Self {
            runtime,
            home: Arc::default(),
            events_tx,
            events_rx,
            waker,
            jobs: Arc::default(),
            refreshes: Arc::default(),
        };
        let worker = backend.worker();
        backend
            .runtime
            .spawn(async move { worker.open(home_dir).await });
        backend
    }

    /// The job manager, once the home is open.
    pub fn jobs(&self) -> Option<&JobManager> {
        self.jobs.get()
    }

    pub fn send(&self, command: Command) {
        let worker = self.worker();
        self.runtime.spawn(async move {
            let Some(home) = worker.home.get().cloned() else {
                return worker.send(Event::Error(
                    "the registry is not open yet; try again in a moment".into(),
                ));
            };
            worker.execute(home, command).await;
        });
    }

    /// Events since the last call.
    pub fn drain(&self) -> Vec<Event> {
        self.events_rx.try_iter().collect()
    }

    fn worker(&self) -> Worker {
        Worker {
            runtime: self.runtime.clone(),
            home: self.home.clone(),
            tx: self.events_tx.clone(),
            waker: self.waker.clone(),
            jobs: self.jobs.clone(),
            refreshes: self.refreshes.clone(),
        }
    }
}

/// Runs commands on the runtime and sends their events.
#[derive(Clone)]
struct Worker {
    runtime: Handle,
    home: Arc<tokio::sync::OnceCell<Arc<Home>>>,
    tx: mpsc::Sender<Event>,
    waker: Waker,
    jobs: Arc<std::sync::OnceLock<JobManager>>,
    refreshes: Arc<RefreshGate>,
}

impl Worker {
    fn send(&self, event: Event) {
        let _ = self.tx.send(event);
        (self.waker)();
    }

    /// Sends `Info(done)` or the error.
    fn report<T>(&self, result: Result<T, String>, done: impl FnOnce(T) -> String) {
        match result {
            Ok(v) => self.send(Event::Info(done(v))),
            Err(e) => self.send(Event::Error(e)),
        }
    }

    /// Opens the home, starts the job manager, asks the keyring, loads everything.
    async fn open(&self, home_dir: PathBuf) {
        let dir = home_dir.clone();
        let opened = tokio::task::spawn_blocking(move || Home::open(&dir)).await;
        let home = match opened {
            Ok(Ok(h)) => Arc::new(h),
            Ok(Err(e)) => return self.send(Event::Opened(Err(e.to_string()))),
            Err(e) => return self.send(Event::Opened(Err(e.to_string()))),
        };
        let manager = JobManager::new(
            home.clone(),
            self.runtime.clone(),
            3,
            TransferOptions::default(),
        );
        manager.set_waker(self.waker.clone());
        let _ = self.jobs.set(manager);
        let _ = self.home.set(home.clone());
        self.send(Event::Opened(Ok(home_dir)));
        let keyring = self.blocking(&home, |h| Ok(h.secrets()?.describe())).await;
        let found = keyring.is_ok();
        self.send(Event::Keyring(keyring));
        self.refresh(&home).await;
        if found {
            self.orphans(&home).await;
        }
        // What the registry does not know for sure is asked of the server at start-up.
        self.reconcile(&home, false).await;
    }

    /// Reconciles; says what it settled (or, when `always_say`, that nothing needed it).
    async fn reconcile(&self, home: &Arc<Home>, always_say: bool) {
        let pending = self
            .blocking(home, |h| {
                Ok(!h.registry.unsettled()?.is_empty()
                    || !h.registry.abandoned_rotations()?.is_empty()
                    || !h.registry.abandoned_migrations()?.is_empty())
            })
            .await;
        if !matches!(pending, Ok(true)) && !always_say {
            return;
        }
        let ctx = crate::core::transfer::TransferCtx::new(TransferOptions::default());
        match home.reconcile(&ctx).await {
            Ok(r) if r.unsettled.is_empty() => {
                self.send(Event::Info(format!("Asked the server: {}", r.summary())))
            }
            Ok(r) => self.send(Event::Error(format!(
                "Asked the server: {}; their keys stay protected. First: {}",
                r.summary(),
                r.unsettled[0]
            ))),
            Err(e) => self.send(Event::Error(e.to_string())),
        }
        self.refresh(home).await;
    }

    /// Runs blocking core work (SQLite, keyring) off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        home: &Arc<Home>,
        f: impl FnOnce(&Home) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, String> {
        let h = home.clone();
        match tokio::task::spawn_blocking(move || f(&h)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(format!("internal error: {e}")),
        }
    }

    /// Everything the screens show from the registry and the keyring, sent again; while a
    /// refresh runs, asking again makes it run once more after (see `RefreshGate`).
    async fn refresh(&self, home: &Arc<Home>) {
        if !self.refreshes.enter() {
            return;
        }
        loop {
            self.refresh_once(home).await;
            if !self.refreshes.again() {
                return;
            }
        }
    }

    async fn refresh_once(&self, home: &Arc<Home>) {
        let send = |r: Result<Event, String>| match r {
            Ok(ev) => self.send(ev),
            Err(e) => self.send(Event::Error(e)),
        };
        // Keys and audit from one read of the registry's sums.
        let (keys, audit) = match self.blocking(home, |h| h.keys_and_audit()).await {
            Ok((keys, audit)) => (Ok(Event::Keys(keys)), Ok(Event::Audit(Box::new(audit)))),
            Err(e) => (Err(e.clone()), Err(e)),
        };
        send(keys);
        send(
            self.blocking(home, |h| Ok(Event::Connections(h.registry.connections()?)))
                .await,
        );
        send(
            self.blocking(home, |h| {
                Ok(Event::Interrupted(h.registry.interrupted_uploads()?))
            })
            .await,
        );
        send(audit);
        send(
            self.blocking(home, |h| Ok(Event::SyncPairs(h.registry.sync_pairs()?)))
                .await,
        );
        send(
            self.blocking(home, |h| Ok(Event::Defaults(h.default_keys()?)))
                .await,
        );
        // The window asks for the rows of what it lists (`Registered`), never every row.
        let last_bucket = self
            .blocking(home, |h| Ok(h.registry.last_bucket()?))
            .await
            .unwrap_or_default();
        self.send(Event::Refreshed { last_bucket });
    }

    /// Runs a command whose only answer is "done" or an error, then refreshes.
    async fn simple(
        &self,
        home: &Arc<Home>,
        done: String,
        f: impl FnOnce(&Home) -> Result<(), Error> + Send + 'static,
    ) {
        let result = self.blocking(home, f).await;
        self.report(result, |()| done);
        self.refresh(home).await;
    }

    async fn execute(&self, home: Arc<Home>, command: Command) {
        use Command as C;
        match command {
            C::Refresh => self.refresh(&home).await,
            C::Reconcile => self.reconcile(&home, true).await,
            C::AdoptKeys => self.adopt_keys(&home).await,
            C::GenerateKey { label } => self.generate_key(&home, label).await,
            C::ImportKey {
                label,
                bytes,
                origin,
            } => self.import_key(&home, label, bytes, origin).await,
            C::ImportKeyFile { label, path } => self.import_key_file(&home, label, path).await,
            C::ExportKey { label, path } => self.export_key(&home, label, path).await,
            C::KeyEnvLines { label } => self.key_env_lines(&home, label).await,
            C::RevealKey { label } => self.reveal_key(&home, label).await,
            C::KeyDependents { label } => self.key_dependents(&home, label).await,
            C::DeleteKey {
                label,
                fingerprint,
                shown,
            } => self.delete_key(&home, label, fingerprint, shown).await,
            C::BackupKeys { path, passphrase } => self.backup_keys(&home, path, passphrase).await,
            C::RestoreKeys { path, passphrase } => self.restore_keys(&home, path, passphrase).await,
            C::AddConnection { spec, secret } => self.add_connection(&home, spec, secret).await,
            C::UpdateConnection { record, secret } => {
                self.update_connection(&home, record, secret).await
            }
            C::RemoveConnection { name } => self.remove_connection(&home, name).await,
            C::TestConnection { name } => self.test_connection(&home, name).await,
            C::ListBuckets { connection } => self.list_buckets(&home, connection).await,
            C::ListObjects {
                connection,
                bucket,
                prefix,
                all,
            } => {
                self.list_objects(&home, (connection, bucket), prefix, all)
                    .await
            }
            C::CheckObjects {
                connection,
                bucket,
                keys,
            } => self.check_objects(&home, connection, bucket, keys).await,
            C::ScanAdopt {
                connection,
                bucket,
                prefix,
            } => self.scan_adopt(&home, connection, bucket, prefix).await,
            C::Preflight {
                connection,
                bucket,
                allow_sse_c,
            } => self.preflight(&home, connection, bucket, allow_sse_c).await,
            C::DeleteObject { connection, url } => self.delete_object(&home, connection, url).await,
            C::DeleteOldVersions { scope, count } => {
                self.delete_old_versions(&home, scope, count).await
            }
            C::Upload {
                files,
                connection,
                bucket,
                prefix,
                key,
            } => self.upload(files, connection, bucket, prefix, key).await,
            C::AbortUpload { object_id } => self.abort_upload(&home, object_id).await,
            C::ExportAudit { path } => self.export_audit(&home, path).await,
            C::Registered {
                connection,
                bucket,
                keys,
            } => self.registered(&home, connection, bucket, keys).await,
            C::PreviewTargets { scope } => self.preview_targets(&home, scope).await,
            C::FindingPage {
                index,
                scope,
                after,
            } => self.finding_page(&home, index, scope, after).await,
            C::PlanSync { request } => {
                let plan = crate::core::sync::plan(&home, &request).await;
                self.send(Event::SyncPlanned(
                    plan.map(Box::new).map_err(|e| e.to_string()),
                ));
            }
            C::ShareKeys {
                labels,
                recipients,
                manifest,
                path,
            } => {
                self.share_keys(&home, labels, recipients, manifest, path)
                    .await
            }
            C::ReceiveKeys {
                path,
                identity,
                passphrase,
            } => self.receive_keys(&home, path, identity, passphrase).await,
            C::SetDefaultKey {
                connection,
                bucket,
                prefix,
                label,
            } => {
                self.set_default_key(&home, connection, bucket, prefix, label)
                    .await
            }
            C::PresignRecipe { connection, url } => {
                let expires = std::time::Duration::from_secs(3600);
                match home
                    .presign(Some(&connection), &url, false, None, expires)
                    .await
                {
                    Ok(p) => self.send(Event::Recipe(p.recipe(url.file_name()))),
                    Err(e) => self.send(Event::Error(e.to_string())),
                }
            }
            C::SaveSyncPair { request } => {
                let saved = self
                    .blocking(&home, move |h| {
                        let conn = h.resolve_connection(Some(&request.connection))?;
                        h.registry.save_sync_pair(
                            &request.local,
                            &conn,
                            &request.bucket,
                            &request.prefix,
                            request.key_label.as_deref().unwrap_or_default(),
                        )?;
                        Ok(Event::SyncPairs(h.registry.sync_pairs()?))
                    })
                    .await;
                match saved {
                    Ok(ev) => self.send(ev),
                    Err(e) => self.send(Event::Error(e.to_string())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RefreshGate;

    #[test]
    fn refreshes_asked_for_while_one_runs_fold_into_one_more() {
        let gate = RefreshGate::default();
        assert!(gate.enter(), "nothing running: this caller runs it");
        assert!(!gate.enter(), "one running: noted, not run beside it");
        assert!(!gate.enter(), "a third request folds into the same one");
        assert!(gate.again(), "the running refresh runs once more");
        assert!(!gate.again(), "and then the gate opens");
        assert!(gate.enter());
        assert!(!gate.again());
    }
}

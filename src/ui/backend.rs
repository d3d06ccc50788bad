//! The window's worker: every command that touches SQLite, the keyring or the network runs
//! here, on the tokio runtime, and its result comes back as an `Event` that the UI drains
//! once per frame. The UI never waits on any of it (STYLE.md: commands go through one
//! channel and are executed in one place).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

use tokio::runtime::Handle;
use zeroize::Zeroizing;

use crate::core::jobs::{JobManager, Waker};
use crate::core::registry::{ConnectionRecord, KeySummary, ObjectRecord};
use crate::core::s3::{Op, S3Url, client_for, sdk_error};
use crate::core::scan::{ObjectKind, classify};
use crate::core::transfer::TransferOptions;
use crate::core::{Error, Home};

/// A key row as the Keys table shows it.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub summary: KeySummary,
    /// None: the keyring could not be asked.
    pub in_keyring: Option<bool>,
}

/// One entry of a bucket listing.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Prefix(String),
    Object {
        key: String,
        size: u64,
        modified: String,
    },
}

#[derive(Debug)]
pub enum Command {
    Refresh,
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
    DeleteKey {
        label: String,
        force: bool,
    },
    /// Objects a key still protects, for the delete dialog.
    KeyDependents {
        label: String,
    },
    AddConnection {
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
    ListObjects {
        connection: String,
        bucket: String,
        prefix: String,
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
    UpdateConnection {
        record: ConnectionRecord,
        secret: Option<Zeroizing<String>>,
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
    /// Rotate-away old versions, deleted on the user's explicit request (registry ids).
    DeleteOldVersions {
        ids: Vec<i64>,
    },
    /// The audit report into a file (Markdown, JSON or CSV by the file's extension).
    ExportAudit {
        path: PathBuf,
    },
}

#[derive(Debug)]
pub enum Event {
    /// The home is open (or could not be).
    Opened(Result<PathBuf, String>),
    /// The keyring answered, or why it cannot.
    Keyring(Result<String, String>),
    Keys(Vec<KeyRow>),
    Connections(Vec<ConnectionRecord>),
    Objects(Vec<ObjectRecord>),
    Preflight(Result<Box<crate::core::preflight::PreflightReport>, String>),
    /// The audit of what the registry and the keyring hold (sent before `Objects`).
    Audit(Box<crate::core::audit::AuditReport>),
    /// Multipart uploads begun and not finished (resumable).
    Interrupted(Vec<crate::core::registry::MultipartRecord>),
    Info(String),
    Error(String),
    EnvLines {
        label: String,
        text: Zeroizing<String>,
    },
    Revealed {
        label: String,
        base64: Zeroizing<String>,
    },
    Dependents {
        label: String,
        objects: Vec<String>,
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
        entries: Result<Vec<Entry>, String>,
        /// Still more pages coming.
        partial: bool,
    },
    Checked {
        connection: String,
        bucket: String,
        results: Vec<(String, ObjectKind)>,
    },
}

/// Sends commands to the worker and hands their events back.
pub struct Backend {
    runtime: Handle,
    home: Arc<tokio::sync::OnceCell<Arc<Home>>>,
    events_tx: mpsc::Sender<Event>,
    events_rx: mpsc::Receiver<Event>,
    waker: Waker,
    jobs: Arc<std::sync::OnceLock<JobManager>>,
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
        };
        let ctx = backend.worker();
        backend.runtime.spawn(async move {
            let dir = home_dir.clone();
            let opened = tokio::task::spawn_blocking(move || Home::open(&dir)).await;
            let home = match opened {
                Ok(Ok(h)) => Arc::new(h),
                Ok(Err(e)) => return ctx.send(Event::Opened(Err(e.to_string()))),
                Err(e) => return ctx.send(Event::Opened(Err(e.to_string()))),
            };
            let manager = JobManager::new(
                home.clone(),
                ctx.runtime.clone(),
                3,
                TransferOptions::default(),
            );
            manager.set_waker(ctx.waker.clone());
            let _ = ctx.jobs.set(manager);
            let _ = ctx.home.set(home.clone());
            ctx.send(Event::Opened(Ok(home_dir)));
            let h = home.clone();
            let keyring =
                tokio::task::spawn_blocking(move || h.secrets().map(|s| s.describe())).await;
            ctx.send(Event::Keyring(match keyring {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }));
            ctx.refresh(&home).await;
        });
        backend
    }

    /// The job manager, once the home is open.
    pub fn jobs(&self) -> Option<&JobManager> {
        self.jobs.get()
    }

    pub fn send(&self, command: Command) {
        let ctx = self.worker();
        self.runtime.spawn(async move {
            let Some(home) = ctx.home.get().cloned() else {
                return ctx.send(Event::Error(
                    "the registry is not open yet; try again in a moment".into(),
                ));
            };
            ctx.execute(home, command).await;
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
        }
    }
}

#[derive(Clone)]
struct Worker {
    runtime: Handle,
    home: Arc<tokio::sync::OnceCell<Arc<Home>>>,
    tx: mpsc::Sender<Event>,
    waker: Waker,
    jobs: Arc<std::sync::OnceLock<JobManager>>,
}

impl Worker {
    fn send(&self, event: Event) {
        let _ = self.tx.send(event);
        (self.waker)();
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

    async fn refresh(&self, home: &Arc<Home>) {
        let rows = self
            .blocking(home, |h| {
                let keys = h.registry.keys()?;
                Ok(keys
                    .into_iter()
                    .map(|k| {
                        let in_keyring = h.key_in_keyring(&k.key.fingerprint).ok();
                        KeyRow {
                            summary: k,
                            in_keyring,
                        }
                    })
                    .collect::<Vec<_>>())
            })
            .await;
        match rows {
            Ok(r) => self.send(Event::Keys(r)),
            Err(e) => self.send(Event::Error(e)),
        }
        match self.blocking(home, |h| Ok(h.registry.connections()?)).await {
            Ok(c) => self.send(Event::Connections(c)),
            Err(e) => self.send(Event::Error(e)),
        }
        match self
            .blocking(home, |h| Ok(h.registry.interrupted_uploads()?))
            .await
        {
            Ok(i) => self.send(Event::Interrupted(i)),
            Err(e) => self.send(Event::Error(e)),
        }
        match self.blocking(home, |h| h.audit()).await {
            Ok(a) => self.send(Event::Audit(Box::new(a))),
            Err(e) => self.send(Event::Error(e)),
        }
        match self.blocking(home, |h| Ok(h.registry.objects()?)).await {
            Ok(o) => self.send(Event::Objects(o)),
            Err(e) => self.send(Event::Error(e)),
        }
    }

    /// Runs a command whose only answer is "done" or an error, then refreshes.
    async fn simple(
        &self,
        home: &Arc<Home>,
        done: String,
        f: impl FnOnce(&Home) -> Result<(), Error> + Send + 'static,
    ) {
        match self.blocking(home, f).await {
            Ok(()) => self.send(Event::Info(done)),
            Err(e) => self.send(Event::Error(e)),
        }
        self.refresh(home).await;
    }

    async fn execute(&self, home: Arc<Home>, command: Command) {
        match command {
            Command::Refresh => self.refresh(&home).await,
            Command::GenerateKey { label } => {
                let l = label.clone();
                match self.blocking(&home, move |h| h.generate_key(&l)).await {
                    Ok(k) => {
                        self.send(Event::KeyCreated { label });
                        self.send(Event::Info(format!(
                            "Generated key \"{}\" ({}). Export a backup before you rely on it.",
                            k.label, k.fingerprint
                        )));
                    }
                    Err(e) => self.send(Event::Error(e)),
                }
                self.refresh(&home).await;
            }
            Command::ImportKey {
                label,
                bytes,
                origin,
            } => {
                let l = label.clone();
                match self
                    .blocking(&home, move |h| h.import_key(&l, &bytes, &origin))
                    .await
                {
                    Ok(k) => {
                        self.send(Event::KeyCreated { label });
                        self.send(Event::Info(format!(
                            "Imported key \"{}\" ({})",
                            k.label, k.fingerprint
                        )));
                    }
                    Err(e) => self.send(Event::Error(e)),
                }
                self.refresh(&home).await;
            }
            Command::ImportKeyFile { label, path } => {
                let bytes = match read_small_file(&path) {
                    Ok(b) => b,
                    Err(e) => return self.send(Event::Error(e)),
                };
                let origin = path.display().to_string();
                Box::pin(self.execute(
                    home,
                    Command::ImportKey {
                        label,
                        bytes,
                        origin,
                    },
                ))
                .await;
            }
            Command::ExportKey { label, path } => {
                let done = format!(
                    "Exported \"{label}\" to {} (mode 0600). Anyone with this file can read \
                     every object it encrypts.",
                    path.display()
                );
                self.simple(&home, done, move |h| {
                    h.export_key(&label, &path).map(|_| ())
                })
                .await;
            }
            Command::KeyEnvLines { label } => {
                let l = label.clone();
                match self.blocking(&home, move |h| h.key_env_lines(&l)).await {
                    Ok(text) => self.send(Event::EnvLines { label, text }),
                    Err(e) => self.send(Event::Error(e)),
                }
            }
            Command::RevealKey { label } => {
                let l = label.clone();
                let revealed = self
                    .blocking(&home, move |h| {
                        let rec = h.key_record(&l)?;
                        let key = h.load_key(&rec)?;
                        h.registry.log_event(
                            "revealed",
                            Some(&rec.fingerprint),
                            None,
                            "shown in the window",
                        )?;
                        Ok(key.to_base64())
                    })
                    .await;
                match revealed {
                    Ok(base64) => self.send(Event::Revealed { label, base64 }),
                    Err(e) => self.send(Event::Error(e)),
                }
            }
            Command::KeyDependents { label } => {
                let l = label.clone();
                let deps = self
                    .blocking(&home, move |h| {
                        let rec = h.key_record(&l)?;
                        Ok(h.registry
                            .dependent_objects(&rec.fingerprint)?
                            .iter()
                            .map(|o| format!("{}: {}", o.connection, o.url()))
                            .collect::<Vec<_>>())
                    })
                    .await;
                match deps {
                    Ok(objects) => self.send(Event::Dependents { label, objects }),
                    Err(e) => self.send(Event::Error(e)),
                }
            }
            Command::DeleteKey { label, force } => {
                let done = format!("Deleted key \"{label}\"");
                self.simple(&home, done, move |h| {
                    h.delete_key(&label, force).map(|_| ())
                })
                .await;
            }
            Command::AddConnection { record, secret } => {
                let done = format!("Added connection \"{}\"", record.name);
                self.simple(&home, done, move |h| {
                    h.add_connection(record, secret.as_deref().map(String::as_str))
                        .map(|_| ())
                })
                .await;
            }
            Command::UpdateConnection { record, secret } => {
                let done = format!("Saved connection \"{}\"", record.name);
                self.simple(&home, done, move |h| {
                    h.update_connection(record, secret.as_deref().map(String::as_str))
                })
                .await;
            }
            Command::CheckObjects {
                connection,
                bucket,
                keys,
            } => self.check_objects(&home, connection, bucket, keys).await,
            Command::ScanAdopt {
                connection,
                bucket,
                prefix,
            } => {
                let scanned = match home.resolve_connection(Some(&connection)) {
                    Ok(conn) => home.scan(&conn, &bucket, &prefix, true).await,
                    Err(e) => Err(e),
                };
                match scanned {
                    Ok(found) => {
                        let adopted = found.iter().filter(|o| o.adopted).count();
                        self.send(Event::Info(format!(
                            "Scanned {} object(s) under s3://{bucket}/{prefix}; recorded {adopted} \
                             found under our keys",
                            found.len()
                        )));
                        self.send(Event::Checked {
                            connection,
                            bucket,
                            results: found.into_iter().map(|o| (o.key, o.kind)).collect(),
                        });
                    }
                    Err(e) => self.send(Event::Error(e.to_string())),
                }
                self.refresh(&home).await;
            }
            Command::Preflight {
                connection,
                bucket,
                allow_sse_c,
            } => {
                let result = async {
                    let conn = home.resolve_connection(Some(&connection))?;
                    if allow_sse_c {
                        crate::core::preflight::allow_sse_c(&home, &conn, &bucket).await?;
                    }
                    crate::core::preflight::preflight(&home, &conn, &bucket).await
                }
                .await;
                self.send(Event::Preflight(
                    result.map(Box::new).map_err(|e| e.to_string()),
                ));
            }
            Command::DeleteOldVersions { ids } => {
                match home.delete_old_versions(&ids).await {
                    Ok(n) => self.send(Event::Info(format!("Deleted {n} old version(s)"))),
                    Err(e) => self.send(Event::Error(e.to_string())),
                }
                self.refresh(&home).await;
            }
            Command::ExportAudit { path } => {
                let shown = path.display().to_string();
                let written = self
                    .blocking(&home, move |h| {
                        let report = h.audit()?;
                        let ext = path
                            .extension()
                            .map(|e| e.to_string_lossy().to_ascii_lowercase())
                            .unwrap_or_default();
                        let text = match ext.as_str() {
                            "json" => serde_json::to_string_pretty(&report)
                                .map_err(|e| Error::Transfer(e.to_string()))?,
                            "csv" => report.to_csv(),
                            _ => report.to_markdown(&h.report_origin()),
                        };
                        crate::core::home::write_replacing(&path, text.as_bytes())
                    })
                    .await;
                match written {
                    Ok(()) => self.send(Event::Info(format!("Wrote the audit report to {shown}"))),
                    Err(e) => self.send(Event::Error(e)),
                }
            }
            Command::AbortUpload { object_id } => {
                match crate::core::transfer::abort_interrupted(&home, object_id).await {
                    Ok(()) => self.send(Event::Info(format!("Aborted upload #{object_id}"))),
                    Err(e) => self.send(Event::Error(e.to_string())),
                }
                self.refresh(&home).await;
            }
            Command::BackupKeys { path, passphrase } => {
                let shown = path.display().to_string();
                match self
                    .blocking(&home, move |h| h.backup_keys(&path, &[], &passphrase))
                    .await
                {
                    Ok(keys) => self.send(Event::Info(format!(
                        "Backed up {} key(s) to {shown} (age, passphrase) and checked it by reading it back",
                        keys.len()
                    ))),
                    Err(e) => self.send(Event::Error(e)),
                }
                self.refresh(&home).await;
            }
            Command::RestoreKeys { path, passphrase } => {
                match self
                    .blocking(&home, move |h| h.restore_keys(&path, &passphrase))
                    .await
                {
                    Ok(r) => self.send(Event::Info(format!(
                        "Restored into the keyring: {}; imported: {}; already present: {}",
                        r.restored.len(),
                        r.imported.len(),
                        r.present.len()
                    ))),
                    Err(e) => self.send(Event::Error(e)),
                }
                self.refresh(&home).await;
            }
            Command::RemoveConnection { name } => {
                let done = format!("Removed connection \"{name}\"");
                self.simple(&home, done, move |h| h.remove_connection(&name))
                    .await;
            }
            Command::TestConnection { name } => match self.list_buckets(&home, &name).await {
                Ok(b) => self.send(Event::Info(format!(
                    "Connection \"{name}\" works: {} bucket(s) visible",
                    b.len()
                ))),
                Err(e) => self.send(Event::Error(format!("Connection \"{name}\": {e}"))),
            },
            Command::ListBuckets { connection } => {
                let buckets = self.list_buckets(&home, &connection).await;
                self.send(Event::Buckets {
                    connection,
                    buckets,
                });
            }
            Command::ListObjects {
                connection,
                bucket,
                prefix,
            } => self.list_objects(&home, connection, bucket, prefix).await,
            Command::DeleteObject { connection, url } => {
                let result = async {
                    let conn = home
                        .resolve_connection(Some(&connection))
                        .map_err(|e| e.to_string())?;
                    let client = client_for(&conn, home.secrets().ok())
                        .await
                        .map_err(|e| e.to_string())?;
                    client
                        .delete_object()
                        .bucket(&url.bucket)
                        .key(&url.key)
                        .send()
                        .await
                        .map_err(|e| {
                            sdk_error(e, Op::Other, &url.to_string(), false).to_string()
                        })?;
                    let h = home.clone();
                    let (c, u) = (conn.clone(), url.clone());
                    tokio::task::spawn_blocking(move || h.registry.mark_object_deleted(&c, &u))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())
                }
                .await;
                match result {
                    Ok(()) => self.send(Event::Info(format!("Deleted {url}"))),
                    Err(e) => self.send(Event::Error(e)),
                }
                self.refresh(&home).await;
            }
        }
    }

    /// HEADs each object without a key, then with each of our keys (the registry's
    /// expected key first); eight objects at a time.
    async fn check_objects(
        &self,
        home: &Arc<Home>,
        connection: String,
        bucket: String,
        keys: Vec<String>,
    ) {
        use futures_util::StreamExt as _;
        let loaded = self
            .blocking(home, |h| {
                let mut out = Vec::new();
                for k in h.registry.keys()? {
                    if let Ok(key) = h.load_key(&k.key) {
                        out.push((k.key.label.clone(), key));
                    }
                }
                Ok(out)
            })
            .await;
        let candidates = match loaded {
            Ok(c) => c,
            Err(e) => return self.send(Event::Error(e)),
        };
        let client = match home.resolve_connection(Some(&connection)) {
            Ok(conn) => client_for(&conn, home.secrets().ok()).await,
            Err(e) => return self.send(Event::Error(e.to_string())),
        };
        let client = match client {
            Ok(c) => c,
            Err(e) => return self.send(Event::Error(e.to_string())),
        };
        let (candidates, client, b) = (&candidates, &client, &bucket);
        let results: Vec<(String, ObjectKind)> = futures_util::stream::iter(keys)
            .map(|k| async move {
                let kind = classify(client, b, &k, candidates).await;
                (k, kind)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        self.send(Event::Info(format!("Checked {} object(s)", results.len())));
        self.send(Event::Checked {
            connection,
            bucket,
            results,
        });
    }

    async fn list_buckets(&self, home: &Arc<Home>, name: &str) -> Result<Vec<String>, String> {
        let conn = home
            .resolve_connection(Some(name))
            .map_err(|e| e.to_string())?;
        let client = client_for(&conn, home.secrets().ok())
            .await
            .map_err(|e| e.to_string())?;
        let target = conn.endpoint.clone().unwrap_or_else(|| "AWS".into());
        let out = client
            .list_buckets()
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Other, &target, false).to_string())?;
        Ok(out
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect())
    }

    /// Lists one level under a prefix, page by page, sending each page as it arrives so a
    /// bucket of many thousand objects shows at once and fills in.
    async fn list_objects(
        &self,
        home: &Arc<Home>,
        connection: String,
        bucket: String,
        prefix: String,
    ) {
        let setup = async {
            let conn = home
                .resolve_connection(Some(&connection))
                .map_err(|e| e.to_string())?;
            client_for(&conn, home.secrets().ok())
                .await
                .map_err(|e| e.to_string())
        };
        let client = match setup.await {
            Ok(c) => c,
            Err(e) => {
                return self.send(Event::Listing {
                    connection,
                    bucket,
                    prefix,
                    entries: Err(e),
                    partial: false,
                });
            }
        };
        let mut token: Option<String> = None;
        let mut entries = Vec::new();
        loop {
            let page = client
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(&prefix)
                .delimiter("/")
                .set_continuation_token(token.clone())
                .send()
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let err = sdk_error(e, Op::Other, &format!("s3://{bucket}/{prefix}"), false);
                    return self.send(Event::Listing {
                        connection,
                        bucket,
                        prefix,
                        entries: Err(err.to_string()),
                        partial: false,
                    });
                }
            };
            for p in page.common_prefixes() {
                if let Some(p) = p.prefix() {
                    entries.push(Entry::Prefix(p.to_string()));
                }
            }
            for o in page.contents() {
                if let Some(k) = o.key() {
                    entries.push(Entry::Object {
                        key: k.to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        modified: o
                            .last_modified()
                            .map(|t| {
                                chrono::DateTime::from_timestamp(t.secs(), 0)
                                    .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                                    .unwrap_or_default()
                            })
                            .unwrap_or_default(),
                    });
                }
            }
            token = page.next_continuation_token().map(str::to_string);
            let more = page.is_truncated().unwrap_or(false) && token.is_some();
            self.send(Event::Listing {
                connection: connection.clone(),
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                entries: Ok(entries.clone()),
                partial: more,
            });
            if !more {
                break;
            }
        }
    }
}

fn read_small_file(path: &std::path::Path) -> Result<Zeroizing<Vec<u8>>, String> {
    use std::io::Read as _;
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut bytes))
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    Ok(bytes)
}

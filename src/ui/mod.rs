//! The window. Draws state and sends commands; never blocks on I/O, SQLite or the keyring:
//! commands go to the `backend` worker, long transfers to the `JobManager`, and the UI draws
//! their latest results each frame (`logic` drains events, `ui` only draws).
//!
//! Saved state (theme, last key, last destination) is kept apart from runtime handles and
//! holds no secret; revealed keys and clipboard contents live only in memory, and both are
//! cleared on a timer.

mod backend;
pub mod dialogs;
mod screens;
pub mod theme;
pub mod words;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui::{Color32, RichText};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use backend::{Backend, Command, Entry, Event, KeyRow};
use dialogs::Dialog;

use crate::core::jobs::{JobManager, JobState};
use crate::core::registry::{ConnectionRecord, ObjectRecord};

pub const APP_TITLE: &str = "SSE-C Manager";
/// How long a revealed key stays on screen, and copied env lines stay on the clipboard.
pub const SECRET_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Screen {
    #[default]
    Keys,
    Objects,
    Transfers,
    Audit,
    Connections,
}

impl Screen {
    pub const ALL: [Screen; 5] = [
        Screen::Keys,
        Screen::Objects,
        Screen::Transfers,
        Screen::Audit,
        Screen::Connections,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Keys => "Keys",
            Screen::Objects => "Objects",
            Screen::Transfers => "Transfers",
            Screen::Audit => "Audit",
            Screen::Connections => "Connections",
        }
    }
}

/// What survives a restart (eframe storage). Never a secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub screen: Screen,
    pub dark: bool,
    pub last_key: Option<String>,
    pub last_connection: Option<String>,
    pub last_bucket: Option<String>,
    /// Finished transfers, newest last, kept across restarts (the Transfers screen's
    /// "Earlier"): what, how it ended, when. Paths and URLs only, never a key.
    pub history: Vec<HistoryEntry>,
}

/// One finished job as the history remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: String,
    pub what: String,
    pub outcome: String,
    pub ok: bool,
}

/// How many finished jobs the history keeps.
pub const HISTORY_LEN: usize = 200;

impl Default for Prefs {
    fn default() -> Self {
        Self {
            screen: Screen::Keys,
            dark: true,
            last_key: None,
            last_connection: None,
            last_bucket: None,
            history: Vec::new(),
        }
    }
}

/// A short message at the bottom right.
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub until: Instant,
}

/// The bucket browser's place and what it shows.
#[derive(Default)]
pub struct Browser {
    pub connection: Option<String>,
    pub bucket: Option<String>,
    pub prefix: String,
    pub buckets: Vec<String>,
    pub entries: Vec<Entry>,
    pub loading: bool,
    pub error: Option<String>,
    pub filter: String,
    /// Buckets were asked for this connection already.
    pub buckets_requested: bool,
    /// Objects classified by HEAD (Check keys), by object key.
    pub checked: std::collections::HashMap<String, crate::core::scan::ObjectKind>,
    /// Object keys ticked in the listing (for Rotate selected).
    pub selected: std::collections::BTreeSet<String>,
    /// The registry's newest stored (or migrated) row of each listed object, by object key:
    /// the window holds the rows of what it lists, never the whole registry.
    pub registered: std::collections::HashMap<String, ObjectRecord>,
    /// The listing's order (a column header clicked), and whether reversed.
    pub sort: SortBy,
    pub descending: bool,
    /// The listing shows every object below the folder (a search), not one level.
    pub all: bool,
    /// The row the arrow keys are on (0 is the parent row when there is one).
    pub cursor: Option<usize>,
    /// Check keys is waiting for its HEAD requests.
    pub checking: bool,
}

/// What the Objects listing is ordered by (folders always come first, by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Name,
    Size,
    Modified,
}

impl Browser {
    /// The registry's answer about `keys`: each gets its row, or loses it. Only the keys asked
    /// about change: a listing that arrived meanwhile keeps the rows it brought.
    fn set_registered(
        &mut self,
        keys: Vec<String>,
        mut rows: std::collections::HashMap<String, ObjectRecord>,
    ) {
        for key in keys {
            match rows.remove(&key) {
                Some(row) => self.registered.insert(key, row),
                None => self.registered.remove(&key),
            };
        }
    }

    /// Whether the browser is on this bucket of this connection (answers for another place
    /// arrive late and are dropped).
    fn shows(&self, connection: &str, bucket: &str) -> bool {
        self.connection.as_deref() == Some(connection) && self.bucket.as_deref() == Some(bucket)
    }
}

/// A file picked through the system dialog, delivered by a worker.
type Picked = Arc<Mutex<Option<(dialogs::PickPurpose, PathBuf)>>>;

pub struct App {
    pub prefs: Prefs,
    pub backend: Backend,
    runtime: tokio::runtime::Handle,
    pub home_dir: PathBuf,
    pub opened: Option<Result<PathBuf, String>>,
    pub keyring: Option<Result<String, String>>,
    pub keys: Vec<KeyRow>,
    /// Keys in the keyring whose registry is gone (label, fingerprint), offered for adoption.
    pub orphans: Vec<(String, String)>,
    pub connections: Vec<ConnectionRecord>,
    /// The bucket of the newest registered object (the upload dialog's last resort).
    pub last_bucket: Option<String>,
    /// The audit of the last refresh (computed by the worker, not per frame).
    pub audit: Option<Arc<crate::core::audit::AuditReport>>,
    pub interrupted: Vec<crate::core::registry::MultipartRecord>,
    pub toasts: Vec<Toast>,
    pub dialog: Option<Dialog>,
    pub revealed: Option<(String, Zeroizing<String>, Instant)>,
    clipboard_clear_at: Option<Instant>,
    pub browser: Browser,
    /// Folder pairings saved by the Sync dialog, to run again.
    pub sync_pairs: Vec<crate::core::registry::SyncPair>,
    /// The default keys of buckets and folders.
    pub defaults: Vec<crate::core::registry::DefaultKey>,
    /// The Audit screen shows only the findings that put objects at risk (a card clicked).
    pub audit_at_risk_only: bool,
    /// Connection tests: running (None) or their last answer, by connection name.
    pub tested: std::collections::HashMap<String, Option<Result<usize, String>>>,
    picked: Picked,
    closing: bool,
    close_allowed: bool,
    /// Files given on the command line (or by the desktop's "Open with"), waiting for the
    /// keys and connections to load before the upload dialog opens.
    pending_upload: Vec<PathBuf>,
    registry_loaded: bool,
}

impl App {
    /// Builds the app around a home directory; all I/O starts on the runtime.
    pub fn new(
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
        home_dir: PathBuf,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let prefs: Prefs = storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let repaint = ctx.clone();
        let waker: crate::core::jobs::Waker = Arc::new(move || repaint.request_repaint());
        let backend = Backend::new(home_dir.clone(), runtime.clone(), waker);
        theme::apply(ctx);
        ctx.set_theme(if prefs.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        });
        Self {
            prefs,
            backend,
            runtime,
            home_dir,
            opened: None,
            keyring: None,
            keys: Vec::new(),
            orphans: Vec::new(),
            connections: Vec::new(),
            audit: None,
            last_bucket: None,
            interrupted: Vec::new(),
            toasts: Vec::new(),
            dialog: None,
            revealed: None,
            clipboard_clear_at: None,
            browser: Browser::default(),
            picked: Arc::default(),
            closing: false,
            close_allowed: false,
            pending_upload: Vec::new(),
            sync_pairs: Vec::new(),
            defaults: Vec::new(),
            audit_at_risk_only: false,
            tested: std::collections::HashMap::new(),
            registry_loaded: false,
        }
    }

    /// Opens the upload dialog for these files as soon as the keys are known.
    pub fn upload_when_ready(&mut self, files: Vec<PathBuf>) {
        self.pending_upload = files;
    }

    pub fn jobs(&self) -> Option<&JobManager> {
        self.backend.jobs()
    }

    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// A notice for a few seconds (in the window's words: see `words`).
    pub fn info(&mut self, text: impl Into<String>) {
        self.toasts.push(Toast {
            text: words::for_window(&text.into()),
            error: false,
            until: Instant::now() + Duration::from_secs(6),
        });
    }

    /// An error, shown longer (in the window's words: see `words`).
    pub fn error(&mut self, text: impl Into<String>) {
        self.toasts.push(Toast {
            text: words::for_window(&text.into()),
            error: true,
            until: Instant::now() + Duration::from_secs(15),
        });
    }

    /// Closes the window once no job runs any more (after the user chose to cancel them).
    pub fn close_when_idle(&mut self) {
        self.closing = true;
    }

    /// Opens the system file dialog on a worker; the choice arrives in a later frame.
    pub fn pick_file(&self, purpose: dialogs::PickPurpose, save: bool) {
        let slot = self.picked.clone();
        self.runtime.spawn(async move {
            let dialog = rfd::AsyncFileDialog::new();
            let file = if purpose == dialogs::PickPurpose::Folder {
                dialog.pick_folder().await
            } else if save {
                dialog.save_file().await
            } else {
                dialog.pick_file().await
            };
            if let Some(f) = file {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((purpose, f.path().to_path_buf()));
            }
        });
    }

    /// Drains worker events and job results; handles timers and window-close.
    fn logic(&mut self, ctx: &egui::Context) {
        for event in self.backend.drain() {
            self.apply(ctx, event);
        }
        let finished = self.jobs().map(|j| j.take_finished()).unwrap_or_default();
        if !finished.is_empty() {
            for ev in finished {
                let what = self
                    .jobs()
                    .and_then(|j| j.job(ev.id))
                    .map(|v| v.spec.describe())
                    .unwrap_or_default();
                let (outcome, ok) = match &ev.state {
                    JobState::Failed(e) => (e.clone(), false),
                    JobState::Done(summary) => (summary.clone(), true),
                    other => (other.label().to_string(), false),
                };
                self.prefs.history.push(HistoryEntry {
                    at: crate::core::registry::now(),
                    what,
                    outcome,
                    ok,
                });
                let over = self.prefs.history.len().saturating_sub(HISTORY_LEN);
                self.prefs.history.drain(..over);
                match ev.state {
                    JobState::Failed(e) => self.error(e),
                    JobState::Done(summary) => self.info(summary),
                    _ => {}
                }
            }
            self.backend.send(Command::Refresh);
            self.refresh_listing();
        }
        if !self.pending_upload.is_empty() && self.registry_loaded && self.dialog.is_none() {
            let files = std::mem::take(&mut self.pending_upload);
            self.dialog = Some(Dialog::upload(self, files));
        }
        let picked = self.picked.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((purpose, path)) = picked {
            dialogs::apply_pick(self, purpose, path);
        }
        let now = Instant::now();
        if self.revealed.as_ref().is_some_and(|r| now >= r.2) {
            self.revealed = None;
        }
        if self.clipboard_clear_at.is_some_and(|t| now >= t) {
            ctx.copy_text(String::new());
            self.clipboard_clear_at = None;
        }
        self.toasts.retain(|t| t.until > now);
        let running = self.jobs().map(|j| j.running()).unwrap_or(0);
        let close_requested = ctx.input(|i| i.viewport().close_requested());
        if close_requested && running > 0 && !self.close_allowed {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.dialog = Some(Dialog::ConfirmClose(dialogs::ConfirmClose));
        } else if close_requested && self.clipboard_clear_at.is_some() {
            // Key lines copied by this window must not outlive it on the clipboard: clear
            // it, and close in the next frame, once the clearing has reached the system.
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            ctx.copy_text(String::new());
            self.clipboard_clear_at = None;
            self.closing = true;
            ctx.request_repaint();
        } else if self.closing && running == 0 {
            self.close_allowed = true;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        let timers = self
            .toasts
            .iter()
            .map(|t| t.until)
            .chain(self.clipboard_clear_at);
        let revealed = self.revealed.as_ref().map(|r| r.2);
        if let Some(after) = repaint_after(now, running, timers, revealed) {
            ctx.request_repaint_after(after);
        }
        self.shortcuts(ctx);
    }

    /// One worker event into the window's state. One match over every event reads better
    /// whole than split: each arm is the one place that event lands.
    fn apply(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::Opened(r) => {
                if let Err(e) = &r {
                    self.error(format!("Cannot open the registry: {e}"));
                }
                self.opened = Some(r);
            }
            Event::Keyring(r) => self.keyring = Some(r),
            Event::Keys(k) => self.keys = k,
            Event::Orphans(o) => self.orphans = o,
            Event::Connections(c) => self.set_connections(c),
            Event::Audit(a) => self.audit = Some(Arc::from(a)),
            Event::TargetsPreview {
                scope,
                count,
                first,
            } => self.set_preview(scope, count, first),
            Event::FindingPage { index, scope, rows } => match rows {
                Ok(rows) => self.add_finding_page(index, &scope, rows),
                Err(e) => self.error(e),
            },
            Event::Preflight(result) => {
                if let Some(Dialog::Preflight(p)) = &mut self.dialog {
                    p.report = Some(result);
                } else if let Err(e) = result {
                    self.error(e);
                }
            }
            Event::Refreshed { last_bucket } => {
                self.last_bucket = last_bucket;
                // The last answer of a refresh: keys and connections are in too. The rows
                // of what the listing shows are read again (a scan may have added some).
                self.registry_loaded = true;
                self.ask_registered();
            }
            Event::Registered {
                connection,
                bucket,
                keys,
                rows,
            } => {
                if self.browser.shows(&connection, &bucket) {
                    self.browser.set_registered(keys, rows);
                }
            }
            Event::Interrupted(i) => self.interrupted = i,
            Event::Info(t) => self.info(t),
            Event::Error(t) => self.error(t),
            // The answer to a dialog that waits: it closes, or shows the error and keeps
            // what was typed.
            Event::DialogDone(t) => {
                if self.dialog.as_ref().is_some_and(Dialog::waiting) {
                    self.dialog = None;
                }
                self.info(t);
            }
            Event::Tested { name, result } => {
                self.tested.insert(name, Some(result));
            }
            Event::DialogFailed(t) => {
                let t = words::for_window(&t);
                if !dialogs::failed(self, &t) {
                    self.error(t);
                }
            }
            Event::EnvLines { label, text } => {
                ctx.copy_text(text.to_string());
                self.clipboard_clear_at = Some(Instant::now() + SECRET_TTL);
                self.info(format!(
                    "Copied SSE_KEY/SSE_MD5 lines of \"{label}\"; the clipboard is cleared in 30 s"
                ));
            }
            Event::Revealed { label, base64 } => {
                self.revealed = Some((label, base64, Instant::now() + SECRET_TTL));
            }
            Event::Dependents { label, ids, first } => {
                if let Some(Dialog::DeleteKey(d)) = &mut self.dialog
                    && d.label == label
                {
                    d.dependents = Some((ids, first));
                }
            }
            Event::KeyCreated { label } => self.prefs.last_key = Some(label),
            Event::Buckets {
                connection,
                buckets,
            } => self.set_buckets(&connection, buckets),
            Event::SyncPlanned(plan) => {
                if let Some(Dialog::Sync(d)) = &mut self.dialog {
                    d.planning = false;
                    d.plan = Some(plan);
                } else if let Err(e) = plan {
                    self.error(e);
                }
            }
            Event::SyncPairs(pairs) => self.sync_pairs = pairs,
            Event::Defaults(d) => self.defaults = d,
            Event::Recipe(text) => {
                ctx.copy_text(text);
                self.info(
                    "Copied the curl recipe: a presigned GET valid for 1 hour; it sends the key \
                     from $SSE_KEY/$SSE_MD5 (no key copied)",
                );
            }
            Event::Checked {
                connection,
                bucket,
                results,
            } => {
                if self.browser.shows(&connection, &bucket) {
                    self.browser.checked.extend(results);
                    self.browser.checking = false;
                }
            }
            Event::Listing {
                connection,
                bucket,
                prefix,
                all,
                entries,
                partial,
                registered,
            } => {
                let b = &mut self.browser;
                if b.shows(&connection, &bucket) && b.prefix == prefix && b.all == all {
                    b.loading = partial;
                    b.registered
                        .extend(registered.into_iter().map(|o| (o.key.clone(), o)));
                    match entries {
                        Ok(e) => {
                            b.entries = e;
                            b.error = None;
                        }
                        Err(e) => b.error = Some(e),
                    }
                }
            }
        }
    }

    /// New connections; the browser opens on the last used one (or the first).
    fn set_connections(&mut self, c: Vec<ConnectionRecord>) {
        if self.browser.connection.is_none() {
            self.browser.connection = self
                .prefs
                .last_connection
                .clone()
                .filter(|n| c.iter().any(|x| &x.name == n))
                .or_else(|| c.first().map(|x| x.name.clone()));
        }
        self.connections = c;
    }

    /// A connection's buckets; the browser opens the last used one (or the first).
    fn set_buckets(&mut self, connection: &str, buckets: Result<Vec<String>, String>) {
        if self.browser.connection.as_deref() != Some(connection) {
            return;
        }
        match buckets {
            Ok(b) => {
                if self.browser.bucket.is_none() {
                    self.browser.bucket = self
                        .prefs
                        .last_bucket
                        .clone()
                        .filter(|x| b.contains(x))
                        .or_else(|| b.first().cloned());
                    self.refresh_listing();
                }
                self.browser.buckets = b;
                self.browser.error = None;
            }
            Err(e) => self.browser.error = Some(e),
        }
    }

    /// A rotate or migrate dialog's count and first rows, as the registry answered.
    fn set_preview(
        &mut self,
        scope: crate::core::registry::ObjectScope,
        count: u64,
        first: dialogs::FirstRows,
    ) {
        let preview = match &mut self.dialog {
            Some(Dialog::Rotate(d)) => &mut d.preview,
            Some(Dialog::Migrate(d)) => &mut d.preview,
            _ => return,
        };
        preview.shown = Some((scope, count, first));
    }

    /// More objects of the audit's finding `index`, if the audit still has that finding.
    fn add_finding_page(
        &mut self,
        index: usize,
        scope: &crate::core::registry::ObjectScope,
        rows: Vec<(i64, String)>,
    ) {
        let Some(audit) = &mut self.audit else {
            return;
        };
        let audit = Arc::make_mut(audit);
        let Some(f) = audit
            .findings
            .get_mut(index)
            .filter(|f| f.scope.as_ref() == Some(scope))
        else {
            return;
        };
        // Only the page that follows what it holds (a second click's answer is dropped).
        if rows.first().is_some_and(|(id, _)| *id > f.next_after) {
            f.next_after = rows.last().map_or(f.next_after, |r| r.0);
            f.objects.extend(rows.into_iter().map(|r| r.1));
        }
    }

    /// Asks the registry again for the rows of the objects the listing shows.
    fn ask_registered(&self) {
        let b = &self.browser;
        let (Some(connection), Some(bucket)) = (b.connection.clone(), b.bucket.clone()) else {
            return;
        };
        let keys: Vec<String> = b
            .entries
            .iter()
            .filter_map(|e| e.object_key().map(str::to_string))
            .collect();
        if !keys.is_empty() {
            self.backend.send(Command::Registered {
                connection,
                bucket,
                keys,
            });
        }
    }

    /// The newest stored registry row of an object, if the registry has one.
    pub fn stored_object(
        &self,
        connection: &str,
        bucket: &str,
        key: &str,
    ) -> Option<&ObjectRecord> {
        self.current_object(connection, bucket, key)
            .filter(|o| o.state == crate::core::registry::ObjectState::Stored)
    }

    /// The newest stored or migrated (off SSE-C) registry row of an object the listing shows
    /// (the window holds no other rows).
    pub fn current_object(
        &self,
        connection: &str,
        bucket: &str,
        key: &str,
    ) -> Option<&ObjectRecord> {
        let b = &self.browser;
        if !b.shows(connection, bucket) {
            return None;
        }
        b.registered.get(key)
    }

    /// Lists the browser's current place again.
    pub fn refresh_listing(&mut self) {
        let b = &mut self.browser;
        b.selected.clear();
        b.registered.clear();
        b.cursor = None;
        if let (Some(c), Some(bk)) = (b.connection.clone(), b.bucket.clone()) {
            b.loading = true;
            self.backend.send(Command::ListObjects {
                connection: c,
                bucket: bk,
                prefix: b.prefix.clone(),
                all: b.all,
            });
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, Modifiers};
        if self.dialog.is_some() {
            return;
        }
        let pressed = |m: Modifiers, k: Key| ctx.input_mut(|i| i.consume_key(m, k));
        for (i, key) in [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5]
            .into_iter()
            .enumerate()
        {
            if pressed(Modifiers::COMMAND, key) {
                self.prefs.screen = Screen::ALL[i];
            }
        }
        if pressed(Modifiers::COMMAND, Key::G) {
            self.dialog = Some(Dialog::generate());
        }
        if pressed(Modifiers::COMMAND, Key::I) {
            self.dialog = Some(Dialog::import());
        }
        if pressed(Modifiers::NONE, Key::F5) {
            self.backend.send(Command::Refresh);
            self.refresh_listing();
        }
    }

    fn status_bar(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.keyring {
                None => {
                    ui.label("Keyring: checking…");
                }
                Some(Ok(_)) => {
                    ui.label(
                        RichText::new("Keyring available").color(screens::tone(ui, screens::GOOD)),
                    );
                }
                Some(Err(_)) => {
                    ui.label(
                        RichText::new("Keyring unavailable").color(ui.visuals().error_fg_color),
                    );
                }
            }
            ui.separator();
            ui.label(format!(
                "Registry: {}",
                self.home_dir
                    .join(crate::core::home::REGISTRY_FILE)
                    .display()
            ));
            ui.separator();
            let (running, rate) = self
                .jobs()
                .map(|j| {
                    let jobs = j.jobs();
                    let running: Vec<_> = jobs
                        .iter()
                        .filter(|v| v.state == JobState::Running)
                        .collect();
                    (
                        running.len(),
                        running.iter().map(|v| v.progress.rate).sum::<f64>(),
                    )
                })
                .unwrap_or((0, 0.0));
            ui.label(format!("{running} transfer(s) running"));
            if running > 0 {
                ui.separator();
                ui.label(format!("{}/s", human_bytes(rate as u64)));
            }
        });
    }

    fn nav(&mut self, ui: &mut egui::Ui) {
        ui.add_space(6.0);
        ui.vertical_centered(|ui| {
            ui.heading(RichText::new("SSE-C").strong());
            ui.label(RichText::new("Manager").weak());
        });
        ui.add_space(10.0);
        for (i, screen) in Screen::ALL.into_iter().enumerate() {
            let selected = self.prefs.screen == screen;
            let text = RichText::new(screen.title()).size(15.0);
            let button = egui::Button::selectable(selected, text)
                .min_size(egui::vec2(ui.available_width(), 30.0));
            if ui
                .add(button)
                .on_hover_text(format!("Ctrl+{}", i + 1))
                .clicked()
            {
                self.prefs.screen = screen;
            }
        }
        ui.with_layout(egui::Layout::bottom_up(egui::Align::LEFT), |ui| {
            ui.add_space(6.0);
            let label = if self.prefs.dark {
                "Light theme"
            } else {
                "Dark theme"
            };
            if ui.button(label).clicked() {
                self.prefs.dark = !self.prefs.dark;
                ui.ctx().set_theme(if self.prefs.dark {
                    egui::Theme::Dark
                } else {
                    egui::Theme::Light
                });
            }
        });
    }

    /// Keys found in the keyring without their registry, with the button that adopts them.
    fn orphans_banner(&mut self, ui: &mut egui::Ui) {
        if self.orphans.is_empty() {
            return;
        }
        let labels: Vec<&str> = self.orphans.iter().map(|(l, _)| l.as_str()).collect();
        let mut adopt = false;
        panel(ui, WARN_FILL, |ui| {
            ui.label(
                RichText::new(format!(
                    "{} key(s) of ssec-manager are in the keyring but not in this registry (it \
                     was lost or made anew): {}",
                    labels.len(),
                    labels.join(", ")
                ))
                .color(Color32::WHITE),
            );
            adopt = ui
                .button("Adopt them")
                .on_hover_text(
                    "Register them here; then Scan and adopt in Objects finds their objects",
                )
                .clicked();
        });
        if adopt {
            self.backend.send(Command::AdoptKeys);
        }
    }

    fn banners(&self, ui: &mut egui::Ui) {
        if let Some(Err(e)) = &self.keyring {
            banner(ui, true, &format!("The OS keyring is unavailable: {e}"));
        }
        if let Some(Err(e)) = &self.opened {
            banner(ui, true, &format!("The registry cannot be opened: {e}"));
        }
    }

    fn toasts(&self, ctx: &egui::Context) {
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -36.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                ui.set_max_width(460.0);
                for t in &self.toasts {
                    let fill = if t.error { TOAST_ERROR } else { TOAST_INFO };
                    egui::Frame::new()
                        .fill(fill)
                        .corner_radius(6.0)
                        .inner_margin(10.0)
                        .show(ui, |ui| {
                            ui.label(RichText::new(&t.text).color(Color32::WHITE));
                        });
                    ui.add_space(6.0);
                }
            });
    }

    /// Files hovering over the window: an overlay saying what a drop will do.
    fn drop_zone(&mut self, ctx: &egui::Context) {
        let hovering = ctx.input(|i| !i.raw.hovered_files.is_empty());
        if hovering {
            let screen = ctx.content_rect();
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("drop-overlay"),
            ));
            painter.rect_filled(screen, 0.0, Color32::from_black_alpha(170));
            painter.text(
                screen.center(),
                egui::Align2::CENTER_CENTER,
                "Drop to upload with SSE-C",
                egui::FontId::proportional(28.0),
                Color32::WHITE,
            );
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if !dropped.is_empty() {
            self.dialog = Some(Dialog::upload(self, dropped));
        }
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        App::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        egui::Panel::bottom("status")
            .exact_size(28.0)
            .show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("nav")
            .exact_size(150.0)
            .show(ui, |ui| self.nav(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.banners(ui);
            if matches!(self.prefs.screen, Screen::Keys | Screen::Connections) {
                self.orphans_banner(ui);
            }
            screens::show(self, ui);
        });
        if let Some(d) = self.dialog.take() {
            let kept = dialogs::show(self, &ctx, d);
            // A confirm may put its dialog back (waiting for the worker's answer) or open
            // another: that one stays.
            if self.dialog.is_none() {
                self.dialog = kept;
            }
        }
        self.drop_zone(&ctx);
        self.toasts(&ctx);
        theme::focus_ring(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.prefs);
    }
}

/// When the window must draw again by itself: while a job runs (its progress moves), each
/// second while a revealed key counts down, and when the next toast or timer ends. Nothing
/// else: a static picture is not drawn again (input and worker events wake the window).
pub fn repaint_after(
    now: Instant,
    running: usize,
    timers: impl Iterator<Item = Instant>,
    revealed_until: Option<Instant>,
) -> Option<Duration> {
    let progress = (running > 0).then_some(Duration::from_millis(250));
    let countdown = revealed_until.map(|until| {
        let left = until.saturating_duration_since(now);
        // The next whole second of the countdown.
        Duration::from_nanos((left.as_nanos() % 1_000_000_000) as u64)
            .max(Duration::from_millis(20))
    });
    let timer = timers.map(|t| t.saturating_duration_since(now)).min();
    [progress, countdown, timer].into_iter().flatten().min()
}

pub const ERROR_FILL: Color32 = Color32::from_rgb(110, 35, 35);
/// The toasts' fills (white text on them).
pub const TOAST_ERROR: Color32 = Color32::from_rgb(120, 30, 30);
pub const TOAST_INFO: Color32 = Color32::from_rgb(30, 70, 50);
pub const WARN_FILL: Color32 = Color32::from_rgb(110, 80, 20);

fn banner(ui: &mut egui::Ui, error: bool, text: &str) {
    panel(ui, if error { ERROR_FILL } else { WARN_FILL }, |ui| {
        ui.label(RichText::new(words::for_window(text)).color(Color32::WHITE));
    });
}

/// A full-width coloured box (banners, audit findings).
fn panel(ui: &mut egui::Ui, fill: Color32, content: impl FnOnce(&mut egui::Ui)) {
    egui::Frame::new()
        .fill(fill)
        .corner_radius(4.0)
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            content(ui);
        });
    ui.add_space(6.0);
}

pub use crate::core::human_bytes;

/// Opens the window and runs until it is closed.
pub fn run(
    home_dir: PathBuf,
    runtime: tokio::runtime::Handle,
    files: Vec<PathBuf>,
) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(APP_TITLE)
            .with_app_id("ssec-manager")
            .with_inner_size([1200.0, 760.0])
            .with_min_inner_size([820.0, 520.0])
            .with_drag_and_drop(true)
            .with_icon(app_icon()),
        ..Default::default()
    };
    eframe::run_native(
        "ssec-manager",
        options,
        Box::new(move |cc| {
            let mut app = App::new(&cc.egui_ctx, cc.storage, home_dir, runtime);
            app.upload_when_ready(files);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

fn app_icon() -> egui::IconData {
    let png = include_bytes!("../../assets/icons/hicolor/256x256/apps/ssec-manager.png");
    eframe::icon_data::from_png_bytes(png).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refreshs_rows_change_only_the_keys_it_asked_about() {
        use crate::core::registry::ObjectState;
        let row = |id, key: &str| {
            let mut o = ObjectRecord::sample(id, "F", Some("k"), ObjectState::Stored);
            o.key = key.into();
            o
        };
        let mut b = Browser::default();
        // A listing brought "new" (uploaded since the refresh asked about the old listing).
        b.registered.insert("new".into(), row(3, "new"));
        b.registered.insert("gone".into(), row(1, "gone"));
        let answer = std::collections::HashMap::from([("kept".to_string(), row(2, "kept"))]);
        b.set_registered(vec!["gone".into(), "kept".into()], answer);
        let mut keys: Vec<&String> = b.registered.keys().collect();
        keys.sort();
        assert_eq!(keys, ["kept", "new"], "gone lost its row, new kept its own");
    }

    #[test]
    fn the_window_repaints_by_itself_only_for_what_moves() {
        let now = Instant::now();
        let none = std::iter::empty();
        // Idle: never.
        assert_eq!(repaint_after(now, 0, none, None), None);
        // A toast: once, when it goes.
        let toast = [now + Duration::from_secs(6)];
        assert_eq!(
            repaint_after(now, 0, toast.into_iter(), None),
            Some(Duration::from_secs(6))
        );
        // A revealed key: at the next whole second of its countdown.
        let at = repaint_after(
            now,
            0,
            std::iter::empty(),
            Some(now + Duration::from_millis(29_400)),
        );
        assert_eq!(at, Some(Duration::from_millis(400)));
        // A running job: its progress, four times a second.
        assert_eq!(
            repaint_after(now, 1, toast.into_iter(), None),
            Some(Duration::from_millis(250))
        );
    }
}

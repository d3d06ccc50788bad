#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The real App driven by egui_kittest: dialogs, a dropped file uploaded to the real Garage,
//! the delete-key guard, and a window that keeps answering while the network does not.

mod common;
#[path = "../benches/common/fill.rs"]
mod fill;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestHome, random_file};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use ssec_manager::core::jobs::JobState;
use ssec_manager::ui::{App, Screen};

/// The seed's key set-up: the two env variables from a key file.
const SEED_ENV: &str = r#"SSE_KEY=$(cat "$KEYFILE"); SSE_MD5=$(base64 -d "$KEYFILE" | openssl dgst -md5 -binary | base64)"#;

/// A file dropped from the desktop (egui 0.37 makes this a trait the backend implements).
/// Opens the Objects view on `bucket`/`prefix` of the "garage" connection and lists it.
fn browse(app: &mut App, bucket: &str, prefix: &str) {
    app.browser.connection = Some("garage".into());
    app.browser.bucket = Some(bucket.to_string());
    app.browser.prefix = prefix.to_string();
    app.browser.buckets_requested = true;
    app.prefs.screen = Screen::Objects;
    app.refresh_listing();
}

/// The dialog the Keys screen's "Rotate…" opens for key `from`, with `to` chosen.
fn rotate_key_dialog(app: &App, from: &str, to: &str) -> Option<ssec_manager::ui::dialogs::Dialog> {
    let mut rotate = ssec_manager::ui::dialogs::Rotate::key(app, from).expect("the key is listed");
    rotate.to = to.into();
    Some(ssec_manager::ui::dialogs::Dialog::Rotate(rotate))
}

/// A registry row as tests read it.
struct Row {
    key: String,
    key_label: Option<String>,
}

/// The registry's rows in id order, read straight from its file: the window holds only the
/// rows of what it lists (`browser.registered`), so what the registry holds is asked of it.
fn registry_rows(app: &App) -> Vec<Row> {
    let db = rusqlite::Connection::open_with_flags(
        app.home_dir.join("registry.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare(
            "SELECT o.object_key, k.label FROM objects o
             LEFT JOIN keys k ON k.fingerprint = o.key_fingerprint ORDER BY o.id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Row {
            key: r.get(0)?,
            key_label: r.get(1)?,
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// The audit of the window's last refresh counts `n` current objects.
fn audited(app: &App, n: usize) -> bool {
    app.audit.as_ref().is_some_and(|a| a.objects == n)
}

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

struct Ui {
    harness: Harness<'static, App>,
    _runtime: tokio::runtime::Runtime,
}

impl Ui {
    fn open(home: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime.handle().clone();
        let dir = home.to_path_buf();
        let harness = Harness::builder()
            .with_size([1280.0, 800.0])
            .build_eframe(move |cc| App::new(&cc.egui_ctx, None, dir, handle));
        let mut ui = Self {
            harness,
            _runtime: runtime,
        };
        ui.until("the registry to load", |h| {
            h.state().opened.is_some() && h.state().keyring.is_some()
        });
        ui
    }

    fn app(&self) -> &App {
        self.harness.state()
    }

    /// Steps frames until `check` holds; the backend works on other threads meanwhile.
    fn until(&mut self, what: &str, check: impl Fn(&Harness<'static, App>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.harness.step();
            if check(&self.harness) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn click(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.harness.step();
        self.harness.step();
    }

    /// Types into the only text field on screen (focusing it first, as a click would).
    fn type_text(&mut self, text: &str) {
        self.harness.get_by_role(Role::TextInput).focus();
        self.harness.step();
        self.harness.get_by_role(Role::TextInput).type_text(text);
        self.harness.step();
        self.harness.step();
    }

    fn disabled(&self, label: &str) -> bool {
        self.harness
            .get_by_label(label)
            .accesskit_node()
            .is_disabled()
    }

    fn has_label(&self, label: &str) -> bool {
        self.harness.query_by_label(label).is_some()
    }

    fn has_label_containing(&self, part: &str) -> bool {
        self.harness.query_by_label_contains(part).is_some()
    }
}

#[test]
fn a_key_generated_through_the_dialog_lands_in_the_keyring() {
    let h = TestHome::new("ui-generate");
    let mut ui = Ui::open(&h.home);
    // A fresh home shows the first-run steps.
    assert!(ui.has_label("Welcome to SSE-C Manager"));
    ui.click("Generate key…");
    assert!(ui.has_label("Generate a key"));
    // Nothing typed: the button does nothing.
    assert!(ui.disabled("Generate"));
    ui.type_text("from-the-window");
    ui.click("Generate");
    ui.until("the key to appear", |h| {
        h.state()
            .keys
            .iter()
            .any(|k| k.summary.key.label == "from-the-window")
    });
    let row = ui.app().keys[0].clone();
    assert_eq!(row.in_keyring, Some(true));
    // The CLI sees the same key in the same keyring.
    let listed = h.ok(&["key", "list", "--json"]);
    assert!(
        listed.contains("from-the-window") && listed.contains("\"in_keyring\": true"),
        "{listed}"
    );
}

#[test]
fn a_dropped_file_opens_the_upload_dialog_and_uploads_to_garage() {
    let h = TestHome::with_connection("ui-drop");
    h.ok(&["key", "generate", "drop-key"]);
    let fp = h.fingerprint("drop-key");
    let data = random_file(&h.path("dropped.bin"), 300_000);
    let mut ui = Ui::open(&h.home);
    ui.until("keys and connections", |h| {
        h.state().keys.len() == 1 && !h.state().connections.is_empty()
    });
    ui.harness.state_mut().browser.bucket = Some(h.bench.bucket.clone());
    ui.harness.state_mut().browser.prefix = format!("{}/", h.prefix);

    ui.harness
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(h.path("dropped.bin"))));
    ui.until("the upload dialog", |h| {
        h.query_by_label("Upload with SSE-C").is_some()
    });
    let line = format!("Encrypt with key drop-key ({fp})");
    assert!(ui.has_label(&line), "no line {line:?}");
    // Backup first: a key never backed up is said, and Upload waits for a yes.
    assert!(ui.has_label_containing("has never been backed up"));
    assert!(ui.disabled("Upload"));
    ui.click("Upload without a backup of the key");
    ui.click("Upload");
    assert_eq!(ui.app().prefs.screen, Screen::Transfers);
    ui.until("the upload to finish", |h| {
        h.state()
            .jobs()
            .map(|j| j.jobs())
            .is_some_and(|j| j.len() == 1 && j[0].state.is_finished())
    });
    let job = ui.app().jobs().unwrap().jobs()[0].clone();
    assert!(matches!(job.state, JobState::Done(_)), "{:?}", job.state);
    ui.until("the registry to show it", |h| {
        registry_rows(h.state())
            .iter()
            .any(|o| o.key.ends_with("/dropped.bin"))
    });
    // The object is really on the server under that key.
    let back = h.path("back.bin");
    h.ok(&[
        "download",
        &h.url("dropped.bin"),
        back.to_str().unwrap(),
        "--key",
        "drop-key",
    ]);
    assert!(std::fs::read(back).unwrap() == data);
}

#[test]
fn the_delete_key_dialog_stays_blocked_until_the_label_is_typed() {
    let h = TestHome::with_connection("ui-delete");
    h.ok(&["key", "generate", "precious"]);
    random_file(&h.path("kept.bin"), 1000);
    h.upload("kept.bin", "precious");
    let mut ui = Ui::open(&h.home);
    ui.until("the key row", |h| h.state().keys.len() == 1);
    ui.click("Delete…");
    ui.until("the dependent objects", |h| {
        h.query_by_label_contains("UNRECOVERABLE").is_some()
    });
    assert!(ui.has_label_containing(&h.object_key("kept.bin")));
    assert!(ui.disabled("Delete key"));
    ui.type_text("precio");
    assert!(ui.disabled("Delete key"), "enabled by a wrong label");
    ui.type_text("us");
    assert!(
        !ui.disabled("Delete key"),
        "dialog state: {:?}",
        ui.app().dialog
    );
    ui.click("Delete key");
    ui.until("the key to go", |h| h.state().keys.is_empty());
    let listed = h.ok(&["key", "list", "--json"]);
    assert!(!listed.contains("precious"), "{listed}");
}

#[test]
fn the_window_keeps_answering_while_a_transfer_waits_on_a_silent_server() {
    // A server that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming().take(8) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    let h = TestHome::new("ui-silent");
    h.add_connection("silent", &format!("http://{addr}"));
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("wait.bin"), 1000);
    let mut ui = Ui::open(&h.home);
    ui.until("the registry", |h| h.state().keys.len() == 1);
    ui.harness.state_mut().browser.bucket = Some("b".into());
    ui.harness
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(h.path("wait.bin"))));
    ui.until("the upload dialog", |h| {
        h.query_by_label("Upload with SSE-C").is_some()
    });
    ui.click("Upload without a backup of the key");
    ui.click("Upload");
    ui.until("the job to start", |h| {
        h.state().jobs().is_some_and(|j| j.running() == 1)
    });
    // While the request hangs: frames stay fast and clicks work.
    let mut slowest = Duration::ZERO;
    for screen in ["Keys", "Connections", "Audit", "Transfers"] {
        let start = Instant::now();
        ui.click(screen);
        slowest = slowest.max(start.elapsed());
        assert_eq!(ui.app().prefs.screen.title(), screen);
    }
    assert!(slowest < Duration::from_secs(1), "a click took {slowest:?}");
    assert!(
        ui.app().jobs().unwrap().jobs()[0].state == JobState::Running,
        "the job should still be waiting on the silent server"
    );
    ui.click("Cancel");
    ui.until("the cancel", |h| {
        h.state().jobs().unwrap().jobs()[0].state == JobState::Cancelled
    });
    drop(held);
}

/// Image snapshots of the main screens, for the look. Content is made stable (fixed keys,
/// fixed object names, a transfer parked on a silent server); dates and times still move,
/// so a few thousand pixels may differ before a snapshot fails.
#[test]
fn snapshots_of_keys_objects_and_a_running_transfer() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let _held = std::thread::spawn(move || {
        let conns: Vec<_> = silent.incoming().take(8).collect();
        std::thread::sleep(Duration::from_secs(60));
        drop(conns);
    });
    let h = TestHome::new("ui-snapshots");
    let bucket2 = std::env::var("SSEC_TEST_BUCKET2").unwrap();
    h.add_connection("garage", &h.bench.endpoint.clone());
    h.add_connection("offline", &format!("http://{addr}"));
    for (label, byte) in [("photos-2026", 0x11u8), ("backups", 0x22u8)] {
        let file = h.path(&format!("{label}.raw"));
        std::fs::write(
            &file,
            [byte; 32]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ (i as u8).wrapping_mul(37).wrapping_add(1))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        h.ok(&["key", "import", label, file.to_str().unwrap()]);
    }
    for (name, size, key) in [
        ("beach.jpg", 150_000, "photos-2026"),
        ("harbour.jpg", 90_000, "photos-2026"),
        ("tax-2025.pdf", 40_000, "backups"),
    ] {
        std::fs::write(h.path(name), vec![7u8; size]).unwrap();
        let url = format!("s3://{bucket2}/snapshots/{name}");
        h.ok(&[
            "upload",
            h.path(name).to_str().unwrap(),
            &url,
            "--key",
            key,
            "--connection",
            "garage",
        ]);
    }
    std::fs::write(h.path("parked.bin"), vec![1u8; 4096]).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let dir = h.home.clone();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_options(egui_kittest::SnapshotOptions::new().max_failed_pixels(4000))
        .wgpu()
        .build_eframe(move |cc| App::new(&cc.egui_ctx, None, dir, handle));
    let until = |harness: &mut Harness<'static, App>, what: &str, check: &dyn Fn(&App) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !check(harness.state()) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            harness.step();
            std::thread::sleep(Duration::from_millis(20));
        }
        harness.step();
    };
    until(&mut harness, "keys", &|a| {
        a.keys.len() == 2 && audited(a, 3)
    });
    harness.snapshot("keys");

    browse(harness.state_mut(), &bucket2, "snapshots/");
    until(&mut harness, "the listing", &|a| {
        a.browser.entries.len() == 3 && !a.browser.loading
    });
    harness.snapshot("objects");

    harness.get_by_label("Preflight").click();
    until(&mut harness, "the preflight report", &|a| {
        matches!(
            &a.dialog,
            Some(ssec_manager::ui::dialogs::Dialog::Preflight(p)) if p.report.is_some()
        )
    });
    harness.snapshot("preflight-dialog");
    harness.state_mut().dialog = None;

    harness.state_mut().prefs.screen = Screen::Audit;
    until(&mut harness, "the audit", &|a| a.audit.is_some());
    harness.snapshot("audit");

    harness.state_mut().dialog = rotate_key_dialog(harness.state(), "photos-2026", "backups");
    harness.state_mut().prefs.screen = Screen::Keys;
    // The registry's count of what it takes arrives from the worker.
    until(
        &mut harness,
        "the rotate dialog's count",
        &|a| matches!(&a.dialog, Some(ssec_manager::ui::dialogs::Dialog::Rotate(r)) if r.preview.shown.is_some()),
    );
    harness.step();
    harness.snapshot("rotate-dialog");
    harness.state_mut().dialog = None;

    // Editing an https connection: the CA bundle field (a private CA, as --ca-bundle).
    let mut form = ssec_manager::ui::dialogs::ConnectionForm::add();
    form.name = "nas".into();
    form.endpoint = "https://nas.home.arpa:9000".into();
    form.ca_bundle = "/home/me/.config/ssec/home-ca.pem".into();
    harness.state_mut().dialog = Some(ssec_manager::ui::dialogs::Dialog::Connection(form));
    until(&mut harness, "the connection dialog", &|_| true);
    harness.step();
    harness.snapshot("connection-dialog");
    harness.state_mut().dialog = None;

    let jobs = harness.state().jobs().unwrap().clone();
    // A finished verify (counted in objects) above the running upload.
    jobs.start(ssec_manager::core::jobs::JobSpec::Verify {
        deep: false,
        key_label: None,
    });
    until(&mut harness, "the verify job", &|a| {
        a.jobs()
            .is_some_and(|j| j.jobs().iter().all(|v| v.state.is_finished()))
    });
    jobs.start(ssec_manager::core::jobs::JobSpec::Upload {
        connection: "offline".into(),
        src: h.path("parked.bin"),
        dest: "s3://b/parked.bin".parse().unwrap(),
        key_label: "backups".into(),
    });
    harness.state_mut().prefs.screen = Screen::Transfers;
    until(&mut harness, "the parked job", &|a| {
        a.jobs().is_some_and(|j| j.running() == 1)
    });
    harness.snapshot("transfers-running");
    jobs.cancel_all();
}

#[test]
fn the_backup_dialog_writes_a_checked_age_backup() {
    let h = TestHome::new("ui-backup");
    h.ok(&["key", "generate", "one"]);
    let mut ui = Ui::open(&h.home);
    ui.until("the key", |h| h.state().keys.len() == 1);
    ui.click("Back up…");
    assert!(ui.has_label("Back up all keys"));
    assert!(
        ui.disabled("Back up"),
        "enabled with no file and no passphrase"
    );
    let pass = "a long enough passphrase";
    if let Some(ssec_manager::ui::dialogs::Dialog::Backup(b)) = &mut ui.harness.state_mut().dialog {
        b.path = h.p("from-window.age");
        b.passphrase.push_str(pass);
        b.again.push_str("a different one");
    }
    ui.harness.step();
    ui.harness.step();
    assert!(ui.has_label("The passphrases differ."));
    assert!(ui.disabled("Back up"));
    if let Some(ssec_manager::ui::dialogs::Dialog::Backup(b)) = &mut ui.harness.state_mut().dialog {
        b.again.clear();
        b.again.push_str(pass);
    }
    ui.harness.step();
    ui.click("Back up");
    ui.until("the backup to be recorded", |h| {
        h.state()
            .keys
            .first()
            .is_some_and(|k| k.summary.key.backup_status == "age_backup")
    });
    let restored = h
        .cmd()
        .args(["restore", &h.p("from-window.age")])
        .env("SSEC_MANAGER_PASSPHRASE", pass)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&restored.stdout).contains("already present: one"));
}

#[test]
fn an_interrupted_upload_shows_in_transfers_and_resumes_from_there() {
    let h = TestHome::with_connection("ui-resume");
    h.ok(&["key", "generate", "k"]);
    let data = random_file(&h.path("r.bin"), 20 * 1024 * 1024);
    let mut child = h
        .cmd()
        .args(["upload", &h.p("r.bin"), &h.url("r.bin"), "--key", "k"])
        .args([
            "--part-size",
            "5MiB",
            "--multipart-threshold",
            "5MiB",
            "--bwlimit",
            "4MiB",
        ])
        .spawn()
        .unwrap();
    common::wait_until(20, "the multipart upload to start", || {
        h.ok(&["uploads", "--json"]).contains("upload_id")
    });
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();

    let mut ui = Ui::open(&h.home);
    ui.until("the interrupted upload", |h| {
        h.state().interrupted.len() == 1
    });
    ui.click("Transfers");
    assert!(ui.has_label_containing("1 interrupted upload(s)"));
    ui.click("Resume");
    ui.until("the resumed upload to finish", |h| {
        h.state().interrupted.is_empty()
            && h.state()
                .jobs()
                .is_some_and(|j| j.jobs().iter().all(|v| v.state.is_finished()))
    });
    let job = ui.app().jobs().unwrap().jobs()[0].clone();
    assert!(matches!(job.state, JobState::Done(_)), "{:?}", job.state);
    h.ok(&["download", &h.url("r.bin"), &h.p("back.bin")]);
    assert!(std::fs::read(h.path("back.bin")).unwrap() == data);
}

#[test]
fn verify_from_the_audit_view_finds_an_object_deleted_behind_its_back_and_exports_it() {
    let h = TestHome::with_connection("ui-verify");
    h.ok(&["key", "generate", "k"]);
    for name in ["kept", "deleted"] {
        random_file(&h.path(name), 1000);
        h.upload(name, "k");
    }
    // Backed up, so the only finding left to show is what the verify finds.
    let backup = h
        .cmd()
        .args(["backup", "--out", &h.p("keys.age")])
        .env("SSEC_MANAGER_PASSPHRASE", "correct horse battery")
        .output()
        .unwrap();
    assert!(backup.status.success(), "{backup:?}");
    h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api delete-object --bucket "$BUCKET" --key "$PREFIX/deleted" >/dev/null"#,
    );
    let mut ui = Ui::open(&h.home);
    ui.harness.state_mut().prefs.screen = Screen::Audit;
    ui.until("the audit", |h| h.state().audit.is_some());
    assert!(!ui.has_label_containing("no longer on the server"));

    ui.click("Verify all");
    ui.until("the verify to report the deleted object", |h| {
        h.state().audit.as_ref().is_some_and(|a| {
            a.findings
                .iter()
                .any(|f| f.title.contains("no longer on the server"))
        })
    });
    ui.harness.step();
    assert!(ui.has_label_containing("HIGH  1 object(s) of key \"k\" are no longer on the server"));
    let shown = |part: &str| ui.harness.query_all_by_label_contains(part).count();
    assert_eq!(shown(&h.url("deleted")), 1);
    assert_eq!(shown(&h.url("kept")), 0);
    let report = ui.app().audit.clone().unwrap();
    assert_eq!(report.objects_at_risk, 1);

    let out = h.path("audit.md");
    ui.click("Export report…");
    ui.type_text(out.to_str().unwrap());
    ui.click("Export");
    common::wait_until(20, "the exported report", || {
        ui.harness.step();
        out.exists()
    });
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(md.contains("no longer on the server"), "{md}");
    assert!(md.contains(&h.url("deleted")), "{md}");
}

#[test]
fn scan_and_adopt_in_the_objects_view_records_objects_a_known_key_opens() {
    // Uploaded from one home; a second home holds the same key but knows no objects.
    let first = TestHome::with_connection("ui-adopt");
    first.ok(&["key", "generate", "shared"]);
    for name in ["one.bin", "two.bin"] {
        random_file(&first.path(name), 1500);
        first.upload(name, "shared");
    }
    first.ok(&["key", "export", "shared", "--out", &first.p("shared.key")]);
    let h = TestHome::with_connection("ui-adopt-2");
    h.ok(&["key", "import", "shared", &first.p("shared.key")]);

    let mut ui = Ui::open(&h.home);
    assert!(registry_rows(ui.app()).is_empty());
    browse(
        ui.harness.state_mut(),
        &first.bench.bucket,
        &format!("{}/", first.prefix),
    );
    ui.until("the listing", |h| {
        h.state().browser.entries.len() == 2 && !h.state().browser.loading
    });
    ui.click("Scan and adopt");
    ui.until("both objects recorded under the shared key", |h| {
        registry_rows(h.state()).len() == 2
    });
    let mut adopted: Vec<(String, Option<String>)> = registry_rows(ui.app())
        .iter()
        .map(|o| (o.key.clone(), o.key_label.clone()))
        .collect();
    adopted.sort();
    assert_eq!(
        adopted,
        [
            (first.object_key("one.bin"), Some("shared".to_string())),
            (first.object_key("two.bin"), Some("shared".to_string()))
        ]
    );
    // And the downloads now pick the key by themselves.
    h.ok(&["download", &first.url("two.bin"), &h.p("two.bin")]);
    assert_eq!(
        std::fs::read(h.path("two.bin")).unwrap(),
        std::fs::read(first.path("two.bin")).unwrap()
    );
}

#[test]
fn rotating_a_key_from_the_window_runs_as_a_job_and_moves_every_object() {
    let h = TestHome::with_connection("ui-rotate");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let mut data = Vec::new();
    for name in ["r1", "r2", "r3"] {
        data.push(random_file(&h.path(name), 2000));
        h.upload(name, "old");
    }
    let mut ui = Ui::open(&h.home);
    ui.until("the objects", |h| audited(h.state(), 3));
    // The Keys screen's "Rotate…" opens this dialog for key "old"; the new key is chosen.
    ui.harness.state_mut().dialog = rotate_key_dialog(ui.app(), "old", "new");
    ui.until("the dialog", |h| {
        h.query_by_label("3 object(s) will change:").is_some()
    });
    // The dialog grew with the list: let it settle where it is drawn before clicking.
    for _ in 0..3 {
        ui.harness.step();
    }
    ui.click("Rotate");
    ui.until("the rotation job to finish", |h| {
        h.state().jobs().is_some_and(|j| {
            j.jobs().iter().any(|v| {
                matches!(v.spec, ssec_manager::core::jobs::JobSpec::Rotate { .. })
                    && v.state.is_finished()
            })
        })
    });
    let job = ui.app().jobs().unwrap().jobs()[0].clone();
    assert_eq!(
        job.state,
        JobState::Done("rotated 3 object(s) to key \"new\"".into())
    );
    assert_eq!((job.progress.done, job.progress.total), (3, 3));
    ui.until("the registry to show the new key", |h| {
        registry_rows(h.state())
            .iter()
            .all(|o| o.key_label.as_deref() == Some("new"))
    });
    for (name, bytes) in ["r1", "r2", "r3"].iter().zip(&data) {
        let back = h.p(&format!("{name}.back"));
        let said = h.ok(&["download", &h.url(name), &back]);
        assert!(said.contains("key \"new\""), "{said}");
        assert_eq!(&std::fs::read(&back).unwrap(), bytes);
        h.fails(&["download", &h.url(name), &h.p("x"), "--key", "old"]);
    }
}

#[test]
fn preflight_from_the_objects_view_shows_that_garage_enforces_sse_c() {
    let h = TestHome::with_connection("ui-preflight");
    let mut ui = Ui::open(&h.home);
    browse(
        ui.harness.state_mut(),
        &h.bench.bucket,
        &format!("{}/", h.prefix),
    );
    ui.harness.step();
    ui.click("Preflight");
    ui.until("the preflight report", |h| {
        h.query_by_label_contains("SSE-C enforced").is_some()
    });
    assert!(ui.has_label_containing("Transport: ok"));
    // Garage has no bucket encryption rules: shown as unknown, with the server's words.
    assert!(ui.has_label_containing("Bucket encryption rules: unknown"));
    assert!(!ui.has_label_containing("BLOCKED"));
    ui.click("Close");
    assert!(ui.app().dialog.is_none());
}

#[test]
fn ticked_objects_rotate_and_the_others_stay_under_their_key() {
    use ssec_manager::ui::dialogs::Dialog;
    let h = TestHome::with_connection("ui-rotate-selected");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    for name in ["s1", "s2", "s3"] {
        random_file(&h.path(name), 1200);
        h.upload(name, "old");
    }
    let mut ui = Ui::open(&h.home);
    browse(
        ui.harness.state_mut(),
        &h.bench.bucket,
        &format!("{}/", h.prefix),
    );
    ui.until("the listing and the registry", |h| {
        h.state().browser.entries.len() == 3
            && !h.state().browser.loading
            && h.state().browser.registered.len() == 3
    });
    ui.click("📄 s1");
    ui.click("📄 s3");
    ui.click("Rotate selected (2)…");
    ui.until("the rotate dialog", |h| {
        h.query_by_label("2 object(s) will change:").is_some()
    });
    // The new key is picked in the dialog's combo box.
    if let Some(Dialog::Rotate(r)) = &mut ui.harness.state_mut().dialog {
        r.to = "new".into();
    }
    // The registry counts again for the chosen key; the dialog settles before the click.
    ui.harness.step();
    ui.until("the count for the new key", |h| {
        h.query_by_label("2 object(s) will change:").is_some()
    });
    for _ in 0..3 {
        ui.harness.step();
    }
    ui.click("Rotate");
    ui.until("s1 and s3 under the new key", |h| {
        let by = |k: &str| {
            registry_rows(h.state())
                .iter()
                .find(|o| o.key.ends_with(k))
                .and_then(|o| o.key_label.clone())
        };
        by("/s1").as_deref() == Some("new") && by("/s3").as_deref() == Some("new")
    });
    let rows = registry_rows(ui.app());
    let s2 = rows.iter().find(|o| o.key.ends_with("/s2")).unwrap();
    assert_eq!(s2.key_label.as_deref(), Some("old"));
    let said = h.ok(&["download", &h.url("s2"), &h.p("s2.back")]);
    assert!(said.contains("key \"old\""), "{said}");
}

/// Issue 11: one planner decides where the files of a folder go, for both faces. A folder
/// and a file dropped on the window into a prefix become the same object keys as the same
/// two given to `upload` with that prefix, and as the folder alone given with its own name
/// (nested folders, a dotfile and non-ASCII names included).
#[test]
fn a_dropped_folder_and_the_cli_upload_of_it_name_the_same_objects() {
    let h = TestHome::with_connection("ui-planner");
    h.ok(&["key", "generate", "k"]);
    let root = h.path("photos");
    std::fs::create_dir_all(root.join("2026/été")).unwrap();
    random_file(&root.join("cover.jpg"), 100);
    random_file(&root.join(".album"), 100);
    let brulee = random_file(&root.join("2026/été/crème brûlée.jpg"), 300);
    random_file(&h.path("notes.txt"), 100);

    let mut ui = Ui::open(&h.home);
    ui.until("keys and connections", |h| {
        h.state().keys.len() == 1 && !h.state().connections.is_empty()
    });
    ui.harness.state_mut().browser.bucket = Some(h.bench.bucket.clone());
    ui.harness.state_mut().browser.prefix = format!("{}/win/", h.prefix);
    for dropped in ["photos", "notes.txt"] {
        ui.harness
            .input_mut()
            .dropped_files
            .push(Arc::new(Dropped(h.path(dropped))));
    }
    ui.until("the upload dialog", |h| {
        h.query_by_label("Upload with SSE-C").is_some()
    });
    ui.click("Upload without a backup of the key");
    ui.click("Upload");
    // The folder as one job of its three files, the loose file as a job of its own.
    ui.until("both uploads to finish", |h| {
        h.state().jobs().is_some_and(|j| {
            let jobs = j.jobs();
            jobs.len() == 2 && jobs.iter().all(|v| v.state.is_finished())
        })
    });
    assert!(
        ui.app()
            .jobs()
            .unwrap()
            .jobs()
            .iter()
            .all(|v| matches!(v.state, JobState::Done(_))),
        "{:?}",
        ui.app().jobs().unwrap().jobs()
    );
    drop(ui);

    let (photos, notes) = (h.p("photos"), h.p("notes.txt"));
    h.ok(&[
        "upload",
        &photos,
        &notes,
        &h.url("cli/"),
        "--key",
        "k",
        "--quiet",
    ]);
    h.ok(&[
        "upload",
        &photos,
        &h.url("one/photos/"),
        "--key",
        "k",
        "--quiet",
    ]);

    let objects: serde_json::Value = serde_json::from_str(&h.ok(&["objects", "--json"])).unwrap();
    let under = |place: &str| -> Vec<String> {
        let start = format!("{}/{place}/", h.prefix);
        let mut keys: Vec<String> = objects
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["key"].as_str()?.strip_prefix(&start).map(str::to_string))
            .collect();
        keys.sort();
        keys
    };
    let window = under("win");
    assert_eq!(
        window,
        [
            "notes.txt",
            "photos/.album",
            "photos/2026/été/crème brûlée.jpg",
            "photos/cover.jpg"
        ]
    );
    assert_eq!(under("cli"), window);
    let folder_alone: Vec<String> = window
        .iter()
        .filter(|k| k.starts_with("photos/"))
        .cloned()
        .collect();
    assert_eq!(under("one"), folder_alone);
    // The non-ASCII name is one object the server gives back as it was sent.
    let back = h.p("brulee.back");
    h.ok(&[
        "download",
        &h.url("win/photos/2026/été/crème brûlée.jpg"),
        &back,
    ]);
    assert!(std::fs::read(&back).unwrap() == brulee);
}

/// Issue 12: key lines copied by the window do not outlive it on the clipboard: closing it
/// within the 30 s clears the clipboard first, then closes.
#[test]
fn closing_the_window_clears_the_key_lines_it_copied() {
    use egui::{OutputCommand, ViewportCommand, ViewportEvent, ViewportId};
    let h = TestHome::new("ui-clipboard");
    h.ok(&["key", "generate", "k"]);
    let mut ui = Ui::open(&h.home);
    ui.until("the key row", |h| h.state().keys.len() == 1);
    ui.harness.get_by_label("Copy env").click();
    let copied = |h: &Harness<'static, App>, what: &dyn Fn(&str) -> bool| {
        h.output()
            .platform_output
            .commands
            .iter()
            .any(|c| matches!(c, OutputCommand::CopyText(t) if what(t)))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        ui.harness.step();
        if copied(&ui.harness, &|t| t.contains("SSE_KEY")) {
            break;
        }
        assert!(Instant::now() < deadline, "the env lines were never copied");
        std::thread::sleep(Duration::from_millis(20));
    }
    ui.harness
        .input_mut()
        .viewports
        .entry(ViewportId::ROOT)
        .or_default()
        .events
        .push(ViewportEvent::Close);
    ui.harness.step();
    assert!(
        copied(&ui.harness, &|t| t.is_empty()),
        "the clipboard was not cleared on close"
    );
    let commands = |h: &Harness<'static, App>| {
        h.output()
            .viewport_output
            .get(&ViewportId::ROOT)
            .map(|v| v.commands.clone())
            .unwrap_or_default()
    };
    assert!(commands(&ui.harness).contains(&ViewportCommand::CancelClose));
    ui.harness.step();
    assert!(commands(&ui.harness).contains(&ViewportCommand::Close));
}

/// Issue 12: the delete dialog sends exactly the objects it showed; an object added under
/// the key since (by another process) makes the core refuse, and the key stays.
#[test]
fn the_delete_dialog_refuses_when_what_it_showed_has_changed() {
    let h = TestHome::with_connection("ui-delete-changed");
    h.ok(&["key", "generate", "kept"]);
    random_file(&h.path("one.bin"), 1000);
    h.upload("one.bin", "kept");
    let mut ui = Ui::open(&h.home);
    ui.until("the key row", |h| h.state().keys.len() == 1);
    ui.click("Delete…");
    ui.until("the dependent objects", |h| {
        h.query_by_label_contains("These 1 object(s) become UNRECOVERABLE")
            .is_some()
    });
    // Meanwhile another process encrypts one more object with it.
    random_file(&h.path("two.bin"), 1000);
    h.upload("two.bin", "kept");
    ui.type_text("kept");
    ui.click("Delete key");
    ui.until("the refusal", |h| {
        h.state()
            .toasts
            .iter()
            .any(|t| t.error && t.text.contains("changed since it was shown"))
    });
    let listed = h.ok(&["key", "list", "--json"]);
    assert!(listed.contains("\"kept\""), "{listed}");
    let back = h.p("two.back");
    h.ok(&["download", &h.url("two.bin"), &back]);
}

#[test]
fn the_sync_dialog_shows_its_plan_before_anything_moves_and_saves_the_pairing() {
    let h = TestHome::with_connection("ui-sync");
    h.ok(&["key", "generate", "k"]);
    let src = h.path("photos");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for name in ["a.bin", "b.bin", "sub/c.bin"] {
        random_file(&src.join(name), 2000);
    }
    let prefix = format!("{}/photos/", h.prefix);
    let remote = format!("s3://{}/{prefix}", h.bench.bucket);
    h.ok(&["sync", &h.p("photos"), &remote, "--key", "k", "-q"]);
    random_file(&src.join("b.bin"), 2000);
    random_file(&src.join("new.bin"), 10);

    let mut ui = Ui::open(&h.home);
    browse(ui.harness.state_mut(), &h.bench.bucket, &prefix);
    ui.until("the listing", |h| !h.state().browser.loading);
    ui.click("Sync…");
    if let Some(ssec_manager::ui::dialogs::Dialog::Sync(d)) = &mut ui.harness.state_mut().dialog {
        d.folder = src.display().to_string();
        d.key = "k".into();
    }
    ui.harness.step();
    assert!(
        ui.disabled("Sync"),
        "Sync is enabled before a plan was shown"
    );
    ui.click("Show plan");
    ui.until("the plan", |h| {
        h.query_by_label_contains("1 new, 1 changed, 2 unchanged")
            .is_some()
    });
    assert!(ui.has_label("new: upload new.bin"));
    assert!(ui.has_label("changed: upload b.bin"));
    assert_eq!(
        registry_rows(ui.app()).len(),
        3,
        "something moved before Sync"
    );
    assert!(
        !ui.disabled("Sync"),
        "Sync stays disabled with the plan shown"
    );
    // The modal grew with the plan: let it settle where it is drawn before clicking.
    for _ in 0..3 {
        ui.harness.step();
    }
    // SSEC_UI_SHOTS=DIR keeps a picture of the dialog with its plan, to look at.
    if let Ok(dir) = std::env::var("SSEC_UI_SHOTS")
        && let Ok(image) = ui.harness.render()
    {
        image.save(Path::new(&dir).join("sync-dialog.png")).unwrap();
    }
    ui.click("Sync");
    assert!(
        ui.app().dialog.is_none(),
        "the dialog stays open after Sync"
    );
    ui.until("the sync job to finish", |h| {
        h.state()
            .jobs()
            .is_some_and(|j| j.jobs().iter().all(|v| v.state.is_finished()) && !j.jobs().is_empty())
    });
    let job = &ui.app().jobs().unwrap().jobs()[0];
    assert!(
        matches!(&job.state, JobState::Done(s) if s.contains("2 uploaded")),
        "{:?}",
        job.state
    );
    assert_eq!((job.progress.files_done, job.progress.files_total), (2, 2));
    ui.until("the saved pairing", |h| h.state().sync_pairs.len() == 1);
    ui.harness.state_mut().prefs.screen = Screen::Objects;
    ui.until("the Saved syncs menu", |h| {
        h.query_by_label_contains("Saved syncs (1)").is_some()
    });
}

#[test]
fn a_folder_download_job_lists_the_file_that_failed_and_retries_only_it() {
    let h = TestHome::with_connection("ui-folder-dl");
    h.ok(&["key", "generate", "k"]);
    let src = h.path("tree");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for name in ["one.bin", "two.bin", "d/three.bin"] {
        random_file(&src.join(name), 3000);
    }
    let prefix = format!("{}/tree/", h.prefix);
    h.ok(&[
        "upload",
        &h.p("tree"),
        &format!("s3://{}/{prefix}", h.bench.bucket),
        "--key",
        "k",
        "-q",
    ]);
    // A folder where a file must go: that one file cannot be saved.
    let out = h.path("out");
    std::fs::create_dir_all(out.join("two.bin")).unwrap();

    let mut ui = Ui::open(&h.home);
    browse(ui.harness.state_mut(), &h.bench.bucket, &prefix);
    ui.until("the listing", |h| !h.state().browser.loading);
    ui.click("Download folder…");
    if let Some(ssec_manager::ui::dialogs::Dialog::DownloadFolder(d)) =
        &mut ui.harness.state_mut().dialog
    {
        d.folder = out.display().to_string();
    }
    ui.harness.step();
    ui.click("Download");
    let finished = |h: &Harness<'static, App>| {
        h.state()
            .jobs()
            .is_some_and(|j| !j.jobs().is_empty() && j.jobs().iter().all(|v| v.state.is_finished()))
    };
    ui.until("the folder job to finish", finished);
    // Drawn once more: the frame `until` checked may predate the job's end.
    ui.harness.step();
    ui.harness.step();
    let job = ui.app().jobs().unwrap().jobs()[0].clone();
    assert!(matches!(job.state, JobState::Failed(_)), "{:?}", job.state);
    assert_eq!(job.failures.len(), 1, "{:?}", job.failures);
    assert!(job.failures[0].object.ends_with("tree/two.bin"));
    assert_eq!((job.progress.files_done, job.progress.files_total), (3, 3));
    assert!(ui.has_label("1 file(s) failed"));
    assert!(
        ui.has_label("3 of 3 files  ·  8.8 KiB of 8.8 KiB"),
        "the job's counts are shown"
    );
    assert_eq!(
        std::fs::read(out.join("one.bin")).unwrap(),
        std::fs::read(src.join("one.bin")).unwrap()
    );

    std::fs::remove_dir(out.join("two.bin")).unwrap();
    ui.click("Retry failed");
    ui.until("the retry to finish", |h| {
        h.state().jobs().is_some_and(|j| j.jobs().len() == 2) && finished(h)
    });
    let retry = ui.app().jobs().unwrap().jobs()[1].clone();
    assert!(
        matches!(&retry.state, JobState::Done(s) if s.contains("1 downloaded")),
        "{:?}",
        retry.state
    );
    assert_eq!(
        std::fs::read(out.join("two.bin")).unwrap(),
        std::fs::read(src.join("two.bin")).unwrap()
    );
}

/// Saves a picture of the window as it is now into SSEC_UI_SHOTS, if set (to look at).
fn shot(ui: &mut Ui, name: &str) {
    for _ in 0..3 {
        ui.harness.step();
    }
    if let Ok(dir) = std::env::var("SSEC_UI_SHOTS")
        && let Ok(image) = ui.harness.render()
    {
        image.save(Path::new(&dir).join(name)).unwrap();
    }
}

#[test]
fn a_key_shared_from_the_window_is_received_in_another_window_with_its_object() {
    use ssec_manager::ui::dialogs::{Dialog, Receive, Share};
    let alice = TestHome::with_connection("ui-share");
    alice.ok(&["key", "generate", "team"]);
    let data = random_file(&alice.path("t.bin"), 5000);
    alice.upload("t.bin", "team");
    let bob = TestHome::with_connection("ui-receive");
    let id = bob.p("bob.age");
    bob.sh_ok(&format!("age-keygen -o {id} 2>/dev/null"));
    let public = bob.sh_ok(&format!("age-keygen -y {id}")).trim().to_string();
    let out = alice.p("team.age");

    let mut ui = Ui::open(&alice.home);
    ui.until("the key", |h| h.state().keys.len() == 1);
    ui.harness.state_mut().dialog = Some(Dialog::Share(Share::new("team")));
    ui.until("the share dialog", |h| h.query_by_label("Share").is_some());
    assert!(ui.disabled("Share"), "Share is enabled without a recipient");
    if let Some(Dialog::Share(d)) = &mut ui.harness.state_mut().dialog {
        d.recipients = format!("{public}\nnot a key\n");
        d.path = out.clone();
    }
    ui.harness.step();
    assert!(
        ui.has_label_containing("recipients line 2"),
        "a bad line is named"
    );
    assert!(ui.disabled("Share"));
    if let Some(Dialog::Share(d)) = &mut ui.harness.state_mut().dialog {
        d.recipients = format!("{public}\n");
    }
    ui.harness.step();
    assert!(ui.has_label("1 recipient(s):"));
    shot(&mut ui, "share-dialog.png");
    assert!(!ui.disabled("Share"));
    ui.click("Share");
    ui.until("the share to be written", |h| {
        h.query_by_label_contains("Shared 1 key(s) with 1 recipient(s)")
            .is_some()
    });
    assert!(Path::new(&out).exists());
    ui.until("the audit to list the share", |h| {
        h.state()
            .audit
            .as_ref()
            .is_some_and(|a| a.shared.len() == 1)
    });
    drop(ui);

    let mut ui = Ui::open(&bob.home);
    ui.harness.state_mut().dialog = Some(Dialog::Receive(Receive {
        path: out,
        identity: id,
        ..Receive::default()
    }));
    ui.until("the receive dialog", |h| {
        h.query_by_label("Receive").is_some()
    });
    ui.click("Receive");
    ui.until("the key and its object", |h| {
        h.state().keys.len() == 1 && audited(h.state(), 1)
    });
    let said: Vec<String> = ui.app().toasts.iter().map(|t| t.text.clone()).collect();
    assert!(
        said.iter().any(|t| t.starts_with("Received 1 new key(s)")),
        "{said:?}"
    );
    bob.ok(&["download", &alice.url("t.bin"), &bob.p("t.back")]);
    assert_eq!(std::fs::read(bob.path("t.back")).unwrap(), data);
}

#[test]
fn the_upload_dialog_takes_the_folder_default_key_and_asks_before_another() {
    use ssec_manager::ui::dialogs::Dialog;
    let h = TestHome::with_connection("ui-default");
    h.ok(&["key", "generate", "docs"]);
    h.ok(&["key", "generate", "other"]);
    let prefix = format!("{}/docs/", h.prefix);
    h.ok(&[
        "key",
        "default",
        &format!("s3://{}/{prefix}", h.bench.bucket),
        "docs",
    ]);
    random_file(&h.path("d.bin"), 100);
    let mut ui = Ui::open(&h.home);
    ui.until("keys and the default", |h| {
        h.state().keys.len() == 2 && h.state().defaults.len() == 1
    });
    browse(ui.harness.state_mut(), &h.bench.bucket, &prefix);
    ui.until("the listing", |h| !h.state().browser.loading);
    assert!(
        ui.has_label_containing("Default key: docs"),
        "the folder shows its default"
    );
    ui.harness
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(h.path("d.bin"))));
    ui.until("the upload dialog", |h| {
        h.query_by_label("Upload with SSE-C").is_some()
    });
    let Some(Dialog::Upload(d)) = &ui.app().dialog else {
        panic!("no upload dialog");
    };
    assert_eq!(d.key, "docs", "the default key is chosen");
    // Another key chosen: said, and Upload waits for a yes.
    if let Some(Dialog::Upload(d)) = &mut ui.harness.state_mut().dialog {
        d.key = "other".into();
        d.key_chosen = true;
    }
    ui.harness.step();
    assert!(ui.has_label_containing("has default key \"docs\"; you chose \"other\""));
    assert!(ui.disabled("Upload"));
    // The modal grew: let it settle where it is drawn before clicking.
    shot(&mut ui, "upload-other-key.png");
    ui.click("Upload with \"other\" anyway");
    ui.click("Upload without a backup of the key");
    assert!(!ui.disabled("Upload"));
    ui.click("Upload");
    ui.until("the upload to finish", |h| {
        h.state()
            .jobs()
            .is_some_and(|j| j.jobs().len() == 1 && j.jobs()[0].state.is_finished())
    });
    ui.until("the registry", |h| registry_rows(h.state()).len() == 1);
    assert_eq!(
        registry_rows(ui.app())[0].key_label.as_deref(),
        Some("other")
    );
}

#[test]
fn a_folder_moved_off_sse_c_from_the_window_reads_without_a_key_and_copies_a_curl_recipe() {
    use ssec_manager::ui::dialogs::Dialog;
    let h = TestHome::with_connection("ui-migrate");
    h.ok(&["key", "generate", "k"]);
    let data = random_file(&h.path("m.bin"), 3000);
    h.upload("m.bin", "k");
    let prefix = format!("{}/", h.prefix);
    let mut ui = Ui::open(&h.home);
    browse(ui.harness.state_mut(), &h.bench.bucket, &prefix);
    ui.until("the listing", |h| {
        !h.state().browser.loading && h.state().browser.registered.len() == 1
    });
    // The curl recipe of the SSE-C object is presigned by the worker and copied.
    ui.click("Copy curl recipe");
    ui.until("the recipe", |h| {
        h.query_by_label_contains("Copied the curl recipe")
            .is_some()
    });
    ui.click("Default key: none");
    ui.click("Move this folder off SSE-C…");
    assert!(matches!(ui.app().dialog, Some(Dialog::Migrate(_))));
    ui.until("the preview", |h| {
        h.query_by_label("1 object(s) will leave SSE-C:").is_some()
    });
    if let Some(Dialog::Migrate(d)) = &mut ui.harness.state_mut().dialog {
        d.target = "none".into();
    }
    ui.harness.step();
    assert!(ui.disabled("Migrate"), "none needs its own yes");
    shot(&mut ui, "migrate-dialog.png");
    ui.click("Store them unencrypted");
    assert!(!ui.disabled("Migrate"));
    ui.click("Migrate");
    assert!(
        ui.app().dialog.is_none(),
        "the dialog stays open after Migrate"
    );
    ui.until("the migration job to finish", |h| {
        h.state().jobs().is_some_and(|j| {
            j.jobs().iter().any(|v| {
                matches!(v.spec, ssec_manager::core::jobs::JobSpec::Migrate { .. })
                    && v.state.is_finished()
            })
        })
    });
    let job = ui.app().jobs().unwrap().jobs()[0].clone();
    assert!(
        matches!(&job.state, JobState::Done(s) if s.contains("migrated 1 object(s)")),
        "{:?}",
        job.state
    );
    ui.until("the key to be retired", |h| {
        h.state().keys.iter().any(|k| k.summary.retired())
    });
    ui.harness.state_mut().prefs.screen = Screen::Objects;
    ui.until("the object's new state", |h| {
        h.query_by_label("off SSE-C (none)").is_some()
    });
    let plain = h.sh(
        r#"aws --endpoint-url "$EP" s3api get-object --bucket "$BUCKET" --key "$PREFIX/m.bin" plain.bin >/dev/null"#,
    );
    assert!(plain.status.success());
    assert_eq!(std::fs::read(h.path("plain.bin")).unwrap(), data);
}

// ---- Issue 17: the window tells the truth and fits ----

#[test]
fn an_object_whose_key_was_deleted_is_red_and_cannot_be_downloaded() {
    let h = TestHome::with_connection("ui-truth");
    h.ok(&["key", "generate", "gone"]);
    h.ok(&["key", "generate", "kept"]);
    random_file(&h.path("a.bin"), 100);
    random_file(&h.path("b.bin"), 100);
    h.upload("a.bin", "gone");
    h.upload("b.bin", "kept");
    h.ok(&["key", "delete", "gone", "--force"]);
    let mut ui = Ui::open(&h.home);
    browse(
        ui.harness.state_mut(),
        &h.bench.bucket,
        &format!("{}/", h.prefix),
    );
    ui.until("the listing", |h| {
        !h.state().browser.loading && h.state().browser.registered.len() == 2
    });
    ui.until("the row's state", |h| {
        h.query_by_label("key \"gone\" deleted: cannot be opened")
            .is_some()
    });
    // The other object's key was never backed up: at risk, and said so.
    assert!(ui.has_label("🔑 kept (never backed up)"));
    let downloads: Vec<bool> = ui
        .harness
        .query_all_by_label("Download…")
        .map(|n| n.accesskit_node().is_disabled())
        .collect();
    assert_eq!(downloads.len(), 2);
    assert_eq!(
        downloads.iter().filter(|d| **d).count(),
        1,
        "only the keyless row is disabled"
    );
    // The audit counts both as at risk (one cannot be opened at all); its card shows them.
    let report = ui.app().audit.clone().unwrap();
    assert_eq!(report.objects_at_risk, 2);
    assert_eq!(report.objects_unrecoverable, 1);
    let named: std::collections::HashSet<&String> = report
        .findings
        .iter()
        .filter(|f| f.puts_at_risk())
        .flat_map(|f| f.objects.iter())
        .collect();
    assert_eq!(named.len(), report.objects_at_risk);
    ui.harness.state_mut().prefs.screen = Screen::Audit;
    ui.until("the cards", |h| {
        h.query_by_label("Objects at risk").is_some()
    });
    ui.click("Objects at risk");
    assert!(ui.app().audit_at_risk_only);
    assert!(ui.has_label_containing("Showing the findings that put objects at risk"));
}

#[test]
fn a_wrong_passphrase_keeps_the_restore_dialog_open_and_a_restore_counts_as_a_backup() {
    use ssec_manager::ui::dialogs::{Dialog, Restore};
    let a = TestHome::new("ui-restore-from");
    a.ok(&["key", "generate", "saved"]);
    let file = a.p("keys.age");
    let out = a
        .cmd()
        .args(["backup", "--out", &file])
        .env("SSEC_MANAGER_PASSPHRASE", "correct horse battery")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = TestHome::new("ui-restore-to");
    let mut ui = Ui::open(&b.home);
    ui.harness.state_mut().dialog = Some(Dialog::Restore(Restore {
        path: file.clone(),
        passphrase: zeroize::Zeroizing::new("wrong horse battery".into()),
        ..Restore::default()
    }));
    ui.until("the dialog", |h| h.query_by_label("Restore").is_some());
    ui.click("Restore");
    ui.until("the answer", |h| {
        h.query_by_label_contains("passphrase does not open")
            .is_some()
    });
    let Some(Dialog::Restore(d)) = &ui.app().dialog else {
        panic!("the dialog closed on a wrong passphrase");
    };
    assert_eq!(d.path, file, "what was typed is kept");
    if let Some(Dialog::Restore(d)) = &mut ui.harness.state_mut().dialog {
        d.passphrase = zeroize::Zeroizing::new("correct horse battery".into());
    }
    ui.harness.step();
    ui.click("Restore");
    ui.until("the key", |h| {
        h.state().keys.len() == 1 && h.state().dialog.is_none()
    });
    assert_eq!(ui.app().keys[0].summary.key.backup_status, "age_backup");
    assert!(!ui.app().audit.as_ref().is_some_and(|a| {
        a.findings
            .iter()
            .any(|f| f.title.contains("never backed up"))
    }),);
}

#[test]
fn upload_files_uses_the_built_in_chooser_and_starts_a_job() {
    use ssec_manager::ui::dialogs::{Chooser, Dialog};
    let h = TestHome::with_connection("ui-chooser");
    h.ok(&["key", "generate", "k"]);
    let dir = h.path("pick");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let data = random_file(&dir.join("one.bin"), 1000);
    random_file(&dir.join("two.bin"), 10);
    let mut ui = Ui::open(&h.home);
    browse(
        ui.harness.state_mut(),
        &h.bench.bucket,
        &format!("{}/", h.prefix),
    );
    ui.until("the listing", |h| !h.state().browser.loading);
    ui.click("Upload files…");
    assert!(matches!(ui.app().dialog, Some(Dialog::Chooser(_))));
    // The chooser opens at home; here it is pointed at the test's folder.
    ui.harness.state_mut().dialog = Some(Dialog::Chooser(Chooser::at(false, &dir)));
    ui.until("the folder's files", |h| {
        h.query_by_label("📄 one.bin").is_some()
    });
    assert!(ui.has_label("📁 sub"));
    assert!(ui.disabled("Upload 0 file(s)"));
    // The modal grew with the listing: let it settle where it is drawn before clicking.
    shot(&mut ui, "chooser.png");
    ui.click("📄 one.bin");
    ui.click("Upload 1 file(s)");
    ui.until("the upload dialog", |h| {
        h.query_by_label("Upload with SSE-C").is_some()
    });
    ui.click("Upload without a backup of the key");
    ui.click("Upload");
    ui.until("the upload to finish", |h| {
        h.state()
            .jobs()
            .is_some_and(|j| j.jobs().len() == 1 && j.jobs()[0].state.is_finished())
    });
    h.ok(&["download", &h.url("one.bin"), &h.p("one.back")]);
    assert_eq!(std::fs::read(h.path("one.back")).unwrap(), data);
    // The finished job goes into the history the window keeps across restarts (its
    // settings), and stays listed there after Clear finished.
    ui.until("the history", |h| h.state().prefs.history.len() == 1);
    let entry = ui.app().prefs.history[0].clone();
    assert!(entry.ok && entry.what.contains("one.bin"), "{entry:?}");
    let saved = serde_json::to_string(&ui.app().prefs).unwrap();
    let back: ssec_manager::ui::Prefs = serde_json::from_str(&saved).unwrap();
    assert_eq!(back.history, ui.app().prefs.history);
    ui.harness.state_mut().prefs.screen = Screen::Transfers;
    ui.harness.step();
    ui.click("Clear finished (1)");
    assert!(ui.app().jobs().unwrap().jobs().is_empty());
    assert!(ui.has_label("Earlier (1)"));
}

#[test]
fn at_1024_by_700_every_action_is_on_screen_and_nothing_moves_under_the_pointer() {
    let h = TestHome::with_connection("ui-narrow");
    h.ok(&["key", "generate", "first"]);
    h.ok(&["key", "generate", "second"]);
    random_file(&h.path("n.bin"), 100);
    h.upload("n.bin", "first");
    let mut ui = Ui::open(&h.home);
    ui.harness.set_size(egui::Vec2::new(1024.0, 700.0));
    ui.until("the keys", |h| h.state().keys.len() == 2);
    for _ in 0..3 {
        ui.harness.step();
    }
    let inside = |ui: &Ui, label: &str| {
        let nodes: Vec<_> = ui.harness.query_all_by_label(label).collect();
        assert!(!nodes.is_empty(), "no {label:?}");
        for n in nodes {
            let r = n.rect();
            assert!(
                r.right() <= 1024.0 && r.bottom() <= 700.0,
                "{label:?} at {r:?}"
            );
        }
    };
    for label in ["➕ Generate…", "Receive…", "Refresh", "Actions…"] {
        inside(&ui, label);
    }
    // Reveal floats: the rows stay where they were.
    let before = ui
        .harness
        .get_all_by_label("Actions…")
        .next()
        .unwrap()
        .rect();
    ui.harness
        .get_all_by_label("Actions…")
        .next()
        .unwrap()
        .click();
    ui.harness.step();
    ui.harness.step();
    ui.click("Reveal");
    ui.until("the revealed key", |h| h.state().revealed.is_some());
    ui.harness.step();
    assert!(ui.has_label_containing("(hides in "));
    let after = ui
        .harness
        .get_all_by_label("Actions…")
        .next()
        .unwrap()
        .rect();
    assert_eq!(before, after, "the table moved under the pointer");
    shot(&mut ui, "keys-1024.png");
    browse(
        ui.harness.state_mut(),
        &h.bench.bucket,
        &format!("{}/", h.prefix),
    );
    ui.until("the listing", |h| {
        !h.state().browser.loading && !h.state().browser.registered.is_empty()
    });
    for _ in 0..3 {
        ui.harness.step();
    }
    for label in [
        "Upload files…",
        "Upload folder…",
        "Scan and adopt",
        "Default key: none",
        "Actions…",
    ] {
        inside(&ui, label);
    }
    shot(&mut ui, "objects-1024.png");
}

#[test]
fn the_generate_dialog_names_a_taken_label_and_keeps_it() {
    let h = TestHome::new("ui-generate-taken");
    h.ok(&["key", "generate", "taken"]);
    let mut ui = Ui::open(&h.home);
    ui.until("the key", |h| h.state().keys.len() == 1);
    ui.harness.state_mut().dialog = Some(ssec_manager::ui::dialogs::Dialog::generate());
    ui.until("the dialog", |h| h.query_by_label("Generate").is_some());
    ui.type_text("taken");
    assert!(ui.has_label("A key is already labelled \"taken\"; choose another label."));
    assert!(ui.disabled("Generate"));
    assert!(ui.app().dialog.is_some());
}

/// Not a check but the README's pictures: with SSEC_SCREENSHOTS=DIR, every screen at
/// 1024x700 and 1600x1000, dark and light, rendered from the real App against Garage, is
/// saved as SCREEN-WxH-THEME.png (scripts/screenshots.sh copies them into assets/).
#[test]
fn screenshots_of_every_screen_at_two_sizes_in_both_themes() {
    let Ok(out) = std::env::var("SSEC_SCREENSHOTS") else {
        return;
    };
    let h = TestHome::with_connection("ui-screens");
    h.ok(&["key", "generate", "photos-2026"]);
    h.ok(&["key", "generate", "backups"]);
    let out_file = h.p("keys.age");
    let backed = h
        .cmd()
        .args(["backup", "--out", &out_file, "--keys", "photos-2026"])
        .env("SSEC_MANAGER_PASSPHRASE", "correct horse battery")
        .output()
        .unwrap();
    assert!(backed.status.success());
    for (name, key) in [
        ("beach.jpg", "photos-2026"),
        ("harbour.jpg", "photos-2026"),
        ("tax-2025.pdf", "backups"),
    ] {
        random_file(&h.path(name), 40_000);
        h.upload(name, key);
    }
    let mut ui = Ui::open(&h.home);
    ui.until("the registry", |h| audited(h.state(), 3));
    for (w, ht) in [(1024.0, 700.0), (1600.0, 1000.0)] {
        ui.harness.set_size(egui::Vec2::new(w, ht));
        for dark in [true, false] {
            ui.harness.state_mut().prefs.dark = dark;
            ui.harness.ctx.set_theme(if dark {
                egui::Theme::Dark
            } else {
                egui::Theme::Light
            });
            for screen in [
                Screen::Keys,
                Screen::Objects,
                Screen::Transfers,
                Screen::Audit,
                Screen::Connections,
            ] {
                if screen == Screen::Objects {
                    browse(
                        ui.harness.state_mut(),
                        &h.bench.bucket,
                        &format!("{}/", h.prefix),
                    );
                    ui.until("the listing", |h| !h.state().browser.loading);
                }
                ui.harness.state_mut().prefs.screen = screen;
                for _ in 0..4 {
                    ui.harness.step();
                }
                let image = ui.harness.render().unwrap();
                assert_eq!((image.width(), image.height()), (w as u32, ht as u32));
                let theme = if dark { "dark" } else { "light" };
                let name = format!("{screen:?}-{w}x{ht}-{theme}.png").to_lowercase();
                image.save(Path::new(&out).join(name)).unwrap();
            }
        }
    }
}

#[test]
fn arrow_keys_walk_the_rows_a_parent_row_goes_up_and_all_below_searches_every_level() {
    let h = TestHome::with_connection("ui-keys-nav");
    h.ok(&["key", "generate", "mine"]);
    random_file(&h.path("top.bin"), 100);
    random_file(&h.path("deep.bin"), 100);
    random_file(&h.path("plain.bin"), 100);
    h.upload("top.bin", "mine");
    let deep = format!("s3://{}/{}/sub/deep.bin", h.bench.bucket, h.prefix);
    h.ok(&["upload", &h.p("deep.bin"), &deep, "--key", "mine"]);
    // One object under a key this computer does not have, one not encrypted at all: put by
    // the aws CLI, the seed's way.
    h.sh_ok(&format!(
        r#"openssl rand -base64 32 > other.key; KEYFILE=other.key; {SEED_ENV}
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/foreign.bin" \
          --body top.bin --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/plain.bin" \
          --body plain.bin >/dev/null"#
    ));
    let mut ui = Ui::open(&h.home);
    browse(
        ui.harness.state_mut(),
        &h.bench.bucket,
        &format!("{}/", h.prefix),
    );
    ui.until("the listing", |h| {
        !h.state().browser.loading && h.state().browser.entries.len() == 4
    });
    // Rows: the parent, sub/, then foreign.bin, plain.bin, top.bin by name.
    assert!(ui.has_label("📁 .. (parent folder)"));
    ui.harness.key_press(egui::Key::ArrowDown);
    ui.harness.step();
    assert_eq!(ui.app().browser.cursor, Some(0));
    ui.harness.key_press(egui::Key::ArrowDown);
    ui.harness.step();
    ui.harness.key_press(egui::Key::Enter);
    ui.until("sub/ opened by Enter", |hs| {
        hs.state().browser.prefix.ends_with("/sub/") && !hs.state().browser.loading
    });
    ui.until("deep.bin listed", |h| {
        h.query_by_label("📄 deep.bin").is_some()
    });
    ui.harness.key_press(egui::Key::Backspace);
    ui.until("Backspace went up", |hs| {
        !hs.state().browser.prefix.ends_with("/sub/")
            && hs.state().browser.entries.len() == 4
            && !hs.state().browser.loading
    });
    // End is the last row (top.bin): Space ticks it, Enter opens its download.
    ui.harness.key_press(egui::Key::End);
    ui.harness.step();
    ui.harness.key_press(egui::Key::Space);
    ui.harness.step();
    ui.harness.step();
    let top = h.object_key("top.bin");
    assert!(
        ui.app().browser.selected.contains(&top),
        "Space ticked the row"
    );
    assert!(ui.has_label("Download selected (1)…"));
    ui.harness.key_press(egui::Key::Enter);
    ui.harness.step();
    assert!(
        matches!(
            ui.app().dialog,
            Some(ssec_manager::ui::dialogs::Dialog::Download(_))
        ),
        "Enter on an object opens its download"
    );
    ui.harness.state_mut().dialog = None;
    ui.harness.step();

    // Check keys: the foreign object's and the plain object's actions say why they cannot
    // work, instead of failing after the click.
    ui.click("Check keys");
    assert!(
        ui.has_label("Checking keys…"),
        "a spinner while the HEADs run"
    );
    ui.until("the check", |hs| hs.state().browser.checked.len() >= 3);
    ui.until("the spinner gone", |h| {
        h.query_by_label("Checking keys…").is_none()
    });
    ui.until("the rows' states", |h| {
        h.query_by_label("not encrypted").is_some()
    });
    let disabled = |ui: &Ui, action: &str| -> usize {
        ui.harness
            .query_all_by_label(action)
            .filter(|n| n.accesskit_node().is_disabled())
            .count()
    };
    assert_eq!(
        disabled(&ui, "Download…"),
        1,
        "only the foreign object's Download"
    );
    assert_eq!(disabled(&ui, "Copy curl recipe"), 2, "foreign and plain");

    // All below: every object at any depth, the filter searching them all.
    ui.click("All below");
    ui.until("the deep listing", |hs| {
        let b = &hs.state().browser;
        b.all && !b.loading && b.entries.len() == 4
    });
    assert!(ui.has_label("📄 sub/deep.bin"));
    ui.harness.state_mut().browser.filter = "deep".into();
    ui.harness.step();
    ui.harness.step();
    assert!(ui.has_label("1 item(s)"));
}

#[test]
fn testing_a_connection_shows_a_spinner_then_its_answer_in_the_row() {
    let h = TestHome::with_connection("ui-test-conn");
    // Nothing answers there: the test waits for the connect timeout.
    h.add_connection_with("nowhere", "http://10.255.255.1:9", &["--allow-plain-http"]);
    let mut ui = Ui::open(&h.home);
    ui.harness.state_mut().prefs.screen = Screen::Connections;
    ui.until("the connections", |h| h.state().connections.len() == 2);
    ui.harness.step();
    let tests: Vec<_> = ui.harness.query_all_by_label("Test").collect();
    assert_eq!(tests.len(), 2);
    // The rows are by name: garage first, nowhere second.
    tests[1].click();
    ui.harness.step();
    ui.harness.step();
    assert!(ui.has_label("Testing…"), "a spinner while it waits");
    ui.harness
        .query_all_by_label("Test")
        .next()
        .unwrap()
        .click();
    ui.until("both answers", |h| {
        h.query_by_label("works").is_some() && h.query_by_label("failed").is_some()
    });
    assert!(!ui.has_label("Testing…"));
}

#[test]
fn the_window_repaints_for_a_toast_once_and_not_at_all_when_idle() {
    let h = TestHome::new("ui-repaint");
    let mut ui = Ui::open(&h.home);
    // Settled: no frame asks for another.
    let next_frame = |ui: &Ui| {
        ui.harness
            .output()
            .viewport_output
            .values()
            .map(|v| v.repaint_delay)
            .min()
            .unwrap()
    };
    ui.until("the first refresh", |h| h.state().audit.is_some());
    let idle = ui.harness.try_run().expect("the window settles");
    assert!(idle <= 10, "{idle} frames while idle");
    assert!(
        next_frame(&ui) > Duration::from_secs(3600),
        "idle, no frame is asked for: {:?}",
        next_frame(&ui)
    );
    ui.harness.state_mut().info("A notice");
    let toast = ui
        .harness
        .try_run()
        .expect("a toast does not repaint continuously");
    assert!(toast <= 3, "{toast} frames for a toast");
    assert!(ui.has_label("A notice"));
    // The next frame is when the toast goes, not sooner.
    let delay = next_frame(&ui);
    assert!(
        delay > Duration::from_secs(4) && delay <= Duration::from_secs(6),
        "{delay:?}"
    );
}

#[test]
fn tab_moves_the_keyboard_focus_and_a_ring_shows_where() {
    let h = TestHome::new("ui-focus");
    let mut ui = Ui::open(&h.home);
    ui.harness.step();
    assert!(ssec_manager::ui::theme::focus_ring(&ui.harness.ctx).is_none());
    ui.harness.key_press(egui::Key::Tab);
    ui.harness.step();
    ui.harness.step();
    let ring = ssec_manager::ui::theme::focus_ring(&ui.harness.ctx).expect("a control has focus");
    assert!(ring.width() > 4.0 && ring.height() > 4.0);
}

#[test]
fn browse_opens_the_windows_own_file_list_and_a_folder_click_saves_there() {
    use ssec_manager::core::location::S3Url;
    use ssec_manager::ui::dialogs::{Dialog, Download};
    let h = TestHome::with_connection("ui-browse");
    h.ok(&["key", "generate", "k"]);
    let data = random_file(&h.path("f.bin"), 1000);
    h.upload("f.bin", "k");
    std::fs::create_dir(h.path("into")).unwrap();
    let mut ui = Ui::open(&h.home);
    ui.until("the registry's objects", |h| audited(h.state(), 1));
    let url = S3Url {
        bucket: h.bench.bucket.clone(),
        key: h.object_key("f.bin"),
    };
    let mut d = Download::new("garage", url);
    // Never the folder the program started in: the user's Downloads or home.
    assert!(Path::new(&d.path).is_absolute(), "{}", d.path);
    d.path = h.p("got.bin");
    ui.harness.state_mut().dialog = Some(Dialog::Download(d));
    ui.until("the dialog", |h| h.query_by_label("Browse…").is_some());
    ui.click("Browse…");
    shot(&mut ui, "browse.png");
    // The list opens on the field's folder, without any system dialog.
    ui.until("the list", |h| h.query_by_label("📁 into").is_some());
    assert!(ui.has_label("📄 f.bin"));
    ui.click("📁 into");
    ui.until("into/ opened", |h| {
        h.query_by_label("This folder is empty.").is_some()
    });
    ui.click("Save here as got.bin");
    let Some(Dialog::Download(d)) = &ui.app().dialog else {
        panic!("the dialog stays open");
    };
    let chosen = h.path("into").join("got.bin");
    assert_eq!(Path::new(&d.path), chosen);
    // The dialog shrinks back once the list closes: let it settle before clicking.
    for _ in 0..3 {
        ui.harness.step();
    }
    ui.click("Download");
    ui.until("the download", |_| chosen.exists());
    assert_eq!(std::fs::read(&chosen).unwrap(), data);
}

/// Counts straight from the registry file: (rows, stored, stored or pending, missing).
fn registry_counts(home: &Path) -> (usize, usize, usize, usize) {
    let db = rusqlite::Connection::open_with_flags(
        home.join("registry.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row(
        "SELECT COUNT(*), SUM(state = 'stored'), SUM(state IN ('stored', 'pending')),
            SUM(state = 'stored' AND verify_status = 'missing') FROM objects",
        [],
        |r| {
            let n = |i| r.get::<_, i64>(i).map(|v| v as usize);
            Ok((n(0)?, n(1)?, n(2)?, n(3)?))
        },
    )
    .unwrap()
}

#[test]
fn with_200000_registered_objects_the_window_holds_only_the_pages_it_shows() {
    const N: usize = 200_000;
    let h = TestHome::with_connection("ui-scale");
    h.ok(&["key", "generate", "photos"]);
    h.ok(&["key", "generate", "backups"]);
    for name in ["a.bin", "b.bin", "c.bin"] {
        random_file(&h.path(name), 1000);
        h.upload(name, "photos");
    }
    // 200,000 more rows through the real schema (in a bucket the server does not have).
    fill::fill(&h.home.join("registry.sqlite3"), N, false).unwrap();
    let (rows, stored, current, missing) = registry_counts(&h.home);
    assert_eq!(rows, N + 3);
    let mut ui = Ui::open(&h.home);
    ui.until("the audit of every row", |h| {
        h.state()
            .audit
            .as_ref()
            .is_some_and(|a| a.objects_by_state.values().sum::<usize>() == rows)
    });
    let report = ui.app().audit.clone().unwrap();
    // The totals equal the registry's own counts: neither key was backed up, so every
    // stored object is at risk; the ones the server said are gone cannot be opened.
    assert_eq!(report.objects, current);
    assert_eq!(report.objects_at_risk, stored);
    assert_eq!(report.objects_unrecoverable, missing);
    // Each finding holds its count and a first page, never all its objects.
    let never = report
        .findings
        .iter()
        .find(|f| f.title.contains("\"photos\"") && f.title.contains("never backed up"))
        .unwrap();
    let of_photos: i64 = rusqlite::Connection::open(h.home.join("registry.sqlite3"))
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM objects o JOIN keys k ON k.fingerprint = o.key_fingerprint
             WHERE k.label = 'photos' AND o.state = 'stored'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(never.count, of_photos as u64);
    assert_eq!(never.objects.len(), 50);
    let held = |app: &App| -> usize {
        let audit = app.audit.as_ref().map_or(0, |a| {
            a.findings.iter().map(|f| f.objects.len()).sum::<usize>()
        });
        audit + app.browser.registered.len()
    };
    assert!(
        held(ui.app()) <= 50 * report.findings.len(),
        "{}",
        held(ui.app())
    );

    // The Audit view shows those totals, and reads more of a finding only when asked.
    ui.harness.state_mut().prefs.screen = Screen::Audit;
    ui.until("the cards", |h| {
        h.query_by_label("Objects at risk").is_some()
    });
    // Nothing is pending, so the Objects and Objects at risk cards show the same number.
    assert_eq!(current, stored);
    assert_eq!(
        ui.harness.query_all_by_label(&stored.to_string()).count(),
        2
    );
    let shown = |n: usize| ui.harness.query_all_by_label(&n.to_string()).count();
    assert!(shown(missing) >= 1, "the Cannot be opened card");
    let index = report
        .findings
        .iter()
        .position(|f| f.has_more() && f.count >= 550)
        .expect("a finding with more objects than its first pages");
    let first = &report.findings[index];
    // Tall enough that the findings are on screen.
    ui.harness.set_size(egui::Vec2::new(1280.0, 3000.0));
    for _ in 0..3 {
        ui.harness.step();
    }
    ui.harness
        .get_all_by_label("Show 500 more")
        .next()
        .unwrap()
        .click();
    ui.until("the next page", |h| {
        h.state().audit.as_ref().unwrap().findings[index]
            .objects
            .len()
            == 550
    });
    let grown = &ui.app().audit.as_ref().unwrap().findings[index];
    assert_eq!(&grown.objects[..50], &first.objects[..]);
    assert!(ui.has_label_containing(&format!("550 of {} objects shown", first.count)));
    shot(&mut ui, "audit-200000.png");

    // The Objects view holds the rows of the folder it lists: three, not 200,003.
    ui.harness.set_size(egui::Vec2::new(1280.0, 800.0));
    browse(
        ui.harness.state_mut(),
        &h.bench.bucket,
        &format!("{}/", h.prefix),
    );
    ui.until("the listing and its rows", |h| {
        !h.state().browser.loading && h.state().browser.registered.len() == 3
    });
    assert!(ui.has_label("3 item(s)"));
    assert_eq!(
        ui.harness
            .query_all_by_label("🔑 photos (never backed up)")
            .count(),
        3
    );
    shot(&mut ui, "objects-200000.png");
    assert!(held(ui.app()) <= 50 * report.findings.len() + 500 + 3);

    // Deleting a key counts every object it protects and names the first 200 of them.
    ui.harness.state_mut().prefs.screen = Screen::Keys;
    ui.until("the key rows", |h| h.query_by_label("photos").is_some());
    ui.harness
        .get_all_by_label("Delete…")
        .nth(1)
        .unwrap()
        .click();
    ui.until("the dependents", |h| {
        h.query_by_label_contains("object(s) become UNRECOVERABLE")
            .is_some()
    });
    assert!(ui.has_label_containing(&format!("These {of_photos} object(s) become UNRECOVERABLE")));
    assert!(ui.has_label(&format!(
        "… and {} more, all counted above",
        of_photos - 200
    )));
    let Some(ssec_manager::ui::dialogs::Dialog::DeleteKey(d)) = &ui.app().dialog else {
        panic!("the delete dialog");
    };
    let (ids, first) = d.dependents.as_ref().unwrap();
    assert_eq!((ids.len(), first.len()), (of_photos as usize, 200));
}

/// A file given on the command line ("Open with") opens the upload dialog aimed at the bucket
/// the registry's newest object is in, though the window holds none of its rows.
#[test]
fn a_file_opened_with_the_app_goes_to_the_bucket_last_uploaded_to() {
    use ssec_manager::ui::dialogs::Dialog;
    let h = TestHome::with_connection("ui-open-with");
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("first.bin"), 100);
    h.upload("first.bin", "k");
    random_file(&h.path("next.bin"), 100);
    let mut ui = Ui::open(&h.home);
    ui.harness
        .state_mut()
        .upload_when_ready(vec![h.path("next.bin")]);
    ui.until("the upload dialog", |h| {
        matches!(h.state().dialog, Some(Dialog::Upload(_)))
    });
    let Some(Dialog::Upload(u)) = &ui.app().dialog else {
        unreachable!()
    };
    assert_eq!(u.bucket, h.bench.bucket);
}

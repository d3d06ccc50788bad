//! The window with a large registry (100,000 objects by default, or WINDOW_BENCH_OBJECTS):
//! how long until the first frame and until it settles, how much memory it holds, and the
//! frame time of the Audit and Objects views. Run through `bench/window-load.sh`, which
//! provides the keyring (and `bench/scale.sh`, at a million).
//!
//! The registry is filled straight through SQL in one transaction (the app's own upload
//! path would take hours); then the real window (`App`, driven by egui's kittest harness, no
//! GPU on this machine) opens it. The Objects view is shown a folder of the registry as a
//! listing would (the synthetic objects are on no server): the rows of that folder only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

#[path = "common/fill.rs"]
mod fill;

use egui_kittest::Harness;
use ssec_manager::core::Home;
use ssec_manager::core::bucket::Entry;
use ssec_manager::core::registry::ConnectionRecord;
use ssec_manager::ui::{App, Command, Screen};

fn stats(label: &str, mut d: Vec<Duration>) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    let mean = d.iter().map(|x| ms(*x)).sum::<f64>() / d.len() as f64;
    println!(
        "{label:<38} {:>4} frames: mean {mean:6.2} ms, median {:6.2} ms, p95 {:6.2} ms, max {:6.2} ms",
        d.len(),
        ms(d[d.len() / 2]),
        ms(d[d.len() * 95 / 100]),
        ms(d[d.len() - 1]),
    );
}

/// This process's resident memory now and at its peak, in MB (Linux).
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |field: &str| {
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn time_frames(
    harness: &mut Harness<'static, App>,
    frames: usize,
    scroll_at: Option<egui::Pos2>,
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        if let Some(at) = scroll_at {
            harness.event(egui::Event::PointerMoved(at));
            let dy = if i < frames / 2 { -400.0 } else { 400.0 };
            harness.event(egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, dy),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Unknown,
                modifiers: egui::Modifiers::NONE,
            });
        }
        let t = Instant::now();
        harness.step();
        times.push(t.elapsed());
    }
    times
}

/// The objects of one folder of the synthetic registry, as a listing would give them.
fn folder_entries(registry: &std::path::Path, prefix: &str) -> Vec<Entry> {
    let db = rusqlite::Connection::open(registry).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT object_key, size FROM objects WHERE bucket = 'bucket'
               AND object_key >= ?1 AND object_key < ?1 || '~' AND state = 'stored'
             ORDER BY object_key",
        )
        .unwrap();
    stmt.query_map([prefix], |r| {
        Ok(Entry::Object {
            key: r.get(0)?,
            size: r.get::<_, i64>(1)? as u64,
            modified: "2026-01-01 00:00".into(),
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn main() {
    let n: usize = std::env::var("WINDOW_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("home");
    let home = Home::open_with_keyring(&dir).expect("a keyring (run bench/window-load.sh)");
    for label in ["photos", "backups", "archive"] {
        home.generate_key(label).unwrap();
    }
    home.add_connection(
        ConnectionRecord::new("s3", Some("http://127.0.0.1:9"), "us-east-1"),
        None,
    )
    .unwrap();
    let registry = home.registry.path().to_path_buf();
    drop(home);

    let t = Instant::now();
    // No pending rows: the window would ask the (absent) server about each at start-up.
    fill::fill(&registry, n, false).unwrap();
    println!(
        "registry: {n} objects under 3 keys, filled in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // The first open applies pending schema steps: not what is measured.
    let home = Home::open_with_keyring(&dir).unwrap();
    let t = Instant::now();
    let report = home.audit().unwrap();
    println!(
        "audit report (worker, once per refresh): {:.0} ms; {} findings, {} objects at risk",
        t.elapsed().as_secs_f64() * 1000.0,
        report.findings.len(),
        report.objects_at_risk
    );
    drop((home, report));

    let before = memory();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let app_dir = dir.clone();
    let t = Instant::now();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| App::new(&cc.egui_ctx, None, app_dir, handle));
    harness.state_mut().prefs.screen = Screen::Audit;
    harness.step();
    let first_frame = t.elapsed();
    let settled = |a: &App| {
        a.audit
            .as_ref()
            .is_some_and(|r| r.objects_by_state.values().sum::<usize>() == n)
            && a.keys.len() == 3
    };
    while !settled(harness.state()) {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the window never settled"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    let settle = t.elapsed();
    for _ in 0..20 {
        harness.step();
    }
    let after = memory();
    println!(
        "window: first frame {:.0} ms, settled (keys and audit in) {:.2} s after opening",
        first_frame.as_secs_f64() * 1000.0,
        settle.as_secs_f64()
    );
    println!(
        "window memory: {:.0} MB resident before opening, {:.0} MB settled ({:+.0} MB), peak {:.0} MB",
        before.0,
        after.0,
        after.0 - before.0,
        after.1
    );
    let held: usize = harness
        .state()
        .audit
        .as_ref()
        .map_or(0, |a| a.findings.iter().map(|f| f.objects.len()).sum());
    println!("window state: {held} object names held by the audit's findings, no registry rows");

    let still = time_frames(&mut harness, 300, None);
    let scrolling = time_frames(&mut harness, 300, Some(egui::pos2(600.0, 560.0)));
    println!("Audit view, {n} registered objects (egui frame on the CPU, kittest, no GPU):");
    stats("  still", still);
    stats("  scrolling the page and a finding", scrolling);

    // The Objects view on one folder of the registry: its listing and its rows only.
    let prefix = "photos/2000/00/";
    let entries = folder_entries(&registry, prefix);
    let listed = entries.len();
    {
        let app = harness.state_mut();
        app.prefs.screen = Screen::Objects;
        app.browser.connection = Some("s3".into());
        app.browser.bucket = Some("bucket".into());
        app.browser.prefix = prefix.into();
        app.browser.entries = entries;
        let keys = app
            .browser
            .entries
            .iter()
            .filter_map(|e| e.object_key().map(str::to_string))
            .collect();
        app.backend.send(Command::Registered {
            connection: "s3".into(),
            bucket: "bucket".into(),
            keys,
        });
    }
    let t = Instant::now();
    while harness.state().browser.registered.len() < listed {
        assert!(t.elapsed() < Duration::from_secs(60), "the rows never came");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    println!(
        "Objects view: a folder of {listed} objects, its registry rows in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    for _ in 0..20 {
        harness.step();
    }
    let still = time_frames(&mut harness, 300, None);
    let scrolling = time_frames(&mut harness, 300, Some(egui::pos2(640.0, 500.0)));
    stats("  still", still);
    stats("  scrolling the listing", scrolling);
    let end = memory();
    println!(
        "window memory after the Objects view: {:.0} MB resident, peak {:.0} MB",
        end.0, end.1
    );
}

//! Frame time of the Audit view with a large registry (100,000 objects by default, or
//! AUDIT_BENCH_OBJECTS). Run through `bench/audit-view.sh`, which provides the keyring.
//!
//! The registry is filled straight through SQL in one transaction (the app's own upload
//! path would take hours for 100k objects); then the real window (`App`, driven by egui's
//! kittest harness, no GPU on this machine) opens it, the worker computes the audit, and
//! every frame of the Audit screen is timed: still frames, then frames that scroll the
//! 100k-row finding list. Prints mean, median, p95 and max per frame.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

#[path = "common/fill.rs"]
mod fill;

use egui_kittest::Harness;
use ssec_manager::core::Home;
use ssec_manager::core::registry::ConnectionRecord;
use ssec_manager::ui::{App, Screen};

fn stats(label: &str, mut d: Vec<Duration>) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    let mean = d.iter().map(|x| ms(*x)).sum::<f64>() / d.len() as f64;
    println!(
        "{label:<34} {:>4} frames: mean {mean:6.2} ms, median {:6.2} ms, p95 {:6.2} ms, max {:6.2} ms",
        d.len(),
        ms(d[d.len() / 2]),
        ms(d[d.len() * 95 / 100]),
        ms(d[d.len() - 1]),
    );
}

fn main() {
    let n: usize = std::env::var("AUDIT_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("home");
    let home = Home::open_with_keyring(&dir).expect("a keyring (run bench/audit-view.sh)");
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
    fill::fill(&registry, n).unwrap();
    println!(
        "registry: {n} objects under 3 keys, filled in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let home = Home::open_with_keyring(&dir).unwrap();
    let t = Instant::now();
    let report = home.audit().unwrap();
    println!(
        "audit report (worker, once per refresh): {:.0} ms; {} findings, {} objects at risk",
        t.elapsed().as_secs_f64() * 1000.0,
        report.findings.len(),
        report.objects_at_risk
    );
    drop(home);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let app_dir = dir.clone();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| App::new(&cc.egui_ctx, None, app_dir, handle));
    harness.state_mut().prefs.screen = Screen::Audit;
    let t = Instant::now();
    while !(harness.state().audit.is_some() && harness.state().objects.len() == n) {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the registry never loaded"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "window: registry and audit loaded {:.1} s after opening",
        t.elapsed().as_secs_f64()
    );
    for _ in 0..20 {
        harness.step();
    }

    let time_frames = |harness: &mut Harness<'static, App>, frames: usize, scroll: bool| {
        let mut times = Vec::with_capacity(frames);
        for i in 0..frames {
            if scroll {
                // Over the first finding's object list, down then back up.
                harness.event(egui::Event::PointerMoved(egui::pos2(600.0, 560.0)));
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
    };
    let still = time_frames(&mut harness, 300, false);
    let scrolling = time_frames(&mut harness, 300, true);
    println!("Audit view, {n} registered objects (egui frame on the CPU, kittest, no GPU):");
    stats("  still", still);
    stats("  scrolling a finding's object list", scrolling);
}

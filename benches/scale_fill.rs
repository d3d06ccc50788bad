//! Used by `bench/scale.sh`: adds SCALE_OBJECTS synthetic objects to the registry of the
//! home SCALE_HOME (made by the app, with its keys and a connection), then exits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/fill.rs"]
mod fill;

fn main() {
    let home = std::env::var("SCALE_HOME").expect("SCALE_HOME: the home to fill");
    let n: usize = std::env::var("SCALE_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t = std::time::Instant::now();
    fill::fill(
        &std::path::Path::new(&home).join("registry.sqlite3"),
        n,
        true,
    )
    .unwrap();
    println!("filled {n} objects in {:.1} s", t.elapsed().as_secs_f64());
}

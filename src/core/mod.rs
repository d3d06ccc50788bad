//! Everything that works without a screen: keys, the keyring, the registry, S3 transfers.
//! Never imports egui, eframe or rfd; the CLI and the window both drive this.
//!
//! Every user-visible operation is one function here, and both faces call it; each long
//! one takes a `TransferCtx` (its progress sink and cancel token) and returns a report:
//!
//! | operation | where |
//! |---|---|
//! | generate, import, export, env lines, reveal, list, delete a key | `keys` |
//! | add, edit, remove, test a connection | `connections` |
//! | plan an upload (file or folder, CLI or drop) | `transfer::plan` |
//! | upload, download | `transfer::upload`, `transfer::download` (run as jobs: `jobs`) |
//! | interrupted uploads: list, resume, abort | `uploads`, `transfer::upload` |
//! | rotate (one, many, by key, by folder; settles interrupted ones first) | `rotate` |
//! | reconcile: settle uploads in doubt and interrupted rotations with the server | `reconcile` |
//! | verify | `verify` |
//! | scan and adopt, check keys | `scan` |
//! | delete an object | `delete` |
//! | back up, restore keys | `backup` |
//! | preflight a bucket | `preflight` |
//! | audit and its reports | `audit` |
//! | browse buckets and folders | `bucket` |
//!
//! Underneath: `location` (s3:// URLs, object keys as local paths), `key` and `keystore`
//! (key material, the OS keyring), `label` (what a key label may be), `registry` (SQLite),
//! `s3` (clients, errors, SSE-C headers), `checksum`.

pub mod audit;
pub mod backup;
pub mod bucket;
pub mod checksum;
pub mod connections;
pub mod defaults;
pub mod delete;
pub mod error;
pub mod hardening;
pub mod home;
pub mod jobs;
pub mod key;
pub mod keys;
pub mod keystore;
pub mod label;
pub mod location;
pub mod meta;
pub mod migrate;
pub mod part_file;
pub mod preflight;
pub mod presets;
pub mod presign;
pub mod probe;
pub mod quirks;
pub mod reconcile;
pub mod registry;
pub mod rotate;
pub mod s3;
pub mod scan;
pub mod share;
pub mod sync;
pub mod tls;
pub mod transfer;
pub mod uploads;
pub mod verify;

pub use home::Home;

pub use error::{Error, Result};

/// 1536 -> "1.5 KiB" (binary units, as the aws CLI and rclone print them).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A time left as people read it: "<1s", "45s", "3m 20s", "2h 05m".
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "<1s".into(),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use std::time::Duration;

    #[test]
    fn time_left_reads_as_people_say_it() {
        let d = Duration::from_secs;
        assert_eq!(human_duration(Duration::from_millis(400)), "<1s");
        assert_eq!(human_duration(d(45)), "45s");
        assert_eq!(human_duration(d(200)), "3m 20s");
        assert_eq!(human_duration(d(2 * 3600 + 5 * 60 + 9)), "2h 05m");
    }
}

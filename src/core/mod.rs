//! Everything that works without a screen: keys, the keyring, the registry, S3 transfers.
//! Never imports egui, eframe or rfd; the CLI and the window both drive this.

pub mod audit;
pub mod backup;
pub mod checksum;
pub mod home;
pub mod jobs;
pub mod key;
pub mod keystore;
pub mod preflight;
pub mod presets;
pub mod registry;
pub mod rotate;
pub mod s3;
pub mod scan;
pub mod transfer;
pub mod verify;

use std::path::PathBuf;

pub use home::Home;

/// Every failure the core reports, in words that say what happened and what to do next.
/// Texts never carry key material (see `key::KeyParseError` for how input is described).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error(transparent)]
    Keystore(#[from] keystore::KeystoreError),
    #[error(transparent)]
    S3(#[from] s3::S3Error),
    #[error(transparent)]
    Client(#[from] s3::ClientError),
    #[error("{what}: {source}")]
    KeyInput {
        what: String,
        #[source]
        source: key::KeyParseError,
    },
    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("no key is labelled \"{label}\"{known}")]
    UnknownKey { label: String, known: String },
    #[error(
        "key \"{label}\" ({fingerprint}) is registered but missing from the OS keyring; \
         restore it from a backup or import the key file again with \
         `ssec-manager key import {label} FILE`"
    )]
    KeyNotInKeyring { label: String, fingerprint: String },
    #[error(
        "key \"{label}\" still encrypts {count} object(s) ({list}); deleting it would make \
         them unrecoverable. Export or back up the key first, or pass --force to delete it anyway"
    )]
    KeyInUse {
        label: String,
        count: usize,
        list: String,
    },
    #[error(
        "{0} already exists; ssec-manager never overwrites a file when exporting a key: \
         choose another path or remove that file first"
    )]
    WouldOverwrite(PathBuf),
    #[error("invalid label \"{0}\": use 1 to 100 characters without control characters or '/'")]
    BadLabel(String),
    #[error(
        "no connection is set up; add one with `ssec-manager connection add NAME --endpoint URL`"
    )]
    NoConnection,
    #[error("several connections exist ({0}); pick one with --connection NAME")]
    AmbiguousConnection(String),
    #[error("no connection is named \"{name}\" (known: {known})")]
    UnknownConnection { name: String, known: String },
    #[error("invalid endpoint \"{0}\": write it as http://HOST:PORT or https://HOST")]
    BadEndpoint(String),
    #[error("{0}")]
    Transfer(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Generate(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, what: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            what,
            source,
        }
    }
}

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

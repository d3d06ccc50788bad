//! Every failure the core reports, in words that say what happened and what to do next.
//! Each kind of failure has its variant, so callers can act on the kind (a cancel is not an
//! error to show; a partial run is not a refusal) without reading texts.

use std::path::PathBuf;

use super::{key, keystore, location, registry, s3};

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
    #[error(transparent)]
    Location(#[from] location::LocationError),
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
    /// `label` is shown with its invisible characters escaped (see `label::visible`).
    #[error(
        "invalid label \"{label}\": {why}. Use 1 to 100 visible characters, without '/' and \
         without spaces at either end"
    )]
    BadLabel { label: String, why: &'static str },
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
    /// The operation was refused before it changed anything: what it would have done is
    /// unsafe or cannot work (a file changed since, a bucket that blocks SSE-C...).
    #[error("{0}")]
    Refused(String),
    /// Something the operation needs is not in the registry (an upload id, an object's
    /// connection, a key it names).
    #[error("{0}")]
    NotFound(String),
    /// The bytes that arrived are not the bytes recorded or asked for; nothing was written.
    #[error("{0}")]
    Integrity(String),
    /// The server answered in a way SSE-C cannot be trusted with, or gave no usable answer
    /// (no upload id, another key's MD5).
    #[error("{0}")]
    Server(String),
    /// The server's answer to a write was lost: it may hold the object. The registry keeps
    /// the key protected (`in_doubt`) until `reconcile` asks the server.
    #[error("{0}")]
    InDoubt(String),
    /// A backup file cannot be made or read.
    #[error("{0}")]
    Backup(String),
    /// A key share cannot be made, opened or read.
    #[error("{0}")]
    Share(String),
    /// An operation over many objects finished with some of them failed; the text says
    /// which and what was done.
    #[error("{0}")]
    Partial(String),
    /// A background task of this program failed (a bug, not the user's input).
    #[error("internal error: {0}")]
    Internal(String),
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

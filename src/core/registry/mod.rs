//! The registry: which key encrypts which object, in SQLite.
//!
//! It holds metadata only: key labels and fingerprints, connections (never a secret),
//! objects with the fingerprint of the key that encrypts them, and an append-only event log.
//! Key material never enters this file; the keyring holds it (see `keystore`).
//!
//! The rule that shapes the object table comes from b2sdk: the row naming an object's key is
//! written `pending` BEFORE the upload starts and becomes `stored` only once the server has
//! confirmed the object, so a crash can leave a row without an object, never an object
//! without a row. WAL mode keeps readers (the UI) from blocking on a writer (a job).
//!
//! Schema changes are numbered migrations applied in order under `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::key::KeyFingerprint;

mod ledger;
mod owners;
mod places;
mod sums;
mod sync;
mod traits;
pub use places::{DefaultKey, KeyShare, PendingMigration};
pub use sums::{AuditSums, KeySums, ObjectScope, Pick, Rows, ScopePages, StoredGroup};
pub use sync::{FileStamp, SyncPair};

pub use traits::{BucketTraits, Rekey};

pub use ledger::{Dependents, Landing};
pub use owners::{HEARTBEAT, Lease, OWNER_TTL, pid_alive};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry at {path} could not be used: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The file is not a registry SQLite can read (damaged, truncated, emptied, or another
    /// program's database). It is never written to or replaced: the user decides.
    #[error(
        "the registry {path} is damaged or is not an ssec-manager registry ({detail}); it was \
         left as it is. Your keys are still in the OS keyring. To recover: restore this file \
         from a backup copy of its folder; or move it aside (keep it) together with its \
         -wal and -shm files if they are there, run ssec-manager again to start a new registry, then `ssec-manager key adopt` brings the keys back from the \
         keyring and `ssec-manager scan s3://BUCKET --adopt` finds the objects they encrypt"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error("could not create the ssec-manager home {path}: {source}")]
    CreateHome {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the registry at {path} was written by a newer ssec-manager (schema {found}, this \
         build knows {known}); upgrade ssec-manager"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("a key labelled \"{0}\" already exists; choose another label")]
    LabelTaken(String),
    #[error("this key is already registered as \"{label}\" (fingerprint {fingerprint})")]
    KeyKnown {
        label: String,
        fingerprint: KeyFingerprint,
    },
    #[error("a connection named \"{0}\" already exists; choose another name")]
    ConnectionTaken(String),
    #[error(
        "the key {fingerprint} was deleted (or is being deleted) by another ssec-manager; \
         nothing was sent with it. Choose another key, or import this one again"
    )]
    KeyGone { fingerprint: KeyFingerprint },
    #[error(
        "object #{0} has an upload running or in doubt; it is rotated once that upload has \
         settled (`ssec-manager reconcile` asks the server about one in doubt)"
    )]
    UploadUnsettled(i64),
    #[error(
        "{0} is being rotated to another key; upload it once the rotation has finished \
         (`ssec-manager reconcile` settles one that was interrupted)"
    )]
    RotationUnderWay(String),
    #[error(
        "object #{0} is being moved off SSE-C, or a move of it was cut off; `ssec-manager \
         migrate` (or `reconcile`) settles it first"
    )]
    MigrationUnderWay(i64),
    #[error(
        "no interrupted upload with id {0}; `ssec-manager uploads` lists them (an upload another \
         ssec-manager is still sending is not one)"
    )]
    NotInterrupted(i64),
    #[error(
        "upload #{0} is in doubt (its completion's answer was lost): `ssec-manager reconcile` \
         asks the server whether it landed; nothing was touched"
    )]
    InDoubt(i64),
    #[error(
        "{what} belongs to another ssec-manager that is still running{pid}; nothing was touched"
    )]
    OwnedElsewhere { what: String, pid: String },
    #[error(
        "what key \"{label}\" protects changed since it was shown ({shown} object(s) shown, \
         {now} now); nothing was deleted. Look at the list again"
    )]
    DependentsChanged {
        label: String,
        shown: usize,
        now: usize,
    },
}

type Result<T> = std::result::Result<T, RegistryError>;

/// Numbered schema steps. Never edit a released step; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE keys (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        fingerprint TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        source TEXT NOT NULL,
        source_detail TEXT NOT NULL DEFAULT '',
        backup_status TEXT NOT NULL DEFAULT 'never',
        last_backup_at TEXT,
        backup_location TEXT,
        notes TEXT NOT NULL DEFAULT '',
        deleted_at TEXT
    );
    CREATE UNIQUE INDEX keys_live_label ON keys(label) WHERE deleted_at IS NULL;
    CREATE TABLE connections (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        endpoint TEXT,
        region TEXT NOT NULL,
        path_style INTEGER NOT NULL,
        credential_source TEXT NOT NULL,
        profile TEXT,
        access_key_id TEXT,
        checksum_mode TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE objects (
        id INTEGER PRIMARY KEY,
        connection_id INTEGER NOT NULL REFERENCES connections(id),
        bucket TEXT NOT NULL,
        object_key TEXT NOT NULL,
        version_id TEXT,
        size INTEGER,
        sha256 TEXT,
        etag TEXT,
        key_fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_verified_at TEXT
    );
    CREATE INDEX objects_location ON objects(connection_id, bucket, object_key);
    CREATE INDEX objects_key ON objects(key_fingerprint);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        key_fingerprint TEXT,
        object_id INTEGER,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    "#,
    // 2: multipart uploads in flight, so an interrupted one can be resumed or aborted.
    r#"
    CREATE TABLE multipart_uploads (
        object_id INTEGER PRIMARY KEY REFERENCES objects(id),
        upload_id TEXT NOT NULL,
        source_path TEXT NOT NULL,
        source_size INTEGER NOT NULL,
        source_mtime TEXT NOT NULL,
        part_size INTEGER NOT NULL,
        started_at TEXT NOT NULL
    );
    "#,
    // 3: key rotations in flight (written before the server-side copy starts).
    r#"
    CREATE TABLE rotations (
        object_id INTEGER PRIMARY KEY REFERENCES objects(id),
        from_fingerprint TEXT NOT NULL,
        to_fingerprint TEXT NOT NULL,
        started_at TEXT NOT NULL
    );
    "#,
    // 4: a connection may explicitly allow SSE-C over plain http to another host.
    r#"
    ALTER TABLE connections ADD COLUMN allow_plain_http INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: what the last verification found (last_verified_at says when).
    r#"
    ALTER TABLE objects ADD COLUMN verify_status TEXT;
    ALTER TABLE objects ADD COLUMN verify_detail TEXT;
    "#,
    // 6: new uploads record a BLAKE3 content checksum (older rows keep their SHA-256).
    r#"
    ALTER TABLE objects ADD COLUMN blake3 TEXT;
    "#,
    // 7: the process that owns running work (a pending upload, a multipart upload, a
    // rotation), and the owners with their heartbeats; `in_doubt` needs no schema change.
    r#"
    CREATE TABLE owners (
        owner TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        heartbeat INTEGER NOT NULL
    );
    ALTER TABLE objects ADD COLUMN owner TEXT;
    ALTER TABLE multipart_uploads ADD COLUMN owner TEXT;
    ALTER TABLE rotations ADD COLUMN owner TEXT;
    ALTER TABLE objects ADD COLUMN landed_seq INTEGER;
    CREATE INDEX objects_state ON objects(state);
    CREATE INDEX objects_landed ON objects(landed_seq);
    CREATE INDEX rotations_to ON rotations(to_fingerprint);
    "#,
    // 8: a connection's private CA (a path, as the aws CLI's --ca-bundle), and what the
    // preflight learned about each bucket's server.
    r#"
    ALTER TABLE connections ADD COLUMN ca_bundle TEXT;
    CREATE TABLE bucket_traits (
        connection_id INTEGER NOT NULL REFERENCES connections(id),
        bucket TEXT NOT NULL,
        rekey TEXT,
        part_copy INTEGER,
        keyless_part_accepted INTEGER,
        checked_at TEXT,
        PRIMARY KEY (connection_id, bucket)
    );
    "#,
    // 9: folder sync: the BLAKE3 of local files, so a run with nothing changed reads no file
    // (no secret: a hash of the user's own file), and the window's saved folder pairings.
    r#"
    CREATE TABLE file_hashes (
        path BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        blake3 TEXT NOT NULL
    );
    CREATE TABLE sync_pairs (
        id INTEGER PRIMARY KEY,
        local_dir BLOB NOT NULL,
        connection_id INTEGER NOT NULL REFERENCES connections(id),
        bucket TEXT NOT NULL,
        prefix TEXT NOT NULL,
        key_label TEXT NOT NULL,
        last_run_at TEXT,
        UNIQUE (local_dir, connection_id, bucket, prefix)
    );
    "#,
    // 10: a default key per bucket or prefix; keys shared with other people (recipients'
    // public keys only); objects moved off SSE-C (`migrated_to` says to what) and the
    // migrations in flight, written before the server-side copy starts.
    r#"
    CREATE TABLE default_keys (
        connection_id INTEGER NOT NULL REFERENCES connections(id),
        bucket TEXT NOT NULL,
        prefix TEXT NOT NULL,
        key_fingerprint TEXT NOT NULL,
        set_at TEXT NOT NULL,
        PRIMARY KEY (connection_id, bucket, prefix)
    );
    CREATE TABLE key_shares (
        id INTEGER PRIMARY KEY,
        key_fingerprint TEXT NOT NULL,
        recipient TEXT NOT NULL,
        file TEXT NOT NULL,
        objects INTEGER NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX key_shares_key ON key_shares(key_fingerprint);
    ALTER TABLE objects ADD COLUMN migrated_to TEXT;
    CREATE TABLE migrations (
        object_id INTEGER PRIMARY KEY REFERENCES objects(id),
        from_fingerprint TEXT NOT NULL,
        target TEXT NOT NULL,
        started_at TEXT NOT NULL,
        owner TEXT
    );
    "#,
    // 11: counts per key and state from the index alone (a registry of a million objects
    // answers `key list` and the audit's sums without reading the table).
    r#"
    CREATE INDEX objects_key_state ON objects(key_fingerprint, state, size);
    DROP INDEX objects_key;
    "#,
    // 12: which verify run last had the server's answer about an object, so a run that was
    // cut off resumes without asking again (timestamps are too coarse for that).
    r#"
    ALTER TABLE objects ADD COLUMN verify_run INTEGER;
    "#,
    // 13: the audit's and `key list`'s sums (per key, state and verify answer: rows, bytes,
    // stale, never confirmed) in one pass over an index that covers them.
    r#"
    CREATE INDEX objects_health ON objects(key_fingerprint, state, verify_status,
        last_verified_at, created_at, size);
    DROP INDEX objects_key_state;
    "#,
    // 14: a key's rows in id order (verify and the audit's pages of one key seek to them;
    // without it, a key of a thousand objects among ten million was a scan of them all).
    r#"
    CREATE INDEX objects_key_rows ON objects(key_fingerprint, state);
    "#,
];

/// The states of a row whose object may be on the server under its key: such a row protects
/// its key (with the target key of a pending rotation, see `dependent_objects`).
pub const MAY_BE_ON_SERVER: &str = "('stored', 'pending', 'in_doubt', 'old_version')";

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyRecord {
    pub label: String,
    pub fingerprint: KeyFingerprint,
    pub created_at: String,
    pub source: String,
    pub source_detail: String,
    pub backup_status: String,
    pub last_backup_at: Option<String>,
    pub notes: String,
    pub deleted_at: Option<String>,
}

/// A key with what it encrypts, for listings and the audit.
#[derive(Debug, Clone, Serialize)]
pub struct KeySummary {
    #[serde(flatten)]
    pub key: KeyRecord,
    pub objects: u64,
    pub bytes: u64,
    /// Objects it encrypted that were migrated off SSE-C: with no objects left, the key is
    /// retired (kept, never deleted by the migration).
    pub migrated: u64,
}

impl KeySummary {
    /// Every object it encrypted has left SSE-C: nothing depends on it any more.
    pub fn retired(&self) -> bool {
        self.objects == 0 && self.migrated > 0
    }
}

/// Where the credentials of a connection come from. The secret itself is never here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// The standard AWS chain: environment variables, AWS_PROFILE, ~/.aws files.
    AwsChain,
    /// A named profile from ~/.aws/config and ~/.aws/credentials.
    Profile,
    /// An access key id here plus its secret in the OS keyring.
    Keyring,
}

impl CredentialSource {
    fn as_str(self) -> &'static str {
        match self {
            CredentialSource::AwsChain => "aws_chain",
            CredentialSource::Profile => "profile",
            CredentialSource::Keyring => "keyring",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "profile" => CredentialSource::Profile,
            "keyring" => CredentialSource::Keyring,
            _ => CredentialSource::AwsChain,
        }
    }
}

/// PROTOCOL.md: since aws-sdk-s3 1.69 the SDK adds CRC32 checksums by default, and some
/// S3-compatible servers reject them. `WhenRequired` is the compatibility setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumMode {
    WhenSupported,
    WhenRequired,
}

impl ChecksumMode {
    fn as_str(self) -> &'static str {
        match self {
            ChecksumMode::WhenSupported => "when_supported",
            ChecksumMode::WhenRequired => "when_required",
        }
    }
    fn parse(s: &str) -> Self {
        if s == "when_required" {
            ChecksumMode::WhenRequired
        } else {
            ChecksumMode::WhenSupported
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionRecord {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    /// None: the provider's default endpoint (AWS).
    pub endpoint: Option<String>,
    pub region: String,
    pub path_style: bool,
    pub credential_source: CredentialSource,
    pub profile: Option<String>,
    pub access_key_id: Option<String>,
    pub checksum_mode: ChecksumMode,
    pub created_at: String,
    /// SSE-C over plain http to a host other than this machine, explicitly allowed.
    pub allow_plain_http: bool,
    /// A PEM file of the CA(s) to trust for this endpoint instead of the system's.
    pub ca_bundle: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectState {
    /// Recorded before the upload, while it runs (its owner process settles it).
    Pending,
    /// The server confirmed it.
    Stored,
    /// The upload failed: the server answered that it did not take it, or it was never
    /// sent. The server does not hold this version.
    Failed,
    /// Deleted on purpose.
    Deleted,
    /// Overwritten by a later upload to the same key of an unversioned bucket.
    Replaced,
    /// The user cancelled the upload before it could land; the server does not hold it.
    Cancelled,
    /// A noncurrent version a versioned bucket keeps after a rotation: still on the server,
    /// still under the key it was written with (`version_id` names it).
    OldVersion,
    /// The upload's outcome is not known: its answer was lost (timeout, reset, cancel while
    /// the request was out). The server may hold it under this row's key, so the key stays
    /// protected until `reconcile` has asked the server.
    InDoubt,
    /// Moved off SSE-C on the server (`migrated_to`: SSE-S3, SSE-KMS or none), confirmed by
    /// a HEAD without the key: it no longer needs the key it was under.
    Migrated,
}

impl ConnectionRecord {
    /// A connection with the usual defaults: the AWS credential chain, virtual-host style,
    /// the SDK's default checksums. Not yet stored (id 0).
    pub fn new(name: &str, endpoint: Option<&str>, region: &str) -> Self {
        Self {
            id: 0,
            name: name.to_string(),
            endpoint: endpoint.map(str::to_string),
            region: region.to_string(),
            path_style: false,
            credential_source: CredentialSource::AwsChain,
            profile: None,
            access_key_id: None,
            checksum_mode: ChecksumMode::WhenSupported,
            created_at: String::new(),
            allow_plain_http: false,
            ca_bundle: None,
        }
    }
}

impl ObjectState {
    /// The Rust side of `MAY_BE_ON_SERVER`.
    pub fn may_be_on_server(self) -> bool {
        matches!(
            self,
            ObjectState::Stored
                | ObjectState::Pending
                | ObjectState::InDoubt
                | ObjectState::OldVersion
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectState::Pending => "pending",
            ObjectState::Stored => "stored",
            ObjectState::Failed => "failed",
            ObjectState::Deleted => "deleted",
            ObjectState::Replaced => "replaced",
            ObjectState::Cancelled => "cancelled",
            ObjectState::OldVersion => "old_version",
            ObjectState::InDoubt => "in_doubt",
            ObjectState::Migrated => "migrated",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "stored" => ObjectState::Stored,
            "failed" => ObjectState::Failed,
            "deleted" => ObjectState::Deleted,
            "replaced" => ObjectState::Replaced,
            "cancelled" => ObjectState::Cancelled,
            "old_version" => ObjectState::OldVersion,
            "in_doubt" => ObjectState::InDoubt,
            "migrated" => ObjectState::Migrated,
            _ => ObjectState::Pending,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectRecord {
    pub id: i64,
    pub connection: String,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub size: Option<u64>,
    /// The content checksum of rows recorded before BLAKE3 (see `checksum`).
    pub sha256: Option<String>,
    /// The content checksum recorded at upload (hex).
    pub blake3: Option<String>,
    pub etag: Option<String>,
    pub key_fingerprint: KeyFingerprint,
    /// The label of that key, when the registry knows it.
    pub key_label: Option<String>,
    pub state: ObjectState,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When the server last confirmed the object opens with its key (upload, rotation or
    /// verify).
    pub last_verified_at: Option<String>,
    /// What the last verify found; None: never verified.
    pub verify_status: Option<VerifyStatus>,
    pub verify_detail: Option<String>,
    /// What a migration off SSE-C moved the object to ("sse-s3", "sse-kms[:ID]", "none").
    pub migrated_to: Option<String>,
}

/// What a verify found about one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    /// The server holds it and it opens with its recorded key (and, deep, the content's
    /// SHA-256 is the recorded one).
    Ok,
    /// The server no longer has it.
    Missing,
    /// The server has an object there that its recorded key does not open.
    WrongKey,
    /// It opens, but its size or content is not what was recorded.
    Changed,
    /// Not checked: its key is not in the keyring (the audit reports that as CRITICAL).
    NoKey,
    /// Not checked: the server could not be asked (network, credentials...).
    Unreachable,
}

impl VerifyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyStatus::Ok => "ok",
            VerifyStatus::Missing => "missing",
            VerifyStatus::WrongKey => "wrong_key",
            VerifyStatus::Changed => "changed",
            VerifyStatus::NoKey => "no_key",
            VerifyStatus::Unreachable => "unreachable",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "ok" => VerifyStatus::Ok,
            "missing" => VerifyStatus::Missing,
            "wrong_key" => VerifyStatus::WrongKey,
            "changed" => VerifyStatus::Changed,
            "no_key" => VerifyStatus::NoKey,
            _ => VerifyStatus::Unreachable,
        }
    }
    /// A finding the audit must report (the server's answer, not a failure to ask).
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            VerifyStatus::Missing | VerifyStatus::WrongKey | VerifyStatus::Changed
        )
    }
}

#[cfg(test)]
impl ObjectRecord {
    /// A stored-looking row for unit tests of pure logic: connection "c", bucket "b",
    /// object key "o<id>", 10 bytes.
    pub(crate) fn sample(id: i64, fp: &str, label: Option<&str>, state: ObjectState) -> Self {
        ObjectRecord {
            id,
            connection: "c".into(),
            bucket: "b".into(),
            key: format!("o{id}"),
            version_id: None,
            size: Some(10),
            sha256: None,
            blake3: None,
            etag: None,
            key_fingerprint: KeyFingerprint::from_stored(fp),
            key_label: label.map(str::to_string),
            state,
            error: None,
            created_at: String::new(),
            updated_at: String::new(),
            last_verified_at: None,
            verify_status: None,
            verify_detail: None,
            migrated_to: None,
        }
    }
}

impl ObjectRecord {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// A multipart upload that was started and not yet completed or aborted.
#[derive(Debug, Clone, Serialize)]
pub struct MultipartRecord {
    pub object_id: i64,
    /// Its object, s3://BUCKET/KEY (as its registry row names it).
    pub object: String,
    pub upload_id: String,
    pub source_path: String,
    pub source_size: u64,
    /// The source file's modification time when the upload started (to refuse resuming
    /// from a file that changed since).
    pub source_mtime: String,
    pub part_size: u64,
    pub started_at: String,
}

/// A rotation recorded before its copy: the object may be under either key until settled.
#[derive(Debug, Clone)]
pub struct PendingRotation {
    pub object_id: i64,
    pub from: KeyFingerprint,
    pub to: KeyFingerprint,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub at: String,
    pub kind: String,
    pub key_fingerprint: Option<String>,
    pub object_id: Option<i64>,
    pub detail: String,
}

/// What the server said when an upload completed.
#[derive(Debug, Clone, Default)]
pub struct StoredObject {
    pub size: u64,
    /// The BLAKE3 of the content sent; None when unknown (adopted by a scan).
    pub blake3: Option<String>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

pub struct Registry {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// This process, as the owner of the work it records (see `owners`).
    owner: String,
    /// Renews this owner's heartbeat while the registry is open.
    _lease: Lease,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.release_owner();
    }
}

const OBJECT_COLUMNS: &str = "o.id, c.name, o.bucket, o.object_key, o.version_id, o.size, \
    o.sha256, o.etag, o.key_fingerprint, k.label, o.state, o.error, o.created_at, o.updated_at, \
    o.last_verified_at, o.verify_status, o.verify_detail, o.blake3, o.migrated_to";
const OBJECT_FROM: &str = "FROM objects o JOIN connections c ON c.id = o.connection_id \
    LEFT JOIN keys k ON k.fingerprint = o.key_fingerprint";
const KEY_COLUMNS: &str = "label, fingerprint, created_at, source, source_detail, \
    backup_status, last_backup_at, notes, deleted_at";

impl Registry {
    /// Opens (creating if needed) the registry file and brings its schema up to date.
    ///
    /// A new registry is built beside its place and moved in whole, so a file at `path` is
    /// always a complete registry; one that is empty or that SQLite finds damaged is
    /// refused before anything writes to it ([`RegistryError::Damaged`]), never replaced.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        if !path.exists() {
            create_registry(path)?;
        }
        let mut conn = open_existing(path)?;
        migrate(&mut conn, path)?;
        let mut raw = [0u8; 8];
        getrandom::fill(&mut raw).map_err(|e| RegistryError::CreateHome {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let owner = hex::encode(raw);
        let registry = Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            _lease: Lease::start(path.to_path_buf(), owner.clone()),
            owner,
        };
        registry.ensure_home_id()?;
        registry.register_owner()?;
        Ok(registry)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every write is one
        // statement or one transaction), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, source: rusqlite::Error) -> RegistryError {
        sqlite_error(&self.path, source)
    }

    fn ensure_home_id(&self) -> Result<()> {
        if self.meta("home_id")?.is_none() {
            let mut raw = [0u8; 8];
            getrandom::fill(&mut raw).map_err(|e| RegistryError::CreateHome {
                path: self.path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            self.db()
                .execute(
                    "INSERT OR IGNORE INTO meta(name, value) VALUES ('home_id', ?1)",
                    [hex::encode(raw)],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Sets (or with None removes) a value of the registry's own `meta` table.
    pub(crate) fn set_meta(&self, name: &str, value: Option<&str>) -> Result<()> {
        let db = self.db();
        match value {
            Some(v) => db.execute(
                "INSERT INTO meta(name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, v],
            ),
            None => db.execute("DELETE FROM meta WHERE name = ?1", [name]),
        }
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(crate) fn meta(&self, name: &str) -> Result<Option<String>> {
        self.db()
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// A random id made when the home was created; namespaces this home's keyring entries.
    pub fn home_id(&self) -> Result<String> {
        Ok(self.meta("home_id")?.unwrap_or_default())
    }

    // ---- keys ----

    /// Registers a key's metadata. Refuses a taken label and a fingerprint already live (in
    /// one IMMEDIATE transaction, so two processes importing at once cannot both win); a
    /// fingerprint whose key was deleted comes back to life under the new label.
    pub fn insert_key(
        &self,
        label: &str,
        fingerprint: &KeyFingerprint,
        source: &str,
        source_detail: &str,
    ) -> Result<KeyRecord> {
        {
            let mut db = self.db();
            let tx = db
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let existing: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT label, deleted_at FROM keys WHERE fingerprint = ?1",
                    [fingerprint.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some((existing, None)) = existing {
                return Err(RegistryError::KeyKnown {
                    label: existing,
                    fingerprint: fingerprint.clone(),
                });
            }
            let taken: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM keys WHERE label = ?1 AND deleted_at IS NULL)",
                    [label],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            if taken {
                return Err(RegistryError::LabelTaken(label.to_string()));
            }
            tx.execute(
                "INSERT INTO keys(label, fingerprint, created_at, source, source_detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(fingerprint) DO UPDATE SET label = excluded.label,
                    created_at = excluded.created_at, source = excluded.source,
                    source_detail = excluded.source_detail, deleted_at = NULL,
                    backup_status = 'never', last_backup_at = NULL, backup_location = NULL",
                params![label, fingerprint.as_str(), now(), source, source_detail],
            )
            .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
        }
        self.key_by_fingerprint(fingerprint)?
            .ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))
    }

    /// A live key by its label.
    pub fn key_by_label(&self, label: &str) -> Result<Option<KeyRecord>> {
        self.db()
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE label = ?1 AND deleted_at IS NULL"),
                [label],
                key_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// A key by fingerprint, deleted or not (so the registry can still name a lost key).
    pub fn key_by_fingerprint(&self, fp: &KeyFingerprint) -> Result<Option<KeyRecord>> {
        self.db()
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE fingerprint = ?1"),
                [fp.as_str()],
                key_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Live keys, without what they encrypt (for callers that need only the records).
    pub fn key_records(&self) -> Result<Vec<KeyRecord>> {
        let db = self.db();
        let mut stmt = db
            .prepare(&format!(
                "SELECT {KEY_COLUMNS} FROM keys WHERE deleted_at IS NULL ORDER BY label"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], key_from_row).map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Live keys with the count and bytes of the objects they encrypt: one pass over the
    /// (key, state, ...) index (`audit_sums`). A key protects every object that may be on the
    /// server under it, and every object being rotated to it (counted once).
    pub fn keys(&self) -> Result<Vec<KeySummary>> {
        self.keys_from(&self.audit_sums(None)?)
    }

    /// `keys` from sums already read (the audit reads them once for both).
    pub fn keys_from(&self, sums: &AuditSums) -> Result<Vec<KeySummary>> {
        let incoming: std::collections::HashMap<String, u64> = {
            let db = self.db();
            let mut stmt = db
                .prepare_cached(&format!(
                    "SELECT r.to_fingerprint, COUNT(*)
                     FROM rotations r JOIN objects o ON o.id = r.object_id
                     WHERE NOT (o.key_fingerprint = r.to_fingerprint
                        AND o.state IN {MAY_BE_ON_SERVER})
                     GROUP BY r.to_fingerprint"
                ))
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))
                .map_err(|e| self.err(e))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(|e| self.err(e))?
        };
        Ok(self
            .key_records()?
            .into_iter()
            .map(|key| {
                let fp = key.fingerprint.as_str();
                let s = sums.per_key.get(fp).copied().unwrap_or_default();
                KeySummary {
                    objects: s.live + incoming.get(fp).copied().unwrap_or(0),
                    bytes: s.stored_bytes,
                    migrated: s.migrated,
                    key,
                }
            })
            .collect())
    }

    /// Undoes a key's delete mark (the keyring refused to delete the entry).
    pub fn unmark_key_deleted(&self, fp: &KeyFingerprint) -> Result<()> {
        self.db()
            .execute(
                "UPDATE keys SET deleted_at = NULL WHERE fingerprint = ?1",
                params![fp.as_str()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records a backup of the key: `kind` is `exported_plain` (the seed's key file) or
    /// `age_backup` (an encrypted backup that was read back and checked).
    pub fn mark_key_backup(&self, fp: &KeyFingerprint, kind: &str, location: &str) -> Result<()> {
        self.db()
            .execute(
                "UPDATE keys SET backup_status = ?4, last_backup_at = ?2,
                    backup_location = ?3 WHERE fingerprint = ?1",
                params![fp.as_str(), now(), location, kind],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    // ---- connections ----

    /// Adds a connection; refused when the name is taken, even by one added at the same
    /// moment by another process (the name is unique in the table: no overwrite).
    pub fn add_connection(&self, c: &ConnectionRecord) -> Result<ConnectionRecord> {
        let inserted = self.db().execute(
            "INSERT INTO connections(name, endpoint, region, path_style, credential_source,
                profile, access_key_id, checksum_mode, created_at, allow_plain_http, ca_bundle)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                c.name,
                c.endpoint,
                c.region,
                c.path_style,
                c.credential_source.as_str(),
                c.profile,
                c.access_key_id,
                c.checksum_mode.as_str(),
                now(),
                c.allow_plain_http,
                c.ca_bundle
            ],
        );
        match inserted {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(RegistryError::ConnectionTaken(c.name.clone()));
            }
            Err(e) => return Err(self.err(e)),
        }
        self.connection_by_name(&c.name)?
            .ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Forgets a connection added a moment ago whose secret could not be stored.
    pub fn forget_new_connection(&self, name: &str) -> Result<()> {
        self.db()
            .execute(
                "DELETE FROM connections WHERE name = ?1
                 AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.connection_id = connections.id)",
                [name],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn connections(&self) -> Result<Vec<ConnectionRecord>> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT id, name, endpoint, region, path_style, credential_source, profile,
                    access_key_id, checksum_mode, created_at, allow_plain_http, ca_bundle FROM connections ORDER BY name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], connection_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    pub fn connection_by_name(&self, name: &str) -> Result<Option<ConnectionRecord>> {
        self.db()
            .query_row(
                "SELECT id, name, endpoint, region, path_style, credential_source, profile,
                    access_key_id, checksum_mode, created_at, allow_plain_http, ca_bundle FROM connections WHERE name = ?1",
                [name],
                connection_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Saves a connection's settings (looked up by name; the name itself does not change).
    pub fn update_connection(&self, c: &ConnectionRecord) -> Result<()> {
        self.db()
            .execute(
                "UPDATE connections SET endpoint = ?2, region = ?3, path_style = ?4,
                    credential_source = ?5, profile = ?6, access_key_id = ?7,
                    checksum_mode = ?8, allow_plain_http = ?9, ca_bundle = ?10
                 WHERE name = ?1",
                params![
                    c.name,
                    c.endpoint,
                    c.region,
                    c.path_style,
                    c.credential_source.as_str(),
                    c.profile,
                    c.access_key_id,
                    c.checksum_mode.as_str(),
                    c.allow_plain_http,
                    c.ca_bundle
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The bucket of the newest registered object, if any (one row, by id).
    pub fn last_bucket(&self) -> Result<Option<String>> {
        self.db()
            .query_row(
                "SELECT bucket FROM objects ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The buckets of a connection that registered objects are in (from the location index).
    pub fn buckets_of(&self, connection: &str) -> Result<Vec<String>> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT DISTINCT o.bucket FROM objects o
                 JOIN connections c ON c.id = o.connection_id
                 WHERE c.name = ?1 ORDER BY o.bucket",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([connection], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Forgets a connection, in one IMMEDIATE transaction. Refused (returning how many)
    /// while objects that may be on its server name it, an upload under way included.
    pub fn remove_connection(&self, name: &str) -> Result<usize> {
        let mut db = self.db();
        let tx = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let live: i64 = tx
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM objects o JOIN connections c ON c.id = o.connection_id
                     WHERE c.name = ?1 AND o.state IN {MAY_BE_ON_SERVER}"
                ),
                [name],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if live > 0 {
            return Ok(live as usize);
        }
        for statement in [
            "DELETE FROM multipart_uploads WHERE object_id IN (SELECT o.id FROM objects o
               JOIN connections c ON c.id = o.connection_id WHERE c.name = ?1)",
            "DELETE FROM rotations WHERE object_id IN (SELECT o.id FROM objects o
               JOIN connections c ON c.id = o.connection_id WHERE c.name = ?1)",
            "DELETE FROM objects WHERE connection_id = (SELECT id FROM connections WHERE name = ?1)",
            "DELETE FROM bucket_traits WHERE connection_id = (SELECT id FROM connections WHERE name = ?1)",
            "DELETE FROM connections WHERE name = ?1",
        ] {
            tx.execute(statement, [name]).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(0)
    }

    // ---- events ----

    pub fn log_event(
        &self,
        kind: &str,
        key: Option<&KeyFingerprint>,
        object_id: Option<i64>,
        detail: &str,
    ) -> Result<()> {
        self.db()
            .execute(
                "INSERT INTO events(at, kind, key_fingerprint, object_id, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now(), kind, key.map(|k| k.as_str()), object_id, detail],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn events(&self) -> Result<Vec<EventRecord>> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT at, kind, key_fingerprint, object_id, detail FROM events ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EventRecord {
                    at: r.get(0)?,
                    kind: r.get(1)?,
                    key_fingerprint: r.get(2)?,
                    object_id: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let wrap = |source| sqlite_error(path, source);
    let known = MIGRATIONS.len() as i64;
    // One IMMEDIATE transaction reads the version and applies what is missing, so two
    // processes opening a new registry at once never apply a step twice.
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(wrap)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(wrap)?;
    if version > known {
        return Err(RegistryError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(step).map_err(wrap)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(wrap)?;
    }
    tx.commit().map_err(wrap)
}

/// A SQLite error about the registry at `path`; one saying the file is damaged or not a
/// database becomes [`RegistryError::Damaged`], with the recovery steps.
fn sqlite_error(path: &Path, source: rusqlite::Error) -> RegistryError {
    let damaged = matches!(
        source.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    );
    if damaged {
        RegistryError::Damaged {
            path: path.to_path_buf(),
            detail: source.to_string(),
        }
    } else {
        RegistryError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A new registry, built in a part file beside `path` and moved in only once complete, and
/// never over a file: a process that loses the race to create it opens the winner's.
fn create_registry(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let create = |source| RegistryError::CreateHome {
        path: path.to_path_buf(),
        source,
    };
    let part = tempfile::Builder::new()
        .prefix(".registry-new-")
        .tempfile_in(dir)
        .map_err(create)?;
    {
        let mut conn = Connection::open(part.path()).map_err(|e| sqlite_error(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| sqlite_error(path, e))?;
        migrate(&mut conn, path)?;
        // Closing checkpoints the WAL into the file, so the file alone is the registry.
        conn.close().map_err(|(_, e)| sqlite_error(path, e))?;
    }
    match part.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A file system with neither no-replace renames nor hard links (FAT): a plain
        // rename, which only another process creating this registry at once could race.
        Err(e) if !path.exists() => e
            .file
            .persist(path)
            .map(|_| ())
            .map_err(|e| create(e.error)),
        Err(e) => Err(create(e.error)),
    }
}

/// Opens the registry file that exists at `path` (never creating one), after checking it
/// is a registry SQLite can read; nothing is written before that.
fn open_existing(path: &Path) -> Result<Connection> {
    let damaged = |detail: &str| RegistryError::Damaged {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    // A file SQLite would take for a new, empty database: a registry emptied by a failed
    // copy or sync, since a new one is never empty (see `create_registry`).
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Err(damaged("the file is empty (0 bytes)"));
    }
    let wrap = |source| sqlite_error(path, source);
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
        | rusqlite::OpenFlags::SQLITE_OPEN_URI
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(wrap)?;
    // The busy timeout first: switching to WAL itself waits for other processes.
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(wrap)?;
    // Reading the schema finds a file that is not a database or whose header is damaged;
    // damage deeper in the file surfaces as `Damaged` from the first query that meets it
    // (`sqlite_error`). A full `quick_check` here would read the whole file at every start:
    // seconds on a registry of millions of objects.
    // Tables but no schema version: a database of some other program, never migrated into.
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(wrap)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(wrap)?;
    if version == 0 && tables > 0 {
        return Err(damaged(
            "it is another program's database: it has tables but no registry schema",
        ));
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(wrap)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(wrap)?;
    Ok(conn)
}

/// Creates a directory (and parents) readable by the user only.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let wrap = |source| RegistryError::CreateHome {
        path: dir.to_path_buf(),
        source,
    };
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(wrap)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(wrap)?;
    }
    Ok(())
}

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        label: r.get(0)?,
        fingerprint: KeyFingerprint::from_stored(r.get::<_, String>(1)?),
        created_at: r.get(2)?,
        source: r.get(3)?,
        source_detail: r.get(4)?,
        backup_status: r.get(5)?,
        last_backup_at: r.get(6)?,
        notes: r.get(7)?,
        deleted_at: r.get(8)?,
    })
}

fn connection_from_row(r: &Row<'_>) -> rusqlite::Result<ConnectionRecord> {
    Ok(ConnectionRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        endpoint: r.get(2)?,
        region: r.get(3)?,
        path_style: r.get(4)?,
        credential_source: CredentialSource::parse(&r.get::<_, String>(5)?),
        profile: r.get(6)?,
        access_key_id: r.get(7)?,
        checksum_mode: ChecksumMode::parse(&r.get::<_, String>(8)?),
        created_at: r.get(9)?,
        allow_plain_http: r.get(10)?,
        ca_bundle: r.get(11)?,
    })
}

fn object_from_row(r: &Row<'_>) -> rusqlite::Result<ObjectRecord> {
    Ok(ObjectRecord {
        id: r.get(0)?,
        connection: r.get(1)?,
        bucket: r.get(2)?,
        key: r.get(3)?,
        version_id: r.get(4)?,
        size: r.get::<_, Option<i64>>(5)?.map(|s| s.max(0) as u64),
        sha256: r.get(6)?,
        etag: r.get(7)?,
        key_fingerprint: KeyFingerprint::from_stored(r.get::<_, String>(8)?),
        key_label: r.get(9)?,
        state: ObjectState::parse(&r.get::<_, String>(10)?),
        error: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        last_verified_at: r.get(14)?,
        verify_status: r
            .get::<_, Option<String>>(15)?
            .map(|s| VerifyStatus::parse(&s)),
        verify_detail: r.get(16)?,
        blake3: r.get(17)?,
        migrated_to: r.get(18)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("registry.sqlite3")).unwrap();
        (dir, reg)
    }

    fn connection(reg: &Registry) -> ConnectionRecord {
        reg.add_connection(&ConnectionRecord::new(
            "garage",
            Some("http://127.0.0.1:3900"),
            "garage",
        ))
        .unwrap()
    }

    /// `keys()` as it was before migration 11: one correlated count per key (the reference
    /// the aggregate query must agree with).
    fn keys_the_old_way(reg: &Registry) -> Vec<(String, u64, u64, u64)> {
        let db = reg.db();
        let mut stmt = db
            .prepare(&format!(
                "SELECT label,
                    (SELECT COUNT(*) FROM objects o WHERE (o.key_fingerprint = keys.fingerprint
                        AND o.state IN {MAY_BE_ON_SERVER}) OR o.id IN (SELECT object_id
                        FROM rotations r WHERE r.to_fingerprint = keys.fingerprint)),
                    (SELECT COALESCE(SUM(size), 0) FROM objects o
                        WHERE o.key_fingerprint = keys.fingerprint AND o.state = 'stored'),
                    (SELECT COUNT(*) FROM objects o
                        WHERE o.key_fingerprint = keys.fingerprint AND o.state = 'migrated')
                 FROM keys WHERE deleted_at IS NULL ORDER BY label"
            ))
            .unwrap();
        let n = |r: &rusqlite::Row, i| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
        stmt.query_map([], |r| Ok((r.get(0)?, n(r, 1)?, n(r, 2)?, n(r, 3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn key_sums_from_the_index_equal_the_per_key_counts_on_random_registries() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        const STATES: [&str; 7] = [
            "stored",
            "pending",
            "in_doubt",
            "old_version",
            "failed",
            "deleted",
            "migrated",
        ];
        // Objects: (key 0-3, 3 being a key the registry never had; state; size; rotated to
        // key 0-2 or not).
        let object = (
            0..4usize,
            0..STATES.len(),
            0..5_000i64,
            proptest::option::of(0..3usize),
        );
        let mut runner = TestRunner::new(Config::with_cases(64));
        runner
            .run(&proptest::collection::vec(object, 0..60), |objects| {
                let (_d, reg) = temp_registry();
                let conn = connection(&reg);
                let fps: Vec<KeyFingerprint> = (0..4)
                    .map(|i| KeyFingerprint::from_stored(format!("fp{i}")))
                    .collect();
                for (i, fp) in fps.iter().take(3).enumerate() {
                    reg.insert_key(&format!("k{i}"), fp, "generated", "")
                        .unwrap();
                }
                {
                    let db = reg.db();
                    for (n, (key, state, size, rotated)) in objects.iter().enumerate() {
                        db.execute(
                            "INSERT INTO objects (connection_id, bucket, object_key, size, sha256,
                                key_fingerprint, state, created_at, updated_at)
                             VALUES (?1, 'b', ?2, ?3, '', ?4, ?5, 'now', 'now')",
                            params![
                                conn.id,
                                format!("o{n}"),
                                size,
                                fps[*key].as_str(),
                                STATES[*state]
                            ],
                        )
                        .unwrap();
                        if let Some(to) = rotated {
                            db.execute(
                                "INSERT INTO rotations (object_id, from_fingerprint,
                                    to_fingerprint, started_at)
                                 VALUES (last_insert_rowid(), ?1, ?2, 'now')",
                                params![fps[*key].as_str(), fps[*to].as_str()],
                            )
                            .unwrap();
                        }
                    }
                }
                let new: Vec<(String, u64, u64, u64)> = reg
                    .keys()
                    .unwrap()
                    .into_iter()
                    .map(|k| (k.key.label, k.objects, k.bytes, k.migrated))
                    .collect();
                prop_assert_eq!(new, keys_the_old_way(&reg));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn the_states_that_protect_a_key_are_the_same_in_sql_and_in_rust() {
        use ObjectState as S;
        for state in [
            S::Pending,
            S::Stored,
            S::Failed,
            S::Deleted,
            S::Replaced,
            S::Cancelled,
            S::OldVersion,
            S::InDoubt,
            S::Migrated,
        ] {
            let in_sql = MAY_BE_ON_SERVER.contains(&format!("'{}'", state.as_str()));
            assert_eq!(in_sql, state.may_be_on_server(), "{state:?}");
        }
    }

    /// Keyset paging: walking every page lists each row once, in id order, while rows are
    /// added between pages (they come last) — the order `objects --json` and verify rely on.
    #[test]
    fn pages_list_every_row_once_in_order_while_rows_are_added() {
        let (_d, reg) = temp_registry();
        let conn = connection(&reg);
        let fp = KeyFingerprint::from_stored("fp");
        reg.insert_key("k", &fp, "generated", "").unwrap();
        for i in 0..250 {
            reg.insert_object_for_tests(&conn, &format!("a{i}"), &fp);
        }
        let mut seen = Vec::new();
        let mut after = 0;
        let mut added = 0;
        loop {
            let page = reg.objects_after(after, 40).unwrap();
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            seen.extend(page.iter().map(|o| o.id));
            // Another process adds rows while the walk goes on.
            if added < 3 {
                reg.insert_object_for_tests(&conn, &format!("b{added}"), &fp);
                added += 1;
            }
        }
        let all: Vec<i64> = reg.objects().unwrap().iter().map(|o| o.id).collect();
        assert_eq!(all.len(), 253);
        assert_eq!(seen, all, "every row once, in id order");
    }

    #[test]
    fn labels_are_unique_and_twins_are_named() {
        let (_d, reg) = temp_registry();
        let fp = KeyFingerprint::from_stored("abc");
        reg.insert_key("prod", &fp, "generated", "").unwrap();
        assert!(matches!(
            reg.insert_key("other", &fp, "imported", ""),
            Err(RegistryError::KeyKnown { label, .. }) if label == "prod"
        ));
        assert!(matches!(
            reg.insert_key("prod", &KeyFingerprint::from_stored("def"), "imported", ""),
            Err(RegistryError::LabelTaken(_))
        ));
        // A deleted key frees its label, and re-importing it revives the row.
        reg.delete_key_checked(&fp, "prod", None, true).unwrap();
        reg.insert_key("prod", &KeyFingerprint::from_stored("def"), "imported", "")
            .unwrap();
        reg.insert_key("prod-old", &fp, "imported", "").unwrap();
        assert_eq!(reg.keys().unwrap().len(), 2);
    }

    #[test]
    fn upload_rows_are_written_ahead_and_replaced_on_overwrite() {
        let (_d, reg) = temp_registry();
        let conn = connection(&reg);
        let fp = KeyFingerprint::from_stored("k1");
        reg.insert_key("k1", &fp, "generated", "").unwrap();
        let first = reg.reserve_upload(&conn, "b", "o", &fp, 3).unwrap();
        assert_eq!(reg.objects().unwrap()[0].state, ObjectState::Pending);
        reg.finish_upload(
            first,
            &StoredObject {
                size: 3,
                blake3: Some("s".into()),
                ..Default::default()
            },
            false,
            reg.landing_mark().unwrap(),
        )
        .unwrap();
        let second = reg.reserve_upload(&conn, "b", "o", &fp, 4).unwrap();
        // Until the second upload is confirmed, the first one is what the server holds.
        assert_eq!(
            reg.current_object(&conn, "b", "o").unwrap().unwrap().id,
            first
        );
        reg.finish_upload(
            second,
            &StoredObject {
                size: 4,
                blake3: Some("t".into()),
                ..Default::default()
            },
            false,
            reg.landing_mark().unwrap(),
        )
        .unwrap();
        let objs = reg.objects().unwrap();
        assert_eq!(objs[0].state, ObjectState::Replaced);
        assert_eq!(objs[1].state, ObjectState::Stored);
        assert_eq!(reg.dependent_objects(&fp).unwrap().len(), 1);
    }

    /// A versioned bucket keeps the previous version after a rotation: it stays recorded
    /// under the old key (which therefore still has a dependent), until deleted on request.
    #[test]
    fn a_migration_is_held_by_one_owner_and_keeps_uploads_and_rotations_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.sqlite3");
        let reg = Registry::open(&path).unwrap();
        let conn = connection(&reg);
        let (old, new) = (
            KeyFingerprint::from_stored("old"),
            KeyFingerprint::from_stored("new"),
        );
        reg.insert_key("old", &old, "generated", "").unwrap();
        reg.insert_key("new", &new, "generated", "").unwrap();
        let id = reg.reserve_upload(&conn, "b", "o", &old, 3).unwrap();
        let since = reg.landing_mark().unwrap();
        reg.finish_upload(id, &StoredObject::default(), false, since)
            .unwrap();
        let m = PendingMigration {
            object_id: id,
            from: old.clone(),
            target: "none".into(),
        };
        reg.begin_migration(&m).unwrap();
        // A second one, by this process or another, waits; so do a rotation and an upload.
        assert!(matches!(
            reg.begin_migration(&m),
            Err(RegistryError::MigrationUnderWay(_))
        ));
        let other = Registry::open(&path).unwrap();
        assert!(matches!(
            other.begin_migration(&m),
            Err(RegistryError::OwnedElsewhere { .. })
        ));
        assert!(
            other
                .begin_rotation(&PendingRotation {
                    object_id: id,
                    from: old.clone(),
                    to: new.clone(),
                })
                .is_err()
        );
        assert!(matches!(
            other.reserve_upload(&conn, "b", "o", &new, 3),
            Err(RegistryError::RotationUnderWay(_))
        ));
        // Only its holder finishes it; the key stops depending on the row only then.
        assert!(other.finish_migration(&m, None, "x", false).is_err());
        assert_eq!(reg.dependent_objects(&old).unwrap().len(), 1);
        // Its owner alive, nobody else can take it over.
        assert!(!other.claim_migration(id).unwrap());
        reg.finish_migration(&m, None, "done", false).unwrap();
        assert!(reg.dependent_objects(&old).unwrap().is_empty());
        let row = reg.object_by_id(id).unwrap().unwrap();
        assert_eq!(row.state, ObjectState::Migrated);
        assert_eq!(row.migrated_to.as_deref(), Some("none"));
    }

    #[test]
    fn an_upload_and_a_rotation_of_one_object_never_overlap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.sqlite3");
        let reg = Registry::open(&path).unwrap();
        let conn = connection(&reg);
        let (old, new) = (
            KeyFingerprint::from_stored("old"),
            KeyFingerprint::from_stored("new"),
        );
        reg.insert_key("old", &old, "generated", "").unwrap();
        reg.insert_key("new", &new, "generated", "").unwrap();
        let stored = reg.reserve_upload(&conn, "b", "o", &old, 3).unwrap();
        let since = reg.landing_mark().unwrap();
        reg.finish_upload(stored, &StoredObject::default(), false, since)
            .unwrap();
        let rotation = PendingRotation {
            object_id: stored,
            from: old.clone(),
            to: new.clone(),
        };
        // An upload of the object is running: the rotation waits.
        let running = reg.reserve_upload(&conn, "b", "o", &old, 3).unwrap();
        // The stored row landed after `since`: this upload did not run alone.
        assert!(!reg.alone_since(running, since).unwrap());
        assert!(matches!(
            reg.begin_rotation(&rotation),
            Err(RegistryError::UploadUnsettled(id)) if id == stored
        ));
        reg.fail_upload(running, ObjectState::Failed, "refused")
            .unwrap();
        reg.begin_rotation(&rotation).unwrap();
        // Another process cannot upload the object while it rotates, alone or in a batch.
        let other = Registry::open(&path).unwrap();
        assert!(matches!(
            other.reserve_upload(&conn, "b", "o", &new, 3),
            Err(RegistryError::RotationUnderWay(_))
        ));
        let batch = other
            .reserve_uploads(&conn, "b", &[("o", 3), ("p", 4)], &new)
            .unwrap();
        assert!(batch[0].is_none() && batch[1].is_some(), "{batch:?}");
        // The rotation's own re-upload (this process, the target key) is part of it.
        reg.reserve_upload(&conn, "b", "o", &new, 3).unwrap();
        // An upload of another object with nothing beside it ran alone.
        let p = batch[1].unwrap();
        assert!(other.alone_since(p, since).unwrap());
    }

    #[test]
    fn a_rotation_in_a_versioned_bucket_keeps_the_old_version_under_the_old_key() {
        let (_d, reg) = temp_registry();
        let conn = connection(&reg);
        let (old, new) = (
            KeyFingerprint::from_stored("old"),
            KeyFingerprint::from_stored("new"),
        );
        reg.insert_key("old", &old, "generated", "").unwrap();
        reg.insert_key("new", &new, "generated", "").unwrap();
        let id = reg.reserve_upload(&conn, "b", "o", &old, 3).unwrap();
        reg.finish_upload(
            id,
            &StoredObject {
                size: 3,
                blake3: Some("s".into()),
                version_id: Some("v1".into()),
                ..Default::default()
            },
            true,
            reg.landing_mark().unwrap(),
        )
        .unwrap();
        reg.begin_rotation(&PendingRotation {
            object_id: id,
            from: old.clone(),
            to: new.clone(),
        })
        .unwrap();
        reg.finish_rotation(id, &new, Some("v2"), "o: old -> new", true)
            .unwrap();
        let objs = reg.objects().unwrap();
        assert_eq!(objs.len(), 2);
        let current = objs.iter().find(|o| o.id == id).unwrap();
        assert_eq!(
            (current.state, current.version_id.as_deref()),
            (ObjectState::Stored, Some("v2"))
        );
        assert_eq!(current.key_fingerprint, new);
        let kept = objs.iter().find(|o| o.id != id).unwrap();
        assert_eq!(
            (kept.state, kept.version_id.as_deref()),
            (ObjectState::OldVersion, Some("v1"))
        );
        assert_eq!(kept.key_fingerprint, old);
        assert_eq!(reg.dependent_objects(&old).unwrap().len(), 1);
        reg.mark_old_version_deleted(kept.id, "deleted on request")
            .unwrap();
        assert!(reg.dependent_objects(&old).unwrap().is_empty());
        assert!(
            reg.events()
                .unwrap()
                .iter()
                .any(|e| e.kind == "old_version_deleted")
        );
        assert!(reg.pending_rotations().unwrap().is_empty());
    }

    /// "Could not ask" never erases what the server said; a re-upload rotation retires the
    /// old row; a connection with old versions cannot be removed.
    #[test]
    fn failed_checks_keep_findings_and_reupload_rotations_retire_the_old_row() {
        let (_d, reg) = temp_registry();
        let conn = connection(&reg);
        let fp = KeyFingerprint::from_stored("k");
        reg.insert_key("k", &fp, "generated", "").unwrap();
        let id = reg.reserve_upload(&conn, "b", "o", &fp, 1).unwrap();
        reg.finish_upload(
            id,
            &StoredObject::default(),
            false,
            reg.landing_mark().unwrap(),
        )
        .unwrap();
        reg.record_verification(id, VerifyStatus::Missing, Some("gone"))
            .unwrap();
        let checked = reg.object_by_id(id).unwrap().unwrap().last_verified_at;
        reg.record_verification(id, VerifyStatus::Unreachable, Some("network down"))
            .unwrap();
        let o = reg.object_by_id(id).unwrap().unwrap();
        assert_eq!(o.verify_status, Some(VerifyStatus::Missing));
        assert_eq!(o.verify_detail.as_deref(), Some("gone"));
        assert_eq!(o.last_verified_at, checked);

        let new = KeyFingerprint::from_stored("k2");
        reg.drop_rotation(id, &new, "re-uploaded", true).unwrap();
        let o = reg.object_by_id(id).unwrap().unwrap();
        assert_eq!(
            (o.state, o.version_id.as_deref()),
            (ObjectState::OldVersion, Some("null"))
        );
        assert_eq!(reg.remove_connection(&conn.name).unwrap(), 1);
    }

    #[test]
    fn a_connection_edit_keeps_its_name_and_creation_time() {
        let (_d, reg) = temp_registry();
        let first = connection(&reg);
        let mut edited = first.clone();
        edited.region = "eu-west-3".into();
        edited.path_style = false;
        edited.checksum_mode = ChecksumMode::WhenRequired;
        reg.update_connection(&edited).unwrap();
        let back = reg.connection_by_name("garage").unwrap().unwrap();
        assert_eq!(back.id, first.id);
        assert_eq!(back.created_at, first.created_at);
        assert_eq!(back.region, "eu-west-3");
        assert!(!back.path_style);
        assert_eq!(back.checksum_mode, ChecksumMode::WhenRequired);
        assert_eq!(reg.connections().unwrap().len(), 1);
    }

    #[test]
    fn event_log_is_append_only() {
        let (_d, reg) = temp_registry();
        reg.log_event("generated", None, None, "x").unwrap();
        let db = reg.db();
        assert!(db.execute("UPDATE events SET detail = 'y'", []).is_err());
        assert!(db.execute("DELETE FROM events", []).is_err());
    }

    #[test]
    fn reopening_keeps_home_id_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sqlite3");
        let id = Registry::open(&path).unwrap().home_id().unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(Registry::open(&path).unwrap().home_id().unwrap(), id);
    }
}

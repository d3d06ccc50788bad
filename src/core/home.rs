//! An ssec-manager home: a directory holding the registry, plus the keyring namespace that
//! belongs to it. Every operation is a method of `Home` (written in the module of the
//! operation: `keys`, `connections`, `rotate`...); here are only opening a home and the
//! look-ups all of them share, and the file writes that never leave half a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::key::{KeyFingerprint, SseKey};
use super::keystore::{KeystoreError, OsKeyring, SecretStore, load_key};
use super::part_file::PartFile;
use super::registry::{KeyRecord, Registry};
use super::{Error, Result};

pub const REGISTRY_FILE: &str = "registry.sqlite3";

pub struct Home {
    dir: PathBuf,
    pub registry: Registry,
    home_id: String,
    secrets: OnceLock<std::result::Result<Box<dyn SecretStore>, KeystoreError>>,
}

impl Home {
    /// The platform data directory (`~/.local/share/ssec-manager` on Linux).
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "ssec-manager").map(|d| d.data_dir().to_path_buf())
    }

    /// Opens a home, creating its directory and registry on first use.
    pub fn open(dir: &Path) -> Result<Self> {
        let registry = Registry::open(&dir.join(REGISTRY_FILE))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            home_id: registry.home_id()?,
            registry,
            secrets: OnceLock::new(),
        })
    }

    /// Opens a home for work that needs the keyring, checking the keyring BEFORE anything
    /// is created on disk, so an unreachable keyring leaves no trace.
    pub fn open_with_keyring(dir: &Path) -> Result<Self> {
        OsKeyring::check_reachable()?;
        let home = Self::open(dir)?;
        home.secrets()?;
        home.tag_all_keys();
        Ok(home)
    }

    /// A home whose secrets live in the given store (unit tests use a `MemoryStore`).
    pub fn with_store(dir: &Path, store: Box<dyn SecretStore>) -> Result<Self> {
        let home = Self::open(dir)?;
        let _ = home.secrets.set(Ok(store));
        Ok(home)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The keyring of this home, opened on first use.
    pub fn secrets(&self) -> Result<&dyn SecretStore> {
        let opened = self.secrets.get_or_init(|| {
            OsKeyring::open(&self.home_id).map(|k| Box::new(k) as Box<dyn SecretStore>)
        });
        match opened {
            Ok(store) => Ok(store.as_ref()),
            Err(e) => Err(e.clone().into()),
        }
    }

    /// The random id that namespaces this home's keyring entries.
    pub fn home_id(&self) -> &str {
        &self.home_id
    }

    /// A live key's record by label, or an error listing the labels that exist.
    pub fn key_record(&self, label: &str) -> Result<KeyRecord> {
        match self.registry.key_by_label(label)? {
            Some(k) => Ok(k),
            None => {
                let labels: Vec<String> = self
                    .registry
                    .key_records()?
                    .into_iter()
                    .map(|k| k.label)
                    .collect();
                let known = if labels.is_empty() {
                    "; no keys yet: make one with `ssec-manager key generate LABEL`".to_string()
                } else {
                    format!(" (known: {})", labels.join(", "))
                };
                Err(Error::UnknownKey {
                    label: label.into(),
                    known,
                })
            }
        }
    }

    /// The key material of a registered key, read from the keyring.
    pub fn load_key(&self, record: &KeyRecord) -> Result<SseKey> {
        load_key(self.secrets()?, &record.fingerprint)?.ok_or_else(|| Error::KeyNotInKeyring {
            label: record.label.clone(),
            fingerprint: record.fingerprint.to_string(),
        })
    }

    /// Whether the keyring still holds this key (for listings and the audit).
    pub fn key_in_keyring(&self, fp: &KeyFingerprint) -> Result<bool> {
        Ok(load_key(self.secrets()?, fp)?.is_some())
    }
}

/// Writes `path` whole or not at all (a part file beside it, renamed over it): for reports
/// the user asked to (re)write.
pub fn write_replacing(path: &Path, contents: &[u8]) -> Result<()> {
    let part = write_part(path, contents)?;
    part.persist(path)
        .map_err(|e| Error::io(path, "cannot write", e))
}

/// `write_replacing` for output written a piece at a time: `write` fills a buffered part
/// file, which replaces `path` only once `write` returned Ok and the file is on disk.
pub fn write_replacing_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let part = write_part(path, &[])?;
    {
        let mut out = std::io::BufWriter::new(part.as_file());
        write(&mut out)?;
        out.flush()
            .map_err(|e| Error::io(path, "cannot write the file", e))?;
    }
    part.as_file()
        .sync_all()
        .map_err(|e| Error::io(path, "cannot write the file", e))?;
    part.persist(path)
        .map_err(|e| Error::io(path, "cannot write", e))
}

/// Creates `path` (mode 0600) whole or not at all, refusing to replace anything: a process
/// killed while writing leaves no half-written file (see `part_file`).
pub fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    if path.exists() {
        return Err(Error::WouldOverwrite(path.to_path_buf()));
    }
    let part = write_part(path, contents)?;
    part.persist_new(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::WouldOverwrite(path.to_path_buf())
        } else {
            Error::io(path, "cannot create the file", e)
        }
    })
}

/// `contents` in a part file (mode 0600) in `path`'s folder, on disk.
fn write_part(path: &Path, contents: &[u8]) -> Result<PartFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let part = PartFile::create_in(dir, &name)
        .map_err(|e| Error::io(dir, "cannot create a file in this folder", e))?;
    let mut file = part.as_file();
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, "cannot write the file", e))?;
    Ok(part)
}

//! An ssec-manager home: a directory holding the registry, plus the keyring namespace that
//! belongs to it, and the key and connection operations that need both.
//!
//! Operations touch the keyring and the registry in the order that leaves nothing
//! half-done: a key goes into the keyring first and is registered second (a failed
//! registration removes it again), a key is deleted only after its dependents were shown.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::key::{KeyFingerprint, SseKey};
use super::keystore::{KeystoreError, OsKeyring, SecretId, SecretStore, load_key};
use super::registry::{ConnectionRecord, KeyRecord, Registry};
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

    // ---- keys ----

    /// Makes a new key from the OS CSPRNG, stores it in the keyring and registers it.
    pub fn generate_key(&self, label: &str) -> Result<KeyRecord> {
        check_label(label)?;
        if self.registry.key_by_label(label)?.is_some() {
            return Err(super::registry::RegistryError::LabelTaken(label.into()).into());
        }
        let key = SseKey::generate()
            .map_err(|e| Error::Generate(format!("the OS random generator failed: {e}")))?;
        let record = self.store_and_register(label, &key, "generated", "")?;
        self.registry
            .log_event("generated", Some(&record.fingerprint), None, label)?;
        Ok(record)
    }

    /// Imports key bytes in any accepted form (see `SseKey::parse`).
    pub fn import_key(&self, label: &str, input: &[u8], origin: &str) -> Result<KeyRecord> {
        check_label(label)?;
        let key = SseKey::parse(input).map_err(|source| Error::KeyInput {
            what: format!("{origin} is not an SSE-C key"),
            source,
        })?;
        let record = self.store_and_register(label, &key, "imported", origin)?;
        self.registry
            .log_event("imported", Some(&record.fingerprint), None, origin)?;
        Ok(record)
    }

    fn store_and_register(
        &self,
        label: &str,
        key: &SseKey,
        source: &str,
        detail: &str,
    ) -> Result<KeyRecord> {
        let fp = key.fingerprint();
        if let Some(existing) = self.registry.key_by_fingerprint(&fp)?
            && existing.deleted_at.is_none()
        {
            return Err(super::registry::RegistryError::KeyKnown {
                label: existing.label,
                fingerprint: fp,
            }
            .into());
        }
        if self.registry.key_by_label(label)?.is_some() {
            return Err(super::registry::RegistryError::LabelTaken(label.into()).into());
        }
        let secrets = self.secrets()?;
        let id = SecretId::SseKey(fp.clone());
        secrets.put(&id, key.raw())?;
        match self.registry.insert_key(label, &fp, source, detail) {
            Ok(record) => Ok(record),
            Err(e) => {
                // Leave no unregistered key behind (nothing would ever list it).
                let _ = secrets.delete(&id);
                Err(e.into())
            }
        }
    }

    /// A live key's record by label, or an error listing the labels that exist.
    pub fn key_record(&self, label: &str) -> Result<KeyRecord> {
        match self.registry.key_by_label(label)? {
            Some(k) => Ok(k),
            None => {
                let labels: Vec<String> = self
                    .registry
                    .keys()?
                    .into_iter()
                    .map(|k| k.key.label)
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

    /// Writes the seed's key file (base64 line + newline), mode 0600, never overwriting.
    pub fn export_key(&self, label: &str, out: &Path) -> Result<KeyRecord> {
        let record = self.key_record(label)?;
        let key = self.load_key(&record)?;
        write_new_private_file(out, key.to_seed_file().as_bytes())?;
        let location = out.display().to_string();
        self.registry
            .mark_key_backup(&record.fingerprint, "exported_plain", &location)?;
        self.registry
            .log_event("exported", Some(&record.fingerprint), None, &location)?;
        Ok(record)
    }

    /// The seed's `export SSE_KEY=... SSE_MD5=...` lines. Logged as a reveal.
    pub fn key_env_lines(&self, label: &str) -> Result<zeroize::Zeroizing<String>> {
        let record = self.key_record(label)?;
        let key = self.load_key(&record)?;
        self.registry.log_event(
            "revealed",
            Some(&record.fingerprint),
            None,
            "env lines printed",
        )?;
        Ok(key.to_env_lines())
    }

    /// Deletes a key from the keyring. Refused while objects depend on it, unless `force`,
    /// in which case the event log records exactly which objects were given up.
    pub fn delete_key(&self, label: &str, force: bool) -> Result<Vec<String>> {
        let record = self.key_record(label)?;
        let dependents: Vec<String> = self
            .registry
            .dependent_objects(&record.fingerprint)?
            .iter()
            .map(|o| format!("{}:{}", o.connection, o.url()))
            .collect();
        if !dependents.is_empty() && !force {
            let mut list: Vec<&str> = dependents.iter().take(5).map(String::as_str).collect();
            let more = dependents.len().saturating_sub(5);
            let tail = format!("and {more} more");
            if more > 0 {
                list.push(&tail);
            }
            return Err(Error::KeyInUse {
                label: label.into(),
                count: dependents.len(),
                list: list.join(", "),
            });
        }
        self.secrets()?
            .delete(&SecretId::SseKey(record.fingerprint.clone()))?;
        self.registry.mark_key_deleted(&record.fingerprint)?;
        let detail = if dependents.is_empty() {
            format!("{label}: encrypted no objects")
        } else {
            format!(
                "{label}: FORCED with {} dependent object(s) now unrecoverable: {}",
                dependents.len(),
                dependents.join(", ")
            )
        };
        self.registry
            .log_event("deleted", Some(&record.fingerprint), None, &detail)?;
        Ok(dependents)
    }

    /// The audit of this home: registry plus what the keyring holds (no server requests).
    /// "Generated 2026-11-28T01:02:03Z by ssec-manager 0.1.0 from REGISTRY": a report's origin.
    pub fn report_origin(&self) -> String {
        format!(
            "Generated {} by ssec-manager {} from {}",
            super::registry::now(),
            env!("CARGO_PKG_VERSION"),
            self.registry.path().display()
        )
    }

    pub fn audit(&self) -> Result<super::audit::AuditReport> {
        let keys = self.registry.keys()?;
        let presence = keys
            .iter()
            .map(|k| {
                let fp = k.key.fingerprint.clone();
                (fp.to_string(), self.key_in_keyring(&fp).ok())
            })
            .collect();
        let objects = self.registry.objects()?;
        let interrupted = self.registry.interrupted_uploads()?.len();
        let cutoff =
            super::audit::stale_before(chrono::Utc::now(), super::audit::VERIFY_MAX_AGE_DAYS);
        Ok(super::audit::audit(
            &keys,
            &presence,
            &objects,
            interrupted,
            Some(&cutoff),
        ))
    }

    // ---- connections ----

    /// Adds a connection; a given secret access key goes to the keyring, never to the registry.
    pub fn add_connection(
        &self,
        mut conn: ConnectionRecord,
        secret_access_key: Option<&str>,
    ) -> Result<ConnectionRecord> {
        check_endpoint(conn.endpoint.as_deref())?;
        super::preflight::check_transport(&conn)?;
        conn.endpoint = conn.endpoint.map(|e| e.trim_end_matches('/').to_string());
        if self.registry.connection_by_name(&conn.name)?.is_some() {
            return Err(super::registry::RegistryError::ConnectionTaken(conn.name).into());
        }
        if let Some(secret) = secret_access_key {
            self.secrets()?.put(
                &SecretId::S3Secret {
                    connection: conn.name.clone(),
                },
                secret.as_bytes(),
            )?;
        }
        let record = self.registry.add_connection(&conn)?;
        self.registry
            .log_event("connection_added", None, None, &record.name)?;
        Ok(record)
    }

    /// Saves new settings for an existing connection; a given secret replaces the stored one.
    pub fn update_connection(
        &self,
        conn: ConnectionRecord,
        secret_access_key: Option<&str>,
    ) -> Result<()> {
        let old = self.resolve_connection(Some(&conn.name))?;
        check_endpoint(conn.endpoint.as_deref())?;
        super::preflight::check_transport(&conn)?;
        let id = SecretId::S3Secret {
            connection: conn.name.clone(),
        };
        match (conn.credential_source, secret_access_key) {
            (super::registry::CredentialSource::Keyring, Some(secret)) => {
                self.secrets()?.put(&id, secret.as_bytes())?
            }
            (super::registry::CredentialSource::Keyring, None) => {}
            _ if old.credential_source == super::registry::CredentialSource::Keyring => {
                self.secrets()?.delete(&id)?
            }
            _ => {}
        }
        self.registry.update_connection(&conn)?;
        self.registry
            .log_event("connection_changed", None, None, &conn.name)?;
        Ok(())
    }

    /// Forgets a connection and its stored secret; refused while registered objects live on it.
    pub fn remove_connection(&self, name: &str) -> Result<()> {
        let conn = self.resolve_connection(Some(name))?;
        let live = self.registry.remove_connection(&conn.name)?;
        if live > 0 {
            return Err(Error::Transfer(format!(
                "connection \"{name}\" still holds {live} registered object(s); removing it \
                 would lose where they are"
            )));
        }
        if conn.credential_source == super::registry::CredentialSource::Keyring
            && let Ok(s) = self.secrets()
        {
            s.delete(&SecretId::S3Secret {
                connection: conn.name.clone(),
            })?;
        }
        self.registry
            .log_event("connection_removed", None, None, name)?;
        Ok(())
    }

    /// The named connection, or the only one when no name is given.
    pub fn resolve_connection(&self, name: Option<&str>) -> Result<ConnectionRecord> {
        let all = self.registry.connections()?;
        let names = || {
            all.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(n) => {
                all.iter()
                    .find(|c| c.name == n)
                    .cloned()
                    .ok_or_else(|| Error::UnknownConnection {
                        name: n.into(),
                        known: if all.is_empty() {
                            "none".into()
                        } else {
                            names()
                        },
                    })
            }
            None => match all.len() {
                0 => Err(Error::NoConnection),
                1 => Ok(all[0].clone()),
                _ => Err(Error::AmbiguousConnection(names())),
            },
        }
    }
}

fn check_endpoint(endpoint: Option<&str>) -> Result<()> {
    if let Some(endpoint) = endpoint {
        let ok = (endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            && endpoint.split("://").nth(1).is_some_and(|h| !h.is_empty());
        if !ok {
            return Err(Error::BadEndpoint(endpoint.to_string()));
        }
    }
    Ok(())
}

fn check_label(label: &str) -> Result<()> {
    let ok = !label.trim().is_empty()
        && label.chars().count() <= 100
        && !label.chars().any(|c| c.is_control() || c == '/');
    if ok {
        Ok(())
    } else {
        Err(Error::BadLabel(label.escape_debug().to_string()))
    }
}

/// Writes `path` whole or not at all (a temp file beside it, renamed over it): for reports
/// the user asked to (re)write.
pub fn write_replacing(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::io(dir, "cannot create a file in this folder", e))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| Error::io(path, "cannot write", e))?;
    temp.persist(path)
        .map_err(|e| Error::io(path, "cannot write", e.error))?;
    Ok(())
}

/// Creates `path` with mode 0600, refusing to replace anything; removes it if writing fails.
pub fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::WouldOverwrite(path.to_path_buf())
        } else {
            Error::io(path, "cannot create the file", e)
        }
    })?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(Error::io(path, "cannot write the file", e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keystore::MemoryStore;
    use crate::core::registry::{ObjectState, StoredObject};

    fn home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::with_store(dir.path(), Box::new(MemoryStore::default())).unwrap();
        (dir, home)
    }

    #[test]
    fn delete_is_refused_while_objects_depend_and_forced_deletes_are_logged() {
        let (_d, home) = home();
        let key = home.generate_key("prod").unwrap();
        let conn = home
            .add_connection(
                ConnectionRecord::new("g", Some("http://127.0.0.1:1"), "garage"),
                None,
            )
            .unwrap();
        let id = home
            .registry
            .begin_upload(&conn, "b", "doc.pdf", &key.fingerprint, 1)
            .unwrap();
        home.registry
            .finish_upload(id, &StoredObject::default(), false)
            .unwrap();
        let err = home.delete_key("prod", false).unwrap_err().to_string();
        assert!(err.contains("s3://b/doc.pdf"), "{err}");
        assert!(home.key_in_keyring(&key.fingerprint).unwrap());

        let lost = home.delete_key("prod", true).unwrap();
        assert_eq!(lost, vec!["g:s3://b/doc.pdf".to_string()]);
        assert!(!home.key_in_keyring(&key.fingerprint).unwrap());
        let events = home.registry.events().unwrap();
        let last = events.last().unwrap();
        assert_eq!(last.kind, "deleted");
        assert!(last.detail.contains("FORCED") && last.detail.contains("doc.pdf"));
        // The object row still names the (now deleted) key.
        let objs = home.registry.objects().unwrap();
        assert_eq!(objs[0].state, ObjectState::Stored);
        assert_eq!(objs[0].key_label.as_deref(), Some("prod"));
    }

    #[test]
    fn export_never_overwrites_and_is_private() {
        let (dir, home) = home();
        home.generate_key("k").unwrap();
        let out = dir.path().join("k.key");
        std::fs::write(&out, "precious").unwrap();
        assert!(matches!(
            home.export_key("k", &out),
            Err(Error::WouldOverwrite(_))
        ));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
        let out2 = dir.path().join("k2.key");
        home.export_key("k", &out2).unwrap();
        let text = std::fs::read_to_string(&out2).unwrap();
        assert_eq!(text.len(), 45);
        assert!(text.ends_with('\n'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out2).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn importing_a_known_key_names_its_label() {
        let (_d, home) = home();
        let raw = [0x9cu8; 32];
        home.import_key("a", &raw, "test").unwrap();
        let err = home.import_key("b", &raw, "test").unwrap_err().to_string();
        assert!(err.contains("already registered as \"a\""), "{err}");
        assert!(home.import_key("", &raw, "test").is_err());
    }
}

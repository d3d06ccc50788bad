//! Key operations: generate, import, export, print as env lines, reveal, list, delete.
//!
//! They touch the keyring and the registry in the order that leaves nothing half-done: a
//! key goes into the keyring first and is registered second (a failed registration removes
//! it again); a key is deleted only after its dependents were shown.

use std::path::Path;

use zeroize::Zeroizing;

use super::home::write_new_private_file;
use super::key::SseKey;
use super::keystore::SecretId;
use super::registry::{KeyRecord, KeySummary, ObjectRecord};
use super::{Error, Home, Result};

/// A key as listings show it: what it encrypts, and whether the keyring still holds it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyListing {
    #[serde(flatten)]
    pub summary: KeySummary,
    /// None: the keyring could not be asked.
    pub in_keyring: Option<bool>,
}

impl Home {
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

    /// The base64 key, for a user who asked to see it. Logged as a reveal.
    pub fn reveal_key(&self, label: &str, how: &str) -> Result<Zeroizing<String>> {
        let record = self.key_record(label)?;
        let key = self.load_key(&record)?;
        self.registry
            .log_event("revealed", Some(&record.fingerprint), None, how)?;
        Ok(key.to_base64())
    }

    /// The objects a key still protects: what deleting it would make unrecoverable.
    pub fn key_dependents(&self, label: &str) -> Result<Vec<ObjectRecord>> {
        let record = self.key_record(label)?;
        Ok(self.registry.dependent_objects(&record.fingerprint)?)
    }

    /// Every live key with what it encrypts and whether the keyring holds it.
    pub fn list_keys(&self) -> Result<Vec<KeyListing>> {
        Ok(self
            .registry
            .keys()?
            .into_iter()
            .map(|summary| {
                let in_keyring = self.key_in_keyring(&summary.key.fingerprint).ok();
                KeyListing {
                    summary,
                    in_keyring,
                }
            })
            .collect())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keystore::MemoryStore;
    use crate::core::registry::{ConnectionRecord, ObjectState, StoredObject};

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

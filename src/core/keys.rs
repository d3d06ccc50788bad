//! Key operations: generate, import, export, print as env lines, reveal, list, delete.
//!
//! They touch the keyring and the registry in the order that leaves nothing half-done: a
//! key goes into the keyring first and is registered second (a failed registration removes
//! it again); a key is deleted only after its dependents were shown.

use std::path::Path;

use zeroize::Zeroizing;

use super::home::write_new_private_file;
use super::key::KeyFingerprint;
use super::key::SseKey;
use super::keystore::{KeyTags, KeystoreError, SecretId, load_key};
use super::registry::{Dependents, KeyRecord, KeySummary, ObjectRecord};
use super::{Error, Home, Result};

/// What the user confirmed when deleting a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteConfirmation {
    /// Nothing: refused if any object depends on the key.
    None,
    /// Delete whatever depends on it (the command line's --force).
    Force,
    /// Exactly these objects (registry ids) of the key of this fingerprint were shown and
    /// accepted as lost; refused if the set changed since, or the label names another key.
    Shown {
        fingerprint: KeyFingerprint,
        ids: Vec<i64>,
    },
}

/// What the keyring holds for a registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringState {
    Holds,
    Missing,
    /// Other bytes, in words ("holds another key (fingerprint ...)").
    Other(String),
}

/// A key of this application found in the keyring whose registry is gone.
pub struct OrphanedKey {
    pub tags: KeyTags,
    /// Its bytes match its fingerprint.
    pub intact: bool,
    /// The key, when intact (never serialized).
    pub key: Option<SseKey>,
}

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

    /// Imports key bytes in any accepted form (see `SseKey::parse`). A key already
    /// registered whose keyring entry is missing or holds other bytes is repaired instead
    /// (the fingerprint proves these are its bytes).
    pub fn import_key(&self, label: &str, input: &[u8], origin: &str) -> Result<KeyRecord> {
        check_label(label)?;
        let key = SseKey::parse(input).map_err(|source| Error::KeyInput {
            what: format!("{origin} is not an SSE-C key"),
            source,
        })?;
        if let Some(record) = self.repair_entry(&key, origin)? {
            return Ok(record);
        }
        let record = self.store_and_register(label, &key, "imported", origin)?;
        self.registry
            .log_event("imported", Some(&record.fingerprint), None, origin)?;
        Ok(record)
    }

    /// What the keyring holds for a registered key.
    pub fn keyring_state(&self, fp: &KeyFingerprint) -> Result<KeyringState> {
        match load_key(self.secrets()?, fp) {
            Ok(Some(_)) => Ok(KeyringState::Holds),
            Ok(None) => Ok(KeyringState::Missing),
            Err(KeystoreError::Corrupt { found, .. }) => Ok(KeyringState::Other(found)),
            Err(e) => Err(e.into()),
        }
    }

    /// Puts `key` back in the keyring when it is registered (live) and its entry is missing
    /// or holds other bytes: Some(record) then. None when it is not registered; an error
    /// when the keyring already holds it.
    pub(crate) fn repair_entry(&self, key: &SseKey, origin: &str) -> Result<Option<KeyRecord>> {
        let fp = key.fingerprint();
        let Some(record) = self
            .registry
            .key_by_fingerprint(&fp)?
            .filter(|r| r.deleted_at.is_none())
        else {
            return Ok(None);
        };
        let was = match self.keyring_state(&fp)? {
            KeyringState::Holds => {
                return Err(super::registry::RegistryError::KeyKnown {
                    label: record.label,
                    fingerprint: fp,
                }
                .into());
            }
            KeyringState::Missing => "missing".to_string(),
            KeyringState::Other(found) => found,
        };
        self.secrets()?
            .put(&SecretId::SseKey(fp.clone()), key.raw())?;
        self.tag_key(&record)?;
        self.registry.log_event(
            "repaired",
            Some(&fp),
            None,
            &format!("keyring entry was {was}; put back from {origin}"),
        )?;
        Ok(Some(record))
    }

    /// Makes a key's keyring entry findable without the registry (see `KeyTags`).
    pub(crate) fn tag_key(&self, record: &KeyRecord) -> Result<()> {
        let tags = KeyTags {
            fingerprint: record.fingerprint.to_string(),
            label: record.label.clone(),
            home: self.home_id().to_string(),
            registry: self.registry.path().display().to_string(),
        };
        self.secrets()?
            .tag(&SecretId::SseKey(record.fingerprint.clone()), &tags)?;
        Ok(())
    }

    /// Tags the entries of every registered key (entries written before tags existed).
    /// Best effort: a keyring that cannot tag still holds the keys.
    pub fn tag_all_keys(&self) {
        if let Ok(keys) = self.registry.key_records() {
            for k in keys {
                let _ = self.tag_key(&k);
            }
        }
    }

    /// Keys of this application in the keyring whose registry is gone: their entry names
    /// this home's registry file under another home id (the file was lost and made anew),
    /// or, with `anywhere`, a registry file elsewhere that no longer exists (a home moved
    /// or deleted; a removable drive not mounted looks the same, hence not by default).
    /// Keys this registry knows are left out.
    pub fn orphaned_keys(&self, anywhere: bool) -> Result<Vec<OrphanedKey>> {
        let here = self.registry.path().display().to_string();
        let mut out: Vec<OrphanedKey> = Vec::new();
        for found in self.secrets()?.find_keys()? {
            let t = &found.tags;
            let gone = (t.registry == here && t.home != self.home_id())
                || (anywhere
                    && !t.registry.is_empty()
                    && !std::path::Path::new(&t.registry).exists());
            let fp = KeyFingerprint::from_stored(t.fingerprint.clone());
            let known = self
                .registry
                .key_by_fingerprint(&fp)?
                .is_some_and(|r| r.deleted_at.is_none());
            let bytes: Option<&[u8; 32]> = found.secret.as_slice().try_into().ok();
            let intact = bytes.is_some_and(|b| SseKey::from_raw(b).fingerprint() == fp);
            if gone && !known && !out.iter().any(|o| o.tags.fingerprint == t.fingerprint) {
                out.push(OrphanedKey {
                    tags: t.clone(),
                    intact,
                    key: bytes.filter(|_| intact).map(SseKey::from_raw),
                });
            }
        }
        out.sort_by(|a, b| a.tags.label.cmp(&b.tags.label));
        Ok(out)
    }

    /// Registers orphaned keys (all, or the one labelled `label`) in this home: each goes
    /// into this home's keyring namespace under its label (made unique if taken). The old
    /// entries stay where they are: key material is never deleted unasked.
    pub fn adopt_keys(&self, label: Option<&str>, anywhere: bool) -> Result<Vec<KeyRecord>> {
        let orphans = self.orphaned_keys(anywhere)?;
        let chosen: Vec<&OrphanedKey> = orphans
            .iter()
            .filter(|o| label.is_none_or(|l| o.tags.label == l))
            .collect();
        if let (Some(l), true) = (label, chosen.is_empty()) {
            return Err(Error::NotFound(format!(
                "no orphaned key is labelled \"{l}\"; `ssec-manager key list --orphaned` lists them"
            )));
        }
        let mut adopted = Vec::new();
        for o in chosen {
            let Some(key) = &o.key else {
                continue;
            };
            let name = self.arriving_label(&o.tags.label, "adopted", &key.fingerprint())?;
            let origin = format!(
                "keyring entry of home {} ({})",
                o.tags.home, o.tags.registry
            );
            let record = self.store_and_register(&name, key, "adopted", &origin)?;
            self.registry
                .log_event("adopted_key", Some(&record.fingerprint), None, &origin)?;
            adopted.push(record);
        }
        Ok(adopted)
    }

    /// The label a key arriving with one (from a backup, from another home's keyring entry)
    /// gets here: its own when acceptable and free, else with `-{suffix}` appended, else
    /// `{suffix}-` and the start of its fingerprint. A label written before today's rules
    /// (with an invisible character, say) is never carried over.
    pub(crate) fn arriving_label(
        &self,
        wanted: &str,
        suffix: &str,
        fp: &KeyFingerprint,
    ) -> Result<String> {
        let short: String = fp
            .as_str()
            .chars()
            .take(8)
            .map(|c| if c == '/' { '_' } else { c })
            .collect();
        let candidates = [
            wanted.to_string(),
            format!("{wanted}-{suffix}"),
            format!("{suffix}-{short}"),
        ];
        for name in &candidates {
            if super::label::label_problem(name).is_none()
                && self.registry.key_by_label(name)?.is_none()
            {
                return Ok(name.clone());
            }
        }
        Ok(candidates[2].clone())
    }

    fn store_and_register(
        &self,
        label: &str,
        key: &SseKey,
        source: &str,
        detail: &str,
    ) -> Result<KeyRecord> {
        check_label(label)?;
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
            Ok(record) => {
                self.tag_key(&record)?;
                Ok(record)
            }
            // Another process registered the same key at the same moment: the entry holds
            // the same bytes and is that key's now; it stays.
            Err(e @ super::registry::RegistryError::KeyKnown { .. }) => Err(e.into()),
            Err(e) => {
                // Leave no unregistered key behind (nothing would ever list it), unless a
                // registered key has those bytes.
                let registered = self
                    .registry
                    .key_by_fingerprint(&fp)
                    .ok()
                    .flatten()
                    .is_some_and(|r| r.deleted_at.is_none());
                if !registered {
                    let _ = secrets.delete(&id);
                }
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

    /// Deletes a key. What it protects (every object that may be on the server under it,
    /// see `Registry::dependent_objects`) is checked again in the transaction that marks it
    /// deleted: refused while anything depends on it, unless `confirm` forces it or names
    /// exactly the objects the user was shown (then a change since refuses). The keyring
    /// entry goes after the mark; the event log records which objects were given up.
    pub fn delete_key(&self, label: &str, confirm: DeleteConfirmation) -> Result<Vec<String>> {
        let record = self.key_record(label)?;
        let (shown, force) = match &confirm {
            DeleteConfirmation::None => (None, false),
            DeleteConfirmation::Force => (None, true),
            DeleteConfirmation::Shown { fingerprint, .. } if *fingerprint != record.fingerprint => {
                return Err(Error::Refused(format!(
                    "the key labelled \"{label}\" is not the one that was shown (it was \
                     deleted and made again since); nothing was deleted"
                )));
            }
            DeleteConfirmation::Shown { ids, .. } => (Some(ids.as_slice()), true),
        };
        let checked = self
            .registry
            .delete_key_checked(&record.fingerprint, label, shown, force)?;
        let dependents: Vec<String> = match &checked {
            Dependents::Refused(o) | Dependents::Deleted(o) => o
                .iter()
                .map(|o| format!("{}:{}", o.connection, o.url()))
                .collect(),
        };
        if let Dependents::Refused(_) = checked {
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
        let removed = self
            .secrets()
            .and_then(|s| Ok(s.delete(&SecretId::SseKey(record.fingerprint.clone()))?));
        if let Err(e) = removed {
            // The key is still in the keyring: it must not look deleted.
            self.registry.unmark_key_deleted(&record.fingerprint)?;
            return Err(e);
        }
        let detail = if dependents.is_empty() {
            format!("{label}: encrypted no objects")
        } else {
            format!(
                "{label}: {} with {} dependent object(s) now unrecoverable: {}",
                if shown.is_some() {
                    "CONFIRMED"
                } else {
                    "FORCED"
                },
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

/// Refuses a label that `label::label_problem` finds fault with.
fn check_label(label: &str) -> Result<()> {
    match super::label::label_problem(label) {
        None => Ok(()),
        Some(why) => Err(Error::BadLabel {
            label: super::label::shown(label),
            why,
        }),
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
            .reserve_upload(&conn, "b", "doc.pdf", &key.fingerprint, 1)
            .unwrap();
        home.registry
            .finish_upload(
                id,
                &StoredObject::default(),
                false,
                home.registry.landing_mark().unwrap(),
            )
            .unwrap();
        let err = home
            .delete_key("prod", DeleteConfirmation::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3://b/doc.pdf"), "{err}");
        assert!(home.key_in_keyring(&key.fingerprint).unwrap());

        let lost = home.delete_key("prod", DeleteConfirmation::Force).unwrap();
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

#[cfg(test)]
mod hostile_tests {
    //! Labels as anyone may give them, against a home with an in-memory keyring.

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;
    use crate::core::keystore::{MemoryStore, SecretStore as _};
    use crate::core::label::{is_invisible, label_problem};

    fn home_with(store: MemoryStore) -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::with_store(dir.path(), Box::new(store)).unwrap();
        (dir, home)
    }

    fn hostile_label() -> impl Strategy<Value = String> {
        let nasty = prop::sample::select(
            &[
                ' ', '\t', '\n', '/', '\\', '\0', '\u{a0}', '\u{200b}', '\u{200d}', '\u{202e}',
                '\u{2066}', '\u{feff}', '\u{ad}', '\u{3000}', 'é', 'a', 'Z', '0', '-', '=',
            ][..],
        );
        prop_oneof![
            prop::collection::vec(prop_oneof![3 => nasty, 1 => any::<char>()], 0..40)
                .prop_map(|v| v.into_iter().collect::<String>()),
            (90usize..10_001).prop_map(|n| "k".repeat(n)),
        ]
    }

    /// A generated key is registered under exactly the label given, and only when that
    /// label is visible text; a refusal shows the label without its invisible characters
    /// and never whole when it is long.
    #[test]
    fn only_visible_labels_name_keys() {
        let (_d, home) = home_with(MemoryStore::default());
        let mut runner = TestRunner::new(Config {
            cases: 128,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&hostile_label(), |label| {
                match home.generate_key(&label) {
                    Ok(record) => {
                        prop_assert_eq!(&record.label, &label);
                        prop_assert_eq!(label_problem(&label), None);
                    }
                    Err(Error::BadLabel { .. }) => {
                        prop_assert!(label_problem(&label).is_some());
                    }
                    Err(Error::Registry(crate::core::registry::RegistryError::LabelTaken(_))) => {}
                    Err(e) => prop_assert!(false, "{:?}: {}", label, e),
                }
                if let Err(e) = home.import_key(&label, &[0x9c; 32], "test") {
                    let msg = e.to_string();
                    prop_assert!(!msg.chars().any(is_invisible), "{:?}", msg);
                    prop_assert!(msg.chars().count() < 600, "{} chars", msg.chars().count());
                }
                Ok(())
            })
            .unwrap();
        for k in home.registry.keys().unwrap() {
            assert_eq!(label_problem(&k.key.label), None, "{:?}", k.key.label);
        }
    }

    #[test]
    fn a_key_labelled_with_a_zero_width_space_is_refused() {
        let (_d, home) = home_with(MemoryStore::default());
        home.generate_key("prod").unwrap();
        let err = home.generate_key("prod\u{200b}").unwrap_err().to_string();
        assert!(err.contains("prod\\u{200b}"), "{err}");
        assert!(err.contains("invisible"), "{err}");
        assert!(home.import_key("\u{202e}dorp", &[7u8; 32], "test").is_err());
        assert_eq!(home.registry.keys().unwrap().len(), 1);
    }

    #[test]
    fn a_label_with_spaces_at_its_ends_is_refused() {
        let (_d, home) = home_with(MemoryStore::default());
        for label in [" prod", "prod ", "\u{a0}prod", "prod\n"] {
            assert!(
                matches!(home.generate_key(label), Err(Error::BadLabel { .. })),
                "{label:?}"
            );
        }
        assert!(home.registry.keys().unwrap().is_empty());
    }

    #[test]
    fn an_orphaned_key_with_an_invisible_label_is_adopted_under_a_clean_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        let key = SseKey::from_raw(&[0x42; 32]);
        let id = SecretId::SseKey(key.fingerprint());
        store.put(&id, key.raw()).unwrap();
        let tags = KeyTags {
            fingerprint: key.fingerprint().to_string(),
            label: "prod\u{200b}".into(),
            home: "a-home-that-is-gone".into(),
            registry: dir
                .path()
                .join(crate::core::home::REGISTRY_FILE)
                .display()
                .to_string(),
        };
        store.tag(&id, &tags).unwrap();
        let home = Home::with_store(dir.path(), Box::new(store)).unwrap();
        let adopted = home.adopt_keys(None, false).unwrap();
        assert_eq!(adopted.len(), 1);
        assert_eq!(
            label_problem(&adopted[0].label),
            None,
            "{:?}",
            adopted[0].label
        );
        assert!(adopted[0].label.starts_with("adopted-"));
    }
}

//! Encrypted key backups: the chosen keys with their labels, in one file encrypted with a
//! passphrase in the age format (scrypt recipient), so the `age` CLI decrypts it too and
//! nothing of ssec-manager is needed to get the keys back.
//!
//! The plaintext inside is a small text format anyone can read and import by hand:
//!
//! ```text
//! # ssec-manager key backup v1
//! # label <TAB> fingerprint (base64 MD5) <TAB> key (base64, as `openssl rand -base64 32`)
//! photos-2026<TAB>FaVMHLyRWdvCw1LASOA/Tw==<TAB>...
//! ```
//!
//! A backup is written to a new file (never over another), read back, decrypted and compared
//! before any key counts as backed up.

use std::path::Path;

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use super::home::write_new_private_file;
use super::key::{KeyFingerprint, SseKey};
use super::keystore::SecretId;
use super::registry::KeyRecord;
use super::{Error, Home, Result};

const HEADER: &str = "# ssec-manager key backup v1";

/// One key in a backup.
pub struct BackupEntry {
    pub label: String,
    pub key: SseKey,
}

/// The plaintext of a backup.
pub fn backup_text(entries: &[BackupEntry]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(format!(
        "{HEADER}\n# label\tfingerprint (base64 MD5)\tkey (base64, as openssl rand -base64 32)\n"
    ));
    for e in entries {
        text.push_str(&e.label);
        text.push('\t');
        text.push_str(e.key.fingerprint().as_str());
        text.push('\t');
        text.push_str(&e.key.to_base64());
        text.push('\n');
    }
    text
}

/// Reads the plaintext of a backup back; each key must match its fingerprint.
pub fn parse_backup_text(text: &str) -> Result<Vec<BackupEntry>> {
    if !text.starts_with(HEADER) {
        return Err(Error::Backup(
            "this is not an ssec-manager key backup (the first line is not the backup header)"
                .into(),
        ));
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [label, fp, key] = fields[..] else {
            return Err(Error::Backup(format!(
                "line {} of the backup does not have 3 tab-separated fields",
                n + 1
            )));
        };
        let key = SseKey::parse(key.as_bytes()).map_err(|source| Error::KeyInput {
            what: format!("line {} of the backup", n + 1),
            source,
        })?;
        if key.fingerprint().as_str() != fp {
            return Err(Error::Backup(format!(
                "line {} of the backup: the key does not match its fingerprint (the file is damaged)",
                n + 1
            )));
        }
        out.push(BackupEntry {
            label: label.to_string(),
            key,
        });
    }
    Ok(out)
}

fn encrypt(plain: &[u8], passphrase: &str) -> Result<Vec<u8>> {
    let recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_string()));
    age::encrypt(&recipient, plain).map_err(|e| Error::Backup(format!("encryption failed: {e}")))
}

fn decrypt(cipher: &[u8], passphrase: &str) -> Result<Zeroizing<String>> {
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_string()));
    let plain = Zeroizing::new(age::decrypt(&identity, cipher).map_err(|e| {
        match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::KeyDecryptionFailed
        | age::DecryptError::NoMatchingKeys => Error::Backup(
            "the passphrase does not open this backup (or the file is not an age passphrase file)"
                .into(),
        ),
        other => Error::Backup(format!("the backup cannot be read: {other}")),
    }
    })?);
    String::from_utf8(plain.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| Error::Backup("the decrypted backup is not text".into()))
}

/// What a restore did, by label.
#[derive(Debug, Default)]
pub struct RestoreReport {
    /// Put back into the keyring (it was registered but missing there).
    pub restored: Vec<String>,
    /// New to this home: registered and stored.
    pub imported: Vec<String>,
    /// Already in the keyring.
    pub present: Vec<String>,
}

impl Home {
    /// Writes the chosen keys (all live keys when `labels` is empty) into a new age file,
    /// reads it back to check it, then records the backup on each key.
    pub fn backup_keys(
        &self,
        out: &Path,
        labels: &[String],
        passphrase: &str,
    ) -> Result<Vec<KeyRecord>> {
        if passphrase.chars().count() < 8 {
            return Err(Error::Backup(
                "the passphrase is too short: use at least 8 characters (a few words is best)"
                    .into(),
            ));
        }
        let records: Vec<KeyRecord> = if labels.is_empty() {
            self.registry.key_records()?
        } else {
            labels
                .iter()
                .map(|l| self.key_record(l))
                .collect::<Result<_>>()?
        };
        if records.is_empty() {
            return Err(Error::Backup("there are no keys to back up".into()));
        }
        let entries = records
            .iter()
            .map(|r| {
                Ok(BackupEntry {
                    label: r.label.clone(),
                    key: self.load_key(r)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cipher = encrypt(backup_text(&entries).as_bytes(), passphrase)?;
        write_new_private_file(out, &cipher)?;

        // Read back what is on disk, not what we meant to write.
        let check = std::fs::read(out)
            .map_err(|e| Error::io(out, "cannot read the backup back", e))
            .and_then(|bytes| decrypt(&bytes, passphrase))
            .and_then(|text| parse_backup_text(&text));
        let fingerprints = |e: &[BackupEntry]| {
            let mut f: Vec<KeyFingerprint> = e.iter().map(|x| x.key.fingerprint()).collect();
            f.sort();
            f
        };
        match check {
            Ok(back) if fingerprints(&back) == fingerprints(&entries) => {}
            _ => {
                let _ = std::fs::remove_file(out);
                return Err(Error::Backup(format!(
                    "{}: the backup did not read back intact, so it was removed; check the disk and try again",
                    out.display()
                )));
            }
        }
        let location = out.display().to_string();
        for r in &records {
            self.registry
                .mark_key_backup(&r.fingerprint, "age_backup", &location)?;
            self.registry
                .log_event("backed_up", Some(&r.fingerprint), None, &location)?;
        }
        Ok(records)
    }

    /// Brings keys back from a backup: into the keyring for registered keys that went
    /// missing there, as new keys for unknown ones.
    pub fn restore_keys(&self, file: &Path, passphrase: &str) -> Result<RestoreReport> {
        let bytes = std::fs::read(file).map_err(|e| Error::io(file, "cannot read", e))?;
        let text = decrypt(&bytes, passphrase)?;
        let entries = parse_backup_text(&text)?;
        let secrets = self.secrets()?;
        let mut report = RestoreReport::default();
        let location = file.display().to_string();
        for e in entries {
            let fp = e.key.fingerprint();
            // Whatever happens to the key here, this file holds it: that is a backup.
            let backed_up = |h: &Home| h.registry.mark_key_backup(&fp, "age_backup", &location);
            match self.registry.key_by_fingerprint(&fp)? {
                Some(r) if r.deleted_at.is_none() => {
                    // A missing entry is put back; one holding other bytes is repaired
                    // (the backup's bytes match the fingerprint the registry records).
                    backed_up(self)?;
                    if self.keyring_state(&fp)? == super::keys::KeyringState::Holds {
                        report.present.push(r.label);
                    } else {
                        secrets.put(&SecretId::SseKey(fp.clone()), e.key.raw())?;
                        self.tag_key(&r)?;
                        self.registry.log_event(
                            "restored",
                            Some(&fp),
                            None,
                            &file.display().to_string(),
                        )?;
                        report.restored.push(r.label);
                    }
                }
                _ => {
                    let label = self.arriving_label(&e.label, "restored", &fp)?;
                    let origin = format!("backup {}", file.display());
                    let rec = self.import_key(&label, e.key.to_base64().as_bytes(), &origin)?;
                    backed_up(self)?;
                    report.imported.push(rec.label);
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_text_round_trips_and_detects_damage() {
        let entries = vec![
            BackupEntry {
                label: "a".into(),
                key: SseKey::from_raw(&[1u8; 32]),
            },
            BackupEntry {
                label: "b c".into(),
                key: SseKey::from_raw(&[2u8; 32]),
            },
        ];
        let text = backup_text(&entries);
        let back = parse_backup_text(&text).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].label, "b c");
        assert_eq!(back[1].key, entries[1].key);
        let damaged = text.replacen(
            &entries[0].key.fingerprint().to_string(),
            "AAAAAAAAAAAAAAAAAAAAAA==",
            1,
        );
        assert!(parse_backup_text(&damaged).is_err());
    }

    #[test]
    fn the_passphrase_opens_and_a_wrong_one_is_refused() {
        let cipher = encrypt(b"# ssec-manager key backup v1\n", "correct horse").unwrap();
        assert!(decrypt(&cipher, "correct horse").is_ok());
        let err = decrypt(&cipher, "wrong horse").unwrap_err().to_string();
        assert!(err.contains("passphrase does not open"), "{err}");
    }
}

#[cfg(test)]
mod hostile_tests {
    //! Backup files as they arrive damaged: truncated, bit-flipped, opened with the wrong
    //! passphrase, or another age file. Each is refused and imports nothing.

    use age::secrecy::SecretString;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;
    use crate::core::keystore::MemoryStore;

    const PASS: &str = "correct horse battery";

    /// A backup as `backup_keys` writes it, with a cheap scrypt work factor (tests only).
    fn cheap_backup(entries: &[BackupEntry]) -> Vec<u8> {
        let mut recipient = age::scrypt::Recipient::new(SecretString::from(PASS.to_string()));
        recipient.set_work_factor(10);
        age::encrypt(&recipient, backup_text(entries).as_bytes()).unwrap()
    }

    fn entries() -> Vec<BackupEntry> {
        (1..=3u8)
            .map(|i| BackupEntry {
                label: format!("key-{i}"),
                key: SseKey::from_raw(&[i; 32]),
            })
            .collect()
    }

    fn home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::with_store(dir.path(), Box::new(MemoryStore::default())).unwrap();
        (dir, home)
    }

    #[derive(Debug, Clone)]
    enum Damage {
        Truncate(prop::sample::Index),
        FlipBit(prop::sample::Index, u8),
        Overwrite(prop::sample::Index, Vec<u8>),
        Append(Vec<u8>),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        prop_oneof![
            any::<prop::sample::Index>().prop_map(Damage::Truncate),
            (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, b)| Damage::FlipBit(i, b)),
            (
                any::<prop::sample::Index>(),
                prop::collection::vec(any::<u8>(), 1..32)
            )
                .prop_map(|(i, b)| Damage::Overwrite(i, b)),
            prop::collection::vec(any::<u8>(), 1..32).prop_map(Damage::Append),
        ]
    }

    fn apply(damage: &Damage, good: &[u8]) -> Vec<u8> {
        let mut out = good.to_vec();
        match damage {
            Damage::Truncate(i) => out.truncate(i.index(good.len())),
            Damage::FlipBit(i, b) => out[i.index(good.len())] ^= 1 << b,
            Damage::Overwrite(i, with) => {
                let at = i.index(good.len());
                for (o, w) in out[at..].iter_mut().zip(with) {
                    *o ^= w | 1;
                }
            }
            Damage::Append(more) => out.extend_from_slice(more),
        }
        out
    }

    /// Whatever the damage, restoring refuses with a message and registers no key.
    #[test]
    fn a_damaged_backup_is_refused_and_imports_nothing() {
        let (dir, home) = home();
        let good = cheap_backup(&entries());
        let file = dir.path().join("keys.age");
        let mut runner = TestRunner::new(Config {
            cases: 96,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&damage(), |d| {
                let bad = apply(&d, &good);
                std::fs::write(&file, &bad).unwrap();
                let result = home.restore_keys(&file, PASS);
                prop_assert!(result.is_err(), "{:?} was restored", d);
                prop_assert!(home.registry.keys().unwrap().is_empty());
                Ok(())
            })
            .unwrap();
        // The undamaged file restores all three.
        std::fs::write(&file, &good).unwrap();
        assert_eq!(home.restore_keys(&file, PASS).unwrap().imported.len(), 3);
    }

    /// Any passphrase but the right one is refused in words that say so.
    #[test]
    fn a_wrong_passphrase_is_refused() {
        let (dir, home) = home();
        let file = dir.path().join("keys.age");
        std::fs::write(&file, cheap_backup(&entries())).unwrap();
        let mut runner = TestRunner::new(Config {
            cases: 32,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&".{0,40}", |pass| {
                prop_assume!(pass != PASS);
                let err = home.restore_keys(&file, &pass).unwrap_err().to_string();
                prop_assert!(err.contains("passphrase does not open"), "{}", err);
                prop_assert!(!err.contains(&pass) || pass.chars().count() < 8, "{}", err);
                Ok(())
            })
            .unwrap();
        assert!(home.registry.keys().unwrap().is_empty());
    }

    #[test]
    fn another_age_file_is_refused() {
        let (dir, home) = home();
        let file = dir.path().join("other.age");
        // Encrypted to a public key, not a passphrase.
        let id = age::x25519::Identity::generate();
        let to_key = age::encrypt(&id.to_public(), backup_text(&entries()).as_bytes()).unwrap();
        std::fs::write(&file, to_key).unwrap();
        let err = home.restore_keys(&file, PASS).unwrap_err().to_string();
        assert!(err.contains("not an age passphrase file"), "{err}");
        // The right passphrase, but not a backup inside.
        let mut recipient = age::scrypt::Recipient::new(SecretString::from(PASS.to_string()));
        recipient.set_work_factor(10);
        std::fs::write(
            &file,
            age::encrypt(&recipient, b"just some notes\n").unwrap(),
        )
        .unwrap();
        let err = home.restore_keys(&file, PASS).unwrap_err().to_string();
        assert!(err.contains("not an ssec-manager key backup"), "{err}");
        // Not an age file at all.
        std::fs::write(&file, b"# ssec-manager key backup v1\n").unwrap();
        assert!(home.restore_keys(&file, PASS).is_err());
        assert!(home.registry.keys().unwrap().is_empty());
    }

    #[test]
    fn a_backup_label_with_an_invisible_character_is_restored_under_a_clean_label() {
        let (dir, home) = home();
        let file = dir.path().join("keys.age");
        let entries = vec![BackupEntry {
            label: "prod\u{200b}".into(),
            key: SseKey::from_raw(&[9u8; 32]),
        }];
        std::fs::write(&file, cheap_backup(&entries)).unwrap();
        let report = home.restore_keys(&file, PASS).unwrap();
        assert_eq!(report.imported.len(), 1);
        let label = &report.imported[0];
        assert_eq!(crate::core::label::label_problem(label), None, "{label:?}");
    }
}

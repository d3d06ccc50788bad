//! Where key material lives: the OS keyring, behind the `SecretStore` trait.
//!
//! The registry never holds a secret; it holds fingerprints, and this module maps a
//! fingerprint (or a connection's name, for S3 secret access keys) to a keyring entry. All
//! entries of one ssec-manager home share the service name `ssec-manager:<home id>`, so a
//! test, a second profile and the user's real keys never meet, and
//! `secret-tool search --all service ssec-manager:<home id>` shows exactly one home's items.
//!
//! Keyring failures are turned into `KeystoreError`s whose text names the cause (no D-Bus
//! session, no Secret Service provider, locked keyring) and what to do about it. The
//! keyring crate's own errors are never shown raw: some variants carry secret bytes.

use zeroize::Zeroizing;

use super::key::{KEY_LEN, KeyFingerprint, SseKey};

#[derive(Debug, Clone, thiserror::Error)]
pub enum KeystoreError {
    #[error(
        "the OS keyring is not reachable: no D-Bus session bus ({detail}). Start a desktop \
         session, or run inside `dbus-run-session` with gnome-keyring or KeePassXC providing \
         the Secret Service"
    )]
    NoSessionBus { detail: String },
    #[error(
        "the OS keyring is not reachable: nothing provides the Secret Service on the D-Bus \
         session bus. Install and start gnome-keyring (or KeePassXC with Secret Service \
         integration), then try again"
    )]
    NoProvider,
    #[error(
        "the OS keyring is locked and the unlock prompt was dismissed. Unlock your login \
         keyring (for example by logging in to the desktop, or `gnome-keyring-daemon --unlock`), \
         then try again"
    )]
    Locked,
    #[error("the OS keyring failed: {detail}")]
    Platform { detail: String },
    #[error(
        "the keyring entry for key {fingerprint} {found}: it was changed outside \
         ssec-manager. Restore the key from a backup (`ssec-manager restore FILE`) or import \
         its key file again (`ssec-manager key import LABEL FILE`): both repair the entry"
    )]
    Corrupt {
        fingerprint: KeyFingerprint,
        /// What the entry holds instead, in words ("holds 16 bytes instead of 32").
        found: String,
    },
}

/// One account in the store: an SSE-C key, or a connection's S3 secret access key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretId {
    SseKey(KeyFingerprint),
    S3Secret { connection: String },
}

impl SecretId {
    /// The keyring "username" attribute of this secret.
    pub fn account(&self) -> String {
        match self {
            SecretId::SseKey(fp) => format!("sse-c-key:{fp}"),
            SecretId::S3Secret { connection } => format!("s3-secret:{connection}"),
        }
    }
}

/// What an SSE-C key's keyring entry says of itself, besides its bytes: searchable
/// attributes, so the keys can be found again without the registry that named them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyTags {
    pub fingerprint: String,
    pub label: String,
    /// The home id whose namespace the entry is in.
    pub home: String,
    /// The registry file of that home, as it was when the entry was tagged.
    pub registry: String,
}

/// An SSE-C key entry found by searching the store (any home).
pub struct FoundKey {
    pub tags: KeyTags,
    /// The entry's bytes, as they are (checked against the fingerprint by the caller).
    pub secret: Zeroizing<Vec<u8>>,
}

/// Storage for secret bytes. The OS keyring in the app; `MemoryStore` in unit tests.
pub trait SecretStore: Send + Sync {
    fn put(&self, id: &SecretId, secret: &[u8]) -> Result<(), KeystoreError>;
    /// `Ok(None)` when the store works but holds no such entry.
    fn get(&self, id: &SecretId) -> Result<Option<Zeroizing<Vec<u8>>>, KeystoreError>;
    /// Deleting a missing entry is not an error.
    fn delete(&self, id: &SecretId) -> Result<(), KeystoreError>;
    /// Where the secrets live, in the user's words.
    fn describe(&self) -> String;
    /// Sets the searchable attributes of an SSE-C key's entry.
    fn tag(&self, id: &SecretId, tags: &KeyTags) -> Result<(), KeystoreError>;
    /// Every SSE-C key entry of this application the store holds, whatever its home.
    fn find_keys(&self) -> Result<Vec<FoundKey>, KeystoreError>;
}

/// The attribute every entry of this application carries, and its value.
pub const APPLICATION: (&str, &str) = ("application", "ssec-manager");

/// Reads an SSE-C key back and checks it is still the key of that fingerprint.
pub fn load_key(
    store: &dyn SecretStore,
    fingerprint: &KeyFingerprint,
) -> Result<Option<SseKey>, KeystoreError> {
    let Some(bytes) = store.get(&SecretId::SseKey(fingerprint.clone()))? else {
        return Ok(None);
    };
    let raw: &[u8; KEY_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeystoreError::Corrupt {
            fingerprint: fingerprint.clone(),
            found: format!("holds {} bytes instead of {KEY_LEN}", bytes.len()),
        })?;
    let key = SseKey::from_raw(raw);
    if &key.fingerprint() != fingerprint {
        return Err(KeystoreError::Corrupt {
            fingerprint: fingerprint.clone(),
            found: format!("holds another key (fingerprint {})", key.fingerprint()),
        });
    }
    Ok(Some(key))
}

/// The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
pub struct OsKeyring {
    service: String,
}

impl OsKeyring {
    /// Connects to the platform store (once per process, a keyring-crate rule) and reports a
    /// clear error when it cannot be reached, before anything else is written.
    pub fn open(home_id: &str) -> Result<Self, KeystoreError> {
        Self::check_reachable()?;
        Ok(Self {
            service: format!("ssec-manager:{home_id}"),
        })
    }

    /// Fails with a named cause when no platform keyring can be reached. Touches nothing.
    pub fn check_reachable() -> Result<(), KeystoreError> {
        match keyring::Entry::store_status() {
            Ok(()) => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, id: &SecretId) -> Result<keyring::Entry, KeystoreError> {
        keyring::Entry::new(&self.service, &id.account()).map_err(|e| map_error(&e))
    }
}

impl SecretStore for OsKeyring {
    fn put(&self, id: &SecretId, secret: &[u8]) -> Result<(), KeystoreError> {
        self.entry(id)?
            .set_secret(secret)
            .map_err(|e| map_error(&e))
    }

    fn get(&self, id: &SecretId) -> Result<Option<Zeroizing<Vec<u8>>>, KeystoreError> {
        match self.entry(id)?.get_secret() {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(&e)),
        }
    }

    fn delete(&self, id: &SecretId) -> Result<(), KeystoreError> {
        match self.entry(id)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(&e)),
        }
    }

    fn tag(&self, id: &SecretId, tags: &KeyTags) -> Result<(), KeystoreError> {
        let attrs = std::collections::HashMap::from([
            APPLICATION,
            ("ssec-fingerprint", tags.fingerprint.as_str()),
            ("ssec-label", tags.label.as_str()),
            ("ssec-home", tags.home.as_str()),
            ("ssec-registry", tags.registry.as_str()),
        ]);
        self.entry(id)?
            .inner
            .update_attributes(&attrs)
            .map_err(|e| map_error(&e))
    }

    fn find_keys(&self) -> Result<Vec<FoundKey>, KeystoreError> {
        Self::check_reachable()?;
        let spec = std::collections::HashMap::from([APPLICATION]);
        let entries = keyring_core::Entry::search(&spec).map_err(|e| map_error(&e))?;
        let mut found = Vec::new();
        for entry in entries {
            let Ok(attrs) = entry.get_attributes() else {
                continue;
            };
            let (Some(fp), Some(home)) = (attrs.get("ssec-fingerprint"), attrs.get("ssec-home"))
            else {
                continue;
            };
            let Ok(secret) = entry.get_secret() else {
                continue;
            };
            found.push(FoundKey {
                tags: KeyTags {
                    fingerprint: fp.clone(),
                    label: attrs.get("ssec-label").cloned().unwrap_or_default(),
                    home: home.clone(),
                    registry: attrs.get("ssec-registry").cloned().unwrap_or_default(),
                },
                secret: Zeroizing::new(secret),
            });
        }
        Ok(found)
    }

    fn describe(&self) -> String {
        let platform = if cfg!(target_os = "macos") {
            "macOS Keychain"
        } else if cfg!(windows) {
            "Windows Credential Manager"
        } else {
            "Secret Service"
        };
        format!("{platform}, service \"{}\"", self.service)
    }
}

/// Turns a keyring error into words. Never formats variants that carry secret bytes.
fn map_error(e: &keyring::Error) -> KeystoreError {
    use keyring::Error as E;
    match e {
        E::PlatformFailure(inner) | E::NoStorageAccess(inner) => {
            error_from_text(&inner.to_string())
        }
        E::NoDefaultStore => KeystoreError::NoSessionBus {
            detail: "no credential store could be opened".into(),
        },
        E::BadEncoding(_) | E::BadDataFormat(..) => KeystoreError::Platform {
            detail: "an entry holds data in an unexpected format".into(),
        },
        E::NoEntry => KeystoreError::Platform {
            detail: "no such entry".into(),
        },
        E::Ambiguous(_) => KeystoreError::Platform {
            detail: "several keyring entries match one key; remove the duplicates with \
                     your keyring manager (seahorse, secret-tool)"
                .into(),
        },
        other => KeystoreError::Platform {
            detail: other.to_string(),
        },
    }
}

/// Sorts the Secret Service failures users actually meet by the text zbus gives them.
fn error_from_text(text: &str) -> KeystoreError {
    if text.contains("ServiceUnknown") || text.contains("was not provided by any .service") {
        KeystoreError::NoProvider
    } else if text.contains("prompt dismissed")
        || text.contains("Prompt")
        || text.contains("locked")
    {
        KeystoreError::Locked
    } else if text.contains("Failed to connect")
        || text.contains("DBUS_SESSION_BUS_ADDRESS")
        || text.contains("No such file or directory")
        || text.contains("Connection refused")
        || text.contains("Address")
    {
        KeystoreError::NoSessionBus {
            detail: text.chars().take(200).collect(),
        }
    } else {
        KeystoreError::Platform {
            detail: text.chars().take(300).collect(),
        }
    }
}

/// An in-memory store for unit tests of pure logic. Never used by the app.
#[cfg(test)]
#[derive(Default)]
pub struct MemoryStore {
    entries: std::sync::Mutex<std::collections::HashMap<SecretId, Zeroizing<Vec<u8>>>>,
    tags: std::sync::Mutex<std::collections::HashMap<SecretId, KeyTags>>,
}

#[cfg(test)]
impl SecretStore for MemoryStore {
    fn put(&self, id: &SecretId, secret: &[u8]) -> Result<(), KeystoreError> {
        self.entries
            .lock()
            .map_err(|_| KeystoreError::Platform {
                detail: "poisoned".into(),
            })?
            .insert(id.clone(), Zeroizing::new(secret.to_vec()));
        Ok(())
    }

    fn get(&self, id: &SecretId) -> Result<Option<Zeroizing<Vec<u8>>>, KeystoreError> {
        Ok(self
            .entries
            .lock()
            .map_err(|_| KeystoreError::Platform {
                detail: "poisoned".into(),
            })?
            .get(id)
            .cloned())
    }

    fn delete(&self, id: &SecretId) -> Result<(), KeystoreError> {
        self.entries
            .lock()
            .map_err(|_| KeystoreError::Platform {
                detail: "poisoned".into(),
            })?
            .remove(id);
        Ok(())
    }

    fn describe(&self) -> String {
        "memory (unit tests)".into()
    }

    fn tag(&self, id: &SecretId, tags: &KeyTags) -> Result<(), KeystoreError> {
        if let Ok(mut t) = self.tags.lock() {
            t.insert(id.clone(), tags.clone());
        }
        Ok(())
    }

    fn find_keys(&self) -> Result<Vec<FoundKey>, KeystoreError> {
        let (entries, tags) = match (self.entries.lock(), self.tags.lock()) {
            (Ok(e), Ok(t)) => (e, t),
            _ => {
                return Err(KeystoreError::Platform {
                    detail: "poisoned".into(),
                });
            }
        };
        Ok(tags
            .iter()
            .filter_map(|(id, t)| {
                Some(FoundKey {
                    tags: t.clone(),
                    secret: entries.get(id)?.clone(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zbus_failures_are_named() {
        assert!(matches!(
            error_from_text(
                "zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files"
            ),
            KeystoreError::NoProvider
        ));
        assert!(matches!(
            error_from_text("SS error: prompt dismissed"),
            KeystoreError::Locked
        ));
        assert!(matches!(
            error_from_text("zbus error: Failed to connect to address unix:path=/x"),
            KeystoreError::NoSessionBus { .. }
        ));
    }

    #[test]
    fn load_key_detects_a_tampered_entry() {
        let store = MemoryStore::default();
        let key = SseKey::from_raw(&[3u8; 32]);
        let fp = key.fingerprint();
        assert!(load_key(&store, &fp).unwrap().is_none());
        store
            .put(&SecretId::SseKey(fp.clone()), &[4u8; 32])
            .unwrap();
        assert!(matches!(
            load_key(&store, &fp),
            Err(KeystoreError::Corrupt { .. })
        ));
        store.put(&SecretId::SseKey(fp.clone()), key.raw()).unwrap();
        assert_eq!(load_key(&store, &fp).unwrap(), Some(key));
    }
}

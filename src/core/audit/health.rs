//! One object's health as every screen shows it, by the audit's own rules: whether its key
//! is here, backed up, and what the server last said. Pure.

use crate::core::keys::KeyListing;
use crate::core::registry::{ObjectRecord, ObjectState, VerifyStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Its key is here, backed up, and the server had nothing against it.
    Ok,
    /// Moved off SSE-C: no key needed.
    OffSseC,
    /// Its key is here but was never backed up: losing this computer loses the object.
    NoBackup,
    /// Its key is registered but the keyring does not hold it.
    KeyMissing,
    /// Its key was deleted (or was never registered here).
    KeyGone,
    /// The last verify found it gone from the server.
    GoneOnServer,
    /// The last verify found it no longer opened by its key.
    WrongKey,
    /// The last verify found other content than was uploaded.
    Changed,
}

impl Health {
    /// The audit's "at risk" (a CRITICAL or HIGH finding names it).
    pub fn at_risk(self) -> bool {
        !matches!(self, Health::Ok | Health::OffSseC)
    }

    /// It cannot be opened with what this computer holds, or the server no longer has it.
    pub fn unrecoverable(self) -> bool {
        matches!(
            self,
            Health::KeyMissing
                | Health::KeyGone
                | Health::GoneOnServer
                | Health::WrongKey
                | Health::Changed
        )
    }

    /// Words for the Key column.
    pub fn describe(self, label: Option<&str>) -> String {
        let l = label.unwrap_or("?");
        match self {
            Health::Ok => format!("🔑 {l}"),
            Health::OffSseC => "off SSE-C".into(),
            Health::NoBackup => format!("🔑 {l} (never backed up)"),
            Health::KeyMissing => format!("key \"{l}\" missing from the keyring"),
            Health::KeyGone => match label {
                Some(l) => format!("key \"{l}\" deleted: cannot be opened"),
                None => "under a key not registered here".into(),
            },
            Health::GoneOnServer => "gone from the server (last verify)".into(),
            Health::WrongKey => "no longer opens with its key (last verify)".into(),
            Health::Changed => "changed on the server (last verify)".into(),
        }
    }
}

/// The health of a registry row, with the live keys as `key list` gives them.
pub fn object_health(o: &ObjectRecord, keys: &[KeyListing]) -> Health {
    if o.state == ObjectState::Migrated {
        return Health::OffSseC;
    }
    answer_health(o.verify_status).unwrap_or_else(|| {
        key_health(
            keys.iter()
                .find(|k| k.summary.key.fingerprint == o.key_fingerprint)
                .map(|k| (k.in_keyring, &*k.summary.key.backup_status)),
        )
    })
}

/// The health the server's last answer gives an object, if it found a problem.
pub fn answer_health(status: Option<VerifyStatus>) -> Option<Health> {
    match status {
        Some(VerifyStatus::Missing) => Some(Health::GoneOnServer),
        Some(VerifyStatus::WrongKey) => Some(Health::WrongKey),
        Some(VerifyStatus::Changed) => Some(Health::Changed),
        _ => None,
    }
}

/// The health of the objects of a key: `key` is None when the key is not a live one here,
/// else whether the keyring holds it and its backup status.
pub fn key_health(key: Option<(Option<bool>, &str)>) -> Health {
    match key {
        None => Health::KeyGone,
        Some((Some(false), _)) => Health::KeyMissing,
        Some((_, "never")) => Health::NoBackup,
        Some(_) => Health::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::registry::{KeyRecord, KeySummary};

    fn listing(fp: &str, backup: &str, in_keyring: Option<bool>) -> KeyListing {
        KeyListing {
            summary: KeySummary {
                key: KeyRecord {
                    label: "k".into(),
                    fingerprint: crate::core::key::KeyFingerprint::from_stored(fp),
                    created_at: String::new(),
                    source: String::new(),
                    source_detail: String::new(),
                    backup_status: backup.into(),
                    last_backup_at: None,
                    notes: String::new(),
                    deleted_at: None,
                },
                objects: 1,
                bytes: 1,
                migrated: 0,
            },
            in_keyring,
        }
    }

    #[test]
    fn an_object_is_at_risk_exactly_when_the_audit_would_name_it() {
        let o = ObjectRecord::sample(1, "F", Some("k"), ObjectState::Stored);
        assert_eq!(object_health(&o, &[]), Health::KeyGone);
        let backed = [listing("F", "age_backup", Some(true))];
        assert_eq!(object_health(&o, &backed), Health::Ok);
        let never = [listing("F", "never", Some(true))];
        assert_eq!(object_health(&o, &never), Health::NoBackup);
        let missing = [listing("F", "age_backup", Some(false))];
        assert_eq!(object_health(&o, &missing), Health::KeyMissing);
        let mut gone = o.clone();
        gone.verify_status = Some(VerifyStatus::Missing);
        assert_eq!(object_health(&gone, &backed), Health::GoneOnServer);
        assert!(Health::NoBackup.at_risk() && !Health::NoBackup.unrecoverable());
        assert!(Health::KeyGone.unrecoverable() && !Health::Ok.at_risk());
        let mut off = o;
        off.state = ObjectState::Migrated;
        assert!(!object_health(&off, &[]).at_risk());
    }
}

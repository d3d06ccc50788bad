//! One function per kind of finding. Each reads the same inputs (the registry's keys and
//! objects, what the keyring holds) and returns its findings; `audit` puts them together.
//! Pure: no I/O, so the CLI, the window and unit tests share them.

use std::collections::{BTreeMap, HashMap};

use super::{Finding, FixAction, Severity};
use crate::core::registry::{KeySummary, ObjectRecord, ObjectState, VerifyStatus};

/// What every finding is computed from.
pub struct Inputs<'a> {
    pub keys: &'a [KeySummary],
    /// fingerprint -> whether the keyring holds it (None: it could not be asked).
    pub in_keyring: &'a HashMap<String, Option<bool>>,
    pub objects: &'a [ObjectRecord],
    /// Unfinished multipart uploads.
    pub interrupted: usize,
    /// Stored objects last confirmed before this RFC 3339 time are stale.
    pub stale_before: Option<&'a str>,
    /// Stored objects by key fingerprint.
    pub stored_by_key: BTreeMap<String, Vec<&'a ObjectRecord>>,
    /// Rows whose outcome must be asked of the server (None: every in-doubt or pending row).
    pub unsettled: Option<std::collections::HashSet<i64>>,
}

impl<'a> Inputs<'a> {
    pub fn new(
        keys: &'a [KeySummary],
        in_keyring: &'a HashMap<String, Option<bool>>,
        objects: &'a [ObjectRecord],
        interrupted: usize,
        stale_before: Option<&'a str>,
    ) -> Self {
        let mut stored_by_key: BTreeMap<String, Vec<&ObjectRecord>> = BTreeMap::new();
        for o in objects.iter().filter(|o| o.state == ObjectState::Stored) {
            stored_by_key
                .entry(o.key_fingerprint.to_string())
                .or_default()
                .push(o);
        }
        Self {
            keys,
            in_keyring,
            objects,
            interrupted,
            stale_before,
            stored_by_key,
            unsettled: None,
        }
    }

    fn stored(&self) -> impl Iterator<Item = &'a ObjectRecord> {
        self.objects
            .iter()
            .filter(|o| o.state == ObjectState::Stored)
    }
}

/// "connection:s3://bucket/key", how findings name objects.
pub fn name(o: &ObjectRecord) -> String {
    format!("{}:{}", o.connection, o.url())
}

/// CRITICAL: stored objects whose key this home cannot produce (missing from the keyring,
/// deleted, or never registered).
pub fn keys_unavailable(inputs: &Inputs) -> Vec<Finding> {
    let live: HashMap<&str, &KeySummary> = inputs
        .keys
        .iter()
        .map(|k| (k.key.fingerprint.as_str(), k))
        .collect();
    let mut findings = Vec::new();
    for (fp, objs) in &inputs.stored_by_key {
        let label = objs.first().and_then(|o| o.key_label.clone());
        let (title, fix) = match live.get(fp.as_str()) {
            Some(k) if inputs.in_keyring.get(fp).copied().flatten() == Some(false) => (
                format!(
                    "key \"{}\" is missing from the keyring: {} object(s) cannot be opened",
                    k.key.label,
                    objs.len()
                ),
                format!(
                    "restore it from a backup (`ssec-manager restore FILE`) or import the key file again (`ssec-manager key import {} FILE`)",
                    k.key.label
                ),
            ),
            Some(_) => continue,
            None => (
                match &label {
                    Some(l) => format!(
                        "key \"{l}\" was deleted: {} object(s) cannot be opened",
                        objs.len()
                    ),
                    None => format!(
                        "{} object(s) are encrypted with a key that is not registered",
                        objs.len()
                    ),
                },
                "import the key from an export or a backup".to_string(),
            ),
        };
        findings.push(Finding {
            severity: Severity::Critical,
            title,
            key_label: label,
            key_fingerprint: Some(fp.clone()),
            objects: objs.iter().map(|o| name(o)).collect(),
            fix: Some(fix),
            unrecoverable: true,
            action: Some(FixAction::RestoreBackup),
        });
    }
    findings
}

/// HIGH: keys in use that were never backed up.
pub fn never_backed_up(inputs: &Inputs) -> Vec<Finding> {
    inputs
        .keys
        .iter()
        .filter(|k| k.objects > 0 && k.key.backup_status == "never")
        .map(|k| {
            let fp = k.key.fingerprint.as_str();
            Finding {
                severity: Severity::High,
                title: format!(
                    "key \"{}\" encrypts {} object(s) and was never backed up",
                    k.key.label, k.objects
                ),
                key_label: Some(k.key.label.clone()),
                key_fingerprint: Some(fp.to_string()),
                objects: inputs
                    .stored_by_key
                    .get(fp)
                    .map(|v| v.iter().map(|o| name(o)).collect())
                    .unwrap_or_default(),
                fix: Some(format!(
                    "ssec-manager backup --out FILE --keys {}",
                    k.key.label
                )),
                unrecoverable: false,
                action: Some(FixAction::BackUp),
            }
        })
        .collect()
}

/// LOW: keys that encrypt nothing.
pub fn unused_keys(inputs: &Inputs) -> Vec<Finding> {
    inputs
        .keys
        .iter()
        .filter(|k| k.objects == 0)
        .map(|k| Finding {
            severity: Severity::Low,
            title: if k.retired() {
                format!(
                    "key \"{}\" is retired: its {} object(s) were moved off SSE-C; nothing \
                     depends on it",
                    k.key.label, k.migrated
                )
            } else {
                format!("key \"{}\" encrypts nothing", k.key.label)
            },
            key_label: Some(k.key.label.clone()),
            key_fingerprint: Some(k.key.fingerprint.to_string()),
            objects: vec![],
            fix: None,
            unrecoverable: false,
            action: None,
        })
        .collect()
}

/// HIGH: what the last verify heard from the server, per key and answer (gone, no longer
/// opened by its key, changed).
pub fn server_answers(inputs: &Inputs) -> Vec<Finding> {
    let mut answers: BTreeMap<(String, &'static str), Vec<&ObjectRecord>> = BTreeMap::new();
    for o in inputs.stored() {
        if let Some(st) = o.verify_status.filter(|s| s.is_problem()) {
            answers
                .entry((o.key_fingerprint.to_string(), st.as_str()))
                .or_default()
                .push(o);
        }
    }
    let mut findings = Vec::new();
    for ((fp, _), objs) in &answers {
        let Some(status) = objs.first().and_then(|o| o.verify_status) else {
            continue;
        };
        let label = objs.first().and_then(|o| o.key_label.clone());
        let who = label
            .as_deref()
            .map(|l| format!("key \"{l}\""))
            .unwrap_or_else(|| format!("key {fp}"));
        let n = objs.len();
        let action = (status == VerifyStatus::WrongKey).then_some(FixAction::Scan);
        let (title, fix) = match status {
            VerifyStatus::Missing => (
                format!("{n} object(s) of {who} are no longer on the server"),
                "upload them again from a local copy; if they were deleted on purpose, nothing is lost",
            ),
            VerifyStatus::WrongKey => (
                format!("{n} object(s) no longer open with their recorded {who}"),
                "find the key that opens them: ssec-manager scan s3://BUCKET/PREFIX (then import or restore that key)",
            ),
            _ => (
                format!("{n} object(s) of {who} changed on the server since they were recorded"),
                "download them and check the content; upload the original again if it is wrong",
            ),
        };
        findings.push(Finding {
            severity: Severity::High,
            title,
            key_label: label,
            key_fingerprint: Some(fp.clone()),
            objects: objs.iter().map(|o| name(o)).collect(),
            fix: Some(fix.to_string()),
            unrecoverable: true,
            action,
        });
    }
    findings
}

/// MEDIUM: stored objects the server has not confirmed for too long.
pub fn stale_confirmations(inputs: &Inputs) -> Vec<Finding> {
    let Some(cutoff) = inputs.stale_before else {
        return vec![];
    };
    let stale: Vec<&ObjectRecord> = inputs
        .stored()
        .filter(|o| !o.verify_status.is_some_and(VerifyStatus::is_problem))
        .filter(|o| o.last_verified_at.as_deref().unwrap_or(&o.created_at) < cutoff)
        .collect();
    if stale.is_empty() {
        return vec![];
    }
    vec![Finding {
        severity: Severity::Medium,
        title: format!(
            "{} object(s) not confirmed by the server since {}",
            stale.len(),
            cutoff.get(..10).unwrap_or(cutoff)
        ),
        key_label: None,
        key_fingerprint: None,
        objects: stale.iter().map(|o| name(o)).collect(),
        fix: Some("ssec-manager verify (or Verify in the Audit view)".into()),
        unrecoverable: false,
        action: Some(FixAction::Verify),
    }]
}

/// MEDIUM: versions a versioned bucket kept after a rotation, still under the old key.
pub fn old_versions(inputs: &Inputs) -> Vec<Finding> {
    let mut by_key: BTreeMap<String, Vec<&ObjectRecord>> = BTreeMap::new();
    for o in inputs
        .objects
        .iter()
        .filter(|o| o.state == ObjectState::OldVersion)
    {
        by_key
            .entry(o.key_fingerprint.to_string())
            .or_default()
            .push(o);
    }
    by_key
        .into_iter()
        .map(|(fp, objs)| {
            let label = objs.first().and_then(|o| o.key_label.clone());
            let who = label.clone().unwrap_or_else(|| fp.clone());
            Finding {
                severity: Severity::Medium,
                title: format!(
                    "{} old version(s) kept by versioned buckets are still encrypted with key \"{who}\" (rotated away from)",
                    objs.len()
                ),
                key_label: label,
                key_fingerprint: Some(fp),
                objects: objs
                    .iter()
                    .map(|o| {
                        format!(
                            "{} (version {})",
                            name(o),
                            o.version_id.as_deref().unwrap_or("?")
                        )
                    })
                    .collect(),
                fix: Some(format!(
                    "they open only with \"{who}\": keep that key, or delete them on purpose: ssec-manager rotate --delete-old-versions --from {who} --yes"
                )),
                unrecoverable: false,
                action: Some(FixAction::DeleteOldVersions),
            }
        })
        .collect()
}

/// MEDIUM: uploads whose outcome is not known (their answer was lost, or their process is
/// gone): the server may hold them, so their keys stay protected until reconciled.
pub fn unsettled_uploads(inputs: &Inputs) -> Vec<Finding> {
    let unsettled: Vec<&ObjectRecord> = inputs
        .objects
        .iter()
        .filter(|o| match &inputs.unsettled {
            Some(ids) => ids.contains(&o.id),
            None => matches!(o.state, ObjectState::Pending | ObjectState::InDoubt),
        })
        .collect();
    if unsettled.is_empty() {
        return vec![];
    }
    vec![Finding {
        severity: Severity::Medium,
        title: format!(
            "{} upload(s) in doubt: the server may hold them, so their keys stay protected",
            unsettled.len()
        ),
        key_label: None,
        key_fingerprint: None,
        objects: unsettled.iter().map(|o| name(o)).collect(),
        fix: Some("ssec-manager reconcile (asks the server and records its answer)".into()),
        unrecoverable: false,
        action: Some(FixAction::Reconcile),
    }]
}

/// MEDIUM: multipart uploads left unfinished by a process that is gone.
pub fn interrupted_uploads(inputs: &Inputs) -> Vec<Finding> {
    if inputs.interrupted == 0 {
        return vec![];
    }
    vec![Finding {
        severity: Severity::Medium,
        title: format!(
            "{} interrupted multipart upload(s) can be resumed or aborted",
            inputs.interrupted
        ),
        key_label: None,
        key_fingerprint: None,
        objects: vec![],
        fix: Some("ssec-manager uploads (then ssec-manager resume, or uploads --abort ID)".into()),
        unrecoverable: false,
        action: Some(FixAction::ResumeUploads),
    }]
}

//! The key inventory audit: from the registry and what the keyring holds, which objects can
//! still be opened, which keys put objects at risk, and what to do about each finding.
//!
//! Pure functions over records (no I/O), so the CLI, the window and unit tests share them.
//! Server-side checks (verify, scan) feed the same report in later steps.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::registry::{KeySummary, ObjectRecord, ObjectState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub title: String,
    pub key_label: Option<String>,
    pub key_fingerprint: Option<String>,
    /// The objects concerned, as connection:s3://bucket/key.
    pub objects: Vec<String>,
    /// What to do, in a command or a click.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyHealth {
    pub label: String,
    pub fingerprint: String,
    pub objects: u64,
    pub bytes: u64,
    pub in_keyring: Option<bool>,
    pub backup_status: String,
    pub last_backup_at: Option<String>,
    /// The worst finding about this key, if any.
    pub health: Option<Severity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub keys: usize,
    pub objects: usize,
    pub bytes: u64,
    /// Objects that cannot be opened with what this computer holds.
    pub objects_at_risk: usize,
    pub per_key: Vec<KeyHealth>,
    pub findings: Vec<Finding>,
}

fn live(o: &ObjectRecord) -> bool {
    matches!(o.state, ObjectState::Stored | ObjectState::Pending)
}

fn name(o: &ObjectRecord) -> String {
    format!("{}:{}", o.connection, o.url())
}

/// Builds the report. `in_keyring` maps a fingerprint to whether the keyring holds it
/// (None: the keyring could not be asked); `interrupted` counts unfinished multipart uploads.
pub fn audit(
    keys: &[KeySummary],
    in_keyring: &HashMap<String, Option<bool>>,
    objects: &[ObjectRecord],
    interrupted: usize,
) -> AuditReport {
    let mut findings = Vec::new();
    let mut by_key: BTreeMap<String, Vec<&ObjectRecord>> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.state == ObjectState::Stored) {
        by_key
            .entry(o.key_fingerprint.to_string())
            .or_default()
            .push(o);
    }
    let live_fps: HashMap<&str, &KeySummary> = keys
        .iter()
        .map(|k| (k.key.fingerprint.as_str(), k))
        .collect();

    // Objects whose key this home cannot produce.
    for (fp, objs) in &by_key {
        let label = objs.first().and_then(|o| o.key_label.clone());
        let (title, fix) = match live_fps.get(fp.as_str()) {
            Some(k) if in_keyring.get(fp).copied().flatten() == Some(false) => (
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
        });
    }
    for k in keys {
        let fp = k.key.fingerprint.as_str();
        if k.objects > 0 && k.key.backup_status == "never" {
            findings.push(Finding {
                severity: Severity::High,
                title: format!(
                    "key \"{}\" encrypts {} object(s) and was never backed up",
                    k.key.label, k.objects
                ),
                key_label: Some(k.key.label.clone()),
                key_fingerprint: Some(fp.to_string()),
                objects: by_key
                    .get(fp)
                    .map(|v| v.iter().map(|o| name(o)).collect())
                    .unwrap_or_default(),
                fix: Some(format!(
                    "ssec-manager backup --out FILE --keys {}",
                    k.key.label
                )),
            });
        }
        if k.objects == 0 {
            findings.push(Finding {
                severity: Severity::Low,
                title: format!("key \"{}\" encrypts nothing", k.key.label),
                key_label: Some(k.key.label.clone()),
                key_fingerprint: Some(fp.to_string()),
                objects: vec![],
                fix: None,
            });
        }
    }
    let unfinished: Vec<&ObjectRecord> = objects
        .iter()
        .filter(|o| matches!(o.state, ObjectState::Pending | ObjectState::Failed))
        .collect();
    if !unfinished.is_empty() || interrupted > 0 {
        findings.push(Finding {
            severity: Severity::Medium,
            title: format!(
                "{} upload(s) pending or failed, {interrupted} interrupted multipart upload(s)",
                unfinished.len()
            ),
            key_label: None,
            key_fingerprint: None,
            objects: unfinished.iter().map(|o| name(o)).collect(),
            fix: Some("ssec-manager uploads (then resume or --abort)".into()),
        });
    }
    findings.sort_by_key(|f| f.severity);

    let stored: Vec<&ObjectRecord> = objects.iter().filter(|o| live(o)).collect();
    let at_risk = findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .map(|f| f.objects.len())
        .sum();
    let per_key = keys
        .iter()
        .map(|k| {
            let fp = k.key.fingerprint.to_string();
            let health = findings
                .iter()
                .filter(|f| f.key_fingerprint.as_deref() == Some(fp.as_str()))
                .map(|f| f.severity)
                .min();
            KeyHealth {
                label: k.key.label.clone(),
                in_keyring: in_keyring.get(&fp).copied().flatten(),
                fingerprint: fp,
                objects: k.objects,
                bytes: k.bytes,
                backup_status: k.key.backup_status.clone(),
                last_backup_at: k.key.last_backup_at.clone(),
                health,
            }
        })
        .collect();
    AuditReport {
        keys: keys.len(),
        objects: stored.len(),
        bytes: stored.iter().filter_map(|o| o.size).sum(),
        objects_at_risk: at_risk,
        per_key,
        findings,
    }
}

impl AuditReport {
    /// One line per finding and object, for spreadsheets.
    pub fn to_csv(&self) -> String {
        let esc = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::from("severity,title,key_label,key_fingerprint,object,fix\n");
        for f in &self.findings {
            let objects = if f.objects.is_empty() {
                vec![String::new()]
            } else {
                f.objects.clone()
            };
            for o in objects {
                out.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    f.severity.label(),
                    esc(&f.title),
                    esc(f.key_label.as_deref().unwrap_or("")),
                    esc(f.key_fingerprint.as_deref().unwrap_or("")),
                    esc(&o),
                    esc(f.fix.as_deref().unwrap_or(""))
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::key::KeyFingerprint;
    use crate::core::registry::KeyRecord;

    fn key(label: &str, fp: &str, objects: u64, backup: &str) -> KeySummary {
        KeySummary {
            key: KeyRecord {
                label: label.into(),
                fingerprint: KeyFingerprint::from_stored(fp),
                created_at: String::new(),
                source: "generated".into(),
                source_detail: String::new(),
                backup_status: backup.into(),
                last_backup_at: None,
                notes: String::new(),
                deleted_at: None,
            },
            objects,
            bytes: objects * 10,
        }
    }

    fn object(id: i64, fp: &str, label: Option<&str>, state: ObjectState) -> ObjectRecord {
        ObjectRecord {
            id,
            connection: "c".into(),
            bucket: "b".into(),
            key: format!("o{id}"),
            version_id: None,
            size: Some(10),
            sha256: None,
            etag: None,
            key_fingerprint: KeyFingerprint::from_stored(fp),
            key_label: label.map(str::to_string),
            state,
            error: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_missing_key_is_critical_for_exactly_its_objects() {
        let keys = [key("a", "FA", 2, "age_backup"), key("b", "FB", 1, "never")];
        let objects = [
            object(1, "FA", Some("a"), ObjectState::Stored),
            object(2, "FA", Some("a"), ObjectState::Stored),
            object(3, "FB", Some("b"), ObjectState::Stored),
            object(4, "FGONE", Some("old"), ObjectState::Stored),
            object(5, "FB", Some("b"), ObjectState::Failed),
        ];
        let presence = HashMap::from([
            ("FA".to_string(), Some(false)),
            ("FB".to_string(), Some(true)),
        ]);
        let r = audit(&keys, &presence, &objects, 1);
        let critical: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Critical)
            .collect();
        assert_eq!(critical.len(), 2);
        let a = critical
            .iter()
            .find(|f| f.key_label.as_deref() == Some("a"))
            .unwrap();
        assert_eq!(a.objects, vec!["c:s3://b/o1", "c:s3://b/o2"]);
        assert!(
            critical
                .iter()
                .any(|f| f.title.contains("\"old\" was deleted"))
        );
        assert_eq!(r.objects_at_risk, 3);
        assert!(
            r.findings
                .iter()
                .any(|f| f.severity == Severity::High && f.key_label.as_deref() == Some("b"))
        );
        assert!(r.findings.iter().any(|f| f.severity == Severity::Medium));
        assert_eq!(r.per_key[0].health, Some(Severity::Critical));
        assert!(r.to_csv().lines().count() > 4);

        let healthy = HashMap::from([
            ("FA".to_string(), Some(true)),
            ("FB".to_string(), Some(true)),
        ]);
        let r = audit(&keys, &healthy, &objects[..3], 0);
        assert!(r.findings.iter().all(|f| f.severity > Severity::Critical));
    }
}

//! The key inventory audit: from the registry and what the keyring holds, which objects can
//! still be opened, which keys put objects at risk, and what to do about each finding.
//!
//! Pure functions over records (no I/O), so the CLI, the window and unit tests share them.
//! Server-side checks (verify, scan) feed the same report in later steps.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::registry::{KeySummary, ObjectRecord, ObjectState, VerifyStatus};

/// Objects not confirmed by the server for longer than this are a MEDIUM finding.
pub const VERIFY_MAX_AGE_DAYS: i64 = 30;

/// The cutoff for `VERIFY_MAX_AGE_DAYS`, in the registry's timestamp format.
pub fn stale_before(now: chrono::DateTime<chrono::Utc>, days: i64) -> String {
    (now - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

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
    /// The objects listed cannot be opened with what this computer holds, or the server
    /// no longer gives them back as recorded.
    pub unrecoverable: bool,
    /// The one-click fix the window offers, if any.
    pub action: Option<FixAction>,
}

/// What the window's fix button for a finding does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FixAction {
    /// Bring keys back from an age backup.
    RestoreBackup,
    /// Write an age backup of the keys.
    BackUp,
    /// Verify the objects with the server.
    Verify,
    /// Scan the bucket for the key that opens the objects.
    Scan,
    /// Resume or abort unfinished uploads (Transfers).
    ResumeUploads,
    /// Delete the old versions a versioned bucket kept under a rotated-away key (asks first).
    DeleteOldVersions,
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
    /// The oldest confirmation by the server among its objects; None: one was never
    /// confirmed (or it encrypts nothing).
    pub last_verified_at: Option<String>,
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
    /// Registered objects per state (stored, pending, failed...), for the chart.
    pub objects_by_state: BTreeMap<String, usize>,
    pub findings: Vec<Finding>,
}

fn live(o: &ObjectRecord) -> bool {
    matches!(o.state, ObjectState::Stored | ObjectState::Pending)
}

fn name(o: &ObjectRecord) -> String {
    format!("{}:{}", o.connection, o.url())
}

/// Builds the report. `in_keyring` maps a fingerprint to whether the keyring holds it
/// (None: the keyring could not be asked); `interrupted` counts unfinished multipart uploads;
/// stored objects the server last confirmed before `stale_before` (an RFC 3339 time) are
/// reported as not verified for too long.
pub fn audit(
    keys: &[KeySummary],
    in_keyring: &HashMap<String, Option<bool>>,
    objects: &[ObjectRecord],
    interrupted: usize,
    stale_before: Option<&str>,
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
            unrecoverable: true,
            action: Some(FixAction::RestoreBackup),
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
                unrecoverable: false,
                action: Some(FixAction::BackUp),
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
                unrecoverable: false,
                action: None,
            });
        }
    }
    // What the last verify heard from the server, per key and answer.
    let mut answers: BTreeMap<(String, &'static str), Vec<&ObjectRecord>> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.state == ObjectState::Stored) {
        if let Some(st) = o.verify_status.filter(|s| s.is_problem()) {
            answers
                .entry((o.key_fingerprint.to_string(), st.as_str()))
                .or_default()
                .push(o);
        }
    }
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
    if let Some(cutoff) = stale_before {
        let stale: Vec<&ObjectRecord> = objects
            .iter()
            .filter(|o| o.state == ObjectState::Stored)
            .filter(|o| !o.verify_status.is_some_and(VerifyStatus::is_problem))
            .filter(|o| o.last_verified_at.as_deref().unwrap_or(&o.created_at) < cutoff)
            .collect();
        if !stale.is_empty() {
            findings.push(Finding {
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
            });
        }
    }
    // Versions a versioned bucket kept after a rotation: still under the old key.
    let mut old_versions: BTreeMap<String, Vec<&ObjectRecord>> = BTreeMap::new();
    for o in objects
        .iter()
        .filter(|o| o.state == ObjectState::OldVersion)
    {
        old_versions
            .entry(o.key_fingerprint.to_string())
            .or_default()
            .push(o);
    }
    for (fp, objs) in &old_versions {
        let label = objs.first().and_then(|o| o.key_label.clone());
        let who = label.clone().unwrap_or_else(|| fp.clone());
        findings.push(Finding {
            severity: Severity::Medium,
            title: format!(
                "{} old version(s) kept by versioned buckets are still encrypted with key \"{who}\" (rotated away from)",
                objs.len()
            ),
            key_label: label,
            key_fingerprint: Some(fp.clone()),
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
        });
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
            unrecoverable: false,
            action: Some(FixAction::ResumeUploads),
        });
    }
    findings.sort_by_key(|f| f.severity);

    let stored: Vec<&ObjectRecord> = objects.iter().filter(|o| live(o)).collect();
    // Objects that cannot be opened: their key is gone, or the server says they are gone or
    // no longer open with it.
    let at_risk = findings
        .iter()
        .filter(|f| f.unrecoverable)
        .flat_map(|f| f.objects.iter())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let mut objects_by_state = BTreeMap::new();
    for o in objects {
        *objects_by_state
            .entry(o.state.as_str().to_string())
            .or_insert(0) += 1;
    }
    let per_key = keys
        .iter()
        .map(|k| {
            let fp = k.key.fingerprint.to_string();
            let health = findings
                .iter()
                .filter(|f| f.key_fingerprint.as_deref() == Some(fp.as_str()))
                .map(|f| f.severity)
                .min();
            // Option's order puts None (never confirmed) first: the oldest confirmation.
            let last_verified_at = by_key.get(&fp).and_then(|objs| {
                objs.iter()
                    .map(|o| o.last_verified_at.clone())
                    .min()
                    .flatten()
            });
            KeyHealth {
                label: k.key.label.clone(),
                last_verified_at,
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
        objects_by_state,
        findings,
    }
}

impl AuditReport {
    /// A readable report (Markdown; renders as a page on any forge or in any viewer).
    /// `generated` is when and where it was made, one line.
    pub fn to_markdown(&self, generated: &str) -> String {
        // A cell never breaks the table: pipes escaped, lines joined.
        let cell = |s: &str| s.replace('|', "\\|").replace(['\r', '\n'], " ");
        let mut out = String::from("# SSE-C key inventory audit\n\n");
        out.push_str(&format!("{}\n\n", cell(generated)));
        out.push_str(&format!(
            "| Keys | Objects | Bytes | Objects at risk |\n|---:|---:|---:|---:|\n| {} | {} | {} | {} |\n\n",
            self.keys,
            self.objects,
            super::human_bytes(self.bytes),
            self.objects_at_risk
        ));
        out.push_str("## Keys\n\n| Key | Fingerprint | Objects | Bytes | In keyring | Last backup | Oldest verification | Health |\n|---|---|---:|---:|---|---|---|---|\n");
        for k in &self.per_key {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} | {} | {} | {} |\n",
                cell(&k.label),
                k.fingerprint,
                k.objects,
                super::human_bytes(k.bytes),
                match k.in_keyring {
                    Some(true) => "yes",
                    Some(false) => "**NO**",
                    None => "unknown",
                },
                k.last_backup_at.as_deref().unwrap_or("never"),
                match (&k.last_verified_at, k.objects) {
                    (_, 0) => "-",
                    (Some(t), _) => t.as_str(),
                    (None, _) => "never",
                },
                k.health.map(Severity::label).unwrap_or("ok"),
            ));
        }
        out.push_str("\n## Findings\n\n");
        if self.findings.is_empty() {
            out.push_str("None: every object opens with a key this computer holds.\n");
        }
        for f in &self.findings {
            out.push_str(&format!(
                "### {}: {}\n\n",
                f.severity.label(),
                cell(&f.title)
            ));
            if let Some(fix) = &f.fix {
                out.push_str(&format!("Fix: {}\n\n", cell(fix)));
            }
            const SHOWN: usize = 50;
            for o in f.objects.iter().take(SHOWN) {
                out.push_str(&format!("- `{}`\n", o.replace('`', "'")));
            }
            if f.objects.len() > SHOWN {
                out.push_str(&format!(
                    "- ... and {} more (the JSON and CSV exports list them all)\n",
                    f.objects.len() - SHOWN
                ));
            }
            if !f.objects.is_empty() {
                out.push('\n');
            }
        }
        out
    }

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
        ObjectRecord::sample(id, fp, label, state)
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
        let r = audit(&keys, &presence, &objects, 1, None);
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
        let r = audit(&keys, &healthy, &objects[..3], 0, None);
        assert!(r.findings.iter().all(|f| f.severity > Severity::Critical));
    }

    #[test]
    fn server_answers_and_old_confirmations_become_findings() {
        let keys = [key("a", "FA", 4, "age_backup")];
        let presence = HashMap::from([("FA".to_string(), Some(true))]);
        let mut objects: Vec<ObjectRecord> = (1..=4)
            .map(|i| object(i, "FA", Some("a"), ObjectState::Stored))
            .collect();
        objects[0].verify_status = Some(VerifyStatus::Missing);
        objects[1].verify_status = Some(VerifyStatus::WrongKey);
        objects[2].last_verified_at = Some("2026-01-01T00:00:00Z".into());
        objects[3].last_verified_at = Some("2026-11-01T00:00:00Z".into());
        let r = audit(&keys, &presence, &objects, 0, Some("2026-10-01T00:00:00Z"));
        let high: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::High)
            .collect();
        assert_eq!(high.len(), 2);
        assert!(
            high.iter().any(
                |f| f.objects == ["c:s3://b/o1"] && f.title.contains("no longer on the server")
            )
        );
        assert!(
            high.iter()
                .any(|f| f.objects == ["c:s3://b/o2"] && f.action == Some(FixAction::Scan))
        );
        assert_eq!(r.objects_at_risk, 2);
        // Only o3 is stale: o1 and o2 are already reported, o4 was confirmed in time.
        let stale: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Medium)
            .collect();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].objects, ["c:s3://b/o3"]);
        assert!(stale[0].title.contains("since 2026-10-01"));
        assert_eq!(r.per_key[0].health, Some(Severity::High));
        assert_eq!(r.objects_by_state.get("stored"), Some(&4));
        let md = r.to_markdown("test");
        assert!(md.contains("### HIGH: 1 object(s) of key \"a\" are no longer on the server"));
        assert!(md.contains("| a | `FA` | 4 |"), "{md}");
    }

    #[test]
    fn old_versions_left_by_a_rotation_are_reported_with_their_delete_fix() {
        let keys = [
            key("a", "FA", 1, "age_backup"),
            key("b", "FB", 1, "age_backup"),
        ];
        let presence = HashMap::from([
            ("FA".to_string(), Some(true)),
            ("FB".to_string(), Some(true)),
        ]);
        let mut old = object(1, "FA", Some("a"), ObjectState::OldVersion);
        old.version_id = Some("v1".into());
        let objects = [old, object(2, "FB", Some("b"), ObjectState::Stored)];
        let r = audit(&keys, &presence, &objects, 0, None);
        let f = r
            .findings
            .iter()
            .find(|f| f.action == Some(FixAction::DeleteOldVersions))
            .unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.key_label.as_deref(), Some("a"));
        assert_eq!(f.objects, ["c:s3://b/o1 (version v1)"]);
        assert!(
            f.fix
                .as_deref()
                .unwrap()
                .contains("--delete-old-versions --from a")
        );
        // Not counted as lost, and not as a current object.
        assert_eq!(r.objects_at_risk, 0);
        assert_eq!(r.objects, 1);
    }
}

//! The key inventory audit: from the registry and what the keyring holds, which objects can
//! still be opened, which keys put objects at risk, and what to do about each finding.
//!
//! `findings` holds one pure function per kind of finding (no I/O, so the CLI, the window
//! and unit tests share them); `render` writes a report out; `Home::audit` gathers the
//! inputs from the registry and the keyring.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

mod findings;
mod health;
mod render;

pub use findings::{FIRST_PAGE, name as object_name};
pub use health::{Health, object_health};
pub use render::{Format, csv_cell};

#[cfg(test)]
use super::registry::ObjectRecord;
use super::registry::{AuditSums, KeySummary, ObjectScope, ScopePages};

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
    /// How many objects the finding is about (registry rows), whatever `objects` holds.
    pub count: u64,
    /// The objects concerned, as connection:s3://bucket/key: the first page of them (up to
    /// `FIRST_PAGE`; `scope` reads the rest), or all when `scope` is None.
    pub objects: Vec<String>,
    /// What to do, in a command or a click.
    pub fix: Option<String>,
    /// The objects listed cannot be opened with what this computer holds, or the server
    /// no longer gives them back as recorded.
    pub unrecoverable: bool,
    /// The one-click fix the window offers, if any.
    pub action: Option<FixAction>,
    /// Which registry rows it is about, to page through them.
    #[serde(skip)]
    pub scope: Option<ObjectScope>,
    /// The id of the last row `objects` holds: the next page starts after it.
    #[serde(skip)]
    pub next_after: i64,
}

impl Finding {
    /// A finding about no objects (a key, or uploads counted elsewhere).
    pub fn about_nothing(severity: Severity) -> Self {
        Finding {
            severity,
            title: String::new(),
            key_label: None,
            key_fingerprint: None,
            count: 0,
            objects: Vec::new(),
            fix: None,
            unrecoverable: false,
            action: None,
            scope: None,
            next_after: 0,
        }
    }

    /// Whether objects beyond those held are still to be read.
    pub fn has_more(&self) -> bool {
        self.scope.is_some() && (self.objects.len() as u64) < self.count
    }
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
    /// Ask the server about uploads in doubt (reconcile).
    Reconcile,
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
    /// Objects whose loss is possible: named by a CRITICAL or HIGH finding (no key, a key
    /// never backed up, missing or changed on the server). See `Finding::puts_at_risk`.
    /// Counted in registry rows, from the sums (`Health::at_risk` of each row).
    pub objects_at_risk: usize,
    /// Of those, the ones that cannot be opened with what this computer holds now.
    pub objects_unrecoverable: usize,
    pub per_key: Vec<KeyHealth>,
    /// Registered objects per state (stored, pending, failed...), for the chart.
    pub objects_by_state: BTreeMap<String, usize>,
    /// Stored and moved-off objects per health (`object_health`), for the chart.
    pub objects_by_health: BTreeMap<Health, u64>,
    pub findings: Vec<Finding>,
    /// Keys handed to other people (`key share`): to whom, when, in which file.
    pub shared: Vec<crate::core::registry::KeyShare>,
}

/// Builds the report from rows in memory (unit tests; the registry's own audit asks SQLite
/// for the same sums, see `Home::audit`). `in_keyring` maps a fingerprint to whether the
/// keyring holds it (None: the keyring could not be asked); `interrupted` counts unfinished
/// multipart uploads; stored objects the server last confirmed before `stale_before` (an
/// RFC 3339 time) are reported as not verified for too long.
#[cfg(test)]
pub fn audit(
    keys: &[KeySummary],
    in_keyring: &HashMap<String, Option<bool>>,
    objects: &[ObjectRecord],
    interrupted: usize,
    stale_before: Option<&str>,
) -> AuditReport {
    let sums = AuditSums::from_rows(objects, stale_before);
    let pages = crate::core::registry::Rows(objects);
    audit_of(keys, in_keyring, &sums, interrupted, stale_before, &pages).unwrap()
}

/// Builds the report from the sums, reading each finding's first page from `pages`.
pub fn audit_of(
    keys: &[KeySummary],
    in_keyring: &HashMap<String, Option<bool>>,
    sums: &AuditSums,
    interrupted: usize,
    stale_before: Option<&str>,
    pages: &dyn ScopePages,
) -> crate::core::Result<AuditReport> {
    audit_inputs(&findings::Inputs {
        keys,
        in_keyring,
        sums,
        interrupted,
        stale_before,
        pages,
    })
}

fn audit_inputs(inputs: &findings::Inputs) -> crate::core::Result<AuditReport> {
    type Kind = fn(&findings::Inputs) -> crate::core::Result<Vec<Finding>>;
    let kinds: [Kind; 8] = [
        findings::keys_unavailable,
        findings::never_backed_up,
        findings::unused_keys,
        findings::server_answers,
        findings::stale_confirmations,
        findings::old_versions,
        findings::unsettled_uploads,
        findings::interrupted_uploads,
    ];
    let mut all = Vec::new();
    for kind in kinds {
        all.extend(kind(inputs)?);
    }
    all.sort_by_key(|f| f.severity);
    Ok(summarize(inputs, all))
}

impl Finding {
    /// The one definition of "at risk" every screen uses: the finding names objects whose
    /// loss is possible (their key is gone or missing, was never backed up, or the server
    /// says they are gone or changed): every CRITICAL and HIGH finding.
    pub fn puts_at_risk(&self) -> bool {
        self.unrecoverable || self.severity <= Severity::High
    }
}

/// Stored (and moved-off) objects per health: a key's answer-less objects share their key's
/// health, the others have the server's answer as theirs.
fn by_health(inputs: &findings::Inputs) -> BTreeMap<Health, u64> {
    let mut counts = BTreeMap::new();
    for g in &inputs.sums.stored {
        let h =
            health::answer_health(g.verify).unwrap_or_else(|| inputs.key_health(&g.fingerprint));
        *counts.entry(h).or_insert(0) += g.count;
    }
    if let Some(&(n, _)) = inputs.sums.by_state.get("migrated") {
        *counts.entry(Health::OffSseC).or_insert(0) += n;
    }
    counts.retain(|_, n| *n > 0);
    counts
}

/// The counts, the per-key table and the chart data around the findings.
fn summarize(inputs: &findings::Inputs, findings: Vec<Finding>) -> AuditReport {
    let objects_by_health = by_health(inputs);
    let sum = |pick: fn(Health) -> bool| {
        objects_by_health
            .iter()
            .filter(|(h, _)| pick(**h))
            .map(|(_, n)| *n as usize)
            .sum()
    };
    let state = |s: &str| inputs.sums.by_state.get(s).copied().unwrap_or_default();
    let live = [state("stored"), state("pending")];
    let per_key = inputs
        .keys
        .iter()
        .map(|k| key_health(inputs, &findings, k))
        .collect();
    AuditReport {
        keys: inputs.keys.len(),
        objects: live.iter().map(|s| s.0 as usize).sum(),
        bytes: live.iter().map(|s| s.1).sum(),
        objects_at_risk: sum(Health::at_risk),
        objects_unrecoverable: sum(Health::unrecoverable),
        per_key,
        objects_by_state: inputs
            .sums
            .by_state
            .iter()
            .map(|(s, n)| (s.clone(), n.0 as usize))
            .collect(),
        objects_by_health,
        findings,
        shared: Vec::new(),
    }
}

/// LOW: keys shared outside this computer, one finding per key with its recipients. Not a
/// risk of loss, but whoever holds the file and an identity reads every object of the key.
fn shared_outside(keys: &[KeySummary], shares: &[crate::core::registry::KeyShare]) -> Vec<Finding> {
    let mut by_key: BTreeMap<String, Vec<&crate::core::registry::KeyShare>> = BTreeMap::new();
    for s in shares {
        by_key
            .entry(s.key_fingerprint.to_string())
            .or_default()
            .push(s);
    }
    by_key
        .into_iter()
        .filter_map(|(fp, shares)| {
            let key = keys.iter().find(|k| k.key.fingerprint.as_str() == fp)?;
            let mut to: Vec<&str> = shares.iter().map(|s| s.recipient.as_str()).collect();
            to.sort();
            to.dedup();
            Some(Finding {
                title: format!(
                    "key \"{}\" was shared outside this computer with {} recipient(s): {}",
                    key.key.label,
                    to.len(),
                    to.join("; ")
                ),
                key_label: Some(key.key.label.clone()),
                key_fingerprint: Some(fp),
                fix: Some(format!(
                    "if a recipient should no longer read its objects, rotate them to a new key: \
                     ssec-manager rotate --from {} --to NEW",
                    key.key.label
                )),
                ..Finding::about_nothing(Severity::Low)
            })
        })
        .collect()
}

/// One key's row of the health table: its worst finding and its oldest confirmation.
fn key_health(inputs: &findings::Inputs, findings: &[Finding], k: &KeySummary) -> KeyHealth {
    let fp = k.key.fingerprint.to_string();
    let health = findings
        .iter()
        .filter(|f| f.key_fingerprint.as_deref() == Some(fp.as_str()))
        .map(|f| f.severity)
        .min();
    // None when one of its objects was never confirmed (or it has none stored).
    let groups: Vec<_> = inputs.sums.groups_of(&fp).collect();
    let last_verified_at = if groups.iter().any(|g| g.never_verified > 0) {
        None
    } else {
        groups
            .iter()
            .filter_map(|g| g.oldest_verified.clone())
            .min()
    };
    KeyHealth {
        label: k.key.label.clone(),
        last_verified_at,
        in_keyring: inputs.in_keyring.get(&fp).copied().flatten(),
        fingerprint: fp,
        objects: k.objects,
        bytes: k.bytes,
        backup_status: k.key.backup_status.clone(),
        last_backup_at: k.key.last_backup_at.clone(),
        health,
    }
}

impl crate::core::Home {
    /// The audit of this home: registry plus what the keyring holds (no server requests).
    /// Sums come from grouped queries and each finding carries the first page of its
    /// objects, so the report's size does not grow with the registry.
    pub fn audit(&self) -> crate::core::Result<AuditReport> {
        Ok(self.keys_and_audit()?.1)
    }

    /// The key list and the audit from one read of the registry's sums and one keyring
    /// lookup per key: what the window's refresh shows.
    pub fn keys_and_audit(
        &self,
    ) -> crate::core::Result<(Vec<crate::core::keys::KeyListing>, AuditReport)> {
        let cutoff = stale_before(chrono::Utc::now(), VERIFY_MAX_AGE_DAYS);
        let sums = self.registry.audit_sums(Some(&cutoff))?;
        let keys = self.registry.keys_from(&sums)?;
        let presence: HashMap<String, Option<bool>> = keys
            .iter()
            .map(|k| {
                let fp = k.key.fingerprint.clone();
                (fp.to_string(), self.key_in_keyring(&fp).ok())
            })
            .collect();
        let interrupted = self.registry.interrupted_uploads()?.len();
        let mut report = audit_of(
            &keys,
            &presence,
            &sums,
            interrupted,
            Some(&cutoff),
            &self.registry,
        )?;
        report.shared = self.registry.key_shares()?;
        report
            .findings
            .extend(shared_outside(&keys, &report.shared));
        let listings = keys
            .into_iter()
            .map(|summary| crate::core::keys::KeyListing {
                in_keyring: presence
                    .get(summary.key.fingerprint.as_str())
                    .copied()
                    .flatten(),
                summary,
            })
            .collect();
        Ok((listings, report))
    }

    /// The next page (up to `limit`) of a finding's objects, after the ones it holds.
    pub fn finding_page(
        &self,
        scope: &ObjectScope,
        after: i64,
        limit: usize,
    ) -> crate::core::Result<Vec<(i64, String)>> {
        Ok(self.registry.scope_lines(scope, after, limit)?)
    }

    /// "Generated 2026-11-28T01:02:03Z by ssec-manager 0.1.0 from REGISTRY": a report's origin.
    pub fn report_origin(&self) -> String {
        format!(
            "Generated {} by ssec-manager {} from {}",
            crate::core::registry::now(),
            env!("CARGO_PKG_VERSION"),
            self.registry.path().display()
        )
    }

    /// The audit report written to a file, in the format its extension says (Markdown unless
    /// .json or .csv), whole or not at all; every finding's objects are read from the
    /// registry a page at a time as they are written.
    pub fn export_audit(&self, path: &std::path::Path) -> crate::core::Result<()> {
        let report = self.audit()?;
        let origin = self.report_origin();
        crate::core::home::write_replacing_with(path, |w| {
            report.write_to(
                w,
                path,
                Format::for_path(path),
                &origin,
                Some(&self.registry),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::key::KeyFingerprint;
    use crate::core::registry::KeyRecord;
    use crate::core::registry::{ObjectState, VerifyStatus};

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
            migrated: 0,
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
        // o1, o2 (key missing), o4 (key deleted), o3 (key never backed up).
        assert_eq!(r.objects_at_risk, 4);
        assert_eq!(r.objects_unrecoverable, 3);
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

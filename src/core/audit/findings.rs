//! One function per kind of finding. Each reads the same inputs (the registry's keys and
//! sums, what the keyring holds) and returns its findings, each with its count and the first
//! page of its objects; `audit` puts them together. No I/O of their own: the objects come
//! from a `ScopePages` (the registry, or rows in memory in unit tests).

use std::collections::HashMap;

use super::{Finding, FixAction, Health, Severity};
use crate::core::registry::{
    AuditSums, KeySummary, ObjectRecord, ObjectScope, ScopePages, VerifyStatus,
};

/// How many objects a finding carries; the rest are read on demand (`ObjectScope`).
pub const FIRST_PAGE: usize = 50;

/// What every finding is computed from.
pub struct Inputs<'a> {
    pub keys: &'a [KeySummary],
    /// fingerprint -> whether the keyring holds it (None: it could not be asked).
    pub in_keyring: &'a HashMap<String, Option<bool>>,
    pub sums: &'a AuditSums,
    /// Unfinished multipart uploads.
    pub interrupted: usize,
    /// Stored objects last confirmed before this RFC 3339 time are stale.
    pub stale_before: Option<&'a str>,
    /// Where the findings' first pages are read.
    pub pages: &'a dyn ScopePages,
}

impl Inputs<'_> {
    fn live(&self, fp: &str) -> Option<&KeySummary> {
        self.keys.iter().find(|k| k.key.fingerprint.as_str() == fp)
    }

    /// What holding `fp` means for its objects, by the rules `object_health` applies to one
    /// row: deleted, missing from the keyring, never backed up, or fine.
    pub fn key_health(&self, fp: &str) -> Health {
        super::health::key_health(self.live(fp).map(|k| {
            (
                self.in_keyring.get(fp).copied().flatten(),
                &*k.key.backup_status,
            )
        }))
    }

    /// A finding about the objects of `scope`, with its first page and count.
    fn finding(&self, scope: ObjectScope, count: u64, f: Draft) -> crate::core::Result<Finding> {
        let page = self.pages.scope_page(&scope, 0, FIRST_PAGE)?;
        let label = f
            .key_label
            .or_else(|| page.first().and_then(|o| o.key_label.clone()));
        Ok(Finding {
            severity: f.severity,
            title: (f.title)(label.as_deref()),
            key_label: label,
            key_fingerprint: f.key_fingerprint,
            count,
            objects: page.iter().map(|o| scope.line(o)).collect(),
            fix: f.fix,
            unrecoverable: f.unrecoverable,
            action: f.action,
            next_after: page.last().map_or(0, |o| o.id),
            scope: Some(scope),
        })
    }
}

/// A title made once the key's label is known.
type Title = Box<dyn Fn(Option<&str>) -> String>;

/// A finding before its objects are read: its title may name the key's label, which for a
/// deleted key only its objects' rows know.
struct Draft {
    severity: Severity,
    key_label: Option<String>,
    key_fingerprint: Option<String>,
    title: Title,
    fix: Option<String>,
    unrecoverable: bool,
    action: Option<FixAction>,
}

/// "connection:s3://bucket/key", how findings name objects.
pub fn name(o: &ObjectRecord) -> String {
    ObjectScope::Unsettled.line(o)
}

/// CRITICAL: stored objects whose key this home cannot produce (missing from the keyring,
/// deleted, or never registered).
pub fn keys_unavailable(inputs: &Inputs) -> crate::core::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for fp in inputs.sums.stored_keys() {
        let n = inputs.sums.stored_of(fp);
        let draft = match inputs.key_health(fp) {
            Health::KeyMissing => {
                let label = inputs.live(fp).map(|k| k.key.label.clone());
                let l = label.clone().unwrap_or_default();
                Draft {
                    title: Box::new(move |_| {
                        format!(
                            "key \"{l}\" is missing from the keyring: {n} object(s) cannot be opened"
                        )
                    }),
                    fix: Some(format!(
                        "restore it from a backup (`ssec-manager restore FILE`) or import the \
                         key file again (`ssec-manager key import {} FILE`)",
                        label.as_deref().unwrap_or_default()
                    )),
                    key_label: label,
                    ..critical(fp)
                }
            }
            Health::KeyGone => Draft {
                title: Box::new(move |label| match label {
                    Some(l) => format!("key \"{l}\" was deleted: {n} object(s) cannot be opened"),
                    None => {
                        format!("{n} object(s) are encrypted with a key that is not registered")
                    }
                }),
                fix: Some("import the key from an export or a backup".to_string()),
                ..critical(fp)
            },
            _ => continue,
        };
        findings.push(inputs.finding(
            ObjectScope::Stored {
                fingerprint: fp.to_string(),
            },
            n,
            draft,
        )?);
    }
    Ok(findings)
}

fn critical(fp: &str) -> Draft {
    Draft {
        severity: Severity::Critical,
        key_label: None,
        key_fingerprint: Some(fp.to_string()),
        title: Box::new(|_| String::new()),
        fix: None,
        unrecoverable: true,
        action: Some(FixAction::RestoreBackup),
    }
}

/// HIGH: keys in use that were never backed up.
pub fn never_backed_up(inputs: &Inputs) -> crate::core::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for k in inputs
        .keys
        .iter()
        .filter(|k| k.objects > 0 && k.key.backup_status == "never")
    {
        let fp = k.key.fingerprint.as_str();
        let (label, objects) = (k.key.label.clone(), k.objects);
        let draft = Draft {
            severity: Severity::High,
            key_label: Some(label.clone()),
            key_fingerprint: Some(fp.to_string()),
            title: Box::new(move |_| {
                format!("key \"{label}\" encrypts {objects} object(s) and was never backed up")
            }),
            fix: Some(format!(
                "ssec-manager backup --out FILE --keys {}",
                k.key.label
            )),
            unrecoverable: false,
            action: Some(FixAction::BackUp),
        };
        let scope = ObjectScope::Stored {
            fingerprint: fp.to_string(),
        };
        findings.push(inputs.finding(scope, inputs.sums.stored_of(fp), draft)?);
    }
    Ok(findings)
}

/// LOW: keys that encrypt nothing.
pub fn unused_keys(inputs: &Inputs) -> crate::core::Result<Vec<Finding>> {
    Ok(inputs
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
            ..Finding::about_nothing(Severity::Low)
        })
        .collect())
}

/// HIGH: what the last verify heard from the server, per key and answer (gone, no longer
/// opened by its key, changed).
pub fn server_answers(inputs: &Inputs) -> crate::core::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for g in &inputs.sums.stored {
        let Some(status) = g.verify.filter(|s| s.is_problem()) else {
            continue;
        };
        let (n, fp) = (g.count, g.fingerprint.clone());
        let who = move |label: Option<&str>| {
            label
                .map(|l| format!("key \"{l}\""))
                .unwrap_or_else(|| format!("key {fp}"))
        };
        let (title, fix): (Title, &str) = match status {
            VerifyStatus::Missing => (
                Box::new(move |l| {
                    format!("{n} object(s) of {} are no longer on the server", who(l))
                }),
                "upload them again from a local copy; if they were deleted on purpose, nothing is lost",
            ),
            VerifyStatus::WrongKey => (
                Box::new(move |l| {
                    format!(
                        "{n} object(s) no longer open with their recorded {}",
                        who(l)
                    )
                }),
                "find the key that opens them: ssec-manager scan s3://BUCKET/PREFIX (then import or restore that key)",
            ),
            _ => (
                Box::new(move |l| {
                    format!(
                        "{n} object(s) of {} changed on the server since they were recorded",
                        who(l)
                    )
                }),
                "download them and check the content; upload the original again if it is wrong",
            ),
        };
        let draft = Draft {
            severity: Severity::High,
            key_label: None,
            key_fingerprint: Some(g.fingerprint.clone()),
            title,
            fix: Some(fix.to_string()),
            unrecoverable: true,
            action: (status == VerifyStatus::WrongKey).then_some(FixAction::Scan),
        };
        let scope = ObjectScope::Answer {
            fingerprint: g.fingerprint.clone(),
            status,
        };
        findings.push(inputs.finding(scope, n, draft)?);
    }
    Ok(findings)
}

/// MEDIUM: stored objects the server has not confirmed for too long.
pub fn stale_confirmations(inputs: &Inputs) -> crate::core::Result<Vec<Finding>> {
    let Some(cutoff) = inputs.stale_before else {
        return Ok(vec![]);
    };
    let n: u64 = inputs
        .sums
        .stored
        .iter()
        .filter(|g| !g.verify.is_some_and(VerifyStatus::is_problem))
        .map(|g| g.stale)
        .sum();
    if n == 0 {
        return Ok(vec![]);
    }
    let since = cutoff.get(..10).unwrap_or(cutoff).to_string();
    let draft = Draft {
        severity: Severity::Medium,
        key_label: None,
        key_fingerprint: None,
        title: Box::new(move |_| {
            format!("{n} object(s) not confirmed by the server since {since}")
        }),
        fix: Some("ssec-manager verify (or Verify in the Audit view)".into()),
        unrecoverable: false,
        action: Some(FixAction::Verify),
    };
    let scope = ObjectScope::Stale {
        cutoff: cutoff.to_string(),
    };
    Ok(vec![inputs.finding(scope, n, draft)?])
}

/// MEDIUM: versions a versioned bucket kept after a rotation, still under the old key.
pub fn old_versions(inputs: &Inputs) -> crate::core::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for (fp, &n) in &inputs.sums.old_versions {
        let scope = ObjectScope::OldVersions {
            fingerprint: fp.clone(),
        };
        // The fix names the key as its title does: by label, or by fingerprint if unknown.
        let first = inputs.pages.scope_page(&scope, 0, 1)?;
        let who = first
            .first()
            .and_then(|o| o.key_label.clone())
            .unwrap_or_else(|| fp.clone());
        let title_who = who.clone();
        let draft = Draft {
            severity: Severity::Medium,
            key_label: None,
            key_fingerprint: Some(fp.clone()),
            title: Box::new(move |_| {
                format!(
                    "{n} old version(s) kept by versioned buckets are still encrypted with key \"{title_who}\" (rotated away from)"
                )
            }),
            fix: Some(format!(
                "they open only with \"{who}\": keep that key, or delete them on purpose: ssec-manager rotate --delete-old-versions --from {who} --yes"
            )),
            unrecoverable: false,
            action: Some(FixAction::DeleteOldVersions),
        };
        findings.push(inputs.finding(scope, n, draft)?);
    }
    Ok(findings)
}

/// MEDIUM: uploads whose outcome is not known (their answer was lost, or their process is
/// gone): the server may hold them, so their keys stay protected until reconciled.
pub fn unsettled_uploads(inputs: &Inputs) -> crate::core::Result<Vec<Finding>> {
    let n = inputs.sums.unsettled;
    if n == 0 {
        return Ok(vec![]);
    }
    let draft = Draft {
        severity: Severity::Medium,
        key_label: None,
        key_fingerprint: None,
        title: Box::new(move |_| {
            format!(
                "{n} upload(s) in doubt: the server may hold them, so their keys stay protected"
            )
        }),
        fix: Some("ssec-manager reconcile (asks the server and records its answer)".into()),
        unrecoverable: false,
        action: Some(FixAction::Reconcile),
    };
    Ok(vec![inputs.finding(ObjectScope::Unsettled, n, draft)?])
}

/// MEDIUM: multipart uploads left unfinished by a process that is gone.
pub fn interrupted_uploads(inputs: &Inputs) -> crate::core::Result<Vec<Finding>> {
    if inputs.interrupted == 0 {
        return Ok(vec![]);
    }
    Ok(vec![Finding {
        title: format!(
            "{} interrupted multipart upload(s) can be resumed or aborted",
            inputs.interrupted
        ),
        fix: Some("ssec-manager uploads (then ssec-manager resume, or uploads --abort ID)".into()),
        action: Some(FixAction::ResumeUploads),
        ..Finding::about_nothing(Severity::Medium)
    }])
}

//! The audit report in the formats people read it in: terminal text, Markdown, CSV, JSON.
//! Rendering only: what the report says is decided in `findings`. JSON and CSV list every
//! object of every finding, read from the registry a page at a time as they are written, so
//! a report about a million objects is written in the memory of one page.

use std::io::{self, Write};
use std::path::Path;

use serde::ser::{Error as _, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::{AuditReport, Finding, Severity};
use crate::core::registry::ScopePages;

/// How many objects are read from the registry at a time while writing.
const WRITE_PAGE: usize = 1000;
/// How a report is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
    Csv,
}

impl Format {
    /// By a file's extension: .json, .csv, anything else Markdown (a readable report).
    pub fn for_path(path: &std::path::Path) -> Self {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "json" => Format::Json,
            "csv" => Format::Csv,
            _ => Format::Markdown,
        }
    }
}

impl AuditReport {
    /// The report in `format`, from what it holds (each finding's first page of objects);
    /// `generated` (Markdown only) says when and where it was made.
    pub fn render(&self, format: Format, generated: &str) -> String {
        // Into memory, from what the report holds: nothing here can fail.
        let mut out = Vec::new();
        if let Err(e) = self.write_to(&mut out, Path::new("the report"), format, generated, None) {
            return format!("error: {e}\n");
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The report in `format` written to `out` (named `dest` in errors). With `pages`, JSON
    /// and CSV list every object of every finding, read a page at a time.
    pub fn write_to(
        &self,
        out: &mut dyn Write,
        dest: &Path,
        format: Format,
        generated: &str,
        pages: Option<&dyn ScopePages>,
    ) -> crate::core::Result<()> {
        let written = match format {
            Format::Text => out.write_all(self.to_text().as_bytes()),
            Format::Markdown => out.write_all(self.to_markdown(generated).as_bytes()),
            Format::Json => serde_json::to_writer_pretty(
                &mut *out,
                &Streamed {
                    report: self,
                    pages,
                },
            )
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n")),
            Format::Csv => self.write_csv(out, pages),
        };
        written.map_err(|e| match e.downcast::<crate::core::Error>() {
            Ok(registry) => registry,
            Err(e) => crate::core::Error::io(dest, "cannot write the report to", e),
        })
    }

    /// The report as terminal text: the summary, then each finding with up to 20 objects.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "{} key(s), {} object(s), {}; {} object(s) at risk\n",
            self.keys,
            self.objects,
            crate::core::human_bytes(self.bytes),
            self.objects_at_risk
        );
        for f in &self.findings {
            let _ = writeln!(out, "{:<8} {}", f.severity.label(), f.title);
            for o in f.objects.iter().take(20) {
                let _ = writeln!(out, "           {o}");
            }
            let shown = f.objects.len().min(20) as u64;
            if f.total() > shown {
                let _ = writeln!(out, "           ... and {} more", f.total() - shown);
            }
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "           fix: {fix}");
            }
        }
        if self.findings.is_empty() {
            out.push_str("every object can be opened and every key in use is backed up\n");
        }
        out
    }
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
            crate::core::human_bytes(self.bytes),
            self.objects_at_risk
        ));
        out.push_str("## Keys\n\n| Key | Fingerprint | Objects | Bytes | In keyring | Last backup | Oldest verification | Health |\n|---|---|---:|---:|---|---|---|---|\n");
        for k in &self.per_key {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} | {} | {} | {} |\n",
                cell(&k.label),
                k.fingerprint,
                k.objects,
                crate::core::human_bytes(k.bytes),
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
            let shown = f.objects.len().min(SHOWN) as u64;
            if f.total() > shown {
                out.push_str(&format!(
                    "- ... and {} more (the JSON and CSV exports list them all)\n",
                    f.total() - shown
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
        self.render(Format::Csv, "")
    }

    fn write_csv(&self, out: &mut dyn Write, pages: Option<&dyn ScopePages>) -> io::Result<()> {
        let esc = |s: &str| format!("\"{}\"", csv_cell(s).replace('"', "\"\""));
        out.write_all(b"severity,title,key_label,key_fingerprint,object,fix\n")?;
        for f in &self.findings {
            let row = |out: &mut dyn Write, o: &str| {
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    f.severity.label(),
                    esc(&f.title),
                    esc(f.key_label.as_deref().unwrap_or("")),
                    esc(f.key_fingerprint.as_deref().unwrap_or("")),
                    esc(o),
                    esc(f.fix.as_deref().unwrap_or(""))
                )
            };
            let mut any = false;
            each_object(f, pages, |o| {
                any = true;
                row(&mut *out, o)
            })?;
            if !any {
                row(&mut *out, "")?;
            }
        }
        Ok(())
    }
}

impl Finding {
    /// How many objects it names: its count, or what it holds when built by hand.
    pub fn total(&self) -> u64 {
        self.count.max(self.objects.len() as u64)
    }
}

/// Every object of a finding in order: read a page at a time from `pages` when the finding
/// says where its objects are, else the ones it holds.
fn each_object(
    f: &Finding,
    pages: Option<&dyn ScopePages>,
    mut each: impl FnMut(&str) -> io::Result<()>,
) -> io::Result<()> {
    let (Some(pages), Some(scope)) = (pages, &f.scope) else {
        return f.objects.iter().try_for_each(|o| each(o));
    };
    let mut after = 0;
    loop {
        let page = pages
            .scope_lines(scope, after, WRITE_PAGE)
            .map_err(|e| io::Error::other(crate::core::Error::from(e)))?;
        for (_, line) in &page {
            each(line)?;
        }
        match page.last() {
            Some((id, _)) if page.len() == WRITE_PAGE => after = *id,
            _ => return Ok(()),
        }
    }
}

/// The report as `serde_json` writes `AuditReport`, field for field, with each finding's
/// `objects` read as they are written.
struct Streamed<'a> {
    report: &'a AuditReport,
    pages: Option<&'a dyn ScopePages>,
}

impl Serialize for Streamed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.report;
        let mut st = s.serialize_struct("AuditReport", 11)?;
        st.serialize_field("keys", &r.keys)?;
        st.serialize_field("objects", &r.objects)?;
        st.serialize_field("bytes", &r.bytes)?;
        st.serialize_field("objects_at_risk", &r.objects_at_risk)?;
        st.serialize_field("objects_unrecoverable", &r.objects_unrecoverable)?;
        st.serialize_field("per_key", &r.per_key)?;
        st.serialize_field("objects_by_state", &r.objects_by_state)?;
        st.serialize_field("objects_by_health", &r.objects_by_health)?;
        let findings: Vec<StreamedFinding> = r
            .findings
            .iter()
            .map(|f| StreamedFinding {
                f,
                pages: self.pages,
            })
            .collect();
        st.serialize_field("findings", &findings)?;
        st.serialize_field("shared", &r.shared)?;
        st.end()
    }
}

struct StreamedFinding<'a> {
    f: &'a Finding,
    pages: Option<&'a dyn ScopePages>,
}

impl Serialize for StreamedFinding<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.f;
        let mut st = s.serialize_struct("Finding", 9)?;
        st.serialize_field("severity", &f.severity)?;
        st.serialize_field("title", &f.title)?;
        st.serialize_field("key_label", &f.key_label)?;
        st.serialize_field("key_fingerprint", &f.key_fingerprint)?;
        st.serialize_field("count", &f.count)?;
        st.serialize_field("objects", &AllObjects(self))?;
        st.serialize_field("fix", &f.fix)?;
        st.serialize_field("unrecoverable", &f.unrecoverable)?;
        st.serialize_field("action", &f.action)?;
        st.end()
    }
}

struct AllObjects<'a>(&'a StreamedFinding<'a>);

impl Serialize for AllObjects<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let mut failed = None;
        let listed = each_object(self.0.f, self.0.pages, |o| {
            seq.serialize_element(o).map_err(|e| {
                failed = Some(e);
                io::Error::other("the JSON writer failed")
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        listed.map_err(S::Error::custom)?;
        seq.end()
    }
}

/// A cell a spreadsheet shows as text: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return would be read as a formula (a key label or an object name is anyone's
/// text), so it gets a leading `'`, which spreadsheets take as "text follows" (OWASP's
/// advice for CSV injection). Quoting is left to the caller.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::core::registry::{ObjectRecord, ObjectState, Rows};

    /// 120 objects under a key that is not registered: one CRITICAL finding holding the
    /// first page, and a report written out in full from the rows.
    fn report_and_rows() -> (AuditReport, Vec<ObjectRecord>) {
        let rows: Vec<ObjectRecord> = (1..=120)
            .map(|i| ObjectRecord::sample(i, "FGONE", None, ObjectState::Stored))
            .collect();
        let report = super::super::audit(&[], &HashMap::new(), &rows, 0, None);
        (report, rows)
    }

    fn write(report: &AuditReport, format: Format, pages: Option<&dyn ScopePages>) -> String {
        let mut out = Vec::new();
        report
            .write_to(&mut out, Path::new("t"), format, "", pages)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_and_csv_list_every_object_read_a_page_at_a_time_and_the_rest_say_how_many() {
        let (report, rows) = report_and_rows();
        let f = &report.findings[0];
        assert_eq!((f.count, f.objects.len()), (120, super::super::FIRST_PAGE));
        // Without pages the streamed JSON is exactly what serde writes for the report.
        assert_eq!(
            write(&report, Format::Json, None),
            serde_json::to_string_pretty(&report).unwrap() + "\n"
        );
        let pages = Rows(&rows);
        let json: serde_json::Value =
            serde_json::from_str(&write(&report, Format::Json, Some(&pages))).unwrap();
        let listed = json["findings"][0]["objects"].as_array().unwrap();
        assert_eq!(listed.len(), 120);
        assert_eq!(listed[119], "c:s3://b/o120");
        assert_eq!(json["findings"][0]["count"], 120);
        let csv = write(&report, Format::Csv, Some(&pages));
        assert_eq!(csv.lines().count(), 1 + 120);
        assert!(
            write(&report, Format::Markdown, Some(&pages))
                .contains("- ... and 70 more (the JSON and CSV exports list them all)")
        );
        assert!(report.to_text().contains("... and 100 more"));
    }
}

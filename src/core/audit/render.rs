//! The audit report in the formats people read it in: terminal text, Markdown, CSV, JSON.
//! Rendering only: what the report says is decided in `findings`.

use super::{AuditReport, Severity};

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
    /// The report in `format`; `generated` (Markdown only) says when and where it was made.
    pub fn render(&self, format: Format, generated: &str) -> String {
        match format {
            Format::Text => self.to_text(),
            Format::Markdown => self.to_markdown(generated),
            Format::Json => {
                serde_json::to_string_pretty(self)
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
                    + "\n"
            }
            Format::Csv => self.to_csv(),
        }
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
            if f.objects.len() > 20 {
                let _ = writeln!(out, "           ... and {} more", f.objects.len() - 20);
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
        let esc = |s: &str| format!("\"{}\"", csv_cell(s).replace('"', "\"\""));
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

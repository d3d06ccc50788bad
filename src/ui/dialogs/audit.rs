//! Audit dialogs: export the report, delete old versions kept under a rotated-away key.

use std::path::PathBuf;

use egui::RichText;

use super::{Choice, DialogUi, PickPurpose, buttons, field, path_field};
use crate::ui::{App, Command};

/// The audit report into a file; the format follows the extension.
#[derive(Debug, Default)]
pub struct ExportAudit {
    pub path: String,
}

impl DialogUi for ExportAudit {
    const ID: &'static str = "export-audit";

    fn title(&self) -> String {
        "Export the audit report".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("A readable report (.md, Markdown), or the same findings for scripts and spreadsheets (.json, .csv). It lists object names and key fingerprints, never key material. An existing file is replaced.");
        ui.add_space(6.0);
        path_field(
            app,
            ui,
            "File",
            &mut self.path,
            "/path/to/audit.md",
            PickPurpose::AuditReport,
            true,
        );
        buttons(ui, "Export", !self.path.trim().is_empty())
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::ExportAudit {
            path: PathBuf::from(self.path.trim()),
        });
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::AuditReport, &mut self.path))
    }
}

/// Deleting the old versions a versioned bucket kept under a rotated-away key.
#[derive(Debug)]
pub struct DeleteOldVersions {
    /// The key's label; empty for a key the registry cannot name.
    pub label: String,
    /// The old versions of the key, and how many the audit counted (the delete refuses if
    /// the registry holds another number by then).
    pub scope: crate::core::registry::ObjectScope,
    pub count: u64,
    pub typed: String,
}

impl DialogUi for DeleteOldVersions {
    const ID: &'static str = "delete-old-versions";

    fn title(&self) -> String {
        format!("Delete old versions under \"{}\"", self.label)
    }

    fn ui(&mut self, _app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(RichText::new(format!("⚠ {} old version(s) will be deleted from their buckets for good. They are versions kept after a rotation; the current versions, under the new key, stay.", self.count)).color(ui.visuals().warn_fg_color));
        // A key without a label (unregistered) is confirmed with the word "delete".
        let word = if self.label.is_empty() {
            "delete".to_string()
        } else {
            self.label.clone()
        };
        field(ui, "Type to confirm", &mut self.typed, &word);
        buttons(ui, "Delete old versions", self.typed == word)
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::DeleteOldVersions {
            scope: self.scope,
            count: self.count,
        });
    }
}

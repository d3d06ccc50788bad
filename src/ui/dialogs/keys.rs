//! Key dialogs: generate, import, export, delete.

use std::path::PathBuf;

use egui::RichText;
use zeroize::Zeroizing;

use super::{Choice, DialogUi, PickPurpose, buttons, field, path_field};
use crate::core::label::{confirms_delete, visible};
use crate::ui::{App, Command};

/// A new key from the OS random generator.
#[derive(Debug, Default)]
pub struct Generate {
    pub label: String,
}

impl DialogUi for Generate {
    const ID: &'static str = "generate";

    fn title(&self) -> String {
        "Generate a key".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("A new 32-byte key from the operating system's random generator, kept in the OS keyring.");
        ui.add_space(6.0);
        let r = field(ui, "Label", &mut self.label, "e.g. backups-2026");
        if !r.has_focus() && self.label.is_empty() {
            r.request_focus();
        }
        // What the core would refuse, said here while the text stays in the field.
        let label = self.label.trim();
        let problem = if label.is_empty() {
            None
        } else if let Some(why) = crate::core::label::label_problem(label) {
            Some(format!("This label cannot be used: {why}."))
        } else if app.keys.iter().any(|k| k.summary.key.label == label) {
            Some(format!(
                "A key is already labelled \"{label}\"; choose another label."
            ))
        } else {
            None
        };
        if let Some(p) = &problem {
            ui.label(RichText::new(p).color(ui.visuals().error_fg_color));
        }
        let ok = !label.is_empty() && problem.is_none();
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let c = buttons(ui, "Generate", ok);
        if enter && ok { Choice::Ok } else { c }
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::GenerateKey {
            label: self.label.trim().to_string(),
        });
    }
}

/// A key file, or a key pasted.
#[derive(Debug, Default)]
pub struct Import {
    pub label: String,
    pub text: Zeroizing<String>,
    pub path: String,
}

impl DialogUi for Import {
    const ID: &'static str = "import";

    fn title(&self) -> String {
        "Import a key".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("A key file (the base64 line `openssl rand -base64 32` writes, 32 raw bytes, or 64 hex digits), or the key pasted below.");
        ui.add_space(6.0);
        field(ui, "Label", &mut self.label, "e.g. from-aws-cli");
        path_field(
            app,
            ui,
            "Key file",
            &mut self.path,
            "/path/to/key",
            PickPurpose::ImportKey,
            false,
        );
        ui.horizontal(|ui| {
            ui.add_sized([120.0, 20.0], egui::Label::new("or paste it"));
            ui.add(
                egui::TextEdit::singleline(&mut *self.text)
                    .password(true)
                    .hint_text("base64 or hex")
                    .desired_width(360.0),
            );
        });
        let ok = !self.label.trim().is_empty() && (!self.path.is_empty() || !self.text.is_empty());
        buttons(ui, "Import", ok)
    }

    fn confirm(self, app: &mut App) {
        let label = self.label.trim().to_string();
        if self.path.trim().is_empty() {
            app.backend.send(Command::ImportKey {
                label,
                bytes: Zeroizing::new(self.text.as_bytes().to_vec()),
                origin: "pasted text".into(),
            });
        } else {
            app.backend.send(Command::ImportKeyFile {
                label,
                path: PathBuf::from(self.path.trim()),
            });
        }
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::ImportKey, &mut self.path))
    }
}

/// The seed's key file, written to a new file.
#[derive(Debug)]
pub struct Export {
    pub label: String,
    pub path: String,
}

impl DialogUi for Export {
    const ID: &'static str = "export";

    fn title(&self) -> String {
        format!("Export key \"{}\"", self.label)
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(RichText::new("⚠ Anyone who holds this file can read every object the key encrypts. Keep it offline or encrypted.").color(ui.visuals().warn_fg_color));
        ui.label("Written in the seed's format (one base64 line), mode 0600. An existing file is never overwritten.");
        ui.add_space(6.0);
        path_field(
            app,
            ui,
            "File",
            &mut self.path,
            "/path/to/new-file.key",
            PickPurpose::ExportKey,
            true,
        );
        buttons(ui, "Export", !self.path.trim().is_empty())
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::ExportKey {
            label: self.label,
            path: PathBuf::from(self.path.trim()),
        });
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::ExportKey, &mut self.path))
    }
}

/// Deleting a key: the objects it still protects are listed, and the label must be typed.
#[derive(Debug)]
pub struct DeleteKey {
    pub label: String,
    /// The key the dialog is about (a key deleted and made again under the label since is
    /// another one: the core refuses then).
    pub fingerprint: Option<crate::core::key::KeyFingerprint>,
    pub typed: String,
    /// What the key protects (every registry id; the first ones' names), None while the
    /// worker looks it up. Exactly these ids are sent with the delete: the core refuses if
    /// they changed.
    pub dependents: Option<(Vec<i64>, Vec<String>)>,
}

impl DialogUi for DeleteKey {
    const ID: &'static str = "delete-key";

    fn title(&self) -> String {
        format!("Delete key \"{}\"", visible(&self.label))
    }

    fn ui(&mut self, _app: &mut App, ui: &mut egui::Ui) -> Choice {
        match &self.dependents {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Looking up the objects this key encrypts…");
                });
            }
            Some((ids, _)) if ids.is_empty() => {
                ui.label("This key encrypts no registered object.");
            }
            Some((ids, first)) => {
                ui.label(RichText::new(format!("☠ These {} object(s) become UNRECOVERABLE: nobody, not even the provider, can open them without this key.", ids.len())).color(ui.visuals().error_fg_color).strong());
                egui::ScrollArea::vertical()
                    .max_height(160.0)
                    .show(ui, |ui| {
                        for o in first {
                            ui.monospace(o);
                        }
                        if ids.len() > first.len() {
                            ui.label(format!(
                                "… and {} more, all counted above",
                                ids.len() - first.len()
                            ));
                        }
                    });
            }
        }
        ui.add_space(6.0);
        // What is shown is what must be typed: an invisible character in the label is
        // written out, and one in the typed text never matches.
        ui.label(format!(
            "Type the label \"{}\" to confirm:",
            visible(&self.label)
        ));
        ui.add(
            egui::TextEdit::singleline(&mut self.typed)
                .id_salt("confirm-label")
                .desired_width(360.0),
        );
        let ok = self.dependents.is_some() && confirms_delete(&self.label, &self.typed);
        buttons(ui, "Delete key", ok)
    }

    fn confirm(self, app: &mut App) {
        let shown = self.dependents.map(|(ids, _)| ids).unwrap_or_default();
        let Some(fingerprint) = self.fingerprint else {
            app.error(format!("key \"{}\" is no longer listed", self.label));
            return;
        };
        app.backend.send(Command::DeleteKey {
            label: self.label,
            fingerprint,
            shown,
        });
    }
}

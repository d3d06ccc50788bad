//! Backup dialogs: every key into a passphrase-encrypted age file, and back.

use std::path::PathBuf;

use egui::RichText;
use zeroize::Zeroizing;

use super::{Choice, DialogUi, PickPurpose, buttons, path_field, secret_field};
use crate::ui::{App, Command};

#[derive(Debug, Default)]
pub struct Backup {
    pub path: String,
    pub passphrase: Zeroizing<String>,
    pub again: Zeroizing<String>,
    pub answer: Answer,
}

impl DialogUi for Backup {
    const ID: &'static str = "backup";

    fn title(&self) -> String {
        "Back up all keys".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("All keys go into one new file, encrypted with a passphrase in the age format (the age CLI can open it too). The file is read back and checked before the keys count as backed up.");
        ui.add_space(6.0);
        path_field(
            app,
            ui,
            "File",
            &mut self.path,
            "/path/to/keys.age",
            PickPurpose::Backup,
            true,
        );
        secret_field(ui, "Passphrase", &mut self.passphrase);
        secret_field(ui, "Again", &mut self.again);
        if !self.again.is_empty() && *self.again != *self.passphrase {
            ui.label(RichText::new("The passphrases differ.").color(ui.visuals().error_fg_color));
        }
        self.answer.show(ui, "Writing and checking the backup…");
        let ok = !self.path.trim().is_empty()
            && self.passphrase.chars().count() >= 8
            && *self.again == *self.passphrase
            && !self.answer.pending;
        buttons(ui, "Back up", ok)
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::BackupKeys {
            path: PathBuf::from(self.path.trim()),
            passphrase: self.passphrase.clone(),
        });
        app.dialog = Some(super::Dialog::Backup(Self {
            answer: Answer::sent(),
            ..self
        }));
    }

    fn failed(&mut self, error: &str) -> bool {
        self.answer.failed(error)
    }

    fn waiting(&self) -> bool {
        self.answer.pending
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::Backup, &mut self.path))
    }
}

#[derive(Debug, Default)]
pub struct Restore {
    pub path: String,
    pub passphrase: Zeroizing<String>,
    pub answer: Answer,
}

impl DialogUi for Restore {
    const ID: &'static str = "restore";

    fn title(&self) -> String {
        "Restore keys from a backup".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(
            "Keys missing from the keyring are put back; keys new to this computer are imported.",
        );
        ui.add_space(6.0);
        path_field(
            app,
            ui,
            "File",
            &mut self.path,
            "/path/to/keys.age",
            PickPurpose::Restore,
            false,
        );
        secret_field(ui, "Passphrase", &mut self.passphrase);
        self.answer.show(ui, "Opening the backup…");
        let ok =
            !self.path.trim().is_empty() && !self.passphrase.is_empty() && !self.answer.pending;
        buttons(ui, "Restore", ok)
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::RestoreKeys {
            path: PathBuf::from(self.path.trim()),
            passphrase: self.passphrase.clone(),
        });
        app.dialog = Some(super::Dialog::Restore(Self {
            answer: Answer::sent(),
            ..self
        }));
    }

    fn failed(&mut self, error: &str) -> bool {
        self.answer.failed(error)
    }

    fn waiting(&self) -> bool {
        self.answer.pending
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::Restore, &mut self.path))
    }
}

/// The worker's answer a dialog waits for after its OK: a spinner while it runs, then the
/// error in red (the dialog stays open with what was typed).
#[derive(Debug, Default)]
pub struct Answer {
    pub pending: bool,
    pub error: Option<String>,
}

impl Answer {
    fn sent() -> Self {
        Self {
            pending: true,
            error: None,
        }
    }

    fn failed(&mut self, error: &str) -> bool {
        self.pending = false;
        self.error = Some(error.to_string());
        true
    }

    fn show(&self, ui: &mut egui::Ui, doing: &str) {
        if self.pending {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(doing);
            });
        } else if let Some(e) = &self.error {
            ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
        }
    }
}

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
    /// Sent; waiting for the worker.
    pub pending: bool,
    /// Why the last try failed (the input is kept).
    pub error: Option<String>,
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
        waiting_or_error(
            ui,
            self.pending,
            "Writing and checking the backup…",
            &self.error,
        );
        let ok = !self.path.trim().is_empty()
            && self.passphrase.chars().count() >= 8
            && *self.again == *self.passphrase
            && !self.pending;
        buttons(ui, "Back up", ok)
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::BackupKeys {
            path: PathBuf::from(self.path.trim()),
            passphrase: self.passphrase.clone(),
        });
        app.dialog = Some(super::Dialog::Backup(Self {
            pending: true,
            error: None,
            ..self
        }));
    }

    fn failed(&mut self, error: &str) -> bool {
        self.pending = false;
        self.error = Some(error.to_string());
        true
    }

    fn waiting(&self) -> bool {
        self.pending
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::Backup, &mut self.path))
    }
}

#[derive(Debug, Default)]
pub struct Restore {
    pub path: String,
    pub passphrase: Zeroizing<String>,
    /// Sent; waiting for the worker.
    pub pending: bool,
    /// Why the last try failed (the input is kept).
    pub error: Option<String>,
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
        waiting_or_error(ui, self.pending, "Opening the backup…", &self.error);
        let ok = !self.path.trim().is_empty() && !self.passphrase.is_empty() && !self.pending;
        buttons(ui, "Restore", ok)
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::RestoreKeys {
            path: PathBuf::from(self.path.trim()),
            passphrase: self.passphrase.clone(),
        });
        app.dialog = Some(super::Dialog::Restore(Self {
            pending: true,
            error: None,
            ..self
        }));
    }

    fn failed(&mut self, error: &str) -> bool {
        self.pending = false;
        self.error = Some(error.to_string());
        true
    }

    fn waiting(&self) -> bool {
        self.pending
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::Restore, &mut self.path))
    }
}

/// A spinner while the worker runs the dialog's operation, else the last error in red.
fn waiting_or_error(ui: &mut egui::Ui, pending: bool, doing: &str, error: &Option<String>) {
    if pending {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(doing);
        });
    } else if let Some(e) = error {
        ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
    }
}

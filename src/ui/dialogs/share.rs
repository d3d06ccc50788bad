//! Keys between people: share keys with others' public keys (pasted, or read from a keys
//! file such as https://github.com/USER.keys saved), and receive a share with an identity.

use std::path::PathBuf;

use egui::RichText;
use zeroize::Zeroizing;

use super::{Choice, DialogUi, PickPurpose, buttons, path_field, secret_field};
use crate::core::share::parse_recipients;
use crate::ui::{App, Command};

#[derive(Debug, Default)]
pub struct Share {
    pub labels: Vec<String>,
    /// One recipient per line: age1..., ssh-ed25519 ..., ssh-rsa ...
    pub recipients: String,
    /// A keys file to read recipients from (its lines are added to `recipients`).
    pub recipients_file: String,
    pub manifest: bool,
    pub path: String,
}

impl Share {
    pub fn new(label: &str) -> Self {
        Self {
            labels: vec![label.to_string()],
            manifest: true,
            ..Self::default()
        }
    }

    /// Adds the lines of the chosen keys file to the recipients.
    fn read_file(&mut self) -> Result<(), String> {
        let path = self.recipients_file.trim();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        if !self.recipients.is_empty() && !self.recipients.ends_with('\n') {
            self.recipients.push('\n');
        }
        self.recipients.push_str(&text);
        self.recipients_file.clear();
        Ok(())
    }
}

impl DialogUi for Share {
    const ID: &'static str = "share";

    fn title(&self) -> String {
        format!("Share key \"{}\"", self.labels.join("\", \""))
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("The key goes into one new file encrypted to the recipients' public keys (age format): only they can open it, with ssec-manager (Receive…) or the age CLI. Paste one public key per line: age1…, ssh-ed25519 … or ssh-rsa ….");
        ui.add_space(6.0);
        let label = ui.label("Recipients, one per line:").id;
        ui.add(
            egui::TextEdit::multiline(&mut self.recipients)
                .hint_text("age1…\nssh-ed25519 AAAA… alice@example")
                .desired_rows(4)
                .desired_width(500.0),
        )
        .labelled_by(label);
        path_field(
            app,
            ui,
            "Or from a file",
            &mut self.recipients_file,
            "a keys file (e.g. USER.keys from GitHub)",
            PickPurpose::Recipients,
            false,
        );
        if !self.recipients_file.trim().is_empty()
            && ui.button("Add the file's keys").clicked()
            && let Err(e) = self.read_file()
        {
            app.error(e);
        }
        let parsed = parse_recipients(&self.recipients, "recipients");
        let ok_recipients = match &parsed {
            Ok(r) if r.recipients.is_empty() => {
                ui.label(RichText::new("No recipient yet.").weak());
                false
            }
            Ok(r) => {
                ui.label(RichText::new(format!("{} recipient(s):", r.recipients.len())).strong());
                for rc in r.recipients.iter().take(5) {
                    ui.monospace(&rc.shown);
                }
                for s in &r.skipped {
                    ui.label(RichText::new(s).color(ui.visuals().warn_fg_color));
                }
                true
            }
            Err(e) => {
                ui.label(RichText::new(e.to_string()).color(ui.visuals().error_fg_color));
                false
            }
        };
        ui.checkbox(
            &mut self.manifest,
            "Include the list of objects it encrypts (bucket, name, size, checksum)",
        );
        path_field(
            app,
            ui,
            "Save as",
            &mut self.path,
            "/path/to/shared-key.age",
            PickPurpose::Share,
            true,
        );
        ui.label(RichText::new("Whoever holds this file and a matching identity reads every object of the key. The audit lists who got it.").weak());
        buttons(ui, "Share", ok_recipients && !self.path.trim().is_empty())
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::ShareKeys {
            labels: self.labels,
            recipients: self.recipients,
            manifest: self.manifest,
            path: PathBuf::from(self.path.trim()),
        });
    }

    fn picked(&mut self, purpose: PickPurpose, path: String) {
        match purpose {
            PickPurpose::Recipients => self.recipients_file = path,
            PickPurpose::Share => self.path = path,
            _ => {}
        }
    }
}

#[derive(Debug, Default)]
pub struct Receive {
    pub path: String,
    pub identity: String,
    pub passphrase: Zeroizing<String>,
}

impl DialogUi for Receive {
    const ID: &'static str = "receive";

    fn title(&self) -> String {
        "Receive shared keys".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("Open a key share with your identity: an age identity file (AGE-SECRET-KEY-1…) or your SSH private key. Its keys go into the keyring; the objects it lists are recorded once the server confirms each with its key.");
        ui.add_space(6.0);
        path_field(
            app,
            ui,
            "Share file",
            &mut self.path,
            "/path/to/shared-key.age",
            PickPurpose::Receive,
            false,
        );
        path_field(
            app,
            ui,
            "Identity",
            &mut self.identity,
            "~/.ssh/id_ed25519 or key.txt",
            PickPurpose::Identity,
            false,
        );
        secret_field(ui, "Passphrase", &mut self.passphrase);
        ui.label(RichText::new("Only for an SSH key protected by a passphrase.").weak());
        buttons(
            ui,
            "Receive",
            !self.path.trim().is_empty() && !self.identity.trim().is_empty(),
        )
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::ReceiveKeys {
            path: PathBuf::from(self.path.trim()),
            identity: shellexpand_home(self.identity.trim()),
            passphrase: self.passphrase,
        });
    }

    fn picked(&mut self, purpose: PickPurpose, path: String) {
        match purpose {
            PickPurpose::Receive => self.path = path,
            PickPurpose::Identity => self.identity = path,
            _ => {}
        }
    }
}

/// "~/x" as the home folder's x (people type SSH key paths that way).
fn shellexpand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), directories::BaseDirs::new()) {
        (Some(rest), Some(d)) => d.home_dir().join(rest),
        _ => PathBuf::from(path),
    }
}

//! A folder's default key, and leaving SSE-C (a folder's or a key's objects).

use egui::RichText;

use super::{Choice, DialogUi, buttons, combo, field};
use crate::core::defaults::default_for;
use crate::core::jobs::JobSpec;
use crate::core::migrate::Target;
use crate::core::rotate::RotateSelection;
use crate::ui::{App, Command, Screen};

/// Sets (or removes) the default key of the open folder.
#[derive(Debug)]
pub struct DefaultKey {
    pub connection: String,
    pub bucket: String,
    pub prefix: String,
    pub key: String,
}

impl DefaultKey {
    pub fn new(app: &App, connection: String, bucket: String, prefix: String) -> Self {
        let key = default_for(&app.defaults, &connection, &bucket, &prefix)
            .and_then(|d| d.key_label.clone())
            .unwrap_or_default();
        Self {
            connection,
            bucket,
            prefix,
            key,
        }
    }

    fn own(&self, app: &App) -> bool {
        app.defaults.iter().any(|d| {
            d.connection == self.connection && d.bucket == self.bucket && d.prefix == self.prefix
        })
    }
}

impl DialogUi for DefaultKey {
    const ID: &'static str = "default-key";

    fn title(&self) -> String {
        format!("Default key for s3://{}/{}", self.bucket, self.prefix)
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("Uploads and drops into this folder (and its subfolders, unless they have their own) use this key unless another is chosen; choosing another asks first.");
        ui.add_space(6.0);
        let keys = app
            .keys
            .iter()
            .map(|k| k.summary.key.label.clone())
            .collect();
        combo(ui, "Key", &mut self.key, keys);
        if let Some(d) = default_for(&app.defaults, &self.connection, &self.bucket, &self.prefix)
            .filter(|_| !self.own(app))
        {
            ui.label(format!(
                "Now: \"{}\", inherited from {}",
                d.key_label.as_deref().unwrap_or("(deleted key)"),
                d.place()
            ));
        }
        if self.own(app) && ui.button("Remove this folder's default").clicked() {
            app.backend.send(Command::SetDefaultKey {
                connection: self.connection.clone(),
                bucket: self.bucket.clone(),
                prefix: self.prefix.clone(),
                label: None,
            });
            return Choice::Cancel;
        }
        buttons(ui, "Make default", !self.key.is_empty())
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::SetDefaultKey {
            connection: self.connection,
            bucket: self.bucket,
            prefix: self.prefix,
            label: Some(self.key),
        });
    }
}

/// Moves a folder's or a key's objects off SSE-C, in place on the server.
#[derive(Debug)]
pub struct Migrate {
    pub selection: RotateSelection,
    pub what: String,
    /// "sse-s3", "sse-kms" or "none".
    pub target: String,
    pub kms_key: String,
    /// Typed "none" to confirm storing without encryption.
    pub confirmed: bool,
    pub preview: super::rotate::TargetsPreview,
}

impl Migrate {
    pub fn new(selection: RotateSelection, what: String) -> Self {
        Self {
            selection,
            what,
            target: "sse-s3".into(),
            kms_key: String::new(),
            confirmed: false,
            preview: Default::default(),
        }
    }

    fn target(&self) -> Option<Target> {
        match self.target.as_str() {
            "sse-kms" if !self.kms_key.trim().is_empty() => {
                Some(Target::SseKms(Some(self.kms_key.trim().to_string())))
            }
            other => other.parse().ok(),
        }
    }
}

impl DialogUi for Migrate {
    const ID: &'static str = "migrate";

    fn title(&self) -> String {
        "Move off SSE-C".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(format!("Re-encrypt {} on the server without a customer key: each object is copied onto itself, read with its key and written with the server's encryption (SSE-S3), a KMS key, or none. A HEAD without the key confirms each object before the registry lets go of the key; the key itself is kept (listed as retired).", self.what));
        ui.add_space(6.0);
        combo(
            ui,
            "Move to",
            &mut self.target,
            vec!["sse-s3".into(), "sse-kms".into(), "none".into()],
        );
        if self.target == "sse-kms" {
            field(
                ui,
                "KMS key id",
                &mut self.kms_key,
                "optional: the bucket's default",
            );
        }
        ui.add_space(6.0);
        let scope = self.selection.scope(None);
        let count = self.preview.show(
            app,
            ui,
            &scope,
            "object(s) will leave SSE-C:",
            |url, label| format!("{url}  (key {})", label.unwrap_or("?")),
        );
        let none = self.target == "none";
        if none {
            ui.label(
                RichText::new("They will be stored WITHOUT encryption: anyone who can read the bucket reads them.")
                    .color(ui.visuals().error_fg_color),
            );
            ui.checkbox(&mut self.confirmed, "Store them unencrypted");
        }
        ui.label(RichText::new("A server that ignores SSE-S3/KMS (Garage does) is found out by a probe first, and nothing is migrated there.").weak());
        let ok =
            count.is_some_and(|n| n > 0) && self.target().is_some() && (!none || self.confirmed);
        buttons(ui, "Migrate", ok)
    }

    fn confirm(self, app: &mut App) {
        let Some(target) = self.target() else {
            return;
        };
        if let Some(jobs) = app.jobs() {
            jobs.start(JobSpec::Migrate {
                selection: self.selection,
                target,
            });
            app.prefs.screen = Screen::Transfers;
        }
    }
}

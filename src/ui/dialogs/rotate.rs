//! The rotate dialog: which objects, to which key, and a preview of exactly what the
//! rotation will take (the core's own `rotate::select`, over the rows the window holds).

use egui::RichText;

use super::{Choice, DialogUi, buttons, combo, field};
use crate::core::jobs::JobSpec;
use crate::core::location::S3Location;
use crate::core::registry::ObjectRecord;
use crate::core::rotate::{RotateSelection, select};
use crate::ui::{App, Screen};

#[derive(Debug)]
pub struct Rotate {
    pub selection: RotateSelection,
    /// The selection in words ("everything key \"a\" encrypts").
    pub what: String,
    /// The key rotated away from, when the selection is a key's (not offered as target).
    pub from_label: Option<String>,
    /// The target key's label.
    pub to: String,
    /// With a key's selection: only objects under this s3://BUCKET/PREFIX.
    pub prefix: String,
}

impl Rotate {
    pub fn new(selection: RotateSelection, what: String) -> Self {
        Self {
            selection,
            what,
            from_label: None,
            to: String::new(),
            prefix: String::new(),
        }
    }

    /// Everything a key encrypts; None if the window does not know that key.
    pub fn key(app: &App, label: &str) -> Option<Self> {
        let key = app.keys.iter().find(|k| k.summary.key.label == label)?;
        let selection = RotateSelection::Key {
            from: key.summary.key.fingerprint.clone(),
            within: None,
        };
        Some(Self {
            from_label: Some(label.to_string()),
            ..Self::new(selection, format!("everything key \"{label}\" encrypts"))
        })
    }

    /// The selection with the prefix field applied (a key's objects under a place).
    fn effective(&self) -> RotateSelection {
        match &self.selection {
            RotateSelection::Key { from, .. } => RotateSelection::Key {
                from: from.clone(),
                within: S3Location::parse(self.prefix.trim()).ok(),
            },
            other => other.clone(),
        }
    }

    /// The registry rows the rotation will move, as the window knows them.
    fn targets<'a>(&self, app: &'a App) -> Vec<&'a ObjectRecord> {
        let to = app
            .keys
            .iter()
            .find(|k| k.summary.key.label == self.to)
            .map(|k| k.summary.key.fingerprint.clone());
        select(&app.objects, &self.effective(), to.as_ref())
    }
}

impl DialogUi for Rotate {
    const ID: &'static str = "rotate";

    fn title(&self) -> String {
        "Rotate to another key".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        let keys: Vec<String> = app
            .keys
            .iter()
            .map(|k| k.summary.key.label.clone())
            .filter(|l| Some(l) != self.from_label.as_ref())
            .collect();
        ui.label(format!("Re-encrypt {} with another key, on the server: each object is copied onto itself, read with its current key and written with the new one. Nothing is downloaded, unless the server refuses the copy: then that object comes through this computer (downloaded with the old key, uploaded with the new one) and the job says so. A HEAD with the new key confirms each copy before the registry moves the object.", self.what));
        ui.add_space(6.0);
        combo(ui, "New key", &mut self.to, keys);
        let mut bad_prefix = false;
        if matches!(self.selection, RotateSelection::Key { .. }) {
            field(
                ui,
                "Only under",
                &mut self.prefix,
                "s3://BUCKET/PREFIX (optional)",
            );
            if !self.prefix.trim().is_empty()
                && let Err(e) = S3Location::parse(self.prefix.trim())
            {
                ui.label(RichText::new(e.to_string()).color(ui.visuals().error_fg_color));
                bad_prefix = true;
            }
        }
        let targets = self.targets(app);
        ui.add_space(6.0);
        ui.label(RichText::new(format!("{} object(s) will change:", targets.len())).strong());
        for o in targets.iter().take(6) {
            ui.monospace(format!(
                "{}  ({} -> {})",
                o.url(),
                o.key_label.as_deref().unwrap_or("?"),
                self.to
            ));
        }
        if targets.len() > 6 {
            ui.label(format!("… and {} more", targets.len() - 6));
        }
        ui.label(RichText::new("Keep the old key until the audit shows nothing depends on it: a versioned bucket keeps old versions under it.").weak());
        let ok = !self.to.is_empty() && !targets.is_empty() && !bad_prefix;
        buttons(ui, "Rotate", ok)
    }

    fn confirm(self, app: &mut App) {
        if let Some(jobs) = app.jobs() {
            jobs.start(JobSpec::Rotate {
                selection: self.effective(),
                to_label: self.to,
            });
            app.prefs.screen = Screen::Transfers;
        }
    }
}

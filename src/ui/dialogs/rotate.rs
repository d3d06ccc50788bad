//! The rotate dialog: which objects, to which key, and a preview of exactly what the
//! rotation will take (the registry counts the core's own selection and reads its first rows;
//! the window never holds the rows of a whole key).

use egui::RichText;

use super::{Choice, DialogUi, buttons, combo, field};
use crate::core::jobs::JobSpec;
use crate::core::location::S3Location;
use crate::core::registry::ObjectScope;
use crate::core::rotate::RotateSelection;
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
    pub preview: TargetsPreview,
}

/// A preview's first rows: (s3 URL, key label).
pub type FirstRows = Vec<(String, Option<String>)>;

/// How many objects an operation's selection takes, and its first few, as the registry
/// answered for the selection shown (asked again when the selection changes).
#[derive(Debug, Default)]
pub struct TargetsPreview {
    asked: Option<ObjectScope>,
    /// The answer: for which scope, how many, the first rows (object, key label).
    pub shown: Option<(ObjectScope, u64, FirstRows)>,
}

impl TargetsPreview {
    /// The answer for `scope`, asked of the registry when it is not the one shown or asked.
    pub fn for_scope(&mut self, app: &App, scope: &ObjectScope) -> Option<(u64, &FirstRows)> {
        if self.asked.as_ref() != Some(scope) {
            self.asked = Some(scope.clone());
            app.backend.send(crate::ui::Command::PreviewTargets {
                scope: scope.clone(),
            });
        }
        match &self.shown {
            Some((s, n, first)) if s == scope => Some((*n, first)),
            _ => None,
        }
    }

    /// Lists the answer under a heading ("N object(s) will change:"), each row through
    /// `row`; a spinner while the registry is asked. Returns the count, once known.
    pub fn show(
        &mut self,
        app: &App,
        ui: &mut egui::Ui,
        scope: &ObjectScope,
        heading: &str,
        row: impl Fn(&str, Option<&str>) -> String,
    ) -> Option<u64> {
        let Some((n, first)) = self.for_scope(app, scope) else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Counting the objects it takes…");
            });
            return None;
        };
        ui.label(RichText::new(format!("{n} {heading}")).strong());
        for (object, label) in first {
            ui.monospace(row(object, label.as_deref()));
        }
        if n > first.len() as u64 {
            ui.label(format!("… and {} more", n - first.len() as u64));
        }
        Some(n)
    }
}

impl Rotate {
    pub fn new(selection: RotateSelection, what: String) -> Self {
        Self {
            selection,
            what,
            from_label: None,
            to: String::new(),
            prefix: String::new(),
            preview: TargetsPreview::default(),
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

    /// The registry rows the rotation will move.
    fn scope(&self, app: &App) -> ObjectScope {
        let to = app
            .keys
            .iter()
            .find(|k| k.summary.key.label == self.to)
            .map(|k| k.summary.key.fingerprint.clone());
        self.effective().scope(to.as_ref())
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
        let scope = self.scope(app);
        ui.add_space(6.0);
        let to = self.to.clone();
        let count = self
            .preview
            .show(app, ui, &scope, "object(s) will change:", |url, label| {
                format!("{url}  ({} -> {to})", label.unwrap_or("?"))
            });
        ui.label(RichText::new("Keep the old key until the audit shows nothing depends on it: a versioned bucket keeps old versions under it.").weak());
        let ok = !self.to.is_empty() && count.is_some_and(|n| n > 0) && !bad_prefix;
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

//! Transfer dialogs: upload what was dropped, download an object, delete one.

use std::path::PathBuf;

use egui::RichText;

use super::{Choice, DialogUi, PickPurpose, buttons, combo, field, path_field};
use crate::core::jobs::JobSpec;
use crate::core::location::{S3Url, local_path_for};
use crate::ui::{App, Command, Screen};

/// Files or folders to upload, with where they go and the key.
#[derive(Debug, Clone)]
pub struct Upload {
    pub files: Vec<PathBuf>,
    pub connection: String,
    pub bucket: String,
    pub prefix: String,
    pub key: String,
    /// The key was chosen by hand (else it follows the place's default key).
    pub key_chosen: bool,
    /// The warning about another key than the place's default that was confirmed (a new
    /// place or key makes a new warning, to confirm again).
    pub confirmed: Option<String>,
    /// The key never backed up that the user chose to encrypt with anyway.
    pub without_backup: Option<String>,
}

impl Upload {
    /// Aimed at the open bucket and prefix, with the place's default key, else the last
    /// key used.
    pub fn new(app: &App, files: Vec<PathBuf>) -> Self {
        let key = default_key(app);
        let mut upload = Self {
            files,
            connection: app
                .browser
                .connection
                .clone()
                .or_else(|| app.connections.first().map(|c| c.name.clone()))
                .unwrap_or_default(),
            bucket: app
                .browser
                .bucket
                .clone()
                .or_else(|| app.prefs.last_bucket.clone())
                .or_else(|| app.last_bucket.clone())
                .unwrap_or_default(),
            prefix: app.browser.prefix.clone(),
            key,
            key_chosen: false,
            confirmed: None,
            without_backup: None,
        };
        upload.follow_default(app);
        upload
    }

    /// The default key of where the files go, if that place has one.
    fn place_default<'a>(&self, app: &'a App) -> Option<&'a crate::core::registry::DefaultKey> {
        let prefix = crate::core::location::folder_prefix(&self.prefix);
        crate::core::defaults::default_for(&app.defaults, &self.connection, &self.bucket, &prefix)
    }

    /// Takes the place's default key unless a key was chosen by hand.
    fn follow_default(&mut self, app: &App) {
        if !self.key_chosen
            && let Some(label) = self.place_default(app).and_then(|d| d.key_label.clone())
        {
            self.key = label;
        }
    }
}

impl DialogUi for Upload {
    const ID: &'static str = "upload";

    fn title(&self) -> String {
        "Upload with SSE-C".into()
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(format!("{} item(s):", self.files.len()));
        egui::ScrollArea::vertical()
            .max_height(90.0)
            .show(ui, |ui| {
                for p in &self.files {
                    let kind = if p.is_dir() { "📁" } else { "📄" };
                    ui.label(format!("{kind} {}", p.display()));
                }
            });
        ui.add_space(6.0);
        combo(
            ui,
            "Connection",
            &mut self.connection,
            app.connections.iter().map(|c| c.name.clone()).collect(),
        );
        // The buckets listed for this connection, when the Objects screen has them.
        let buckets = if app.browser.connection.as_deref() == Some(self.connection.as_str()) {
            app.browser.buckets.clone()
        } else {
            Vec::new()
        };
        if buckets.is_empty() {
            field(ui, "Bucket", &mut self.bucket, "bucket name");
        } else {
            combo(ui, "Bucket", &mut self.bucket, buckets);
        }
        field(ui, "Prefix", &mut self.prefix, "optional/folder/");
        self.follow_default(app);
        let before = self.key.clone();
        combo(
            ui,
            "Key",
            &mut self.key,
            app.keys
                .iter()
                .map(|k| k.summary.key.label.clone())
                .collect(),
        );
        if self.key != before {
            self.key_chosen = true;
        }
        let default = self.place_default(app).cloned();
        let overrides = default
            .as_ref()
            .is_some_and(|d| d.key_label.as_deref() != Some(self.key.as_str()));
        match &default {
            Some(d) if overrides => {
                let warning = format!(
                    "{} has default key \"{}\"; you chose \"{}\".",
                    d.place(),
                    d.key_label.as_deref().unwrap_or("(deleted key)"),
                    self.key
                );
                ui.label(RichText::new(&warning).color(ui.visuals().warn_fg_color));
                let mut yes = self.confirmed.as_ref() == Some(&warning);
                ui.checkbox(&mut yes, format!("Upload with \"{}\" anyway", self.key));
                self.confirmed = yes.then_some(warning);
            }
            Some(d) => {
                ui.label(format!("The default key of {}.", d.place()));
            }
            None => {}
        }
        let fp = app
            .keys
            .iter()
            .find(|k| k.summary.key.label == self.key)
            .map(|k| k.summary.key.fingerprint.to_string());
        ui.add_space(6.0);
        match &fp {
            Some(fp) => {
                ui.label(RichText::new(format!("Encrypt with key {} ({fp})", self.key)).strong());
            }
            None => {
                ui.label(
                    RichText::new("Choose a key (generate one in Keys first).")
                        .color(ui.visuals().warn_fg_color),
                );
            }
        }
        // Backup first: a key never backed up is said, and used only after a yes.
        let never_backed_up = app
            .keys
            .iter()
            .any(|k| k.summary.key.label == self.key && k.summary.key.backup_status == "never");
        if never_backed_up {
            ui.label(
                RichText::new(format!(
                    "Key \"{}\" has never been backed up: if this computer or its keyring is lost, what you upload now cannot be opened again. Back it up first (Keys, Back up…).",
                    self.key
                ))
                .color(ui.visuals().warn_fg_color),
            );
            let mut yes = self.without_backup.as_ref() == Some(&self.key);
            ui.checkbox(&mut yes, "Upload without a backup of the key");
            self.without_backup = yes.then(|| self.key.clone());
        }
        let ok = fp.is_some()
            && !self.bucket.trim().is_empty()
            && !self.connection.is_empty()
            && (!overrides || self.confirmed.is_some())
            && (!never_backed_up || self.without_backup.is_some());
        buttons(ui, "Upload", ok)
    }

    /// The worker plans the files (`transfer::plan_drop`: a folder keeps its name under the
    /// prefix) and queues one job per file.
    fn confirm(self, app: &mut App) {
        app.prefs.last_key = Some(self.key.clone());
        app.prefs.last_connection = Some(self.connection.clone());
        app.prefs.last_bucket = Some(self.bucket.clone());
        app.prefs.screen = Screen::Transfers;
        app.backend.send(Command::Upload {
            files: self.files,
            connection: self.connection,
            bucket: self.bucket,
            prefix: self.prefix,
            key: self.key,
        });
    }
}

/// The last key used if it still exists, else the first.
pub(super) fn default_key(app: &App) -> String {
    app.prefs
        .last_key
        .clone()
        .filter(|k| app.keys.iter().any(|r| &r.summary.key.label == k))
        .or_else(|| app.keys.first().map(|k| k.summary.key.label.clone()))
        .unwrap_or_default()
}

/// Where to save an object; its key comes from the registry.
#[derive(Debug)]
pub struct Download {
    pub connection: String,
    pub url: S3Url,
    pub path: String,
}

impl Download {
    /// Saved in the user's Downloads folder under the object's name, by default.
    pub fn new(connection: &str, url: S3Url) -> Self {
        let dir = super::browse::downloads();
        // The object's name is anyone's text: never `..` or a path (see `local_path_for`).
        let path = local_path_for(&dir, "", url.file_name())
            .unwrap_or_else(|_| dir.join("download"))
            .display()
            .to_string();
        Self {
            connection: connection.to_string(),
            url,
            path,
        }
    }
}

impl DialogUi for Download {
    const ID: &'static str = "download";

    fn title(&self) -> String {
        format!("Download {}", self.url)
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(
            "The key is taken from the registry. The file appears only when complete and checked.",
        );
        path_field(
            app,
            ui,
            "Save as",
            &mut self.path,
            "",
            PickPurpose::Download,
            true,
        );
        buttons(ui, "Download", !self.path.trim().is_empty())
    }

    fn confirm(self, app: &mut App) {
        if let Some(jobs) = app.jobs() {
            jobs.start(JobSpec::Download {
                connection: self.connection,
                src: self.url,
                dest: PathBuf::from(self.path.trim()),
                key_label: None,
            });
            app.prefs.screen = Screen::Transfers;
        }
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::Download, &mut self.path))
    }
}

/// Deleting the ticked objects on the server.
#[derive(Debug)]
pub struct DeleteObjects {
    pub connection: String,
    pub urls: Vec<S3Url>,
}

impl DialogUi for DeleteObjects {
    const ID: &'static str = "delete-objects";

    fn title(&self) -> String {
        format!("Delete {} object(s)?", self.urls.len())
    }

    fn ui(&mut self, _app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("These objects are deleted on the server. This cannot be undone.");
        egui::ScrollArea::vertical()
            .max_height(160.0)
            .show(ui, |ui| {
                for u in &self.urls {
                    ui.monospace(u.to_string());
                }
            });
        buttons(ui, &format!("Delete {} object(s)", self.urls.len()), true)
    }

    fn confirm(self, app: &mut App) {
        for url in self.urls {
            app.backend.send(Command::DeleteObject {
                connection: self.connection.clone(),
                url,
            });
        }
        app.browser.selected.clear();
        app.refresh_listing();
    }
}

/// Deleting an object on the server.
#[derive(Debug)]
pub struct DeleteObject {
    pub connection: String,
    pub url: S3Url,
}

impl DialogUi for DeleteObject {
    const ID: &'static str = "delete-object";

    fn title(&self) -> String {
        format!("Delete {}?", self.url)
    }

    fn ui(&mut self, _app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("The object is deleted on the server. This cannot be undone.");
        buttons(ui, "Delete object", true)
    }

    fn confirm(self, app: &mut App) {
        app.backend.send(Command::DeleteObject {
            connection: self.connection,
            url: self.url,
        });
        app.refresh_listing();
    }
}

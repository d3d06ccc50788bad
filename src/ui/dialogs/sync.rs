//! Folders both ways: "Sync…" on a folder pairing (its plan shown before anything moves,
//! saved to run again) and "Download folder…" on a prefix or a selection.

use std::path::PathBuf;

use egui::RichText;

use super::{Choice, DialogUi, PickPurpose, buttons, combo, path_field};
use crate::core::jobs::JobSpec;
use crate::core::registry::SyncPair;
use crate::core::sync::{Direction, Filters, SyncItem, SyncPlan, SyncRequest};
use crate::ui::{App, Command, Screen};

/// A local folder paired with the open bucket prefix and a key.
#[derive(Debug)]
pub struct Sync {
    pub connection: String,
    pub bucket: String,
    pub prefix: String,
    pub folder: String,
    pub up: bool,
    pub key: String,
    pub delete: bool,
    /// None until "Show plan" is clicked; then the plan of exactly these settings, or why
    /// it could not be made.
    pub plan: Option<Result<Box<SyncPlan>, String>>,
    pub planning: bool,
}

impl Sync {
    /// Aimed at the open folder, with the last key used.
    pub fn new(app: &App, connection: String, bucket: String, prefix: String) -> Self {
        Self {
            connection,
            bucket,
            prefix,
            folder: String::new(),
            up: true,
            key: super::transfer::default_key(app),
            delete: false,
            plan: None,
            planning: false,
        }
    }

    /// A saved pairing, to run again.
    pub fn again(pair: &SyncPair) -> Self {
        Self {
            connection: pair.connection.clone(),
            bucket: pair.bucket.clone(),
            prefix: pair.prefix.clone(),
            folder: pair.local_dir.display().to_string(),
            up: true,
            key: pair.key_label.clone(),
            delete: false,
            plan: None,
            planning: false,
        }
    }

    pub fn request(&self) -> SyncRequest {
        SyncRequest {
            connection: self.connection.clone(),
            local: PathBuf::from(self.folder.trim()),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            direction: if self.up {
                Direction::Up
            } else {
                Direction::Down
            },
            key_label: self.up.then(|| self.key.clone()),
            delete: self.delete,
            rekey: false,
            checksum: false,
            everything: false,
            filters: Filters::default(),
            only: None,
            confirmed_delete: None,
        }
    }

    /// The plan on screen is the plan of the settings on screen.
    fn plan_is_current(&self) -> bool {
        matches!(&self.plan, Some(Ok(p)) if p.request == self.request())
    }
}

impl DialogUi for Sync {
    const ID: &'static str = "sync";

    fn title(&self) -> String {
        format!("Sync with s3://{}/{}", self.bucket, self.prefix)
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(
            "Files are compared by content (BLAKE3 recorded at upload): unchanged files move \
             no byte. Nothing moves until you have seen the plan.",
        );
        path_field(
            app,
            ui,
            "Local folder",
            &mut self.folder,
            "/home/me/Photos",
            PickPurpose::Folder,
            false,
        );
        ui.horizontal(|ui| {
            ui.add_sized([120.0, 20.0], egui::Label::new("Direction"));
            ui.radio_value(&mut self.up, true, "Folder to bucket (upload)");
            ui.radio_value(&mut self.up, false, "Bucket to folder (download)");
        });
        if self.up {
            let labels = app
                .keys
                .iter()
                .map(|k| k.summary.key.label.clone())
                .collect();
            combo(ui, "Key", &mut self.key, labels);
        }
        ui.checkbox(
            &mut self.delete,
            "Delete at the target what the source no longer has",
        );
        ui.add_space(6.0);
        let ready = !self.folder.trim().is_empty() && (!self.up || !self.key.is_empty());
        ui.horizontal(|ui| {
            if ui
                .add_enabled(ready && !self.planning, egui::Button::new("Show plan"))
                .clicked()
            {
                self.planning = true;
                self.plan = None;
                app.backend.send(Command::PlanSync {
                    request: Box::new(self.request()),
                });
            }
            if self.planning {
                ui.spinner();
                ui.label("Listing the prefix and comparing…");
            }
        });
        match &self.plan {
            Some(Ok(plan)) if self.plan_is_current() => plan_ui(ui, plan),
            Some(Ok(_)) => {
                ui.label(RichText::new("The settings changed: show the plan again.").weak());
            }
            Some(Err(e)) => {
                ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
            }
            None => {}
        }
        buttons(ui, "Sync", self.plan_is_current() && !self.planning)
    }

    fn confirm(self, app: &mut App) {
        let mut request = self.request();
        // The job plans again when it starts: it deletes only what was listed here.
        if let Some(Ok(plan)) = &self.plan {
            request.confirmed_delete = Some(plan.delete.iter().map(|i| i.rel.clone()).collect());
        }
        if self.up {
            app.backend.send(Command::SaveSyncPair {
                request: Box::new(request.clone()),
            });
        }
        start(app, request);
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::Folder, &mut self.folder))
    }
}

/// Starts the folder job and shows it in Transfers.
fn start(app: &mut App, request: SyncRequest) {
    if let Some(jobs) = app.jobs() {
        jobs.start(JobSpec::Sync {
            request: Box::new(request),
        });
        app.prefs.screen = Screen::Transfers;
    }
}

/// The plan's counts, and the files that would move or go.
fn plan_ui(ui: &mut egui::Ui, plan: &SyncPlan) {
    ui.add_space(4.0);
    ui.label(RichText::new(plan.summary()).strong());
    ui.label(format!(
        "{} to move",
        crate::ui::human_bytes(plan.transfer_bytes())
    ));
    let verb = match plan.request.direction {
        Direction::Up => "upload",
        Direction::Down => "download",
    };
    let delete = if plan.request.delete {
        "delete"
    } else {
        "keep"
    };
    let lists: [(&str, &[SyncItem]); 4] = [
        ("new", &plan.new),
        ("changed", &plan.changed),
        ("under another key (kept)", &plan.other_key),
        ("only at the target", &plan.delete),
    ];
    egui::ScrollArea::vertical()
        .max_height(160.0)
        .id_salt("sync-plan")
        .show(ui, |ui| {
            for (what, items) in lists {
                for i in items.iter().take(200) {
                    let action = match what {
                        "new" | "changed" => verb,
                        "only at the target" => delete,
                        _ => "report",
                    };
                    ui.label(format!("{what}: {action} {}", i.rel));
                }
                if items.len() > 200 {
                    ui.label(
                        RichText::new(format!("… and {} more {what}", items.len() - 200)).weak(),
                    );
                }
            }
            for (key, why) in &plan.skipped {
                ui.label(
                    RichText::new(format!("skipped: {key}: {why}"))
                        .color(ui.visuals().warn_fg_color),
                );
            }
        });
}

/// Every object under a prefix (or the selected ones) into a local folder.
#[derive(Debug)]
pub struct DownloadFolder {
    pub connection: String,
    pub bucket: String,
    pub prefix: String,
    /// The selected objects' keys; None: everything under the prefix.
    pub only: Option<Vec<String>>,
    pub folder: String,
}

impl DownloadFolder {
    /// Into a folder of the user's Downloads named after the prefix.
    pub fn new(
        connection: String,
        bucket: String,
        prefix: String,
        only: Option<Vec<String>>,
    ) -> Self {
        let dir = super::browse::downloads();
        let name = prefix
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or(&bucket)
            .to_string();
        let folder = crate::core::location::local_path_for(&dir, "", &name)
            .unwrap_or_else(|_| dir.join("download"))
            .display()
            .to_string();
        Self {
            connection,
            bucket,
            prefix,
            only,
            folder,
        }
    }
}

impl DialogUi for DownloadFolder {
    const ID: &'static str = "download-folder";

    fn title(&self) -> String {
        match &self.only {
            Some(o) => format!("Download {} selected object(s)", o.len()),
            None => format!("Download s3://{}/{}", self.bucket, self.prefix),
        }
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(
            "Each object with its own key from the registry; objects it does not know are \
             tried with every key you hold. Subfolders are recreated inside the folder, never \
             outside it.",
        );
        path_field(
            app,
            ui,
            "Into folder",
            &mut self.folder,
            "",
            PickPurpose::Folder,
            false,
        );
        buttons(ui, "Download", !self.folder.trim().is_empty())
    }

    fn confirm(self, app: &mut App) {
        let request = SyncRequest {
            only: self.only,
            ..SyncRequest::download_folder(
                &self.connection,
                &self.bucket,
                &self.prefix,
                std::path::Path::new(self.folder.trim()),
            )
        };
        start(app, request);
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::Folder, &mut self.folder))
    }
}

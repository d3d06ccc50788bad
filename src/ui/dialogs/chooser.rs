//! A built-in file chooser: the window's own list of a folder's files and subfolders, so
//! choosing what to upload never depends on the desktop's file-chooser portal (often
//! missing on minimal desktops and under Xvfb). "System dialog…" still offers the portal.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use egui::RichText;

use super::{Choice, DialogUi, PickPurpose, buttons};
use crate::ui::App;

/// Files (ticked) or one folder (the one open) to upload.
#[derive(Debug)]
pub struct Chooser {
    /// Choose a folder (the open one) instead of files.
    pub folders: bool,
    /// The folder shown, as typed or entered.
    pub dir: String,
    /// Its subfolders and files, sorted, folders first: (name, is a folder).
    pub entries: Vec<(String, bool)>,
    pub ticked: BTreeSet<String>,
    pub error: Option<String>,
}

impl Chooser {
    /// Opens at the user's home folder.
    pub fn new(folders: bool) -> Self {
        let home = directories::BaseDirs::new()
            .map(|d| d.home_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("/"));
        Self::at(folders, &home)
    }

    pub fn at(folders: bool, dir: &Path) -> Self {
        let mut c = Self {
            folders,
            dir: dir.display().to_string(),
            entries: Vec::new(),
            ticked: BTreeSet::new(),
            error: None,
        };
        c.load();
        c
    }

    /// Reads the folder; an unreadable one says why and keeps the last listing away.
    fn load(&mut self) {
        self.ticked.clear();
        match super::browse::read_folder(Path::new(self.dir.trim())) {
            Ok(entries) => {
                self.entries = entries;
                self.error = None;
            }
            Err(e) => {
                self.entries.clear();
                self.error = Some(e);
            }
        }
    }

    fn enter(&mut self, path: PathBuf) {
        self.dir = path.display().to_string();
        self.load();
    }

    /// What OK uploads: the ticked files, or the open folder.
    fn chosen(&self) -> Vec<PathBuf> {
        let dir = PathBuf::from(self.dir.trim());
        if self.folders {
            return if self.error.is_none() {
                vec![dir]
            } else {
                Vec::new()
            };
        }
        self.ticked.iter().map(|n| dir.join(n)).collect()
    }
}

impl DialogUi for Chooser {
    const ID: &'static str = "chooser";

    fn title(&self) -> String {
        if self.folders {
            "Upload a folder".into()
        } else {
            "Upload files".into()
        }
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.horizontal(|ui| {
            let label = ui.label("Folder").id;
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.dir).desired_width(300.0))
                .labelled_by(label);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                self.load();
            }
            if ui.button("Up").on_hover_text("The parent folder").clicked()
                && let Some(parent) = Path::new(self.dir.trim()).parent()
            {
                self.enter(parent.to_path_buf());
            }
            if ui
                .button("System dialog…")
                .on_hover_text("The desktop's own file chooser, where there is one")
                .clicked()
            {
                app.pick_file(
                    if self.folders {
                        PickPurpose::Folder
                    } else {
                        PickPurpose::UploadFile
                    },
                    false,
                );
            }
        });
        if let Some(e) = &self.error {
            ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
        }
        let mut enter = None;
        egui::ScrollArea::vertical()
            .max_height(260.0)
            .auto_shrink([false, true])
            .show(ui, |ui| {
                for (name, is_dir) in &self.entries {
                    if *is_dir {
                        if ui
                            .selectable_label(false, format!("📁 {name}"))
                            .on_hover_text("Open")
                            .clicked()
                        {
                            enter = Some(name.clone());
                        }
                    } else if self.folders {
                        ui.label(RichText::new(format!("📄 {name}")).weak());
                    } else {
                        let mut on = self.ticked.contains(name);
                        if ui.checkbox(&mut on, format!("📄 {name}")).changed() {
                            if on {
                                self.ticked.insert(name.clone());
                            } else {
                                self.ticked.remove(name);
                            }
                        }
                    }
                }
                if self.entries.is_empty() && self.error.is_none() {
                    ui.label(RichText::new("This folder is empty.").weak());
                }
            });
        if let Some(name) = enter {
            self.enter(PathBuf::from(self.dir.trim()).join(name));
        }
        let n = self.chosen().len();
        let ok_label = if self.folders {
            "Upload this folder".to_string()
        } else {
            format!("Upload {n} file(s)")
        };
        buttons(ui, &ok_label, n > 0)
    }

    fn confirm(self, app: &mut App) {
        let files = self.chosen();
        app.dialog = Some(super::Dialog::upload(app, files));
    }

    fn picked(&mut self, purpose: PickPurpose, path: String) {
        match purpose {
            PickPurpose::Folder if self.folders => self.enter(PathBuf::from(path)),
            PickPurpose::UploadFile if !self.folders => {
                let p = PathBuf::from(&path);
                if let (Some(dir), Some(name)) = (p.parent(), p.file_name()) {
                    self.enter(dir.to_path_buf());
                    self.ticked.insert(name.to_string_lossy().into_owned());
                }
            }
            _ => {}
        }
    }
}

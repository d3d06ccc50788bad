//! Browse… under a path field: the window's own list of a folder, opened in place, so that
//! choosing a file never depends on the desktop's file-chooser portal (often missing on
//! minimal desktops and under Xvfb, where the system dialog never appears and says nothing).
//! "System dialog…" in the list still offers the portal.

use std::path::{Path, PathBuf};

use egui::RichText;

use super::PickPurpose;
use crate::ui::App;

/// A folder's subfolders and files, sorted, folders first: (name, is a folder); or why it
/// cannot be read.
pub(crate) fn read_folder(dir: &Path) -> Result<Vec<(String, bool)>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries: Vec<(String, bool)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            Some((name, e.file_type().map(|t| t.is_dir()).unwrap_or(false)))
        })
        .collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(entries)
}

/// The open list of one path field (kept in egui's memory between frames).
#[derive(Clone, Debug)]
struct Open {
    dir: PathBuf,
    entries: Result<Vec<(String, bool)>, String>,
}

impl Open {
    fn at(dir: PathBuf) -> Self {
        let entries = read_folder(&dir);
        Self { dir, entries }
    }
}

/// The user's Downloads folder (the desktop's setting, else ~/Downloads where it exists),
/// else the home folder: never the folder the program happened to start in.
pub(crate) fn downloads() -> PathBuf {
    let Some(dirs) = directories::UserDirs::new() else {
        return PathBuf::from("/");
    };
    if let Some(d) = dirs.download_dir() {
        return d.to_path_buf();
    }
    let guess = dirs.home_dir().join("Downloads");
    if guess.is_dir() {
        guess
    } else {
        dirs.home_dir().to_path_buf()
    }
}

/// Where the list opens: the folder of what the field holds, else the user's Downloads
/// (for a file to save) or home folder.
fn start(path: &str, save: bool) -> PathBuf {
    let typed = Path::new(path.trim());
    let fallback = if save {
        downloads()
    } else {
        directories::UserDirs::new()
            .map_or_else(|| PathBuf::from("/"), |d| d.home_dir().to_path_buf())
    };
    if typed.is_dir() {
        return typed.to_path_buf();
    }
    typed
        .parent()
        .filter(|p| p.is_dir() && !p.as_os_str().is_empty())
        .map_or(fallback, Path::to_path_buf)
}

/// The Browse… button of a path field: opens (or closes) the list under the field.
pub(crate) fn toggle(ui: &mut egui::Ui, id: egui::Id, path: &str, save: bool) {
    let mut open = ui.data(|d| d.get_temp::<Option<Open>>(id)).flatten();
    if ui
        .button("Browse…")
        .on_hover_text("Choose in this window's own file list")
        .clicked()
    {
        open = match open {
            Some(_) => None,
            None => Some(Open::at(start(path, save))),
        };
    }
    ui.data_mut(|d| d.insert_temp(id, open));
}

/// The list of an open Browse…, under its field; draws nothing when closed. A file clicked
/// fills the field; to save, "Save here as NAME" keeps the field's file name in the folder
/// shown; for a folder, "Use this folder".
pub(crate) fn list(
    app: &App,
    ui: &mut egui::Ui,
    id: egui::Id,
    path: &mut String,
    (purpose, save): (PickPurpose, bool),
) {
    let Some(mut open) = ui.data(|d| d.get_temp::<Option<Open>>(id)).flatten() else {
        return;
    };
    let folders = purpose == PickPurpose::Folder;
    let mut keep = true;
    let mut enter = None;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.label(RichText::new(open.dir.display().to_string()).strong());
            if ui
                .small_button("Up")
                .on_hover_text("The parent folder")
                .clicked()
            {
                enter = open.dir.parent().map(Path::to_path_buf);
            }
            if folders && ui.small_button("Use this folder").clicked() {
                *path = open.dir.display().to_string();
                keep = false;
            }
            if ui
                .small_button("System dialog…")
                .on_hover_text("The desktop's own file chooser, where there is one")
                .clicked()
            {
                app.pick_file(purpose, save);
                keep = false;
            }
            if ui.small_button("Close").clicked() {
                keep = false;
            }
        });
        let entries = match &open.entries {
            Ok(e) => e,
            Err(e) => {
                ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
                return;
            }
        };
        egui::ScrollArea::vertical()
            .id_salt(id.with("scroll"))
            .max_height(160.0)
            .auto_shrink([false, true])
            .show(ui, |ui| {
                for (name, is_dir) in entries {
                    if *is_dir {
                        if ui.selectable_label(false, format!("📁 {name}")).clicked() {
                            enter = Some(open.dir.join(name));
                        }
                    } else if folders {
                        ui.label(RichText::new(format!("📄 {name}")).weak());
                    } else if ui.selectable_label(false, format!("📄 {name}")).clicked() {
                        *path = open.dir.join(name).display().to_string();
                        keep = false;
                    }
                }
                if entries.is_empty() {
                    ui.label(RichText::new("This folder is empty.").weak());
                }
            });
        if save {
            let name = Path::new(path.trim())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.is_empty() && ui.small_button(format!("Save here as {name}")).clicked() {
                *path = open.dir.join(&name).display().to_string();
                keep = false;
            }
        }
    });
    if let Some(dir) = enter {
        open = Open::at(dir);
    }
    ui.data_mut(|d| d.insert_temp(id, keep.then_some(open)));
}

//! The window. Draws state and sends commands; never blocks on I/O, SQLite or the keyring:
//! anything slow runs on a worker and the UI draws its latest result.
//!
//! A plain window for now (the desktop-app issue builds the full app on this).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::core::Home;
use crate::core::registry::KeySummary;

pub const APP_TITLE: &str = "SSE-C Manager";

type Loaded = Option<Result<Vec<KeySummary>, String>>;

pub struct App {
    home_dir: PathBuf,
    keys: Arc<Mutex<Loaded>>,
}

impl App {
    pub fn new(home_dir: PathBuf, runtime: tokio::runtime::Handle, ctx: egui::Context) -> Self {
        let keys: Arc<Mutex<Loaded>> = Arc::default();
        let slot = keys.clone();
        let dir = home_dir.clone();
        runtime.spawn_blocking(move || {
            let loaded = Home::open(&dir)
                .and_then(|h| h.registry.keys().map_err(Into::into))
                .map_err(|e| e.to_string());
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(loaded);
            ctx.request_repaint();
        });
        Self { home_dir, keys }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading(APP_TITLE);
            ui.label(format!("Home: {}", self.home_dir.display()));
            ui.separator();
            let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            match &*keys {
                None => {
                    ui.spinner();
                }
                Some(Err(e)) => {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                Some(Ok(list)) if list.is_empty() => {
                    ui.label("No keys yet. Generate one with `ssec-manager key generate LABEL`.");
                }
                Some(Ok(list)) => {
                    egui::Grid::new("keys").striped(true).show(ui, |ui| {
                        for h in ["Label", "Fingerprint", "Objects", "Bytes", "Backup"] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for k in list {
                            ui.label(&k.key.label);
                            ui.monospace(k.key.fingerprint.as_str());
                            ui.label(k.objects.to_string());
                            ui.label(k.bytes.to_string());
                            ui.label(&k.key.backup_status);
                            ui.end_row();
                        }
                    });
                }
            }
        });
    }
}

/// Opens the window and runs until it is closed.
pub fn run(home_dir: PathBuf, runtime: tokio::runtime::Handle) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(APP_TITLE)
            .with_inner_size([960.0, 640.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        APP_TITLE,
        options,
        Box::new(move |cc| Ok(Box::new(App::new(home_dir, runtime, cc.egui_ctx.clone())))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

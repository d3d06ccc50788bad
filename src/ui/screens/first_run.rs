//! The first run: connect, make or import a key, drop a file.

use egui::RichText;

use super::title;
use crate::ui::App;
use crate::ui::dialogs::Dialog;

pub(super) fn show(app: &mut App, ui: &mut egui::Ui) {
    title(
        ui,
        "Welcome to SSE-C Manager",
        "Your SSE-C keys stay in the OS keyring; this app remembers which key encrypts which object.",
    );
    let step = |ui: &mut egui::Ui, n: &str, head: &str, body: &str| {
        egui::Frame::group(ui.style())
            .inner_margin(12.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width().min(640.0));
                ui.label(RichText::new(format!("{n}  {head}")).size(16.0).strong());
                ui.label(body);
            });
        ui.add_space(6.0);
    };
    step(
        ui,
        "1",
        "Connect to S3",
        "Endpoint, region and credentials (AWS profile, environment, or kept in the keyring).",
    );
    if ui.button("Add connection…").clicked() {
        app.dialog = Some(Dialog::add_connection());
    }
    ui.add_space(8.0);
    step(
        ui,
        "2",
        "Generate or import a key",
        "A new random key, or the key file you already use with the aws CLI (openssl rand -base64 32).",
    );
    ui.horizontal(|ui| {
        if ui.button("Generate key…").clicked() {
            app.dialog = Some(Dialog::generate());
        }
        if ui.button("Import key…").clicked() {
            app.dialog = Some(Dialog::import());
        }
    });
    ui.add_space(8.0);
    step(
        ui,
        "3",
        "Drop a file on this window",
        "It is uploaded with SSE-C and recorded with its key, so it can always be found and opened.",
    );
}

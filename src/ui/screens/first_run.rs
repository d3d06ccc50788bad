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
        "Back up your keys",
        "One file encrypted with a passphrase (age): without it, losing this computer loses every object.",
    );
    ui.add_space(8.0);
    step(
        ui,
        "4",
        "Upload: drop files on this window, or choose them",
        "They are uploaded with SSE-C and recorded with their key, so they can always be found and opened.",
    );
}

/// Until a connection, a key and a backup of the keys exist: what is done and what is
/// left, one line over the Keys and Objects screens, each missing step a button.
pub(super) fn guide_strip(app: &mut App, ui: &mut egui::Ui) {
    let connected = !app.connections.is_empty();
    let has_key = !app.keys.is_empty();
    let backed_up = app
        .keys
        .iter()
        .any(|k| k.summary.key.backup_status != "never");
    if app.opened.is_none() || (connected && has_key && backed_up) {
        return;
    }
    egui::Frame::group(ui.style())
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Getting started:").strong());
                let done = |ui: &mut egui::Ui, what: &str| {
                    ui.label(
                        RichText::new(format!("{what} (done)")).color(super::tone(ui, super::GOOD)),
                    );
                };
                if connected {
                    done(ui, "1 Connect");
                } else if ui.button("1 Add connection…").clicked() {
                    app.dialog = Some(Dialog::add_connection());
                }
                if has_key {
                    done(ui, "2 Key");
                } else if ui.button("2 Generate key…").clicked() {
                    app.dialog = Some(Dialog::generate());
                }
                if backed_up {
                    done(ui, "3 Backup");
                } else if ui
                    .button("3 Back up keys…")
                    .on_hover_text("No key has a backup yet: one file, encrypted with a passphrase")
                    .clicked()
                {
                    app.dialog = Some(Dialog::backup());
                }
                ui.label("4 Upload: drop files, or Upload files… in Objects");
            });
        });
    ui.add_space(4.0);
}

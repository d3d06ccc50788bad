//! The five screens, one module each. Each draws from the App's latest state and sends
//! commands; none waits.

mod audit;
mod connections;
mod first_run;
mod keys;
mod objects;
mod transfers;

use egui::RichText;

use super::{App, Screen};

/// The height of a table row.
const ROW: f32 = 26.0;

/// Green: stored, present, done.
pub(crate) const GOOD: egui::Color32 = egui::Color32::from_rgb(80, 170, 90);

/// Amber: at risk (a key never backed up, an object under a key not here).
pub(crate) const AMBER: egui::Color32 = egui::Color32::from_rgb(220, 150, 40);

/// Red: an object that cannot be opened with what this computer holds.
pub(crate) const BAD: egui::Color32 = egui::Color32::from_rgb(235, 95, 95);

/// The audit's MEDIUM and LOW finding panels (CRITICAL and HIGH use the error and warning
/// banners' fills).
pub(crate) const MEDIUM_FILL: egui::Color32 = egui::Color32::from_rgb(60, 70, 90);
pub(crate) const LOW_FILL: egui::Color32 = egui::Color32::from_rgb(55, 60, 60);

/// A status colour made readable on the current theme (see `theme::tone`).
pub(crate) fn tone(ui: &egui::Ui, c: egui::Color32) -> egui::Color32 {
    crate::ui::theme::tone(ui.visuals().dark_mode, c)
}

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    if app.keys.is_empty()
        && app.connections.is_empty()
        && app.opened.is_some()
        && matches!(app.prefs.screen, Screen::Keys | Screen::Connections)
    {
        first_run::show(app, ui);
        return;
    }
    match app.prefs.screen {
        Screen::Keys => keys::show(app, ui),
        Screen::Objects => objects::show(app, ui),
        Screen::Transfers => transfers::show(app, ui),
        Screen::Audit => audit::show(app, ui),
        Screen::Connections => connections::show(app, ui),
    }
}

/// A screen's heading and the line under it.
fn title(ui: &mut egui::Ui, text: &str, sub: &str) {
    ui.add_space(4.0);
    ui.heading(RichText::new(text).size(22.0).strong());
    ui.label(RichText::new(sub).weak());
    ui.add_space(8.0);
}

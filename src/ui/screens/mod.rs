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
const GOOD: egui::Color32 = egui::Color32::from_rgb(80, 170, 90);

/// A status colour made readable on the current theme: on the light theme's white the
/// bright greens and oranges fall under 3:1, so they are darkened to about 5:1.
pub(crate) fn tone(ui: &egui::Ui, c: egui::Color32) -> egui::Color32 {
    if ui.visuals().dark_mode {
        c
    } else {
        let d = |v: u8| (f32::from(v) * 0.5) as u8;
        egui::Color32::from_rgb(d(c.r()), d(c.g()), d(c.b()))
    }
}

/// Red: an object that cannot be opened with what this computer holds.
const BAD: egui::Color32 = egui::Color32::from_rgb(225, 75, 75);

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

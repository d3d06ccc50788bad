//! Closing the window while transfers run.

use super::{Choice, DialogUi};
use crate::ui::App;

#[derive(Debug)]
pub struct ConfirmClose;

impl DialogUi for ConfirmClose {
    const ID: &'static str = "confirm-close";

    fn title(&self) -> String {
        "Transfers are running".into()
    }

    fn ui(&mut self, _app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label(
            "Quitting cancels them: unfinished uploads are aborted, partial downloads removed.",
        );
        let mut c = Choice::None;
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            if ui.button("Cancel transfers and quit").clicked() {
                c = Choice::Ok;
            }
            if ui.button("Keep running").clicked() {
                c = Choice::Cancel;
            }
        });
        c
    }

    fn confirm(self, app: &mut App) {
        if let Some(j) = app.jobs() {
            j.cancel_all();
        }
        app.close_when_idle();
    }
}

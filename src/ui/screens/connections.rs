//! The Connections screen: S3 endpoints, test, browse, edit, remove.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::{ROW, title};
use crate::core::registry::{ConnectionRecord, CredentialSource};
use crate::ui::dialogs::{Dialog, RemoveConnection};
use crate::ui::{App, Command, Screen};

pub(super) fn show(app: &mut App, ui: &mut egui::Ui) {
    title(
        ui,
        "Connections",
        "S3 endpoints. Secrets you choose to store are kept in the OS keyring.",
    );
    if ui.button("➕ Add connection…").clicked() {
        app.dialog = Some(Dialog::add_connection());
    }
    ui.add_space(6.0);
    let conns = app.connections.clone();
    TableBuilder::new(ui)
        .id_salt("conn-table")
        .striped(true)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::auto().at_least(120.0))
        .column(Column::auto().at_least(240.0))
        .column(Column::auto().at_least(90.0))
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(150.0))
        .column(Column::remainder().at_least(200.0))
        .header(ROW, |mut h| {
            for c in [
                "Name",
                "Endpoint",
                "Region",
                "Style",
                "Credentials",
                "Actions",
            ] {
                h.col(|ui| {
                    ui.strong(c);
                });
            }
        })
        .body(|body| {
            body.rows(ROW + 4.0, conns.len(), |mut row| {
                let c = &conns[row.index()];
                connection_row(app, &mut row, c);
            });
        });
}

/// Test, or a spinner while the test runs; then its answer as a word, the detail on hover.
fn test_button(app: &mut App, ui: &mut egui::Ui, name: &str) {
    match app.tested.get(name) {
        Some(None) => {
            ui.spinner();
            ui.label("Testing…");
            return;
        }
        Some(Some(Ok(n))) => {
            let text = RichText::new("works").color(super::tone(ui, super::GOOD));
            ui.label(text)
                .on_hover_text(format!("The last test listed {n} bucket(s)"));
        }
        Some(Some(Err(e))) => {
            let text = RichText::new("failed").color(ui.visuals().error_fg_color);
            ui.label(text)
                .on_hover_text(crate::ui::words::for_window(e));
        }
        None => {}
    }
    if ui
        .small_button("Test")
        .on_hover_text("List the buckets with these settings")
        .clicked()
    {
        app.tested.insert(name.to_string(), None);
        app.backend.send(Command::TestConnection {
            name: name.to_string(),
        });
    }
}

/// One connection: its settings and Test, Browse, Edit…, Remove….
fn connection_row(app: &mut App, row: &mut egui_extras::TableRow<'_, '_>, c: &ConnectionRecord) {
    row.col(|ui| {
        ui.label(RichText::new(&c.name).strong());
    });
    row.col(|ui| {
        ui.label(c.endpoint.as_deref().unwrap_or("AWS"));
    });
    row.col(|ui| {
        ui.label(&c.region);
    });
    row.col(|ui| {
        ui.label(if c.path_style { "path" } else { "virtual host" });
    });
    row.col(|ui| {
        ui.label(match c.credential_source {
            CredentialSource::AwsChain => "AWS chain".to_string(),
            CredentialSource::Profile => {
                format!("profile {}", c.profile.as_deref().unwrap_or(""))
            }
            CredentialSource::Keyring => "keyring".to_string(),
        });
    });
    row.col(|ui| {
        test_button(app, ui, &c.name);
        if ui.small_button("Browse").clicked() {
            app.browser = crate::ui::Browser {
                connection: Some(c.name.clone()),
                buckets_requested: true,
                ..Default::default()
            };
            app.backend.send(Command::ListBuckets {
                connection: c.name.clone(),
            });
            app.prefs.screen = Screen::Objects;
        }
        if ui.small_button("Edit…").clicked() {
            app.dialog = Some(Dialog::edit_connection(c));
        }
        if ui.small_button("Remove…").clicked() {
            app.dialog = Some(Dialog::RemoveConnection(RemoveConnection {
                name: c.name.clone(),
            }));
        }
    });
}

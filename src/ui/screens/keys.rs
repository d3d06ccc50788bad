//! The Keys screen: every key, what it encrypts, its backup, and what can be done with it.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::{ROW, title};
use crate::core::rotate::RotateSelection;
use crate::ui::dialogs::{Dialog, Migrate, Receive, Rotate, Share};
use crate::ui::{App, Command, human_bytes};

pub(super) fn show(app: &mut App, ui: &mut egui::Ui) {
    title(
        ui,
        "Keys",
        "Customer keys kept in the OS keyring. Lose a key and its objects are gone: back it up.",
    );
    super::first_run::guide_strip(app, ui);
    toolbar(app, ui);
    revealed(app, ui);
    ui.add_space(6.0);
    let rows = app.keys.clone();
    if rows.is_empty() && app.opened.is_some() {
        ui.label(
            RichText::new("No keys yet: Generate… makes a new one, Import… brings one you use with the aws CLI, Receive… one shared with you.")
                .weak(),
        );
    }
    if let Some((i, name)) = table(ui, &rows) {
        act(app, &rows[i].summary.key.label, name);
    }
}

/// Generate, Import, Back up, Restore, Refresh.
fn toolbar(app: &mut App, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        if ui.button("➕ Generate…").on_hover_text("Ctrl+G").clicked() {
            app.dialog = Some(Dialog::generate());
        }
        if ui.button("📥 Import…").on_hover_text("Ctrl+I").clicked() {
            app.dialog = Some(Dialog::import());
        }
        if ui
            .button("Back up…")
            .on_hover_text("All keys into one passphrase-encrypted age file")
            .clicked()
        {
            app.dialog = Some(Dialog::backup());
        }
        if ui.button("Restore…").clicked() {
            app.dialog = Some(Dialog::restore());
        }
        if ui
            .button("Receive…")
            .on_hover_text("Open a key share someone sent you, with your age identity or SSH key")
            .clicked()
        {
            app.dialog = Some(Dialog::Receive(Receive::default()));
        }
        if ui.button("Refresh").on_hover_text("F5").clicked() {
            app.backend.send(Command::Refresh);
        }
    });
}

/// A key the user asked to see, until it hides itself: floating over the bottom of the
/// screen, so nothing in the table moves under the pointer; the countdown ticks each second.
fn revealed(app: &mut App, ui: &mut egui::Ui) {
    let Some((label, b64, until)) = app.revealed.clone() else {
        return;
    };
    let left = until
        .saturating_duration_since(std::time::Instant::now())
        .as_secs_f32()
        .ceil();
    egui::Area::new(egui::Id::unique("revealed-key"))
        .anchor(egui::Align2::CENTER_BOTTOM, [0.0, -40.0])
        .order(egui::Order::Foreground)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style())
                .inner_margin(10.0)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(
                            RichText::new(format!("Key \"{label}\" (hides in {left} s):")).strong(),
                        );
                        ui.monospace(b64.as_str());
                        if ui.button("Hide").clicked() {
                            app.revealed = None;
                        }
                    });
                });
        });
}

/// The keys table; returns the row and the action clicked, if any.
fn table(ui: &mut egui::Ui, rows: &[crate::ui::KeyRow]) -> Option<(usize, &'static str)> {
    let mut action: Option<(usize, &'static str)> = None;
    // Below this width every action goes into one menu per row, so none is cut off.
    let narrow = ui.available_width() < 1100.0;
    TableBuilder::new(ui)
        .id_salt("keys-table")
        .striped(true)
        // Rows answer a right-click with their actions.
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::auto().at_least(100.0))
        .column(Column::auto().at_least(110.0))
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(60.0))
        .column(Column::auto().at_least(55.0))
        .column(Column::auto().at_least(70.0))
        .column(Column::auto().at_least(90.0))
        .column(Column::auto().at_least(65.0))
        .column(Column::remainder().at_least(if narrow { 90.0 } else { 330.0 }))
        .header(ROW, |mut h| {
            for c in [
                "Label",
                "Fingerprint",
                "Created",
                "Source",
                "Objects",
                "Bytes",
                "Backup",
                "Keyring",
                "Actions",
            ] {
                h.col(|ui| {
                    ui.strong(c);
                });
            }
        })
        .body(|body| {
            body.rows(ROW + 4.0, rows.len(), |mut row| {
                let i = row.index();
                if let Some(name) = key_row(&mut row, &rows[i], narrow) {
                    action = Some((i, name));
                }
            });
        });
    action
}

/// The actions of a key's row, with what each does: the first four are buttons, the rest
/// are in its "More…" menu.
const ACTIONS: [(&str, &str); 7] = [
    (
        "Export…",
        "Write the key file (the seed's base64 format), mode 0600",
    ),
    (
        "Copy env",
        "Copy the SSE_KEY / SSE_MD5 lines for the aws CLI (cleared in 30 s)",
    ),
    (
        "Share…",
        "Hand the key to someone: a file encrypted to their public key (age or SSH)",
    ),
    ("Delete…", "Delete from the keyring"),
    ("Reveal", "Show the key for 30 seconds"),
    (
        "Rotate…",
        "Re-encrypt what this key encrypts with another key, on the server",
    ),
    (
        "Migrate…",
        "Move what this key encrypts off SSE-C (to SSE-S3, SSE-KMS or none), on the server",
    ),
];

/// One key's row; returns the action clicked, if any.
fn key_row(
    row: &mut egui_extras::TableRow<'_, '_>,
    k: &crate::ui::KeyRow,
    narrow: bool,
) -> Option<&'static str> {
    let key = &k.summary.key;
    row.col(|ui| {
        ui.label(RichText::new(&key.label).strong());
    });
    row.col(|ui| {
        // The start is enough to tell keys apart; the whole is on hover.
        let fp = key.fingerprint.as_str();
        ui.monospace(format!("{}…", fp.get(..12).unwrap_or(fp)))
            .on_hover_text(fp);
    });
    row.col(|ui| {
        ui.label(key.created_at.get(..10).unwrap_or(""));
    });
    row.col(|ui| {
        ui.label(&key.source);
    });
    row.col(|ui| {
        if k.summary.retired() {
            ui.label(RichText::new("0, retired").weak())
                .on_hover_text(format!(
                    "Its {} object(s) were moved off SSE-C; nothing needs this key now",
                    k.summary.migrated
                ));
        } else {
            ui.label(k.summary.objects.to_string());
        }
    });
    row.col(|ui| {
        ui.label(human_bytes(k.summary.bytes));
    });
    row.col(|ui| {
        let b = key.backup_status.as_str();
        let text = match b {
            "exported_plain" => "exported",
            "age_backup" => "encrypted backup",
            other => other,
        };
        if b == "never" {
            ui.label(RichText::new(text).color(ui.visuals().warn_fg_color))
                .on_hover_text("Never backed up: if this computer is lost, so is everything this key encrypts. Back up…");
        } else {
            let tip = match b {
                "exported_plain" => "Exported as a plain key file: keep that file somewhere safe",
                "age_backup" => "In a passphrase-encrypted backup file (Back up…)",
                _ => "How this key was last saved outside the keyring",
            };
            ui.label(text).on_hover_text(tip);
        }
    });
    row.col(|ui| match k.in_keyring {
        Some(true) => {
            ui.label(RichText::new("present").color(super::tone(ui, super::GOOD)))
                .on_hover_text("The OS keyring holds this key");
        }
        Some(false) => {
            ui.label(RichText::new("MISSING").color(ui.visuals().error_fg_color))
                .on_hover_text(
                    "The OS keyring no longer holds this key: its objects cannot be opened until \
                     it is restored (Restore…) or imported (Import…)",
                );
        }
        None => {
            ui.label("unknown")
                .on_hover_text("The keyring has not answered yet (or is unavailable)");
        }
    });
    let mut action = None;
    row.col(|ui| {
        // The common ones as buttons, the rest in a menu, so the row fits 1280 px.
        let (shown, more) = ACTIONS.split_at(if narrow { 0 } else { 4 });
        for (name, tip) in shown {
            if ui.small_button(*name).on_hover_text(*tip).clicked() {
                action = Some(*name);
            }
        }
        ui.menu_button(if narrow { "Actions…" } else { "More…" }, |ui| {
            for (name, tip) in more {
                if ui.button(*name).on_hover_text(*tip).clicked() {
                    action = Some(*name);
                }
            }
        });
    });
    // Every action on a right-click anywhere in the row.
    row.response().context_menu(|ui| {
        for (name, tip) in ACTIONS {
            if ui.button(name).on_hover_text(tip).clicked() {
                action = Some(name);
            }
        }
    });
    action
}

/// What a row's button does.
fn act(app: &mut App, label: &str, name: &str) {
    let label = label.to_string();
    match name {
        "Export…" => app.dialog = Some(Dialog::export(&label)),
        "Copy env" => app.backend.send(Command::KeyEnvLines { label }),
        "Reveal" => app.backend.send(Command::RevealKey { label }),
        "Rotate…" => app.dialog = Rotate::key(app, &label).map(Dialog::Rotate),
        "Share…" => app.dialog = Some(Dialog::Share(Share::new(&label))),
        "Migrate…" => {
            if let Some(k) = app.keys.iter().find(|k| k.summary.key.label == label) {
                let selection = RotateSelection::Key {
                    from: k.summary.key.fingerprint.clone(),
                    within: None,
                };
                let what = format!("everything key \"{label}\" encrypts");
                app.dialog = Some(Dialog::Migrate(Migrate::new(selection, what)));
            }
        }
        _ => app.dialog = Some(Dialog::delete_key(app, &label)),
    }
}

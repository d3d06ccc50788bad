//! The five screens. Each draws from the App's latest state and sends commands; none waits.

use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};

use super::dialogs::{Dialog, RotateScope};
use super::{App, Command, Entry, Screen, human_bytes};
use crate::core::jobs::{JobSpec, JobState};
use crate::core::registry::ObjectState;
use crate::core::s3::S3Url;

const ROW: f32 = 26.0;

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    if app.keys.is_empty()
        && app.connections.is_empty()
        && app.opened.is_some()
        && matches!(app.prefs.screen, Screen::Keys | Screen::Connections)
    {
        first_run(app, ui);
        return;
    }
    match app.prefs.screen {
        Screen::Keys => keys(app, ui),
        Screen::Objects => objects(app, ui),
        Screen::Transfers => transfers(app, ui),
        Screen::Audit => audit(app, ui),
        Screen::Connections => connections(app, ui),
    }
}

fn title(ui: &mut egui::Ui, text: &str, sub: &str) {
    ui.add_space(4.0);
    ui.heading(RichText::new(text).size(22.0).strong());
    ui.label(RichText::new(sub).weak());
    ui.add_space(8.0);
}

fn first_run(app: &mut App, ui: &mut egui::Ui) {
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

fn keys(app: &mut App, ui: &mut egui::Ui) {
    title(
        ui,
        "Keys",
        "Customer keys kept in the OS keyring. Lose a key and its objects are gone: back it up.",
    );
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
        if ui.button("Refresh").on_hover_text("F5").clicked() {
            app.backend.send(Command::Refresh);
        }
    });
    if let Some((label, b64, _)) = app.revealed.clone() {
        egui::Frame::group(ui.style())
            .inner_margin(10.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.label(RichText::new(format!("Key \"{label}\" (hides in 30 s):")).strong());
                    ui.monospace(b64.as_str());
                    if ui.button("Hide").clicked() {
                        app.revealed = None;
                    }
                });
            });
    }
    ui.add_space(6.0);
    let rows = app.keys.clone();
    let mut action: Option<(usize, &'static str)> = None;
    TableBuilder::new(ui)
        .id_salt("keys-table")
        .striped(true)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::auto().at_least(100.0))
        .column(Column::auto().at_least(110.0))
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(60.0))
        .column(Column::auto().at_least(55.0))
        .column(Column::auto().at_least(70.0))
        .column(Column::auto().at_least(90.0))
        .column(Column::auto().at_least(65.0))
        .column(Column::remainder().at_least(250.0))
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
                let k = &rows[i];
                row.col(|ui| {
                    ui.label(RichText::new(&k.summary.key.label).strong());
                });
                row.col(|ui| {
                    // The start is enough to tell keys apart; the whole is on hover.
                    let fp = k.summary.key.fingerprint.as_str();
                    ui.monospace(format!("{}…", fp.get(..12).unwrap_or(fp)))
                        .on_hover_text(fp);
                });
                row.col(|ui| {
                    ui.label(k.summary.key.created_at.get(..10).unwrap_or(""));
                });
                row.col(|ui| {
                    ui.label(&k.summary.key.source);
                });
                row.col(|ui| {
                    ui.label(k.summary.objects.to_string());
                });
                row.col(|ui| {
                    ui.label(human_bytes(k.summary.bytes));
                });
                row.col(|ui| {
                    let b = k.summary.key.backup_status.as_str();
                    let text = match b {
                        "exported_plain" => "exported",
                        "age_backup" => "encrypted backup",
                        other => other,
                    };
                    if b == "never" && k.summary.objects > 0 {
                        ui.label(RichText::new(text).color(ui.visuals().warn_fg_color));
                    } else {
                        ui.label(text);
                    }
                });
                row.col(|ui| match k.in_keyring {
                    Some(true) => {
                        ui.label(RichText::new("present").color(Color32::from_rgb(80, 170, 90)));
                    }
                    Some(false) => {
                        ui.label(RichText::new("MISSING").color(ui.visuals().error_fg_color));
                    }
                    None => {
                        ui.label("unknown");
                    }
                });
                row.col(|ui| {
                    for (name, tip) in [
                        (
                            "Export…",
                            "Write the key file (the seed's base64 format), mode 0600",
                        ),
                        (
                            "Copy env",
                            "Copy the SSE_KEY / SSE_MD5 lines for the aws CLI (cleared in 30 s)",
                        ),
                        ("Reveal", "Show the key for 30 seconds"),
                        (
                            "Rotate…",
                            "Re-encrypt what this key encrypts with another key, on the server",
                        ),
                        ("Delete…", "Delete from the keyring"),
                    ] {
                        if ui.small_button(name).on_hover_text(tip).clicked() {
                            action = Some((i, name));
                        }
                    }
                });
            });
        });
    if let Some((i, name)) = action {
        let label = rows[i].summary.key.label.clone();
        match name {
            "Export…" => app.dialog = Some(Dialog::export(&label)),
            "Copy env" => app.backend.send(Command::KeyEnvLines { label }),
            "Reveal" => app.backend.send(Command::RevealKey { label }),
            "Rotate…" => {
                app.dialog = Some(Dialog::Rotate {
                    scope: RotateScope::Key(label),
                    to: String::new(),
                    prefix: String::new(),
                })
            }
            _ => {
                app.backend.send(Command::KeyDependents {
                    label: label.clone(),
                });
                app.dialog = Some(Dialog::delete_key(&label));
            }
        }
    }
}

fn connections(app: &mut App, ui: &mut egui::Ui) {
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
                        crate::core::registry::CredentialSource::AwsChain => {
                            "AWS chain".to_string()
                        }
                        crate::core::registry::CredentialSource::Profile => {
                            format!("profile {}", c.profile.as_deref().unwrap_or(""))
                        }
                        crate::core::registry::CredentialSource::Keyring => "keyring".to_string(),
                    });
                });
                row.col(|ui| {
                    if ui.small_button("Test").clicked() {
                        app.backend.send(Command::TestConnection {
                            name: c.name.clone(),
                        });
                    }
                    if ui.small_button("Browse").clicked() {
                        app.browser = super::Browser {
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
                        app.dialog = Some(Dialog::RemoveConnection {
                            name: c.name.clone(),
                        });
                    }
                });
            });
        });
}

fn objects(app: &mut App, ui: &mut egui::Ui) {
    title(
        ui,
        "Objects",
        "Browse a bucket. Drop files anywhere on the window to upload them here.",
    );
    if app.connections.is_empty() {
        ui.label("No connection yet.");
        if ui.button("Add connection…").clicked() {
            app.dialog = Some(Dialog::add_connection());
        }
        return;
    }
    if !app.browser.buckets_requested
        && let Some(c) = app.browser.connection.clone()
    {
        app.browser.buckets_requested = true;
        app.backend.send(Command::ListBuckets { connection: c });
    }
    let mut relist = false;
    ui.horizontal(|ui| {
        let current = app.browser.connection.clone().unwrap_or_default();
        let label = ui.label("Connection").id;
        egui::ComboBox::from_id_salt("browser-connection")
            .selected_text(&current)
            .show_ui(ui, |ui| {
                for c in &app.connections {
                    if ui.selectable_label(current == c.name, &c.name).clicked() {
                        app.browser = super::Browser {
                            connection: Some(c.name.clone()),
                            buckets_requested: true,
                            ..Default::default()
                        };
                        app.prefs.last_connection = Some(c.name.clone());
                        app.backend.send(Command::ListBuckets {
                            connection: c.name.clone(),
                        });
                    }
                }
            })
            .response
            .labelled_by(label);
        let bucket = app.browser.bucket.clone().unwrap_or_default();
        ui.add_space(8.0);
        let label = ui.label("Bucket").id;
        egui::ComboBox::from_id_salt("browser-bucket")
            .selected_text(&bucket)
            .show_ui(ui, |ui| {
                for b in app.browser.buckets.clone() {
                    if ui.selectable_label(bucket == b, &b).clicked() {
                        app.browser.bucket = Some(b.clone());
                        app.browser.prefix.clear();
                        app.prefs.last_bucket = Some(b);
                        relist = true;
                    }
                }
            })
            .response
            .labelled_by(label);
        if ui.button("Refresh").on_hover_text("Refresh (F5)").clicked() {
            relist = true;
        }
        if ui
            .button("Check keys")
            .on_hover_text("Find each object's key with HEAD requests (no data is downloaded)")
            .clicked()
            && let (Some(c), Some(b)) = (app.browser.connection.clone(), app.browser.bucket.clone())
        {
            let keys = app
                .browser
                .entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Object { key, .. } => Some(key.clone()),
                    Entry::Prefix(_) => None,
                })
                .collect();
            app.backend.send(Command::CheckObjects {
                connection: c,
                bucket: b,
                keys,
            });
        }
        if ui
            .button("Preflight")
            .on_hover_text("Check this bucket for SSE-C: transport, BlockedEncryptionTypes, and that the server enforces it")
            .clicked()
            && let (Some(c), Some(b)) = (app.browser.connection.clone(), app.browser.bucket.clone())
        {
            app.backend.send(Command::Preflight {
                connection: c.clone(),
                bucket: b.clone(),
                allow_sse_c: false,
            });
            app.dialog = Some(Dialog::Preflight {
                connection: c,
                bucket: b,
                report: None,
            });
        }
        if ui
            .button("Rotate folder…")
            .on_hover_text("Re-encrypt every registered object under this folder with another key")
            .clicked()
            && let (Some(c), Some(b)) = (app.browser.connection.clone(), app.browser.bucket.clone())
        {
            app.dialog = Some(Dialog::Rotate {
                scope: RotateScope::Folder {
                    connection: c,
                    bucket: b,
                    prefix: app.browser.prefix.clone(),
                },
                to: String::new(),
                prefix: String::new(),
            });
        }
        if ui
            .button("Scan and adopt")
            .on_hover_text(
                "Check every object under this folder, subfolders included, and record the ones one of your keys opens (rebuilds a lost registry)",
            )
            .clicked()
            && let (Some(c), Some(b)) = (app.browser.connection.clone(), app.browser.bucket.clone())
        {
            app.backend.send(Command::ScanAdopt {
                connection: c,
                bucket: b,
                prefix: app.browser.prefix.clone(),
            });
        }
        ui.add(
            egui::TextEdit::singleline(&mut app.browser.filter)
                .hint_text("Filter names")
                .desired_width(160.0),
        );
    });
    // Breadcrumbs: bucket / a / b /
    ui.horizontal(|ui| {
        if let Some(b) = app.browser.bucket.clone() {
            if ui
                .link(RichText::new(format!("s3://{b}")).strong())
                .clicked()
            {
                app.browser.prefix.clear();
                relist = true;
            }
            let parts: Vec<String> = app
                .browser
                .prefix
                .split_terminator('/')
                .map(str::to_string)
                .collect();
            for (i, p) in parts.iter().enumerate() {
                ui.label("/");
                if ui.link(p).clicked() {
                    app.browser.prefix = format!("{}/", parts[..=i].join("/"));
                    relist = true;
                }
            }
        }
        if app.browser.loading {
            ui.spinner();
        }
    });
    if relist {
        app.refresh_listing();
    }
    if let Some(e) = &app.browser.error {
        super::banner(ui, true, e);
    }
    let filter = app.browser.filter.to_lowercase();
    let entries: Vec<Entry> = app
        .browser
        .entries
        .iter()
        .filter(|e| {
            filter.is_empty()
                || match e {
                    Entry::Prefix(p) => p.to_lowercase().contains(&filter),
                    Entry::Object { key, .. } => key.to_lowercase().contains(&filter),
                }
        })
        .cloned()
        .collect();
    let conn = app.browser.connection.clone().unwrap_or_default();
    let bucket = app.browser.bucket.clone().unwrap_or_default();
    let prefix = app.browser.prefix.clone();
    let mut open_prefix = None;
    let mut action: Option<(String, &'static str)> = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{} item(s)", entries.len())).weak());
        let n = app.browser.selected.len();
        if n > 0 {
            if ui
                .button(format!("Rotate selected ({n})…"))
                .on_hover_text("Re-encrypt the ticked objects with another key, on the server")
                .clicked()
            {
                let ids = app
                    .browser
                    .selected
                    .iter()
                    .filter_map(|k| app.stored_object(&conn, &bucket, k))
                    .map(|o| o.id)
                    .collect();
                app.dialog = Some(Dialog::Rotate {
                    scope: RotateScope::Selection { ids },
                    to: String::new(),
                    prefix: String::new(),
                });
            }
            if ui.button("Clear selection").clicked() {
                app.browser.selected.clear();
            }
        }
    });
    let mut toggled: Option<String> = None;
    TableBuilder::new(ui)
        .id_salt("objects-table")
        .striped(true)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        // Actions get the width their four buttons need; the name takes the rest (clipped),
        // so no button is cut off at the window's edge.
        .column(Column::remainder().at_least(160.0).clip(true))
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(130.0))
        .column(Column::auto().at_least(140.0).clip(true))
        .column(Column::exact(372.0))
        .header(ROW, |mut h| {
            for c in ["Name", "Size", "Modified", "Key", "Actions"] {
                h.col(|ui| {
                    ui.strong(c);
                });
            }
        })
        .body(|body| {
            // Virtualised: only visible rows are laid out, so 10k+ entries stay smooth.
            body.rows(ROW, entries.len(), |mut row| match &entries[row.index()] {
                Entry::Prefix(p) => {
                    let name = p.strip_prefix(&prefix).unwrap_or(p);
                    row.col(|ui| {
                        if ui.link(format!("📁 {name}")).clicked() {
                            open_prefix = Some(p.clone());
                        }
                    });
                    row.col(|_| {});
                    row.col(|_| {});
                    row.col(|_| {});
                    row.col(|_| {});
                }
                Entry::Object {
                    key,
                    size,
                    modified,
                } => {
                    let name = key.strip_prefix(&prefix).unwrap_or(key);
                    row.col(|ui| {
                        let mut ticked = app.browser.selected.contains(key);
                        if ui
                            .checkbox(&mut ticked, format!("📄 {name}"))
                            .on_hover_text("Select (for Rotate selected)")
                            .changed()
                        {
                            toggled = Some(key.clone());
                        }
                    });
                    row.col(|ui| {
                        ui.label(human_bytes(*size));
                    });
                    row.col(|ui| {
                        ui.label(modified);
                    });
                    row.col(|ui| {
                        let (text, color) = key_state(app, &conn, &bucket, key);
                        ui.label(
                            RichText::new(text).color(color.unwrap_or(ui.visuals().text_color())),
                        );
                    });
                    row.col(|ui| {
                        for a in ["Download…", "Copy aws recipe", "Rotate…", "Delete…"] {
                            if ui.small_button(a).clicked() {
                                action = Some((key.clone(), a));
                            }
                        }
                    });
                }
            });
        });
    if let Some(k) = toggled
        && !app.browser.selected.remove(&k)
    {
        app.browser.selected.insert(k);
    }
    if let Some(p) = open_prefix {
        app.browser.prefix = p;
        app.refresh_listing();
    }
    if let Some((key, a)) = action {
        let url = S3Url {
            bucket: bucket.clone(),
            key,
        };
        match a {
            "Download…" => app.dialog = Some(Dialog::download(&conn, url)),
            "Rotate…" => match app.stored_object(&conn, &url.bucket, &url.key) {
                Some(o) => {
                    app.dialog = Some(Dialog::Rotate {
                        scope: RotateScope::Object {
                            id: o.id,
                            url: o.url(),
                        },
                        to: String::new(),
                        prefix: String::new(),
                    })
                }
                None => app.error(format!(
                    "{url} is not in the registry, so its key is unknown: Scan and adopt first"
                )),
            },
            "Copy aws recipe" => {
                let recipe = aws_recipe(app, &conn, &url);
                ui.ctx().copy_text(recipe);
                app.info("Copied the aws CLI command (it reads the key from $SSE_KEY / $SSE_MD5; no key copied)");
            }
            _ => {
                app.dialog = Some(Dialog::DeleteObject {
                    connection: conn,
                    url,
                })
            }
        }
    }
}

/// The Key column: what the registry knows of this object, else what a check found.
fn key_state(app: &App, conn: &str, bucket: &str, key: &str) -> (String, Option<Color32>) {
    use crate::core::scan::ObjectKind;
    match app.stored_object(conn, bucket, key) {
        Some(o) => match &o.key_label {
            Some(l) => (format!("🔑 {l}"), Some(Color32::from_rgb(80, 170, 90))),
            None => (
                "SSE-C, unknown key".into(),
                Some(Color32::from_rgb(220, 150, 40)),
            ),
        },
        None => match app.browser.checked.get(key) {
            Some(k @ ObjectKind::KnownKey { .. }) => {
                (k.describe(), Some(Color32::from_rgb(80, 170, 90)))
            }
            Some(k @ ObjectKind::UnknownKey) => {
                (k.describe(), Some(Color32::from_rgb(220, 150, 40)))
            }
            Some(k) => (k.describe(), None),
            None => ("unchecked".into(), None),
        },
    }
}

/// The aws CLI command for an object, with the key taken from env variables (never the key).
fn aws_recipe(app: &App, conn: &str, url: &S3Url) -> String {
    let endpoint = app
        .connections
        .iter()
        .find(|c| c.name == conn)
        .and_then(|c| c.endpoint.clone())
        .map(|e| format!(" --endpoint-url {e}"))
        .unwrap_or_default();
    let file = url.key.rsplit('/').next().unwrap_or("object");
    format!(
        "# eval \"$(ssec-manager key env LABEL)\" sets SSE_KEY and SSE_MD5\naws{endpoint} s3api get-object --bucket {} --key '{}' \\\n  --sse-customer-algorithm AES256 --sse-customer-key \"$SSE_KEY\" --sse-customer-key-md5 \"$SSE_MD5\" '{}'\n",
        url.bucket, url.key, file
    )
}

fn transfers(app: &mut App, ui: &mut egui::Ui) {
    title(
        ui,
        "Transfers",
        "Uploads, downloads, verifies and rotations run in the background; the window stays responsive.",
    );
    let Some(jobs) = app.jobs().cloned() else {
        ui.spinner();
        return;
    };
    interrupted_uploads(app, &jobs, ui);
    let mut list = jobs.jobs();
    if list.is_empty() {
        ui.label(
            "No transfers yet. Drop files on the window to upload them, or download from Objects.",
        );
        return;
    }
    list.reverse();
    let mut retry = None;
    for j in &list {
        egui::Frame::group(ui.style())
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    let arrow = match j.spec {
                        JobSpec::Upload { .. } | JobSpec::Resume { .. } => "⬆ ",
                        JobSpec::Download { .. } => "⬇ ",
                        _ => "",
                    };
                    ui.label(RichText::new(format!("{arrow}{}", j.spec.describe())).strong());
                    if let Some(g) = &j.group {
                        ui.label(RichText::new(format!("({g})")).weak());
                    }
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        if !j.state.is_finished() && ui.button("Cancel").clicked() {
                            jobs.cancel(j.id);
                        }
                        if matches!(j.state, JobState::Failed(_) | JobState::Cancelled)
                            && ui.button("Retry").clicked()
                        {
                            retry = Some(j.id);
                        }
                        if matches!(j.state, JobState::Done(_))
                            && matches!(j.spec, JobSpec::Upload { .. } | JobSpec::Download { .. })
                            && ui.button("Open folder").clicked()
                        {
                            open_folder(&j.spec);
                        }
                        let color = match j.state {
                            JobState::Done(_) => Color32::from_rgb(80, 170, 90),
                            JobState::Failed(_) => ui.visuals().error_fg_color,
                            _ => ui.visuals().text_color(),
                        };
                        ui.label(RichText::new(j.state.label()).color(color));
                    });
                });
                let p = j.progress;
                ui.add(
                    egui::ProgressBar::new(p.fraction())
                        .show_percentage()
                        .desired_height(14.0),
                );
                let done = if j.spec.counts_objects() {
                    format!("{} of {} objects", p.done, p.total)
                } else {
                    format!("{} of {}", human_bytes(p.done), human_bytes(p.total))
                };
                // Speed and ETA only while it runs: a finished job's last rate says nothing.
                let pace = if j.state == JobState::Running {
                    let rate = if j.spec.counts_objects() {
                        format!("{:.0}/s", p.rate)
                    } else {
                        format!("{}/s", human_bytes(p.rate as u64))
                    };
                    let eta = p
                        .eta
                        .map(|e| format!(", {} left", crate::core::human_duration(e)))
                        .unwrap_or_default();
                    format!("  ·  {rate}{eta}")
                } else {
                    String::new()
                };
                ui.label(format!("{done}{pace}"));
                if let JobState::Done(summary) = &j.state
                    && !j.spec.is_upload()
                    && !matches!(j.spec, JobSpec::Download { .. })
                {
                    ui.label(summary);
                }
                if let JobState::Failed(e) = &j.state {
                    ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
                }
            });
        ui.add_space(4.0);
    }
    if let Some(id) = retry {
        jobs.retry(id);
    }
}

/// Multipart uploads that a crash or a lost network left unfinished: resume or abort.
fn interrupted_uploads(app: &mut App, jobs: &crate::core::jobs::JobManager, ui: &mut egui::Ui) {
    if app.interrupted.is_empty() {
        return;
    }
    let resuming: Vec<i64> = jobs
        .jobs()
        .iter()
        .filter(|j| !j.state.is_finished())
        .filter_map(|j| match j.spec {
            JobSpec::Resume { object_id } => Some(object_id),
            _ => None,
        })
        .collect();
    super::panel(ui, super::WARN_FILL, |ui| {
        ui.label(
            RichText::new(format!(
                "{} interrupted upload(s): resume them with the same key, or abort them",
                app.interrupted.len()
            ))
            .color(Color32::WHITE)
            .strong(),
        );
        for m in app.interrupted.clone() {
            ui.horizontal(|ui| {
                let object = app
                    .objects
                    .iter()
                    .find(|o| o.id == m.object_id)
                    .map(|o| o.url())
                    .unwrap_or_default();
                ui.label(
                    RichText::new(format!(
                        "#{} {} <- {} ({}, started {})",
                        m.object_id,
                        object,
                        m.source_path,
                        human_bytes(m.source_size),
                        m.started_at
                    ))
                    .color(Color32::WHITE),
                );
                let busy = resuming.contains(&m.object_id);
                if ui.add_enabled(!busy, egui::Button::new("Resume")).clicked() {
                    jobs.start(JobSpec::Resume {
                        object_id: m.object_id,
                    });
                }
                if ui.add_enabled(!busy, egui::Button::new("Abort")).clicked() {
                    app.backend.send(Command::AbortUpload {
                        object_id: m.object_id,
                    });
                }
            });
        }
    });
}

fn open_folder(spec: &JobSpec) {
    let dir = match spec {
        JobSpec::Download { dest, .. } => dest.parent().map(|p| p.to_path_buf()),
        JobSpec::Upload { src, .. } => src.parent().map(|p| p.to_path_buf()),
        JobSpec::Resume { .. } | JobSpec::Verify { .. } | JobSpec::Rotate { .. } => None,
    };
    if let Some(d) = dir {
        let _ = std::process::Command::new(if cfg!(target_os = "macos") {
            "open"
        } else if cfg!(windows) {
            "explorer"
        } else {
            "xdg-open"
        })
        .arg(d)
        .spawn();
    }
}

fn audit(app: &mut App, ui: &mut egui::Ui) {
    use crate::core::audit::Severity;
    title(
        ui,
        "Audit",
        "Can every object still be opened? What is at risk?",
    );
    // The same report as `ssec-manager audit`, computed by the worker on each refresh.
    let Some(report) = app.audit.clone() else {
        ui.spinner();
        return;
    };
    let jobs = app.jobs().cloned();
    let verifying = jobs.as_ref().and_then(|j| {
        j.jobs()
            .into_iter()
            .find(|v| matches!(v.spec, JobSpec::Verify { .. }) && !v.state.is_finished())
    });
    ui.horizontal(|ui| {
        for (label, value, alarm) in [
            ("Keys", report.keys.to_string(), false),
            ("Objects", report.objects.to_string(), false),
            ("Bytes", human_bytes(report.bytes), false),
            (
                "Objects at risk",
                report.objects_at_risk.to_string(),
                report.objects_at_risk > 0,
            ),
        ] {
            egui::Frame::group(ui.style())
                .inner_margin(12.0)
                .show(ui, |ui| {
                    ui.set_min_width(140.0);
                    let text = RichText::new(value).size(26.0).strong();
                    ui.label(if alarm {
                        text.color(ui.visuals().error_fg_color)
                    } else {
                        text
                    });
                    ui.label(label);
                });
        }
    });
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let can_verify = verifying.is_none() && report.objects > 0 && jobs.is_some();
        let mut start = None;
        if ui
            .add_enabled(can_verify, egui::Button::new("Verify all"))
            .on_hover_text(
                "Ask the server about every object with its key (HEAD, no data moved): still there, still opened by that key, same size",
            )
            .clicked()
        {
            start = Some(false);
        }
        if ui
            .add_enabled(can_verify, egui::Button::new("Deep verify"))
            .on_hover_text(
                "Read every object and compare its checksum with the one recorded at upload (moves all the data)",
            )
            .clicked()
        {
            start = Some(true);
        }
        if let (Some(deep), Some(j)) = (start, &jobs) {
            j.start(JobSpec::Verify {
                deep,
                key_label: None,
            });
        }
        if ui.button("Export report…").clicked() {
            app.dialog = Some(Dialog::ExportAudit {
                path: String::new(),
            });
        }
        if let (Some(v), Some(j)) = (&verifying, &jobs) {
            let p = v.progress;
            ui.add(
                egui::ProgressBar::new(p.fraction())
                    .desired_width(220.0)
                    .show_percentage(),
            );
            ui.label(if v.spec.counts_objects() {
                format!("{} of {} objects", p.done, p.total)
            } else {
                format!("{} of {}", human_bytes(p.done), human_bytes(p.total))
            });
            if ui.button("Cancel").clicked() {
                j.cancel(v.id);
            }
        }
    });
    ui.add_space(8.0);
    egui::ScrollArea::vertical()
        .id_salt("audit-page")
        .show(ui, |ui| {
            key_health_table(ui, &report);
            ui.add_space(8.0);
            audit_charts(ui, &report);
            ui.add_space(8.0);
            if report.findings.iter().all(|f| f.severity == Severity::Low) {
                ui.label(
                    RichText::new(
                        "Every registered object can be opened, and every key in use has a backup.",
                    )
                    .color(Color32::from_rgb(80, 170, 90)),
                );
            }
            for (i, f) in report.findings.iter().enumerate() {
                finding_panel(app, ui, i, f);
            }
        });
}

/// Green, amber, red: a severity at a glance.
fn severity_color(s: Option<crate::core::audit::Severity>) -> Color32 {
    use crate::core::audit::Severity;
    match s {
        None | Some(Severity::Low) => Color32::from_rgb(80, 170, 90),
        Some(Severity::Medium) => Color32::from_rgb(120, 150, 210),
        Some(Severity::High) => Color32::from_rgb(230, 160, 40),
        Some(Severity::Critical) => Color32::from_rgb(230, 70, 60),
    }
}

/// One row per key: what it encrypts and how safe that is.
fn key_health_table(ui: &mut egui::Ui, report: &crate::core::audit::AuditReport) {
    ui.label(RichText::new("Keys").strong());
    let short = |t: &Option<String>| {
        t.as_deref()
            .map(|t| t.get(..10).unwrap_or(t).to_string())
            .unwrap_or_else(|| "never".into())
    };
    TableBuilder::new(ui)
        .id_salt("audit-keys")
        .striped(true)
        .column(Column::exact(190.0))
        .columns(Column::exact(100.0), 2)
        .column(Column::exact(90.0))
        .columns(Column::exact(110.0), 2)
        .column(Column::remainder())
        .header(22.0, |mut h| {
            for t in [
                "Key",
                "Objects",
                "Bytes",
                "In keyring",
                "Last backup",
                "Oldest check",
                "Health",
            ] {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|body| {
            body.rows(22.0, report.per_key.len(), |mut row| {
                let k = &report.per_key[row.index()];
                row.col(|ui| {
                    ui.label(&k.label).on_hover_text(&k.fingerprint);
                });
                row.col(|ui| {
                    ui.label(k.objects.to_string());
                });
                row.col(|ui| {
                    ui.label(human_bytes(k.bytes));
                });
                row.col(|ui| {
                    match k.in_keyring {
                        Some(true) => ui.label("yes"),
                        Some(false) => {
                            ui.label(RichText::new("MISSING").color(ui.visuals().error_fg_color))
                        }
                        None => ui.label("unknown"),
                    };
                });
                row.col(|ui| {
                    ui.label(short(&k.last_backup_at));
                });
                row.col(|ui| {
                    ui.label(if k.objects == 0 {
                        "-".to_string()
                    } else {
                        short(&k.last_verified_at)
                    });
                });
                row.col(|ui| {
                    let c = severity_color(k.health);
                    ui.label(
                        RichText::new(k.health.map(|h| h.label()).unwrap_or("ok"))
                            .strong()
                            .color(c),
                    );
                });
            });
        });
}

/// Bytes per key and objects by state (egui_plot bar charts).
fn audit_charts(ui: &mut egui::Ui, report: &crate::core::audit::AuditReport) {
    let width = (ui.available_width() / 2.0 - 12.0).max(200.0);
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.label(RichText::new("Bytes per key").strong());
            let bars = report
                .per_key
                .iter()
                .map(|k| (k.label.clone(), k.bytes as f64, severity_color(k.health)))
                .collect();
            bar_chart(ui, "audit-bytes-per-key", width, bars, true, |v| {
                human_bytes(v.max(0.0) as u64)
            });
        });
        ui.vertical(|ui| {
            ui.label(RichText::new("Objects by state").strong());
            let bars = report
                .objects_by_state
                .iter()
                .map(|(state, n)| {
                    let color = match state.as_str() {
                        "stored" => Color32::from_rgb(80, 170, 90),
                        "failed" => Color32::from_rgb(230, 70, 60),
                        "pending" => Color32::from_rgb(230, 160, 40),
                        _ => Color32::from_gray(140),
                    };
                    (state.clone(), *n as f64, color)
                })
                .collect();
            bar_chart(ui, "audit-objects-by-state", width, bars, false, |v| {
                format!("{v:.0}")
            });
        });
    });
}

/// A fixed (no zoom, no drag) bar chart, one named bar per entry. `binary`: grid lines at
/// powers of two (bytes read as 256 MiB, 512 MiB, 1 GiB rather than 953.7 MiB).
fn bar_chart(
    ui: &mut egui::Ui,
    id: &str,
    width: f32,
    entries: Vec<(String, f64, Color32)>,
    binary: bool,
    value_text: fn(f64) -> String,
) {
    use egui_plot::{Bar, BarChart, Plot};
    let bars = entries
        .iter()
        .enumerate()
        .map(|(i, (name, value, color))| {
            Bar::new(i as f64, *value)
                .name(format!("{name}: {}", value_text(*value)))
                .fill(*color)
                .width(0.6)
        })
        .collect();
    let names: Vec<String> = entries.into_iter().map(|e| e.0).collect();
    Plot::new(id)
        .height(150.0)
        .width(width)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .show_grid([false, true])
        .include_y(0.0)
        .y_axis_min_width(64.0)
        .y_grid_spacer(egui_plot::log_grid_spacer(if binary { 2 } else { 10 }))
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_axis_formatter(move |mark, _| value_text(mark.value))
        .show(ui, |plot| plot.bar_chart(BarChart::new(id, bars)));
}

/// One finding: what, which objects (a virtualised list: only visible rows are laid out),
/// and its fix with a button where the window can do it.
fn finding_panel(app: &mut App, ui: &mut egui::Ui, index: usize, f: &crate::core::audit::Finding) {
    use crate::core::audit::{FixAction, Severity};
    let fill = match f.severity {
        Severity::Critical => super::ERROR_FILL,
        Severity::High => super::WARN_FILL,
        Severity::Medium => Color32::from_rgb(60, 70, 90),
        Severity::Low => Color32::from_rgb(55, 60, 60),
    };
    super::panel(ui, fill, |ui| {
        ui.label(
            RichText::new(format!("{}  {}", f.severity.label(), f.title))
                .color(Color32::WHITE)
                .strong(),
        );
        let n = f.objects.len();
        if n > 0 {
            let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 2.0;
            egui::ScrollArea::vertical()
                .id_salt(("finding-objects", index))
                .max_height(row_height * 6.0)
                .auto_shrink([false, true])
                .show_rows(ui, row_height, n, |ui, rows| {
                    for o in &f.objects[rows] {
                        ui.label(RichText::new(o).color(Color32::from_gray(220)).monospace());
                    }
                });
            if n > 6 {
                ui.label(
                    RichText::new(format!("{n} objects (scroll)")).color(Color32::from_gray(200)),
                );
            }
        }
        if let Some(fix) = &f.fix {
            ui.label(RichText::new(format!("Fix: {fix}")).color(Color32::from_gray(235)));
        }
        let button = match f.action {
            Some(FixAction::RestoreBackup) => Some("Restore from a backup…"),
            Some(FixAction::BackUp) => Some("Back up keys…"),
            Some(FixAction::Verify) => Some("Verify now"),
            Some(FixAction::Scan) => Some("Open in Objects"),
            Some(FixAction::ResumeUploads) => Some("Open Transfers"),
            Some(FixAction::DeleteOldVersions) => Some("Delete old versions…"),
            None => None,
        };
        if let (Some(label), Some(action)) = (button, f.action)
            && ui.button(label).clicked()
        {
            match action {
                FixAction::RestoreBackup => app.dialog = Some(Dialog::restore()),
                FixAction::BackUp => app.dialog = Some(Dialog::backup()),
                FixAction::Verify => {
                    if let Some(j) = app.jobs() {
                        j.start(JobSpec::Verify {
                            deep: false,
                            key_label: None,
                        });
                    }
                }
                FixAction::Scan => app.prefs.screen = Screen::Objects,
                FixAction::ResumeUploads => app.prefs.screen = Screen::Transfers,
                FixAction::DeleteOldVersions => {
                    let ids = app
                        .objects
                        .iter()
                        .filter(|o| {
                            o.state == ObjectState::OldVersion
                                && f.key_fingerprint.as_deref() == Some(o.key_fingerprint.as_str())
                        })
                        .map(|o| o.id)
                        .collect();
                    app.dialog = Some(Dialog::DeleteOldVersions {
                        label: f.key_label.clone().unwrap_or_default(),
                        ids,
                        typed: String::new(),
                    });
                }
            }
        }
    });
}

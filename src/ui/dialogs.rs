//! Modal dialogs: one at a time, each a value in `App::dialog`. `show` draws the current one
//! and returns it again while it stays open. Paths can be typed or picked through the
//! system dialog (which runs on a worker and fills the field when it answers).

use std::path::PathBuf;

use egui::RichText;
use zeroize::Zeroizing;

use super::{App, Command};
use crate::core::jobs::JobSpec;
use crate::core::registry::{ChecksumMode, ConnectionRecord, CredentialSource};
use crate::core::s3::S3Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickPurpose {
    ImportKey,
    ExportKey,
    Download,
    Backup,
    Restore,
    AuditReport,
}

#[derive(Debug, Clone, Default)]
pub struct ConnectionForm {
    pub name: String,
    pub endpoint: String,
    pub region: String,
    pub path_style: bool,
    pub source: usize,
    pub profile: String,
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
    pub when_required: bool,
    /// Editing an existing connection (its name cannot change).
    pub editing: bool,
    pub allow_plain_http: bool,
}

#[derive(Debug, Clone)]
pub struct UploadForm {
    pub files: Vec<PathBuf>,
    pub connection: String,
    pub bucket: String,
    pub prefix: String,
    pub key: String,
}

#[derive(Debug)]
pub enum Dialog {
    Generate {
        label: String,
    },
    Import {
        label: String,
        text: Zeroizing<String>,
        path: String,
    },
    Export {
        label: String,
        path: String,
    },
    DeleteKey {
        label: String,
        typed: String,
        dependents: Option<Vec<String>>,
    },
    AddConnection(ConnectionForm),
    RemoveConnection {
        name: String,
    },
    Upload(UploadForm),
    Download {
        connection: String,
        url: S3Url,
        path: String,
    },
    DeleteObject {
        connection: String,
        url: S3Url,
    },
    ConfirmClose,
    Backup {
        path: String,
        passphrase: Zeroizing<String>,
        again: Zeroizing<String>,
    },
    Restore {
        path: String,
        passphrase: Zeroizing<String>,
    },
    /// The audit report into a file; the format follows the extension.
    ExportAudit {
        path: String,
    },
    /// Re-encrypt objects with another key on the server.
    Rotate {
        scope: RotateScope,
        to: String,
        /// With `RotateScope::Key`: only objects under this s3://BUCKET/PREFIX.
        prefix: String,
    },
    /// A bucket's preflight: running (None), or its report.
    Preflight {
        connection: String,
        bucket: String,
        report: Option<Result<Box<crate::core::preflight::PreflightReport>, String>>,
    },
    /// Delete the old versions a versioned bucket kept under a rotated-away key.
    DeleteOldVersions {
        label: String,
        ids: Vec<i64>,
        typed: String,
    },
}

/// Which objects a rotation takes.
#[derive(Debug, Clone, PartialEq)]
pub enum RotateScope {
    /// Everything this key encrypts (optionally narrowed by a prefix).
    Key(String),
    /// One registered object.
    Object { id: i64, url: String },
    /// Registered objects ticked in the Objects view.
    Selection { ids: Vec<i64> },
    /// Every registered object under a folder of a bucket.
    Folder {
        connection: String,
        bucket: String,
        prefix: String,
    },
}

/// The stored objects a rotation dialog would move, from what the window already holds.
pub fn rotation_targets<'a>(
    app: &'a App,
    scope: &RotateScope,
    prefix: &str,
    to: &str,
) -> Vec<&'a crate::core::registry::ObjectRecord> {
    let narrowed = prefix
        .trim()
        .strip_prefix("s3://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")));
    app.objects
        .iter()
        .filter(|o| o.state == crate::core::registry::ObjectState::Stored)
        .filter(|o| o.key_label.as_deref() != Some(to))
        .filter(|o| match scope {
            RotateScope::Key(label) => {
                o.key_label.as_deref() == Some(label.as_str())
                    && narrowed.is_none_or(|(b, p)| o.bucket == b && o.key.starts_with(p))
            }
            RotateScope::Object { id, .. } => o.id == *id,
            RotateScope::Selection { ids } => ids.contains(&o.id),
            RotateScope::Folder {
                connection,
                bucket,
                prefix,
            } => o.connection == *connection && o.bucket == *bucket && o.key.starts_with(prefix),
        })
        .collect()
}

impl Dialog {
    pub fn backup() -> Self {
        Dialog::Backup {
            path: String::new(),
            passphrase: Zeroizing::new(String::new()),
            again: Zeroizing::new(String::new()),
        }
    }

    pub fn restore() -> Self {
        Dialog::Restore {
            path: String::new(),
            passphrase: Zeroizing::new(String::new()),
        }
    }

    pub fn generate() -> Self {
        Dialog::Generate {
            label: String::new(),
        }
    }

    pub fn import() -> Self {
        Dialog::Import {
            label: String::new(),
            text: Zeroizing::new(String::new()),
            path: String::new(),
        }
    }

    pub fn export(label: &str) -> Self {
        Dialog::Export {
            label: label.to_string(),
            path: String::new(),
        }
    }

    pub fn delete_key(label: &str) -> Self {
        Dialog::DeleteKey {
            label: label.to_string(),
            typed: String::new(),
            dependents: None,
        }
    }

    pub fn add_connection() -> Self {
        Dialog::AddConnection(ConnectionForm {
            region: "us-east-1".into(),
            path_style: true,
            ..Default::default()
        })
    }

    pub fn edit_connection(c: &ConnectionRecord) -> Self {
        Dialog::AddConnection(ConnectionForm {
            name: c.name.clone(),
            endpoint: c.endpoint.clone().unwrap_or_default(),
            region: c.region.clone(),
            path_style: c.path_style,
            source: match c.credential_source {
                CredentialSource::AwsChain => 0,
                CredentialSource::Profile => 1,
                CredentialSource::Keyring => 2,
            },
            profile: c.profile.clone().unwrap_or_default(),
            access_key_id: c.access_key_id.clone().unwrap_or_default(),
            secret: Zeroizing::new(String::new()),
            when_required: c.checksum_mode == ChecksumMode::WhenRequired,
            editing: true,
            allow_plain_http: c.allow_plain_http,
        })
    }

    pub fn download(connection: &str, url: S3Url) -> Self {
        let name = url.key.rsplit('/').next().unwrap_or("download").to_string();
        let dir = directories::UserDirs::new()
            .and_then(|d| d.download_dir().map(|p| p.to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("."));
        Dialog::Download {
            connection: connection.to_string(),
            url,
            path: dir.join(name).display().to_string(),
        }
    }

    /// The upload dialog for dropped files, aimed at the open bucket and prefix.
    pub fn upload(app: &App, files: Vec<PathBuf>) -> Self {
        let key = app
            .prefs
            .last_key
            .clone()
            .filter(|k| app.keys.iter().any(|r| &r.summary.key.label == k))
            .or_else(|| app.keys.first().map(|k| k.summary.key.label.clone()))
            .unwrap_or_default();
        Dialog::Upload(UploadForm {
            files,
            connection: app
                .browser
                .connection
                .clone()
                .or_else(|| app.connections.first().map(|c| c.name.clone()))
                .unwrap_or_default(),
            bucket: app
                .browser
                .bucket
                .clone()
                .or_else(|| app.prefs.last_bucket.clone())
                .or_else(|| app.objects.last().map(|o| o.bucket.clone()))
                .unwrap_or_default(),
            prefix: app.browser.prefix.clone(),
            key,
        })
    }
}

/// A file chosen in the system dialog goes into the field of the dialog that asked.
pub fn apply_pick(app: &mut App, purpose: PickPurpose, picked: PathBuf) {
    let text = picked.display().to_string();
    match (&mut app.dialog, purpose) {
        (Some(Dialog::Import { path, .. }), PickPurpose::ImportKey)
        | (Some(Dialog::Export { path, .. }), PickPurpose::ExportKey)
        | (Some(Dialog::Download { path, .. }), PickPurpose::Download)
        | (Some(Dialog::Backup { path, .. }), PickPurpose::Backup)
        | (Some(Dialog::Restore { path, .. }), PickPurpose::Restore)
        | (Some(Dialog::ExportAudit { path }), PickPurpose::AuditReport) => *path = text,
        _ => {}
    }
}

fn modal<R>(
    ctx: &egui::Context,
    id: &str,
    title: &str,
    body: impl FnOnce(&mut egui::Ui) -> R,
) -> (R, bool) {
    let response = egui::Modal::new(egui::Id::unique(id)).show(ctx, |ui| {
        ui.set_width(520.0);
        ui.heading(title);
        ui.add_space(8.0);
        body(ui)
    });
    let closed = response.should_close();
    (response.inner, closed)
}

/// What the buttons at the bottom of a dialog asked for.
#[derive(PartialEq)]
enum Choice {
    None,
    Ok,
    Cancel,
}

fn buttons(ui: &mut egui::Ui, ok: &str, enabled: bool) -> Choice {
    ui.add_space(10.0);
    let mut choice = Choice::None;
    if enabled && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
        choice = Choice::Ok;
    }
    ui.horizontal(|ui| {
        if ui.add_enabled(enabled, egui::Button::new(ok)).clicked() {
            choice = Choice::Ok;
        }
        if ui.button("Cancel").clicked() {
            choice = Choice::Cancel;
        }
    });
    choice
}

fn field(ui: &mut egui::Ui, label: &str, value: &mut String, hint: &str) -> egui::Response {
    ui.horizontal(|ui| {
        ui.add_sized([120.0, 20.0], egui::Label::new(label));
        ui.add(
            egui::TextEdit::singleline(value)
                .hint_text(hint)
                .desired_width(360.0),
        )
    })
    .inner
}

/// Draws `dialog`; returns it if it stays open.
pub fn show(app: &mut App, ctx: &egui::Context, mut dialog: Dialog) -> Option<Dialog> {
    let (choice, closed) = match &mut dialog {
        Dialog::Generate { label } => modal(ctx, "generate", "Generate a key", |ui| {
            ui.label("A new 32-byte key from the operating system's random generator, kept in the OS keyring.");
            ui.add_space(6.0);
            let r = field(ui, "Label", label, "e.g. backups-2026");
            if !r.has_focus() && label.is_empty() {
                r.request_focus();
            }
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let c = buttons(ui, "Generate", !label.trim().is_empty());
            if enter && !label.trim().is_empty() {
                Choice::Ok
            } else {
                c
            }
        }),
        Dialog::Import { label, text, path } => modal(ctx, "import", "Import a key", |ui| {
            ui.label("A key file (the base64 line `openssl rand -base64 32` writes, 32 raw bytes, or 64 hex digits), or the key pasted below.");
            ui.add_space(6.0);
            field(ui, "Label", label, "e.g. from-aws-cli");
            ui.horizontal(|ui| {
                ui.add_sized([120.0, 20.0], egui::Label::new("Key file"));
                ui.add(
                    egui::TextEdit::singleline(path)
                        .hint_text("/path/to/key")
                        .desired_width(270.0),
                );
                if ui.button("Browse…").clicked() {
                    app.pick_file(PickPurpose::ImportKey, false);
                }
            });
            ui.horizontal(|ui| {
                ui.add_sized([120.0, 20.0], egui::Label::new("or paste it"));
                ui.add(
                    egui::TextEdit::singleline(&mut **text)
                        .password(true)
                        .hint_text("base64 or hex")
                        .desired_width(360.0),
                );
            });
            buttons(
                ui,
                "Import",
                !label.trim().is_empty() && (!path.is_empty() || !text.is_empty()),
            )
        }),
        Dialog::Export { label, path } => {
            let title = format!("Export key \"{label}\"");
            modal(ctx, "export", &title, |ui| {
                ui.label(RichText::new("⚠ Anyone who holds this file can read every object the key encrypts. Keep it offline or encrypted.").color(ui.visuals().warn_fg_color));
                ui.label("Written in the seed's format (one base64 line), mode 0600. An existing file is never overwritten.");
                ui.add_space(6.0);
                ui.horizontal(|ui| {
                    ui.add_sized([120.0, 20.0], egui::Label::new("File"));
                    ui.add(
                        egui::TextEdit::singleline(path)
                            .hint_text("/path/to/new-file.key")
                            .desired_width(270.0),
                    );
                    if ui.button("Browse…").clicked() {
                        app.pick_file(PickPurpose::ExportKey, true);
                    }
                });
                buttons(ui, "Export", !path.trim().is_empty())
            })
        }
        Dialog::Rotate { scope, to, prefix } => {
            let what = match scope {
                RotateScope::Key(l) => format!("everything key \"{l}\" encrypts"),
                RotateScope::Object { url, .. } => url.clone(),
                RotateScope::Selection { ids } => format!("the {} selected object(s)", ids.len()),
                RotateScope::Folder { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
            };
            let from = match scope {
                RotateScope::Key(l) => Some(l.clone()),
                _ => None,
            };
            let keys: Vec<String> = app
                .keys
                .iter()
                .map(|k| k.summary.key.label.clone())
                .filter(|l| Some(l) != from.as_ref())
                .collect();
            modal(ctx, "rotate", "Rotate to another key", |ui| {
                ui.label(format!("Re-encrypt {what} with another key, on the server: each object is copied onto itself, read with its current key and written with the new one. Nothing is downloaded, unless the server refuses the copy: then that object comes through this computer (downloaded with the old key, uploaded with the new one) and the job says so. A HEAD with the new key confirms each copy before the registry moves the object."));
                ui.add_space(6.0);
                combo(ui, "New key", to, keys);
                if matches!(scope, RotateScope::Key(_)) {
                    field(ui, "Only under", prefix, "s3://BUCKET/PREFIX (optional)");
                }
                let targets = rotation_targets(app, scope, prefix, to);
                ui.add_space(6.0);
                ui.label(
                    RichText::new(format!("{} object(s) will change:", targets.len())).strong(),
                );
                for o in targets.iter().take(6) {
                    ui.monospace(format!(
                        "{}  ({} -> {to})",
                        o.url(),
                        o.key_label.as_deref().unwrap_or("?")
                    ));
                }
                if targets.len() > 6 {
                    ui.label(format!("… and {} more", targets.len() - 6));
                }
                ui.label(RichText::new("Keep the old key until the audit shows nothing depends on it: a versioned bucket keeps old versions under it.").weak());
                buttons(ui, "Rotate", !to.is_empty() && !targets.is_empty())
            })
        }
        Dialog::Preflight {
            connection,
            bucket,
            report,
        } => {
            use crate::core::preflight::{BucketEncryption, Enforcement};
            let title = format!("Preflight of s3://{bucket}");
            let mut allow = false;
            let choice = modal(ctx, "preflight", &title, |ui| {
                match report {
                    None => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("Checking the transport, the bucket's encryption rules, and that the server enforces SSE-C (a tiny probe object with a throwaway key)…");
                        });
                    }
                    Some(Err(e)) => {
                        ui.label(RichText::new(e.as_str()).color(ui.visuals().error_fg_color));
                    }
                    Some(Ok(r)) => {
                        let good = egui::Color32::from_rgb(80, 170, 90);
                        let bad = ui.visuals().error_fg_color;
                        ui.label(
                            RichText::new(
                                "Transport: ok (keys never travel in clear to another host)",
                            )
                            .color(good),
                        );
                        match &r.bucket_encryption {
                            BucketEncryption::Allows => {
                                ui.label(
                                    RichText::new("Bucket encryption rules: SSE-C allowed")
                                        .color(good),
                                );
                            }
                            BucketEncryption::BlocksSseC => {
                                ui.label(RichText::new("Bucket encryption rules: SSE-C is BLOCKED (BlockedEncryptionTypes); uploads will fail with 403").color(bad));
                                if ui.button("Allow SSE-C on this bucket").on_hover_text("PutBucketEncryption keeping the other settings; needs the s3:PutEncryptionConfiguration permission").clicked() {
                                    allow = true;
                                }
                            }
                            BucketEncryption::Unknown(why) => {
                                ui.label(format!("Bucket encryption rules: unknown ({why})"));
                            }
                        }
                        match &r.enforcement {
                            Enforcement::Enforced => {
                                ui.label(
                                    RichText::new(
                                        "SSE-C enforced: the probe was unreadable without its key",
                                    )
                                    .color(good),
                                );
                            }
                            Enforcement::Ignored => {
                                ui.label(RichText::new("THE SERVER IGNORES SSE-C: the probe was readable without its key. Objects would be stored in plaintext.").color(bad).strong());
                            }
                            Enforcement::Failed(why) => {
                                ui.label(
                                    RichText::new(format!("The SSE-C probe failed: {why}"))
                                        .color(bad),
                                );
                            }
                        }
                        for p in &r.problems {
                            ui.label(RichText::new(p.as_str()).weak());
                        }
                    }
                }
                ui.add_space(10.0);
                if ui.button("Close").clicked() {
                    Choice::Cancel
                } else {
                    Choice::None
                }
            });
            if allow {
                *report = None;
                app.backend.send(Command::Preflight {
                    connection: connection.clone(),
                    bucket: bucket.clone(),
                    allow_sse_c: true,
                });
            }
            choice
        }
        Dialog::DeleteOldVersions { label, ids, typed } => {
            let title = format!("Delete old versions under \"{label}\"");
            modal(ctx, "delete-old-versions", &title, |ui| {
                ui.label(RichText::new(format!("⚠ {} old version(s) will be deleted from their buckets for good. They are versions kept after a rotation; the current versions, under the new key, stay.", ids.len())).color(ui.visuals().warn_fg_color));
                // A key without a label (unregistered) is confirmed with the word "delete".
                let word = if label.is_empty() {
                    "delete"
                } else {
                    label.as_str()
                };
                field(ui, "Type to confirm", typed, word);
                buttons(ui, "Delete old versions", typed == word)
            })
        }
        Dialog::ExportAudit { path } => {
            modal(ctx, "export-audit", "Export the audit report", |ui| {
                ui.label("A readable report (.md, Markdown), or the same findings for scripts and spreadsheets (.json, .csv). It lists object names and key fingerprints, never key material. An existing file is replaced.");
                ui.add_space(6.0);
                ui.horizontal(|ui| {
                    ui.add_sized([120.0, 20.0], egui::Label::new("File"));
                    ui.add(
                        egui::TextEdit::singleline(path)
                            .hint_text("/path/to/audit.md")
                            .desired_width(270.0),
                    );
                    if ui.button("Browse…").clicked() {
                        app.pick_file(PickPurpose::AuditReport, true);
                    }
                });
                buttons(ui, "Export", !path.trim().is_empty())
            })
        }
        Dialog::DeleteKey {
            label,
            typed,
            dependents,
        } => {
            let title = format!("Delete key \"{label}\"");
            modal(ctx, "delete-key", &title, |ui| {
                match dependents {
                    None => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("Looking up the objects this key encrypts…");
                        });
                    }
                    Some(d) if d.is_empty() => {
                        ui.label("This key encrypts no registered object.");
                    }
                    Some(d) => {
                        ui.label(RichText::new(format!("☠ These {} object(s) become UNRECOVERABLE: nobody, not even the provider, can open them without this key.", d.len())).color(ui.visuals().error_fg_color).strong());
                        egui::ScrollArea::vertical()
                            .max_height(160.0)
                            .show(ui, |ui| {
                                for o in d.iter() {
                                    ui.monospace(o);
                                }
                            });
                    }
                }
                ui.add_space(6.0);
                ui.label(format!("Type the label \"{label}\" to confirm:"));
                ui.add(
                    egui::TextEdit::singleline(typed)
                        .id_salt("confirm-label")
                        .desired_width(360.0),
                );
                let ok = dependents.is_some() && typed == label;
                buttons(ui, "Delete key", ok)
            })
        }
        Dialog::AddConnection(f) => modal(
            ctx,
            "add-connection",
            if f.editing {
                "Edit connection"
            } else {
                "Add a connection"
            },
            |ui| {
                ui.add_enabled_ui(!f.editing, |ui| {
                    field(ui, "Name", &mut f.name, "e.g. garage, aws-prod")
                });
                field(
                    ui,
                    "Endpoint",
                    &mut f.endpoint,
                    "https://s3.example.com (empty for AWS)",
                );
                field(ui, "Region", &mut f.region, "us-east-1");
                ui.horizontal(|ui| {
                    ui.add_sized([120.0, 20.0], egui::Label::new(""));
                    ui.checkbox(
                        &mut f.path_style,
                        "Path-style addressing (MinIO, Garage, Ceph)",
                    );
                });
                ui.horizontal(|ui| {
                    ui.add_sized([120.0, 20.0], egui::Label::new("Credentials"));
                    ui.radio_value(&mut f.source, 0, "Environment / default");
                    ui.radio_value(&mut f.source, 1, "AWS profile");
                    ui.radio_value(&mut f.source, 2, "Keyring");
                });
                match f.source {
                    1 => {
                        field(ui, "Profile", &mut f.profile, "default");
                    }
                    2 => {
                        field(ui, "Access key id", &mut f.access_key_id, "");
                        ui.horizontal(|ui| {
                            ui.add_sized([120.0, 20.0], egui::Label::new("Secret key"));
                            ui.add(
                                egui::TextEdit::singleline(&mut *f.secret)
                                    .password(true)
                                    .desired_width(360.0),
                            );
                        });
                    }
                    _ => {}
                }
                ui.horizontal(|ui| {
                    ui.add_sized([120.0, 20.0], egui::Label::new(""));
                    ui.checkbox(
                        &mut f.when_required,
                        "Checksums only when required (R2, OVH, older MinIO)",
                    );
                });
                if f.endpoint.starts_with("http://")
                    && !crate::core::preflight::is_loopback_endpoint(&f.endpoint)
                {
                    ui.label(
                        RichText::new("⚠ Plain http: SSE-C keys would travel in clear.")
                            .color(ui.visuals().error_fg_color),
                    );
                    ui.checkbox(
                        &mut f.allow_plain_http,
                        "Allow it anyway (trusted network path only)",
                    );
                }
                let ok = !f.name.trim().is_empty()
                    && (f.source != 2
                        || (!f.access_key_id.is_empty() && (f.editing || !f.secret.is_empty())));
                buttons(ui, if f.editing { "Save" } else { "Add" }, ok)
            },
        ),
        Dialog::RemoveConnection { name } => {
            let title = format!("Remove connection \"{name}\"");
            modal(ctx, "remove-connection", &title, |ui| {
                ui.label("The connection is forgotten (and its stored secret removed). Refused while registered objects live on it.");
                buttons(ui, "Remove", true)
            })
        }
        Dialog::Upload(f) => modal(ctx, "upload", "Upload with SSE-C", |ui| {
            ui.label(format!("{} item(s):", f.files.len()));
            egui::ScrollArea::vertical()
                .max_height(90.0)
                .show(ui, |ui| {
                    for p in &f.files {
                        let kind = if p.is_dir() { "📁" } else { "📄" };
                        ui.label(format!("{kind} {}", p.display()));
                    }
                });
            ui.add_space(6.0);
            combo(
                ui,
                "Connection",
                &mut f.connection,
                app.connections.iter().map(|c| c.name.clone()).collect(),
            );
            field(ui, "Bucket", &mut f.bucket, "bucket name");
            field(ui, "Prefix", &mut f.prefix, "optional/folder/");
            combo(
                ui,
                "Key",
                &mut f.key,
                app.keys
                    .iter()
                    .map(|k| k.summary.key.label.clone())
                    .collect(),
            );
            let fp = app
                .keys
                .iter()
                .find(|k| k.summary.key.label == f.key)
                .map(|k| k.summary.key.fingerprint.to_string());
            ui.add_space(6.0);
            match &fp {
                Some(fp) => {
                    ui.label(RichText::new(format!("Encrypt with key {} ({fp})", f.key)).strong());
                }
                None => {
                    ui.label(
                        RichText::new("Choose a key (generate one in Keys first).")
                            .color(ui.visuals().warn_fg_color),
                    );
                }
            }
            buttons(
                ui,
                "Upload",
                fp.is_some() && !f.bucket.trim().is_empty() && !f.connection.is_empty(),
            )
        }),
        Dialog::Download { url, path, .. } => {
            let title = format!("Download {url}");
            modal(ctx, "download", &title, |ui| {
                ui.label("The key is taken from the registry. The file appears only when complete and checked.");
                ui.horizontal(|ui| {
                    ui.add_sized([120.0, 20.0], egui::Label::new("Save as"));
                    ui.add(egui::TextEdit::singleline(path).desired_width(270.0));
                    if ui.button("Browse…").clicked() {
                        app.pick_file(PickPurpose::Download, true);
                    }
                });
                buttons(ui, "Download", !path.trim().is_empty())
            })
        }
        Dialog::DeleteObject { url, .. } => {
            let title = format!("Delete {url}?");
            modal(ctx, "delete-object", &title, |ui| {
                ui.label("The object is deleted on the server. This cannot be undone.");
                buttons(ui, "Delete object", true)
            })
        }
        Dialog::Backup {
            path,
            passphrase,
            again,
        } => modal(ctx, "backup", "Back up all keys", |ui| {
            ui.label("All keys go into one new file, encrypted with a passphrase in the age format (the age CLI can open it too). The file is read back and checked before the keys count as backed up.");
            ui.add_space(6.0);
            path_field(app, ui, path, PickPurpose::Backup, true);
            secret_field(ui, "Passphrase", passphrase);
            secret_field(ui, "Again", again);
            if !again.is_empty() && *again != *passphrase {
                ui.label(
                    RichText::new("The passphrases differ.").color(ui.visuals().error_fg_color),
                );
            }
            let ok =
                !path.trim().is_empty() && passphrase.chars().count() >= 8 && *again == *passphrase;
            buttons(ui, "Back up", ok)
        }),
        Dialog::Restore { path, passphrase } => {
            modal(ctx, "restore", "Restore keys from a backup", |ui| {
                ui.label("Keys missing from the keyring are put back; keys new to this computer are imported.");
                ui.add_space(6.0);
                path_field(app, ui, path, PickPurpose::Restore, false);
                secret_field(ui, "Passphrase", passphrase);
                buttons(
                    ui,
                    "Restore",
                    !path.trim().is_empty() && !passphrase.is_empty(),
                )
            })
        }
        Dialog::ConfirmClose => {
            modal(ctx, "confirm-close", "Transfers are running", |ui| {
                ui.label("Quitting cancels them: unfinished uploads are aborted, partial downloads removed.");
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
            })
        }
    };
    if choice == Choice::Cancel || (closed && choice != Choice::Ok) {
        return None;
    }
    if choice == Choice::None {
        return Some(dialog);
    }
    confirm(app, dialog);
    None
}

fn path_field(app: &App, ui: &mut egui::Ui, path: &mut String, purpose: PickPurpose, save: bool) {
    ui.horizontal(|ui| {
        ui.add_sized([120.0, 20.0], egui::Label::new("File"));
        ui.add(
            egui::TextEdit::singleline(path)
                .hint_text("/path/to/keys.age")
                .desired_width(270.0),
        );
        if ui.button("Browse…").clicked() {
            app.pick_file(purpose, save);
        }
    });
}

fn secret_field(ui: &mut egui::Ui, label: &str, value: &mut Zeroizing<String>) {
    ui.horizontal(|ui| {
        ui.add_sized([120.0, 20.0], egui::Label::new(label));
        ui.add(
            egui::TextEdit::singleline(&mut **value)
                .password(true)
                .desired_width(360.0),
        );
    });
}

fn combo(ui: &mut egui::Ui, label: &str, value: &mut String, options: Vec<String>) {
    ui.horizontal(|ui| {
        let id = ui.add_sized([120.0, 20.0], egui::Label::new(label)).id;
        egui::ComboBox::from_id_salt(label)
            .selected_text(value.as_str())
            .width(360.0)
            .show_ui(ui, |ui| {
                for o in options {
                    let selected = *value == o;
                    if ui.selectable_label(selected, &o).clicked() {
                        *value = o;
                    }
                }
            })
            .response
            .labelled_by(id);
    });
}

/// The dialog's OK: turn it into commands.
fn confirm(app: &mut App, dialog: Dialog) {
    match dialog {
        Dialog::Generate { label } => app.backend.send(Command::GenerateKey {
            label: label.trim().to_string(),
        }),
        Dialog::Import { label, text, path } => {
            let label = label.trim().to_string();
            if path.trim().is_empty() {
                app.backend.send(Command::ImportKey {
                    label,
                    bytes: Zeroizing::new(text.as_bytes().to_vec()),
                    origin: "pasted text".into(),
                });
            } else {
                app.backend.send(Command::ImportKeyFile {
                    label,
                    path: PathBuf::from(path.trim()),
                });
            }
        }
        Dialog::Export { label, path } => app.backend.send(Command::ExportKey {
            label,
            path: PathBuf::from(path.trim()),
        }),
        Dialog::DeleteKey { label, .. } => {
            app.backend.send(Command::DeleteKey { label, force: true })
        }
        Dialog::Rotate { scope, to, prefix } => {
            let object_ids: Vec<i64> = rotation_targets(app, &scope, &prefix, &to)
                .iter()
                .map(|o| o.id)
                .collect();
            if let Some(jobs) = app.jobs() {
                jobs.start(JobSpec::Rotate {
                    object_ids,
                    to_label: to,
                });
                app.prefs.screen = super::Screen::Transfers;
            }
        }
        Dialog::DeleteOldVersions { ids, .. } => {
            app.backend.send(Command::DeleteOldVersions { ids })
        }
        Dialog::Preflight { .. } => {}
        Dialog::ExportAudit { path } => app.backend.send(Command::ExportAudit {
            path: PathBuf::from(path.trim()),
        }),
        Dialog::AddConnection(f) => {
            let mut record = ConnectionRecord::new(
                f.name.trim(),
                Some(f.endpoint.trim()).filter(|e| !e.is_empty()),
                f.region.trim(),
            );
            record.path_style = f.path_style;
            record.allow_plain_http = f.allow_plain_http;
            record.checksum_mode = if f.when_required {
                ChecksumMode::WhenRequired
            } else {
                ChecksumMode::WhenSupported
            };
            let mut secret = None;
            match f.source {
                1 => {
                    record.credential_source = CredentialSource::Profile;
                    record.profile = Some(f.profile.trim().to_string()).filter(|p| !p.is_empty());
                }
                2 => {
                    record.credential_source = CredentialSource::Keyring;
                    record.access_key_id = Some(f.access_key_id.trim().to_string());
                    secret = Some(f.secret).filter(|s| !s.is_empty());
                }
                _ => {}
            }
            if f.editing {
                app.backend
                    .send(Command::UpdateConnection { record, secret });
            } else {
                app.backend.send(Command::AddConnection { record, secret });
            }
        }
        Dialog::RemoveConnection { name } => app.backend.send(Command::RemoveConnection { name }),
        Dialog::Upload(f) => start_upload(app, f),
        Dialog::Download {
            connection,
            url,
            path,
        } => {
            if let Some(jobs) = app.jobs() {
                jobs.start(JobSpec::Download {
                    connection,
                    src: url,
                    dest: PathBuf::from(path.trim()),
                    key_label: None,
                });
                app.prefs.screen = super::Screen::Transfers;
            }
        }
        Dialog::DeleteObject { connection, url } => {
            app.backend.send(Command::DeleteObject { connection, url });
            app.refresh_listing();
        }
        Dialog::Backup {
            path, passphrase, ..
        } => app.backend.send(Command::BackupKeys {
            path: PathBuf::from(path.trim()),
            passphrase,
        }),
        Dialog::Restore { path, passphrase } => app.backend.send(Command::RestoreKeys {
            path: PathBuf::from(path.trim()),
            passphrase,
        }),
        Dialog::ConfirmClose => {
            if let Some(j) = app.jobs() {
                j.cancel_all();
            }
            app.closing = true;
        }
    }
}

/// Queues one job per file (folders expand to their files, listed on a worker).
fn start_upload(app: &mut App, f: UploadForm) {
    let Some(jobs) = app.jobs().cloned() else {
        app.error("The registry is not open yet; try again in a moment");
        return;
    };
    app.prefs.last_key = Some(f.key.clone());
    app.prefs.last_connection = Some(f.connection.clone());
    app.prefs.last_bucket = Some(f.bucket.clone());
    app.prefs.screen = super::Screen::Transfers;
    let bucket = f.bucket.trim().to_string();
    let prefix = f.prefix.trim().trim_start_matches('/').to_string();
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix
    } else {
        format!("{prefix}/")
    };
    app.runtime().spawn_blocking(move || {
        for path in f.files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dest = S3Url {
                bucket: bucket.clone(),
                key: format!("{prefix}{name}"),
            };
            if path.is_dir() {
                let group = Some(path.display().to_string());
                let plan = crate::core::transfer::plan_folder(&path, &dest).unwrap_or_default();
                for (src, dest) in plan {
                    jobs.start_in_group(
                        JobSpec::Upload {
                            connection: f.connection.clone(),
                            src,
                            dest,
                            key_label: f.key.clone(),
                        },
                        group.clone(),
                    );
                }
            } else {
                jobs.start(JobSpec::Upload {
                    connection: f.connection.clone(),
                    src: path,
                    dest,
                    key_label: f.key.clone(),
                });
            }
        }
    });
}

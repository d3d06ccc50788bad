//! A bucket's preflight: running, then its report, with "Allow SSE-C" when the bucket
//! blocks it.

use egui::RichText;

use super::{Choice, DialogUi};
use crate::core::preflight::{BucketEncryption, Enforcement, PreflightReport};
use crate::core::registry::{BucketTraits, Rekey};
use crate::ui::{App, Command};

#[derive(Debug)]
pub struct Preflight {
    pub connection: String,
    pub bucket: String,
    /// None while it runs.
    pub report: Option<Result<Box<PreflightReport>, String>>,
}

impl Preflight {
    /// Starts the preflight on the worker; the dialog shows it running.
    pub fn start(app: &App, connection: String, bucket: String) -> Self {
        app.backend.send(Command::Preflight {
            connection: connection.clone(),
            bucket: bucket.clone(),
            allow_sse_c: false,
        });
        Self {
            connection,
            bucket,
            report: None,
        }
    }
}

use crate::ui::screens::GOOD;

/// The report's lines; true when "Allow SSE-C on this bucket" was clicked.
fn report_ui(ui: &mut egui::Ui, r: &PreflightReport) -> bool {
    let bad = ui.visuals().error_fg_color;
    let mut allow = false;
    ui.label(
        RichText::new("Transport: ok (keys never travel in clear to another host)")
            .color(crate::ui::screens::tone(ui, GOOD)),
    );
    match &r.bucket_encryption {
        BucketEncryption::Allows => {
            ui.label(
                RichText::new("Bucket encryption rules: SSE-C allowed")
                    .color(crate::ui::screens::tone(ui, GOOD)),
            );
        }
        BucketEncryption::BlocksSseC => {
            ui.label(RichText::new("Bucket encryption rules: SSE-C is BLOCKED (BlockedEncryptionTypes); uploads will fail with 403").color(bad));
            allow = ui
                .button("Allow SSE-C on this bucket")
                .on_hover_text("PutBucketEncryption keeping the other settings; needs the s3:PutEncryptionConfiguration permission")
                .clicked();
        }
        BucketEncryption::Unknown(why) => {
            ui.label(format!("Bucket encryption rules: unknown ({why})"));
        }
    }
    match &r.enforcement {
        Enforcement::Enforced => {
            ui.label(
                RichText::new("SSE-C enforced: the probe was unreadable without its key")
                    .color(crate::ui::screens::tone(ui, GOOD)),
            );
        }
        Enforcement::Ignored => {
            ui.label(RichText::new("THE SERVER IGNORES SSE-C: the probe was readable without its key. Objects would be stored in plaintext.").color(bad).strong());
        }
        Enforcement::Failed(why) => {
            ui.label(RichText::new(format!("The SSE-C probe failed: {why}")).color(bad));
        }
    }
    for p in &r.problems {
        ui.label(RichText::new(p.as_str()).weak());
    }
    let warn = ui.visuals().warn_fg_color;
    for f in &r.findings {
        ui.label(RichText::new(format!("⚠ {f}")).color(warn));
    }
    if r.enforcement == Enforcement::Enforced {
        ui.label(RichText::new(traits_line(&r.traits)).weak());
    }
    allow
}

/// What the probe learned of the server, in one line.
fn traits_line(t: &BucketTraits) -> String {
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    format!(
        "Learned for this bucket: re-keys in place with {}; copies parts with SSE-C: {}; \
         takes a part without the key: {}",
        match t.rekey {
            Some(Rekey::Copy) => "COPY",
            Some(Rekey::Replace) => "REPLACE only",
            None => "neither (rotations go through this computer)",
        },
        yes_no(t.part_copy),
        yes_no(t.keyless_part_accepted)
    )
}

impl DialogUi for Preflight {
    const ID: &'static str = "preflight";

    fn title(&self) -> String {
        format!("Preflight of s3://{}", self.bucket)
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        let allow = match &self.report {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Checking the transport, the bucket's encryption rules, and that the server enforces SSE-C (a tiny probe object with a throwaway key)…");
                });
                false
            }
            Some(Err(e)) => {
                ui.label(RichText::new(e.as_str()).color(ui.visuals().error_fg_color));
                false
            }
            Some(Ok(r)) => report_ui(ui, r),
        };
        if allow {
            self.report = None;
            app.backend.send(Command::Preflight {
                connection: self.connection.clone(),
                bucket: self.bucket.clone(),
                allow_sse_c: true,
            });
        }
        ui.add_space(10.0);
        if ui.button("Close").clicked() {
            Choice::Cancel
        } else {
            Choice::None
        }
    }

    fn confirm(self, _app: &mut App) {}
}

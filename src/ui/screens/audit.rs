//! The Audit screen: summary cards, verify, the per-key table, charts, findings with fixes.

use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};

use super::title;
use crate::core::audit::{AuditReport, Finding, FixAction, Severity};
use crate::core::jobs::JobSpec;
use crate::ui::dialogs::{DeleteOldVersions, Dialog, ExportAudit};
use crate::ui::{App, Screen, human_bytes};

pub(super) fn show(app: &mut App, ui: &mut egui::Ui) {
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
    summary_cards(app, ui, &report);
    ui.add_space(6.0);
    verify_bar(app, ui, &report);
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
                    .color(super::tone(ui, super::GOOD)),
                );
            }
            if app.audit_at_risk_only
                && ui
                    .link("Showing the findings that put objects at risk: show all")
                    .clicked()
            {
                app.audit_at_risk_only = false;
            }
            for (i, f) in report.findings.iter().enumerate() {
                if !app.audit_at_risk_only || f.puts_at_risk() {
                    finding_panel(app, ui, i, f);
                }
            }
        });
}

/// Keys, objects, bytes, objects at risk (the core's one definition: every object a
/// CRITICAL or HIGH finding names), of them the ones that cannot be opened now. A risk card
/// shows only the findings it counts.
fn summary_cards(app: &mut App, ui: &mut egui::Ui, report: &AuditReport) {
    ui.horizontal_wrapped(|ui| {
        for (label, value, alarm, tip) in [
            ("Keys", report.keys.to_string(), false, ""),
            ("Objects", report.objects.to_string(), false, ""),
            ("Bytes", human_bytes(report.bytes), false, ""),
            (
                "Objects at risk",
                report.objects_at_risk.to_string(),
                report.objects_at_risk > 0,
                "Objects whose loss is possible: no key here, a key never backed up, or the server says gone or changed. Click to see those findings.",
            ),
            (
                "Cannot be opened",
                report.objects_unrecoverable.to_string(),
                report.objects_unrecoverable > 0,
                "Objects that cannot be opened with what this computer holds, or that the server no longer has as uploaded. Click to see those findings.",
            ),
        ] {
            let card = egui::Frame::group(ui.style())
                .inner_margin(12.0)
                .show(ui, |ui| {
                    ui.vertical(|ui| {
                        ui.set_min_width(120.0);
                        let text = RichText::new(value).size(26.0).strong();
                        ui.label(if alarm {
                            text.color(ui.visuals().error_fg_color)
                        } else {
                            text
                        });
                        ui.label(label);
                    });
                })
                .response;
            if !tip.is_empty() {
                let card = card
                    .interact(egui::Sense::click())
                    .on_hover_text(tip)
                    .on_hover_cursor(egui::CursorIcon::PointingHand);
                if card.clicked() {
                    app.audit_at_risk_only = true;
                }
            }
        }
    });
}

/// Verify all, Deep verify, Export report…, and a running verify's progress with Cancel.
fn verify_bar(app: &mut App, ui: &mut egui::Ui, report: &AuditReport) {
    let jobs = app.jobs().cloned();
    let verifying = jobs.as_ref().and_then(|j| {
        j.jobs()
            .into_iter()
            .find(|v| matches!(v.spec, JobSpec::Verify { .. }) && !v.state.is_finished())
    });
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
            app.dialog = Some(Dialog::ExportAudit(ExportAudit::default()));
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
}

/// Green, amber, red: a severity at a glance.
fn severity_color(s: Option<Severity>) -> Color32 {
    match s {
        None | Some(Severity::Low) => Color32::from_rgb(80, 170, 90),
        Some(Severity::Medium) => Color32::from_rgb(120, 150, 210),
        Some(Severity::High) => Color32::from_rgb(230, 160, 40),
        Some(Severity::Critical) => Color32::from_rgb(230, 70, 60),
    }
}

/// One row per key: what it encrypts and how safe that is.
fn key_health_table(ui: &mut egui::Ui, report: &AuditReport) {
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
                    let c = super::tone(ui, severity_color(k.health));
                    ui.label(
                        RichText::new(k.health.map(|h| h.label()).unwrap_or("ok"))
                            .strong()
                            .color(c),
                    );
                });
            });
        });
}

/// Bytes per key, largest first, each bar with its value (a 4.8 MiB key beside a 1 GiB one
/// is still there to read); objects by health, by the audit's own rules.
fn audit_charts(ui: &mut egui::Ui, report: &AuditReport) {
    let width = (ui.available_width() / 2.0 - 12.0).max(260.0);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(width);
            ui.label(RichText::new("Bytes per key").strong());
            let mut keys: Vec<_> = report.per_key.iter().collect();
            keys.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.label.cmp(&b.label)));
            let rows = keys
                .iter()
                .map(|k| {
                    (
                        k.label.clone(),
                        k.bytes as f64,
                        human_bytes(k.bytes),
                        severity_color(k.health),
                    )
                })
                .collect();
            bar_list(ui, width, rows);
        });
        ui.vertical(|ui| {
            ui.set_width(width);
            ui.label(RichText::new("Objects by health").strong());
            bar_list(ui, width, health_rows(report));
        });
    });
}

/// How many registered objects are in each health state (`core::audit::object_health`),
/// as the audit summed them.
fn health_rows(report: &AuditReport) -> Vec<(String, f64, String, Color32)> {
    use crate::core::audit::Health;
    let red = Color32::from_rgb(230, 70, 60);
    let rows = [
        (Health::Ok, "fine", Color32::from_rgb(80, 170, 90)),
        (
            Health::NoBackup,
            "key never backed up",
            Color32::from_rgb(230, 160, 40),
        ),
        (Health::KeyMissing, "key missing", red),
        (Health::KeyGone, "key deleted", red),
        (Health::GoneOnServer, "gone from the server", red),
        (Health::WrongKey, "no longer opens", red),
        (Health::Changed, "changed on the server", red),
        (Health::OffSseC, "moved off SSE-C", Color32::from_gray(140)),
    ];
    rows.into_iter()
        .filter_map(|(h, name, color)| {
            let n = *report.objects_by_health.get(&h)?;
            Some((name.to_string(), n as f64, n.to_string(), color))
        })
        .collect()
}

/// Horizontal bars, one per row: its name, a bar as long as its share of the largest (never
/// thinner than a sliver), and its value in words.
fn bar_list(ui: &mut egui::Ui, width: f32, rows: Vec<(String, f64, String, Color32)>) {
    if rows.is_empty() {
        ui.label(RichText::new("Nothing yet.").weak());
        return;
    }
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1.0);
    let bar_width = (width - 230.0).max(60.0);
    for (name, value, text, color) in rows {
        ui.horizontal(|ui| {
            ui.add_sized([120.0, 18.0], egui::Label::new(&name).truncate());
            let (rect, _) =
                ui.allocate_exact_size(egui::vec2(bar_width, 14.0), egui::Sense::hover());
            let w = ((value / max) as f32 * bar_width).max(3.0);
            ui.painter().rect_filled(
                egui::Rect::from_min_size(rect.min, egui::vec2(w, rect.height())),
                2.0,
                color,
            );
            ui.label(text);
        });
    }
}

/// How many of the finding's objects are shown, and a link that reads the next page (the
/// audit holds the first page of each finding, not all of its objects).
fn finding_more(app: &mut App, ui: &mut egui::Ui, index: usize, f: &Finding) {
    let (n, total) = (f.objects.len() as u64, f.total());
    if n <= 6 && !f.has_more() {
        return;
    }
    let grey = Color32::from_gray(220);
    ui.horizontal(|ui| {
        let words = if f.has_more() {
            format!("{n} of {total} objects shown (scroll)")
        } else {
            format!("{total} objects (scroll)")
        };
        ui.label(RichText::new(words).color(grey));
        if let Some(scope) = f.scope.clone().filter(|_| f.has_more()) {
            let more = (total - n).min(crate::ui::backend::FINDING_PAGE as u64);
            if ui
                .link(RichText::new(format!("Show {more} more")).color(Color32::WHITE))
                .clicked()
            {
                app.backend.send(crate::ui::Command::FindingPage {
                    index,
                    scope,
                    after: f.next_after,
                });
            }
        }
    });
}

/// One finding: what, which objects (a virtualised list: only visible rows are laid out),
/// and its fix with a button where the window can do it.
fn finding_panel(app: &mut App, ui: &mut egui::Ui, index: usize, f: &Finding) {
    let fill = match f.severity {
        Severity::Critical => crate::ui::ERROR_FILL,
        Severity::High => crate::ui::WARN_FILL,
        Severity::Medium => super::MEDIUM_FILL,
        Severity::Low => super::LOW_FILL,
    };
    crate::ui::panel(ui, fill, |ui| {
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
            finding_more(app, ui, index, f);
        }
        // The fix is a button that runs it here; the command line is only offered to copy.
        let command = f.fix.clone().filter(|fix| fix.contains("ssec-manager "));
        if let Some(fix) = f
            .fix
            .as_ref()
            .filter(|_| command.is_none() || f.action.is_none())
        {
            ui.label(
                RichText::new(format!("Fix: {}", crate::ui::words::for_window(fix)))
                    .color(Color32::from_gray(235)),
            );
        }
        let button = match f.action {
            Some(FixAction::RestoreBackup) => Some("Restore from a backup…"),
            Some(FixAction::BackUp) => Some("Back up keys…"),
            Some(FixAction::Verify) => Some("Verify now"),
            Some(FixAction::Scan) => Some("Open in Objects"),
            Some(FixAction::ResumeUploads) => Some("Open Transfers"),
            Some(FixAction::DeleteOldVersions) => Some("Delete old versions…"),
            Some(FixAction::Reconcile) => Some("Ask the server now"),
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
                FixAction::Reconcile => app.backend.send(crate::ui::Command::Reconcile),
                FixAction::ResumeUploads => app.prefs.screen = Screen::Transfers,
                FixAction::DeleteOldVersions => {
                    let Some(scope) = f.scope.clone() else {
                        return;
                    };
                    app.dialog = Some(Dialog::DeleteOldVersions(DeleteOldVersions {
                        label: f.key_label.clone().unwrap_or_default(),
                        scope,
                        count: f.count,
                        typed: String::new(),
                    }));
                }
            }
        }
        if let Some(cmd) = command.filter(|_| f.action.is_some())
            && ui
                .small_button("Copy command")
                .on_hover_text(format!("The same from a terminal: {cmd}"))
                .clicked()
        {
            ui.ctx().copy_text(cmd);
        }
    });
}

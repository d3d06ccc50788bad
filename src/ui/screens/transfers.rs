//! The Transfers screen: every job with its progress, and interrupted uploads.

use egui::{Color32, RichText};

use super::title;
use crate::core::jobs::{JobManager, JobSpec, JobState, JobView};
use crate::ui::{App, Command, human_bytes};

pub(super) fn show(app: &mut App, ui: &mut egui::Ui) {
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
            "No transfers running. Drop files on the window, or Upload files… in Objects; download from Objects.",
        );
        history(app, ui);
        return;
    }
    list.reverse();
    let finished = list.iter().filter(|j| j.state.is_finished()).count();
    if ui
        .add_enabled(
            finished > 0,
            egui::Button::new(format!("Clear finished ({finished})")),
        )
        .on_hover_text("Remove the finished transfers from this list (nothing is deleted)")
        .clicked()
    {
        jobs.clear_finished();
    }
    let (mut retry, mut retry_failed) = (None, None);
    for j in &list {
        egui::Frame::group(ui.style())
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                if job_heading(ui, &jobs, j) {
                    retry = Some(j.id);
                }
                job_progress(ui, j);
                if failures(ui, j) {
                    retry_failed = Some(j.id);
                }
            });
        ui.add_space(4.0);
    }
    history(app, ui);
    if let Some(id) = retry {
        jobs.retry(id);
    }
    if let Some(id) = retry_failed {
        jobs.retry_failed(id);
    }
}

/// Finished transfers of this and earlier sessions, newest first (kept in the window's
/// settings; "Clear history" forgets them).
fn history(app: &mut App, ui: &mut egui::Ui) {
    if app.prefs.history.is_empty() {
        return;
    }
    ui.add_space(6.0);
    egui::CollapsingHeader::new(format!("Earlier ({})", app.prefs.history.len()))
        .id_salt("transfer-history")
        .show(ui, |ui| {
            if ui.small_button("Clear history").clicked() {
                app.prefs.history.clear();
                return;
            }
            for e in app.prefs.history.iter().rev().take(50) {
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(e.at.get(..16).unwrap_or(&e.at)).weak());
                    let mark = if e.ok { "done" } else { "failed" };
                    let color = if e.ok {
                        super::tone(ui, super::GOOD)
                    } else {
                        ui.visuals().error_fg_color
                    };
                    ui.label(RichText::new(mark).color(color));
                    ui.label(&e.what);
                    ui.label(RichText::new(&e.outcome).weak());
                });
            }
        });
}

/// What the job is, its state, and its buttons; true when Retry was clicked.
fn job_heading(ui: &mut egui::Ui, jobs: &JobManager, j: &JobView) -> bool {
    let mut retry = false;
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
                retry = true;
            }
            if matches!(j.state, JobState::Done(_))
                && matches!(
                    j.spec,
                    JobSpec::Upload { .. } | JobSpec::Download { .. } | JobSpec::Sync { .. }
                )
                && ui.button("Open folder").clicked()
            {
                open_folder(&j.spec);
            }
            let color = match j.state {
                JobState::Done(_) => super::GOOD,
                JobState::Failed(_) => ui.visuals().error_fg_color,
                _ => ui.visuals().text_color(),
            };
            ui.label(RichText::new(j.state.label()).color(color));
        });
    });
    retry
}

/// The bar, the counts, speed and time left while it runs, and how it ended.
fn job_progress(ui: &mut egui::Ui, j: &JobView) {
    let p = j.progress;
    ui.add(
        egui::ProgressBar::new(p.fraction())
            .show_percentage()
            .desired_height(14.0),
    );
    let done = if j.spec.counts_objects() {
        format!("{} of {} objects", p.done, p.total)
    } else if p.files_total > 0 {
        format!(
            "{} of {} files  ·  {} of {}",
            p.files_done,
            p.files_total,
            human_bytes(p.done),
            human_bytes(p.total)
        )
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
        ui.label(crate::ui::words::for_window(summary));
    }
    if let JobState::Failed(e) = &j.state {
        ui.label(RichText::new(crate::ui::words::for_window(e)).color(ui.visuals().error_fg_color));
    }
}

/// The files of a folder job that failed, each with why; true when "Retry failed" was
/// clicked.
fn failures(ui: &mut egui::Ui, j: &JobView) -> bool {
    if j.failures.is_empty() {
        return false;
    }
    let mut retry = false;
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("{} file(s) failed", j.failures.len()))
                .color(ui.visuals().error_fg_color),
        );
        retry = j.state.is_finished()
            && ui
                .button("Retry failed")
                .on_hover_text("Run the same folder job again for only these files")
                .clicked();
    });
    egui::CollapsingHeader::new("Failed files")
        .id_salt(("failures", j.id))
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .max_height(140.0)
                .show(ui, |ui| {
                    for f in j.failures.iter().take(500) {
                        ui.label(format!("{}: {}", f.object, f.error));
                    }
                });
        });
    retry
}

/// Multipart uploads that a crash or a lost network left unfinished: resume or abort.
fn interrupted_uploads(app: &mut App, jobs: &JobManager, ui: &mut egui::Ui) {
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
    crate::ui::panel(ui, crate::ui::WARN_FILL, |ui| {
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
                let object = &m.object;
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
        JobSpec::Sync { request } => Some(request.local.clone()),
        JobSpec::Resume { .. }
        | JobSpec::Verify { .. }
        | JobSpec::Rotate { .. }
        | JobSpec::Migrate { .. } => None,
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

//! Modal dialogs, one at a time, each in `App::dialog`. As egui's demo windows: each dialog
//! is a struct with its state, its `ui`, and what it does when confirmed (`DialogUi`), in
//! its own module; this module only dispatches and holds the shared widgets. Paths can be
//! typed or picked through the system dialog (which runs on a worker and fills the field
//! when it answers).

mod audit;
mod backup;
mod browse;
mod chooser;
mod close;
mod connection;
mod keys;
mod places;
mod preflight;
mod rotate;
mod share;
mod sync;
mod transfer;

use std::path::PathBuf;

pub use audit::{DeleteOldVersions, ExportAudit};
pub use backup::{Backup, Restore};
pub use chooser::Chooser;
pub use close::ConfirmClose;
pub use connection::{ConnectionForm, RemoveConnection};
pub use keys::{DeleteKey, Export, Generate, Import};
pub use places::{DefaultKey, Migrate};
pub use preflight::Preflight;
pub use rotate::{FirstRows, Rotate};
pub use share::{Receive, Share};
pub use sync::{DownloadFolder, Sync};
pub use transfer::{DeleteObject, DeleteObjects, Download, Upload};

use super::App;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickPurpose {
    ImportKey,
    ExportKey,
    Download,
    Backup,
    Restore,
    AuditReport,
    CaBundle,
    /// A folder (the system dialog picks folders).
    Folder,
    /// A keys file of recipients to share with.
    Recipients,
    /// Where a key share is written.
    Share,
    /// A key share to receive.
    Receive,
    /// An age identity or SSH private key.
    Identity,
    /// A file to upload (the built-in chooser's "System dialog…").
    UploadFile,
}

/// What the buttons at the bottom of a dialog asked for.
#[derive(Debug, PartialEq)]
pub enum Choice {
    None,
    Ok,
    Cancel,
}

/// One dialog: its title, its body, and its OK.
pub trait DialogUi: Sized {
    /// Names the modal for egui (one per kind of dialog).
    const ID: &'static str;
    fn title(&self) -> String;
    /// Draws the body and the buttons; returns what was asked for.
    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice;
    /// The dialog's OK: turn it into commands.
    fn confirm(self, app: &mut App);
    /// The path field the system file dialog fills, and what it is for (none by default).
    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        None
    }
    /// The worker refused what the dialog asked (it stays open with its input, showing
    /// why); false when this dialog does not wait for answers.
    fn failed(&mut self, _error: &str) -> bool {
        false
    }
    /// Whether it waits for the worker's answer to its OK.
    fn waiting(&self) -> bool {
        false
    }
    /// A file chosen in the system dialog goes into the field that asked for it.
    fn picked(&mut self, purpose: PickPurpose, path: String) {
        if let Some((wanted, field)) = self.file_field()
            && wanted == purpose
        {
            *field = path;
        }
    }
}

macro_rules! dialogs {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        #[derive(Debug)]
        pub enum Dialog {
            $($variant($ty)),*
        }

        /// Draws `dialog`; returns it if it stays open.
        pub fn show(app: &mut App, ctx: &egui::Context, dialog: Dialog) -> Option<Dialog> {
            match dialog {
                $(Dialog::$variant(d) => run(app, ctx, d).map(Dialog::$variant)),*
            }
        }

        /// An error for the open dialog: shown in it, its input kept; false if no open
        /// dialog waits for one.
        pub fn failed(app: &mut App, error: &str) -> bool {
            match &mut app.dialog {
                $(Some(Dialog::$variant(d)) => d.failed(error),)*
                None => false,
            }
        }

        impl Dialog {
            /// Whether it waits for the worker's answer to its OK.
            pub fn waiting(&self) -> bool {
                match self {
                    $(Dialog::$variant(d) => d.waiting()),*
                }
            }
        }

        /// A file chosen in the system dialog goes into the field of the dialog that asked.
        pub fn apply_pick(app: &mut App, purpose: PickPurpose, picked: PathBuf) {
            let text = picked.display().to_string();
            match &mut app.dialog {
                $(Some(Dialog::$variant(d)) => d.picked(purpose, text),)*
                None => {}
            }
        }
    };
}

dialogs!(
    Generate(Generate),
    Import(Import),
    Export(Export),
    DeleteKey(DeleteKey),
    Connection(ConnectionForm),
    RemoveConnection(RemoveConnection),
    Upload(Upload),
    Download(Download),
    DeleteObject(DeleteObject),
    DeleteObjects(DeleteObjects),
    Backup(Backup),
    Restore(Restore),
    ExportAudit(ExportAudit),
    DeleteOldVersions(DeleteOldVersions),
    Rotate(Rotate),
    Preflight(Preflight),
    Sync(Sync),
    DownloadFolder(DownloadFolder),
    Share(Share),
    Receive(Receive),
    DefaultKey(DefaultKey),
    Migrate(Migrate),
    Chooser(Chooser),
    ConfirmClose(ConfirmClose),
);

impl Dialog {
    pub fn generate() -> Self {
        Dialog::Generate(Generate::default())
    }

    pub fn import() -> Self {
        Dialog::Import(Import::default())
    }

    pub fn export(label: &str) -> Self {
        Dialog::Export(Export {
            label: label.to_string(),
            path: String::new(),
        })
    }

    /// The delete dialog; the worker is asked for the key's dependents, which fill it.
    pub fn delete_key(app: &App, label: &str) -> Self {
        app.backend.send(super::Command::KeyDependents {
            label: label.to_string(),
        });
        Dialog::DeleteKey(DeleteKey {
            label: label.to_string(),
            fingerprint: app
                .keys
                .iter()
                .find(|k| k.summary.key.label == label)
                .map(|k| k.summary.key.fingerprint.clone()),
            typed: String::new(),
            dependents: None,
        })
    }

    pub fn add_connection() -> Self {
        Dialog::Connection(ConnectionForm::add())
    }

    pub fn edit_connection(c: &crate::core::registry::ConnectionRecord) -> Self {
        Dialog::Connection(ConnectionForm::edit(c))
    }

    pub fn upload(app: &App, files: Vec<PathBuf>) -> Self {
        Dialog::Upload(Upload::new(app, files))
    }

    pub fn download(connection: &str, url: crate::core::location::S3Url) -> Self {
        Dialog::Download(Download::new(connection, url))
    }

    pub fn backup() -> Self {
        Dialog::Backup(Backup::default())
    }

    pub fn restore() -> Self {
        Dialog::Restore(Restore::default())
    }
}

/// Draws one dialog in a modal; confirms it on OK, drops it on Cancel or Esc.
fn run<D: DialogUi>(app: &mut App, ctx: &egui::Context, mut dialog: D) -> Option<D> {
    let title = dialog.title();
    let response = egui::Modal::new(egui::Id::unique(D::ID)).show(ctx, |ui| {
        ui.set_width(520.0);
        ui.heading(title);
        ui.add_space(8.0);
        dialog.ui(app, ui)
    });
    let closed = response.should_close();
    match response.inner {
        Choice::Ok => {
            dialog.confirm(app);
            None
        }
        Choice::Cancel => None,
        Choice::None if closed => None,
        Choice::None => Some(dialog),
    }
}

/// OK and Cancel; Enter is OK when it is enabled.
pub(crate) fn buttons(ui: &mut egui::Ui, ok: &str, enabled: bool) -> Choice {
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

/// A labelled one-line text field.
pub(crate) fn field(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    hint: &str,
) -> egui::Response {
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

/// A file path field with a Browse… button that opens the window's own file list under it
/// (the system dialog from there).
pub(crate) fn path_field(
    app: &App,
    ui: &mut egui::Ui,
    label: &str,
    path: &mut String,
    hint: &str,
    purpose: PickPurpose,
    save: bool,
) -> egui::Response {
    let id = ui.scope_id().with(("browse", label));
    let edit = ui
        .horizontal(|ui| {
            ui.add_sized([120.0, 20.0], egui::Label::new(label));
            let edit = ui.add(
                egui::TextEdit::singleline(path)
                    .hint_text(hint)
                    .desired_width(270.0),
            );
            browse::toggle(ui, id, path, save);
            edit
        })
        .inner;
    browse::list(app, ui, id, path, (purpose, save));
    edit
}

/// A password field (the text is never shown).
pub(crate) fn secret_field(ui: &mut egui::Ui, label: &str, value: &mut zeroize::Zeroizing<String>) {
    ui.horizontal(|ui| {
        ui.add_sized([120.0, 20.0], egui::Label::new(label));
        ui.add(
            egui::TextEdit::singleline(&mut **value)
                .password(true)
                .desired_width(360.0),
        );
    });
}

/// A labelled choice among `options`.
pub(crate) fn combo(ui: &mut egui::Ui, label: &str, value: &mut String, options: Vec<String>) {
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

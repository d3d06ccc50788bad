//! The Objects screen: a bucket browser. Regions, top to bottom: the place (connection,
//! bucket) with the folder's actions, the breadcrumbs, the selection bar, the listing.

use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};

use super::{AMBER, GOOD, ROW, title};
use crate::core::audit::{Health, object_health};
use crate::core::location::{S3Url, local_path_for};
use crate::core::rotate::RotateSelection;
use crate::core::scan::ObjectKind;
use crate::ui::dialogs::{
    Chooser, DefaultKey, DeleteObject, DeleteObjects, Dialog, DownloadFolder, Migrate, Preflight,
    Rotate, Sync,
};
use crate::ui::{App, Browser, Command, Entry, SortBy, human_bytes};

/// What a click in the listing asked for, applied after the table is drawn.
#[derive(Default)]
struct Clicks {
    open_prefix: Option<String>,
    toggled: Option<String>,
    action: Option<(String, &'static str)>,
    /// A column header clicked: sort by it (again: reverse).
    sort: Option<SortBy>,
}

impl Clicks {
    /// What the keyboard asked for, where the mouse asked for nothing.
    fn merge(&mut self, keyed: Clicks) {
        self.open_prefix = self.open_prefix.take().or(keyed.open_prefix);
        self.toggled = self.toggled.take().or(keyed.toggled);
        self.action = self.action.take().or(keyed.action);
    }
}

pub(super) fn show(app: &mut App, ui: &mut egui::Ui) {
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
    // Wrapped: at any width every action stays on screen.
    ui.horizontal_wrapped(|ui| {
        relist |= place(app, ui);
        upload_buttons(app, ui);
        folder_actions(app, ui, &mut relist);
        ui.add(
            egui::TextEdit::singleline(&mut app.browser.filter)
                .hint_text("Filter names")
                .desired_width(160.0),
        );
        relist |= ui
            .checkbox(&mut app.browser.all, "All below")
            .on_hover_text(
                "List every object below this folder, at any depth (the filter then searches \
                 them all)",
            )
            .changed();
    });
    relist |= breadcrumbs(app, ui);
    if relist {
        app.refresh_listing();
    }
    if let Some(e) = &app.browser.error {
        crate::ui::banner(ui, true, e);
    }
    let entries = visible_entries(&app.browser);
    selection_bar(app, ui, entries.len());
    let keyed = keyboard(app, ui, &entries);
    let mut clicks = listing(app, ui, &entries, keyed.is_some());
    if let Some(k) = keyed {
        clicks.merge(k);
    }
    apply(app, ui, clicks);
}

/// The parent folder of the open one ("" is the bucket), when it is not the bucket itself.
fn parent(prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return None;
    }
    let inner = prefix.trim_end_matches('/');
    Some(
        inner
            .rfind('/')
            .map_or(String::new(), |i| inner[..=i].to_string()),
    )
}

/// Arrow keys move a cursor through the rows (the parent row first), Home and End jump,
/// Enter opens a folder or an object's Download dialog, Space ticks an object, Backspace goes
/// up a folder. Not while a control has the keyboard (a text field, or a button reached
/// with Tab, whose Enter and Space are its own). Some(clicks) when a key moved or acted.
fn keyboard(app: &mut App, ui: &egui::Ui, entries: &[Entry]) -> Option<Clicks> {
    if app.dialog.is_some() || ui.ctx().memory(|m| m.focused().is_some()) {
        return None;
    }
    let up = parent(&app.browser.prefix);
    let rows = entries.len() + usize::from(up.is_some());
    let key = |k: egui::Key| {
        ui.ctx()
            .input_mut(|i| i.consume_key(egui::Modifiers::NONE, k))
    };
    let mut clicks = Clicks::default();
    let cursor = &mut app.browser.cursor;
    let last = rows.checked_sub(1)?;
    let moved = if key(egui::Key::ArrowDown) {
        *cursor = Some(cursor.map_or(0, |c| (c + 1).min(last)));
        true
    } else if key(egui::Key::ArrowUp) {
        *cursor = Some(cursor.map_or(0, |c| c.saturating_sub(1)));
        true
    } else if key(egui::Key::Home) {
        *cursor = Some(0);
        true
    } else if key(egui::Key::End) {
        *cursor = Some(last);
        true
    } else {
        false
    };
    if key(egui::Key::Backspace) {
        clicks.open_prefix = up.clone();
    }
    let at = cursor.filter(|c| *c <= last).map(|c| match &up {
        Some(p) if c == 0 => Entry::Prefix(p.clone()),
        Some(_) => entries[c - 1].clone(),
        None => entries[c].clone(),
    });
    match at {
        Some(Entry::Prefix(p)) if key(egui::Key::Enter) => clicks.open_prefix = Some(p),
        Some(Entry::Object { key: k, .. }) if key(egui::Key::Enter) => {
            clicks.action = Some((k, "Download…"));
        }
        Some(Entry::Object { key: k, .. }) if key(egui::Key::Space) => clicks.toggled = Some(k),
        _ => {}
    }
    let acted = clicks.open_prefix.is_some() || clicks.action.is_some() || clicks.toggled.is_some();
    (moved || acted).then_some(clicks)
}

/// The connection and bucket combo boxes; true when the listing must be asked again.
fn place(app: &mut App, ui: &mut egui::Ui) -> bool {
    let mut relist = false;
    let current = app.browser.connection.clone().unwrap_or_default();
    let label = ui.label("Connection").id;
    egui::ComboBox::from_id_salt("browser-connection")
        .selected_text(&current)
        .show_ui(ui, |ui| {
            for c in &app.connections {
                if ui.selectable_label(current == c.name, &c.name).clicked() {
                    app.browser = Browser {
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
    relist
}

/// Refresh, Check keys, Preflight, Rotate folder…, Scan and adopt: what can be done with
/// the open folder.
fn folder_actions(app: &mut App, ui: &mut egui::Ui, relist: &mut bool) {
    if ui.button("Refresh").on_hover_text("Refresh (F5)").clicked() {
        *relist = true;
    }
    let place = (app.browser.connection.clone(), app.browser.bucket.clone());
    let (Some(c), Some(b)) = place else {
        return;
    };
    let prefix = app.browser.prefix.clone();
    if ui
        .button("Check keys")
        .on_hover_text("Find each object's key with HEAD requests (no data is downloaded)")
        .clicked()
    {
        let keys = app
            .browser
            .entries
            .iter()
            .filter_map(|e| e.object_key().map(str::to_string))
            .collect();
        app.browser.checking = true;
        app.backend.send(Command::CheckObjects {
            connection: c.clone(),
            bucket: b.clone(),
            keys,
        });
    }
    if ui
        .button("Preflight")
        .on_hover_text("Check this bucket for SSE-C: transport, BlockedEncryptionTypes, and that the server enforces it")
        .clicked()
    {
        app.dialog = Some(Dialog::Preflight(Preflight::start(app, c.clone(), b.clone())));
    }
    if ui
        .button("Rotate folder…")
        .on_hover_text("Re-encrypt every registered object under this folder with another key")
        .clicked()
    {
        let what = format!("s3://{b}/{prefix}");
        let selection = RotateSelection::Folder {
            connection: c.clone(),
            bucket: b.clone(),
            prefix: prefix.clone(),
        };
        app.dialog = Some(Dialog::Rotate(Rotate::new(selection, what)));
    }
    if ui
        .button("Download folder…")
        .on_hover_text(
            "Download every object under this folder, subfolders included, each with its own key",
        )
        .clicked()
    {
        app.dialog = Some(Dialog::DownloadFolder(DownloadFolder::new(
            c.clone(),
            b.clone(),
            prefix.clone(),
            None,
        )));
    }
    if ui
        .button("Sync…")
        .on_hover_text("Keep a local folder and this bucket folder the same, comparing content: shows the plan first")
        .clicked()
    {
        app.dialog = Some(Dialog::Sync(Sync::new(app, c.clone(), b.clone(), prefix.clone())));
    }
    saved_syncs(app, ui, &c, &b);
    keys_here(app, ui, &c, &b, &prefix);
    if ui
        .button("Scan and adopt")
        .on_hover_text(
            "Check every object under this folder, subfolders included, and record the ones one of your keys opens (rebuilds a lost registry)",
        )
        .clicked()
    {
        app.backend.send(Command::ScanAdopt {
            connection: c,
            bucket: b,
            prefix,
        });
    }
}

/// Upload files… and Upload folder…: the window's own chooser (the system one from there).
pub(super) fn upload_buttons(app: &mut App, ui: &mut egui::Ui) {
    if ui
        .button("Upload files…")
        .on_hover_text("Choose files to upload into this folder (or drop them on the window)")
        .clicked()
    {
        app.dialog = Some(Dialog::Chooser(Chooser::new(false)));
    }
    if ui
        .button("Upload folder…")
        .on_hover_text("Choose a folder to upload into this folder, subfolders included")
        .clicked()
    {
        app.dialog = Some(Dialog::Chooser(Chooser::new(true)));
    }
}

/// The folder's default key (shown, and set in a dialog) and leaving SSE-C, in one menu.
fn keys_here(app: &mut App, ui: &mut egui::Ui, connection: &str, bucket: &str, prefix: &str) {
    let default = crate::core::defaults::default_for(&app.defaults, connection, bucket, prefix)
        .map(|d| {
            d.key_label
                .clone()
                .unwrap_or_else(|| "(deleted key)".into())
        });
    let title = match &default {
        Some(l) => format!("Default key: {l}"),
        None => "Default key: none".into(),
    };
    ui.menu_button(title, |ui| {
        if ui
            .button("Set the default key here…")
            .on_hover_text("Uploads and drops into this folder use this key unless told otherwise")
            .clicked()
        {
            app.dialog = Some(Dialog::DefaultKey(DefaultKey::new(
                app,
                connection.to_string(),
                bucket.to_string(),
                prefix.to_string(),
            )));
        }
        if ui
            .button("Move this folder off SSE-C…")
            .on_hover_text(
                "Re-encrypt its registered objects with SSE-S3, SSE-KMS or none, on the server",
            )
            .clicked()
        {
            let selection = RotateSelection::Folder {
                connection: connection.to_string(),
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            };
            let what = format!("every registered object under s3://{bucket}/{prefix}");
            app.dialog = Some(Dialog::Migrate(Migrate::new(selection, what)));
        }
    });
}

/// The folder pairings saved on this bucket, each opening the Sync dialog to run it again.
fn saved_syncs(app: &mut App, ui: &mut egui::Ui, connection: &str, bucket: &str) {
    let pairs: Vec<_> = app
        .sync_pairs
        .iter()
        .filter(|p| p.connection == connection && p.bucket == bucket)
        .cloned()
        .collect();
    if pairs.is_empty() {
        return;
    }
    ui.menu_button(format!("Saved syncs ({})", pairs.len()), |ui| {
        for p in pairs {
            let text = format!(
                "{} and s3://{}/{}",
                p.local_dir.display(),
                p.bucket,
                p.prefix
            );
            let when = p.last_run_at.clone().unwrap_or_else(|| "never run".into());
            if ui
                .button(text)
                .on_hover_text(format!("Key \"{}\"; last run {when}", p.key_label))
                .clicked()
            {
                app.dialog = Some(Dialog::Sync(Sync::again(&p)));
                ui.close();
            }
        }
    });
}

/// bucket / a / b / as links; true when one was clicked.
fn breadcrumbs(app: &mut App, ui: &mut egui::Ui) -> bool {
    let mut relist = false;
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
        if app.browser.checking {
            ui.spinner();
            ui.label("Checking keys…");
        }
    });
    relist
}

/// The entries whose name matches the filter.
fn visible_entries(browser: &Browser) -> Vec<Entry> {
    let filter = browser.filter.to_lowercase();
    let mut entries = browser
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
        .collect::<Vec<_>>();
    entries.sort_by(|a, b| {
        let order = match (a, b) {
            (Entry::Prefix(x), Entry::Prefix(y)) => return x.cmp(y),
            (Entry::Prefix(_), _) => return std::cmp::Ordering::Less,
            (_, Entry::Prefix(_)) => return std::cmp::Ordering::Greater,
            (
                Entry::Object {
                    key: ka,
                    size: sa,
                    modified: ma,
                },
                Entry::Object {
                    key: kb,
                    size: sb,
                    modified: mb,
                },
            ) => match browser.sort {
                SortBy::Name => ka.cmp(kb),
                SortBy::Size => sa.cmp(sb).then_with(|| ka.cmp(kb)),
                SortBy::Modified => ma.cmp(mb).then_with(|| ka.cmp(kb)),
            },
        };
        if browser.descending {
            order.reverse()
        } else {
            order
        }
    });
    entries
}

/// The count, and what can be done with the ticked objects.
fn selection_bar(app: &mut App, ui: &mut egui::Ui, shown: usize) {
    let conn = app.browser.connection.clone().unwrap_or_default();
    let bucket = app.browser.bucket.clone().unwrap_or_default();
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{shown} item(s)")).weak());
        let n = app.browser.selected.len();
        if n == 0 {
            return;
        }
        if ui
            .button(format!("Rotate selected ({n})…"))
            .on_hover_text("Re-encrypt the ticked objects with another key, on the server")
            .clicked()
        {
            let ids: Vec<i64> = app
                .browser
                .selected
                .iter()
                .filter_map(|k| app.stored_object(&conn, &bucket, k))
                .map(|o| o.id)
                .collect();
            let what = format!("the {} selected object(s)", ids.len());
            app.dialog = Some(Dialog::Rotate(Rotate::new(RotateSelection::Ids(ids), what)));
        }
        if ui
            .button(format!("Download selected ({n})…"))
            .on_hover_text("Download the ticked objects into a folder, each with its own key")
            .clicked()
        {
            let mut keys: Vec<String> = app.browser.selected.iter().cloned().collect();
            keys.sort();
            app.dialog = Some(Dialog::DownloadFolder(DownloadFolder::new(
                conn.clone(),
                bucket.clone(),
                app.browser.prefix.clone(),
                Some(keys),
            )));
        }
        if ui
            .button(format!("Delete selected ({n})…"))
            .on_hover_text("Delete the ticked objects on the server (asks first)")
            .clicked()
        {
            let mut keys: Vec<String> = app.browser.selected.iter().cloned().collect();
            keys.sort();
            let urls = keys
                .into_iter()
                .map(|key| S3Url {
                    bucket: bucket.clone(),
                    key,
                })
                .collect();
            app.dialog = Some(Dialog::DeleteObjects(DeleteObjects {
                connection: conn.clone(),
                urls,
            }));
        }
        if ui.button("Clear selection").clicked() {
            app.browser.selected.clear();
        }
    });
}

/// The listing table (virtualised: only visible rows are laid out, so 10k+ entries stay
/// smooth), the parent folder's row first; returns what was clicked. `scroll`: bring the
/// keyboard's row into view.
fn listing(app: &App, ui: &mut egui::Ui, entries: &[Entry], scroll: bool) -> Clicks {
    let prefix = app.browser.prefix.as_str();
    let up = parent(prefix);
    let first = usize::from(up.is_some());
    let cursor = app.browser.cursor;
    let mut clicks = Clicks::default();
    // Below this width a row's actions are one menu, so none is cut off.
    let narrow = ui.available_width() < 1060.0;
    let mut table = TableBuilder::new(ui);
    if let Some(c) = cursor.filter(|_| scroll) {
        table = table.scroll_to_row(c, None);
    }
    table
        .id_salt("objects-table")
        .striped(true)
        // Rows answer a right-click with their actions.
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        // The name a fixed start (resizable, clipped), the actions the rest: the remainder
        // column is the one the table fits to the window, so no button is cut off.
        .column(
            Column::initial(if narrow { 200.0 } else { 300.0 })
                .at_least(160.0)
                .clip(true)
                .resizable(true),
        )
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(130.0))
        .column(Column::auto().at_least(140.0).clip(true))
        .column(Column::remainder().at_least(if narrow { 90.0 } else { 345.0 }))
        .header(ROW, |mut h| {
            // Name, Size and Modified sort the listing; a second click reverses it.
            for (c, by) in [
                ("Name", Some(SortBy::Name)),
                ("Size", Some(SortBy::Size)),
                ("Modified", Some(SortBy::Modified)),
                ("Key", None),
                ("Actions", None),
            ] {
                h.col(|ui| match by {
                    Some(by) => {
                        let on = app.browser.sort == by;
                        let mark = match (on, app.browser.descending) {
                            (false, _) => "",
                            (true, false) => " (up)",
                            (true, true) => " (down)",
                        };
                        if ui
                            .selectable_label(on, RichText::new(format!("{c}{mark}")).strong())
                            .on_hover_text(format!("Sort by {}", c.to_lowercase()))
                            .clicked()
                        {
                            clicks.sort = Some(by);
                        }
                    }
                    None => {
                        ui.strong(c);
                    }
                });
            }
        })
        .body(|body| {
            body.rows(ROW, entries.len() + first, |mut row| {
                let i = row.index();
                if let Some(up) = up.as_ref().filter(|_| i == 0) {
                    folder_row(&mut row, &mut clicks, up, "📁 .. (parent folder)");
                } else {
                    match &entries[i - first] {
                        Entry::Prefix(p) => {
                            let name = format!("📁 {}", p.strip_prefix(prefix).unwrap_or(p));
                            folder_row(&mut row, &mut clicks, p, &name);
                        }
                        Entry::Object {
                            key,
                            size,
                            modified,
                        } => object_row(app, &mut row, &mut clicks, (key, *size, modified), narrow),
                    }
                }
                if cursor == Some(i) {
                    cursor_ring(&row.response());
                }
            });
        });
    clicks
}

/// The keyboard's row: a ring around it (its text stays on the table's own background).
fn cursor_ring(row: &egui::Response) {
    let color = row.ctx.global_style().visuals.selection.stroke.color;
    row.ctx.layer_painter(row.layer_id).rect_stroke(
        row.rect.shrink(1.0),
        2.0,
        egui::Stroke::new(2.0, color),
        egui::StrokeKind::Inside,
    );
}

/// A folder's row: its name, a link that opens it.
fn folder_row(row: &mut egui_extras::TableRow<'_, '_>, clicks: &mut Clicks, p: &str, name: &str) {
    row.col(|ui| {
        if ui.link(name).clicked() {
            clicks.open_prefix = Some(p.to_string());
        }
    });
    for _ in 0..4 {
        row.col(|_| {});
    }
}

/// One object's row: name (tick box), size, modified, key state, actions. The object's
/// listing fields come as (key, size, modified).
fn object_row(
    app: &App,
    row: &mut egui_extras::TableRow<'_, '_>,
    clicks: &mut Clicks,
    (key, size, modified): (&str, u64, &str),
    narrow: bool,
) {
    let name = key.strip_prefix(app.browser.prefix.as_str()).unwrap_or(key);
    row.col(|ui| {
        let mut ticked = app.browser.selected.contains(key);
        if ui
            .checkbox(&mut ticked, format!("📄 {name}"))
            .on_hover_text("Select (for Download, Rotate or Delete selected)")
            .changed()
        {
            clicks.toggled = Some(key.to_string());
        }
    });
    row.col(|ui| {
        ui.label(human_bytes(size));
    });
    row.col(|ui| {
        ui.label(modified);
    });
    row.col(|ui| {
        let (text, color) = key_state(app, key);
        ui.label(
            RichText::new(text)
                .color(color.map_or(ui.visuals().text_color(), |c| super::tone(ui, c))),
        );
    });
    row.col(|ui| {
        let action = |ui: &mut egui::Ui, a: &'static str, small: bool| {
            let button = egui::Button::new(a);
            let why = unavailable(app, key, a);
            let button = ui.add_enabled(why.is_none(), if small { button.small() } else { button });
            match why {
                Some(why) => button.on_disabled_hover_text(why).clicked().then_some(a),
                None => button.clicked().then_some(a),
            }
        };
        let mut chosen = None;
        let (shown, more): (&[&'static str], &[&'static str]) = if narrow {
            (&[], &OBJECT_ACTIONS)
        } else {
            OBJECT_ACTIONS.split_at(3)
        };
        for a in shown {
            chosen = chosen.or(action(ui, a, true));
        }
        ui.menu_button(if narrow { "Actions…" } else { "More…" }, |ui| {
            for a in more {
                chosen = chosen.or(action(ui, a, false));
            }
        });
        if let Some(a) = chosen {
            clicks.action = Some((key.to_string(), a));
        }
    });
    // The same actions on a right-click anywhere in the row.
    row.response().context_menu(|ui| {
        for a in OBJECT_ACTIONS {
            let why = unavailable(app, key, a);
            let button = ui.add_enabled(why.is_none(), egui::Button::new(a));
            if button
                .on_disabled_hover_text(why.unwrap_or_default())
                .clicked()
            {
                clicks.action = Some((key.to_string(), a));
            }
        }
    });
}

/// Why an action cannot work on this object, from what the registry or a check knows of its
/// key: said on the disabled button, instead of an error after the click.
fn unavailable(app: &App, key: &str, action: &str) -> Option<&'static str> {
    let b = &app.browser;
    let conn = b.connection.as_deref().unwrap_or_default();
    let bucket = b.bucket.as_deref().unwrap_or_default();
    let needs_key = matches!(action, "Download…" | "Copy curl recipe" | "Rotate…");
    if let Some(o) = app.current_object(conn, bucket, key) {
        let keyless = matches!(
            object_health(o, &app.keys),
            Health::KeyGone | Health::KeyMissing
        );
        return (keyless && needs_key)
            .then_some("Its key is not on this computer: restore the key (Keys, Restore…) first");
    }
    match b.checked.get(key) {
        Some(ObjectKind::UnknownKey) if needs_key => Some(
            "None of your keys opens it (Check keys found no match): import or restore its key, \
             then Scan and adopt",
        ),
        Some(ObjectKind::Plain) if matches!(action, "Rotate…" | "Copy curl recipe") => Some(
            "It is not encrypted with SSE-C: there is no key to rotate or send (upload it again \
             with a key to encrypt it)",
        ),
        _ => None,
    }
}

/// An object row's actions: the first three are buttons, the rest are in its "More…" menu
/// (all of them in "Actions…" when the window is narrow).
const OBJECT_ACTIONS: [&str; 5] = [
    "Download…",
    "Copy curl recipe",
    "Delete…",
    "Copy aws recipe",
    "Rotate…",
];

/// Applies a click of the listing: open a folder, tick an object, or an object's action.
fn apply(app: &mut App, ui: &mut egui::Ui, clicks: Clicks) {
    if let Some(by) = clicks.sort {
        let b = &mut app.browser;
        b.descending = b.sort == by && !b.descending;
        b.sort = by;
    }
    if let Some(k) = clicks.toggled
        && !app.browser.selected.remove(&k)
    {
        app.browser.selected.insert(k);
    }
    if let Some(p) = clicks.open_prefix {
        app.browser.prefix = p;
        app.refresh_listing();
    }
    let Some((key, action)) = clicks.action else {
        return;
    };
    let conn = app.browser.connection.clone().unwrap_or_default();
    let url = S3Url {
        bucket: app.browser.bucket.clone().unwrap_or_default(),
        key,
    };
    match action {
        "Download…" => app.dialog = Some(Dialog::download(&conn, url)),
        "Rotate…" => match app.stored_object(&conn, &url.bucket, &url.key) {
            Some(o) => {
                let rotate = Rotate::new(RotateSelection::Ids(vec![o.id]), o.url());
                app.dialog = Some(Dialog::Rotate(rotate));
            }
            None => app.error(format!(
                "{url} is not in the registry, so its key is unknown: Scan and adopt first"
            )),
        },
        "Copy curl recipe" => app.backend.send(Command::PresignRecipe {
            connection: conn,
            url,
        }),
        "Copy aws recipe" => {
            let recipe = aws_recipe(app, &conn, &url);
            ui.ctx().copy_text(recipe);
            app.info("Copied the aws CLI command (it reads the key from $SSE_KEY / $SSE_MD5; no key copied)");
        }
        _ => {
            app.dialog = Some(Dialog::DeleteObject(DeleteObject {
                connection: conn,
                url,
            }))
        }
    }
}

/// The Key column: what the registry knows of this object, else what a check found.
fn key_state(app: &App, key: &str) -> (String, Option<Color32>) {
    let b = &app.browser;
    let (conn, bucket) = (
        b.connection.as_deref().unwrap_or_default(),
        b.bucket.as_deref().unwrap_or_default(),
    );
    match app.current_object(conn, bucket, key) {
        Some(o) => {
            // The audit's own rules (one definition of "at risk" for every screen).
            let health = object_health(o, &app.keys);
            let text = match health {
                Health::OffSseC => format!(
                    "off SSE-C ({})",
                    o.migrated_to.as_deref().unwrap_or("migrated")
                ),
                h => h.describe(o.key_label.as_deref()),
            };
            let color = if health.unrecoverable() {
                Some(super::BAD)
            } else if health.at_risk() {
                Some(AMBER)
            } else if health == Health::Ok {
                Some(GOOD)
            } else {
                None
            };
            (text, color)
        }
        None => match b.checked.get(key) {
            Some(k @ ObjectKind::KnownKey { .. }) => (k.describe(), Some(GOOD)),
            Some(k @ ObjectKind::UnknownKey) => (k.describe(), Some(AMBER)),
            Some(k) => (k.describe(), None),
            None => ("unchecked".into(), None),
        },
    }
}

/// The aws CLI command for an object, with the key taken from env variables (never the key).
/// The object key is anyone's text: every word taken from it is shell-quoted, and the file
/// it is saved as is a plain name in the current folder (see `local_path_for`).
fn aws_recipe(app: &App, conn: &str, url: &S3Url) -> String {
    let endpoint = app
        .connections
        .iter()
        .find(|c| c.name == conn)
        .and_then(|c| c.endpoint.clone())
        .map(|e| format!(" --endpoint-url {}", shell_word(&e)))
        .unwrap_or_default();
    let out = local_path_for(std::path::Path::new("."), "", url.file_name())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "./download".into());
    format!(
        "# eval \"$(ssec-manager key env LABEL)\" sets SSE_KEY and SSE_MD5\naws{endpoint} s3api get-object --bucket {} --key {} \\\n  --sse-customer-algorithm AES256 --sse-customer-key \"$SSE_KEY\" --sse-customer-key-md5 \"$SSE_MD5\" {}\n",
        shell_word(&url.bucket),
        shell_word(&url.key),
        shell_word(&out)
    )
}

/// `s` as one POSIX shell word: single-quoted, each `'` written as `'\''`, so no text can
/// end the quote and run a command when the recipe is pasted into a terminal.
fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn an_object_key_with_a_quote_cannot_run_a_command_in_the_aws_recipe() {
        assert_eq!(shell_word("a'; rm -rf ~; '"), r"'a'\''; rm -rf ~; '\'''");
        assert_eq!(shell_word("plain"), "'plain'");
    }
}

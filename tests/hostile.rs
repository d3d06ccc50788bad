#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Hostile input, property-tested: every parser of what users, files and servers hand us
//! (key text, `s3://` URLs, labels, object keys saved as files, backup text, a
//! damaged registry, the audit CSV) refuses or normalizes it, and never panics.
//!
//! No S3 server and no keyring: everything here is pure, or a home opened without its
//! keyring. Operations that need a keyring are property-tested in their modules, against
//! the in-memory store (`keys::hostile_tests`, `backup::hostile_tests`); sizes in
//! `cli::args::hostile_tests`.
//! A regression test is named after the bug it pins.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;

use ssec_manager::core::Home;
use ssec_manager::core::audit::{AuditReport, Finding, Severity, csv_cell};
use ssec_manager::core::backup::{BackupEntry, backup_text, parse_backup_text};
use ssec_manager::core::home::REGISTRY_FILE;
use ssec_manager::core::key::{KeyFingerprint, SseKey};
use ssec_manager::core::label::{confirms_delete, is_invisible, label_problem, visible};
use ssec_manager::core::location::{
    LocalNames, MAX_KEY_BYTES, S3Location, S3Url, local_path_for, local_path_with,
};

/// Characters that break naive parsers: separators, dots, quotes, spreadsheet formula
/// starters, controls, NUL, zero-width and bidi characters, lookalike spaces, accents.
const NASTY: &[char] = &[
    '\0',
    '/',
    '\\',
    '.',
    ' ',
    '\t',
    '\r',
    '\n',
    '=',
    '+',
    '-',
    '@',
    ':',
    '"',
    '\'',
    ',',
    '%',
    '*',
    '?',
    '<',
    '>',
    '|',
    '$',
    '~',
    '\u{7f}',
    '\u{85}',
    '\u{a0}',
    '\u{ad}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{202a}',
    '\u{202e}',
    '\u{2066}',
    '\u{2069}',
    '\u{2028}',
    '\u{2060}',
    '\u{3000}',
    '\u{feff}',
    '\u{fe0f}',
    '\u{e0041}',
    '\u{115f}',
    '\u{2800}',
    '\u{301}',
    'é',
    '東',
    'C',
    'O',
    'N',
    '1',
    'a',
    'z',
    'A',
    '0',
    '9',
];

/// The invisible characters a label must never hold.
const INVISIBLE: &[char] = &[
    '\u{ad}',
    '\u{34f}',
    '\u{61c}',
    '\u{a0}',
    '\u{115f}',
    '\u{180e}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{202a}',
    '\u{202b}',
    '\u{202c}',
    '\u{202d}',
    '\u{202e}',
    '\u{2028}',
    '\u{2029}',
    '\u{2060}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{3000}',
    '\u{3164}',
    '\u{fe0f}',
    '\u{feff}',
    '\u{ffa0}',
    '\u{e0001}',
    '\u{e0041}',
    '\u{2800}',
    '\u{1d173}',
];

fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(NASTY),
        1 => any::<char>(),
    ]
}

fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// A label a person would type.
fn plain_label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9é東][a-zA-Z0-9 ._é東-]{0,30}[a-zA-Z0-9é東]"
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- labels and the delete confirmation ----

proptest! {
    #![proptest_config(config(256))]

    /// An accepted label is 1 to 100 visible characters with nothing invisible in it,
    /// no spaces at its ends and no '/'; it is shown exactly as it is.
    #[test]
    fn an_accepted_label_is_visible_text(label in hostile_text(120)) {
        if label_problem(&label).is_none() {
            prop_assert!(!label.is_empty() && label.chars().count() <= 100);
            prop_assert_eq!(label.trim(), label.as_str());
            prop_assert!(!label.chars().any(is_invisible), "{:?}", label);
            prop_assert!(!label.chars().any(char::is_control));
            prop_assert!(!label.contains('/'));
            prop_assert_eq!(visible(&label), label.clone());
            prop_assert!(confirms_delete(&label, &label));
        }
    }

    /// One invisible character anywhere in a good label makes it refused.
    #[test]
    fn a_label_with_an_invisible_character_is_refused(
        label in plain_label(),
        at in any::<prop::sample::Index>(),
        c in prop::sample::select(INVISIBLE),
    ) {
        prop_assert_eq!(label_problem(&label), None);
        let mut chars: Vec<char> = label.chars().collect();
        chars.insert(at.index(chars.len() + 1), c);
        let faked: String = chars.into_iter().collect();
        prop_assert!(label_problem(&faked).is_some(), "{:?}", faked);
    }

    /// The text that confirms a delete is what the dialog shows: it never holds an
    /// invisible character, so neither a lookalike typed text nor a lookalike label
    /// confirms.
    #[test]
    fn the_delete_confirmation_cannot_be_faked_by_invisible_characters(
        label in hostile_text(30),
        typed in hostile_text(30),
        good in plain_label(),
        at in any::<prop::sample::Index>(),
        c in prop::sample::select(INVISIBLE),
    ) {
        if confirms_delete(&label, &typed) {
            prop_assert!(!typed.chars().any(is_invisible), "{:?}", typed);
            prop_assert_eq!(&typed, &visible(&label));
        }
        if !label.is_empty() {
            prop_assert!(confirms_delete(&label, &visible(&label)));
        }
        let mut chars: Vec<char> = good.chars().collect();
        chars.insert(at.index(chars.len() + 1), c);
        let lookalike: String = chars.into_iter().collect();
        prop_assert!(!confirms_delete(&good, &lookalike));
        prop_assert!(!confirms_delete(&lookalike, &good));
    }
}

#[test]
fn a_10000_character_label_is_refused() {
    let label = "k".repeat(10_000);
    assert!(label_problem(&label).is_some());
    assert!(label_problem(&"k".repeat(100)).is_none());
}

#[test]
fn label_with_zero_width_space_is_refused() {
    assert!(label_problem("prod\u{200b}").is_some());
    assert!(label_problem("\u{202e}dorp").is_some());
    assert!(label_problem(" prod").is_some());
    assert!(label_problem("prod ").is_some());
    assert!(label_problem("pr\u{a0}od").is_some());
    assert_eq!(visible("prod\u{200b}"), "prod\\u{200b}");
}

// ---- s3:// URLs ----

fn s3ish() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile_text(40),
        hostile_text(40).prop_map(|t| format!("s3://{t}")),
        (hostile_text(12), hostile_text(40)).prop_map(|(b, k)| format!("s3://{b}/{k}")),
        ("[a-z0-9.-]{1,20}", 1000usize..1100)
            .prop_map(|(b, n)| format!("s3://{b}/{}", "k".repeat(n))),
        ("[a-z0-9.-]{1,20}", 1000usize..1100)
            .prop_map(|(b, n)| format!("s3://{b}/{}", "é".repeat(n / 2))),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// A location is refused or names a bucket without whitespace or controls and a path
    /// within S3's 1024 bytes, and prints back as text that parses to it again; a refusal
    /// prints no control character.
    #[test]
    fn s3_locations_parse_or_are_refused_and_round_trip(text in s3ish()) {
        match S3Location::parse(&text) {
            Ok(at) => {
                prop_assert!(!at.bucket.is_empty());
                prop_assert!(!at.bucket.chars().any(|c| c.is_whitespace() || c.is_control()));
                prop_assert!(!at.path.chars().any(char::is_control));
                prop_assert!(at.path.len() <= MAX_KEY_BYTES);
                prop_assert_eq!(S3Location::parse(&at.to_string()), Ok(at.clone()));
                if let Some(url) = at.object() {
                    prop_assert_eq!(url.to_string().parse::<S3Url>(), Ok(url.clone()));
                    prop_assert!(!url.file_name().contains('/'));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.chars().any(char::is_control), "{:?}", msg);
            }
        }
        if let Ok(url) = text.parse::<S3Url>() {
            prop_assert!(!url.key.is_empty());
            prop_assert_eq!(url.to_string().parse::<S3Url>(), Ok(url.clone()));
        }
    }
}

// ---- object keys saved as files under a chosen folder ----

/// Segments an attacker would put in an object key.
const SEGMENTS: &[&str] = &[
    "..",
    ".",
    "",
    "...",
    ".. ",
    "..\\..",
    "..\\",
    "\\",
    "C:",
    "C:\\Windows",
    "c:x",
    "\\\\srv\\share",
    "/",
    "CON",
    "con.txt",
    "NUL",
    "COM1",
    "lpt9.log",
    "AUX ",
    "a\0b",
    "a\nb",
    "name.",
    "name ",
    "x:stream",
    "ok",
    "photo.jpg",
    "é",
    "东京",
    "~",
    "$HOME",
    "-rf",
    "a\u{202e}b",
    "\u{200b}",
];

fn object_key() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        3 => prop::sample::select(SEGMENTS).prop_map(str::to_string),
        2 => hostile_text(12),
        1 => (200usize..300).prop_map(|n| "n".repeat(n)),
    ];
    (
        prop::collection::vec(segment, 1..6),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(segs, lead, trail)| {
            let mut key = segs.join("/");
            if lead {
                key.insert(0, '/');
            }
            if trail {
                key.push('/');
            }
            key
        })
}

/// Whether `name` is one plain component that no OS reads as a separator, a parent, a
/// drive, a stream or a device.
fn portable_plain_name(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0', ':'])
        && !name.ends_with(['.', ' '])
        && name.len() <= 255
        && !["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str())
        && !((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

proptest! {
    #![proptest_config(config(256))]

    /// Whatever the object key, the path it maps to is `root` and then one plain component
    /// per key segment; under Windows' rules every component is also a plain Windows name.
    #[test]
    fn an_object_key_always_maps_inside_the_chosen_folder(
        key in object_key(),
        prefix in prop::sample::select(&["", "photos", "photos/", "a/b/"][..]),
        on_prefix in any::<bool>(),
    ) {
        let root = Path::new("/chosen/folder");
        let key = if on_prefix {
            format!("{}{key}", ssec_manager::core::location::folder_prefix(prefix))
        } else {
            key
        };
        for names in [LocalNames::Unix, LocalNames::Windows] {
            let Ok(path) = local_path_with(root, prefix, &key, names) else {
                continue;
            };
            let rest = path.strip_prefix(root).expect("under root");
            let parts: Vec<Component> = rest.components().collect();
            prop_assert!(!parts.is_empty());
            for part in &parts {
                let Component::Normal(name) = part else {
                    panic!("{key:?} -> {path:?}: {part:?} is not a plain name");
                };
                let name = name.to_str().expect("keys are UTF-8");
                prop_assert!(!name.contains(['\\', '\0']), "{:?}", name);
                if names == LocalNames::Windows {
                    prop_assert!(portable_plain_name(name), "{:?} from {:?}", name, key);
                }
            }
            let rel = key.strip_prefix(&ssec_manager::core::location::folder_prefix(prefix));
            prop_assert_eq!(parts.len(), rel.unwrap().split('/').count());
        }
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// On the real file system: every accepted key written under a folder (whose own name
    /// may be invalid UTF-8) lands inside it, and nothing appears beside it.
    #[test]
    fn files_saved_from_object_keys_stay_in_the_folder(
        keys in prop::collection::vec(object_key(), 1..8),
    ) {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join(odd_folder_name());
        std::fs::create_dir(&root).unwrap();
        for key in &keys {
            if let Ok(path) = local_path_for(&root, "", key) {
                if let Some(parent) = path.parent() {
                    // A key may name a folder another key wrote as a file: an error, not
                    // an escape.
                    if std::fs::create_dir_all(parent).is_err() {
                        continue;
                    }
                }
                if std::fs::write(&path, b"x").is_ok() {
                    let real = path.canonicalize().unwrap();
                    prop_assert!(real.starts_with(root.canonicalize().unwrap()), "{:?}", key);
                }
            }
        }
        let beside: Vec<_> = std::fs::read_dir(outer.path()).unwrap().collect();
        prop_assert_eq!(beside.len(), 1, "something was written beside the folder");
    }
}

/// A folder name that is not valid UTF-8 where the OS allows one.
fn odd_folder_name() -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        PathBuf::from(std::ffi::OsStr::from_bytes(b"chosen-\xff\xfe-folder"))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from("chosen-folder")
    }
}

#[test]
fn object_keys_that_climb_out_of_the_folder_are_refused() {
    let root = Path::new("/chosen");
    for key in [
        "../x",
        "a/../../x",
        "..\\x",
        "a\\..\\..\\x",
        "/etc/passwd",
        "//srv/share",
        "C:\\Windows\\x",
        "a/\0/b",
        "a/./b",
        "a//b",
        "dir/",
    ] {
        for names in [LocalNames::Unix, LocalNames::Windows] {
            assert!(
                local_path_with(root, "", key, names).is_err(),
                "{key:?} under {names:?}"
            );
        }
    }
    for key in ["C:x", "CON", "aux.txt", "a/com1", "b/name.", "x:stream"] {
        assert!(
            local_path_with(root, "", key, LocalNames::Windows).is_err(),
            "{key:?}"
        );
    }
    let long_segment = format!("a/{}", "n".repeat(256));
    assert!(local_path_for(root, "", &long_segment).is_err());
    let key_1024 = (0..8)
        .map(|_| "n".repeat(127))
        .collect::<Vec<_>>()
        .join("/");
    assert_eq!(key_1024.len(), 1023);
    let ok = local_path_for(root, "", &key_1024).unwrap();
    assert_eq!(ok.components().count(), 2 + 8);
    assert_eq!(
        local_path_for(root, "photos/", "photos/2026/a.jpg").unwrap(),
        root.join("2026").join("a.jpg")
    );
    assert!(local_path_for(root, "photos/", "videos/a.mp4").is_err());
}

// ---- key files and pasted text ----

/// Byte inputs a key file or a paste may hold: random bytes, text of every shape, key
/// forms with damage.
fn key_input() -> impl Strategy<Value = Vec<u8>> {
    let raw = prop::array::uniform32(any::<u8>());
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..100),
        prop::collection::vec(any::<u8>(), 31..34),
        hostile_text(80).prop_map(String::into_bytes),
        "[A-Za-z0-9+/=_ \t\r\n-]{0,100}".prop_map(String::into_bytes),
        "[0-9a-fA-F \r\n]{0,130}".prop_map(String::into_bytes),
        (raw, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(k, at, b)| {
            let mut t = B64.encode(k).into_bytes();
            let i = at.index(t.len());
            t[i] = b;
            t
        }),
        (raw, any::<prop::sample::Index>()).prop_map(|(k, at)| {
            let mut t = hex::encode(k).into_bytes();
            t.remove(at.index(t.len()));
            t
        }),
    ]
}

/// The key an input decodes to under each accepted form, as a reference.
fn decodings(input: &[u8]) -> Vec<Vec<u8>> {
    let body = input
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(input);
    let text = body.trim_ascii();
    let mut out = vec![input.to_vec()];
    out.extend(hex::decode(text).ok());
    out.extend(B64.decode(text).ok());
    out
}

proptest! {
    #![proptest_config(config(256))]

    /// Parsing never panics; a key comes only from exactly 32 bytes in one of the three
    /// forms; a refusal describes the input without repeating it.
    #[test]
    fn key_input_is_a_32_byte_key_in_an_accepted_form_or_refused(input in key_input()) {
        match SseKey::parse(&input) {
            Ok(key) => {
                prop_assert!(
                    decodings(&input).iter().any(|d| d.as_slice() == key.raw()),
                    "accepted {:?}", String::from_utf8_lossy(&input)
                );
            }
            Err(e) => {
                let msg = e.to_string();
                let text = String::from_utf8_lossy(&input);
                let text = text.trim();
                if text.len() >= 10 {
                    prop_assert!(!msg.contains(text), "{:?} echoed in {:?}", text, msg);
                }
                // Nor any 10-character window of it (a key inside junk).
                let chars: Vec<char> = text.chars().collect();
                for w in chars.windows(10) {
                    let w: String = w.iter().collect();
                    prop_assert!(!msg.contains(&w), "{:?} echoed in {:?}", w, msg);
                }
            }
        }
    }

    /// Every 32-byte key is read back from each form users hold it in.
    #[test]
    fn every_key_is_read_from_each_accepted_form(
        raw in prop::array::uniform32(any::<u8>()),
        lead in "[ \t]{0,2}",
        trail in prop::sample::select(&["", "\n", "\r\n", " \n", "\n\n"][..]),
        bom in any::<bool>(),
    ) {
        let key = SseKey::from_raw(&raw);
        let bom = if bom { "\u{feff}" } else { "" };
        let b64 = B64.encode(raw);
        let hex_lower = hex::encode(raw);
        for form in [
            format!("{bom}{lead}{b64}{trail}"),
            format!("{lead}{hex_lower}{trail}"),
            format!("{bom}{}{trail}", hex_lower.to_uppercase()),
        ] {
            prop_assert_eq!(SseKey::parse(form.as_bytes()).ok(), Some(key.clone()), "{:?}", form);
        }
        let is_text = raw.iter().all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace());
        if !is_text {
            prop_assert_eq!(SseKey::parse(&raw).ok(), Some(key));
        }
    }
}

#[test]
fn a_huge_paste_is_refused_quickly() {
    for input in [
        vec![b'A'; 1 << 20],
        vec![0u8; 1 << 20],
        "é".repeat(1 << 19).into_bytes(),
        b"\n".repeat(1 << 20),
    ] {
        let started = std::time::Instant::now();
        assert!(SseKey::parse(&input).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}

// ---- the audit CSV ----

fn finding() -> impl Strategy<Value = Finding> {
    (
        hostile_text(20),
        prop::option::of(hostile_text(20)),
        prop::option::of(hostile_text(20)),
        prop::collection::vec(hostile_text(20), 0..3),
        prop::option::of(hostile_text(20)),
    )
        .prop_map(
            |(title, key_label, key_fingerprint, objects, fix)| Finding {
                title,
                key_label,
                key_fingerprint,
                count: objects.len() as u64,
                objects,
                fix,
                ..Finding::about_nothing(Severity::High)
            },
        )
}

/// The cells of a CSV text (RFC 4180 quoting), row by row.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

proptest! {
    #![proptest_config(config(128))]

    /// No cell of the audit CSV starts a spreadsheet formula, and each cell reads back as
    /// what it was, or as it was after a `'`.
    #[test]
    fn audit_csv_cells_never_start_a_formula(findings in prop::collection::vec(finding(), 1..4)) {
        let report = AuditReport {
            keys: 0,
            objects: 0,
            bytes: 0,
            objects_at_risk: 0,
            objects_unrecoverable: 0,
            per_key: Vec::new(),
            objects_by_state: BTreeMap::new(),
            objects_by_health: BTreeMap::new(),
            findings: findings.clone(),
            shared: Vec::new(),
        };
        let rows = csv_rows(&report.to_csv());
        let expected: usize = findings.iter().map(|f| f.objects.len().max(1)).sum();
        prop_assert_eq!(rows.len(), 1 + expected);
        let mut originals = Vec::new();
        for f in &findings {
            let objects = if f.objects.is_empty() { vec![String::new()] } else { f.objects.clone() };
            for o in objects {
                originals.push(vec![
                    "HIGH".to_string(),
                    f.title.clone(),
                    f.key_label.clone().unwrap_or_default(),
                    f.key_fingerprint.clone().unwrap_or_default(),
                    o,
                    f.fix.clone().unwrap_or_default(),
                ]);
            }
        }
        for (row, original) in rows[1..].iter().zip(&originals) {
            prop_assert_eq!(row.len(), 6);
            for (cell, was) in row.iter().zip(original) {
                prop_assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{:?}", cell
                );
                prop_assert!(cell == was || *cell == format!("'{was}"), "{:?} from {:?}", cell, was);
            }
        }
    }
}

#[test]
fn audit_csv_cell_starting_with_equals_is_neutralized() {
    for bad in [
        "=HYPERLINK(\"http://x\")",
        "+1",
        "-1+2",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
    ] {
        assert_eq!(csv_cell(bad), format!("'{bad}"));
    }
    assert_eq!(csv_cell("prod"), "prod");
    assert_eq!(csv_cell(""), "");
}

// ---- backup text ----

proptest! {
    #![proptest_config(config(256))]

    /// The plaintext of a backup, damaged anywhere, gives back only keys that were in it
    /// (each checked against its fingerprint) or an error; never a panic.
    #[test]
    fn damaged_backup_text_gives_the_keys_it_held_or_an_error(
        raws in prop::collection::vec(prop::array::uniform32(any::<u8>()), 1..4),
        labels in prop::collection::vec(hostile_text(12), 4),
        at in any::<prop::sample::Index>(),
        with in hostile_char(),
        cut in any::<bool>(),
        junk in hostile_text(200),
    ) {
        let entries: Vec<BackupEntry> = raws
            .iter()
            .zip(&labels)
            .map(|(r, l)| BackupEntry { label: l.replace(['\t', '\n', '\r'], " "), key: SseKey::from_raw(r) })
            .collect();
        let fingerprints: Vec<KeyFingerprint> = entries.iter().map(|e| e.key.fingerprint()).collect();
        let text = backup_text(&entries);
        let mut chars: Vec<char> = text.chars().collect();
        let i = at.index(chars.len());
        if cut {
            chars.truncate(i);
        } else {
            chars[i] = with;
        }
        let damaged: String = chars.into_iter().collect();
        if let Ok(back) = parse_backup_text(&damaged) {
            for e in back {
                prop_assert!(fingerprints.contains(&e.key.fingerprint()));
            }
        }
        let _ = parse_backup_text(&format!("# ssec-manager key backup v1\n{junk}"));
        let _ = parse_backup_text(&junk);
    }
}

// ---- a damaged registry ----

/// A home with a few keys and events; returns the registry's bytes.
fn registry_with_keys(dir: &Path) -> Vec<u8> {
    let home = Home::open(dir).unwrap();
    for (i, label) in ["alpha", "beta", "gamma"].iter().enumerate() {
        let fp = SseKey::from_raw(&[i as u8 + 1; 32]).fingerprint();
        home.registry
            .insert_key(label, &fp, "generated", "")
            .unwrap();
        home.registry
            .log_event("generated", Some(&fp), None, label)
            .unwrap();
    }
    drop(home);
    let path = dir.join(REGISTRY_FILE);
    assert!(!dir.join(format!("{REGISTRY_FILE}-wal")).exists());
    std::fs::read(path).unwrap()
}

#[derive(Debug, Clone)]
enum Damage {
    Truncate(prop::sample::Index),
    FlipBit(prop::sample::Index, u8),
    Overwrite(prop::sample::Index, Vec<u8>),
    Replace(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Damage::Truncate),
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, b)| Damage::FlipBit(i, b)),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..64)
        )
            .prop_map(|(i, b)| Damage::Overwrite(i, b)),
        prop::collection::vec(any::<u8>(), 0..2000).prop_map(Damage::Replace),
    ]
}

fn apply(damage: &Damage, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match damage {
        Damage::Truncate(i) => out.truncate(i.index(bytes.len())),
        Damage::FlipBit(i, b) => out[i.index(bytes.len())] ^= 1 << b,
        Damage::Overwrite(i, with) => {
            let at = i.index(bytes.len());
            for (o, w) in out[at..].iter_mut().zip(with) {
                *o = *w;
            }
        }
        Damage::Replace(with) => out = with.clone(),
    }
    out
}

/// What a refusal to open a damaged registry must say: which file, and what to do.
fn assert_explains_recovery(msg: &str, path: &Path) {
    assert!(
        msg.contains(&path.display().to_string()),
        "names no file: {msg}"
    );
    assert!(msg.contains("keyring"), "says nothing of the keys: {msg}");
    assert!(
        msg.contains("move") || msg.contains("restore"),
        "no recovery steps: {msg}"
    );
}

proptest! {
    #![proptest_config(config(64))]

    /// A damaged registry is refused with the file's name and the recovery steps, and left
    /// byte for byte as it was; or, where the damage is in unused space, opens as the same
    /// home. It is never replaced by a new empty registry, and nothing panics.
    #[test]
    fn a_damaged_registry_is_refused_and_left_as_it_was(damage in damage()) {
        let dir = tempfile::tempdir().unwrap();
        let bytes = registry_with_keys(dir.path());
        let path = dir.path().join(REGISTRY_FILE);
        let damaged = apply(&damage, &bytes);
        std::fs::write(&path, &damaged).unwrap();
        match Home::open(dir.path()) {
            Err(e) => {
                assert_explains_recovery(&e.to_string(), &path);
                prop_assert!(std::fs::read(&path).unwrap() == damaged, "the damaged file was changed");
            }
            Ok(home) => {
                // Damage SQLite cannot see (inside a label, a date, unused space) opens; a
                // blank registry in its place would have no keys and no events.
                let blank = matches!(home.registry.keys().map(|k| k.len()), Ok(0))
                    && matches!(home.registry.events().map(|e| e.len()), Ok(0));
                prop_assert!(!blank, "a new registry replaced the old one");
                let _ = home.registry.connections();
                let _ = home.registry.objects();
            }
        }
    }
}

#[test]
fn an_empty_registry_file_is_refused_not_made_anew() {
    let dir = tempfile::tempdir().unwrap();
    registry_with_keys(dir.path());
    let path = dir.path().join(REGISTRY_FILE);
    std::fs::write(&path, b"").unwrap();
    let err = Home::open(dir.path())
        .err()
        .expect("an empty registry is refused");
    assert_explains_recovery(&err.to_string(), &path);
    assert!(std::fs::read(&path).unwrap().is_empty());
}

#[test]
fn a_registry_that_is_another_programs_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(REGISTRY_FILE);
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Home::open(dir.path())
        .err()
        .expect("another database is refused");
    assert_explains_recovery(&err.to_string(), &path);
    assert!(
        std::fs::read(&path).unwrap() == before,
        "the file was changed"
    );
}

#[test]
fn a_new_home_still_gets_a_new_registry() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::open(&dir.path().join("new")).unwrap();
    assert!(home.registry.keys().unwrap().is_empty());
    assert!(!home.home_id().is_empty());
}

// ---- local names that are not UTF-8 ----

/// Files whose names are not UTF-8 (possible on Unix) become objects under distinct keys,
/// or the upload is refused before anything is sent: two files never become one object,
/// and every key maps back to a path inside a download folder.
#[cfg(unix)]
#[test]
fn local_names_that_are_invalid_utf8_never_share_an_object() {
    use ssec_manager::core::transfer::{Placement, plan_upload};
    use std::os::unix::ffi::OsStrExt as _;

    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("up");
    std::fs::create_dir(&folder).unwrap();
    let dest = S3Location::parse("s3://b/in/").unwrap();

    std::fs::write(folder.join(std::ffi::OsStr::from_bytes(b"a\xff")), b"1").unwrap();
    std::fs::write(folder.join(std::ffi::OsStr::from_bytes(b"b\\..\\x")), b"2").unwrap();
    let plan = plan_upload(std::slice::from_ref(&folder), &dest, Placement::As).unwrap();
    assert_eq!(plan.len(), 2);
    for p in &plan {
        assert!(p.dest.key.starts_with("in/"), "{}", p.dest.key);
        // A backslash is an ordinary byte here, but never a separator when saved again.
        let saved = local_path_with(Path::new("/d"), "in/", &p.dest.key, LocalNames::Windows);
        assert!(saved.is_err() || saved.unwrap().starts_with("/d"));
    }

    // A second name that decodes to the same replacement character collides: refused.
    std::fs::write(folder.join(std::ffi::OsStr::from_bytes(b"a\xfe")), b"3").unwrap();
    let err = plan_upload(std::slice::from_ref(&folder), &dest, Placement::As)
        .unwrap_err()
        .to_string();
    assert!(err.contains("would both become"), "{err}");
}

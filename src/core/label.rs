//! What a key label may be: text a person can read, compare and type back.
//!
//! A label names a key in every list, report and confirmation, so two labels that look the
//! same must be the same label. Characters that draw nothing or move the text around
//! (zero-width spaces and joiners, bidi overrides and isolates, soft hyphens, variation
//! selectors, non-ASCII spaces, controls) are therefore refused, as are spaces at either
//! end: nothing is silently removed, so the label stored is always the label given.
//!
//! Labels written before these rules (or taken from another home's keyring entries) may
//! still hold such characters; [`visible`] writes them out as `\u{..}`, so what the window
//! asks the user to type to confirm a delete is exactly what it shows.

/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// Why a label is refused (the reason part of `Error::BadLabel`).
pub fn label_problem(label: &str) -> Option<&'static str> {
    if label.is_empty() {
        return Some("it is empty");
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Some("it is longer than 100 characters");
    }
    if label.starts_with(char::is_whitespace) || label.ends_with(char::is_whitespace) {
        return Some("it starts or ends with a space");
    }
    if label.chars().any(|c| c.is_control()) {
        return Some("it holds a control character (a tab or a line break, for example)");
    }
    if label.chars().any(is_invisible) {
        return Some(
            "it holds an invisible or direction-changing character (a zero-width space, a \
             bidi mark, a non-ASCII space...), so it could look like another label",
        );
    }
    if label.contains('/') {
        return Some("it holds a '/'");
    }
    None
}

/// A character that draws nothing, draws as a plain space without being one, or changes
/// the direction of the text around it: Unicode's default-ignorable code points, the bidi
/// controls, every space but U+0020, controls, and a few blank-looking letters.
pub fn is_invisible(c: char) -> bool {
    if c == ' ' {
        return false;
    }
    c.is_control()
        || c.is_whitespace()
        || matches!(
            c,
            // Default_Ignorable_Code_Point (Unicode 15), bidi controls included.
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
                // Other format characters that draw nothing in most fonts.
                | '\u{0600}'..='\u{0605}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{08E2}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{13430}'..='\u{1343F}'
                // The Braille pattern blank.
                | '\u{2800}'
        )
}

/// The label as it can be shown and typed: every invisible character written as an escape,
/// e.g. `prod\u{200b}`. An acceptable label is shown as it is.
pub fn visible(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        if is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The label for an error message: [`visible`], cut to 60 characters.
pub fn shown(label: &str) -> String {
    let v = visible(label);
    if v.chars().count() <= 60 {
        v
    } else {
        let head: String = v.chars().take(60).collect();
        format!("{head}…")
    }
}

/// Whether `typed` confirms deleting the key labelled `label`: it must be exactly what the
/// dialog shows ([`visible`]), which holds no invisible character, so text that merely
/// looks like the label (or a label that merely looks like the text) never confirms.
pub fn confirms_delete(label: &str, typed: &str) -> bool {
    !label.is_empty() && typed == visible(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_labels_pass_and_lookalikes_are_refused() {
        for ok in ["prod", "backups 2026", "clé-été", "東京", "a.b_c-d"] {
            assert_eq!(label_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            " prod",
            "prod ",
            "prod\u{200B}",
            "\u{202E}dorp",
            "pr\u{00A0}od",
            "a/b",
            "a\tb",
        ] {
            assert!(label_problem(bad).is_some(), "{bad:?}");
        }
        assert!(label_problem(&"x".repeat(101)).is_some());
        assert_eq!(label_problem(&"é".repeat(100)), None);
    }

    #[test]
    fn the_confirmation_is_what_is_shown() {
        assert!(confirms_delete("prod", "prod"));
        assert!(!confirms_delete("prod", "prod\u{200B}"));
        assert_eq!(visible("prod\u{200B}"), "prod\\u{200b}");
        assert!(!confirms_delete("prod\u{200B}", "prod"));
        assert!(confirms_delete("prod\u{200B}", "prod\\u{200b}"));
        assert!(!confirms_delete("", ""));
    }
}

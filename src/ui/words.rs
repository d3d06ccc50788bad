//! The core's texts say what to do next in the command line's words (`pass --key LABEL`,
//! `ssec-manager uploads --abort 7`): the CLI is their first reader. The window says the same
//! with its own buttons; every error or notice it shows passes through [`for_window`].

/// (what the core says, what the window says instead). In a pattern, `*` stands for one
/// word (no space in it): a label, an id, an s3:// URL.
const HINTS: &[(&str, &str)] = &[
    (
        "or pass --force to delete it anyway",
        "or type its label in the Delete dialog to delete it anyway",
    ),
    (
        "add one with `ssec-manager connection add NAME --endpoint URL`",
        "add one in Connections (Add connection…)",
    ),
    (
        "pick one with --connection NAME",
        "pick one in the window's connection list",
    ),
    (
        "import the key file again with `ssec-manager key import * FILE`",
        "import the key file again (Keys, Import…)",
    ),
    (
        "restore it from a backup or",
        "restore it from a backup (Keys, Restore…) or",
    ),
    (
        "add one (`ssec-manager connection add`) and run `key receive` again, or pass \
         --connection NAME",
        "add one in Connections (Add connection…), then Receive… again",
    ),
    (
        "(connection add ... --allow-plain-http)",
        "(Edit… in Connections: \"Allow it anyway\")",
    ),
    (
        "the command `ssec-manager preflight` prints",
        "the command Preflight shows",
    ),
    (
        "Use --to none to store them unencrypted on purpose",
        "Choose \"none\" to store them unencrypted on purpose",
    ),
    ("a --profile,", "an AWS profile,"),
    ("(--key LABEL)", "(choose one in the Sync dialog)"),
    (
        "pass --key LABEL or set another default with `ssec-manager key default * LABEL`",
        "choose a key in the upload dialog, or set another default (Objects, Set the default \
         key here…)",
    ),
    ("no --key given and", "no key chosen and"),
    (
        "pass --key LABEL, or set a default with `ssec-manager key default * LABEL`",
        "choose a key in the upload dialog, or set a default (Objects, Set the default key \
         here…)",
    ),
    (
        "pass --key LABEL (or adopt it with `ssec-manager scan * --adopt`)",
        "Scan and adopt in Objects finds its key if one here opens it",
    ),
    (
        "has no key for it; pass --key LABEL",
        "has no key for it: Scan and adopt in Objects finds its key if one here opens it",
    ),
    (
        "add the connection again with --access-key-id",
        "enter the access keys again (Connections, Edit…)",
    ),
    (
        "the connection's --ca-bundle",
        "the connection's CA bundle (Connections, Edit…)",
    ),
    (
        "`ssec-manager rotate --resume` retries",
        "Rotate again retries",
    ),
    (
        "(`ssec-manager uploads --abort *`)",
        "(Transfers, Interrupted uploads, Abort)",
    ),
    (
        "`ssec-manager key list --orphaned` lists them",
        "the Keys screen lists them (Adopt them)",
    ),
    (
        "run ssec-manager again to start a new registry, then `ssec-manager key adopt` brings \
         the keys back from the keyring and `ssec-manager scan s3://BUCKET --adopt` finds the \
         objects they encrypt",
        "open ssec-manager again to start a new registry, then Adopt them (Keys) brings the \
         keys back from the keyring and Scan and adopt (Objects) finds the objects they encrypt",
    ),
    (
        "(kept; --delete removes them)",
        "(kept; \"Delete at the target\" removes them)",
    ),
    (
        "(--rekey re-keys them)",
        "(kept under their key; Rotate… re-keys them)",
    ),
    (
        "(rotate --reupload always)",
        "(the window's Rotate… falls back to that by itself)",
    ),
    (
        "rotate them to a new key: ssec-manager rotate --from * --to NEW",
        "rotate them to a new key (Keys, Rotate… on that key)",
    ),
    ("(--account ID)", "(an account id)"),
    ("(--endpoint URL)", "(the Endpoint field)"),
];

/// The CLI's commands and where the window does the same (a command named in a text that
/// no hint above words better).
const COMMANDS: &[(&str, &str)] = &[
    ("key generate", "Generate… in Keys"),
    ("key import", "Import… in Keys"),
    ("key adopt", "Adopt them in Keys"),
    ("key default", "Set the default key here… in Objects"),
    ("key list", "the Keys screen"),
    ("connection add", "Add connection… in Connections"),
    ("connection edit", "Edit… in Connections"),
    ("restore", "Restore… in Keys"),
    ("backup", "Back up… in Keys"),
    ("reconcile", "Ask the server now (Audit)"),
    ("verify", "Verify in Audit"),
    ("uploads", "Interrupted uploads in Transfers"),
    ("resume", "Resume in Transfers"),
    ("migrate", "Move off SSE-C… again"),
    ("download", "Download… on the object"),
    ("scan", "Scan and adopt in Objects"),
    ("preflight", "Preflight in Objects"),
    ("rotate", "Rotate…"),
];

/// `text` with each command-line hint it carries said in the window's words.
pub fn for_window(text: &str) -> String {
    let mut out = text.to_string();
    for (cli, window) in HINTS {
        while let Some((start, end)) = find(&out, cli) {
            out.replace_range(start..end, window);
        }
    }
    let mut from = 0;
    while let Some((start, end, window)) = command(&out, from) {
        out.replace_range(start..end, window);
        from = start + window.len();
    }
    out
}

/// The next command line from `from` on, with where the window does it: "`ssec-manager CMD
/// ARGS`" to its closing backquote, or "ssec-manager CMD ARGS" up to a parenthesis, a
/// semicolon or a comma. A name that is not a command ("an ssec-manager key share") is
/// passed over.
fn command(text: &str, mut from: usize) -> Option<(usize, usize, &'static str)> {
    const NAME: &str = "ssec-manager ";
    while let Some(at) = text[from..].find(NAME).map(|i| i + from) {
        let rest = &text[at + NAME.len()..];
        let found = COMMANDS.iter().find(|(cmd, _)| {
            rest.starts_with(cmd) && !rest[cmd.len()..].starts_with(char::is_alphanumeric)
        });
        if let Some((_, window)) = found {
            let quoted = text[..at].ends_with('`');
            let (start, len) = if quoted {
                (at - 1, rest.find('`').map_or(rest.len(), |i| i + 1))
            } else {
                let stop = rest.find(['(', ';', ',']).unwrap_or(rest.len());
                (at, rest[..stop].trim_end().len())
            };
            return Some((start, at + NAME.len() + len, window));
        }
        from = at + NAME.len();
    }
    None
}

/// Where `pattern` (with `*` for one word) occurs in `text`: (start, end) in bytes.
fn find(text: &str, pattern: &str) -> Option<(usize, usize)> {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut from = 0;
    while let Some(at) = text[from..].find(parts[0]).map(|i| i + from) {
        let mut end = at + parts[0].len();
        let mut whole = true;
        for part in &parts[1..] {
            // One word, then the next literal part.
            let word = text[end..]
                .find(|c: char| c.is_whitespace() || part.starts_with(c))
                .unwrap_or(text.len() - end);
            if word == 0 || !text[end + word..].starts_with(part) {
                whole = false;
                break;
            }
            end += word + part.len();
        }
        if whole {
            return Some((at, end));
        }
        from = at + parts[0].len().max(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Error;

    /// What no text of the window may say: a flag or a command of the CLI (the program's
    /// name before one of its commands).
    fn cli_words(text: &str) -> Vec<String> {
        const CLI_COMMANDS: [&str; 19] = [
            "key",
            "connection",
            "upload",
            "download",
            "sync",
            "resume",
            "uploads",
            "backup",
            "restore",
            "rotate",
            "scan",
            "preflight",
            "verify",
            "audit",
            "objects",
            "delete",
            "migrate",
            "presign",
            "reconcile",
        ];
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || "()`;,".contains(c))
            .filter(|w| !w.is_empty())
            .collect();
        let mut found = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let flag = w.starts_with("--") && w.len() > 2 && w.as_bytes()[2].is_ascii_lowercase();
            // "an ssec-manager key backup" names a file, not a command.
            let named = i > 0 && words[i - 1] == "an";
            let command = *w == "ssec-manager"
                && !named
                && words
                    .get(i + 1)
                    .is_some_and(|next| CLI_COMMANDS.contains(next));
            if flag || command {
                found.push(w.to_string());
            }
        }
        found
    }

    #[test]
    fn a_pattern_word_stands_for_one_word_only() {
        assert_eq!(
            find(
                "abort (`ssec-manager uploads --abort 17`) and",
                "(`ssec-manager uploads --abort *`)"
            ),
            Some((6, 41))
        );
        assert_eq!(find("--abort two words`)", "--abort *`)"), None);
        assert_eq!(find("nothing here", "--abort *`)"), None);
        // A command named in a text: where the window does it, quoted or not.
        assert_eq!(
            for_window("import it with `ssec-manager key import LABEL FILE`."),
            "import it with Import… in Keys."
        );
        assert_eq!(
            for_window("find it: ssec-manager scan s3://b/p (then restore its key)"),
            "find it: Scan and adopt in Objects (then restore its key)"
        );
        assert_eq!(
            for_window("not an ssec-manager key share"),
            "not an ssec-manager key share"
        );
    }

    #[test]
    fn errors_the_window_shows_name_its_buttons_not_the_command_line() {
        let errors = [
            Error::KeyInUse {
                label: "k".into(),
                count: 1,
                list: "s3://b/o".into(),
            }
            .to_string(),
            Error::NoConnection.to_string(),
            Error::AmbiguousConnection("a, b".into()).to_string(),
            Error::KeyNotInKeyring {
                label: "photos-2026".into(),
                fingerprint: "ab12".into(),
            }
            .to_string(),
        ];
        for e in errors {
            assert!(
                !cli_words(&e).is_empty(),
                "the core says it for the CLI: {e}"
            );
            let shown = for_window(&e);
            assert!(cli_words(&shown).is_empty(), "{shown}");
        }
    }

    /// Every string literal of the core that names a CLI flag or command, read from the
    /// source (format placeholders stand as one word): each has window words, or is a
    /// recipe meant for a terminal. A new hint without window words fails here.
    #[test]
    fn every_command_line_hint_of_the_core_has_window_words() {
        // Texts that are commands to run in a terminal by design (copied, not read).
        // Audit fixes that are buttons in the window (the command only under Copy command).
        const RECIPES: [&str; 8] = [
            "gnome-keyring-daemon --unlock",
            "curl --fail",
            "--cacert",
            "aws s3api",
            "--server-side-encryption-configuration",
            "ssec-manager backup --out FILE --keys",
            "ssec-manager rotate --delete-old-versions",
            "ssec-manager uploads (then",
        ];
        let mut missing = Vec::new();
        for file in rust_files(std::path::Path::new("src/core")) {
            let source = std::fs::read_to_string(&file).unwrap();
            // Unit tests at the end of a file are not texts the window shows.
            let code = source.split("#[cfg(test)]").next().unwrap_or_default();
            for literal in string_literals(code) {
                // Recipes, flags alone, file headers ("# ..."), the share format's name.
                if RECIPES.iter().any(|r| literal.contains(r))
                    || literal.starts_with("--")
                    || literal.starts_with('#')
                    || literal == "ssec-manager key share"
                {
                    continue;
                }
                let shown = for_window(&literal);
                if !cli_words(&shown).is_empty() {
                    missing.push(format!("{}: {shown}", file.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "no window words for:\n{}",
            missing.join("\n")
        );
    }

    fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        out
    }

    /// The "..." literals of Rust source, with `\` line continuations joined the way
    /// rustc joins them; comments and char literals skipped.
    fn string_literals(code: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut chars = code.chars().peekable();
        let mut prev = ' ';
        while let Some(c) = chars.next() {
            let after = prev;
            prev = c;
            match c {
                // A raw string r#"..."#: read to its closing quote and hashes.
                'r' if chars.peek() == Some(&'#') && !after.is_alphanumeric() && after != '_' => {
                    let hashes = chars.by_ref().take_while(|c| *c == '#').count();
                    let close = format!("\"{}", "#".repeat(hashes));
                    let mut s = String::new();
                    for c in chars.by_ref() {
                        s.push(c);
                        if s.ends_with(&close) {
                            break;
                        }
                    }
                    out.push(s.trim_end_matches(&close).to_string());
                }
                '/' if chars.peek() == Some(&'/') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '\'' => {
                    // A char literal ('"', '\\') or a lifetime: skip to its end.
                    let rest: String = chars.clone().take(3).collect();
                    if rest.starts_with('\\') {
                        chars.nth(2);
                    } else if rest.chars().nth(1) == Some('\'') {
                        chars.nth(1);
                    }
                }
                '"' => {
                    let mut s = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => match chars.next() {
                                Some('\n') => {
                                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                                        chars.next();
                                    }
                                }
                                Some(e) => {
                                    s.push('\\');
                                    s.push(e);
                                }
                                None => break,
                            },
                            c => s.push(c),
                        }
                    }
                    out.push(s);
                }
                _ => {}
            }
        }
        out
    }
}

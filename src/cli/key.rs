//! `ssec-manager key ...`: generate, import, export, list, delete, env.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::core::keys::{DeleteConfirmation, KeyListing};
use crate::core::location::S3Location;
use crate::core::share;
use crate::core::{Error, Home};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a new random key (OS CSPRNG) and keep it in the keyring.
    Generate { label: String },
    /// Import a key file: the base64 line `openssl rand -base64 32` writes, 32 raw bytes, or
    /// 64 hex digits. FILE may be - for standard input.
    Import { label: String, file: PathBuf },
    /// Write the key in the seed's format (base64 line) to a new file, mode 0600.
    Export {
        label: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// List keys with what they encrypt. --orphaned: keys of ssec-manager in the keyring
    /// whose registry is gone (lost, or made anew), which `key adopt` brings back.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        orphaned: bool,
        /// With --orphaned: also keys whose registry file elsewhere no longer exists (a home
        /// moved or deleted).
        #[arg(long, requires = "orphaned")]
        anywhere: bool,
    },
    /// Register keys found in the keyring whose registry is gone (see `key list
    /// --orphaned`); then `scan --adopt` finds their objects.
    Adopt {
        /// The label the key had.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        label: Option<String>,
        /// Every orphaned key.
        #[arg(long)]
        all: bool,
        /// Also keys whose registry file elsewhere no longer exists (see `key list
        /// --orphaned --anywhere`).
        #[arg(long)]
        anywhere: bool,
    },
    /// Delete a key from the keyring; refused while objects depend on it.
    Delete {
        label: String,
        /// Delete even though objects depend on it (they become unrecoverable).
        #[arg(long)]
        force: bool,
    },
    /// Print the seed's `export SSE_KEY=... / SSE_MD5=...` lines for the aws CLI.
    Env { label: String },
    /// Make a key the default for a bucket or prefix: uploads there use it unless given
    /// --key, and uploading there with another key asks first. Without LABEL, shows the
    /// default that applies there.
    Default {
        /// s3://BUCKET or s3://BUCKET/PREFIX (a prefix is a folder: "photos" = "photos/").
        #[arg(value_name = "s3://BUCKET[/PREFIX]")]
        place: S3Location,
        #[arg(value_name = "LABEL", conflicts_with = "clear")]
        label: Option<String>,
        /// Remove the default of exactly this place.
        #[arg(long)]
        clear: bool,
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
    },
    /// List the default keys of buckets and prefixes.
    Defaults {
        #[arg(long)]
        json: bool,
    },
    /// Hand keys to other people: one age file encrypted to their public keys (age1...,
    /// ssh-ed25519, ssh-rsa), with --objects a manifest of what each key encrypts. The
    /// registry records who got which key.
    Share {
        #[arg(required = true, num_args = 1.., value_name = "LABEL")]
        labels: Vec<String>,
        /// A recipient: an age public key (age1...) or an SSH public key line; repeatable.
        #[arg(long = "to", value_name = "RECIPIENT")]
        to: Vec<String>,
        /// A file of recipients, one per line (e.g. https://github.com/USER.keys saved);
        /// keys age cannot use (ecdsa) are skipped with a note. Repeatable.
        #[arg(long = "to-file", value_name = "FILE")]
        to_file: Vec<PathBuf>,
        /// The new file to write (never over an existing one).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Add a manifest of the objects each key encrypts (all, or only under
        /// s3://BUCKET/PREFIX), so the receiver's registry knows them too.
        #[arg(long, value_name = "s3://BUCKET/PREFIX", num_args = 0..=1, default_missing_value = "")]
        objects: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Open a key share with your identity (an age identity file or an SSH private key;
    /// a passphrase is read from SSEC_MANAGER_IDENTITY_PASSPHRASE or asked), import its
    /// keys, and record the manifest's objects after a HEAD confirms each.
    Receive {
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
        /// The connection the manifest's objects are on (default: the one whose endpoint
        /// the manifest names).
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn exec(dir: &Path, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Generate { label } => {
            let home = Home::open_with_keyring(dir)?;
            let k = home.generate_key(&label)?;
            println!(
                "generated key \"{}\" (fingerprint {})",
                k.label, k.fingerprint
            );
            eprintln!(
                "note: this key exists only in your keyring; back it up (`ssec-manager key \
                 export {label} --out FILE`) before you encrypt anything you cannot lose"
            );
        }
        KeyCommand::Import { label, file } => {
            let (bytes, origin) = read_key_input(&file)?;
            let home = Home::open_with_keyring(dir)?;
            let k = home.import_key(&label, &bytes, &origin)?;
            println!(
                "imported key \"{}\" (fingerprint {})",
                k.label, k.fingerprint
            );
        }
        KeyCommand::Export { label, out } => {
            let home = Home::open_with_keyring(dir)?;
            let k = home.export_key(&label, &out)?;
            println!(
                "exported key \"{}\" to {} (mode 0600). Anyone with this file can read \
                 every object it encrypts: keep it offline or encrypted",
                k.label,
                out.display()
            );
        }
        KeyCommand::List {
            json,
            orphaned: false,
            ..
        } => print_keys(&Home::open(dir)?.list_keys()?, json)?,
        KeyCommand::List {
            json,
            orphaned: true,
            anywhere,
        } => print_orphans(&Home::open_with_keyring(dir)?, json, anywhere)?,
        KeyCommand::Adopt {
            label, anywhere, ..
        } => {
            let home = Home::open_with_keyring(dir)?;
            let adopted = home.adopt_keys(label.as_deref(), anywhere)?;
            for k in &adopted {
                println!(
                    "adopted key \"{}\" (fingerprint {})",
                    k.label, k.fingerprint
                );
            }
            if adopted.is_empty() {
                println!("no orphaned keys to adopt");
            } else {
                eprintln!(
                    "note: `ssec-manager scan s3://BUCKET --adopt` now finds the objects these \
                     keys encrypt"
                );
            }
        }
        KeyCommand::Delete { label, force } => {
            let home = Home::open_with_keyring(dir)?;
            let confirm = if force {
                DeleteConfirmation::Force
            } else {
                DeleteConfirmation::None
            };
            let lost = home.delete_key(&label, confirm)?;
            if lost.is_empty() {
                println!("deleted key \"{label}\"");
            } else {
                println!(
                    "deleted key \"{label}\"; {} object(s) can no longer be decrypted: {}",
                    lost.len(),
                    lost.join(", ")
                );
            }
        }
        KeyCommand::Env { label } => {
            let home = Home::open_with_keyring(dir)?;
            let lines = home.key_env_lines(&label)?;
            print!("{}", lines.as_str());
        }
        KeyCommand::Share {
            labels,
            to,
            to_file,
            out,
            objects,
            json,
        } => share(
            &Home::open_with_keyring(dir)?,
            &labels,
            &to,
            &to_file,
            &out,
            objects,
            json,
        )?,
        KeyCommand::Receive {
            file,
            identity,
            connection,
            json,
        } => receive(dir, &file, &identity, connection.as_deref(), json).await?,
        KeyCommand::Default {
            place,
            label,
            clear,
            connection,
        } => default_key(&Home::open(dir)?, &place, label, clear, connection)?,
        KeyCommand::Defaults { json } => {
            let defaults = Home::open(dir)?.default_keys()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&defaults)?);
            } else if defaults.is_empty() {
                println!(
                    "no default keys: `ssec-manager key default s3://BUCKET/PREFIX LABEL` sets one"
                );
            }
            for d in defaults.iter().filter(|_| !json) {
                println!(
                    "{:<12} {:<40} {}",
                    d.connection,
                    d.place(),
                    d.key_label.as_deref().unwrap_or("(deleted key)")
                );
            }
        }
    }
    Ok(())
}

/// `key share`: the recipients from --to and --to-file, then the file.
fn share(
    home: &Home,
    labels: &[String],
    to: &[String],
    to_file: &[PathBuf],
    out: &Path,
    objects: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let mut recipients = Vec::new();
    for r in to {
        recipients
            .push(share::parse_recipient(r).map_err(|why| Error::Share(format!("--to: {why}")))?);
    }
    for f in to_file {
        let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, "cannot read", e))?;
        let read = share::parse_recipients(&text, &f.display().to_string())?;
        for s in &read.skipped {
            eprintln!("note: {s}");
        }
        recipients.extend(read.recipients);
    }
    let within = match objects.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(place) => Some(Some(place.parse::<S3Location>()?)),
    };
    let report = home.share_keys(
        labels,
        &recipients,
        within.as_ref().map(|w| w.as_ref()),
        out,
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for (label, n) in &report.keys {
        println!("shared key \"{label}\" ({n} object(s) in the manifest)");
    }
    println!("to {}:", count(report.recipients.len(), "recipient"));
    for r in &report.recipients {
        println!("  {r}");
    }
    println!(
        "wrote {} (age-encrypted: only those recipients can open it; `ssec-manager key \
         receive` or `age -d -i IDENTITY` does)",
        report.file
    );
    Ok(())
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `key receive`: open the share, import, adopt what the server confirms.
async fn receive(
    dir: &Path,
    file: &Path,
    identity: &Path,
    connection: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let ask = || {
        std::env::var("SSEC_MANAGER_IDENTITY_PASSPHRASE")
            .ok()
            .or_else(|| {
                use std::io::IsTerminal as _;
                std::io::stdin()
                    .is_terminal()
                    .then(|| {
                        rpassword::prompt_password(format!(
                            "Passphrase of {}: ",
                            identity.display()
                        ))
                        .ok()
                    })
                    .flatten()
            })
    };
    let identities = share::read_identity(identity, &ask)?;
    let home = Home::open_with_keyring(dir)?;
    let report = home.receive_keys(file, &identities, connection).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for l in &report.imported {
        println!("imported key \"{l}\"");
    }
    for l in &report.present {
        println!("key \"{l}\" was here already");
    }
    println!(
        "{} recorded ({} known already), {} not recorded",
        count(report.adopted.len(), "object"),
        report.known.len(),
        report.not_adopted.len()
    );
    for (o, why) in &report.not_adopted {
        println!("  not recorded: {o}: {why}");
    }
    Ok(())
}

/// `key default`: set, clear, or show the default key of a place.
fn default_key(
    home: &Home,
    place: &S3Location,
    label: Option<String>,
    clear: bool,
    connection: Option<String>,
) -> anyhow::Result<()> {
    let conn = home.resolve_connection(connection.as_deref())?;
    let shown = format!("s3://{}/{}", place.bucket, place.folder());
    if clear {
        if home.clear_default_key(Some(&conn.name), place)? {
            println!("{shown} has no default key any more");
        } else {
            println!("{shown} had no default key of its own; nothing changed");
        }
        return Ok(());
    }
    if let Some(label) = label {
        let d = home.set_default_key(Some(&conn.name), place, &label)?;
        println!(
            "\"{label}\" is now the default key for {} on {}",
            d.place(),
            d.connection
        );
        return Ok(());
    }
    let defaults = home.default_keys()?;
    match crate::core::defaults::default_for(&defaults, &conn.name, &place.bucket, &place.folder())
    {
        Some(d) => println!(
            "{shown}: default key \"{}\" (set on {})",
            d.key_label.as_deref().unwrap_or("(deleted key)"),
            d.place()
        ),
        None => println!("{shown} has no default key"),
    }
    Ok(())
}

/// A key file or standard input, at most 4 KiB (a wrong path to a video is not slurped).
fn read_key_input(file: &Path) -> anyhow::Result<(zeroize::Zeroizing<Vec<u8>>, String)> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    if file.as_os_str() == "-" {
        std::io::stdin()
            .take(4096)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("standard input", "cannot read", e))?;
        return Ok((bytes, "standard input".into()));
    }
    let mut f = std::fs::File::open(file).map_err(|e| Error::io(file, "cannot open", e))?;
    f.by_ref()
        .take(4096)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(file, "cannot read", e))?;
    Ok((bytes, file.display().to_string()))
}

fn print_orphans(home: &Home, json: bool, anywhere: bool) -> anyhow::Result<()> {
    let orphans = home.orphaned_keys(anywhere)?;
    if json {
        let rows: Vec<serde_json::Value> = orphans
            .iter()
            .map(|o| {
                serde_json::json!({
                    "label": o.tags.label,
                    "fingerprint": o.tags.fingerprint,
                    "home": o.tags.home,
                    "registry": o.tags.registry,
                    "intact": o.intact,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if orphans.is_empty() {
        println!("no orphaned keys: every ssec-manager key in the keyring has its registry");
        return Ok(());
    }
    for o in &orphans {
        println!(
            "{:<20} {:<26} {}  (home {}, registry {})",
            o.tags.label,
            o.tags.fingerprint,
            if o.intact { "intact" } else { "DAMAGED" },
            o.tags.home,
            o.tags.registry
        );
    }
    println!(
        "{} orphaned key(s): `ssec-manager key adopt --all` registers them here",
        orphans.len()
    );
    Ok(())
}

fn print_keys(keys: &[KeyListing], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(keys)?);
        return Ok(());
    }
    if keys.is_empty() {
        println!(
            "no keys yet: `ssec-manager key generate LABEL` or `ssec-manager key import LABEL FILE`"
        );
        return Ok(());
    }
    println!(
        "{:<20} {:<26} {:>7} {:>12}  {:<10} {:<8} CREATED",
        "LABEL", "FINGERPRINT", "OBJECTS", "BYTES", "BACKUP", "KEYRING"
    );
    for k in keys {
        let s = &k.summary;
        println!(
            "{:<20} {:<26} {:>7} {:>12}  {:<10} {:<8} {}",
            s.key.label,
            s.key.fingerprint,
            s.objects,
            s.bytes,
            s.key.backup_status,
            match k.in_keyring {
                Some(true) => "present",
                Some(false) => "MISSING",
                None => "unknown",
            },
            s.key.created_at
        );
        if s.retired() {
            println!(
                "{:<20} retired: its {} object(s) were migrated off SSE-C; nothing needs it now",
                "", s.migrated
            );
        }
    }
    Ok(())
}

//! `ssec-manager key ...`: generate, import, export, list, delete, env.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::core::keys::{DeleteConfirmation, KeyListing};
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
}

pub fn exec(dir: &Path, command: KeyCommand) -> anyhow::Result<()> {
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
    }
    Ok(())
}

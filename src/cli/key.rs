//! `ssec-manager key ...`: generate, import, export, list, delete, env.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::core::keys::KeyListing;
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
    /// List keys with what they encrypt.
    List {
        #[arg(long)]
        json: bool,
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
        KeyCommand::List { json } => print_keys(&Home::open(dir)?.list_keys()?, json)?,
        KeyCommand::Delete { label, force } => {
            let home = Home::open_with_keyring(dir)?;
            let lost = home.delete_key(&label, force)?;
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

//! `ssec-manager backup` and `restore`: keys into and out of a passphrase-encrypted age file.

use std::path::{Path, PathBuf};

use clap::Args;

use super::args::list_or_none;
use crate::core::Home;

/// Write keys (all, or --keys L1,L2) into a new passphrase-encrypted age file, checked by
/// reading it back. The passphrase comes from SSEC_MANAGER_PASSPHRASE or a prompt.
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long, value_name = "L1,L2", value_delimiter = ',')]
    keys: Vec<String>,
}

/// Bring keys back from a backup (into the keyring, or as new keys).
#[derive(Debug, Args)]
pub struct RestoreArgs {
    file: PathBuf,
}

pub fn backup(dir: &Path, a: BackupArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let pass = passphrase(true)?;
    let done = home.backup_keys(&a.out, &a.keys, &pass)?;
    let labels: Vec<&str> = done.iter().map(|k| k.label.as_str()).collect();
    println!(
        "backed up {} key(s) to {} (age, passphrase; read back and checked): {}",
        done.len(),
        a.out.display(),
        labels.join(", ")
    );
    Ok(())
}

pub fn restore(dir: &Path, a: RestoreArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let pass = passphrase(false)?;
    let r = home.restore_keys(&a.file, &pass)?;
    println!(
        "restored into the keyring: {}; imported as new: {}; already present: {}",
        list_or_none(&r.restored),
        list_or_none(&r.imported),
        list_or_none(&r.present)
    );
    Ok(())
}

/// The backup passphrase: SSEC_MANAGER_PASSPHRASE for scripts, else asked on the terminal
/// (twice when making a backup).
fn passphrase(confirm: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Ok(p) = std::env::var("SSEC_MANAGER_PASSPHRASE") {
        return Ok(zeroize::Zeroizing::new(p));
    }
    let first =
        zeroize::Zeroizing::new(rpassword::prompt_password("Backup passphrase: ").map_err(
            |e| anyhow::anyhow!("cannot ask for the passphrase ({e}); set SSEC_MANAGER_PASSPHRASE"),
        )?);
    if confirm {
        let again = zeroize::Zeroizing::new(
            rpassword::prompt_password("Again: ").map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        if *again != *first {
            anyhow::bail!("the two passphrases differ; nothing was written");
        }
    }
    Ok(first)
}

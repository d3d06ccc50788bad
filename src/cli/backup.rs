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

/// SSEC_MANAGER_PASSPHRASE, taken out of the environment at start-up (see
/// `take_passphrase_env`).
static PASSPHRASE_ENV: std::sync::OnceLock<Result<zeroize::Zeroizing<String>, ()>> =
    std::sync::OnceLock::new();

/// Reads SSEC_MANAGER_PASSPHRASE and removes it from this process's environment, so no
/// child process inherits it and nothing later reads it from there. Call it while the
/// process has one thread (first thing in `main`): changing the environment is not
/// thread-safe.
pub fn take_passphrase_env() {
    if let Some(value) = std::env::var_os("SSEC_MANAGER_PASSPHRASE") {
        // A passphrase that is not UTF-8 is kept as an error, never silently changed.
        match value.into_string() {
            Ok(text) => {
                let _ = PASSPHRASE_ENV.set(Ok(zeroize::Zeroizing::new(text)));
            }
            Err(raw) => {
                zeroize::Zeroizing::new(raw.into_encoded_bytes());
                let _ = PASSPHRASE_ENV.set(Err(()));
            }
        }
        // SAFETY: called from `main` before the runtime or any other thread starts.
        unsafe { std::env::remove_var("SSEC_MANAGER_PASSPHRASE") };
    }
}

/// The backup passphrase: SSEC_MANAGER_PASSPHRASE for scripts, else asked on the terminal
/// (twice when making a backup).
fn passphrase(confirm: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
    match PASSPHRASE_ENV.get() {
        Some(Ok(p)) => return Ok(p.clone()),
        Some(Err(())) => anyhow::bail!(
            "SSEC_MANAGER_PASSPHRASE is not valid UTF-8 text; nothing was read or written"
        ),
        None => {}
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

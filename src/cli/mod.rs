//! The command line: the same core as the window, for scripts, tests and benchmarks.
//!
//! One module per command (as cargo's `commands/`): each declares its arguments and turns
//! them into one call of the core and its report into output; none holds a business rule.
//! Every command exits 0 on success; on failure `main` prints one line, `error: ...`, on
//! stderr and exits non-zero. Key material is printed only by `key env` (which exists to do
//! exactly that, as the seed document's shell lines) and written only by `key export`.

mod args;
mod audit;
mod backup;
mod connection;
mod delete;
mod download;
mod key;
mod migrate;
mod objects;
mod preflight;
mod presign;
mod progress;
mod reconcile;
mod resume;
mod rotate;
mod scan;
mod sync;
mod upload;
mod uploads;
mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use backup::take_passphrase_env;

use crate::core::Home;

#[derive(Debug, Parser)]
#[command(
    name = "ssec-manager",
    version,
    about = "Keeps S3 SSE-C keys in the OS keyring and remembers which key encrypts which object.",
    long_about = "Keeps S3 SSE-C customer keys in the OS keyring and remembers which key \
                  encrypts which object. With no command, opens the window."
)]
pub struct Cli {
    /// Open the window with the upload dialog for these files or folders (what the
    /// desktop's "Open with" passes).
    #[arg(long = "upload", value_name = "FILE", num_args = 0..)]
    pub files: Vec<PathBuf>,

    /// The ssec-manager home (registry, settings); also namespaces the keyring entries.
    #[arg(long, global = true, env = "SSEC_MANAGER_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate, import, export, list and delete SSE-C keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// S3 endpoints and their credentials.
    #[command(subcommand)]
    Connection(connection::ConnectionCommand),
    /// Upload files or folders (recursively) with SSE-C, recording which key encrypts them.
    Upload(upload::UploadArgs),
    /// Download an object, or every object under s3://BUCKET/PREFIX/ into a folder; each
    /// object's key is found in the registry unless --key is given.
    Download(download::DownloadArgs),
    /// Make a folder and a bucket prefix hold the same files (either way), comparing
    /// content by the BLAKE3 the registry records: unchanged files move no byte.
    Sync(sync::SyncArgs),
    /// Resume interrupted multipart uploads (all of them, or the given ids).
    Resume(resume::ResumeArgs),
    /// List interrupted uploads; with --stale also the multipart uploads left on the server.
    Uploads(uploads::UploadsArgs),
    /// Write keys (all, or --keys L1,L2) into a new passphrase-encrypted age file, checked
    /// by reading it back. The passphrase comes from SSEC_MANAGER_PASSPHRASE or a prompt.
    Backup(backup::BackupArgs),
    /// Bring keys back from a backup (into the keyring, or as new keys).
    Restore(backup::RestoreArgs),
    /// Re-encrypt objects with another key on the server (no download): one object, or every
    /// object a key encrypts (optionally under a prefix).
    Rotate(rotate::RotateArgs),
    /// Classify every object under s3://BUCKET[/PREFIX] with HEADs (no data moved): plain,
    /// SSE-C under one of our keys, or under an unknown key. --adopt records the found ones.
    Scan(scan::ScanArgs),
    /// Check a bucket before trusting it with SSE-C: transport, bucket encryption rules
    /// (BlockedEncryptionTypes), and a probe that the server really enforces SSE-C.
    Preflight(preflight::PreflightArgs),
    /// Ask the server about every registered object with its key (HEAD, no data moved):
    /// still there, still opened by its key, same size. --deep also reads each object and
    /// compares its checksum (BLAKE3) with the one recorded at upload.
    Verify(verify::VerifyArgs),
    /// Which objects can still be opened, which keys put objects at risk, and what to do.
    Audit(audit::AuditArgs),
    /// List the objects the registry knows, with their keys.
    Objects {
        #[arg(long)]
        json: bool,
    },
    /// Delete an object on the server; the registry records it as deleted.
    Delete(delete::DeleteArgs),
    /// Move objects off SSE-C on the server (to SSE-S3, SSE-KMS or none), confirmed by a
    /// HEAD without the key before the registry lets go of it; resumable.
    Migrate(migrate::MigrateArgs),
    /// Print a presigned GET (or PUT with --put) of an SSE-C object and the curl command
    /// that sends it with the three SSE-C headers (the key from $SSE_KEY/$SSE_MD5).
    Presign(presign::PresignArgs),
    /// Ask the server about uploads whose answer was lost and interrupted rotations, and
    /// record what it holds (with the evidence in the event log).
    Reconcile(reconcile::ReconcileArgs),
}

/// Runs one command. `main` prints the error.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        anyhow::bail!("no command given");
    };
    let dir = home_dir(cli.home)?;
    match command {
        Command::Key(c) => key::exec(&dir, c).await,
        Command::Connection(c) => connection::exec(&dir, c),
        Command::Upload(a) => upload::exec(&dir, a).await,
        Command::Download(a) => download::exec(&dir, a).await,
        Command::Sync(a) => sync::exec(&dir, a).await,
        Command::Resume(a) => resume::exec(&dir, a).await,
        Command::Uploads(a) => uploads::exec(&dir, a).await,
        Command::Backup(a) => backup::backup(&dir, a),
        Command::Restore(a) => backup::restore(&dir, a),
        Command::Rotate(a) => rotate::exec(&dir, a).await,
        Command::Scan(a) => scan::exec(&dir, a).await,
        Command::Preflight(a) => preflight::exec(&dir, a).await,
        Command::Verify(a) => verify::exec(&dir, a).await,
        Command::Audit(a) => audit::exec(&dir, a).await,
        Command::Objects { json } => objects::exec(&dir, json),
        Command::Delete(a) => delete::exec(&dir, a).await,
        Command::Reconcile(a) => reconcile::exec(&dir, a).await,
        Command::Presign(a) => presign::exec(&dir, a).await,
        Command::Migrate(a) => migrate::exec(&dir, a).await,
    }
}

/// Asks a yes/no question on a terminal; anywhere else the answer is no.
fn ask(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The key an upload to `object_key` uses: `--key`, else the place's default (said on
/// stderr). Another key than the place's default is used only after a yes (`--yes`, or
/// typed on a terminal).
fn upload_key(
    home: &Home,
    connection: &str,
    bucket: &str,
    object_key: &str,
    chosen: Option<&str>,
    yes: bool,
) -> anyhow::Result<String> {
    let k = home.upload_key(connection, bucket, object_key, chosen)?;
    if chosen.is_none()
        && let Some(d) = &k.default
    {
        eprintln!(
            "using key \"{}\", the default key for {}",
            k.label,
            d.place()
        );
    }
    if let Some(q) = k.question()
        && !yes
        && !ask(&q)?
    {
        anyhow::bail!(
            "nothing was uploaded: {q} Pass --yes to use it anyway, or leave out --key to use \
             the default"
        );
    }
    Ok(k.label)
}

/// The home directory: --home, SSEC_MANAGER_HOME, else the platform's data directory.
pub fn home_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(d) => Ok(d),
        None => Home::default_dir().ok_or_else(|| {
            anyhow::anyhow!("cannot find a data directory for this user; pass --home DIR")
        }),
    }
}

//! The command line: the same core as the window, for scripts, tests and benchmarks.
//!
//! Every command exits 0 on success; on failure `main` prints one line, `error: ...`, on
//! stderr and exits non-zero. Key material is printed only by `key env` (which exists to do
//! exactly that, as the seed document's shell lines) and written only by `key export`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::core::registry::{ChecksumMode, ConnectionRecord, CredentialSource, KeySummary};
use crate::core::s3::S3Url;
use crate::core::{Error, Home, transfer};

#[derive(Debug, Parser)]
#[command(
    name = "ssec-manager",
    version,
    about = "Keeps S3 SSE-C keys in the OS keyring and remembers which key encrypts which object.",
    long_about = "Keeps S3 SSE-C customer keys in the OS keyring and remembers which key \
                  encrypts which object. With no command, opens the window."
)]
pub struct Cli {
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
    Key(KeyCommand),
    /// S3 endpoints and their credentials.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Upload a file with SSE-C, recording which key encrypts it.
    Upload {
        file: PathBuf,
        /// Destination, s3://BUCKET/KEY.
        dest: S3Url,
        /// Label of the key to encrypt with.
        #[arg(long = "key", value_name = "LABEL")]
        key: String,
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
    },
    /// Download an object; the key is found in the registry unless --key is given.
    Download {
        /// Source, s3://BUCKET/KEY.
        src: S3Url,
        /// Target file (or folder).
        file: PathBuf,
        #[arg(long = "key", value_name = "LABEL")]
        key: Option<String>,
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
    },
    /// List the objects the registry knows, with their keys.
    Objects {
        #[arg(long)]
        json: bool,
    },
}

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

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Add an S3 endpoint.
    Add(ConnectionAdd),
    /// List connections.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ConnectionAdd {
    name: String,
    /// Endpoint URL, e.g. https://s3.example.com (omit for AWS).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Address buckets as ENDPOINT/BUCKET instead of BUCKET.ENDPOINT.
    #[arg(long)]
    path_style: bool,
    /// Take credentials from this AWS profile (~/.aws/config, ~/.aws/credentials).
    #[arg(long, value_name = "P", conflicts_with = "access_key_id")]
    profile: Option<String>,
    /// Keep this access key id, and its secret (read from standard input) in the keyring.
    #[arg(long, value_name = "ID")]
    access_key_id: Option<String>,
    /// Checksums the SDK adds: when_supported (SDK default) or when_required (for servers
    /// that reject the SDK's default CRC32 checksums).
    #[arg(long, value_enum, default_value = "when-supported")]
    checksums: ChecksumMode,
}

/// Runs one command. `main` prints the error.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        anyhow::bail!("no command given");
    };
    let dir = home_dir(cli.home)?;
    match command {
        Command::Key(k) => run_key(&dir, k),
        Command::Connection(c) => run_connection(&dir, c),
        Command::Upload {
            file,
            dest,
            key,
            connection,
        } => {
            let home = Home::open_with_keyring(&dir)?;
            let conn = home.resolve_connection(connection.as_deref())?;
            let rec = transfer::upload(&home, &conn, &file, &dest, &key).await?;
            println!(
                "uploaded {} -> {} ({} bytes, key \"{}\")",
                file.display(),
                rec.url(),
                rec.size.unwrap_or(0),
                key
            );
            Ok(())
        }
        Command::Download {
            src,
            file,
            key,
            connection,
        } => {
            let home = Home::open_with_keyring(&dir)?;
            let conn = home.resolve_connection(connection.as_deref())?;
            let report = transfer::download(&home, &conn, &src, &file, key.as_deref()).await?;
            println!(
                "downloaded {src} -> {} ({} bytes, {})",
                report.path.display(),
                report.bytes,
                match &report.key_label {
                    Some(l) => format!("key \"{l}\""),
                    None => "not encrypted".into(),
                }
            );
            Ok(())
        }
        Command::Objects { json } => {
            let home = Home::open(&dir)?;
            let objects = home.registry.objects()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&objects)?);
            } else {
                for o in objects {
                    println!(
                        "{:<8} {}:{}  {} bytes  key {}",
                        o.state.as_str(),
                        o.connection,
                        o.url(),
                        o.size.unwrap_or(0),
                        o.key_label
                            .clone()
                            .unwrap_or_else(|| o.key_fingerprint.to_string())
                    );
                }
            }
            Ok(())
        }
    }
}

pub fn home_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(d) => Ok(d),
        None => Home::default_dir().ok_or_else(|| {
            anyhow::anyhow!("cannot find a data directory for this user; pass --home DIR")
        }),
    }
}

fn run_key(dir: &Path, command: KeyCommand) -> anyhow::Result<()> {
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
        KeyCommand::List { json } => {
            let home = Home::open(dir)?;
            let keys = home.registry.keys()?;
            let presence: Vec<Option<bool>> = keys
                .iter()
                .map(|k| home.key_in_keyring(&k.key.fingerprint).ok())
                .collect();
            print_keys(&keys, &presence, json)?;
        }
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
    // A key file is tiny; reading at most 4 KiB keeps a wrong path (a video) from being slurped.
    f.by_ref()
        .take(4096)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(file, "cannot read", e))?;
    Ok((bytes, file.display().to_string()))
}

fn print_keys(keys: &[KeySummary], presence: &[Option<bool>], json: bool) -> anyhow::Result<()> {
    if json {
        let rows: Vec<serde_json::Value> = keys
            .iter()
            .zip(presence)
            .map(|(k, p)| {
                let mut v = serde_json::to_value(k).unwrap_or_default();
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("in_keyring".into(), serde_json::json!(p));
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
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
    for (k, p) in keys.iter().zip(presence) {
        println!(
            "{:<20} {:<26} {:>7} {:>12}  {:<10} {:<8} {}",
            k.key.label,
            k.key.fingerprint,
            k.objects,
            k.bytes,
            k.key.backup_status,
            match p {
                Some(true) => "present",
                Some(false) => "MISSING",
                None => "unknown",
            },
            k.key.created_at
        );
    }
    Ok(())
}

fn run_connection(dir: &Path, command: ConnectionCommand) -> anyhow::Result<()> {
    match command {
        ConnectionCommand::Add(a) => {
            let (source, secret) = match (&a.profile, &a.access_key_id) {
                (Some(_), _) => (CredentialSource::Profile, None),
                (None, Some(_)) => {
                    let mut s = zeroize::Zeroizing::new(String::new());
                    std::io::stdin()
                        .take(1024)
                        .read_to_string(&mut s)
                        .map_err(|e| Error::io("standard input", "cannot read the secret", e))?;
                    let trimmed = s.trim().to_string();
                    if trimmed.is_empty() {
                        anyhow::bail!(
                            "--access-key-id needs the secret access key on standard input \
                             (e.g. `printf %s \"$SECRET\" | ssec-manager connection add ...`)"
                        );
                    }
                    (
                        CredentialSource::Keyring,
                        Some(zeroize::Zeroizing::new(trimmed)),
                    )
                }
                (None, None) => (CredentialSource::AwsChain, None),
            };
            let home = if secret.is_some() {
                Home::open_with_keyring(dir)?
            } else {
                Home::open(dir)?
            };
            if let Some(ep) = &a.endpoint
                && ep.starts_with("http://")
                && !is_loopback_url(ep)
            {
                eprintln!(
                    "warning: {ep} is plain http: SSE-C keys sent to it travel in clear and \
                     must be considered leaked. Use https"
                );
            }
            let c = home.add_connection(
                ConnectionRecord {
                    path_style: a.path_style,
                    credential_source: source,
                    profile: a.profile,
                    access_key_id: a.access_key_id,
                    checksum_mode: a.checksums,
                    ..ConnectionRecord::new(&a.name, a.endpoint.as_deref(), &a.region)
                },
                secret.as_deref().map(String::as_str),
            )?;
            println!(
                "added connection \"{}\" ({})",
                c.name,
                c.endpoint.as_deref().unwrap_or("AWS")
            );
        }
        ConnectionCommand::List { json } => {
            let home = Home::open(dir)?;
            let conns = home.registry.connections()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&conns)?);
            } else {
                for c in conns {
                    println!(
                        "{:<16} {:<32} region {:<12} {}{}",
                        c.name,
                        c.endpoint.as_deref().unwrap_or("AWS"),
                        c.region,
                        if c.path_style { "path-style " } else { "" },
                        match c.credential_source {
                            CredentialSource::AwsChain => "credentials: AWS chain".to_string(),
                            CredentialSource::Profile =>
                                format!("credentials: profile {}", c.profile.unwrap_or_default()),
                            CredentialSource::Keyring => "credentials: keyring".to_string(),
                        }
                    );
                }
            }
        }
    }
    Ok(())
}

fn is_loopback_url(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

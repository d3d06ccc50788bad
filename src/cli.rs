//! The command line: the same core as the window, for scripts, tests and benchmarks.
//!
//! Every command exits 0 on success; on failure `main` prints one line, `error: ...`, on
//! stderr and exits non-zero. Key material is printed only by `key env` (which exists to do
//! exactly that, as the seed document's shell lines) and written only by `key export`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use crate::core::jobs::{JobManager, JobSpec, JobState};
use crate::core::registry::{ChecksumMode, ConnectionRecord, CredentialSource, KeySummary};
use crate::core::s3::{Op, S3Url, client_for, sdk_error};
use crate::core::transfer::{self, TransferCtx, TransferOptions};
use crate::core::verify::VerifyOptions;
use crate::core::{Error, Home};

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
    Key(KeyCommand),
    /// S3 endpoints and their credentials.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Upload a file (or a folder, recursively) with SSE-C, recording which key encrypts it.
    Upload {
        /// A file, or a folder whose files go under the destination prefix.
        file: PathBuf,
        /// Destination, s3://BUCKET/KEY (for a folder: s3://BUCKET/PREFIX/).
        dest: S3Url,
        /// Label of the key to encrypt with.
        #[arg(long = "key", value_name = "LABEL")]
        key: String,
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
        #[command(flatten)]
        transfer: TransferArgs,
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
        #[command(flatten)]
        transfer: TransferArgs,
    },
    /// Resume interrupted multipart uploads (all of them, or the given ids).
    Resume {
        /// Upload ids as `ssec-manager uploads` shows them.
        ids: Vec<i64>,
        #[command(flatten)]
        transfer: TransferArgs,
    },
    /// List interrupted uploads; with --stale also the multipart uploads left on the server.
    Uploads {
        /// Also ask the server for multipart uploads never completed (with their age).
        #[arg(long)]
        stale: bool,
        /// Abort this interrupted upload (on the server and in the registry).
        #[arg(long, value_name = "ID")]
        abort: Option<i64>,
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write keys (all, or --keys L1,L2) into a new passphrase-encrypted age file, checked
    /// by reading it back. The passphrase comes from SSEC_MANAGER_PASSPHRASE or a prompt.
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, value_name = "L1,L2", value_delimiter = ',')]
        keys: Vec<String>,
    },
    /// Bring keys back from a backup (into the keyring, or as new keys).
    Restore { file: PathBuf },
    /// Re-encrypt objects with another key on the server (no download): one object, or every
    /// object a key encrypts (optionally under a prefix).
    Rotate {
        /// One object, s3://BUCKET/KEY.
        object: Option<S3Url>,
        /// Rotate everything this key encrypts.
        #[arg(long, value_name = "LABEL", conflicts_with = "object")]
        from: Option<String>,
        #[arg(long, value_name = "LABEL", required_unless_present_any = ["resume", "delete_old_versions"])]
        to: Option<String>,
        /// With --from: only objects under s3://BUCKET/PREFIX.
        #[arg(long, value_name = "s3://BUCKET/PREFIX", requires = "from")]
        prefix: Option<String>,
        /// List what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Settle rotations that were interrupted.
        #[arg(long)]
        resume: bool,
        /// Objects above this size are copied in parts (UploadPartCopy); S3's maximum is 5GiB.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        copy_threshold: Option<u64>,
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        copy_part_size: Option<u64>,
        /// When the server refuses a server-side copy: never, if-refused (download with the
        /// old key and upload again with the new one, labelled as such) or always.
        #[arg(long, value_name = "MODE", default_value = "if-refused")]
        reupload: crate::core::rotate::Reupload,
        /// Delete the old versions a versioned bucket kept under the --from key after a
        /// rotation (listed without --yes). What they held is gone afterwards.
        #[arg(long, requires = "from", conflicts_with_all = ["to", "object"])]
        delete_old_versions: bool,
        /// With --delete-old-versions: really delete.
        #[arg(long, requires = "delete_old_versions")]
        yes: bool,
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Classify every object under s3://BUCKET[/PREFIX] with HEADs (no data moved): plain,
    /// SSE-C under one of our keys, or under an unknown key. --adopt records the found ones.
    Scan {
        /// s3://BUCKET or s3://BUCKET/PREFIX
        target: String,
        #[arg(long)]
        adopt: bool,
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check a bucket before trusting it with SSE-C: transport, bucket encryption rules
    /// (BlockedEncryptionTypes), and a probe that the server really enforces SSE-C.
    Preflight {
        /// s3://BUCKET
        bucket: String,
        /// If the bucket blocks SSE-C, unblock it (PutBucketEncryption, keeping the other
        /// settings) before checking.
        #[arg(long)]
        allow_sse_c: bool,
        #[arg(long, value_name = "NAME")]
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Ask the server about every registered object with its key (HEAD, no data moved):
    /// still there, still opened by its key, same size. --deep also reads each object and
    /// compares its checksum (BLAKE3) with the one recorded at upload.
    Verify {
        #[arg(long)]
        deep: bool,
        /// Only the objects of this key.
        #[arg(long, value_name = "LABEL")]
        key: Option<String>,
        /// Requests in flight at once.
        #[arg(long, value_name = "N", default_value_t = 16)]
        concurrency: usize,
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Which objects can still be opened, which keys put objects at risk, and what to do.
    Audit {
        /// Verify every object with the server first (see `verify`).
        #[arg(long)]
        verify: bool,
        #[arg(long, conflicts_with_all = ["csv", "markdown"])]
        json: bool,
        #[arg(long, conflicts_with = "markdown")]
        csv: bool,
        /// A readable report (Markdown).
        #[arg(long)]
        markdown: bool,
        /// Write the report to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List the objects the registry knows, with their keys.
    Objects {
        #[arg(long)]
        json: bool,
    },
}

/// How transfers run; the defaults suit a desktop line.
#[derive(Debug, Args, Clone)]
pub struct TransferArgs {
    /// Part size, e.g. 8MiB; grown automatically past 10,000 parts. Downloads use ranges
    /// of this size rounded up to a power of two.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    part_size: Option<u64>,
    /// Files larger than this go multipart (objects larger download in ranges).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    multipart_threshold: Option<u64>,
    /// Parts or ranges in flight at once.
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Limit the bandwidth, e.g. 10MiB (per second).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    bwlimit: Option<u64>,
    /// Files transferred at once (folders).
    #[arg(long, value_name = "N", default_value_t = 4)]
    jobs: usize,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

impl TransferArgs {
    fn options(&self) -> TransferOptions {
        let d = TransferOptions::default();
        TransferOptions {
            multipart_threshold: self.multipart_threshold.unwrap_or(d.multipart_threshold),
            part_size: self.part_size.unwrap_or(d.part_size),
            concurrency: self.concurrency.unwrap_or(d.concurrency),
            bandwidth_limit: self.bwlimit,
        }
    }
}

/// "8MiB", "5M", "1.5GiB", "1048576" -> bytes (K/M/G/T are binary, as in rclone and aws).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("\"{s}\" is not a size; write e.g. 8MiB, 512KiB or 1048576"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("\"{s}\": unknown unit; use KiB, MiB, GiB or TiB")),
    };
    Ok((n * mult as f64) as u64)
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
    /// Region (default: the provider's, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// Fill endpoint, addressing and checksum settings for a provider.
    #[arg(long, value_enum)]
    provider: Option<crate::core::presets::Provider>,
    /// Account id, for providers whose endpoint contains it (Cloudflare R2).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
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
    #[arg(long, value_enum)]
    checksums: Option<ChecksumMode>,
    /// Allow SSE-C over plain http to another host (the key travels in clear; only for a
    /// trusted network path).
    #[arg(long)]
    allow_plain_http: bool,
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
            transfer,
        } => {
            let home = Arc::new(Home::open_with_keyring(&dir)?);
            let conn = home.resolve_connection(connection.as_deref())?;
            // Check the key before queueing anything.
            home.load_key(&home.key_record(&key)?)?;
            let specs: Vec<JobSpec> = if file.is_dir() {
                transfer::plan_folder(&file, &dest)?
                    .into_iter()
                    .map(|(src, dest)| JobSpec::Upload {
                        connection: conn.name.clone(),
                        src,
                        dest,
                        key_label: key.clone(),
                    })
                    .collect()
            } else {
                vec![JobSpec::Upload {
                    connection: conn.name.clone(),
                    src: file.clone(),
                    dest,
                    key_label: key,
                }]
            };
            if specs.is_empty() {
                anyhow::bail!("{} holds no files to upload", file.display());
            }
            let group = file.is_dir().then(|| file.display().to_string());
            run_jobs(home, &transfer, specs, group).await
        }
        Command::Download {
            src,
            file,
            key,
            connection,
            transfer,
        } => {
            let home = Arc::new(Home::open_with_keyring(&dir)?);
            let conn = home.resolve_connection(connection.as_deref())?;
            let spec = JobSpec::Download {
                connection: conn.name,
                src,
                dest: file,
                key_label: key,
            };
            run_jobs(home, &transfer, vec![spec], None).await
        }
        Command::Resume { ids, transfer } => {
            let home = Arc::new(Home::open_with_keyring(&dir)?);
            let ids = if ids.is_empty() {
                home.registry
                    .interrupted_uploads()?
                    .into_iter()
                    .map(|m| m.object_id)
                    .collect()
            } else {
                ids
            };
            if ids.is_empty() {
                println!("no interrupted uploads");
                return Ok(());
            }
            let specs = ids
                .into_iter()
                .map(|object_id| JobSpec::Resume { object_id })
                .collect();
            run_jobs(home, &transfer, specs, None).await
        }
        Command::Uploads {
            stale,
            abort,
            connection,
            json,
        } => {
            let home = Home::open_with_keyring(&dir)?;
            if let Some(id) = abort {
                transfer::abort_interrupted(&home, id).await?;
                println!("aborted upload {id}");
                return Ok(());
            }
            list_uploads(&home, stale, connection.as_deref(), json).await
        }
        Command::Backup { out, keys } => {
            let home = Home::open_with_keyring(&dir)?;
            let pass = passphrase(true)?;
            let done = home.backup_keys(&out, &keys, &pass)?;
            let labels: Vec<&str> = done.iter().map(|k| k.label.as_str()).collect();
            println!(
                "backed up {} key(s) to {} (age, passphrase; read back and checked): {}",
                done.len(),
                out.display(),
                labels.join(", ")
            );
            Ok(())
        }
        Command::Restore { file } => {
            let home = Home::open_with_keyring(&dir)?;
            let pass = passphrase(false)?;
            let r = home.restore_keys(&file, &pass)?;
            println!(
                "restored into the keyring: {}; imported as new: {}; already present: {}",
                list_or_none(&r.restored),
                list_or_none(&r.imported),
                list_or_none(&r.present)
            );
            Ok(())
        }
        Command::Rotate {
            object,
            from,
            to,
            prefix,
            dry_run,
            resume,
            copy_threshold,
            copy_part_size,
            reupload,
            delete_old_versions,
            yes,
            connection,
            json,
        } => {
            let home = Home::open_with_keyring(&dir)?;
            let d = crate::core::rotate::RotateOptions::default();
            let opts = crate::core::rotate::RotateOptions {
                copy_threshold: copy_threshold.unwrap_or(d.copy_threshold),
                part_size: copy_part_size.unwrap_or(d.part_size),
                reupload,
                ..d
            };
            if delete_old_versions {
                let label = from.as_deref().unwrap_or_default();
                let fp = home.key_record(label)?.fingerprint;
                let old: Vec<_> = home
                    .registry
                    .dependent_objects(&fp)?
                    .into_iter()
                    .filter(|o| o.state == crate::core::registry::ObjectState::OldVersion)
                    .collect();
                for o in &old {
                    println!(
                        "{}:{} version {}",
                        o.connection,
                        o.url(),
                        o.version_id.as_deref().unwrap_or("?")
                    );
                }
                if !yes {
                    println!(
                        "{} old version(s) under key \"{label}\"; run again with --yes to delete them (what they hold is then gone)",
                        old.len()
                    );
                    return Ok(());
                }
                let ids: Vec<i64> = old.iter().map(|o| o.id).collect();
                let n = home.delete_old_versions(&ids).await?;
                println!("deleted {n} old version(s)");
                return Ok(());
            }
            if resume {
                let done = home.resume_rotations(&opts).await?;
                println!("settled {} interrupted rotation(s)", done.len());
                for r in &done {
                    println!("  {} {} -> {} ({})", r.object, r.from, r.to, r.method);
                }
                if to.is_none() {
                    return Ok(());
                }
            }
            let to = to.ok_or_else(|| anyhow::anyhow!("--to LABEL is required"))?;
            let objects = match (&object, &from) {
                (Some(url), None) => {
                    let conn = home.resolve_connection(connection.as_deref())?;
                    let rec = home
                        .registry
                        .current_object(&conn, &url.bucket, &url.key)?
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "{url} is not in the registry; rotation needs to know its current key \
                                 (upload it with ssec-manager, or adopt it with a scan)"
                            )
                        })?;
                    vec![rec]
                }
                (None, Some(from)) => {
                    let (bucket, pfx) = match &prefix {
                        Some(p) => {
                            let rest = p.strip_prefix("s3://").ok_or_else(|| {
                                anyhow::anyhow!("--prefix must be s3://BUCKET/PREFIX")
                            })?;
                            let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
                            (Some(b.to_string()), k.to_string())
                        }
                        None => (None, String::new()),
                    };
                    home.rotation_candidates(from, bucket.as_deref(), &pfx)?
                }
                _ => anyhow::bail!("give one object (s3://BUCKET/KEY) or --from LABEL"),
            };
            let plan = home.plan_rotation(&objects, &to, &opts)?;
            if dry_run {
                if json {
                    println!("{}", serde_json::to_string_pretty(&plan)?);
                } else {
                    println!("would rotate {} object(s):", plan.len());
                    for r in &plan {
                        println!("  {} {} -> {} ({})", r.object, r.from, r.to, r.method);
                    }
                }
                return Ok(());
            }
            let mut done = Vec::new();
            for o in &objects {
                let r = home.rotate_object(o, &to, &opts).await?;
                if !json {
                    println!("rotated {} {} -> {} ({})", r.object, r.from, r.to, r.method);
                }
                done.push(r);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            }
            Ok(())
        }
        Command::Scan {
            target,
            adopt,
            connection,
            json,
        } => {
            let home = Home::open_with_keyring(&dir)?;
            let conn = home.resolve_connection(connection.as_deref())?;
            let rest = target
                .strip_prefix("s3://")
                .ok_or_else(|| anyhow::anyhow!("write the target as s3://BUCKET[/PREFIX]"))?;
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let found = home.scan(&conn, bucket, prefix, adopt).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                for o in &found {
                    println!(
                        "{:<22} {:>12}  s3://{bucket}/{}{}",
                        o.kind.describe(),
                        o.size,
                        o.key,
                        if o.adopted { "  (adopted)" } else { "" }
                    );
                }
                let adopted = found.iter().filter(|o| o.adopted).count();
                println!("{} object(s) scanned, {adopted} adopted", found.len());
            }
            Ok(())
        }
        Command::Preflight {
            bucket,
            allow_sse_c,
            connection,
            json,
        } => {
            let home = Home::open(&dir)?;
            let conn = home.resolve_connection(connection.as_deref())?;
            let name = bucket
                .strip_prefix("s3://")
                .unwrap_or(&bucket)
                .trim_end_matches('/')
                .to_string();
            if allow_sse_c {
                crate::core::preflight::allow_sse_c(&home, &conn, &name).await?;
            }
            let report = crate::core::preflight::preflight(&home, &conn, &name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "transport: ok ({})",
                    conn.endpoint.as_deref().unwrap_or("AWS")
                );
                println!("bucket encryption: {:?}", report.bucket_encryption);
                println!("SSE-C enforcement probe: {:?}", report.enforcement);
            }
            if report.ok() {
                Ok(())
            } else {
                Err(anyhow::anyhow!("{}", report.problems.join("; ")))
            }
        }
        Command::Verify {
            deep,
            key,
            concurrency,
            json,
            quiet,
        } => {
            let home = Home::open_with_keyring(&dir)?;
            let opts = VerifyOptions {
                deep,
                concurrency,
                key_label: key,
            };
            let report = verify_with_progress(&home, &opts, quiet).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", report.summary());
                for p in &report.problems {
                    println!("{:<12} {}: {}", p.status.as_str(), p.object, p.detail);
                }
            }
            match report.problems.len() {
                0 => Ok(()),
                n => Err(anyhow::anyhow!(
                    "{n} object(s) did not verify; `ssec-manager audit` says what to do"
                )),
            }
        }
        Command::Audit {
            verify,
            json,
            csv,
            markdown,
            out,
        } => {
            let home = Home::open(&dir)?;
            if verify {
                let report = verify_with_progress(&home, &VerifyOptions::default(), true).await?;
                eprintln!("{}", report.summary());
            }
            let report = home.audit()?;
            let text = if json {
                serde_json::to_string_pretty(&report)? + "\n"
            } else if csv {
                report.to_csv()
            } else if markdown {
                report.to_markdown(&home.report_origin())
            } else {
                audit_text(&report)
            };
            match out {
                Some(path) => {
                    crate::core::home::write_replacing(&path, text.as_bytes())?;
                    eprintln!("wrote the audit report to {}", path.display());
                }
                None => print!("{text}"),
            }
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

/// The audit as terminal text.
fn audit_text(report: &crate::core::audit::AuditReport) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{} key(s), {} object(s), {}; {} object(s) at risk\n",
        report.keys,
        report.objects,
        crate::core::human_bytes(report.bytes),
        report.objects_at_risk
    );
    for f in &report.findings {
        let _ = writeln!(out, "{:<8} {}", f.severity.label(), f.title);
        for o in f.objects.iter().take(20) {
            let _ = writeln!(out, "           {o}");
        }
        if f.objects.len() > 20 {
            let _ = writeln!(out, "           ... and {} more", f.objects.len() - 20);
        }
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "           fix: {fix}");
        }
    }
    if report.findings.is_empty() {
        out.push_str("every object can be opened and every key in use is backed up\n");
    }
    out
}

/// Runs a verify with a bar on a terminal (objects, or bytes when deep); Ctrl-C stops it.
async fn verify_with_progress(
    home: &Home,
    opts: &VerifyOptions,
    quiet: bool,
) -> anyhow::Result<crate::core::verify::VerifyReport> {
    let ctx = TransferCtx::new(TransferOptions::default());
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let template = if opts.deep {
            "verify {bar:30} {bytes:>10}/{total_bytes:<10} ETA {eta}"
        } else {
            "verify {bar:30} {pos:>7}/{len:<7} objects ETA {eta}"
        };
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let work = home.verify(&ctx, opts);
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut interrupted = false;
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = tick.tick() => {
                if let Some(b) = &bar {
                    let s = ctx.progress.snapshot();
                    b.set_length(s.total);
                    b.set_position(s.done);
                }
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                ctx.cancel.cancel();
            }
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(result?)
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
            if a.allow_plain_http {
                eprintln!(
                    "warning: SSE-C over plain http allowed for \"{}\": keys sent to it travel \
                     in clear",
                    a.name
                );
            }
            let base = match a.provider {
                Some(p) => p
                    .connection(
                        &a.name,
                        a.region.as_deref(),
                        a.endpoint.as_deref(),
                        a.account.as_deref(),
                    )
                    .map_err(|e| anyhow::anyhow!(e))?,
                None => ConnectionRecord::new(
                    &a.name,
                    a.endpoint.as_deref(),
                    a.region.as_deref().unwrap_or("us-east-1"),
                ),
            };
            let c = home.add_connection(
                ConnectionRecord {
                    path_style: a.path_style || base.path_style,
                    credential_source: source,
                    profile: a.profile,
                    access_key_id: a.access_key_id,
                    checksum_mode: a.checksums.unwrap_or(base.checksum_mode),
                    allow_plain_http: a.allow_plain_http,
                    ..base
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

/// Runs transfer jobs to the end, with a progress bar per job on a terminal. Ctrl-C cancels
/// them all (multipart uploads are aborted, partial downloads removed).
async fn run_jobs(
    home: Arc<Home>,
    args: &TransferArgs,
    specs: Vec<JobSpec>,
    group: Option<String>,
) -> anyhow::Result<()> {
    let manager = JobManager::new(
        home,
        tokio::runtime::Handle::current(),
        args.jobs,
        args.options(),
    );
    let ids: Vec<_> = specs
        .into_iter()
        .map(|s| manager.start_in_group(s, group.clone()))
        .collect();
    let show_bars = !args.quiet && std::io::stderr().is_terminal();
    let bars = show_bars.then(|| ProgressBars::new(&manager, &ids));
    let mut failures = Vec::new();
    let mut remaining = ids.len();
    let mut interrupted = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while remaining > 0 {
        tokio::select! {
            ev = manager.next_finished() => {
                let Some(ev) = ev else { break };
                remaining -= 1;
                let what = manager.job(ev.id).map(|j| j.spec.describe()).unwrap_or_default();
                if let Some(b) = &bars { b.finish(&manager, ev.id); }
                match ev.state {
                    JobState::Done(summary) => {
                        if let Some(b) = &bars { b.println(&summary); } else { println!("{summary}"); }
                    }
                    JobState::Failed(e) => failures.push(e),
                    JobState::Cancelled => failures.push(format!("{what}: cancelled")),
                    _ => {}
                }
            }
            _ = tick.tick() => {
                if let Some(b) = &bars { b.update(&manager); }
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                manager.cancel_all();
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 => Err(anyhow::anyhow!("{}", failures[0])),
        n => Err(anyhow::anyhow!(
            "{n} of {} transfers failed: {}",
            ids.len(),
            failures.join("; ")
        )),
    }
}

/// indicatif bars, one per job, fed from the jobs' latest progress values.
struct ProgressBars {
    multi: indicatif::MultiProgress,
    bars: Vec<(u64, indicatif::ProgressBar)>,
}

impl ProgressBars {
    fn new(manager: &JobManager, ids: &[u64]) -> Self {
        let multi = indicatif::MultiProgress::new();
        let style = indicatif::ProgressStyle::with_template(
            "{msg:40!} {bar:30} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let bars = ids
            .iter()
            .map(|id| {
                let bar = multi.add(indicatif::ProgressBar::new(0));
                bar.set_style(style.clone());
                let name = manager
                    .job(*id)
                    .map(|j| j.spec.describe())
                    .unwrap_or_default();
                bar.set_message(name);
                (*id, bar)
            })
            .collect();
        Self { multi, bars }
    }

    fn update(&self, manager: &JobManager) {
        for (id, bar) in &self.bars {
            if let Some(p) = manager.progress(*id) {
                let s = p.snapshot();
                bar.set_length(s.total);
                bar.set_position(s.done);
            }
        }
    }

    fn finish(&self, manager: &JobManager, id: u64) {
        self.update(manager);
        if let Some((_, bar)) = self.bars.iter().find(|(i, _)| *i == id) {
            bar.finish();
        }
    }

    fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }
}

async fn list_uploads(
    home: &Home,
    stale: bool,
    connection: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let interrupted = home.registry.interrupted_uploads()?;
    let mut rows = Vec::new();
    for m in &interrupted {
        let o = home.registry.object_by_id(m.object_id)?;
        rows.push(serde_json::json!({
            "id": m.object_id,
            "object": o.as_ref().map(|o| o.url()),
            "connection": o.as_ref().map(|o| o.connection.clone()),
            "key": o.as_ref().map(|o| o.key_label.clone().unwrap_or_else(|| o.key_fingerprint.to_string())),
            "source": m.source_path,
            "size": m.source_size,
            "started_at": m.started_at,
            "upload_id": m.upload_id,
        }));
    }
    let mut server_rows = Vec::new();
    if stale {
        let conn = home.resolve_connection(connection)?;
        let client = client_for(&conn, home.secrets().ok()).await?;
        let mut buckets: Vec<String> = home
            .registry
            .objects()?
            .into_iter()
            .filter(|o| o.connection == conn.name)
            .map(|o| o.bucket)
            .collect();
        buckets.sort();
        buckets.dedup();
        let known: std::collections::HashSet<&str> =
            interrupted.iter().map(|m| m.upload_id.as_str()).collect();
        for bucket in buckets {
            let out = client
                .list_multipart_uploads()
                .bucket(&bucket)
                .send()
                .await
                .map_err(|e| sdk_error(e, Op::Other, &format!("s3://{bucket}"), false))?;
            for u in out.uploads() {
                let age = u.initiated().map(|t| {
                    let secs = chrono::Utc::now().timestamp() - t.secs();
                    format_age(secs.max(0) as u64)
                });
                server_rows.push(serde_json::json!({
                    "bucket": bucket,
                    "key": u.key(),
                    "upload_id": u.upload_id(),
                    "age": age,
                    "known": u.upload_id().is_some_and(|id| known.contains(id)),
                }));
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "interrupted": rows,
                "on_server": server_rows,
            }))?
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!("no interrupted uploads");
    }
    for r in &rows {
        println!(
            "#{} {} <- {} ({} bytes, key {}, started {}): `ssec-manager resume {}` or `ssec-manager uploads --abort {}`",
            r["id"],
            r["object"].as_str().unwrap_or("?"),
            r["source"].as_str().unwrap_or("?"),
            r["size"],
            r["key"].as_str().unwrap_or("?"),
            r["started_at"].as_str().unwrap_or("?"),
            r["id"],
            r["id"]
        );
    }
    if stale {
        println!("multipart uploads on the server: {}", server_rows.len());
        for r in &server_rows {
            println!(
                "  s3://{}/{} started {} ago{}",
                r["bucket"].as_str().unwrap_or("?"),
                r["key"].as_str().unwrap_or("?"),
                r["age"].as_str().unwrap_or("?"),
                if r["known"] == true {
                    " (interrupted, resumable)"
                } else {
                    " (not started by this home)"
                }
            );
        }
    }
    Ok(())
}

fn format_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
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

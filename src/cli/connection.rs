//! `ssec-manager connection ...`: add and list S3 endpoints.

use std::io::Read as _;
use std::path::Path;

use clap::{Args, Subcommand};

use crate::core::connections::NewConnection;
use crate::core::registry::{ChecksumMode, CredentialSource};
use crate::core::{Error, Home};

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Add an S3 endpoint.
    Add(ConnectionAdd),
    /// Change a connection's settings (those given; the rest stay).
    Edit(ConnectionEdit),
    /// Forget a connection and its stored secret; refused while registered objects live on
    /// its server.
    Remove { name: String },
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
    /// Trust the CA(s) in this PEM file for the endpoint's TLS certificate, instead of the
    /// system's (as the aws CLI's --ca-bundle; else AWS_CA_BUNDLE, else the profile's
    /// ca_bundle apply).
    #[arg(long, value_name = "FILE")]
    ca_bundle: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConnectionEdit {
    name: String,
    /// Trust the CA(s) in this PEM file for the endpoint's TLS certificate.
    #[arg(long, value_name = "FILE", conflicts_with = "no_ca_bundle")]
    ca_bundle: Option<std::path::PathBuf>,
    /// Trust the system's CAs again (or AWS_CA_BUNDLE / the profile's ca_bundle).
    #[arg(long)]
    no_ca_bundle: bool,
    /// Endpoint URL.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Region.
    #[arg(long)]
    region: Option<String>,
}

pub fn exec(dir: &Path, command: ConnectionCommand) -> anyhow::Result<()> {
    match command {
        ConnectionCommand::Add(a) => add(dir, a),
        ConnectionCommand::List { json } => list(dir, json),
        ConnectionCommand::Edit(e) => edit(dir, e),
        ConnectionCommand::Remove { name } => {
            Home::open(dir)?.remove_connection(&name)?;
            println!("removed connection \"{name}\"");
            Ok(())
        }
    }
}

fn add(dir: &Path, a: ConnectionAdd) -> anyhow::Result<()> {
    let secret = match (&a.profile, &a.access_key_id) {
        (None, Some(_)) => Some(read_secret()?),
        _ => None,
    };
    let home = if secret.is_some() {
        Home::open_with_keyring(dir)?
    } else {
        Home::open(dir)?
    };
    if a.allow_plain_http {
        eprintln!(
            "warning: SSE-C over plain http allowed for \"{}\": keys sent to it travel in clear",
            a.name
        );
    }
    let record = NewConnection {
        name: a.name,
        endpoint: a.endpoint,
        region: a.region,
        provider: a.provider,
        account: a.account,
        path_style: a.path_style,
        profile: a.profile,
        access_key_id: a.access_key_id,
        checksums: a.checksums,
        allow_plain_http: a.allow_plain_http,
        ca_bundle: a.ca_bundle,
    }
    .record()?;
    let c = home.add_connection(record, secret.as_deref().map(String::as_str))?;
    println!(
        "added connection \"{}\" ({})",
        c.name,
        c.endpoint.as_deref().unwrap_or("AWS")
    );
    Ok(())
}

fn edit(dir: &Path, e: ConnectionEdit) -> anyhow::Result<()> {
    let home = Home::open(dir)?;
    let mut conn = home.resolve_connection(Some(&e.name))?;
    if let Some(path) = e.ca_bundle {
        conn.ca_bundle = Some(path.to_string_lossy().into_owned());
    }
    if e.no_ca_bundle {
        conn.ca_bundle = None;
    }
    if let Some(endpoint) = e.endpoint {
        conn.endpoint = Some(endpoint);
    }
    if let Some(region) = e.region {
        conn.region = region;
    }
    home.update_connection(conn, None)?;
    println!("changed connection \"{}\"", e.name);
    Ok(())
}

/// The secret access key, from standard input (never an argument: those show in `ps`).
fn read_secret() -> anyhow::Result<zeroize::Zeroizing<String>> {
    let mut s = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .take(1024)
        .read_to_string(&mut s)
        .map_err(|e| Error::io("standard input", "cannot read the secret", e))?;
    let trimmed = zeroize::Zeroizing::new(s.trim().to_string());
    if trimmed.is_empty() {
        anyhow::bail!(
            "--access-key-id needs the secret access key on standard input \
             (e.g. `printf %s \"$SECRET\" | ssec-manager connection add ...`)"
        );
    }
    Ok(trimmed)
}

fn list(dir: &Path, json: bool) -> anyhow::Result<()> {
    let conns = Home::open(dir)?.registry.connections()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&conns)?);
        return Ok(());
    }
    for c in conns {
        println!(
            "{:<16} {:<32} region {:<12} {}{}{}",
            c.name,
            c.endpoint.as_deref().unwrap_or("AWS"),
            c.region,
            if c.path_style { "path-style " } else { "" },
            c.ca_bundle
                .as_deref()
                .map(|p| format!("CA {p} "))
                .unwrap_or_default(),
            match c.credential_source {
                CredentialSource::AwsChain => "credentials: AWS chain".to_string(),
                CredentialSource::Profile =>
                    format!("credentials: profile {}", c.profile.unwrap_or_default()),
                CredentialSource::Keyring => "credentials: keyring".to_string(),
            }
        );
    }
    Ok(())
}

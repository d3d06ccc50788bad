//! `ssec-manager uploads`: interrupted uploads, and with --stale those the server holds.

use std::path::Path;

use clap::Args;

use super::args::format_age;
use crate::core::Home;

/// List interrupted uploads; with --stale also the multipart uploads left on the server.
#[derive(Debug, Args)]
pub struct UploadsArgs {
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
}

pub async fn exec(dir: &Path, a: UploadsArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    if let Some(id) = a.abort {
        crate::core::transfer::abort_interrupted(&home, id).await?;
        println!("aborted upload {id}");
        return Ok(());
    }
    let conn = match a.stale {
        true => Some(home.resolve_connection(a.connection.as_deref())?),
        false => None,
    };
    let report = home.interrupted_uploads(conn.as_ref()).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if report.interrupted.is_empty() {
        println!("no interrupted uploads");
    }
    for r in &report.running {
        println!(
            "#{} {} <- {}: being sent by another ssec-manager that is still running",
            r.id,
            r.object.as_deref().unwrap_or("?"),
            r.source
        );
    }
    for r in &report.interrupted {
        println!(
            "#{} {} <- {} ({} bytes, key {}, started {}): `ssec-manager resume {}` or `ssec-manager uploads --abort {}`",
            r.id,
            r.object.as_deref().unwrap_or("?"),
            r.source,
            r.size,
            r.key.as_deref().unwrap_or("?"),
            r.started_at,
            r.id,
            r.id
        );
    }
    if a.stale {
        println!(
            "multipart uploads on the server: {}",
            report.on_server.len()
        );
        for r in &report.on_server {
            println!(
                "  s3://{}/{} started {} ago{}",
                r.upload.bucket,
                r.upload.key.as_deref().unwrap_or("?"),
                r.upload
                    .age_secs
                    .map(format_age)
                    .unwrap_or_else(|| "?".into()),
                if r.known {
                    " (interrupted, resumable)"
                } else {
                    " (not started by this home)"
                }
            );
        }
    }
    Ok(())
}

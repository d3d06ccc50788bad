//! `ssec-manager upload SRC... DEST [--key LABEL]`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::args::TransferArgs;
use super::progress::run_jobs;
use crate::core::Home;
use crate::core::location::S3Location;
use crate::core::sync::{Direction, SyncRequest};
use crate::core::transfer::{Placement, plan_upload};

/// Upload files or folders (recursively) with SSE-C, recording which key encrypts them.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files or folders. One file becomes the object DEST names (or goes into DEST/ under
    /// its name); one folder's files go under DEST/ with their relative paths; several go
    /// into DEST/ each under its own name.
    #[arg(required = true, num_args = 1.., value_name = "SRC")]
    sources: Vec<PathBuf>,
    /// s3://BUCKET/KEY for one file, s3://BUCKET/PREFIX/ for a folder or several.
    #[arg(value_name = "DEST")]
    dest: S3Location,
    /// Label of the key to encrypt with; default: the default key of DEST (`key default`).
    #[arg(long = "key", value_name = "LABEL")]
    key: Option<String>,
    /// Use --key even where DEST has another default key (else asked on a terminal,
    /// refused elsewhere).
    #[arg(long, short)]
    yes: bool,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    #[command(flatten)]
    transfer: TransferArgs,
}

pub async fn exec(dir: &Path, a: UploadArgs) -> anyhow::Result<()> {
    let home = Arc::new(Home::open_with_keyring(dir)?);
    let conn = home.resolve_connection(a.connection.as_deref())?;
    // Files into a folder: its default and the defaults of folders under it count.
    let place = if a.sources.len() > 1 || a.sources.iter().any(|s| s.is_dir()) {
        a.dest.folder()
    } else {
        a.dest.prefix().to_string()
    };
    let key = super::upload_key(
        &home,
        &conn.name,
        &a.dest.bucket,
        &place,
        a.key.as_deref(),
        a.yes,
    )?;
    // Check the key before queueing anything.
    home.load_key(&home.key_record(&key)?)?;
    let placement = if a.sources.len() == 1 {
        Placement::As
    } else {
        Placement::Into
    };
    // Refuses an empty folder and keys longer than S3 allows before anything is sent.
    let plan = plan_upload(&a.sources, &a.dest, placement)?;
    // One folder: its files go many at once through one client (sync's runner, every
    // file sent whether or not the server holds it already).
    if let [folder] = a.sources.as_slice()
        && folder.is_dir()
    {
        let request = SyncRequest {
            everything: true,
            key_label: Some(key.clone()),
            direction: Direction::Up,
            ..SyncRequest::download_folder(&conn.name, &a.dest.bucket, &a.dest.folder(), folder)
        };
        let plan = crate::core::sync::plan(&home, &request).await?;
        return super::sync::run_plan(&home, &plan, &a.transfer, false).await;
    }
    run_jobs(home, &a.transfer, |jobs| {
        jobs.start_uploads(plan, &conn.name, &key)
    })
    .await
}

//! `ssec-manager download s3://BUCKET/KEY FILE` and `download s3://BUCKET/PREFIX/ DIR`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::args::TransferArgs;
use super::progress::run_jobs;
use crate::core::Home;
use crate::core::jobs::JobSpec;
use crate::core::location::{S3Location, S3Url};
use crate::core::sync::SyncRequest;

/// Download an object, or every object under a prefix; the key is found in the registry
/// unless --key is given.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Source, s3://BUCKET/KEY; or s3://BUCKET/PREFIX/ (ending in '/') for every object
    /// under it, each with its own key (objects the registry does not know are tried with
    /// every key held).
    src: S3Location,
    /// Target file (or folder; for a prefix, the folder that receives its tree).
    file: PathBuf,
    #[arg(long = "key", value_name = "LABEL")]
    key: Option<String>,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    #[command(flatten)]
    transfer: TransferArgs,
}

pub async fn exec(dir: &Path, a: DownloadArgs) -> anyhow::Result<()> {
    let home = Arc::new(Home::open_with_keyring(dir)?);
    let conn = home.resolve_connection(a.connection.as_deref())?;
    if a.src.path.is_empty() || a.src.path.ends_with('/') {
        if a.key.is_some() {
            anyhow::bail!(
                "a folder download reads each object with its own key; --key is for one object"
            );
        }
        let request = SyncRequest::download_folder(&conn.name, &a.src.bucket, &a.src.path, &a.file);
        let plan = crate::core::sync::plan(&home, &request).await?;
        return super::sync::run_plan(&home, &plan, &a.transfer, false).await;
    }
    let src = S3Url {
        bucket: a.src.bucket.clone(),
        key: a.src.path.clone(),
    };
    let spec = JobSpec::Download {
        connection: conn.name,
        src,
        dest: a.file,
        key_label: a.key,
    };
    run_jobs(home, &a.transfer, |jobs| vec![jobs.start(spec)]).await
}

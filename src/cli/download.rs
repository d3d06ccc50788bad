//! `ssec-manager download s3://BUCKET/KEY FILE`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::args::TransferArgs;
use super::progress::run_jobs;
use crate::core::Home;
use crate::core::jobs::JobSpec;
use crate::core::location::S3Url;

/// Download an object; the key is found in the registry unless --key is given.
#[derive(Debug, Args)]
pub struct DownloadArgs {
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
}

pub async fn exec(dir: &Path, a: DownloadArgs) -> anyhow::Result<()> {
    let home = Arc::new(Home::open_with_keyring(dir)?);
    let conn = home.resolve_connection(a.connection.as_deref())?;
    let spec = JobSpec::Download {
        connection: conn.name,
        src: a.src,
        dest: a.file,
        key_label: a.key,
    };
    run_jobs(home, &a.transfer, |jobs| vec![jobs.start(spec)]).await
}

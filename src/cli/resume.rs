//! `ssec-manager resume [ID...]`: continue interrupted multipart uploads with their key.

use std::path::Path;
use std::sync::Arc;

use clap::Args;

use super::args::TransferArgs;
use super::progress::run_jobs;
use crate::core::Home;
use crate::core::jobs::JobSpec;

/// Resume interrupted multipart uploads (all of them, or the given ids).
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Upload ids as `ssec-manager uploads` shows them.
    ids: Vec<i64>,
    #[command(flatten)]
    transfer: TransferArgs,
}

pub async fn exec(dir: &Path, a: ResumeArgs) -> anyhow::Result<()> {
    let home = Arc::new(Home::open_with_keyring(dir)?);
    let ids = if a.ids.is_empty() {
        home.registry
            .interrupted_uploads()?
            .into_iter()
            .map(|m| m.object_id)
            .collect()
    } else {
        a.ids
    };
    if ids.is_empty() {
        println!("no interrupted uploads");
        return Ok(());
    }
    run_jobs(home, &a.transfer, |jobs| {
        ids.into_iter()
            .map(|object_id| jobs.start(JobSpec::Resume { object_id }))
            .collect()
    })
    .await
}

//! `ssec-manager verify`: ask the server about every registered object with its key.

use std::path::Path;

use clap::Args;

use crate::core::Home;
use crate::core::transfer::{TransferCtx, TransferOptions};
use crate::core::verify::{VerifyOptions, VerifyReport};

/// Ask the server about every registered object with its key (HEAD, no data moved):
/// still there, still opened by its key, same size. --deep also reads each object and
/// compares its checksum (BLAKE3) with the one recorded at upload.
#[derive(Debug, Args)]
pub struct VerifyArgs {
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
}

pub async fn exec(dir: &Path, a: VerifyArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let opts = VerifyOptions {
        deep: a.deep,
        concurrency: a.concurrency,
        key_label: a.key,
    };
    let report = verify_with_progress(&home, &opts, a.quiet).await?;
    if a.json {
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

/// Runs a verify with a bar on a terminal (objects, or bytes when deep); Ctrl-C stops it.
pub async fn verify_with_progress(
    home: &Home,
    opts: &VerifyOptions,
    quiet: bool,
) -> anyhow::Result<VerifyReport> {
    let ctx = TransferCtx::new(TransferOptions::default());
    let template = if opts.deep {
        "verify {bar:30} {bytes:>10}/{total_bytes:<10} ETA {eta}"
    } else {
        "verify {bar:30} {pos:>7}/{len:<7} objects ETA {eta}"
    };
    let bar = (!quiet).then_some(template);
    Ok(super::progress::with_bar(&ctx, bar, home.verify(&ctx, opts)).await?)
}

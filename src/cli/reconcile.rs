//! `ssec-manager reconcile`: ask the server about every upload in doubt and every
//! interrupted rotation, and record its answers.

use std::path::Path;

use clap::Args;

use crate::core::Home;
use crate::core::transfer::{TransferCtx, TransferOptions};

/// Settle what the registry does not know for sure: uploads whose answer was lost, uploads
/// of a process that is gone, rotations left pending. The server is asked with each
/// candidate key; its answers go to the registry and the event log.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[arg(long)]
    json: bool,
}

pub async fn exec(dir: &Path, a: ReconcileArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let ctx = TransferCtx::new(TransferOptions::default());
    let report = super::progress::with_bar(&ctx, None, home.reconcile(&ctx)).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for line in &report.settled {
            println!("settled  {line}");
        }
        for line in &report.unsettled {
            println!("in doubt {line}");
        }
        println!("{}", report.summary());
    }
    match report.unsettled.len() {
        0 => Ok(()),
        n => Err(anyhow::anyhow!(
            "{n} object(s) are still in doubt: the server could not be asked; their keys stay \
             protected. Run `ssec-manager reconcile` again when it answers"
        )),
    }
}

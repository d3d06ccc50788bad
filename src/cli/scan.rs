//! `ssec-manager scan s3://BUCKET[/PREFIX] [--adopt]`.

use std::path::Path;

use clap::Args;

use crate::core::Home;
use crate::core::location::S3Location;
use crate::core::transfer::{TransferCtx, TransferOptions};

/// Classify every object under s3://BUCKET[/PREFIX] with HEADs (no data moved): plain,
/// SSE-C under one of our keys, or under an unknown key. --adopt records the found ones.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// s3://BUCKET or s3://BUCKET/PREFIX
    target: S3Location,
    #[arg(long)]
    adopt: bool,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn exec(dir: &Path, a: ScanArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let conn = home.resolve_connection(a.connection.as_deref())?;
    let bucket = &a.target.bucket;
    let ctx = TransferCtx::new(TransferOptions::default());
    let found = super::progress::with_bar(
        &ctx,
        Some("scan {bar:30} {pos:>7}/{len:<7} objects"),
        home.scan(&ctx, &conn, bucket, a.target.prefix(), a.adopt),
    )
    .await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
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
    Ok(())
}

//! `ssec-manager presign s3://BUCKET/KEY [--put] [--expires 1h]`: a presigned URL and the
//! curl command that uses it with the SSE-C headers.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use crate::core::Home;
use crate::core::location::S3Url;
use crate::core::presign::parse_expiry;

/// Print a presigned GET (or PUT) of an SSE-C object and the exact curl command with the
/// three SSE-C headers, which read the key from $SSE_KEY/$SSE_MD5 (`key env`).
#[derive(Debug, Args)]
pub struct PresignArgs {
    #[arg(value_name = "s3://BUCKET/KEY")]
    object: S3Url,
    /// A presigned PUT (an upload) instead of a GET.
    #[arg(long)]
    put: bool,
    /// How long the URL works: 90s, 15m, 1h, 7d (at most 7 days).
    #[arg(long, default_value = "1h", value_parser = parse_expiry)]
    expires: Duration,
    /// The key: by default the registry's for a GET, the place's default key for a PUT.
    #[arg(long, value_name = "LABEL")]
    key: Option<String>,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    /// Print only the URL.
    #[arg(long)]
    url_only: bool,
}

pub async fn exec(dir: &Path, a: PresignArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let p = home
        .presign(
            a.connection.as_deref(),
            &a.object,
            a.put,
            a.key.as_deref(),
            a.expires,
        )
        .await?;
    if a.url_only {
        println!("{}", p.url);
        return Ok(());
    }
    let file = if a.put { "FILE" } else { a.object.file_name() };
    print!("{}", p.recipe(file));
    if a.put {
        eprintln!(
            "note: an upload through this URL is not recorded by itself; afterwards \
             `ssec-manager scan {} --adopt` records it under key \"{}\"",
            a.object, p.key_label
        );
    }
    Ok(())
}

//! `ssec-manager preflight s3://BUCKET`: is this bucket safe to trust with SSE-C?

use std::path::Path;

use clap::Args;

use crate::core::Home;
use crate::core::location::S3Location;

/// Check a bucket before trusting it with SSE-C: transport, bucket encryption rules
/// (BlockedEncryptionTypes), and a probe that the server really enforces SSE-C.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// s3://BUCKET
    bucket: String,
    /// If the bucket blocks SSE-C, unblock it (PutBucketEncryption, keeping the other
    /// settings) before checking.
    #[arg(long)]
    allow_sse_c: bool,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn exec(dir: &Path, a: PreflightArgs) -> anyhow::Result<()> {
    let home = Home::open(dir)?;
    let conn = home.resolve_connection(a.connection.as_deref())?;
    // "s3://b", "s3://b/" and a bare "b" all name the bucket.
    let bucket = match a.bucket.strip_prefix("s3://") {
        Some(_) => S3Location::parse(&a.bucket)?.bucket,
        None => a.bucket.trim_end_matches('/').to_string(),
    };
    if a.allow_sse_c {
        crate::core::preflight::allow_sse_c(&home, &conn, &bucket).await?;
    }
    let report = crate::core::preflight::preflight(&home, &conn, &bucket).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "transport: ok ({})",
            conn.endpoint.as_deref().unwrap_or("AWS")
        );
        println!("bucket encryption: {:?}", report.bucket_encryption);
        println!("SSE-C enforcement probe: {:?}", report.enforcement);
    }
    if report.ok() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{}", report.problems.join("; ")))
    }
}

//! `ssec-manager delete s3://BUCKET/KEY`: delete an object on purpose.

use std::path::Path;

use clap::Args;

use crate::core::Home;
use crate::core::location::S3Url;

/// Delete an object on the server; the registry records it as deleted (its key no longer
/// protects it). What it held is gone.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// s3://BUCKET/KEY
    object: S3Url,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
}

pub async fn exec(dir: &Path, a: DeleteArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let conn = home.resolve_connection(a.connection.as_deref())?;
    home.delete_object(&conn, &a.object).await?;
    println!("deleted {}", a.object);
    Ok(())
}

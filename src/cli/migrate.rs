//! `ssec-manager migrate s3://BUCKET[/PREFIX] --to sse-s3|sse-kms[:ID]|none`: move objects
//! off SSE-C on the server, confirmed by a HEAD without the key before the registry lets go.

use std::path::Path;

use clap::Args;

use crate::core::Home;
use crate::core::location::S3Location;
use crate::core::migrate::{Migration, Target};
use crate::core::rotate::RotateSelection;
use crate::core::transfer::{TransferCtx, TransferOptions};

/// Move objects off SSE-C, in place on the server (a copy read with the key and written
/// with SSE-S3, SSE-KMS or no encryption). Every run first settles a migration cut off
/// earlier. Keys whose every object left stay, listed as retired.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The objects under this bucket or prefix (registered ones).
    #[arg(value_name = "s3://BUCKET[/PREFIX]", required_unless_present = "key")]
    place: Option<S3Location>,
    /// What they become: sse-s3, sse-kms, sse-kms:KEY-ID, or none (no server-side
    /// encryption at all).
    #[arg(long, value_name = "TARGET")]
    to: Target,
    /// Only the objects of this key (with a place: only those under it).
    #[arg(long, value_name = "LABEL")]
    key: Option<String>,
    /// List what would be migrated; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Migrate without asking (else asked on a terminal, refused elsewhere).
    #[arg(long, short)]
    yes: bool,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn exec(dir: &Path, a: MigrateArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let selection = match (&a.key, &a.place) {
        (Some(label), within) => RotateSelection::Key {
            from: home.key_record(label)?.fingerprint,
            within: within.clone(),
        },
        (None, Some(place)) => RotateSelection::Folder {
            connection: home.resolve_connection(a.connection.as_deref())?.name,
            bucket: place.bucket.clone(),
            prefix: place.prefix().to_string(),
        },
        (None, None) => anyhow::bail!("give s3://BUCKET[/PREFIX], --key LABEL, or both"),
    };
    let targets = home.migration_targets(&selection)?;
    if a.dry_run || (!a.yes && !targets.is_empty()) {
        if a.json && a.dry_run {
            let rows: Vec<Migration> = targets
                .iter()
                .map(|o| Migration {
                    object: format!("{}:{}", o.connection, o.url()),
                    key: o.key_label.clone().unwrap_or_default(),
                    size: o.size,
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        eprintln!(
            "would migrate {} object(s) off SSE-C to {}:",
            targets.len(),
            a.to
        );
        for o in &targets {
            eprintln!(
                "  {}:{} (key \"{}\")",
                o.connection,
                o.url(),
                o.key_label.as_deref().unwrap_or("?")
            );
        }
        if a.to == Target::None {
            eprintln!(
                "they will be stored WITHOUT server-side encryption: anyone with read access \
                 to the bucket reads them"
            );
        }
        if a.dry_run {
            return Ok(());
        }
        if !super::ask("Migrate them?")? {
            anyhow::bail!("nothing was migrated; pass --yes to migrate them");
        }
    }
    let ctx = TransferCtx::new(TransferOptions::default());
    let json = a.json;
    let mut say = |m: &Migration| {
        if !json {
            println!("migrated {} (was under key \"{}\")", m.object, m.key);
        }
    };
    let report =
        super::progress::with_bar(&ctx, None, home.migrate(&ctx, &selection, &a.to, &mut say))
            .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    for (o, e) in &report.failed {
        eprintln!("failed  {o}: {e}");
    }
    if report.failed.is_empty() {
        eprintln!("{}", report.summary());
    }
    report.into_result()?;
    Ok(())
}

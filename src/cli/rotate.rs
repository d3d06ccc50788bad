//! `ssec-manager rotate`: re-encrypt objects with another key on the server.

use std::path::Path;

use clap::Args;

use super::args::parse_size;
use crate::core::Home;
use crate::core::location::{S3Location, S3Url};
use crate::core::registry::ObjectState;
use crate::core::rotate::{Reupload, RotateOptions, RotateOutcome, RotateSelection};
use crate::core::transfer::{TransferCtx, TransferOptions};

/// Re-encrypt objects with another key on the server (no download): one object, or every
/// object a key encrypts (optionally under a prefix).
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// One object, s3://BUCKET/KEY.
    object: Option<S3Url>,
    /// Rotate everything this key encrypts.
    #[arg(long, value_name = "LABEL", conflicts_with = "object")]
    from: Option<String>,
    #[arg(long, value_name = "LABEL", required_unless_present_any = ["resume", "delete_old_versions"])]
    to: Option<String>,
    /// With --from: only objects under s3://BUCKET/PREFIX.
    #[arg(long, value_name = "s3://BUCKET/PREFIX", requires = "from")]
    prefix: Option<S3Location>,
    /// List what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Settle rotations that were interrupted (every rotation also does this first).
    #[arg(long)]
    resume: bool,
    /// Objects above this size are copied in parts (UploadPartCopy); S3's maximum is 5GiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    copy_threshold: Option<u64>,
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    copy_part_size: Option<u64>,
    /// When the server refuses a server-side copy: never, if-refused (download with the
    /// old key and upload again with the new one, labelled as such) or always.
    #[arg(long, value_name = "MODE", default_value = "if-refused")]
    reupload: Reupload,
    /// Delete the old versions a versioned bucket kept under the --from key after a
    /// rotation (listed without --yes). What they held is gone afterwards.
    #[arg(long, requires = "from", conflicts_with_all = ["to", "object"])]
    delete_old_versions: bool,
    /// With --delete-old-versions: really delete.
    #[arg(long, requires = "delete_old_versions")]
    yes: bool,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn exec(dir: &Path, a: RotateArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let d = RotateOptions::default();
    let opts = RotateOptions {
        copy_threshold: a.copy_threshold.unwrap_or(d.copy_threshold),
        part_size: a.copy_part_size.unwrap_or(d.part_size),
        reupload: a.reupload,
        ..d
    };
    if a.delete_old_versions {
        return delete_old_versions(&home, a.from.as_deref().unwrap_or_default(), a.yes).await;
    }
    if a.resume {
        let done = home.resume_rotations(&opts).await?;
        println!("settled {} interrupted rotation(s)", done.len());
        for r in &done {
            println!("  {} {} -> {} ({})", r.object, r.from, r.to, r.method);
        }
    }
    let Some(to) = a.to else {
        return Ok(());
    };
    let selection = match (a.object, &a.from) {
        (Some(url), None) => RotateSelection::Object {
            connection: home.resolve_connection(a.connection.as_deref())?.name,
            url,
        },
        (None, Some(from)) => RotateSelection::Key {
            from: home.key_record(from)?.fingerprint,
            within: a.prefix,
        },
        _ => anyhow::bail!("give one object (s3://BUCKET/KEY) or --from LABEL"),
    };
    if a.dry_run {
        let targets = home.rotation_targets(&selection, &home.key_record(&to)?.fingerprint)?;
        let plan = home.plan_rotation(&targets, &to, &opts)?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            println!("would rotate {} object(s):", plan.len());
            for r in &plan {
                println!("  {} {} -> {} ({})", r.object, r.from, r.to, r.method);
            }
        }
        return Ok(());
    }
    let ctx = TransferCtx::new(TransferOptions::default());
    let json = a.json;
    let mut say = |outcome: &RotateOutcome| match outcome {
        RotateOutcome::Rotated(r) if !json => {
            println!("rotated {} {} -> {} ({})", r.object, r.from, r.to, r.method)
        }
        RotateOutcome::Failed { object, error } if !json => {
            eprintln!("failed  {object}: {error}")
        }
        _ => {}
    };
    let report = super::progress::with_bar(
        &ctx,
        None,
        home.rotate(&ctx, &selection, &to, &opts, &mut say),
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !report.settled.is_empty() {
        println!(
            "settled first: {} interrupted rotation(s)",
            report.settled.len()
        );
    }
    if report.failed.is_empty() {
        eprintln!("{}", report.summary());
    }
    report.into_result()?;
    Ok(())
}

/// Lists (or with `yes`, deletes) the old versions kept under a rotated-away key.
async fn delete_old_versions(home: &Home, label: &str, yes: bool) -> anyhow::Result<()> {
    let old: Vec<_> = home
        .key_dependents(label)?
        .into_iter()
        .filter(|o| o.state == ObjectState::OldVersion)
        .collect();
    for o in &old {
        println!(
            "{}:{} version {}",
            o.connection,
            o.url(),
            o.version_id.as_deref().unwrap_or("?")
        );
    }
    if !yes {
        println!(
            "{} old version(s) under key \"{label}\"; run again with --yes to delete them (what they hold is then gone)",
            old.len()
        );
        return Ok(());
    }
    let ids: Vec<i64> = old.iter().map(|o| o.id).collect();
    let n = home.delete_old_versions(&ids).await?;
    println!("deleted {n} old version(s)");
    Ok(())
}

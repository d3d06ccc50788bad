//! `ssec-manager sync DIR s3://BUCKET/PREFIX/ --key LABEL` and `sync s3://BUCKET/PREFIX/ DIR`;
//! also runs the folder forms of `upload` and `download`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::args::TransferArgs;
use super::progress::with_bar;
use crate::core::Home;
use crate::core::location::S3Location;
use crate::core::sync::{self, Direction, Filters, SyncPlan, SyncRequest};
use crate::core::transfer::TransferCtx;

/// Make a folder and a bucket prefix hold the same files, comparing content by BLAKE3.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The source: a local folder, or s3://BUCKET/PREFIX/.
    #[arg(value_name = "SRC")]
    src: String,
    /// The target: s3://BUCKET/PREFIX/, or a local folder.
    #[arg(value_name = "DEST")]
    dest: String,
    /// The key new and changed files are uploaded with (sync up); default: the prefix's
    /// default key (`key default`).
    #[arg(long = "key", value_name = "LABEL")]
    key: Option<String>,
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    /// Print the plan (new, changed, unchanged, to delete) and move nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete at the target what the source no longer has (asks first, unless --yes).
    #[arg(long)]
    delete: bool,
    /// Delete without asking (with --delete); use --key even where another key is the
    /// default.
    #[arg(long, short)]
    yes: bool,
    /// Leave out paths matching this glob ("*.tmp", "cache/**"); repeatable.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Keep paths matching this glob even if an --exclude matches; repeatable.
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Read every file to compare, instead of trusting the cache of hashes.
    #[arg(long)]
    checksum: bool,
    /// Re-key, on the server, objects whose content is current but under another key.
    #[arg(long)]
    rekey: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    transfer: TransferArgs,
}

pub async fn exec(dir: &Path, a: SyncArgs) -> anyhow::Result<()> {
    let home = Home::open_with_keyring(dir)?;
    let conn = home.resolve_connection(a.connection.as_deref())?;
    let (direction, local, remote) = match (a.src.starts_with("s3://"), a.dest.starts_with("s3://"))
    {
        (false, true) => (Direction::Up, &a.src, &a.dest),
        (true, false) => (Direction::Down, &a.dest, &a.src),
        _ => anyhow::bail!(
            "sync takes one local folder and one s3://BUCKET/PREFIX/, in the order the files go"
        ),
    };
    if direction == Direction::Down && (a.key.is_some() || a.rekey) {
        anyhow::bail!(
            "a sync down reads each object with its own key from the registry; --key and \
             --rekey are for a sync up"
        );
    }
    let remote: S3Location = remote.parse()?;
    let key = match direction {
        Direction::Up => Some(super::upload_key(
            &home,
            &conn.name,
            &remote.bucket,
            &remote.folder(),
            a.key.as_deref(),
            a.yes,
        )?),
        Direction::Down => None,
    };
    let request = SyncRequest {
        connection: conn.name,
        local: PathBuf::from(local),
        bucket: remote.bucket.clone(),
        prefix: remote.folder(),
        direction,
        key_label: key,
        delete: a.delete,
        rekey: a.rekey,
        checksum: a.checksum,
        everything: false,
        filters: Filters::new(&a.exclude, &a.include)?,
        only: None,
        // The plan run below is the plan shown.
        confirmed_delete: None,
    };
    let plan = sync::plan(&home, &request).await?;
    if a.dry_run {
        print_plan(&plan, true);
        return Ok(());
    }
    if a.delete && !plan.delete.is_empty() && !a.yes && !confirm_delete(&plan)? {
        anyhow::bail!(
            "nothing was changed: {} would be deleted; pass --yes to delete them",
            count(plan.delete.len(), "file")
        );
    }
    run_plan(&home, &plan, &a.transfer, a.json).await
}

/// Runs a plan with a progress bar on a terminal, then prints the report.
pub async fn run_plan(
    home: &Home,
    plan: &SyncPlan,
    transfer: &TransferArgs,
    json: bool,
) -> anyhow::Result<()> {
    let ctx = TransferCtx::new(transfer.options());
    let template = (!transfer.quiet).then_some(
        "{bar:30} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} ETA {eta} {msg}",
    );
    let report = with_bar(
        &ctx,
        template,
        sync::run(&ctx, home, plan, transfer.files_at_once()),
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for f in &report.failed {
            eprintln!("failed: {}: {}", f.object, f.error);
        }
        for (key, why) in &report.skipped {
            eprintln!("skipped: {key}: {why}");
        }
        if !plan.other_key.is_empty() && !plan.request.rekey {
            for i in &plan.other_key {
                eprintln!(
                    "under another key: {} (key \"{}\"); --rekey re-keys it",
                    i.url,
                    i.key_label.as_deref().unwrap_or("?")
                );
            }
        }
        // A folder upload or download copies; only a sync speaks of the target's extras.
        if !plan.delete.is_empty() && !plan.request.delete && !plan.request.everything {
            eprintln!(
                "{} only at the target, kept (--delete removes them)",
                count(plan.delete.len(), "file")
            );
        }
        println!("{}: {}", plan.request.describe(), report.summary());
    }
    report.into_result()?;
    Ok(())
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// The plan in lines: every file that would move or go, and the counts.
pub fn print_plan(plan: &SyncPlan, dry: bool) {
    let verb = match plan.request.direction {
        Direction::Up => "upload",
        Direction::Down => "download",
    };
    for i in &plan.new {
        println!("new      {verb} {}", i.rel);
    }
    for i in &plan.changed {
        println!("changed  {verb} {}", i.rel);
    }
    for i in &plan.other_key {
        let action = if plan.request.rekey {
            "re-key"
        } else {
            "report"
        };
        println!(
            "key      {action} {} (under key \"{}\")",
            i.rel,
            i.key_label.as_deref().unwrap_or("?")
        );
    }
    for i in &plan.delete {
        let action = if plan.request.delete {
            "delete"
        } else {
            "keep"
        };
        println!("target   {action} {}", i.rel);
    }
    for (key, why) in &plan.skipped {
        println!("skipped  {key}: {why}");
    }
    let moved = crate::core::transfer::progress::MIB;
    println!(
        "{}{}: {} ({:.1} MiB to move){}",
        if dry { "dry run, " } else { "" },
        plan.request.describe(),
        plan.summary(),
        plan.transfer_bytes() as f64 / moved as f64,
        if dry { "; nothing was moved" } else { "" }
    );
}

/// Shows what --delete would remove and asks on a terminal; elsewhere the answer is no.
fn confirm_delete(plan: &SyncPlan) -> anyhow::Result<bool> {
    let where_ = match plan.request.direction {
        Direction::Up => "on the server",
        Direction::Down => "in the folder",
    };
    eprintln!(
        "--delete would delete {} {where_}:",
        count(plan.delete.len(), "file")
    );
    for i in &plan.delete {
        match plan.request.direction {
            Direction::Up => eprintln!("  {}", i.url),
            Direction::Down => eprintln!("  {}", i.local.display()),
        }
    }
    super::ask("Delete them?")
}

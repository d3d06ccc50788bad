//! `ssec-manager audit`: which objects can still be opened, what is at risk, what to do.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::core::Home;
use crate::core::audit::Format;
use crate::core::verify::VerifyOptions;

/// Which objects can still be opened, which keys put objects at risk, and what to do.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Verify every object with the server first (see `verify`).
    #[arg(long)]
    verify: bool,
    #[arg(long, conflicts_with_all = ["csv", "markdown"])]
    json: bool,
    #[arg(long, conflicts_with = "markdown")]
    csv: bool,
    /// A readable report (Markdown).
    #[arg(long)]
    markdown: bool,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub async fn exec(dir: &Path, a: AuditArgs) -> anyhow::Result<()> {
    let home = Home::open(dir)?;
    if a.verify {
        let report =
            super::verify::verify_with_progress(&home, &VerifyOptions::default(), true).await?;
        eprintln!("{}", report.summary());
    }
    let format = match (a.json, a.csv, a.markdown) {
        (true, _, _) => Format::Json,
        (_, true, _) => Format::Csv,
        (_, _, true) => Format::Markdown,
        _ => Format::Text,
    };
    let text = home.audit()?.render(format, &home.report_origin());
    match a.out {
        Some(path) => {
            crate::core::home::write_replacing(&path, text.as_bytes())?;
            eprintln!("wrote the audit report to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

//! `ssec-manager audit`: which objects can still be opened, what is at risk, what to do.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::core::Home;
use std::io::Write as _;

use crate::core::audit::Format;
use crate::core::registry::ScopePages;
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
    // JSON and CSV list every object of every finding, read from the registry a page at a
    // time as they are written.
    let report = home.audit()?;
    let origin = home.report_origin();
    let pages: &dyn ScopePages = &home.registry;
    match a.out {
        Some(path) => {
            crate::core::home::write_replacing_with(&path, |w| {
                report.write_to(w, &path, format, &origin, Some(pages))
            })?;
            eprintln!("wrote the audit report to {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let dest = Path::new("standard output");
            report.write_to(&mut out, dest, format, &origin, Some(pages))?;
            out.flush()
                .map_err(|e| crate::core::Error::io(dest, "cannot write the report to", e))?;
        }
    }
    Ok(())
}

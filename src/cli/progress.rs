//! Long operations on a terminal: jobs run to the end with a progress bar each (Ctrl-C
//! cancels them all), and single operations with one bar fed from their progress sink.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use super::args::TransferArgs;
use crate::core::Home;
use crate::core::jobs::{JobId, JobManager, JobState};
use crate::core::transfer::TransferCtx;

/// Runs the jobs `start` queues to the end, with a progress bar per job on a terminal.
/// Ctrl-C cancels them all (multipart uploads are aborted, partial downloads removed).
pub async fn run_jobs(
    home: Arc<Home>,
    args: &TransferArgs,
    start: impl FnOnce(&JobManager) -> Vec<JobId>,
) -> anyhow::Result<()> {
    let manager = JobManager::new(
        home,
        tokio::runtime::Handle::current(),
        args.jobs.unwrap_or(4),
        args.options(),
    );
    let ids = start(&manager);
    let show_bars = !args.quiet && std::io::stderr().is_terminal();
    let bars = show_bars.then(|| ProgressBars::new(&manager, &ids));
    let mut failures = Vec::new();
    let mut remaining = ids.len();
    let mut interrupted = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while remaining > 0 {
        tokio::select! {
            ev = manager.next_finished() => {
                let Some(ev) = ev else { break };
                remaining -= 1;
                let what = manager.job(ev.id).map(|j| j.spec.describe()).unwrap_or_default();
                if let Some(b) = &bars { b.finish(&manager, ev.id); }
                match ev.state {
                    JobState::Done(summary) => {
                        if let Some(b) = &bars { b.println(&summary); } else { println!("{summary}"); }
                    }
                    JobState::Failed(e) => failures.push(e),
                    JobState::Cancelled => failures.push(format!("{what}: cancelled")),
                    _ => {}
                }
            }
            _ = tick.tick() => {
                if let Some(b) = &bars { b.update(&manager); }
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                manager.cancel_all();
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 => Err(anyhow::anyhow!("{}", failures[0])),
        n => Err(anyhow::anyhow!(
            "{n} of {} transfers failed: {}",
            ids.len(),
            failures.join("; ")
        )),
    }
}

/// indicatif bars, one per job, fed from the jobs' latest progress values.
struct ProgressBars {
    multi: indicatif::MultiProgress,
    bars: Vec<(u64, indicatif::ProgressBar)>,
}

impl ProgressBars {
    fn new(manager: &JobManager, ids: &[u64]) -> Self {
        let multi = indicatif::MultiProgress::new();
        let style = indicatif::ProgressStyle::with_template(
            "{msg:40!} {bar:30} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let bars = ids
            .iter()
            .map(|id| {
                let bar = multi.add(indicatif::ProgressBar::new(0));
                bar.set_style(style.clone());
                let name = manager
                    .job(*id)
                    .map(|j| j.spec.describe())
                    .unwrap_or_default();
                bar.set_message(name);
                (*id, bar)
            })
            .collect();
        Self { multi, bars }
    }

    fn update(&self, manager: &JobManager) {
        for (id, bar) in &self.bars {
            if let Some(p) = manager.progress(*id) {
                let s = p.snapshot();
                bar.set_length(s.total);
                bar.set_position(s.done);
            }
        }
    }

    fn finish(&self, manager: &JobManager, id: u64) {
        self.update(manager);
        if let Some((_, bar)) = self.bars.iter().find(|(i, _)| *i == id) {
            bar.finish();
        }
    }

    fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }
}

/// Runs one operation with a bar on a terminal (`template` says what it counts); Ctrl-C
/// cancels it through the context's token.
pub async fn with_bar<T>(
    ctx: &TransferCtx,
    template: Option<&str>,
    work: impl std::future::Future<Output = crate::core::Result<T>>,
) -> crate::core::Result<T> {
    let bar = template
        .filter(|_| std::io::stderr().is_terminal())
        .map(|template| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut interrupted = false;
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = tick.tick() => {
                if let Some(b) = &bar {
                    let s = ctx.progress.snapshot();
                    b.set_length(s.total);
                    b.set_position(s.done);
                }
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                ctx.cancel.cancel();
            }
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    result
}

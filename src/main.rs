//! Entry point: logging, the tokio runtime, then the window (no arguments) or the CLI.

// Release builds on Windows open no console window behind the app.
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use clap::Parser as _;
use ssec_manager::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    // Before any key is read: no core dumps, no ptrace attach (see core::hardening).
    ssec_manager::core::hardening::harden_process();
    limit_heap_growth();
    // Still one thread: the passphrase variable can leave the environment safely.
    cli::take_passphrase_env();
    init_logging();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ssec-worker")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = if cli.command.is_none() {
        let files = cli.files;
        cli::home_dir(cli.home)
            .and_then(|dir| ssec_manager::ui::run(dir, runtime.handle().clone(), files))
    } else {
        runtime.block_on(cli::run(cli))
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by RUST_LOG (default: warnings). Other crates' logs are capped
/// at `info` by a second filter that no RUST_LOG directive can lift: at debug and trace the
/// HTTP, signing and D-Bus layers print request headers and messages, and SSE-C requests
/// carry the key in a header (a more specific RUST_LOG directive would beat a cap written
/// into the same filter).
fn init_logging() {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::FilterExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let wanted = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let capped = tracing_subscriber::filter::filter_fn(|meta| {
        meta.target().starts_with("ssec_manager") || *meta.level() <= tracing::Level::INFO
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(wanted.and(capped));
    tracing_subscriber::registry().with(layer).init();
}

/// Transfers allocate part-sized buffers (8 MiB and more) on many threads. glibc raises its
/// mmap threshold after such blocks are freed and then serves them from per-thread heaps
/// that keep the memory, so peak RSS grew with the file size. A fixed threshold keeps big
/// buffers mmapped (returned to the system when freed); fewer arenas bound the rest.
fn limit_heap_growth() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; it is called once, before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

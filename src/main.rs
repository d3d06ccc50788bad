//! Entry point: logging, the tokio runtime, then the window (no arguments) or the CLI.

// Release builds on Windows open no console window behind the app.
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use clap::Parser as _;
use ssec_manager::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    limit_heap_growth();
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

/// Logs go to stderr, filtered by RUST_LOG (default: warnings). The HTTP layers are capped
/// at `info` whatever RUST_LOG says: at debug/trace they print request headers, and SSE-C
/// requests carry the key in a header.
fn init_logging() {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    for target in [
        "aws_smithy_runtime",
        "aws_smithy_runtime_api",
        "aws_smithy_http",
        "aws_smithy_http_client",
        "aws_sigv4",
        "aws_sdk_s3",
        "hyper",
        "hyper_util",
        "h2",
        "rustls",
    ] {
        if let Ok(d) = format!("{target}=info").parse() {
            filter = filter.add_directive(d);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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

//! The `azver-collector` binary: parse, set up logging, run with the process's shutdown signals.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// mimalloc rather than the C library's allocator: glibc's kept freed memory in up to 16
/// arenas (8 per core), which took the collector to 467 MiB during a re-evaluation of 1,000,000
/// hosts against 178 MiB with two (docs/BENCHMARKS.md); the packages' musl is slow when many
/// threads allocate.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for store calls (see `main`): more than the database has connections.
const BLOCKING_THREADS: usize = 16;

fn main() -> ExitCode {
    let cli: azver_collector::cli::Cli = azver_core::usage::parse_args();
    let filter = EnvFilter::try_from_env("AZVER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: journald and log files get plain text, and
    // NO_COLOR (https://no-color.org, set by the packaged unit) always wins.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour())
        .with_target(false)
        .init();
    // Store calls run on tokio's blocking threads, and at most a few at a time can use the
    // database (one writer, four readers, one connection for aggregates, one for keys): the
    // rest wait on a connection. Without a cap every report in flight waited on a thread of its
    // own (70 under flat-out ingest), and each thread's allocator heap kept its own pages.
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(BLOCKING_THREADS).enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("azver-collector: cannot start the async runtime: {error}");
                return ExitCode::from(2);
            }
        };
    match runtime.block_on(async { azver_collector::run(cli, shutdown_signal()).await }) {
        Ok(code) => code,
        Err(error) => {
            // One line: the error and each cause once (see `azver_core::one_line`).
            eprintln!("azver-collector: {}", azver_core::one_line(error.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// True when log lines may carry ANSI colours: stderr is a terminal and NO_COLOR is unset or empty.
fn colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Completes on SIGTERM or SIGINT (Ctrl-C on Windows). The handlers are installed when this is
/// called, not when the future is first polled, so a signal during start-up (opening and
/// migrating the database) is not lost to the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
        async move {
            match handlers {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

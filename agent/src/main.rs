//! The `azver-agent` binary: parse the command line, set up logging, run, map to an exit code.

use std::process::ExitCode;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = azver_agent::cli::Cli::parse();
    let default_level = match cli.verbose {
        // A service's log is its only voice; one-shot commands stay quiet unless asked.
        0 if matches!(cli.command, azver_agent::cli::Command::Run(_)) => "info",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("AZVER_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    // Logs go to stderr so that `--format json` leaves stdout to the document alone.
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    #[cfg(windows)]
    if let azver_agent::cli::Command::Run(args) = &cli.command
        && args.windows_service
    {
        // A service has no console: log to a rotating file instead.
        match azver_agent::windows_service::log_writer() {
            Ok(file) => logs.with_ansi(false).with_writer(std::sync::Mutex::new(file)).init(),
            Err(error) => eprintln!("azver-agent: cannot open the log file: {error}"),
        }
        return run(&cli);
    }
    let logs = logs.with_writer(std::io::stderr);
    match cli.log_format {
        azver_agent::cli::LogFormat::Text => logs.init(),
        azver_agent::cli::LogFormat::Json => logs.json().init(),
    }
    run(&cli)
}

fn run(cli: &azver_agent::cli::Cli) -> ExitCode {
    match azver_agent::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("azver-agent: {error:#}");
            ExitCode::from(azver_agent::EXIT_USAGE)
        }
    }
}

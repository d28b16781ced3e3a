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
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match cli.log_format {
        azver_agent::cli::LogFormat::Text => logs.init(),
        azver_agent::cli::LogFormat::Json => logs.json().init(),
    }
    match azver_agent::run(&cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("azver-agent: {error:#}");
            ExitCode::from(azver_agent::EXIT_USAGE)
        }
    }
}

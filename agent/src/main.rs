//! The `azver-agent` binary: parse the command line, set up logging, run, map to an exit code.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli: azver_agent::cli::Cli = azver_core::usage::parse_args();
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
    // Colours only for a person at a terminal: journald, log files and CI logs get plain text, and
    // NO_COLOR (https://no-color.org, set by the packaged units) always wins.
    let logs = logs.with_writer(std::io::stderr).with_ansi(colour());
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
            // One line: the error and each cause once (see `azver_core::one_line`).
            eprintln!("azver-agent: {}", azver_core::one_line(error.as_ref()));
            ExitCode::from(azver_agent::EXIT_USAGE)
        }
    }
}

/// True when log lines may carry ANSI colours: stderr is a terminal and NO_COLOR is unset or empty.
fn colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

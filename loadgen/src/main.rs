//! The `azver-loadgen` binary: parse the flags, run the load, print the summary.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = azver_loadgen::Cli::parse();
    let options = match cli.validate() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("azver-loadgen: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("azver-loadgen: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match runtime.block_on(azver_loadgen::run(&options, shutdown)) {
        Ok(summary) => {
            eprintln!("{}", summary.human());
            // The last stdout line is the JSON summary, for scripts.
            println!("{}", summary.to_json());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("azver-loadgen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

//! azver-agent: reads installed Azure CLI and Az PowerShell versions from disk, without starting
//! `az` or `pwsh`, and evaluates them against the baseline.
//!
//! Entry points: [`run`] executes a parsed command line; [`scan::scan`] scans a [`host::HostView`].

pub mod cli;
pub mod detect;
mod exec;
pub mod facts;
pub mod host;
pub mod output;
pub mod scan;

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context as _;
use azver_core::{Baseline, Inventory, Status};

use cli::{Cli, Command, Format, ScanRequest};
use host::HostView;

/// Exit code of `check` for a compliant or not-applicable host.
pub const EXIT_OK: u8 = 0;
/// Exit code of `check` for a noncompliant host.
pub const EXIT_NONCOMPLIANT: u8 = 1;
/// Exit code for usage errors and scans that could not run at all.
pub const EXIT_USAGE: u8 = 2;

/// Runs one command; the error is for things that stop the command from running at all.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Scan(args) => {
            let inventory = scan_request(&args.request())?;
            let text = match args.format {
                Format::Json => output::scan_json(&inventory),
                Format::Table => output::scan_table(&inventory),
            };
            print!("{text}");
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Check(args) => {
            let baseline = match &args.baseline {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read baseline {}", path.display()))?;
                    Baseline::from_toml(&text).with_context(|| format!("baseline {}", path.display()))?
                }
                None => Baseline::default(),
            };
            let inventory = scan_request(&args.scan.request())?;
            let evaluation = baseline.evaluate(&inventory.installations);
            let text = match args.scan.format {
                Format::Json => output::check_json(&inventory, &evaluation),
                Format::Table => output::check_text(&inventory, &evaluation, &baseline),
            };
            print!("{text}");
            Ok(ExitCode::from(match evaluation.status {
                Status::Noncompliant => EXIT_NONCOMPLIANT,
                _ => EXIT_OK,
            }))
        }
    }
}

/// Builds the host view a request asks for and scans it.
pub fn scan_request(request: &ScanRequest) -> anyhow::Result<Inventory> {
    let host = match &request.root {
        Some(root) => {
            HostView::rooted(root, request.os).with_context(|| format!("cannot scan root {}", root.display()))?
        }
        None => {
            if request.os != azver_core::OsFamily::current() {
                anyhow::bail!(
                    "--target-os {} needs --root: a live scan always uses the running OS's layout",
                    request.os.as_str()
                );
            }
            HostView::live(std::env::vars().collect::<BTreeMap<_, _>>())
        }
    };
    let mut inventory = scan::scan(&host);
    if request.exec {
        exec::confirm_with_az(&mut inventory);
    }
    Ok(inventory)
}

//! The command line, in two steps: [`Cli`] is what the user typed (clap), [`ScanRequest`] is the
//! validated request with real types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use azver_core::OsFamily;

/// azver-agent: which Azure CLI and Az PowerShell versions this host has, read from disk.
#[derive(Debug, Parser)]
#[command(name = "azver-agent", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// More log output on stderr (-v info, -vv debug). `AZVER_LOG` takes a full filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the inventory: every Azure CLI copy and Az module found, and what could not be read.
    Scan(ScanArgs),
    /// Evaluate the baseline: exit 0 compliant or not applicable, 1 noncompliant, 2 usage error
    /// or nothing could be scanned. Scan errors never change the exit code.
    Check(CheckArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people and CI logs.
    Table,
    /// One JSON document on stdout, nothing else.
    Json,
}

/// Target OS layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetOs {
    /// Linux layouts.
    Linux,
    /// Windows layouts.
    Windows,
    /// macOS layouts.
    Macos,
}

impl From<TargetOs> for OsFamily {
    fn from(os: TargetOs) -> Self {
        match os {
            TargetOs::Linux => OsFamily::Linux,
            TargetOs::Windows => OsFamily::Windows,
            TargetOs::Macos => OsFamily::Macos,
        }
    }
}

/// Flags shared by `scan` and `check`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Scan a mounted disk image or container root as if it were `/` (or `C:\`).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Which OS layout to expect under --root (default: the running OS).
    #[arg(long, value_enum, value_name = "OS", requires = "root")]
    pub target_os: Option<TargetOs>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also run `az version -o json` to confirm the on-PATH copy (live scans only).
    #[arg(long, conflicts_with = "root")]
    pub exec: bool,
}

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scan flags.
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Baseline file (TOML); default: the built-in baseline (azure-cli 2.76.0, Az 14.3.0, Az.Accounts 5.2.0).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

/// A validated scan request.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// Root to scan, or `None` for the running machine.
    pub root: Option<PathBuf>,
    /// Layout to expect.
    pub os: OsFamily,
    /// Whether to run `az version`.
    pub exec: bool,
}

impl ScanArgs {
    /// Validates the flags.
    pub fn request(&self) -> ScanRequest {
        ScanRequest {
            root: self.root.clone(),
            os: self.target_os.map_or_else(OsFamily::current, OsFamily::from),
            exec: self.exec,
        }
    }
}

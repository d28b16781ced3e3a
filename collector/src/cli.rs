//! The collector's command line (clap).

use std::net::SocketAddr;
use std::path::PathBuf;

use azver_core::{Role, Status};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::store::DbLocation;

/// azver-collector: stores fleet inventory, evaluates the baseline, serves reports.
#[derive(Debug, Parser)]
#[command(name = "azver-collector", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC server (inventory service, health, reflection) and, with --http, the dashboard.
    Serve(ServeArgs),
    /// Fleet report: summary, then every host with its findings and upgrade hints.
    Report(ReportArgs),
    /// List hosts.
    Hosts(HostsArgs),
    /// Show one host (by id or name) with its history, or delete hosts.
    Host(HostArgs),
    /// Delete hosts past their `purge_after` now (serve also does this hourly).
    Purge(PurgeArgs),
    /// Copy a whole fleet into a new, empty database (SQLite to PostgreSQL, or back).
    Migrate(MigrateArgs),
    /// Make a consistent copy of a live SQLite database (while serve runs).
    Backup(BackupArgs),
}

/// Database location, shared by every command.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// A file path or sqlite://PATH (SQLite), or postgres://USER@HOST/DB (PostgreSQL, shared
    /// by several collectors); created and migrated when needed.
    #[arg(long, value_name = "PATH|URL", env = "AZVER_DB")]
    pub db: DbLocation,
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Baseline file (TOML); re-read on SIGHUP. Default: the built-in baseline.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Collector config (TOML): staleness and retention.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also serve the dashboard, the JSON API and /metrics over HTTP on this address (loopback
    /// only until an admin token can be configured; port 0 picks a free port, printed).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned text.
    Table,
    /// CSV for Excel (UTF-8 with BOM, one row per host).
    Csv,
    /// One JSON document.
    Json,
    /// Markdown tables.
    Markdown,
}

/// Host roles on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Workstations.
    Developer,
    /// CI runners.
    BuildRunner,
    /// Servers.
    Server,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Developer => Role::Developer,
            RoleArg::BuildRunner => Role::BuildRunner,
            RoleArg::Server => Role::Server,
        }
    }
}

/// Statuses on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Meets the baseline.
    Compliant,
    /// Below the baseline.
    Noncompliant,
    /// No Azure client.
    NotApplicable,
    /// Not seen for too long.
    Stale,
}

impl From<StatusArg> for Status {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::Compliant => Status::Compliant,
            StatusArg::Noncompliant => Status::Noncompliant,
            StatusArg::NotApplicable => Status::NotApplicable,
            StatusArg::Stale => Status::Stale,
        }
    }
}

/// Flags of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Only hosts with this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only hosts with this product installed (`azure-cli`, `Az`, `Az.Accounts`, ...).
    #[arg(long, value_name = "PRODUCT")]
    pub product: Option<String>,
    /// Only hosts of this role.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// Evaluate against this baseline file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Collector config (staleness per role or label).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Flags of `hosts`.
#[derive(Debug, Args)]
pub struct HostsArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Collector config (staleness per role or label).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `host ID|NAME`, or `host delete ID|NAME`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct HostArgs {
    /// Host id or host name to show.
    #[arg(value_name = "ID|NAME", required = true)]
    pub host: Option<String>,
    /// Database (a path, sqlite://PATH or postgres://...).
    #[arg(long, value_name = "PATH|URL", env = "AZVER_DB")]
    pub db: Option<DbLocation>,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Delete instead of show.
    #[command(subcommand)]
    pub action: Option<HostAction>,
}

/// What to do with a host.
#[derive(Debug, Subcommand)]
pub enum HostAction {
    /// Delete a host and its history (by id, or every host with that name).
    Delete {
        /// Host id or host name.
        #[arg(value_name = "ID|NAME")]
        host: String,
        /// Database.
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Flags of `purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Collector config with `purge_after` settings.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Flags of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database to copy from (only read, once its schema is up to date): sqlite://PATH, a
    /// path, or postgres://...
    #[arg(long, value_name = "PATH|URL")]
    pub from: DbLocation,
    /// The database to copy into: created and migrated when needed, and must hold no data.
    #[arg(long, value_name = "PATH|URL")]
    pub to: DbLocation,
}

/// Flags of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The live SQLite database (a path or sqlite://PATH).
    #[command(flatten)]
    pub db: DbArgs,
    /// The copy to write; must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
}

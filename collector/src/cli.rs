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
    /// Enrollment secrets: agents exchange one for a per-host node key.
    Secret {
        /// What to do.
        #[command(subcommand)]
        action: CredentialAction,
    },
    /// Admin tokens for the dashboard and HTTP API.
    Token {
        /// What to do.
        #[command(subcommand)]
        action: CredentialAction,
    },
}

/// `secret` and `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum CredentialAction {
    /// Make a new one; printed once, alone on the last line of stdout, and stored as a digest.
    Create {
        /// Database (created and migrated when missing).
        #[command(flatten)]
        db: DbArgs,
        /// A name to recognise it by in `list`.
        #[arg(long, default_value = "")]
        label: String,
        /// Refuse it after this long (`90d`, `12h`); default: never.
        #[arg(long, value_name = "DUR", value_parser = duration)]
        expires: Option<std::time::Duration>,
    },
    /// List them: id, label, state, dates (never the secret).
    List {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Revoke one by id, at once.
    Revoke {
        /// The id from `list` (`es_...`, `at_...`).
        id: String,
        /// Database.
        #[command(flatten)]
        db: DbArgs,
    },
}

fn duration(text: &str) -> Result<std::time::Duration, String> {
    azver_core::parse_duration(text).map_err(|e| e.to_string())
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
    /// Address to listen on (port 0 picks a free port; the chosen address is printed). Off
    /// loopback it needs TLS (or --allow-plaintext) and an enrollment secret (or
    /// --allow-unauthenticated).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051", env = "AZVER_LISTEN")]
    pub listen: SocketAddr,
    /// PEM certificate chain: turns on TLS (with --tls-key).
    #[arg(long, value_name = "FILE", env = "AZVER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", env = "AZVER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA: agents must present a certificate it signed (mutual TLS).
    #[arg(long, value_name = "FILE", env = "AZVER_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// Accept reports without a node key on a non-loopback address while no enrollment secret
    /// exists (a secret, once created, always wins).
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// Serve plain text (no TLS) on a non-loopback address, e.g. behind a TLS-terminating proxy.
    #[arg(long)]
    pub allow_plaintext: bool,
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Baseline file (TOML); re-read on SIGHUP. Default: the built-in baseline.
    #[arg(long, value_name = "FILE", env = "AZVER_BASELINE")]
    pub baseline: Option<PathBuf>,
    /// Collector config (TOML): staleness, retention and request limits.
    #[arg(long, value_name = "FILE", env = "AZVER_COLLECTOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Also serve the dashboard, the JSON API and /metrics over HTTP on this address (port 0
    /// picks a free port, printed). Off loopback every request needs an admin token.
    #[arg(long, value_name = "ADDR", env = "AZVER_HTTP")]
    pub http: Option<SocketAddr>,
    /// PEM certificate chain for --http (HTTPS). Default: --tls-cert, so with TLS on the gRPC
    /// port the dashboard serves HTTPS with the same pair.
    #[arg(long, value_name = "FILE", env = "AZVER_HTTP_TLS_CERT", requires = "http")]
    pub http_tls_cert: Option<PathBuf>,
    /// PEM private key of --http-tls-cert.
    #[arg(long, value_name = "FILE", env = "AZVER_HTTP_TLS_KEY", requires = "http")]
    pub http_tls_key: Option<PathBuf>,
    /// A connection must complete its TLS handshake and send its first request's headers
    /// within this time (both ports).
    #[arg(long, value_name = "DURATION", default_value = "10s", env = "AZVER_HANDSHAKE_TIMEOUT", value_parser = duration)]
    pub handshake_timeout: std::time::Duration,
    /// A connection that moves no byte for this long is closed (both ports).
    #[arg(long, value_name = "DURATION", default_value = "2m", env = "AZVER_IDLE_TIMEOUT", value_parser = duration)]
    pub idle_timeout: std::time::Duration,
    /// Open connections in total, both ports (default: below the open file limit, at most 65536).
    #[arg(long, value_name = "N", env = "AZVER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Open connections from one source address, both ports.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 64,
        env = "AZVER_MAX_CONNECTIONS_PER_SOURCE",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections_per_source: u32,
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

/// Formats of the listing commands (`hosts`, `host`, `secret list`, `token list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned text.
    Table,
    /// One JSON document.
    Json,
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
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Collector config (staleness per role or label).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Evaluate against this baseline file (the one `serve` serves) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// List revoked hosts instead (`host revoke`), those that enrolled but never reported
    /// included, with when each was revoked.
    #[arg(long)]
    pub revoked: bool,
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
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Delete instead of show.
    #[command(subcommand)]
    pub action: Option<HostAction>,
    /// Evaluate against this baseline file (the one `serve` serves) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Collector config (staleness per role or label), as `serve` and `report` read it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// What to do with a host.
#[derive(Debug, Subcommand)]
pub enum HostAction {
    /// Delete a host and its history (by id, or every host with that name); also clears a
    /// revocation, even for a host that never reported (by id).
    Delete {
        /// Host id or host name.
        #[arg(value_name = "ID|NAME")]
        host: String,
        /// Database.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a host's node key at once; it cannot enroll again until `host delete`.
    Revoke {
        /// Host id, or a host name that only one host has.
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

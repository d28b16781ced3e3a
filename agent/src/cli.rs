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
    /// Log format on stderr: text (journald friendly) or json (for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "AZVER_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the inventory: every Azure CLI copy and Az module found, and what could not be read.
    Scan(ScanCommandArgs),
    /// Evaluate the baseline: exit 0 compliant or not applicable, 1 noncompliant, 2 usage error
    /// or nothing could be scanned. Scan errors never change the exit code.
    Check(CheckArgs),
    /// Scan, send one report to the collector and print its verdict: exit 0 compliant or not
    /// applicable, 1 noncompliant (both only once the collector accepted the report), 2 when it
    /// did not (unreachable, refused).
    Report(ReportArgs),
    /// Run as a service: scan and report at start, then every interval, through a durable spool.
    Run(RunArgs),
    /// Configuration: `config check` validates and prints the effective configuration.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// For the helpdesk: host id, collector, last successful report and verdict, spool, last error.
    Status(StatusArgs),
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (file, environment, flags) exactly as `run` would, and print
    /// it with secrets shown only as present or absent; exit 2 when `run` would refuse it.
    Check(ConfigCheckArgs),
}

/// Output format flag of the commands that print a result.
#[derive(Debug, Clone, Copy, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Flags of `scan`.
#[derive(Debug, Args)]
pub struct ScanCommandArgs {
    /// Scan flags.
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags of `config check`: those of `run`, and the output format.
#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// What `run` would be started with.
    #[command(flatten)]
    pub run: RunArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags of `status`: where the configuration and the state dir are; nothing is scanned or sent.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Config file (to find the state dir and the collector; default as for `run`).
    #[arg(long, value_name = "FILE", env = "AZVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// State dir of the agent to show.
    #[arg(long, value_name = "DIR", env = "AZVER_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl StatusArgs {
    /// The flag/environment layer of the configuration `status` reads.
    pub fn overrides(&self) -> crate::config::Overrides {
        crate::config::Overrides { state_dir: self.state_dir.clone(), ..crate::config::Overrides::default() }
    }
}

/// Flags of `run` and `config check`; each also reads `AZVER_*` and the config file.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scan flags.
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Config file (default: /etc/azver/agent.toml, C:\ProgramData\azver\agent.toml,
    /// /Library/Application Support/azver/agent.toml; a missing default file is fine).
    #[arg(long, value_name = "FILE", env = "AZVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Collector URL, http://HOST:PORT or https://HOST:PORT.
    #[arg(long, value_name = "URL", env = "AZVER_COLLECTOR", value_parser = collector_url)]
    pub collector: Option<String>,
    /// Time between reports (default 1h; a bare number is seconds).
    #[arg(long, value_name = "DUR", env = "AZVER_INTERVAL")]
    pub interval: Option<String>,
    /// Cap on the retry backoff while the collector is unreachable (default 5m).
    #[arg(long, value_name = "DUR", env = "AZVER_MAX_BACKOFF")]
    pub max_backoff: Option<String>,
    /// How long to wait for the collector (default 30s).
    #[arg(long, value_name = "DUR", env = "AZVER_TIMEOUT")]
    pub timeout: Option<String>,
    /// State dir: host id, sequence, spool, status.
    #[arg(long, value_name = "DIR", env = "AZVER_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Report this host name instead of the scanned one.
    #[arg(long, value_name = "NAME", env = "AZVER_HOSTNAME")]
    pub hostname: Option<String>,
    /// Labels, KEY=VALUE (repeatable; AZVER_LABELS takes a comma-separated list).
    #[arg(long = "label", value_name = "KEY=VALUE", env = "AZVER_LABELS", value_delimiter = ',', value_parser = label)]
    pub labels: Vec<(String, String)>,
    /// Most reports kept in the spool while the collector is unreachable (default 200).
    #[arg(long, value_name = "N", env = "AZVER_SPOOL_MAX_REPORTS")]
    pub spool_max_reports: Option<usize>,
    /// Most bytes kept in the spool (default 16 MiB).
    #[arg(long, value_name = "BYTES", env = "AZVER_SPOOL_MAX_BYTES")]
    pub spool_max_bytes: Option<u64>,
    /// File holding the enrollment secret (`AZVER_ENROLL_SECRET` carries the secret itself).
    #[arg(long, value_name = "FILE", env = "AZVER_ENROLL_SECRET_FILE")]
    pub enroll_secret_file: Option<PathBuf>,
    /// TLS settings.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Run under the Windows service control manager (the installed service's command line).
    #[arg(long, hide = true)]
    pub windows_service: bool,
}

impl RunArgs {
    /// The flag/environment layer of the configuration.
    pub fn overrides(&self) -> crate::config::Overrides {
        crate::config::Overrides {
            collector: self.collector.clone(),
            interval: self.interval.clone(),
            max_backoff: self.max_backoff.clone(),
            timeout: self.timeout.clone(),
            state_dir: self.state_dir.clone(),
            hostname: self.hostname.clone(),
            role: self.scan.role.map(Into::into),
            labels: self.labels.clone(),
            report_account_names: self.scan.report_account_names.then_some(true),
            spool_max_reports: self.spool_max_reports,
            spool_max_bytes: self.spool_max_bytes,
            enroll_secret_file: self.enroll_secret_file.clone(),
            tls: self.tls.files(),
        }
    }
}

/// TLS settings for an `https://` collector URL.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// PEM CA certificate the collector's certificate must chain to (default: the system's roots).
    #[arg(long, value_name = "FILE", env = "AZVER_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate, for a collector that requires mutual TLS.
    #[arg(long, value_name = "FILE", env = "AZVER_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long, value_name = "FILE", env = "AZVER_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The files, as the connection takes them.
    pub fn files(&self) -> crate::credentials::TlsFiles {
        crate::credentials::TlsFiles {
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        }
    }
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

/// What to scan and how: flags shared by `scan`, `check`, `report` and `run`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Scan a mounted disk image or container root as if it were `/` (or `C:\`).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Which OS layout to expect under --root (default: the running OS).
    #[arg(long, value_enum, value_name = "OS", requires = "root")]
    pub target_os: Option<TargetOs>,
    /// Also run `az version -o json` to confirm the on-PATH copy (live scans only).
    #[arg(long, conflicts_with = "root")]
    pub exec: bool,
    /// What this host is used for (default: `build-runner` when a CI agent is installed).
    #[arg(long, value_enum, env = "AZVER_ROLE")]
    pub role: Option<RoleArg>,
    /// Include account names in signed-in identities (off by default).
    #[arg(long, env = "AZVER_REPORT_ACCOUNT_NAMES")]
    pub report_account_names: bool,
}

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scan flags.
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Baseline file (TOML); default: the built-in baseline (azure-cli 2.76.0, Az 14.3.0, Az.Accounts 5.2.0).
    #[arg(long, value_name = "FILE", conflicts_with = "collector")]
    pub baseline: Option<PathBuf>,
    /// Evaluate against the baseline this collector serves (one baseline for the fleet).
    #[arg(long, value_name = "URL", env = "AZVER_COLLECTOR", value_parser = collector_url)]
    pub collector: Option<String>,
    /// TLS settings for --collector.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// How long to wait for the collector.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = duration)]
    pub timeout: std::time::Duration,
}

/// Host roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// A person's workstation.
    Developer,
    /// A CI/CD runner or build agent.
    BuildRunner,
    /// Any other server.
    Server,
}

impl From<RoleArg> for azver_core::Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Developer => azver_core::Role::Developer,
            RoleArg::BuildRunner => azver_core::Role::BuildRunner,
            RoleArg::Server => azver_core::Role::Server,
        }
    }
}

/// Flags of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Scan flags.
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Send one report and exit (the scheduled service mode is `azver-agent run`).
    #[arg(long, required = true)]
    pub once: bool,
    /// Collector URL, e.g. http://collector.example:50051 or https://collector.example:50051.
    #[arg(long, value_name = "URL", env = "AZVER_COLLECTOR", value_parser = collector_url)]
    pub collector: String,
    /// Where the host id and report sequence are kept (default: the OS's service data folder).
    #[arg(long, value_name = "DIR", env = "AZVER_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Report this host name instead of the scanned one (containers, simulations).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// A label for the fleet view, KEY=VALUE (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = label)]
    pub labels: Vec<(String, String)>,
    /// Also fetch the collector's baseline and print the local evaluation against it.
    #[arg(long)]
    pub baseline_from_collector: bool,
    /// File holding the enrollment secret (`AZVER_ENROLL_SECRET` carries the secret itself).
    #[arg(long, value_name = "FILE", env = "AZVER_ENROLL_SECRET_FILE")]
    pub enroll_secret_file: Option<PathBuf>,
    /// TLS settings.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// How long to wait for the collector.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = duration)]
    pub timeout: std::time::Duration,
}

fn duration(text: &str) -> Result<std::time::Duration, String> {
    azver_core::parse_duration(text).map_err(|e| e.to_string())
}

/// A collector URL must say how to talk to the collector: `http://` (plain text) or `https://`.
pub fn collector_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    match text.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() => Ok(text.to_owned()),
        Some((scheme, _)) => Err(format!(
            "{scheme:?} is not a collector URL scheme: use http://HOST:PORT, or https://HOST:PORT for a collector \
             that serves TLS"
        )),
        None => Err(format!(
            "{text:?} has no scheme: use http://{text} (plain text) or https://{text} (a collector that serves TLS)"
        )),
    }
}

fn label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.trim().to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
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
    /// What a scan reports.
    pub options: crate::scan::ScanOptions,
}

impl ScanArgs {
    /// Validates the flags.
    pub fn request(&self) -> ScanRequest {
        ScanRequest {
            root: self.root.clone(),
            os: self.target_os.map_or_else(OsFamily::current, OsFamily::from),
            exec: self.exec,
            options: crate::scan::ScanOptions {
                report_account_names: self.report_account_names,
                role: self.role.map(Into::into),
            },
        }
    }
}

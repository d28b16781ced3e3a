//! The agent's configuration, in two steps: [`RawConfig`] as written in the TOML file (unknown
//! keys are errors that name the key), then the validated [`AgentConfig`] with real types.
//!
//! Every setting is also an `AZVER_*` environment variable and a flag; precedence is flag, then
//! environment, then file, then the documented default. Flags and environment arrive together
//! through clap (`#[arg(env = ...)]`) as [`Overrides`]; [`AgentConfig::resolve`] merges them
//! with the file, so tests feed values directly instead of the process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use azver_core::{Role, parse_duration};
use serde::{Deserialize, Serialize};

use crate::credentials::TlsFiles;

/// Default time between reports.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);
/// Default cap on the retry backoff.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Default time to wait for the collector.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default most reports kept in the spool (a week of hourly reports and more).
pub const DEFAULT_SPOOL_MAX_REPORTS: usize = 200;
/// Default most bytes kept in the spool.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or an unknown key (the message names it and its line).
    #[error("config {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message on one line, with its position.
        message: String,
    },
    /// A value that means nothing.
    #[error("{origin}: {message}")]
    Invalid {
        /// Where the value came from (file path, flag or variable).
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// The file as written (`/etc/azver/agent.toml` and its Windows and macOS equivalents).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Collector URL.
    pub collector: Option<String>,
    /// Time between reports (`1h`, `30m`, bare seconds).
    pub interval: Option<String>,
    /// Cap on the retry backoff.
    pub max_backoff: Option<String>,
    /// Time to wait for the collector.
    pub timeout: Option<String>,
    /// State dir.
    pub state_dir: Option<PathBuf>,
    /// Host name to report instead of the scanned one.
    pub hostname: Option<String>,
    /// Role: developer, build-runner, server.
    pub role: Option<Role>,
    /// Labels for the fleet view.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Send account names with identities.
    pub report_account_names: Option<bool>,
    /// Most reports kept in the spool.
    pub spool_max_reports: Option<usize>,
    /// Most bytes kept in the spool.
    pub spool_max_bytes: Option<u64>,
    /// File holding the enrollment secret.
    pub enroll_secret_file: Option<PathBuf>,
    /// PEM CA the collector's certificate must chain to (default: the system's roots).
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// PEM key of the client certificate.
    pub client_key: Option<PathBuf>,
}

impl RawConfig {
    /// This layer's values where set, `lower`'s elsewhere (labels merge, this layer's win).
    pub fn over(self, lower: RawConfig) -> RawConfig {
        let mut labels = lower.labels;
        labels.extend(self.labels);
        RawConfig {
            collector: self.collector.or(lower.collector),
            interval: self.interval.or(lower.interval),
            max_backoff: self.max_backoff.or(lower.max_backoff),
            timeout: self.timeout.or(lower.timeout),
            state_dir: self.state_dir.or(lower.state_dir),
            hostname: self.hostname.or(lower.hostname),
            role: self.role.or(lower.role),
            labels,
            report_account_names: self.report_account_names.or(lower.report_account_names),
            spool_max_reports: self.spool_max_reports.or(lower.spool_max_reports),
            spool_max_bytes: self.spool_max_bytes.or(lower.spool_max_bytes),
            enroll_secret_file: self.enroll_secret_file.or(lower.enroll_secret_file),
            ca_cert: self.ca_cert.or(lower.ca_cert),
            client_cert: self.client_cert.or(lower.client_cert),
            client_key: self.client_key.or(lower.client_key),
        }
    }
}

/// Values from flags or environment variables (clap merges the two); `None` when neither is set.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--collector` / `AZVER_COLLECTOR`.
    pub collector: Option<String>,
    /// `--interval` / `AZVER_INTERVAL`.
    pub interval: Option<String>,
    /// `--max-backoff` / `AZVER_MAX_BACKOFF`.
    pub max_backoff: Option<String>,
    /// `--timeout` / `AZVER_TIMEOUT`.
    pub timeout: Option<String>,
    /// `--state-dir` / `AZVER_STATE_DIR`.
    pub state_dir: Option<PathBuf>,
    /// `--hostname` / `AZVER_HOSTNAME`.
    pub hostname: Option<String>,
    /// `--role` / `AZVER_ROLE`.
    pub role: Option<Role>,
    /// `--label K=V` (repeatable) / `AZVER_LABELS` (comma-separated); added to the file's labels.
    pub labels: Vec<(String, String)>,
    /// `--report-account-names` / `AZVER_REPORT_ACCOUNT_NAMES`.
    pub report_account_names: Option<bool>,
    /// `--spool-max-reports` / `AZVER_SPOOL_MAX_REPORTS`.
    pub spool_max_reports: Option<usize>,
    /// `--spool-max-bytes` / `AZVER_SPOOL_MAX_BYTES`.
    pub spool_max_bytes: Option<u64>,
    /// `--enroll-secret-file` / `AZVER_ENROLL_SECRET_FILE`.
    pub enroll_secret_file: Option<PathBuf>,
    /// `--ca-cert`, `--client-cert`, `--client-key` / `AZVER_CA_CERT`, `AZVER_CLIENT_CERT`, `AZVER_CLIENT_KEY`.
    pub tls: TlsFiles,
}

/// The effective, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentConfig {
    /// Collector URL; required to report.
    pub collector: Option<String>,
    /// Time between reports.
    #[serde(serialize_with = "as_duration")]
    pub interval: Duration,
    /// Cap on the retry backoff.
    #[serde(serialize_with = "as_duration")]
    pub max_backoff: Duration,
    /// Time to wait for the collector.
    #[serde(serialize_with = "as_duration")]
    pub timeout: Duration,
    /// State dir.
    pub state_dir: PathBuf,
    /// Host name override.
    pub hostname: Option<String>,
    /// Role override.
    pub role: Option<Role>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Send account names.
    pub report_account_names: bool,
    /// Most reports kept in the spool.
    pub spool_max_reports: usize,
    /// Most bytes kept in the spool.
    pub spool_max_bytes: u64,
    /// File holding the enrollment secret (`AZVER_ENROLL_SECRET` takes precedence over it).
    pub enroll_secret_file: Option<PathBuf>,
    /// TLS material.
    #[serde(flatten)]
    pub tls: TlsFiles,
}

fn as_duration<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&azver_core::format_duration(*duration))
}

/// The conventional config file of this OS.
pub fn default_path() -> PathBuf {
    if cfg!(windows) {
        crate::program_data::azver_dir().join("agent.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/azver/agent.toml")
    } else {
        PathBuf::from("/etc/azver/agent.toml")
    }
}

/// Reads the config file: an explicit path must exist; the default path may be absent.
pub fn read_file(path: Option<&Path>) -> Result<(RawConfig, Option<PathBuf>), ConfigError> {
    let (path, required) = match path {
        Some(path) => (path.to_owned(), true),
        None => (default_path(), false),
    };
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let raw = toml::from_str(&text)
                .map_err(|e| ConfigError::Syntax { path: shown, message: azver_core::toml_error(&text, &e) })?;
            Ok((raw, Some(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok((RawConfig::default(), None)),
        Err(source) => Err(ConfigError::Read { path: shown, source }),
    }
}

impl AgentConfig {
    /// Merges flags/environment over the file over defaults, and validates.
    pub fn resolve(file: &RawConfig, file_origin: &str, over: &Overrides) -> Result<Self, ConfigError> {
        let duration = |key: &str, flag: &Option<String>, file: &Option<String>, default: Duration| {
            let (value, origin) = match (flag, file) {
                (Some(v), _) => (v, format!("--{} / AZVER_{}", key.replace('_', "-"), key.to_ascii_uppercase())),
                (None, Some(v)) => (v, format!("{file_origin}: {key}")),
                (None, None) => return Ok(default),
            };
            let parsed = parse_duration(value)
                .map_err(|e| ConfigError::Invalid { origin: origin.clone(), message: e.to_string() })?;
            if parsed.is_zero() {
                return Err(ConfigError::Invalid { origin, message: "must be more than zero".into() });
            }
            Ok(parsed)
        };
        let collector = over.collector.clone().or_else(|| file.collector.clone()).filter(|c| !c.trim().is_empty());
        if let Some(url) = &collector {
            crate::cli::collector_url(url)
                .map_err(|message| ConfigError::Invalid { origin: "collector".into(), message })?;
        }
        let mut labels = file.labels.clone();
        labels.extend(over.labels.iter().cloned());
        let config = Self {
            collector,
            interval: duration("interval", &over.interval, &file.interval, DEFAULT_INTERVAL)?,
            max_backoff: duration("max_backoff", &over.max_backoff, &file.max_backoff, DEFAULT_MAX_BACKOFF)?,
            timeout: duration("timeout", &over.timeout, &file.timeout, DEFAULT_TIMEOUT)?,
            state_dir: over
                .state_dir
                .clone()
                .or_else(|| file.state_dir.clone())
                .unwrap_or_else(crate::state::default_dir),
            hostname: over.hostname.clone().or_else(|| file.hostname.clone()),
            role: over.role.or(file.role),
            labels,
            report_account_names: over.report_account_names.or(file.report_account_names).unwrap_or(false),
            spool_max_reports: over.spool_max_reports.or(file.spool_max_reports).unwrap_or(DEFAULT_SPOOL_MAX_REPORTS),
            spool_max_bytes: over.spool_max_bytes.or(file.spool_max_bytes).unwrap_or(DEFAULT_SPOOL_MAX_BYTES),
            enroll_secret_file: over.enroll_secret_file.clone().or_else(|| file.enroll_secret_file.clone()),
            tls: TlsFiles {
                ca_cert: over.tls.ca_cert.clone().or_else(|| file.ca_cert.clone()),
                client_cert: over.tls.client_cert.clone().or_else(|| file.client_cert.clone()),
                client_key: over.tls.client_key.clone().or_else(|| file.client_key.clone()),
            },
        };
        if config.spool_max_reports == 0 {
            return Err(ConfigError::Invalid {
                origin: "spool_max_reports".into(),
                message: "must be at least 1".into(),
            });
        }
        Ok(config)
    }

    /// The configuration as it may be shown: credentials in the collector URL masked.
    pub fn masked(&self) -> Self {
        let mut shown = self.clone();
        shown.collector = shown.collector.as_deref().map(crate::report::redact_url);
        shown
    }

    /// The effective configuration as TOML, secrets masked (for `config check`).
    pub fn to_masked_toml(&self) -> String {
        toml::to_string(&self.masked()).unwrap_or_else(|e| format!("# cannot render the config: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> RawConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn flags_and_environment_beat_the_file_which_beats_defaults() {
        let raw = file(
            "collector = \"http://file:1\"\ninterval = \"30m\"\nrole = \"server\"\n[labels]\nteam = \"a\"\nsite = \"x\"\n",
        );
        let over = Overrides {
            collector: Some("http://flag:2".into()),
            labels: vec![("team".into(), "b".into())],
            ..Overrides::default()
        };
        let config = AgentConfig::resolve(&raw, "agent.toml", &over).unwrap();
        assert_eq!(config.collector.as_deref(), Some("http://flag:2"));
        assert_eq!(config.interval, Duration::from_secs(1800));
        assert_eq!(config.max_backoff, DEFAULT_MAX_BACKOFF);
        assert_eq!(config.role, Some(Role::Server));
        assert_eq!(config.labels, BTreeMap::from([("site".into(), "x".into()), ("team".into(), "b".into())]));
        let bare = AgentConfig::resolve(
            &RawConfig::default(),
            "-",
            &Overrides { interval: Some("90".into()), ..Overrides::default() },
        )
        .unwrap();
        assert_eq!(
            (bare.interval, bare.collector, bare.spool_max_reports),
            (Duration::from_secs(90), None, DEFAULT_SPOOL_MAX_REPORTS)
        );
    }

    #[test]
    fn bad_values_name_their_origin() {
        let unknown = toml::from_str::<RawConfig>("colector = \"x\"").unwrap_err().to_string();
        assert!(unknown.contains("unknown field `colector`"), "{unknown}");
        let error = AgentConfig::resolve(&file("interval = \"soon\""), "/etc/azver/agent.toml", &Overrides::default())
            .unwrap_err();
        assert!(
            error.to_string().starts_with("/etc/azver/agent.toml: interval: \"soon\" is not a duration"),
            "{error}"
        );
        let zero = AgentConfig::resolve(
            &RawConfig::default(),
            "-",
            &Overrides { max_backoff: Some("0s".into()), ..Overrides::default() },
        );
        assert_eq!(zero.unwrap_err().to_string(), "--max-backoff / AZVER_MAX_BACKOFF: must be more than zero");
        let url =
            AgentConfig::resolve(&file("collector = \"collector:50051\""), "f", &Overrides::default()).unwrap_err();
        assert!(url.to_string().contains("\"collector:50051\" has no scheme"), "{url}");
        let bare =
            AgentConfig::resolve(&file("collector = \"10.0.0.5:50051\""), "f", &Overrides::default()).unwrap_err();
        assert!(bare.to_string().contains("use http://10.0.0.5:50051"), "{bare}");
    }

    #[test]
    fn masked_output_hides_credentials_in_urls() {
        let raw = file("collector = \"https://svc:hunter2@collector.example:443\"");
        let shown = AgentConfig::resolve(&raw, "f", &Overrides::default()).unwrap().to_masked_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("collector = \"https://****@collector.example:443\""), "{shown}");
        assert!(shown.contains("interval = \"1h\""), "{shown}");
    }
}

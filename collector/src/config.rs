//! Collector configuration (TOML, `--config FILE`), in two steps: [`RawConfig`] as written
//! (unknown keys are errors), then the validated [`Config`].
//!
//! ```toml
//! stale_after = "7d"        # default; a host not seen for longer is `stale`
//! purge_after = "90d"       # optional; hosts not seen for longer are deleted
//!
//! [[rules]]                 # first matching rule wins; match by role or by label
//! role = "build-runner"
//! stale_after = "1d"
//! purge_after = "14d"
//!
//! [[rules]]
//! label = "ephemeral=true"
//! purge_after = "2d"
//!
//! [limits]                  # every key optional; defaults in docs/SECURITY.md
//! max_message_bytes = 1048576
//! rate_limit_burst = 60     # reports per host at once...
//! rate_limit_per_second = 5 # ...then this many per second
//! request_timeout = "30s"
//! max_concurrent_requests = 256  # per connection; more are shed with RESOURCE_EXHAUSTED
//! max_concurrent_streams = 256   # per connection (HTTP/2); more wait
//! ```

use std::path::Path;
use std::time::Duration;

use azver_core::{HostFacts, Role, parse_duration};
use serde::Deserialize;

/// Default time after which a silent host is `stale`.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why a configuration file was rejected.
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
    /// Not valid TOML, or an unknown key.
    #[error("config {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message on one line, with its position (names the key).
        message: String,
    },
    /// A value that does not mean anything.
    #[error("config {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    stale_after: Option<String>,
    purge_after: Option<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_message_bytes: Option<usize>,
    max_installations: Option<usize>,
    max_identities: Option<usize>,
    max_errors: Option<usize>,
    max_labels: Option<usize>,
    max_string_bytes: Option<usize>,
    rate_limit_burst: Option<u32>,
    rate_limit_per_second: Option<u32>,
    request_timeout: Option<String>,
    max_concurrent_requests: Option<usize>,
    max_concurrent_streams: Option<u32>,
    max_job_sign_ins: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    role: Option<Role>,
    label: Option<String>,
    stale_after: Option<String>,
    purge_after: Option<String>,
}

/// Which hosts a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// Hosts of this role.
    Role(Role),
    /// Hosts carrying this label with this value.
    Label(String, String),
}

impl Matcher {
    fn matches(&self, host: &HostFacts) -> bool {
        match self {
            Matcher::Role(role) => host.role == Some(*role),
            Matcher::Label(key, value) => host.labels.get(key) == Some(value),
        }
    }
}

/// A per-role or per-label override of the retention settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Which hosts.
    pub matcher: Matcher,
    /// Overrides `stale_after`.
    pub stale_after: Option<Duration>,
    /// Overrides `purge_after`.
    pub purge_after: Option<Duration>,
}

/// The validated collector configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Default time after which a silent host is `stale`.
    pub stale_after: Duration,
    /// Default time after which a silent host is deleted; `None`: never.
    pub purge_after: Option<Duration>,
    /// Overrides, first match wins.
    pub rules: Vec<Rule>,
    /// Bounds on requests (read at start-up; a SIGHUP does not change them).
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self { stale_after: DEFAULT_STALE_AFTER, purge_after: None, rules: Vec::new(), limits: Limits::default() }
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        Self::parse(&text, &shown)
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Syntax { path: origin.to_owned(), message: azver_core::toml_error(text, &e) })?;
        let invalid = |message: String| ConfigError::Invalid { path: origin.to_owned(), message };
        let duration = |key: &str, value: &Option<String>| -> Result<Option<Duration>, ConfigError> {
            value.as_deref().map(|v| parse_duration(v).map_err(|e| invalid(format!("{key}: {e}")))).transpose()
        };
        let mut rules = Vec::new();
        for (index, rule) in raw.rules.iter().enumerate() {
            let matcher = match (&rule.role, &rule.label) {
                (Some(role), None) => Matcher::Role(*role),
                (None, Some(label)) => match label.split_once('=') {
                    Some((k, v)) if !k.trim().is_empty() => Matcher::Label(k.trim().to_owned(), v.trim().to_owned()),
                    _ => return Err(invalid(format!("rules[{index}].label must look like key=value, not {label:?}"))),
                },
                _ => return Err(invalid(format!("rules[{index}] needs exactly one of role or label"))),
            };
            rules.push(Rule {
                matcher,
                stale_after: duration(&format!("rules[{index}].stale_after"), &rule.stale_after)?,
                purge_after: duration(&format!("rules[{index}].purge_after"), &rule.purge_after)?,
            });
        }
        let defaults = Limits::default();
        let l = &raw.limits;
        let limits = Limits {
            max_message_bytes: l.max_message_bytes.unwrap_or(defaults.max_message_bytes),
            max_installations: l.max_installations.unwrap_or(defaults.max_installations),
            max_identities: l.max_identities.unwrap_or(defaults.max_identities),
            max_errors: l.max_errors.unwrap_or(defaults.max_errors),
            max_labels: l.max_labels.unwrap_or(defaults.max_labels),
            max_string_bytes: l.max_string_bytes.unwrap_or(defaults.max_string_bytes),
            rate_limit_burst: l.rate_limit_burst.unwrap_or(defaults.rate_limit_burst),
            rate_limit_per_second: l.rate_limit_per_second.unwrap_or(defaults.rate_limit_per_second),
            request_timeout: duration("limits.request_timeout", &l.request_timeout)?
                .unwrap_or(defaults.request_timeout),
            max_concurrent_requests: l.max_concurrent_requests.unwrap_or(defaults.max_concurrent_requests),
            max_concurrent_streams: l.max_concurrent_streams.unwrap_or(defaults.max_concurrent_streams),
            max_job_sign_ins: l.max_job_sign_ins.unwrap_or(defaults.max_job_sign_ins),
            ..defaults
        };
        for (key, value) in [
            ("max_message_bytes", limits.max_message_bytes),
            ("rate_limit_burst", limits.rate_limit_burst as usize),
            ("rate_limit_per_second", limits.rate_limit_per_second as usize),
            ("max_concurrent_requests", limits.max_concurrent_requests),
            ("max_concurrent_streams", limits.max_concurrent_streams as usize),
            ("request_timeout", limits.request_timeout.as_millis() as usize),
        ] {
            if value == 0 {
                return Err(invalid(format!("limits.{key} must be more than zero")));
            }
        }
        Ok(Self {
            stale_after: duration("stale_after", &raw.stale_after)?.unwrap_or(DEFAULT_STALE_AFTER),
            purge_after: duration("purge_after", &raw.purge_after)?,
            rules,
            limits,
        })
    }

    fn rule_for(&self, host: &HostFacts) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matcher.matches(host))
    }

    /// How long `host` may stay silent before it is `stale`.
    pub fn stale_after(&self, host: &HostFacts) -> Duration {
        self.rule_for(host).and_then(|r| r.stale_after).unwrap_or(self.stale_after)
    }

    /// How long `host` may stay silent before it is purged; `None`: never.
    pub fn purge_after(&self, host: &HostFacts) -> Option<Duration> {
        self.rule_for(host).and_then(|r| r.purge_after).or(self.purge_after)
    }
}

/// Bounds on what one report may carry. Generous for any real host (a typical report has about
/// five installations), tight enough that a hostile one cannot exhaust the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded request, in bytes.
    pub max_message_bytes: usize,
    /// Most installations per report.
    pub max_installations: usize,
    /// Most identities per report.
    pub max_identities: usize,
    /// Most scan errors per report.
    pub max_errors: usize,
    /// Most labels per host.
    pub max_labels: usize,
    /// Longest host id and report id.
    pub max_id_bytes: usize,
    /// Longest host name (DNS allows 253).
    pub max_hostname_bytes: usize,
    /// Longest of any other string.
    pub max_string_bytes: usize,
    /// Reports a host may send at once...
    pub rate_limit_burst: u32,
    /// ...and per second after that.
    pub rate_limit_per_second: u32,
    /// Longest a request may take, reading it included.
    pub request_timeout: std::time::Duration,
    /// Requests in flight per connection; more are shed with `RESOURCE_EXHAUSTED`.
    pub max_concurrent_requests: usize,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Most scheduled-job sign-ins per report.
    pub max_job_sign_ins: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 1024 * 1024,
            max_installations: 2000,
            max_identities: 200,
            max_errors: 1000,
            max_labels: 64,
            max_id_bytes: 128,
            max_hostname_bytes: 255,
            max_string_bytes: 4096,
            // A real agent reports hourly; the load generator sends one report per host per second.
            rate_limit_burst: 60,
            rate_limit_per_second: 5,
            request_timeout: std::time::Duration::from_secs(30),
            // Equal to the streams allowed, so a conforming HTTP/2 client is never shed (its excess
            // streams wait); a lower value sheds requests above it.
            max_concurrent_requests: 256,
            max_concurrent_streams: 256,
            max_job_sign_ins: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(role: Option<Role>, label: Option<(&str, &str)>) -> HostFacts {
        let mut facts = HostFacts { role, ..HostFacts::default() };
        if let Some((k, v)) = label {
            facts.labels.insert(k.into(), v.into());
        }
        facts
    }

    #[test]
    fn rules_override_defaults_first_match_wins() {
        let config = Config::parse(
            "stale_after = \"3d\"\n[[rules]]\nrole = \"build-runner\"\nstale_after = \"1h\"\npurge_after = \"2d\"\n\
             [[rules]]\nlabel = \"ephemeral=true\"\npurge_after = \"1d\"\n",
            "test",
        )
        .unwrap();
        let runner = host(Some(Role::BuildRunner), Some(("ephemeral", "true")));
        assert_eq!(config.stale_after(&runner), Duration::from_secs(3600));
        assert_eq!(config.purge_after(&runner), Some(Duration::from_secs(2 * 86400)));
        let ephemeral = host(Some(Role::Developer), Some(("ephemeral", "true")));
        assert_eq!(config.stale_after(&ephemeral), Duration::from_secs(3 * 86400));
        assert_eq!(config.purge_after(&ephemeral), Some(Duration::from_secs(86400)));
        let plain = host(None, None);
        assert_eq!(config.purge_after(&plain), None);
        assert_eq!(Config::default().stale_after(&plain), DEFAULT_STALE_AFTER);
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let unknown = Config::parse("stale_afer = \"1d\"", "c.toml").unwrap_err().to_string();
        assert!(unknown.contains("unknown field `stale_afer`"), "{unknown}");
        let duration = Config::parse("stale_after = \"soon\"", "c.toml").unwrap_err().to_string();
        assert!(duration.starts_with("config c.toml: stale_after: \"soon\" is not a duration"), "{duration}");
        let both = Config::parse("[[rules]]\nrole = \"server\"\nlabel = \"a=b\"\n", "c.toml").unwrap_err().to_string();
        assert_eq!(both, "config c.toml: rules[0] needs exactly one of role or label");
        let label = Config::parse("[[rules]]\nlabel = \"nolabel\"\n", "c.toml").unwrap_err().to_string();
        assert_eq!(label, "config c.toml: rules[0].label must look like key=value, not \"nolabel\"");
        let role = Config::parse("[[rules]]\nrole = \"laptop\"\n", "c.toml").unwrap_err().to_string();
        assert!(role.contains("unknown variant `laptop`"), "{role}");
        let zero = Config::parse("[limits]\nrate_limit_burst = 0\n", "c.toml").unwrap_err().to_string();
        assert_eq!(zero, "config c.toml: limits.rate_limit_burst must be more than zero");
        let unknown = Config::parse("[limits]\nmax_reports = 1\n", "c.toml").unwrap_err().to_string();
        assert!(unknown.contains("unknown field `max_reports`"), "{unknown}");
    }

    #[test]
    fn limits_default_and_can_be_tightened() {
        let config = Config::parse("[limits]\nrate_limit_burst = 3\nrequest_timeout = \"2s\"\n", "c.toml").unwrap();
        assert_eq!(config.limits.rate_limit_burst, 3);
        assert_eq!(config.limits.request_timeout, Duration::from_secs(2));
        assert_eq!(config.limits.max_message_bytes, Limits::default().max_message_bytes);
        assert_eq!(Config::default().limits, Limits::default());
    }
}

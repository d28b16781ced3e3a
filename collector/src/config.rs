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
    #[error("config {path}: {source}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message (names the key).
        source: toml::de::Error,
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
}

impl Default for Config {
    fn default() -> Self {
        Self { stale_after: DEFAULT_STALE_AFTER, purge_after: None, rules: Vec::new() }
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
        let raw: RawConfig =
            toml::from_str(text).map_err(|source| ConfigError::Syntax { path: origin.to_owned(), source })?;
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
        Ok(Self {
            stale_after: duration("stale_after", &raw.stale_after)?.unwrap_or(DEFAULT_STALE_AFTER),
            purge_after: duration("purge_after", &raw.purge_after)?,
            rules,
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
    }
}

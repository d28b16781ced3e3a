//! Settings an installer recorded: on Windows the MSI writes its public properties
//! (`COLLECTOR_URL`, `ROLE`, `LABELS`, `ENROLL_SECRET`) as values under
//! `HKLM\SOFTWARE\azver\Agent` (`CollectorUrl`, `Role`, `Labels`, `EnrollSecret`).
//!
//! They form a configuration layer between the environment and the config file: flag, then
//! environment, then installer, then file, then default. The enrollment secret is not left in
//! the registry, where every local user can read it: on the service's first start it moves into
//! the state dir (readable by SYSTEM and Administrators only) and the registry value is deleted.

use std::collections::BTreeMap;

use crate::config::{ConfigError, RawConfig};

/// The installer's registry key under HKLM.
pub const REGISTRY_KEY: &str = r"SOFTWARE\azver\Agent";

/// The registry value names and the settings they carry.
pub const COLLECTOR_URL: &str = "CollectorUrl";
/// Role: developer, build-runner or server.
pub const ROLE: &str = "Role";
/// Labels: `k=v,k=v`.
pub const LABELS: &str = "Labels";
/// The enrollment secret, consumed on first start.
pub const ENROLL_SECRET: &str = "EnrollSecret";

/// The configuration layer made of an installer's values (empty values are unset).
pub fn settings(values: &BTreeMap<String, String>) -> Result<RawConfig, ConfigError> {
    let get = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let origin = |name: &str| format!(r"HKLM\{REGISTRY_KEY}\{name}");
    let role = match get(ROLE) {
        None => None,
        Some(text) => {
            Some(serde_json::from_value(serde_json::Value::String(text.to_ascii_lowercase())).map_err(|_| {
                ConfigError::Invalid {
                    origin: origin(ROLE),
                    message: format!("{text:?} is not a role (developer, build-runner, server)"),
                }
            })?)
        }
    };
    let mut labels = BTreeMap::new();
    for pair in get(LABELS).into_iter().flat_map(|l| l.split(',')).filter(|p| !p.trim().is_empty()) {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                labels.insert(key.trim().to_owned(), value.trim().to_owned());
            }
            _ => {
                return Err(ConfigError::Invalid {
                    origin: origin(LABELS),
                    message: format!("{pair:?} is not KEY=VALUE"),
                });
            }
        }
    }
    Ok(RawConfig { collector: get(COLLECTOR_URL).map(str::to_owned), role, labels, ..RawConfig::default() })
}

/// Reads the installer's values (Windows); elsewhere there are none.
#[cfg(windows)]
pub fn read_values() -> BTreeMap<String, String> {
    use winreg::RegKey;
    use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY};
    let Ok(key) = RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey_with_flags(REGISTRY_KEY, KEY_READ | KEY_WOW64_64KEY)
    else {
        return BTreeMap::new();
    };
    [COLLECTOR_URL, ROLE, LABELS]
        .into_iter()
        .filter_map(|name| key.get_value::<String, _>(name).ok().map(|v| (name.to_owned(), v)))
        .collect()
}

/// Reads the installer's values (Windows); elsewhere there are none.
#[cfg(not(windows))]
pub fn read_values() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// Moves an installer's enrollment secret from the registry into the state dir (Windows; a no-op
/// elsewhere and when there is none). Needs the service's rights to delete the value.
#[cfg(windows)]
pub fn take_enroll_secret(state: &crate::state::State) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use winreg::RegKey;
    use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_SET_VALUE, KEY_WOW64_64KEY};
    let flags = KEY_READ | KEY_SET_VALUE | KEY_WOW64_64KEY;
    let Ok(key) = RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey_with_flags(REGISTRY_KEY, flags) else {
        return Ok(());
    };
    let Ok(secret) = key.get_value::<String, _>(ENROLL_SECRET) else { return Ok(()) };
    if !secret.trim().is_empty() {
        crate::credentials::Secret::parse(&secret, &format!(r"HKLM\{REGISTRY_KEY}\{ENROLL_SECRET}"))?;
        state.set_enroll_secret(secret.trim())?;
    }
    key.delete_value(ENROLL_SECRET)
        .with_context(|| format!(r"cannot delete HKLM\{REGISTRY_KEY}\{ENROLL_SECRET} after keeping it privately"))?;
    tracing::info!("moved the installer's enrollment secret into the state dir");
    Ok(())
}

/// Moves an installer's enrollment secret from the registry into the state dir (Windows; a no-op
/// elsewhere and when there is none).
#[cfg(not(windows))]
pub fn take_enroll_secret(_state: &crate::state::State) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn msi_properties_become_a_layer_between_environment_and_file() {
        let installer = settings(&values(&[
            (COLLECTOR_URL, " https://collector.corp:50051 "),
            (ROLE, "Build-Runner"),
            (LABELS, "site=ams, team=platform,"),
        ]))
        .unwrap();
        let file: RawConfig = toml::from_str(
            "collector = \"https://old:1\"\ninterval = \"2h\"\nrole = \"developer\"\n[labels]\nteam = \"x\"\nos = \"w\"\n",
        )
        .unwrap();
        let merged = installer.over(file);
        assert_eq!(merged.collector.as_deref(), Some("https://collector.corp:50051"));
        assert_eq!(merged.role, Some(azver_core::Role::BuildRunner));
        assert_eq!(merged.interval.as_deref(), Some("2h"));
        assert_eq!(
            merged.labels,
            BTreeMap::from([
                ("os".into(), "w".into()),
                ("site".into(), "ams".into()),
                ("team".into(), "platform".into())
            ])
        );
        let empty = settings(&values(&[(COLLECTOR_URL, ""), (ROLE, " ")])).unwrap();
        assert_eq!((empty.collector, empty.role), (None, None));
    }

    #[test]
    fn bad_installer_values_name_the_registry_value() {
        let role = settings(&values(&[(ROLE, "admin")])).unwrap_err().to_string();
        assert_eq!(role, r#"HKLM\SOFTWARE\azver\Agent\Role: "admin" is not a role (developer, build-runner, server)"#);
        let labels = settings(&values(&[(LABELS, "site")])).unwrap_err().to_string();
        assert!(labels.ends_with(r#"Labels: "site" is not KEY=VALUE"#), "{labels}");
    }
}

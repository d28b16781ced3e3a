//! Who is signed in: the Azure CLI's `azureProfile.json` and Az PowerShell's
//! `AzureRmContext.json` in every user home (and the live agent's `AZURE_CONFIG_DIR`).
//!
//! Secrets: only these two profile files are opened, never the token caches
//! (`msal_token_cache.*`, `service_principal_entries.*`, `accessTokens.json`, `TokenCache.dat`,
//! `.IdentityService/`). `AzureRmContext.json` can itself hold secrets in
//! `Account.ExtendedProperties`; it is parsed in memory and only the account type, tenant, cloud,
//! default flag and (when allowed) account name are kept. A file that does not parse is reported
//! with its line and column only: the parser's message could quote the file, so it is not used.

use std::collections::{HashMap, HashSet};

use azver_core::{AccountType, Identity, ScanError, ScanErrorKind};
use serde_json::Value;

use super::{Detection, Detector, ScanContext};
use crate::host::{HostPath, HostView};

/// Profile files are small (a few KiB even with many subscriptions).
const MAX_PROFILE_BYTES: u64 = 8 * 1024 * 1024;

/// Detects signed-in identities.
#[derive(Debug)]
pub struct Identities;

/// Which client a profile file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The Azure CLI's `azureProfile.json`.
    AzureCli,
    /// Az PowerShell's `AzureRmContext.json`.
    AzPowerShell,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::AzureCli => azver_core::AZURE_CLI,
            Tool::AzPowerShell => azver_core::AZ,
        }
    }
}

impl Detector for Identities {
    fn name(&self) -> &'static str {
        "identities"
    }

    fn detect(&self, cx: &ScanContext<'_>, out: &mut Detection) {
        let host = cx.host;
        let mut files: Vec<(HostPath, Tool, String)> = Vec::new();
        for home in cx.homes {
            files.push((home.path.join(".azure").join("azureProfile.json"), Tool::AzureCli, home.user.clone()));
            // Az PowerShell writes `.Azure` (capital A); on case-sensitive file systems look there.
            files.push((home.path.join(".Azure").join("AzureRmContext.json"), Tool::AzPowerShell, home.user.clone()));
        }
        if let Some(dir) = host.env("AZURE_CONFIG_DIR") {
            let user = host.env("USER").or(host.env("USERNAME")).unwrap_or_default().to_owned();
            files.push((host.path(dir).join("azureProfile.json"), Tool::AzureCli, user));
        }
        let mut seen = HashSet::new();
        for (path, tool, user) in files {
            match host.resolve(&path) {
                Ok((real, _)) => {
                    if seen.insert(real) {
                        read_profile(host, &path, tool, &user, cx.report_account_names, out);
                    }
                }
                // No profile file is the common case: nobody signed in with that client.
                Err(e) if e.is_not_found() => {}
                Err(e) => out.errors.push(e.at(&path)),
            }
        }
    }
}

fn read_profile(host: &HostView, path: &HostPath, tool: Tool, user: &str, names: bool, out: &mut Detection) {
    let bytes = match host.read_limited(path, MAX_PROFILE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) => {
            out.errors.push(e.at(path));
            return;
        }
    };
    let kept = match parse_profile(&bytes, tool) {
        Ok(kept) => kept,
        Err(error) => {
            let message = error.to_string();
            out.errors.push(ScanError { path: path.to_string(), kind: ScanErrorKind::MalformedProfile, message });
            return;
        }
    };
    out.identities.extend(kept.into_iter().map(|sign_in| Identity {
        tool: tool.name().to_owned(),
        account_type: sign_in.account_type,
        tenant_id: sign_in.tenant_id,
        cloud: sign_in.cloud,
        local_user: user.to_owned(),
        is_default: sign_in.is_default,
        account_name: if names { sign_in.account_name } else { None },
        path: path.to_string(),
    }));
}

/// Reads a profile file's bytes: its sign-ins, one per account (several subscriptions of one
/// account are one sign-in, the default if any is), or why it is not a profile. The message never
/// quotes the file (which may hold secrets): only a line and column, or the structure's fault.
///
/// Bounded on any input: `serde_json` refuses nesting deeper than 128 levels, and merging
/// sign-ins is linear (a hash per account), so an 8 MiB profile of distinct accounts is quick.
pub fn parse_profile(bytes: &[u8], tool: Tool) -> Result<Vec<SignIn>, ProfileError> {
    let text = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let json: Value = serde_json::from_slice(text)
        .map_err(|error| ProfileError::NotJson { line: error.line(), column: error.column() })?;
    let found = match tool {
        Tool::AzureCli => cli_identities(&json),
        Tool::AzPowerShell => az_identities(&json),
    };
    let found = found.ok_or(ProfileError::Structure(tool.name()))?;
    // The account name decides what "one account" is even when it is not reported: two service
    // principals of one tenant are two sign-ins either way.
    let mut kept: Vec<SignIn> = Vec::new();
    let mut index: HashMap<(AccountType, String, String, Option<String>), usize> = HashMap::new();
    for sign_in in found {
        let key =
            (sign_in.account_type, sign_in.tenant_id.clone(), sign_in.cloud.clone(), sign_in.account_name.clone());
        match index.get(&key) {
            Some(&i) => kept[i].is_default |= sign_in.is_default,
            None => {
                index.insert(key, kept.len());
                kept.push(sign_in);
            }
        }
    }
    Ok(kept)
}

/// Why a profile file was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Not JSON (or nested deeper than 128 levels).
    #[error("not valid JSON (line {line}, column {column})")]
    NotJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// JSON, but not shaped like the client's profile.
    #[error("not an {0} profile (unexpected structure)")]
    Structure(&'static str),
}

/// One sign-in as read from a profile, before it becomes an [`Identity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// What kind of account.
    pub account_type: AccountType,
    /// Entra tenant id.
    pub tenant_id: String,
    /// Cloud or environment name.
    pub cloud: String,
    /// The default context or subscription.
    pub is_default: bool,
    /// The account's name, when the profile has one.
    pub account_name: Option<String>,
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// `azureProfile.json`: `{"subscriptions": [{"user": {"name", "type"}, "tenantId", "environmentName", "isDefault"}]}`.
fn cli_identities(json: &Value) -> Option<Vec<SignIn>> {
    let subscriptions = match json.get("subscriptions") {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(subs)) => subs,
        Some(_) => return None,
    };
    let mut out = Vec::new();
    for sub in subscriptions {
        let user = sub.get("user")?;
        let name = text(user, "name");
        let managed = user.get("assignedIdentityInfo").is_some()
            || name == "systemAssignedIdentity"
            || name == "userAssignedIdentity";
        let cloud_shell = user.get("cloudShellID").is_some_and(|v| !matches!(v, Value::Null | Value::Bool(false)));
        let account_type = match text(user, "type").as_str() {
            _ if cloud_shell => AccountType::CloudShell,
            _ if managed => AccountType::ManagedIdentity,
            "user" => AccountType::User,
            "servicePrincipal" => AccountType::ServicePrincipal,
            _ => AccountType::Unknown,
        };
        out.push(SignIn {
            account_type,
            tenant_id: text(sub, "tenantId"),
            cloud: text(sub, "environmentName"),
            is_default: sub.get("isDefault").and_then(Value::as_bool).unwrap_or(false),
            account_name: (!name.is_empty()).then_some(name),
        });
    }
    Some(out)
}

/// `AzureRmContext.json`: `{"DefaultContextKey", "Contexts": {KEY: {"Account": {"Id", "Type"},
/// "Tenant": {"Id"}, "Environment": {"Name"}}}}`.
fn az_identities(json: &Value) -> Option<Vec<SignIn>> {
    let contexts = match json.get("Contexts") {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Object(contexts)) => contexts,
        Some(_) => return None,
    };
    let default_key = json.get("DefaultContextKey").and_then(Value::as_str);
    let mut out = Vec::new();
    for (key, context) in contexts {
        let Some(account) = context.get("Account").filter(|a| !a.is_null()) else { continue };
        let account_type = match text(account, "Type").as_str() {
            "User" => AccountType::User,
            "ServicePrincipal" | "ClientAssertion" => AccountType::ServicePrincipal,
            "ManagedService" => AccountType::ManagedIdentity,
            "AccessToken" => AccountType::AccessToken,
            "Certificate" => AccountType::Certificate,
            _ => AccountType::Unknown,
        };
        let name = text(account, "Id");
        out.push(SignIn {
            account_type,
            tenant_id: context.get("Tenant").map(|t| text(t, "Id")).unwrap_or_default(),
            cloud: context.get("Environment").map(|e| text(e, "Name")).unwrap_or_default(),
            is_default: default_key == Some(key.as_str()),
            account_name: (!name.is_empty()).then_some(name),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(found: Option<Vec<SignIn>>) -> Vec<(AccountType, String, bool)> {
        found.unwrap().into_iter().map(|s| (s.account_type, s.tenant_id, s.is_default)).collect()
    }

    #[test]
    fn cli_account_types() {
        let json: Value = serde_json::from_str(
            r#"{"subscriptions": [
                {"user": {"name": "alice@contoso.com", "type": "user"}, "tenantId": "t1", "environmentName": "AzureCloud", "isDefault": true},
                {"user": {"name": "0000-app", "type": "servicePrincipal"}, "tenantId": "t2", "isDefault": false},
                {"user": {"name": "systemAssignedIdentity", "type": "servicePrincipal", "assignedIdentityInfo": "MSI"}, "tenantId": "t3"},
                {"user": {"name": "live.com#bob@outlook.com", "type": "user", "cloudShellID": true}, "tenantId": "t4"},
                {"user": {"name": "x", "type": "robot"}, "tenantId": "t5"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            types(cli_identities(&json)),
            [
                (AccountType::User, "t1".into(), true),
                (AccountType::ServicePrincipal, "t2".into(), false),
                (AccountType::ManagedIdentity, "t3".into(), false),
                (AccountType::CloudShell, "t4".into(), false),
                (AccountType::Unknown, "t5".into(), false),
            ]
        );
        assert!(types(cli_identities(&serde_json::json!({"subscriptions": []}))).is_empty());
        assert!(cli_identities(&serde_json::json!({"subscriptions": "nope"})).is_none());
    }

    #[test]
    fn az_account_types_and_default_context() {
        let json = serde_json::json!({
            "DefaultContextKey": "sp",
            "Contexts": {
                "user": {"Account": {"Id": "alice@contoso.com", "Type": "User"}, "Tenant": {"Id": "t1"}, "Environment": {"Name": "AzureCloud"}},
                "sp": {"Account": {"Id": "app", "Type": "ServicePrincipal", "ExtendedProperties": {"ServicePrincipalSecret": "s3cr3t"}}, "Tenant": {"Id": "t2"}},
                "mi": {"Account": {"Id": "MSI@50342", "Type": "ManagedService"}, "Tenant": {"Id": "t3"}},
                "token": {"Account": {"Id": "x", "Type": "AccessToken"}, "Tenant": {"Id": "t4"}},
                "cert": {"Account": {"Id": "y", "Type": "Certificate"}, "Tenant": {"Id": "t5"}},
                "empty": {"Account": null}
            }
        });
        let mut found = types(az_identities(&json));
        found.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            found,
            [
                (AccountType::User, "t1".into(), false),
                (AccountType::ServicePrincipal, "t2".into(), true),
                (AccountType::ManagedIdentity, "t3".into(), false),
                (AccountType::AccessToken, "t4".into(), false),
                (AccountType::Certificate, "t5".into(), false),
            ]
        );
        assert!(az_identities(&serde_json::json!({"Contexts": []})).is_none());
    }

    /// Hostile profiles: nesting far beyond serde_json's limit is an error, not a stack
    /// overflow; a BOM is accepted; subscriptions of one account merge, distinct ones do not.
    #[test]
    fn hostile_profiles_are_errors_and_accounts_merge() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(parse_profile(deep.as_bytes(), Tool::AzureCli), Err(ProfileError::NotJson { .. })));
        let deep_object = format!("{{\"Contexts\":{}1{}}}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
        assert!(parse_profile(deep_object.as_bytes(), Tool::AzPowerShell).is_err());
        let mut subs: Vec<String> = (0..20_000)
            .map(|n| format!(r#"{{"user":{{"name":"sp{n}","type":"servicePrincipal"}},"tenantId":"t"}}"#))
            .collect();
        subs.push(r#"{"user":{"name":"sp7","type":"servicePrincipal"},"tenantId":"t","isDefault":true}"#.into());
        let text = format!("\u{feff}{{\"subscriptions\":[{}]}}", subs.join(","));
        let found = parse_profile(text.as_bytes(), Tool::AzureCli).unwrap();
        assert_eq!(found.len(), 20_000);
        assert_eq!(
            found.iter().filter(|s| s.is_default).map(|s| s.account_name.as_deref()).collect::<Vec<_>>(),
            [Some("sp7")]
        );
        assert_eq!(parse_profile(b"{\"subscriptions\": 1}", Tool::AzureCli), Err(ProfileError::Structure("azure-cli")));
    }
}

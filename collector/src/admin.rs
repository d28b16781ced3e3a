//! The credential commands: `secret create|list|revoke`, `token create|list|revoke` and
//! `host revoke`. Each works on either store; a new credential is printed once, alone on the last
//! line of stdout, and only its digest is stored.

use std::time::Duration;

use comfy_table::{Table, presets::NOTHING};

use crate::auth::{Kind, generate};
use crate::clock::unix_now;
use crate::store::Store;

/// What `create` prints: a human note, then the credential alone on the last line.
fn created(what: &str, id: &str, label: &str, expires_at: Option<i64>, secret: &str, use_hint: &str) -> String {
    let expiry = expires_at.map_or_else(|| "never expires".to_owned(), |at| format!("expires {}", timestamp(at)));
    format!(
        "# {what} {id} (label {label:?}, {expiry}). It is shown once and stored only as a digest.\n# {use_hint}\n{secret}\n"
    )
}

fn timestamp(seconds: i64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64)).to_string()
}

fn optional(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), timestamp)
}

fn expiry(expires: Option<Duration>, now: i64) -> Option<i64> {
    expires.map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}

/// `secret create`: a new enrollment secret.
pub async fn create_secret(store: &dyn Store, label: &str, expires: Option<Duration>) -> anyhow::Result<String> {
    let now = unix_now();
    let credential = generate(Kind::EnrollSecret)?;
    let expires_at = expiry(expires, now);
    store.create_enroll_secret(&credential.id, label, &credential.digest, expires_at, now).await?;
    tracing::info!(id = %credential.id, label, "enrollment secret created");
    Ok(created(
        "enrollment secret",
        &credential.id,
        label,
        expires_at,
        &credential.secret,
        "Give it to agents with --enroll-secret-file, AZVER_ENROLL_SECRET or the MSI's ENROLL_SECRET.",
    ))
}

/// `token create`: a new admin token for the dashboard and HTTP API.
pub async fn create_token(store: &dyn Store, label: &str, expires: Option<Duration>) -> anyhow::Result<String> {
    let now = unix_now();
    let credential = generate(Kind::AdminToken)?;
    let expires_at = expiry(expires, now);
    store.create_admin_token(&credential.id, label, &credential.digest, expires_at, now).await?;
    tracing::info!(id = %credential.id, label, "admin token created");
    Ok(created(
        "admin token",
        &credential.id,
        label,
        expires_at,
        &credential.secret,
        "Send it as `Authorization: Bearer TOKEN`, or as the password of HTTP Basic authentication.",
    ))
}

/// The state of a credential at `now`.
fn state(revoked_at: Option<i64>, expires_at: Option<i64>, now: i64) -> &'static str {
    match (revoked_at, expires_at) {
        (Some(_), _) => "revoked",
        (None, Some(at)) if at <= now => "expired",
        _ => "valid",
    }
}

/// True when a credential neither revoked nor expired at `now` exists among `tokens`.
pub fn any_valid_token(tokens: &[crate::store::AdminTokenInfo], now: i64) -> bool {
    tokens.iter().any(|t| state(t.revoked_at, t.expires_at, now) == "valid")
}

/// A listed credential as JSON, every `*_at` time as RFC 3339 (like every other JSON azver prints).
fn json_row<T: serde::Serialize>(row: &T) -> serde_json::Value {
    let mut value = serde_json::to_value(row).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        for (key, field) in fields.iter_mut() {
            if let (true, Some(seconds)) = (key.ends_with("_at"), field.as_i64()) {
                *field = timestamp(seconds).into();
            }
        }
    }
    value
}

/// `secret list`: every enrollment secret, never the secret nor its digest.
pub async fn list_secrets(store: &dyn Store, json: bool) -> anyhow::Result<String> {
    let secrets = store.list_enroll_secrets().await?;
    let now = unix_now();
    if json {
        let rows: Vec<_> = secrets
            .iter()
            .map(|s| {
                let mut value = json_row(s);
                value["state"] = state(s.revoked_at, s.expires_at, now).into();
                value
            })
            .collect();
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header(["ID", "LABEL", "STATE", "CREATED", "EXPIRES", "ENROLLMENTS", "LAST USED"]);
    for s in &secrets {
        table.add_row([
            s.id.clone(),
            s.label.clone(),
            state(s.revoked_at, s.expires_at, now).to_owned(),
            timestamp(s.created_at),
            optional(s.expires_at),
            s.enrollments.to_string(),
            optional(s.last_used_at),
        ]);
    }
    Ok(format!("{table}\n"))
}

/// `token list`: every admin token, never the token nor its digest.
pub async fn list_tokens(store: &dyn Store, json: bool) -> anyhow::Result<String> {
    let tokens = store.list_admin_tokens().await?;
    let now = unix_now();
    if json {
        let rows: Vec<_> = tokens
            .iter()
            .map(|t| {
                let mut value = json_row(t);
                value["state"] = state(t.revoked_at, t.expires_at, now).into();
                value
            })
            .collect();
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header(["ID", "LABEL", "STATE", "CREATED", "EXPIRES"]);
    for t in &tokens {
        table.add_row([
            t.id.clone(),
            t.label.clone(),
            state(t.revoked_at, t.expires_at, now).to_owned(),
            timestamp(t.created_at),
            optional(t.expires_at),
        ]);
    }
    Ok(format!("{table}\n"))
}

/// `secret revoke ID`.
pub async fn revoke_secret(store: &dyn Store, id: &str) -> anyhow::Result<String> {
    if !store.revoke_enroll_secret(id, unix_now()).await? {
        anyhow::bail!("no valid enrollment secret has the id {id:?} (see `secret list`)");
    }
    tracing::info!(id, "enrollment secret revoked");
    Ok(format!("revoked enrollment secret {id}: no new enrollments with it; enrolled hosts keep working\n"))
}

/// `token revoke ID`.
pub async fn revoke_token(store: &dyn Store, id: &str) -> anyhow::Result<String> {
    if !store.revoke_admin_token(id, unix_now()).await? {
        anyhow::bail!("no valid admin token has the id {id:?} (see `token list`)");
    }
    Ok(format!("revoked admin token {id}\n"))
}

/// `host revoke ID|NAME`: the host's node key stops working at once.
pub async fn revoke_host(store: &dyn Store, id_or_name: &str) -> anyhow::Result<String> {
    let ids = store.find(id_or_name).await?;
    let host_id = match ids.as_slice() {
        [one] => one.clone(),
        [] => id_or_name.to_owned(),
        many => anyhow::bail!("{} hosts are named {id_or_name:?}; revoke one by id: {}", many.len(), many.join(", ")),
    };
    if !store.revoke_host(&host_id, unix_now()).await? {
        anyhow::bail!("no host {id_or_name:?} to revoke (unknown, or already revoked)");
    }
    tracing::info!(%host_id, "host revoked");
    Ok(format!(
        "revoked host {host_id}: its node key is refused from now on, and it cannot enroll again until \
         `host delete {host_id}`\n"
    ))
}

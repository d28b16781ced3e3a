//! The HTTP side of `serve --http ADDR`: the dashboard, the JSON API, `/metrics`, health probes.
//!
//! - `/` and `/hosts/{id}` are rendered on the server ([`html`]): the page the server sends
//!   holds the host names and the SVG charts; it loads nothing else (no script, no CDN).
//! - `/api/v1/...` answers JSON (and the CSV report); `/api/v1/openapi.json` documents it.
//! - `/metrics` is the Prometheus text format (OpenMetrics when the scraper asks for it).
//!
//! On loopback every request but the health probes must name a loopback host in its `Host`
//! header (so a web page elsewhere cannot reach the dashboard through DNS rebinding). Any other
//! address needs an admin token on every request but the health probes ([`check_bind_address`]
//! refuses to start without one), as `Authorization: Bearer TOKEN` or HTTP Basic with the token
//! as the password. With `--tls-cert`/`--tls-key` (or `--http-tls-cert`/`--http-tls-key`) the
//! listener serves HTTPS; connections go through [`crate::listen`] (deadlines and caps).

pub mod html;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use azver_core::{Role, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::baseline::{Served, SharedBaseline, current_baseline};
use crate::clock::unix_now;
use crate::config::Config;
use crate::detail::{HostDetail, host_detail};
use crate::housekeeping::day_of;
use crate::metrics::{self, Metrics};
use crate::policy;
use crate::reports::{self, Filters};
use crate::store::query::{HostFilter, PageRequest};
use crate::store::{DailyCount, Store, StoreError, StoredHost};
use crate::summary::{self, FleetCounts};

/// Hosts per page of `GET /api/v1/hosts` unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 1000;
/// How many days the compliance-over-time chart and `summary.trend` cover.
pub const TREND_DAYS: i64 = 90;

/// Refuses to serve the unauthenticated dashboard anywhere but on loopback, and admin tokens in
/// plain text off loopback unless the admin says a proxy encrypts them.
pub fn check_bind_address(
    address: SocketAddr,
    tokens_exist: bool,
    tls: bool,
    allow_plaintext: bool,
) -> Result<(), String> {
    if address.ip().is_loopback() {
        return Ok(());
    }
    if !tokens_exist {
        return Err(format!(
            "refusing to serve HTTP on {address}, a non-loopback address, without an admin token: create one with \
             `azver-collector token create --db ...` (requests must then carry it), or keep --http on loopback"
        ));
    }
    if !tls && !allow_plaintext {
        return Err(format!(
            "refusing to serve HTTP on {address} in plain text: admin tokens would cross the network unencrypted. \
             Give --tls-cert and --tls-key (the dashboard then serves HTTPS; see docs/SECURITY.md), or put a TLS \
             reverse proxy in front and pass --allow-plaintext, or keep --http on loopback"
        ));
    }
    Ok(())
}

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The store `serve` writes to.
    pub store: Arc<dyn Store>,
    /// The current baseline (replaced on SIGHUP).
    pub baseline: SharedBaseline,
    /// Staleness settings.
    pub config: Arc<Config>,
    /// Counters and histograms shared with the gRPC service.
    pub metrics: Arc<Metrics>,
    /// Every request but `/healthz` and `/readyz` needs an admin token (a non-loopback
    /// listener); otherwise only loopback `Host` names are served.
    pub require_token: bool,
    /// The `/metrics` gauges, recomputed at most every few seconds.
    pub gauges: Arc<metrics::GaugeCache>,
    /// The counts over every host (unfiltered dashboard, summary, `/metrics`), refreshed in the
    /// background once a few seconds old.
    pub counts: Arc<summary::CountsCache>,
    /// Whether the store's last write worked (`/readyz`).
    pub write_health: Arc<crate::health::WriteHealth>,
}

/// The router: every route, the latency histogram, the loopback `Host` check and the security
/// headers.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/hosts/{id}", get(host_page))
        .route("/api/v1/summary", get(api_summary))
        .route("/api/v1/hosts", get(api_hosts))
        .route("/api/v1/hosts/{id}", get(api_host))
        .route("/api/v1/report.csv", get(api_csv))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Serves `router(state)` on `listener` (HTTPS with `tls`) through `gate` until `shutdown`
/// completes, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    gate: Arc<crate::listen::Gate>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::listen::serve_http(listener, gate, tls, router(state), shutdown).await
}

/// Times each request under its route pattern (never the raw path: host ids are not labels).
async fn observe(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe_http(&route, &method, started.elapsed());
    response
}

/// True when a `Host` header names this machine's loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':')
            .map_or(host, |(name, port)| if port.chars().all(|c| c.is_ascii_digit()) { name } else { host })
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The token of an `Authorization` header: `Bearer TOKEN`, or HTTP Basic with the token as the
/// password (so a browser can ask for it).
fn presented_token(request: &Request) -> Option<String> {
    use base64::Engine as _;
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text.split_once(':').map(|(_, password)| password.to_owned());
    }
    None
}

/// The health probes, open to any client and any `Host` name.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Checks the admin token where one is required.
async fn authorized(state: &HttpState, path: &str, token: Option<String>) -> Result<(), Response> {
    if !state.require_token || is_probe(path) {
        return Ok(());
    }
    let challenge = || {
        let mut response =
            (StatusCode::UNAUTHORIZED, "an admin token is required (`azver-collector token create`)\n").into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"azver\", charset=\"UTF-8\""));
        response
    };
    let Some(token) = token else { return Err(challenge()) };
    match state.store.authenticate_admin_token(&crate::auth::digest(&token), unix_now()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(challenge()),
        Err(error) => {
            tracing::error!(%error, "checking an admin token failed");
            Err((StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable\n").into_response())
        }
    }
}

/// Refuses requests without a valid admin token where one is required, or for another host name
/// (DNS rebinding) on a loopback listener, and adds the security headers.
async fn guard(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
    // Probes answer whatever name a load balancer or orchestrator uses: they reveal nothing,
    // so DNS rebinding gains nothing from them.
    let probe = is_probe(request.uri().path());
    let mut response = match host {
        Some(host) if !probe && !state.require_token && !is_loopback_host(&host) => (
            StatusCode::MISDIRECTED_REQUEST,
            "this collector serves HTTP on loopback only; use http://127.0.0.1:PORT/\n",
        )
            .into_response(),
        _ => match authorized(&state, request.uri().path(), presented_token(&request)).await {
            Ok(()) => next.run(request).await,
            Err(refusal) => refusal,
        },
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; \
             base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A failed request: JSON for the API, a small page for the HTML routes.
#[derive(Debug)]
struct HttpError {
    status: StatusCode,
    message: String,
    html: bool,
}

impl HttpError {
    fn bad_request(message: String) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message, html: false }
    }

    fn not_found(message: String) -> Self {
        Self { status: StatusCode::NOT_FOUND, message, html: false }
    }

    fn internal(message: String) -> Self {
        tracing::error!(error = %message, "http request failed");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, message, html: false }
    }

    fn into_html(mut self) -> Self {
        self.html = true;
        self
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if self.html {
            let title = format!("{} {}", self.status.as_u16(), self.status.canonical_reason().unwrap_or_default());
            (self.status, Html(html::message_page(&title, &self.message))).into_response()
        } else {
            (self.status, axum::Json(json!({ "error": self.message }))).into_response()
        }
    }
}

impl From<StoreError> for HttpError {
    fn from(error: StoreError) -> Self {
        Self::internal(error.to_string())
    }
}

/// The query parameters of the dashboard and the host list; all optional, empty means unset.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HostQuery {
    /// `developer`, `build-runner` or `server`.
    pub role: Option<String>,
    /// `key=value` (that label with that value) or `key` (that label with any value).
    pub label: Option<String>,
    /// `compliant`, `noncompliant`, `not-applicable` or `stale`.
    pub status: Option<String>,
    /// A product id (`azure-cli`, `Az`, `Az.Accounts`): hosts with it installed.
    pub product: Option<String>,
    /// Page size.
    pub limit: Option<String>,
    /// Hosts to skip (API only).
    pub offset: Option<String>,
    /// Hosts whose name contains this text.
    pub q: Option<String>,
    /// A finding kind (`user-password-sign-in`, ...): hosts with a finding of that kind.
    pub finding: Option<String>,
    /// The page of the dashboard's host list, from 1 (dashboard only).
    pub page: Option<String>,
    /// The `next` cursor of the previous page (API only): pages by key, however deep.
    pub after: Option<String>,
}

/// A page cursor: the last (host name, host id) of a page, as JSON in URL-safe base64.
fn encode_cursor(hostname: &str, host_id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([hostname, host_id]).to_string())
}

fn decode_cursor(text: &str) -> Result<(String, String), String> {
    use base64::Engine as _;
    let bad = || format!("after {text:?} is not a cursor from a previous page's `next`");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
    serde_json::from_slice::<(String, String)>(&bytes).map_err(|_| bad())
}

/// A validated [`HostQuery`].
#[derive(Debug, Clone, Default)]
struct Selection {
    filters: Filters,
    label: Option<(String, Option<String>)>,
    finding: Option<String>,
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn parse_role(text: &str) -> Option<Role> {
    [Role::Developer, Role::BuildRunner, Role::Server].into_iter().find(|r| crate::store::role_name(*r) == text)
}

fn parse_status(text: &str) -> Option<Status> {
    metrics::STATUSES.into_iter().find(|s| s.as_str() == text)
}

impl HostQuery {
    fn selection(&self) -> Result<Selection, String> {
        let role = set(&self.role)
            .map(|r| parse_role(r).ok_or_else(|| format!("role {r:?} is not one of developer, build-runner, server")))
            .transpose()?;
        let status = set(&self.status)
            .map(|s| {
                parse_status(s)
                    .ok_or_else(|| format!("status {s:?} is not one of compliant, noncompliant, not-applicable, stale"))
            })
            .transpose()?;
        let label = set(&self.label).map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (l.to_owned(), None),
        });
        let finding = set(&self.finding)
            .map(|k| {
                metrics::FINDING_KINDS.into_iter().map(metrics::kind_name).find(|name| name == k).ok_or_else(|| {
                    let names: Vec<String> = metrics::FINDING_KINDS.into_iter().map(metrics::kind_name).collect();
                    format!("finding {k:?} is not one of {}", names.join(", "))
                })
            })
            .transpose()?;
        Ok(Selection {
            filters: Filters { status, product: set(&self.product).map(str::to_owned), role },
            label,
            finding,
        })
    }

    fn paging(&self) -> Result<(usize, usize), String> {
        let limit = match set(&self.limit) {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(format!("limit {text:?} must be a number from 1 to {MAX_LIMIT}")),
            },
        };
        let offset = match set(&self.offset) {
            None => 0,
            Some(text) => text.parse::<usize>().map_err(|_| format!("offset {text:?} must be a number, 0 or more"))?,
        };
        Ok((limit, offset))
    }

    fn form(&self) -> html::FormValues {
        let value = |v: &Option<String>| set(v).unwrap_or_default().to_owned();
        html::FormValues {
            role: value(&self.role),
            label: value(&self.label),
            status: value(&self.status),
            product: value(&self.product),
            q: value(&self.q),
            finding: value(&self.finding),
        }
    }
}

/// The database's selection for a validated query: its filters and the name search `q`.
fn host_filter(selection: &Selection, q: &Option<String>) -> HostFilter {
    HostFilter {
        status: selection.filters.status,
        role: selection.filters.role,
        label: selection.label.clone(),
        product: selection.filters.product.clone(),
        name: set(q).map(str::to_owned),
        finding: selection.finding.clone(),
        action: None,
    }
}

/// The counts over the hosts `filter` selects: from the shared cache for every host (at most a
/// few seconds old), else counted now.
async fn counts(
    state: &HttpState,
    served: &Arc<Served>,
    filter: &HostFilter,
    now: i64,
) -> Result<Arc<FleetCounts>, StoreError> {
    if *filter == HostFilter::default() {
        return state.counts.get(&state.store, served, &state.config, Instant::now(), now).await;
    }
    Ok(Arc::new(summary::count(&*state.store, served, &state.config, filter, now).await?))
}

/// The last [`TREND_DAYS`] of roll-ups, with today replaced by a live count, restricted to
/// `role` when given. The live count is `counts` when they cover every host of the role (no
/// other filter), otherwise one aggregate query over the hosts.
async fn trend(
    state: &HttpState,
    served: &Arc<Served>,
    counts: &Arc<FleetCounts>,
    filter: &HostFilter,
    now: i64,
) -> Result<Vec<html::TrendPoint>, HttpError> {
    let since = day_of(now - TREND_DAYS * 86_400);
    let stored = state.store.daily(&since).await?;
    let today = day_of(now);
    let role = filter.role;
    // Today's point counts every host (of the role), as the roll-ups did: the counts shown when
    // nothing else is selected, else the shared counts over every host (milliseconds, from the
    // counts kept at write time), never a walk of every host.
    let whole = if *filter == (HostFilter { role, ..HostFilter::default() }) {
        counts.clone()
    } else {
        state.counts.get(&state.store, served, &state.config, Instant::now(), now).await?
    };
    let live: Vec<DailyCount> = whole
        .statuses
        .iter()
        .map(|((role, status), hosts)| DailyCount {
            day: today.clone(),
            role: role.clone(),
            status: status.as_str().to_owned(),
            hosts: *hosts,
        })
        .collect();
    let role_text = role.map(crate::store::role_name);
    let mut days: BTreeMap<String, BTreeMap<Status, u64>> = BTreeMap::new();
    for row in stored.iter().filter(|r| r.day != today).chain(live.iter()) {
        if role_text.is_some_and(|r| r != row.role) {
            continue;
        }
        let Some(status) = parse_status(&row.status) else { continue };
        let counts = days.entry(row.day.clone()).or_default();
        *counts.entry(status).or_default() += row.hosts;
    }
    Ok(days.into_iter().map(|(day, by_status)| html::TrendPoint { day, by_status }).collect())
}

/// Up to `limit` hosts `filter` selects, after `after` and `offset` of them, filtered, ordered
/// and paged by the database. With a status filter, a host not re-evaluated yet is evaluated
/// here and may be dropped, so a page may take more reads.
async fn select(
    state: &HttpState,
    served: &Arc<Served>,
    filter: &HostFilter,
    after: Option<(String, String)>,
    offset: usize,
    limit: usize,
    now: i64,
) -> Result<Vec<StoredHost>, HttpError> {
    let mut hosts: Vec<StoredHost> = Vec::with_capacity(limit);
    // Counts however old only choose the plan (see `FleetCounts::sparse`); by status or need of
    // action, counted first if none are kept yet (the first page after start would walk every
    // host for a status few have: seconds at 1,000,000 hosts, against milliseconds to count).
    let wanted = offset.saturating_add(limit);
    let shared = match (filter.status, filter.action) {
        (None, None) => None,
        _ => Some(state.counts.get(&state.store, served, &state.config, Instant::now(), now).await?),
    };
    let sparse = shared.is_some_and(|c| c.sparse(filter, wanted));
    let members = few_members(state, served, filter, wanted, now).await?;
    let mut request = PageRequest { filter: filter.clone(), after, offset, limit, sparse, members };
    loop {
        let page = state.store.page(&request, &state.config, &served.digest, now).await?;
        let full = page.len() == limit;
        request.offset = 0;
        request.after = page.last().map(|h| (h.facts.hostname.clone(), h.host_id().to_owned())).or(request.after);
        hosts.extend(page.into_iter().filter(|h| {
            if filter.status.is_none() && filter.finding.is_none() {
                return true;
            }
            let evaluation = policy::evaluate_served(h, served, &state.config, now);
            filter.status.is_none_or(|s| evaluation.status == s)
                && filter.finding.as_ref().is_none_or(|k| summary::has_finding(&evaluation.findings, k))
        }));
        if hosts.len() >= limit || !full {
            break;
        }
    }
    hosts.truncate(limit);
    Ok(hosts)
}

/// Whether the hosts with `filter`'s label (or else product) are so few that a page of `wanted`
/// is found sooner from them than by walking every host in name order: fewer than the walk would
/// read, about `wanted` × hosts / them (both counts are kept at write time: milliseconds).
async fn few_members(
    state: &HttpState,
    served: &Served,
    filter: &HostFilter,
    wanted: usize,
    now: i64,
) -> Result<bool, StoreError> {
    let by = match (&filter.label, &filter.product) {
        (Some(label), _) => HostFilter { label: Some(label.clone()), ..HostFilter::default() },
        (None, Some(product)) => HostFilter { product: Some(product.clone()), ..HostFilter::default() },
        (None, None) => return Ok(false),
    };
    let (config, digest) = (&state.config, &served.digest);
    let them = u128::from(state.store.count(&by, config, digest, now).await?);
    let hosts = u128::from(state.store.count(&HostFilter::default(), config, digest, now).await?);
    Ok(them.saturating_mul(them) < hosts.saturating_mul(u128::try_from(wanted).unwrap_or(u128::MAX)))
}

/// The hosts as reports show them, evaluated against `served`, revoked ones marked.
async fn entries(
    state: &HttpState,
    served: &Served,
    hosts: &[StoredHost],
    now: i64,
) -> Result<Vec<reports::HostEntry>, HttpError> {
    let revoked = if hosts.is_empty() { Vec::new() } else { state.store.revoked_hosts().await? };
    Ok(hosts
        .iter()
        .map(|h| {
            let mut entry = reports::entry(h, policy::evaluate_served(h, served, &state.config, now));
            entry.revoked_at = reports::revoked_at(&revoked, h.host_id());
            entry
        })
        .collect())
}

/// Hosts per page of the dashboard's list unless `limit` says otherwise.
pub const DASHBOARD_LIMIT: usize = 50;

/// The dashboard: counts from aggregate queries, and one page of the hosts, those that need
/// action first (stale, noncompliant, not evaluated yet), then the others; each part ordered by
/// host name. With a status filter the page lists the hosts with that status.
async fn dashboard(State(state): State<HttpState>, Query(query): Query<HostQuery>) -> Result<Html<String>, HttpError> {
    let bad = |m: String| HttpError::bad_request(m).into_html();
    let selection = query.selection().map_err(bad)?;
    let limit = match set(&query.limit) {
        None => DASHBOARD_LIMIT,
        Some(_) => query.paging().map_err(bad)?.0,
    };
    let page = match set(&query.page) {
        None => 1,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(bad(format!("page {text:?} must be a number, 1 or more"))),
        },
    };
    let filter = host_filter(&selection, &query.q);
    let (served, now) = (current_baseline(&state.baseline), unix_now());
    let html_error = HttpError::into_html;
    let counts = counts(&state, &served, &filter, now).await.map_err(|e| html_error(e.into()))?;
    let trend = trend(&state, &served, &counts, &filter, now).await.map_err(html_error)?;
    let offset = (page - 1).saturating_mul(limit);
    let summary = counts.summary(&served);
    let total = match filter.status {
        Some(status) => summary.by_status.get(&status).copied().unwrap_or(0),
        None => summary.hosts,
    };
    // None counted now (the shared counts may be a few seconds old): no page to look for (in
    // every host, for a finding no host has).
    let hosts = if total == 0 && filter != HostFilter::default() {
        Vec::new()
    } else if filter.status.is_some() {
        select(&state, &served, &filter, None, offset, limit, now).await.map_err(html_error)?
    } else {
        let first = usize::try_from(counts.action).unwrap_or(usize::MAX);
        let mut hosts = Vec::new();
        if offset < first {
            let action = HostFilter { action: Some(true), ..filter.clone() };
            hosts = select(&state, &served, &action, None, offset, limit, now).await.map_err(html_error)?;
        }
        if hosts.len() < limit {
            let rest = HostFilter { action: Some(false), ..filter.clone() };
            let skip = offset.saturating_sub(first);
            hosts.extend(
                select(&state, &served, &rest, None, skip, limit - hosts.len(), now).await.map_err(html_error)?,
            );
        }
        hosts
    };
    let hosts = entries(&state, &served, &hosts, now).await.map_err(html_error)?;
    let jobs = password_jobs(&state, &served, &filter, &counts, now).await.map_err(html_error)?;
    let mut products: Vec<String> = served.products().map(|(p, _)| p.to_owned()).collect();
    for product in counts.products().into_iter().chain(filter.product.clone()) {
        if !products.contains(&product) {
            products.push(product);
        }
    }
    let form = query.form();
    let view = html::DashboardView {
        generated_at: &reports::rfc3339(now),
        baseline: &reports::baseline_entries(&served),
        summary: &summary,
        findings: &counts.findings,
        below: &counts.below,
        trend: &trend,
        form: &form,
        products: &products,
        hosts: &hosts,
        page,
        limit,
        total,
        action: if filter.status.is_some() { None } else { Some(counts.action) },
        jobs: &jobs,
    };
    Ok(Html(html::dashboard(&view)))
}

/// Hosts the dashboard's "Jobs that sign in as a user" section lists (a link leads to all).
pub const JOB_HOSTS: usize = 10;

/// The first [`JOB_HOSTS`] hosts of `filter` (by name) with a job that signs in as a user, as
/// the dashboard's section lists them; no query at all when the counts hold no such finding.
async fn password_jobs(
    state: &HttpState,
    served: &Arc<Served>,
    filter: &HostFilter,
    counts: &FleetCounts,
    now: i64,
) -> Result<Vec<reports::HostEntry>, HttpError> {
    let kind = metrics::kind_name(azver_core::FindingKind::UserPasswordSignIn);
    if counts.findings.get(&kind).copied().unwrap_or(0) == 0 {
        return Ok(Vec::new());
    }
    let jobs = HostFilter { finding: Some(kind), ..filter.clone() };
    let hosts = select(state, served, &jobs, None, 0, JOB_HOSTS, now).await?;
    entries(state, served, &hosts, now).await
}

async fn detail(state: &HttpState, id: String) -> Result<HostDetail, HttpError> {
    let host = state.store.host(&id).await?.ok_or_else(|| HttpError::not_found(format!("no host with id {id:?}")))?;
    let history = state.store.history(&id).await?;
    let mut detail = host_detail(&host, history, &current_baseline(&state.baseline), &state.config, unix_now());
    let revoked = state.store.revoked_hosts().await?;
    detail.entry.revoked_at = reports::revoked_at(&revoked, &id);
    Ok(detail)
}

async fn host_page(State(state): State<HttpState>, Path(id): Path<String>) -> Result<Html<String>, HttpError> {
    let detail = detail(&state, id).await.map_err(HttpError::into_html)?;
    Ok(Html(html::host_page(&detail)))
}

async fn api_host(State(state): State<HttpState>, Path(id): Path<String>) -> Result<axum::Json<HostDetail>, HttpError> {
    Ok(axum::Json(detail(&state, id).await?))
}

/// `GET /api/v1/summary`.
#[derive(Debug, Serialize)]
struct SummaryResponse {
    generated_at: String,
    baseline: BTreeMap<String, reports::BaselineEntry>,
    summary: reports::Summary,
    /// Compliant hosts over hosts the baseline applies to, 0 to 100; null with none.
    compliance_percent: Option<f64>,
    findings: BTreeMap<String, u64>,
    trend: Vec<TrendDay>,
}

#[derive(Debug, Serialize)]
struct TrendDay {
    day: String,
    by_status: BTreeMap<Status, u64>,
    compliance_percent: Option<f64>,
}

fn round1(share: f64) -> f64 {
    (share * 1000.0).round() / 10.0
}

/// `GET /api/v1/summary`: aggregate queries, never the hosts themselves.
async fn api_summary(
    State(state): State<HttpState>,
    Query(query): Query<HostQuery>,
) -> Result<axum::Json<SummaryResponse>, HttpError> {
    let selection = query.selection().map_err(HttpError::bad_request)?;
    let filter = host_filter(&selection, &query.q);
    let (served, now) = (current_baseline(&state.baseline), unix_now());
    let counts = counts(&state, &served, &filter, now).await?;
    let trend = trend(&state, &served, &counts, &filter, now).await?;
    let summary = counts.summary(&served);
    Ok(axum::Json(SummaryResponse {
        compliance_percent: html::compliance(&summary).map(round1),
        generated_at: reports::rfc3339(now),
        baseline: reports::baseline_entries(&served),
        summary,
        findings: counts.findings.clone(),
        trend: trend
            .into_iter()
            .map(|p| TrendDay { compliance_percent: p.compliance().map(round1), day: p.day, by_status: p.by_status })
            .collect(),
    }))
}

/// `GET /api/v1/hosts`.
#[derive(Debug, Serialize)]
struct HostsResponse {
    /// Hosts matching the filters, before paging.
    total: usize,
    offset: usize,
    limit: usize,
    hosts: Vec<reports::HostEntry>,
    /// Pass as `after` for the next page; `null` on the last page.
    next: Option<String>,
}

async fn api_hosts(
    State(state): State<HttpState>,
    Query(query): Query<HostQuery>,
) -> Result<axum::Json<HostsResponse>, HttpError> {
    let selection = query.selection().map_err(HttpError::bad_request)?;
    let (limit, offset) = query.paging().map_err(HttpError::bad_request)?;
    let after = set(&query.after).map(decode_cursor).transpose().map_err(HttpError::bad_request)?;
    let filter = host_filter(&selection, &query.q);
    let (served, now) = (current_baseline(&state.baseline), unix_now());
    // The total first: when it says none, no page is read (a finding no host has would be
    // looked for in every host, in name order). Selected by role and status alone, it is in the
    // cached counts (at most a few seconds old); otherwise the database counts the selection
    // (from the counts kept at write time when they answer: milliseconds).
    let cached = (filter == HostFilter { status: filter.status, role: filter.role, ..HostFilter::default() })
        .then(|| state.counts.cached(&state.store, &served, &state.config, Instant::now(), now))
        .flatten();
    let counted_now = cached.is_none();
    let total = match cached {
        Some(counts) => counts
            .statuses
            .iter()
            .filter(|((role, status), _)| {
                filter.role.is_none_or(|r| crate::store::role_name(r) == role)
                    && filter.status.is_none_or(|s| s == *status)
            })
            .map(|(_, n)| *n)
            .sum(),
        None => state.store.count(&filter, &state.config, &served.digest, now).await?,
    };
    // Counted now (not cached): none means no page to read.
    let hosts = match (total, counted_now) {
        (0, true) => Vec::new(),
        _ => select(&state, &served, &filter, after, offset, limit, now).await?,
    };
    let next =
        (hosts.len() == limit).then(|| hosts.last().map(|h| encode_cursor(&h.facts.hostname, h.host_id()))).flatten();
    Ok(axum::Json(HostsResponse {
        total: usize::try_from(total).unwrap_or(usize::MAX),
        offset,
        limit,
        hosts: entries(&state, &served, &hosts, now).await?,
        next,
    }))
}

/// Pages of hosts in flight between the database and the client of `report.csv`.
const CSV_CHUNKS: usize = 4;

/// `GET /api/v1/report.csv`: streamed a page of hosts at a time, so memory stays bounded
/// however large the fleet. An error after the first bytes ends the download early (logged).
async fn api_csv(State(state): State<HttpState>, Query(query): Query<HostQuery>) -> Result<Response, HttpError> {
    let selection = query.selection().map_err(HttpError::bad_request)?;
    let filter = host_filter(&selection, &query.q);
    let (served, now) = (current_baseline(&state.baseline), unix_now());
    let mut stream = reports::HostStream::new(state.store.clone(), served, state.config.clone(), filter, now).await?;
    let start = reports::csv_start().map_err(|e| HttpError::internal(format!("writing CSV: {e}")))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(CSV_CHUNKS);
    tokio::spawn(async move {
        if tx.send(Ok(start)).await.is_err() {
            return;
        }
        loop {
            let chunk = match stream.next().await {
                Ok(Some(hosts)) => {
                    let mut out = Vec::new();
                    reports::csv_rows(&hosts, &mut out).map(|()| out).map_err(std::io::Error::other)
                }
                Ok(None) => return,
                Err(error) => {
                    tracing::error!(%error, "the CSV report stopped early");
                    Err(std::io::Error::other(error))
                }
            };
            let failed = chunk.is_err();
            // The client went away: stop reading the store.
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let disposition = format!("attachment; filename=\"azver-fleet-{}.csv\"", day_of(now));
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        body,
    )
        .into_response())
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The fleet gauges now, from aggregate queries (`summary::count` over every host).
async fn fleet_gauges(state: &HttpState) -> Result<metrics::FleetGauges, StoreError> {
    let served = current_baseline(&state.baseline);
    let counts = counts(state, &served, &HostFilter::default(), unix_now()).await?;
    let stats = state.store.stats().await?;
    let mut fleet = metrics::FleetGauges::from_counts(&counts, &served);
    fleet.db_size_bytes = i64::try_from(stats.bytes).unwrap_or(i64::MAX);
    fleet.snapshots = i64::try_from(stats.snapshots).unwrap_or(i64::MAX);
    Ok(fleet)
}

async fn metrics_text(State(state): State<HttpState>, headers: HeaderMap) -> Result<Response, HttpError> {
    // Scrapes share one computation per period (`GaugeCache`), however many scrapers there are.
    let fleet = state.gauges.get(Instant::now(), fleet_gauges(&state)).await?;
    let openmetrics = state.metrics.render(&fleet);
    let wants_openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    Ok(if wants_openmetrics {
        ([(header::CONTENT_TYPE, OPENMETRICS)], openmetrics).into_response()
    } else {
        ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], metrics::to_prometheus_text(&openmetrics)).into_response()
    })
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the database answers and its last write worked (a full disk answers reads but
/// refuses every report).
async fn readyz(State(state): State<HttpState>) -> Response {
    if let Err(error) = state.write_health.check() {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {error}\n")).into_response();
    }
    match state.store.stats().await {
        Ok(_) => "ready\n".into_response(),
        Err(error) => {
            tracing::error!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {error}\n")).into_response()
        }
    }
}

async fn not_found(request: Request) -> HttpError {
    let path = request.uri().path().to_owned();
    let error = HttpError::not_found(format!("nothing at {path}"));
    if path.starts_with("/api/") { error } else { error.into_html() }
}

async fn openapi() -> axum::Json<Value> {
    axum::Json(openapi_document())
}

/// The OpenAPI 3 document of the HTTP API (hand-written; a test checks every path answers).
pub fn openapi_document() -> Value {
    let finding_kinds: Vec<String> = metrics::FINDING_KINDS.into_iter().map(metrics::kind_name).collect();
    let filters = json!([
        { "name": "role", "in": "query", "schema": { "type": "string", "enum": ["developer", "build-runner", "server"] } },
        { "name": "status", "in": "query", "schema": { "type": "string", "enum": ["compliant", "noncompliant", "not-applicable", "stale"] } },
        { "name": "product", "in": "query", "description": "hosts with this product installed", "schema": { "type": "string" } },
        { "name": "label", "in": "query", "description": "`key=value`, or `key` for any value", "schema": { "type": "string" } },
        { "name": "q", "in": "query", "description": "hosts whose name contains this text", "schema": { "type": "string" } },
        { "name": "finding", "in": "query", "description": "hosts with a finding of this kind", "schema": { "type": "string", "enum": finding_kinds } }
    ]);
    let mut paged = filters.as_array().cloned().unwrap_or_default();
    paged.push(json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT } }));
    paged.push(json!({ "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "default": 0 } }));
    paged.push(json!({ "name": "after", "in": "query", "description": "the `next` cursor of the previous page", "schema": { "type": "string" } }));
    let error = json!({ "description": "bad parameter", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let id = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "host id" }]);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "azver collector API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Fleet compliance of Azure command-line clients. Statuses are evaluated at read time against the collector's current baseline."
        },
        "paths": {
            "/api/v1/summary": { "get": {
                "summary": "Counts per status, versions per product, findings per kind, daily compliance",
                "parameters": filters,
                "responses": { "200": { "description": "summary", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Summary" } } } }, "400": error }
            } },
            "/api/v1/hosts": { "get": {
                "summary": "Hosts with status, findings and upgrade hints, ordered by host name",
                "parameters": paged,
                "responses": { "200": { "description": "one page of hosts", "content": { "application/json": { "schema": {
                    "type": "object", "required": ["total", "offset", "limit", "hosts"],
                    "properties": {
                        "total": { "type": "integer", "description": "hosts matching the filters" },
                        "offset": { "type": "integer" }, "limit": { "type": "integer" },
                        "hosts": { "type": "array", "items": { "$ref": "#/components/schemas/Host" } },
                        "next": { "type": "string", "nullable": true, "description": "pass as `after` for the next page" }
                    } } } } }, "400": error }
            } },
            "/api/v1/hosts/{id}": { "get": {
                "summary": "One host: installations, identities, findings, scan errors, history of changes",
                "parameters": id,
                "responses": { "200": { "description": "the host", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/HostDetail" } } } },
                               "404": { "description": "no such host", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } }
            } },
            "/api/v1/report.csv": { "get": {
                "summary": "The fleet report as CSV (as `azver-collector report --format csv`)",
                "parameters": filters,
                "responses": { "200": { "description": "UTF-8 CSV with a byte-order mark, CRLF", "content": { "text/csv": { "schema": { "type": "string" } } } }, "400": error }
            } },
            "/api/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3", "content": { "application/json": { "schema": { "type": "object" } } } } }
            } },
            "/metrics": { "get": {
                "summary": "Prometheus metrics (OpenMetrics when the Accept header asks for it)",
                "responses": { "200": { "description": "text exposition", "content": { "text/plain": { "schema": { "type": "string" } } } } }
            } },
            "/healthz": { "get": { "summary": "Liveness", "responses": { "200": { "description": "the process answers" } } } },
            "/readyz": { "get": { "summary": "Readiness: the database answers and its last write worked", "responses": { "200": { "description": "ready" }, "503": { "description": "the database does not answer, or the last write failed (disk full) within the last 30 s" } } } }
        },
        "components": { "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
            "Status": { "type": "string", "enum": ["compliant", "noncompliant", "not-applicable", "stale"] },
            "Finding": { "type": "object", "properties": {
                "kind": { "type": "string", "enum": ["below-baseline", "unparseable-version", "human-identity-on-build-runner", "human-identity", "unknown-version", "retired-module"] },
                "severity": { "type": "string" }, "product": { "type": "string" }, "installed": { "type": "string" },
                "required": { "type": "string" }, "path": { "type": "string" }, "source": { "type": "string" },
                "hint": { "type": "string", "description": "upgrade command or what to do" } } },
            "Host": { "type": "object", "required": ["host_id", "hostname", "status"], "properties": {
                "host_id": { "type": "string" }, "hostname": { "type": "string", "description": "as the agent sent it; escape before display" },
                "role": { "type": "string", "nullable": true }, "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                "status": { "$ref": "#/components/schemas/Status" }, "last_seen": { "type": "string", "format": "date-time" },
                "first_seen": { "type": "string", "format": "date-time" }, "clock_skew_seconds": { "type": "integer" },
                "findings": { "type": "array", "items": { "$ref": "#/components/schemas/Finding" } },
                "installations": { "type": "array", "items": { "type": "object" } },
                "identities": { "type": "array", "items": { "type": "object" } },
                "scan_errors": { "type": "integer" },
                "revoked_at": { "type": "string", "format": "date-time" }, "ci_system": { "type": "string" },
                "omitted": { "type": "object", "description": "entries the agent left out of its last report to stay within the limits", "properties": {
                    "installations": { "type": "integer" }, "identities": { "type": "integer" }, "errors": { "type": "integer" }, "job_sign_ins": { "type": "integer" }, "reduced": { "type": "boolean" } } } } },
            "HostDetail": { "allOf": [ { "$ref": "#/components/schemas/Host" }, { "type": "object", "properties": {
                "facts": { "type": "object" },
                "errors": { "type": "array", "items": { "type": "object", "properties": { "path": { "type": "string" }, "kind": { "type": "string" }, "message": { "type": "string" } } } },
                "history": { "type": "array", "items": { "type": "object", "properties": {
                    "at": { "type": "string", "format": "date-time" }, "change": { "type": "string", "enum": ["inventory", "hostname"] },
                    "hostname": { "type": "string" }, "installations": { "type": "array", "items": { "type": "object" } } } } } } } ] },
            "Summary": { "type": "object", "properties": {
                "generated_at": { "type": "string", "format": "date-time" },
                "baseline": { "type": "object", "additionalProperties": { "type": "object", "properties": { "minimum": { "type": "string" }, "rule": { "type": "string" } } } },
                "summary": { "type": "object", "properties": {
                    "hosts": { "type": "integer" },
                    "by_status": { "type": "object", "additionalProperties": { "type": "integer" } },
                    "products": { "type": "object", "additionalProperties": { "type": "object", "additionalProperties": { "type": "integer" } } } } },
                "compliance_percent": { "type": "number", "nullable": true },
                "findings": { "type": "object", "additionalProperties": { "type": "integer" } },
                "trend": { "type": "array", "items": { "type": "object", "properties": {
                    "day": { "type": "string", "format": "date" },
                    "by_status": { "type": "object", "additionalProperties": { "type": "integer" } },
                    "compliance_percent": { "type": "number", "nullable": true } } } } } }
        } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_addresses_need_an_admin_token_and_consent_to_plain_text() {
        assert!(check_bind_address("127.0.0.1:8080".parse().unwrap(), false, false, false).is_ok());
        assert!(check_bind_address("[::1]:0".parse().unwrap(), false, false, false).is_ok());
        let error = check_bind_address("0.0.0.0:8080".parse().unwrap(), false, true, true).unwrap_err();
        assert!(error.contains("refusing to serve HTTP on 0.0.0.0:8080") && error.contains("token create"), "{error}");
        let plain = check_bind_address("192.168.1.10:80".parse().unwrap(), true, false, false).unwrap_err();
        assert!(plain.contains("--allow-plaintext"), "{plain}");
        assert!(check_bind_address("192.168.1.10:80".parse().unwrap(), true, false, true).is_ok());
        // HTTPS needs no proxy: tokens cross the network encrypted.
        assert!(check_bind_address("192.168.1.10:80".parse().unwrap(), true, true, false).is_ok());
    }

    #[test]
    fn host_headers_must_name_loopback() {
        for host in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:9000", "127.1.2.3"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["evil.example", "evil.example:80", "10.0.0.1:80", "[fe80::1]:80", "localhost.evil.example"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = encode_cursor("web \"1\"/ä", "id-1");
        assert!(cursor.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{cursor}");
        assert_eq!(decode_cursor(&cursor), Ok(("web \"1\"/ä".to_owned(), "id-1".to_owned())));
        for bad in ["", "!!!", "WzFd", "bm90IGpzb24"] {
            assert!(decode_cursor(bad).unwrap_err().contains("not a cursor"), "{bad}");
        }
    }

    #[test]
    fn queries_are_validated_with_messages() {
        let query = |role: &str, status: &str, label: &str, limit: &str| HostQuery {
            role: Some(role.into()),
            status: Some(status.into()),
            label: Some(label.into()),
            limit: Some(limit.into()),
            ..HostQuery::default()
        };
        let ok = query("build-runner", "stale", "team=web", "").selection().unwrap();
        assert_eq!(ok.filters.role, Some(Role::BuildRunner));
        assert_eq!(ok.filters.status, Some(Status::Stale));
        assert_eq!(ok.label, Some(("team".into(), Some("web".into()))));
        assert_eq!(query("", "", "ephemeral", "").selection().unwrap().label, Some(("ephemeral".into(), None)));
        assert!(query("admin", "", "", "").selection().unwrap_err().contains("role \"admin\""));
        assert!(query("", "green", "", "").selection().unwrap_err().contains("status \"green\""));
        assert_eq!(query("", "", "", "").paging().unwrap(), (DEFAULT_LIMIT, 0));
        assert!(query("", "", "", "0").paging().unwrap_err().contains("limit"));
        assert!(query("", "", "", "5000").paging().is_err());
    }
}

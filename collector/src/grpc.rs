//! The inventory gRPC service: validates each report, stores it, answers with the verdict.
//!
//! Every report is checked against [`Limits`] before anything is stored: a violation is a
//! precise `INVALID_ARGUMENT` naming the field, and nothing of that report is written. Strings
//! within the limits are stored exactly as sent (`<script>` included). Versions that do not
//! parse and timestamps from a skewed clock are stored as sent and marked (an
//! `unparseable-version` finding; the host's `clock_skew`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

use azver_core::Baseline;
use azver_proto::convert;
use azver_proto::v1::inventory_service_server::InventoryService;
use azver_proto::v1::{
    EnrollRequest, EnrollResponse, GetBaselineRequest, GetBaselineResponse, InventoryReport, ReportRequest,
    ReportResponse,
};
use tonic::{Request, Response, Status};

use crate::auth::{Kind, Posture, RateLimiter, digest, generate};
use crate::http::Metrics;
use crate::store::{EnrollOutcome, IncomingReport, IngestOutcome, Store, StoreError};

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
        }
    }
}

/// The baseline the collector evaluates against; replaced on SIGHUP.
pub type SharedBaseline = Arc<RwLock<Arc<Baseline>>>;

/// Reads the current baseline.
pub fn current_baseline(shared: &SharedBaseline) -> Arc<Baseline> {
    shared.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// The `azver.v1.InventoryService` implementation.
#[derive(Debug, Clone)]
pub struct InventoryApi {
    /// Where reports go (SQLite's group-commit writer, or PostgreSQL).
    store: Arc<dyn Store>,
    baseline: SharedBaseline,
    limits: Limits,
    metrics: Arc<Metrics>,
    /// Set once an enrollment secret is seen to exist; never cleared (see [`Posture`]).
    secrets_exist: Arc<AtomicBool>,
    rate: Arc<RateLimiter>,
}

impl InventoryApi {
    /// A service over `store`, evaluating against `baseline`, counting into its own metrics.
    /// `posture` comes from [`Posture::decide`] at start-up.
    pub fn new(store: Arc<dyn Store>, baseline: SharedBaseline, limits: Limits, posture: Posture) -> Self {
        let rate = Arc::new(RateLimiter::new(limits.rate_limit_burst, f64::from(limits.rate_limit_per_second)));
        Self {
            store,
            baseline,
            limits,
            metrics: Arc::default(),
            secrets_exist: Arc::new(AtomicBool::new(!posture.unauthenticated_allowed)),
            rate,
        }
    }

    /// Counts reports received, rejected and deduplicated into `metrics` (shared with `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }
}

/// Seconds since the epoch by the collector's clock.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn enroll(&self, request: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        let request = request.into_inner();
        let host = request.host.ok_or_else(|| Status::invalid_argument("host is missing"))?;
        check_id("host.host_id", &host.host_id, &self.limits)?;
        let secret = request.enroll_secret.trim();
        if secret.is_empty() {
            return Err(Status::unauthenticated("enroll_secret is empty"));
        }
        check_len("enroll_secret", secret, self.limits.max_id_bytes * 2)?;
        self.check_rate(&host.host_id)?;
        let node_key = generate(Kind::NodeKey).map_err(|e| Status::internal(e.to_string()))?;
        let outcome = self
            .store
            .enroll(&digest(secret), &host.host_id, &node_key.digest, unix_now())
            .await
            .map_err(store_status)?;
        let host_id = host.host_id;
        match outcome {
            EnrollOutcome::Enrolled { secret_id } => {
                tracing::info!(%host_id, hostname = %host.hostname, %secret_id, "host enrolled");
                self.secrets_exist.store(true, Ordering::Relaxed);
                Ok(Response::new(EnrollResponse { node_key: node_key.secret, host_id }))
            }
            EnrollOutcome::UnknownSecret => {
                tracing::warn!(%host_id, "enrollment with an unknown secret refused");
                Err(Status::unauthenticated("unknown enrollment secret"))
            }
            EnrollOutcome::SecretRevoked => Err(Status::unauthenticated(
                "this enrollment secret was revoked; ask the administrator for a new one (`azver-collector secret create`)",
            )),
            EnrollOutcome::SecretExpired => Err(Status::unauthenticated(
                "this enrollment secret expired; ask the administrator for a new one (`azver-collector secret create`)",
            )),
            EnrollOutcome::HostRevoked => Err(Status::permission_denied(format!(
                "host {host_id} was revoked by an administrator; it can enroll again only after \
                 `azver-collector host delete {host_id}`"
            ))),
        }
    }

    async fn report(&self, request: Request<ReportRequest>) -> Result<Response<ReportResponse>, Status> {
        self.metrics.report_received();
        let result = self.store_report(request).await;
        match &result {
            Err(status) => self.metrics.report_rejected(status.code()),
            Ok(response) if response.get_ref().duplicate => self.metrics.report_deduplicated(),
            Ok(_) => {}
        }
        result
    }

    async fn get_baseline(
        &self,
        _request: Request<GetBaselineRequest>,
    ) -> Result<Response<GetBaselineResponse>, Status> {
        Ok(Response::new(GetBaselineResponse { baseline_toml: current_baseline(&self.baseline).to_toml() }))
    }
}

impl InventoryApi {
    /// Validates and stores one report; `report` counts the outcome.
    async fn store_report(&self, request: Request<ReportRequest>) -> Result<Response<ReportResponse>, Status> {
        let request = request.into_inner();
        let wire = request.report.ok_or_else(|| Status::invalid_argument("report is missing"))?;
        let incoming = validate(&wire, &self.limits)?;
        let claimed = incoming.host.host_id.as_deref().unwrap_or_default();
        self.authenticate(&request.node_key, claimed).await?;
        self.check_rate(claimed)?;
        // Evaluated before storing so the report can move into the writer without a copy.
        let subject = azver_core::Subject {
            installations: &incoming.installations,
            identities: &incoming.identities,
            role: incoming.host.role,
        };
        let evaluation = current_baseline(&self.baseline).evaluate(&subject);
        let host_id = incoming.host.host_id.clone().unwrap_or_default();
        let report_id = incoming.report_id.clone();
        let outcome = self.store.ingest(incoming, unix_now()).await.map_err(store_status)?;
        let duplicate = outcome == IngestOutcome::Duplicate;
        tracing::debug!(%host_id, %report_id, duplicate, "report stored");
        Ok(Response::new(convert::response_to_wire(&evaluation, duplicate)))
    }
}

impl InventoryApi {
    /// Checks the node key: it must belong to the host the report is about. Without a key the
    /// report passes only while unauthenticated reports are allowed and no secret exists.
    async fn authenticate(&self, node_key: &str, host_id: &str) -> Result<(), Status> {
        if node_key.is_empty() {
            if self.requires_authentication().await? {
                return Err(Status::unauthenticated(
                    "this collector requires enrollment: give the agent an enrollment secret \
                     (`azver-collector secret create`) with --enroll-secret-file or AZVER_ENROLL_SECRET",
                ));
            }
            return Ok(());
        }
        match self.store.authenticate_node_key(&digest(node_key)).await.map_err(store_status)? {
            Some(owner) if owner == host_id => Ok(()),
            Some(owner) => {
                tracing::warn!(%owner, claimed = %host_id, "a node key was used for another host; refused");
                Err(Status::permission_denied(
                    "this node key belongs to another host: a node key only writes its own host",
                ))
            }
            None => Err(Status::unauthenticated(
                "unknown or revoked node key; the agent enrolls again by itself if it holds a valid enrollment secret",
            )),
        }
    }

    /// True once any enrollment secret exists (asked of the store until it does, so a secret made
    /// by the CLI, or by another collector on the same database, takes effect at once).
    async fn requires_authentication(&self) -> Result<bool, Status> {
        if self.secrets_exist.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let exist = self.store.any_enroll_secret_ever().await.map_err(store_status)?;
        if exist {
            self.secrets_exist.store(true, Ordering::Relaxed);
        }
        Ok(exist)
    }

    /// The per-host rate limit: `RESOURCE_EXHAUSTED` with `retry-after` (seconds) when exceeded.
    fn check_rate(&self, host_id: &str) -> Result<(), Status> {
        self.rate.check(host_id, Instant::now()).map_err(|wait| {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut status = Status::resource_exhausted(format!(
                "host {host_id} sends reports faster than the limit ({} at once, then {} per second); \
                 retry after {seconds}s",
                self.limits.rate_limit_burst, self.limits.rate_limit_per_second
            ));
            status.metadata_mut().insert("retry-after", seconds.into());
            status
        })
    }
}

/// Storage failures the agent should retry later (`UNAVAILABLE`), never lose silently.
fn store_status(error: StoreError) -> Status {
    tracing::error!(%error, "storing a report failed");
    Status::unavailable(format!("the collector could not store the report, retry later: {error}"))
}

/// Checks every bound and converts to the domain; the error names the offending field.
pub fn validate(report: &InventoryReport, limits: &Limits) -> Result<IncomingReport, Status> {
    let bad = |message: String| Err(Status::invalid_argument(message));
    let host = report.host.as_ref().ok_or_else(|| Status::invalid_argument("report.host is missing"))?;
    check_id("report.host.host_id", &host.host_id, limits)?;
    check_id("report.report_id", &report.report_id, limits)?;
    if report.sequence == 0 {
        return bad("report.sequence must be 1 or more".into());
    }
    check_len("report.host.hostname", &host.hostname, limits.max_hostname_bytes)?;
    // PostgreSQL text cannot hold NUL; refused here so both stores accept the same reports
    // (other strings are stored inside JSON, where NUL is escaped).
    if host.hostname.contains('\0') {
        return bad("report.host.hostname contains a NUL character".into());
    }
    for (name, value) in [
        ("os_name", &host.os_name),
        ("os_version", &host.os_version),
        ("kernel_version", &host.kernel_version),
        ("architecture", &host.architecture),
        ("agent_version", &host.agent_version),
    ] {
        check_len(format_args!("report.host.{name}"), value, limits.max_string_bytes)?;
    }
    check_count("report.host.labels", host.labels.len(), limits.max_labels)?;
    for (key, value) in &host.labels {
        if key.is_empty() {
            return bad("report.host.labels has an empty key".into());
        }
        check_len("report.host.labels key", key, limits.max_id_bytes)?;
        check_len(format_args!("report.host.labels[{key:?}]"), value, limits.max_string_bytes)?;
    }
    check_count("report.installations", report.installations.len(), limits.max_installations)?;
    for (i, install) in report.installations.iter().enumerate() {
        if install.product.is_empty() {
            return bad(format!("report.installations[{i}].product is empty"));
        }
        for (name, value) in [
            ("product", &install.product),
            ("version", &install.version),
            ("user", &install.user),
            ("path", &install.path),
            ("evidence", &install.evidence),
        ] {
            check_len(format_args!("report.installations[{i}].{name}"), value, limits.max_string_bytes)?;
        }
    }
    check_count("report.identities", report.identities.len(), limits.max_identities)?;
    for (i, identity) in report.identities.iter().enumerate() {
        for (name, value) in [
            ("tool", &identity.tool),
            ("tenant_id", &identity.tenant_id),
            ("cloud", &identity.cloud),
            ("local_user", &identity.local_user),
            ("account_name", &identity.account_name),
            ("path", &identity.path),
        ] {
            check_len(format_args!("report.identities[{i}].{name}"), value, limits.max_string_bytes)?;
        }
    }
    check_count("report.errors", report.errors.len(), limits.max_errors)?;
    for (i, error) in report.errors.iter().enumerate() {
        for (name, value) in [("path", &error.path), ("kind", &error.kind), ("message", &error.message)] {
            check_len(format_args!("report.errors[{i}].{name}"), value, limits.max_string_bytes)?;
        }
    }
    let scanned_at = match &report.scanned_at {
        None => None,
        Some(ts) => {
            // 1970 to 9999: anything else is not a clock, it is garbage.
            if !(0..=253_402_300_799).contains(&ts.seconds) || !(0..1_000_000_000).contains(&ts.nanos) {
                return bad(format!("report.scanned_at is not a valid time ({}s, {}ns)", ts.seconds, ts.nanos));
            }
            Some(ts.seconds)
        }
    };
    Ok(IncomingReport {
        host: convert::report_host_from_wire(report),
        scanned_at,
        report_id: report.report_id.clone(),
        sequence: report.sequence,
        installations: report.installations.iter().map(convert::installation_from_wire).collect(),
        identities: report.identities.iter().map(convert::identity_from_wire).collect(),
        errors: report.errors.iter().map(convert::scan_error_from_wire).collect(),
    })
}

fn check_id(field: &str, value: &str, limits: &Limits) -> Result<(), Status> {
    if value.trim().is_empty() {
        return Err(Status::invalid_argument(format!("{field} is empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(Status::invalid_argument(format!("{field} contains control characters")));
    }
    check_len(field, value, limits.max_id_bytes)
}

/// `field` is formatted only when the check fails: this runs for every string of every report.
fn check_len(field: impl std::fmt::Display, value: &str, max: usize) -> Result<(), Status> {
    if value.len() > max {
        return Err(Status::invalid_argument(format!(
            "{field} is {} bytes long; at most {max} are accepted",
            value.len()
        )));
    }
    Ok(())
}

fn check_count(field: &str, count: usize, max: usize) -> Result<(), Status> {
    if count > max {
        return Err(Status::invalid_argument(format!("{field} has {count} entries; at most {max} are accepted")));
    }
    Ok(())
}

//! The inventory gRPC service: validates each report, stores it, answers with the verdict.
//!
//! Every report is checked against [`Limits`] before anything is stored: a violation is a
//! precise `INVALID_ARGUMENT` naming the field, and nothing of that report is written. Strings
//! within the limits are stored exactly as sent (`<script>` included). Versions that do not
//! parse and timestamps from a skewed clock are stored as sent and marked (an
//! `unparseable-version` finding; the host's `clock_skew`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use azver_proto::convert::{self, Receipt};
use azver_proto::reason::Reason;
use azver_proto::v1::inventory_service_server::InventoryService;
use azver_proto::v1::{
    EnrollRequest, EnrollResponse, GetBaselineRequest, GetBaselineResponse, InventoryReport, ReportRequest,
    ReportResponse,
};
use tonic::{Request, Response, Status};

use std::net::IpAddr;

use crate::auth::{Kind, Posture, RateLimiter, digest, generate};
use crate::baseline::{SharedBaseline, current_baseline};
use crate::clock::unix_now;
use crate::config::Limits;
use crate::health::WriteHealth;
use crate::metrics::Metrics;
use crate::sanitize::LogText;
use crate::store::{EnrollOutcome, IncomingReport, IngestOutcome, Store, StoreError, Verdict};
use crate::throttle::SharedLogThrottle;

/// Failed enrollments one source address may make at once...
const ENROLL_FAILURE_BURST: u32 = 10;
/// ...and per second after that (one every 5 s): a mistyped secret is fixed long before, and
/// nobody guesses a 256-bit secret at any rate.
const ENROLL_FAILURES_PER_SECOND: f64 = 0.2;

/// The source address an enrollment is counted against: the connection's peer (IPv6 by its /64,
/// which one client usually holds whole), or the unspecified address when unknown.
fn enroll_source<T>(request: &Request<T>) -> IpAddr {
    let remote = crate::listen::peer_of(request.extensions()).map(|peer| peer.remote).or_else(|| request.remote_addr());
    remote.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |address| crate::listen::source_key(address.ip()))
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
    /// Failed enrollments per source address.
    enroll_failures: Arc<RateLimiter>,
    /// The outcome of the last write, for `/readyz`.
    health: Arc<WriteHealth>,
    /// Repeated errors are logged once per period, with a count.
    log_throttle: Arc<SharedLogThrottle>,
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
            enroll_failures: Arc::new(RateLimiter::new(ENROLL_FAILURE_BURST, ENROLL_FAILURES_PER_SECOND)),
            health: Arc::default(),
            log_throttle: Arc::new(SharedLogThrottle::new(std::time::Duration::from_secs(10))),
        }
    }

    /// Records the outcome of writes into `health` (shared with `/readyz`).
    pub fn with_write_health(mut self, health: Arc<WriteHealth>) -> Self {
        self.health = health;
        self
    }

    /// Counts reports received, rejected and deduplicated into `metrics` (shared with `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn enroll(&self, request: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        // Failed enrollments are limited per source address, never per host id: a client that
        // does not hold a secret must not spend the rate limit of the host it names.
        let source = enroll_source(&request);
        self.check_enroll_failures(source)?;
        let result = self.enroll_checked(request.into_inner()).await;
        if let Err(status) = &result
            && matches!(
                status.code(),
                tonic::Code::Unauthenticated | tonic::Code::PermissionDenied | tonic::Code::InvalidArgument
            )
        {
            // Only a failure takes a token; the answer already sent says why it failed.
            let _ = self.enroll_failures.check(&source.to_string(), Instant::now());
        }
        result
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
    /// One enrollment, after the per-source check: the secret is authenticated (by the store, in
    /// the same transaction that stores the node key) before anything else is charged.
    async fn enroll_checked(&self, request: EnrollRequest) -> Result<Response<EnrollResponse>, Status> {
        let host = request.host.ok_or_else(|| Status::invalid_argument("host is missing"))?;
        check_id("host.host_id", &host.host_id, &self.limits)?;
        let secret = request.enroll_secret.trim();
        if secret.is_empty() {
            return Err(Status::unauthenticated("enroll_secret is empty"));
        }
        check_len("enroll_secret", secret, self.limits.max_id_bytes * 2)?;
        let node_key = generate(Kind::NodeKey).map_err(|e| Status::internal(e.to_string()))?;
        let outcome = self
            .store
            .enroll(&digest(secret), &host.host_id, &node_key.digest, unix_now())
            .await
            .map_err(|error| self.store_status(error))?;
        let host_id = host.host_id;
        let logged_id = LogText(&host_id);
        match outcome {
            EnrollOutcome::Enrolled { secret_id } => {
                tracing::info!(host_id = %logged_id, hostname = %LogText(&host.hostname), %secret_id, "host enrolled");
                self.secrets_exist.store(true, Ordering::Relaxed);
                Ok(Response::new(EnrollResponse { node_key: node_key.secret, host_id }))
            }
            EnrollOutcome::UnknownSecret => {
                if let Some(suppressed) = self.log_throttle.allow("enrollment refused") {
                    tracing::warn!(host_id = %logged_id, suppressed, "enrollment with an unknown secret refused");
                }
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

    /// Refuses an enrollment from a source address past its failed-enrollment limit.
    fn check_enroll_failures(&self, source: IpAddr) -> Result<(), Status> {
        self.enroll_failures.peek(&source.to_string(), Instant::now()).map_err(|wait| {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Some(suppressed) = self.log_throttle.allow("enrollment failures") {
                tracing::warn!(%source, suppressed, "too many failed enrollments from one address; refusing for now");
            }
            let mut status = Status::resource_exhausted(format!(
                "too many failed enrollments from {source}; check the enrollment secret and retry after {seconds}s"
            ));
            status.metadata_mut().insert("retry-after", seconds.into());
            status
        })
    }

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
            jobs: &incoming.job_sign_ins,
        };
        let baseline = current_baseline(&self.baseline);
        let evaluation = baseline.evaluate(&subject);
        let host_id = incoming.host.host_id.clone().unwrap_or_default();
        let report_id = incoming.report_id.clone();
        let sequence = i64::try_from(incoming.sequence).unwrap_or(i64::MAX);
        // Stored with the report, so reads and aggregates need not evaluate it again.
        let mut incoming = incoming;
        incoming.verdict = Some(Verdict::new(&baseline.digest, evaluation.clone()));
        let outcome = self.store.ingest(incoming, unix_now()).await.map_err(|error| self.store_status(error))?;
        self.write_succeeded();
        tracing::debug!(host_id = %LogText(&host_id), report_id = %LogText(&report_id), ?outcome, "report handled");
        let receipt = match outcome {
            IngestOutcome::Stored { .. } => Receipt::Stored,
            IngestOutcome::Duplicate => Receipt::Duplicate,
            IngestOutcome::Behind { .. } => Receipt::Behind,
        };
        if receipt == Receipt::Stored {
            return Ok(Response::new(convert::receipt_to_wire(&evaluation, receipt, sequence as u64)));
        }
        // Not stored: the verdict is that of the state the collector holds, never of the
        // content it did not store.
        let Some(stored) = self.store.host(&host_id).await.map_err(|error| self.store_status(error))? else {
            return Err(Status::unavailable("the host was deleted while its report was handled; retry later"));
        };
        let subject = azver_core::Subject {
            installations: &stored.installations,
            identities: &stored.identities,
            role: stored.facts.role,
            jobs: &stored.job_sign_ins,
        };
        let held = baseline.evaluate(&subject);
        Ok(Response::new(convert::receipt_to_wire(&held, receipt, u64::try_from(stored.last_sequence).unwrap_or(0))))
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
        match self.store.authenticate_node_key(&digest(node_key)).await.map_err(|error| self.store_status(error))? {
            Some(owner) if owner == host_id => Ok(()),
            Some(owner) => {
                tracing::warn!(%owner, claimed = %LogText(host_id), "a node key was used for another host; refused");
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
        let exist = self.store.any_enroll_secret_ever().await.map_err(|error| self.store_status(error))?;
        if exist {
            self.secrets_exist.store(true, Ordering::Relaxed);
        }
        Ok(exist)
    }

    /// Storage failures the agent should retry later (`UNAVAILABLE`), never lose silently. The
    /// failure is remembered for `/readyz` and logged at most once per period per kind of error
    /// (a full disk fails every write the same way).
    fn store_status(&self, error: StoreError) -> Status {
        let message = error.to_string();
        self.health.write_failed(&message);
        if let Some(suppressed) = self.log_throttle.allow(&message) {
            tracing::error!(error = %LogText(&message), suppressed, "storing failed");
        }
        Reason::StoreUnavailable
            .status(tonic::Code::Unavailable, format!("the collector could not store the report, retry later: {error}"))
    }

    /// Records a successful write: `/readyz` is ready again, and the log says how many failures
    /// came before.
    fn write_succeeded(&self) {
        if let Some((error, failed)) = self.health.write_succeeded() {
            self.log_throttle.clear(&error);
            tracing::info!(error = %LogText(&error), failed, "storing works again after failures");
        }
    }

    /// The per-host rate limit: `RESOURCE_EXHAUSTED` with `retry-after` (seconds) when exceeded.
    fn check_rate(&self, host_id: &str) -> Result<(), Status> {
        self.rate.check(host_id, Instant::now()).map_err(|wait| {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut status = Reason::RateLimited.status(
                tonic::Code::ResourceExhausted,
                format!(
                    "host {host_id} sends reports faster than the limit ({} at once, then {} per second); \
                 retry after {seconds}s",
                    self.limits.rate_limit_burst, self.limits.rate_limit_per_second
                ),
            );
            status.metadata_mut().insert("retry-after", seconds.into());
            status
        })
    }
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
    // A name that moves the cursor, reorders text or hides characters would deceive whoever reads
    // a report; no real host name holds one.
    crate::sanitize::check_name("report.host.hostname", &host.hostname).map_err(Status::invalid_argument)?;
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
        crate::sanitize::check_name("report.host.labels key", key).map_err(Status::invalid_argument)?;
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
    check_count("report.job_sign_ins", report.job_sign_ins.len(), limits.max_job_sign_ins)?;
    for (i, job) in report.job_sign_ins.iter().enumerate() {
        for (name, value) in [
            ("product", &job.product),
            ("path", &job.path),
            ("job", &job.job),
            ("run_as", &job.run_as),
            ("command", &job.command),
            ("kind", &job.kind),
        ] {
            check_len(format_args!("report.job_sign_ins[{i}].{name}"), value, limits.max_string_bytes)?;
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
    let mut facts = convert::host_from_wire(host);
    // A host needs a name to be found and clicked on: an agent that sent none (an old agent, a
    // container without a host name) is shown by its id.
    if facts.hostname.trim().is_empty() {
        facts.hostname.clone_from(&host.host_id);
    }
    Ok(IncomingReport {
        host: azver_core::HostFacts { omitted: convert::omitted_from_wire(report), ..facts },
        scanned_at,
        report_id: report.report_id.clone(),
        sequence: report.sequence,
        installations: report.installations.iter().map(convert::installation_from_wire).collect(),
        identities: report.identities.iter().map(convert::identity_from_wire).collect(),
        errors: report.errors.iter().map(convert::scan_error_from_wire).collect(),
        verdict: None,
        job_sign_ins: report.job_sign_ins.iter().map(convert::job_sign_in_from_wire).collect(),
    })
}

fn check_id(field: &str, value: &str, limits: &Limits) -> Result<(), Status> {
    if value.trim().is_empty() {
        return Err(Status::invalid_argument(format!("{field} is empty")));
    }
    check_len(field, value, limits.max_id_bytes)?;
    crate::sanitize::check_name(field, value).map_err(Status::invalid_argument)
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

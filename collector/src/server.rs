//! `azver-collector serve`: the gRPC server, its health and reflection services, the optional
//! HTTP dashboard ([`crate::http`]), baseline reload on SIGHUP, the retention sweep and the daily
//! compliance roll-up.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use azver_proto::reason::Reason;
use azver_proto::v1::inventory_service_server::InventoryServiceServer;
use tokio::net::TcpListener;
use tonic::codegen::http;

use crate::baseline::{SharedBaseline, current_baseline, load_baseline};
use crate::clock::unix_now;
use crate::config::{Config, Limits};
use crate::grpc::InventoryApi;
use crate::housekeeping::{REEVALUATE_BATCH, purge_once, reevaluate, rollup_once};
use crate::http::HttpState;
use crate::metrics::Metrics;
use crate::store::{DbLocation, Store};

/// After a shutdown request, requests in flight get this long before the process exits anyway
/// (the promise is: exit within 5 seconds).
const DRAIN_GRACE: Duration = Duration::from_secs(4);

/// How often hosts due for deletion are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// How often today's compliance roll-up is rewritten (and once on start).
const ROLLUP_EVERY: Duration = Duration::from_secs(3600);

/// How often the store keeps its own bookkeeping small ([`Store::maintain`]).
const MAINTAIN_EVERY: Duration = Duration::from_secs(5);

/// What `serve` needs, validated.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The database (created and migrated if needed).
    pub db: DbLocation,
    /// Baseline file; `None` for the built-in baseline. Re-read on SIGHUP.
    pub baseline: Option<PathBuf>,
    /// The baseline as read from `baseline` before the port was announced; `None` reads it here.
    /// Reading it once means a file changed right after start-up is a reload, never an exit.
    pub loaded_baseline: Option<azver_core::Baseline>,
    /// Retention and staleness settings.
    pub config: Config,
    /// Request limits.
    pub limits: Limits,
    /// TLS for the gRPC listener; `None` for plain text.
    pub tls: Option<tonic::transport::ServerTlsConfig>,
    /// What the listener accepts ([`crate::auth::Posture::decide`]).
    pub posture: crate::auth::Posture,
    /// The HTTP listener needs an admin token on every request.
    pub require_token: bool,
    /// Deadlines and caps on connections, both ports together.
    pub connections: crate::listen::ConnectionLimits,
    /// TLS for the HTTP listener; `None` for plain HTTP.
    pub http_tls: Option<Arc<rustls::ServerConfig>>,
}

/// Serves gRPC on `listener` until `shutdown` completes, then drains for at most [`DRAIN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    serve_with_http(listener, None, options, shutdown).await
}

/// Serves gRPC on `grpc` and, when given, the dashboard, API and `/metrics` on `http` (which
/// the caller has checked with [`crate::http::check_bind_address`]), until `shutdown`
/// completes; both then drain for at most [`DRAIN_GRACE`].
pub async fn serve_with_http(
    grpc: TcpListener,
    http: Option<TcpListener>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let store =
        crate::store::open(&options.db).await.with_context(|| format!("cannot open database {}", options.db))?;
    let initial = match options.loaded_baseline.clone() {
        Some(baseline) => baseline,
        None => load_baseline(options.baseline.as_deref())?,
    };
    let baseline: SharedBaseline = crate::baseline::shared(initial);
    let metrics = Arc::new(Metrics::default());
    let write_health = Arc::new(crate::health::WriteHealth::default());
    let api = InventoryApi::new(store.clone(), baseline.clone(), options.limits.clone(), options.posture)
        .with_metrics(metrics.clone())
        .with_write_health(write_health.clone());

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<InventoryServiceServer<InventoryApi>>().await;
    // Both reflection versions describe both, so a client of either sees every service served
    // (by default each builder adds only its own version's descriptor).
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(azver_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
            .include_reflection_service(false)
    };
    let reflection_v1 = reflection().build_v1().context("building gRPC reflection (v1)")?;
    let reflection_v1alpha = reflection().build_v1alpha().context("building gRPC reflection (v1alpha)")?;

    let inventory = InventoryGuard(
        InventoryServiceServer::new(api)
            .max_decoding_message_size(options.limits.max_message_bytes)
            .max_encoding_message_size(options.limits.max_message_bytes),
        metrics.clone(),
        options.limits.request_timeout,
    );

    let changed = Arc::new(tokio::sync::Notify::new());
    #[cfg(unix)]
    tokio::spawn(reload_on_sighup(baseline.clone(), options.baseline.clone(), changed.clone()));
    let reevaluation = tokio::spawn(reevaluate_on_change(store.clone(), baseline.clone(), changed));
    let purge = tokio::spawn(purge_periodically(store.clone(), options.config.clone()));
    let rollup = tokio::spawn(rollup_periodically(store.clone(), baseline.clone(), options.config.clone()));
    let maintenance = tokio::spawn(maintain_periodically(store.clone()));

    // One gate for both ports: they share the process's file descriptors.
    let gate = crate::listen::Gate::new(options.connections);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    // The HTTP server stops on the same signal as gRPC and drains within the same grace.
    let http_server = http.map(|listener| {
        let state = HttpState {
            store: store.clone(),
            baseline: baseline.clone(),
            config: Arc::new(options.config.clone()),
            metrics: metrics.clone(),
            require_token: options.require_token,
            gauges: Arc::default(),
            counts: Arc::default(),
            write_health,
        };
        let mut stop = stop_tx.subscribe();
        tokio::spawn(crate::http::serve(listener, state, gate.clone(), options.http_tls.clone(), async move {
            let _ = stop.changed().await;
        }))
    });
    let limits = &options.limits;
    let mut builder = tonic::transport::Server::builder()
        // The inventory service answers DEADLINE_EXCEEDED at `request_timeout` (InventoryGuard);
        // this backstop (tonic answers CANCELLED) bounds the health and reflection services too.
        // Above the in-flight limit of a connection requests are shed (RESOURCE_EXHAUSTED) instead of
        // queueing without bound.
        .timeout(limits.request_timeout * 2)
        .concurrency_limit_per_connection(limits.max_concurrent_requests)
        .load_shed(true)
        .max_concurrent_streams(limits.max_concurrent_streams)
        // Pings keep a live agent's connection past the idle timeout (crate::listen) and end a
        // dead one's.
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .layer(crate::listen::MarkServedLayer);
    if let Some(tls) = options.tls.clone() {
        builder = builder.tls_config(tls).context("the TLS configuration is unusable")?;
    }
    let server = builder
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(inventory)
        // Connections arrive through the gate: capped, with the handshake deadline and the idle
        // timeout, and TCP_NODELAY set (Nagle's algorithm would hold every small reply ~40 ms).
        .serve_with_incoming_shutdown(crate::listen::incoming(grpc, gate, "grpc"), async move {
            let _ = stop_rx.changed().await;
        });
    tokio::pin!(server);
    let result = tokio::select! {
        result = &mut server => result.context("gRPC server failed"),
        () = shutdown => {
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stop_tx.send(true);
            let drain = async {
                let grpc = (&mut server).await.context("gRPC server failed while draining");
                if let Some(http) = http_server {
                    match http.await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => tracing::error!(%error, "HTTP server failed while draining"),
                        Err(error) => tracing::error!(%error, "HTTP server task failed"),
                    }
                }
                grpc
            };
            match tokio::time::timeout(DRAIN_GRACE, drain).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(grace = ?DRAIN_GRACE, "requests still running after the grace period; exiting");
                    Ok(())
                }
            }
        }
    };
    purge.abort();
    reevaluation.abort();
    rollup.abort();
    maintenance.abort();
    health_reporter.set_not_serving::<InventoryServiceServer<InventoryApi>>().await;
    result
}

/// Re-reads the baseline file on SIGHUP; a bad file is logged and the old baseline kept.
#[cfg(unix)]
async fn reload_on_sighup(shared: SharedBaseline, path: Option<PathBuf>, changed: Arc<tokio::sync::Notify>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; the baseline will not be reloaded");
        return;
    };
    while hangups.recv().await.is_some() {
        match load_baseline(path.as_deref()) {
            Ok(baseline) => {
                crate::baseline::replace(&shared, baseline);
                changed.notify_one();
                let shown = path.as_deref().map_or_else(|| "built-in".to_owned(), |p| p.display().to_string());
                tracing::info!(path = %shown, "baseline reloaded");
            }
            Err(error) => {
                let error = azver_core::one_line(&error);
                tracing::error!(%error, "baseline reload failed; keeping the previous baseline")
            }
        }
    }
}

/// Brings every host's stored verdict to the served baseline: once at start (hosts stored by an
/// older collector, or under another baseline), then after each change. Runs beside ingest,
/// in batches; reads evaluate the hosts it has not reached yet.
async fn reevaluate_on_change(store: Arc<dyn Store>, baseline: SharedBaseline, changed: Arc<tokio::sync::Notify>) {
    loop {
        let served = current_baseline(&baseline);
        let started = std::time::Instant::now();
        match reevaluate(&*store, &served, REEVALUATE_BATCH).await {
            Ok(0) => {}
            Ok(hosts) => tracing::info!(hosts, elapsed = ?started.elapsed(), "hosts re-evaluated against the baseline"),
            Err(error) => tracing::error!(%error, "re-evaluating hosts failed; reads evaluate them until the next try"),
        }
        changed.notified().await;
    }
}

async fn purge_periodically(store: Arc<dyn Store>, config: Config) {
    if config.purge_after.is_none() && config.rules.iter().all(|r| r.purge_after.is_none()) {
        return;
    }
    let mut ticker = tokio::time::interval(PURGE_EVERY);
    loop {
        ticker.tick().await;
        match purge_once(&*store, &config, unix_now()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "purged hosts past their retention"),
            Err(error) => tracing::error!(%error, "purge failed"),
        }
    }
}

async fn maintain_periodically(store: Arc<dyn Store>) {
    let mut ticker = tokio::time::interval(MAINTAIN_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = store.maintain().await {
            tracing::warn!(%error, "store maintenance failed; the counts' changes pile up until the next try (reads still sum them)");
        }
    }
}

async fn rollup_periodically(store: Arc<dyn Store>, baseline: SharedBaseline, config: Config) {
    let mut ticker = tokio::time::interval(ROLLUP_EVERY);
    loop {
        ticker.tick().await;
        let baseline = current_baseline(&baseline);
        if let Err(error) = rollup_once(&*store, &baseline, &config, unix_now()).await {
            tracing::error!(%error, "daily roll-up failed");
        }
    }
}

/// True for tonic's messages about request bytes that do not decode (prost's errors, a frame cut
/// short, an invalid compression flag).
fn is_decode_error(message: &str) -> bool {
    message.starts_with("failed to decode Protobuf message")
        || message.starts_with("Unexpected EOF decoding stream")
        || message.starts_with("protocol error: received message with")
}

/// Answers a request over the size limit with `RESOURCE_EXHAUSTED`, as gRPC specifies and the
/// published contract (`proto/README.md`) promises. tonic 0.14 answers it with `OUT_OF_RANGE`
/// before the service runs, so the status is rewritten on the way out.
/// A request whose bytes do not decode gets `INVALID_ARGUMENT` instead of tonic's `INTERNAL`.
/// It also counts such reports as received and rejected, times every call, since it is the one
/// place that sees them all, and ends a call past its deadline with `DEADLINE_EXCEEDED`.
#[derive(Debug, Clone)]
struct InventoryGuard<S>(S, Arc<Metrics>, Duration);

impl<S: tonic::server::NamedService> tonic::server::NamedService for InventoryGuard<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tonic::codegen::Service<http::Request<tonic::body::Body>> for InventoryGuard<S>
where
    S: tonic::codegen::Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let method = request.uri().path().rsplit('/').next().unwrap_or_default().to_owned();
        let started = std::time::Instant::now();
        let response = self.0.call(request);
        let metrics = self.1.clone();
        let deadline = self.2;
        Box::pin(async move {
            let Ok(response) = tokio::time::timeout(deadline, response).await else {
                // The request took longer than its deadline, reading its body included (a client
                // that stops sending halfway): dropping the future frees its slot.
                if method == "Report" {
                    metrics.report_received();
                    metrics.report_rejected(tonic::Code::DeadlineExceeded);
                }
                return Ok(tonic::Status::deadline_exceeded(format!(
                    "the request took longer than the collector's {deadline:?} deadline"
                ))
                .into_http());
            };
            let response = response?;
            metrics.observe_grpc(&method, started.elapsed());
            let Some(status) = tonic::Status::from_header_map(response.headers()) else {
                return Ok(response);
            };
            match status.code() {
                // The service itself never answers OUT_OF_RANGE: one in the headers is tonic's
                // decoding limit, refused before the service ran.
                tonic::Code::OutOfRange => {
                    if method == "Report" {
                        metrics.report_received();
                        metrics.report_rejected(tonic::Code::ResourceExhausted);
                    }
                    let message = status.message().to_owned();
                    Ok(Reason::MessageTooLarge.status(tonic::Code::ResourceExhausted, message).into_http())
                }
                // tonic answers INTERNAL when the request's bytes are not a valid message: the
                // client's fault, so INVALID_ARGUMENT (retrying the same bytes cannot help).
                tonic::Code::Internal if is_decode_error(status.message()) => {
                    metrics.request_malformed();
                    if method == "Report" {
                        metrics.report_received();
                        metrics.report_rejected(tonic::Code::InvalidArgument);
                    }
                    let message = format!("the request is not a valid {method} message: {}", status.message());
                    Ok(tonic::Status::invalid_argument(message).into_http())
                }
                _ => Ok(response),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_are_told_from_other_internal_errors() {
        assert!(is_decode_error("failed to decode Protobuf message: InventoryReport.host: invalid wire type"));
        assert!(!is_decode_error("the database is locked"));
    }
}

//! `azver-agent run`: scan and report at start and then every interval, through the durable
//! spool, until the shutdown future completes.
//!
//! - The interval gets ±10 % random jitter so a fleet does not stampede; the collector's reply
//!   may set the next interval.
//! - Every report is spooled before it is sent. Delivery goes oldest first; an unreachable or
//!   failing collector makes the agent retry with exponential backoff and full jitter, capped by
//!   `max_backoff`, while it keeps scanning on schedule.
//! - Every report is cut to [`Caps::REPORT`] first (what decides the verdict kept, the rest
//!   counted), so a user cannot hide the host by filling a home with junk. A report the collector
//!   still refuses as invalid or too large is never dropped silently: the refusal is logged and counted in
//!   the status file, and the report is sent again in reduced form ([`Caps::REDUCED`]); only a
//!   reduced report that is refused too is dropped, and counted.
//! - A scan runs on a blocking thread with a deadline ([`SCAN_DEADLINE`]); shutdown interrupts
//!   it (the scan stops at its next file read) as well as a delivery in progress.
//! - On shutdown the report in flight is abandoned: it is already in the spool and is delivered
//!   after the restart (the collector deduplicates by report id).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azver_proto::convert;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::bounds::{self, Caps};
use crate::cli::ScanRequest;
use crate::config::AgentConfig;
use crate::credentials::SecretSources;
use crate::host::Stop;
use crate::report::{self, Auth, ReportError, Target};
use crate::spool::{Spool, SpoolError};
use crate::state::{State, write_atomically};

/// Why `run` cannot start without a collector URL (also said by `config check`).
pub const NO_COLLECTOR: &str =
    "no collector configured: set --collector, AZVER_COLLECTOR or `collector` in the config file";

/// First retry delay; doubles per failed round up to `max_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// Longest a scan may run. Real scans take well under a second; past this the scan stops at its
/// next file read, nothing of it is reported, and the next scan is tried after a backoff.
pub const SCAN_DEADLINE: Duration = Duration::from_secs(5 * 60);

/// How long the process waits, when it stops, for a scan thread to notice it was stopped.
pub const BLOCKING_GRACE: Duration = Duration::from_secs(5);

/// Longest collector message kept in the status file.
const MAX_STATUS_MESSAGE: usize = 1024;

/// What `azver-agent status` shows, kept in `<state dir>/status.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// This host's id.
    pub host_id: String,
    /// Where reports go.
    pub collector: String,
    /// Last report the collector acknowledged, RFC 3339.
    pub last_success_at: Option<String>,
    /// The collector's verdict then.
    pub last_status: Option<String>,
    /// Findings in that verdict.
    pub last_findings: usize,
    /// Last delivery error, cleared by the next success.
    pub last_error: Option<String>,
    /// When it happened, RFC 3339.
    pub last_error_at: Option<String>,
    /// Reports acknowledged since the state dir was created.
    pub delivered: u64,
    /// Of those, how many the collector already had (retries after a lost acknowledgement).
    pub duplicates: u64,
    /// Reports the collector refused as invalid (each sent again in reduced form, once).
    #[serde(default)]
    pub rejected: u64,
    /// The collector's reason for the last refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rejection: Option<String>,
}

impl AgentStatus {
    /// Reads the status file; a missing file is an empty status.
    pub fn load(state: &State) -> Self {
        std::fs::read(state.dir().join("status.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Records a report the collector acknowledged (the service's rounds and `report --once`).
    pub fn record_delivery(&mut self, response: &azver_proto::v1::ReportResponse) {
        self.delivered += 1;
        self.duplicates += u64::from(response.duplicate);
        self.last_success_at = Some(now_rfc3339());
        self.last_status = convert::status_from_wire(response.status).map(|s| s.to_string());
        self.last_findings = response.findings.len();
        self.last_error = None;
    }

    /// Records a failed delivery; the last success stays as it was.
    pub fn record_error(&mut self, error: String) {
        self.last_error = Some(error);
        self.last_error_at = Some(now_rfc3339());
    }

    /// Writes the status file atomically; a failure is logged, never fatal.
    pub fn save(&self, state: &State) {
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        if let Err(error) = write_atomically(&state.dir().join("status.json"), &bytes) {
            tracing::warn!(%error, "cannot write the status file");
        }
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// `interval` ±10 %.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * fastrand::f64())
}

/// Exponential backoff with full jitter: a random delay up to `FIRST_BACKOFF × 2^failures`,
/// capped by `max`, and never under one second.
fn backoff(failures: u32, max: Duration) -> Duration {
    let ceiling = FIRST_BACKOFF.saturating_mul(1u32 << failures.min(16)).min(max);
    ceiling.mul_f64(fastrand::f64()).max(Duration::from_secs(1).min(max))
}

/// How one delivery round ended.
#[derive(Debug)]
enum Round {
    /// The spool is empty; the collector may have asked for another interval.
    Delivered(Option<Duration>),
    /// The collector could not be reached or failed; retry later.
    Failed(String),
}

/// Runs the service loop until `shutdown` completes.
pub async fn run(
    config: &AgentConfig,
    request: &ScanRequest,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let collector = config.collector.clone().ok_or_else(|| anyhow::anyhow!(NO_COLLECTOR))?;
    let state = State::open(&config.state_dir)?;
    crate::install::take_enroll_secret(&state)?;
    let secret = SecretSources::from_process(config.enroll_secret_file.clone()).resolve(&state)?;
    let target = report::Target { url: collector.clone(), tls: config.tls.clone(), timeout: config.timeout };
    let spool = Spool::open(&config.state_dir, config.spool_max_reports, config.spool_max_bytes)?;
    let host_id = state.host_id()?;
    let mut status = AgentStatus {
        host_id: host_id.clone(),
        collector: report::redact_url(&collector),
        ..AgentStatus::load(&state)
    };
    tracing::info!(%host_id, collector = %status.collector, interval = %azver_core::format_duration(config.interval), "azver-agent running");

    tokio::pin!(shutdown);
    let mut next_scan = Instant::now();
    let mut retry_at: Option<Instant> = None;
    let mut failures = 0u32;
    loop {
        if Instant::now() >= next_scan {
            let stop = Stop::new(std::time::Instant::now().checked_add(SCAN_DEADLINE));
            let scanned = tokio::select! {
                scanned = scan_and_spool(config, request, &state, &spool, &host_id, stop.clone()) => scanned,
                () = &mut shutdown => {
                    stop.stop();
                    tracing::info!("stopping the scan in progress: the service is shutting down");
                    break;
                }
            };
            match scanned {
                Ok(()) => {
                    next_scan = Instant::now() + jittered(config.interval);
                    retry_at = Some(Instant::now());
                }
                // A full disk or an unwritable state dir must not stop the service: say so, keep
                // what is already spooled, and try again soon.
                Err(error) => {
                    let delay = backoff(failures, config.max_backoff);
                    failures = failures.saturating_add(1);
                    let error = format!("cannot scan or spool a report: {}", azver_core::one_line(error.as_ref()));
                    tracing::error!(%error, retry_in = ?delay, "report not spooled");
                    status.record_error(error);
                    status.save(&state);
                    next_scan = Instant::now() + delay;
                    retry_at = Some(Instant::now());
                }
            }
        }
        if retry_at.is_some_and(|at| Instant::now() >= at) {
            let round = tokio::select! {
                round = deliver(&target, Auth { state: &state, secret: secret.as_ref() }, &spool, &mut status) => round?,
                () = &mut shutdown => break,
            };
            match round {
                Round::Delivered(asked) => {
                    failures = 0;
                    retry_at = None;
                    if let Some(interval) = asked {
                        next_scan = Instant::now() + jittered(interval);
                    }
                }
                Round::Failed(error) => {
                    let delay = backoff(failures, config.max_backoff);
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, retry_in = ?delay, "report not delivered; it stays in the spool");
                    status.record_error(error);
                    status.save(&state);
                    retry_at = Some(Instant::now() + delay);
                }
            }
        }
        let wake = retry_at.map_or(next_scan, |at| at.min(next_scan));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = &mut shutdown => break,
        }
    }
    tracing::info!(spooled = spool.list().map(|l| l.len()).unwrap_or(0), "azver-agent stopping");
    Ok(())
}

async fn scan_and_spool(
    config: &AgentConfig,
    request: &ScanRequest,
    state: &State,
    spool: &Spool,
    host_id: &str,
    stop: Stop,
) -> anyhow::Result<()> {
    let request = request.clone();
    let scan = tokio::task::spawn_blocking(move || crate::scan_request_until(&request, stop));
    // The stop makes the scan end at its next read; this is the backstop for a read that never
    // returns (a hung network file system), whose thread is then abandoned.
    let mut inventory = tokio::time::timeout(SCAN_DEADLINE + BLOCKING_GRACE, scan)
        .await
        .map_err(|_| anyhow::anyhow!("the scan did not finish within {SCAN_DEADLINE:?}"))???;
    inventory.host.hostname =
        crate::facts::reported_hostname(config.hostname.as_deref(), &inventory.host.hostname, host_id);
    inventory.host.host_id = Some(host_id.to_owned());
    inventory.host.labels.extend(config.labels.clone());
    inventory.host.spool_dropped = spool.drops();
    bounds::fit(&mut inventory, &Caps::REPORT);
    let sequence = state.next_sequence()?;
    let report_id = uuid::Uuid::new_v4().to_string();
    let scanned_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let wire = convert::report_to_wire(&inventory, &report_id, sequence, scanned_at);
    let dropped = spool.push(&wire)?;
    tracing::info!(sequence, %report_id, installations = inventory.installations.len(), dropped, "report spooled");
    Ok(())
}

/// Sends every spooled report, oldest first, until the spool is empty or a send fails.
async fn deliver(
    target: &Target,
    auth: Auth<'_>,
    spool: &Spool,
    status: &mut AgentStatus,
) -> Result<Round, SpoolError> {
    let state = auth.state;
    let mut asked = None;
    let pending = spool.list()?;
    if pending.is_empty() {
        return Ok(Round::Delivered(None));
    }
    let mut client = match report::Client::connect(target).await {
        Ok(client) => client,
        Err(error) => return Ok(Round::Failed(error.to_string())),
    };
    for spooled in pending {
        let Some(report) = spool.read(&spooled)? else { continue };
        let (mut spooled, mut report) = (spooled, report);
        loop {
            let (sequence, report_id) = (report.sequence, report.report_id.clone());
            match client.deliver(report.clone(), auth).await {
                Ok(response) => {
                    spool.remove(&spooled)?;
                    status.record_delivery(&response);
                    status.save(state);
                    let verdict = status.last_status.as_deref().unwrap_or("-");
                    tracing::info!(sequence, %report_id, status = %verdict, duplicate = response.duplicate, "report delivered");
                    if response.next_report_in_seconds > 0 {
                        asked = Some(Duration::from_secs(u64::from(response.next_report_in_seconds)));
                    }
                }
                Err(ReportError::Refused { code, message, .. }) if is_permanent(code) => {
                    status.rejected += 1;
                    status.last_rejection = Some(format!("{code:?}: {}", shorten(&message, MAX_STATUS_MESSAGE)));
                    status.last_error_at = Some(now_rfc3339());
                    status.save(state);
                    if is_fixable(code) && !report.reduced {
                        tracing::error!(sequence, %report_id, ?code, error = %shorten(&message, MAX_STATUS_MESSAGE), "the collector refuses this report as invalid; sending it again in reduced form");
                        report = reduce(&report);
                        spooled = spool.replace(&spooled, &report)?;
                        continue;
                    }
                    tracing::error!(sequence, %report_id, ?code, error = %shorten(&message, MAX_STATUS_MESSAGE), "the collector refuses this report even reduced; dropping it");
                    spool.remove(&spooled)?;
                    spool.add_drops(1)?;
                }
                Err(error) => return Ok(Round::Failed(error.to_string())),
            }
            break;
        }
    }
    Ok(Round::Delivered(asked))
}

/// The reduced form of a refused report: the same scan cut to [`Caps::REDUCED`], under a new
/// report id (the refused one was never stored) and the same sequence number.
fn reduce(report: &azver_proto::v1::InventoryReport) -> azver_proto::v1::InventoryReport {
    let mut inventory = convert::inventory_from_wire(report);
    bounds::fit(&mut inventory, &Caps::REDUCED);
    inventory.host.omitted.reduced = true;
    let scanned_at = report.scanned_at.as_ref().map_or(0, |t| t.seconds);
    convert::report_to_wire(&inventory, &uuid::Uuid::new_v4().to_string(), report.sequence, scanned_at)
}

/// At most `max` bytes of `text`, cut at a character boundary, for logs and the status file.
fn shorten(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Refusals a smaller report may pass: invalid (over a count or length limit) or too large.
fn is_fixable(code: tonic::Code) -> bool {
    matches!(code, tonic::Code::InvalidArgument | tonic::Code::ResourceExhausted)
}

/// Statuses that mean "this report will never be accepted", as opposed to "try again later".
fn is_permanent(code: tonic::Code) -> bool {
    matches!(code, tonic::Code::InvalidArgument | tonic::Code::ResourceExhausted | tonic::Code::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_and_backoff_stay_in_bounds() {
        let hour = Duration::from_secs(3600);
        for _ in 0..1000 {
            let j = jittered(hour);
            assert!(j >= hour.mul_f64(0.9) && j <= hour.mul_f64(1.1), "{j:?}");
            let max = Duration::from_secs(300);
            assert!(backoff(0, max) <= FIRST_BACKOFF && backoff(0, max) >= Duration::from_secs(1));
            assert!(backoff(30, max) <= max);
        }
        assert!(is_permanent(tonic::Code::InvalidArgument));
        assert!(is_fixable(tonic::Code::InvalidArgument) && !is_fixable(tonic::Code::OutOfRange));
        assert!(!is_permanent(tonic::Code::Unavailable));
    }
}

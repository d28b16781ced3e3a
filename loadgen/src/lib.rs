//! `azver-loadgen`: simulates a fleet of agents against a running collector over real gRPC and
//! measures throughput, latency and the collector's footprint.
//!
//! Two modes: flat out (no `--rate`: every worker sends its next report as soon as the last is
//! answered) and paced (`--rate R`: report n is due at `start + n / R`; a worker that falls
//! behind sends at once, and latency is counted from when a report was due, so a slow collector
//! cannot hide its queueing). Bounded in time (`--duration`, at most an hour) and count
//! (`--max-reports`), loopback collectors only.
//!
//! Mixed mode (`--http ADDR`): while reporting, it also scrapes `/metrics` and browses the
//! dashboard, the API and host pages of the collector's HTTP side ([`browse`]), and the summary
//! gains each kind of read's count, errors, latency percentiles and bytes.

pub mod browse;
mod fleet;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use azver_proto::v1::ReportRequest;
use azver_proto::v1::inventory_service_client::InventoryServiceClient;
use tonic::transport::{Channel, Endpoint};

pub use browse::{ReadKind, ReadOptions};
pub use fleet::{Fleet, Kind, Mix};

/// The command line, as typed.
#[derive(Debug, clap::Parser)]
#[command(name = "azver-loadgen", version, about = "Simulate a fleet of azver agents against a collector")]
pub struct Cli {
    /// The collector's gRPC URL (loopback only), e.g. `http://127.0.0.1:50051`.
    #[arg(long)]
    pub collector: String,
    /// Number of simulated hosts.
    #[arg(long, default_value_t = 10_000)]
    pub hosts: usize,
    /// How long to send (`30s`, `1m`; a bare number is seconds).
    #[arg(long, default_value = "30s")]
    pub duration: String,
    /// Reports per second; without it, as fast as the collector answers.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Reports in flight at once (default 64: enough to keep a collector busy on any machine).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// gRPC connections to spread the reports over (agents each have one; a few suffice).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Stop after this many reports even if the duration has not passed.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_reports: u64,
    /// Share of reports that follow an Azure CLI upgrade (a new snapshot).
    #[arg(long, default_value_t = 0.01)]
    pub upgrades: f64,
    /// Share of reports that are retries of the previous report (duplicates).
    #[arg(long, default_value_t = 0.02)]
    pub retries: f64,
    /// Share of reports from a newly arrived (re-imaged) host.
    #[arg(long, default_value_t = 0.002)]
    pub new_hosts: f64,
    /// Register every host once (in order, not timed) before the measured run.
    #[arg(long)]
    pub register: bool,
    /// The collector's process id: its RSS is read from /proc at the end.
    #[arg(long)]
    pub collector_pid: Option<u32>,
    /// The collector's database file: its size (with `-wal` and `-shm`) is read at the end.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Mixed mode: the collector's HTTP address (`serve --http`, loopback), read while reporting.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// A file holding an admin token for the HTTP side (`azver-collector token create`).
    #[arg(long, value_name = "FILE", requires = "http")]
    pub admin_token_file: Option<PathBuf>,
    /// How often to scrape `/metrics` in mixed mode (`0` for never).
    #[arg(long, default_value = "15s", value_name = "DURATION")]
    pub scrape_every: String,
    /// Dashboard, API and host-page reads per second in mixed mode.
    #[arg(long, default_value_t = 2.0, value_name = "PER_SEC")]
    pub browse_rate: f64,
    /// Browsing reads in flight at once in mixed mode (people at their browsers).
    #[arg(long, default_value_t = 4)]
    pub browse_concurrency: usize,
    /// Which browsing reads to make in turn, comma-separated, or `all`: dashboard, dashboard_page,
    /// dashboard_filtered, api_hosts, api_hosts_filtered, api_hosts_search, api_hosts_next,
    /// api_host, host_page.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub reads: String,
    /// A read that has not answered within this time counts as an error.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub read_timeout: String,
    /// Print the reports per second of each interval of this length to stderr, with the wall
    /// clock time (to line up with the collector's log); `0` for never.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub progress_every: String,
}

/// Why the flags cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// A flag's value is out of range or malformed.
    #[error("--{flag}: {reason}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
}

/// The validated options.
#[derive(Debug, Clone)]
pub struct Options {
    /// The collector's URL (checked to be loopback).
    pub collector: String,
    /// Simulated hosts.
    pub hosts: usize,
    /// Sending time.
    pub duration: Duration,
    /// Reports per second, or flat out.
    pub rate: Option<f64>,
    /// Reports in flight.
    pub concurrency: usize,
    /// gRPC connections.
    pub connections: usize,
    /// Most reports to send.
    pub max_reports: u64,
    /// The kinds of report sent.
    pub mix: Mix,
    /// Register all hosts before measuring.
    pub register: bool,
    /// Collector process for RSS.
    pub collector_pid: Option<u32>,
    /// Collector database for its size.
    pub db: Option<PathBuf>,
    /// Mixed mode: what to read over HTTP while reporting.
    pub reads: Option<ReadOptions>,
    /// How often to print progress during registration and the measured run.
    pub progress_every: Option<Duration>,
}

/// Longest run accepted: a load generator left running by mistake stops by itself.
const MAX_DURATION: Duration = Duration::from_secs(3600);

impl Cli {
    /// Checks every flag and builds the options.
    pub fn validate(&self) -> Result<Options, UsageError> {
        let invalid = |flag, reason: String| UsageError::Invalid { flag, reason };
        check_loopback(&self.collector).map_err(|reason| invalid("collector", reason))?;
        let duration = azver_core::parse_duration(&self.duration).map_err(|e| invalid("duration", e.to_string()))?;
        if duration.is_zero() || duration > MAX_DURATION {
            return Err(invalid("duration", "must be between 1s and 1h".into()));
        }
        if !(1..=10_000_000).contains(&self.hosts) {
            return Err(invalid("hosts", "must be between 1 and 10000000".into()));
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0)
        {
            return Err(invalid("rate", "must be a number of reports per second above 0".into()));
        }
        let concurrency = self.concurrency.unwrap_or(64);
        if !(1..=10_000).contains(&concurrency) {
            return Err(invalid("concurrency", "must be between 1 and 10000".into()));
        }
        if !(1..=256).contains(&self.connections) {
            return Err(invalid("connections", "must be between 1 and 256".into()));
        }
        for (flag, share) in [("upgrades", self.upgrades), ("retries", self.retries), ("new-hosts", self.new_hosts)] {
            if !(0.0..=1.0).contains(&share) {
                return Err(invalid(flag, "must be a share between 0 and 1".into()));
            }
        }
        if self.upgrades + self.retries + self.new_hosts > 1.0 {
            return Err(invalid(
                "upgrades",
                "the shares of upgrades, retries and new hosts add up to more than 1".into(),
            ));
        }
        let reads = self.read_options().map_err(|(flag, reason)| invalid(flag, reason))?;
        let progress_every =
            azver_core::parse_duration(&self.progress_every).map_err(|e| invalid("progress-every", e.to_string()))?;
        Ok(Options {
            collector: self.collector.clone(),
            hosts: self.hosts,
            duration,
            rate: self.rate,
            concurrency,
            connections: self.connections,
            max_reports: self.max_reports,
            mix: Mix { upgrade: self.upgrades, retry: self.retries, new_host: self.new_hosts },
            register: self.register,
            collector_pid: self.collector_pid,
            db: self.db.clone(),
            reads,
            progress_every: (!progress_every.is_zero()).then_some(progress_every),
        })
    }

    /// The mixed mode's options, when `--http` is given.
    fn read_options(&self) -> Result<Option<ReadOptions>, (&'static str, String)> {
        let Some(http) = &self.http else {
            return Ok(None);
        };
        let base = browse::parse_http_address(http).map_err(|reason| ("http", reason))?;
        let token = match &self.admin_token_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ("admin-token-file", format!("cannot read {}: {e}", path.display())))?;
                let token = text.trim();
                if token.is_empty() || token.contains(char::is_whitespace) {
                    return Err(("admin-token-file", format!("{} does not hold one token", path.display())));
                }
                Some(token.to_owned())
            }
        };
        let scrape_every =
            azver_core::parse_duration(&self.scrape_every).map_err(|e| ("scrape-every", e.to_string()))?;
        if !(self.browse_rate.is_finite() && (0.001..=10_000.0).contains(&self.browse_rate)) {
            return Err(("browse-rate", "must be a number of reads per second from 0.001 to 10000".into()));
        }
        if !(1..=256).contains(&self.browse_concurrency) {
            return Err(("browse-concurrency", "must be between 1 and 256".into()));
        }
        let timeout = azver_core::parse_duration(&self.read_timeout).map_err(|e| ("read-timeout", e.to_string()))?;
        if timeout.is_zero() || timeout > Duration::from_secs(600) {
            return Err(("read-timeout", "must be between 1s and 10m".into()));
        }
        Ok(Some(ReadOptions {
            base,
            token,
            scrape_every: (!scrape_every.is_zero()).then_some(scrape_every),
            browse_rate: self.browse_rate,
            kinds: browse::parse_reads(&self.reads).map_err(|reason| ("reads", reason))?,
            concurrency: self.browse_concurrency,
            timeout,
        }))
    }
}

/// Accepts `http://127.x.x.x`, `http://[::1]` and `http://localhost` only: this tool is for
/// measuring one's own collector, never for loading someone else's.
fn check_loopback(url: &str) -> Result<(), String> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| format!("not a URL: {e}"))?;
    let host = endpoint.uri().host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback { Ok(()) } else { Err(format!("{host} is not a loopback address; only local collectors are accepted")) }
}

/// What a run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// Reports answered successfully.
    pub reports: u64,
    /// Of those, acknowledged as duplicates.
    pub duplicates: u64,
    /// Reports sent as upgrades and as new hosts.
    pub upgrades: u64,
    /// Reports sent from newly arrived hosts.
    pub new_hosts: u64,
    /// Reports that failed (any gRPC error or timeout).
    pub errors: u64,
    /// The first error seen, for the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Measured time, seconds.
    pub duration_s: f64,
    /// Successful reports per second.
    pub reports_per_sec: f64,
    /// Latency percentiles, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest report.
    pub max_ms: f64,
    /// Simulated hosts.
    pub hosts: usize,
    /// Requested rate, if paced.
    pub rate: Option<f64>,
    /// Reports in flight.
    pub concurrency: usize,
    /// The collector's resident memory at the end (`VmRSS`), MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector_rss_mib: Option<f64>,
    /// The collector's peak resident memory (`VmHWM`), MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector_peak_rss_mib: Option<f64>,
    /// The database file with its `-wal` and `-shm`, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_bytes: Option<u64>,
    /// The `-wal` file alone, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_wal_bytes: Option<u64>,
    /// With `--register`: how long registering every host took, seconds (not in `duration_s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register_s: Option<f64>,
    /// With `--register`: hosts registered per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_per_sec: Option<f64>,
    /// Mixed mode: each kind of read made (`metrics`, `dashboard`, ..., `host_page`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reads: BTreeMap<&'static str, ReadSummary>,
}

/// What one kind of read measured in mixed mode.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReadSummary {
    /// Reads answered 2xx within the timeout.
    pub count: u64,
    /// Reads that failed: non-2xx, transport error, timeout, an API page that is not one.
    pub errors: u64,
    /// Latency percentiles of the successful reads, milliseconds from when each was due.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest read.
    pub max_ms: f64,
    /// Body bytes of the successful reads.
    pub bytes: u64,
    /// Reads due before the end that had not started by then (the ones before them were still
    /// running): the browsing could not keep its rate.
    pub missed: u64,
    /// The first error seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl ReadSummary {
    fn from_tally(tally: browse::KindTally) -> Self {
        let mut latencies = tally.latencies_us;
        let [p50_ms, p90_ms, p99_ms, max_ms] = percentiles(&mut latencies);
        Self {
            count: latencies.len() as u64,
            errors: tally.errors,
            p50_ms,
            p90_ms,
            p99_ms,
            max_ms,
            bytes: tally.bytes,
            missed: tally.missed,
            first_error: tally.first_error,
        }
    }
}

/// The 50th, 90th, 99th and 100th percentiles of latencies in microseconds, in milliseconds
/// (nearest rank; zeros for none).
fn percentiles(latencies_us: &mut [u32]) -> [f64; 4] {
    latencies_us.sort_unstable();
    let len = latencies_us.len();
    [0.50, 0.90, 0.99, 1.0].map(|p: f64| {
        let rank = ((p * len as f64).ceil() as usize).clamp(1, len.max(1));
        latencies_us.get(rank - 1).map_or(0.0, |&us| f64::from(us) / 1000.0)
    })
}

impl Summary {
    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// One line for people, and one more per kind of read in mixed mode.
    pub fn human(&self) -> String {
        let mut text = format!(
            "{} reports in {:.1}s: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors{}",
            self.reports,
            self.duration_s,
            self.reports_per_sec,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.errors,
            self.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default()
        );
        for (kind, read) in &self.reads {
            text.push_str(&format!(
                "\n  {kind}: {} reads, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} bytes, {} errors, {} missed{}",
                read.count,
                read.p50_ms,
                read.p99_ms,
                read.max_ms,
                read.bytes,
                read.errors,
                read.missed,
                read.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default()
            ));
        }
        text
    }
}

/// What one worker counted.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    duplicates: u64,
    upgrades: u64,
    new_hosts: u64,
    errors: u64,
    first_error: Option<String>,
}

/// A report may take this long before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the load until the duration passes, `max_reports` are sent, or `shutdown` completes.
pub async fn run(options: &Options, shutdown: impl Future<Output = ()>) -> anyhow::Result<Summary> {
    use anyhow::Context as _;
    let mut channels = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        let channel = Endpoint::from_shared(options.collector.clone())?
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("cannot connect to the collector at {}", options.collector))?;
        channels.push(InventoryServiceClient::new(channel));
    }
    let start_millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let fleet = Arc::new(Fleet::new(options.hosts, start_millis));
    let reader = options.reads.clone().map(|reads| Arc::new(browse::Reader::new(reads, fleet.clone())));
    if let Some(reader) = &reader {
        reader.check().await?;
    }
    let registered = if options.register {
        let started = Instant::now();
        register(&fleet, &channels, options.concurrency, options.progress_every).await?;
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };

    let issued = Arc::new(AtomicU64::new(0));
    let (answered, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let start = Instant::now();
    let deadline = start + options.duration;
    let workers: Vec<_> = (0..options.concurrency)
        .map(|w| {
            let client = channels[w % channels.len()].clone();
            let worker = Worker {
                fleet: fleet.clone(),
                issued: issued.clone(),
                answered: answered.clone(),
                failed: failed.clone(),
                options: options.clone(),
                start,
                deadline,
                rng: fastrand::Rng::with_seed(w as u64 + start_millis),
            };
            tokio::spawn(worker.run(client))
        })
        .collect();
    let mut abort: Vec<_> = workers.iter().map(tokio::task::JoinHandle::abort_handle).collect();
    let reads = reader.map(|reader| tokio::spawn(reader.run(start, deadline, start_millis)));
    abort.extend(reads.iter().map(tokio::task::JoinHandle::abort_handle));
    let progress = options.progress_every.map(|every| tokio::spawn(print_progress(answered, failed, start, every)));
    abort.extend(progress.iter().map(tokio::task::JoinHandle::abort_handle));
    let collect = async {
        let mut all = Tally::default();
        for worker in workers {
            let tally = worker.await.context("a load worker failed")?;
            all.latencies_us.extend(tally.latencies_us);
            all.duplicates += tally.duplicates;
            all.upgrades += tally.upgrades;
            all.new_hosts += tally.new_hosts;
            all.errors += tally.errors;
            all.first_error = all.first_error.or(tally.first_error);
        }
        // The reports' time: reads in flight at the deadline may finish later.
        let elapsed = start.elapsed();
        progress.iter().for_each(tokio::task::JoinHandle::abort);
        let reads = match reads {
            Some(reads) => reads.await.context("the read task failed")?,
            None => browse::ReadTally::new(),
        };
        anyhow::Ok((all, elapsed, reads))
    };
    tokio::pin!(collect);
    let (tally, elapsed, reads) = tokio::select! {
        tally = &mut collect => tally?,
        () = shutdown => {
            abort.iter().for_each(tokio::task::AbortHandle::abort);
            anyhow::bail!("interrupted");
        }
    };
    let elapsed = elapsed.as_secs_f64();
    let mut latencies = tally.latencies_us;
    let [p50_ms, p90_ms, p99_ms, max_ms] = percentiles(&mut latencies);
    let reports = latencies.len() as u64;
    let (rss, peak) = options.collector_pid.map(read_rss).unwrap_or_default();
    let (db_bytes, db_wal_bytes) = options.db.as_deref().map(db_size).unwrap_or_default();
    Ok(Summary {
        reports,
        duplicates: tally.duplicates,
        upgrades: tally.upgrades,
        new_hosts: tally.new_hosts,
        errors: tally.errors,
        first_error: tally.first_error,
        duration_s: elapsed,
        reports_per_sec: reports as f64 / elapsed,
        p50_ms,
        p90_ms,
        p99_ms,
        max_ms,
        hosts: options.hosts,
        rate: options.rate,
        concurrency: options.concurrency,
        collector_rss_mib: rss,
        collector_peak_rss_mib: peak,
        db_bytes,
        db_wal_bytes,
        register_s: registered,
        registered_per_sec: registered.map(|s| fleet.len() as f64 / s.max(f64::EPSILON)),
        reads: reads.into_iter().map(|(kind, tally)| (kind.as_str(), ReadSummary::from_tally(tally))).collect(),
    })
}

/// Sends every host's first report, `concurrency` at a time, so the measured run starts from a
/// fleet the collector knows (as a collector does after its first hour).
async fn register(
    fleet: &Arc<Fleet>,
    channels: &[InventoryServiceClient<Channel>],
    concurrency: usize,
    progress_every: Option<Duration>,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|w| {
            let (fleet, next, mut client) = (fleet.clone(), next.clone(), channels[w % channels.len()].clone());
            tokio::spawn(async move {
                let now = unix_now();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if index >= fleet.len() {
                        return anyhow::Ok(());
                    }
                    let (_, report) = fleet.next_report(index, Kind::Unchanged, now);
                    client
                        .report(ReportRequest { node_key: String::new(), report: Some(report) })
                        .await
                        .map_err(|status| anyhow::anyhow!("registering host {index} failed: {}", status.message()))?;
                }
            })
        })
        .collect();
    // A large fleet takes minutes to register: say how far it is.
    let progress = progress_every.map(|every| {
        let (next, total, started) = (next.clone(), fleet.len(), Instant::now());
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at((started + every).into(), every);
            loop {
                ticker.tick().await;
                let done = next.load(Ordering::Relaxed).min(total as u64);
                let rate = done as f64 / started.elapsed().as_secs_f64();
                eprintln!("azver-loadgen: {} registered {done} of {total} hosts ({rate:.0}/s)", clock());
            }
        })
    });
    let result = async {
        for task in tasks {
            task.await??;
        }
        anyhow::Ok(())
    }
    .await;
    progress.iter().for_each(tokio::task::JoinHandle::abort);
    result
}

/// Prints, every `every` from `start`, the reports answered and failed in that interval.
async fn print_progress(answered: Arc<AtomicU64>, failed: Arc<AtomicU64>, start: Instant, every: Duration) {
    let mut ticker = tokio::time::interval_at((start + every).into(), every);
    let (mut last_answered, mut last_failed) = (0, 0);
    loop {
        ticker.tick().await;
        let (now_answered, now_failed) = (answered.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
        eprintln!(
            "azver-loadgen: {} +{:.0}s {:.0} reports/s, {} errors in the last {every:?}",
            clock(),
            start.elapsed().as_secs_f64(),
            (now_answered - last_answered) as f64 / every.as_secs_f64(),
            now_failed - last_failed
        );
        (last_answered, last_failed) = (now_answered, now_failed);
    }
}

/// The wall clock time of day, UTC, `HH:MM:SS`.
fn clock() -> String {
    let seconds = unix_now().rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// One sender: picks a host, builds its next report, sends it, counts.
struct Worker {
    fleet: Arc<Fleet>,
    issued: Arc<AtomicU64>,
    /// Reports answered and failed so far, for the progress lines.
    answered: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    options: Options,
    start: Instant,
    deadline: Instant,
    rng: fastrand::Rng,
}

impl Worker {
    async fn run(mut self, mut client: InventoryServiceClient<Channel>) -> Tally {
        let mut tally = Tally::default();
        loop {
            let n = self.issued.fetch_add(1, Ordering::Relaxed);
            if n >= self.options.max_reports {
                break;
            }
            // Paced: report n is due at start + n / rate; latency counts from then.
            let due = match self.options.rate {
                Some(rate) => {
                    let due = self.start + Duration::from_secs_f64(n as f64 / rate);
                    if due >= self.deadline {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    due
                }
                None => Instant::now(),
            };
            if Instant::now() >= self.deadline {
                break;
            }
            let index = self.rng.usize(..self.fleet.len());
            let kind = self.options.mix.pick(self.rng.f64());
            let (kind, report) = self.fleet.next_report(index, kind, unix_now());
            let result = client.report(ReportRequest { node_key: String::new(), report: Some(report) }).await;
            let micros = due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            match result {
                Ok(response) => {
                    self.answered.fetch_add(1, Ordering::Relaxed);
                    tally.latencies_us.push(micros);
                    tally.duplicates += u64::from(response.get_ref().duplicate);
                    tally.upgrades += u64::from(kind == Kind::Upgrade);
                    tally.new_hosts += u64::from(kind == Kind::NewHost);
                }
                Err(status) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    tally.errors += 1;
                    tally.first_error.get_or_insert_with(|| format!("{:?}: {}", status.code(), status.message()));
                }
            }
        }
        tally
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `VmRSS` and `VmHWM` of a process, MiB (Linux `/proc`; `None` elsewhere or when unreadable).
fn read_rss(pid: u32) -> (Option<f64>, Option<f64>) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The database's size with its `-wal` and `-shm` files, and the `-wal` alone.
fn db_size(path: &Path) -> (Option<u64>, Option<u64>) {
    let size = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(PathBuf::from(name)).map(|m| m.len()).ok()
    };
    let main = size("");
    let wal = size("-wal");
    (main.map(|m| m + wal.unwrap_or(0) + size("-shm").unwrap_or(0)), wal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_collectors_are_accepted() {
        for ok in ["http://127.0.0.1:50051", "http://localhost:1", "http://[::1]:50051", "http://127.8.9.10"] {
            assert_eq!(check_loopback(ok), Ok(()), "{ok}");
        }
        for bad in ["http://10.0.0.1:50051", "http://example.com", "http://0.0.0.0:1"] {
            assert!(check_loopback(bad).unwrap_err().contains("not a loopback"), "{bad}");
        }
    }

    #[test]
    fn the_mix_gives_each_kind_its_share() {
        let mix = Mix { upgrade: 0.1, retry: 0.2, new_host: 0.05 };
        assert_eq!(mix.pick(0.05), Kind::Upgrade);
        assert_eq!(mix.pick(0.25), Kind::Retry);
        assert_eq!(mix.pick(0.32), Kind::NewHost);
        assert_eq!(mix.pick(0.5), Kind::Unchanged);
    }
}

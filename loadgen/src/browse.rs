//! The mixed mode's reads: while the fleet reports over gRPC, a Prometheus server scrapes
//! `/metrics` and people browse the dashboard, the JSON API and host pages over the collector's
//! HTTP side (`serve --http`).
//!
//! Scrapes are due every `--scrape-every`; browsing reads are due at `start + n / --browse-rate`
//! and cycle through the enabled [`ReadKind`]s, at most `--browse-concurrency` in flight. As for
//! paced reports, a read's latency counts from when it was due, so reads queueing behind a slow
//! one show it; reads due before the end but not started by then are counted as missed. A read that answers non-2xx, fails, or takes longer than `--read-timeout` is an
//! error, counted per kind with the first one kept; none is retried or dropped from the counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Fleet;

/// The largest API page body read into memory (a page holds at most 1,000 hosts).
const MAX_API_PAGE: usize = 64 * 1024 * 1024;

/// What a read asks the collector's HTTP side for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReadKind {
    /// A Prometheus scrape of `/metrics` (every `--scrape-every`, not part of the browsing cycle).
    Metrics,
    /// The dashboard's first page, `/`.
    Dashboard,
    /// A later page of the dashboard's host list, `/?page=N` (N from 2 to 10).
    DashboardPage,
    /// The dashboard filtered by status and role, `/?status=noncompliant&role=R`.
    DashboardFiltered,
    /// The first API page of 50 hosts, `/api/v1/hosts?limit=50`.
    ApiHosts,
    /// An API page filtered by status and role (totals from the collector's cached counts).
    ApiHostsFiltered,
    /// An API page searched by name (`q`), label or product (totals counted by the database).
    ApiHostsSearch,
    /// The next API page of the latest list read that has more, with the `after` cursor from
    /// its `next`.
    ApiHostsNext,
    /// One simulated host as JSON, `/api/v1/hosts/ID`.
    ApiHost,
    /// One simulated host's page, `/hosts/ID`.
    HostPage,
}

impl ReadKind {
    /// Every kind, scrapes first.
    pub const ALL: [Self; 10] = [
        Self::Metrics,
        Self::Dashboard,
        Self::DashboardPage,
        Self::DashboardFiltered,
        Self::ApiHosts,
        Self::ApiHostsFiltered,
        Self::ApiHostsSearch,
        Self::ApiHostsNext,
        Self::ApiHost,
        Self::HostPage,
    ];

    /// The kinds `--reads` may name: every one but the scrape, which has its own flag.
    pub const BROWSING: &'static [Self] = match Self::ALL.split_first() {
        Some((_, rest)) => rest,
        None => &[],
    };

    /// The name in `--reads` and in the JSON summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Dashboard => "dashboard",
            Self::DashboardPage => "dashboard_page",
            Self::DashboardFiltered => "dashboard_filtered",
            Self::ApiHosts => "api_hosts",
            Self::ApiHostsFiltered => "api_hosts_filtered",
            Self::ApiHostsSearch => "api_hosts_search",
            Self::ApiHostsNext => "api_hosts_next",
            Self::ApiHost => "api_host",
            Self::HostPage => "host_page",
        }
    }
}

impl std::str::FromStr for ReadKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::BROWSING.iter().copied().find(|k| k.as_str() == text).ok_or_else(|| {
            let names: Vec<_> = Self::BROWSING.iter().map(|k| k.as_str()).collect();
            format!("unknown read {text:?}; the reads are {}", names.join(", "))
        })
    }
}

/// Parses `--reads`: a comma-separated list of browsing kinds (`all` for every one), each once.
pub fn parse_reads(text: &str) -> Result<Vec<ReadKind>, String> {
    if text.trim() == "all" {
        return Ok(ReadKind::BROWSING.to_vec());
    }
    let mut kinds = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind: ReadKind = name.parse()?;
        if kinds.contains(&kind) {
            return Err(format!("{name:?} is listed twice"));
        }
        kinds.push(kind);
    }
    if kinds.is_empty() {
        Err("names no read; give `all` or a list such as dashboard,api_host".into())
    } else {
        Ok(kinds)
    }
}

/// Checks `--http ADDR` (`127.0.0.1:PORT`, `[::1]:PORT`, `localhost:PORT`, with or without
/// `http://`) and returns the base URL, `http://ADDR`. Loopback only, like the gRPC side.
pub fn parse_http_address(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    if text.starts_with("https://") {
        return Err("HTTPS is not supported by the load generator; measure a collector whose --http serves plain \
                    HTTP on loopback"
            .into());
    }
    let url = if text.starts_with("http://") { text.to_owned() } else { format!("http://{text}") };
    let uri: http::Uri = url.parse().map_err(|e| format!("{text:?} is not an address: {e}"))?;
    if uri.port().is_none() {
        return Err(format!(
            "{text:?} has no port number; give the address `serve --http` printed, e.g. 127.0.0.1:8080"
        ));
    }
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        return Err(format!("{text:?} has a path; give the address alone, e.g. 127.0.0.1:8080"));
    }
    crate::check_loopback(&url)?;
    Ok(url)
}

/// The validated read options of the mixed mode.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// `http://ADDR`, loopback.
    pub base: String,
    /// The admin token, sent as `Authorization: Bearer TOKEN`.
    pub token: Option<String>,
    /// How often `/metrics` is scraped; `None` for never.
    pub scrape_every: Option<Duration>,
    /// Browsing reads per second.
    pub browse_rate: f64,
    /// The browsing kinds, read in turn.
    pub kinds: Vec<ReadKind>,
    /// Browsing reads in flight at once.
    pub concurrency: usize,
    /// A read taking longer is an error.
    pub timeout: Duration,
}

/// Why the collector's HTTP side cannot be measured.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing answered HTTP at the address.
    #[error(
        "cannot reach the collector's HTTP side at {base}: {reason} (is `azver-collector serve --http` listening \
         there? --http takes the address of its `http listening on` line, not the gRPC one)"
    )]
    Unreachable {
        /// The base URL.
        base: String,
        /// What failed.
        reason: String,
    },
    /// Something answered, but not as the collector's dashboard does.
    #[error("the collector's HTTP side at {base} answered {status} to {path}{hint}")]
    Refused {
        /// The base URL.
        base: String,
        /// The path probed.
        path: &'static str,
        /// The status line.
        status: http::StatusCode,
        /// What to do.
        hint: &'static str,
    },
}

/// What one kind of read counted.
#[derive(Debug, Default)]
pub struct KindTally {
    /// Latency of each successful read, microseconds from when it was due.
    pub latencies_us: Vec<u32>,
    /// Failed reads: non-2xx, transport errors, timeouts, unexpected bodies.
    pub errors: u64,
    /// Body bytes of the successful reads.
    pub bytes: u64,
    /// The first error, for the log.
    pub first_error: Option<String>,
    /// Reads due before the end of the run that had not started by then.
    pub missed: u64,
}

impl KindTally {
    fn merge(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        self.missed += other.missed;
        self.bytes += other.bytes;
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

/// Every kind's tally.
pub type ReadTally = BTreeMap<ReadKind, KindTally>;

/// The API page fields the browser follows: the cursor and the hosts' ids.
#[derive(Debug, serde::Deserialize)]
struct ApiPage {
    next: Option<String>,
    hosts: Vec<serde::de::IgnoredAny>,
}

const ROLES: [&str; 3] = ["developer", "build-runner", "server"];
const API_FILTERS: [&str; 4] =
    ["status=noncompliant", "role=server", "role=developer&status=noncompliant", "status=compliant"];
const TEAMS: [&str; 3] = ["payments", "platform", "data"];

/// Reads the collector's HTTP side for one run.
#[derive(Debug)]
pub struct Reader {
    client: Client<HttpConnector, Empty<Bytes>>,
    options: ReadOptions,
    fleet: Arc<Fleet>,
    /// The latest API list read that has more pages, and its `next` cursor, which
    /// [`ReadKind::ApiHostsNext`] follows.
    cursor: Mutex<Option<(String, String)>>,
}

impl Reader {
    /// A reader with a pooled HTTP/1 client (one keep-alive connection per read in flight).
    pub fn new(options: ReadOptions, fleet: Arc<Fleet>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client =
            Client::builder(TokioExecutor::new()).pool_max_idle_per_host(options.concurrency + 1).build(connector);
        Self { client, options, fleet, cursor: Mutex::new(None) }
    }

    /// Checks, before the load starts, that the collector's HTTP side answers at the address:
    /// `/healthz` (is it there at all?) and the OpenAPI document (does it take our token?).
    pub async fn check(&self) -> Result<(), ReadError> {
        let base = || self.options.base.clone();
        for (path, hint) in [
            ("/healthz", " (is this the collector's --http address?)"),
            ("/api/v1/openapi.json", " (give --admin-token-file with a token from `azver-collector token create`)"),
        ] {
            let answer = tokio::time::timeout(self.options.timeout, self.send(path))
                .await
                .unwrap_or_else(|_| Err(format!("no answer to {path} within {:?}", self.options.timeout)));
            match answer {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    let status = response.status();
                    let hint = if status == http::StatusCode::UNAUTHORIZED { hint } else { "" };
                    return Err(ReadError::Refused { base: base(), path, status, hint });
                }
                Err(reason) => return Err(ReadError::Unreachable { base: base(), reason }),
            }
        }
        Ok(())
    }

    /// Scrapes and browses from `start` until `deadline`, then returns what every kind counted.
    /// Reads still in flight at the deadline finish (or time out) first.
    pub async fn run(self: Arc<Self>, start: Instant, deadline: Instant, seed: u64) -> ReadTally {
        let mut tasks = Vec::new();
        if let Some(every) = self.options.scrape_every {
            let reader = self.clone();
            tasks.push(tokio::spawn(async move {
                let mut tally = ReadTally::new();
                for n in 0u32.. {
                    let due = start + every.saturating_mul(n);
                    if due >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    if Instant::now() >= deadline {
                        tally.entry(ReadKind::Metrics).or_default().missed += 1;
                        continue;
                    }
                    reader.read(ReadKind::Metrics, "/metrics".into(), due, &mut tally).await;
                }
                tally
            }));
        }
        let issued = Arc::new(AtomicU64::new(0));
        for worker in 0..self.options.concurrency {
            let (reader, issued) = (self.clone(), issued.clone());
            tasks.push(tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(worker as u64));
                let mut tally = ReadTally::new();
                loop {
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    let due = start + Duration::from_secs_f64(n as f64 / reader.options.browse_rate);
                    if due >= deadline {
                        break;
                    }
                    let planned = reader.options.kinds.get(n as usize % reader.options.kinds.len().max(1));
                    let Some(&planned) = planned else { break };
                    tokio::time::sleep_until(due.into()).await;
                    // A read due before the end but not started by then (the reads before it were
                    // still running) is counted as missed, not made after the reports stopped.
                    if Instant::now() >= deadline {
                        tally.entry(planned).or_default().missed += 1;
                        continue;
                    }
                    let (kind, path) = reader.plan(planned, &mut rng);
                    reader.read(kind, path, due, &mut tally).await;
                }
                tally
            }));
        }
        let mut all = ReadTally::new();
        for task in tasks {
            // A read task only panics on a bug; its reads are then missing, which the counts show.
            if let Ok(tally) = task.await {
                for (kind, counted) in tally {
                    all.entry(kind).or_default().merge(counted);
                }
            }
        }
        all
    }

    /// The path of a read of `kind`. A kind that needs state it lacks becomes the read that
    /// creates it: "next" without a cursor reads a first page, a host read before any host has
    /// reported reads an API page.
    fn plan(&self, kind: ReadKind, rng: &mut fastrand::Rng) -> (ReadKind, String) {
        match kind {
            ReadKind::Metrics => (kind, "/metrics".into()),
            ReadKind::Dashboard => (kind, "/".into()),
            ReadKind::DashboardPage => (kind, format!("/?page={}", rng.usize(2..=10))),
            ReadKind::DashboardFiltered => (kind, format!("/?status=noncompliant&role={}", pick(rng, &ROLES))),
            ReadKind::ApiHosts => (kind, "/api/v1/hosts?limit=50".into()),
            ReadKind::ApiHostsFiltered => (kind, format!("/api/v1/hosts?limit=50&{}", pick(rng, &API_FILTERS))),
            ReadKind::ApiHostsSearch => {
                let filter = match rng.u8(0..3) {
                    0 => format!("q={:04}", rng.u32(0..10_000)),
                    1 => format!("label=team%3D{}", pick(rng, &TEAMS)),
                    _ => "product=Az".to_owned(),
                };
                (kind, format!("/api/v1/hosts?limit=50&{filter}"))
            }
            ReadKind::ApiHostsNext => {
                let cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner).clone();
                match cursor {
                    Some((query, after)) => (kind, format!("{query}&after={after}")),
                    None => self.plan(ReadKind::ApiHosts, rng),
                }
            }
            ReadKind::ApiHost | ReadKind::HostPage => match self.reported_host(rng) {
                Some(id) if kind == ReadKind::ApiHost => (kind, format!("/api/v1/hosts/{id}")),
                Some(id) => (kind, format!("/hosts/{id}")),
                None => self.plan(ReadKind::ApiHosts, rng),
            },
        }
    }

    /// A random simulated host that has reported (looking at up to 64 slots from a random one).
    fn reported_host(&self, rng: &mut fastrand::Rng) -> Option<String> {
        let len = self.fleet.len();
        if len == 0 {
            return None;
        }
        let first = rng.usize(..len);
        (0..len.min(64)).find_map(|step| self.fleet.reported_host_id((first + step) % len))
    }

    /// Reads `path` as a read of `kind` due at `due`, and counts the outcome.
    async fn read(&self, kind: ReadKind, path: String, due: Instant, tally: &mut ReadTally) {
        let outcome = tokio::time::timeout(self.options.timeout, self.fetch(kind, &path)).await;
        let counted = tally.entry(kind).or_default();
        let error = match outcome {
            Ok(Ok(bytes)) => {
                counted.latencies_us.push(due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                counted.bytes += bytes;
                return;
            }
            Ok(Err(error)) => error,
            Err(_) => format!("no answer within {:?}", self.options.timeout),
        };
        counted.errors += 1;
        counted.first_error.get_or_insert_with(|| format!("GET {path}: {error}"));
    }

    /// Sends the request and reads the whole body (counted, not kept; API pages kept up to
    /// [`MAX_API_PAGE`] bytes and parsed to follow their cursor).
    async fn fetch(&self, kind: ReadKind, path: &str) -> Result<u64, String> {
        let response = self.send(path).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(status.to_string());
        }
        let mut body = response.into_body();
        if matches!(
            kind,
            ReadKind::ApiHosts | ReadKind::ApiHostsFiltered | ReadKind::ApiHostsSearch | ReadKind::ApiHostsNext
        ) {
            // A page of at most 1,000 hosts is a few MB; a larger answer is an error, not memory.
            let bytes = http_body_util::Limited::new(body, MAX_API_PAGE)
                .collect()
                .await
                .map_err(|e| format!("reading the API page: {e}"))?
                .to_bytes();
            let page: ApiPage =
                serde_json::from_slice(&bytes).map_err(|e| format!("the answer is not an API page of hosts: {e}"))?;
            if page.hosts.is_empty() && page.next.is_some() {
                return Err("an empty page with a `next` cursor".into());
            }
            // "Next" follows the latest list with more pages; at a list's end it starts anew.
            let mut cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
            match page.next {
                Some(next) => *cursor = Some((path.split("&after=").next().unwrap_or(path).to_owned(), next)),
                None if kind == ReadKind::ApiHostsNext => *cursor = None,
                None => {}
            }
            return Ok(bytes.len() as u64);
        }
        let mut total = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(|e| chain(&e))?.into_data() {
                total += data.len() as u64;
            }
        }
        Ok(total)
    }

    async fn send(&self, path: &str) -> Result<http::Response<hyper::body::Incoming>, String> {
        let mut request = http::Request::get(format!("{}{path}", self.options.base));
        if let Some(token) = &self.options.token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
        self.client.request(request).await.map_err(|e| chain(&e))
    }
}

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from.get(rng.usize(..from.len().max(1))).copied().unwrap_or_default()
}

/// An error and its causes on one line (hyper's own message is often just "client error").
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A one-trick HTTP server on 127.0.0.1: answers every request with `answer` and closes the
    /// connection, or with `None` reads the request and never answers.
    async fn serve(answer: Option<&'static str>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(buffer.get(..n).unwrap_or_default()),
                        }
                    }
                    match answer {
                        Some(answer) => {
                            let _ = stream.write_all(answer.as_bytes()).await;
                        }
                        // Hold the connection open, silent, until the client gives up.
                        None => {
                            let _ = stream.read(&mut buffer).await;
                        }
                    }
                });
            }
        });
        format!("http://{address}")
    }

    fn reader(base: String) -> Reader {
        let options = ReadOptions {
            base,
            token: None,
            scrape_every: None,
            browse_rate: 1.0,
            kinds: ReadKind::BROWSING.to_vec(),
            concurrency: 1,
            timeout: Duration::from_millis(300),
        };
        Reader::new(options, Arc::new(Fleet::new(1, 0)))
    }

    /// One read of `kind` at `path` against `reader`: its tally.
    async fn one(reader: &Reader, kind: ReadKind, path: &str) -> KindTally {
        let mut tally = ReadTally::new();
        reader.read(kind, path.into(), Instant::now(), &mut tally).await;
        tally.remove(&kind).unwrap()
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";

    #[tokio::test]
    async fn a_2xx_answer_counts_its_latency_and_bytes() {
        let reader = reader(serve(Some(OK)).await);
        reader.check().await.unwrap();
        let tally = one(&reader, ReadKind::Dashboard, "/").await;
        assert_eq!((tally.latencies_us.len(), tally.bytes, tally.errors), (1, 5, 0));
    }

    #[tokio::test]
    async fn non_2xx_silence_and_a_page_that_is_not_one_are_errors() {
        let busy = reader(
            serve(Some("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")).await,
        );
        let tally = one(&busy, ReadKind::HostPage, "/hosts/x").await;
        assert_eq!((tally.latencies_us.len(), tally.errors), (0, 1));
        assert_eq!(tally.first_error.as_deref(), Some("GET /hosts/x: 503 Service Unavailable"));
        let refused = busy.check().await.unwrap_err().to_string();
        assert!(refused.contains("answered 503 Service Unavailable to /healthz"), "{refused}");

        let silent = reader(serve(None).await);
        let tally = one(&silent, ReadKind::Metrics, "/metrics").await;
        assert_eq!((tally.latencies_us.len(), tally.errors), (0, 1));
        assert_eq!(tally.first_error.as_deref(), Some("GET /metrics: no answer within 300ms"));
        let unanswered = silent.check().await.unwrap_err().to_string();
        assert!(unanswered.contains(": no answer to /healthz within 300ms (is "), "{unanswered}");

        let not_json = reader(serve(Some(OK)).await);
        let tally = one(&not_json, ReadKind::ApiHosts, "/api/v1/hosts?limit=50").await;
        assert_eq!(tally.errors, 1);
        assert!(tally.first_error.unwrap().contains("not an API page of hosts"));
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable_with_the_fix() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let error = reader(format!("http://127.0.0.1:{port}")).check().await.unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("cannot reach the collector's HTTP side at http://127.0.0.1:{port}: ")),
            "{error}"
        );
        assert!(error.contains("not the gRPC one"), "{error}");
    }

    #[tokio::test]
    async fn next_follows_the_latest_list_with_more_pages() {
        let page = "HTTP/1.1 200 OK\r\ncontent-length: 40\r\nconnection: close\r\n\r\n{\"next\":\"CUR\",\"hosts\":[{\"host_id\":\"a\"}]}";
        let reader = reader(serve(Some(page)).await);
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(reader.plan(ReadKind::ApiHostsNext, &mut rng).0, ReadKind::ApiHosts, "no cursor yet");
        let tally = one(&reader, ReadKind::ApiHostsFiltered, "/api/v1/hosts?limit=50&role=server").await;
        assert_eq!(tally.errors, 0, "{:?}", tally.first_error);
        assert_eq!(
            reader.plan(ReadKind::ApiHostsNext, &mut rng),
            (ReadKind::ApiHostsNext, "/api/v1/hosts?limit=50&role=server&after=CUR".to_owned())
        );
    }

    #[test]
    fn reads_parse_by_name_and_refuse_unknown_or_repeated_ones() {
        assert_eq!(parse_reads("all"), Ok(ReadKind::BROWSING.to_vec()));
        assert_eq!(parse_reads("dashboard, host_page"), Ok(vec![ReadKind::Dashboard, ReadKind::HostPage]));
        assert!(parse_reads("dashboard,metrics").unwrap_err().contains("unknown read \"metrics\""));
        assert!(parse_reads("api_host,api_host").unwrap_err().contains("twice"));
        assert!(parse_reads(" , ").unwrap_err().contains("names no read"));
        assert_eq!(ReadKind::BROWSING.len(), ReadKind::ALL.len() - 1);
        assert!(!ReadKind::BROWSING.contains(&ReadKind::Metrics), "scrapes have their own flag");
        for &kind in ReadKind::BROWSING {
            assert_eq!(kind.as_str().parse::<ReadKind>(), Ok(kind));
        }
    }

    #[test]
    fn http_addresses_are_loopback_with_a_port_and_nothing_else() {
        assert_eq!(parse_http_address("127.0.0.1:8080"), Ok("http://127.0.0.1:8080".into()));
        assert_eq!(parse_http_address("http://[::1]:9/"), Ok("http://[::1]:9".into()));
        assert_eq!(parse_http_address("localhost:1"), Ok("http://localhost:1".into()));
        let refused = |text: &str| parse_http_address(text).unwrap_err();
        assert!(refused("10.0.0.1:8080").contains("not a loopback"));
        assert!(refused("127.0.0.1").contains("has no port number"));
        assert!(refused("127.0.0.1:8080/api").contains("has a path"));
        assert!(refused("https://127.0.0.1:8443").contains("HTTPS is not supported"));
        assert!(refused("127.0.0.1:notaport").contains("has no port number"));
        assert!(refused("127.0.0.1:80:80").contains("is not an address"));
    }
}

//! The collector's Prometheus metrics (`/metrics`).
//!
//! Two kinds: event counters and latency histograms that live as long as the process
//! ([`Metrics`], shared by the gRPC service and the HTTP server), and gauges computed at scrape
//! time from the store's aggregate queries (hosts per status and role, installations per product
//! and version, findings per kind, database size; see `summary::count`), cached for a few
//! seconds ([`GaugeCache`]), so they are never out of date and never kept twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use azver_core::{FindingKind, Role, Status};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::baseline::Served;
use crate::config::Config;
use crate::store::{StoredHost, role_name};
use crate::summary::FleetCounts;

/// Every status, in the order reports list them.
pub const STATUSES: [Status; 4] = Status::ALL;

/// Every finding kind.
pub const FINDING_KINDS: [FindingKind; 8] = [
    FindingKind::BelowBaseline,
    FindingKind::UnparseableVersion,
    FindingKind::HumanIdentityOnBuildRunner,
    FindingKind::HumanIdentity,
    FindingKind::UserPasswordSignIn,
    FindingKind::PlaintextSecretInJob,
    FindingKind::UnknownVersion,
    FindingKind::RetiredModule,
];

/// The name of a finding kind as JSON and the baseline file spell it (`below-baseline`).
pub fn kind_name(kind: FindingKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The role label of a host: its role, or `unknown`.
pub fn role_label(role: Option<Role>) -> &'static str {
    role.map_or("unknown", role_name)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcLabels {
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    status: String,
    role: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstallationLabels {
    product: String,
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Request latencies from 0.5 ms to about 8 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// Process-lifetime counters and histograms. Cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    received: Counter,
    rejected: Family<CodeLabels, Counter>,
    deduplicated: Counter,
    grpc_latency: HistogramFamily<GrpcLabels>,
    http_latency: HistogramFamily<HttpLabels>,
    malformed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            received: Counter::default(),
            rejected: Family::default(),
            deduplicated: Counter::default(),
            grpc_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            http_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            malformed: Counter::default(),
        }
    }
}

/// The snake_case name of a gRPC status code (`invalid_argument`), as the `code` label.
pub fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

impl Metrics {
    /// A `Report` call arrived.
    pub fn report_received(&self) {
        self.received.inc();
    }

    /// A report was refused with `code` (nothing stored).
    pub fn report_rejected(&self, code: tonic::Code) {
        self.rejected.get_or_create(&CodeLabels { code: code_name(code) }).inc();
    }

    /// A report was a duplicate: acknowledged, not stored again.
    pub fn report_deduplicated(&self) {
        self.deduplicated.inc();
    }

    /// A gRPC request whose message could not be decoded (garbage, truncated, not UTF-8) was
    /// refused with `INVALID_ARGUMENT`.
    pub fn request_malformed(&self) {
        self.malformed.inc();
    }

    /// A gRPC call to `method` (`Report`, `GetBaseline`) took `elapsed`.
    pub fn observe_grpc(&self, method: &str, elapsed: Duration) {
        self.grpc_latency.get_or_create(&GrpcLabels { method: method.to_owned() }).observe(elapsed.as_secs_f64());
    }

    /// An HTTP request to `route` (the matched route pattern, never the raw path, so host ids
    /// do not become label values) took `elapsed`.
    pub fn observe_http(&self, route: &str, method: &str, elapsed: Duration) {
        self.http_latency
            .get_or_create(&HttpLabels { route: route.to_owned(), method: method.to_owned() })
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition: these metrics plus the gauges computed from `hosts` now.
    pub fn render(&self, fleet: &FleetGauges) -> String {
        let mut registry = Registry::with_prefix("azver");
        registry.register("reports_received", "Report calls received", self.received.clone());
        registry.register("reports_rejected", "Reports refused, by gRPC status code", self.rejected.clone());
        registry.register(
            "reports_deduplicated",
            "Reports acknowledged as duplicates and not stored again",
            self.deduplicated.clone(),
        );
        registry.register(
            "grpc_malformed_requests",
            "gRPC requests refused because their message could not be decoded",
            self.malformed.clone(),
        );
        registry.register_with_unit(
            "grpc_request_duration",
            "Latency of gRPC calls to azver.v1.InventoryService",
            Unit::Seconds,
            self.grpc_latency.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Latency of HTTP requests, by route pattern",
            Unit::Seconds,
            self.http_latency.clone(),
        );

        let hosts = Family::<HostLabels, Gauge>::default();
        for ((status, role), n) in &fleet.hosts {
            hosts.get_or_create(&HostLabels { status: status.clone(), role: role.clone() }).set(*n);
        }
        registry.register("hosts", "Hosts per status (evaluated now) and role", hosts);
        let installations = Family::<InstallationLabels, Gauge>::default();
        for ((product, version), n) in &fleet.installations {
            installations
                .get_or_create(&InstallationLabels { product: product.clone(), version: version.clone() })
                .set(*n);
        }
        registry.register(
            "installations",
            "Installations per product and version (a version installed twice on one host counts once)",
            installations,
        );
        let findings = Family::<KindLabels, Gauge>::default();
        for (kind, n) in &fleet.findings {
            findings.get_or_create(&KindLabels { kind: kind.clone() }).set(*n);
        }
        registry.register("findings", "Findings per kind, over every host", findings);
        let db_size = Gauge::<i64>::default();
        db_size.set(fleet.db_size_bytes);
        registry.register_with_unit("db_size", "Size of the SQLite database file", Unit::Bytes, db_size);
        let snapshots = Gauge::<i64>::default();
        snapshots.set(fleet.snapshots);
        registry.register("history_snapshots", "Inventory snapshots kept as history", snapshots);

        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// Converts the OpenMetrics exposition that [`Metrics::render`] writes to the Prometheus text
/// format 0.0.4: a counter family takes its sample name (`..._total`) and the `# UNIT` and
/// `# EOF` lines, which that format does not have, go.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Exact version labels kept per baseline product; the other versions are counted under
/// [`OTHER`], so no host, however many versions it reports, can add series without bound.
pub const MAX_VERSIONS_PER_PRODUCT: usize = 20;

/// The label value that aggregates products outside the baseline and versions beyond
/// [`MAX_VERSIONS_PER_PRODUCT`].
pub const OTHER: &str = "other";

/// Gauges computed from the store, with bounded label values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetGauges {
    /// (status, role) → hosts; every status and role present, zeros included.
    pub hosts: BTreeMap<(String, String), i64>,
    /// (product, version) → installations: the baseline's products, each with its
    /// [`MAX_VERSIONS_PER_PRODUCT`] most installed versions and `other`; every other product
    /// counted as (`other`, `other`).
    pub installations: BTreeMap<(String, String), i64>,
    /// Finding kind → findings; every kind present.
    pub findings: BTreeMap<String, i64>,
    /// Database file size.
    pub db_size_bytes: i64,
    /// History snapshots.
    pub snapshots: i64,
}

impl FleetGauges {
    /// The gauges of `counts` (from [`crate::summary::count`]): every status, role and finding
    /// kind present (zeros included), and each baseline product's versions bounded to the
    /// [`MAX_VERSIONS_PER_PRODUCT`] most installed ones.
    pub fn from_counts(counts: &FleetCounts, served: &Served) -> Self {
        let mut gauges = FleetGauges::default();
        let roles = [Some(Role::Developer), Some(Role::BuildRunner), Some(Role::Server), None];
        for status in STATUSES {
            for role in roles {
                gauges.hosts.insert((status.as_str().to_owned(), role_label(role).to_owned()), 0);
            }
        }
        for ((role, status), n) in &counts.statuses {
            let role = if role.is_empty() { role_label(None) } else { role.as_str() };
            *gauges.hosts.entry((status.as_str().to_owned(), role.to_owned())).or_default() += gauge(*n);
        }
        for kind in FINDING_KINDS {
            gauges.findings.insert(kind_name(kind), 0);
        }
        for (kind, n) in &counts.findings {
            *gauges.findings.entry(kind.clone()).or_default() += gauge(*n);
        }
        let mut others = 0;
        for (product, versions) in &counts.versions {
            if served.rule(product).is_none() {
                others += versions.values().map(|n| gauge(*n)).sum::<i64>();
                continue;
            }
            let mut ranked: Vec<(&String, i64)> = versions.iter().map(|(v, n)| (v, gauge(*n))).collect();
            // Most installed first; ties by version text, so the labels are stable.
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let rest: i64 = ranked.iter().skip(MAX_VERSIONS_PER_PRODUCT).map(|(_, n)| n).sum();
            for (version, n) in ranked.into_iter().take(MAX_VERSIONS_PER_PRODUCT) {
                gauges.installations.insert((product.clone(), version.clone()), n);
            }
            if rest > 0 {
                gauges.installations.insert((product.clone(), OTHER.to_owned()), rest);
            }
        }
        if others > 0 {
            gauges.installations.insert((OTHER.to_owned(), OTHER.to_owned()), others);
        }
        gauges
    }

    /// Evaluates every host of `hosts` at `now` (pure: the caller reads the store and the clock).
    pub fn compute(hosts: &[StoredHost], served: &Served, config: &Config, now: i64) -> Self {
        Self::from_counts(&FleetCounts::of_hosts(hosts, served, config, now), served)
    }
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The last computed gauges, refreshed at most every [`GaugeCache::max_age`]: a scrape reads the
/// fleet once per period whatever the number of scrapers.
#[derive(Debug)]
pub struct GaugeCache {
    max_age: Duration,
    last: tokio::sync::Mutex<Option<(std::time::Instant, Arc<FleetGauges>)>>,
}

impl Default for GaugeCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(5))
    }
}

impl GaugeCache {
    /// A cache whose gauges are at most `max_age` old.
    pub fn new(max_age: Duration) -> Self {
        Self { max_age, last: tokio::sync::Mutex::new(None) }
    }

    /// The cached gauges if fresh at `now`, otherwise `compute`'s (one computation at a time:
    /// concurrent scrapes wait for it and share the result).
    pub async fn get<F, E>(&self, now: std::time::Instant, compute: F) -> Result<Arc<FleetGauges>, E>
    where
        F: std::future::Future<Output = Result<FleetGauges, E>>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, gauges)) = last.as_ref()
            && now.saturating_duration_since(*at) < self.max_age
        {
            return Ok(gauges.clone());
        }
        let gauges = Arc::new(compute.await?);
        *last = Some((now, gauges.clone()));
        Ok(gauges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(id: &str, installs: &[(&str, &str)]) -> StoredHost {
        let mut host = StoredHost {
            facts: azver_core::HostFacts { host_id: Some(id.into()), hostname: id.into(), ..Default::default() },
            ..StoredHost::default()
        };
        host.installations = installs
            .iter()
            .map(|(product, version)| azver_core::Installation {
                product: (*product).into(),
                version: (*version).into(),
                source: azver_core::InstallSource::MicrosoftDeb,
                scope: azver_core::Scope::System,
                user: None,
                path: format!("/x/{product}/{version}"),
                on_path: false,
                default_for_powershell: false,
                evidence: azver_core::Evidence::DistInfo,
            })
            .collect();
        host
    }

    #[test]
    fn one_host_cannot_add_series_without_bound() {
        let served = Served::new(azver_core::Baseline::default());
        let fake: Vec<(String, String)> = (0..2000).map(|i| ("azure-cli".into(), format!("9.{i}.0"))).collect();
        let fake: Vec<(&str, &str)> = fake.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
        let mut junk: Vec<(String, String)> = (0..500).map(|i| (format!("junk{i}"), "1.0".into())).collect();
        junk.push(("Az".into(), "14.3.0".into()));
        let junk: Vec<(&str, &str)> = junk.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
        let hosts = [
            host("hostile", &fake),
            host("junk", &junk),
            host("a", &[("azure-cli", "2.76.0")]),
            host("b", &[("azure-cli", "2.76.0")]),
        ];
        let gauges = FleetGauges::compute(&hosts, &served, &Config::default(), 0);
        let azure_cli: Vec<_> = gauges.installations.keys().filter(|(p, _)| p == "azure-cli").collect();
        assert_eq!(azure_cli.len(), MAX_VERSIONS_PER_PRODUCT + 1, "{azure_cli:?}");
        // The version real hosts run stays exact; the rest is counted, not dropped.
        assert_eq!(gauges.installations[&("azure-cli".to_owned(), "2.76.0".to_owned())], 2);
        let azure_cli_total: i64 =
            gauges.installations.iter().filter(|((p, _), _)| p == "azure-cli").map(|(_, n)| n).sum();
        assert_eq!(azure_cli_total, 2002);
        assert_eq!(gauges.installations[&(OTHER.to_owned(), OTHER.to_owned())], 500);
        assert_eq!(gauges.installations[&("Az".to_owned(), "14.3.0".to_owned())], 1);
        assert!(gauges.installations.len() <= (served.products().count() + 1) * (MAX_VERSIONS_PER_PRODUCT + 1));
    }

    #[tokio::test]
    async fn the_gauge_cache_refreshes_at_most_once_per_period() {
        let cache = GaugeCache::new(Duration::from_secs(5));
        let start = std::time::Instant::now();
        let computed = std::sync::atomic::AtomicUsize::new(0);
        let compute = || async {
            computed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(FleetGauges::default())
        };
        cache.get(start, compute()).await.unwrap();
        cache.get(start + Duration::from_secs(4), compute()).await.unwrap();
        assert_eq!(computed.load(std::sync::atomic::Ordering::SeqCst), 1);
        cache.get(start + Duration::from_secs(5), compute()).await.unwrap();
        assert_eq!(computed.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(cache.get(start + Duration::from_secs(6), async { Err(()) }).await.map(|_| ()), Ok(()));
    }

    #[test]
    fn code_names_are_snake_case() {
        assert_eq!(code_name(tonic::Code::InvalidArgument), "invalid_argument");
        assert_eq!(code_name(tonic::Code::Unavailable), "unavailable");
        assert_eq!(code_name(tonic::Code::ResourceExhausted), "resource_exhausted");
    }

    #[test]
    fn exposition_holds_counters_gauges_and_escaped_labels() {
        let metrics = Metrics::default();
        metrics.report_received();
        metrics.report_received();
        metrics.report_rejected(tonic::Code::InvalidArgument);
        metrics.report_deduplicated();
        metrics.observe_grpc("Report", Duration::from_millis(3));
        let mut fleet = FleetGauges::compute(&[], &Served::new(azver_core::Baseline::default()), &Config::default(), 0);
        fleet.installations.insert(("azure-cli".into(), "2.\"76\"\n".into()), 2);
        fleet.db_size_bytes = 4096;
        let text = metrics.render(&fleet);
        for line in [
            "azver_reports_received_total 2",
            "azver_reports_rejected_total{code=\"invalid_argument\"} 1",
            "azver_reports_deduplicated_total 1",
            "azver_hosts{status=\"noncompliant\",role=\"developer\"} 0",
            "azver_findings{kind=\"human-identity-on-build-runner\"} 0",
            "azver_findings{kind=\"user-password-sign-in\"} 0",
            "azver_findings{kind=\"plaintext-secret-in-job\"} 0",
            "azver_installations{product=\"azure-cli\",version=\"2.\\\"76\\\"\\n\"} 2",
            "azver_db_size_bytes 4096",
            "azver_grpc_request_duration_seconds_count{method=\"Report\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");

        let prometheus = to_prometheus_text(&text);
        for line in [
            "# TYPE azver_reports_received_total counter",
            "# HELP azver_reports_received_total Report calls received.",
            "azver_reports_received_total 2",
            "# TYPE azver_db_size_bytes gauge",
        ] {
            assert!(prometheus.lines().any(|l| l == line), "missing {line:?} in\n{prometheus}");
        }
        assert!(!prometheus.contains("# EOF") && !prometheus.contains("# UNIT"), "{prometheus}");
    }
}

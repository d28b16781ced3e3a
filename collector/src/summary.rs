//! Fleet counts from aggregate queries (issue 17): what the dashboard, `/api/v1/summary` and the
//! streamed reports show above the hosts, without reading the fleet into memory.
//!
//! The database counts the hosts whose stored verdict is for the served baseline
//! ([`Store::tally`]); the hosts a re-evaluation has not reached yet are read a batch at a time
//! ([`Store::unevaluated`]), evaluated here and counted when they match the filter. Outside a
//! re-evaluation that second part reads nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use azver_core::{Evaluation, FindingKind, Role, Status};

use crate::baseline::Served;
use crate::config::Config;
use crate::housekeeping::REEVALUATE_BATCH;
use crate::metrics::{FINDING_KINDS, STATUSES, kind_name};
use crate::policy;
use crate::reports::Summary;
use crate::store::query::{HostFilter, Tally};
use crate::store::{Store, StoreError, StoredHost, role_name};

/// Counts over the hosts a filter selects, at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetCounts {
    /// Hosts per (role name, or empty without a role; status now).
    pub statuses: BTreeMap<(String, Status), u64>,
    /// Per product (every product, not only the baseline's): hosts per installed version.
    pub versions: BTreeMap<String, BTreeMap<String, u64>>,
    /// Findings per kind (`below-baseline`, ...), every kind present.
    pub findings: BTreeMap<String, u64>,
    /// Per product: hosts with an installation below the baseline.
    pub below: BTreeMap<String, u64>,
    /// Hosts that need action as the dashboard lists them first: stale, noncompliant, or not
    /// re-evaluated against the served baseline yet (`HostFilter::action`).
    pub action: u64,
    /// Hosts not re-evaluated against the served baseline yet (counted among those above by
    /// evaluating them).
    pub not_reevaluated: u64,
}

impl FleetCounts {
    /// Whether a page of the hosts `filter` selects by status or by need of action, `wanted`
    /// hosts into the list, is found sooner from those few hosts through the indexes than by
    /// walking every host in name order ([`crate::store::query::PageRequest::sparse`]): with
    /// every host evaluated, when the candidates are fewer than the walk would read (about
    /// `wanted` × hosts / the hosts selected). Only the speed depends on these counts being
    /// current.
    pub fn sparse(&self, filter: &HostFilter, wanted: usize) -> bool {
        if self.not_reevaluated > 0 {
            return false;
        }
        // What the page selects (`wanted`), and the candidates `query::candidates` reads: of
        // every role, but for the stale ones of a role.
        let of_role = |status: Status, role: Option<Role>| -> u64 {
            let role = role.map(role_name);
            self.statuses
                .iter()
                .filter(|((r, s), _)| *s == status && role.is_none_or(|role| role == r))
                .map(|(_, n)| n)
                .sum()
        };
        let (selected, candidates) = match (filter.status, filter.action) {
            (Some(Status::Stale), _) => (of_role(Status::Stale, filter.role), of_role(Status::Stale, filter.role)),
            (Some(status), _) => (of_role(status, filter.role), of_role(status, None)),
            (None, Some(true)) => {
                let stale = of_role(Status::Stale, filter.role);
                let selected = of_role(Status::Noncompliant, filter.role).saturating_add(stale);
                (selected, of_role(Status::Noncompliant, None).saturating_add(stale))
            }
            _ => return false,
        };
        // The walk in name order reads about `wanted` × hosts / selected rows, every host when
        // none is selected.
        let hosts = u128::from(self.hosts());
        let walked = match u128::from(selected) {
            0 => hosts,
            selected => (hosts.saturating_mul(u128::try_from(wanted).unwrap_or(u128::MAX)) / selected).min(hosts),
        };
        u128::from(candidates) < walked
    }

    /// Hosts counted.
    pub fn hosts(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Hosts per status, every status present (zeros included).
    pub fn by_status(&self) -> BTreeMap<Status, u64> {
        let mut by_status: BTreeMap<Status, u64> = STATUSES.into_iter().map(|s| (s, 0)).collect();
        for ((_, status), n) in &self.statuses {
            *by_status.entry(*status).or_default() += n;
        }
        by_status
    }

    /// The summary reports print: hosts per status, and per baseline product the hosts per
    /// installed version (the same numbers `reports::build` counts host by host).
    pub fn summary(&self, served: &Served) -> Summary {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Summary {
            hosts: size(self.hosts()),
            by_status: self.by_status().into_iter().map(|(s, n)| (s, size(n))).collect(),
            products: self
                .versions
                .iter()
                .filter(|(product, _)| served.rule(product).is_some())
                .map(|(product, versions)| {
                    (product.clone(), versions.iter().map(|(v, n)| (v.clone(), size(*n))).collect())
                })
                .collect(),
        }
    }

    /// Every product installed on a host counted, in name order.
    pub fn products(&self) -> Vec<String> {
        self.versions.keys().cloned().collect()
    }

    /// The counts of `hosts`, each evaluated here at `now` (pure; for tests and small fleets).
    /// Every host counts as not re-evaluated, so all are in [`FleetCounts::action`].
    pub fn of_hosts(hosts: &[StoredHost], served: &Served, config: &Config, now: i64) -> Self {
        let mut counts =
            Self { findings: FINDING_KINDS.iter().map(|k| (kind_name(*k), 0)).collect(), ..Self::default() };
        for host in hosts {
            let evaluation = policy::evaluate_served(host, served, config, now);
            counts.add(host, evaluation.status, &evaluation.findings, true);
        }
        counts
    }

    /// Counts one host (evaluated here) with its status `status`, and its versions when
    /// `versions` (not when the database counted them already: see [`Tally::Versions`]).
    fn add(&mut self, host: &StoredHost, status: Status, findings: &[azver_core::Finding], versions: bool) {
        let role = host.facts.role.map_or("", role_name).to_owned();
        *self.statuses.entry((role, status)).or_default() += 1;
        let mut seen = BTreeSet::new();
        for install in host.installations.iter().filter(|_| versions) {
            if seen.insert((&install.product, &install.version)) {
                *self
                    .versions
                    .entry(install.product.clone())
                    .or_default()
                    .entry(install.version.clone())
                    .or_default() += 1;
            }
        }
        for finding in findings {
            *self.findings.entry(kind_name(finding.kind)).or_default() += 1;
        }
        let below: BTreeSet<&str> =
            findings.iter().filter(|f| f.kind == FindingKind::BelowBaseline).map(|f| f.product.as_str()).collect();
        for product in below {
            *self.below.entry(product.to_owned()).or_default() += 1;
        }
        // Not re-evaluated yet: listed among the hosts that need action, whatever its status.
        self.action += 1;
    }
}

/// True when `findings` hold one of `kind` (as JSON names it).
pub fn has_finding(findings: &[azver_core::Finding], kind: &str) -> bool {
    findings.iter().any(|f| kind_name(f.kind) == kind)
}

/// True when `host`, evaluated now as `evaluation`, is one `filter` selects (the in-memory
/// form of `query::clause`, for hosts not re-evaluated yet).
pub fn matches(filter: &HostFilter, host: &StoredHost, evaluation: &Evaluation) -> bool {
    let status = evaluation.status;
    let label = |(key, value): &(String, Option<String>)| match (host.facts.labels.get(key), value) {
        (Some(found), Some(wanted)) => found == wanted,
        (Some(_), None) => true,
        (None, _) => false,
    };
    filter.status.is_none_or(|s| s == status)
        && filter.role.is_none_or(|r| host.facts.role == Some(r))
        && filter.label.as_ref().is_none_or(label)
        && filter.product.as_ref().is_none_or(|p| host.installations.iter().any(|i| &i.product == p))
        && filter.name.as_ref().is_none_or(|n| host.facts.hostname.to_ascii_lowercase().contains(&n.to_ascii_lowercase()))
        && filter.finding.as_ref().is_none_or(|k| has_finding(&evaluation.findings, k))
        // A host not re-evaluated yet is listed among those that need action.
        && filter.action != Some(false)
}

/// Counts the hosts `filter` selects at `now`, against the served baseline: aggregate queries
/// for the hosts evaluated against it, a batched read for the others.
pub async fn count(
    store: &dyn Store,
    served: &Served,
    config: &Config,
    filter: &HostFilter,
    now: i64,
) -> Result<FleetCounts, StoreError> {
    let mut counts =
        FleetCounts { findings: FINDING_KINDS.iter().map(|k| (kind_name(*k), 0)).collect(), ..FleetCounts::default() };
    for what in Tally::ALL {
        for (a, b, n) in store.tally(what, filter, config, &served.digest, now).await? {
            match what {
                Tally::Statuses => {
                    // A status this collector does not know (a newer one's?) is not counted.
                    let Some(status) = STATUSES.into_iter().find(|s| s.as_str() == b) else { continue };
                    if matches!(status, Status::Stale | Status::Noncompliant) {
                        counts.action += n;
                    }
                    *counts.statuses.entry((a, status)).or_default() += n;
                }
                Tally::Versions => *counts.versions.entry(a).or_default().entry(b).or_default() += n,
                Tally::FindingKinds => *counts.findings.entry(a).or_default() += n,
                Tally::Below => *counts.below.entry(a).or_default() += n,
            }
        }
    }
    let mut after = String::new();
    loop {
        let hosts = store.unevaluated(&served.digest, &after, REEVALUATE_BATCH).await?;
        let Some(last) = hosts.last() else { break };
        after = last.host_id().to_owned();
        counts.not_reevaluated += u64::try_from(hosts.len()).unwrap_or(u64::MAX);
        for host in &hosts {
            let evaluation = policy::evaluate_served(host, served, config, now);
            if matches(filter, host, &evaluation) {
                counts.add(host, evaluation.status, &evaluation.findings, filter.by_verdict());
            }
        }
        if hosts.len() < REEVALUATE_BATCH {
            break;
        }
    }
    Ok(counts)
}

/// The counts over every host, shared by the dashboard, `/api/v1/summary` and `/metrics`, at
/// most [`CountsCache::max_age`] old for the served baseline, refreshed in the background: a
/// request finding them older gets them at once and starts one refresh (stale while
/// revalidating), so no request waits for the aggregate queries but the first after start or
/// after a baseline change.
#[derive(Debug)]
pub struct CountsCache {
    max_age: Duration,
    state: std::sync::Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// The counts: for which baseline ([`Served::key`]), when their computation started, until when
    /// they are fresh.
    last: Option<Cached>,
    /// A background refresh is running.
    refreshing: bool,
}

/// Counts kept by the cache.
#[derive(Debug)]
struct Cached {
    digest: String,
    started: Instant,
    fresh_until: Instant,
    counts: Arc<FleetCounts>,
}

/// What a lookup does.
#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    /// Fresh counts for this baseline.
    Fresh(Arc<FleetCounts>),
    /// Counts for this baseline, older than the limit: answer with them and refresh them.
    Refresh(Arc<FleetCounts>),
    /// Old counts while a refresh is already running.
    Stale(Arc<FleetCounts>),
    /// None for this baseline: compute them now.
    Compute,
}

impl CacheState {
    fn lookup(&mut self, digest: &str, now: Instant) -> Lookup {
        match &self.last {
            Some(Cached { digest: d, fresh_until, counts, .. }) if d == digest => {
                if now < *fresh_until {
                    Lookup::Fresh(counts.clone())
                } else if self.refreshing {
                    Lookup::Stale(counts.clone())
                } else {
                    self.refreshing = true;
                    Lookup::Refresh(counts.clone())
                }
            }
            _ => Lookup::Compute,
        }
    }

    /// Keeps counts computed from `started` to `finished`. They stay fresh for `max_age` after
    /// they were finished, or as long as they took when that is longer: a fleet whose count takes
    /// a minute is counted at most every other minute, so the database gets the pauses it needs
    /// to checkpoint its write-ahead log (a read always running keeps SQLite's WAL growing).
    fn store(
        &mut self,
        started: Instant,
        finished: Instant,
        max_age: Duration,
        digest: &str,
        counts: Arc<FleetCounts>,
    ) {
        // A slower computation that started earlier never replaces a later one's counts.
        if self.last.as_ref().is_none_or(|c| c.digest != digest || c.started <= started) {
            let took = finished.saturating_duration_since(started);
            let fresh_until = finished + max_age.max(took);
            self.last = Some(Cached { digest: digest.to_owned(), started, fresh_until, counts });
        }
    }
}

impl Default for CountsCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(5))
    }
}

impl CountsCache {
    /// A cache whose counts are refreshed once older than `max_age`.
    pub fn new(max_age: Duration) -> Self {
        Self { max_age, state: std::sync::Mutex::new(CacheState::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The counts over every host against `served`: cached, or computed now (first use, new
    /// baseline); counts older than the limit are returned and refreshed in the background.
    pub async fn get(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        served: &Arc<Served>,
        config: &Arc<Config>,
        now: Instant,
        unix_now: i64,
    ) -> Result<Arc<FleetCounts>, StoreError> {
        if let Some(counts) = self.cached(store, served, config, now, unix_now) {
            return Ok(counts);
        }
        let fresh = Arc::new(count(&**store, served, config, &HostFilter::default(), unix_now).await?);
        self.state().store(now, Instant::now().max(now), self.max_age, &served.key(), fresh.clone());
        Ok(fresh)
    }

    /// As [`CountsCache::get`], but `None` instead of computing counts that are not cached.
    pub fn cached(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        served: &Arc<Served>,
        config: &Arc<Config>,
        now: Instant,
        unix_now: i64,
    ) -> Option<Arc<FleetCounts>> {
        let lookup = self.state().lookup(&served.key(), now);
        match lookup {
            Lookup::Fresh(counts) | Lookup::Stale(counts) => Some(counts),
            Lookup::Refresh(counts) => {
                let (cache, store, served, config) = (self.clone(), store.clone(), served.clone(), config.clone());
                let max_age = self.max_age;
                tokio::spawn(async move {
                    let started = Instant::now();
                    match count(&*store, &served, &config, &HostFilter::default(), unix_now).await {
                        Ok(fresh) => {
                            cache.state().store(started, Instant::now(), max_age, &served.key(), Arc::new(fresh))
                        }
                        Err(error) => tracing::warn!(%error, "refreshing the fleet counts failed"),
                    }
                    cache.state().refreshing = false;
                });
                Some(counts)
            }
            Lookup::Compute => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_few_hosts_is_found_through_indexes_once_every_host_is_evaluated() {
        let fleet = |compliant: u64, noncompliant: u64, stale: u64| FleetCounts {
            statuses: [
                (("developer".to_owned(), Status::Compliant), compliant),
                (("developer".to_owned(), Status::Noncompliant), noncompliant),
                (("server".to_owned(), Status::Stale), stale),
            ]
            .into_iter()
            .collect(),
            action: noncompliant + stale,
            ..FleetCounts::default()
        };
        let status = |s| HostFilter { status: Some(s), ..HostFilter::default() };
        let action = HostFilter { action: Some(true), ..HostFilter::default() };
        // 1,000,000 hosts, 40 of them needing action: a walk in name order would read them all.
        let healthy = fleet(999_960, 30, 10);
        assert!(healthy.sparse(&action, 50));
        assert!(healthy.sparse(&status(Status::Noncompliant), 50));
        assert!(healthy.sparse(&status(Status::NotApplicable), 50), "a status no host has");
        assert!(!healthy.sparse(&status(Status::Compliant), 50), "the walk stops after 50");
        assert!(!healthy.sparse(&HostFilter::default(), 50), "no status: nothing to find by index");
        // Half need action: the walk reads about 100 hosts for a page of 50.
        assert!(!fleet(500_000, 500_000, 0).sparse(&action, 50));
        // 5,000 of 1,000,000: 5,000 squared (25 million) against 50 pages of 1,000,000.
        assert!(fleet(995_000, 5_000, 0).sparse(&action, 50));
        assert!(!fleet(995_000, 5_000, 0).sparse(&action, 20), "a smaller page is found sooner by the walk");
        // A host not re-evaluated yet is not in the status index under this baseline.
        let reevaluating = FleetCounts { not_reevaluated: 1, ..fleet(999_960, 30, 10) };
        assert!(!reevaluating.sparse(&action, 50));
        // With a role: the walk reads as many hosts as the role's few (none: every host), the
        // candidates are the status's of every role.
        let split = FleetCounts {
            statuses: [
                (("developer".to_owned(), Status::Compliant), 850_000),
                (("build-runner".to_owned(), Status::Noncompliant), 150_000),
            ]
            .into_iter()
            .collect(),
            ..FleetCounts::default()
        };
        let of = |role, s| HostFilter { role: Some(role), ..status(s) };
        assert!(split.sparse(&of(Role::Developer, Status::Noncompliant), 50), "150,000 against every host");
        assert!(!split.sparse(&of(Role::BuildRunner, Status::Noncompliant), 50), "the walk reads about 333");
        assert!(!split.sparse(&status(Status::Noncompliant), 50));
    }

    #[test]
    fn counts_are_kept_per_loading_of_a_baseline() {
        // The same baseline served again after another is a new key: counts learnt under the
        // first loading (every host evaluated) are not taken for the second.
        let (a, b) = (Served::new(azver_core::Baseline::default()), Served::new(azver_core::Baseline::default()));
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.key(), b.key());
        let cache = CountsCache::default();
        let now = Instant::now();
        cache.state().store(now, now, Duration::from_secs(5), &a.key(), Arc::new(FleetCounts::default()));
        assert!(matches!(cache.state().lookup(&a.key(), now), Lookup::Fresh(_)));
        assert_eq!(cache.state().lookup(&b.key(), now), Lookup::Compute);
    }

    fn host(name: &str) -> StoredHost {
        StoredHost {
            facts: azver_core::HostFacts {
                host_id: Some(name.into()),
                hostname: name.into(),
                role: Some(azver_core::Role::Developer),
                labels: [("team".to_owned(), "web".to_owned())].into_iter().collect(),
                ..Default::default()
            },
            ..StoredHost::default()
        }
    }

    #[test]
    fn cached_counts_are_fresh_then_refreshed_once_and_replaced_by_a_new_baseline() {
        let (start, max_age) = (Instant::now(), Duration::from_secs(5));
        let secs = |n: u64| start + Duration::from_secs(n);
        let mut state = CacheState::default();
        assert_eq!(state.lookup("d1", start), Lookup::Compute);
        let first = Arc::new(FleetCounts { action: 1, ..FleetCounts::default() });
        // Counted in no time: fresh for `max_age` after.
        state.store(start, start, max_age, "d1", first.clone());
        assert_eq!(state.lookup("d1", secs(4)), Lookup::Fresh(first.clone()));
        // Older than the limit: one caller refreshes, the others get the old counts meanwhile.
        assert_eq!(state.lookup("d1", secs(5)), Lookup::Refresh(first.clone()));
        assert_eq!(state.lookup("d1", secs(6)), Lookup::Stale(first.clone()));
        let second = Arc::new(FleetCounts { action: 2, ..FleetCounts::default() });
        state.store(secs(5), secs(5), max_age, "d1", second.clone());
        state.refreshing = false;
        assert_eq!(state.lookup("d1", secs(7)), Lookup::Fresh(second.clone()));
        // A computation that started before the stored one does not replace it.
        state.store(secs(1), secs(8), max_age, "d1", first.clone());
        assert_eq!(state.lookup("d1", secs(7)), Lookup::Fresh(second));
        // Another baseline: its counts are computed, never another baseline's shown.
        assert_eq!(state.lookup("d2", secs(7)), Lookup::Compute);
    }

    #[test]
    fn counts_that_took_long_stay_fresh_as_long_so_the_database_gets_pauses() {
        let (start, max_age) = (Instant::now(), Duration::from_secs(5));
        let secs = |n: u64| start + Duration::from_secs(n);
        let mut state = CacheState::default();
        let counts = Arc::new(FleetCounts { action: 1, ..FleetCounts::default() });
        // A count of a large fleet that took 60 s, finished at 60 s: no new count before 120 s,
        // so reads leave the database alone half the time at least.
        state.store(start, secs(60), max_age, "d1", counts.clone());
        assert_eq!(state.lookup("d1", secs(119)), Lookup::Fresh(counts.clone()));
        assert_eq!(state.lookup("d1", secs(120)), Lookup::Refresh(counts));
    }

    #[test]
    fn the_in_memory_filter_follows_the_sql_one() {
        let h = host("Web-01");
        let any = HostFilter::default();
        let finding = azver_core::Finding {
            kind: FindingKind::UserPasswordSignIn,
            severity: azver_core::Severity::High,
            product: "azure-cli".into(),
            installed: "user-password".into(),
            required: String::new(),
            path: "/etc/cron.d/nightly".into(),
            source: azver_core::InstallSource::Other,
            hint: String::new(),
            account_type: None,
            line: Some(3),
            job: Some("cron:/etc/cron.d/nightly".into()),
            run_as: None,
            command: Some("az login -u ops -p ***".into()),
        };
        let evaluation = Evaluation { status: Status::Compliant, findings: vec![finding] };
        assert!(matches(&any, &h, &evaluation));
        let check = |filter: HostFilter, want: bool| assert_eq!(matches(&filter, &h, &evaluation), want, "{filter:?}");
        check(HostFilter { finding: Some("user-password-sign-in".into()), ..HostFilter::default() }, true);
        check(HostFilter { finding: Some("below-baseline".into()), ..HostFilter::default() }, false);
        check(HostFilter { name: Some("web-0".into()), ..HostFilter::default() }, true);
        check(HostFilter { name: Some("db".into()), ..HostFilter::default() }, false);
        check(HostFilter { label: Some(("team".into(), None)), ..HostFilter::default() }, true);
        check(HostFilter { label: Some(("team".into(), Some("ops".into()))), ..HostFilter::default() }, false);
        check(HostFilter { role: Some(azver_core::Role::Server), ..HostFilter::default() }, false);
        check(HostFilter { status: Some(Status::Stale), ..HostFilter::default() }, false);
        check(HostFilter { product: Some("Az".into()), ..HostFilter::default() }, false);
        // Not re-evaluated yet: it needs action until it is.
        check(HostFilter { action: Some(true), ..HostFilter::default() }, true);
        check(HostFilter { action: Some(false), ..HostFilter::default() }, false);
    }
}

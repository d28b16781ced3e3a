//! The store conformance suite: every test below runs against both stores, SQLite (a temporary
//! file) and PostgreSQL (a database of its own on the server `AZVER_TEST_POSTGRES_URL` names;
//! skipped with a message when it is unset, a failure under `CI=true`).
//!
//! A second handle on the same database ([`Harness::second`]) plays a second collector: for
//! PostgreSQL a second pool, as another process would have; for SQLite a second connection set.

use std::sync::Arc;

use azver_core::{Evidence, HostFacts, InstallSource, Installation, JobSignIn, JobSignInKind, Role, Scope};

use super::postgres::TestDatabase;
use super::*;

/// One store under test and what it takes to open it again.
struct Harness {
    store: Arc<dyn Store>,
    location: DbLocation,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<TestDatabase>,
}

impl Harness {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let location = DbLocation::Sqlite(dir.path().join("fleet.db"));
        Self { store: open(&location).await.unwrap(), location, _dir: Some(dir), _pg: None }
    }

    async fn postgres() -> Option<Self> {
        let pg = TestDatabase::create().await?;
        let location = DbLocation::Postgres(pg.url.clone());
        Some(Self { store: open(&location).await.unwrap(), location, _dir: None, _pg: Some(pg) })
    }

    /// Another handle on the same database: a second collector.
    async fn second(&self) -> Arc<dyn Store> {
        open(&self.location).await.unwrap()
    }
}

/// Instantiates each named test for both stores.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&super::Harness::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(harness) = super::Harness::postgres().await else { return };
                    super::$name(&harness).await;
                }
            )*
        }
    };
}

conformance!(
    unchanged_reports_move_last_seen_only,
    outcomes_follow_ids_and_sequences,
    retries_are_recognised_by_id_within_a_window,
    a_baseline_change_reaches_every_host,
    status_counts_in_the_database_match_evaluation,
    pages_filter_and_order_in_the_database,
    summaries_from_aggregates_match_the_report,
    sequences_far_away_reset_and_never_freeze_a_host,
    duplicates_are_acknowledged_and_not_stored,
    changes_and_renames_are_history,
    strings_are_stored_exactly_and_ordered_bytewise,
    hosts_can_be_deleted_with_their_history,
    skewed_clocks_are_marked,
    every_host_streams_in_order,
    daily_rollups_replace_the_whole_day,
    two_collectors_racing_store_each_report_once,
    two_collectors_rolling_up_one_day_never_sum,
    enrollment_checks_secret_and_host,
    revoked_hosts_stay_out_until_deleted,
    admin_tokens_expire_and_revoke,
    secrets_and_ids_are_unique,
    purge_deletes_only_hosts_past_their_retention,
    a_copy_holds_the_same_fleet,
    exported_tables_cover_the_schema,
    import_refuses_a_database_with_data,
    import_refuses_a_row_that_does_not_fit,
    job_sign_ins_are_part_of_the_inventory,
    staleness_is_exact_to_the_second_though_indexed_by_the_hour,
    counts_kept_at_write_time_match_a_recount,
    counts_by_status_hold_while_hosts_wait_for_reevaluation,
    the_counts_of_schema_9_are_rebuilt_by_10,
);

fn install(version: &str) -> Installation {
    Installation {
        product: "azure-cli".into(),
        version: version.into(),
        source: InstallSource::MicrosoftDeb,
        scope: Scope::System,
        user: None,
        path: "/opt/az/lib/python3.12/site-packages".into(),
        on_path: true,
        default_for_powershell: false,
        evidence: Evidence::DistInfo,
    }
}

fn report(host: &str, hostname: &str, sequence: u64, version: &str) -> IncomingReport {
    IncomingReport {
        host: HostFacts { host_id: Some(host.into()), hostname: hostname.into(), ..HostFacts::default() },
        scanned_at: Some(1_000),
        report_id: format!("{host}-{sequence}"),
        sequence,
        installations: vec![install(version)],
        identities: Vec::new(),
        errors: Vec::new(),
        verdict: None,
        job_sign_ins: Vec::new(),
    }
}

fn job(path: &str, line: Option<u32>) -> JobSignIn {
    JobSignIn {
        product: "azure-cli".into(),
        path: path.into(),
        line,
        job: "cron:/etc/cron.d/nightly".into(),
        run_as: Some("ops".into()),
        command: "az login -u *** -p ***".into(),
        kind: JobSignInKind::UserPassword,
    }
}

const STORED: IngestOutcome = IngestOutcome::Stored { new_snapshot: false };
const NEW_SNAPSHOT: IngestOutcome = IngestOutcome::Stored { new_snapshot: true };

async fn ids(store: &dyn Store) -> Vec<String> {
    store.hosts().await.unwrap().iter().map(|h| h.host_id().to_owned()).collect()
}

async fn unchanged_reports_move_last_seen_only(h: &Harness) {
    let store = &*h.store;
    assert_eq!(store.ingest(report("h1", "a", 1, "2.76.0"), 1_000).await.unwrap(), NEW_SNAPSHOT);
    for sequence in 2..=60 {
        let outcome = store.ingest(report("h1", "a", sequence, "2.76.0"), 1_000 + sequence as i64 * 3600).await;
        assert_eq!(outcome.unwrap(), STORED);
    }
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.hosts, stats.snapshots), (1, 1));
    assert!(stats.bytes > 0);
    let host = store.host("h1").await.unwrap().unwrap();
    assert_eq!((host.first_seen, host.last_seen), (1_000, 1_000 + 60 * 3600));
    assert_eq!(store.history("h1").await.unwrap().len(), 1);
}

async fn outcomes_follow_ids_and_sequences(h: &Harness) {
    // New host, unchanged, upgrade, retry of the upgrade, late older report, rename, and a
    // second host, in order.
    let mut renamed = report("h1", "b", 4, "2.77.0");
    renamed.report_id = "h1-renamed".into();
    let reports = [
        (report("h1", "a", 1, "2.76.0"), 1_000),
        (report("h1", "a", 2, "2.76.0"), 1_001),
        (report("h1", "a", 3, "2.77.0"), 1_002),
        (report("h1", "a", 3, "2.77.0"), 1_003),
        (report("h1", "a", 2, "2.76.0"), 1_004),
        (renamed, 1_005),
        (report("h2", "c", 1, "2.76.0"), 1_006),
    ];
    let mut outcomes = Vec::new();
    for (report, now) in reports {
        outcomes.push(h.store.ingest(report, now).await.unwrap());
    }
    use IngestOutcome::Duplicate;
    assert_eq!(outcomes, [NEW_SNAPSHOT, STORED, NEW_SNAPSHOT, Duplicate, Duplicate, STORED, NEW_SNAPSHOT]);
    assert_eq!(h.store.stats().await.unwrap().snapshots, 3);
    let host = h.store.host("h1").await.unwrap().unwrap();
    assert_eq!((host.facts.hostname.as_str(), host.installations[0].version.as_str()), ("b", "2.77.0"));
    assert_eq!(host.last_seen, 1_005);
}

async fn a_baseline_change_reaches_every_host(h: &Harness) {
    use crate::baseline::Served;
    use crate::housekeeping::reevaluate;
    let store = &*h.store;
    let old = Served::new(azver_core::Baseline::default());
    // 45 hosts: 2.76.0 meets the built-in baseline; some stored with a verdict, some without.
    for i in 0..45u64 {
        let mut r = report(&format!("h{i:02}"), "a", 1, "2.76.0");
        if i % 3 == 0 {
            r.verdict = Some(Verdict::new(
                &old.digest,
                old.evaluate(&azver_core::Subject {
                    installations: &r.installations,
                    identities: &r.identities,
                    role: None,
                    jobs: &[],
                }),
            ));
        }
        store.ingest(r, 1_000).await.unwrap();
    }
    let stricter = Served::new(
        azver_core::Baseline::from_toml("[products.azure-cli]\nminimum = \"2.77.0\"\nrule = \"every\"\n").unwrap(),
    );
    // In batches of 7 (7 reads and writes), every host gets the new baseline's verdict.
    assert_eq!(reevaluate(store, &stricter, 7).await.unwrap(), 45);
    for host in store.hosts().await.unwrap() {
        let verdict = host.verdict.expect("every host has a verdict");
        assert_eq!(
            (verdict.baseline.as_str(), verdict.status),
            (stricter.digest.as_str(), azver_core::Status::Noncompliant)
        );
        assert_eq!(verdict.below(), ["azure-cli"]);
    }
    // Nothing is left to do for that baseline.
    assert_eq!(reevaluate(store, &stricter, 7).await.unwrap(), 0);
    assert!(store.unevaluated(&stricter.digest, "", 100).await.unwrap().is_empty());
    // A report that arrived after a host was read keeps the verdict stored with it.
    let before = store.host("h00").await.unwrap().unwrap();
    let mut upgraded = report("h00", "a", 2, "2.78.0");
    upgraded.verdict = Some(policy_verdict(&upgraded, &stricter));
    store.ingest(upgraded, 2_000).await.unwrap();
    let stale =
        Verdict::new("older", azver_core::Evaluation { status: azver_core::Status::Noncompliant, findings: vec![] });
    assert_eq!(store.record_verdicts(&[("h00".into(), before.last_sequence, stale)]).await.unwrap(), 0);
    let now = store.host("h00").await.unwrap().unwrap().verdict.unwrap();
    assert_eq!((now.baseline.as_str(), now.status), (stricter.digest.as_str(), azver_core::Status::Compliant));
    // Back to the first baseline in batches of 9 (45 hosts: the last batch is full, and the read
    // of the next one, under way while it is written, finds none).
    assert_eq!(reevaluate(store, &old, 9).await.unwrap(), 45);
    for host in store.hosts().await.unwrap() {
        let stamped = host.verdict.as_ref().map(|v| v.baseline.as_str());
        assert_eq!(stamped, Some(old.digest.as_str()), "{}", host.host_id());
    }
    assert_eq!(reevaluate(store, &old, 9).await.unwrap(), 0);
}

async fn status_counts_in_the_database_match_evaluation(h: &Harness) {
    use crate::baseline::Served;
    use crate::housekeeping::{daily_counts, reevaluate, status_counts};
    let store = &*h.store;
    let served = Served::new(azver_core::Baseline::default());
    let config = crate::config::Config::parse(
        "stale_after = \"10d\"\n[[rules]]\nrole = \"build-runner\"\nstale_after = \"1d\"\n\
         [[rules]]\nlabel = \"ring=o'canary\"\nstale_after = \"1h\"\n",
        "test",
    )
    .unwrap();
    let day = 86_400;
    for i in 0..40u64 {
        let mut r = report(&format!("h{i:02}"), &format!("name{i}"), 1, if i % 4 == 0 { "2.45.0" } else { "2.76.0" });
        r.host.role = [None, Some(Role::BuildRunner), Some(Role::Developer)][(i % 3) as usize];
        if i % 5 == 0 {
            r.host.labels.insert("ring".into(), "o'canary".into());
        }
        if i % 7 == 0 {
            r.installations.clear();
        }
        // Seen between 0 and 13 days before `now`.
        store.ingest(r, 100 * day - (i as i64 % 14) * day - 30).await.unwrap();
    }
    let now = 100 * day;
    let expected = daily_counts(&store.hosts().await.unwrap(), &served, &config, "d", now);
    assert!(expected.iter().any(|c| c.status == "stale") && expected.iter().any(|c| c.status == "compliant"));
    // Nothing evaluated yet: everything is evaluated in memory...
    assert_eq!(status_counts(store, &served, &config, "d", now).await.unwrap(), expected);
    // ...half re-evaluated, then all: the database counts the rest, with the same result.
    let mut half = store.unevaluated(&served.digest, "", 20).await.unwrap();
    let verdicts: Vec<_> = half
        .drain(..)
        .map(|h| (h.host_id().to_owned(), h.last_sequence, crate::policy::verdict(&h, &served)))
        .collect();
    assert_eq!(store.record_verdicts(&verdicts).await.unwrap(), 20);
    assert_eq!(status_counts(store, &served, &config, "d", now).await.unwrap(), expected);
    reevaluate(store, &served, 1000).await.unwrap();
    assert!(store.unevaluated(&served.digest, "", 1).await.unwrap().is_empty());
    assert_eq!(status_counts(store, &served, &config, "d", now).await.unwrap(), expected);
    let sql_only: u64 = store.status_counts(&config, &served.digest, now).await.unwrap().iter().map(|c| c.hosts).sum();
    assert_eq!(sql_only, 40);
}

async fn pages_filter_and_order_in_the_database(h: &Harness) {
    use crate::baseline::Served;
    use query::{HostFilter, PageRequest};
    let store = &*h.store;
    let served = Served::new(azver_core::Baseline::default());
    let config = crate::config::Config::parse(
        "stale_after = \"2d\"\n[[rules]]\nrole = \"build-runner\"\nstale_after = \"36h\"\n",
        "test",
    )
    .unwrap();
    let day = 86_400;
    for i in 0..30u64 {
        let mut r = report(
            &format!("id{i:02}"),
            &format!("Web-{:02}", 29 - i),
            1,
            if i % 3 == 0 { "2.45.0" } else { "2.76.0" },
        );
        r.host.role = if i % 2 == 0 { Some(Role::Developer) } else { Some(Role::BuildRunner) };
        r.host.labels.insert("team".into(), if i % 5 == 0 { "o'neil" } else { "web" }.into());
        if i % 4 == 0 {
            r.installations[0].product = "Az".into();
        }
        store.ingest(r, 10 * day - (i as i64 % 4) * day).await.unwrap();
    }
    crate::housekeeping::reevaluate(store, &served, 7).await.unwrap();
    let now = 10 * day;
    let all = store.hosts().await.unwrap();
    // What the in-memory evaluation selects, in the stores' order (host name, then id).
    let expected = |keep: &dyn Fn(&StoredHost) -> bool| -> Vec<String> {
        all.iter().filter(|h| keep(h)).map(|h| h.host_id().to_owned()).collect()
    };
    let status = |h: &StoredHost| crate::policy::evaluate(h, &served, &config, now).status;
    let mut cases: Vec<(HostFilter, Vec<String>)> = vec![
        (HostFilter::default(), expected(&|_| true)),
        (
            HostFilter { role: Some(Role::BuildRunner), ..HostFilter::default() },
            expected(&|h| h.facts.role == Some(Role::BuildRunner)),
        ),
        (
            HostFilter { label: Some(("team".into(), Some("o'neil".into()))), ..HostFilter::default() },
            expected(&|h| h.facts.labels.get("team").is_some_and(|v| v == "o'neil")),
        ),
        (HostFilter { label: Some(("nope".into(), None)), ..HostFilter::default() }, Vec::new()),
        (
            HostFilter { product: Some("Az".into()), ..HostFilter::default() },
            expected(&|h| h.installations[0].product == "Az"),
        ),
        (
            HostFilter { name: Some("web-1".into()), ..HostFilter::default() },
            expected(&|h| h.facts.hostname.starts_with("Web-1")),
        ),
        (HostFilter { name: Some("%".into()), ..HostFilter::default() }, Vec::new()),
        (
            HostFilter { status: Some(azver_core::Status::Stale), ..HostFilter::default() },
            expected(&|h| status(h) == azver_core::Status::Stale),
        ),
        (
            HostFilter { finding: Some("below-baseline".into()), ..HostFilter::default() },
            expected(&|h| {
                crate::summary::has_finding(
                    &crate::policy::evaluate(h, &served, &config, now).findings,
                    "below-baseline",
                )
            }),
        ),
        (HostFilter { finding: Some("user-password-sign-in".into()), ..HostFilter::default() }, Vec::new()),
        (
            HostFilter {
                status: Some(azver_core::Status::Noncompliant),
                role: Some(Role::Developer),
                ..HostFilter::default()
            },
            expected(&|h| status(h) == azver_core::Status::Noncompliant && h.facts.role == Some(Role::Developer)),
        ),
        (
            HostFilter { status: Some(azver_core::Status::Noncompliant), ..HostFilter::default() },
            expected(&|h| status(h) == azver_core::Status::Noncompliant),
        ),
        (HostFilter { status: Some(azver_core::Status::Compliant), ..HostFilter::default() }, {
            expected(&|h| status(h) == azver_core::Status::Compliant)
        }),
        (
            HostFilter { action: Some(true), ..HostFilter::default() },
            expected(&|h| status(h) != azver_core::Status::Compliant),
        ),
        (
            HostFilter { action: Some(true), role: Some(Role::BuildRunner), ..HostFilter::default() },
            expected(&|h| status(h) != azver_core::Status::Compliant && h.facts.role == Some(Role::BuildRunner)),
        ),
        (
            HostFilter { action: Some(false), ..HostFilter::default() },
            expected(&|h| status(h) == azver_core::Status::Compliant),
        ),
    ];
    // Each status within a label, a product, a label key with a role, and a finding with a role
    // or not: the stores count these from the counts kept at write time (less the stale hosts).
    for s in azver_core::Status::ALL {
        let web = |h: &StoredHost| h.facts.labels.get("team").is_some_and(|v| v == "web");
        cases.push((
            HostFilter { label: Some(("team".into(), Some("web".into()))), status: Some(s), ..HostFilter::default() },
            expected(&|h| web(h) && status(h) == s),
        ));
        cases.push((
            HostFilter { product: Some("Az".into()), status: Some(s), ..HostFilter::default() },
            expected(&|h| h.installations[0].product == "Az" && status(h) == s),
        ));
        cases.push((
            HostFilter {
                label: Some(("team".into(), None)),
                role: Some(Role::Developer),
                status: Some(s),
                ..HostFilter::default()
            },
            expected(&|h| h.facts.role == Some(Role::Developer) && status(h) == s),
        ));
        let below = |h: &StoredHost| {
            crate::summary::has_finding(&crate::policy::evaluate(h, &served, &config, now).findings, "below-baseline")
        };
        cases.push((
            HostFilter { finding: Some("below-baseline".into()), status: Some(s), ..HostFilter::default() },
            expected(&|h| below(h) && status(h) == s),
        ));
        cases.push((
            HostFilter {
                finding: Some("below-baseline".into()),
                role: Some(Role::BuildRunner),
                status: Some(s),
                ..HostFilter::default()
            },
            expected(&|h| below(h) && h.facts.role == Some(Role::BuildRunner) && status(h) == s),
        ));
    }
    // Every host is evaluated: the page is the same found through the indexes (`sparse`), through
    // the hosts of a label or product (`members`), or by walking the hosts in name order.
    let plans = [(false, false), (true, false), (false, true), (true, true)];
    for ((filter, want), (sparse, members)) in cases.into_iter().flat_map(|case| plans.map(|plan| (case.clone(), plan)))
    {
        assert!(filter == HostFilter::default() || want.len() < 30, "{filter:?} selects something narrower");
        assert_eq!(store.count(&filter, &config, &served.digest, now).await.unwrap(), want.len() as u64, "{filter:?}");
        // Pages of 4 by keyset, and the same by offset, give the whole selection in order.
        let (mut keyset, mut offset) = (Vec::new(), Vec::new());
        let mut after = None;
        loop {
            let request =
                PageRequest { filter: filter.clone(), after: after.clone(), offset: 0, limit: 4, sparse, members };
            let page = store.page(&request, &config, &served.digest, now).await.unwrap();
            after = page.last().map(|h| (h.facts.hostname.clone(), h.host_id().to_owned()));
            keyset.extend(page.iter().map(|h| h.host_id().to_owned()));
            let request =
                PageRequest { filter: filter.clone(), after: None, offset: offset.len(), limit: 4, sparse, members };
            offset.extend(
                store
                    .page(&request, &config, &served.digest, now)
                    .await
                    .unwrap()
                    .iter()
                    .map(|h| h.host_id().to_owned()),
            );
            if page.len() < 4 {
                break;
            }
        }
        assert_eq!((&keyset, &offset), (&want, &want), "{filter:?}, sparse: {sparse}, members: {members}");
    }
}

/// Issue 17: the dashboard's and the summary's counts come from aggregate queries (plus the
/// hosts not re-evaluated yet, evaluated in memory), the host list and the exports from pages;
/// before, during and after a re-evaluation they say what evaluating every host says.
async fn summaries_from_aggregates_match_the_report(h: &Harness) {
    use crate::baseline::Served;
    use crate::reports::{self, Filters};
    use crate::summary;
    use query::HostFilter;
    let store = &*h.store;
    let served = Served::new(azver_core::Baseline::default());
    // Rules by label (the statuses are counted from the hosts) and by role (from the counts kept
    // at write time, see `store/rollup.rs`).
    let configs = [
        "stale_after = \"3d\"\n[[rules]]\nlabel = \"ring=o'canary\"\nstale_after = \"1d\"\n",
        "stale_after = \"3d\"\n[[rules]]\nrole = \"build-runner\"\nstale_after = \"1d\"\n",
    ]
    .map(|text| crate::config::Config::parse(text, "test").unwrap());
    let day = 86_400;
    for i in 0..36u64 {
        let version = ["2.45.0", "2.76.0", "2.80.1", "not-a-version"][(i % 4) as usize];
        let mut r = report(&format!("id{i:02}"), &format!("Host-{:02}", 35 - i), 1, version);
        r.host.role = [None, Some(Role::BuildRunner), Some(Role::Developer)][(i % 3) as usize];
        if i % 5 == 0 {
            r.host.labels.insert("ring".into(), "o'canary".into());
        }
        if i % 6 == 0 {
            // The same version twice (two paths) counts once per host; Az beside it.
            r.installations.push(Installation { path: "/other".into(), ..install(version) });
            r.installations.push(Installation { product: "Az".into(), version: "14.3.0".into(), ..install("x") });
        }
        if i % 7 == 0 {
            r.installations.clear();
        }
        if i % 8 == 0 {
            r.job_sign_ins.push(job("/etc/cron.d/nightly", Some(3)));
        }
        store.ingest(r, 50 * day - (i as i64 % 5) * day - 30).await.unwrap();
    }
    let now = 50 * day;
    let cases: Vec<HostFilter> = vec![
        HostFilter::default(),
        HostFilter { role: Some(Role::BuildRunner), ..HostFilter::default() },
        HostFilter { status: Some(azver_core::Status::Noncompliant), ..HostFilter::default() },
        HostFilter { status: Some(azver_core::Status::Stale), role: Some(Role::Developer), ..HostFilter::default() },
        HostFilter { status: Some(azver_core::Status::Stale), ..HostFilter::default() },
        HostFilter {
            status: Some(azver_core::Status::Compliant),
            role: Some(Role::BuildRunner),
            ..HostFilter::default()
        },
        HostFilter { status: Some(azver_core::Status::NotApplicable), ..HostFilter::default() },
        HostFilter { label: Some(("ring".into(), None)), ..HostFilter::default() },
        HostFilter { product: Some("Az".into()), ..HostFilter::default() },
        HostFilter { product: Some("Az".into()), role: Some(Role::BuildRunner), ..HostFilter::default() },
        HostFilter { label: Some(("ring".into(), Some("o'canary".into()))), role: None, ..HostFilter::default() },
        HostFilter { label: Some(("ring".into(), Some("other".into()))), ..HostFilter::default() },
        HostFilter { name: Some("host-1".into()), ..HostFilter::default() },
        HostFilter { finding: Some("user-password-sign-in".into()), ..HostFilter::default() },
        HostFilter { finding: Some("below-baseline".into()), role: Some(Role::Developer), ..HostFilter::default() },
    ];
    let (cases, served, configs) = (&cases, &served, &configs);
    let check = |stage: &'static str| async move {
        let all = store.hosts().await.unwrap();
        for (config, filter) in configs.iter().flat_map(|c| cases.iter().map(move |f| (c, f))) {
            let filters = Filters { status: filter.status, role: filter.role, product: filter.product.clone() };
            let picked: Vec<StoredHost> = all
                .iter()
                .filter(|h| summary::matches(filter, h, &crate::policy::evaluate(h, served, config, now)))
                .cloned()
                .collect();
            let report = reports::build(&picked, served, config, &filters, now);
            let counts = summary::count(store, served, config, filter, now).await.unwrap();
            let context = format!("{stage}: {filter:?}, {:?}", config.rules);
            assert!(filter.finding.is_none() || counts.hosts() > 0, "{context}: the finding filter selects some hosts");
            if !filter.by_verdict() {
                // The page's total: counted, from the counts kept at write time when they can.
                let total = store.count(filter, config, &served.digest, now).await.unwrap();
                assert_eq!(total as usize, report.hosts.len(), "{context}");
            }
            assert_eq!(counts.summary(served).by_status, report.summary.by_status, "{context}");
            assert_eq!(counts.summary(served).products, report.summary.products, "{context}");
            assert_eq!(counts.hosts() as usize, report.hosts.len(), "{context}");
            let mut findings: std::collections::BTreeMap<String, u64> =
                crate::metrics::FINDING_KINDS.iter().map(|k| (crate::metrics::kind_name(*k), 0)).collect();
            let mut below: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
            for host in &report.hosts {
                for f in &host.findings {
                    *findings.entry(crate::metrics::kind_name(f.kind)).or_default() += 1;
                }
                let products: std::collections::BTreeSet<&str> = host
                    .findings
                    .iter()
                    .filter(|f| f.kind == azver_core::FindingKind::BelowBaseline)
                    .map(|f| f.product.as_str())
                    .collect();
                for p in products {
                    *below.entry(p.to_owned()).or_default() += 1;
                }
            }
            assert_eq!(counts.findings, findings, "{context}");
            assert!(
                counts.findings["below-baseline"] > 0
                    || filter.name.is_some()
                    || filter.product.is_some()
                    || matches!(filter.status, Some(azver_core::Status::Compliant | azver_core::Status::NotApplicable))
                    || filter.label.as_ref().is_some_and(|(_, v)| v.as_deref() == Some("other")),
                "{context}"
            );
            assert_eq!(counts.below, below, "{context}");
            // The dashboard's two parts: those that need action, then the others; the first
            // part's size is what the counts say, and together they are the selection.
            if filter.status.is_none() {
                let part = |action: bool| {
                    let f = HostFilter { action: Some(action), ..filter.clone() };
                    async move {
                        let kind = f.finding.clone();
                        let request = query::PageRequest { filter: f, limit: 1000, ..query::PageRequest::default() };
                        let mut page = store.page(&request, config, &served.digest, now).await.unwrap();
                        // A host not re-evaluated yet is selected whatever its findings: the
                        // reader evaluates it (as the dashboard's `select` does).
                        page.retain(|h| {
                            kind.as_ref().is_none_or(|k| {
                                summary::has_finding(
                                    &crate::policy::evaluate_served(h, served, config, now).findings,
                                    k,
                                )
                            })
                        });
                        page
                    }
                };
                let (first, rest) = (part(true).await, part(false).await);
                assert_eq!(first.len() as u64, counts.action, "{context}");
                let mut both: Vec<String> = first.iter().chain(&rest).map(|h| h.host_id().to_owned()).collect();
                both.sort();
                let mut want: Vec<String> = report.hosts.iter().map(|h| h.host_id.clone()).collect();
                want.sort();
                assert_eq!(both, want, "{context}");
                for host in &first {
                    let status = crate::policy::evaluate_served(host, served, config, now).status;
                    let evaluated = host.verdict.as_ref().is_some_and(|v| v.baseline == served.digest);
                    assert!(
                        !evaluated || matches!(status, azver_core::Status::Stale | azver_core::Status::Noncompliant),
                        "{context}: {host:?}"
                    );
                }
            }
            // The streamed export: the same hosts, in the same order, as the whole report, in
            // pages of 7 (several pages, a status filter dropping hosts inside them) or 500.
            for page_size in [7, reports::STREAM_PAGE] {
                let mut stream = reports::HostStream::new(
                    h.store.clone(),
                    Arc::new(served.clone()),
                    Arc::new(config.clone()),
                    filter.clone(),
                    now,
                )
                .await
                .unwrap()
                .with_page(page_size);
                let mut streamed = Vec::new();
                while let Some(page) = stream.next().await.unwrap() {
                    streamed.extend(page);
                }
                assert_eq!(
                    serde_json::to_value(&streamed).unwrap(),
                    serde_json::to_value(&report.hosts).unwrap(),
                    "{context}, pages of {page_size}"
                );
            }
        }
    };
    // Nothing evaluated yet, then half, then everything.
    check("none evaluated").await;
    let half = store.unevaluated(&served.digest, "", 18).await.unwrap();
    let verdicts: Vec<_> =
        half.iter().map(|h| (h.host_id().to_owned(), h.last_sequence, crate::policy::verdict(h, served))).collect();
    store.record_verdicts(&verdicts).await.unwrap();
    check("half evaluated").await;
    crate::housekeeping::reevaluate(store, served, 1000).await.unwrap();
    check("all evaluated").await;
}

fn policy_verdict(report: &IncomingReport, served: &crate::baseline::Served) -> Verdict {
    let subject = azver_core::Subject {
        installations: &report.installations,
        identities: &report.identities,
        role: None,
        jobs: &[],
    };
    Verdict::new(&served.digest, served.evaluate(&subject))
}

async fn retries_are_recognised_by_id_within_a_window(h: &Harness) {
    let store = &*h.store;
    for sequence in 1..=10 {
        store.ingest(report("h1", "a", sequence, "2.76.0"), 1_000 + sequence as i64).await.unwrap();
    }
    // A retry of an older report (its sequence is below the last) is still a duplicate by its id.
    assert_eq!(store.ingest(report("h1", "a", 3, "2.45.0"), 2_000).await.unwrap(), IngestOutcome::Duplicate);
    // Beyond the window, an old id is only an older sequence.
    for sequence in 11..=(10 + ingest::DEDUPE_WINDOW as u64) {
        store.ingest(report("h1", "a", sequence, "2.76.0"), 3_000).await.unwrap();
    }
    let last = 10 + ingest::DEDUPE_WINDOW as i64;
    assert_eq!(
        store.ingest(report("h1", "a", 3, "2.45.0"), 4_000).await.unwrap(),
        IngestOutcome::Behind { last_sequence: last }
    );
    let host = store.host("h1").await.unwrap().unwrap();
    assert_eq!((host.installations[0].version.as_str(), host.last_sequence, host.last_seen), ("2.76.0", last, 4_000));
}

async fn sequences_far_away_reset_and_never_freeze_a_host(h: &Harness) {
    let store = &*h.store;
    store.ingest(report("h1", "a", 5, "2.76.0"), 1_000).await.unwrap();
    // A forged sequence far ahead is stored (clamped) as a reset...
    let mut forged = report("h1", "a", u64::MAX, "2.45.0");
    forged.report_id = "forged".into();
    assert_eq!(store.ingest(forged, 1_001).await.unwrap(), NEW_SNAPSHOT);
    assert_eq!(store.host("h1").await.unwrap().unwrap().last_sequence, i64::MAX);
    // ...and does not freeze the host: the honest agent's next report is stored.
    assert_eq!(store.ingest(report("h1", "a", 6, "2.77.0"), 1_002).await.unwrap(), NEW_SNAPSHOT);
    let host = store.host("h1").await.unwrap().unwrap();
    assert_eq!((host.installations[0].version.as_str(), host.last_sequence), ("2.77.0", 6));
    // An agent that lost its counter (restarting at 1) is told the last sequence, and its
    // report after adopting it is stored.
    let mut restarted = report("h1", "a", 1, "2.78.0");
    restarted.report_id = "fresh-1".into();
    assert_eq!(store.ingest(restarted, 1_003).await.unwrap(), IngestOutcome::Behind { last_sequence: 6 });
    assert_eq!(store.ingest(report("h1", "a", 7, "2.78.0"), 1_004).await.unwrap(), NEW_SNAPSHOT);
}

async fn duplicates_are_acknowledged_and_not_stored(h: &Harness) {
    let store = &*h.store;
    let first = report("h1", "a", 5, "2.76.0");
    store.ingest(first.clone(), 1_000).await.unwrap();
    // The same report again (an agent retrying), and an older one arriving late.
    assert_eq!(store.ingest(first, 2_000).await.unwrap(), IngestOutcome::Duplicate);
    let behind = IngestOutcome::Behind { last_sequence: 5 };
    assert_eq!(store.ingest(report("h1", "a", 4, "2.45.0"), 3_000).await.unwrap(), behind);
    // A new id with the same sequence is not stored either: the agent is told the last sequence.
    let mut same_sequence = report("h1", "a", 5, "2.45.0");
    same_sequence.report_id = "other".into();
    assert_eq!(store.ingest(same_sequence, 3_500).await.unwrap(), behind);
    let host = store.host("h1").await.unwrap().unwrap();
    assert_eq!(host.installations[0].version, "2.76.0");
    assert_eq!(host.last_seen, 3_500);
    // last_seen never moves backwards (a slow collector's clock, a late retry).
    store.ingest(report("h1", "a", 5, "2.76.0"), 100).await.unwrap();
    assert_eq!(store.host("h1").await.unwrap().unwrap().last_seen, 3_500);
    assert_eq!(store.stats().await.unwrap().snapshots, 1);
}

async fn changes_and_renames_are_history(h: &Harness) {
    let store = &*h.store;
    store.ingest(report("h1", "old-name", 1, "2.45.0"), 1_000).await.unwrap();
    store.ingest(report("h1", "old-name", 2, "2.76.0"), 2_000).await.unwrap();
    store.ingest(report("h1", "new-name", 3, "2.76.0"), 3_000).await.unwrap();
    // An upgrade and a rename in the same second keep their order.
    store.ingest(report("h1", "newer-name", 4, "2.77.0"), 3_000).await.unwrap();
    store.ingest(report("h1", "newest-name", 5, "2.77.0"), 3_000).await.unwrap();
    let history = store.history("h1").await.unwrap();
    let summary: Vec<(i64, &str, &str, &str)> = history
        .iter()
        .map(|h| (h.at, h.change.as_str(), h.hostname.as_str(), h.installations[0].version.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (1_000, "inventory", "old-name", "2.45.0"),
            (2_000, "inventory", "old-name", "2.76.0"),
            (3_000, "hostname", "new-name", "2.76.0"),
            (3_000, "inventory", "newer-name", "2.77.0"),
            (3_000, "hostname", "newest-name", "2.77.0"),
        ]
    );
    assert_eq!(store.find("newest-name").await.unwrap(), ["h1"]);
    assert!(store.find("old-name").await.unwrap().is_empty());
    assert!(store.history("nobody").await.unwrap().is_empty());

    // A search by name finds a host by its current name only (PostgreSQL looks in every name
    // it has had first), renamed back to an old name included.
    let config = crate::config::Config::default();
    let named = async |name: &str| -> (u64, Vec<String>) {
        let filter = query::HostFilter { name: Some(name.into()), ..query::HostFilter::default() };
        let count = store.count(&filter, &config, "", 3_000).await.unwrap();
        let request = query::PageRequest { filter, limit: 50, ..query::PageRequest::default() };
        let page = store.page(&request, &config, "", 3_000).await.unwrap();
        (count, page.iter().map(|h| h.host_id().to_owned()).collect())
    };
    assert_eq!(named("NEWEST").await, (1, vec!["h1".to_owned()]));
    assert_eq!(named("old").await, (0, Vec::new()));
    store.ingest(report("h1", "old-name", 6, "2.77.0"), 3_000).await.unwrap();
    assert_eq!(named("old").await, (1, vec!["h1".to_owned()]));
    assert_eq!(named("newest").await, (0, Vec::new()));
}

async fn strings_are_stored_exactly_and_ordered_bytewise(h: &Harness) {
    let store = &*h.store;
    let odd = "<script>alert(1)</script> \u{1F600} \"quoted\" 'single' \\ %_";
    for (id, name) in [("h1", odd), ("h2", "alpha"), ("h3", "Zeta"), ("h4", "émile"), ("h5", "alpha")] {
        let mut r = report(id, name, 1, "2.76.0");
        r.host.labels.insert("team".into(), "=1+1".into());
        store.ingest(r, 1_000).await.unwrap();
    }
    let host = store.host("h1").await.unwrap().unwrap();
    assert_eq!(host.facts.hostname, odd);
    assert_eq!(host.facts.labels["team"], "=1+1");
    // Byte-wise, as SQLite compares: upper case before lower case, ASCII before accents.
    assert_eq!(ids(store).await, ["h1", "h3", "h2", "h5", "h4"]);
    assert_eq!(store.find("alpha").await.unwrap(), ["h2", "h5"]);
    assert_eq!(store.find("h4").await.unwrap(), ["h4"], "an id wins over names");
    assert!(store.find("%").await.unwrap().is_empty(), "no pattern matching");
}

async fn hosts_can_be_deleted_with_their_history(h: &Harness) {
    let store = &*h.store;
    store.ingest(report("h1", "keep", 1, "2.76.0"), 1_000).await.unwrap();
    store.ingest(report("h2", "twin", 1, "2.76.0"), 1_000).await.unwrap();
    store.ingest(report("h3", "twin", 1, "2.76.0"), 1_000).await.unwrap();
    store.ingest(report("h3", "twin", 2, "2.77.0"), 1_001).await.unwrap();
    let twins = store.find("twin").await.unwrap();
    assert_eq!(store.delete_hosts(&twins).await.unwrap(), 2);
    assert_eq!(store.delete_hosts(&["nobody".to_owned()]).await.unwrap(), 0);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.hosts, stats.snapshots), (1, 1));
    assert!(store.history("h3").await.unwrap().is_empty(), "history goes with the host");
    // A deleted host that reports again starts afresh.
    assert_eq!(store.ingest(report("h3", "twin", 3, "2.77.0"), 2_000).await.unwrap(), NEW_SNAPSHOT);
    assert_eq!(store.host("h3").await.unwrap().unwrap().first_seen, 2_000);
}

async fn skewed_clocks_are_marked(h: &Harness) {
    let store = &*h.store;
    let mut ahead = report("h1", "a", 1, "2.76.0");
    ahead.scanned_at = Some(1_000 + 2 * 86_400);
    store.ingest(ahead, 1_000).await.unwrap();
    assert_eq!(store.host("h1").await.unwrap().unwrap().clock_skew, Some(2 * 86_400));
    store.ingest(report("h1", "a", 2, "2.76.0"), 1_100).await.unwrap();
    let host = store.host("h1").await.unwrap().unwrap();
    assert_eq!((host.clock_skew, host.scanned_at), (None, Some(1_000)));
}

async fn every_host_streams_in_order(h: &Harness) {
    // More hosts than one PostgreSQL portal fetch, so the stream crosses fetches.
    let store = h.store.clone();
    let tasks: Vec<_> = (0..300u32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store.ingest(report(&format!("h{i:03}"), &format!("n{}", i % 7), 1, "2.76.0"), 1_000).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), NEW_SNAPSHOT);
    }
    let mut streamed = Vec::new();
    store.for_each_host(&mut |host| streamed.push(host)).await.unwrap();
    assert_eq!(streamed.len(), 300);
    assert_eq!(streamed, store.hosts().await.unwrap());
    let names: Vec<(&str, &str)> = streamed.iter().map(|h| (h.facts.hostname.as_str(), h.host_id())).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

fn count(day: &str, role: &str, status: &str, hosts: u64) -> DailyCount {
    DailyCount { day: day.into(), role: role.into(), status: status.into(), hosts }
}

async fn daily_rollups_replace_the_whole_day(h: &Harness) {
    let store = &*h.store;
    store.record_daily("2026-03-01", &[count("2026-03-01", "developer", "compliant", 3)], 1).await.unwrap();
    let day2 = [count("2026-03-02", "developer", "compliant", 2), count("2026-03-02", "", "stale", 1)];
    store.record_daily("2026-03-02", &day2, 2).await.unwrap();
    // A later roll-up of the same day replaces it: the stale host is gone, not left at 1.
    store.record_daily("2026-03-02", &[count("2026-03-02", "developer", "compliant", 4)], 3).await.unwrap();
    assert_eq!(
        store.daily("2026-01-01").await.unwrap(),
        [count("2026-03-01", "developer", "compliant", 3), count("2026-03-02", "developer", "compliant", 4)]
    );
    assert_eq!(store.daily("2026-03-02").await.unwrap(), [count("2026-03-02", "developer", "compliant", 4)]);
}

async fn two_collectors_racing_store_each_report_once(h: &Harness) {
    let (one, two) = (h.store.clone(), h.second().await);
    // Every report goes to both collectors at the same moment (an agent retrying on the other
    // one after a time-out): each must be stored exactly once.
    let mut tasks = Vec::new();
    for host in 0..20u32 {
        for sequence in 1..=5u64 {
            let r = report(&format!("h{host}"), "racer", sequence, if sequence < 3 { "2.76.0" } else { "2.77.0" });
            for store in [one.clone(), two.clone()] {
                let r = r.clone();
                tasks.push(tokio::spawn(
                    async move { (r.host.host_id.clone(), sequence, store.ingest(r, 1_000).await) },
                ));
            }
        }
    }
    let mut stored = std::collections::BTreeMap::<(String, u64), u32>::new();
    for task in tasks {
        let (host, sequence, outcome) = task.await.unwrap();
        if matches!(outcome.unwrap(), IngestOutcome::Stored { .. }) {
            *stored.entry((host.unwrap_or_default(), sequence)).or_default() += 1;
        }
    }
    assert!(stored.values().all(|n| *n == 1), "a report stored twice: {stored:?}");
    let stats = two.stats().await.unwrap();
    assert_eq!(stats.hosts, 20);
    // Sequences may arrive out of order under the race (a late 2 after 3 is a duplicate), so
    // each host has one or two snapshots, and ends on the newest report.
    assert!((20..=40).contains(&stats.snapshots), "{stats:?}");
    for host in one.hosts().await.unwrap() {
        let history = one.history(host.host_id()).await.unwrap();
        assert_eq!(history.last().unwrap().installations[0].version, "2.77.0");
        assert!(history.windows(2).all(|w| w[0].installations != w[1].installations));
    }
    assert_eq!(one.hosts().await.unwrap(), two.hosts().await.unwrap(), "both collectors read the same fleet");
}

async fn two_collectors_rolling_up_one_day_never_sum(h: &Harness) {
    let (one, two) = (h.store.clone(), h.second().await);
    let counts = [count("2026-03-02", "developer", "compliant", 5), count("2026-03-02", "server", "stale", 1)];
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = if i % 2 == 0 { one.clone() } else { two.clone() };
            let counts = counts.clone();
            tokio::spawn(async move { store.record_daily("2026-03-02", &counts, i).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(two.daily("2026-03-01").await.unwrap(), counts);
}

async fn enrollment_checks_secret_and_host(h: &Harness) {
    let store = &*h.store;
    let secret = KeyDigest::of("enroll-secret-1");
    let (key1, key2) = (KeyDigest::of("node-key-1"), KeyDigest::of("node-key-2"));
    assert!(!store.any_enroll_secret_ever().await.unwrap());
    assert_eq!(store.enroll(&secret, "h1", &key1, 100).await.unwrap(), EnrollOutcome::UnknownSecret);
    store.create_enroll_secret("es_1", "laptops", &secret, Some(1_000), 50).await.unwrap();
    assert!(store.any_enroll_secret_ever().await.unwrap());
    let enrolled = EnrollOutcome::Enrolled { secret_id: "es_1".into() };
    assert_eq!(store.enroll(&secret, "h1", &key1, 100).await.unwrap(), enrolled);
    assert_eq!(store.authenticate_node_key(&key1).await.unwrap().as_deref(), Some("h1"));
    // Enrolling again replaces the key: the old one stops working.
    assert_eq!(store.enroll(&secret, "h1", &key2, 200).await.unwrap(), enrolled);
    assert_eq!(store.authenticate_node_key(&key1).await.unwrap(), None);
    assert_eq!(store.authenticate_node_key(&key2).await.unwrap().as_deref(), Some("h1"));
    assert_eq!(store.enroll(&secret, "h2", &key1, 1_000).await.unwrap(), EnrollOutcome::SecretExpired);
    let listed = store.list_enroll_secrets().await.unwrap();
    assert_eq!(
        listed,
        [EnrollSecretInfo {
            id: "es_1".into(),
            label: "laptops".into(),
            created_at: 50,
            expires_at: Some(1_000),
            revoked_at: None,
            last_used_at: Some(200),
            enrollments: 2,
        }]
    );
    let never = KeyDigest::of("enroll-secret-2");
    store.create_enroll_secret("es_2", "runners", &never, None, 60).await.unwrap();
    assert!(store.revoke_enroll_secret("es_2", 300).await.unwrap());
    assert!(!store.revoke_enroll_secret("es_2", 301).await.unwrap(), "already revoked");
    assert!(!store.revoke_enroll_secret("es_404", 301).await.unwrap());
    assert_eq!(store.enroll(&never, "h3", &KeyDigest::of("k3"), 400).await.unwrap(), EnrollOutcome::SecretRevoked);
    // Revoking a secret keeps the hosts it enrolled; the flag stays set for good.
    assert!(store.revoke_enroll_secret("es_1", 500).await.unwrap());
    assert_eq!(store.authenticate_node_key(&key2).await.unwrap().as_deref(), Some("h1"));
    assert!(store.any_enroll_secret_ever().await.unwrap());
    let listed = store.list_enroll_secrets().await.unwrap();
    assert_eq!(
        listed.iter().map(|s| (s.id.as_str(), s.revoked_at)).collect::<Vec<_>>(),
        [("es_1", Some(500)), ("es_2", Some(300))]
    );
}

async fn revoked_hosts_stay_out_until_deleted(h: &Harness) {
    let store = &*h.store;
    let secret = KeyDigest::of("s");
    store.create_enroll_secret("es_1", "all", &secret, None, 1).await.unwrap();
    store.enroll(&secret, "h1", &KeyDigest::of("k1"), 2).await.unwrap();
    store.ingest(report("h1", "laptop", 1, "2.76.0"), 3).await.unwrap();
    store.enroll(&secret, "h2", &KeyDigest::of("k2"), 2).await.unwrap();
    assert!(!store.revoke_host("nobody", 4).await.unwrap(), "unknown hosts are not revoked");
    assert!(store.revoke_host("h1", 4).await.unwrap());
    assert!(!store.revoke_host("h1", 5).await.unwrap(), "already revoked");
    assert_eq!(store.authenticate_node_key(&KeyDigest::of("k1")).await.unwrap(), None);
    assert_eq!(store.authenticate_node_key(&KeyDigest::of("k2")).await.unwrap().as_deref(), Some("h2"));
    assert_eq!(store.enroll(&secret, "h1", &KeyDigest::of("k1b"), 6).await.unwrap(), EnrollOutcome::HostRevoked);
    assert_eq!(store.authenticate_node_key(&KeyDigest::of("k1b")).await.unwrap(), None);
    // A host enrolled but never reported can be revoked too, and both are listed.
    assert!(store.revoke_host("h2", 7).await.unwrap());
    let revoked = store.revoked_hosts().await.unwrap();
    let listed: Vec<_> = revoked.iter().map(|r| (r.host_id.as_str(), r.revoked_at)).collect();
    assert_eq!(listed, [("h1", 4), ("h2", 7)]);
    assert_eq!(store.authenticate_node_key(&KeyDigest::of("k2")).await.unwrap(), None);
    // `host delete` removes the host and its revocation: it may enroll afresh.
    assert_eq!(store.delete_hosts(&["h1".to_owned()]).await.unwrap(), 1);
    let enrolled = EnrollOutcome::Enrolled { secret_id: "es_1".into() };
    assert_eq!(store.enroll(&secret, "h1", &KeyDigest::of("k1c"), 8).await.unwrap(), enrolled);
    assert_eq!(store.authenticate_node_key(&KeyDigest::of("k1c")).await.unwrap().as_deref(), Some("h1"));
    // Deleting a host that never reported clears its revocation too.
    assert_eq!(store.delete_hosts(&["h2".to_owned()]).await.unwrap(), 0);
    assert!(store.revoked_hosts().await.unwrap().is_empty());
}

async fn admin_tokens_expire_and_revoke(h: &Harness) {
    let store = &*h.store;
    let (t1, t2) = (KeyDigest::of("token-1"), KeyDigest::of("token-2"));
    store.create_admin_token("at_1", "ops", &t1, None, 10).await.unwrap();
    store.create_admin_token("at_2", "ci", &t2, Some(100), 20).await.unwrap();
    assert_eq!(store.authenticate_admin_token(&t1, 50).await.unwrap().as_deref(), Some("at_1"));
    assert_eq!(store.authenticate_admin_token(&t2, 99).await.unwrap().as_deref(), Some("at_2"));
    assert_eq!(store.authenticate_admin_token(&t2, 100).await.unwrap(), None, "expired");
    assert_eq!(store.authenticate_admin_token(&KeyDigest::of("guess"), 50).await.unwrap(), None);
    assert!(store.revoke_admin_token("at_1", 60).await.unwrap());
    assert!(!store.revoke_admin_token("at_1", 61).await.unwrap());
    assert_eq!(store.authenticate_admin_token(&t1, 70).await.unwrap(), None);
    assert_eq!(
        store.list_admin_tokens().await.unwrap(),
        [
            AdminTokenInfo {
                id: "at_1".into(),
                label: "ops".into(),
                created_at: 10,
                expires_at: None,
                revoked_at: Some(60)
            },
            AdminTokenInfo {
                id: "at_2".into(),
                label: "ci".into(),
                created_at: 20,
                expires_at: Some(100),
                revoked_at: None
            },
        ]
    );
    // Node keys and admin tokens are separate: a token is no node key.
    assert_eq!(store.authenticate_node_key(&t2).await.unwrap(), None);
}

async fn secrets_and_ids_are_unique(h: &Harness) {
    let store = &*h.store;
    store.create_enroll_secret("es_1", "a", &KeyDigest::of("x"), None, 1).await.unwrap();
    let same_id = store.create_enroll_secret("es_1", "b", &KeyDigest::of("y"), None, 1).await.unwrap_err();
    assert!(matches!(same_id, StoreError::Duplicate(_)), "{same_id}");
    let same_hash = store.create_enroll_secret("es_2", "b", &KeyDigest::of("x"), None, 1).await.unwrap_err();
    assert!(same_hash.to_string().contains("already exists"), "{same_hash}");
    store.create_admin_token("at_1", "a", &KeyDigest::of("x"), None, 1).await.unwrap();
    let token = store.create_admin_token("at_1", "a", &KeyDigest::of("z"), None, 1).await.unwrap_err();
    assert!(matches!(token, StoreError::Duplicate(_)), "{token}");
    assert_eq!(store.list_enroll_secrets().await.unwrap().len(), 1);
}

async fn purge_deletes_only_hosts_past_their_retention(h: &Harness) {
    use crate::config::Config;
    let store = &*h.store;
    let mut runner = report("runner", "ci-1", 1, "2.76.0");
    runner.host.role = Some(Role::BuildRunner);
    store.ingest(runner, 1_000).await.unwrap();
    store.ingest(report("laptop", "dev-1", 1, "2.76.0"), 1_000).await.unwrap();
    let config = Config::parse("[[rules]]\nrole = \"build-runner\"\npurge_after = \"1d\"\n", "test").unwrap();
    assert_eq!(crate::housekeeping::purge_once(store, &config, 1_000 + 3600).await.unwrap(), 0);
    assert_eq!(crate::housekeeping::purge_once(store, &config, 1_000 + 2 * 86_400).await.unwrap(), 1);
    assert_eq!(ids(store).await, ["laptop"]);
}

/// The baseline `populate` evaluates h2 against.
fn served() -> crate::baseline::Served {
    crate::baseline::Served::new(azver_core::Baseline::default())
}

/// Every row `export` sends, in order.
async fn dump(store: &dyn Store) -> Vec<Record> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(RECORD_CHANNEL);
    let receive = async {
        let mut records = Vec::new();
        while let Some(record) = rx.recv().await {
            records.push(record);
        }
        records
    };
    let (exported, records) = tokio::join!(store.export(tx), receive);
    exported.unwrap();
    records
}

/// Fills a store with a little of everything.
async fn populate(store: &dyn Store) {
    store.ingest(report("h1", "one", 1, "2.45.0"), 1_000).await.unwrap();
    store.ingest(report("h1", "one", 2, "2.76.0"), 2_000).await.unwrap();
    store.ingest(report("h1", "renamed", 3, "2.76.0"), 3_000).await.unwrap();
    // h2: jobs, a role, a name with control and bidi characters, and a verdict.
    let mut with_jobs = report("h2", "two\u{202e}\t\u{1}", 7, "2.77.0");
    with_jobs.job_sign_ins = vec![job("/etc/cron.d/nightly", Some(4)), job("/opt/s.sh", None)];
    with_jobs.host.role = Some(Role::Server);
    with_jobs.verdict = Some(policy_verdict(&with_jobs, &served()));
    store.ingest(with_jobs, 1_500).await.unwrap();
    store.record_daily("2026-03-01", &[count("2026-03-01", "developer", "compliant", 2)], 5).await.unwrap();
    store.create_enroll_secret("es_1", "all", &KeyDigest::of("s"), Some(9_999), 1).await.unwrap();
    store.enroll(&KeyDigest::of("s"), "h1", &KeyDigest::of("k1"), 2).await.unwrap();
    store.enroll(&KeyDigest::of("s"), "h2", &KeyDigest::of("k2"), 2).await.unwrap();
    store.revoke_host("h2", 3).await.unwrap();
    store.create_admin_token("at_1", "ops", &KeyDigest::of("t"), None, 4).await.unwrap();
}

async fn assert_same_fleet(a: &dyn Store, b: &dyn Store) {
    assert_eq!(a.hosts().await.unwrap(), b.hosts().await.unwrap());
    for id in ["h1", "h2"] {
        assert_eq!(a.history(id).await.unwrap(), b.history(id).await.unwrap(), "{id}");
    }
    assert_eq!(a.daily("").await.unwrap(), b.daily("").await.unwrap());
    assert_eq!(a.list_enroll_secrets().await.unwrap(), b.list_enroll_secrets().await.unwrap());
    assert_eq!(a.list_admin_tokens().await.unwrap(), b.list_admin_tokens().await.unwrap());
    for key in ["k1", "k2"] {
        let key = KeyDigest::of(key);
        assert_eq!(a.authenticate_node_key(&key).await.unwrap(), b.authenticate_node_key(&key).await.unwrap());
    }
    assert_eq!(b.authenticate_admin_token(&KeyDigest::of("t"), 5).await.unwrap().as_deref(), Some("at_1"));
}

async fn a_copy_holds_the_same_fleet(h: &Harness) {
    // This store to a fresh SQLite file and back into a fresh store of this kind: both copies
    // hold the same fleet, and the copy goes on where the original left off.
    populate(&*h.store).await;
    let sqlite = Harness::sqlite().await;
    let counts = copy_all(&*h.store, &*sqlite.store).await.unwrap();
    assert_eq!(counts, ImportCounts { hosts: 2, snapshots: 3, hostnames: 3, daily: 1, auth: 4 });
    assert_same_fleet(&*h.store, &*sqlite.store).await;
    // Every table, every column, as stored: the copy exports exactly what the original did.
    let original = dump(&*h.store).await;
    let tables: std::collections::BTreeSet<&str> = original.iter().map(|r| r.table.name).collect();
    assert_eq!(tables, tables::TABLES.iter().map(|t| t.name).collect(), "populate fills every table");
    assert_eq!(dump(&*sqlite.store).await, original);
    // Verdicts are carried, stamped with their baseline: only the host stored without one is
    // left to re-evaluate under that baseline.
    let served = served();
    let unevaluated = sqlite.store.unevaluated(&served.digest, "", 10).await.unwrap();
    assert_eq!(unevaluated.iter().map(|h| h.host_id().to_owned()).collect::<Vec<_>>(), ["h1"]);
    let verdict = sqlite.store.host("h2").await.unwrap().unwrap().verdict;
    assert!(verdict.is_some());
    assert_eq!(verdict, h.store.host("h2").await.unwrap().unwrap().verdict);
    assert_eq!(sqlite.store.unevaluated("another baseline", "", 10).await.unwrap().len(), 2);
    let copied = sqlite.store.host("h2").await.unwrap().unwrap();
    assert_eq!(copied.job_sign_ins, [job("/etc/cron.d/nightly", Some(4)), job("/opt/s.sh", None)]);
    let back = match h.store.kind() {
        "postgres" => Harness::postgres().await.unwrap(),
        _ => Harness::sqlite().await,
    };
    copy_all(&*sqlite.store, &*back.store).await.unwrap();
    assert_same_fleet(&*h.store, &*back.store).await;
    assert_eq!(dump(&*back.store).await, original);
    // Ids continue after the copied ones: history keeps its order.
    assert_eq!(back.store.ingest(report("h1", "renamed", 4, "2.77.0"), 4_000).await.unwrap(), NEW_SNAPSHOT);
    // The report stored last before the copy is still recognised as a retry.
    assert_eq!(back.store.ingest(report("h1", "renamed", 3, "2.77.0"), 4_000).await.unwrap(), IngestOutcome::Duplicate);
    let history = back.store.history("h1").await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.change.as_str()).collect::<Vec<_>>(),
        ["inventory", "inventory", "hostname", "inventory"]
    );
}

async fn exported_tables_cover_the_schema(h: &Harness) {
    // Every column of every table of this store's schema is exported, or is named as derived
    // (and every exported column exists): a migration that adds a column fails here until the
    // column is added to `tables::TABLES`.
    let mut schema: Vec<(String, String)> = match &h.location {
        DbLocation::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let mut stmt = conn
                .prepare(
                    "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
                )
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
        }
        DbLocation::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let rows = client
                .query(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = 'public'",
                    &[],
                )
                .await
                .unwrap();
            rows.iter().map(|r| (r.get(0), r.get(1))).collect()
        }
    };
    let rowid = matches!(h.location, DbLocation::Sqlite(_));
    let derived = |table: &str, column: &str| {
        let derived = if rowid { tables::DERIVED_SQLITE } else { tables::DERIVED_POSTGRES };
        derived.contains(&(table, column))
    };
    schema.retain(|(table, column)| !tables::NOT_EXPORTED.contains(&table.as_str()) && !derived(table, column));
    schema.sort();
    let mut described: Vec<(String, String)> = tables::TABLES
        .iter()
        .flat_map(|t| {
            t.columns.iter().filter(move |c| !(rowid && c.sqlite_rowid)).map(move |c| (t.name.into(), c.name.into()))
        })
        .collect();
    described.sort();
    assert_eq!(schema, described);
}

async fn import_refuses_a_row_that_does_not_fit(h: &Harness) {
    // A good host row, then a row with a value of the wrong kind: the import fails naming the
    // column, and the good row is rolled back with it.
    let source = Harness::sqlite().await;
    populate(&*source.store).await;
    let mut records = dump(&*source.store).await;
    records.truncate(1);
    let node_keys = tables::TABLES.iter().find(|t| t.name == "node_keys").unwrap();
    records.push(Record {
        table: node_keys,
        values: vec![
            tables::Value::Text("h1".into()),
            tables::Value::Text(KeyDigest::of("k").as_hex().into()),
            tables::Value::Null,
            tables::Value::Int(1),
        ],
    });
    let (tx, rx) = tokio::sync::mpsc::channel(RECORD_CHANNEL);
    for record in records {
        tx.send(record).await.unwrap();
    }
    drop(tx);
    let error = h.store.import(rx).await.unwrap_err();
    assert!(matches!(error, StoreError::Import(_)), "{error}");
    assert!(error.to_string().contains("node_keys.key_hash is Digest, not text"), "{error}");
    assert!(!error.to_string().contains(KeyDigest::of("k").as_hex()), "{error}");
    assert!(ids(&*h.store).await.is_empty(), "nothing was written");
    // Rows that fit their tables but break a reference (snapshots of hosts that are not there)
    // fail in the database: nothing is written either.
    let (tx, rx) = tokio::sync::mpsc::channel(RECORD_CHANNEL);
    for record in dump(&*source.store).await.into_iter().filter(|r| r.table.name != "hosts") {
        tx.send(record).await.unwrap();
    }
    drop(tx);
    let error = h.store.import(rx).await.unwrap_err();
    assert!(matches!(error, StoreError::Sqlite(_) | StoreError::Postgres(_)), "{error}");
    assert_eq!(h.store.stats().await.unwrap().snapshots, 0);
    assert!(h.store.list_enroll_secrets().await.unwrap().is_empty());
    // The same database then takes a whole copy.
    copy_all(&*source.store, &*h.store).await.unwrap();
    assert_same_fleet(&*source.store, &*h.store).await;
}

/// Every row of every table of the SQLite file at `path`, as stored (rowids included, values
/// with their SQLite types and bytes).
fn sqlite_tables(path: &std::path::Path) -> Vec<(String, Vec<Vec<String>>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        // The counts kept by triggers are rebuilt by the rows imported (zeros are not carried).
        .filter(|name| !tables::NOT_EXPORTED.contains(&name.as_str()))
        .map(|name| {
            // WITHOUT ROWID tables (daily_status) have no rowid: their key orders them.
            let mut stmt = conn
                .prepare(&format!("SELECT rowid, * FROM {name} ORDER BY rowid"))
                .or_else(|_| conn.prepare(&format!("SELECT * FROM {name} ORDER BY 1, 2, 3")))
                .unwrap();
            let width = stmt.column_count();
            let rows = stmt
                .query_map([], |r| (0..width).map(|i| Ok(format!("{:?}", r.get_ref(i)?))).collect())
                .unwrap()
                .collect::<Result<Vec<Vec<String>>, _>>()
                .unwrap();
            (name, rows)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_keeps_every_table_byte_for_byte() {
    let Some(pg) = Harness::postgres().await else { return };
    let first = Harness::sqlite().await;
    populate(&*first.store).await;
    // A snapshot and a rename of h1 after the auth rows, so ids and rowids interleave.
    first.store.ingest(report("h1", "renamed-again", 4, "2.78.0"), 6_000).await.unwrap();
    copy_all(&*first.store, &*pg.store).await.unwrap();
    let last = Harness::sqlite().await;
    copy_all(&*pg.store, &*last.store).await.unwrap();
    let path = |h: &Harness| h.location.sqlite_path().unwrap().to_owned();
    let (before, after) = (sqlite_tables(&path(&first)), sqlite_tables(&path(&last)));
    assert_eq!(before.len(), 8, "{before:?}");
    assert!(before.iter().all(|(_, rows)| !rows.is_empty()), "every table holds rows: {before:?}");
    assert_eq!(before, after);
    assert_eq!(dump(&*pg.store).await, dump(&*first.store).await);
}

async fn import_refuses_a_database_with_data(h: &Harness) {
    h.store.ingest(report("h1", "one", 1, "2.76.0"), 1_000).await.unwrap();
    let source = Harness::sqlite().await;
    populate(&*source.store).await;
    let error = copy_all(&*source.store, &*h.store).await.unwrap_err();
    assert!(matches!(error, StoreError::NotEmpty(_)), "{error}");
    assert_eq!(ids(&*h.store).await, ["h1"], "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_collectors_starting_together_migrate_once() {
    let Some(pg) = TestDatabase::create().await else { return };
    let location = DbLocation::Postgres(pg.url.clone());
    let opens: Vec<_> = (0..6)
        .map(|_| {
            tokio::spawn({
                let location = location.clone();
                async move { open(&location).await.map(|_| ()) }
            })
        })
        .collect();
    for open in opens {
        open.await.unwrap().unwrap();
    }
    let store = PgStore::open(&pg.url).await.unwrap();
    store.ingest(report("h1", "a", 1, "2.76.0"), 1).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_newer_schema() {
    let Some(pg) = TestDatabase::create().await else { return };
    drop(PgStore::open(&pg.url).await.unwrap());
    let (client, connection) = tokio_postgres::connect(&pg.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute("UPDATE azver_schema SET version = 99").await.unwrap();
    let error = PgStore::open(&pg.url).await.unwrap_err().to_string();
    assert!(error.contains("schema version 99 is newer"), "{error}");
}

#[tokio::test]
async fn postgres_upgrading_fills_the_count_columns_from_what_is_stored() {
    // As the SQLite store's unit test of the same name: a database as version 7 left it (no
    // `versions`, no `verdict_tally`) gets them from its inventories and verdicts, and counts
    // what it counted before.
    let Some(pg) = TestDatabase::create().await else { return };
    let served = served();
    let config = crate::config::Config::default();
    async fn tallies(
        store: &dyn Store,
        digest: &str,
        config: &crate::config::Config,
    ) -> Vec<Vec<(String, String, u64)>> {
        let mut all = Vec::new();
        for what in [query::Tally::Versions, query::Tally::FindingKinds] {
            let mut rows = store.tally(what, &query::HostFilter::default(), config, digest, 10_000).await.unwrap();
            rows.sort();
            all.push(rows);
        }
        all
    }
    let counted = {
        let store = PgStore::open(&pg.url).await.unwrap();
        let mut two = report("h2", "two", 1, "2.45.0");
        two.installations.push(Installation { path: "/usr/lib/python3/dist-packages".into(), ..install("2.45.0") });
        two.installations.push(Installation { product: "Az".into(), ..install("14.3.0") });
        for r in [report("h1", "one", 1, "2.45.0"), two, report("h3", "three", 1, "2.77.0")] {
            store.ingest(r, 9_000).await.unwrap();
        }
        crate::housekeeping::reevaluate(&store, &served, 10).await.unwrap();
        let counted = tallies(&store, &served.digest, &config).await;
        assert!(counted[0].contains(&("azure-cli".into(), "2.45.0".into(), 2)), "{counted:?}");
        assert!(counted[1].iter().any(|(kind, _, n)| kind == "below-baseline" && *n >= 2), "{counted:?}");
        counted
    };
    let (client, connection) = tokio_postgres::connect(&pg.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "DROP TRIGGER fleet_counts_update ON hosts; DROP TRIGGER fleet_counts_write ON hosts; \
             DROP FUNCTION fleet_counts_change(); DROP TABLE fleet_counts, fleet_count_deltas, host_members; \
             ALTER TABLE hosts DROP COLUMN versions; ALTER TABLE hosts DROP COLUMN verdict_tally; \
             UPDATE azver_schema SET version = 7",
        )
        .await
        .unwrap();
    let store = PgStore::open(&pg.url).await.unwrap();
    assert_eq!(tallies(&store, &served.digest, &config).await, counted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_maintenance_folds_the_counts_changes_and_vacuums_them() {
    // Every read of the counts scans `fleet_count_deltas`: the changes appended by the
    // triggers are folded by `maintain` (no read has to), and their dead rows reclaimed once
    // enough were folded, whether or not the server's autovacuum runs.
    let Some(pg) = TestDatabase::create().await else { return };
    let config = crate::config::Config::default();
    let (client, connection) = tokio_postgres::connect(&pg.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let sizes = async || -> (i64, i64) {
        let row = client
            .query_one("SELECT count(*), pg_relation_size('fleet_count_deltas') FROM fleet_count_deltas", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let hosts_of = async |store: &dyn Store| -> u64 {
        let rows = store.tally(query::Tally::Versions, &query::HostFilter::default(), &config, "", 10_000).await;
        rows.unwrap().iter().filter(|(p, v, _)| p == "azure-cli" && v == "2.45.0").map(|(_, _, n)| n).sum()
    };

    // Below the threshold: folded, not vacuumed (the dead rows stay).
    let lazy = PgStore::open(&pg.url).await.unwrap().vacuuming_after(u64::MAX);
    // Only this collector vacuums it here (the table exists once the store has migrated).
    client.batch_execute("ALTER TABLE fleet_count_deltas SET (autovacuum_enabled = off)").await.unwrap();
    for i in 0..100 {
        lazy.ingest(report(&format!("a{i}"), &format!("a{i}"), 1, "2.45.0"), 9_000).await.unwrap();
    }
    let (rows, _) = sizes().await;
    assert!(rows >= 100, "{rows} appended changes for 100 new hosts");
    lazy.maintain().await.unwrap();
    let (rows, bytes) = sizes().await;
    assert_eq!(rows, 0, "maintain folds every appended change");
    assert!(bytes > 0, "below the threshold the table is not vacuumed ({bytes} bytes)");
    assert_eq!(hosts_of(&lazy).await, 100);

    // At the threshold: folded and vacuumed, the table truncated to nothing.
    let eager = PgStore::open(&pg.url).await.unwrap().vacuuming_after(1);
    for i in 0..100 {
        eager.ingest(report(&format!("b{i}"), &format!("b{i}"), 1, "2.45.0"), 9_000).await.unwrap();
    }
    assert_eq!(hosts_of(&eager).await, 200, "reads sum the counts and the changes not folded yet");
    eager.maintain().await.unwrap();
    assert_eq!(sizes().await, (0, 0), "folded, then vacuumed");
    assert_eq!(hosts_of(&eager).await, 200);
    assert_eq!(hosts_of(&lazy).await, 200);
}

#[tokio::test]
async fn postgres_errors_name_the_server_and_hide_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://azver:hunter2@127.0.0.1:{port}/fleet?connect_timeout=2");
    let error = open(&DbLocation::parse(&url).unwrap()).await.unwrap_err().to_string();
    assert!(error.contains("postgresql"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sslmode_require_uses_tls_and_never_falls_back() {
    // The test server speaks no TLS: with sslmode=require the connection must fail, not go on in
    // plain text; without it the same server is reached.
    let Some(pg) = TestDatabase::create().await else { return };
    let separator = if pg.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}sslmode=require&connect_timeout=5", pg.url);
    let error = PgStore::open(&url).await.unwrap_err().to_string();
    assert!(error.to_lowercase().contains("tls"), "{error}");
    drop(PgStore::open(&pg.url).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_failed_report_is_rolled_back_and_leaves_no_transaction_open() {
    // PostgreSQL refuses NUL in text. A host name with one fails in the first round trip (with
    // BEGIN), a report id with one in the second (with COMMIT, after the host row was locked
    // and last_seen moved), whichever statement writes: either way nothing of the report stays, and the connection it ran
    // on is not handed out again inside a transaction: the next reports are stored and seen by
    // another collector.
    let Some(h) = Harness::postgres().await else { return };
    let store = &*h.store;
    assert_eq!(store.ingest(report("h1", "a", 1, "2.76.0"), 1_000).await.unwrap(), NEW_SNAPSHOT);
    let bad_name = report("h1", "a\0b", 2, "2.77.0");
    assert!(matches!(store.ingest(bad_name, 2_000).await, Err(StoreError::Postgres(_))));
    // The report id fails in the statement that writes: with a new snapshot, and without.
    for version in ["2.77.0", "2.76.0"] {
        let mut bad_id = report("h1", "a", 2, version);
        bad_id.report_id = "r\0".into();
        assert!(matches!(store.ingest(bad_id, 3_000).await, Err(StoreError::Postgres(_))));
    }
    let second = h.second().await;
    let host = second.host("h1").await.unwrap().unwrap();
    assert_eq!((host.last_seen, host.last_sequence), (1_000, 1), "both failed reports were rolled back");
    for sequence in 2..=20u64 {
        let outcome = store.ingest(report("h1", "a", sequence, "2.77.0"), 4_000 + sequence as i64).await.unwrap();
        assert_eq!(outcome, if sequence == 2 { NEW_SNAPSHOT } else { STORED });
    }
    let host = second.host("h1").await.unwrap().unwrap();
    assert_eq!((host.last_seen, host.last_sequence), (4_020, 20));
    assert_eq!(second.stats().await.unwrap().snapshots, 2);
}

async fn job_sign_ins_are_part_of_the_inventory(h: &Harness) {
    // Jobs found, the same jobs again, one job fewer, then none: three snapshots, read back
    // exactly; a host without jobs keeps the digest it always had.
    let store = &*h.store;
    let with = |sequence: u64, jobs: Vec<JobSignIn>| {
        let mut r = report("h1", "a", sequence, "2.76.0");
        r.job_sign_ins = jobs;
        r
    };
    let two = vec![job("/etc/cron.d/nightly", Some(4)), job("/opt/s.sh", Some(12))];
    assert_eq!(store.ingest(with(1, two.clone()), 1_000).await.unwrap(), NEW_SNAPSHOT);
    assert_eq!(store.host("h1").await.unwrap().unwrap().job_sign_ins, two);
    assert_eq!(store.ingest(with(2, two.clone()), 2_000).await.unwrap(), STORED);
    assert_eq!(store.ingest(with(3, two[..1].to_vec()), 3_000).await.unwrap(), NEW_SNAPSHOT);
    assert_eq!(store.host("h1").await.unwrap().unwrap().job_sign_ins, two[..1]);
    assert_eq!(store.ingest(with(4, Vec::new()), 4_000).await.unwrap(), NEW_SNAPSHOT);
    assert!(store.host("h1").await.unwrap().unwrap().job_sign_ins.is_empty());
    assert_eq!(store.stats().await.unwrap().snapshots, 3);
    let plain = inventory_digest(&[install("2.76.0")], &[], &[]).unwrap();
    let mut hasher = Sha256::new();
    let part = serde_json::to_string(&install("2.76.0")).unwrap();
    for p in [part.as_str(), "--identities--"] {
        hasher.update((p.len() as u64).to_le_bytes());
        hasher.update(p.as_bytes());
    }
    assert_eq!(plain, hasher.finalize().to_vec(), "the digest of a host without jobs is unchanged");
}

async fn staleness_is_exact_to_the_second_though_indexed_by_the_hour(h: &Harness) {
    // The stores index staleness by the hour of `last_seen` (`query::stale_sql`); a host is
    // still stale exactly when it was last seen before its cut-off, to the second, whichever
    // write moved `last_seen` (a stored report, a duplicate, a copy), with cut-offs inside an
    // hour, with one cut-off for all (the indexed form) and per role (the plain comparison).
    use query::{HostFilter, PageRequest};
    let per_role = crate::config::Config::parse(
        "stale_after = \"1d\"\n[[rules]]\nrole = \"build-runner\"\nstale_after = \"90m\"\n",
        "test",
    )
    .unwrap();
    let one = crate::config::Config::parse("stale_after = \"1d\"\n", "test").unwrap();
    let now = 200 * 86_400 + 1_234;
    let (day_cut, runner_cut) = (now - 86_400, now - 5_400);
    // (host, role, last seen, stale at `now` under `per_role`, under `one`)
    let hosts = [
        ("a", None, day_cut - 1, true, true),
        ("b", None, day_cut, false, false),
        ("c", None, day_cut + 1, false, false),
        ("d", None, day_cut - 3_601, true, true),
        ("e", None, day_cut + 3_600, false, false),
        ("f", None, 5, true, true),
        ("g", Some(Role::BuildRunner), runner_cut - 1, true, false),
        ("h", Some(Role::BuildRunner), runner_cut, false, false),
        ("i", Some(Role::BuildRunner), day_cut + 10, true, false),
        ("k", Some(Role::BuildRunner), day_cut - 1, true, true),
    ];
    let store = &*h.store;
    for (id, role, seen, _, _) in hosts {
        let mut r = report(id, id, 1, "2.76.0");
        r.host.role = role;
        store.ingest(r, seen).await.unwrap();
    }
    // A retry received later moves `last_seen` alone: "j" was stale, is not any more.
    store.ingest(report("j", "j", 1, "2.76.0"), day_cut - 7_200).await.unwrap();
    assert_eq!(store.ingest(report("j", "j", 1, "2.76.0"), day_cut + 5).await.unwrap(), IngestOutcome::Duplicate);
    let served = served();
    crate::housekeeping::reevaluate(store, &served, 100).await.unwrap();
    let stale = HostFilter { status: Some(azver_core::Status::Stale), ..HostFilter::default() };
    let fresh = HostFilter { status: Some(azver_core::Status::Compliant), ..HostFilter::default() };
    let copy = Harness::sqlite().await;
    copy_all(&*h.store, &*copy.store).await.unwrap();
    for (config, rules) in [(&per_role, true), (&one, false)] {
        let expected: Vec<&str> = hosts.iter().filter(|h| if rules { h.3 } else { h.4 }).map(|h| h.0).collect();
        for store in [&h.store, &copy.store] {
            let page = PageRequest { filter: stale.clone(), limit: 50, ..PageRequest::default() };
            let listed = store.page(&page, config, &served.digest, now).await.unwrap();
            assert_eq!(listed.iter().map(|h| h.host_id()).collect::<Vec<_>>(), expected, "rules: {rules}");
            assert_eq!(store.count(&stale, config, &served.digest, now).await.unwrap(), expected.len() as u64);
            assert_eq!(store.count(&fresh, config, &served.digest, now).await.unwrap(), 11 - expected.len() as u64);
            let counts = store.status_counts(config, &served.digest, now).await.unwrap();
            let counted: u64 = counts.iter().filter(|c| c.status == "stale").map(|c| c.hosts).sum();
            assert_eq!(counted, expected.len() as u64, "{counts:?}");
            // The counts kept at write time say the same, per role too: the hours before the
            // cut-off's from the counts, the cut-off's own hour from the hosts.
            for role in [None, Some(Role::BuildRunner)] {
                let filter = HostFilter { role, ..HostFilter::default() };
                let rows = store.tally(query::Tally::Statuses, &filter, config, &served.digest, now).await.unwrap();
                let of_role = |h: &&(&str, Option<Role>, i64, bool, bool)| role.is_none() || h.1 == role;
                let want = hosts.iter().filter(of_role).filter(|h| if rules { h.3 } else { h.4 }).count();
                let tallied: u64 = rows.iter().filter(|(_, s, _)| s == "stale").map(|(_, _, n)| n).sum();
                assert_eq!(tallied as usize, want, "rules: {rules}, {role:?}: {rows:?}");
                let all: u64 = rows.iter().map(|(_, _, n)| n).sum();
                assert_eq!(
                    all as usize,
                    hosts.iter().filter(of_role).count() + usize::from(role.is_none()),
                    "{rows:?}"
                );
            }
            // Before any cut-off (a clock near the epoch), nothing is stale.
            assert_eq!(store.count(&stale, config, &served.digest, 1_000).await.unwrap(), 0);
        }
    }
}

/// The counts the triggers keep (zeros left out, PostgreSQL's appended changes summed in) and
/// the same counts computed from `hosts`, both sorted.
async fn kept_and_recounted(location: &DbLocation) -> (Vec<[String; 8]>, Vec<[String; 8]>) {
    // With the hosts of each label and product (`host_members`) as rows of `member`.
    let members = "UNION ALL SELECT 'member', kind, '', a, b, host_id, 0, 1 FROM";
    let kept = format!(
        "SELECT what, baseline, role, status, a, b, hour, sum(n) FROM (SELECT * FROM fleet_counts {{deltas}}) c \
         GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(n) <> 0 {members} host_members"
    );
    let (mut a, mut b): (Vec<[String; 8]>, Vec<[String; 8]>) = match location {
        DbLocation::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let read = |sql: &str| -> Vec<[String; 8]> {
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| {
                    let text = |i: usize| -> rusqlite::Result<String> {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                            other => other.as_str().map_err(rusqlite::Error::from)?.to_owned(),
                        })
                    };
                    Ok([text(0)?, text(1)?, text(2)?, text(3)?, text(4)?, text(5)?, text(6)?, text(7)?])
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
            };
            let dialect = query::Dialect::Sqlite;
            let recount = format!("{} {members} ({}) m", rollup::recount(dialect), rollup::members_recount(dialect));
            (read(&kept.replace("{deltas}", "")), read(&recount))
        }
        DbLocation::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let read = |sql: String| {
                let client = &client;
                async move {
                    let sql = format!(
                        "SELECT what, baseline, role, status, a, b, hour::text, n::text \
                         FROM ({sql}) AS t(what, baseline, role, status, a, b, hour, n)"
                    );
                    client
                        .query(&sql, &[])
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| std::array::from_fn(|i| r.get::<_, String>(i)))
                        .collect::<Vec<[String; 8]>>()
                }
            };
            let kept = kept.replace("{deltas}", "UNION ALL SELECT * FROM fleet_count_deltas");
            let dialect = query::Dialect::Postgres;
            let recount = format!("{} {members} ({}) m", rollup::recount(dialect), rollup::members_recount(dialect));
            (read(kept).await, read(recount).await)
        }
    };
    a.sort();
    b.sort();
    (a, b)
}

async fn counts_kept_at_write_time_match_a_recount(h: &Harness) {
    use crate::baseline::Served;
    let store = &*h.store;
    let check = |stage: &'static str| async move {
        let (kept, recounted) = kept_and_recounted(&h.location).await;
        assert!(!recounted.is_empty(), "{stage}");
        assert_eq!(kept, recounted, "{stage}");
    };
    let hour = 3_600;
    // Hosts of every role, with labels, two products (one of them twice), a verdict or none.
    let old = Served::new(azver_core::Baseline::default());
    for i in 0..24u64 {
        let mut r =
            report(&format!("h{i:02}"), &format!("host-{i}"), 1, ["2.45.0", "2.76.0", "2.80.1"][(i % 3) as usize]);
        r.host.role = [None, Some(Role::BuildRunner), Some(Role::Developer), Some(Role::Server)][(i % 4) as usize];
        if i % 2 == 0 {
            r.host.labels.insert("team".into(), format!("t{}", i % 3));
        }
        if i % 5 == 0 {
            r.host.labels.insert("ring".into(), "o'canary".into());
            r.installations.push(Installation { path: "/other".into(), ..install("2.45.0") });
            r.installations.push(Installation { product: "Az".into(), version: "14.3.0".into(), ..install("x") });
        }
        if i % 3 == 0 {
            r.verdict = Some(policy_verdict(&r, &old));
        }
        store.ingest(r, 100 * hour + i as i64).await.unwrap();
    }
    check("ingested").await;
    // Reports an hour later (each moves its hour), with a new role, labels, versions, products.
    for i in 0..24u64 {
        let mut r =
            report(&format!("h{i:02}"), &format!("host-{i}"), 2, ["2.45.0", "2.77.0", "2.80.1"][(i % 3) as usize]);
        r.host.role = [Some(Role::Developer), Some(Role::BuildRunner), None, Some(Role::Server)][(i % 4) as usize];
        if i % 4 == 0 {
            r.host.labels.insert("team".into(), "moved".into());
        }
        if i % 7 == 0 {
            r.installations.clear();
        }
        if i % 2 == 0 {
            store.ingest(r, 101 * hour + i as i64).await.unwrap();
        }
    }
    check("changed").await;
    // Re-evaluated against a stricter baseline, in batches.
    let stricter = Served::new(
        azver_core::Baseline::from_toml("[products.azure-cli]\nminimum = \"2.78.0\"\nrule = \"every\"\n").unwrap(),
    );
    assert_eq!(crate::housekeeping::reevaluate(store, &stricter, 5).await.unwrap(), 24);
    check("re-evaluated").await;
    // Deleted, and the zero rows pruned (the hourly roll-up does it).
    assert_eq!(store.delete_hosts(&["h01".into(), "h02".into(), "h03".into()]).await.unwrap(), 3);
    check("deleted").await;
    store.record_daily("2026-03-01", &[], 5).await.unwrap();
    check("pruned").await;
    // A copy's counts are its rows' counts.
    let copy = match h.location {
        DbLocation::Sqlite(_) => Some(Harness::sqlite().await),
        DbLocation::Postgres(_) => Harness::postgres().await,
    };
    let copy = copy.expect("a second database of this kind");
    copy_all(store, &*copy.store).await.unwrap();
    let (kept, recounted) = kept_and_recounted(&copy.location).await;
    assert_eq!(kept, recounted, "copied");
    assert_eq!(kept, kept_and_recounted(&h.location).await.0, "the copy counts the same fleet");
}

async fn counts_by_status_hold_while_hosts_wait_for_reevaluation(h: &Harness) {
    // Versions are kept per stored status whatever the verdict's baseline: a view filtered by
    // status reads them only once every host is evaluated against the served baseline, and
    // counts from the hosts before (a host's old status is not its status now).
    use crate::baseline::Served;
    use crate::reports::{self, Filters};
    use crate::summary;
    use query::HostFilter;
    let store = &*h.store;
    let config = crate::config::Config::default();
    let old = Served::new(azver_core::Baseline::default());
    let now = 10_000;
    for i in 0..30u64 {
        let mut r =
            report(&format!("h{i:02}"), &format!("host-{i:02}"), 1, ["2.45.0", "2.76.0", "2.77.3"][(i % 3) as usize]);
        r.host.role = [None, Some(Role::BuildRunner), Some(Role::Developer)][(i % 3) as usize];
        if i % 4 == 0 {
            r.installations.push(Installation { product: "Az".into(), version: "14.3.0".into(), ..install("x") });
        }
        r.verdict = Some(policy_verdict(&r, &old));
        store.ingest(r, now - 100).await.unwrap();
    }
    let stricter = Served::new(
        azver_core::Baseline::from_toml("[products.azure-cli]\nminimum = \"2.77.0\"\nrule = \"every\"\n").unwrap(),
    );
    let filters = [
        HostFilter { status: Some(azver_core::Status::Noncompliant), ..HostFilter::default() },
        HostFilter { status: Some(azver_core::Status::Compliant), ..HostFilter::default() },
        HostFilter {
            status: Some(azver_core::Status::Compliant),
            role: Some(Role::Developer),
            ..HostFilter::default()
        },
    ];
    let check = |stage: &'static str| {
        let (filters, stricter, config) = (&filters, &stricter, &config);
        async move {
            let all = store.hosts().await.unwrap();
            for filter in filters {
                let picked: Vec<StoredHost> = all
                    .iter()
                    .filter(|h| summary::matches(filter, h, &crate::policy::evaluate(h, stricter, config, now)))
                    .cloned()
                    .collect();
                let filters = Filters { status: filter.status, role: filter.role, product: None };
                let report = reports::build(&picked, stricter, config, &filters, now);
                let counts = summary::count(store, stricter, config, filter, now).await.unwrap();
                assert!(!report.hosts.is_empty(), "{stage}: {filter:?}");
                assert_eq!(counts.hosts() as usize, report.hosts.len(), "{stage}: {filter:?}");
                assert_eq!(counts.summary(stricter).products, report.summary.products, "{stage}: {filter:?}");
                let below = report.hosts.iter().filter(|h| h.findings.iter().any(|f| f.product == "azure-cli")).count();
                assert_eq!(counts.below.get("azure-cli").copied().unwrap_or(0) as usize, below, "{stage}: {filter:?}");
            }
        }
    };
    check("none re-evaluated").await;
    let some = store.unevaluated(&stricter.digest, "", 11).await.unwrap();
    let verdicts: Vec<_> =
        some.iter().map(|h| (h.host_id().to_owned(), h.last_sequence, crate::policy::verdict(h, &stricter))).collect();
    assert_eq!(store.record_verdicts(&verdicts).await.unwrap(), 11);
    check("some re-evaluated").await;
    crate::housekeeping::reevaluate(store, &stricter, 7).await.unwrap();
    check("all re-evaluated").await;
}

async fn the_counts_of_schema_9_are_rebuilt_by_10(h: &Harness) {
    // A database that migration 9 left in its first layout (counts without `status`, other
    // triggers, rows of its own) gets this layout's counts, exact, from migration 10.
    let store = &*h.store;
    let old = crate::baseline::Served::new(azver_core::Baseline::default());
    for i in 0..12u64 {
        let mut r = report(&format!("h{i:02}"), &format!("host-{i}"), 1, ["2.45.0", "2.80.1"][(i % 2) as usize]);
        r.host.labels.insert("team".into(), format!("t{}", i % 3));
        r.verdict = Some(policy_verdict(&r, &old));
        store.ingest(r, 5_000 + i as i64).await.unwrap();
    }
    let old_table = |types: [&str; 2]| {
        format!(
            "CREATE TABLE fleet_counts (what {t} NOT NULL, baseline {t} NOT NULL, role {t} NOT NULL, a {t} NOT NULL, \
             b {t} NOT NULL, hour {i} NOT NULL, n {i} NOT NULL, PRIMARY KEY (what, baseline, role, a, b, hour)); \
             INSERT INTO fleet_counts VALUES ('status', 'gone', '', 'compliant', '', 1, 99);",
            t = types[0],
            i = types[1]
        )
    };
    match &h.location {
        DbLocation::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let triggers: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fleet_counts_%'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(triggers.len() >= 6, "{triggers:?}");
            let drops: String = triggers.iter().map(|t| format!("DROP TRIGGER {t}; ")).collect();
            conn.execute_batch(&format!(
                "{drops}DROP TABLE fleet_counts; {} \
                 CREATE TRIGGER fleet_counts_versions AFTER UPDATE OF versions ON hosts \
                 BEGIN INSERT INTO fleet_counts VALUES ('version', '', '', 'x', 'y', 0, 1); END; \
                 PRAGMA user_version = 9;",
                old_table(["TEXT", "INTEGER"])
            ))
            .unwrap();
        }
        DbLocation::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!(
                    "DROP TRIGGER fleet_counts_update ON hosts; DROP TRIGGER fleet_counts_write ON hosts; \
                     DROP FUNCTION fleet_counts_change(); DROP TABLE fleet_counts, fleet_count_deltas; {} \
                     CREATE TABLE fleet_count_deltas (what TEXT, baseline TEXT, role TEXT, a TEXT, b TEXT, hour BIGINT, n BIGINT); \
                     CREATE FUNCTION fleet_counts_change() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN RETURN NULL; END $fn$; \
                     CREATE TRIGGER fleet_counts_write AFTER INSERT OR DELETE ON hosts \
                     FOR EACH ROW EXECUTE FUNCTION fleet_counts_change(); \
                     UPDATE azver_schema SET version = 9",
                    old_table(["TEXT", "BIGINT"])
                ))
                .await
                .unwrap();
        }
    }
    let upgraded = h.second().await;
    let (kept, recounted) = kept_and_recounted(&h.location).await;
    assert!(kept.iter().any(|row| row[0] == "version" && row[3] == "noncompliant"), "{kept:?}");
    assert_eq!(kept, recounted);
    // And kept by the new triggers from then on.
    let mut r = report("h00", "host-0", 2, "2.80.1");
    r.verdict = Some(policy_verdict(&r, &old));
    upgraded.ingest(r, 9_000).await.unwrap();
    upgraded.ingest(report("h99", "new", 1, "2.45.0"), 9_000).await.unwrap();
    let (kept, recounted) = kept_and_recounted(&h.location).await;
    assert_eq!(kept, recounted);
}

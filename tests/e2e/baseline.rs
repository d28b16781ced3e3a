//! A changed baseline takes effect at once: at read time for reports, on SIGHUP for `serve`.

use std::path::Path;
use std::time::Duration;

use azver_e2e::{Collector, SimHost, agent, arg, eventually, fixture_root};
use serde_json::json;

fn write_baseline(path: &Path, azure_cli_minimum: &str) {
    let text = format!(
        "[products.\"azure-cli\"]\nminimum = \"{azure_cli_minimum}\"\nrule = \"every\"\n\n\
         [products.\"Az\"]\nminimum = \"14.3.0\"\nrule = \"newest\"\n"
    );
    std::fs::write(path, text).expect("write the baseline file");
}

/// `azver-agent check --collector URL --format json` on the compliant azure-cli 2.76.0 tree.
fn check_against(url: &str) -> azver_e2e::Run {
    let root = fixture_root("linux-microsoft-deb");
    agent(&[
        "check",
        "--collector",
        url,
        "--root",
        arg(&root),
        "--target-os",
        "linux",
        "--format",
        "json",
        "--timeout",
        "20s",
    ])
}

#[test]
fn report_with_a_higher_baseline_flips_a_compliant_host() {
    let collector = Collector::start();
    let host = SimHost::new(collector.dir(), "linux-microsoft-deb", "dev-01");
    host.report(&collector.url()).expect_code(0);
    let before = collector.report_json(&[]);
    assert_eq!(before["hosts"][0]["status"], "compliant");

    let file = collector.dir().join("stricter.toml");
    write_baseline(&file, "2.80.0");
    let after = collector.report_json(&["--baseline", arg(&file)]);
    assert_eq!(after["hosts"][0]["status"], "noncompliant");
    let finding = &after["hosts"][0]["findings"][0];
    assert_eq!(
        (&finding["kind"], &finding["product"], &finding["installed"], &finding["required"]),
        (&json!("below-baseline"), &json!("azure-cli"), &json!("2.76.0"), &json!("2.80.0"))
    );
    assert_eq!(after["baseline"]["azure-cli"]["minimum"], "2.80.0");
    assert_eq!(after["baseline"].as_object().unwrap().len(), 2, "only the products of the file");
    assert_eq!(after["summary"]["by_status"]["noncompliant"], 1);
    // The stored data did not change: without the flag the host is compliant again.
    assert_eq!(collector.report_json(&[])["hosts"][0]["status"], "compliant");

    let missing = collector.cli(&["report", "--format", "json", "--baseline", "/nonexistent/baseline.toml"]);
    missing.expect_code(2);
    assert!(missing.stderr.contains("cannot read baseline /nonexistent/baseline.toml"), "{}", missing.stderr);
}

#[test]
fn serve_rereads_its_baseline_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("baseline.toml");
    write_baseline(&file, "2.76.0");
    let collector = Collector::start_with(&["--baseline", arg(&file)]);
    let url = collector.url();

    let check = check_against(&url);
    check.expect_code(0);
    assert_eq!(check.json()["status"], "compliant");

    write_baseline(&file, "2.80.0");
    collector.signal("HUP");
    let check = eventually(Duration::from_secs(10), "check --collector to see the reloaded baseline", || {
        let run = check_against(&url);
        (run.code == 1).then_some(run)
    });
    let verdict = check.json();
    assert_eq!(verdict["status"], "noncompliant");
    assert_eq!(verdict["findings"][0]["required"], "2.80.0");
    assert_eq!(verdict["findings"].as_array().unwrap().len(), 1);

    // The Report verdict uses the reloaded baseline too.
    let host = SimHost::new(collector.dir(), "linux-microsoft-deb", "dev-02");
    let report = host.report(&url);
    report.expect_code(1);
    assert_eq!(report.json()["findings"][0]["required"], "2.80.0");
    let local = host.clone().with(&["--baseline-from-collector"]).report(&url);
    assert_eq!(local.expect_code(1).json()["local_evaluation"]["status"], "noncompliant");

    // A broken file is logged and the previous baseline kept.
    std::fs::write(&file, "this is not a baseline").unwrap();
    collector.signal("HUP");
    eventually(Duration::from_secs(10), "the failed reload to be logged", || {
        collector.stderr().contains("baseline reload failed; keeping the previous baseline").then_some(())
    });
    let check = check_against(&url);
    check.expect_code(1);
    assert_eq!(check.json()["findings"][0]["required"], "2.80.0");
}

#[test]
fn check_against_an_unreachable_collector_is_exit_2() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = check_against(&format!("http://127.0.0.1:{port}"));
    run.expect_code(2);
    assert!(run.stderr.contains("is unreachable"), "{}", run.stderr);
}

#[test]
fn hosts_and_host_use_the_given_baseline_and_rules() {
    let collector = Collector::start();
    let host = SimHost::new(collector.dir(), "linux-microsoft-deb", "dev-01");
    host.report(&collector.url()).expect_code(0);
    let strict = collector.dir().join("strict.toml");
    write_baseline(&strict, "2.80.0");
    let listed = |extra: &[&str]| {
        let mut args = vec!["hosts", "--format", "json"];
        args.extend(extra);
        collector.cli(&args).expect_code(0).json()[0]["status"].clone()
    };
    assert_eq!(listed(&[]), "compliant");
    assert_eq!(listed(&["--baseline", arg(&strict)]), "noncompliant");
    let shown = |extra: &[&str]| {
        let mut args = vec!["host", "dev-01", "--format", "json"];
        args.extend(extra);
        collector.cli(&args).expect_code(0).json()[0].clone()
    };
    assert_eq!(shown(&[])["status"], "compliant");
    let detail = shown(&["--baseline", arg(&strict)]);
    assert_eq!((&detail["status"], &detail["findings"][0]["required"]), (&json!("noncompliant"), &json!("2.80.0")));
    // The rules of --config: a host silent for longer than a second is stale under this one.
    let config = collector.dir().join("collector.toml");
    std::fs::write(&config, "stale_after = \"1s\"\n").unwrap();
    azver_e2e::let_seconds_pass(2);
    assert_eq!(listed(&["--config", arg(&config)]), "stale");
    assert_eq!(shown(&["--config", arg(&config)])["status"], "stale");
    let missing = collector.cli(&["host", "dev-01", "--baseline", "/nonexistent/baseline.toml"]);
    missing.expect_code(2);
    assert!(missing.stderr.contains("cannot read baseline /nonexistent/baseline.toml"), "{}", missing.stderr);
}

#[test]
fn a_reloaded_baseline_reaches_every_stored_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("baseline.toml");
    write_baseline(&file, "2.76.0");
    let collector = Collector::start_with(&["--baseline", arg(&file)]);
    for name in ["dev-01", "dev-02", "dev-03"] {
        SimHost::new(collector.dir(), "linux-microsoft-deb", name).report(&collector.url()).expect_code(0);
    }
    let verdicts = || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let location = azver_collector::store::DbLocation::parse(arg(collector.db())).unwrap();
            let store = azver_collector::store::open(&location).await.unwrap();
            let hosts = store.hosts().await.unwrap();
            hosts.into_iter().map(|h| h.verdict.map(|v| (v.status.to_string(), v.baseline))).collect::<Vec<_>>()
        })
    };
    let before = verdicts();
    assert!(before.iter().all(|v| v.as_ref().is_some_and(|(status, _)| status == "compliant")), "{before:?}");
    write_baseline(&file, "2.80.0");
    collector.signal("HUP");
    let after = eventually(Duration::from_secs(20), "every stored verdict to follow the new baseline", || {
        let now = verdicts();
        now.iter().all(|v| v.as_ref().is_some_and(|(status, _)| status == "noncompliant")).then_some(now)
    });
    let digests: std::collections::BTreeSet<_> = after.iter().flatten().map(|(_, digest)| digest.clone()).collect();
    assert_eq!(digests.len(), 1, "all three stamped with the same baseline: {after:?}");
    assert_ne!(before[0].as_ref().map(|v| &v.1), after[0].as_ref().map(|v| &v.1));
}

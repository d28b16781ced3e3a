//! Deleting hosts by hand, purging silent ones, and marking them stale.

use azver_e2e::{Collector, SimHost, arg, let_seconds_pass};
use serde_json::json;

/// (hostname, host_id) of `hosts --format json`.
fn listed(collector: &Collector) -> Vec<(String, String)> {
    let hosts = collector.cli(&["hosts", "--format", "json"]).expect_code(0).json();
    hosts
        .as_array()
        .expect("hosts is an array")
        .iter()
        .map(|h| (h["hostname"].as_str().expect("hostname").into(), h["host_id"].as_str().expect("host_id").into()))
        .collect()
}

#[test]
fn host_delete_by_id_and_by_name() {
    let collector = Collector::start();
    let url = collector.url();
    let alpha = SimHost::new(collector.dir(), "linux-microsoft-deb", "alpha");
    let twin_a = SimHost::new(collector.dir(), "linux-debian-package", "twin");
    let twin_b = SimHost::new(collector.dir(), "empty", "twin");
    let keep = SimHost::new(collector.dir(), "linux-powershell", "keep");
    for host in [&alpha, &twin_a, &twin_b, &keep] {
        host.report(&url);
    }
    assert_eq!(listed(&collector).len(), 4);

    let by_id = collector.cli(&["host", "delete", &alpha.host_id()]);
    assert_eq!(by_id.expect_code(0).stdout, format!("deleted 1 host(s): {}\n", alpha.host_id()));
    let mut twins = [twin_a.host_id(), twin_b.host_id()];
    twins.sort();
    let by_name = collector.cli(&["host", "delete", "twin"]);
    assert_eq!(by_name.expect_code(0).stdout, format!("deleted 2 host(s): {}, {}\n", twins[0], twins[1]));
    assert_eq!(listed(&collector), [("keep".to_owned(), keep.host_id())]);

    let again = collector.cli(&["host", "delete", &alpha.host_id()]);
    again.expect_code(2);
    assert!(again.stderr.contains(&format!("no host with id or name {:?}", alpha.host_id())), "{}", again.stderr);
    collector.cli(&["host", &alpha.host_id()]).expect_code(2);

    // A deleted host that reports again comes back as a new host with a fresh history.
    alpha.report(&url).expect_code(0);
    let detail = collector.cli(&["host", "alpha", "--format", "json"]).expect_code(0).json();
    assert_eq!(detail[0]["host_id"], alpha.host_id());
    assert_eq!(detail[0]["history"].as_array().unwrap().len(), 1);
}

#[test]
fn silent_hosts_turn_stale_and_are_purged_by_role_and_label_rules() {
    let collector = Collector::start();
    let url = collector.url();
    let runner = SimHost::new(collector.dir(), "linux-powershell", "runner").with(&["--role", "build-runner"]);
    let server = SimHost::new(collector.dir(), "linux-debian-package", "server").with(&["--role", "server"]);
    let laptop = SimHost::new(collector.dir(), "linux-microsoft-deb", "laptop").with(&["--role", "developer"]);
    let temp =
        SimHost::new(collector.dir(), "empty", "temp").with(&["--role", "developer", "--label", "ephemeral=true"]);
    for host in [&runner, &server, &laptop, &temp] {
        host.report(&url);
    }
    // Seconds resolution: a host silent for more than 1 s needs 2 s of clock to pass.
    let_seconds_pass(2);

    let stale = collector.dir().join("stale.toml");
    std::fs::write(&stale, "stale_after = \"30d\"\n[[rules]]\nrole = \"server\"\nstale_after = \"1s\"\n").unwrap();
    let report = collector.report_json(&["--config", arg(&stale)]);
    let statuses: Vec<(&str, &str)> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["hostname"].as_str().unwrap(), h["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [("laptop", "compliant"), ("runner", "compliant"), ("server", "stale"), ("temp", "not-applicable")]
    );
    assert_eq!(
        report["summary"]["by_status"],
        json!({ "compliant": 2, "noncompliant": 0, "not-applicable": 1, "stale": 1 })
    );
    let server_entry = report["hosts"].as_array().unwrap().iter().find(|h| h["hostname"] == "server").unwrap();
    assert_eq!(server_entry["findings"][0]["installed"], "2.45.0", "a stale host keeps its findings");
    let only_stale = collector.report_json(&["--config", arg(&stale), "--status", "stale"]);
    assert_eq!(only_stale["hosts"].as_array().unwrap().len(), 1);
    // Without the config the default (7 days) applies: nobody is stale.
    assert_eq!(collector.report_json(&[])["summary"]["by_status"]["stale"], 0);

    let purge = collector.dir().join("purge.toml");
    std::fs::write(
        &purge,
        "purge_after = \"90d\"\n\
         [[rules]]\nrole = \"build-runner\"\npurge_after = \"1s\"\n\
         [[rules]]\nlabel = \"ephemeral=true\"\npurge_after = \"1\"\n",
    )
    .unwrap();
    let run = collector.cli(&["purge", "--config", arg(&purge)]);
    assert_eq!(run.expect_code(0).stdout, "purged 2 host(s)\n");
    assert_eq!(listed(&collector), [("laptop".to_owned(), laptop.host_id()), ("server".to_owned(), server.host_id())]);
    let run = collector.cli(&["purge", "--config", arg(&purge)]);
    assert_eq!(run.expect_code(0).stdout, "purged 0 host(s)\n");

    let bad = collector.dir().join("bad.toml");
    std::fs::write(&bad, "[[rules]]\nrole = \"server\"\nlabel = \"a=b\"\npurge_after = \"1s\"\n").unwrap();
    let run = collector.cli(&["purge", "--config", arg(&bad)]);
    run.expect_code(2);
    assert!(run.stderr.contains("rules[0] needs exactly one of role or label"), "{}", run.stderr);
    assert_eq!(listed(&collector).len(), 2, "a bad config purges nothing");
}

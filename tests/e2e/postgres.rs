//! Several collectors on one PostgreSQL database (issue 10): agents alternate between them, one
//! is killed with SIGKILL midway, and every host is there exactly once; the same report sent to
//! two collectors at the same moment is stored once; every collector serves the same fleet; and
//! `migrate` moves an SQLite fleet over. Needs `AZVER_TEST_POSTGRES_URL` (skipped without it,
//! a failure under `CI=true`).

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use azver_collector::store::postgres::TestDatabase;
use azver_e2e::{Collector, SimHost, arg, collector_cli, repo_root};
use prost::Message as _;
use serde_json::Value;

/// A throwaway database, or `None` (with a message) when no PostgreSQL is configured.
fn database() -> Option<TestDatabase> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(TestDatabase::create())
}

/// `GET path` on a collector's HTTP listener, as JSON.
fn http_json(address: &str, path: &str) -> Value {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connect {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("set a read timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {body}"))
}

/// The fleet as a collector's API serves it, without the time it was generated.
fn served_hosts(collector: &Collector) -> Value {
    let hosts = http_json(collector.http_address(), "/api/v1/hosts?limit=1000");
    assert!(hosts["hosts"].as_array().is_some_and(|h| !h.is_empty()), "{hosts}");
    hosts
}

const CASES: &[&str] = &["linux-microsoft-deb", "linux-debian-package", "linux-powershell", "empty"];

#[test]
fn agents_alternating_between_two_collectors_one_killed_are_each_stored_once() {
    let Some(db) = database() else { return };
    let http = ["--http", "127.0.0.1:0"];
    let mut collectors = [
        Collector::start_with_db("127.0.0.1:0", Some(&db.url), &http),
        Collector::start_with_db("127.0.0.1:0", Some(&db.url), &http),
    ];
    let scratch = tempfile::tempdir().unwrap();
    let hosts: Vec<SimHost> =
        (0..10).map(|i| SimHost::new(scratch.path(), CASES[i % CASES.len()], &format!("host-{i:02}"))).collect();
    let (mut sent, mut first_dead) = (0, false);
    for round in 0..3 {
        for (i, host) in hosts.iter().enumerate() {
            // Midway through the second round, the first collector dies without a goodbye.
            if round == 1 && i == hosts.len() / 2 {
                collectors[0].kill();
                first_dead = true;
            }
            let target = (i + round) % 2;
            let run = host.report(&collectors[target].url());
            if target == 1 || !first_dead {
                assert!(run.code == 0 || run.code == 1, "{}: {}", run.command, run.stderr);
                assert_eq!(run.json()["duplicate"], false);
            } else {
                // The load balancer's health check would take it out; the agent retries on the other.
                assert_eq!(run.code, 2, "a report to a dead collector fails: {}", run.stdout);
                let retry = host.report(&collectors[1].url());
                assert!(retry.code == 0 || retry.code == 1, "{}: {}", retry.command, retry.stderr);
            }
            sent += 1;
        }
    }
    assert_eq!(sent, 30);
    collectors[0].restart();

    let report = collectors[1].report_json(&[]);
    let listed: Vec<&str> =
        report["hosts"].as_array().unwrap().iter().map(|h| h["host_id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(listed.len(), hosts.len(), "every host exactly once: {listed:?}");
    assert_eq!(
        unique,
        hosts.iter().map(SimHost::host_id).collect::<BTreeSet<_>>().iter().map(String::as_str).collect()
    );
    // Each host's last sequence is what its agent sent last: nothing lost, nothing counted twice.
    for host in &hosts {
        let shown = collectors[1].cli(&["host", &host.host_id(), "--format", "json"]).expect_code(0).json();
        assert_eq!(shown[0]["hostname"], host.hostname);
        assert_eq!(shown[0]["history"].as_array().unwrap().len(), 1, "an unchanged host has one snapshot");
    }
    // Both collectors serve the same fleet, byte for byte.
    assert_eq!(served_hosts(&collectors[0]), served_hosts(&collectors[1]));
}

#[test]
fn the_same_report_sent_to_two_collectors_at_once_is_stored_once() {
    let Some(db) = database() else { return };
    let collectors = [
        Collector::start_with_db("127.0.0.1:0", Some(&db.url), &[]),
        Collector::start_with_db("127.0.0.1:0", Some(&db.url), &[]),
    ];
    let bytes = std::fs::read(repo_root().join("tests/data/compat/rev1/report.bin")).expect("the compat report");
    let template = azver_proto::v1::ReportRequest::decode(bytes.as_slice()).expect("it decodes");
    let urls: Vec<String> = collectors.iter().map(Collector::url).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let duplicates: Vec<Vec<bool>> = runtime.block_on(async {
        let mut clients = Vec::new();
        for url in &urls {
            clients.push(
                azver_proto::v1::inventory_service_client::InventoryServiceClient::connect(url.clone()).await.unwrap(),
            );
        }
        let mut tasks = Vec::new();
        for host in 0..25 {
            for sequence in 1..=4u64 {
                let mut request = template.clone();
                let report = request.report.as_mut().unwrap();
                report.host.as_mut().unwrap().host_id = format!("race-{host}");
                report.report_id = format!("race-{host}-{sequence}");
                report.sequence = sequence;
                // Both collectors get it at the same moment.
                for client in &clients {
                    let (mut client, request) = (client.clone(), request.clone());
                    tasks.push(tokio::spawn(async move { client.report(request).await }));
                }
            }
        }
        let mut answers = Vec::new();
        for pair in tasks.chunks_mut(2) {
            let mut duplicate = Vec::new();
            for task in pair {
                duplicate.push(task.await.unwrap().expect("acknowledged").into_inner().duplicate);
            }
            answers.push(duplicate);
        }
        answers
    });
    // Sequences of one host race each other too, so a later one may win and make an earlier
    // one a duplicate on both; but never is one report stored by both collectors.
    assert!(duplicates.iter().all(|pair| pair.iter().filter(|d| !**d).count() <= 1), "{duplicates:?}");
    for host in 0..25 {
        let stored: usize =
            duplicates[host * 4..host * 4 + 4].iter().map(|pair| pair.iter().filter(|d| !**d).count()).sum();
        assert!((1..=4).contains(&stored), "race-{host}: {stored} stored");
    }
    let fleet = collectors[0].report_json(&[]);
    assert_eq!(fleet["hosts"].as_array().unwrap().len(), 25);
}

#[test]
fn migrate_moves_an_sqlite_fleet_to_postgres_and_refuses_to_mix_fleets() {
    let Some(db) = database() else { return };
    let sqlite = Collector::start();
    let scratch = tempfile::tempdir().unwrap();
    for (i, case) in CASES.iter().enumerate() {
        SimHost::new(scratch.path(), case, &format!("moved-{i}")).report(&sqlite.url());
    }
    let before = sqlite.report_json(&[]);
    let from = format!("sqlite://{}", arg(sqlite.db()));
    let run = collector_cli(&["migrate", "--from", &from, "--to", &db.url]).expect_code(0).stdout.clone();
    assert!(run.starts_with("copied 4 host(s), 4 snapshot(s), 4 host name(s)"), "{run}");
    let mut after = collector_cli(&["report", "--format", "json", "--db", &db.url]).expect_code(0).json();
    let mut before = before;
    for report in [&mut before, &mut after] {
        report.as_object_mut().map(|o| o.remove("generated_at"));
    }
    assert_eq!(after, before, "the same fleet, read from PostgreSQL");
    // A second migration would mix two fleets: refused, nothing written.
    let again = collector_cli(&["migrate", "--from", &from, "--to", &db.url]);
    again.expect_code(2);
    assert!(again.stderr.contains("the target database is not empty"), "{}", again.stderr);
    // A collector on the migrated database goes on where SQLite left off.
    let pg = Collector::start_with_db("127.0.0.1:0", Some(&db.url), &[]);
    let host = SimHost::new(scratch.path(), "linux-microsoft-deb", "after-move");
    host.report(&pg.url());
    assert_eq!(pg.report_json(&[])["hosts"].as_array().unwrap().len(), 5);
    // The password of a URL never reaches the output, not even when the server is unreachable.
    let run = collector_cli(&["hosts", "--db", "postgres://azver:hunter2@127.0.0.1:1/fleet"]);
    run.expect_code(2);
    assert!(run.stderr.contains("postgres://azver:***@127.0.0.1:1/fleet"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

#[test]
fn backup_copies_a_live_sqlite_database() {
    let collector = Collector::start();
    let scratch = tempfile::tempdir().unwrap();
    let host = SimHost::new(scratch.path(), "linux-microsoft-deb", "backed-up");
    host.report(&collector.url());
    let copy = collector.dir().join("copy.db");
    let run = collector_cli(&["backup", "--db", arg(collector.db()), "--to", arg(&copy)]).expect_code(0).stdout.clone();
    assert!(run.starts_with("backed up "), "{run}");
    // The copy is a database of its own: reports read from it, the live one goes on.
    let hosts = collector_cli(&["hosts", "--format", "json", "--db", arg(&copy)]).expect_code(0).json();
    assert_eq!(hosts[0]["host_id"], host.host_id());
    let again = collector_cli(&["backup", "--db", arg(collector.db()), "--to", arg(&copy)]);
    again.expect_code(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn a_host_name_with_nul_is_refused_before_it_reaches_a_store() {
    let collector = Collector::start();
    let bytes = std::fs::read(repo_root().join("tests/data/compat/rev1/report.bin")).expect("the compat report");
    let mut request = azver_proto::v1::ReportRequest::decode(bytes.as_slice()).expect("it decodes");
    request.report.as_mut().and_then(|r| r.host.as_mut()).expect("host facts").hostname = "nul\0name".into();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = runtime
        .block_on(async {
            let mut client =
                azver_proto::v1::inventory_service_client::InventoryServiceClient::connect(collector.url())
                    .await
                    .unwrap();
            client.report(request).await
        })
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("report.host.hostname contains U+0000"), "{status:?}");
}

#[test]
fn enrollment_works_the_same_on_postgresql() {
    let Some(pg) = database() else { return };
    let created = collector_cli(&["secret", "create", "--db", &pg.url, "--label", "pg-fleet"]);
    created.expect_code(0);
    let secret = created.stdout.trim_end().lines().last().expect("the secret").to_owned();
    let collector = Collector::start_with_db("127.0.0.1:0", Some(&pg.url), &[]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{secret}\n")).expect("write the secret");
    // Unauthenticated reports are refused once a secret exists; an enrolled agent is stored.
    SimHost::new(dir.path(), "linux-microsoft-deb", "pg-anonymous").report(&collector.url()).expect_code(2);
    let host =
        SimHost::new(dir.path(), "linux-microsoft-deb", "pg-enrolled").with(&["--enroll-secret-file", arg(&file)]);
    host.report(&collector.url()).expect_code(0);
    let secrets: Value = collector_cli(&["secret", "list", "--db", &pg.url, "--format", "json"]).json();
    assert_eq!((secrets[0]["label"].as_str(), secrets[0]["enrollments"].as_u64()), (Some("pg-fleet"), Some(1)));
    collector_cli(&["host", "revoke", &host.host_id(), "--db", &pg.url]).expect_code(0);
    host.report(&collector.url()).expect_code(2);
    collector_cli(&["token", "create", "--db", &pg.url]).expect_code(0);
    let tokens: Value = collector_cli(&["token", "list", "--db", &pg.url, "--format", "json"]).json();
    assert_eq!(tokens.as_array().map(Vec::len), Some(1));
}

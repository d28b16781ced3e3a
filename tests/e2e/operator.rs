//! Operator experience (issue 19) across real processes: read commands refuse a database that does
//! not exist, `status` sees every delivery, revoked hosts look revoked everywhere, a report without
//! a host name still names its host, `config check` validates what `run` would, every error is one
//! line with its cause and fix, logs are plain one-line text off a terminal, flags that do nothing
//! are refused, and JSON times are RFC 3339.
// Helpers here are test code too: a panic is how they report a broken set-up.
#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::time::Duration;

use azver_e2e::{
    Collector, Run, SimHost, agent, agent_status, arg, collector_cli, eventually, free_port, run_with_env,
};
use azver_proto::v1::inventory_service_client::InventoryServiceClient;
use azver_proto::v1::{EnrollRequest, HostFacts, InventoryReport, ReportRequest};

const CASE: &str = "linux-microsoft-deb";

/// Panics unless the command failed with exit 2 and printed exactly one stderr line holding every
/// part of `expected`.
#[track_caller]
fn one_line_error(run: &Run, expected: &[&str]) -> String {
    run.expect_code(2);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{}: one stderr line expected:\n{}", run.command, run.stderr);
    for part in expected {
        assert!(run.stderr.contains(part), "{}: stderr lacks {part:?}:\n{}", run.command, run.stderr);
    }
    for noise in ["Some(", "tonic::transport", "Error {", "kind:"] {
        assert!(!run.stderr.contains(noise), "{}: debug formatting in:\n{}", run.command, run.stderr);
    }
    lines[0].to_owned()
}

#[test]
fn read_commands_refuse_a_database_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    let db = arg(&typo);
    let copy = dir.path().join("copy.db");
    for args in [
        &["report", "--db", db][..],
        &["report", "--db", db, "--format", "json"],
        &["hosts", "--db", db],
        &["hosts", "--db", db, "--revoked"],
        &["host", "laptop", "--db", db],
        &["host", "delete", "laptop", "--db", db],
        &["host", "revoke", "laptop", "--db", db],
        &["purge", "--db", db],
        &["backup", "--db", db, "--to", arg(&copy)],
        &["secret", "list", "--db", db],
        &["secret", "revoke", "es_x", "--db", db],
        &["token", "list", "--db", db],
        &["token", "revoke", "at_x", "--db", db],
        &["migrate", "--from", db, "--to", arg(&copy)],
    ] {
        let run = collector_cli(args);
        one_line_error(&run, &[db, "does not exist"]);
        assert!(run.stdout.is_empty(), "{}: {}", run.command, run.stdout);
        assert!(!typo.exists(), "{} created the database", run.command);
        assert!(!copy.exists(), "{} created {}", run.command, copy.display());
    }
    // SQLite's "unable to open database file" becomes the cause, said once.
    let folder = collector_cli(&["serve", "--listen", "127.0.0.1:0", "--db", arg(&dir.path().join("gone/fleet.db"))]);
    one_line_error(&folder, &["the folder", "gone", "does not exist; create it first"]);
    let not_file = collector_cli(&["hosts", "--db", arg(dir.path())]);
    one_line_error(&not_file, &["is not a file"]);
    // The commands that create a database still do.
    let created = collector_cli(&["secret", "create", "--db", db]);
    created.expect_code(0);
    collector_cli(&["hosts", "--db", db]).expect_code(0);
    collector_cli(&["migrate", "--from", db, "--to", arg(&copy)]).expect_code(0);
    assert!(copy.is_file());
}

#[test]
fn status_shows_what_report_once_delivered_and_what_failed() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let host = SimHost::new(dir.path(), CASE, "status-host");
    for _ in 0..3 {
        host.report(&collector.url()).expect_code(0);
    }
    let status = agent_status(&host.state_dir);
    assert_eq!(status["delivered"], 3, "{status}");
    assert_eq!(status["last_status"], "compliant", "{status}");
    assert_eq!(status["host_id"], host.host_id().as_str(), "{status}");
    let success = status["last_success_at"].as_str().unwrap().to_owned();
    assert!(success.ends_with('Z') && success.contains('T'), "RFC 3339: {success}");
    let table = agent(&["status", "--state-dir", arg(&host.state_dir)]);
    assert!(!table.expect_code(0).stdout.contains("never"), "{}", table.stdout);

    // A failed delivery is the last error; the last success stays.
    let down = format!("http://127.0.0.1:{}", free_port());
    host.report(&down).expect_code(2);
    let status = agent_status(&host.state_dir);
    assert_eq!(status["delivered"], 3, "{status}");
    assert_eq!(status["last_success_at"], success.as_str(), "{status}");
    assert!(status["last_error"].as_str().unwrap().contains("connection refused"), "{status}");
}

/// Enrolls `host_id` with `secret` through a plain gRPC client and sends no report.
fn enroll_only(address: &str, secret: &str, host_id: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut client = InventoryServiceClient::connect(format!("http://{address}")).await.unwrap();
        let host = HostFacts { host_id: host_id.to_owned(), hostname: "silent".into(), ..HostFacts::default() };
        client.enroll(EnrollRequest { enroll_secret: secret.to_owned(), host: Some(host) }).await.unwrap();
    });
}

/// A plain HTTP/1.0 GET of the collector's dashboard; the body.
fn http_body(address: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

#[test]
fn revoked_hosts_are_shown_as_revoked_listed_and_cleared_by_host_delete() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0"]);
    let created = collector.cli(&["secret", "create"]);
    let secret = created.expect_code(0).stdout.lines().last().unwrap().trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, &secret).unwrap();
    let host = SimHost::new(dir.path(), CASE, "revoked-laptop").with(&["--enroll-secret-file", arg(&secret_file)]);
    host.report(&collector.url()).expect_code(0);
    let other = SimHost::new(dir.path(), CASE, "fine-laptop").with(&["--enroll-secret-file", arg(&secret_file)]);
    other.report(&collector.url()).expect_code(0);
    enroll_only(collector.address(), &secret, "never-reported-1");

    collector.cli(&["host", "revoke", "revoked-laptop"]).expect_code(0);
    collector.cli(&["host", "revoke", "never-reported-1"]).expect_code(0);

    let hosts = collector.cli(&["hosts"]);
    let line = hosts.stdout.lines().find(|l| l.contains("revoked-laptop")).unwrap();
    assert!(line.contains("compliant (revoked)"), "{}", hosts.stdout);
    let fine = hosts.stdout.lines().find(|l| l.contains("fine-laptop")).unwrap();
    assert!(!fine.contains("revoked"), "{}", hosts.stdout);
    let json = collector.cli(&["hosts", "--format", "json"]).expect_code(0).json();
    let row = json.as_array().unwrap().iter().find(|h| h["hostname"] == "revoked-laptop").unwrap();
    assert!(row["revoked_at"].as_str().unwrap().ends_with('Z'), "{json}");

    let listed = collector.cli(&["hosts", "--revoked", "--format", "json"]).expect_code(0).json();
    let listed: Vec<(String, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["host_id"].as_str().unwrap().to_owned(), r["reported"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [(host.host_id(), true), ("never-reported-1".to_owned(), false)], "both listed, by host id");

    let shown = collector.cli(&["host", "revoked-laptop"]);
    assert!(shown.expect_code(0).stdout.contains("status: compliant (revoked)"), "{}", shown.stdout);
    let never = collector.cli(&["host", "never-reported-1"]);
    assert!(never.expect_code(0).stdout.contains("revoked at"), "{}", never.stdout);
    let report = collector.report_json(&[]);
    let entry = report["hosts"].as_array().unwrap().iter().find(|h| h["hostname"] == "revoked-laptop").unwrap();
    assert!(entry["revoked_at"].is_string(), "{entry}");
    let csv = collector.cli(&["report", "--format", "csv"]).expect_code(0).stdout.clone();
    assert!(csv.lines().next().unwrap().ends_with("revoked_at"), "{csv}");

    let page = http_body(collector.http_address(), "/");
    assert_eq!(page.matches(">revoked</span>").count(), 1, "one revoked badge on the dashboard");
    let api: serde_json::Value =
        serde_json::from_str(&http_body(collector.http_address(), "/api/v1/hosts")).expect("the API answers JSON");
    let revoked: Vec<(&str, bool)> = api["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["hostname"].as_str().unwrap(), h["revoked_at"].as_str().is_some_and(|t| t.ends_with('Z'))))
        .collect();
    assert_eq!(revoked, [("fine-laptop", false), ("revoked-laptop", true)], "{api}");
    let host_page = http_body(collector.http_address(), &format!("/hosts/{}", host.host_id()));
    assert!(host_page.contains(">revoked</span>") && host_page.contains("<th>revoked</th>"), "{host_page}");

    // A host that never reported: `host delete ID` clears its revocation.
    let cleared = collector.cli(&["host", "delete", "never-reported-1"]);
    assert!(cleared.expect_code(0).stdout.contains("cleared the revocation"), "{}", cleared.stdout);
    let listed = collector.cli(&["hosts", "--revoked", "--format", "json"]).expect_code(0).json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let unknown = collector.cli(&["host", "delete", "nobody-at-all"]);
    one_line_error(&unknown, &["no host with id or name \"nobody-at-all\""]);
}

#[test]
fn a_report_without_a_host_name_is_named_by_its_host_id() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0"]);
    // The collector: an empty name on the wire is stored as the host id.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut client = InventoryServiceClient::connect(collector.url()).await.unwrap();
        let host = HostFacts { host_id: "nameless-1".into(), hostname: "  ".into(), ..HostFacts::default() };
        let report =
            InventoryReport { host: Some(host), report_id: "r-1".into(), sequence: 1, ..InventoryReport::default() };
        client.report(ReportRequest { node_key: String::new(), report: Some(report) }).await.unwrap();
    });
    let hosts = collector.cli(&["hosts", "--format", "json"]).expect_code(0).json();
    assert_eq!(hosts[0]["hostname"], "nameless-1", "{hosts}");
    let page = http_body(collector.http_address(), "/");
    assert!(page.contains("href=\"/hosts/nameless-1\">nameless-1</a>"), "a clickable name");

    // The agent: a blank --hostname falls back to the scanned name, and with no name on disk
    // either (a root without /etc/hostname) to the host id.
    let dir = tempfile::tempdir().unwrap();
    let host = SimHost::new(dir.path(), CASE, "   ");
    host.report(&collector.url()).expect_code(0);
    let root = dir.path().join("bare-root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let state = dir.path().join("bare-state");
    let url = collector.url();
    let bare = agent(&[
        "report",
        "--once",
        "--collector",
        &url,
        "--root",
        arg(&root),
        "--target-os",
        "linux",
        "--state-dir",
        arg(&state),
        "--hostname",
        "",
        "--format",
        "json",
    ]);
    bare.expect_code(0);
    let bare_id = std::fs::read_to_string(state.join("host-id")).unwrap().trim().to_owned();
    let report = collector.report_json(&[]);
    let names: Vec<&str> =
        report["hosts"].as_array().unwrap().iter().map(|h| h["hostname"].as_str().unwrap()).collect();
    assert!(names.contains(&"runner-ubuntu-01"), "the fixture's /etc/hostname: {names:?}");
    assert!(names.contains(&bare_id.as_str()), "the host id: {names:?}");
    assert!(!names.iter().any(|n| n.trim().is_empty()), "{names:?}");
}

fn config_check(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_with_env(&azver_e2e::bin("azver-agent"), &[&["config", "check"][..], args].concat(), env)
}

#[test]
fn config_check_refuses_what_run_would_and_shows_secrets_as_present_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state_arg = arg(&state);
    let missing = dir.path().join("missing.pem");
    let base = ["--state-dir", state_arg, "--config", "/nonexistent-but-explicit.toml"];
    // An explicit config file that does not exist is an error (once, one line).
    let run = config_check(&base, &[]);
    one_line_error(&run, &["nonexistent-but-explicit.toml"]);
    assert_eq!(run.stderr.matches("No such file or directory").count(), 1, "{}", run.stderr);

    let config = dir.path().join("agent.toml");
    std::fs::write(&config, format!("state_dir = \"{}\"\n", state.display())).unwrap();
    let config_arg = arg(&config);
    // A CA file with an http:// URL: `run` refuses it, so does `config check`.
    let run = config_check(
        &["--config", config_arg, "--collector", "http://127.0.0.1:50051", "--ca-cert", arg(&missing)],
        &[],
    );
    one_line_error(&run, &["need an https:// collector URL"]);
    // A missing CA file with https://.
    let run = config_check(
        &["--config", config_arg, "--collector", "https://c.example:50051", "--ca-cert", arg(&missing)],
        &[],
    );
    one_line_error(&run, &["cannot read the CA certificate", "missing.pem"]);
    // A missing enrollment secret file.
    let run = config_check(
        &["--config", config_arg, "--collector", "http://127.0.0.1:50051", "--enroll-secret-file", arg(&missing)],
        &[],
    );
    one_line_error(&run, &["cannot read the enrollment secret file"]);
    // No collector at all.
    let run = config_check(&["--config", config_arg], &[]);
    one_line_error(&run, &["no collector configured"]);
    assert!(!state.exists(), "config check creates nothing");

    // A valid configuration: exit 0; --format json is JSON; secrets are present or absent.
    let ok = config_check(&["--config", config_arg, "--collector", "http://127.0.0.1:50051", "--format", "json"], &[]);
    let json = ok.expect_code(0).json();
    assert_eq!(json["valid"], true, "{json}");
    assert_eq!(json["credentials"]["enroll_secret"], "absent", "{json}");
    assert_eq!(json["credentials"]["node_key"], "absent", "{json}");
    assert_eq!(json["config"]["collector"], "http://127.0.0.1:50051", "{json}");
    let with_secret = config_check(
        &["--config", config_arg, "--collector", "http://127.0.0.1:50051"],
        &[("AZVER_ENROLL_SECRET", "azes_do-not-print-me")],
    );
    with_secret.expect_code(0);
    assert!(
        with_secret.stdout.contains("# enrollment secret: present (from AZVER_ENROLL_SECRET)"),
        "{}",
        with_secret.stdout
    );
    assert!(!with_secret.stdout.contains("do-not-print-me"), "{}", with_secret.stdout);
    let invalid_json = config_check(&["--config", config_arg, "--format", "json"], &[]);
    invalid_json.expect_code(2);
    assert_eq!(invalid_json.json()["valid"], false);

    // A TOML error: once, on one line, with its position.
    std::fs::write(&config, "collector = \"http://x:1\"\ninterval = = 3\n").unwrap();
    let run = config_check(&["--config", config_arg], &[]);
    one_line_error(&run, &["line 2, column"]);
}

#[test]
fn connection_errors_say_the_cause_and_the_fix_in_one_line() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0"]);
    let dir = tempfile::tempdir().unwrap();
    let report = |url: &str, extra: &[&str]| SimHost::new(dir.path(), CASE, "errors").with(extra).report(url);

    // Nothing listens: said so, with no TLS guess appended.
    let refused = report(&format!("http://127.0.0.1:{}", free_port()), &[]);
    let line = one_line_error(&refused, &["connection refused"]);
    assert!(!line.contains("TLS"), "{line}");
    // A name that does not resolve.
    let dns = report("http://no-such-host.invalid:50051", &[]);
    let line = one_line_error(&dns, &["cannot resolve the host name no-such-host.invalid"]);
    assert!(!line.contains("TLS"), "{line}");
    // https:// to a plain-text collector.
    let https = report(&format!("https://{}", collector.address()), &[]);
    one_line_error(&https, &["serves plain text, not TLS", "use http://"]);
    // The dashboard port instead of the gRPC port.
    let http_port = report(&format!("http://{}", collector.http_address()), &[]);
    one_line_error(&http_port, &["dashboard port"]);
    // No scheme: a usage error from the command line.
    let bare = report(collector.address(), &[]);
    bare.expect_code(2);
    assert!(bare.stderr.contains("has no scheme: use http://"), "{}", bare.stderr);
}

#[test]
fn logs_off_a_terminal_are_plain_one_line_events() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.toml");
    std::fs::write(&baseline, azver_core_baseline()).unwrap();
    let mut collector = Collector::start_with(&["--baseline", arg(&baseline)]);
    // A broken baseline on SIGHUP: one log line, not a multi-line TOML snippet.
    std::fs::write(&baseline, "[products.Az]\nminimum = = \"14.3\"\n").unwrap();
    // The handler is installed just after `listening on`: signal until it answers.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let log = loop {
        collector.signal("HUP");
        let log = collector.stderr();
        if log.contains("baseline reload failed") {
            break log;
        }
        if std::time::Instant::now() >= deadline {
            let exit = collector.wait_exit(Duration::from_millis(10));
            panic!(
                "no reload error after 20 s (collector exit: {exit:?}); the collector logged:\n{}",
                collector.stderr()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let line = log.lines().find(|l| l.contains("baseline reload failed")).unwrap();
    assert!(line.contains("line 2, column"), "{line}");
    let after: Vec<&str> = log.lines().skip_while(|l| !l.contains("baseline reload failed")).skip(1).collect();
    assert!(after.iter().all(|l| l.contains(" INFO ") || l.contains(" WARN ") || l.contains(" ERROR ")), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escapes in a log file:\n{log}");

    // The agent's service log: no ANSI, no Some("...").
    let state = dir.path().join("agent-state");
    let mut service = azver_e2e::AgentService::start(
        &state,
        &["--collector", &collector.url(), "--root", arg(&azver_e2e::fixture_root(CASE)), "--target-os", "linux"],
    );
    eventually(Duration::from_secs(60), "a delivered report", || {
        service.stderr().contains("report delivered").then_some(())
    });
    service.stop("TERM", Duration::from_secs(20));
    let log = service.stderr();
    assert!(!log.contains('\u{1b}') && !log.contains("Some("), "{log}");
    assert!(log.lines().any(|l| l.contains("report delivered") && l.contains("status=compliant")), "{log}");
}

fn azver_core_baseline() -> String {
    let path = azver_e2e::repo_root().join("core/baseline.default.toml");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn flags_that_do_nothing_are_refused_and_help_tells_the_truth() {
    for args in [
        &["status", "--root", "/"][..],
        &["status", "--exec"],
        &["status", "--interval", "1h"],
        &["status", "--role", "server"],
        &["run", "--format", "json"],
    ] {
        let run = agent(args);
        run.expect_code(2);
        assert!(run.stderr.contains("unexpected argument"), "{}: {}", run.command, run.stderr);
    }
    let host = collector_cli(&["host", "x", "--db", "x.db", "--format", "csv"]);
    host.expect_code(2);
    assert!(host.stderr.contains("invalid value 'csv'"), "{}", host.stderr);
    let help = collector_cli(&["host", "--help"]).stdout;
    assert!(!help.contains("csv") && !help.contains("markdown"), "{help}");
    let help = collector_cli(&["hosts", "--help"]).stdout;
    assert!(help.contains("--revoked"), "{help}");
    // After a mistake, the usage line is the subcommand's own: the flags just typed are not
    // shown as if they were required.
    for (run, usage) in [
        (agent(&["scan", "--format", "json", "--bogus"]), "Usage: azver-agent scan [OPTIONS]\n"),
        (agent(&["check", "--role", "server", "--bogus"]), "Usage: azver-agent check [OPTIONS]\n"),
        (agent(&["config", "check", "--format", "json", "--bogus"]), "Usage: azver-agent config check [OPTIONS]\n"),
        (
            collector_cli(&["report", "--db", "x.db", "--format", "csv", "--bogus"]),
            "Usage: azver-collector report [OPTIONS] --db <PATH|URL>\n",
        ),
        (
            collector_cli(&["host", "x", "--db", "x.db", "--format", "json", "--bogus"]),
            "Usage: azver-collector host [OPTIONS] <ID|NAME>\n",
        ),
    ] {
        run.expect_code(2);
        assert!(run.stderr.contains("unexpected argument '--bogus'"), "{}: {}", run.command, run.stderr);
        assert!(run.stderr.contains(usage), "{}: {}", run.command, run.stderr);
    }
}

#[test]
fn json_times_are_rfc3339_and_markdown_omits_empty_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.db");
    collector_cli(&["secret", "create", "--db", arg(&db), "--expires", "30d"]).expect_code(0);
    collector_cli(&["token", "create", "--db", arg(&db)]).expect_code(0);
    for kind in ["secret", "token"] {
        let listed = collector_cli(&[kind, "list", "--db", arg(&db), "--format", "json"]).expect_code(0).json();
        let row = &listed[0];
        let created = row["created_at"].as_str().unwrap_or_else(|| panic!("{kind}: {row}"));
        assert!(created.len() == 20 && created.ends_with('Z'), "{created}");
    }
    let secret = collector_cli(&["secret", "list", "--db", arg(&db), "--format", "json"]).json();
    assert!(secret[0]["expires_at"].as_str().unwrap().ends_with('Z'), "{secret}");
    assert!(secret[0]["last_used_at"].is_null(), "{secret}");

    let markdown = collector_cli(&["report", "--db", arg(&db), "--format", "markdown"]).expect_code(0).stdout.clone();
    assert!(!markdown.contains("| product |"), "{markdown}");
    assert!(!markdown.contains("| hostname |"), "{markdown}");
    assert!(markdown.contains("No hosts."), "{markdown}");
}

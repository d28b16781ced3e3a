//! Several agents report to one collector; the fleet report says exactly what each one found.

use std::collections::BTreeMap;

use azver_e2e::{Collector, SimHost, parse_csv};
use serde_json::{Value, json};

/// The built-in baseline's minimum for a product.
fn minimum(product: &str) -> &'static str {
    match product {
        "azure-cli" => "2.76.0",
        "Az" => "14.3.0",
        "Az.Accounts" => "5.2.0",
        other => panic!("no baseline minimum for {other}"),
    }
}

/// Compares findings (collector JSON or agent JSON) with a fixture's `check.findings`.
#[track_caller]
fn check_findings(host: &str, actual: &Value, expected: &Value) {
    let actual = actual.as_array().expect("findings is an array");
    let expected = expected.as_array().expect("expected findings is an array");
    assert_eq!(actual.len(), expected.len(), "{host}: findings {actual:#?}");
    for (a, e) in actual.iter().zip(expected) {
        for key in ["kind", "product", "installed", "path", "source"] {
            assert_eq!(a[key], e[key], "{host}: finding {key} in {a:#?}");
        }
        let product = e["product"].as_str().expect("product");
        assert_eq!(a["required"], minimum(product), "{host}: required in {a:#?}");
        let hint = a["hint"].as_str().expect("hint is a string");
        let prefix = e["hint_starts_with"].as_str().expect("hint_starts_with");
        assert!(hint.starts_with(prefix), "{host}: hint {hint:?} should start with {prefix:?}");
    }
}

/// (fixture case, target OS, role) of the simulated fleet; host name = case.
const FLEET: &[(&str, &str, &str)] = &[
    ("empty", "linux", "server"),
    ("linux-debian-package", "linux", "server"),
    ("linux-microsoft-deb", "linux", "developer"),
    ("linux-powershell", "linux", "build-runner"),
    ("windows-msi", "windows", "developer"),
];

#[test]
fn agents_report_fixture_trees_and_the_fleet_report_shows_each_host() {
    let collector = Collector::start();
    let url = collector.url();
    let mut ids = BTreeMap::new();
    let mut sims = BTreeMap::new();
    for &(case, os, role) in FLEET {
        let expected = azver_e2e::fixture_expected(case);
        let host = SimHost::new(collector.dir(), case, case).os(os).with(&[
            "--role",
            role,
            "--label",
            &format!("case={case}"),
        ]);
        let run = host.report(&url);
        let exit = expected["check"]["exit"].as_i64().expect("check.exit") as i32;
        run.expect_code(exit);
        let verdict = run.json();
        assert_eq!(verdict["status"], expected["check"]["status"], "{case}: {verdict:#}");
        assert_eq!(verdict["duplicate"], false, "{case}");
        assert_eq!(verdict["sequence"], 1, "{case}");
        assert_eq!(verdict["host_id"], host.host_id(), "{case}");
        check_findings(case, &verdict["findings"], &expected["check"]["findings"]);
        ids.insert(case, host.host_id());
        sims.insert(case, host);
    }

    let report = collector.report_json(&[]);
    let hosts = report["hosts"].as_array().expect("hosts");
    let names: Vec<&str> = hosts.iter().map(|h| h["hostname"].as_str().expect("hostname")).collect();
    assert_eq!(names, FLEET.iter().map(|f| f.0).collect::<Vec<_>>(), "ordered by host name");
    for (host, &(case, _, role)) in hosts.iter().zip(FLEET) {
        let expected = azver_e2e::fixture_expected(case);
        assert_eq!(host["host_id"], ids[case], "{case}");
        assert_eq!(host["role"], role, "{case}");
        assert_eq!(host["labels"], json!({ "case": case }), "{case}");
        assert_eq!(host["status"], expected["check"]["status"], "{case}");
        assert_eq!(host["installations"], expected["installations"], "{case}: installations as the agent found them");
        assert_eq!(host["identities"], json!([]), "{case}");
        assert_eq!(host["scan_errors"], 0, "{case}");
        assert!(host.get("clock_skew_seconds").is_none(), "{case}: same clock, no skew");
        check_findings(case, &host["findings"], &expected["check"]["findings"]);
    }

    assert_eq!(report["summary"]["hosts"], 5);
    assert_eq!(
        report["summary"]["by_status"],
        json!({ "compliant": 2, "noncompliant": 2, "not-applicable": 1, "stale": 0 })
    );
    assert_eq!(
        report["summary"]["products"],
        json!({
            "Az": { "12.1.0": 1, "13.0.0": 1, "14.3.0": 1 },
            "Az.Accounts": { "3.0.0": 1, "4.0.0": 1, "5.2.0": 1, "5.3.0-preview": 1 },
            "azure-cli": { "2.45.0": 1, "2.68.0": 1, "2.75.0": 1, "2.76.0": 1 },
        })
    );
    assert_eq!(
        report["baseline"],
        json!({
            "Az": { "minimum": "14.3.0", "rule": "newest" },
            "Az.Accounts": { "minimum": "5.2.0", "rule": "newest" },
            "azure-cli": { "minimum": "2.76.0", "rule": "every" },
        })
    );

    // Filters select exactly the matching hosts and count only those.
    let hostnames = |extra: &[&str]| -> Vec<String> {
        let report = collector.report_json(extra);
        let names: Vec<String> =
            report["hosts"].as_array().expect("hosts").iter().map(|h| h["hostname"].as_str().unwrap().into()).collect();
        assert_eq!(report["summary"]["hosts"], names.len(), "{extra:?}");
        names
    };
    assert_eq!(hostnames(&["--status", "noncompliant"]), ["linux-debian-package", "windows-msi"]);
    assert_eq!(hostnames(&["--status", "not-applicable"]), ["empty"]);
    assert_eq!(hostnames(&["--product", "Az"]), ["linux-powershell"]);
    assert_eq!(hostnames(&["--role", "developer"]), ["linux-microsoft-deb", "windows-msi"]);
    assert_eq!(hostnames(&["--role", "server", "--status", "noncompliant"]), ["linux-debian-package"]);
    assert_eq!(hostnames(&["--status", "stale"]), Vec::<String>::new());

    // `hosts` lists the same hosts, with the same ids and statuses.
    let listed = collector.cli(&["hosts", "--format", "json"]).expect_code(0).json();
    let listed: Vec<(String, String, String)> = listed
        .as_array()
        .expect("hosts --format json is an array")
        .iter()
        .map(|h| {
            (h["hostname"].as_str().unwrap().into(), h["host_id"].as_str().unwrap().into(), h["status"].to_string())
        })
        .collect();
    let expected: Vec<(String, String, String)> = FLEET
        .iter()
        .map(|f| (f.0.into(), ids[f.0].clone(), azver_e2e::fixture_expected(f.0)["check"]["status"].to_string()))
        .collect();
    assert_eq!(listed, expected);
    // ... with each host's OS family and labels, what an inventory script filters on.
    let listed = collector.cli(&["hosts", "--format", "json"]).expect_code(0).json();
    for (host, &(case, os, _)) in listed.as_array().expect("hosts array").iter().zip(FLEET) {
        assert_eq!(host["os_family"], os, "{case}: {host:#}");
        assert_eq!(host["labels"], json!({ "case": case }), "{case}: {host:#}");
    }

    // A second report of an unchanged host is a new report (not a duplicate) with the next sequence.
    let verdict = sims["linux-microsoft-deb"].report(&url).expect_code(0).json();
    assert_eq!((verdict["sequence"].clone(), verdict["duplicate"].clone()), (json!(2), json!(false)));
    assert_eq!(collector.report_json(&[])["summary"]["hosts"], 5, "the same host id is still one host");
}

#[test]
fn an_unreachable_collector_is_exit_2_and_an_oversized_report_is_cut_to_fit() {
    // A port that was free a moment ago and has nobody listening now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let host = SimHost::new(dir.path(), "linux-microsoft-deb", "lonely");
    let run = host.report(&format!("http://127.0.0.1:{port}"));
    run.expect_code(2);
    assert!(run.stdout.is_empty(), "nothing on stdout when nothing was accepted: {}", run.stdout);
    assert!(
        run.stderr.contains(&format!("collector http://127.0.0.1:{port} is unreachable")),
        "stderr: {}",
        run.stderr
    );

    // The agent fits a report to the collector's limits before sending it (issue 15: a user
    // cannot hide the host with an oversized report): a 256-byte name arrives cut to 255.
    let collector = Collector::start();
    let long_name = "h".repeat(256);
    let run = SimHost::new(dir.path(), "linux-microsoft-deb", &long_name).report(&collector.url());
    assert_eq!(run.expect_code(0).json()["status"], "compliant");
    let report = collector.report_json(&[]);
    assert_eq!(report["summary"]["hosts"], 1);
    let stored = report["hosts"][0]["hostname"].as_str().unwrap_or_default();
    assert!(
        (1..=255).contains(&stored.len()) && stored.chars().all(|c| c == 'h'),
        "cut within the collector's 255 bytes: {stored:?}"
    );
}

#[test]
fn hostile_host_names_are_stored_as_sent_and_escaped_where_rendered() {
    let collector = Collector::start();
    let script = "<script>alert(1)</script>";
    let host = SimHost::new(collector.dir(), "linux-debian-package", script);
    host.report(&collector.url()).expect_code(1);

    let report = collector.report_json(&[]);
    assert_eq!(report["hosts"][0]["hostname"], script);
    let detail = collector.cli(&["host", script, "--format", "json"]).expect_code(0).json();
    assert_eq!(detail[0]["hostname"], script, "found by its exact name");
    assert_eq!(detail[0]["host_id"], host.host_id());

    let markdown = collector.cli(&["report", "--format", "markdown"]).expect_code(0).stdout.clone();
    assert!(!markdown.contains("<script>"), "markdown must not carry live HTML:\n{markdown}");
    let row = format!("| &lt;script&gt;alert(1)&lt;/script&gt; | {} | - | noncompliant |", host.host_id());
    assert!(markdown.contains(&row), "markdown row {row:?} missing:\n{markdown}");
}

#[test]
fn csv_is_excel_ready_and_cannot_carry_formulas() {
    let collector = Collector::start();
    let url = collector.url();
    let formula = SimHost::new(collector.dir(), "linux-debian-package", "=HYPERLINK(\"http://x\",\"y\")").with(&[
        "--role",
        "server",
        "--label",
        "team=-ops",
    ]);
    formula.report(&url).expect_code(1);
    let plain = SimHost::new(collector.dir(), "linux-microsoft-deb", "plain-01");
    plain.report(&url).expect_code(0);
    let empty = SimHost::new(collector.dir(), "empty", "zz-empty");
    empty.report(&url).expect_code(0);

    let run = collector.cli(&["report", "--format", "csv"]);
    run.expect_code(0);
    let bytes = &run.bytes;
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark for Excel");
    let text = std::str::from_utf8(&bytes[3..]).expect("CSV is UTF-8");
    assert!(text.ends_with("\r\n"), "records end with CRLF");
    assert_eq!(text.matches('\n').count(), text.matches("\r\n").count(), "no bare LF line ends");

    let rows = parse_csv(text);
    assert_eq!(
        rows[0],
        [
            "hostname",
            "host_id",
            "role",
            "status",
            "last_seen",
            "findings",
            "upgrade_hints",
            "installations",
            "identities",
            "labels",
            "revoked_at"
        ]
    );
    assert_eq!(rows.len(), 4, "header plus one row per host: {rows:#?}");
    let summary: Vec<[&str; 4]> =
        rows[1..].iter().map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str()]).collect();
    let (formula_id, plain_id, empty_id) = (formula.host_id(), plain.host_id(), empty.host_id());
    assert_eq!(
        summary,
        [
            ["'=HYPERLINK(\"http://x\",\"y\")", formula_id.as_str(), "server", "noncompliant"],
            ["plain-01", plain_id.as_str(), "", "compliant"],
            ["zz-empty", empty_id.as_str(), "", "not-applicable"],
        ]
    );
    // The finding's wording is for people; what it must name is the product, both versions and the path.
    let finding = &rows[1][5];
    for part in ["azure-cli 2.45.0", "2.76.0", "/usr/lib/python3/dist-packages"] {
        assert!(finding.contains(part), "finding cell {finding:?} should name {part:?}");
    }
    assert!(!finding.contains("; "), "one finding: {finding:?}");
    assert!(rows[1][6].starts_with("the distribution's azure-cli package is older than 2.76.0"), "{}", rows[1][6]);
    assert_eq!(rows[1][7], "azure-cli 2.45.0");
    assert_eq!(rows[1][9], "team=-ops", "a label inside the cell does not start it");
    assert_eq!(rows[2][5..8], ["", "", "azure-cli 2.76.0"]);
    assert!(rows.iter().all(|r| r.len() == 11), "every row has every column");
}

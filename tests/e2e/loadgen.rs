//! The load generator's mixed mode (issue 17) against a real collector: it reports over gRPC
//! while it scrapes `/metrics` and browses the dashboard, the API and host pages, and says
//! clearly when `--http` does not lead to the collector's HTTP side.
#![allow(clippy::unwrap_used)]

use azver_e2e::{Collector, Run, bin, free_port, run};
use serde_json::Value;

/// Every kind of read the mixed mode makes, as named in the summary.
const READS: [&str; 10] = [
    "metrics",
    "dashboard",
    "dashboard_page",
    "dashboard_filtered",
    "api_hosts",
    "api_hosts_filtered",
    "api_hosts_search",
    "api_hosts_next",
    "api_host",
    "host_page",
];

fn loadgen(args: &[&str]) -> Run {
    run(&bin("azver-loadgen"), args)
}

/// The JSON summary: the last line of stdout.
fn summary(run: &Run) -> Value {
    let line = run.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the last line is not JSON ({e})\n{}\n{}", run.stdout, run.stderr))
}

#[test]
fn mixed_mode_reports_while_it_scrapes_and_browses_every_kind_of_page() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0"]);
    let pid = collector.pid().to_string();
    let run = loadgen(&[
        "--collector",
        &collector.url(),
        "--http",
        collector.http_address(),
        "--hosts",
        "300",
        "--register",
        "--duration",
        "4s",
        "--rate",
        "300",
        "--concurrency",
        "8",
        "--browse-rate",
        "30",
        "--scrape-every",
        "1s",
        "--collector-pid",
        &pid,
    ]);
    run.expect_code(0);
    let summary = summary(&run);
    assert_eq!(summary["errors"], 0, "{summary}");
    assert!(summary["reports"].as_u64().unwrap() > 100, "{summary}");
    assert!(summary["registered_per_sec"].as_f64().unwrap() > 0.0, "{summary}");
    assert!(summary["collector_peak_rss_mib"].as_f64().unwrap() > 1.0, "{summary}");
    let reads = summary["reads"].as_object().unwrap();
    let mut kinds: Vec<&str> = reads.keys().map(String::as_str).collect();
    kinds.sort_unstable();
    let mut expected = READS.to_vec();
    expected.sort_unstable();
    assert_eq!(kinds, expected, "{summary}");
    for kind in READS {
        let read = &reads[kind];
        assert_eq!(read["errors"], 0, "{kind}: {read}");
        assert!(read["count"].as_u64().unwrap() > 0, "{kind}: {read}");
        assert!(read["bytes"].as_u64().unwrap() > 0, "{kind}: {read}");
        assert!(read["max_ms"].as_f64().unwrap() >= read["p50_ms"].as_f64().unwrap(), "{kind}: {read}");
        assert!(read["missed"].is_u64(), "{kind}: {read}");
    }
    // Scrapes are due at 0, 1, 2 and 3 s of a 4 s run.
    assert_eq!(reads["metrics"]["count"], 4, "{summary}");
    // The people line of each kind goes to stderr.
    assert!(run.stderr.contains("host_page: "), "{}", run.stderr);
}

#[test]
fn a_wrong_http_address_is_a_clear_error_before_any_load() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0"]);
    let url = collector.url();
    let common = ["--collector", &url, "--hosts", "10", "--duration", "2s", "--register"];
    let nothing = format!("127.0.0.1:{}", free_port());
    // Nothing listens there, and the gRPC port is not the HTTP side either.
    for address in [nothing.as_str(), collector.address()] {
        let run = loadgen(&[&common[..], &["--http", address]].concat());
        run.expect_code(1);
        assert!(
            run.stderr.contains(&format!("cannot reach the collector's HTTP side at http://{address}"))
                && run.stderr.contains("not the gRPC one"),
            "{address}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "no summary, no load: {}", run.stdout);
    }
    let run = loadgen(&[&common[..], &["--http", "10.0.0.1:8080"]].concat());
    run.expect_code(2);
    assert!(run.stderr.contains("--http: 10.0.0.1 is not a loopback address"), "{}", run.stderr);
    let run = loadgen(&[&common[..], &["--http", collector.http_address(), "--reads", "dashboard,nope"]].concat());
    run.expect_code(2);
    assert!(run.stderr.contains("--reads: unknown read \"nope\""), "{}", run.stderr);
    // Nothing was registered by the refused runs.
    let hosts = collector.cli(&["hosts", "--format", "json"]).expect_code(0).json();
    assert_eq!(hosts.as_array().map(Vec::len), Some(0), "{hosts}");
}

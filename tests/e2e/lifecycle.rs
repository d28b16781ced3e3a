//! The server process: SIGTERM and SIGINT stop it cleanly.

use std::time::Duration;

use azver_e2e::{Collector, SimHost};

/// Generous: the collector drains for at most 5 s; this is not a timing test.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

fn stops_cleanly_on(signal: &str) {
    let mut collector = Collector::start();
    // Serve one report first, so the signal reaches a collector with an open database.
    SimHost::new(collector.dir(), "linux-microsoft-deb", "before-shutdown").report(&collector.url()).expect_code(0);
    collector.signal(signal);
    let status = collector.wait_exit(EXIT_LIMIT);
    let status = status.unwrap_or_else(|| panic!("still running {EXIT_LIMIT:?} after SIG{signal}"));
    assert_eq!(status.code(), Some(0), "exit after SIG{signal}; stderr:\n{}", collector.stderr());
    assert!(collector.stderr().contains("shutting down"), "stderr:\n{}", collector.stderr());
    // The report stored before the signal survives the shutdown.
    assert_eq!(collector.report_json(&[])["hosts"][0]["hostname"], "before-shutdown");
}

#[test]
fn sigterm_exits_0() {
    stops_cleanly_on("TERM");
}

#[test]
fn sigint_exits_0() {
    stops_cleanly_on("INT");
}

#[test]
fn serve_refuses_a_bad_config_and_a_bad_baseline_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, "stale_afer = \"1d\"\n").unwrap();
    let db = dir.path().join("azver.db");
    let (config, db) = (azver_e2e::arg(&config), azver_e2e::arg(&db));
    let run = azver_e2e::collector_cli(&["serve", "--listen", "127.0.0.1:0", "--db", db, "--config", config]);
    run.expect_code(2);
    assert!(run.stderr.contains("unknown field `stale_afer`"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "no `listening on` line: {}", run.stdout);

    let baseline = dir.path().join("baseline.toml");
    std::fs::write(&baseline, "[products.\"azure-cli\"]\nminimum = \"two\"\nrule = \"every\"\n").unwrap();
    let run = azver_e2e::collector_cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db,
        "--baseline",
        azver_e2e::arg(&baseline),
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("baseline minimum for \"azure-cli\" is not a version"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "no `listening on` line for a server that will not run: {}", run.stdout);
}

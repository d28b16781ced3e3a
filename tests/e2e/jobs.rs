//! Scheduled jobs that sign in as a user, across the wire: agents scan the job fixtures
//! (`agent/testdata/jobs-*`: cron, systemd, Task Scheduler, launchd, Jenkins, and their scripts)
//! and report to a real collector, which shows the jobs in every report format, the dashboard,
//! the host page and `/metrics`. The sentinel password planted in every fixture (command lines,
//! scripts, variable assignments) must appear in no output, log, spool file or database file.

use std::path::Path;
use std::time::Duration;

use azver_e2e::{AgentService, SimHost, arg, eventually, fixture_root, free_port, spool_files};
use serde_json::Value;

use crate::http::HttpCollector;

/// See `agent/testdata/jobs-linux/README.md`.
const SENTINEL: &str = "AZVER-SENTINEL-jobs-5d2e-never-leak";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every file of the SQLite database (recent pages sit in `-wal` until a checkpoint).
fn database_files(db: &Path) -> Vec<(String, Vec<u8>)> {
    let name = db.file_name().expect("a file name").to_string_lossy().into_owned();
    std::fs::read_dir(db.parent().expect("a folder"))
        .expect("list the database folder")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&name)))
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("read a database file")))
        .collect()
}

#[test]
fn jobs_that_sign_in_as_a_user_reach_every_view_and_no_password_is_kept() {
    let collector = HttpCollector::start();
    let url = collector.grpc_url();
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut ids = Vec::new();
    for (case, os, name) in [
        ("jobs-linux", "linux", "jobs-linux-01"),
        ("jobs-windows", "windows", "JOBS-WIN-01"),
        ("jobs-macos", "macos", "jobs-mac-01"),
    ] {
        let host = SimHost::new(collector.dir.path(), case, name).os(os);
        let run = host.report(&url);
        // Each fixture host has a job that signs in with a user's password: noncompliant.
        run.expect_code(1);
        let verdict = run.json();
        assert_eq!(verdict["status"], "noncompliant", "{case}: {verdict}");
        let kinds: Vec<&str> =
            verdict["findings"].as_array().unwrap().iter().filter_map(|f| f["kind"].as_str()).collect();
        assert!(kinds.contains(&"user-password-sign-in"), "{case}: {kinds:?}");
        let job =
            verdict["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "user-password-sign-in").unwrap();
        assert!(job["job"].as_str().is_some_and(|j| j.contains(':')), "{case}: {job}");
        assert!(job["command"].as_str().is_some_and(|c| c.contains("***")), "{case}: {job}");
        outputs.push((format!("{case} stdout"), run.stdout.clone()));
        outputs.push((format!("{case} stderr"), run.stderr.clone()));
        ids.push((case, host.host_id()));
    }
    // A host without any job: the finding filter below must leave it out.
    SimHost::new(collector.dir.path(), "linux-microsoft-deb", "plain-linux-01").report(&url).expect_code(0);

    // Every report format names the job, its file and line, and the redacted command.
    let db = collector.db();
    let cli = |format: &str| {
        let run = azver_e2e::collector_cli(&["report", "--format", format, "--db", arg(&db)]);
        assert_eq!(run.code, 0, "report --format {format}: {}", run.stderr);
        run.stdout
    };
    let json: Value = serde_json::from_str(&cli("json")).expect("the JSON report parses");
    let linux = json["hosts"].as_array().unwrap().iter().find(|h| h["hostname"] == "jobs-linux-01").unwrap();
    let backup = linux["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["job"] == "cron:/etc/cron.d/nightly-backup")
        .unwrap_or_else(|| panic!("no nightly-backup finding: {}", linux["findings"]));
    assert_eq!(
        (&backup["kind"], &backup["severity"], &backup["path"], &backup["line"], &backup["run_as"]),
        (
            &Value::from("user-password-sign-in"),
            &Value::from("high"),
            &Value::from("/opt/jobs/nightly-backup.sh"),
            &Value::from(7),
            &Value::from("backup")
        )
    );
    assert_eq!(backup["command"], "az login --username \"$AZ_USER\" --password *** --output none");
    assert!(!linux["job_sign_ins"].as_array().unwrap().is_empty());
    let wanted =
        "/opt/jobs/nightly-backup.sh:7 (runs as backup): az login --username \"$AZ_USER\" --password *** --output none";
    for format in ["table", "csv", "markdown"] {
        let text = cli(format);
        assert!(
            text.contains("job cron:/etc/cron.d/nightly-backup signs in to azure-cli with a user's password"),
            "{format}:\n{text}"
        );
        // CSV doubles quotes; Markdown escapes emphasis characters (`\*\*\*`, `\_`).
        let markdown = wanted.replace('*', "\\*").replace('_', "\\_");
        assert!(
            text.contains(wanted) || text.contains(&wanted.replace('"', "\"\"")) || text.contains(&markdown),
            "{format}:\n{text}"
        );
        outputs.push((format!("report --format {format}"), text));
    }
    outputs.push(("report --format json".into(), json.to_string()));

    // The dashboard's section, the host page, the CSV download and /metrics.
    let dashboard = collector.get("/").text();
    // Its own section, bounded, with host, job, file:line, run-as, redacted command and fix.
    let section = dashboard
        .split_once("<section id=\"password-jobs\"><h2>Jobs that sign in as a user</h2>")
        .and_then(|(_, rest)| rest.split_once("</section>"))
        .map(|(section, _)| section.to_owned())
        .unwrap_or_else(|| panic!("no section of password jobs in\n{dashboard}"));
    assert!(section.contains("<code>task:\\Ops\\Rotate</code>"), "the Windows task is listed: {section}");
    assert!(section.contains("<code>/opt/jobs/nightly-backup.sh:7</code>"), "file:line is listed: {section}");
    assert!(section.contains("<td>backup</td>"), "run-as is listed: {section}");
    assert!(section.contains("az login --username &quot;$AZ_USER&quot; --password *** --output none"));
    assert!(section.contains("managed identity"), "the fix is listed: {section}");
    assert!(section.contains("jobs-linux-01</a>"), "the host is linked: {section}");
    assert!(!section.contains("plaintext"), "only user-password sign-ins: {section}");
    assert!(section.contains("href=\"/?finding=user-password-sign-in\""), "{section}");
    // The link lists every host with such a job, and only those; the API filters the same way.
    let with_jobs: Vec<String> = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "user-password-sign-in"))
        .map(|h| h["host_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!with_jobs.is_empty() && with_jobs.len() < json["hosts"].as_array().unwrap().len());
    let api: Value =
        serde_json::from_str(&collector.get("/api/v1/hosts?finding=user-password-sign-in").text()).unwrap();
    let mut listed: Vec<String> =
        api["hosts"].as_array().unwrap().iter().map(|h| h["host_id"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    let mut want = with_jobs.clone();
    want.sort();
    assert_eq!((listed, api["total"].as_u64()), (want, Some(with_jobs.len() as u64)), "{api}");
    let filtered = collector.get("/?finding=user-password-sign-in").text();
    assert_eq!(filtered.matches("<tr class=\"host\"").count(), with_jobs.len(), "{filtered}");
    assert!(filtered.contains("<option value=\"user-password-sign-in\" selected>"), "{filtered}");
    let bad = collector.get("/api/v1/hosts?finding=passwords");
    assert_eq!(bad.status, 400, "an unknown finding kind is refused");
    assert!(bad.text().contains("is not one of below-baseline"), "{}", bad.text());
    let (_, linux_id) = ids.iter().find(|(c, _)| *c == "jobs-linux").unwrap();
    let host_page = collector.get(&format!("/hosts/{linux_id}")).text();
    assert!(host_page.contains("Scheduled jobs that sign in"), "{host_page}");
    assert!(host_page.contains("systemd:actions.runner.contoso-web.build01.service"), "the revealing service is shown");
    let csv = collector.get("/api/v1/report.csv").text();
    assert!(csv.contains("cron:/etc/cron.d/nightly-backup"), "{csv}");
    let metrics = collector.get("/metrics").text();
    let count = |kind: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("azver_findings{{kind=\"{kind}\"}} ")))
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("no {kind} count in\n{metrics}"))
    };
    let expected_user: i64 = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["findings"].as_array().unwrap())
        .filter(|f| f["kind"] == "user-password-sign-in")
        .count()
        .try_into()
        .unwrap();
    assert!(expected_user >= 10, "{expected_user}");
    assert_eq!(count("user-password-sign-in"), expected_user);
    assert!(count("plaintext-secret-in-job") >= 3);
    for (what, text) in [("dashboard", dashboard), ("host page", host_page), ("csv", csv), ("metrics", metrics)] {
        outputs.push((what.into(), text));
    }

    // The planted password is nowhere: not printed, not logged, not stored.
    outputs.push((
        "collector log".into(),
        std::fs::read_to_string(collector.dir.path().join("collector.stderr")).unwrap_or_default(),
    ));
    for (what, text) in &outputs {
        assert!(!text.contains(SENTINEL), "the {what} holds the planted password");
    }
    let files = database_files(&db);
    assert!(!files.is_empty());
    for (path, bytes) in &files {
        assert!(!contains(bytes, SENTINEL), "{path} holds the planted password");
    }
    // The check above can fail: the database holds the redacted commands the agents sent.
    assert!(files.iter().any(|(_, b)| contains(b, "--password *** --output none")), "job sign-ins not stored");
}

#[test]
fn no_planted_password_reaches_the_spool_the_state_dir_or_the_service_log() {
    // The collector is down: every report stays in the spool, which must hold no password.
    let dir = tempfile::tempdir().expect("create a temp dir");
    let state = dir.path().join("state");
    let root = fixture_root("jobs-linux");
    let url = format!("http://127.0.0.1:{}", free_port());
    let mut agent = AgentService::start(
        &state,
        &[
            "--collector",
            &url,
            "--interval",
            "1s",
            "--max-backoff",
            "1s",
            "--root",
            arg(&root),
            "--target-os",
            "linux",
            "--hostname",
            "job-spooler",
            "-vv",
        ],
    );
    eventually(Duration::from_secs(60), "two reports in the spool", || (spool_files(&state).len() >= 2).then_some(()));
    agent.stop("TERM", Duration::from_secs(10));
    let mut seen = 0;
    for entry in std::fs::read_dir(&state)
        .expect("list the state dir")
        .chain(std::fs::read_dir(state.join("spool")).into_iter().flatten())
    {
        let path = entry.expect("a folder entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read a state file");
            assert!(!contains(&bytes, SENTINEL), "{} holds the planted password", path.display());
            seen += usize::from(contains(&bytes, "cron:/etc/cron.d/nightly-backup"));
        }
    }
    // The check above can fail: the spooled reports do carry the job sign-ins.
    assert!(seen >= 2, "the spool holds no job sign-ins");
    assert!(!agent.stderr().contains(SENTINEL), "the agent's log holds the planted password");
}

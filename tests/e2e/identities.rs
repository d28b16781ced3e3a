//! Sign-in posture across the wire: an agent reports `agent/testdata/identities-linux` (a dev box
//! with a compliant Azure CLI, every kind of sign-in, and secrets beside and inside the profiles)
//! to a real collector, which judges a user sign-in by the host's role and never stores a secret.

use std::path::Path;

use std::time::Duration;

use azver_e2e::{AgentService, Collector, SimHost, arg, eventually, fixture_root, free_port, spool_files};
use serde_json::Value;

/// The fixtures' stand-in for secrets (see `agent/testdata/identities-linux/README.md`).
const SENTINEL: &str = "AZVER-SENTINEL-9c41e7-never-leak";

fn host<'a>(report: &'a Value, hostname: &str) -> &'a Value {
    report["hosts"]
        .as_array()
        .expect("hosts is an array")
        .iter()
        .find(|h| h["hostname"] == hostname)
        .unwrap_or_else(|| panic!("{hostname} is not in the report: {report}"))
}

/// (kind, severity, product, path, account_type) of each finding of a host.
fn findings(host: &Value) -> Vec<(String, String, String, String, String)> {
    host["findings"]
        .as_array()
        .expect("findings is an array")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("-").to_owned();
            (s("kind"), s("severity"), s("product"), s("path"), s("account_type"))
        })
        .collect()
}

fn user(kind: &str, severity: &str, product: &str, path: &str) -> (String, String, String, String, String) {
    (kind.into(), severity.into(), product.into(), path.into(), "user".into())
}

/// Every file of the database (SQLite keeps recent pages in `-wal` until a checkpoint).
fn database_bytes(db: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = db.parent().expect("the database has a folder");
    let name = db.file_name().expect("the database has a name").to_string_lossy().into_owned();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("list the database folder")
        .map(|e| e.expect("read a folder entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&name)))
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("read a database file")))
        .collect();
    files.sort();
    files
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_user_sign_in_makes_a_build_runner_noncompliant_and_a_developer_box_only_noted() {
    let collector = Collector::start();
    let url = collector.url();
    let runner = SimHost::new(collector.dir(), "identities-linux", "runner-07").with(&["--role", "build-runner"]);
    let verdict = runner.report(&url);
    verdict.expect_code(1);
    let verdict = verdict.json();
    assert_eq!(verdict["status"], "noncompliant", "{verdict}");
    let developer = SimHost::new(collector.dir(), "identities-linux", "dev-07").with(&["--role", "developer"]);
    let dev_verdict = developer.report(&url);
    dev_verdict.expect_code(0);
    assert_eq!(dev_verdict.json()["status"], "compliant");

    let report = collector.report_json(&[]);
    let alice_az = "/home/alice/.Azure/AzureRmContext.json";
    let alice_cli = "/home/alice/.azure/azureProfile.json";
    let runner = host(&report, "runner-07");
    assert_eq!((&runner["status"], &runner["role"]), (&Value::from("noncompliant"), &Value::from("build-runner")));
    assert_eq!(
        findings(runner),
        [
            user("human-identity-on-build-runner", "high", "Az", alice_az),
            user("human-identity-on-build-runner", "high", "azure-cli", alice_cli),
        ]
    );
    let hint = runner["findings"][1]["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("az login --service-principal"), "{hint}");

    // The same disk on a developer box: compliant (its CLI meets the baseline), a note only.
    let dev = host(&report, "dev-07");
    assert_eq!((&dev["status"], &dev["role"]), (&Value::from("compliant"), &Value::from("developer")));
    assert_eq!(
        findings(dev),
        [user("human-identity", "info", "Az", alice_az), user("human-identity", "info", "azure-cli", alice_cli)]
    );
    assert_eq!(report["summary"]["by_status"]["noncompliant"], 1, "{}", report["summary"]);
    assert_eq!(report["summary"]["by_status"]["compliant"], 1, "{}", report["summary"]);

    // Identities arrive with type, tenant and cloud but no names (not allowed by default).
    let identities = dev["identities"].as_array().expect("identities is an array");
    assert_eq!(identities.len(), 12, "{}", dev["identities"]);
    assert!(identities.iter().all(|i| i.get("account_name").is_none()), "{}", dev["identities"]);

    // No secret anywhere: not in what the agents printed, not in the report, not in the database.
    for (what, text) in
        [("runner verdict", verdict.to_string()), ("report", report.to_string()), ("collector log", collector.stderr())]
    {
        assert!(!text.contains(SENTINEL), "the {what} holds a secret");
    }
    let files = database_bytes(collector.db());
    assert!(!files.is_empty(), "no database file at {}", collector.db().display());
    for (path, bytes) in &files {
        assert!(!contains(bytes, SENTINEL), "{path} holds a secret");
    }
    // The check above can fail: the database does hold what the agents sent.
    assert!(files.iter().any(|(_, b)| contains(b, "/home/alice/.azure/azureProfile.json")), "identities not stored");
}

#[test]
fn the_collectors_baseline_decides_whether_a_runner_sign_in_counts() {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let file = dir.path().join("baseline.toml");
    std::fs::write(
        &file,
        "[products.\"azure-cli\"]\nminimum = \"2.76.0\"\nrule = \"every\"\n\n\
         [findings]\n\"human-identity-on-build-runner\" = \"info\"\n",
    )
    .expect("write the baseline");
    let collector = Collector::start();
    let runner = SimHost::new(collector.dir(), "identities-linux", "runner-08").with(&["--role", "build-runner"]);
    runner.report(&collector.url()).expect_code(1);
    let strict = collector.report_json(&[]);
    assert_eq!(host(&strict, "runner-08")["status"], "noncompliant");
    let lenient = collector.report_json(&["--baseline", azver_e2e::arg(&file)]);
    let runner = host(&lenient, "runner-08");
    assert_eq!(runner["status"], "compliant", "{runner}");
    assert_eq!(
        findings(runner),
        [
            user("human-identity-on-build-runner", "info", "Az", "/home/alice/.Azure/AzureRmContext.json"),
            user("human-identity-on-build-runner", "info", "azure-cli", "/home/alice/.azure/azureProfile.json"),
        ]
    );
}

#[test]
fn no_secret_reaches_the_spool_the_state_dir_or_the_service_log() {
    // The collector is down: every report stays in the spool, which must hold no secret either.
    let dir = tempfile::tempdir().expect("create a temp dir");
    let state = dir.path().join("state");
    let root = fixture_root("identities-linux");
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
            "--role",
            "build-runner",
            "--hostname",
            "spooler",
        ],
    );
    eventually(Duration::from_secs(60), "two reports in the spool", || (spool_files(&state).len() >= 2).then_some(()));
    agent.stop("TERM", Duration::from_secs(10));
    let mut seen = 0;
    for entry in std::fs::read_dir(&state)
        .expect("list the state dir")
        .chain(std::fs::read_dir(state.join("spool")).into_iter().flatten())
    {
        let path = entry.expect("read a folder entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read a state file");
            assert!(!contains(&bytes, SENTINEL), "{} holds a secret", path.display());
            seen += usize::from(contains(&bytes, "/home/alice/.azure/azureProfile.json"));
        }
    }
    // The check above can fail: the spooled reports do carry the identities found.
    assert!(seen >= 2, "the spool holds no identities");
    assert!(!agent.stderr().contains(SENTINEL), "the agent's log holds a secret");
}

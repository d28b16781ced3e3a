//! Scheduled jobs that sign in to Azure: fixture hosts under `agent/testdata/jobs-*/root` (cron,
//! systemd, Task Scheduler, launchd, Jenkins, and the scripts they run; see each README.md),
//! expectations in `jobs-*/expected.json`. A sentinel password is planted in every fixture; no
//! output of any command, at any log level, may contain it.

use serde_json::Value;

use crate::common::{agent_with, json, testdata};

/// Planted in every fixture: in commands, scripts and variable assignments.
const SENTINEL: &str = "AZVER-SENTINEL-jobs-5d2e-never-leak";

const CASES: &[(&str, &str)] = &[("jobs-linux", "linux"), ("jobs-windows", "windows"), ("jobs-macos", "macos")];

fn root(case: &str) -> String {
    testdata(case).join("root").to_str().unwrap().to_owned()
}

fn run(args: &[&str]) -> crate::common::Run {
    agent_with(args, |c| {
        c.env_remove("AZVER_ROLE").env_remove("AZVER_REPORT_ACCOUNT_NAMES");
    })
}

fn expected(case: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(testdata(case).join("expected.json")).unwrap()).unwrap()
}

/// Every source and syntax variant finds exactly the expected sign-ins (and nothing in the
/// traps), with the role the runner services reveal.
#[test]
fn each_fixture_host_reports_exactly_its_job_sign_ins() {
    for (case, os) in CASES {
        let root = root(case);
        let scan = run(&["scan", "--root", &root, "--target-os", os, "--format", "json"]);
        assert_eq!(scan.code, 0, "{case}: {scan:?}");
        let got = json(&scan);
        let want = expected(case);
        assert_eq!(
            got["job_sign_ins"],
            want["job_sign_ins"],
            "{case}: job sign-ins differ\n got: {}",
            serde_json::to_string_pretty(&got["job_sign_ins"]).unwrap()
        );
        for key in ["role", "ci_system", "ci_service", "ci_service_path"] {
            assert_eq!(got["host"][key], want["host"][key], "{case}: host.{key}");
        }
        assert_eq!(got["errors"], want["errors"], "{case}: errors");
        for trap in want["silent"].as_array().unwrap() {
            let trap = trap.as_str().unwrap();
            let hits: Vec<&Value> = got["job_sign_ins"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|j| j["path"].as_str().unwrap().contains(trap) || j["job"].as_str().unwrap().contains(trap))
                .collect();
            assert!(hits.is_empty(), "{case}: trap {trap} reported: {hits:?}");
        }
    }
}

/// `check` fails the host (exit 1) and names each job, file:line, account and redacted command.
#[test]
fn check_names_the_jobs_that_will_break() {
    let root = root("jobs-linux");
    let text = run(&["check", "--root", &root, "--target-os", "linux"]);
    assert_eq!(text.code, 1, "{text:?}");
    assert!(text.stdout.contains("NONCOMPLIANT"), "{}", text.stdout);
    assert!(
        text.stdout.contains("job cron:/etc/cron.d/nightly-backup signs in to azure-cli with a user's password: /opt/jobs/nightly-backup.sh:7 (runs as backup)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("command: az login --username \"$AZ_USER\" --password *** --output none"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("fix: move this job to a managed identity"), "{}", text.stdout);
    let json_run = run(&["check", "--root", &root, "--target-os", "linux", "--format", "json"]);
    assert_eq!(json_run.code, 1);
    let findings = json(&json_run)["findings"].as_array().unwrap().clone();
    let job = findings
        .iter()
        .find(|f| f["kind"] == "user-password-sign-in" && f["job"] == "systemd:report.service")
        .unwrap_or_else(|| panic!("no report.service finding in {findings:?}"));
    assert_eq!(job["severity"], "high");
    assert_eq!(job["line"], 9);
    assert_eq!(job["run_as"], "reports");
    assert_eq!(job["command"], "/usr/bin/az login -u *** -p ***");
    let secret = findings.iter().find(|f| f["kind"] == "plaintext-secret-in-job").expect("a plaintext secret finding");
    assert_eq!(secret["severity"], "medium");
    // The baseline's [findings] table turns job findings off; only the installations count then.
    let tmp = tempfile::tempdir().unwrap();
    let baseline = tmp.path().join("baseline.toml");
    std::fs::write(
        &baseline,
        "[products.\"azure-cli\"]\nminimum = \"2.76.0\"\nrule = \"every\"\n\n[findings]\n\"user-password-sign-in\" = \"off\"\n\"plaintext-secret-in-job\" = \"off\"\n",
    )
    .unwrap();
    let off = run(&[
        "check",
        "--root",
        &root,
        "--target-os",
        "linux",
        "--format",
        "json",
        "--baseline",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(off.code, 0, "{off:?}");
    assert_eq!(json(&off)["findings"], serde_json::json!([]));
}

/// The sentinel appears in the fixtures (so the test means something) and in no output.
#[test]
fn no_output_contains_a_planted_password() {
    for (case, os) in CASES {
        let root = root(case);
        let planted = std::process::Command::new("grep").args(["-rlaF", SENTINEL, &root]).output().unwrap();
        assert!(String::from_utf8_lossy(&planted.stdout).lines().count() >= 3, "{case}: sentinel not planted");
        for extra in [
            &["scan", "--format", "json"][..],
            &["scan"],
            &["scan", "--format", "json", "--report-account-names"],
            &["check"],
            &["check", "--format", "json", "--report-account-names"],
        ] {
            let mut args = extra.to_vec();
            args.extend(["--root", &root, "--target-os", os]);
            for log in [None, Some("trace")] {
                let run = agent_with(&args, |c| {
                    c.env_remove("AZVER_ROLE").env_remove("AZVER_REPORT_ACCOUNT_NAMES");
                    if let Some(level) = log {
                        c.env("AZVER_LOG", level);
                    }
                });
                assert!(run.code == 0 || run.code == 1, "{args:?}: {run:?}");
                assert!(!run.stdout.is_empty());
                assert!(!run.stdout.contains(SENTINEL), "{args:?} printed a secret on stdout:\n{}", run.stdout);
                assert!(!run.stderr.contains(SENTINEL), "{args:?} printed a secret on stderr:\n{}", run.stderr);
            }
        }
    }
}

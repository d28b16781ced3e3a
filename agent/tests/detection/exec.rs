//! `--exec`: the one opt-in that starts a process, `az version -o json`, to confirm the files.

use serde_json::Value;

use crate::common::{agent, agent_with, json};

fn exec_errors(scan: &Value) -> Vec<String> {
    scan["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "exec-failed")
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn exec_confirms_the_on_path_copy_with_the_real_az() {
    if std::process::Command::new("az").arg("--help").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Debian's azure-cli must be installed on CI (scripts/setup.sh installs it)"
        );
        eprintln!("skipped: no `az` on PATH (apt-get install azure-cli, or run scripts/setup.sh)");
        return;
    }
    let scan = json(&agent(&["scan", "--exec", "--format", "json"]));
    let on_path: Vec<(&str, &str)> = scan["installations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["on_path"] == true)
        .map(|i| (i["product"].as_str().unwrap(), i["evidence"].as_str().unwrap()))
        .collect();
    assert_eq!(on_path, [("azure-cli", "az-version")], "{scan:#}");
    assert!(exec_errors(&scan).is_empty(), "{scan:#}");
}

#[test]
fn exec_without_az_is_a_scan_error_not_a_failure() {
    let run = agent_with(&["scan", "--exec", "--format", "json"], |c| {
        c.env("PATH", "/nonexistent");
    });
    assert_eq!(run.code, 0, "{run:?}");
    let errors = exec_errors(&json(&run));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("could not start az"), "{errors:?}");
}

#[test]
fn exec_is_refused_under_root() {
    let dir = tempfile::tempdir().unwrap();
    let run = agent(&["scan", "--exec", "--root", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--exec") && run.stderr.contains("--root"), "{}", run.stderr);
}

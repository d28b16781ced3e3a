//! The host's role from CI agents on disk: one root per CI system and OS under
//! `agent/testdata/roles/<host>` (see its README.md), expectations in `roles/expected.json`.

use serde_json::{Value, json};

use crate::common::{agent_with, json, testdata};

fn scan(host: &str, os: &str, extra: &[&str], role_env: Option<&str>) -> Value {
    let root = testdata("roles").join(host);
    let mut args = vec!["scan", "--root", root.to_str().unwrap(), "--target-os", os, "--format", "json"];
    args.extend_from_slice(extra);
    let run = agent_with(&args, |c| {
        c.env_remove("AZVER_ROLE");
        if let Some(role) = role_env {
            c.env("AZVER_ROLE", role);
        }
    });
    assert_eq!(run.code, 0, "{host}: {run:?}");
    json(&run)
}

fn hosts() -> Vec<(String, String, Value, Value)> {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("roles").join("expected.json")).unwrap()).unwrap();
    expected
        .as_object()
        .unwrap()
        .iter()
        .map(|(host, e)| {
            (host.clone(), e["os"].as_str().unwrap().to_owned(), e["role"].clone(), e["ci_system"].clone())
        })
        .collect()
}

#[test]
fn each_ci_agent_makes_its_host_a_build_runner() {
    let hosts = hosts();
    // Every root folder is described, and every CI system is covered on Linux and Windows.
    let mut on_disk: Vec<String> = std::fs::read_dir(testdata("roles"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut described: Vec<String> = hosts.iter().map(|h| h.0.clone()).collect();
    described.sort();
    assert_eq!(on_disk, described);
    for ci in ["github-actions", "azure-pipelines", "gitlab-runner", "jenkins", "teamcity", "buildkite"] {
        for os in ["linux", "windows"] {
            assert!(hosts.iter().any(|h| h.1 == os && h.3 == ci), "no {os} fixture for {ci}");
        }
    }
    for (host, os, role, ci_system) in &hosts {
        let inventory = scan(host, os, &[], None);
        assert_eq!(inventory["host"]["os_family"], json!(os), "{host}");
        assert_eq!(
            (&inventory["host"]["role"], &inventory["host"]["ci_system"]),
            (role, ci_system),
            "{host}: {}",
            inventory["host"]
        );
    }
}

#[test]
fn hosts_without_an_agent_have_no_role() {
    // Near misses included: an unconfigured runner download, an agent folder without `.agent`,
    // `Runner.Worker` without `Runner.Listener`.
    for (host, os) in [("linux-none", "linux"), ("windows-none", "windows")] {
        let inventory = scan(host, os, &[], None);
        assert_eq!(inventory["host"]["role"], Value::Null, "{host}");
        assert!(inventory["host"].get("ci_system").is_none(), "{host}: {}", inventory["host"]);
    }
}

#[test]
fn the_declared_role_overrides_the_detected_one() {
    for (host, os, _, _) in hosts() {
        let inventory = scan(&host, &os, &["--role", "developer"], None);
        assert_eq!(inventory["host"]["role"], "developer", "{host}");
    }
    assert_eq!(scan("linux-none", "linux", &["--role", "build-runner"], None)["host"]["role"], "build-runner");
    assert_eq!(scan("windows-none", "windows", &["--role", "server"], None)["host"]["role"], "server");
    // The service's environment sets it too; the flag wins over the variable.
    assert_eq!(scan("linux-gitlab", "linux", &[], Some("server"))["host"]["role"], "server");
    assert_eq!(
        scan("linux-none", "linux", &["--role", "developer"], Some("build-runner"))["host"]["role"],
        "developer"
    );
}

#[test]
fn an_unknown_role_is_a_usage_error() {
    let root = testdata("roles").join("linux-none");
    let run =
        agent_with(&["scan", "--root", root.to_str().unwrap(), "--target-os", "linux", "--role", "runner"], |c| {
            c.env_remove("AZVER_ROLE");
        });
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("build-runner"), "stderr should list the roles: {}", run.stderr);
}

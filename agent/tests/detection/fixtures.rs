//! One test per fixture tree: `scan` must report exactly `expected.json`'s installations and
//! errors, and `check` its exit code, status and findings.

use serde_json::Value;

use crate::common::{assert_check, assert_inventory, check_run, scan, testdata};

/// Scans `agent/testdata/<case>/root` as `os` and compares with `<case>/expected.json`.
fn check(case: &str, os: &str) {
    let dir = testdata(case);
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(expected["os"], os, "expected.json of {case} is for another OS");
    let root = dir.join("root");
    let errors: Vec<(&str, &str)> = expected["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    let inventory = scan(&root, os);
    assert_eq!(inventory["host"]["os_family"], os);
    assert_inventory(&inventory, &expected["installations"], &errors);
    assert_check(&check_run(&root, os, &[]), &expected["check"]);
}

#[test]
fn linux_microsoft_deb() {
    check("linux-microsoft-deb", "linux");
}

#[test]
fn linux_microsoft_rpm_is_followed_through_its_pythonpath_launcher() {
    check("linux-microsoft-rpm", "linux");
}

#[test]
fn linux_debian_package() {
    check("linux-debian-package", "linux");
}

#[test]
fn linux_pipx_in_both_venv_folders() {
    check("linux-pipx", "linux");
}

#[test]
fn linux_pip_user() {
    check("linux-pip-user", "linux");
}

#[test]
fn linux_homebrew() {
    check("linux-homebrew", "linux");
}

#[test]
fn macos_homebrew_in_both_prefixes() {
    check("macos-homebrew", "macos");
}

#[test]
fn macos_user_installs() {
    check("macos", "macos");
}

#[test]
fn windows_msi_x64_and_x86() {
    check("windows-msi", "windows");
}

#[test]
fn linux_powershell_modules() {
    check("linux-powershell", "linux");
}

#[test]
fn windows_powershell_modules() {
    check("windows-powershell", "windows");
}

#[test]
fn empty_host_is_not_applicable() {
    check("empty", "linux");
}

#[test]
fn host_facts_come_from_the_root() {
    let inventory = scan(&testdata("linux-microsoft-deb").join("root"), "linux");
    assert_eq!(inventory["host"]["hostname"], "runner-ubuntu-01");
    assert_eq!(inventory["host"]["os_name"], "Ubuntu");
    assert_eq!(inventory["host"]["os_version"], "24.04");
    let mac = scan(&testdata("macos-homebrew").join("root"), "macos");
    assert_eq!(mac["host"]["os_version"], "14.5");
}

//! Simulated host environments (`HostView::rooted(..).with_env(..)`): what a host's own PATH
//! changes. The command line never reads the environment under `--root`, so these run the
//! library.

use std::collections::BTreeMap;

use azver_agent::host::HostView;
use azver_core::OsFamily;
use serde_json::json;

use crate::common::{assert_inventory, testdata};

fn scan_with_path(case: &str, os: OsFamily, path: &str) -> serde_json::Value {
    let env = BTreeMap::from([("PATH".to_owned(), path.to_owned())]);
    let host = HostView::rooted(&testdata(case).join("root"), os).unwrap().with_env(env);
    serde_json::to_value(azver_agent::scan::scan(&host)).unwrap()
}

#[test]
fn a_windows_zip_install_is_found_through_path_only() {
    let expected = json!([{"product": "azure-cli", "version": "2.76.0", "source": "windows-zip", "scope": "system",
        "path": r"C:\tools\az", "on_path": true, "default_for_powershell": false, "evidence": "pyc"}]);
    let inventory =
        scan_with_path("windows-zip", OsFamily::Windows, r"C:\Windows\system32;C:\Windows;C:\tools\az\wbin");
    assert_inventory(&inventory, &expected, &[]);
    // Case-insensitive, as Windows is; without it on PATH, nothing finds it.
    let inventory = scan_with_path("windows-zip", OsFamily::Windows, r"c:\TOOLS\AZ\WBIN\");
    assert_eq!(inventory["installations"][0]["path"], r"C:\tools\az");
    let hidden = scan_with_path("windows-zip", OsFamily::Windows, r"C:\Windows\system32");
    assert_inventory(&hidden, &json!([]), &[]);
}

#[test]
fn the_first_az_on_a_users_path_is_the_one_on_path() {
    let pipx = |user: &str, version: &str, path: &str, on_path: bool| {
        json!({"product": "azure-cli", "version": version, "source": "pipx", "scope": "user", "user": user,
               "path": path, "on_path": on_path, "default_for_powershell": false, "evidence": "dist-info"})
    };
    let alice = "/home/alice/.local/share/pipx/venvs/azure-cli/lib/python3.12/site-packages";
    let root = "/root/.local/pipx/venvs/azure-cli/lib/python3.11/site-packages";
    // alice's ~/.local/bin/az is a relative link into her venv.
    let inventory = scan_with_path("linux-pipx", OsFamily::Linux, "/home/alice/.local/bin:/root/.local/bin:/usr/bin");
    assert_inventory(
        &inventory,
        &json!([pipx("alice", "2.76.0", alice, true), pipx("root", "2.75.0", root, false)]),
        &[],
    );
    // root's is an absolute link, which must resolve inside the scanned root.
    let inventory = scan_with_path("linux-pipx", OsFamily::Linux, "/usr/bin:/root/.local/bin:/home/alice/.local/bin");
    assert_inventory(
        &inventory,
        &json!([pipx("alice", "2.76.0", alice, false), pipx("root", "2.75.0", root, true)]),
        &[],
    );
}

#[test]
fn a_pip_user_launcher_run_by_the_system_python_finds_the_users_site_packages() {
    let inventory = scan_with_path("linux-pip-user", OsFamily::Linux, "/home/alice/.local/bin:/usr/bin");
    let installs = inventory["installations"].as_array().unwrap();
    let on_path: Vec<(&str, &str)> = installs
        .iter()
        .filter(|i| i["on_path"] == true)
        .map(|i| (i["user"].as_str().unwrap(), i["version"].as_str().unwrap()))
        .collect();
    assert_eq!(on_path, [("alice", "2.74.0")]);
    assert_eq!(installs.len(), 2);
}

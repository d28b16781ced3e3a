//! Without the rights to read every home, the scan covers what it can and says what it skipped.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::common::{agent_with, error_keys, json};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn open_up(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            open_up(&path);
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn unreadable_homes_are_skipped_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let metadata = |version: &str| format!("Metadata-Version: 2.1\nName: azure-cli\nVersion: {version}\n\n");
    write(&root.join("opt/az/lib/python3.12/site-packages/azure_cli-2.76.0.dist-info/METADATA"), &metadata("2.76.0"));
    write(
        &root.join("home/alice/.local/lib/python3.11/site-packages/azure_cli-2.75.0.dist-info/METADATA"),
        &metadata("2.75.0"),
    );
    write(
        &root.join("home/bob/.local/lib/python3.11/site-packages/azure_cli-2.40.0.dist-info/METADATA"),
        &metadata("2.40.0"),
    );
    open_up(tmp.path());
    // bob's home: no one but root may read it (not even bob's own files are reachable).
    std::fs::set_permissions(root.join("home/bob"), std::fs::Permissions::from_mode(0o000)).unwrap();

    // As root the agent would read everything, so drop to `nobody` with setpriv; as an ordinary
    // user the 000 mode already denies access.
    let as_root = running_as_root();
    let binary = env!("CARGO_BIN_EXE_azver-agent");
    let args = ["scan", "--root", root.to_str().unwrap(), "--target-os", "linux", "--format", "json"];
    let run = agent_with(&args, |command| {
        if as_root {
            let mut wrapped = std::process::Command::new("setpriv");
            wrapped.args(["--reuid=65534", "--regid=65534", "--clear-groups", binary]).args(args);
            *command = wrapped;
        }
    });
    std::fs::set_permissions(root.join("home/bob"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    let scan = json(&run);
    let found: Vec<(&str, &str)> = scan["installations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["version"].as_str().unwrap(), i["user"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(found, [("2.76.0", "-"), ("2.75.0", "alice")]);
    assert_eq!(error_keys(&scan["errors"]), [("/home/bob".to_owned(), "permission-denied".to_owned())]);
}

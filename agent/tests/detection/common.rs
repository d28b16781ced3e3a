//! Helpers shared by the detection tests: running the binary, reading expectations, comparing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// `agent/testdata/<case>`.
pub(crate) fn testdata(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(case)
}

/// What one run of the binary produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `azver-agent` with `args` and no log filter from the caller's environment.
pub(crate) fn agent(args: &[&str]) -> Run {
    agent_with(args, |_| {})
}

/// Runs `azver-agent`, letting `setup` adjust the command (environment) first.
pub(crate) fn agent_with(args: &[&str], setup: impl FnOnce(&mut Command)) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_azver-agent"));
    command.args(args).env_remove("AZVER_LOG");
    setup(&mut command);
    let output = command.output().expect("azver-agent starts");
    Run {
        code: output.status.code().expect("azver-agent exits normally"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// stdout of a `--format json` run: one JSON document and nothing else.
pub(crate) fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", run.stdout, run.stderr))
}

/// `scan --root <root> --target-os <os> --format json`, which must exit 0.
pub(crate) fn scan(root: &Path, os: &str) -> Value {
    let run = agent(&["scan", "--root", root.to_str().unwrap(), "--target-os", os, "--format", "json"]);
    assert_eq!(run.code, 0, "scan failed: {run:?}");
    json(&run)
}

/// `check --root <root> --target-os <os> --format json [extra...]`.
pub(crate) fn check_run(root: &Path, os: &str, extra: &[&str]) -> Run {
    let mut args = vec!["check", "--root", root.to_str().unwrap(), "--target-os", os, "--format", "json"];
    args.extend_from_slice(extra);
    agent(&args)
}

/// The `(path, kind)` of every error, sorted.
pub(crate) fn error_keys(errors: &Value) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = errors
        .as_array()
        .expect("errors is an array")
        .iter()
        .map(|e| (e["path"].as_str().unwrap().to_owned(), e["kind"].as_str().unwrap().to_owned()))
        .collect();
    keys.sort();
    keys
}

/// Asserts installations exactly (every field, in order) and errors by path and kind.
pub(crate) fn assert_inventory(actual: &Value, installations: &Value, errors: &[(&str, &str)]) {
    let got = &actual["installations"];
    assert_eq!(
        got,
        installations,
        "installations differ\n got: {}\nwant: {}",
        serde_json::to_string_pretty(got).unwrap(),
        serde_json::to_string_pretty(installations).unwrap()
    );
    let mut want: Vec<(String, String)> = errors.iter().map(|(p, k)| ((*p).to_owned(), (*k).to_owned())).collect();
    want.sort();
    assert_eq!(
        error_keys(&actual["errors"]),
        want,
        "errors: {}",
        serde_json::to_string_pretty(&actual["errors"]).unwrap()
    );
}

/// Asserts a `check --format json` result: exit code, status, and each finding's kind, product,
/// version, path, source and the start of its hint.
pub(crate) fn assert_check(run: &Run, expected: &Value) {
    assert_eq!(Value::from(run.code), expected["exit"], "exit code of check: {run:?}");
    let got = json(run);
    assert_eq!(got["status"], expected["status"], "status: {}", run.stdout);
    let findings = got["findings"].as_array().unwrap();
    let want = expected["findings"].as_array().unwrap();
    assert_eq!(findings.len(), want.len(), "findings: {}", serde_json::to_string_pretty(&got["findings"]).unwrap());
    for (f, w) in findings.iter().zip(want) {
        for key in ["kind", "product", "installed", "path", "source"] {
            assert_eq!(f[key], w[key], "finding {key}: {f}");
        }
        // Findings are high unless the expectation says otherwise (information findings).
        assert_eq!(&f["severity"], w.get("severity").unwrap_or(&Value::from("high")), "{f}");
        let hint = f["hint"].as_str().unwrap();
        let prefix = w["hint_starts_with"].as_str().unwrap();
        assert!(!prefix.is_empty() && hint.starts_with(prefix), "hint {hint:?} should start with {prefix:?}");
    }
}

/// Copies a fixture tree (keeping symbolic links as links) so a test can add to it.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            symlink(&std::fs::read_link(entry.path()).unwrap(), &target);
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Creates a symbolic link at `link` (and its parent folders).
pub(crate) fn symlink(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, link).unwrap();
    #[cfg(windows)]
    std::os::windows::fs::symlink_file(target, link).unwrap();
}

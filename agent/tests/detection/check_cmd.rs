//! `check`: exit codes, custom and malformed baselines, unusable roots.

use serde_json::json;

use crate::common::{agent, assert_check, check_run, testdata};

fn baseline_file(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("baseline.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_custom_baseline_decides_the_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    // Debian's 2.45.0 fails the built-in baseline but meets a lower one.
    let lower = baseline_file(tmp.path(), "[products.\"azure-cli\"]\nminimum = \"2.40\"\nrule = \"every\"\n");
    let root = testdata("linux-debian-package").join("root");
    assert_check(
        &check_run(&root, "linux", &["--baseline", &lower]),
        &json!({"exit": 0, "status": "compliant", "findings": []}),
    );
    // Newest-rule products: the highest Az (14.3.0) is below 15.0, so that one is the finding.
    let higher = baseline_file(tmp.path(), "[products.Az]\nminimum = \"15.0\"\nrule = \"newest\"\n");
    let root = testdata("linux-powershell").join("root");
    assert_check(
        &check_run(&root, "linux", &["--baseline", &higher]),
        &json!({"exit": 1, "status": "noncompliant", "findings": [
            {"kind": "below-baseline", "product": "Az", "installed": "14.3.0",
             "path": "/usr/local/share/powershell/Modules/Az/14.3.0", "source": "powershell-gallery",
             "hint_starts_with": "Update-PSResource -Name Az -Scope AllUsers"}]}),
    );
    // A module that came with the runner image gets the image's advice.
    // (The image's retired AzureRM.profile is information, turned off here.)
    let accounts = baseline_file(
        tmp.path(),
        "[products.\"Az.Accounts\"]\nminimum = \"5.4.0\"\nrule = \"newest\"\n[findings]\n\"retired-module\" = \"off\"\n",
    );
    let root = testdata("windows-powershell").join("root");
    assert_check(
        &check_run(&root, "windows", &["--baseline", &accounts]),
        &json!({"exit": 1, "status": "noncompliant", "findings": [
            {"kind": "below-baseline", "product": "Az.Accounts", "installed": "5.3.0",
             "path": r"C:\Modules\az_14.4.0\Az.Accounts\5.3.0", "source": "hosted-runner-image",
             "hint_starts_with": "Az.Accounts comes with the CI runner image: move to a newer image"}]}),
    );
}

#[test]
fn a_baseline_that_names_nothing_installed_is_not_applicable() {
    let tmp = tempfile::tempdir().unwrap();
    let only_az = baseline_file(tmp.path(), "[products.Az]\nminimum = \"14.3.0\"\nrule = \"newest\"\n");
    let root = testdata("linux-microsoft-rpm").join("root");
    assert_check(
        &check_run(&root, "linux", &["--baseline", &only_az]),
        &json!({"exit": 0, "status": "not-applicable", "findings": []}),
    );
}

#[test]
fn a_malformed_baseline_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = testdata("linux-microsoft-deb").join("root");
    for (text, says) in [
        ("[products.Az]\nminimum = \"latest\"\nrule = \"every\"\n", "not a version"),
        ("[products.Az]\nminimum = \"1.0\"\nrule = \"every\"\nmaximum = \"2\"\n", "unknown field `maximum`"),
        ("this is not toml", "baseline"),
    ] {
        let path = baseline_file(tmp.path(), text);
        let run = check_run(&root, "linux", &["--baseline", &path]);
        assert_eq!(run.code, 2, "{run:?}");
        assert_eq!(run.stdout, "", "nothing on stdout when the baseline is unusable");
        assert!(
            run.stderr.contains(&path) && run.stderr.contains(says),
            "stderr should name {path} and say {says:?}: {}",
            run.stderr
        );
    }
    let missing = tmp.path().join("nope.toml");
    let run = check_run(&root, "linux", &["--baseline", missing.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot read baseline"), "{}", run.stderr);
}

#[test]
fn a_root_that_does_not_exist_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-root");
    for command in ["scan", "check"] {
        let run = agent(&[command, "--root", missing.to_str().unwrap(), "--target-os", "linux", "--format", "json"]);
        assert_eq!(run.code, 2, "{run:?}");
        assert_eq!(run.stdout, "");
        assert!(
            run.stderr.contains("cannot scan root") && run.stderr.contains(missing.to_str().unwrap()),
            "stderr should say which root: {}",
            run.stderr
        );
    }
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let run = agent(&["check", "--root", file.to_str().unwrap(), "--target-os", "linux"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot scan root"), "{}", run.stderr);
}

#[test]
fn target_os_without_root_is_a_usage_error() {
    let run = agent(&["scan", "--target-os", "windows", "--format", "json"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
}

#[test]
fn the_text_report_names_each_fix() {
    let root = testdata("macos-homebrew").join("root");
    let run = agent(&["check", "--root", root.to_str().unwrap(), "--target-os", "macos"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.starts_with("azver: NONCOMPLIANT: 1 finding(s)"), "{}", run.stdout);
    assert!(run.stdout.contains("    fix: brew update && brew upgrade azure-cli\n"), "{}", run.stdout);
}

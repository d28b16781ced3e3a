//! The CI recipes in `packaging/ci/` run as their CI systems run them, against every exit code of
//! `azver-agent check`: the script is taken from the YAML (yaml-rust2, the real file), run by bash
//! with the runner's flags, with the real agent on PATH scanning a fixture tree (exit 0 compliant,
//! 1 below the baseline) or a missing root (exit 2: could not decide).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use azver_e2e::{arg, bin, fixture_root, repo_root};
use yaml_rust2::{Yaml, YamlLoader};

/// One exit code of `azver-agent check` and how to produce it with the real agent.
struct Case {
    code: i32,
    /// `--root` for the wrapped agent.
    root: PathBuf,
}

fn cases(dir: &Path) -> Vec<Case> {
    vec![
        Case { code: 0, root: fixture_root("linux-microsoft-deb") },
        Case { code: 1, root: fixture_root("linux-debian-package") },
        Case { code: 2, root: dir.join("no-such-root") },
    ]
}

/// A folder with an `azver-agent` on PATH that runs the real agent on `root`.
fn agent_on_path(dir: &Path, root: &Path) -> PathBuf {
    let folder = dir.join(format!("bin-{}", root.file_name().and_then(|n| n.to_str()).unwrap_or("x")));
    std::fs::create_dir_all(&folder).unwrap();
    let script = folder.join("azver-agent");
    let real = bin("azver-agent");
    std::fs::write(&script, format!("#!/bin/sh\nexec '{}' \"$@\" --root '{}'\n", arg(&real), arg(root))).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    folder
}

fn load(name: &str) -> Yaml {
    let path = repo_root().join("packaging/ci").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    YamlLoader::load_from_str(&text).unwrap().into_iter().next().expect("one YAML document")
}

/// The outcome of one script run.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `script` with `bash FLAGS`, the wrapped real agent first on PATH, and `env`.
fn run_bash(flags: &[&str], script: &str, dir: &Path, path_dir: &Path, env: &[(&str, &str)]) -> Outcome {
    let file = dir.join("step.sh");
    std::fs::write(&file, script).unwrap();
    let path = format!("{}:{}", arg(path_dir), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("bash");
    command.args(flags).arg(&file).current_dir(dir).env("PATH", path).env_remove("AZVER_STRICT");
    for name in azver_e2e::AZVER_ENV {
        command.env_remove(name);
    }
    // The agent inside a CI job checks only the job's sign-ins; these tests scan a fixture root.
    for name in ["GITHUB_ACTIONS", "TF_BUILD", "GITLAB_CI", "CI"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("run bash");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn github_actions_recipe_fails_only_below_the_baseline_and_warns_when_undecided() {
    let doc = load("github-actions.yml");
    let step = doc["jobs"]["azver-linux"]["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|s| s["shell"].as_str() == Some("bash"))
        .expect("a bash step");
    let script = step["run"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for case in cases(dir.path()) {
        for strict in [false, true] {
            let work = tempfile::tempdir_in(dir.path()).unwrap();
            let summary = work.path().join("summary.md");
            let path_dir = agent_on_path(dir.path(), &case.root);
            let mut env = vec![("GITHUB_STEP_SUMMARY", arg(&summary))];
            if strict {
                env.push(("AZVER_STRICT", "1"));
            }
            // GitHub runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail {0}`.
            let out = run_bash(&["--noprofile", "--norc", "-eo", "pipefail"], script, work.path(), &path_dir, &env);
            let expected = match (case.code, strict) {
                (0, _) => 0,
                (1, _) => 1,
                (_, false) => 0,
                (code, true) => code,
            };
            assert_eq!(
                out.code, expected,
                "agent exit {} strict={strict}: step exit {}\n{}\n{}",
                case.code, out.code, out.stdout, out.stderr
            );
            match case.code {
                0 => assert!(out.stdout.contains("azver: compliant"), "{}", out.stdout),
                1 => assert!(out.stdout.contains("::error title=azver::"), "{}", out.stdout),
                _ => assert!(out.stdout.contains("::warning title=azver::"), "{}", out.stdout),
            }
            // The verdict is kept and the summary written whatever the outcome.
            assert!(work.path().join("azver-check.json").is_file());
            assert!(std::fs::read_to_string(&summary).unwrap().starts_with("### azver"));
        }
    }
}

#[test]
fn azure_pipelines_recipe_fails_only_below_the_baseline_and_succeeds_with_issues_when_undecided() {
    let doc = load("azure-pipelines.yml");
    let job = doc["jobs"].as_vec().unwrap().iter().find(|j| j["job"].as_str() == Some("azver_linux")).unwrap();
    let script = job["steps"].as_vec().unwrap().iter().find_map(|s| s["bash"].as_str()).expect("a bash step");
    let dir = tempfile::tempdir().unwrap();
    for case in cases(dir.path()) {
        for strict in [false, true] {
            let work = tempfile::tempdir_in(dir.path()).unwrap();
            // Azure Pipelines expands $(...) macros before the script runs.
            let script = script.replace("$(Build.ArtifactStagingDirectory)", arg(work.path()));
            let path_dir = agent_on_path(dir.path(), &case.root);
            let env: &[(&str, &str)] = if strict { &[("AZVER_STRICT", "1")] } else { &[] };
            // The Bash task runs `bash --noprofile --norc FILE`; with -e as well it must not change.
            for flags in [&["--noprofile", "--norc"][..], &["--noprofile", "--norc", "-eo", "pipefail"]] {
                let out = run_bash(flags, &script, work.path(), &path_dir, env);
                let expected = match (case.code, strict) {
                    (0, _) => 0,
                    (1, _) => 1,
                    (_, false) => 0,
                    (code, true) => code,
                };
                assert_eq!(out.code, expected, "agent exit {} strict={strict} {flags:?}\n{}", case.code, out.stdout);
                let issues = out.stdout.contains("##vso[task.complete result=SucceededWithIssues;]");
                assert_eq!(issues, case.code == 2 && !strict, "{}", out.stdout);
                assert_eq!(out.stdout.contains("##vso[task.logissue type=error]"), case.code == 1, "{}", out.stdout);
                assert!(work.path().join("azver-check.json").is_file());
            }
        }
    }
}

#[test]
fn gitlab_recipe_passes_the_exit_code_through_and_allows_only_undecided() {
    let doc = load("gitlab-ci.yml");
    let job = &doc["azver-check"];
    let script: Vec<&str> = job["script"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    let allowed: Vec<i64> =
        job["allow_failure"]["exit_codes"].as_vec().unwrap().iter().filter_map(Yaml::as_i64).collect();
    assert_eq!(allowed, [2], "only 'could not decide' may fail without failing the pipeline");
    let dir = tempfile::tempdir().unwrap();
    for case in cases(dir.path()) {
        let work = tempfile::tempdir_in(dir.path()).unwrap();
        let path_dir = agent_on_path(dir.path(), &case.root);
        // GitLab's bash shell runs the job's script lines with errexit and pipefail set.
        let out =
            run_bash(&["--noprofile", "--norc", "-eo", "pipefail"], &script.join("\n"), work.path(), &path_dir, &[]);
        assert_eq!(out.code, case.code, "{}\n{}", out.stdout, out.stderr);
        assert!(work.path().join("azver-check.json").is_file());
    }
}

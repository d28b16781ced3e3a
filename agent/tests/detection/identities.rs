//! Who is signed in: `identities` read from `azureProfile.json` and `AzureRmContext.json`
//! (`agent/testdata/identities-*`), the secrets beside and inside them never printed, and what
//! `check` makes of a user sign-in on a build runner and elsewhere.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::{Run, agent_with, copy_tree, error_keys, json, testdata};

/// Written into every token cache and secret field of the fixtures; no output may contain it.
const SENTINEL: &str = "AZVER-SENTINEL-9c41e7-never-leak";

fn expected(case: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(testdata(case).join("expected.json")).unwrap()).unwrap()
}

fn root(case: &str) -> String {
    testdata(case).join("root").to_str().unwrap().to_owned()
}

/// Runs the agent with no role or account-name setting from the caller's environment.
fn run(args: &[&str]) -> Run {
    agent_with(args, |c| {
        c.env_remove("AZVER_ROLE").env_remove("AZVER_REPORT_ACCOUNT_NAMES");
    })
}

/// The expected identities without `account_name`, as sent when names are not allowed.
fn without_names(identities: &Value) -> Value {
    let mut identities = identities.clone();
    for identity in identities.as_array_mut().unwrap() {
        identity.as_object_mut().unwrap().remove("account_name");
    }
    identities
}

fn assert_identities(got: &Value, want: &Value) {
    assert_eq!(
        got,
        want,
        "identities differ\n got: {}\nwant: {}",
        serde_json::to_string_pretty(got).unwrap(),
        serde_json::to_string_pretty(want).unwrap()
    );
}

/// Scans `<case>/root` as `os` without and with `--report-account-names` and compares
/// installations, identities and errors (message included) with `<case>/expected.json`.
fn check(case: &str, os: &str) {
    let expected = expected(case);
    assert_eq!(expected["os"], os);
    let root = root(case);
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--root", &root, "--target-os", os, "--format", "json"];
        args.extend_from_slice(extra);
        let run = run(&args);
        assert_eq!(run.code, 0, "{run:?}");
        json(&run)
    };
    let plain = scan(&[]);
    assert_eq!(plain["installations"], expected["installations"]);
    assert_identities(&plain["identities"], &without_names(&expected["identities"]));
    assert_eq!(plain["errors"], expected["errors"], "{}", serde_json::to_string_pretty(&plain["errors"]).unwrap());
    let named = scan(&["--report-account-names"]);
    assert_identities(&named["identities"], &expected["identities"]);
    assert_eq!(named["errors"], expected["errors"]);
    // The setting can also come from the service's environment.
    let from_env = agent_with(&["scan", "--root", &root, "--target-os", os, "--format", "json"], |c| {
        c.env_remove("AZVER_ROLE").env("AZVER_REPORT_ACCOUNT_NAMES", "true");
    });
    assert_identities(&json(&from_env)["identities"], &expected["identities"]);
}

#[test]
fn linux_profiles_of_every_account_type() {
    check("identities-linux", "linux");
}

#[test]
fn windows_profiles_are_found_whichever_client_created_the_folder() {
    // `C:\Users\x\.azure` holds both files (the CLI came first); `svc-agent` has `.Azure`.
    // `C:\Users\Public` is not a user's home, so its sign-in is not reported.
    check("identities-windows", "windows");
}

#[test]
fn subscriptions_of_one_account_are_one_sign_in_and_two_accounts_stay_two() {
    let inventory =
        json(&run(&["scan", "--root", &root("identities-linux"), "--target-os", "linux", "--format", "json"]));
    let of = |user: &str, tool: &str| -> Vec<(String, bool)> {
        inventory["identities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["local_user"] == user && i["tool"] == tool)
            .map(|i| (i["tenant_id"].as_str().unwrap().to_owned(), i["is_default"].as_bool().unwrap()))
            .collect()
    };
    // Four subscriptions: three in Contoso (the second is the default) and a guest tenant.
    assert_eq!(
        of("alice", "azure-cli"),
        [
            ("72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(), true),
            ("b1a2c3d4-0000-4e5f-8a9b-0c1d2e3f4a5b".to_owned(), false)
        ]
    );
    // Two Az contexts of one user: one sign-in, the default context's.
    assert_eq!(of("alice", "Az"), [("72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(), true)]);
    // Two service principals of one tenant are two sign-ins even when names are not sent.
    assert_eq!(of("build", "azure-cli").len(), 2, "{}", inventory["identities"]);
    // Signed out of both clients: nothing.
    assert_eq!((of("gone", "azure-cli").len(), of("gone", "Az").len()), (0, 0));
}

#[test]
fn a_profile_that_does_not_parse_is_an_error_with_only_its_position() {
    let inventory =
        json(&run(&["scan", "--root", &root("identities-linux"), "--target-os", "linux", "--format", "json"]));
    assert_eq!(
        error_keys(&inventory["errors"]),
        [
            ("/home/broken/.Azure/AzureRmContext.json".to_owned(), "malformed-profile".to_owned()),
            ("/home/broken/.azure/azureProfile.json".to_owned(), "malformed-profile".to_owned()),
        ]
    );
    // The cut-off file ends in the sentinel's neighbourhood: the message must not quote it.
    let messages: Vec<&str> =
        inventory["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["not valid JSON (line 1, column 171)", "not an Az profile (unexpected structure)"]);
    // The other homes are still reported.
    assert_eq!(inventory["identities"].as_array().unwrap().len(), 12);
}

#[test]
fn azure_config_dir_of_the_calling_shell_is_not_read_under_root() {
    let tmp = tempfile::tempdir().unwrap();
    write_cli_profile(tmp.path(), "user", "intruder@contoso.com");
    let run = agent_with(
        &["scan", "--root", &root("identities-windows"), "--target-os", "windows", "--format", "json"],
        |c| {
            c.env_remove("AZVER_ROLE").env_remove("AZVER_REPORT_ACCOUNT_NAMES").env("AZURE_CONFIG_DIR", tmp.path());
        },
    );
    assert_identities(&json(&run)["identities"], &without_names(&expected("identities-windows")["identities"]));
}

/// The fixtures really hold the sentinel where a careless reader would pick it up.
#[test]
fn the_fixtures_hold_the_sentinel_in_every_secret_place() {
    let linux = testdata("identities-linux").join("root/home");
    for file in [
        "alice/.azure/msal_token_cache.json",
        "alice/.azure/accessTokens.json",
        "alice/.Azure/TokenCache.dat",
        "build/.azure/service_principal_entries.json",
        "build/.azure/msal_token_cache.json",
        "build/.Azure/TokenCache.dat",
        "broken/.azure/azureProfile.json",
    ] {
        let text = std::fs::read_to_string(linux.join(file)).unwrap();
        assert!(text.contains(SENTINEL), "{file}");
    }
    let context: Value =
        serde_json::from_str(&std::fs::read_to_string(linux.join("build/.Azure/AzureRmContext.json")).unwrap())
            .unwrap();
    let (_, only) = context["Contexts"].as_object().unwrap().iter().next().unwrap();
    assert_eq!(only["Account"]["ExtendedProperties"]["ServicePrincipalSecret"], SENTINEL);
    let windows =
        std::fs::read(testdata("identities-windows").join("root/Users/x/.azure/AzureRmContext.json")).unwrap();
    assert!(String::from_utf8_lossy(&windows).contains(&format!("\"ServicePrincipalSecret\": \"{SENTINEL}\"")));
}

#[test]
fn no_command_prints_a_secret() {
    for (case, os) in [("identities-linux", "linux"), ("identities-windows", "windows")] {
        let root = root(case);
        for extra in [
            &["scan", "--format", "json"][..],
            &["scan"],
            &["scan", "--format", "json", "--report-account-names"],
            &["check"],
            &["check", "--format", "json", "--report-account-names"],
            &["check", "--role", "build-runner", "--report-account-names"],
            &["check", "--format", "json", "--role", "build-runner"],
        ] {
            let mut args = extra.to_vec();
            args.extend(["--root", &root, "--target-os", os]);
            // Trace-level logs too: a detector must not log what it parsed.
            for log in [None, Some("trace")] {
                let run = agent_with(&args, |c| {
                    c.env_remove("AZVER_ROLE").env_remove("AZVER_REPORT_ACCOUNT_NAMES");
                    if let Some(level) = log {
                        c.env("AZVER_LOG", level);
                    }
                });
                assert!(run.code == 0 || run.code == 1, "{args:?}: {run:?}");
                assert!(!run.stdout.is_empty(), "{args:?} printed nothing");
                assert!(!run.stdout.contains(SENTINEL), "{args:?} printed a secret on stdout:\n{}", run.stdout);
                assert!(!run.stderr.contains(SENTINEL), "{args:?} printed a secret on stderr:\n{}", run.stderr);
            }
        }
    }
}

/// Token caches are never opened: in a copy of the tree they become FIFOs, which block any
/// reader until a writer comes, so a scan that opens one never finishes.
#[cfg(unix)]
#[test]
fn token_caches_are_never_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_tree(&testdata("identities-linux").join("root"), &root);
    let caches = [
        "home/alice/.azure/msal_token_cache.json",
        "home/alice/.azure/accessTokens.json",
        "home/alice/.azure/msal_http_cache.bin",
        "home/alice/.Azure/TokenCache.dat",
        "home/build/.azure/service_principal_entries.json",
        "home/build/.azure/msal_token_cache.bin",
        "home/build/.Azure/TokenCache.dat",
    ];
    for cache in caches {
        let path = root.join(cache);
        let _ = std::fs::remove_file(&path);
        let status = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
        assert!(status.success(), "mkfifo {}", path.display());
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_azver-agent"))
        .args(["scan", "--root", root.to_str().unwrap(), "--target-os", "linux", "--format", "json"])
        .env_remove("AZVER_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Generous: a scan of this tree takes milliseconds; only a blocked open takes forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(status.map(|s| s.code()), Some(Some(0)), "the scan opened a token cache (or failed)");
}

// ---- check: what a user sign-in does to the verdict ----

/// The GitHub Actions runner whose service account ran `az login` as a user.
fn runner() -> String {
    testdata("roles").join("linux-github-actions").to_str().unwrap().to_owned()
}

fn check_json(root: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", "--root", root, "--target-os", "linux", "--format", "json"];
    args.extend_from_slice(extra);
    let run = run(&args);
    let value = json(&run);
    (run.code, value)
}

/// (kind, severity, product, path, account_type) of each finding.
fn findings(verdict: &Value) -> Vec<(String, String, String, String, String)> {
    verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("-").to_owned();
            (s("kind"), s("severity"), s("product"), s("path"), s("account_type"))
        })
        .collect()
}

fn finding(kind: &str, severity: &str, product: &str, path: &str) -> (String, String, String, String, String) {
    (kind.into(), severity.into(), product.into(), path.into(), "user".into())
}

#[test]
fn a_user_sign_in_on_a_build_runner_fails_check() {
    // Detected: a GitHub Actions runner whose service account ran `az login` as a user.
    let (code, verdict) = check_json(&runner(), &[]);
    assert_eq!((code, &verdict["status"]), (1, &json!("noncompliant")), "{verdict}");
    assert_eq!(
        findings(&verdict),
        [finding("human-identity-on-build-runner", "high", "azure-cli", "/home/runner/.azure/azureProfile.json")]
    );
    let hint = verdict["findings"][0]["hint"].as_str().unwrap();
    assert!(hint.contains("service principal") && hint.contains("managed identity"), "{hint}");

    // Declared: the developer box with a compliant CLI is a runner when the administrator says so.
    let (code, verdict) = check_json(&root("identities-linux"), &["--role", "build-runner"]);
    assert_eq!((code, &verdict["status"]), (1, &json!("noncompliant")), "{verdict}");
    assert_eq!(
        findings(&verdict),
        [
            finding("human-identity-on-build-runner", "high", "Az", "/home/alice/.Azure/AzureRmContext.json"),
            finding("human-identity-on-build-runner", "high", "azure-cli", "/home/alice/.azure/azureProfile.json"),
        ]
    );
    assert!(verdict["findings"][0]["hint"].as_str().unwrap().contains("Connect-AzAccount -ServicePrincipal"));
}

#[test]
fn a_user_sign_in_elsewhere_is_information_only() {
    // No role: the dev box stays compliant; Cloud Shell, service principals and managed
    // identities are not findings at all.
    let (code, verdict) = check_json(&root("identities-linux"), &[]);
    assert_eq!((code, &verdict["status"]), (0, &json!("compliant")), "{verdict}");
    assert_eq!(
        findings(&verdict),
        [
            finding("human-identity", "info", "Az", "/home/alice/.Azure/AzureRmContext.json"),
            finding("human-identity", "info", "azure-cli", "/home/alice/.azure/azureProfile.json"),
        ]
    );
    // A detected runner that the administrator declares a developer box.
    for role in ["developer", "server"] {
        let (code, verdict) = check_json(&runner(), &["--role", role]);
        assert_eq!((code, &verdict["status"]), (0, &json!("not-applicable")), "{role}: {verdict}");
        assert_eq!(
            findings(&verdict),
            [finding("human-identity", "info", "azure-cli", "/home/runner/.azure/azureProfile.json")]
        );
    }
}

#[test]
fn the_text_verdict_names_the_fix_once_per_profile() {
    let root = runner();
    let failing = run(&["check", "--root", &root, "--target-os", "linux"]);
    assert_eq!(failing.code, 1, "{failing:?}");
    assert!(failing.stdout.starts_with("azver: NONCOMPLIANT: 1 finding(s)"), "{}", failing.stdout);
    assert!(
        failing.stdout.contains(
            "  - azure-cli is signed in as a user on a build runner: /home/runner/.azure/azureProfile.json\n    fix: sign this automation in as a service principal"
        ),
        "{}",
        failing.stdout
    );
    let note = run(&["check", "--root", &root, "--target-os", "linux", "--role", "developer"]);
    assert_eq!(note.code, 0, "{note:?}");
    assert!(
        note.stdout.contains(
            "  note: azure-cli is signed in as a user: /home/runner/.azure/azureProfile.json (information only)\n"
        ),
        "{}",
        note.stdout
    );
    assert!(!note.stdout.contains("fix:"), "{}", note.stdout);
}

fn baseline(dir: &Path, findings: &str) -> String {
    let path = dir.join("baseline.toml");
    std::fs::write(
        &path,
        format!("[products.\"azure-cli\"]\nminimum = \"2.76.0\"\nrule = \"every\"\n\n[findings]\n{findings}"),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn the_baseline_decides_whether_a_runner_sign_in_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let info = baseline(tmp.path(), "\"human-identity-on-build-runner\" = \"info\"\n");
    let (code, verdict) = check_json(&root("identities-linux"), &["--role", "build-runner", "--baseline", &info]);
    assert_eq!((code, &verdict["status"]), (0, &json!("compliant")), "{verdict}");
    assert_eq!(
        findings(&verdict),
        [
            finding("human-identity-on-build-runner", "info", "Az", "/home/alice/.Azure/AzureRmContext.json"),
            finding("human-identity-on-build-runner", "info", "azure-cli", "/home/alice/.azure/azureProfile.json"),
        ]
    );
    let off = baseline(tmp.path(), "\"human-identity-on-build-runner\" = \"off\"\n\"human-identity\" = \"off\"\n");
    let (code, verdict) = check_json(&root("identities-linux"), &["--role", "build-runner", "--baseline", &off]);
    assert_eq!((code, &verdict["status"], findings(&verdict)), (0, &json!("compliant"), vec![]), "{verdict}");
    // And the other way: a strict fleet counts every user sign-in.
    let strict = baseline(tmp.path(), "\"human-identity\" = \"noncompliant\"\n");
    let (code, verdict) = check_json(&root("identities-linux"), &["--baseline", &strict]);
    assert_eq!((code, &verdict["status"]), (1, &json!("noncompliant")), "{verdict}");
    assert_eq!(verdict["findings"][0]["kind"], "human-identity");
    let typo = baseline(tmp.path(), "\"human-identity-on-build-runners\" = \"info\"\n");
    let run = run(&["check", "--root", &root("identities-linux"), "--target-os", "linux", "--baseline", &typo]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("unknown field `human-identity-on-build-runners`"), "{}", run.stderr);
}

// ---- check inside a CI job (live, no --root) ----

/// Variables that would put `check` in pipeline mode, or change its output, when these tests
/// themselves run in CI or in a configured shell.
const JOB_ENV: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "TF_BUILD",
    "GITLAB_CI",
    "JENKINS_URL",
    "BUILDKITE",
    "TEAMCITY_VERSION",
    "AZURE_CONFIG_DIR",
    "AZVER_ROLE",
    "AZVER_REPORT_ACCOUNT_NAMES",
    "AZVER_COLLECTOR",
];

/// `~/.azure/azureProfile.json` (UTF-8 with BOM, one line) with one subscription.
fn write_cli_profile(dir: &Path, user_type: &str, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let profile = json!({"installationId": "1b2c3d4e-2222-11ef-9b1d-0242ac120002", "subscriptions": [{
        "id": "9b2f1a4c-1d3e-4f5a-8b6c-7d8e9f0a1b2c", "name": "Production", "state": "Enabled",
        "user": {"name": name, "type": user_type}, "isDefault": true,
        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "environmentName": "AzureCloud",
        "homeTenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "managedByTenants": []}]});
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(serde_json::to_vec(&profile).unwrap());
    std::fs::write(dir.join("azureProfile.json"), bytes).unwrap();
}

/// `azver-agent check` on this machine with `HOME` = `home`, the job variables `vars`, and a
/// baseline naming a product nobody has, so this machine's own installations cannot change the
/// exit code: only sign-ins can.
fn live_check(home: &Path, vars: &[(&str, &str)], extra: &[&str]) -> Run {
    let baseline = home.parent().unwrap().join("baseline.toml");
    std::fs::write(&baseline, "[products.\"azver-test-nothing\"]\nminimum = \"1.0\"\nrule = \"every\"\n").unwrap();
    let mut args = vec!["check", "--baseline", baseline.to_str().unwrap()];
    args.extend_from_slice(extra);
    agent_with(&args, |c| {
        for name in JOB_ENV {
            c.env_remove(name);
        }
        c.env("HOME", home).env("USERPROFILE", home);
        for (name, value) in vars {
            c.env(name, value);
        }
    })
}

/// The findings of a live `check --format json` that are about profiles under `dir`.
fn findings_under(run: &Run, dir: &Path) -> Vec<(String, String, String, String, String)> {
    let dir = dir.to_str().unwrap();
    findings(&json(run)).into_iter().filter(|f| f.3.starts_with(dir)).collect()
}

#[test]
fn inside_a_ci_job_a_user_sign_in_of_the_job_user_fails_check() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    write_cli_profile(&home.join(".azure"), "user", "ops@contoso.com");
    let profile = home.join(".azure/azureProfile.json");

    let text = live_check(&home, &[("GITHUB_ACTIONS", "true")], &[]);
    assert_eq!(text.code, 1, "{text:?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "azver: inside a CI job (github-actions): this host counts as a build runner; checking the job user's sign-ins"
        ),
        "{}",
        text.stdout
    );
    let fix: Vec<&&str> = lines.iter().filter(|l| l.trim_start().starts_with("fix:")).collect();
    assert_eq!(fix.len(), 1, "{}", text.stdout);
    assert!(fix[0].contains("service principal"), "{}", fix[0]);
    assert!(text.stdout.contains(profile.to_str().unwrap()), "{}", text.stdout);

    let verdict = live_check(&home, &[("GITHUB_ACTIONS", "true")], &["--format", "json"]);
    assert_eq!(verdict.code, 1, "{verdict:?}");
    // Only the job user's sign-ins are evaluated, so this is every finding there is.
    assert_eq!(
        findings(&json(&verdict)),
        [finding("human-identity-on-build-runner", "high", "azure-cli", profile.to_str().unwrap())]
    );
    // Pipeline mode counts the job as a build runner whatever role the host has.
    let declared = live_check(&home, &[("GITLAB_CI", "true")], &["--role", "developer"]);
    assert_eq!(declared.code, 1, "{declared:?}");
}

#[test]
fn inside_a_ci_job_the_config_dir_of_the_job_counts_too() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let config = tmp.path().join("job-azure");
    write_cli_profile(&config, "user", "ops@contoso.com");
    let run = live_check(
        &home,
        &[("TF_BUILD", "True"), ("AZURE_CONFIG_DIR", config.to_str().unwrap())],
        &["--format", "json"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        findings(&json(&run)),
        [finding(
            "human-identity-on-build-runner",
            "high",
            "azure-cli",
            config.join("azureProfile.json").to_str().unwrap()
        )]
    );
}

#[test]
fn inside_a_ci_job_a_service_principal_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    write_cli_profile(&home.join(".azure"), "servicePrincipal", "0a1b2c3d-1111-4e5f-8a9b-0c1d2e3f4a5b");
    let run = live_check(&home, &[("TF_BUILD", "True")], &["--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(findings(&json(&run)), []);
    let text = live_check(&home, &[("TF_BUILD", "True")], &[]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.starts_with("azver: inside a"), "{}", text.stdout);
}

#[test]
fn a_bare_ci_variable_is_not_a_ci_job() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    write_cli_profile(&home.join(".azure"), "user", "ops@contoso.com");
    // `--role developer` so that this machine being a build runner cannot decide the test; in
    // pipeline mode the host would still count as a runner and exit 1.
    for vars in [&[("CI", "true")][..], &[("CI", "true"), ("GITHUB_ACTIONS", "false")]] {
        let run = live_check(&home, vars, &["--format", "json", "--role", "developer"]);
        assert_eq!(run.code, 0, "{vars:?}: {run:?}");
        assert_eq!(
            findings_under(&run, &home),
            [finding("human-identity", "info", "azure-cli", home.join(".azure/azureProfile.json").to_str().unwrap())],
            "{vars:?}"
        );
        let text = live_check(&home, vars, &["--role", "developer"]);
        assert!(!text.stdout.contains("inside a"), "{}", text.stdout);
    }
}

#[test]
fn a_root_scan_never_uses_pipeline_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    write_cli_profile(&home.join(".azure"), "user", "ops@contoso.com");
    let root = root("identities-linux");
    let run = live_check(&home, &[("GITHUB_ACTIONS", "true")], &["--root", &root, "--target-os", "linux"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("inside a"), "{}", run.stdout);
    assert!(!run.stdout.contains(home.to_str().unwrap()), "the caller's HOME is not part of a --root scan");
    let verdict = live_check(
        &home,
        &[("GITHUB_ACTIONS", "true")],
        &["--root", &root, "--target-os", "linux", "--format", "json"],
    );
    assert_eq!(verdict.code, 0, "{verdict:?}");
    assert_eq!(
        findings(&json(&verdict)),
        [
            finding("human-identity", "info", "Az", "/home/alice/.Azure/AzureRmContext.json"),
            finding("human-identity", "info", "azure-cli", "/home/alice/.azure/azureProfile.json"),
        ]
    );
}

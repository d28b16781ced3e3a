//! Issue 15, agent side: what an ordinary local user can do to the files the agent reads must
//! not crash, hang or hide the host. Each attack runs against the real `azver-agent` (and, where
//! a report is involved, a real collector) on a tree built here in the real layout of a user's
//! PowerShell module folder (`~/.local/share/powershell/Modules/<name>/<version>/<name>.psd1`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use azver_e2e::{AgentService, Collector, agent, agent_status, arg, bin, eventually};
use serde_json::Value;

/// Generous bound on anything the agent does "within a few intervals".
const SOON: Duration = Duration::from_secs(90);
/// Generous bound on one `scan` of a small tree; a hang shows as exceeding it.
const SCAN_LIMIT: Duration = Duration::from_secs(60);

/// The modules folder of user `mallory` in a Linux root.
fn user_modules(root: &Path) -> PathBuf {
    root.join("home/mallory/.local/share/powershell/Modules")
}

/// Writes `<modules>/<name>/<version>/<name>.psd1` with `text`; returns the manifest's path.
fn module(modules: &Path, name: &str, version: &str, text: &str) -> PathBuf {
    let folder = modules.join(name).join(version);
    std::fs::create_dir_all(&folder).expect("create the module folder");
    let manifest = folder.join(format!("{name}.psd1"));
    std::fs::write(&manifest, text).expect("write the manifest");
    manifest
}

/// A root with a system-wide Az.Accounts 5.2.0 and, in mallory's home, an old Az.Accounts
/// 2.0.0, Az 12.0.0 (below the baseline: the host is noncompliant) and `junk` module folders
/// with broken manifests.
fn hostile_root(dir: &Path, junk: usize) -> PathBuf {
    let root = dir.join("root");
    let system = root.join("usr/local/share/powershell/Modules");
    module(&system, "Az.Accounts", "5.2.0", "@{ ModuleVersion = '5.2.0' }");
    let modules = user_modules(&root);
    module(&modules, "Az.Accounts", "2.0.0", "@{ ModuleVersion = '2.0.0' }");
    module(&modules, "Az", "12.0.0", "@{ ModuleVersion = '12.0.0' }");
    for n in 0..junk {
        let name = format!("Az.Junk{n:04}");
        module(&modules, &name, "1.0.0", "@{ ModuleVersion = ");
    }
    root
}

fn scan_json(root: &Path) -> Value {
    agent(&["scan", "--root", arg(root), "--target-os", "linux", "--format", "json"]).expect_code(0).json()
}

fn versions(installations: &Value, product: &str) -> Vec<String> {
    let mut found: Vec<String> = installations
        .as_array()
        .expect("installations")
        .iter()
        .filter(|i| i["product"] == product)
        .map(|i| i["version"].as_str().unwrap_or_default().to_owned())
        .collect();
    found.sort();
    found
}

/// `azver-agent report --once` of the Linux tree `root` to `collector`, as host `hostname`.
fn report_rooted(collector: &Collector, root: &Path, state: &Path, hostname: &str) -> azver_e2e::Run {
    agent(&[
        "report",
        "--once",
        "--collector",
        &collector.url(),
        "--root",
        arg(root),
        "--target-os",
        "linux",
        "--state-dir",
        arg(state),
        "--hostname",
        hostname,
        "--format",
        "json",
    ])
}

/// 1,001 broken `Az.*` folders made the report exceed the collector's 1,000 errors; the
/// collector refused it and the host never appeared. Now the report is cut (the verdict's
/// entries kept, the rest counted) and the host appears, noncompliant because of the old module.
#[test]
fn a_thousand_broken_module_folders_cannot_hide_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let root = hostile_root(dir.path(), 1001);
    let collector = Collector::start();
    let state = dir.path().join("state");
    let run = report_rooted(&collector, &root, &state, "hidden");
    run.expect_code(1);
    let found = scan_json(&root)["errors"].as_array().expect("errors").len() as u64;
    assert!(found > 200, "the scan itself finds more errors than a report carries: {found}");
    let report = collector.report_json(&[]);
    let hosts = report["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1, "{report}");
    let host = &hosts[0];
    assert_eq!(host["hostname"], "hidden");
    assert_eq!(host["status"], "noncompliant", "{host}");
    assert_eq!(versions(&host["installations"], "Az.Accounts"), ["2.0.0", "5.2.0"], "{host}");
    assert_eq!(versions(&host["installations"], "Az"), ["12.0.0"], "{host}");
    let errors = host["scan_errors"].as_u64().expect("scan_errors");
    assert!((1..=200).contains(&errors), "{errors} scan errors kept");
    assert_eq!(host["omitted"]["errors"].as_u64(), Some(found - errors), "every error left out is counted: {host}");

    // The state dir and the spool are private (issue 15, item 4).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        for file in ["host-id", "sequence"] {
            assert_eq!(mode(&state.join(file)), 0o600, "{file}");
        }
    }
}

/// A collector with lower limits than the agent's caps refuses the report (INVALID_ARGUMENT):
/// the refusal is logged and counted in `status`, and the report goes again in reduced form,
/// which the collector stores. Nothing is dropped.
#[test]
fn a_refused_report_is_counted_and_sent_again_reduced() {
    let dir = tempfile::tempdir().unwrap();
    let root = hostile_root(dir.path(), 1001);
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, "[limits]\nmax_errors = 50\n").unwrap();
    let collector = Collector::start_with(&["--config", arg(&config)]);
    let state = dir.path().join("state");
    let mut service = AgentService::start(
        &state,
        &[
            "--collector",
            &collector.url(),
            "--interval",
            "1h",
            "--max-backoff",
            "1s",
            "--root",
            arg(&root),
            "--target-os",
            "linux",
            "--hostname",
            "reduced",
        ],
    );
    let status = eventually(SOON, "the reduced report delivered", || {
        let status = agent_status(&state);
        (status["delivered"].as_u64() >= Some(1)).then_some(status)
    });
    assert_eq!(status["rejected"], 1, "{status}");
    let rejection = status["last_rejection"].as_str().expect("last_rejection");
    assert!(rejection.contains("InvalidArgument") && rejection.contains("report.errors"), "{rejection}");
    assert_eq!(status["spool_drops"], 0, "{status}");
    assert!(service.stderr().contains("sending it again in reduced form"), "{}", service.stderr());
    let report = collector.report_json(&[]);
    let host = &report["hosts"][0];
    assert_eq!(host["hostname"], "reduced", "{report}");
    assert_eq!(host["status"], "noncompliant", "{host}");
    assert_eq!(versions(&host["installations"], "Az.Accounts"), ["2.0.0", "5.2.0"], "{host}");
    assert_eq!(versions(&host["installations"], "Az"), ["12.0.0"], "{host}");
    let errors = host["scan_errors"].as_u64().expect("scan_errors");
    assert!(errors <= 10, "{host}");
    assert_eq!(host["omitted"]["reduced"], true, "{host}");
    let found = scan_json(&root)["errors"].as_array().expect("errors").len() as u64;
    assert_eq!(host["omitted"]["errors"].as_u64(), Some(found - errors), "{host}");
    service.stop("TERM", Duration::from_secs(10));
}

/// More job sign-ins than the collector takes (its default `max_job_sign_ins` is 1,000): a
/// crontab with 1,200 service-principal lines with a pasted secret, and one user-password job in
/// another file. Uncapped, the collector refused the report and the host vanished; now the report
/// is cut to the agent's 500, the user-password job (high severity) is kept whatever its place in
/// the scan, and the rest is counted.
#[test]
fn more_job_sign_ins_than_the_collector_takes_cannot_hide_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let cron = root.join("etc/cron.d");
    std::fs::create_dir_all(&cron).unwrap();
    let mut noise = String::from("# 1,200 copies of a pasted app secret\n");
    for n in 0..1200 {
        noise.push_str(&format!(
            "{} * * * * svc az login --service-principal -u 0d5f5a8e-0000-4000-8000-{n:012} -p S3cret{n} --tenant contoso.example\n",
            n % 60
        ));
    }
    std::fs::write(cron.join("aa-noise"), noise).unwrap();
    std::fs::write(cron.join("zz-sync"), "0 2 * * * ops az login -u ops@contoso.example -p Hunter2 --output none\n")
        .unwrap();
    let scan = scan_json(&root);
    let found = scan["job_sign_ins"].as_array().expect("job_sign_ins").len() as u64;
    assert_eq!(found, 1201, "the scan itself finds every job");

    let collector = Collector::start();
    let state = dir.path().join("state");
    let run = report_rooted(&collector, &root, &state, "many-jobs");
    // Accepted (not exit 2, the collector's refusal), noncompliant because of the user's password.
    run.expect_code(1);
    let report = collector.report_json(&[]);
    let host = &report["hosts"][0];
    assert_eq!(host["hostname"], "many-jobs", "{report}");
    assert_eq!(host["status"], "noncompliant", "{host}");
    let jobs = host["job_sign_ins"].as_array().expect("job_sign_ins");
    assert_eq!(jobs.len(), 500, "the agent's cap, half the collector's limit");
    let user: Vec<&Value> = jobs.iter().filter(|j| j["kind"] == "user-password").collect();
    assert_eq!(user.len(), 1, "{user:?}");
    assert_eq!(user[0]["job"], "cron:/etc/cron.d/zz-sync");
    assert_eq!(user[0]["command"], "az login -u *** -p *** --output none");
    assert_eq!(host["omitted"]["job_sign_ins"].as_u64(), Some(found - 500), "every job left out is counted: {host}");
}

/// 6,000 `(` in a 12 KB manifest in a user's own module folder overflowed the stack and killed
/// every scan (exit 134). Now it is one scan error and the other modules are still found.
#[test]
fn a_deeply_nested_manifest_is_a_scan_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let root = hostile_root(dir.path(), 0);
    let modules = user_modules(&root);
    let parens = format!("@{{ ModuleVersion = {}'1.0'{} }}", "(".repeat(6000), ")".repeat(6000));
    module(&modules, "Az.Deep", "1.0.0", &parens);
    let casts = format!("@{{ ModuleVersion = {}'1.0' }}", "[version] ".repeat(6000));
    module(&modules, "Az.Casts", "1.0.0", &casts);
    let scan = scan_json(&root);
    assert_eq!(versions(&scan["installations"], "Az.Accounts"), ["2.0.0", "5.2.0"]);
    for name in ["Az.Deep", "Az.Casts"] {
        let error = scan["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"].as_str().is_some_and(|p| p.ends_with(&format!("{name}.psd1"))))
            .unwrap_or_else(|| panic!("no error for {name}: {scan}"));
        assert_eq!(error["kind"], "malformed-manifest");
        assert!(error["message"].as_str().unwrap().contains("nested more than 32 levels deep"), "{error}");
    }
}

/// Runs `azver-agent scan` on `root`; `None` if it is still running after [`SCAN_LIMIT`] (then
/// killed).
fn scan_within_limit(root: &Path) -> Option<std::process::Output> {
    let mut child = Command::new(bin("azver-agent"))
        .args(["scan", "--root", arg(root), "--target-os", "linux", "--format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start azver-agent scan");
    let deadline = Instant::now() + SCAN_LIMIT;
    while child.try_wait().expect("poll the agent").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().expect("agent output"))
}

/// Swapping a manifest with a FIFO between the agent's type check and its open hung 12 of 204
/// scans forever. Here a thread swaps Az.Accounts' manifest with a FIFO and back while real
/// `scan` processes run: every one exits 0 within the limit, with the module or a
/// `wrong-file-type` error. Bounded: 40 scans.
#[cfg(unix)]
#[test]
fn a_manifest_swapped_with_a_fifo_never_hangs_the_agent() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let root = hostile_root(dir.path(), 0);
    let manifest = user_modules(&root).join("Az.Accounts/2.0.0/Az.Accounts.psd1");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (manifest, stop, staging) = (manifest.clone(), stop.clone(), dir.path().join("staging"));
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) && round < 100_000 {
                round += 1;
                let fifo = staging.with_extension(format!("fifo{round}"));
                assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
                std::fs::rename(&fifo, &manifest).unwrap();
                let file = staging.with_extension(format!("file{round}"));
                std::fs::write(&file, "@{ ModuleVersion = '2.0.0' }").unwrap();
                std::fs::rename(&file, &manifest).unwrap();
            }
            round
        })
    };
    let mut outcomes = Vec::new();
    for _ in 0..40 {
        let output = scan_within_limit(&root);
        let Some(output) = output else {
            stop.store(true, Ordering::Relaxed);
            panic!("a scan hung on the swapped manifest; outcomes so far: {outcomes:?}");
        };
        assert_eq!(output.status.code(), Some(0));
        let scan: Value = serde_json::from_slice(&output.stdout).expect("scan JSON");
        let old = versions(&scan["installations"], "Az.Accounts").contains(&"2.0.0".to_owned());
        let refused = scan["errors"].as_array().unwrap().iter().any(|e| {
            e["path"].as_str().is_some_and(|p| p.ends_with("2.0.0/Az.Accounts.psd1")) && e["kind"] == "wrong-file-type"
        });
        assert!(old || refused, "{scan}");
        outcomes.push(if old { "module" } else { "fifo refused" });
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = swapper.join().unwrap();
    assert!(rounds > 0);
    // Even a manifest that stays a FIFO is refused at once.
    std::fs::remove_file(&manifest).unwrap();
    assert!(Command::new("mkfifo").arg(&manifest).status().unwrap().success());
    let output = scan_within_limit(&root).expect("a scan with a FIFO for a manifest hung");
    let scan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(scan["errors"].to_string().contains("wrong-file-type"), "{scan}");
}

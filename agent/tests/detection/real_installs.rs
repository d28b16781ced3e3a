//! Real packages, not hand-made fixtures: Debian's extracted azure-cli 2.45.0 and PyPI's
//! azure-cli wheels installed by the real pip. `AZVER_REAL_INSTALLS` names the folder that
//! `scripts/fetch-real-installs.sh` filled; without it these tests skip (and fail on CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{agent_with, assert_check, assert_inventory, check_run, json as parse_json, scan};

/// The real-installs folder, or `None` (after saying so) when this run should skip.
pub(crate) fn real_installs() -> Option<PathBuf> {
    match std::env::var_os("AZVER_REAL_INSTALLS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("debian/usr/bin/az").is_file() && dir.join("wheels").is_dir(),
                "AZVER_REAL_INSTALLS={} is not filled; run scripts/fetch-real-installs.sh {0}",
                dir.display()
            );
            Some(dir)
        }
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("AZVER_REAL_INSTALLS is not set on CI; run scripts/fetch-real-installs.sh DIR and export it")
        }
        None => {
            eprintln!("skipped: set AZVER_REAL_INSTALLS (see scripts/fetch-real-installs.sh)");
            None
        }
    }
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program} starts: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `pip install --no-deps --no-index` of azure-cli and azure-cli-core `version` from the wheels.
fn pip_install(python: &str, wheels: &Path, version: &str, extra: &[&str]) {
    let wheels = wheels.to_str().unwrap();
    let cli = format!("azure-cli=={version}");
    let core = format!("azure-cli-core=={version}");
    let mut args = vec!["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-index"];
    args.extend(["--find-links", wheels]);
    args.extend_from_slice(extra);
    args.extend([cli.as_str(), core.as_str()]);
    run(python, &args);
}

/// A real venv at `<root>/home/alice/.local/pipx/venvs/azure-cli` with azure-cli 2.76.0.
fn pipx_venv(real: &Path, root: &Path) -> PathBuf {
    let venv = root.join("home/alice/.local/pipx/venvs/azure-cli");
    run("python3", &["-m", "venv", venv.to_str().unwrap()]);
    pip_install(venv.join("bin/python").to_str().unwrap(), &real.join("wheels"), "2.76.0", &[]);
    venv
}

fn site_packages(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let python = std::fs::read_dir(&lib).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    python.join("site-packages")
}

/// Where `path`, a real path under `root`, appears inside the scanned host.
fn inside(root: &Path, path: &Path) -> String {
    format!("/{}", path.strip_prefix(root).unwrap().to_str().unwrap())
}

pub(crate) fn cli(version: &str, source: &str, user: Option<&str>, path: &str, on_path: bool, evidence: &str) -> Value {
    let mut install = json!({"product": "azure-cli", "version": version, "source": source,
        "scope": if user.is_some() { "user" } else { "system" }, "path": path, "on_path": on_path,
        "default_for_powershell": false, "evidence": evidence});
    if let Some(user) = user {
        install["user"] = json!(user);
    }
    install
}

#[test]
fn debians_real_package() {
    let Some(real) = real_installs() else { return };
    let root = real.join("debian");
    let inventory = scan(&root, "linux");
    let expected = json!([cli("2.45.0", "distro-package", None, "/usr/lib/python3/dist-packages", true, "egg-info")]);
    assert_inventory(&inventory, &expected, &[]);
    assert_check(
        &check_run(&root, "linux", &[]),
        &json!({"exit": 1, "status": "noncompliant", "findings": [{"kind": "below-baseline", "product": "azure-cli",
            "installed": "2.45.0", "path": "/usr/lib/python3/dist-packages", "source": "distro-package",
            "hint_starts_with": "the distribution's azure-cli package is older than 2.76.0: sudo apt-get remove"}]}),
    );
}

#[test]
fn a_real_pipx_venv() {
    let Some(real) = real_installs() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let venv = pipx_venv(&real, &root);
    let path = inside(&root, &site_packages(&venv));
    let inventory = scan(&root, "linux");
    assert_inventory(&inventory, &json!([cli("2.76.0", "pipx", Some("alice"), &path, false, "dist-info")]), &[]);
    assert_check(&check_run(&root, "linux", &[]), &json!({"exit": 0, "status": "compliant", "findings": []}));
}

#[test]
fn a_real_pip_user_install() {
    let Some(real) = real_installs() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let target = root.join("home/bob/.local/lib/python3.11/site-packages");
    pip_install("python3", &real.join("wheels"), "2.60.0", &["--target", target.to_str().unwrap()]);
    let path = "/home/bob/.local/lib/python3.11/site-packages";
    let inventory = scan(&root, "linux");
    assert_inventory(&inventory, &json!([cli("2.60.0", "pip-user", Some("bob"), path, false, "dist-info")]), &[]);
    assert_check(
        &check_run(&root, "linux", &[]),
        &json!({"exit": 1, "status": "noncompliant", "findings": [{"kind": "below-baseline", "product": "azure-cli",
            "installed": "2.60.0", "path": path, "source": "pip-user",
            "hint_starts_with": "python3 -m pip install --user --upgrade azure-cli (as bob)"}]}),
    );
}

#[test]
fn the_real_cli_module_compiled_into_a_windows_msi_layout() {
    let Some(real) = real_installs() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cli2 = tmp.path().join("root/Program Files/Microsoft SDKs/Azure/CLI2");
    let core = cli2.join("Lib/site-packages/azure/cli/core");
    std::fs::create_dir_all(&core).unwrap();
    std::fs::create_dir_all(cli2.join("wbin")).unwrap();
    std::fs::write(
        cli2.join("wbin/az.cmd"),
        "@IF EXIST \"%~dp0\\..\\python.exe\" (\r\n\"%~dp0\\..\\python.exe\" -IBm azure.cli %*\r\n)\r\n",
    )
    .unwrap();
    let wheel = real.join("wheels/azure_cli_core-2.76.0-py3-none-any.whl");
    let source = tmp.path().join("__init__.py");
    let script = "import sys, zipfile, py_compile\n\
                  open(sys.argv[2], 'wb').write(zipfile.ZipFile(sys.argv[1]).read('azure/cli/core/__init__.py'))\n\
                  py_compile.compile(sys.argv[2], cfile=sys.argv[3], doraise=True)\n";
    let pyc = core.join("__init__.pyc");
    run("python3", &["-c", script, wheel.to_str().unwrap(), source.to_str().unwrap(), pyc.to_str().unwrap()]);
    let inventory = scan(&tmp.path().join("root"), "windows");
    let path = r"C:\Program Files\Microsoft SDKs\Azure\CLI2";
    assert_inventory(&inventory, &json!([cli("2.76.0", "windows-msi", None, path, true, "pyc")]), &[]);
}

#[cfg(unix)]
#[test]
fn a_live_scan_follows_path_to_a_real_venv() {
    let Some(real) = real_installs() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let venv = pipx_venv(&real, &root).canonicalize().unwrap();
    let path = format!("{}:/usr/bin:/bin", venv.join("bin").display());
    let run = agent_with(&["scan", "--format", "json"], |c| {
        c.env("PATH", &path);
    });
    assert_eq!(run.code, 0, "{run:?}");
    let inventory = parse_json(&run);
    let site = site_packages(&venv);
    let found: Vec<&Value> =
        inventory["installations"].as_array().unwrap().iter().filter(|i| i["path"] == site.to_str().unwrap()).collect();
    assert_eq!(found.len(), 1, "the venv once: {}", run.stdout);
    assert_eq!(found[0]["version"], "2.76.0");
    assert_eq!(found[0]["source"], "pipx");
    assert_eq!(found[0]["on_path"], true);
    let on_path = inventory["installations"].as_array().unwrap().iter().filter(|i| i["on_path"] == true).count();
    assert_eq!(on_path, 1, "only the first az on PATH: {}", run.stdout);
}

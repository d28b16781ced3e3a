//! Discovery (issue 14): every kind of Python environment and every kind of `az` launcher,
//! built around the real azure-cli tree that pip installed from PyPI's wheels
//! (`$AZVER_REAL_INSTALLS/installed/VERSION`, see scripts/fetch-real-installs.sh), hard-linked
//! into the layout each tool really makes; then the real binary scans it with `--root`.
//!
//! Each case says where its layout comes from. Interpreters are placeholders (the scan never
//! runs them); launcher scripts are written as each tool writes them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{assert_check, check_run, scan, symlink};
use crate::real_installs::{self, real_installs};

/// The pip-installed site-packages tree of `version`.
fn installed(real: &Path, version: &str) -> PathBuf {
    let dir = real.join("installed").join(version);
    assert!(
        dir.join(format!("azure_cli-{version}.dist-info")).is_dir(),
        "{} is missing; run scripts/fetch-real-installs.sh again",
        dir.display()
    );
    dir
}

/// Hard-links every file of `from` into `to` (copying where links cannot be made): 9,000 files
/// per layout would otherwise be 190 MB each.
fn link_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            link_tree(&entry.path(), &target);
        } else if std::fs::hard_link(entry.path(), &target).is_err() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A scratch root next to the real installs (same file system, so hard links work).
fn scratch(real: &Path) -> tempfile::TempDir {
    let parent = real.join("scratch");
    std::fs::create_dir_all(&parent).unwrap();
    tempfile::tempdir_in(parent).unwrap()
}

/// A Python venv as `python -m venv` (and pipx, uv, the install script) makes it.
fn venv(real: &Path, prefix: &Path, version: &str) -> PathBuf {
    write(&prefix.join("pyvenv.cfg"), "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.12.3\n");
    write(&prefix.join("bin/python3.12"), "");
    symlink(Path::new("python3.12"), &prefix.join("bin/python"));
    let site = prefix.join("lib/python3.12/site-packages");
    link_tree(&installed(real, version), &site);
    site
}

/// An interpreter prefix as pyenv, asdf, mise and python-build make it.
fn prefix(real: &Path, prefix: &Path, version: &str) -> PathBuf {
    write(&prefix.join("bin/python3.12"), "");
    let site = prefix.join("lib/python3.12/site-packages");
    link_tree(&installed(real, version), &site);
    site
}

/// A conda environment with conda-forge's azure-cli (its package record names it).
fn conda_env(real: &Path, prefix: &Path, version: &str) -> PathBuf {
    write(
        &prefix.join("conda-meta/history"),
        "==> 2026-11-01 10:00:00 <==\n# cmd: conda install -c conda-forge azure-cli\n",
    );
    let record = json!({"name": "azure-cli", "version": version, "build": "pyhd8ed1ab_0", "build_number": 0,
        "channel": "https://conda.anaconda.org/conda-forge/noarch", "subdir": "noarch", "noarch": "python",
        "depends": ["python >=3.9", format!("azure-cli-core {version}.*")], "files": ["bin/az"]});
    write(&prefix.join(format!("conda-meta/azure-cli-{version}-pyhd8ed1ab_0.json")), &record.to_string());
    write(&prefix.join("bin/python3.12"), "");
    write(&prefix.join("bin/az"), &format!("#!{}/bin/python3.12\nimport os, sys\n", inside_any(prefix)));
    let site = prefix.join("lib/python3.12/site-packages");
    link_tree(&installed(real, version), &site);
    site
}

/// Where a path of the scratch root appears inside the scanned host.
fn inside(root: &Path, path: &Path) -> String {
    format!("/{}", path.strip_prefix(root).unwrap().to_str().unwrap())
}

/// The host path of `path` when the root is not at hand: everything from `/root/` on.
fn inside_any(path: &Path) -> String {
    let text = path.to_str().unwrap();
    let at = text.find("/root/").unwrap();
    text[at + "/root".len()..].to_owned()
}

/// An Azure CLI installation as the scan reports it, not the one on PATH.
fn cli(version: &str, source: &str, user: Option<&str>, path: &str, evidence: &str) -> Value {
    real_installs::cli(version, source, user, path, false, evidence)
}

/// Scans `root` as `os` and asserts exactly `expected` Azure CLI installations, no errors.
fn expect(root: &Path, os: &str, expected: &[Value]) -> Value {
    let inventory = scan(root, os);
    let got: Vec<&Value> =
        inventory["installations"].as_array().unwrap().iter().filter(|i| i["product"] == "azure-cli").collect();
    let want: Vec<&Value> = expected.iter().collect();
    assert_eq!(got, want, "{}", serde_json::to_string_pretty(&inventory).unwrap());
    assert_eq!(inventory["errors"], json!([]), "{}", serde_json::to_string_pretty(&inventory["errors"]).unwrap());
    inventory
}

#[test]
fn microsofts_install_script_venv_and_dispatch_script() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    // InstallAzureCli's install.py: a virtualenv in ~/lib/azure-cli, and ~/bin/az running it.
    let site = venv(&real, &root.join("home/alice/lib/azure-cli"), "2.76.0");
    write(
        &root.join("home/alice/bin/az"),
        "#!/usr/bin/env bash\n/home/alice/lib/azure-cli/bin/python -m azure.cli \"$@\"\n",
    );
    expect(&root, "linux", &[cli("2.76.0", "pip", Some("alice"), &inside(&root, &site), "dist-info")]);
    assert_check(&check_run(&root, "linux", &[]), &json!({"exit": 0, "status": "compliant", "findings": []}));
}

/// A venv made with `python -m venv --system-site-packages` from a pyenv Python that has
/// azure-cli pip-installed, and a launcher on PATH running the venv's interpreter: `pyvenv.cfg`
/// says the base's site-packages are loaded too, so the launcher leads to the base's CLI (the
/// one that runs) instead of an installation of unknown version. Without the key's `true` it
/// leads nowhere readable, as before.
#[test]
fn a_venv_with_system_site_packages_runs_its_base_interpreters_cli() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    let base = prefix(&real, &root.join("home/alice/.pyenv/versions/3.12.3"), "2.60.0");
    let tools = root.join("home/alice/venvs/tools");
    let cfg = tools.join("pyvenv.cfg");
    write(
        &cfg,
        "home = /home/alice/.pyenv/versions/3.12.3/bin\ninclude-system-site-packages = true\nversion = 3.12.3\n",
    );
    write(&tools.join("bin/python3.12"), "");
    symlink(Path::new("python3.12"), &tools.join("bin/python"));
    std::fs::create_dir_all(tools.join("lib/python3.12/site-packages")).unwrap();
    write(&root.join("usr/local/bin/az"), "#!/bin/sh\nexec /home/alice/venvs/tools/bin/python -m azure.cli \"$@\"\n");
    expect(
        &root,
        "linux",
        &[real_installs::cli("2.60.0", "pip", Some("alice"), &inside(&root, &base), true, "dist-info")],
    );

    // The same venv isolated from its base: the launcher runs no readable CLI.
    write(
        &cfg,
        "home = /home/alice/.pyenv/versions/3.12.3/bin\ninclude-system-site-packages = false\nversion = 3.12.3\n",
    );
    let inventory = scan(&root, "linux");
    let installs: Vec<(&str, &str, bool)> = inventory["installations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["version"].as_str().unwrap(), i["path"].as_str().unwrap(), i["on_path"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        installs,
        [("unknown", "/usr/local/bin/az", true), ("2.60.0", inside(&root, &base).as_str(), false)],
        "{inventory:#}"
    );
}

/// A venv upgraded in place from Python 3.11 to 3.12 (`python3.12 -m venv --upgrade`) keeps its
/// old `lib/python3.11` with an old CLI that nothing runs any more. `pyvenv.cfg` names 3.12: the
/// launcher leads to that version's copy, and the stale folder is not reported.
#[test]
fn a_venv_upgraded_in_place_reports_the_version_it_runs() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    let prefix = root.join("home/alice/lib/azure-cli");
    let site = venv(&real, &prefix, "2.76.0");
    link_tree(&installed(&real, "2.60.0"), &prefix.join("lib/python3.11/site-packages"));
    write(
        &root.join("usr/local/bin/az"),
        "#!/usr/bin/env bash\n/home/alice/lib/azure-cli/bin/python -m azure.cli \"$@\"\n",
    );
    expect(
        &root,
        "linux",
        &[real_installs::cli("2.76.0", "pip", Some("alice"), &inside(&root, &site), true, "dist-info")],
    );
}

#[test]
fn conda_environments_in_a_home_and_in_opt() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    // Miniconda in a home with a named environment; a system-wide conda in /opt/conda.
    write(&root.join("home/bob/miniconda3/conda-meta/history"), "");
    write(&root.join("home/bob/miniconda3/bin/python3.12"), "");
    let bob = conda_env(&real, &root.join("home/bob/miniconda3/envs/azure"), "2.60.0");
    let opt = conda_env(&real, &root.join("opt/conda"), "2.76.0");
    // The package cache holds an unpacked copy that is not installed anywhere.
    link_tree(
        &installed(&real, "2.76.0").join("azure_cli-2.76.0.dist-info"),
        &root.join("opt/conda/pkgs/azure-cli-2.76.0-pyhd8ed1ab_0/site-packages/azure_cli-2.76.0.dist-info"),
    );
    expect(
        &root,
        "linux",
        &[
            cli("2.60.0", "conda", Some("bob"), &inside(&root, &bob), "dist-info"),
            cli("2.76.0", "conda", None, &inside(&root, &opt), "dist-info"),
        ],
    );
    let prefix = "/home/bob/miniconda3/envs/azure";
    assert_check(
        &check_run(&root, "linux", &[]),
        &json!({"exit": 1, "status": "noncompliant", "findings": [{"kind": "below-baseline", "product": "azure-cli",
            "installed": "2.60.0", "path": inside(&root, &bob), "source": "conda",
            "hint_starts_with": format!("conda update -p {prefix} -c conda-forge azure-cli")}]}),
    );
}

#[test]
fn a_conda_record_gives_the_version_when_the_dist_info_is_gone() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    let site = conda_env(&real, &root.join("home/bob/mambaforge/envs/cli"), "2.76.0");
    std::fs::remove_dir_all(site.join("azure_cli-2.76.0.dist-info")).unwrap();
    std::fs::remove_dir_all(site.join("azure_cli_core-2.76.0.dist-info")).unwrap();
    expect(&root, "linux", &[cli("2.76.0", "conda", Some("bob"), &inside(&root, &site), "conda-meta")]);
}

#[test]
fn tool_managers_environments() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    let home = root.join("home/carol");
    // uv: `uv tool install azure-cli` makes a venv and links ~/.local/bin/az to its script.
    let uv = venv(&real, &home.join(".local/share/uv/tools/azure-cli"), "2.76.0");
    write(
        &home.join(".local/share/uv/tools/azure-cli/bin/az"),
        "#!/home/carol/.local/share/uv/tools/azure-cli/bin/python\nimport sys\nfrom azure.cli.__main__ import main\n",
    );
    symlink(Path::new("../share/uv/tools/azure-cli/bin/az"), &home.join(".local/bin/az"));
    // pyenv, asdf and mise keep one prefix per Python version; pip installed into each.
    let pyenv = prefix(&real, &home.join(".pyenv/versions/3.12.3"), "2.76.0");
    let asdf = prefix(&real, &home.join(".asdf/installs/python/3.11.9"), "2.60.0");
    let mise = prefix(&real, &home.join(".local/share/mise/installs/python/3.13.0"), "2.76.0");
    // A project's .venv, and a pipenv environment.
    let project = venv(&real, &home.join("src/infra/.venv"), "2.76.0");
    let pipenv = venv(&real, &home.join(".local/share/virtualenvs/deploy-Ab3dE"), "2.76.0");
    let user = Some("carol");
    expect(
        &root,
        "linux",
        &[
            cli("2.76.0", "uv-tool", user, &inside(&root, &uv), "dist-info"),
            cli("2.60.0", "pip", user, &inside(&root, &asdf), "dist-info"),
            cli("2.76.0", "pip", user, &inside(&root, &pipenv), "dist-info"),
            cli("2.76.0", "pip", user, &inside(&root, &pyenv), "dist-info"),
            cli("2.76.0", "pip", user, &inside(&root, &project), "dist-info"),
            cli("2.76.0", "pip", user, &inside(&root, &mise), "dist-info"),
        ],
    );
    let run = check_run(&root, "linux", &[]);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    let uv_hint = got["findings"].as_array().unwrap().iter().find(|f| f["source"] == "uv-tool");
    assert!(uv_hint.is_none(), "uv's copy is compliant: {}", run.stdout);
    assert_eq!(
        got["findings"][0]["hint"],
        format!(
            "{}/bin/python -m pip install --upgrade azure-cli (as carol)",
            inside(&root, &home.join(".asdf/installs/python/3.11.9"))
        )
    );
}

#[test]
fn nix_profiles_lead_to_the_store() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    // nixpkgs wraps az with makeWrapper: bin/az exports PYTHONPATH and runs bin/.az-wrapped.
    let store = root.join("nix/store/0c1x2y3z-azure-cli-2.76.0");
    let site = store.join("lib/python3.12/site-packages");
    link_tree(&installed(&real, "2.76.0"), &site);
    write(
        &store.join("bin/az"),
        "#! /nix/store/9a8b-bash-5.2p37/bin/bash -e\nexport PYTHONPATH='/nix/store/0c1x2y3z-azure-cli-2.76.0/lib/python3.12/site-packages'${PYTHONPATH:+':'}$PYTHONPATH\nexec -a \"$0\" \"/nix/store/0c1x2y3z-azure-cli-2.76.0/bin/.az-wrapped\"  \"$@\"\n",
    );
    write(&store.join("bin/.az-wrapped"), "#!/nix/store/7f6e-python3-3.12.8/bin/python3.12\nimport sys\n");
    // A user's profile (home-manager, nix profile install) and the system profile (NixOS).
    let generation = root.join("nix/var/nix/profiles/per-user/dave/profile-3-link");
    symlink(Path::new("/nix/store/0c1x2y3z-azure-cli-2.76.0/bin/az"), &generation.join("bin/az"));
    symlink(Path::new("/nix/var/nix/profiles/per-user/dave/profile-3-link"), &root.join("home/dave/.nix-profile"));
    symlink(Path::new("/nix/store/0c1x2y3z-azure-cli-2.76.0/bin/az"), &root.join("run/current-system/sw/bin/az"));
    expect(&root, "linux", &[cli("2.76.0", "nix", None, &inside(&root, &site), "dist-info")]);
}

#[test]
fn windows_scoop_python_org_and_conda() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    let home = root.join("Users/erin");
    // Scoop: apps/<app>/<version> with a `current` link; python.exe beside Lib\site-packages.
    let scoop = home.join("scoop/apps/python/3.12.3");
    write(&scoop.join("python.exe"), "MZ");
    link_tree(&installed(&real, "2.76.0"), &scoop.join("Lib/site-packages"));
    symlink(Path::new("3.12.3"), &home.join("scoop/apps/python/current"));
    // python.org's installer for all users, and the Windows user site of `pip install --user`.
    let program_files = root.join("Program Files/Python312");
    write(&program_files.join("python.exe"), "MZ");
    link_tree(&installed(&real, "2.60.0"), &program_files.join("Lib/site-packages"));
    link_tree(&installed(&real, "2.76.0"), &home.join("AppData/Roaming/Python/Python312/site-packages"));
    // Miniconda for all users, with an environment.
    let conda = root.join("ProgramData/miniconda3");
    write(&conda.join("conda-meta/history"), "");
    write(&conda.join("python.exe"), "MZ");
    let env = conda.join("envs/az");
    write(&env.join("conda-meta/history"), "");
    write(&env.join("python.exe"), "MZ");
    link_tree(&installed(&real, "2.76.0"), &env.join("Lib/site-packages"));
    let user = Some("erin");
    expect(
        &root,
        "windows",
        &[
            cli("2.60.0", "pip", None, r"C:\Program Files\Python312\Lib\site-packages", "dist-info"),
            cli(
                "2.76.0",
                "pip-user",
                user,
                r"C:\Users\erin\AppData\Roaming\Python\Python312\site-packages",
                "dist-info",
            ),
            cli("2.76.0", "pip", user, r"C:\Users\erin\scoop\apps\python\3.12.3\Lib\site-packages", "dist-info"),
            cli("2.76.0", "conda", None, r"C:\ProgramData\miniconda3\envs\az\Lib\site-packages", "dist-info"),
        ],
    );
}

#[test]
fn windows_scoop_shim_runs_the_apps_own_launcher() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    let app = root.join("Users/erin/scoop/apps/azure-cli/2.76.0");
    write(&app.join("python.exe"), "MZ");
    write(
        &app.join("wbin/az.cmd"),
        "@IF EXIST \"%~dp0\\..\\python.exe\" (\r\n\"%~dp0\\..\\python.exe\" -IBm azure.cli %*\r\n)\r\n",
    );
    link_tree(&installed(&real, "2.76.0"), &app.join("Lib/site-packages"));
    symlink(Path::new("2.76.0"), &root.join("Users/erin/scoop/apps/azure-cli/current"));
    write(
        &root.join("Users/erin/scoop/shims/az.cmd"),
        "@rem C:\\Users\\erin\\scoop\\apps\\azure-cli\\current\\wbin\\az.cmd\r\n@\"C:\\Users\\erin\\scoop\\apps\\azure-cli\\current\\wbin\\az.cmd\" %*\r\n",
    );
    let inventory = scan(&root, "windows");
    let cli: Vec<&Value> =
        inventory["installations"].as_array().unwrap().iter().filter(|i| i["product"] == "azure-cli").collect();
    assert_eq!(cli.len(), 1, "{inventory:#}");
    assert_eq!(cli[0]["version"], "2.76.0");
    assert_eq!(cli[0]["user"], "erin");
    // Scoop's own app: updated by Scoop, not by a new ZIP or MSI.
    assert_eq!(cli[0]["source"], "scoop", "{inventory:#}");
    // The shim's `current` link resolves to the version folder the app really lives in.
    assert_eq!(cli[0]["path"], r"C:\Users\erin\scoop\apps\azure-cli\2.76.0");

    // `scoop install azure-cli@2.60.0`: below the baseline, the hint is Scoop's own update.
    let old = root.join("Users/erin/scoop/apps/azure-cli/2.60.0");
    write(&old.join("python.exe"), "MZ");
    write(&old.join("wbin/az.cmd"), "@\"%~dp0\\..\\python.exe\" -IBm azure.cli %*\r\n");
    link_tree(&installed(&real, "2.60.0"), &old.join("Lib/site-packages"));
    std::fs::remove_file(root.join("Users/erin/scoop/apps/azure-cli/current")).unwrap();
    symlink(Path::new("2.60.0"), &root.join("Users/erin/scoop/apps/azure-cli/current"));
    std::fs::remove_dir_all(&app).unwrap();
    assert_check(
        &check_run(&root, "windows", &[]),
        &json!({"exit": 1, "status": "noncompliant", "findings": [{"kind": "below-baseline", "product": "azure-cli",
            "installed": "2.60.0", "path": r"C:\Users\erin\scoop\apps\azure-cli\2.60.0", "source": "scoop",
            "hint_starts_with": "scoop update azure-cli (as erin)"}]}),
    );
}

#[test]
fn a_launcher_that_leads_nowhere_is_an_unknown_version_never_an_all_clear() {
    let Some(real) = real_installs() else { return };
    let tmp = scratch(&real);
    let root = tmp.path().join("root");
    // The install script's dispatch script, its virtualenv deleted.
    write(
        &root.join("home/alice/bin/az"),
        "#!/usr/bin/env bash\n/home/alice/lib/azure-cli/bin/python -m azure.cli \"$@\"\n",
    );
    let inventory = scan(&root, "linux");
    assert_eq!(
        inventory["installations"],
        json!([{"product": "azure-cli", "version": "unknown", "source": "other", "scope": "user", "user": "alice",
            "path": "/home/alice/bin/az", "on_path": false, "default_for_powershell": false, "evidence": "launcher"}])
    );
    assert_eq!(inventory["errors"][0]["path"], "/home/alice/bin/az");
    assert_check(
        &check_run(&root, "linux", &[]),
        &json!({"exit": 1, "status": "noncompliant", "findings": [{"kind": "unknown-version", "product": "azure-cli",
            "installed": "unknown", "path": "/home/alice/bin/az", "source": "other",
            "hint_starts_with": "run `/home/alice/bin/az version` there"}]}),
    );
    // The baseline can make it information.
    let baseline = tmp.path().join("baseline.toml");
    let text = format!("{}\n[findings]\n\"unknown-version\" = \"info\"\n", azver_core::baseline::DEFAULT_BASELINE_TOML);
    std::fs::write(&baseline, text).unwrap();
    let run = check_run(&root, "linux", &["--baseline", baseline.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    // A venv whose azure/cli package lost its metadata: found, version unknown.
    let site = venv(&real, &root.join("home/alice/projects/x/.venv"), "2.76.0");
    std::fs::remove_dir_all(site.join("azure_cli-2.76.0.dist-info")).unwrap();
    std::fs::remove_dir_all(site.join("azure_cli_core-2.76.0.dist-info")).unwrap();
    let inventory = scan(&root, "linux");
    let package = inventory["installations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == inside(&root, &site))
        .unwrap_or_else(|| panic!("{inventory:#}"));
    assert_eq!((&package["version"], &package["evidence"]), (&json!("unknown"), &json!("package-folder")));
}

#[test]
fn azurerm_is_reported_and_names_in_any_script_never_crash_the_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let modules = root.join("home/fatima/.local/share/powershell/Modules");
    // AzureRM 6.13.1's meta-module manifest, as the PowerShell Gallery ships it (trimmed).
    write(
        &modules.join("AzureRM/6.13.1/AzureRM.psd1"),
        "@{\n  ModuleVersion = '6.13.1'\n  GUID = 'b433ab3f-8b4e-4e6b-8f3b-6d5d4b5a4f0a'\n  RequiredModules = @(@{ModuleName = 'AzureRM.Profile'; RequiredVersion = '5.8.2'})\n}\n",
    );
    write(&modules.join("AzureRM.Profile/5.8.2/AzureRM.Profile.psd1"), "@{ ModuleVersion = '5.8.2' }\n");
    write(&modules.join("Az.Accounts/5.2.0/Az.Accounts.psd1"), "@{ ModuleVersion = '5.2.0' }\n");
    // Module folders whose names start with `Az` and a non-ASCII letter (the old byte-3 slice).
    for name in ["Azúcar", "Az€Tools", "Az", "Az.ÄÖÜ"] {
        std::fs::create_dir_all(modules.join(name)).unwrap();
    }
    let inventory = scan(&root, "linux");
    let products: Vec<(&str, &str)> = inventory["installations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["product"].as_str().unwrap(), i["version"].as_str().unwrap()))
        .collect();
    assert_eq!(products, [("Az.Accounts", "5.2.0"), ("AzureRM", "6.13.1"), ("AzureRM.Profile", "5.8.2")]);
    let run = check_run(&root, "linux", &[]);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    let kinds: Vec<(&str, &str, &str)> = got["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["product"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("retired-module", "AzureRM", "info"), ("retired-module", "AzureRM.Profile", "info")]);
    assert_eq!((run.code, &got["status"]), (0, &json!("compliant")), "{}", run.stdout);
}

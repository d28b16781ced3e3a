//! Azure CLI installations: every copy, from every install method, each reported separately.
//!
//! Known locations per OS (see PRODUCT.md, "Where versions live on disk"), every user's home,
//! and every `az` on PATH: a launcher is followed (symlinks, then its script's interpreter or
//! its `wbin`/`Scripts` folder) to the site-packages it runs. Versions come from
//! `azure_cli-*.dist-info/METADATA` or `*.egg-info/PKG-INFO` (`azure-cli-core` as a fallback);
//! Windows MSI/ZIP installs ship neither, so the registry (live Windows only) and then the
//! `.pyc` constant are used. CLI extensions are reported as `azure-cli-extension/<name>`.

use std::collections::HashMap;
use std::path::PathBuf;

use azver_core::{Evidence, InstallSource, Installation, OsFamily, ScanError, ScanErrorKind, Scope};

use super::pymeta::{self, find_distribution};
use super::{Detection, Detector, ScanContext};
use crate::host::{Home, HostPath, HostView};

/// Detects Azure CLI installations and extensions.
#[derive(Debug)]
pub struct AzureCli;

/// Where a copy of the CLI may live, and what we know about it before reading its version.
#[derive(Debug, Clone)]
struct Candidate {
    site_packages: HostPath,
    /// The CLI2 folder of a Windows MSI/ZIP layout (version fallbacks and the reported path).
    windows_root: Option<HostPath>,
    source: InstallSource,
    scope: Scope,
    user: Option<String>,
    on_path: bool,
}

impl Candidate {
    fn system(site_packages: HostPath, source: InstallSource) -> Self {
        Self { site_packages, windows_root: None, source, scope: Scope::System, user: None, on_path: false }
    }

    fn user(site_packages: HostPath, source: InstallSource, home: &Home) -> Self {
        Self { scope: Scope::User, user: Some(home.user.clone()), ..Self::system(site_packages, source) }
    }
}

/// Homebrew prefixes on macOS (Apple silicon, Intel) and Linux.
const BREW_PREFIXES: [&str; 3] = ["/opt/homebrew", "/usr/local", "/home/linuxbrew/.linuxbrew"];

/// The PATH of a Linux host scanned with `--root`, where the process's PATH means nothing.
const DEFAULT_LINUX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The PATH of a macOS host scanned with `--root`: Homebrew's installer has login shells run
/// `brew shellenv`, which puts `/opt/homebrew/bin` (Apple silicon) before `/etc/paths`.
const DEFAULT_MACOS_PATH: &str = "/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

impl Detector for AzureCli {
    fn name(&self) -> &'static str {
        "azure-cli"
    }

    fn detect(&self, cx: &ScanContext<'_>, out: &mut Detection) {
        let host = cx.host;
        let mut candidates = known_locations(host, cx.homes, &mut out.errors);
        candidates.extend(path_launchers(host, cx.homes, &mut out.errors));
        for candidate in dedupe(host, candidates) {
            if let Some(install) = read_candidate(host, &candidate, &mut out.errors) {
                out.installations.push(install);
            }
        }
        extensions(host, cx.homes, &mut out.installations, &mut out.errors);
    }
}

/// `<lib>/python3*/<leaf>` for each Python version folder present.
fn python_dirs(host: &HostView, lib: &HostPath, leaf: &str, errors: &mut Vec<ScanError>) -> Vec<HostPath> {
    match host.subdirs(lib, |name| name.starts_with("python3"), errors) {
        Ok(dirs) => dirs.into_iter().map(|d| d.join(leaf)).collect(),
        Err(e) => {
            errors.push(e.at(lib));
            Vec::new()
        }
    }
}

fn known_locations(host: &HostView, homes: &[Home], errors: &mut Vec<ScanError>) -> Vec<Candidate> {
    let mut out = Vec::new();
    let os = host.os();
    if os == OsFamily::Windows {
        let drive = host.system_root();
        let program_files: Vec<HostPath> = match (host.env("ProgramFiles"), host.env("ProgramFiles(x86)")) {
            (Some(a), Some(b)) => vec![host.path(a), host.path(b)],
            _ => vec![drive.join("Program Files"), drive.join("Program Files (x86)")],
        };
        for pf in &program_files {
            let cli_root = pf.join(r"Microsoft SDKs\Azure\CLI2");
            if host.is_dir(&cli_root) {
                out.push(Candidate {
                    windows_root: Some(cli_root.clone()),
                    ..Candidate::system(cli_root.join(r"Lib\site-packages"), InstallSource::WindowsMsi)
                });
            }
            if let Ok(pythons) = host.subdirs(pf, |n| n.to_ascii_lowercase().starts_with("python3"), errors) {
                out.extend(
                    pythons.into_iter().map(|p| Candidate::system(p.join(r"Lib\site-packages"), InstallSource::Pip)),
                );
            }
        }
        for home in homes {
            let roaming = home.path.join(r"AppData\Roaming\Python");
            if let Ok(dirs) = host.subdirs(&roaming, |n| n.to_ascii_lowercase().starts_with("python3"), errors) {
                out.extend(
                    dirs.into_iter().map(|d| Candidate::user(d.join("site-packages"), InstallSource::PipUser, home)),
                );
            }
            let programs = home.path.join(r"AppData\Local\Programs\Python");
            if let Ok(dirs) = host.subdirs(&programs, |n| n.to_ascii_lowercase().starts_with("python3"), errors) {
                out.extend(
                    dirs.into_iter().map(|d| Candidate::user(d.join(r"Lib\site-packages"), InstallSource::Pip, home)),
                );
            }
            for pipx in [r"pipx\venvs\azure-cli", r".local\pipx\venvs\azure-cli"] {
                let venv = home.path.join(pipx);
                if host.is_dir(&venv) {
                    out.push(Candidate::user(venv.join(r"Lib\site-packages"), InstallSource::Pipx, home));
                }
            }
        }
        return out;
    }

    let system: &[(&str, InstallSource)] = match os {
        OsFamily::Linux => &[
            ("/opt/az/lib", InstallSource::MicrosoftDeb),
            ("/usr/lib64/az/lib", InstallSource::MicrosoftRpm),
            ("/usr/lib", InstallSource::DistroPackage),
            ("/usr/lib64", InstallSource::DistroPackage),
            ("/usr/local/lib", InstallSource::Pip),
        ],
        _ => &[("/usr/local/lib", InstallSource::Pip)],
    };
    for (lib, source) in system {
        let lib = host.path(lib);
        for leaf in ["site-packages", "dist-packages"] {
            out.extend(python_dirs(host, &lib, leaf, errors).into_iter().map(|sp| Candidate::system(sp, *source)));
        }
    }
    if os == OsFamily::Linux {
        // Debian and Ubuntu keep distribution packages in a version-less folder.
        out.push(Candidate::system(host.path("/usr/lib/python3/dist-packages"), InstallSource::DistroPackage));
    }
    if os == OsFamily::Macos {
        let frameworks = host.path("/Library/Frameworks/Python.framework/Versions");
        if let Ok(versions) = host.subdirs(&frameworks, |n| n.starts_with('3'), errors) {
            for version in versions {
                let lib = version.join("lib");
                out.extend(
                    python_dirs(host, &lib, "site-packages", errors)
                        .into_iter()
                        .map(|sp| Candidate::system(sp, InstallSource::Pip)),
                );
            }
        }
    }
    for prefix in BREW_PREFIXES {
        let formula = host.path(prefix).join("Cellar/azure-cli");
        match host.subdirs(&formula, |_| true, errors) {
            Ok(kegs) => {
                for keg in kegs {
                    let lib = keg.join("libexec/lib");
                    out.extend(
                        python_dirs(host, &lib, "site-packages", errors)
                            .into_iter()
                            .map(|sp| Candidate::system(sp, InstallSource::Homebrew)),
                    );
                }
            }
            Err(e) => errors.push(e.at(&formula)),
        }
    }
    for home in homes {
        let local_lib = home.path.join(".local/lib");
        out.extend(
            python_dirs(host, &local_lib, "site-packages", errors)
                .into_iter()
                .map(|sp| Candidate::user(sp, InstallSource::PipUser, home)),
        );
        if os == OsFamily::Macos {
            let user_python = home.path.join("Library/Python");
            if let Ok(versions) = host.subdirs(&user_python, |n| n.starts_with('3'), errors) {
                out.extend(
                    versions
                        .into_iter()
                        .map(|v| Candidate::user(v.join("lib/python/site-packages"), InstallSource::PipUser, home)),
                );
            }
        }
        for pipx in [".local/pipx/venvs/azure-cli/lib", ".local/share/pipx/venvs/azure-cli/lib"] {
            let lib = home.path.join(pipx);
            out.extend(
                python_dirs(host, &lib, "site-packages", errors)
                    .into_iter()
                    .map(|sp| Candidate::user(sp, InstallSource::Pipx, home)),
            );
        }
    }
    out
}

/// Every `az` on PATH, in PATH order; the first one found is the one a shell runs.
fn path_launchers(host: &HostView, homes: &[Home], errors: &mut Vec<ScanError>) -> Vec<Candidate> {
    let windows = host.os() == OsFamily::Windows;
    let path_var = match host.env("PATH") {
        Some(p) => p.to_owned(),
        None if windows => format!(r"{}\Microsoft SDKs\Azure\CLI2\wbin", host.system_root().join("Program Files")),
        None if host.os() == OsFamily::Macos => DEFAULT_MACOS_PATH.to_owned(),
        None => DEFAULT_LINUX_PATH.to_owned(),
    };
    let names: &[&str] = if windows { &["az.cmd", "az.bat", "az.exe"] } else { &["az"] };
    let mut out = Vec::new();
    for dir in path_var.split(if windows { ';' } else { ':' }).filter(|d| !d.trim().is_empty()) {
        let dir = host.path(dir.trim().trim_matches('"'));
        for name in names {
            let launcher = dir.join(name);
            match host.kind(&launcher) {
                Ok(crate::host::Kind::File) => {}
                Ok(_) => continue,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    errors.push(e.at(&launcher));
                    continue;
                }
            }
            let Some((site_packages, windows_root)) = follow_launcher(host, &launcher, errors) else { continue };
            let on_path = out.is_empty();
            let (source, scope, user) = classify(host, &site_packages, windows_root.as_ref(), homes);
            out.push(Candidate { site_packages, windows_root, source, scope, user, on_path });
        }
    }
    out
}

/// Follows an `az` launcher to the site-packages folder it runs.
fn follow_launcher(
    host: &HostView,
    launcher: &HostPath,
    errors: &mut Vec<ScanError>,
) -> Option<(HostPath, Option<HostPath>)> {
    let target = match host.resolve(launcher) {
        Ok((_, shown)) => shown,
        Err(e) => {
            errors.push(e.at(launcher));
            return None;
        }
    };
    let folder = target.parent()?;
    if host.os() == OsFamily::Windows {
        let prefix = folder.parent()?;
        return if folder.file_name().eq_ignore_ascii_case("wbin") {
            Some((prefix.join(r"Lib\site-packages"), Some(prefix)))
        } else if folder.file_name().eq_ignore_ascii_case("Scripts") {
            Some((prefix.join(r"Lib\site-packages"), None))
        } else {
            None
        };
    }
    let head = match host.read_head(&target, 4096) {
        Ok(head) => head,
        Err(e) => {
            errors.push(e.at(&target));
            return None;
        }
    };
    // Microsoft's launchers name their paths relative to `$bin_dir`, the folder the launcher was
    // run from (bash's `dirname $BASH_SOURCE`, links not followed): the PATH folder.
    let bin_dir = launcher.parent()?;
    let script = with_bin_dir(&String::from_utf8_lossy(&head), bin_dir.as_str());
    if let Some(site_packages) = launcher_pythonpath(&script) {
        // Microsoft's rpm runs the system python3 with PYTHONPATH set to its own site-packages.
        let site_packages = host.path(&site_packages);
        if has_cli_metadata(host, &site_packages) {
            return Some((site_packages, None));
        }
    }
    let Some(python) = interpreter(&script) else {
        errors.push(ScanError {
            path: launcher.to_string(),
            kind: ScanErrorKind::MalformedMetadata,
            message: "az launcher names no Python interpreter or PYTHONPATH that this scan can follow".into(),
        });
        return None;
    };
    let prefix = host.path(&python).parent()?.parent()?;
    let mut options = Vec::new();
    if prefix.as_str() == "/usr" {
        // A system interpreter: pip installs under the launcher's own prefix (/usr/local),
        // the distribution's package under /usr/lib/python3/dist-packages.
        let launcher_prefix = folder.parent()?;
        for base in [launcher_prefix, prefix.clone()] {
            for leaf in ["dist-packages", "site-packages"] {
                options.extend(python_dirs(host, &base.join("lib"), leaf, errors));
            }
        }
        options.push(host.path("/usr/lib/python3/dist-packages"));
    } else {
        for leaf in ["site-packages", "dist-packages"] {
            options.extend(python_dirs(host, &prefix.join("lib"), leaf, errors));
        }
    }
    let found = options.into_iter().find(|sp| has_cli_metadata(host, sp));
    if found.is_none() {
        errors.push(ScanError {
            path: launcher.to_string(),
            kind: ScanErrorKind::MalformedMetadata,
            message: format!("az launcher runs {python}, but no azure-cli metadata was found under {prefix}"),
        });
    }
    found.map(|sp| (sp, None))
}

/// Replaces `$bin_dir` (quoted or not) with the launcher's folder and folds `..` in the paths
/// that result, so `"$bin_dir"/../../opt/az/bin/python3` in `/usr/bin/az` reads
/// `/opt/az/bin/python3`.
fn with_bin_dir(script: &str, bin_dir: &str) -> String {
    let bin_dir = bin_dir.trim_end_matches('/');
    let replaced = script.replace("\"$bin_dir\"", bin_dir).replace("${bin_dir}", bin_dir).replace("$bin_dir", bin_dir);
    if bin_dir.is_empty() || !replaced.contains(&format!("{bin_dir}/..")) {
        return replaced;
    }
    let mut out = String::with_capacity(replaced.len());
    let mut rest = replaced.as_str();
    while let Some(at) = rest.find(bin_dir) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail.find(|c: char| c.is_whitespace() || c == '"' || c == '\'').unwrap_or(tail.len());
        out.push_str(&fold_dots(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `/usr/bin/../lib64/az` → `/usr/lib64/az` (lexically; `..` never climbs above `/`).
fn fold_dots(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The first absolute `site-packages` folder a shell launcher puts in `PYTHONPATH=`.
fn launcher_pythonpath(script: &str) -> Option<String> {
    script.lines().filter(|l| !l.trim_start().starts_with('#')).find_map(|line| {
        let at = line.find("PYTHONPATH=")?;
        let before = line[..at].chars().last();
        if before.is_some_and(|c| !c.is_whitespace() && c != ';') {
            return None;
        }
        let value = &line[at + "PYTHONPATH=".len()..];
        let value = value.trim_start_matches(['"', '\'']);
        let end = value.find(|c: char| c.is_whitespace() || c == '"' || c == '\'').unwrap_or(value.len());
        value[..end]
            .split(':')
            .find(|p| p.starts_with('/') && p.trim_end_matches('/').ends_with("-packages"))
            .map(|p| p.trim_end_matches('/').to_owned())
    })
}

/// The Python interpreter an `az` launcher runs: its shebang, or the first `.../bin/python*`
/// path in a shell launcher (Microsoft's packages, Homebrew).
fn interpreter(script: &str) -> Option<String> {
    let is_python = |token: &str| {
        let name = token.rsplit('/').next().unwrap_or(token);
        token.starts_with('/') && token.contains("/bin/") && name.starts_with("python") && !name.contains(['$', '*'])
    };
    if let Some(first) = script.lines().next().and_then(|l| l.strip_prefix("#!")) {
        let interpreter = first.split_whitespace().next()?;
        if is_python(interpreter) {
            return Some(interpreter.to_owned());
        }
    }
    script
        .split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '=')
        .find(|token| is_python(token))
        .map(str::to_owned)
}

fn has_cli_metadata(host: &HostView, site_packages: &HostPath) -> bool {
    host.list(site_packages).is_ok_and(|names| {
        names.iter().any(|n| {
            let lower = n.to_ascii_lowercase().replace('-', "_");
            (lower.starts_with("azure_cli_") && lower[10..].starts_with(|c: char| c.is_ascii_digit())
                || lower.starts_with("azure_cli_core_"))
                && (lower.ends_with(".dist_info") || lower.ends_with(".egg_info"))
        })
    })
}

/// Source, scope and owner of a copy found only through PATH.
fn classify(
    host: &HostView,
    site_packages: &HostPath,
    windows_root: Option<&HostPath>,
    homes: &[Home],
) -> (InstallSource, Scope, Option<String>) {
    let text = site_packages.as_str().replace('\\', "/");
    let source = if windows_root.is_some() {
        InstallSource::WindowsZip
    } else if text.contains("/pipx/venvs/") {
        InstallSource::Pipx
    } else if text.contains("/Cellar/azure-cli/") {
        InstallSource::Homebrew
    } else if text.starts_with("/opt/az/") {
        InstallSource::MicrosoftDeb
    } else if text.starts_with("/usr/lib64/az/") {
        InstallSource::MicrosoftRpm
    } else if text.starts_with("/usr/lib/python3") && host.os() == OsFamily::Linux {
        InstallSource::DistroPackage
    } else {
        InstallSource::Pip
    };
    match homes.iter().find(|h| site_packages.starts_with(&h.path)) {
        Some(home) => (source, Scope::User, Some(home.user.clone())),
        None => (source, Scope::System, None),
    }
}

/// Drops candidates that are the same folder reached twice (a known location and its PATH
/// launcher, or a symlinked prefix), keeping the first and its more specific source.
fn dedupe(host: &HostView, candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut seen: HashMap<PathBuf, usize> = HashMap::new();
    let mut out: Vec<Candidate> = Vec::new();
    for candidate in candidates {
        let key = match host.resolve(&candidate.site_packages) {
            Ok((real, _)) => real,
            Err(_) => PathBuf::from(candidate.site_packages.as_str()),
        };
        match seen.get(&key) {
            Some(&index) => out[index].on_path |= candidate.on_path,
            None => {
                seen.insert(key, out.len());
                out.push(candidate);
            }
        }
    }
    out
}

fn read_candidate(host: &HostView, candidate: &Candidate, errors: &mut Vec<ScanError>) -> Option<Installation> {
    let found = find_distribution(host, &candidate.site_packages, "azure-cli", errors)
        .or_else(|| find_distribution(host, &candidate.site_packages, "azure-cli-core", errors));
    let (version, evidence) = match (found, &candidate.windows_root) {
        (Some(dist), _) => (dist.version, dist.evidence),
        (None, Some(root)) => windows_version(host, root, errors)?,
        (None, None) => return None,
    };
    Some(Installation {
        product: azver_core::AZURE_CLI.to_owned(),
        version,
        source: candidate.source,
        scope: candidate.scope,
        user: candidate.user.clone(),
        path: candidate.windows_root.as_ref().unwrap_or(&candidate.site_packages).to_string(),
        on_path: candidate.on_path,
        default_for_powershell: false,
        evidence,
    })
}

/// The version of an MSI/ZIP layout: the registry on a live Windows host, else the `.pyc`.
fn windows_version(host: &HostView, root: &HostPath, errors: &mut Vec<ScanError>) -> Option<(String, Evidence)> {
    #[cfg(windows)]
    if !host.is_rooted()
        && let Some(version) = super::windows_registry::cli_version_for(root.as_str())
    {
        return Some((version, Evidence::Registry));
    }
    let core = root.join(r"Lib\site-packages\azure\cli\core");
    let mut tried = vec![core.join("__init__.pyc")];
    if let Ok(cached) = host.list(&core.join("__pycache__")) {
        tried.extend(
            cached
                .iter()
                .filter(|n| n.starts_with("__init__.") && n.ends_with(".pyc"))
                .map(|n| core.join("__pycache__").join(n)),
        );
    }
    for pyc in &tried {
        match host.read(pyc) {
            Ok(bytes) => {
                if let Some(version) = super::pyc::version_from_pyc(&bytes) {
                    return Some((version, Evidence::Pyc));
                }
                errors.push(ScanError {
                    path: pyc.to_string(),
                    kind: ScanErrorKind::MalformedMetadata,
                    message: "no __version__ constant in this .pyc".into(),
                });
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => errors.push(e.at(pyc)),
        }
    }
    errors.push(ScanError {
        path: root.to_string(),
        kind: ScanErrorKind::MalformedMetadata,
        message: "Azure CLI folder without a readable version (no registry entry, dist-info or azure\\cli\\core\\__init__.pyc)".into(),
    });
    None
}

/// CLI extensions: `<config dir>/cliextensions/<name>/` for every home (and `AZURE_CONFIG_DIR`,
/// `AZURE_EXTENSION_DIR` of a live agent), and `<site-packages>/azure-cli-extensions/<name>/`
/// of each system install.
fn extensions(host: &HostView, homes: &[Home], installs: &mut Vec<Installation>, errors: &mut Vec<ScanError>) {
    let mut dirs: Vec<(HostPath, Scope, Option<String>)> = Vec::new();
    for home in homes {
        dirs.push((home.path.join(".azure").join("cliextensions"), Scope::User, Some(home.user.clone())));
    }
    if let Some(dir) = host.env("AZURE_EXTENSION_DIR") {
        dirs.push((host.path(dir), Scope::User, host.env("USER").or(host.env("USERNAME")).map(str::to_owned)));
    }
    if let Some(dir) = host.env("AZURE_CONFIG_DIR") {
        dirs.push((
            host.path(dir).join("cliextensions"),
            Scope::User,
            host.env("USER").or(host.env("USERNAME")).map(str::to_owned),
        ));
    }
    if host.os() == OsFamily::Windows {
        // Windows hosted runners set a machine-wide AZURE_CONFIG_DIR of C:\azureCli.
        dirs.push((host.system_root().join(r"azureCli\cliextensions"), Scope::System, None));
    }
    let system_sites: Vec<HostPath> = installs
        .iter()
        .filter(|i| i.product == azver_core::AZURE_CLI && i.scope == Scope::System)
        .map(|i| {
            if host.os() == OsFamily::Windows {
                host.path(&i.path).join(r"Lib\site-packages")
            } else {
                host.path(&i.path)
            }
        })
        .collect();
    for site in system_sites {
        dirs.push((site.join("azure-cli-extensions"), Scope::System, None));
    }
    let mut seen = std::collections::HashSet::new();
    for (dir, scope, user) in dirs {
        let Ok((real, _)) = host.resolve(&dir) else { continue };
        if !seen.insert(real) {
            continue;
        }
        let extensions = match host.subdirs(&dir, |_| true, errors) {
            Ok(e) => e,
            Err(e) => {
                errors.push(e.at(&dir));
                continue;
            }
        };
        for ext in extensions {
            let Ok(names) = host.list(&ext) else { continue };
            let Some((name, evidence)) = names.iter().find_map(|n| {
                let lower = n.to_ascii_lowercase();
                if lower.ends_with(".dist-info") {
                    Some((n, Evidence::DistInfo))
                } else if lower.ends_with(".egg-info") {
                    Some((n, Evidence::EggInfo))
                } else {
                    None
                }
            }) else {
                continue;
            };
            let Some(dist) = pymeta::read_metadata(host, &ext.join(name), evidence, errors) else { continue };
            installs.push(Installation {
                product: format!("azure-cli-extension/{}", ext.file_name()),
                version: dist.version,
                source: InstallSource::Other,
                scope,
                user: user.clone(),
                path: ext.to_string(),
                on_path: false,
                default_for_powershell: false,
                evidence: dist.evidence,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_interpreter_of_each_launcher_kind() {
        let debian =
            "#!/usr/bin/python3\n# EASY-INSTALL-ENTRY-SCRIPT\nimport os, runpy\nos.environ['AZ_INSTALLER'] = 'DEB'\n";
        assert_eq!(interpreter(debian).as_deref(), Some("/usr/bin/python3"));
        let microsoft = "#!/usr/bin/env bash\nbin_dir=`cd \"$(dirname \"$BASH_SOURCE[0]\")\"; pwd`\nAZ_INSTALLER=DEB /opt/az/bin/python3 -Im azure.cli \"$@\"\n";
        assert_eq!(interpreter(microsoft).as_deref(), Some("/opt/az/bin/python3"));
        let venv = "#!/home/a/.local/pipx/venvs/azure-cli/bin/python\n# -*- coding: utf-8 -*-\n";
        assert_eq!(interpreter(venv).as_deref(), Some("/home/a/.local/pipx/venvs/azure-cli/bin/python"));
        let brew =
            "#!/bin/bash\nexec \"/opt/homebrew/Cellar/azure-cli/2.76.0_1/libexec/bin/python\" -m azure.cli \"$@\"\n";
        assert_eq!(interpreter(brew).as_deref(), Some("/opt/homebrew/Cellar/azure-cli/2.76.0_1/libexec/bin/python"));
        assert_eq!(interpreter("#!/usr/bin/env python3\nprint(1)\n"), None);
        // Microsoft's deb launcher, as azure-cli's release scripts write it: relative to $bin_dir.
        let deb = "#!/usr/bin/env bash\nbin_dir=`cd \"$(dirname \"$BASH_SOURCE[0]\")\"; pwd`\nAZ_INSTALLER=DEB \"$bin_dir\"/../../opt/az/bin/python3 -Im azure.cli \"$@\"\n";
        assert_eq!(interpreter(&with_bin_dir(deb, "/usr/bin")).as_deref(), Some("/opt/az/bin/python3"));
        assert_eq!(interpreter("\x7fELF\x02\x01"), None);
    }

    #[test]
    fn finds_the_pythonpath_of_microsofts_rpm_launcher() {
        let rpm = "#!/usr/bin/env bash\nbin_dir=`cd \"$(dirname \"$BASH_SOURCE[0]\")\"; pwd`\npython_cmd=python3\nif command -v python3.9 &>/dev/null; then python_cmd=python3.9; fi\nAZ_INSTALLER=RPM PYTHONPATH=\"$bin_dir/../lib64/az/lib/python3.9/site-packages\" $python_cmd -sm azure.cli \"$@\"\n";
        let script = with_bin_dir(rpm, "/usr/bin");
        assert_eq!(launcher_pythonpath(&script).as_deref(), Some("/usr/lib64/az/lib/python3.9/site-packages"));
        assert_eq!(interpreter(&script), None);
        let old = "#!/usr/bin/env bash\nAZ_INSTALLER=RPM PYTHONPATH=/usr/lib64/az/lib/python3.6/site-packages /usr/bin/python3 -sm azure.cli \"$@\"";
        assert_eq!(launcher_pythonpath(old).as_deref(), Some("/usr/lib64/az/lib/python3.6/site-packages"));
        let debian = "#!/usr/bin/python3\nos.environ['PYTHONPATH'] = dir\nos.environ['AZ_INSTALLER'] = 'DEB'\n";
        assert_eq!(launcher_pythonpath(debian), None);
        assert_eq!(fold_dots("/usr/bin/../../../opt/./az"), "/opt/az");
    }
}

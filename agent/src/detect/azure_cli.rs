//! Azure CLI installations: every copy, from every install method, each reported separately.
//!
//! Found four ways, in this order (a copy reached twice is reported once, with the first way's
//! source): the known locations per OS (see PRODUCT.md, "Where versions live on disk"); every
//! `az` on PATH; every `az` in the system's and each home's bin folders; and every Python
//! environment discovered under the homes and the folders where tools keep them
//! ([`super::pyenv`]). A launcher is followed (symlinks, then what its script runs, see
//! [`super::launcher`]) to the site-packages it runs.
//!
//! Versions come from `azure_cli-*.dist-info/METADATA` or `*.egg-info/PKG-INFO`
//! (`azure-cli-core` as a fallback); Windows MSI/ZIP installs ship neither, so the registry
//! (live Windows only) and then the `.pyc` constant are used. A launcher or an `azure/cli`
//! package whose version cannot be read is still an installation, with version
//! [`azver_core::UNKNOWN_VERSION`]: never a silent all-clear. CLI extensions are reported as
//! `azure-cli-extension/<name>`.

#![deny(clippy::string_slice, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use azver_core::{Evidence, InstallSource, Installation, OsFamily, ScanError, ScanErrorKind, Scope, UNKNOWN_VERSION};

use super::launcher;
use super::pyenv::{self, Budget, EnvKind};
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
    /// The `az` launcher this copy was reached through, if any.
    launcher: Option<HostPath>,
    /// Why the launcher could not be followed to an environment (`site_packages` is then the
    /// launcher itself): an installation of unknown version.
    unread: Option<String>,
}

impl Candidate {
    fn system(site_packages: HostPath, source: InstallSource) -> Self {
        Self {
            site_packages,
            windows_root: None,
            source,
            scope: Scope::System,
            user: None,
            on_path: false,
            launcher: None,
            unread: None,
        }
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
        // A launcher reached twice (on PATH and in a bin folder, `/bin` linked to `/usr/bin`) is
        // followed once.
        let mut seen = HashSet::new();
        candidates.extend(path_launchers(host, cx.homes, &mut seen, &mut out.errors));
        candidates.extend(bin_launchers(host, cx.homes, &mut seen, &mut out.errors));
        candidates.extend(environment_candidates(host, cx.homes, &mut out.errors));
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
fn path_launchers(
    host: &HostView,
    homes: &[Home],
    seen: &mut HashSet<PathBuf>,
    errors: &mut Vec<ScanError>,
) -> Vec<Candidate> {
    let windows = host.os() == OsFamily::Windows;
    let path_var = match host.env("PATH") {
        Some(p) => p.to_owned(),
        None if windows => format!(r"{}\Microsoft SDKs\Azure\CLI2\wbin", host.system_root().join("Program Files")),
        None if host.os() == OsFamily::Macos => DEFAULT_MACOS_PATH.to_owned(),
        None => DEFAULT_LINUX_PATH.to_owned(),
    };
    let dirs: Vec<HostPath> = path_var
        .split(if windows { ';' } else { ':' })
        .map(|d| d.trim().trim_matches('"'))
        .filter(|d| !d.is_empty())
        .map(|d| host.path(d))
        .collect();
    let mut out = launchers_in(host, &dirs, homes, seen, errors);
    if let Some(first) = out.first_mut() {
        first.on_path = true;
    }
    out
}

/// Every `az` in the bin folders where launchers live whether or not they are on this PATH:
/// the system's, Homebrew's, Nix profiles', and each home's (`~/bin`, where Microsoft's install
/// script puts its dispatch script, `~/.local/bin`, `~/.nix-profile/bin`, Scoop's shims).
fn bin_launchers(
    host: &HostView,
    homes: &[Home],
    seen: &mut HashSet<PathBuf>,
    errors: &mut Vec<ScanError>,
) -> Vec<Candidate> {
    let mut dirs: Vec<HostPath> = Vec::new();
    if host.os() == OsFamily::Windows {
        let drive = host.system_root();
        dirs.push(drive.join(r"ProgramData\scoop\shims"));
        dirs.push(drive.join(r"ProgramData\chocolatey\bin"));
        for home in homes {
            for sub in [r"scoop\shims", r"AppData\Local\Microsoft\WinGet\Links", r".local\bin", "bin"] {
                dirs.push(home.path.join(sub));
            }
        }
    } else {
        for dir in SYSTEM_BINS {
            dirs.push(host.path(dir));
        }
        // NixOS keeps one profile per user under /etc/profiles/per-user.
        let per_user = host.path("/etc/profiles/per-user");
        if let Ok(users) = host.subdirs(&per_user, |_| true, errors) {
            dirs.extend(users.into_iter().map(|u| u.join("bin")));
        }
        for home in homes {
            for sub in HOME_BINS {
                dirs.push(home.path.join(sub));
            }
        }
    }
    launchers_in(host, &dirs, homes, seen, errors)
}

/// System folders that hold `az` launchers on Linux and macOS.
const SYSTEM_BINS: [&str; 9] = [
    "/usr/bin",
    "/usr/local/bin",
    "/bin",
    "/opt/homebrew/bin",
    "/home/linuxbrew/.linuxbrew/bin",
    "/snap/bin",
    "/nix/var/nix/profiles/default/bin",
    "/run/current-system/sw/bin",
    "/opt/bin",
];

/// Bin folders under a Linux or macOS home.
const HOME_BINS: [&str; 5] = ["bin", ".local/bin", ".nix-profile/bin", ".local/state/nix/profiles/profile/bin", ".bin"];

/// The `az` launchers in `dirs`, each followed to the copy it runs.
fn launchers_in(
    host: &HostView,
    dirs: &[HostPath],
    homes: &[Home],
    seen: &mut HashSet<PathBuf>,
    errors: &mut Vec<ScanError>,
) -> Vec<Candidate> {
    let windows = host.os() == OsFamily::Windows;
    let names: &[&str] = if windows { &["az.cmd", "az.bat", "az.exe"] } else { &["az"] };
    let mut out = Vec::new();
    for dir in dirs {
        for name in names {
            let launcher = dir.join(name);
            match host.kind(&launcher) {
                Ok(crate::host::Kind::File) => {}
                Ok(_) => continue,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    if seen.insert(PathBuf::from(launcher.as_str())) {
                        errors.push(e.at(&launcher));
                    }
                    continue;
                }
            }
            if let Ok((real, _)) = host.resolve(&launcher)
                && !seen.insert(real)
            {
                continue;
            }
            let (site_packages, windows_root, unread) = match follow_launcher(host, &launcher, 0) {
                Followed::Site { site_packages, windows_root } => (site_packages, windows_root, None),
                Followed::Shim => continue,
                Followed::Unknown(reason) => {
                    errors.push(ScanError {
                        path: launcher.to_string(),
                        kind: ScanErrorKind::MalformedMetadata,
                        message: reason.clone(),
                    });
                    (launcher.clone(), None, Some(reason))
                }
            };
            let (mut source, scope, user) = classify(host, &site_packages, windows_root.as_ref(), None, homes);
            if unread.is_some() {
                source = InstallSource::Other;
            }
            out.push(Candidate {
                site_packages,
                windows_root,
                source,
                scope,
                user,
                on_path: false,
                launcher: Some(launcher),
                unread,
            });
        }
    }
    out
}

/// Where a launcher leads.
enum Followed {
    /// The site-packages folder it runs (and the CLI2-style root of a Windows MSI/ZIP layout).
    Site { site_packages: HostPath, windows_root: Option<HostPath> },
    /// A version manager's shim; its environments are found in the manager's folders.
    Shim,
    /// Nowhere this scan can read; why.
    Unknown(String),
}

/// Launchers that run launchers (Nix's wrapper, Scoop's shims) are followed this many times.
const MAX_LAUNCHER_HOPS: usize = 4;

/// Follows an `az` launcher to the site-packages folder it runs.
fn follow_launcher(host: &HostView, launcher: &HostPath, hops: usize) -> Followed {
    let windows = host.os() == OsFamily::Windows;
    let target = match host.resolve(launcher) {
        Ok((_, shown)) => shown,
        Err(e) => return Followed::Unknown(format!("az launcher cannot be followed: {}", e.message)),
    };
    let Some(folder) = target.parent() else {
        return Followed::Unknown("az launcher at the root of the file system".into());
    };
    if windows && let Some(prefix) = folder.parent() {
        if folder.file_name().eq_ignore_ascii_case("wbin") {
            return Followed::Site { site_packages: prefix.join(r"Lib\site-packages"), windows_root: Some(prefix) };
        }
        if folder.file_name().eq_ignore_ascii_case("Scripts") && has_cli(host, &prefix.join(r"Lib\site-packages")) {
            return Followed::Site { site_packages: prefix.join(r"Lib\site-packages"), windows_root: None };
        }
    }
    let head = match host.read_head(&target, launcher::MAX_LAUNCHER_BYTES) {
        Ok(head) => head,
        Err(e) => return Followed::Unknown(format!("az launcher cannot be read: {}", e.message)),
    };
    // Microsoft's launchers name their paths relative to `$bin_dir`, the folder the launcher was
    // run from (bash's `dirname $BASH_SOURCE`, links not followed); `%~dp0` is the batch file's.
    let bin_dir = if windows { folder.clone() } else { launcher.parent().unwrap_or_else(|| folder.clone()) };
    let script = launcher::read(&String::from_utf8_lossy(&head), bin_dir.as_str(), windows);
    if script.shim {
        return Followed::Shim;
    }
    for site in &script.site_packages {
        let site = host.path(site);
        if has_cli(host, &site) {
            return Followed::Site { site_packages: site, windows_root: None };
        }
    }
    if hops < MAX_LAUNCHER_HOPS {
        for next in &script.runs {
            let next = host.path(next);
            if next == target || next == *launcher {
                continue;
            }
            if let found @ Followed::Site { .. } = follow_launcher(host, &next, hops + 1) {
                return found;
            }
        }
    }
    let mut looked = Vec::new();
    for python in &script.interpreters {
        let python = host.path(python);
        let options = interpreter_sites(host, &python, &folder);
        if let Some(site_packages) = options.iter().find(|sp| has_cli(host, sp)) {
            let windows_root = (windows
                && host.is_dir(&python.parent().unwrap_or_else(|| folder.clone()).join("wbin")))
            .then(|| python.parent())
            .flatten();
            return Followed::Site { site_packages: site_packages.clone(), windows_root };
        }
        looked.push(python.to_string());
    }
    if looked.is_empty() && script.site_packages.is_empty() {
        Followed::Unknown("az launcher names no Python interpreter or site-packages that this scan can follow".into())
    } else {
        let named: Vec<String> = looked.into_iter().chain(script.site_packages).collect();
        Followed::Unknown(format!("az launcher runs {}, but no azure-cli was found there", named.join(", ")))
    }
}

/// The site-packages folders an interpreter would load azure-cli from: its prefix's, and, for a
/// virtual environment whose `pyvenv.cfg` includes the system site-packages, its base
/// interpreter's (a `python -m venv --system-site-packages` using the distribution's or pyenv's
/// azure-cli). Where `pyvenv.cfg` names the Python version, that version's folders come first.
fn interpreter_sites(host: &HostView, python: &HostPath, launcher_folder: &HostPath) -> Vec<HostPath> {
    let mut errors = Vec::new();
    let Some(bin) = python.parent() else { return Vec::new() };
    if host.os() == OsFamily::Windows {
        // `<prefix>\python.exe` (python.org, conda, the MSI) or `<venv>\Scripts\python.exe`.
        let Some(prefix) = (if bin.file_name().eq_ignore_ascii_case("Scripts") { bin.parent() } else { Some(bin) })
        else {
            return Vec::new();
        };
        let mut options = vec![prefix.join(r"Lib\site-packages")];
        if let Some(config) = pyenv::venv_config(host, &prefix)
            && config.system_site_packages
            && let Some(base) = config.base_prefix(host)
        {
            options.push(base.join(r"Lib\site-packages"));
        }
        return options;
    }
    let Some(prefix) = bin.parent() else { return Vec::new() };
    let venv = pyenv::venv_config(host, &prefix);
    let version = venv.as_ref().and_then(pyenv::VenvConfig::lib_dir_name);
    let mut options = Vec::new();
    if prefix.as_str() == "/usr" {
        // A system interpreter: pip installs under the launcher's own prefix (/usr/local,
        // ~/.local), the distribution's package under /usr/lib/python3/dist-packages.
        options.extend(system_sites(host, launcher_folder.parent(), None, &mut errors));
    } else {
        for leaf in ["site-packages", "dist-packages"] {
            options.extend(python_dirs(host, &prefix.join("lib"), leaf, &mut errors));
        }
        // The version the environment runs first: a `lib/python3.11` left behind by an in-place
        // upgrade to 3.12 is not what it loads.
        if let Some(wanted) = &version {
            options.sort_by_key(|sp| sp.parent().is_none_or(|lib| lib.file_name() != wanted.as_str()));
        }
    }
    if let Some(config) = &venv
        && config.system_site_packages
        && let Some(base) = config.base_prefix(host)
    {
        if base.as_str() == "/usr" {
            options.extend(system_sites(host, None, version.as_deref(), &mut errors));
        } else {
            let mut base_sites = Vec::new();
            for leaf in ["site-packages", "dist-packages"] {
                base_sites.extend(python_dirs(host, &base.join("lib"), leaf, &mut errors));
            }
            options.extend(of_version(base_sites, version.as_deref()));
        }
    }
    options
}

/// What the system interpreter `/usr/bin/python3` loads: `<extra>/lib/python3.X/*-packages`
/// (pip's prefix of the launcher: `/usr/local`, `~/.local`), `/usr/lib/python3.X/*-packages`,
/// and Debian's version-less `/usr/lib/python3/dist-packages`; only version `python3.X` where
/// known.
fn system_sites(
    host: &HostView,
    extra: Option<HostPath>,
    version: Option<&str>,
    errors: &mut Vec<ScanError>,
) -> Vec<HostPath> {
    let mut options = Vec::new();
    for base in extra.into_iter().chain([host.path("/usr")]) {
        let mut found = Vec::new();
        for leaf in ["dist-packages", "site-packages"] {
            found.extend(python_dirs(host, &base.join("lib"), leaf, errors));
        }
        options.extend(of_version(found, version));
    }
    options.push(host.path("/usr/lib/python3/dist-packages"));
    options
}

/// The folders of `lib/<version>` among `sites`, or all of them when the version is unknown or
/// has none.
fn of_version(sites: Vec<HostPath>, version: Option<&str>) -> Vec<HostPath> {
    let Some(wanted) = version else { return sites };
    let matches = |sp: &HostPath| sp.parent().is_some_and(|lib| lib.file_name() == wanted);
    if sites.iter().any(matches) { sites.into_iter().filter(matches).collect() } else { sites }
}

/// True when `site_packages` holds the CLI: its metadata, or its `azure/cli` package.
fn has_cli(host: &HostView, site_packages: &HostPath) -> bool {
    let listed = host.list(site_packages).is_ok_and(|names| {
        names.iter().any(|n| {
            let lower = n.to_ascii_lowercase().replace('-', "_");
            let versioned_cli =
                lower.strip_prefix("azure_cli_").is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
            (versioned_cli || lower.starts_with("azure_cli_core_"))
                && (lower.ends_with(".dist_info") || lower.ends_with(".egg_info"))
        })
    });
    listed || host.is_dir(&site_packages.join("azure").join("cli"))
}

/// Every Python environment under the homes (depth-limited) and in the folders where tools keep
/// them, as candidates; see [`super::pyenv`].
fn environment_candidates(host: &HostView, homes: &[Home], errors: &mut Vec<ScanError>) -> Vec<Candidate> {
    let windows = host.os() == OsFamily::Windows;
    // (start folder, budget, folders skipped right below it)
    let mut starts: Vec<(HostPath, Budget, &[&str])> = Vec::new();
    for home in homes {
        starts.push((home.path.clone(), Budget::HOME, &[]));
        for sub in HOME_TOOL_ROOTS {
            starts.push((home.path.join(sub), Budget::TOOL_ROOT, &[]));
        }
    }
    // A live agent also looks where the environment points.
    for (var, sub) in ENV_TOOL_ROOTS {
        if let Some(dir) = host.env(var) {
            starts.push((host.path(dir).join(sub), Budget::TOOL_ROOT, &[]));
        }
    }
    if windows {
        starts.push((host.system_root(), Budget::TOOL_ROOT, &WINDOWS_ROOT_SKIP));
    } else {
        for dir in SYSTEM_TOOL_ROOTS {
            starts.push((host.path(dir), Budget::TOOL_ROOT, &[]));
        }
    }
    let mut out = Vec::new();
    for (start, budget, skip) in starts {
        for env in pyenv::environments(host, &start, budget, skip, errors) {
            // A venv with folders for several Python versions loads only its own version's.
            let sites = match env.kind {
                EnvKind::Venv if env.site_packages.len() > 1 => match pyenv::venv_config(host, &env.prefix) {
                    Some(config) => pyenv::loaded_site_packages(&config, env.site_packages),
                    None => env.site_packages,
                },
                _ => env.site_packages,
            };
            for site_packages in sites {
                if !has_cli(host, &site_packages) {
                    continue;
                }
                let (source, scope, user) = classify(host, &site_packages, None, Some(env.kind), homes);
                out.push(Candidate {
                    site_packages,
                    windows_root: None,
                    source,
                    scope,
                    user,
                    on_path: false,
                    launcher: None,
                    unread: None,
                });
            }
        }
    }
    out
}

/// Tool folders under a home that sit deeper than a home walk goes.
const HOME_TOOL_ROOTS: [&str; 12] = [
    ".local/share/pipx/venvs",
    ".local/pipx/venvs",
    "Library/Application Support/pipx/venvs",
    "AppData/Local/pipx/pipx/venvs",
    ".local/share/uv/tools",
    "AppData/Roaming/uv/tools",
    ".local/share/mise/installs/python",
    ".local/share/rtx/installs/python",
    ".local/share/virtualenvs",
    ".cache/pypoetry/virtualenvs",
    "Library/Caches/pypoetry/virtualenvs",
    "AppData/Local/pypoetry/Cache/virtualenvs",
];

/// Environment variables of a live agent that name environment folders, and the part below.
const ENV_TOOL_ROOTS: [(&str, &str); 9] = [
    ("PIPX_HOME", "venvs"),
    ("UV_TOOL_DIR", ""),
    ("PYENV_ROOT", "versions"),
    ("ASDF_DATA_DIR", "installs/python"),
    ("MISE_DATA_DIR", "installs/python"),
    ("WORKON_HOME", ""),
    ("CONDA_PREFIX", ""),
    ("CONDA", ""),
    ("VIRTUAL_ENV", ""),
];

/// System folders walked for environments on Linux and macOS: `/opt` (conda, hosted tool
/// caches, Microsoft's deb), `/usr/local` (Intel Homebrew, conda installs), GitHub runners'
/// `/usr/share/miniconda`, Linuxbrew.
const SYSTEM_TOOL_ROOTS: [&str; 5] = [
    "/opt",
    "/usr/local",
    "/usr/share/miniconda",
    "/home/linuxbrew/.linuxbrew",
    "/Library/Frameworks/Python.framework",
];

/// Top-level folders of a Windows system drive that hold no environment (the homes are walked
/// on their own).
const WINDOWS_ROOT_SKIP: [&str; 6] =
    ["Windows", "Users", "System Volume Information", "Recovery", "PerfLogs", "Documents and Settings"];

/// Source, scope and owner of a copy found through a launcher or an environment walk.
fn classify(
    host: &HostView,
    site_packages: &HostPath,
    windows_root: Option<&HostPath>,
    env: Option<EnvKind>,
    homes: &[Home],
) -> (InstallSource, Scope, Option<String>) {
    let text = site_packages.as_str().replace('\\', "/");
    let lower = text.to_ascii_lowercase();
    let source = if lower.contains("/scoop/apps/azure-cli/") {
        // Scoop unpacks the MSI's files into its app folder: updated by `scoop update`, never by
        // a new MSI or ZIP.
        InstallSource::Scoop
    } else if windows_root.is_some() {
        if lower.contains("/microsoft sdks/azure/cli2/") {
            InstallSource::WindowsMsi
        } else {
            InstallSource::WindowsZip
        }
    } else if lower.contains("/pipx/venvs/") || lower.contains("/pipx/pipx/venvs/") {
        InstallSource::Pipx
    } else if lower.contains("/uv/tools/") {
        InstallSource::UvTool
    } else if text.starts_with("/nix/store/") {
        InstallSource::Nix
    } else if text.contains("/Cellar/azure-cli/") {
        InstallSource::Homebrew
    } else if text.starts_with("/opt/az/") {
        InstallSource::MicrosoftDeb
    } else if text.starts_with("/usr/lib64/az/") {
        InstallSource::MicrosoftRpm
    } else if text.starts_with("/usr/lib/python3") && host.os() == OsFamily::Linux {
        InstallSource::DistroPackage
    } else if env == Some(EnvKind::Conda) || conda_meta_beside(host, site_packages) {
        InstallSource::Conda
    } else if lower.contains("/.local/lib/python3") || lower.contains("/appdata/roaming/python/") {
        InstallSource::PipUser
    } else {
        InstallSource::Pip
    };
    match homes.iter().find(|h| site_packages.starts_with(&h.path)) {
        Some(home) => (source, Scope::User, Some(home.user.clone())),
        None => (source, Scope::System, None),
    }
}

/// True when the environment of `site_packages` has a `conda-meta/` folder.
fn conda_meta_beside(host: &HostView, site_packages: &HostPath) -> bool {
    pyenv::prefix_of(site_packages).is_some_and(|prefix| host.is_dir(&prefix.join("conda-meta")))
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
        match seen.get(&key).and_then(|&index| out.get_mut(index)) {
            Some(first) => first.on_path |= candidate.on_path,
            None => {
                seen.insert(key, out.len());
                out.push(candidate);
            }
        }
    }
    out
}

fn read_candidate(host: &HostView, candidate: &Candidate, errors: &mut Vec<ScanError>) -> Option<Installation> {
    let install = |version: String, evidence: Evidence, path: &HostPath| Installation {
        product: azver_core::AZURE_CLI.to_owned(),
        version,
        source: candidate.source,
        scope: candidate.scope,
        user: candidate.user.clone(),
        path: path.to_string(),
        on_path: candidate.on_path,
        default_for_powershell: false,
        evidence,
    };
    if candidate.unread.is_some() {
        let launcher = candidate.launcher.as_ref().unwrap_or(&candidate.site_packages);
        return Some(install(UNKNOWN_VERSION.to_owned(), Evidence::Launcher, launcher));
    }
    let shown = candidate.windows_root.as_ref().unwrap_or(&candidate.site_packages);
    let found = find_distribution(host, &candidate.site_packages, "azure-cli", errors)
        .or_else(|| find_distribution(host, &candidate.site_packages, "azure-cli-core", errors));
    if let Some(dist) = found {
        return Some(install(dist.version, dist.evidence, shown));
    }
    if candidate.source == InstallSource::Conda
        && let Some(prefix) = pyenv::prefix_of(&candidate.site_packages)
        && let Some(version) = pyenv::conda_version(host, &prefix, "azure-cli", errors)
    {
        return Some(install(version, Evidence::CondaMeta, shown));
    }
    let package = candidate.site_packages.join("azure").join("cli");
    if let Some(root) = &candidate.windows_root {
        if let Some((version, evidence)) = windows_version(host, root, errors) {
            return Some(install(version, evidence, shown));
        }
        // The CLI2 folder is there: an installation, version unknown.
        return Some(install(UNKNOWN_VERSION.to_owned(), Evidence::PackageFolder, shown));
    }
    if host.is_dir(&package) {
        if let Some(version) = pyc_version(host, &package.join("core"), errors) {
            return Some(install(version, Evidence::Pyc, shown));
        }
        errors.push(ScanError {
            path: package.to_string(),
            kind: ScanErrorKind::MalformedMetadata,
            message:
                "azure/cli package without readable azure-cli metadata (dist-info, egg-info) or compiled version; \
                      reported with version unknown"
                    .into(),
        });
        return Some(install(UNKNOWN_VERSION.to_owned(), Evidence::PackageFolder, shown));
    }
    // A launcher that leads to a site-packages folder without the CLI in it.
    candidate.launcher.as_ref().map(|launcher| install(UNKNOWN_VERSION.to_owned(), Evidence::Launcher, launcher))
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
    if let Some(version) = pyc_version(host, &core, errors) {
        return Some((version, Evidence::Pyc));
    }
    errors.push(ScanError {
        path: root.to_string(),
        kind: ScanErrorKind::MalformedMetadata,
        message: "Azure CLI folder without a readable version (no registry entry, dist-info or azure\\cli\\core\\__init__.pyc); \
                  reported with version unknown: run `az version` there"
            .into(),
    });
    None
}

/// The `__version__` constant compiled into `azure/cli/core/__init__.pyc` (or its
/// `__pycache__` copies).
fn pyc_version(host: &HostView, core: &HostPath, errors: &mut Vec<ScanError>) -> Option<String> {
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
                    return Some(version);
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

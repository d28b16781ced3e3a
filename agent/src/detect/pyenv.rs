//! Python environments, discovered rather than enumerated, with a bounded walk.
//!
//! An environment is a folder with a `pyvenv.cfg` (venv, virtualenv, pipx, uv), a `conda-meta/`
//! (conda, mamba, micromamba, miniforge, anaconda), or a `lib/python3.*/site-packages`
//! (`Lib/site-packages` on Windows) beside an interpreter (`bin/python*`, `python.exe`,
//! `Scripts/`): pyenv, asdf and mise Pythons, python.org installs, Scoop's `apps/*/current`, a
//! prefix like `/usr/local`. [`environments`] walks down from a start folder looking for them,
//! within a [`Budget`] of depth and entries listed; the folder where the budget ran out is a
//! [`ScanErrorKind::BudgetExceeded`] error, never a silent miss.
//!
//! The walk lists folders only (never reads files) and does not descend into an environment's
//! own `lib`, `bin`, `include`, `share` or conda's package cache, nor into version-control and
//! `node_modules` folders, which can hold hundreds of thousands of entries and no environment.
//! A symbolic link to a folder (Scoop's `current`, a junction) is followed once per target.

#![deny(clippy::string_slice, clippy::indexing_slicing)]

use std::collections::HashSet;
use std::path::PathBuf;

use azver_core::{ScanError, ScanErrorKind};

use crate::host::{Entry, EntryKind, HostPath, HostView};

/// How far one walk may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Folders below the start folder that are listed (the start folder is depth 0).
    pub max_depth: usize,
    /// Directory entries listed in all, over the whole walk.
    pub max_entries: usize,
}

impl Budget {
    /// A user's home: projects' `.venv`s (`~/src/app/.venv`), `~/lib/azure-cli` (Microsoft's
    /// install script), `~/miniconda3/envs/NAME`, `AppData\Local\Programs\Python\Python312`.
    pub const HOME: Budget = Budget { max_depth: 4, max_entries: 200_000 };
    /// A folder where a tool keeps environments (`pipx/venvs`, `pyenv/versions`, `/opt`).
    pub const TOOL_ROOT: Budget = Budget { max_depth: 4, max_entries: 50_000 };
}

/// What marks a folder as an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKind {
    /// A `pyvenv.cfg`: venv, virtualenv, pipx, uv, poetry, pipenv, the Microsoft install script.
    Venv,
    /// A `conda-meta/` folder.
    Conda,
    /// An interpreter prefix with its own site-packages (pyenv, asdf, mise, python.org, Scoop).
    Prefix,
}

/// One environment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The environment's folder (`sys.prefix`).
    pub prefix: HostPath,
    /// How it was recognised.
    pub kind: EnvKind,
    /// Its site-packages folders (one per Python version it has).
    pub site_packages: Vec<HostPath>,
}

/// Folders never descended into anywhere: they hold many entries and no environment.
const NEVER: [&str; 6] = ["node_modules", ".git", ".hg", ".svn", "__pycache__", "$Recycle.Bin"];

/// Folders not descended into inside an environment: its own files. `envs` (conda) is kept.
const INSIDE_ENV: [&str; 11] =
    ["lib", "lib64", "bin", "scripts", "include", "share", "pkgs", "conda-meta", "libs", "dlls", "tcl"];

/// Finds the environments at or below `start`. A missing `start` is simply empty.
/// Folders named in `skip` are not entered right below `start` (a Windows drive's `Windows`).
pub fn environments(
    host: &HostView,
    start: &HostPath,
    budget: Budget,
    skip: &[&str],
    errors: &mut Vec<ScanError>,
) -> Vec<Environment> {
    let mut found = Vec::new();
    let mut listed = 0usize;
    let mut followed: HashSet<PathBuf> = HashSet::new();
    if let Ok((real, _)) = host.resolve(start) {
        followed.insert(real);
    }
    let mut pending = vec![(start.clone(), 0usize)];
    while let Some((dir, depth)) = pending.pop() {
        let entries = match host.entries(&dir) {
            Ok(entries) => entries,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                // The start folder not being readable matters; so does any folder below it,
                // since an environment may be there.
                errors.push(e.at(&dir));
                continue;
            }
        };
        listed = listed.saturating_add(entries.len());
        if listed > budget.max_entries {
            errors.push(ScanError {
                path: dir.to_string(),
                kind: ScanErrorKind::BudgetExceeded,
                message: format!(
                    "stopped looking for Python environments after {} folder entries under {start}; this folder \
                     and {} others not yet listed were not searched (move environments nearer the home, or scan \
                     with --exec)",
                    budget.max_entries,
                    pending.len()
                ),
            });
            break;
        }
        let kind = classify(host, &dir, &entries);
        if let Some(kind) = kind {
            let site_packages = site_packages(host, &dir, &entries);
            if !site_packages.is_empty() || kind != EnvKind::Prefix {
                found.push(Environment { prefix: dir.clone(), kind, site_packages });
            }
        }
        if kind == Some(EnvKind::Conda) {
            // A conda installation's named environments are part of it, however deep it sits.
            if let Some(envs) = entries.iter().find(|e| e.name == "envs" && DIRLIKE.contains(&e.kind)) {
                pending.push((dir.join(&envs.name), depth.min(budget.max_depth.saturating_sub(1))));
            }
        }
        if depth >= budget.max_depth {
            continue;
        }
        // Pushed in reverse so folders are visited in name order (deterministic results).
        for entry in entries.iter().rev() {
            if NEVER.iter().any(|n| n.eq_ignore_ascii_case(&entry.name))
                || (kind.is_some() && INSIDE_ENV.iter().any(|n| n.eq_ignore_ascii_case(&entry.name)))
                || (kind == Some(EnvKind::Conda) && entry.name == "envs")
                || (depth == 0 && skip.iter().any(|n| n.eq_ignore_ascii_case(&entry.name)))
            {
                continue;
            }
            let path = dir.join(&entry.name);
            match entry.kind {
                EntryKind::Dir => pending.push((path, depth + 1)),
                EntryKind::Symlink => {
                    // Follow a link to a folder once per target, so a loop costs one visit.
                    if let Ok((real, _)) = host.resolve(&path)
                        && real.is_dir()
                        && followed.insert(real)
                    {
                        pending.push((path, depth + 1));
                    }
                }
                EntryKind::File | EntryKind::Other => {}
            }
        }
    }
    found
}

fn has(entries: &[Entry], name: &str, kinds: &[EntryKind]) -> bool {
    entries.iter().any(|e| e.name.eq_ignore_ascii_case(name) && kinds.contains(&e.kind))
}

const DIRLIKE: [EntryKind; 2] = [EntryKind::Dir, EntryKind::Symlink];
const FILELIKE: [EntryKind; 2] = [EntryKind::File, EntryKind::Symlink];

/// What makes `dir` an environment, if anything.
fn classify(host: &HostView, dir: &HostPath, entries: &[Entry]) -> Option<EnvKind> {
    if has(entries, "pyvenv.cfg", &FILELIKE) {
        return Some(EnvKind::Venv);
    }
    if has(entries, "conda-meta", &DIRLIKE) {
        return Some(EnvKind::Conda);
    }
    if !has(entries, "lib", &DIRLIKE) {
        return None;
    }
    // An interpreter beside `lib`: `python.exe` (Windows), `Scripts\`, or `bin/python*`.
    if has(entries, "python.exe", &FILELIKE) || has(entries, "Scripts", &DIRLIKE) {
        return Some(EnvKind::Prefix);
    }
    if has(entries, "bin", &DIRLIKE)
        && host
            .entries(&dir.join("bin"))
            .is_ok_and(|bin| bin.iter().any(|e| e.name.starts_with("python") && e.kind != EntryKind::Dir))
    {
        return Some(EnvKind::Prefix);
    }
    None
}

/// `lib/python3.*/site-packages` (and `dist-packages`), `Lib/site-packages`, `lib/site-packages`.
fn site_packages(host: &HostView, dir: &HostPath, entries: &[Entry]) -> Vec<HostPath> {
    let mut out = Vec::new();
    for lib in entries.iter().filter(|e| {
        (e.name.eq_ignore_ascii_case("lib") || e.name.eq_ignore_ascii_case("lib64")) && DIRLIKE.contains(&e.kind)
    }) {
        let lib = dir.join(&lib.name);
        let Ok(children) = host.entries(&lib) else { continue };
        for child in children.iter().filter(|c| DIRLIKE.contains(&c.kind)) {
            if child.name.eq_ignore_ascii_case("site-packages") {
                out.push(lib.join(&child.name));
            } else if is_python_version_dir(&child.name) {
                for leaf in ["site-packages", "dist-packages"] {
                    let candidate = lib.join(&child.name).join(leaf);
                    if host.is_dir(&candidate) {
                        out.push(candidate);
                    }
                }
            }
        }
    }
    out
}

/// Largest `conda-meta/*.json` read: a package record lists every file the package installed
/// (azure-cli's is a few MiB).
const MAX_CONDA_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// The fields of a conda package record (`conda-meta/NAME-VERSION-BUILD.json`) this scan uses.
#[derive(Debug, serde::Deserialize)]
struct CondaRecord {
    name: String,
    version: String,
}

/// Parses a conda package record; `None` when it is not one (or not JSON).
pub fn conda_record(bytes: &[u8]) -> Option<(String, String)> {
    let record: CondaRecord = serde_json::from_slice(bytes).ok()?;
    Some((record.name, record.version))
}

/// The version of package `name` that conda recorded in the environment at `prefix`, from
/// `conda-meta/<name>-<version>-<build>.json`. A record that does not parse is a scan error.
pub fn conda_version(host: &HostView, prefix: &HostPath, name: &str, errors: &mut Vec<ScanError>) -> Option<String> {
    let meta = prefix.join("conda-meta");
    let names = host.list(&meta).ok()?;
    for file in names {
        // `<name>-<version>-<build>.json`: the name itself may contain dashes.
        let Some(stem) = file.strip_suffix(".json") else { continue };
        let mut parts = stem.rsplitn(3, '-');
        let (Some(_build), Some(_version), Some(package)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if package != name {
            continue;
        }
        let path = meta.join(&file);
        let parsed = host.read_limited(&path, MAX_CONDA_RECORD_BYTES).map_err(|e| e.at(&path)).and_then(|bytes| {
            conda_record(&bytes).ok_or_else(|| ScanError {
                path: path.to_string(),
                kind: ScanErrorKind::MalformedMetadata,
                message: "conda package record without a name and version".into(),
            })
        });
        match parsed {
            Ok((recorded, version)) if recorded == name && !version.is_empty() => return Some(version),
            Ok(_) => errors.push(ScanError {
                path: path.to_string(),
                kind: ScanErrorKind::MalformedMetadata,
                message: format!("conda package record does not describe {name}"),
            }),
            Err(error) => errors.push(error),
        }
    }
    None
}

/// Largest `pyvenv.cfg` read (real ones are a few hundred bytes).
const MAX_VENV_CFG_BYTES: u64 = 64 * 1024;

/// What a virtual environment's `pyvenv.cfg` says about the interpreter it runs with.
///
/// Written by `python -m venv` (`home`, `include-system-site-packages`, `version`), virtualenv
/// (`version_info`, `base-prefix`) and uv (`version_info`). Read as CPython's `site.py` reads
/// it: `key = value` lines, keys compared without case, the last occurrence wins, and a file
/// without `include-system-site-packages` includes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenvConfig {
    /// `home`: the folder of the base interpreter the environment was made from.
    pub home: Option<String>,
    /// `base-prefix` (virtualenv): the base interpreter's prefix, stated outright.
    pub base_prefix: Option<String>,
    /// `(major, minor)` of `version` or `version_info`: the one `lib/pythonX.Y` the
    /// environment's interpreter loads.
    pub version: Option<(u32, u32)>,
    /// `include-system-site-packages`: the base interpreter's site-packages are loaded too.
    pub system_site_packages: bool,
}

impl VenvConfig {
    /// Parses the text of a `pyvenv.cfg`; lines that are not `key = value` are ignored.
    pub fn parse(text: &str) -> Self {
        let mut config = Self { home: None, base_prefix: None, version: None, system_site_packages: true };
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else { continue };
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "include-system-site-packages" => config.system_site_packages = value.eq_ignore_ascii_case("true"),
                "home" if !value.is_empty() => config.home = Some(value.to_owned()),
                "base-prefix" if !value.is_empty() => config.base_prefix = Some(value.to_owned()),
                "version" | "version_info" => {
                    if let Some(version) = major_minor(value) {
                        config.version = Some(version);
                    }
                }
                _ => {}
            }
        }
        config
    }

    /// The base interpreter's prefix: `base-prefix`, else derived from `home` (`/usr/bin` →
    /// `/usr`; on Windows `home` is the prefix itself, where `python.exe` lives).
    pub fn base_prefix(&self, host: &HostView) -> Option<HostPath> {
        if let Some(prefix) = &self.base_prefix {
            return Some(host.path(prefix));
        }
        let home = host.path(self.home.as_deref()?);
        if home.file_name().eq_ignore_ascii_case("bin") { home.parent() } else { Some(home) }
    }

    /// `python3.12` for version 3.12.
    pub fn lib_dir_name(&self) -> Option<String> {
        self.version.map(|(major, minor)| format!("python{major}.{minor}"))
    }
}

/// `(3, 12)` of `3.12.3`, `3.12.3.final.0` or `3.12`.
fn major_minor(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.trim().parse().ok()?;
    let minor = parts.next()?.trim().parse().ok()?;
    Some((major, minor))
}

/// The `pyvenv.cfg` of the environment at `prefix`; `None` when it has none or it cannot be
/// read (it only refines what the folders already show).
pub fn venv_config(host: &HostView, prefix: &HostPath) -> Option<VenvConfig> {
    let bytes = host.read_limited(&prefix.join("pyvenv.cfg"), MAX_VENV_CFG_BYTES).ok()?;
    Some(VenvConfig::parse(&String::from_utf8_lossy(&bytes)))
}

/// The site-packages folders of a virtual environment that its interpreter loads: where the
/// environment has folders for several Python versions (`lib/python3.11` left behind when it was
/// upgraded to 3.12 in place), only those of the version `pyvenv.cfg` names. Unchanged when the
/// version is unknown or none of the folders is of it.
pub fn loaded_site_packages(config: &VenvConfig, site_packages: Vec<HostPath>) -> Vec<HostPath> {
    let Some(wanted) = config.lib_dir_name() else { return site_packages };
    let of_version = |sp: &HostPath| sp.parent().is_some_and(|lib| lib.file_name() == wanted);
    if site_packages.iter().any(of_version) {
        site_packages.into_iter().filter(|sp| of_version(sp) || !is_versioned(sp)).collect()
    } else {
        site_packages
    }
}

/// True when a site-packages folder sits in a `lib/python3.X` folder (not `Lib/site-packages`).
fn is_versioned(site_packages: &HostPath) -> bool {
    site_packages.parent().is_some_and(|lib| lib.file_name().starts_with("python3."))
}

/// The environment folder of a site-packages folder: `<prefix>/lib/python3.X/site-packages` or
/// `<prefix>/Lib/site-packages`.
pub fn prefix_of(site_packages: &HostPath) -> Option<HostPath> {
    let lib = site_packages.parent()?;
    let lib = if is_python_version_dir(lib.file_name()) { lib.parent()? } else { lib };
    lib.parent()
}

/// `python3`, `python3.12`, `python3.13t`: a CPython library folder of Python 3.
pub fn is_python_version_dir(name: &str) -> bool {
    name.strip_prefix("python3").is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use azver_core::OsFamily;

    fn mkdirs(root: &std::path::Path, dirs: &[&str]) {
        for d in dirs {
            std::fs::create_dir_all(root.join(d)).unwrap_or_else(|e| panic!("{d}: {e}"));
        }
    }

    fn touch(root: &std::path::Path, files: &[&str]) {
        for f in files {
            std::fs::write(root.join(f), "").unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }

    #[test]
    fn finds_each_kind_of_environment_and_not_their_insides() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        mkdirs(
            root,
            &[
                "home/a/src/app/.venv/lib/python3.12/site-packages",
                "home/a/miniconda3/conda-meta",
                "home/a/miniconda3/lib/python3.11/site-packages",
                "home/a/miniconda3/pkgs/azure-cli-2.76.0/site-packages",
                "home/a/miniconda3/envs/tools/conda-meta",
                "home/a/miniconda3/envs/tools/lib/python3.12/site-packages",
                "home/a/.pyenv/versions/3.12.1/bin",
                "home/a/.pyenv/versions/3.12.1/lib/python3.12/site-packages",
                "home/a/notpython/lib/python3.12/site-packages",
                "home/a/node_modules/x/.venv/lib/python3.12/site-packages",
            ],
        );
        touch(root, &["home/a/src/app/.venv/pyvenv.cfg", "home/a/.pyenv/versions/3.12.1/bin/python3.12"]);
        let host = HostView::rooted(root, OsFamily::Linux).unwrap();
        let mut errors = Vec::new();
        let found =
            environments(&host, &host.path("/home/a"), Budget { max_depth: 5, max_entries: 1000 }, &[], &mut errors);
        let got: Vec<(&str, EnvKind, usize)> =
            found.iter().map(|e| (e.prefix.as_str(), e.kind, e.site_packages.len())).collect();
        assert_eq!(
            got,
            [
                ("/home/a/.pyenv/versions/3.12.1", EnvKind::Prefix, 1),
                ("/home/a/miniconda3", EnvKind::Conda, 1),
                ("/home/a/miniconda3/envs/tools", EnvKind::Conda, 1),
                ("/home/a/src/app/.venv", EnvKind::Venv, 1),
            ]
        );
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_walk_over_budget_names_the_folder_where_it_stopped() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for i in 0..30 {
            mkdirs(root, &[&format!("home/a/d{i:02}/x")]);
        }
        let host = HostView::rooted(root, OsFamily::Linux).unwrap();
        let mut errors = Vec::new();
        environments(&host, &host.path("/home/a"), Budget { max_depth: 4, max_entries: 40 }, &[], &mut errors);
        let [error] = errors.as_slice() else { panic!("one error: {errors:?}") };
        assert_eq!(error.kind, ScanErrorKind::BudgetExceeded);
        assert!(error.path.starts_with("/home/a/d"), "{errors:?}");
        // Depth is a bound, not an error: nothing below depth 1 is listed.
        let mut errors = Vec::new();
        environments(&host, &host.path("/home/a"), Budget { max_depth: 0, max_entries: 40 }, &[], &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_once_per_target() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        mkdirs(root, &["scoop/apps/python/3.12.1/Lib/site-packages", "loop"]);
        touch(root, &["scoop/apps/python/3.12.1/python.exe"]);
        std::os::unix::fs::symlink("3.12.1", root.join("scoop/apps/python/current")).unwrap();
        std::os::unix::fs::symlink("..", root.join("loop/up")).unwrap();
        let host = HostView::rooted(root, OsFamily::Linux).unwrap();
        let mut errors = Vec::new();
        let found = environments(&host, &host.path("/"), Budget { max_depth: 8, max_entries: 1000 }, &[], &mut errors);
        let prefixes: Vec<&str> = found.iter().map(|e| e.prefix.as_str()).collect();
        // The version folder itself, then through `current` (a second path to the same place,
        // which the detector deduplicates by real path); the loop is entered once.
        assert!(prefixes.contains(&"/scoop/apps/python/3.12.1"), "{prefixes:?}");
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn pyvenv_cfg_as_venv_virtualenv_and_uv_write_it() {
        // CPython's venv.
        let venv = VenvConfig::parse(
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.12.3\nexecutable = /usr/bin/python3.12\n",
        );
        assert_eq!(
            venv,
            VenvConfig {
                home: Some("/usr/bin".into()),
                base_prefix: None,
                version: Some((3, 12)),
                system_site_packages: false
            }
        );
        // virtualenv: version_info and base-prefix; keys in any case, CRLF, the last one wins.
        let virtualenv = VenvConfig::parse(
            "home = /home/a/.pyenv/versions/3.11.9/bin\r\nimplementation = CPython\r\nversion_info = 3.11.9.final.0\r\n\
             virtualenv = 20.26.2\r\nInclude-System-Site-Packages = false\r\nbase-prefix = /home/a/.pyenv/versions/3.11.9\r\n\
             include-system-site-packages = TRUE\r\n",
        );
        assert_eq!(virtualenv.version, Some((3, 11)));
        assert!(virtualenv.system_site_packages);
        assert_eq!(virtualenv.base_prefix.as_deref(), Some("/home/a/.pyenv/versions/3.11.9"));
        // uv; and a file without the key includes the system site-packages, as site.py has it.
        let uv =
            VenvConfig::parse("home = C:\\Python312\nimplementation = CPython\nuv = 0.4.0\nversion_info = 3.12.4\n");
        assert_eq!((uv.version, uv.system_site_packages), (Some((3, 12)), true));
        // Nonsense is ignored, never an error.
        let junk = VenvConfig::parse("version = three\n= x\nhome =\n\u{0}\nversion_info = 3.\n");
        assert_eq!(junk, VenvConfig { home: None, base_prefix: None, version: None, system_site_packages: true });
    }

    #[test]
    fn the_base_prefix_from_home_on_each_os() {
        let tmp = tempfile::tempdir().unwrap();
        let linux = HostView::rooted(tmp.path(), OsFamily::Linux).unwrap();
        let windows = HostView::rooted(tmp.path(), OsFamily::Windows).unwrap();
        let base = |host: &HostView, text: &str| VenvConfig::parse(text).base_prefix(host).map(|p| p.to_string());
        assert_eq!(base(&linux, "home = /usr/bin").as_deref(), Some("/usr"));
        assert_eq!(base(&linux, "home = /opt/python/3.12.3/bin").as_deref(), Some("/opt/python/3.12.3"));
        assert_eq!(base(&linux, "home = /usr/bin\nbase-prefix = /usr/local").as_deref(), Some("/usr/local"));
        assert_eq!(
            base(&windows, "home = C:\\Users\\a\\AppData\\Local\\Programs\\Python\\Python312").as_deref(),
            Some("C:\\Users\\a\\AppData\\Local\\Programs\\Python\\Python312")
        );
        assert_eq!(base(&linux, "version = 3.12.3"), None);
    }

    #[test]
    fn a_venv_loads_only_the_site_packages_of_its_own_version() {
        let tmp = tempfile::tempdir().unwrap();
        let host = HostView::rooted(tmp.path(), OsFamily::Linux).unwrap();
        let sites = vec![
            host.path("/v/lib/python3.11/site-packages"),
            host.path("/v/lib/python3.12/site-packages"),
            host.path("/v/lib/site-packages"),
        ];
        let names = |sites: Vec<HostPath>| sites.iter().map(ToString::to_string).collect::<Vec<_>>();
        let v312 = VenvConfig::parse("version = 3.12.3");
        assert_eq!(
            names(loaded_site_packages(&v312, sites.clone())),
            ["/v/lib/python3.12/site-packages", "/v/lib/site-packages"]
        );
        // A version none of the folders has, or none at all: every folder stays.
        assert_eq!(loaded_site_packages(&VenvConfig::parse("version = 3.13.0"), sites.clone()), sites);
        assert_eq!(loaded_site_packages(&VenvConfig::parse(""), sites.clone()), sites);
    }

    #[test]
    fn python_version_folders() {
        assert!(is_python_version_dir("python3.12"));
        assert!(is_python_version_dir("python3"));
        assert!(!is_python_version_dir("python2.7"));
        assert!(!is_python_version_dir("python3x"));
        assert!(!is_python_version_dir("pythön3"));
    }
}

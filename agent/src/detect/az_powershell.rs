//! Az PowerShell modules: `Az`, `Az.Accounts` and every other `Az.*` module, in every module
//! root PowerShell 5.1 and 7 use on the target OS, every `PSModulePath` entry (live only), every
//! user's home (including a OneDrive-redirected `Documents`), and hosted-runner folders
//! (`/usr/share/az_*`, `C:\Modules\az_*`).
//!
//! Layout: `<root>/<Name>/<version>/<Name>.psd1`, or version-less `<root>/<Name>/<Name>.psd1`.
//! The version is the manifest's top-level `ModuleVersion` plus its prerelease label; a manifest
//! that does not parse is a scan error and is not reported, not even with its folder's version.
//! PowerShell imports the highest version it finds, so that one is marked as the default.
//!
//! The retired AzureRM (the `AzureRM` meta-module and `AzureRM.Profile`) is reported the same
//! way, as its own products, so the baseline can flag it (`retired-module`).
//!
//! Work per module root is bounded: at most [`MAX_MODULES_PER_ROOT`] module folders and
//! [`MAX_VERSIONS_PER_MODULE`] version folders each are read (`Az`, `Az.Accounts` and AzureRM
//! first, as they decide the verdict); what is left is a `budget-exceeded` scan error naming
//! the folder. Module names may be anything, in any script: nothing here slices a name.

#![deny(clippy::string_slice, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashSet};

use azver_core::{Evidence, InstallSource, Installation, OsFamily, ScanError, ScanErrorKind, Scope, Version};

use super::psd1;
use super::{Detection, Detector, ScanContext};
use crate::host::{EntryKind, Home, HostPath, HostView, Kind};

/// Module folders read per module root. Az itself is about 90 modules; a root with thousands of
/// `Az.*` folders is broken or hostile, and reading them all would let one user slow every scan.
pub const MAX_MODULES_PER_ROOT: usize = 500;

/// Version folders read per module folder (PowerShellGet keeps every version installed).
pub const MAX_VERSIONS_PER_MODULE: usize = 50;

/// Detects Az PowerShell modules.
#[derive(Debug)]
pub struct AzPowerShell;

/// A folder PowerShell loads modules from.
#[derive(Debug, Clone)]
struct ModuleRoot {
    path: HostPath,
    source: InstallSource,
    scope: Scope,
    user: Option<String>,
}

impl Detector for AzPowerShell {
    fn name(&self) -> &'static str {
        "az-powershell"
    }

    fn detect(&self, cx: &ScanContext<'_>, out: &mut Detection) {
        let host = cx.host;
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for root in module_roots(host, cx.homes, &mut out.errors) {
            // The same folder can be reached twice (a PSModulePath entry that is also a default).
            let Ok((real, _)) = host.resolve(&root.path) else { continue };
            if seen.insert(real) {
                scan_root(host, &root, &mut found, &mut out.errors);
            }
        }
        mark_defaults(&mut found);
        out.installations.extend(found);
    }
}

fn module_roots(host: &HostView, homes: &[Home], errors: &mut Vec<ScanError>) -> Vec<ModuleRoot> {
    let system = |path: HostPath, source| ModuleRoot { path, source, scope: Scope::System, user: None };
    let user = |path: HostPath, home: &Home| ModuleRoot {
        path,
        source: InstallSource::PowershellGallery,
        scope: Scope::User,
        user: Some(home.user.clone()),
    };
    let mut roots = Vec::new();
    match host.os() {
        OsFamily::Windows => {
            let drive = host.system_root();
            let program_files = host.env("ProgramFiles").map_or_else(|| drive.join("Program Files"), |p| host.path(p));
            let windir = host.env("SystemRoot").map_or_else(|| drive.join("Windows"), |p| host.path(p));
            roots.push(system(program_files.join(r"WindowsPowerShell\Modules"), InstallSource::PowershellGallery));
            roots.push(system(program_files.join(r"PowerShell\Modules"), InstallSource::PowershellGallery));
            roots.push(system(program_files.join(r"PowerShell\7\Modules"), InstallSource::PowershellBundled));
            roots.push(system(
                windir.join(r"system32\WindowsPowerShell\v1.0\Modules"),
                InstallSource::PowershellBundled,
            ));
            roots.extend(hosted_runner_roots(host, &drive.join("Modules"), errors));
            for home in homes {
                for documents in documents_folders(host, home, errors) {
                    roots.push(user(documents.join(r"WindowsPowerShell\Modules"), home));
                    roots.push(user(documents.join(r"PowerShell\Modules"), home));
                }
            }
        }
        os => {
            roots.push(system(host.path("/usr/local/share/powershell/Modules"), InstallSource::PowershellGallery));
            let bundled = if os == OsFamily::Macos {
                "/usr/local/microsoft/powershell/7/Modules"
            } else {
                "/opt/microsoft/powershell/7/Modules"
            };
            roots.push(system(host.path(bundled), InstallSource::PowershellBundled));
            roots.extend(hosted_runner_roots(host, &host.path("/usr/share"), errors));
            for home in homes {
                roots.push(user(home.path.join(".local/share/powershell/Modules"), home));
            }
        }
    }
    if let Some(var) = host.env("PSModulePath") {
        let separator = if host.os() == OsFamily::Windows { ';' } else { ':' };
        for entry in var.split(separator).map(str::trim).filter(|e| !e.is_empty()) {
            let path = host.path(entry);
            let owner = homes.iter().find(|h| path.starts_with(&h.path));
            let hosted = path.file_name().to_ascii_lowercase().starts_with("az_");
            roots.push(match (owner, hosted) {
                (_, true) => system(path, InstallSource::HostedRunnerImage),
                (Some(home), false) => user(path, home),
                (None, false) => system(path, InstallSource::PowershellGallery),
            });
        }
    }
    roots
}

/// `az_<version>` folders that hosted runner images put on the machine PSModulePath.
fn hosted_runner_roots(host: &HostView, parent: &HostPath, errors: &mut Vec<ScanError>) -> Vec<ModuleRoot> {
    match host.subdirs(parent, |n| n.to_ascii_lowercase().starts_with("az_"), errors) {
        Ok(dirs) => dirs
            .into_iter()
            .map(|path| ModuleRoot { path, source: InstallSource::HostedRunnerImage, scope: Scope::System, user: None })
            .collect(),
        Err(e) => {
            errors.push(e.at(parent));
            Vec::new()
        }
    }
}

/// `Documents`, and the OneDrive folders it is often redirected into (`OneDrive`,
/// `OneDrive - Contoso`), each with their own `Documents`.
fn documents_folders(host: &HostView, home: &Home, errors: &mut Vec<ScanError>) -> Vec<HostPath> {
    let mut out = vec![home.path.join("Documents")];
    if let Ok(onedrives) = host.subdirs(&home.path, |n| n.to_ascii_lowercase().starts_with("onedrive"), errors) {
        out.extend(onedrives.into_iter().map(|d| d.join("Documents")));
    }
    out
}

/// `Az`, `Az.<anything>` (any script, any case), and the retired `AzureRM` and `AzureRM.Profile`.
pub fn is_az_module(name: &str) -> bool {
    let mut chars = name.chars();
    let az_prefix = matches!((chars.next(), chars.next(), chars.next()), (Some('A' | 'a'), Some('Z' | 'z'), Some('.')))
        && chars.next().is_some();
    name.eq_ignore_ascii_case("Az")
        || az_prefix
        || azver_core::RETIRED_MODULES.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// Reading order of module folders: those that decide the verdict first, then by name.
fn priority(name: &str) -> u8 {
    if name.eq_ignore_ascii_case(azver_core::AZ) || name.eq_ignore_ascii_case(azver_core::AZ_ACCOUNTS) {
        0
    } else if azver_core::RETIRED_MODULES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        1
    } else {
        2
    }
}

/// A folder, or a link to one (links are resolved only for entries that are links).
fn is_folder(host: &HostView, path: &HostPath, kind: EntryKind, errors: &mut Vec<ScanError>) -> bool {
    match kind {
        EntryKind::Dir => true,
        EntryKind::Symlink => match host.kind(path) {
            Ok(k) => k == Kind::Dir,
            Err(e) if e.is_not_found() => false,
            Err(e) => {
                errors.push(e.at(path));
                false
            }
        },
        EntryKind::File | EntryKind::Other => false,
    }
}

fn budget_error(path: &HostPath, what: &str, read: usize, total: usize) -> ScanError {
    ScanError {
        path: path.to_string(),
        kind: ScanErrorKind::BudgetExceeded,
        message: format!(
            "{total} {what} here; only the first {read} were read (Az, Az.Accounts and AzureRM first): remove the \
             stray folders"
        ),
    }
}

fn scan_root(host: &HostView, root: &ModuleRoot, found: &mut Vec<Installation>, errors: &mut Vec<ScanError>) {
    let entries = match host.entries(&root.path) {
        Ok(entries) => entries,
        Err(e) if e.is_not_found() => return,
        Err(e) => {
            errors.push(e.at(&root.path));
            return;
        }
    };
    let mut modules: Vec<_> = entries.into_iter().filter(|e| is_az_module(&e.name)).collect();
    if modules.len() > MAX_MODULES_PER_ROOT {
        errors.push(budget_error(&root.path, "module folders named Az.*", MAX_MODULES_PER_ROOT, modules.len()));
        // Keep the ones that decide the verdict, then read in name order as always.
        modules.sort_by_key(|e| priority(&e.name));
        modules.truncate(MAX_MODULES_PER_ROOT);
        modules.sort_by(|a, b| a.name.cmp(&b.name));
    }
    for module in modules {
        let module_dir = root.path.join(&module.name);
        if !is_folder(host, &module_dir, module.kind, errors) {
            continue;
        }
        let name = module.name;
        let entries = match host.entries(&module_dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(e.at(&module_dir));
                continue;
            }
        };
        let manifest_name = format!("{name}.psd1");
        let mut versions = 0usize;
        let total_versions = entries.iter().filter(|e| Version::parse(&e.name).is_ok()).count();
        for entry in entries {
            let path = module_dir.join(&entry.name);
            if entry.name.eq_ignore_ascii_case(&manifest_name) {
                // A version-less module folder.
                read_module(host, root, &name, &module_dir, &path, found, errors);
            } else if Version::parse(&entry.name).is_ok() {
                versions += 1;
                if versions > MAX_VERSIONS_PER_MODULE {
                    errors.push(budget_error(&module_dir, "version folders", MAX_VERSIONS_PER_MODULE, total_versions));
                    break;
                }
                if is_folder(host, &path, entry.kind, errors) {
                    let manifest = path.join(&manifest_name);
                    read_module(host, root, &name, &path, &manifest, found, errors);
                }
            }
        }
    }
}

fn read_module(
    host: &HostView,
    root: &ModuleRoot,
    name: &str,
    folder: &HostPath,
    manifest: &HostPath,
    found: &mut Vec<Installation>,
    errors: &mut Vec<ScanError>,
) {
    let bytes = match host.read(manifest) {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => {
            errors.push(ScanError {
                path: folder.to_string(),
                kind: ScanErrorKind::MalformedManifest,
                message: format!("module version folder without {name}.psd1"),
            });
            return;
        }
        Err(e) => {
            errors.push(e.at(manifest));
            return;
        }
    };
    let parsed = match psd1::parse(&bytes) {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(ScanError {
                path: manifest.to_string(),
                kind: ScanErrorKind::MalformedManifest,
                message: error.to_string(),
            });
            return;
        }
    };
    let version = match Version::with_prerelease(&parsed.module_version, parsed.prerelease.as_deref()) {
        Ok(version) => version,
        Err(error) => {
            errors.push(ScanError {
                path: manifest.to_string(),
                kind: ScanErrorKind::BadVersion,
                message: format!("ModuleVersion: {error}"),
            });
            return;
        }
    };
    found.push(Installation {
        product: name.to_owned(),
        version: version.as_str().to_owned(),
        source: root.source,
        scope: root.scope,
        user: root.user.clone(),
        path: folder.to_string(),
        on_path: false,
        default_for_powershell: false,
        evidence: Evidence::Psd1,
    });
}

/// Marks, per module name, the highest version found: the one `Import-Module` picks.
fn mark_defaults(found: &mut [Installation]) {
    let mut best: BTreeMap<String, (Version, usize)> = BTreeMap::new();
    for (index, install) in found.iter().enumerate() {
        let Ok(version) = Version::parse(&install.version) else { continue };
        let key = install.product.to_ascii_lowercase();
        if best.get(&key).is_none_or(|(v, _)| version > *v) {
            best.insert(key, (version, index));
        }
    }
    for (_, index) in best.into_values() {
        if let Some(install) = found.get_mut(index) {
            install.default_for_powershell = true;
        }
    }
}

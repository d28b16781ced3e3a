//! Az PowerShell modules: `Az`, `Az.Accounts` and every other `Az.*` module, in every module
//! root PowerShell 5.1 and 7 use on the target OS, every `PSModulePath` entry (live only), every
//! user's home (including a OneDrive-redirected `Documents`), and hosted-runner folders
//! (`/usr/share/az_*`, `C:\Modules\az_*`).
//!
//! Layout: `<root>/<Name>/<version>/<Name>.psd1`, or version-less `<root>/<Name>/<Name>.psd1`.
//! The version is the manifest's top-level `ModuleVersion` plus its prerelease label; a manifest
//! that does not parse is a scan error and is not reported, not even with its folder's version.
//! PowerShell imports the highest version it finds, so that one is marked as the default.

use std::collections::{BTreeMap, HashSet};

use azver_core::{Evidence, InstallSource, Installation, OsFamily, ScanError, ScanErrorKind, Scope, Version};

use super::psd1;
use super::{Detection, Detector, ScanContext};
use crate::host::{Home, HostPath, HostView, Kind};

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

fn is_az_module(name: &str) -> bool {
    name.eq_ignore_ascii_case("Az") || (name.len() > 3 && name[..3].eq_ignore_ascii_case("Az."))
}

fn scan_root(host: &HostView, root: &ModuleRoot, found: &mut Vec<Installation>, errors: &mut Vec<ScanError>) {
    let modules = match host.subdirs(&root.path, is_az_module, errors) {
        Ok(modules) => modules,
        Err(e) => {
            errors.push(e.at(&root.path));
            return;
        }
    };
    for module_dir in modules {
        let name = module_dir.file_name().to_owned();
        let entries = match host.list(&module_dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(e.at(&module_dir));
                continue;
            }
        };
        let manifest_name = format!("{name}.psd1");
        for entry in entries {
            let path = module_dir.join(&entry);
            if entry.eq_ignore_ascii_case(&manifest_name) {
                // A version-less module folder.
                read_module(host, root, &name, &module_dir, &path, found, errors);
            } else if Version::parse(&entry).is_ok() {
                match host.kind(&path) {
                    Ok(Kind::Dir) => {
                        let manifest = path.join(&manifest_name);
                        read_module(host, root, &name, &path, &manifest, found, errors);
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(e.at(&path)),
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
        found[index].default_for_powershell = true;
    }
}

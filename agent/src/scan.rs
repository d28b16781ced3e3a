//! One scan: build the context, run every detector, assemble the inventory.

use azver_core::{Inventory, Role};

use crate::detect::{self, Detection, ScanContext, role};
use crate::facts::host_facts;
use crate::host::HostView;

/// Settings that change what a scan reports.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Send account names with identities (off by default: the type of account is what matters).
    pub report_account_names: bool,
    /// The role set by the administrator; when `None`, it is detected from CI agents on disk.
    pub role: Option<Role>,
}

/// Scans `host` with every detector and default options.
pub fn scan(host: &HostView) -> Inventory {
    scan_with(host, &ScanOptions::default())
}

/// Scans `host` with every detector. Never fails: what cannot be read is in `errors`. A scan
/// whose [`crate::host::Stop`] trips returns what it had found; [`scan_until`] tells the two apart.
pub fn scan_with(host: &HostView, options: &ScanOptions) -> Inventory {
    let (homes, home_errors) = host.homes();
    let cx = ScanContext { host, homes: &homes, report_account_names: options.report_account_names };
    let mut detection = Detection { errors: home_errors, ..Detection::default() };
    for detector in detect::all() {
        if host.is_stopped() {
            break;
        }
        let before = (detection.installations.len(), detection.errors.len());
        detector.detect(&cx, &mut detection);
        tracing::debug!(
            detector = detector.name(),
            installations = detection.installations.len() - before.0,
            errors = detection.errors.len() - before.1,
            "detector finished"
        );
    }
    for error in &detection.errors {
        tracing::info!(path = %error.path, kind = ?error.kind, error = %error.message, "scan error");
    }
    let mut facts = host_facts(host);
    #[cfg(windows)]
    if !host.is_rooted() {
        detection.runner_services.extend(role::windows_services());
    }
    // A CI agent's service reveals the host's role wherever the agent's folder lives.
    let service = detection.runner_services.first();
    facts.ci_system = service.map(|s| s.ci).or_else(|| role::detect_ci_system(host, &homes)).map(str::to_owned);
    facts.ci_service = service.map(|s| s.service.clone());
    facts.ci_service_path = service.map(|s| s.path.clone());
    facts.role = options.role.or(facts.ci_system.as_ref().map(|_| Role::BuildRunner));
    Inventory {
        host: facts,
        installations: detection.installations,
        identities: detection.identities,
        errors: detection.errors,
        job_sign_ins: detection.job_sign_ins,
    }
}

/// A scan ended by its deadline or by shutdown: what it found is incomplete, and not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the scan was stopped before it finished (its deadline passed, or the service is stopping)")]
pub struct Stopped;

/// Like [`scan_with`], but an error when the host view's stop tripped during the scan: a partial
/// inventory must not be reported as the host's state.
pub fn scan_until(host: &HostView, options: &ScanOptions) -> Result<Inventory, Stopped> {
    let inventory = scan_with(host, options);
    if host.is_stopped() {
        return Err(Stopped);
    }
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use azver_core::{OsFamily, ScanErrorKind};

    use super::*;
    use crate::host::Stop;

    /// A user's own module folder holding one manifest.
    fn module_tree(dir: &std::path::Path) -> std::path::PathBuf {
        let folder = dir.join("home/mallory/.local/share/powershell/Modules/Az.Accounts/5.2.0");
        std::fs::create_dir_all(&folder).unwrap();
        folder.join("Az.Accounts.psd1")
    }

    /// Issue 15: swapping a manifest with a FIFO between the type check and the open made 12 of
    /// 204 scans hang forever. Here a thread swaps the manifest with a FIFO and back (atomic
    /// renames) while scans run; every scan must finish, and find either the module or a
    /// "not a regular file" error, never hang. The loop counts are bounded; a hang shows as this
    /// test never finishing, which the harness reports.
    #[cfg(unix)]
    #[test]
    fn a_manifest_swapped_with_a_fifo_never_hangs_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = module_tree(dir.path());
        let text = "@{ ModuleVersion = '5.2.0' }";
        std::fs::write(&manifest, text).unwrap();
        let host = HostView::rooted(dir.path(), OsFamily::Linux).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (manifest, done) = (manifest.clone(), done.clone());
            let staging = dir.path().join("staging");
            std::thread::spawn(move || {
                for round in 0..300 {
                    let fifo = staging.with_extension(format!("fifo{round}"));
                    crate::host::tests::mkfifo(&fifo);
                    std::fs::rename(&fifo, &manifest).unwrap();
                    let file = staging.with_extension(format!("file{round}"));
                    std::fs::write(&file, text).unwrap();
                    std::fs::rename(&file, &manifest).unwrap();
                }
                done.store(true, std::sync::atomic::Ordering::Relaxed);
            })
        };
        let (mut found, mut refused, mut scans) = (0, 0, 0);
        while scans < 20_000 && (!done.load(std::sync::atomic::Ordering::Relaxed) || scans < 50) {
            let inventory = scan(&host);
            scans += 1;
            if inventory.installations.iter().any(|i| i.product == "Az.Accounts" && i.version == "5.2.0") {
                found += 1;
            } else {
                let error = inventory.errors.iter().find(|e| e.path.ends_with("Az.Accounts.psd1"));
                let error = error.unwrap_or_else(|| panic!("neither the module nor an error: {inventory:?}"));
                assert_eq!(error.kind, ScanErrorKind::WrongFileType, "{error:?}");
                refused += 1;
            }
        }
        swapper.join().unwrap();
        assert!(found > 0, "{scans} scans, {refused} met the FIFO");
        assert_eq!(found + refused, scans);
    }

    #[test]
    fn a_stopped_scan_is_an_error_not_a_partial_inventory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(module_tree(dir.path()), "@{ ModuleVersion = '5.2.0' }").unwrap();
        let stop = Stop::new(None);
        let host = HostView::rooted(dir.path(), OsFamily::Linux).unwrap().with_stop(stop.clone());
        let inventory = scan_until(&host, &ScanOptions::default()).unwrap();
        assert_eq!(inventory.installations.len(), 1);
        stop.stop();
        assert_eq!(scan_until(&host, &ScanOptions::default()), Err(Stopped));
    }
}

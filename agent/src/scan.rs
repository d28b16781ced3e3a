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

/// Scans `host` with every detector. Never fails: what cannot be read is in `errors`.
pub fn scan_with(host: &HostView, options: &ScanOptions) -> Inventory {
    let (homes, home_errors) = host.homes();
    let cx = ScanContext { host, homes: &homes, report_account_names: options.report_account_names };
    let mut detection = Detection { errors: home_errors, ..Detection::default() };
    for detector in detect::all() {
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

//! One scan: build the context, run every detector, assemble the inventory.

use azver_core::Inventory;

use crate::detect::{self, Detection, ScanContext};
use crate::facts::host_facts;
use crate::host::HostView;

/// Scans `host` with every detector. Never fails: what cannot be read is in `errors`.
pub fn scan(host: &HostView) -> Inventory {
    let (homes, home_errors) = host.homes();
    let cx = ScanContext { host, homes: &homes };
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
    Inventory {
        host: host_facts(host),
        installations: detection.installations,
        identities: detection.identities,
        errors: detection.errors,
    }
}

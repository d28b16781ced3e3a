//! Detection: one detector per source, each behind [`Detector`], each failing on its own.
//!
//! A detector records what it cannot read in [`Detection::errors`] and goes on: a broken
//! manifest never hides the other installations. Detectors read only metadata files and list
//! only the folders where metadata lives; they never walk whole `site-packages` trees and never
//! start a process.

pub mod az_powershell;
pub mod azure_cli;
pub mod identity;
pub mod jobs;
pub mod launcher;
#[cfg(test)]
mod properties;
pub mod psd1;
pub mod pyc;
pub mod pyenv;
pub mod pymeta;
pub mod role;
#[cfg(windows)]
pub mod windows_registry;

use azver_core::{Identity, Installation, JobSignIn, ScanError};

use crate::host::{Home, HostView};

/// What detectors found, accumulated over one scan.
#[derive(Debug, Default)]
pub struct Detection {
    /// Installations found.
    pub installations: Vec<Installation>,
    /// Signed-in identities found.
    pub identities: Vec<Identity>,
    /// What could not be read.
    pub errors: Vec<ScanError>,
    /// Scheduled jobs that sign in to Azure (redacted).
    pub job_sign_ins: Vec<JobSignIn>,
    /// CI agents' services found among the service definitions.
    pub runner_services: Vec<role::RunnerService>,
}

/// Shared, read-only context of one scan.
#[derive(Debug)]
pub struct ScanContext<'a> {
    /// The host being scanned.
    pub host: &'a HostView,
    /// Every readable user home.
    pub homes: &'a [Home],
    /// Whether identities may carry account names (`report_account_names`, off by default).
    pub report_account_names: bool,
}

/// One source of installations.
pub trait Detector {
    /// Short name for logs.
    fn name(&self) -> &'static str;
    /// Adds what this source finds to `out`.
    fn detect(&self, cx: &ScanContext<'_>, out: &mut Detection);
}

/// Every detector, in the order their results are reported.
pub fn all() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(azure_cli::AzureCli),
        Box::new(az_powershell::AzPowerShell),
        Box::new(identity::Identities),
        Box::new(jobs::Jobs),
    ]
}

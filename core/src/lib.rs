//! azver's shared, pure domain: what a scan finds ([`inventory`]), how versions compare
//! ([`version`]), the baseline and its evaluation ([`baseline`]), and upgrade hints ([`hint`]).
//!
//! Nothing here does I/O or reads the clock: the agent's `check` and the collector call the same
//! functions with the same inputs and get the same findings.

pub mod baseline;
pub mod duration;
pub mod error_text;
pub mod hint;
pub mod inventory;
pub mod usage;
pub mod version;

pub use baseline::{
    Baseline, BaselineError, Evaluation, Finding, FindingKind, IdentityPolicy, InstallPolicy, JobPolicy,
    RETIRED_MODULES, Rule, Severity, Status, Subject, Weight,
};
pub use duration::{DurationError, format_duration, parse_duration};
pub use error_text::{one_line, toml_error};
pub use inventory::{
    AccountType, Evidence, HostFacts, Identity, InstallSource, Installation, Inventory, JobSignIn, JobSignInKind,
    Omitted, OsFamily, Role, ScanError, ScanErrorKind, Scope, UNKNOWN_VERSION,
};
pub use version::{Version, VersionError};

/// Product id of the Azure CLI.
pub const AZURE_CLI: &str = "azure-cli";
/// Product id of the Az PowerShell rollup module.
pub const AZ: &str = "Az";
/// Product id of the Az.Accounts PowerShell module (authentication).
pub const AZ_ACCOUNTS: &str = "Az.Accounts";
/// Product id of Python's azure-identity library, named by a job that signs in with its
/// `UsernamePasswordCredential`.
pub const AZURE_IDENTITY: &str = "azure-identity";

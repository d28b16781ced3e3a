//! What a scan finds on one host: facts, installations, signed-in identities and scan errors.
//!
//! These are the domain types; the wire types live in `azver-proto` and each side converts in
//! one module. Enums serialise in kebab-case (`pip-user`, `build-runner`) for JSON and TOML.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Operating-system family; decides which install layouts a scan expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OsFamily {
    /// Any Linux distribution.
    Linux,
    /// Windows (client or server).
    Windows,
    /// macOS.
    Macos,
}

impl OsFamily {
    /// The family of the OS this binary was built for.
    pub fn current() -> Self {
        if cfg!(windows) {
            Self::Windows
        } else if cfg!(target_os = "macos") {
            Self::Macos
        } else {
            Self::Linux
        }
    }

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Windows => "windows",
            Self::Macos => "macos",
        }
    }
}

/// What a host is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A person's workstation or laptop.
    Developer,
    /// A CI/CD build agent or runner.
    BuildRunner,
    /// Any other server.
    Server,
}

/// How an installation got onto the host; picks the upgrade hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstallSource {
    /// Microsoft's deb package under `/opt/az`.
    MicrosoftDeb,
    /// Microsoft's rpm package under `/usr/lib64/az`.
    MicrosoftRpm,
    /// A distribution's own package (Debian's `azure-cli`).
    DistroPackage,
    /// `pip install` into a virtual environment or prefix.
    Pip,
    /// `pip install --user`.
    PipUser,
    /// `pipx install`.
    Pipx,
    /// Homebrew or Linuxbrew.
    Homebrew,
    /// The Windows MSI (also winget).
    WindowsMsi,
    /// The Windows ZIP package.
    WindowsZip,
    /// A PowerShell module from the PowerShell Gallery.
    PowershellGallery,
    /// Modules saved into a hosted CI runner image (`/usr/share/az_*`, `C:\Modules\az_*`).
    HostedRunnerImage,
    /// A module shipped with PowerShell itself.
    PowershellBundled,
    /// Found, but of no recognised origin.
    Other,
    /// A conda environment (conda, mamba, micromamba, miniforge, anaconda): `conda-meta/`.
    Conda,
    /// `uv tool install azure-cli` (`~/.local/share/uv/tools/azure-cli`).
    UvTool,
    /// The Nix package, reached through a Nix profile (`/nix/store/...-azure-cli-*`).
    Nix,
    /// Scoop's `azure-cli` app (`scoop\apps\azure-cli\current`, the MSI's files unpacked).
    Scoop,
}

/// Whether an installation serves the machine or one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every user of the machine.
    System,
    /// One user (see [`Installation::user`]).
    User,
}

/// Where a version was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// `*.dist-info/METADATA`.
    DistInfo,
    /// `*.egg-info/PKG-INFO`.
    EggInfo,
    /// A PowerShell module manifest.
    Psd1,
    /// The Windows registry.
    Registry,
    /// The version constant inside `azure/cli/core/__init__.pyc`.
    Pyc,
    /// `az version -o json` (only with `--exec`).
    AzVersion,
    /// An `az` launcher whose Python environment or version could not be read: the version is
    /// [`UNKNOWN_VERSION`].
    Launcher,
    /// An `azure/cli` package folder without readable metadata: the version is [`UNKNOWN_VERSION`].
    PackageFolder,
    /// A conda package record, `conda-meta/<name>-<version>-<build>.json`.
    CondaMeta,
    /// A source this build does not know (sent by a newer agent).
    #[serde(other)]
    Unknown,
}

/// The version of an installation that was found but whose version could not be read (an `az`
/// launcher that leads nowhere readable, an `azure/cli` package without metadata).
pub const UNKNOWN_VERSION: &str = "unknown";

/// One copy of an Azure client, or one PowerShell module version, found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    /// `azure-cli`, `Az`, `Az.Accounts`, another `Az.*` module, or `azure-cli-extension/<name>`.
    pub product: String,
    /// The version as found, as the user would recognise it.
    pub version: String,
    /// How it was installed.
    pub source: InstallSource,
    /// Machine-wide or per-user.
    pub scope: Scope,
    /// Owner of a user-scope installation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Install path as seen on the host (inside the scanned root).
    pub path: String,
    /// The Azure CLI copy that `az` on PATH runs.
    #[serde(default)]
    pub on_path: bool,
    /// The module version PowerShell imports by default (the highest found).
    #[serde(default)]
    pub default_for_powershell: bool,
    /// Where the version was read from.
    pub evidence: Evidence,
}

impl Installation {
    /// True when the installation was found but its version could not be read.
    pub fn version_unknown(&self) -> bool {
        self.version == UNKNOWN_VERSION
    }
}

/// Kind of account a client is signed in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountType {
    /// A person's account: what MFA enforcement breaks in automation.
    User,
    /// An application identity with a secret or certificate.
    ServicePrincipal,
    /// An Azure managed identity.
    ManagedIdentity,
    /// Azure Cloud Shell's sign-in.
    CloudShell,
    /// A raw access token.
    AccessToken,
    /// A certificate-based sign-in.
    Certificate,
    /// Any type this agent does not recognise.
    Unknown,
}

impl AccountType {
    /// Every type.
    pub const ALL: [AccountType; 7] = [
        AccountType::User,
        AccountType::ServicePrincipal,
        AccountType::ManagedIdentity,
        AccountType::CloudShell,
        AccountType::AccessToken,
        AccountType::Certificate,
        AccountType::Unknown,
    ];

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ServicePrincipal => "service-principal",
            Self::ManagedIdentity => "managed-identity",
            Self::CloudShell => "cloud-shell",
            Self::AccessToken => "access-token",
            Self::Certificate => "certificate",
            Self::Unknown => "unknown",
        }
    }
}

/// A signed-in identity read from a client's profile file. Never a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `azure-cli` or `Az`.
    pub tool: String,
    /// What kind of account.
    pub account_type: AccountType,
    /// Entra tenant id.
    pub tenant_id: String,
    /// Cloud or environment name.
    pub cloud: String,
    /// Local account whose profile holds the sign-in.
    pub local_user: String,
    /// The default context or subscription.
    pub is_default: bool,
    /// Only when the agent's configuration allows sending account names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// Profile file path as seen on the host.
    pub path: String,
}

/// Machine-readable kind of a scan error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanErrorKind {
    /// The agent lacked the rights to read something (it says what it skipped).
    PermissionDenied,
    /// A PowerShell module manifest that does not parse.
    MalformedManifest,
    /// Python package metadata without a usable `Version:`.
    MalformedMetadata,
    /// A sign-in profile (`azureProfile.json`, `AzureRmContext.json`) that does not parse.
    MalformedProfile,
    /// A version string that does not parse.
    BadVersion,
    /// Symbolic links that loop or go too deep.
    SymlinkLoop,
    /// A link that points outside the scanned root.
    OutsideRoot,
    /// A directory where a file was expected, or the reverse.
    WrongFileType,
    /// A file larger than any real one of its kind.
    TooLarge,
    /// Any other I/O failure.
    Io,
    /// `az version` failed or disagreed with the files (only with `--exec`).
    ExecFailed,
    /// A bounded walk stopped at its budget (entries visited); the folder named was not searched
    /// to the end.
    BudgetExceeded,
    /// A kind this build does not know (sent by a newer agent).
    #[serde(other)]
    Other,
}

/// Something the scan could not read; recorded, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanError {
    /// Path the error is about, as seen on the host.
    pub path: String,
    /// What went wrong, for machines.
    pub kind: ScanErrorKind,
    /// What went wrong, for people.
    pub message: String,
}

/// Facts about a host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// Stable id kept in the agent's state dir; absent for a one-off `scan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Host name.
    pub hostname: String,
    /// OS family, when known.
    pub os_family: Option<OsFamily>,
    /// OS name, e.g. `Debian GNU/Linux`.
    pub os_name: String,
    /// OS version, e.g. `12`.
    pub os_version: String,
    /// Kernel version.
    pub kernel_version: String,
    /// CPU architecture.
    pub architecture: String,
    /// Version of the agent that scanned.
    pub agent_version: String,
    /// What the host is used for, when known.
    pub role: Option<Role>,
    /// Administrator-defined labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The CI system whose agent was found on disk, when the role was detected from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_system: Option<String>,
    /// Reports the agent has dropped undelivered so far (its spool was full).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spool_dropped: u64,
    /// The service that revealed the CI agent, wherever its folder lives
    /// (`systemd:actions.runner.contoso.build01.service`, `launchd:actions.runner.contoso.mac01`,
    /// `service:vstsagent.contoso.Default.BUILD01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_service: Option<String>,
    /// The file (unit, property list) or registry key that defines [`HostFacts::ci_service`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_service_path: Option<String>,
    /// What the agent left out of its last report to stay within the collector's limits (kept
    /// with the host's facts, so the collector stores and shows it with no schema change).
    #[serde(default, skip_serializing_if = "Omitted::is_empty")]
    pub omitted: Omitted,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Everything one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Host facts.
    pub host: HostFacts,
    /// Every installation found, each copy separately.
    pub installations: Vec<Installation>,
    /// Signed-in identities.
    pub identities: Vec<Identity>,
    /// What could not be read.
    pub errors: Vec<ScanError>,
    /// Scheduled jobs and CI build steps that sign in to Azure, found in their definitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_sign_ins: Vec<JobSignIn>,
}

/// What a job's sign-in does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobSignInKind {
    /// Signs in as a person with a user name and password (`az login -u -p`,
    /// `Connect-AzAccount -Credential`): fails once MFA is enforced.
    UserPassword,
    /// Signs in as a service principal whose secret is written into the job in plain text.
    PlaintextSecret,
    /// A kind this build does not know (sent by a newer agent).
    #[serde(other)]
    Other,
}

impl JobSignInKind {
    /// Every known kind.
    pub const ALL: [JobSignInKind; 2] = [JobSignInKind::UserPassword, JobSignInKind::PlaintextSecret];

    /// The name used on the wire and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserPassword => "user-password",
            Self::PlaintextSecret => "plaintext-secret",
            Self::Other => "other",
        }
    }
}

/// A sign-in to Azure found in a scheduled job's definition or in a script the job runs.
///
/// Never a credential: every value after a password, credential or secret switch is `***`
/// before this value is built.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobSignIn {
    /// The client the command belongs to: `azure-cli`, `Az` or `AzureRM`.
    pub product: String,
    /// The file holding the command (the job definition or the script it runs), as seen on the host.
    pub path: String,
    /// The command's line in that file (1-based); `None` where the format has no lines (binary plists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Scheduler and job name: `cron:/etc/cron.d/nightly-backup`, `task:\Ops\Rotate`,
    /// `launchd:com.contoso.sync`, `systemd:report.service`, `jenkins:deploy-prod`.
    pub job: String,
    /// The account the job runs as, where its definition says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as: Option<String>,
    /// The matched command, secrets replaced by `***`.
    pub command: String,
    /// What is wrong with it.
    pub kind: JobSignInKind,
}

/// Counts of entries an agent left out of a report, so that a host with thousands of broken
/// module folders still reports (and cannot hide itself by exceeding the collector's limits);
/// the entries kept are the ones that decide the verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Omitted {
    /// Installations left out (other modules and extensions first, never the lowest and highest
    /// version of a baseline product).
    #[serde(default)]
    pub installations: u64,
    /// Identities left out (user sign-ins are kept first).
    #[serde(default)]
    pub identities: u64,
    /// Scan errors left out.
    #[serde(default)]
    pub errors: u64,
    /// Job sign-ins left out (a user's password is kept before a plaintext secret, and the
    /// first finding of each file before a second one of any).
    #[serde(default)]
    pub job_sign_ins: u64,
    /// True when the collector refused the full report and this is the reduced form the agent
    /// sent instead.
    #[serde(default)]
    pub reduced: bool,
}

impl Omitted {
    /// True when nothing was left out.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_type_names_are_the_json_ones() {
        for kind in AccountType::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str(), "{kind:?}");
            assert_eq!(serde_json::from_value::<AccountType>(kind.as_str().into()).unwrap(), kind);
        }
    }
}

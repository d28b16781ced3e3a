//! The baseline (minimum versions per product) and its evaluation against an inventory.
//!
//! This is the one implementation: the agent's `check` and the collector both call
//! [`Baseline::evaluate`]. It is pure: installations and a baseline in, status and findings out.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::hint::{identity_hint, job_hint, retired_module_hint, unknown_version_hint, upgrade_hint};
use crate::inventory::{AccountType, Identity, InstallSource, Installation, JobSignIn, JobSignInKind, Role};
use crate::version::Version;

/// The baseline azver ships with; also in `docs/baseline.md`.
pub const DEFAULT_BASELINE_TOML: &str = include_str!("../baseline.default.toml");

/// Why a baseline file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Not valid TOML, an unknown key, or a missing field (`line L, column C: message`).
    #[error("baseline is not valid: {0}")]
    Syntax(String),
    /// A minimum that is not a version.
    #[error("baseline minimum for {product:?} is not a version: {source}")]
    BadMinimum {
        /// Product whose minimum is wrong.
        product: String,
        /// Why it does not parse.
        source: crate::version::VersionError,
    },
    /// A baseline with no products would make every host "not applicable".
    #[error("baseline names no products; add at least one [products.\"NAME\"] table")]
    Empty,
}

/// Which installations of a product must meet the minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Every installation found.
    Every,
    /// Only the newest version found anywhere on the host.
    Newest,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBaseline {
    products: BTreeMap<String, RawProduct>,
    #[serde(default)]
    findings: RawFindings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFindings {
    #[serde(rename = "human-identity-on-build-runner")]
    human_identity_on_build_runner: Option<Weight>,
    #[serde(rename = "human-identity")]
    human_identity: Option<Weight>,
    #[serde(rename = "user-password-sign-in")]
    user_password_sign_in: Option<Weight>,
    #[serde(rename = "plaintext-secret-in-job")]
    plaintext_secret_in_job: Option<Weight>,
    #[serde(rename = "unknown-version")]
    unknown_version: Option<Weight>,
    #[serde(rename = "retired-module")]
    retired_module: Option<Weight>,
}

/// What a kind of identity finding does to a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weight {
    /// Reported with high severity; makes the host noncompliant.
    Noncompliant,
    /// Reported for information; never changes the status.
    Info,
    /// Not reported.
    Off,
}

impl Weight {
    fn as_str(self) -> &'static str {
        match self {
            Weight::Noncompliant => "noncompliant",
            Weight::Info => "info",
            Weight::Off => "off",
        }
    }
}

/// How identity findings count. Defaults: a user sign-in on a build runner makes it
/// noncompliant (it is exactly what MFA enforcement breaks); elsewhere it is information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityPolicy {
    /// `human-identity-on-build-runner`: a user account signed in on a build runner.
    pub on_build_runner: Weight,
    /// `human-identity`: a user account signed in on any other host.
    pub elsewhere: Weight,
}

impl Default for IdentityPolicy {
    fn default() -> Self {
        Self { on_build_runner: Weight::Noncompliant, elsewhere: Weight::Info }
    }
}

/// How findings about scheduled jobs count. Defaults: a job that signs in with a user's password
/// makes the host noncompliant (it fails on its next run once MFA is enforced); a service
/// principal's secret written into a job is information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPolicy {
    /// `user-password-sign-in`: a job signs in as a user with a password.
    pub user_password: Weight,
    /// `plaintext-secret-in-job`: a job signs in as a service principal with a literal secret.
    pub plaintext_secret: Weight,
}

impl Default for JobPolicy {
    fn default() -> Self {
        Self { user_password: Weight::Noncompliant, plaintext_secret: Weight::Info }
    }
}

/// How installation findings that are not about a minimum count. Defaults: an Azure CLI whose
/// version cannot be read makes the host noncompliant (it cannot be shown to meet the baseline:
/// no silent all-clear); a retired module (AzureRM) is information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallPolicy {
    /// `unknown-version`: a launcher or package found whose version cannot be read.
    pub unknown_version: Weight,
    /// `retired-module`: AzureRM, retired in 2024, still installed.
    pub retired_module: Weight,
}

impl Default for InstallPolicy {
    fn default() -> Self {
        Self { unknown_version: Weight::Noncompliant, retired_module: Weight::Info }
    }
}

impl Weight {
    /// The severity a finding of this weight gets; `None` when it is not reported.
    fn severity(self) -> Option<Severity> {
        match self {
            Weight::Noncompliant => Some(Severity::High),
            Weight::Info => Some(Severity::Info),
            Weight::Off => None,
        }
    }
}

/// Products that are retired and reported with a `retired-module` finding whatever the
/// baseline's products say: the AzureRM meta-module and its authentication module.
pub const RETIRED_MODULES: [&str; 2] = ["AzureRM", "AzureRM.Profile"];

/// What one host has, as the baseline sees it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Installations found.
    pub installations: &'a [Installation],
    /// Signed-in identities found.
    pub identities: &'a [Identity],
    /// The host's role, when known.
    pub role: Option<Role>,
    /// Sign-ins found in scheduled jobs.
    pub jobs: &'a [JobSignIn],
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    minimum: String,
    rule: Rule,
}

/// The requirement for one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRule {
    /// Lowest acceptable version.
    pub minimum: Version,
    /// Which installations must meet it.
    pub rule: Rule,
}

/// Minimum versions per product, keyed by product id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    products: BTreeMap<String, ProductRule>,
    identities: IdentityPolicy,
    jobs: JobPolicy,
    installs: InstallPolicy,
}

impl Default for Baseline {
    fn default() -> Self {
        Self::from_toml(DEFAULT_BASELINE_TOML).expect("the built-in baseline is valid")
    }
}

/// Compliance of one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every baseline product found meets its minimum.
    Compliant,
    /// At least one finding counts against the host.
    Noncompliant,
    /// No product of the baseline is installed.
    NotApplicable,
    /// Not seen for too long (decided by the collector, which knows the time of last contact).
    Stale,
}

impl Status {
    /// Every status, in the order reports list them.
    pub const ALL: [Self; 4] = [Self::Compliant, Self::Noncompliant, Self::NotApplicable, Self::Stale];

    /// The name used in JSON, CSV and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "compliant",
            Self::Noncompliant => "noncompliant",
            Self::NotApplicable => "not-applicable",
            Self::Stale => "stale",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// An installation older than the baseline's minimum.
    BelowBaseline,
    /// An installation whose version cannot be read, so it cannot be shown to meet the baseline.
    UnparseableVersion,
    /// A build runner signed in with a user account: automation that MFA enforcement breaks.
    HumanIdentityOnBuildRunner,
    /// A user account signed in on a host that is not a build runner.
    HumanIdentity,
    /// A scheduled job signs in with a user's password: it fails on its next run under MFA.
    UserPasswordSignIn,
    /// A scheduled job signs in as a service principal with a secret written into the job.
    PlaintextSecretInJob,
    /// An installation found (a launcher, an `azure/cli` package) whose version cannot be read.
    UnknownVersion,
    /// A retired module (AzureRM) still installed: no MFA claims-challenge support.
    RetiredModule,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Breaks under MFA enforcement.
    High,
    /// Should be looked at.
    Medium,
    /// For information; never changes a status.
    Info,
}

/// One thing the baseline found wrong on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// How much it matters.
    pub severity: Severity,
    /// Product id.
    pub product: String,
    /// The installed version as found.
    pub installed: String,
    /// The baseline's minimum.
    pub required: String,
    /// The installation's path.
    pub path: String,
    /// How it was installed.
    pub source: InstallSource,
    /// The upgrade command that fits the install source (or, for identity findings, how to
    /// sign in instead); never empty.
    pub hint: String,
    /// For identity findings: the kind of account signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<AccountType>,
    /// For job findings: the command's line in [`Finding::path`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// For job findings: scheduler and job name (`cron:/etc/cron.d/nightly`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// For job findings: the account the job runs as, where its definition says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as: Option<String>,
    /// For job findings: the command, secrets replaced by `***`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl Finding {
    /// One line for people: what is wrong, without the path or the fix.
    pub fn describe(&self) -> String {
        match self.kind {
            FindingKind::BelowBaseline => format!("{} {} is below {}", self.product, self.installed, self.required),
            FindingKind::UnparseableVersion => {
                format!("{} version {:?} cannot be read (need {})", self.product, self.installed, self.required)
            }
            FindingKind::HumanIdentityOnBuildRunner => {
                format!("{} is signed in as a user on a build runner", self.product)
            }
            FindingKind::HumanIdentity => format!("{} is signed in as a user", self.product),
            FindingKind::UserPasswordSignIn => format!(
                "job {} signs in to {} with a user's password",
                self.job.as_deref().unwrap_or("?"),
                self.product
            ),
            FindingKind::PlaintextSecretInJob => format!(
                "job {} signs in to {} with a secret written in plain text",
                self.job.as_deref().unwrap_or("?"),
                self.product
            ),
            FindingKind::UnknownVersion => {
                format!("{} was found but its version cannot be read (need {})", self.product, self.required)
            }
            FindingKind::RetiredModule => format!("{} {} is retired", self.product, self.installed),
        }
    }
}

/// A host's status and the findings behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Overall status.
    pub status: Status,
    /// What is wrong, in a stable order (product, path).
    pub findings: Vec<Finding>,
}

impl Baseline {
    /// Parses a baseline file; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<Self, BaselineError> {
        let raw: RawBaseline =
            toml::from_str(text).map_err(|e| BaselineError::Syntax(crate::error_text::toml_error(text, &e)))?;
        if raw.products.is_empty() {
            return Err(BaselineError::Empty);
        }
        let defaults = IdentityPolicy::default();
        let identities = IdentityPolicy {
            on_build_runner: raw.findings.human_identity_on_build_runner.unwrap_or(defaults.on_build_runner),
            elsewhere: raw.findings.human_identity.unwrap_or(defaults.elsewhere),
        };
        let job_defaults = JobPolicy::default();
        let jobs = JobPolicy {
            user_password: raw.findings.user_password_sign_in.unwrap_or(job_defaults.user_password),
            plaintext_secret: raw.findings.plaintext_secret_in_job.unwrap_or(job_defaults.plaintext_secret),
        };
        let install_defaults = InstallPolicy::default();
        let installs = InstallPolicy {
            unknown_version: raw.findings.unknown_version.unwrap_or(install_defaults.unknown_version),
            retired_module: raw.findings.retired_module.unwrap_or(install_defaults.retired_module),
        };
        let products = raw
            .products
            .into_iter()
            .map(|(product, raw)| match Version::parse(&raw.minimum) {
                Ok(minimum) => Ok((product, ProductRule { minimum, rule: raw.rule })),
                Err(source) => Err(BaselineError::BadMinimum { product, source }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { products, identities, jobs, installs })
    }

    /// Writes the baseline back in its TOML format (what a collector serves to agents).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (product, rule) in &self.products {
            let rule_name = match rule.rule {
                Rule::Every => "every",
                Rule::Newest => "newest",
            };
            out.push_str(&format!(
                "[products.{}]\nminimum = {}\nrule = \"{rule_name}\"\n\n",
                toml_string(product),
                toml_string(rule.minimum.as_str())
            ));
        }
        out.push_str(&format!(
            "[findings]\n\"human-identity-on-build-runner\" = \"{}\"\n\"human-identity\" = \"{}\"\n",
            self.identities.on_build_runner.as_str(),
            self.identities.elsewhere.as_str()
        ));
        out.push_str(&format!(
            "\"user-password-sign-in\" = \"{}\"\n\"plaintext-secret-in-job\" = \"{}\"\n\"unknown-version\" = \"{}\"\n\"retired-module\" = \"{}\"\n",
            self.jobs.user_password.as_str(),
            self.jobs.plaintext_secret.as_str(),
            self.installs.unknown_version.as_str(),
            self.installs.retired_module.as_str()
        ));
        out
    }

    /// How job findings count.
    pub fn job_policy(&self) -> JobPolicy {
        self.jobs
    }

    /// How identity findings count.
    pub fn identity_policy(&self) -> IdentityPolicy {
        self.identities
    }

    /// How unknown-version and retired-module findings count.
    pub fn install_policy(&self) -> InstallPolicy {
        self.installs
    }

    /// The rule for one product, if the baseline names it.
    pub fn rule(&self, product: &str) -> Option<&ProductRule> {
        self.products.get(product)
    }

    /// Products the baseline names, in order.
    pub fn products(&self) -> impl Iterator<Item = (&str, &ProductRule)> {
        self.products.iter().map(|(name, rule)| (name.as_str(), rule))
    }

    /// Evaluates a host: its installations against the products' minimums (products the
    /// baseline does not name are ignored), and its identities against the identity policy.
    pub fn evaluate(&self, subject: &Subject<'_>) -> Evaluation {
        let installations = subject.installations;
        let mut findings = Vec::new();
        let mut applicable = false;
        for (product, rule) in &self.products {
            let found: Vec<&Installation> = installations.iter().filter(|i| &i.product == product).collect();
            if found.is_empty() {
                continue;
            }
            applicable = true;
            match rule.rule {
                Rule::Every => {
                    for install in found {
                        findings.extend(check_one(install, rule));
                    }
                }
                Rule::Newest => findings.extend(check_newest(&found, rule)),
            }
        }
        // Unknown versions take the weight the baseline gives them (noncompliant by default).
        findings.retain_mut(|f| {
            if f.kind != FindingKind::UnknownVersion {
                return true;
            }
            match self.installs.unknown_version.severity() {
                Some(severity) => {
                    f.severity = severity;
                    true
                }
                None => false,
            }
        });
        if let Some(severity) = self.installs.retired_module.severity() {
            for install in
                installations.iter().filter(|i| RETIRED_MODULES.iter().any(|r| r.eq_ignore_ascii_case(&i.product)))
            {
                applicable |= severity == Severity::High;
                findings.push(Finding {
                    kind: FindingKind::RetiredModule,
                    severity,
                    product: install.product.clone(),
                    installed: install.version.clone(),
                    required: crate::AZ.to_owned(),
                    path: install.path.clone(),
                    source: install.source,
                    hint: retired_module_hint(install),
                    account_type: None,
                    line: None,
                    job: None,
                    run_as: None,
                    command: None,
                });
            }
        }
        let (kind, weight) = if subject.role == Some(Role::BuildRunner) {
            (FindingKind::HumanIdentityOnBuildRunner, self.identities.on_build_runner)
        } else {
            (FindingKind::HumanIdentity, self.identities.elsewhere)
        };
        if weight != Weight::Off {
            for identity in subject.identities.iter().filter(|i| i.account_type == AccountType::User) {
                applicable |= weight == Weight::Noncompliant;
                findings.push(Finding {
                    kind,
                    severity: if weight == Weight::Noncompliant { Severity::High } else { Severity::Info },
                    product: identity.tool.clone(),
                    installed: "user".into(),
                    required: "service principal, managed identity or workload identity federation".into(),
                    path: identity.path.clone(),
                    source: InstallSource::Other,
                    hint: identity_hint(&identity.tool),
                    account_type: Some(identity.account_type),
                    line: None,
                    job: None,
                    run_as: None,
                    command: None,
                });
            }
        }
        // Only findings of noncompliant weight change the status; a job finding keeps its
        // severity (medium for a plaintext secret) even when its weight is "info".
        let mut counting = findings.iter().any(|f| f.severity != Severity::Info);
        for job in subject.jobs {
            let (kind, weight, severity) = match job.kind {
                JobSignInKind::UserPassword => {
                    (FindingKind::UserPasswordSignIn, self.jobs.user_password, Severity::High)
                }
                JobSignInKind::PlaintextSecret => {
                    (FindingKind::PlaintextSecretInJob, self.jobs.plaintext_secret, Severity::Medium)
                }
                JobSignInKind::Other => continue,
            };
            if weight == Weight::Off {
                continue;
            }
            let counts = weight == Weight::Noncompliant;
            applicable |= counts;
            counting |= counts;
            findings.push(job_finding(
                job,
                kind,
                if counts || severity == Severity::Medium { severity } else { Severity::Info },
            ));
        }
        findings.sort_by(|a, b| {
            (a.kind, &a.product, &a.path, &a.line, &a.job, &a.installed).cmp(&(
                b.kind,
                &b.product,
                &b.path,
                &b.line,
                &b.job,
                &b.installed,
            ))
        });
        findings.dedup();
        let status = if !applicable {
            Status::NotApplicable
        } else if counting {
            Status::Noncompliant
        } else {
            Status::Compliant
        };
        Evaluation { status, findings }
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Every-rule check of one installation.
fn check_one(install: &Installation, rule: &ProductRule) -> Option<Finding> {
    if install.version_unknown() {
        return Some(finding(FindingKind::UnknownVersion, install, rule));
    }
    match Version::parse(&install.version) {
        Ok(version) if version >= rule.minimum => None,
        Ok(_) => Some(finding(FindingKind::BelowBaseline, install, rule)),
        Err(_) => Some(finding(FindingKind::UnparseableVersion, install, rule)),
    }
}

/// Newest-rule check: the highest readable version decides. Unreadable versions only count
/// when nothing readable meets the minimum, since PowerShell would not load them anyway.
fn check_newest(found: &[&Installation], rule: &ProductRule) -> Vec<Finding> {
    let newest = found
        .iter()
        .filter_map(|install| Version::parse(&install.version).ok().map(|v| (v, *install)))
        .max_by(|(a, _), (b, _)| a.cmp(b));
    match newest {
        Some((version, _)) if version >= rule.minimum => Vec::new(),
        Some((_, install)) => vec![finding(FindingKind::BelowBaseline, install, rule)],
        None => found
            .iter()
            .map(|i| {
                let kind =
                    if i.version_unknown() { FindingKind::UnknownVersion } else { FindingKind::UnparseableVersion };
                finding(kind, i, rule)
            })
            .collect(),
    }
}

/// The finding for one job sign-in.
fn job_finding(job: &JobSignIn, kind: FindingKind, severity: Severity) -> Finding {
    Finding {
        kind,
        severity,
        product: job.product.clone(),
        installed: job.kind.as_str().to_owned(),
        required: "managed identity, service principal with a certificate, or workload identity federation".into(),
        path: job.path.clone(),
        source: InstallSource::Other,
        hint: job_hint(&job.product),
        account_type: (job.kind == JobSignInKind::UserPassword).then_some(AccountType::User),
        line: job.line,
        job: Some(job.job.clone()),
        run_as: job.run_as.clone(),
        command: Some(job.command.clone()),
    }
}

fn finding(kind: FindingKind, install: &Installation, rule: &ProductRule) -> Finding {
    Finding {
        kind,
        severity: Severity::High,
        product: install.product.clone(),
        installed: install.version.clone(),
        required: rule.minimum.as_str().to_owned(),
        path: install.path.clone(),
        source: install.source,
        hint: if kind == FindingKind::UnknownVersion {
            unknown_version_hint(install, rule.minimum.as_str())
        } else {
            upgrade_hint(install, rule.minimum.as_str())
        },
        account_type: None,
        line: None,
        job: None,
        run_as: None,
        command: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Evidence, Scope};

    fn install(product: &str, version: &str, path: &str, source: InstallSource) -> Installation {
        Installation {
            product: product.into(),
            version: version.into(),
            source,
            scope: Scope::System,
            user: None,
            path: path.into(),
            on_path: false,
            default_for_powershell: false,
            evidence: Evidence::DistInfo,
        }
    }

    fn check(installs: &[Installation], status: Status, expected: &[(&str, &str, FindingKind)]) {
        let evaluation =
            Baseline::default().evaluate(&Subject { installations: installs, identities: &[], role: None, jobs: &[] });
        assert_eq!(evaluation.status, status, "{evaluation:#?}");
        let got: Vec<(&str, &str, FindingKind)> =
            evaluation.findings.iter().map(|f| (f.product.as_str(), f.installed.as_str(), f.kind)).collect();
        assert_eq!(got, expected);
        assert!(evaluation.findings.iter().all(|f| !f.hint.is_empty()));
    }

    #[test]
    fn nothing_installed_is_not_applicable() {
        check(&[], Status::NotApplicable, &[]);
        let unrelated = install("Az.Storage", "1.0.0", "/m/Az.Storage/1.0.0", InstallSource::PowershellGallery);
        check(&[unrelated], Status::NotApplicable, &[]);
    }

    #[test]
    fn every_cli_copy_must_meet_the_minimum() {
        let new = install("azure-cli", "2.76.0", "/opt/az", InstallSource::MicrosoftDeb);
        let old = install("azure-cli", "2.45.0", "/usr/lib/python3/dist-packages", InstallSource::DistroPackage);
        check(std::slice::from_ref(&new), Status::Compliant, &[]);
        check(&[new, old], Status::Noncompliant, &[("azure-cli", "2.45.0", FindingKind::BelowBaseline)]);
    }

    #[test]
    fn only_the_newest_module_counts() {
        let az_old = install("Az", "13.0.0", "/a/Az/13.0.0", InstallSource::PowershellGallery);
        let az_new = install("Az", "14.3.0", "/b/Az/14.3.0", InstallSource::PowershellGallery);
        let acc_old = install("Az.Accounts", "5.1.1", "/a/Az.Accounts/5.1.1", InstallSource::PowershellGallery);
        let acc_pre = install("Az.Accounts", "5.2.0-preview", "/b/Az.Accounts/5.2.0", InstallSource::PowershellGallery);
        check(&[az_old.clone(), az_new.clone()], Status::Compliant, &[]);
        check(&[az_old], Status::Noncompliant, &[("Az", "13.0.0", FindingKind::BelowBaseline)]);
        // A prerelease sorts below its release, so 5.2.0-preview is below 5.2.0.
        check(
            &[az_new, acc_old, acc_pre],
            Status::Noncompliant,
            &[("Az.Accounts", "5.2.0-preview", FindingKind::BelowBaseline)],
        );
    }

    #[test]
    fn unreadable_versions_cannot_prove_compliance() {
        let garbage = install("azure-cli", "banana", "/x", InstallSource::Other);
        check(&[garbage], Status::Noncompliant, &[("azure-cli", "banana", FindingKind::UnparseableVersion)]);
        let good = install("Az", "14.4.0", "/b/Az/14.4.0", InstallSource::PowershellGallery);
        let bad = install("Az", "x.y", "/a/Az/x.y", InstallSource::PowershellGallery);
        check(&[good, bad.clone()], Status::Compliant, &[]);
        check(&[bad], Status::Noncompliant, &[("Az", "x.y", FindingKind::UnparseableVersion)]);
    }

    #[test]
    fn an_unknown_version_is_noncompliant_unless_the_baseline_says_otherwise() {
        let mut unknown = install("azure-cli", crate::UNKNOWN_VERSION, "/home/a/bin/az", InstallSource::Other);
        unknown.evidence = Evidence::Launcher;
        let good = install("azure-cli", "2.76.0", "/opt/az", InstallSource::MicrosoftDeb);
        check(
            &[good.clone(), unknown.clone()],
            Status::Noncompliant,
            &[("azure-cli", "unknown", FindingKind::UnknownVersion)],
        );
        let evaluation = Baseline::default().evaluate(&Subject {
            installations: std::slice::from_ref(&unknown),
            identities: &[],
            role: None,
            jobs: &[],
        });
        assert_eq!(evaluation.status, Status::Noncompliant, "never a silent all-clear");
        let finding = &evaluation.findings[0];
        assert_eq!(finding.path, "/home/a/bin/az");
        assert!(finding.hint.starts_with("run `/home/a/bin/az version` there"), "{}", finding.hint);
        assert!(finding.describe().contains("cannot be read"), "{}", finding.describe());
        let text = format!("{}[findings]\n\"unknown-version\" = \"info\"\n", DEFAULT_BASELINE_TOML);
        let info = Baseline::from_toml(&text).unwrap();
        let evaluation = info.evaluate(&Subject {
            installations: &[good.clone(), unknown.clone()],
            identities: &[],
            role: None,
            jobs: &[],
        });
        assert_eq!(evaluation.status, Status::Compliant);
        assert_eq!(evaluation.findings[0].severity, Severity::Info);
        let off = Baseline::from_toml(&text.replace("\"info\"", "\"off\"")).unwrap();
        assert!(
            off.evaluate(&Subject { installations: &[good, unknown], identities: &[], role: None, jobs: &[] })
                .findings
                .is_empty()
        );
        assert_eq!(Baseline::from_toml(&off.to_toml()).unwrap(), off);
    }

    #[test]
    fn azurerm_is_reported_as_retired_for_information_by_default() {
        let rm = install("AzureRM", "6.13.1", "/m/AzureRM/6.13.1", InstallSource::PowershellGallery);
        let profile = install("AzureRM.Profile", "5.8.3", "/m/AzureRM.Profile/5.8.3", InstallSource::PowershellGallery);
        let az = install("Az", "14.3.0", "/m/Az/14.3.0", InstallSource::PowershellGallery);
        let accounts = install("Az.Accounts", "5.2.0", "/m/Az.Accounts/5.2.0", InstallSource::PowershellGallery);
        let all = [rm.clone(), profile.clone(), az, accounts];
        let evaluation =
            Baseline::default().evaluate(&Subject { installations: &all, identities: &[], role: None, jobs: &[] });
        assert_eq!(evaluation.status, Status::Compliant, "{evaluation:#?}");
        let got: Vec<(&str, FindingKind, Severity)> =
            evaluation.findings.iter().map(|f| (f.product.as_str(), f.kind, f.severity)).collect();
        assert_eq!(
            got,
            [
                ("AzureRM", FindingKind::RetiredModule, Severity::Info),
                ("AzureRM.Profile", FindingKind::RetiredModule, Severity::Info)
            ]
        );
        assert!(evaluation.findings[0].hint.starts_with("migrate to Az"), "{}", evaluation.findings[0].hint);
        let text = format!("{}[findings]\n\"retired-module\" = \"noncompliant\"\n", DEFAULT_BASELINE_TOML);
        let strict = Baseline::from_toml(&text).unwrap();
        let only_rm =
            strict.evaluate(&Subject { installations: &[rm, profile], identities: &[], role: None, jobs: &[] });
        assert_eq!(only_rm.status, Status::Noncompliant);
        assert!(only_rm.findings.iter().all(|f| f.severity == Severity::High));
        assert!(Baseline::from_toml(&text.replace("noncompliant\"", "sometimes\"")).is_err());
    }

    #[test]
    fn baseline_file_is_validated() {
        let custom = Baseline::from_toml("[products.\"azure-cli\"]\nminimum = \"2.80\"\nrule = \"newest\"\n").unwrap();
        assert_eq!(custom.rule("azure-cli").map(|r| r.rule), Some(Rule::Newest));
        assert!(custom.rule("Az").is_none());
        let unknown = Baseline::from_toml("[products.Az]\nminimum = \"1.0\"\nrule = \"every\"\nmaximum = \"2\"\n");
        assert!(unknown.unwrap_err().to_string().contains("unknown field `maximum`"));
        let bad = Baseline::from_toml("[products.Az]\nminimum = \"latest\"\nrule = \"every\"\n").unwrap_err();
        assert!(matches!(bad, BaselineError::BadMinimum { ref product, .. } if product == "Az"), "{bad}");
        let rule = Baseline::from_toml("[products.Az]\nminimum = \"1.0\"\nrule = \"oldest\"\n").unwrap_err();
        assert!(rule.to_string().contains("unknown variant `oldest`"), "{rule}");
        assert!(matches!(Baseline::from_toml("products = {}").unwrap_err(), BaselineError::Empty));
    }

    fn identity(tool: &str, account_type: AccountType) -> Identity {
        Identity {
            tool: tool.into(),
            account_type,
            tenant_id: "t".into(),
            cloud: "AzureCloud".into(),
            local_user: "runner".into(),
            is_default: true,
            account_name: None,
            path: format!("/home/runner/{tool}.json"),
        }
    }

    #[test]
    fn user_sign_ins_on_build_runners_are_noncompliant_elsewhere_information() {
        let cli = install("azure-cli", "2.76.0", "/opt/az", InstallSource::MicrosoftDeb);
        let identities = [
            identity("azure-cli", AccountType::User),
            identity("Az", AccountType::ServicePrincipal),
            identity("Az", AccountType::ManagedIdentity),
        ];
        let subject =
            |role| Subject { installations: std::slice::from_ref(&cli), identities: &identities, role, jobs: &[] };
        let runner = Baseline::default().evaluate(&subject(Some(Role::BuildRunner)));
        assert_eq!(runner.status, Status::Noncompliant);
        let kinds: Vec<(FindingKind, Severity, &str)> =
            runner.findings.iter().map(|f| (f.kind, f.severity, f.product.as_str())).collect();
        assert_eq!(kinds, [(FindingKind::HumanIdentityOnBuildRunner, Severity::High, "azure-cli")]);
        assert_eq!(runner.findings[0].account_type, Some(AccountType::User));
        assert!(runner.findings[0].hint.contains("--service-principal"), "{}", runner.findings[0].hint);
        for role in [Some(Role::Developer), Some(Role::Server), None] {
            let other = Baseline::default().evaluate(&subject(role));
            assert_eq!(other.status, Status::Compliant, "{role:?}");
            assert_eq!(
                other.findings.iter().map(|f| (f.kind, f.severity)).collect::<Vec<_>>(),
                [(FindingKind::HumanIdentity, Severity::Info)]
            );
        }
        // A runner with no client but a leftover user sign-in is still noncompliant.
        let bare = Baseline::default().evaluate(&Subject {
            installations: &[],
            identities: &identities,
            role: Some(Role::BuildRunner),
            jobs: &[],
        });
        assert_eq!(bare.status, Status::Noncompliant);
        let bare_dev = Baseline::default().evaluate(&Subject {
            installations: &[],
            identities: &identities,
            role: None,
            jobs: &[],
        });
        assert_eq!(bare_dev.status, Status::NotApplicable);
    }

    #[test]
    fn the_baseline_file_decides_whether_identity_findings_count() {
        let text = "[products.\"azure-cli\"]\nminimum = \"2.76.0\"\nrule = \"every\"\n[findings]\n\
                    \"human-identity-on-build-runner\" = \"info\"\n\"human-identity\" = \"noncompliant\"\n";
        let baseline = Baseline::from_toml(text).unwrap();
        let identities = [identity("Az", AccountType::User)];
        let runner = baseline.evaluate(&Subject {
            installations: &[],
            identities: &identities,
            role: Some(Role::BuildRunner),
            jobs: &[],
        });
        assert_eq!((runner.status, runner.findings[0].severity), (Status::NotApplicable, Severity::Info));
        let dev = baseline.evaluate(&Subject {
            installations: &[],
            identities: &identities,
            role: Some(Role::Developer),
            jobs: &[],
        });
        assert_eq!(dev.status, Status::Noncompliant);
        let off = Baseline::from_toml(&text.replace("\"info\"", "\"off\"")).unwrap();
        assert!(
            off.evaluate(&Subject {
                installations: &[],
                identities: &identities,
                role: Some(Role::BuildRunner),
                jobs: &[]
            })
            .findings
            .is_empty()
        );
        assert_eq!(Baseline::from_toml(&baseline.to_toml()).unwrap(), baseline);
        let bad = Baseline::from_toml(&format!("{text}\"human-identities\" = \"info\"\n")).unwrap_err().to_string();
        assert!(bad.contains("unknown field `human-identities`"), "{bad}");
    }

    #[test]
    fn baseline_round_trips_through_toml() {
        let baseline = Baseline::default();
        assert_eq!(Baseline::from_toml(&baseline.to_toml()).unwrap(), baseline);
        let minimums: Vec<(&str, &str)> = baseline.products().map(|(p, r)| (p, r.minimum.as_str())).collect();
        assert_eq!(minimums, [("Az", "14.3.0"), ("Az.Accounts", "5.2.0"), ("azure-cli", "2.76.0")]);
    }
}

//! The one place where wire types (`v1::*`) and domain types (`azver_core::*`) meet, in both
//! directions. The agent converts its inventory to a report here; the collector converts the
//! report back and its verdict out. Unknown enum values from a newer peer map to the
//! "unspecified/other" value instead of failing.

use std::collections::BTreeMap;

use azver_core::{
    AccountType, Evaluation, Evidence, Finding, HostFacts, Identity, InstallSource, Installation, Inventory, JobSignIn,
    JobSignInKind, Omitted, OsFamily, Role, ScanError, ScanErrorKind, Scope, Status,
};

use crate::v1;

/// Domain → wire install source.
pub fn source_to_wire(source: InstallSource) -> v1::InstallSource {
    use v1::InstallSource as W;
    match source {
        InstallSource::MicrosoftDeb => W::MicrosoftDeb,
        InstallSource::MicrosoftRpm => W::MicrosoftRpm,
        InstallSource::DistroPackage => W::DistroPackage,
        InstallSource::Pip => W::Pip,
        InstallSource::PipUser => W::PipUser,
        InstallSource::Pipx => W::Pipx,
        InstallSource::Homebrew => W::Homebrew,
        InstallSource::WindowsMsi => W::WindowsMsi,
        InstallSource::WindowsZip => W::WindowsZip,
        InstallSource::PowershellGallery => W::PowershellGallery,
        InstallSource::HostedRunnerImage => W::HostedRunnerImage,
        InstallSource::PowershellBundled => W::PowershellBundled,
        InstallSource::Other => W::Other,
        InstallSource::Conda => W::Conda,
        InstallSource::UvTool => W::UvTool,
        InstallSource::Nix => W::Nix,
        InstallSource::Scoop => W::Scoop,
    }
}

/// Wire → domain install source; unknown or unspecified is `Other`.
pub fn source_from_wire(value: i32) -> InstallSource {
    use v1::InstallSource as W;
    match W::try_from(value).unwrap_or(W::Unspecified) {
        W::MicrosoftDeb => InstallSource::MicrosoftDeb,
        W::MicrosoftRpm => InstallSource::MicrosoftRpm,
        W::DistroPackage => InstallSource::DistroPackage,
        W::Pip => InstallSource::Pip,
        W::PipUser => InstallSource::PipUser,
        W::Pipx => InstallSource::Pipx,
        W::Homebrew => InstallSource::Homebrew,
        W::WindowsMsi => InstallSource::WindowsMsi,
        W::WindowsZip => InstallSource::WindowsZip,
        W::PowershellGallery => InstallSource::PowershellGallery,
        W::HostedRunnerImage => InstallSource::HostedRunnerImage,
        W::PowershellBundled => InstallSource::PowershellBundled,
        W::Conda => InstallSource::Conda,
        W::UvTool => InstallSource::UvTool,
        W::Nix => InstallSource::Nix,
        W::Scoop => InstallSource::Scoop,
        W::Other | W::Unspecified => InstallSource::Other,
    }
}

/// Domain → wire role.
pub fn role_to_wire(role: Option<Role>) -> v1::Role {
    match role {
        None => v1::Role::Unspecified,
        Some(Role::Developer) => v1::Role::Developer,
        Some(Role::BuildRunner) => v1::Role::BuildRunner,
        Some(Role::Server) => v1::Role::Server,
    }
}

/// Wire → domain role.
pub fn role_from_wire(value: i32) -> Option<Role> {
    match v1::Role::try_from(value).unwrap_or(v1::Role::Unspecified) {
        v1::Role::Unspecified => None,
        v1::Role::Developer => Some(Role::Developer),
        v1::Role::BuildRunner => Some(Role::BuildRunner),
        v1::Role::Server => Some(Role::Server),
    }
}

fn os_to_wire(os: Option<OsFamily>) -> v1::OsFamily {
    match os {
        None => v1::OsFamily::Unspecified,
        Some(OsFamily::Linux) => v1::OsFamily::Linux,
        Some(OsFamily::Windows) => v1::OsFamily::Windows,
        Some(OsFamily::Macos) => v1::OsFamily::Macos,
    }
}

fn os_from_wire(value: i32) -> Option<OsFamily> {
    match v1::OsFamily::try_from(value).unwrap_or(v1::OsFamily::Unspecified) {
        v1::OsFamily::Unspecified => None,
        v1::OsFamily::Linux => Some(OsFamily::Linux),
        v1::OsFamily::Windows => Some(OsFamily::Windows),
        v1::OsFamily::Macos => Some(OsFamily::Macos),
    }
}

fn account_to_wire(account: AccountType) -> v1::AccountType {
    match account {
        AccountType::User => v1::AccountType::User,
        AccountType::ServicePrincipal => v1::AccountType::ServicePrincipal,
        AccountType::ManagedIdentity => v1::AccountType::ManagedIdentity,
        AccountType::CloudShell => v1::AccountType::CloudShell,
        AccountType::AccessToken => v1::AccountType::AccessToken,
        AccountType::Certificate => v1::AccountType::Certificate,
        AccountType::Unknown => v1::AccountType::Unknown,
    }
}

fn account_from_wire(value: i32) -> AccountType {
    match v1::AccountType::try_from(value).unwrap_or(v1::AccountType::Unknown) {
        v1::AccountType::User => AccountType::User,
        v1::AccountType::ServicePrincipal => AccountType::ServicePrincipal,
        v1::AccountType::ManagedIdentity => AccountType::ManagedIdentity,
        v1::AccountType::CloudShell => AccountType::CloudShell,
        v1::AccountType::AccessToken => AccountType::AccessToken,
        v1::AccountType::Certificate => AccountType::Certificate,
        v1::AccountType::Unknown | v1::AccountType::Unspecified => AccountType::Unknown,
    }
}

/// The kebab-case name serde gives a domain enum value (`dist-info`, `malformed-manifest`).
fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A domain enum from its kebab-case name; unknown names map to the enum's catch-all value.
fn from_name<T: serde::de::DeserializeOwned>(name: &str, fallback: T) -> T {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).unwrap_or(fallback)
}

/// Domain → wire installation.
pub fn installation_to_wire(i: &Installation) -> v1::Installation {
    v1::Installation {
        product: i.product.clone(),
        version: i.version.clone(),
        source: source_to_wire(i.source) as i32,
        scope: match i.scope {
            Scope::System => v1::Scope::System,
            Scope::User => v1::Scope::User,
        } as i32,
        user: i.user.clone().unwrap_or_default(),
        path: i.path.clone(),
        on_path: i.on_path,
        default_for_powershell: i.default_for_powershell,
        evidence: name_of(&i.evidence),
    }
}

/// Wire → domain installation.
pub fn installation_from_wire(i: &v1::Installation) -> Installation {
    Installation {
        product: i.product.clone(),
        version: i.version.clone(),
        source: source_from_wire(i.source),
        scope: if i.scope == v1::Scope::User as i32 { Scope::User } else { Scope::System },
        user: (!i.user.is_empty()).then(|| i.user.clone()),
        path: i.path.clone(),
        on_path: i.on_path,
        default_for_powershell: i.default_for_powershell,
        evidence: from_name(&i.evidence, Evidence::Unknown),
    }
}

/// Domain → wire identity.
pub fn identity_to_wire(i: &Identity) -> v1::Identity {
    v1::Identity {
        tool: i.tool.clone(),
        account_type: account_to_wire(i.account_type) as i32,
        tenant_id: i.tenant_id.clone(),
        cloud: i.cloud.clone(),
        local_user: i.local_user.clone(),
        is_default: i.is_default,
        account_name: i.account_name.clone().unwrap_or_default(),
        path: i.path.clone(),
    }
}

/// Wire → domain identity.
pub fn identity_from_wire(i: &v1::Identity) -> Identity {
    Identity {
        tool: i.tool.clone(),
        account_type: account_from_wire(i.account_type),
        tenant_id: i.tenant_id.clone(),
        cloud: i.cloud.clone(),
        local_user: i.local_user.clone(),
        is_default: i.is_default,
        account_name: (!i.account_name.is_empty()).then(|| i.account_name.clone()),
        path: i.path.clone(),
    }
}

/// Domain → wire scan error.
pub fn scan_error_to_wire(e: &ScanError) -> v1::ScanError {
    v1::ScanError { path: e.path.clone(), kind: name_of(&e.kind), message: e.message.clone() }
}

/// Wire → domain scan error.
pub fn scan_error_from_wire(e: &v1::ScanError) -> ScanError {
    ScanError { path: e.path.clone(), kind: from_name(&e.kind, ScanErrorKind::Other), message: e.message.clone() }
}

/// Domain → wire host facts.
pub fn host_to_wire(h: &HostFacts) -> v1::HostFacts {
    v1::HostFacts {
        host_id: h.host_id.clone().unwrap_or_default(),
        hostname: h.hostname.clone(),
        os_family: os_to_wire(h.os_family) as i32,
        os_name: h.os_name.clone(),
        os_version: h.os_version.clone(),
        kernel_version: h.kernel_version.clone(),
        architecture: h.architecture.clone(),
        agent_version: h.agent_version.clone(),
        role: role_to_wire(h.role) as i32,
        labels: h.labels.clone().into_iter().collect(),
        ci_system: h.ci_system.clone().unwrap_or_default(),
        spool_dropped: h.spool_dropped,
        ci_service: h.ci_service.clone().unwrap_or_default(),
        ci_service_path: h.ci_service_path.clone().unwrap_or_default(),
    }
}

/// Wire → domain host facts.
pub fn host_from_wire(h: &v1::HostFacts) -> HostFacts {
    HostFacts {
        host_id: (!h.host_id.is_empty()).then(|| h.host_id.clone()),
        hostname: h.hostname.clone(),
        os_family: os_from_wire(h.os_family),
        os_name: h.os_name.clone(),
        os_version: h.os_version.clone(),
        kernel_version: h.kernel_version.clone(),
        architecture: h.architecture.clone(),
        agent_version: h.agent_version.clone(),
        role: role_from_wire(h.role),
        labels: h.labels.clone().into_iter().collect::<BTreeMap<_, _>>(),
        ci_system: (!h.ci_system.is_empty()).then(|| h.ci_system.clone()),
        spool_dropped: h.spool_dropped,
        omitted: Omitted::default(),
        ci_service: non_empty(&h.ci_service),
        ci_service_path: non_empty(&h.ci_service_path),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Domain → wire job sign-in.
pub fn job_sign_in_to_wire(j: &JobSignIn) -> v1::JobSignIn {
    v1::JobSignIn {
        product: j.product.clone(),
        path: j.path.clone(),
        line: j.line.unwrap_or(0),
        job: j.job.clone(),
        run_as: j.run_as.clone().unwrap_or_default(),
        command: j.command.clone(),
        kind: j.kind.as_str().to_owned(),
    }
}

/// Wire → domain job sign-in; an unknown kind from a newer agent is `Other`.
pub fn job_sign_in_from_wire(j: &v1::JobSignIn) -> JobSignIn {
    JobSignIn {
        product: j.product.clone(),
        path: j.path.clone(),
        line: (j.line != 0).then_some(j.line),
        job: j.job.clone(),
        run_as: non_empty(&j.run_as),
        command: j.command.clone(),
        kind: from_name(&j.kind, JobSignInKind::Other),
    }
}

/// Builds the wire report of a scan.
pub fn report_to_wire(
    inventory: &Inventory,
    report_id: &str,
    sequence: u64,
    scanned_at_unix: i64,
) -> v1::InventoryReport {
    v1::InventoryReport {
        host: Some(host_to_wire(&inventory.host)),
        scanned_at: Some(prost_types::Timestamp { seconds: scanned_at_unix, nanos: 0 }),
        report_id: report_id.to_owned(),
        sequence,
        installations: inventory.installations.iter().map(installation_to_wire).collect(),
        identities: inventory.identities.iter().map(identity_to_wire).collect(),
        errors: inventory.errors.iter().map(scan_error_to_wire).collect(),
        job_sign_ins: inventory.job_sign_ins.iter().map(job_sign_in_to_wire).collect(),
        installations_omitted: inventory.host.omitted.installations,
        identities_omitted: inventory.host.omitted.identities,
        errors_omitted: inventory.host.omitted.errors,
        job_sign_ins_omitted: inventory.host.omitted.job_sign_ins,
        reduced: inventory.host.omitted.reduced,
    }
}

/// Wire → domain report: the inventory a report carries (host facts, findings, what the agent
/// left out). The agent uses it to rebuild a refused report in reduced form.
pub fn inventory_from_wire(report: &v1::InventoryReport) -> Inventory {
    Inventory {
        host: report_host_from_wire(report),
        installations: report.installations.iter().map(installation_from_wire).collect(),
        identities: report.identities.iter().map(identity_from_wire).collect(),
        errors: report.errors.iter().map(scan_error_from_wire).collect(),
        job_sign_ins: report.job_sign_ins.iter().map(job_sign_in_from_wire).collect(),
    }
}

/// The host facts of a report, with what the agent left out of it (which the wire carries on
/// the report, the domain with the facts).
pub fn report_host_from_wire(report: &v1::InventoryReport) -> HostFacts {
    HostFacts { omitted: omitted_from_wire(report), ..report.host.as_ref().map(host_from_wire).unwrap_or_default() }
}

/// What the agent left out of a report.
pub fn omitted_from_wire(report: &v1::InventoryReport) -> Omitted {
    Omitted {
        installations: report.installations_omitted,
        identities: report.identities_omitted,
        errors: report.errors_omitted,
        job_sign_ins: report.job_sign_ins_omitted,
        reduced: report.reduced,
    }
}

/// Domain → wire status.
pub fn status_to_wire(status: Status) -> v1::ComplianceStatus {
    match status {
        Status::Compliant => v1::ComplianceStatus::Compliant,
        Status::Noncompliant => v1::ComplianceStatus::Noncompliant,
        Status::NotApplicable => v1::ComplianceStatus::NotApplicable,
        Status::Stale => v1::ComplianceStatus::Stale,
    }
}

/// Wire → domain status; `None` for unspecified or unknown values.
pub fn status_from_wire(value: i32) -> Option<Status> {
    match v1::ComplianceStatus::try_from(value).ok()? {
        v1::ComplianceStatus::Unspecified => None,
        v1::ComplianceStatus::Compliant => Some(Status::Compliant),
        v1::ComplianceStatus::Noncompliant => Some(Status::Noncompliant),
        v1::ComplianceStatus::NotApplicable => Some(Status::NotApplicable),
        v1::ComplianceStatus::Stale => Some(Status::Stale),
    }
}

/// Domain → wire finding.
pub fn finding_to_wire(f: &Finding) -> v1::Finding {
    v1::Finding {
        kind: name_of(&f.kind),
        product: f.product.clone(),
        installed: f.installed.clone(),
        required: f.required.clone(),
        path: f.path.clone(),
        source: source_to_wire(f.source) as i32,
        hint: f.hint.clone(),
        severity: name_of(&f.severity),
        account_type: f.account_type.map_or(v1::AccountType::Unspecified, account_to_wire) as i32,
        line: f.line.unwrap_or(0),
        job: f.job.clone().unwrap_or_default(),
        run_as: f.run_as.clone().unwrap_or_default(),
        command: f.command.clone().unwrap_or_default(),
    }
}

/// Wire finding as the agent prints it (kind and severity stay text: a newer collector may send
/// kinds this agent does not know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFinding {
    /// Finding kind name.
    pub kind: String,
    /// Product id.
    pub product: String,
    /// Installed version.
    pub installed: String,
    /// Required version.
    pub required: String,
    /// Installation path.
    pub path: String,
    /// Install source.
    pub source: InstallSource,
    /// Upgrade hint.
    pub hint: String,
    /// Severity name (`high`, `info`).
    pub severity: String,
    /// For job findings: the command's line.
    pub line: Option<u32>,
    /// For job findings: the job.
    pub job: Option<String>,
    /// For job findings: the account the job runs as.
    pub run_as: Option<String>,
    /// For job findings: the redacted command.
    pub command: Option<String>,
}

/// Wire → printable finding.
pub fn finding_from_wire(f: &v1::Finding) -> WireFinding {
    WireFinding {
        kind: f.kind.clone(),
        product: f.product.clone(),
        installed: f.installed.clone(),
        required: f.required.clone(),
        path: f.path.clone(),
        source: source_from_wire(f.source),
        hint: f.hint.clone(),
        severity: f.severity.clone(),
        line: (f.line != 0).then_some(f.line),
        job: non_empty(&f.job),
        run_as: non_empty(&f.run_as),
        command: non_empty(&f.command),
    }
}

/// The collector's reply to a report.
pub fn response_to_wire(evaluation: &Evaluation, duplicate: bool) -> v1::ReportResponse {
    v1::ReportResponse {
        status: status_to_wire(evaluation.status) as i32,
        findings: evaluation.findings.iter().map(finding_to_wire).collect(),
        duplicate,
        next_report_in_seconds: 0,
        last_sequence: 0,
        outcome: v1::ReportOutcome::Unspecified as i32,
    }
}

/// What the collector did with a report, as [`receipt_to_wire`] sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Stored as the host's current state.
    Stored,
    /// A retry of a stored report.
    Duplicate,
    /// An older report (sequence not above the last); not stored.
    Behind,
}

/// The reply to a report: the verdict of the state the collector holds, what it did with the
/// report, and the host's last sequence there.
pub fn receipt_to_wire(evaluation: &Evaluation, receipt: Receipt, last_sequence: u64) -> v1::ReportResponse {
    let outcome = match receipt {
        Receipt::Stored => v1::ReportOutcome::Stored,
        Receipt::Duplicate => v1::ReportOutcome::Duplicate,
        Receipt::Behind => v1::ReportOutcome::Behind,
    };
    v1::ReportResponse {
        last_sequence,
        outcome: outcome as i32,
        ..response_to_wire(evaluation, receipt != Receipt::Stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installations_round_trip_and_unknown_values_degrade() {
        let install = Installation {
            product: "Az.Accounts".into(),
            version: "5.3.0-preview".into(),
            source: InstallSource::PowershellGallery,
            scope: Scope::User,
            user: Some("alice".into()),
            path: "/home/alice/.local/share/powershell/Modules/Az.Accounts/5.3.0".into(),
            on_path: false,
            default_for_powershell: true,
            evidence: Evidence::Psd1,
        };
        let wire = installation_to_wire(&install);
        assert_eq!(wire.evidence, "psd1");
        assert_eq!(installation_from_wire(&wire), install);
        let future = v1::Installation { source: 99, evidence: "quantum".into(), ..wire };
        let back = installation_from_wire(&future);
        assert_eq!((back.source, back.evidence), (InstallSource::Other, Evidence::Unknown));
        let error =
            scan_error_from_wire(&v1::ScanError { path: "/x".into(), kind: "new-kind".into(), message: "m".into() });
        assert_eq!(error.kind, ScanErrorKind::Other);
        assert_eq!(role_from_wire(42), None);
        assert_eq!(status_from_wire(v1::ComplianceStatus::Noncompliant as i32), Some(Status::Noncompliant));
    }
}

//! What `scan` and `check` print: a JSON document (stdout holds it alone) or short text that
//! reads well in a CI log.

use std::fmt::Write as _;

use azver_core::{Baseline, Evaluation, Inventory, Status};
use azver_proto::convert::WireFinding;
use serde::Serialize;

/// Writes command output to stdout. A reader that went away (`| head`) ends the output quietly:
/// that is not an error of the command.
pub fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// `scan --format json`.
pub fn scan_json(inventory: &Inventory) -> String {
    to_json(inventory)
}

/// `scan --format table`.
pub fn scan_table(inventory: &Inventory) -> String {
    let mut out = String::new();
    let host = &inventory.host;
    let os = host.os_family.map_or("", |f| f.as_str());
    let _ = writeln!(
        out,
        "host: {} ({os} {} {}, {})",
        or_dash(&host.hostname),
        host.os_name,
        host.os_version,
        or_dash(&host.architecture)
    );
    if inventory.installations.is_empty() {
        out.push_str("no Azure CLI or Az PowerShell installation found\n");
    } else {
        let mut rows = vec![["PRODUCT", "VERSION", "SOURCE", "SCOPE", "USER", "PATH"].map(String::from).to_vec()];
        for i in &inventory.installations {
            let mut path = i.path.clone();
            if i.on_path {
                path.push_str("  (on PATH)");
            }
            if i.default_for_powershell {
                path.push_str("  (default)");
            }
            rows.push(vec![
                i.product.clone(),
                i.version.clone(),
                kebab(&i.source),
                kebab(&i.scope),
                i.user.clone().unwrap_or_else(|| "-".into()),
                path,
            ]);
        }
        out.push_str(&align(&rows));
    }
    write_jobs(&mut out, inventory);
    if let (Some(ci), Some(service)) = (&host.ci_system, &host.ci_service) {
        let _ = writeln!(out, "build runner: {ci} agent revealed by {service}");
    }
    write_errors(&mut out, inventory);
    out
}

/// Scheduled jobs that sign in to Azure, one row each; commands are already redacted.
fn write_jobs(out: &mut String, inventory: &Inventory) {
    if inventory.job_sign_ins.is_empty() {
        return;
    }
    let _ = writeln!(out, "{} scheduled job sign-in(s):", inventory.job_sign_ins.len());
    let mut rows = vec![["KIND", "JOB", "FILE", "RUN AS", "COMMAND"].map(String::from).to_vec()];
    for job in &inventory.job_sign_ins {
        rows.push(vec![
            job.kind.as_str().to_owned(),
            job.job.clone(),
            file_line(&job.path, job.line),
            job.run_as.clone().unwrap_or_else(|| "-".into()),
            job.command.clone(),
        ]);
    }
    out.push_str(&align(&rows));
}

/// `path:line`, or the path alone when the format has no lines.
fn file_line(path: &str, line: Option<u32>) -> String {
    match line {
        Some(line) => format!("{path}:{line}"),
        None => path.to_owned(),
    }
}

fn write_errors(out: &mut String, inventory: &Inventory) {
    if inventory.errors.is_empty() {
        return;
    }
    let _ = writeln!(out, "{} scan error(s) (they do not change the result):", inventory.errors.len());
    for e in &inventory.errors {
        let _ = writeln!(out, "  {} {}: {}", kebab(&e.kind), e.path, e.message);
    }
}

/// The JSON of `check --format json`.
#[derive(Debug, Serialize)]
struct CheckJson<'a> {
    status: Status,
    findings: &'a [azver_core::Finding],
    installations: &'a [azver_core::Installation],
    errors: &'a [azver_core::ScanError],
}

/// `check --format json`.
pub fn check_json(inventory: &Inventory, evaluation: &Evaluation) -> String {
    to_json(&CheckJson {
        status: evaluation.status,
        findings: &evaluation.findings,
        installations: &inventory.installations,
        errors: &inventory.errors,
    })
}

/// `check` for people and CI logs: the verdict first, then one block per finding with its fix.
pub fn check_text(inventory: &Inventory, evaluation: &Evaluation, baseline: &Baseline, ci_job: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(ci) = ci_job {
        let _ = writeln!(
            out,
            "azver: inside a CI job ({ci}): this host counts as a build runner; checking the job user's sign-ins"
        );
    }
    let minimums: Vec<String> = baseline.products().map(|(p, r)| format!("{p} >= {}", r.minimum)).collect();
    let minimums = minimums.join(", ");
    match evaluation.status {
        Status::NotApplicable => {
            let _ = writeln!(
                out,
                "azver: not applicable: no Azure CLI or Az PowerShell module found (baseline: {minimums})"
            );
        }
        Status::Compliant => {
            let found: Vec<String> = baseline
                .products()
                .filter_map(|(p, _)| {
                    let versions: Vec<&str> =
                        inventory.installations.iter().filter(|i| i.product == p).map(|i| i.version.as_str()).collect();
                    (!versions.is_empty()).then(|| format!("{p} {}", versions.join("/")))
                })
                .collect();
            let _ = writeln!(out, "azver: compliant: {} (baseline: {minimums})", found.join(", "));
        }
        Status::Noncompliant | Status::Stale => {
            let counted = evaluation.findings.iter().filter(|f| f.severity != azver_core::Severity::Info).count();
            let _ = writeln!(out, "azver: NONCOMPLIANT: {counted} finding(s) (baseline: {minimums})");
        }
    }
    // Findings that count first, then notes (information only, e.g. a developer's own sign-in).
    let (notes, counted): (Vec<_>, Vec<_>) =
        evaluation.findings.iter().partition(|f| f.severity == azver_core::Severity::Info);
    for f in counted {
        if let Some(command) = &f.command {
            // A job finding: where the job is defined, who it runs as, the redacted command.
            let run_as = f.run_as.as_deref().map(|u| format!(" (runs as {u})")).unwrap_or_default();
            let _ = writeln!(out, "  - {}: {}{run_as}", f.describe(), file_line(&f.path, f.line));
            let _ = writeln!(out, "    command: {command}");
            let _ = writeln!(out, "    fix: {}", f.hint);
            continue;
        }
        let source = if f.account_type.is_some() { String::new() } else { format!(" [{}]", kebab(&f.source)) };
        let _ = writeln!(out, "  - {}: {}{source}", f.describe(), f.path);
        let _ = writeln!(out, "    fix: {}", f.hint);
    }
    for f in notes {
        let _ = writeln!(out, "  note: {}: {} (information only)", f.describe(), f.path);
    }
    if !inventory.errors.is_empty() {
        let _ = writeln!(out, "  ({} scan error(s); run `azver-agent scan` for details)", inventory.errors.len());
    }
    out
}

/// The collector's answer to one report, as `report` prints it.
#[derive(Debug)]
pub struct Verdict<'a> {
    /// The reporting host.
    pub host_id: &'a str,
    /// The report's id.
    pub report_id: &'a str,
    /// The report's sequence number.
    pub sequence: u64,
    /// The collector's status for the host.
    pub status: Status,
    /// The collector already had this report.
    pub duplicate: bool,
    /// What the collector found.
    pub findings: &'a [WireFinding],
    /// With `--baseline-from-collector`: the agent's own evaluation against that baseline.
    pub local: Option<&'a Evaluation>,
}

/// `report --format json`: the collector's verdict.
pub fn report_json(verdict: &Verdict<'_>) -> String {
    let findings: Vec<serde_json::Value> = verdict
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "kind": f.kind, "product": f.product, "installed": f.installed, "required": f.required,
                "path": f.path, "source": f.source, "hint": f.hint, "severity": f.severity,
                "line": f.line, "job": f.job, "run_as": f.run_as, "command": f.command,
            })
        })
        .collect();
    to_json(&serde_json::json!({
        "host_id": verdict.host_id,
        "report_id": verdict.report_id,
        "sequence": verdict.sequence,
        "status": verdict.status,
        "duplicate": verdict.duplicate,
        "findings": findings,
        "local_evaluation": verdict.local,
    }))
}

/// `report` for people: where it went, the verdict, each finding with its fix.
pub fn report_text(collector: &str, verdict: &Verdict<'_>) -> String {
    let mut out = String::new();
    let status = verdict.status;
    let shown = if status == Status::Noncompliant { "NONCOMPLIANT".to_owned() } else { status.to_string() };
    let again = if verdict.duplicate { " (already received earlier)" } else { "" };
    let _ = writeln!(
        out,
        "azver: report {} of host {} accepted by {collector}{again}: {shown}",
        verdict.sequence, verdict.host_id
    );
    for f in verdict.findings {
        if let (Some(job), Some(command)) = (&f.job, &f.command) {
            let _ = writeln!(out, "  - {} in job {job}: {}", f.kind, file_line(&f.path, f.line));
            let _ = writeln!(out, "    command: {command}");
            let _ = writeln!(out, "    fix: {}", f.hint);
            continue;
        }
        let kind = serde_json::from_value::<azver_core::FindingKind>(f.kind.as_str().into()).ok();
        match kind {
            // An identity finding is about a tool's sign-in, not an installation: label it by
            // the tool (`product` carries it), as `check` does.
            Some(azver_core::FindingKind::HumanIdentity | azver_core::FindingKind::HumanIdentityOnBuildRunner) => {
                let _ = writeln!(out, "  - signed in as a user: {} [{}]", f.path, f.product);
            }
            _ => {
                let _ = writeln!(
                    out,
                    "  - {} {} (needs {}): {} [{}]",
                    f.product,
                    f.installed,
                    f.required,
                    f.path,
                    kebab(&f.source)
                );
            }
        }
        let _ = writeln!(out, "    fix: {}", f.hint);
    }
    if let Some(local) = verdict.local {
        let agrees = if local.status == status { "agrees" } else { "DISAGREES" };
        let _ = writeln!(out, "  local evaluation against the collector's baseline: {} ({agrees})", local.status);
    }
    out
}

/// What `status` finds out itself, beside the service's status file.
#[derive(Debug, Clone, Default)]
pub struct LocalStatus {
    /// The installed service's state (Windows: `running`, `stopped`, `not installed` ...).
    pub service: Option<String>,
    /// Why the configuration (file, installer settings, environment) does not validate.
    pub config_error: Option<String>,
}

/// `status`: what the agent did last, for the helpdesk.
pub fn status(
    status: &crate::service::AgentStatus,
    spool_depth: usize,
    drops: u64,
    local: &LocalStatus,
    format: crate::cli::Format,
) -> String {
    if format == crate::cli::Format::Json {
        let mut value = serde_json::to_value(status).unwrap_or_default();
        value["spool_depth"] = spool_depth.into();
        value["spool_drops"] = drops.into();
        value["config_error"] = local.config_error.clone().into();
        if let Some(service) = &local.service {
            value["service"] = service.clone().into();
        }
        return to_json(&value);
    }
    let or_never = |v: &Option<String>| v.clone().unwrap_or_else(|| "never".into());
    let mut out = String::new();
    if let Some(service) = &local.service {
        let _ = writeln!(out, "service:          {service}");
    }
    if let Some(error) = &local.config_error {
        let _ = writeln!(out, "config error:     {error}");
    }
    let _ = writeln!(out, "host id:          {}", or_dash(&status.host_id));
    let _ = writeln!(out, "collector:        {}", or_dash(&status.collector));
    let _ = writeln!(
        out,
        "last report:      {} ({}, {} finding(s))",
        or_never(&status.last_success_at),
        status.last_status.as_deref().unwrap_or("-"),
        status.last_findings
    );
    let _ =
        writeln!(out, "delivered:        {} ({} already known to the collector)", status.delivered, status.duplicates);
    let _ = writeln!(out, "spool:            {spool_depth} waiting, {drops} dropped");
    if status.rejected > 0 {
        // The reason is the collector's text: no control character reaches the terminal.
        let reason: String = status
            .last_rejection
            .as_deref()
            .unwrap_or("-")
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let _ = writeln!(out, "rejected:         {} (each sent again reduced); last: {reason}", status.rejected);
    }
    match &status.last_error {
        Some(error) => {
            let _ = writeln!(out, "last error:       {error} (at {})", or_never(&status.last_error_at));
        }
        None => out.push_str("last error:       none\n"),
    }
    out
}

/// Credentials `config check` looked for, shown only as present or absent.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Where the enrollment secret comes from (`AZVER_ENROLL_SECRET`, `file PATH`, `the state
    /// dir`), or `None` when there is none.
    pub enroll_secret: Option<String>,
    /// A node key is kept in the state dir.
    pub node_key: bool,
}

fn presence(present: bool) -> &'static str {
    if present { "present" } else { "absent" }
}

/// `config check`: the effective configuration (secrets masked), the credentials as present or
/// absent, and what `run` would refuse.
pub fn config_check(
    config: &crate::config::AgentConfig,
    file: Option<&str>,
    credentials: &Credentials,
    problems: &[String],
    format: crate::cli::Format,
) -> String {
    if format == crate::cli::Format::Json {
        return to_json(&serde_json::json!({
            "file": file,
            "valid": problems.is_empty(),
            "problems": problems,
            "config": config.masked(),
            "credentials": {
                "enroll_secret": presence(credentials.enroll_secret.is_some()),
                "enroll_secret_from": credentials.enroll_secret,
                "node_key": presence(credentials.node_key),
            },
        }));
    }
    let origin = file.unwrap_or("none (defaults, environment and flags only)");
    let mut out = format!("# azver-agent effective configuration; file: {origin}\n{}", config.to_masked_toml());
    let secret = match &credentials.enroll_secret {
        Some(from) => format!("present (from {from})"),
        None => "absent".to_owned(),
    };
    let _ = writeln!(out, "# enrollment secret: {secret}");
    let _ = writeln!(out, "# node key: {}", presence(credentials.node_key));
    match problems.len() {
        0 => out.push_str("# valid: `run` would start with this configuration\n"),
        n => {
            let _ = writeln!(out, "# INVALID: {n} problem(s), `run` would refuse to start (see stderr)");
        }
    }
    out
}

fn to_json<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The kebab-case name serde gives an enum value.
fn kebab<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// Left-aligns columns; the last column is not padded.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> =
        (0..columns).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(kind: &str, product: &str, path: &str) -> WireFinding {
        WireFinding {
            kind: kind.into(),
            product: product.into(),
            installed: "2.45.0".into(),
            required: "2.76.0".into(),
            path: path.into(),
            source: azver_core::InstallSource::Other,
            hint: "sign this automation in as a service principal".into(),
            severity: "high".into(),
            line: None,
            job: None,
            run_as: None,
            command: None,
        }
    }

    #[test]
    fn report_text_labels_an_identity_finding_by_its_tool_and_an_installation_by_its_source() {
        let findings = [
            wire("human-identity-on-build-runner", "Az", "/home/runner/.Azure/AzureRmContext.json"),
            WireFinding {
                source: azver_core::InstallSource::MicrosoftDeb,
                ..wire("below-baseline", "azure-cli", "/opt/az")
            },
        ];
        let verdict = Verdict {
            host_id: "h1",
            report_id: "r1",
            sequence: 4,
            status: Status::Noncompliant,
            duplicate: false,
            findings: &findings,
            local: None,
        };
        let text = report_text("http://collector:50051", &verdict);
        assert!(text.contains("  - signed in as a user: /home/runner/.Azure/AzureRmContext.json [Az]\n"), "{text}");
        assert!(text.contains("  - azure-cli 2.45.0 (needs 2.76.0): /opt/az [microsoft-deb]\n"), "{text}");
        assert!(!text.contains("[other]"), "{text}");
    }
}

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
    write_errors(&mut out, inventory);
    out
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
        let _ = writeln!(
            out,
            "  - {} {} (needs {}): {} [{}]",
            f.product,
            f.installed,
            f.required,
            f.path,
            kebab(&f.source)
        );
        let _ = writeln!(out, "    fix: {}", f.hint);
    }
    if let Some(local) = verdict.local {
        let agrees = if local.status == status { "agrees" } else { "DISAGREES" };
        let _ = writeln!(out, "  local evaluation against the collector's baseline: {} ({agrees})", local.status);
    }
    out
}

/// `status`: what the agent did last, for the helpdesk.
pub fn status(
    status: &crate::service::AgentStatus,
    spool_depth: usize,
    drops: u64,
    format: crate::cli::Format,
) -> String {
    if format == crate::cli::Format::Json {
        let mut value = serde_json::to_value(status).unwrap_or_default();
        value["spool_depth"] = spool_depth.into();
        value["spool_drops"] = drops.into();
        return to_json(&value);
    }
    let or_never = |v: &Option<String>| v.clone().unwrap_or_else(|| "never".into());
    let mut out = String::new();
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

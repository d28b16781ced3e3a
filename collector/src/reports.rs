//! Fleet reports from the store: JSON, CSV (for Excel and the helpdesk), a terminal table and
//! Markdown. Status is computed at read time from the stored inventory, the current baseline and
//! the clock, so a changed baseline shows at once for every host.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use azver_core::{Baseline, Finding, Identity, Installation, Role, Rule, Status};
use serde::Serialize;

use crate::config::Config;
use crate::policy;
use crate::store::{StoredHost, role_name};

/// Which hosts a report includes.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only hosts with this status.
    pub status: Option<Status>,
    /// Only hosts with an installation of this product.
    pub product: Option<String>,
    /// Only hosts of this role.
    pub role: Option<Role>,
}

/// A baseline product rule as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineEntry {
    /// Minimum version.
    pub minimum: String,
    /// `every` or `newest`.
    pub rule: Rule,
}

/// Counts over the reported hosts.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Number of hosts in the report.
    pub hosts: usize,
    /// Hosts per status (every status present, zero included).
    pub by_status: BTreeMap<Status, usize>,
    /// Per product: how many hosts have each version installed.
    pub products: BTreeMap<String, BTreeMap<String, usize>>,
}

/// One host in a report.
#[derive(Debug, Clone, Serialize)]
pub struct HostEntry {
    /// Stable host id.
    pub host_id: String,
    /// Host name as reported.
    pub hostname: String,
    /// Role, if known.
    pub role: Option<Role>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Status now.
    pub status: Status,
    /// Last report, RFC 3339.
    pub last_seen: String,
    /// First report, RFC 3339.
    pub first_seen: String,
    /// The agent's clock differed by this many seconds (more than five minutes) when it last reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_skew_seconds: Option<i64>,
    /// What the baseline found.
    pub findings: Vec<Finding>,
    /// Current installations.
    pub installations: Vec<Installation>,
    /// Current identities.
    pub identities: Vec<Identity>,
    /// Number of scan errors in the last report.
    pub scan_errors: usize,
    /// What the agent left out of its last report to stay within the limits (absent when nothing).
    #[serde(skip_serializing_if = "azver_core::Omitted::is_empty")]
    pub omitted: azver_core::Omitted,
}

/// A whole fleet report.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// When the report was made, RFC 3339.
    pub generated_at: String,
    /// The baseline evaluated against.
    pub baseline: BTreeMap<String, BaselineEntry>,
    /// Counts.
    pub summary: Summary,
    /// One element per host.
    pub hosts: Vec<HostEntry>,
}

/// RFC 3339 (UTC, seconds) of a Unix time.
pub fn rfc3339(unix: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Evaluates and filters the stored hosts into a report.
pub fn build(hosts: &[StoredHost], baseline: &Baseline, config: &Config, filters: &Filters, now: i64) -> FleetReport {
    let mut entries = Vec::new();
    for host in hosts {
        let evaluation = policy::evaluate(host, baseline, config, now);
        if filters.status.is_some_and(|s| s != evaluation.status)
            || filters.role.is_some_and(|r| host.facts.role != Some(r))
            || filters.product.as_ref().is_some_and(|p| !host.installations.iter().any(|i| &i.product == p))
        {
            continue;
        }
        entries.push(HostEntry {
            host_id: host.host_id().to_owned(),
            hostname: host.facts.hostname.clone(),
            role: host.facts.role,
            labels: host.facts.labels.clone(),
            status: evaluation.status,
            last_seen: rfc3339(host.last_seen),
            first_seen: rfc3339(host.first_seen),
            clock_skew_seconds: host.clock_skew,
            findings: evaluation.findings,
            installations: host.installations.clone(),
            identities: host.identities.clone(),
            scan_errors: host.errors.len(),
            omitted: host.facts.omitted,
        });
    }
    let mut by_status: BTreeMap<Status, usize> =
        [Status::Compliant, Status::Noncompliant, Status::NotApplicable, Status::Stale]
            .into_iter()
            .map(|s| (s, 0))
            .collect();
    let mut products: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for entry in &entries {
        *by_status.entry(entry.status).or_default() += 1;
        let mut seen = std::collections::BTreeSet::new();
        for install in &entry.installations {
            if baseline.rule(&install.product).is_some() && seen.insert((&install.product, &install.version)) {
                *products.entry(install.product.clone()).or_default().entry(install.version.clone()).or_default() += 1;
            }
        }
    }
    FleetReport {
        generated_at: rfc3339(now),
        baseline: baseline
            .products()
            .map(|(p, r)| (p.to_owned(), BaselineEntry { minimum: r.minimum.to_string(), rule: r.rule }))
            .collect(),
        summary: Summary { hosts: entries.len(), by_status, products },
        hosts: entries,
    }
}

/// The report as one JSON document.
pub fn to_json(report: &FleetReport) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

fn role_text(role: Option<Role>) -> &'static str {
    role.map_or("-", role_name)
}

fn finding_text(f: &Finding) -> String {
    format!("{} at {}", f.describe(), f.path)
}

fn identity_text(i: &Identity) -> String {
    let kind =
        serde_json::to_value(i.account_type).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    format!("{} {kind} ({})", i.tool, i.local_user)
}

/// Neutralises spreadsheet formula injection: a cell starting with `=`, `+`, `-`, `@`, tab or
/// carriage return is prefixed with `'`, so Excel shows it as text instead of evaluating it.
pub fn csv_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

/// The report as CSV: one row per host, UTF-8 with a byte-order mark and CRLF line ends so Excel
/// opens it cleanly.
pub fn to_csv(report: &FleetReport) -> Result<Vec<u8>, csv::Error> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(&mut out);
        writer.write_record([
            "hostname",
            "host_id",
            "role",
            "status",
            "last_seen",
            "findings",
            "upgrade_hints",
            "installations",
            "identities",
            "labels",
        ])?;
        for host in &report.hosts {
            let findings: Vec<String> = host.findings.iter().map(finding_text).collect();
            let hints: Vec<String> = host.findings.iter().map(|f| f.hint.clone()).collect();
            let installs: Vec<String> =
                host.installations.iter().map(|i| format!("{} {}", i.product, i.version)).collect();
            let identities: Vec<String> = host.identities.iter().map(identity_text).collect();
            let labels: Vec<String> = host.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let record = [
                host.hostname.clone(),
                host.host_id.clone(),
                host.role.map_or("", role_name).to_owned(),
                host.status.to_string(),
                host.last_seen.clone(),
                findings.join("; "),
                hints.join(" | "),
                installs.join("; "),
                identities.join("; "),
                labels.join("; "),
            ];
            writer.write_record(record.iter().map(|c| csv_cell(c)))?;
        }
        writer.flush()?;
    }
    Ok(out)
}

fn summary_lines(report: &FleetReport) -> String {
    let mut out = String::new();
    let counts: Vec<String> = report.summary.by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let _ = writeln!(out, "{} hosts: {}", report.summary.hosts, counts.join(", "));
    for (product, versions) in &report.summary.products {
        let minimum = report.baseline.get(product).map_or(String::new(), |b| format!(" (minimum {})", b.minimum));
        let versions: Vec<String> = versions.iter().map(|(v, n)| format!("{v} x{n}")).collect();
        let _ = writeln!(out, "{product}{minimum}: {}", versions.join(", "));
    }
    out
}

/// The report as a terminal table: summary, then hosts, then each finding with its fix.
pub fn to_table(report: &FleetReport) -> String {
    let mut out = summary_lines(report);
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["HOSTNAME", "HOST ID", "ROLE", "STATUS", "LAST SEEN", "FINDINGS", "IDENTITIES"]);
    for host in &report.hosts {
        table.add_row([
            host.hostname.clone(),
            host.host_id.clone(),
            role_text(host.role).to_owned(),
            host.status.to_string(),
            host.last_seen.clone(),
            host.findings.len().to_string(),
            host.identities.len().to_string(),
        ]);
    }
    let _ = writeln!(out, "\n{table}");
    let with_findings: Vec<&HostEntry> = report.hosts.iter().filter(|h| !h.findings.is_empty()).collect();
    if !with_findings.is_empty() {
        out.push_str("\nfindings:\n");
        for host in with_findings {
            let _ = writeln!(out, "  {} ({})", host.hostname, host.host_id);
            for f in &host.findings {
                let source =
                    serde_json::to_value(f.source).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                let _ = writeln!(out, "    - {} [{source}]\n      fix: {}", finding_text(f), f.hint);
            }
        }
    }
    out
}

/// Escapes text for a Markdown table cell: pipes, and HTML so no renderer runs agent data.
fn md(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The report as Markdown (for a ticket or a wiki page).
pub fn to_markdown(report: &FleetReport) -> String {
    let mut out = format!("# azver fleet report\n\nGenerated {}.\n\n", report.generated_at);
    out.push_str("| status | hosts |\n|---|---|\n");
    for (status, count) in &report.summary.by_status {
        let _ = writeln!(out, "| {status} | {count} |");
    }
    out.push_str("\n| product | minimum | versions (hosts) |\n|---|---|---|\n");
    for (product, versions) in &report.summary.products {
        let minimum = report.baseline.get(product).map_or("-", |b| b.minimum.as_str());
        let versions: Vec<String> = versions.iter().map(|(v, n)| format!("{} ({n})", md(v))).collect();
        let _ = writeln!(out, "| {} | {} | {} |", md(product), md(minimum), versions.join(", "));
    }
    out.push_str(
        "\n| hostname | host id | role | status | last seen | findings and fixes |\n|---|---|---|---|---|---|\n",
    );
    for host in &report.hosts {
        let findings: Vec<String> =
            host.findings.iter().map(|f| format!("{} — fix: `{}`", md(&finding_text(f)), md(&f.hint))).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            md(&host.hostname),
            md(&host.host_id),
            role_text(host.role),
            host.status,
            host.last_seen,
            if findings.is_empty() { "-".to_owned() } else { findings.join("<br>") }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_cannot_become_formulas() {
        assert_eq!(csv_cell("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-cmd"), "'-cmd");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("laptop-01"), "laptop-01");
    }

    #[test]
    fn markdown_cells_escape_html_and_pipes() {
        assert_eq!(md("<script>a|b</script>"), "&lt;script&gt;a\\|b&lt;/script&gt;");
    }
}

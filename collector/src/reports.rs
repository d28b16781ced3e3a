//! Fleet reports from the store: JSON, CSV (for Excel and the helpdesk), a terminal table and
//! Markdown. Status is computed at read time from the stored inventory, the current baseline and
//! the clock, so a changed baseline shows at once for every host.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use azver_core::{Baseline, Finding, Identity, Installation, JobSignIn, Role, Rule, Status};
use serde::Serialize;

use crate::baseline::Served;
use crate::config::Config;
use crate::policy;
use crate::sanitize::{Term, term};
use crate::store::query::{HostFilter, PageRequest};
use crate::store::{RevokedHost, Store, StoreError, StoredHost, role_name};

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

impl Filters {
    /// The same selection as the database applies it.
    pub fn host_filter(&self) -> HostFilter {
        HostFilter { status: self.status, role: self.role, product: self.product.clone(), ..HostFilter::default() }
    }
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
    /// When the host was revoked (`host revoke`), RFC 3339: its node key is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// The CI system whose agent the host runs (`github-actions`, `azure-pipelines`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci_system: Option<String>,
    /// OS family the agent reported (`windows`, `linux`, `macos`), if known.
    pub os_family: Option<azver_core::OsFamily>,
    /// Scheduled jobs that sign in to Azure (commands redacted by the agent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub job_sign_ins: Vec<JobSignIn>,
}

impl HostEntry {
    /// The status as text, with `(revoked)` after it for a revoked host.
    pub fn status_text(&self) -> String {
        match self.revoked_at {
            Some(_) => format!("{} (revoked)", self.status),
            None => self.status.to_string(),
        }
    }
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

/// One host as reports show it, with its evaluation (status and findings) now.
pub fn entry(host: &StoredHost, evaluation: azver_core::Evaluation) -> HostEntry {
    into_entry(host.clone(), evaluation)
}

/// As [`entry`], taking the host (an export moves its inventory instead of copying it).
pub fn into_entry(host: StoredHost, evaluation: azver_core::Evaluation) -> HostEntry {
    HostEntry {
        host_id: host.host_id().to_owned(),
        last_seen: rfc3339(host.last_seen),
        first_seen: rfc3339(host.first_seen),
        clock_skew_seconds: host.clock_skew,
        scan_errors: host.errors.len(),
        hostname: host.facts.hostname,
        role: host.facts.role,
        labels: host.facts.labels,
        status: evaluation.status,
        findings: evaluation.findings,
        installations: host.installations,
        identities: host.identities,
        omitted: host.facts.omitted,
        revoked_at: None,
        ci_system: host.facts.ci_system,
        os_family: host.facts.os_family,
        job_sign_ins: host.job_sign_ins,
    }
}

/// Whether a host with this evaluation passes `filters`.
pub fn selected(host: &StoredHost, status: Status, filters: &Filters) -> bool {
    !(filters.status.is_some_and(|s| s != status)
        || filters.role.is_some_and(|r| host.facts.role != Some(r))
        || filters.product.as_ref().is_some_and(|p| !host.installations.iter().any(|i| &i.product == p)))
}

/// The baseline as reports show it.
pub fn baseline_entries(baseline: &Baseline) -> BTreeMap<String, BaselineEntry> {
    baseline
        .products()
        .map(|(p, r)| (p.to_owned(), BaselineEntry { minimum: r.minimum.to_string(), rule: r.rule }))
        .collect()
}

/// Evaluates and filters the stored hosts into a report.
pub fn build(hosts: &[StoredHost], baseline: &Baseline, config: &Config, filters: &Filters, now: i64) -> FleetReport {
    let mut entries = Vec::new();
    for host in hosts {
        let evaluation = policy::evaluate(host, baseline, config, now);
        if !selected(host, evaluation.status, filters) {
            continue;
        }
        entries.push(entry(host, evaluation));
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
        baseline: baseline_entries(baseline),
        summary: Summary { hosts: entries.len(), by_status, products },
        hosts: entries,
    }
}

/// When `host_id` was revoked, RFC 3339, if it is among `revoked`.
pub fn revoked_at(revoked: &[RevokedHost], host_id: &str) -> Option<String> {
    revoked.iter().find(|r| r.host_id == host_id).map(|r| rfc3339(r.revoked_at))
}

/// Marks the revoked hosts of `report` (from [`crate::store::Store::revoked_hosts`]).
pub fn mark_revoked(report: &mut FleetReport, revoked: &[RevokedHost]) {
    let by_id: BTreeMap<&str, i64> = revoked.iter().map(|r| (r.host_id.as_str(), r.revoked_at)).collect();
    for host in &mut report.hosts {
        host.revoked_at = by_id.get(host.host_id.as_str()).map(|at| rfc3339(*at));
    }
}

/// Hosts read per page by [`HostStream`].
pub const STREAM_PAGE: usize = 500;

/// The hosts a filter selects, evaluated against the served baseline and ready to print, read a
/// page at a time in the order of the reports (host name, then id; keyset pages), so a full
/// export holds [`STREAM_PAGE`] hosts in memory however large the fleet (two pages: the next
/// one is read while the caller prints this one).
#[derive(Debug)]
pub struct HostStream {
    store: Arc<dyn Store>,
    served: Arc<Served>,
    config: Arc<Config>,
    filter: HostFilter,
    now: i64,
    revoked: BTreeMap<String, i64>,
    after: Option<(String, String)>,
    done: bool,
    page: usize,
    /// The read of the next page, started when the last one came back.
    next: Option<tokio::task::JoinHandle<Result<Vec<StoredHost>, StoreError>>>,
}

impl Drop for HostStream {
    fn drop(&mut self) {
        // A reader that went away: the page being read is not wanted.
        if let Some(read) = self.next.take() {
            read.abort();
        }
    }
}

impl HostStream {
    /// A stream of the hosts `filter` selects at `now` (reads the revoked hosts, a short list).
    pub async fn new(
        store: Arc<dyn Store>,
        served: Arc<Served>,
        config: Arc<Config>,
        filter: HostFilter,
        now: i64,
    ) -> Result<Self, StoreError> {
        let revoked = store.revoked_hosts().await?.into_iter().map(|r| (r.host_id, r.revoked_at)).collect();
        Ok(Self {
            store,
            served,
            config,
            filter,
            now,
            revoked,
            after: None,
            done: false,
            page: STREAM_PAGE,
            next: None,
        })
    }

    /// Starts reading the page after `after` (on another task: the store's own threads do the
    /// work, beside the caller's printing of the page before).
    fn read(&self, after: Option<(String, String)>) -> tokio::task::JoinHandle<Result<Vec<StoredHost>, StoreError>> {
        let request = PageRequest { filter: self.filter.clone(), after, limit: self.page, ..PageRequest::default() };
        let (store, config, digest, now) =
            (self.store.clone(), self.config.clone(), self.served.digest.clone(), self.now);
        tokio::spawn(async move { store.page(&request, &config, &digest, now).await })
    }

    /// Reads `hosts` hosts per page instead of [`STREAM_PAGE`] (at least one).
    pub fn with_page(mut self, hosts: usize) -> Self {
        self.page = hosts.max(1);
        self
    }

    /// The next page of hosts (possibly empty when a status filter dropped every host of a
    /// page not re-evaluated yet), or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Vec<HostEntry>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let read = match self.next.take() {
            Some(read) => read,
            None => {
                let after = self.after.take();
                self.read(after)
            }
        };
        let page = read.await.map_err(|e| StoreError::Task(e.to_string()))??;
        self.done = page.len() < self.page;
        self.after = page.last().map(|h| (h.facts.hostname.clone(), h.host_id().to_owned()));
        if !self.done {
            self.next = Some(self.read(self.after.clone()));
        }
        let mut entries = Vec::with_capacity(page.len());
        for host in page {
            let evaluation = policy::evaluate_served(&host, &self.served, &self.config, self.now);
            if crate::summary::matches(&self.filter, &host, &evaluation) {
                let mut entry = into_entry(host, evaluation);
                entry.revoked_at = self.revoked.get(&entry.host_id).map(|at| rfc3339(*at));
                entries.push(entry);
            }
        }
        Ok(Some(entries))
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

/// One finding for people; a job finding names its file and line, account and redacted command.
pub fn finding_text(f: &Finding) -> String {
    match &f.command {
        Some(command) => {
            let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            let run_as = f.run_as.as_deref().map(|u| format!(" (runs as {u})")).unwrap_or_default();
            format!("{} at {}{line}{run_as}: {command}", f.describe(), f.path)
        }
        None => format!("{} at {}", f.describe(), f.path),
    }
}

impl HostEntry {
    /// The role, with the CI system in brackets when one is known: `build-runner (gitlab-runner)`.
    pub fn role_text(&self) -> String {
        match &self.ci_system {
            Some(ci) => format!("{} ({ci})", role_text(self.role)),
            None => role_text(self.role).to_owned(),
        }
    }
}

/// Neutralises spreadsheet formula injection: a cell that a spreadsheet could read as a formula
/// is prefixed with `'`, so Excel, LibreOffice and Sheets show it as text. That is a cell
/// starting with `=`, `+`, `-`, `@`, any whitespace (tab, CR, LF, space: spreadsheets skip it and
/// read on) or the full-width and small forms of those signs (`＝`, `﹦`, ...), which some
/// spreadsheets treat like the ASCII ones.
pub fn csv_cell(value: &str) -> String {
    cell(value).into_owned()
}

/// [`csv_cell`] without a copy of a cell that is safe as it is (most).
fn cell(value: &str) -> std::borrow::Cow<'_, str> {
    let risky = |c: char| {
        matches!(
            c,
            '=' | '+'
                | '-'
                | '@'
                | '\u{FF1D}'
                | '\u{FF0B}'
                | '\u{FF0D}'
                | '\u{FF20}'
                | '\u{FE62}'
                | '\u{FE63}'
                | '\u{FE66}'
                | '\u{FE6B}'
        ) || c.is_whitespace()
    };
    if value.starts_with(risky) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// The CSV columns, in order.
const CSV_COLUMNS: [&str; 11] = [
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
    "revoked_at",
];

fn csv_writer(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out)
}

/// The start of the CSV report: the byte-order mark and the header row.
pub fn csv_start() -> Result<Vec<u8>, csv::Error> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut writer = csv_writer(&mut out);
        writer.write_record(CSV_COLUMNS)?;
        writer.flush()?;
    }
    Ok(out)
}

/// Appends the CSV rows of `hosts` to `out` (so a report can be streamed a page at a time):
/// one CSV writer for them all (each writer holds a buffer of its own to fill and copy).
pub fn csv_rows(hosts: &[HostEntry], out: &mut Vec<u8>) -> Result<(), csv::Error> {
    let mut writer = csv_writer(out);
    // The lists are joined into one buffer, kept across cells and rows.
    let mut text = String::new();
    for host in hosts {
        for plain in [&host.hostname, &host.host_id] {
            writer.write_field(cell(plain).as_bytes())?;
        }
        writer.write_field(cell(host.role.map_or("", role_name)).as_bytes())?;
        writer.write_field(cell(host.status.as_str()).as_bytes())?;
        writer.write_field(cell(&host.last_seen).as_bytes())?;
        join(&mut text, &host.findings, "; ", |t, f| t.push_str(&finding_text(f)));
        writer.write_field(cell(&text).as_bytes())?;
        join(&mut text, &host.findings, " | ", |t, f| t.push_str(&f.hint));
        writer.write_field(cell(&text).as_bytes())?;
        join(&mut text, &host.installations, "; ", |t, i| {
            let _ = write!(t, "{} {}", i.product, i.version);
        });
        writer.write_field(cell(&text).as_bytes())?;
        join(&mut text, &host.identities, "; ", |t, i| {
            let _ = write!(t, "{} {} ({})", i.tool, i.account_type.as_str(), i.local_user);
        });
        writer.write_field(cell(&text).as_bytes())?;
        join(&mut text, &host.labels, "; ", |t, (k, v)| {
            let _ = write!(t, "{k}={v}");
        });
        writer.write_field(cell(&text).as_bytes())?;
        writer.write_field(cell(host.revoked_at.as_deref().unwrap_or_default()).as_bytes())?;
        writer.write_record(None::<&[u8]>)?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes `items` into `text` (cleared first) with `write`, `separator` between them. Writing
/// to a `String` cannot fail.
fn join<'a, T: 'a>(
    text: &mut String,
    items: impl IntoIterator<Item = T>,
    separator: &str,
    mut write: impl FnMut(&mut String, T),
) {
    text.clear();
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            text.push_str(separator);
        }
        write(text, item);
    }
}

/// The report as CSV: one row per host, UTF-8 with a byte-order mark and CRLF line ends so Excel
/// opens it cleanly.
pub fn to_csv(report: &FleetReport) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv_start()?;
    csv_rows(&report.hosts, &mut out)?;
    Ok(out)
}

/// The JSON report written a host at a time, byte for byte as [`to_json`] writes the whole
/// report: [`JsonStream::start`], then [`JsonStream::host`] per host, then [`JsonStream::end`].
#[derive(Debug, Default)]
pub struct JsonStream {
    hosts: usize,
}

impl JsonStream {
    /// Everything before the hosts: when, the baseline and the summary.
    pub fn start(generated_at: &str, baseline: &BTreeMap<String, BaselineEntry>, summary: &Summary) -> String {
        let head = FleetReport {
            generated_at: generated_at.to_owned(),
            baseline: baseline.clone(),
            summary: summary.clone(),
            hosts: Vec::new(),
        };
        let text = to_json(&head);
        // `to_json` ends an empty report with `"hosts": []` and the closing brace.
        text.strip_suffix("[]\n}\n").unwrap_or(&text).to_owned()
    }

    /// One host, with the separator before it.
    pub fn host(&mut self, host: &HostEntry) -> String {
        let mut out = String::from(if self.hosts == 0 { "[\n" } else { ",\n" });
        self.hosts += 1;
        let text = serde_json::to_string_pretty(host).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        // JSON strings hold no raw line breaks, so indenting line by line cannot change a value.
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str("    ");
            out.push_str(line);
        }
        out
    }

    /// The end of the document.
    pub fn end(&self) -> &'static str {
        if self.hosts == 0 { "[]\n}\n" } else { "\n  ]\n}\n" }
    }
}

fn summary_lines(report: &FleetReport) -> String {
    let mut out = String::new();
    let counts: Vec<String> = report.summary.by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let _ = writeln!(out, "{} hosts: {}", report.summary.hosts, counts.join(", "));
    for (product, versions) in &report.summary.products {
        let minimum = report.baseline.get(product).map_or(String::new(), |b| format!(" (minimum {})", b.minimum));
        let versions: Vec<String> = versions.iter().map(|(v, n)| format!("{} x{n}", Term(v))).collect();
        let _ = writeln!(out, "{}{minimum}: {}", Term(product), versions.join(", "));
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
            term(&host.hostname),
            term(&host.host_id),
            host.role_text(),
            host.status_text(),
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
            let _ = writeln!(out, "  {} ({})", Term(&host.hostname), Term(&host.host_id));
            for f in &host.findings {
                let source =
                    serde_json::to_value(f.source).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                let _ = writeln!(out, "    - {} [{source}]\n      fix: {}", Term(&finding_text(f)), Term(&f.hint));
            }
        }
    }
    out
}

/// Escapes text for a Markdown table cell: HTML (so no renderer runs agent data), pipes, the
/// link and image syntax (`[`, `]`: no `[text](url)` nor `![](tracker)` forms), code and
/// emphasis marks, and line breaks (control and invisible characters are spelled out).
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in term(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '[' | ']' | '`' | '*' | '_' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The report as Markdown (for a ticket or a wiki page).
pub fn to_markdown(report: &FleetReport) -> String {
    let mut out = format!("# azver fleet report\n\nGenerated {}.\n\n", report.generated_at);
    out.push_str("| status | hosts |\n|---|---|\n");
    for (status, count) in &report.summary.by_status {
        let _ = writeln!(out, "| {status} | {count} |");
    }
    // A table with no rows is noise in a ticket: say so in words instead.
    if !report.summary.products.is_empty() {
        out.push_str("\n| product | minimum | versions (hosts) |\n|---|---|---|\n");
        for (product, versions) in &report.summary.products {
            let minimum = report.baseline.get(product).map_or("-", |b| b.minimum.as_str());
            let versions: Vec<String> = versions.iter().map(|(v, n)| format!("{} ({n})", md(v))).collect();
            let _ = writeln!(out, "| {} | {} | {} |", md(product), md(minimum), versions.join(", "));
        }
    }
    if report.hosts.is_empty() {
        out.push_str("\nNo hosts.\n");
        return out;
    }
    out.push_str(
        "\n| hostname | host id | role | status | last seen | findings and fixes |\n|---|---|---|---|---|---|\n",
    );
    for host in &report.hosts {
        let findings: Vec<String> =
            host.findings.iter().map(|f| format!("{} — fix: {}", md(&finding_text(f)), md(&f.hint))).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            md(&host.hostname),
            md(&host.host_id),
            md(&host.role_text()),
            host.status_text(),
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
        for risky in ["\n=1+1", " =1+1", "\t=1", "\r=1", "\u{FF1D}1+1", "\u{FF0B}1", "\u{FE66}1", "\u{3000}=1"] {
            assert_eq!(csv_cell(risky), format!("'{risky}"), "{risky:?}");
        }
        assert_eq!(csv_cell("2.76.0"), "2.76.0");
    }

    fn stored(id: &str, name: &str, version: &str) -> StoredHost {
        StoredHost {
            facts: azver_core::HostFacts {
                host_id: Some(id.into()),
                hostname: name.into(),
                labels: [("team".to_owned(), "=web\n\"x\"".to_owned())].into_iter().collect(),
                ..Default::default()
            },
            first_seen: 10,
            last_seen: 20,
            scanned_at: None,
            installations: vec![azver_core::Installation {
                product: "azure-cli".into(),
                version: version.into(),
                source: azver_core::InstallSource::MicrosoftDeb,
                scope: azver_core::Scope::System,
                user: None,
                path: "/opt/az, \"quoted\"\n".into(),
                on_path: true,
                default_for_powershell: false,
                evidence: azver_core::Evidence::DistInfo,
            }],
            clock_skew: Some(-400),
            last_sequence: 1,
            ..StoredHost::default()
        }
    }

    #[test]
    fn streamed_json_and_csv_are_the_whole_report_byte_for_byte() {
        let baseline = Baseline::default();
        for hosts in [
            vec![],
            vec![stored("a", "one", "2.45.0")],
            vec![stored("a", "one", "2.45.0"), stored("b", "二", "2.80.0")],
        ] {
            let report = build(&hosts, &baseline, &Config::default(), &Filters::default(), 1_000);
            let mut json = JsonStream::default();
            let mut text = JsonStream::start(&report.generated_at, &report.baseline, &report.summary);
            for host in &report.hosts {
                text.push_str(&json.host(host));
            }
            text.push_str(json.end());
            assert_eq!(text, to_json(&report), "{} hosts", hosts.len());
            // A page at a time, as streamed.
            let mut csv = csv_start().unwrap();
            for page in report.hosts.chunks(3) {
                csv_rows(page, &mut csv).unwrap();
            }
            assert_eq!(csv, to_csv(&report).unwrap(), "{} hosts", hosts.len());
        }
    }

    #[test]
    fn markdown_cells_escape_html_and_pipes() {
        assert_eq!(md("<script>a|b</script>"), "&lt;script&gt;a\\|b&lt;/script&gt;");
        assert_eq!(md("![x](http://t/p.png)"), "\\!\\[x\\](http://t/p.png)");
        assert_eq!(md("[fix here](http://evil)"), "\\[fix here\\](http://evil)");
        assert_eq!(md("a\r\nb\u{1b}[2J"), "a\\r\\nb\\u{1b}\\[2J");
        assert_eq!(md("`code`"), "\\`code\\`");
    }

    #[test]
    fn csv_rows_hold_every_column_quoted_and_defused() {
        let mut host = stored("id-1", "-laptop, \"one\"", "2.45.0");
        host.facts.role = Some(Role::BuildRunner);
        host.facts.labels.insert("ring".into(), "canary".into());
        host.identities = vec![
            azver_core::Identity {
                tool: "azure-cli".into(),
                account_type: azver_core::AccountType::ServicePrincipal,
                tenant_id: "t".into(),
                cloud: "AzureCloud".into(),
                local_user: "ci".into(),
                is_default: true,
                account_name: None,
                path: "/home/ci/.azure/azureProfile.json".into(),
            },
            azver_core::Identity {
                tool: "Az".into(),
                account_type: azver_core::AccountType::User,
                tenant_id: "t".into(),
                cloud: "AzureCloud".into(),
                local_user: "dev".into(),
                is_default: false,
                account_name: None,
                path: "/home/dev/.Azure/AzureRmContext.json".into(),
            },
        ];
        let report = build(
            &[host, stored("id-2", "plain", "2.80.0")],
            &Baseline::default(),
            &Config::default(),
            &Filters::default(),
            1_000,
        );
        let mut hosts = report.hosts.clone();
        hosts[0].revoked_at = Some("1970-01-01T00:16:40Z".into());
        let mut out = Vec::new();
        csv_rows(&hosts, &mut out).unwrap();
        // Quoted where a comma, quote or line break needs it; a cell a spreadsheet would read as a
        // formula starts with `'`; lists joined with `; ` (hints with ` | `); CRLF line ends.
        let want = concat!(
            "\"\'-laptop, \"\"one\"\"\",id-1,build-runner,noncompliant,1970-01-01T00:00:20Z,\"azure-cli 2.45.0 is below 2.76.0 at /opt/az, \"\"quoted\"\"\n; Az is signed in as a user on a build runner at /home/dev/.Azure/AzureRmContext.json\",\"sudo apt-get update && sudo apt-get install --only-upgrade -y azure-cli | sign this automation in with Connect-AzAccount -ServicePrincipal, -Identity (managed identity) or -FederatedToken (workload identity federation), not as a user\",azure-cli 2.45.0,azure-cli service-principal (ci); Az user (dev),\"ring=canary; team==web\n\"\"x\"\"\",1970-01-01T00:16:40Z\r\n",
            "plain,id-2,,compliant,1970-01-01T00:00:20Z,,,azure-cli 2.80.0,,\"team==web\n\"\"x\"\"\",\r\n",
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}

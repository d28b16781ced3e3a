//! Server-rendered HTML for the dashboard and the host page, with inline SVG charts.
//!
//! Every string that came from an agent (host names, labels, versions, paths, messages) goes
//! through [`Esc`] on its way into the page; the page carries no script at all and the server
//! sends a Content-Security-Policy that forbids any, so even a missed escape could not run code.

use std::collections::BTreeMap;
use std::fmt::{self, Display, Write as _};

use azver_core::{Status, Version};

use crate::detail::HostDetail;
use crate::reports::{BaselineEntry, HostEntry, Summary};

/// HTML-escapes text for element content and quoted attribute values.
#[derive(Debug, Clone, Copy)]
pub struct Esc<'a>(pub &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// Percent-encodes a path segment or query value (everything but unreserved characters).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Fill colour of each status, shared by the cards, the bar and the badges.
fn status_colour(status: Status) -> &'static str {
    match status {
        Status::Compliant => "#2e7d32",
        Status::Noncompliant => "#c62828",
        Status::NotApplicable => "#757575",
        Status::Stale => "#e65100",
    }
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}
header{background:#1f2937;color:#fff;padding:14px 28px}header h1{margin:0;font-size:22px}header p{margin:2px 0 0;color:#cbd5e1;font-size:13px}
header a{color:#fff}
main{max-width:1220px;margin:0 auto;padding:18px 28px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 18px;margin:0 0 16px;break-inside:avoid}
h2{font-size:17px;margin:0 0 10px}h3{font-size:15px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13.5px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{background:#f3f4f6;font-weight:600}td code,li code{font-size:12.5px;background:#f3f4f6;padding:1px 4px;border-radius:3px;word-break:break-all}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{flex:1 1 150px;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px;border-left-width:6px}
.card b{display:block;font-size:26px}.card span{font-size:13px;color:#444}
.pct{font-size:40px;font-weight:700;margin:0}.muted{color:#666;font-size:13px}
.badge{display:inline-block;color:#fff;border-radius:10px;padding:0 8px;font-size:12px;white-space:nowrap}
form.filters{display:flex;gap:12px;flex-wrap:wrap;align-items:end}form.filters label{font-size:13px;display:flex;flex-direction:column}
form.filters select,form.filters input{font:inherit;padding:3px 6px;min-width:150px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
a{color:#1d4ed8}svg text{font-family:inherit}a.host{white-space:nowrap}
@media print{body{background:#fff}form.filters,.noprint{display:none}section{border:1px solid #999}header{background:#fff;color:#000;border-bottom:2px solid #000}header p,header a{color:#000}}
";

fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body><header><h1>{}</h1><p>{}</p></header>\n<main>{body}</main></body></html>\n",
        Esc(title),
        Esc(title),
        subtitle
    )
}

fn badge(status: Status) -> String {
    format!("<span class=\"badge\" style=\"background:{}\">{}</span>", status_colour(status), status)
}

/// The status badge, and a second one for a revoked host (`host revoke`).
fn badges(host: &HostEntry) -> String {
    match &host.revoked_at {
        Some(at) => format!(
            "{} <span class=\"badge revoked\" style=\"background:#111827\" title=\"revoked at {}\">revoked</span>",
            badge(host.status),
            Esc(at)
        ),
        None => badge(host.status),
    }
}

fn host_link(host: &HostEntry) -> String {
    // A host without a name (an old agent's report) is still a link: its id stands in.
    let name = if host.hostname.trim().is_empty() { &host.host_id } else { &host.hostname };
    format!("<a class=\"host\" href=\"/hosts/{}\">{}</a>", url_encode(&host.host_id), Esc(name))
}

/// The words of `parts` that are not empty, joined by spaces, with `(extra)` after them only
/// when `extra` is not empty: `Ubuntu 22.04 (x86_64)`, never `Ubuntu 22.04 ()`.
fn words(parts: &[&str], extra: &str) -> String {
    let mut text = parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    if !extra.trim().is_empty() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push('(');
        text.push_str(extra.trim());
        text.push(')');
    }
    if text.is_empty() { "-".to_owned() } else { text }
}

/// What the filter form shows as selected (the raw query values).
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    /// `role` query value.
    pub role: String,
    /// `label` query value (`key=value` or `key`).
    pub label: String,
    /// `status` query value.
    pub status: String,
    /// `product` query value.
    pub product: String,
    /// `q` query value: text in the host name.
    pub q: String,
    /// `finding` query value: a finding kind.
    pub finding: String,
}

/// One day of the compliance-over-time chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendPoint {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Hosts per status that day.
    pub by_status: BTreeMap<Status, u64>,
}

impl TrendPoint {
    /// Compliant hosts as a share of the hosts the baseline applies to (everything but
    /// `not-applicable`), or `None` when there were none.
    pub fn compliance(&self) -> Option<f64> {
        let count = |s| self.by_status.get(&s).copied().unwrap_or(0);
        let applicable = count(Status::Compliant) + count(Status::Noncompliant) + count(Status::Stale);
        (applicable > 0).then(|| count(Status::Compliant) as f64 / applicable as f64)
    }
}

/// Compliance of a summary: compliant hosts over hosts the baseline applies to.
pub fn compliance(summary: &Summary) -> Option<f64> {
    let count = |s| summary.by_status.get(&s).copied().unwrap_or(0);
    let applicable = count(Status::Compliant) + count(Status::Noncompliant) + count(Status::Stale);
    (applicable > 0).then(|| count(Status::Compliant) as f64 / applicable as f64)
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_owned(), |s| format!("{:.1}%", s * 100.0))
}

/// What the dashboard shows: counts over the selected hosts, and one page of them.
#[derive(Debug)]
pub struct DashboardView<'a> {
    /// When, RFC 3339.
    pub generated_at: &'a str,
    /// The served baseline.
    pub baseline: &'a BTreeMap<String, BaselineEntry>,
    /// Hosts per status and versions per baseline product.
    pub summary: &'a Summary,
    /// Findings per kind.
    pub findings: &'a BTreeMap<String, u64>,
    /// Per product, hosts below the baseline.
    pub below: &'a BTreeMap<String, u64>,
    /// The compliance-over-time chart.
    pub trend: &'a [TrendPoint],
    /// The query as the form shows it.
    pub form: &'a FormValues,
    /// The products the form offers.
    pub products: &'a [String],
    /// This page of the list.
    pub hosts: &'a [HostEntry],
    /// The page number, from 1.
    pub page: usize,
    /// Hosts per page.
    pub limit: usize,
    /// Hosts in the list, over every page.
    pub total: usize,
    /// Without a status filter, how many of them need action (listed first).
    pub action: Option<u64>,
    /// The first hosts with a job that signs in as a user (`user-password-sign-in`).
    pub jobs: &'a [HostEntry],
}

/// The dashboard page: the counts, the charts and one page of the hosts, never the whole fleet.
pub fn dashboard(view: &DashboardView<'_>) -> String {
    let form = view.form;
    let filtered = !query_string(form).is_empty();
    let mut body = String::new();
    let kinds: Vec<&str> = view.findings.keys().map(String::as_str).collect();
    body.push_str(&filter_form(form, view.products, &kinds));
    body.push_str(&status_section(view.summary, filtered));
    body.push_str("<div class=\"grid\">");
    body.push_str(&trend_section(view.trend, form));
    body.push_str(&products_section(view.summary, view.baseline));
    body.push_str("</div>");
    body.push_str(&findings_section(view));
    body.push_str(&jobs_section(view));
    body.push_str(&hosts_section(view));
    let baseline: Vec<String> =
        view.baseline.iter().map(|(p, b)| format!("{} ≥ {}", Esc(p), Esc(&b.minimum))).collect();
    let subtitle = format!(
        "Generated {} · baseline: {} · <a class=\"noprint\" href=\"/api/v1/report.csv{}\">CSV</a>",
        Esc(view.generated_at),
        baseline.join(", "),
        Esc(&query_string(form))
    );
    page("azver fleet dashboard", &subtitle, &body)
}

/// `?role=..&...` for the non-empty form values (empty string when none).
pub fn query_string(form: &FormValues) -> String {
    let pairs: Vec<String> = [
        ("role", &form.role),
        ("label", &form.label),
        ("status", &form.status),
        ("product", &form.product),
        ("q", &form.q),
        ("finding", &form.finding),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", url_encode(v)))
    .collect();
    if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) }
}

fn select(name: &str, label: &str, current: &str, options: &[&str]) -> String {
    let mut out = format!("<label>{label}<select name=\"{name}\"><option value=\"\">any</option>");
    for option in options {
        let selected = if *option == current { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{0}\"{selected}>{0}</option>", Esc(option));
    }
    out.push_str("</select></label>");
    out
}

fn filter_form(form: &FormValues, products: &[String], kinds: &[&str]) -> String {
    let products: Vec<&str> = products.iter().map(String::as_str).collect();
    format!(
        "<section><form class=\"filters\" method=\"get\" action=\"/\">{}{}{}{}<label>label<input name=\"label\" value=\"{}\" placeholder=\"key=value\"></label>\
         <label>host name<input name=\"q\" value=\"{}\" placeholder=\"contains\"></label>\
         <button type=\"submit\">Filter</button> <a href=\"/\">clear</a></form></section>",
        select("role", "role", &form.role, &["developer", "build-runner", "server"]),
        select("status", "status", &form.status, &["compliant", "noncompliant", "not-applicable", "stale"]),
        select("product", "product", &form.product, &products),
        select("finding", "finding", &form.finding, kinds),
        Esc(&form.label),
        Esc(&form.q)
    )
}

fn status_section(summary: &Summary, filtered: bool) -> String {
    let mut out = String::from("<section id=\"compliance\"><h2>Compliance</h2>");
    let _ = write!(
        out,
        "<p class=\"pct\" id=\"compliance-percent\">{}</p><p class=\"muted\">compliant hosts out of the {} hosts the baseline applies to \
         (every host except not-applicable){}</p><div class=\"cards\">",
        percent(compliance(summary)),
        summary.hosts - summary.by_status.get(&Status::NotApplicable).copied().unwrap_or(0),
        if filtered { "; filters applied" } else { "" }
    );
    for (status, count) in &summary.by_status {
        let _ = write!(
            out,
            "<div class=\"card\" style=\"border-left-color:{}\" data-status=\"{status}\"><b>{count}</b><span>{status}</span></div>",
            status_colour(*status)
        );
    }
    out.push_str("</div>");
    // One stacked bar: the share of each status.
    let total = summary.hosts.max(1) as f64;
    let mut x = 0.0;
    out.push_str("<svg role=\"img\" aria-label=\"hosts per status\" viewBox=\"0 0 1000 28\" width=\"100%\" height=\"28\" preserveAspectRatio=\"none\" style=\"margin-top:10px\">");
    if summary.hosts == 0 {
        out.push_str("<rect x=\"0\" y=\"0\" width=\"1000\" height=\"28\" fill=\"#e5e7eb\"/>");
    }
    for (status, count) in &summary.by_status {
        let width = *count as f64 / total * 1000.0;
        if width > 0.0 {
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"0\" width=\"{width:.1}\" height=\"28\" fill=\"{}\"><title>{status}: {count}</title></rect>",
                status_colour(*status)
            );
        }
        x += width;
    }
    out.push_str("</svg></section>");
    out
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` day (proleptic Gregorian), for spacing the chart.
pub fn days_from_civil(day: &str) -> Option<i64> {
    let mut parts = day.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, d) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn trend_section(trend: &[TrendPoint], form: &FormValues) -> String {
    let mut out = String::from("<section id=\"trend\"><h2>Compliance over time</h2>");
    let points: Vec<(i64, f64, &TrendPoint)> =
        trend.iter().filter_map(|p| Some((days_from_civil(&p.day)?, p.compliance()?, p))).collect();
    let scope = if form.role.is_empty() { "all hosts".to_owned() } else { format!("role {}", Esc(&form.role)) };
    if points.is_empty() {
        let _ = write!(
            out,
            "<p class=\"muted\">No daily roll-ups yet ({scope}); the collector records one on start and hourly.</p></section>"
        );
        return out;
    }
    let (w, h, left, right, top, bottom) = (560.0, 200.0, 44.0, 16.0, 12.0, 30.0);
    let first = points[0].0;
    let last = points[points.len() - 1].0;
    let span = (last - first).max(1) as f64;
    let x = |day: i64| {
        if first == last { (left + w - right) / 2.0 } else { left + (day - first) as f64 / span * (w - left - right) }
    };
    let y = |share: f64| top + (1.0 - share) * (h - top - bottom);
    let _ = write!(
        out,
        "<svg role=\"img\" aria-label=\"daily compliance\" viewBox=\"0 0 {w} {h}\" width=\"100%\" style=\"max-width:{w}px\">"
    );
    for share in [0.0, 0.5, 1.0] {
        let (x2, gy, tx, ty, label) = (w - right, y(share), left - 6.0, y(share) + 4.0, share * 100.0);
        let _ = write!(
            out,
            "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{gy:.1}\" y2=\"{gy:.1}\" stroke=\"#d1d5db\"/><text x=\"{tx}\" y=\"{ty:.1}\" font-size=\"11\" text-anchor=\"end\">{label}%</text>"
        );
    }
    let path: Vec<String> = points.iter().map(|(d, s, _)| format!("{:.1},{:.1}", x(*d), y(*s))).collect();
    let _ =
        write!(out, "<polyline fill=\"none\" stroke=\"#2e7d32\" stroke-width=\"2\" points=\"{}\"/>", path.join(" "));
    for (d, s, p) in &points {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#2e7d32\"><title>{}: {}</title></circle>",
            x(*d),
            y(*s),
            Esc(&p.day),
            percent(Some(*s))
        );
    }
    if first == last {
        // One day of data: one date, not the same date at both ends of the axis.
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text></svg>",
            (left + w - right) / 2.0,
            h - 8.0,
            Esc(&points[0].2.day)
        );
    } else {
        let _ = write!(
            out,
            "<text x=\"{left}\" y=\"{}\" font-size=\"11\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
            h - 8.0,
            Esc(&points[0].2.day),
            w - right,
            h - 8.0,
            Esc(&points[points.len() - 1].2.day)
        );
    }
    let _ = write!(
        out,
        "<p class=\"muted\">Daily share of compliant hosts ({scope}), as recorded at the collector's last roll-up of each day; latest {} on {}.</p></section>",
        percent(Some(points[points.len() - 1].1)),
        Esc(&points[points.len() - 1].2.day)
    );
    out
}

fn products_section(summary: &Summary, baseline: &BTreeMap<String, BaselineEntry>) -> String {
    let mut out = String::from("<section id=\"versions\"><h2>Versions per product</h2>");
    if summary.products.is_empty() {
        out.push_str("<p class=\"muted\">No baseline product installed on the hosts shown.</p>");
    }
    for (product, versions) in &summary.products {
        let minimum = baseline.get(product).map(|b| b.minimum.clone());
        let min_version = minimum.as_deref().and_then(|m| Version::parse(m).ok());
        // Parseable versions in order, then those that do not parse (always below the baseline).
        let mut rows: Vec<(Option<Version>, &String, usize)> =
            versions.iter().map(|(v, n)| (Version::parse(v).ok(), v, *n)).collect();
        rows.sort_by(|a, b| match (&a.0, &b.0) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.1.cmp(b.1),
        });
        let meets = |v: &Option<Version>| match (v, &min_version) {
            (Some(v), Some(min)) => v >= min,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let max = rows.iter().map(|r| r.2).max().unwrap_or(1).max(1) as f64;
        let (row_h, label_w, bar_w) = (22.0, 130.0, 360.0);
        let height = row_h * rows.len() as f64 + 26.0;
        let _ = write!(
            out,
            "<h3>{}{}</h3><svg role=\"img\" aria-label=\"{} versions\" viewBox=\"0 0 640 {height}\" width=\"100%\" style=\"max-width:640px\">",
            Esc(product),
            minimum
                .as_deref()
                .map(|m| format!(" <span class=\"muted\">baseline ≥ {}</span>", Esc(m)))
                .unwrap_or_default(),
            Esc(product)
        );
        let mut marked = false;
        for (i, (version, text, count)) in rows.iter().enumerate() {
            let y = i as f64 * row_h;
            let ok = meets(version);
            if ok && !marked && minimum.is_some() {
                marked = true;
                let _ = write!(
                    out,
                    "<line x1=\"0\" x2=\"640\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#111\" stroke-dasharray=\"5 3\"/>\
                     <text x=\"636\" y=\"{:.1}\" font-size=\"10.5\" text-anchor=\"end\" class=\"baseline-mark\">baseline {}</text>",
                    y + 11.0,
                    Esc(minimum.as_deref().unwrap_or_default())
                );
            }
            let width = *count as f64 / max * bar_w;
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text>\
                 <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {count} host(s)</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{count}</text>",
                label_w - 6.0,
                y + 15.0,
                Esc(text),
                y + 4.0,
                row_h - 8.0,
                if ok { "#2e7d32" } else { "#c62828" },
                Esc(text),
                label_w + width + 5.0,
                y + 15.0
            );
        }
        if !marked && minimum.is_some() {
            let y = row_h * rows.len() as f64;
            let _ = write!(
                out,
                "<line x1=\"0\" x2=\"640\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#111\" stroke-dasharray=\"5 3\"/>\
                 <text x=\"636\" y=\"{:.1}\" font-size=\"10.5\" text-anchor=\"end\" class=\"baseline-mark\">baseline {} (no host meets it)</text>",
                y + 13.0,
                Esc(minimum.as_deref().unwrap_or_default())
            );
        }
        out.push_str("</svg>");
    }
    out.push_str(
        "<p class=\"muted\">Hosts per installed version; red is below the baseline (dashed line).</p></section>",
    );
    out
}

/// `file:line`, or the file alone when the format has no lines.
fn file_line(path: &str, line: Option<u32>) -> String {
    match line {
        Some(line) => format!("{path}:{line}"),
        None => path.to_owned(),
    }
}

/// What a finding kind means, for the findings table.
fn kind_title(kind: &str) -> &str {
    match kind {
        "below-baseline" => "Installations below the baseline",
        "unparseable-version" => "Versions that cannot be read",
        "unknown-version" => "Installations without a readable version",
        "retired-module" => "Retired modules installed",
        "human-identity-on-build-runner" => "Human identities on build runners",
        "human-identity" => "Signed in as a user",
        "user-password-sign-in" => "Jobs that sign in as a user",
        "plaintext-secret-in-job" => "Jobs with a secret in plain text",
        other => other,
    }
}

/// Findings per kind and hosts below the baseline per product, over the selected hosts.
fn findings_section(view: &DashboardView<'_>) -> String {
    let mut out = String::from("<section id=\"findings\"><h2>Findings</h2><div class=\"grid\"><div>");
    out.push_str("<table><thead><tr><th>finding</th><th>kind</th><th>findings</th></tr></thead><tbody>");
    for (kind, count) in view.findings {
        let _ = write!(
            out,
            "<tr data-kind=\"{0}\"><td><a href=\"/{2}\">{1}</a></td><td><code>{0}</code></td><td>{count}</td></tr>",
            Esc(kind),
            Esc(kind_title(kind)),
            Esc(&query_string(&FormValues { finding: kind.clone(), ..view.form.clone() }))
        );
    }
    out.push_str("</tbody></table></div><div id=\"below-baseline\">");
    if view.below.is_empty() {
        out.push_str("<p class=\"muted\">No host shown has an installation below the baseline.</p>");
    } else {
        out.push_str("<table><thead><tr><th>product</th><th>baseline</th><th>hosts below it</th></tr></thead><tbody>");
        for (product, hosts) in view.below {
            let minimum = view.baseline.get(product).map_or("-", |b| b.minimum.as_str());
            let _ = write!(out, "<tr><td>{}</td><td>≥ {}</td><td>{hosts}</td></tr>", Esc(product), Esc(minimum));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</div></div></section>");
    out
}

/// "Jobs that sign in as a user": the jobs of the first hosts that have one (each job's host,
/// scheduler and name, file and line, account, redacted command and fix), and a link to the
/// list of every such host. They break when MFA is enforced.
fn jobs_section(view: &DashboardView<'_>) -> String {
    let kind = "user-password-sign-in";
    let mut out = String::from("<section id=\"password-jobs\"><h2>Jobs that sign in as a user</h2>");
    let jobs: Vec<(&HostEntry, &azver_core::Finding)> = view
        .jobs
        .iter()
        .flat_map(|h| h.findings.iter().filter(|f| json_name(&f.kind) == kind).map(move |f| (h, f)))
        .collect();
    if jobs.is_empty() {
        out.push_str(
            "<p class=\"muted\">No scheduled job or CI job found that signs in with a user's password.</p></section>",
        );
        return out;
    }
    out.push_str(
        "<p class=\"muted\">These jobs sign in with a user's password: they fail once MFA is enforced. \
         Passwords and secrets are never collected; commands are shown with them replaced by <code>***</code>.</p>",
    );
    out.push_str(
        "<table><thead><tr><th>host</th><th>job</th><th>file:line</th><th>runs as</th><th>command</th><th>fix</th></tr></thead><tbody>",
    );
    for (host, f) in jobs {
        let _ = write!(
            out,
            "<tr class=\"job\"><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            host_link(host),
            Esc(f.job.as_deref().unwrap_or("-")),
            Esc(&file_line(&f.path, f.line)),
            Esc(f.run_as.as_deref().unwrap_or("-")),
            Esc(f.command.as_deref().unwrap_or("-")),
            Esc(&f.hint)
        );
    }
    let hosts = if view.form.finding == kind {
        "These are the first hosts of the list below.".to_owned()
    } else {
        let all = FormValues { finding: kind.to_owned(), ..view.form.clone() };
        format!("<a href=\"/{}\">Every host with such a job →</a>", Esc(&query_string(&all)))
    };
    let _ = write!(out, "</tbody></table><p class=\"noprint\">{hosts}</p></section>");
    out
}

/// One finding in a host's row: what, where (a job's file, line, account and redacted
/// command), and what to do.
fn finding_cell(f: &azver_core::Finding) -> String {
    let mut out = format!("<div class=\"finding\" data-kind=\"{}\">{}", Esc(&json_name(&f.kind)), Esc(&f.describe()));
    if let Some(job) = &f.job {
        let _ = write!(
            out,
            ": <code>{}</code> <code>{}</code> (runs as {}) <code>{}</code>",
            Esc(job),
            Esc(&file_line(&f.path, f.line)),
            Esc(f.run_as.as_deref().unwrap_or("-")),
            Esc(f.command.as_deref().unwrap_or("-"))
        );
    } else if !f.path.is_empty() {
        let _ = write!(out, " at <code>{}</code>", Esc(&f.path));
    }
    let _ = write!(out, "<br>fix: <code>{}</code></div>", Esc(&f.hint));
    out
}

/// A link to page `page` of the list, keeping the filters.
fn page_link(form: &FormValues, page: usize, limit: usize, text: &str, rel: &str) -> String {
    let mut query = query_string(form);
    query.push(if query.is_empty() { '?' } else { '&' });
    let _ = write!(query, "page={page}");
    if limit != DEFAULT_PAGE {
        let _ = write!(query, "&limit={limit}");
    }
    format!("<a rel=\"{rel}\" href=\"/{}\">{text}</a>", Esc(&query))
}

/// The hosts per page unless the query says otherwise (the dashboard's default).
const DEFAULT_PAGE: usize = 50;

/// One page of the selected hosts, those that need action first, with previous/next links.
fn hosts_section(view: &DashboardView<'_>) -> String {
    let pages = view.total.div_ceil(view.limit.max(1)).max(1);
    let first = (view.page - 1).saturating_mul(view.limit);
    let mut out = format!("<section id=\"hosts\"><h2>Hosts ({})</h2><p class=\"muted\">", view.total);
    match view.action {
        Some(action) => {
            let _ = write!(
                out,
                "The {action} host(s) that need action (stale, noncompliant, or not evaluated against this baseline yet) \
                 come first, then the others; each part by host name."
            );
        }
        None => out.push_str("By host name."),
    }
    if view.hosts.is_empty() {
        out.push_str("</p><p class=\"muted\">No host on this page.</p>");
    } else {
        let _ = write!(out, " Hosts {}–{} of {}.</p>", first + 1, first + view.hosts.len(), view.total);
        out.push_str(
            "<table><thead><tr><th>host</th><th>role</th><th>status</th><th>installed</th><th>findings and fixes</th>\
             <th>labels</th><th>last seen</th></tr></thead><tbody>",
        );
        for host in view.hosts {
            let installs: Vec<String> =
                host.installations.iter().map(|i| format!("{} {}", Esc(&i.product), Esc(&i.version))).collect();
            let labels: Vec<String> = host.labels.iter().map(|(k, v)| format!("{}={}", Esc(k), Esc(v))).collect();
            let findings: String = host.findings.iter().map(finding_cell).collect();
            let _ = write!(
                out,
                "<tr class=\"host\" data-status=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                host.status,
                host_link(host),
                Esc(&host.role_text()),
                badges(host),
                installs.join("<br>"),
                if findings.is_empty() { "-".to_owned() } else { findings },
                labels.join("<br>"),
                Esc(&host.last_seen)
            );
        }
        out.push_str("</tbody></table>");
    }
    let _ = write!(out, "<nav class=\"pages noprint\">Page {} of {pages}", view.page);
    if view.page > 1 {
        let previous = view.page.min(pages + 1) - 1;
        let _ = write!(out, " · {}", page_link(view.form, previous, view.limit, "← previous", "prev"));
    }
    if view.page < pages {
        let _ = write!(out, " · {}", page_link(view.form, view.page + 1, view.limit, "next →", "next"));
    }
    out.push_str("</nav></section>");
    out
}

/// The page of one host.
pub fn host_page(detail: &HostDetail) -> String {
    let e = &detail.entry;
    let f = &detail.facts;
    let mut body = String::new();
    let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{}={}", Esc(k), Esc(v))).collect();
    let _ = write!(
        body,
        "<section id=\"host\"><h2>{} {}</h2><table><tbody>\
         <tr><th>host id</th><td><code>{}</code></td></tr><tr><th>role</th><td>{}</td></tr>\
         <tr><th>labels</th><td>{}</td></tr><tr><th>os</th><td>{}</td></tr>\
         <tr><th>agent</th><td>{}</td></tr><tr><th>first seen</th><td>{}</td></tr><tr><th>last seen</th><td>{}</td></tr>{}{}{}\
         </tbody></table></section>",
        Esc(&e.hostname),
        badges(e),
        Esc(&e.host_id),
        Esc(&e.role_text()),
        if labels.is_empty() { "-".to_owned() } else { labels.join(", ") },
        Esc(&words(&[&f.os_name, &f.os_version, &f.kernel_version], &f.architecture)),
        Esc(if f.agent_version.is_empty() { "-" } else { &f.agent_version }),
        Esc(&e.first_seen),
        Esc(&e.last_seen),
        e.clock_skew_seconds
            .map(|s| format!("<tr><th>clock skew</th><td>{s} s (agent clock vs collector)</td></tr>"))
            .unwrap_or_default(),
        f.ci_service
            .as_deref()
            .map(|s| format!(
                "<tr><th>build runner</th><td>{} agent revealed by <code>{}</code> (<code>{}</code>)</td></tr>",
                Esc(f.ci_system.as_deref().unwrap_or("-")),
                Esc(s),
                Esc(f.ci_service_path.as_deref().unwrap_or("-"))
            ))
            .unwrap_or_default(),
        e.revoked_at
            .as_deref()
            .map(|at| format!(
                "<tr><th>revoked</th><td>{} (its reports are refused until <code>host delete</code>)</td></tr>",
                Esc(at)
            ))
            .unwrap_or_default()
    );

    body.push_str("<section id=\"findings\"><h2>Findings</h2>");
    if e.findings.is_empty() {
        body.push_str("<p class=\"muted\">None.</p>");
    } else {
        body.push_str("<table><thead><tr><th>finding</th><th>path</th><th>what to do</th></tr></thead><tbody>");
        for finding in &e.findings {
            let _ = write!(
                body,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                Esc(&finding.describe()),
                Esc(&file_line(&finding.path, finding.line)),
                Esc(&finding.hint)
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    body.push_str("<section id=\"installations\"><h2>Installations</h2>");
    if e.installations.is_empty() {
        body.push_str("<p class=\"muted\">No Azure client found.</p>");
    } else {
        body.push_str("<table><thead><tr><th>product</th><th>version</th><th>source</th><th>scope</th><th>user</th><th>path</th></tr></thead><tbody>");
        for i in &e.installations {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                Esc(&i.product),
                Esc(&i.version),
                Esc(&json_name(&i.source)),
                Esc(&json_name(&i.scope)),
                Esc(i.user.as_deref().unwrap_or("-")),
                Esc(&i.path)
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    body.push_str("<section id=\"identities\"><h2>Identities</h2>");
    if e.identities.is_empty() {
        body.push_str("<p class=\"muted\">No signed-in identity found.</p>");
    } else {
        body.push_str("<table><thead><tr><th>tool</th><th>account type</th><th>local user</th><th>tenant</th><th>cloud</th><th>account</th><th>profile</th></tr></thead><tbody>");
        for i in &e.identities {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                Esc(&i.tool),
                Esc(&json_name(&i.account_type)),
                Esc(&i.local_user),
                Esc(&i.tenant_id),
                Esc(&i.cloud),
                Esc(i.account_name.as_deref().unwrap_or("-")),
                Esc(&i.path)
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    let _ = write!(body, "<section id=\"jobs\"><h2>Scheduled jobs that sign in ({})</h2>", e.job_sign_ins.len());
    if e.job_sign_ins.is_empty() {
        body.push_str("<p class=\"muted\">No scheduled job signs in with a password or a written-down secret.</p>");
    } else {
        body.push_str("<table><thead><tr><th>kind</th><th>job</th><th>file:line</th><th>run as</th><th>product</th><th>command (secrets removed)</th></tr></thead><tbody>");
        for j in &e.job_sign_ins {
            let _ = write!(
                body,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                Esc(j.kind.as_str()),
                Esc(&j.job),
                Esc(&file_line(&j.path, j.line)),
                Esc(j.run_as.as_deref().unwrap_or("-")),
                Esc(&j.product),
                Esc(&j.command)
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    body.push_str("<section id=\"history\"><h2>History of changes</h2><table><thead><tr><th>when</th><th>change</th><th>host name</th><th>installations from then on</th></tr></thead><tbody>");
    for h in &detail.history {
        let installs: Vec<String> =
            h.installations.iter().map(|i| format!("{} {}", Esc(&i.product), Esc(&i.version))).collect();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            Esc(&h.at),
            Esc(&h.change),
            Esc(&h.hostname),
            if installs.is_empty() { "-".to_owned() } else { installs.join(", ") }
        );
    }
    body.push_str("</tbody></table></section>");

    let _ = write!(body, "<section id=\"scan-errors\"><h2>Scan errors ({})</h2>", detail.errors.len());
    if detail.errors.is_empty() {
        body.push_str("<p class=\"muted\">The last report had none.</p>");
    } else {
        body.push_str("<table><thead><tr><th>kind</th><th>path</th><th>message</th></tr></thead><tbody>");
        for error in &detail.errors {
            let _ = write!(
                body,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                Esc(&json_name(&error.kind)),
                Esc(&error.path),
                Esc(&error.message)
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");
    let subtitle = format!(
        "<a href=\"/\">← fleet dashboard</a> · <a class=\"noprint\" href=\"/api/v1/hosts/{}\">JSON</a>",
        url_encode(&e.host_id)
    );
    page(&format!("azver host {}", e.hostname), &subtitle, &body)
}

/// A plain error page (404, 400).
pub fn message_page(title: &str, message: &str) -> String {
    page(title, "<a href=\"/\">← fleet dashboard</a>", &format!("<section><p>{}</p></section>", Esc(message)))
}

/// The kebab-case name serde gives an enum value.
fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_attribute_quotes() {
        for (input, expected) in [
            ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
            ("a & b", "a &amp; b"),
            ("\" onmouseover='x'", "&quot; onmouseover=&#39;x&#39;"),
            ("plain ✓ text", "plain ✓ text"),
            ("", ""),
        ] {
            assert_eq!(Esc(input).to_string(), expected, "{input:?}");
        }
    }

    #[test]
    fn urls_encode_everything_but_unreserved() {
        assert_eq!(url_encode("a b/<c>?&=%"), "a%20b%2F%3Cc%3E%3F%26%3D%25");
        assert_eq!(url_encode("host-1.example_~"), "host-1.example_~");
        assert_eq!(url_encode("é"), "%C3%A9");
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil("1970-01-01"), Some(0));
        assert_eq!(days_from_civil("2000-03-01"), Some(11_017));
        assert_eq!(days_from_civil("2026-01-01"), Some(20_454));
        assert_eq!(days_from_civil("2026-13-01"), None);
        assert_eq!(days_from_civil("soon"), None);
    }

    #[test]
    fn compliance_leaves_out_not_applicable_hosts() {
        let point = |c, n, na, s| TrendPoint {
            day: "2026-01-01".into(),
            by_status: [
                (Status::Compliant, c),
                (Status::Noncompliant, n),
                (Status::NotApplicable, na),
                (Status::Stale, s),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(point(3, 1, 10, 0).compliance(), Some(0.75));
        assert_eq!(point(1, 0, 0, 1).compliance(), Some(0.5));
        assert_eq!(point(0, 0, 4, 0).compliance(), None);
    }

    fn finding(kind: azver_core::FindingKind, job: &str, command: &str) -> azver_core::Finding {
        azver_core::Finding {
            kind,
            severity: azver_core::Severity::High,
            product: "azure-cli".into(),
            installed: "user-password".into(),
            required: "managed identity".into(),
            path: "/opt/jobs/sync.sh".into(),
            source: azver_core::InstallSource::Other,
            hint: "use a managed identity".into(),
            account_type: None,
            line: Some(7),
            job: Some(job.into()),
            run_as: Some("ops".into()),
            command: Some(command.into()),
        }
    }

    fn entry(name: &str, findings: Vec<azver_core::Finding>) -> HostEntry {
        let host = crate::store::StoredHost {
            facts: azver_core::HostFacts {
                host_id: Some(format!("id-{name}")),
                hostname: name.into(),
                ..Default::default()
            },
            ..crate::store::StoredHost::default()
        };
        crate::reports::entry(&host, azver_core::Evaluation { status: Status::Noncompliant, findings })
    }

    fn no_hosts() -> Summary {
        Summary { hosts: 0, by_status: BTreeMap::new(), products: BTreeMap::new() }
    }

    fn view<'a>(
        form: &'a FormValues,
        jobs: &'a [HostEntry],
        empty: &'a (BTreeMap<String, BaselineEntry>, Summary, BTreeMap<String, u64>),
    ) -> DashboardView<'a> {
        DashboardView {
            generated_at: "2026-11-30T00:00:00Z",
            baseline: &empty.0,
            summary: &empty.1,
            findings: &empty.2,
            below: &empty.2,
            trend: &[],
            form,
            products: &[],
            hosts: &[],
            page: 1,
            limit: 50,
            total: 0,
            action: None,
            jobs,
        }
    }

    #[test]
    fn the_password_jobs_section_lists_each_job_once_with_its_fix_and_links_to_every_host() {
        let empty = (BTreeMap::new(), no_hosts(), BTreeMap::new());
        let form = FormValues { role: "server".into(), ..FormValues::default() };
        let none = jobs_section(&view(&form, &[], &empty));
        assert!(none.contains("No scheduled job or CI job found"), "{none}");
        assert!(!none.contains("<table>"), "{none}");

        let hosts = [
            entry(
                "<b>web</b>",
                vec![
                    finding(
                        azver_core::FindingKind::UserPasswordSignIn,
                        "cron:/etc/cron.d/sync",
                        "az login -u ops -p ***",
                    ),
                    finding(
                        azver_core::FindingKind::PlaintextSecretInJob,
                        "cron:/etc/cron.d/sp",
                        "az login --service-principal -p ***",
                    ),
                ],
            ),
            entry(
                "db",
                vec![finding(
                    azver_core::FindingKind::UserPasswordSignIn,
                    "task:\\Ops\\Rotate",
                    "Connect-AzAccount -Credential ***",
                )],
            ),
        ];
        let section = jobs_section(&view(&form, &hosts, &empty));
        assert_eq!(section.matches("<tr class=\"job\">").count(), 2, "{section}");
        assert!(!section.contains("service-principal"), "only user-password sign-ins: {section}");
        for expected in [
            "<a class=\"host\" href=\"/hosts/id-%3Cb%3Eweb%3C%2Fb%3E\">&lt;b&gt;web&lt;/b&gt;</a>",
            "<code>cron:/etc/cron.d/sync</code>",
            "<code>/opt/jobs/sync.sh:7</code>",
            "<td>ops</td>",
            "<code>az login -u ops -p ***</code>",
            "<code>task:\\Ops\\Rotate</code>",
            "use a managed identity",
            // The link keeps the dashboard's filters.
            "href=\"/?role=server&amp;finding=user-password-sign-in\"",
        ] {
            assert!(section.contains(expected), "{expected:?} missing from {section}");
        }
        // Already the list of those hosts: no link to itself.
        let listed = FormValues { finding: "user-password-sign-in".into(), ..FormValues::default() };
        assert!(!jobs_section(&view(&listed, &hosts, &empty)).contains("Every host with such a job"));
    }

    #[test]
    fn each_finding_kind_links_to_its_hosts_and_the_form_offers_it() {
        let mut empty = (BTreeMap::new(), no_hosts(), BTreeMap::new());
        empty.2.insert("user-password-sign-in".to_owned(), 3);
        let form = FormValues { q: "web 1".into(), finding: "user-password-sign-in".into(), ..FormValues::default() };
        let page = dashboard(&view(&form, &[], &empty));
        assert!(
            page.contains("<a href=\"/?q=web%201&amp;finding=user-password-sign-in\">Jobs that sign in as a user</a>"),
            "{page}"
        );
        assert!(page.contains("<option value=\"user-password-sign-in\" selected>"), "{page}");
    }

    #[test]
    fn dashboard_details_host_names_one_line_one_day_trend_no_empty_brackets() {
        // Host names never wrap (a long name with dashes used to break over three lines).
        assert!(page("t", "s", "").contains("a.host{white-space:nowrap}"));
        assert!(host_link(&entry("build-agent-eu-west-07", Vec::new())).starts_with("<a class=\"host\""));
        // One day of roll-ups: its date once, not at both ends of the axis.
        let day = TrendPoint { day: "2026-11-30".into(), by_status: [(Status::Compliant, 3)].into_iter().collect() };
        let one = trend_section(std::slice::from_ref(&day), &FormValues::default());
        assert_eq!(one.matches(">2026-11-30</text>").count(), 1, "{one}");
        let before = TrendPoint { day: "2026-11-29".into(), ..day.clone() };
        let two = trend_section(&[before, day], &FormValues::default());
        assert_eq!((two.matches(">2026-11-29</text>").count(), two.matches(">2026-11-30</text>").count()), (1, 1));
        // No empty brackets when the architecture (or anything else) is unknown.
        assert_eq!(words(&["Ubuntu", "22.04"], ""), "Ubuntu 22.04");
        assert_eq!(words(&["Ubuntu", "", "22.04"], "x86_64"), "Ubuntu 22.04 (x86_64)");
        assert_eq!(words(&["", " "], ""), "-");
    }
}

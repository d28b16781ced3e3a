//! `serve --http`: the dashboard, the JSON API, the CSV download, the OpenAPI document,
//! `/metrics` (checked by Prometheus' own Python parser) and the probes, over real HTTP against
//! a fleet of real agents; a headless Chromium renders the dashboard.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use azver_e2e::{SimHost, arg, bin, parse_csv};
use serde_json::Value;

/// The hostile host name: it must show as text everywhere.
const SCRIPT_NAME: &str = "<script>alert(1)</script>";

/// `azver-collector serve --listen 127.0.0.1:0 --http 127.0.0.1:0` on a temporary database,
/// killed on drop. (The shared harness reads only the first stdout line; this one reads both.)
pub(crate) struct HttpCollector {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    grpc: String,
    http: String,
    pub(crate) dir: tempfile::TempDir,
}

impl HttpCollector {
    pub(crate) fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("azver-http-").tempdir().expect("create a temp dir");
        let db = dir.path().join("azver.db");
        let stderr = std::fs::File::create(dir.path().join("collector.stderr")).expect("stderr file");
        let mut child = Command::new(bin("azver-collector"))
            .args(["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--db", arg(&db)])
            .env_remove("AZVER_LOG")
            .env_remove("AZVER_DB")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start azver-collector serve --http");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = |prefix: &str| {
            let mut text = String::new();
            let _ = stdout.read_line(&mut text);
            text.trim_end().strip_prefix(prefix).map(str::to_owned)
        };
        let grpc = line("listening on ");
        let http = line("http listening on ");
        let (Some(grpc), Some(http)) = (grpc, http) else {
            let _ = child.kill();
            panic!(
                "serve --http did not print both address lines\n--- stderr\n{}",
                std::fs::read_to_string(dir.path().join("collector.stderr")).unwrap_or_default()
            );
        };
        assert!(http.starts_with("127.0.0.1:"), "http on {http}");
        Self { child, _stdout: stdout, grpc, http, dir }
    }

    pub(crate) fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub(crate) fn db(&self) -> PathBuf {
        self.dir.path().join("azver.db")
    }

    pub(crate) fn get(&self, path: &str) -> Reply {
        http_get(&self.http, path, &[])
    }

    #[track_caller]
    fn json(&self, path: &str) -> Value {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
        assert!(reply.header("content-type").starts_with("application/json"), "GET {path}: {:?}", reply.headers);
        serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {}", reply.text()))
    }
}

impl Drop for HttpCollector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> String {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A plain HTTP/1.1 GET (`Connection: close`), enough for a test and no client library.
fn http_get(address: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connect {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("set a read timeout");
    let mut request = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {address}\r\n"));
    }
    for (k, v) in extra {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).expect("a hex size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 4 + size..];
    }
}

/// The fleet every test here reports: (fixture case, target OS, role, host name).
const FLEET: &[(&str, &str, &str, &str)] = &[
    ("linux-microsoft-deb", "linux", "developer", "dev-compliant"),
    ("linux-debian-package", "linux", "server", "srv-old-cli"),
    ("windows-msi", "windows", "developer", SCRIPT_NAME),
    ("identities-linux", "linux", "build-runner", "runner-user-login"),
    ("empty", "linux", "server", "srv-empty"),
];

/// Reports the fleet through real agents; returns the hosts by name. The first host reports
/// twice, then once more from a copy of its state after the first report, so the collector sees
/// seven reports, one of them a duplicate.
fn populate(collector: &HttpCollector) -> Vec<SimHost> {
    let mut hosts = Vec::new();
    for &(case, os, role, name) in FLEET {
        let host = SimHost::new(collector.dir.path(), case, name).os(os).with(&["--role", role, "--label", "team=web"]);
        let run = host.report(&collector.grpc_url());
        assert!(run.code == 0 || run.code == 1, "{name}: {} {}", run.stdout, run.stderr);
        if hosts.is_empty() {
            let replay = SimHost { state_dir: collector.dir.path().join("replay"), ..host.clone() };
            copy_dir(&host.state_dir, &replay.state_dir);
            host.report(&collector.grpc_url()).expect_code(0);
            // Same host id and sequence as the second report: acknowledged as a duplicate.
            let again = replay.report(&collector.grpc_url());
            assert_eq!(again.json()["duplicate"], true, "{}", again.stdout);
        }
        hosts.push(host);
    }
    hosts
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the state dir") {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a state file");
        }
    }
}

fn host_id_of(hosts: &[SimHost], name: &str) -> String {
    hosts.iter().find(|h| h.hostname == name).expect("a host of the fleet").host_id()
}

/// The Python of scripts/setup.sh's venv, or `None` (after saying why) outside CI.
fn python() -> Option<PathBuf> {
    match std::env::var_os("AZVER_PYTHON") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("AZVER_PYTHON is not set; CI must validate /metrics (scripts/setup.sh makes target/py-venv)")
        }
        _ => {
            eprintln!("skipped the /metrics parser check: set AZVER_PYTHON (scripts/setup.sh makes target/py-venv)");
            None
        }
    }
}

fn run_python(python: &Path, script: &str, args: &[&str]) -> String {
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "python failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("python prints UTF-8")
}

/// Adds roll-ups for the two days before today, as an earlier collector process would have.
fn add_past_rollups(python: &Path, db: &Path, today: &str) {
    let script = r#"
import datetime, sqlite3, sys
db, today = sys.argv[1], datetime.date.fromisoformat(sys.argv[2])
con = sqlite3.connect(db)
rows = [(today - datetime.timedelta(days=2), "developer", "noncompliant", 2),
        (today - datetime.timedelta(days=2), "server", "not-applicable", 1),
        (today - datetime.timedelta(days=1), "developer", "compliant", 1),
        (today - datetime.timedelta(days=1), "developer", "noncompliant", 1)]
con.executemany("INSERT INTO daily_status (day, role, status, hosts, recorded_at) VALUES (?, ?, ?, ?, 0)",
                [(d.isoformat(), r, s, n) for d, r, s, n in rows])
con.commit()
"#;
    run_python(python, script, &[arg(db), today]);
}

#[test]
fn every_route_answers_over_http_and_agent_data_stays_text() {
    let collector = HttpCollector::start();
    let hosts = populate(&collector);
    let script_id = host_id_of(&hosts, SCRIPT_NAME);
    let runner_id = host_id_of(&hosts, "runner-user-login");

    // The dashboard: server-rendered, the names in the page, charts as inline SVG.
    let page = collector.get("/");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"), "{:?}", page.headers);
    assert!(page.header("content-security-policy").contains("default-src 'none'"), "{:?}", page.headers);
    let html = page.text();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped name missing");
    assert!(!html.contains(SCRIPT_NAME), "the hostile host name reached the page unescaped");
    assert!(!html.to_ascii_lowercase().contains("<script"), "the dashboard carries no script at all");
    for expected in ["dev-compliant", "srv-old-cli", "runner-user-login", "srv-empty", "<svg", "baseline 2.76.0"] {
        assert!(html.contains(expected), "dashboard lacks {expected:?}");
    }
    assert!(html.contains("id=\"compliance-percent\">25.0%<"), "1 of 4 applicable hosts compliant");
    // Upgrade hints for the hosts below the baseline, and the user sign-in on the runner.
    assert!(html.contains("sudo apt-get remove -y azure-cli"), "debian hint");
    assert!(html.contains("winget upgrade"), "windows hint");
    // The user sign-in on the runner is in the runner's row, with what to do.
    let runner_row =
        html.split("<tr class=\"host\"").find(|row| row.contains(">runner-user-login<")).expect("runner row");
    let runner_row = &runner_row[..runner_row.find("</tr>").expect("row end")];
    assert!(runner_row.contains("data-kind=\"human-identity-on-build-runner\""), "{runner_row}");
    assert!(html.contains("Human identities on build runners"), "the findings table names the kind");

    // Issue 17: one page of hosts, those that need action (the three noncompliant) first, each
    // part by host name; previous/next links keep the filters; search by name.
    let rows: Vec<&str> = html
        .split("<tr class=\"host\"")
        .skip(1)
        .map(|row| row.split("class=\"host\" href").nth(1).and_then(|r| r.split(['>', '<']).nth(1)).unwrap_or(""))
        .collect();
    assert_eq!(
        rows,
        ["&lt;script&gt;alert(1)&lt;/script&gt;", "runner-user-login", "srv-old-cli", "dev-compliant", "srv-empty"],
        "needs action first"
    );
    assert!(html.contains("The 3 host(s) that need action"), "how many need action");
    let first = collector.get("/?limit=2&role=developer").text();
    assert_eq!(first.matches("<tr class=\"host\"").count(), 2);
    assert!(first.contains("Page 1 of 1"), "two developers on one page of two");
    let paged = collector.get("/?limit=2").text();
    assert!(paged.contains("Page 1 of 3") && paged.contains("href=\"/?page=2&amp;limit=2\""), "next link");
    assert!(!paged.contains("rel=\"prev\""), "no previous page before the first");
    let last = collector.get("/?limit=2&page=3").text();
    assert_eq!(last.matches("<tr class=\"host\"").count(), 1);
    assert!(last.contains(">srv-empty<") && last.contains("href=\"/?page=2&amp;limit=2\""), "previous link");
    let searched = collector.get("/?q=SRV-&status=noncompliant").text();
    assert_eq!(searched.matches("<tr class=\"host\"").count(), 1, "search and status filter together");
    assert!(searched.contains(">srv-old-cli<") && searched.contains("value=\"SRV-\""));
    assert!(searched.contains("/api/v1/report.csv?status=noncompliant&amp;q=SRV-"), "the CSV link keeps the search");
    let bad_page = collector.get("/?page=0");
    assert_eq!(bad_page.status, 400);
    assert!(bad_page.text().contains("page &quot;0&quot; must be"), "{}", bad_page.text());

    // Filters: status, role, label, product; a bad one is a 400 that says why.
    let noncompliant = collector.get("/?status=noncompliant").text();
    assert!(noncompliant.contains("srv-old-cli") && !noncompliant.contains(">dev-compliant<"));
    let servers = collector.get("/?role=server&label=team%3Dweb").text();
    assert!(servers.contains("srv-empty") && !servers.contains("runner-user-login"));
    let az = collector.get("/?product=azure-cli").text();
    assert!(az.contains("dev-compliant") && !az.contains(">srv-empty<"));
    let bad = collector.get("/?role=admin");
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("role &quot;admin&quot; is not one of"), "{}", bad.text());

    // One host's page: installations, identities, history, scan errors.
    let host = collector.get(&format!("/hosts/{script_id}"));
    assert_eq!(host.status, 200);
    let host = host.text();
    for section in ["id=\"installations\"", "id=\"identities\"", "id=\"history\"", "id=\"scan-errors\"", "2.68.0"] {
        assert!(host.contains(section), "host page lacks {section}");
    }
    assert!(host.contains("&lt;script&gt;") && !host.contains(SCRIPT_NAME));
    assert!(collector.get(&format!("/hosts/{runner_id}")).text().contains("alice"), "identity's local user");
    assert_eq!(collector.get("/hosts/no-such-host").status, 404);
    assert_eq!(collector.get("/no/such/page").status, 404);

    // The JSON API.
    let summary = collector.json("/api/v1/summary");
    assert_eq!(summary["summary"]["hosts"], 5);
    assert_eq!(summary["summary"]["by_status"]["compliant"], 1);
    assert_eq!(summary["summary"]["by_status"]["noncompliant"], 3);
    assert_eq!(summary["summary"]["by_status"]["not-applicable"], 1);
    assert_eq!(summary["compliance_percent"], 25.0);
    assert_eq!(summary["findings"]["human-identity-on-build-runner"].as_u64().map(|n| n > 0), Some(true));
    let today = summary["generated_at"].as_str().expect("generated_at")[..10].to_owned();
    assert_eq!(
        summary["trend"].as_array().and_then(|t| t.last()).map(|d| d["day"].clone()),
        Some(today.clone().into())
    );

    let all = collector.json("/api/v1/hosts");
    assert_eq!(all["total"], 5);
    let names: Vec<&str> =
        all["hosts"].as_array().expect("hosts").iter().filter_map(|h| h["hostname"].as_str()).collect();
    assert_eq!(names, [SCRIPT_NAME, "dev-compliant", "runner-user-login", "srv-empty", "srv-old-cli"]);
    let page2 = collector.json("/api/v1/hosts?limit=2&offset=2");
    let names: Vec<&str> =
        page2["hosts"].as_array().expect("hosts").iter().filter_map(|h| h["hostname"].as_str()).collect();
    assert_eq!((page2["total"].clone(), names), (5.into(), vec!["runner-user-login", "srv-empty"]));
    assert_eq!(collector.json("/api/v1/hosts?role=build-runner")["hosts"][0]["hostname"], "runner-user-login");
    assert_eq!(collector.json("/api/v1/hosts?label=team=ops")["total"], 0);
    assert_eq!(collector.json("/api/v1/hosts?label=team")["total"], 5);
    let bad = collector.get("/api/v1/hosts?limit=0");
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("limit \\\"0\\\" must be"), "{}", bad.text());
    let detail = collector.json(&format!("/api/v1/hosts/{script_id}"));
    assert_eq!(detail["hostname"], SCRIPT_NAME, "JSON keeps the name exactly as sent");
    assert_eq!(detail["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(collector.get("/api/v1/hosts/nope").status, 404);

    // The CLI report's CSV as a download.
    let csv = collector.get("/api/v1/report.csv?status=noncompliant");
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(csv.header("content-disposition").starts_with("attachment; filename=\"azver-fleet-"));
    assert!(csv.body.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 byte-order mark");
    let rows = parse_csv(std::str::from_utf8(&csv.body[3..]).expect("UTF-8"));
    assert_eq!(rows.len(), 4, "header and three noncompliant hosts: {rows:?}");
    assert_eq!(rows[0][0], "hostname");

    // Every path of the OpenAPI document answers.
    let openapi = collector.json("/api/v1/openapi.json");
    assert_eq!(openapi["openapi"], "3.0.3");
    let paths = openapi["paths"].as_object().expect("paths");
    assert!(paths.len() >= 8, "{paths:?}");
    for path in paths.keys() {
        let concrete = path.replace("{id}", &script_id);
        let reply = collector.get(&concrete);
        assert_eq!(reply.status, 200, "documented {path} ({concrete}) answered {}", reply.text());
    }

    // Probes, and the loopback-only Host check (DNS rebinding).
    assert_eq!(collector.get("/healthz").text(), "ok\n");
    assert_eq!(collector.get("/readyz").text(), "ready\n");
    let rebound = http_get(&collector.http, "/api/v1/hosts", &[("Host", "evil.example")]);
    assert_eq!(rebound.status, 421, "{}", rebound.text());

    // /metrics through Prometheus' own parser, then specific samples.
    let Some(python) = python() else { return };
    let reply = collector.get("/metrics");
    assert!(reply.header("content-type").starts_with("text/plain; version=0.0.4"), "{:?}", reply.headers);
    let exposition = collector.dir.path().join("metrics.txt");
    std::fs::write(&exposition, &reply.body).expect("write the exposition");
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = {}
for family in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()):
    families[family.name] = {"type": family.type,
        "samples": [[s.name, s.labels, s.value] for s in family.samples]}
print(json.dumps(families))
"#;
    let families: Value = serde_json::from_str(&run_python(&python, script, &[arg(&exposition)])).expect("JSON");
    let sample = |family: &str, name: &str, labels: Value| -> f64 {
        families[family]["samples"]
            .as_array()
            .unwrap_or_else(|| panic!("no family {family} in {families:#}"))
            .iter()
            .find(|s| s[0] == name && s[1] == labels)
            .and_then(|s| s[2].as_f64())
            .unwrap_or_else(|| panic!("no sample {name}{labels} in {:#}", families[family]))
    };
    use serde_json::json;
    for (family, kind) in [
        ("azver_hosts", "gauge"),
        ("azver_installations", "gauge"),
        ("azver_findings", "gauge"),
        ("azver_reports_received", "counter"),
        ("azver_reports_deduplicated", "counter"),
        ("azver_grpc_request_duration_seconds", "histogram"),
        ("azver_http_request_duration_seconds", "histogram"),
        ("azver_db_size_bytes", "gauge"),
    ] {
        assert_eq!(families[family]["type"], kind, "{family} in {families:#}");
    }
    assert_eq!(sample("azver_hosts", "azver_hosts", json!({"status": "noncompliant", "role": "developer"})), 1.0);
    assert_eq!(sample("azver_hosts", "azver_hosts", json!({"status": "not-applicable", "role": "server"})), 1.0);
    assert_eq!(sample("azver_hosts", "azver_hosts", json!({"status": "stale", "role": "unknown"})), 0.0);
    assert_eq!(
        sample("azver_installations", "azver_installations", json!({"product": "azure-cli", "version": "2.45.0"})),
        1.0
    );
    assert!(sample("azver_findings", "azver_findings", json!({"kind": "human-identity-on-build-runner"})) >= 1.0);
    assert_eq!(sample("azver_findings", "azver_findings", json!({"kind": "below-baseline"})), 3.0);
    assert_eq!(sample("azver_reports_received", "azver_reports_received_total", json!({})), 7.0);
    assert_eq!(sample("azver_reports_deduplicated", "azver_reports_deduplicated_total", json!({})), 1.0);
    assert_eq!(
        sample(
            "azver_grpc_request_duration_seconds",
            "azver_grpc_request_duration_seconds_count",
            json!({"method": "Report"})
        ),
        7.0
    );
    assert!(
        sample(
            "azver_http_request_duration_seconds",
            "azver_http_request_duration_seconds_count",
            json!({"route": "/", "method": "GET"})
        ) >= 4.0
    );
    assert!(sample("azver_db_size_bytes", "azver_db_size_bytes", json!({})) > 0.0);

    // The OpenMetrics form, for scrapers that ask for it, passes the stricter OpenMetrics parser.
    let open = http_get(&collector.http, "/metrics", &[("Accept", "application/openmetrics-text; version=1.0.0")]);
    assert!(open.header("content-type").starts_with("application/openmetrics-text"), "{:?}", open.headers);
    std::fs::write(&exposition, &open.body).expect("write the exposition");
    let strict = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
print(sum(1 for _ in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read())))
"#;
    let count: usize = run_python(&python, strict, &[arg(&exposition)]).trim().parse().expect("a count");
    assert!(count >= 9, "{count} families");

    // Past roll-ups (as earlier days of serve wrote them) show in the trend, today stays live.
    add_past_rollups(&python, &collector.db(), &today);
    let trend = collector.json("/api/v1/summary")["trend"].clone();
    let days: Vec<(Value, Value)> =
        trend.as_array().expect("trend").iter().map(|d| (d["day"].clone(), d["compliance_percent"].clone())).collect();
    assert_eq!(days.len(), 3, "{trend:#}");
    assert_eq!((days[0].1.clone(), days[1].1.clone(), days[2].1.clone()), (0.0.into(), 50.0.into(), 25.0.into()));
    assert_eq!(days[2].0, Value::from(today));
}

#[test]
fn http_on_a_non_loopback_address_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("azver.db");
    let run = azver_e2e::collector_cli(&["serve", "--listen", "127.0.0.1:0", "--http", "0.0.0.0:0", "--db", arg(&db)]);
    run.expect_code(2);
    assert!(run.stderr.contains("refusing to serve HTTP on 0.0.0.0:0"), "{}", run.stderr);
    assert!(run.stderr.contains("admin token"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "no `listening on` line: {}", run.stdout);
}

/// Debian's Chromium, or `None` (after saying why) outside CI.
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"].iter().map(PathBuf::from).find(|p| p.is_file());
    match found {
        Some(path) => Some(path),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("chromium is not installed; CI must render the dashboard (scripts/setup.sh installs it)")
        }
        None => {
            eprintln!("skipped: chromium is not installed (scripts/setup.sh installs Debian's chromium)");
            None
        }
    }
}

fn headless(chromium: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

#[test]
fn chromium_renders_the_dashboard_and_a_screenshot_is_saved() {
    let Some(chromium) = chromium() else { return };
    let collector = HttpCollector::start();
    populate(&collector);
    if let Some(python) = python() {
        let today = collector.json("/api/v1/summary")["generated_at"].as_str().expect("generated_at")[..10].to_owned();
        add_past_rollups(&python, &collector.db(), &today);
    }
    let profile = collector.dir.path().join("chromium-profile");

    let dom = headless(&chromium, &profile, &["--dump-dom", &collector.url("/")]);
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    // The browser parsed the hostile name as text: escaped again when serialised, and no
    // script element exists in the document.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{dom}");
    assert!(!dom.to_ascii_lowercase().contains("<script"), "a script element exists in the DOM");
    for expected in ["azver fleet dashboard", "dev-compliant", "runner-user-login", "Compliance over time", "<polyline"]
    {
        assert!(dom.contains(expected), "rendered DOM lacks {expected:?}");
    }
    assert!(dom.contains("id=\"compliance-percent\">25.0%<"), "compliance in the DOM");
    assert_eq!(dom.matches("<tr class=\"host\"").count(), 5, "one row per host");

    let screenshot = azver_e2e::repo_root().join("target/dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let window = "--window-size=1280,2000";
    let shot = format!("--screenshot={}", screenshot.display());
    let run = headless(&chromium, &profile, &[&shot, window, &collector.url("/")]);
    assert!(run.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&run.stderr));
    let png = std::fs::read(&screenshot).expect("the screenshot exists");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "{} bytes", png.len());
    eprintln!("dashboard screenshot: {}", screenshot.display());
}

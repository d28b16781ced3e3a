//! Hostile clients against a real collector (issue 15, items 7 to 11 and 13): connections that
//! never finish their handshake, caps per source and in total, the open file limit, an
//! enrollment flood naming a victim, control characters in names, garbage protobuf, a full disk,
//! health probes behind a load balancer. Each attack is followed by proof that real agents and
//! probes are still served. Attackers connect from other loopback addresses (127.0.0.2 and up)
//! so that per-source caps do not count the real agent (127.0.0.1) with them.
// Helpers here are test code too: a panic is how they report a broken set-up.
#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use azver_e2e::{Collector, SimHost, arg, eventually, parse_csv};
use azver_proto::v1::inventory_service_client::InventoryServiceClient;
use azver_proto::v1::{EnrollRequest, HostFacts, Installation, InventoryReport, ReportRequest};

const CASE: &str = "linux-microsoft-deb";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A TCP connection to `target` from the loopback address `source` (bound before connecting).
fn connect_from(source: &str, target: &str) -> TcpStream {
    runtime().block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let stream = socket.connect(target.parse().unwrap()).await.unwrap();
        let stream = stream.into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
    })
}

/// How long until the collector closes `stream`, writing the bytes of `trickle` one at a time
/// (one every 200 ms, repeated) meanwhile; `None` if it is still open after `limit`.
fn closed_after(stream: &mut TcpStream, trickle: &[u8], limit: Duration) -> Option<Duration> {
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let started = Instant::now();
    let mut next = trickle.iter().cycle();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        if !trickle.is_empty() && stream.write_all(&[*next.next().unwrap()]).is_err() {
            return Some(started.elapsed());
        }
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            // The server may talk first (HTTP/2 SETTINGS); that is not closing.
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

/// A plain HTTP/1.1 GET from 127.0.0.1 with `host` as the `Host` header; status and body.
fn http_get(address: &str, path: &str, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    let status = reply.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn healthz(collector: &Collector) -> u16 {
    http_get(collector.http_address(), "/healthz", "127.0.0.1").0
}

/// A real agent report is accepted (the fixture host is compliant: exit 0).
fn agent_reports(collector: &Collector, dir: &Path, name: &str) {
    SimHost::new(dir, CASE, name).report(&collector.url()).expect_code(0);
}

#[test]
fn idle_half_preface_and_slowloris_connections_are_closed_on_both_ports() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0", "--handshake-timeout", "1s"]);
    let grpc = collector.address().to_owned();
    let http = collector.http_address().to_owned();
    let preface: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let slow_headers: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    // (what, address, bytes sent at once, bytes sent after a pause)
    #[allow(clippy::type_complexity)]
    let attacks: [(&str, &str, &[u8], Option<&[u8]>); 6] = [
        ("idle gRPC connection", &grpc, b"", None),
        ("half HTTP/2 preface", &grpc, b"", Some(&preface[..16])),
        ("slowloris preface on gRPC", &grpc, preface, None),
        ("idle HTTP connection", &http, b"", None),
        ("half HTTP/2 preface on HTTP", &http, b"", Some(&preface[..16])),
        ("slowloris HTTP headers", &http, slow_headers, None),
    ];
    for (what, target, trickle, first) in attacks {
        let mut stream = connect_from("127.0.0.2", target);
        if let Some(first) = first {
            stream.write_all(first).unwrap();
        }
        let closed = closed_after(&mut stream, trickle, Duration::from_secs(8));
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after 8 s"));
        // Closed by the deadline, not refused on sight.
        assert!(closed >= Duration::from_millis(800), "{what}: closed after {closed:?}, before the 1 s deadline");
    }
    let dir = tempfile::tempdir().unwrap();
    agent_reports(&collector, dir.path(), "after-the-attacks");
    assert_eq!(healthz(&collector), 200);
}

/// Sends the HTTP/2 client preface on `stream` and waits for the server's first bytes (its
/// SETTINGS): proof that the collector accepted the connection and counts it. A completed
/// `connect` only means the kernel queued it; the two ports accept concurrently, so without
/// this a later connection to the other port can be accepted first.
fn accepted(mut stream: TcpStream) -> TcpStream {
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").expect("send the HTTP/2 preface");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut first = [0u8; 1];
    assert_eq!(stream.read(&mut first).expect("the collector answers the preface"), 1, "closed instead of served");
    stream
}

#[test]
fn connection_caps_per_source_and_in_total_spare_other_clients() {
    let collector = Collector::start_with(&[
        "--http",
        "127.0.0.1:0",
        "--max-connections-per-source",
        "4",
        "--max-connections",
        "8",
        // The held connections must outlive a slow agent report on a loaded machine.
        "--handshake-timeout",
        "60s",
    ]);
    let grpc = collector.address().to_owned();
    let http = collector.http_address().to_owned();
    // One source takes its 4 places, over both ports together.
    let mut held: Vec<TcpStream> =
        (0..4).map(|i| accepted(connect_from("127.0.0.2", if i % 2 == 0 { &grpc } else { &http }))).collect();
    let mut fifth = connect_from("127.0.0.2", &grpc);
    let refused = closed_after(&mut fifth, b"", Duration::from_secs(5)).expect("a fifth connection from one source");
    assert!(refused < Duration::from_secs(2), "refused at once, not after a deadline: {refused:?}");
    for stream in &mut held {
        assert_eq!(closed_after(stream, b"", Duration::from_millis(300)), None, "the first four stay open");
    }
    // Other sources are served meanwhile.
    let dir = tempfile::tempdir().unwrap();
    agent_reports(&collector, dir.path(), "neighbour");
    assert_eq!(healthz(&collector), 200);

    // The total cap: 4 more from another source fill it; then even a new source is refused.
    held.extend((0..4).map(|_| accepted(connect_from("127.0.0.3", &grpc))));
    let mut over = connect_from("127.0.0.4", &http);
    assert!(closed_after(&mut over, b"", Duration::from_secs(5)).is_some(), "the ninth connection in total");
    // Freed places are reused at once.
    held.truncate(4);
    eventually(Duration::from_secs(10), "a place to be freed", || (healthz(&collector) == 200).then_some(()));
    assert!(collector.stderr().contains("connection refused: too many open connections"), "{}", collector.stderr());
}

/// CPU seconds (user + system) the process `pid` has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn at_the_open_file_limit_accept_backs_off_and_the_collector_recovers() {
    // A cap above the descriptor limit, so `accept` itself fails (EMFILE) as on a misconfigured
    // host; the handshake deadline then frees the descriptors the attackers hold.
    let collector =
        Collector::start_with(&["--http", "127.0.0.1:0", "--max-connections", "10000", "--handshake-timeout", "3s"]);
    let pid = collector.pid();
    let limited = Command::new("prlimit").args(["--pid", &pid.to_string(), "--nofile=48:48"]).status().unwrap();
    assert!(limited.success(), "prlimit failed");
    let grpc = collector.address().to_owned();
    let attackers: Vec<TcpStream> =
        (0..100).map(|i| connect_from(&format!("127.0.0.{}", 10 + i / 10), &grpc)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let (cpu_before, wall) = (cpu_seconds(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(pid) - cpu_before;
    let share = used / wall.elapsed().as_secs_f64();
    assert!(share < 0.3, "the collector used {:.0}% of a core at the descriptor limit", share * 100.0);
    let log = collector.stderr();
    assert!(log.contains("accepting a connection failed"), "{log}");
    assert!(log.matches("accepting a connection failed").count() <= 3, "the error is rate-limited:\n{log}");

    // While the attackers still hold their sockets, a real agent gets through and probes answer.
    let dir = tempfile::tempdir().unwrap();
    let host = SimHost::new(dir.path(), CASE, "at-the-limit");
    eventually(Duration::from_secs(60), "an agent report at the descriptor limit", || {
        (host.report(&collector.url()).code == 0).then_some(())
    });
    eventually(Duration::from_secs(30), "/healthz at the descriptor limit", || {
        (healthz(&collector) == 200).then_some(())
    });
    drop(attackers);
}

fn create_secret(collector: &Collector) -> String {
    let run = collector.cli(&["secret", "create"]);
    run.expect_code(0);
    run.stdout.lines().last().unwrap().trim().to_owned()
}

/// Enrolls `host_id` with `secret`; the status code (`Ok` when enrolled).
fn enroll(rt: &tokio::runtime::Runtime, address: &str, host_id: &str, hostname: &str, secret: &str) -> tonic::Code {
    let request = EnrollRequest {
        host: Some(HostFacts { host_id: host_id.to_owned(), hostname: hostname.to_owned(), ..HostFacts::default() }),
        enroll_secret: secret.to_owned(),
    };
    rt.block_on(async {
        let mut client = InventoryServiceClient::connect(format!("http://{address}")).await.unwrap();
        client.enroll(request).await.map_or_else(|status| status.code(), |_| tonic::Code::Ok)
    })
}

#[test]
fn a_wrong_secret_enroll_flood_naming_a_victim_does_not_block_the_victims_reports() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, "[limits]\nrate_limit_burst = 3\nrate_limit_per_second = 1\n").unwrap();
    let collector = Collector::start_with(&["--config", arg(&config)]);
    let secret = create_secret(&collector);
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, &secret).unwrap();
    let victim = SimHost::new(dir.path(), CASE, "victim").with(&["--enroll-secret-file", arg(&secret_file)]);
    victim.report(&collector.url()).expect_code(0);
    let victim_id = victim.host_id();

    let rt = runtime();
    let address = collector.address().to_owned();
    let codes: Vec<tonic::Code> =
        (0..25).map(|_| enroll(&rt, &address, &victim_id, "victim", "azes_00000000_wrong")).collect();
    assert!(codes[..10].iter().all(|c| *c == tonic::Code::Unauthenticated), "{codes:?}");
    // Then the source address, not the victim, is out of attempts.
    assert!(codes[10..].iter().all(|c| *c == tonic::Code::ResourceExhausted), "{codes:?}");
    // Even the right secret waits while this source is blocked...
    assert_eq!(enroll(&rt, &address, "newcomer", "newcomer", &secret), tonic::Code::ResourceExhausted);

    // ...but the victim's reports, with its node key, are accepted throughout.
    let keyed = SimHost { extra: Vec::new(), ..victim.clone() };
    for _ in 0..2 {
        keyed.report(&collector.url()).expect_code(0);
    }
    assert!(collector.stderr().contains("too many failed enrollments"), "{}", collector.stderr());
}

fn report_with(host_id: &str, hostname: &str, installations: Vec<Installation>) -> ReportRequest {
    ReportRequest {
        node_key: String::new(),
        report: Some(InventoryReport {
            host: Some(HostFacts {
                host_id: host_id.to_owned(),
                hostname: hostname.to_owned(),
                ..HostFacts::default()
            }),
            report_id: format!("{host_id}-1"),
            sequence: 1,
            installations,
            ..InventoryReport::default()
        }),
    }
}

fn send(address: &str, request: ReportRequest) -> Result<(), tonic::Status> {
    runtime().block_on(async {
        let mut client = InventoryServiceClient::connect(format!("http://{address}")).await.unwrap();
        client.report(request).await.map(|_| ())
    })
}

#[test]
fn control_bidi_and_zero_width_names_are_refused_and_other_agent_text_is_escaped_in_every_output() {
    let collector = Collector::start();
    let address = collector.address().to_owned();
    for (host_id, hostname, field) in [
        ("esc-host", "evil\u{1b}[2J", "report.host.hostname"),
        ("crlf-host", "a\r\nINFO forged", "report.host.hostname"),
        ("bidi\u{202E}exe.txt", "bidi", "report.host.host_id"),
        ("zero-width", "ad\u{200B}min", "report.host.hostname"),
    ] {
        let status = send(&address, report_with(host_id, hostname, Vec::new())).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{hostname:?}: {status:?}");
        assert!(status.message().starts_with(&format!("{field} contains U+")), "{}", status.message());
    }
    // Escape sequences in the other strings are stored as sent and escaped where shown.
    let install = Installation {
        product: "azure-cli".into(),
        version: "2.50.0\u{1b}]0;owned\u{7}".into(),
        path: "/opt/az\r\nfake line".into(),
        ..Installation::default()
    };
    send(
        &address,
        report_with("hostile-1", "[click me](http://evil.example) ![x](http://evil.example/t.png)", vec![install]),
    )
    .unwrap();
    send(&address, report_with("hostile-2", "\u{FF1D}HYPERLINK(\"http://evil\")", Vec::new())).unwrap();
    send(&address, report_with("hostile-3", " =1+1", Vec::new())).unwrap();

    let outputs = [
        ("hosts", collector.cli(&["hosts"]).expect_code(0).stdout.clone()),
        ("host", collector.cli(&["host", "hostile-1"]).expect_code(0).stdout.clone()),
        ("report table", collector.cli(&["report"]).expect_code(0).stdout.clone()),
        ("report markdown", collector.cli(&["report", "--format", "markdown"]).expect_code(0).stdout.clone()),
    ];
    for (what, text) in &outputs {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\r'),
            "{what}: raw control\n{text}"
        );
        assert!(!text.contains("\nfake line"), "{what}: a forged line\n{text}");
    }
    let host = &outputs[1].1;
    assert!(host.contains("2.50.0\\u{1b}]0;owned\\u{7}") && host.contains("/opt/az\\r\\nfake line"), "{host}");
    let markdown = &outputs[3].1;
    assert!(
        markdown.contains("\\[click me\\](http://evil.example) \\!\\[x\\](http://evil.example/t.png)"),
        "{markdown}"
    );
    assert!(!markdown.contains("[click me](") && !markdown.contains("![x]("), "{markdown}");

    let csv = collector.cli(&["report", "--format", "csv"]).expect_code(0).stdout.clone();
    let rows = parse_csv(csv.trim_start_matches('\u{feff}'));
    let names: Vec<&str> = rows.iter().skip(1).map(|r| r[0].as_str()).collect();
    assert!(names.contains(&"'\u{FF1D}HYPERLINK(\"http://evil\")"), "{names:?}");
    assert!(names.contains(&"' =1+1"), "{names:?}");
}

#[test]
fn logged_agent_strings_are_escaped_and_capped() {
    let collector = Collector::start();
    let secret = create_secret(&collector);
    // Enroll logs the host name; nothing in Enroll needs it valid, so the log must cope.
    let name = format!("x\u{1b}[2J\nFORGED ERROR line {}", "y".repeat(900_000));
    assert_eq!(enroll(&runtime(), collector.address(), "log-host", &name, &secret), tonic::Code::Ok);
    let log = collector.stderr();
    assert!(log.contains("host enrolled"), "{log}");
    // The name shows escaped; the raw sequence (clear screen) and a forged line do not appear.
    assert!(log.contains("x\\u{1b}[2J\\nFORGED ERROR line yyy"), "{log}");
    assert!(!log.contains("\u{1b}[2J") && !log.lines().any(|l| l.starts_with("FORGED")), "{log}");
    assert!(log.len() < 20_000, "the log holds {} bytes", log.len());
    assert!(log.contains(&format!("({} bytes)", name.len())), "{log}");
}

/// Sends `body` as the message of a raw HTTP/2 gRPC request to `method`; the grpc-status.
async fn raw_grpc(address: &str, method: &str, frame: Vec<u8>) -> String {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let request = ::http::Request::builder()
        .method("POST")
        .uri(format!("http://{address}/azver.v1.InventoryService/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let mut client = client.ready().await.unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    body.send_data(frame.into(), true).unwrap();
    let response = response.await.unwrap();
    if let Some(status) = response.headers().get("grpc-status") {
        return status.to_str().unwrap().to_owned();
    }
    let mut body = response.into_body();
    while body.data().await.is_some() {}
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    trailers.get("grpc-status").map_or("none".into(), |s| s.to_str().unwrap().to_owned())
}

fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8];
    frame.extend((message.len() as u32).to_be_bytes());
    frame.extend(message);
    frame
}

#[test]
fn garbage_protobuf_is_invalid_argument_and_counted() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0"]);
    let rt = runtime();
    let garbage = [0xffu8, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80];
    // Field 1 (node_key, a string) holding bytes that are not UTF-8.
    let bad_utf8 = [0x0au8, 0x02, 0xc3, 0x28];
    assert_eq!(rt.block_on(raw_grpc(collector.address(), "Report", grpc_frame(&garbage))), "3");
    assert_eq!(rt.block_on(raw_grpc(collector.address(), "Report", grpc_frame(&bad_utf8))), "3");
    assert_eq!(rt.block_on(raw_grpc(collector.address(), "Enroll", grpc_frame(&garbage))), "3");
    // A frame cut short (promises 100 bytes, sends 3).
    let mut short = grpc_frame(&[0x0a, 0x00, 0x0a]);
    short[4] = 100;
    assert_eq!(rt.block_on(raw_grpc(collector.address(), "Report", short)), "3");
    let (status, metrics) = http_get(collector.http_address(), "/metrics", "127.0.0.1");
    assert_eq!(status, 200);
    assert!(metrics.contains("azver_grpc_malformed_requests_total 4"), "{metrics}");
    assert!(metrics.contains("azver_reports_rejected_total{code=\"invalid_argument\"} 3"), "{metrics}");
    let dir = tempfile::tempdir().unwrap();
    agent_reports(&collector, dir.path(), "after-garbage");
}

/// A tmpfs of `size` mounted on a fresh folder; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", arg(dir.path())])
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs needs root (CAP_SYS_ADMIN)");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with `filler`; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0x5au8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let one = [0u8; 1];
        while file.write_all(&one).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", arg(self.dir.path())]).status();
    }
}

fn host_with_installs(host_id: &str, sequence: u64, count: usize) -> ReportRequest {
    let installs = (0..count)
        .map(|i| Installation {
            product: "azure-cli".into(),
            version: format!("2.{i}.0"),
            path: format!("/opt/{host_id}/{sequence}/{i}/{}", "p".repeat(200)),
            ..Installation::default()
        })
        .collect();
    let mut request = report_with(host_id, host_id, installs);
    if let Some(report) = &mut request.report {
        report.sequence = sequence;
        report.report_id = format!("{host_id}-{sequence}");
    }
    request
}

#[test]
fn a_full_disk_makes_readyz_fail_until_writes_work_again_and_the_log_stays_small() {
    let disk = SmallDisk::mount("8m");
    let db = disk.path().join("fleet.db");
    let collector = Collector::start_with_db("127.0.0.1:0", Some(arg(&db)), &["--http", "127.0.0.1:0"]);
    let http = collector.http_address().to_owned();
    send(collector.address(), host_with_installs("before", 1, 10)).unwrap();
    assert_eq!(http_get(&http, "/readyz", "127.0.0.1").0, 200);

    let filler = disk.fill();
    let mut failures = 0;
    for sequence in 1..=300u64 {
        match send(collector.address(), host_with_installs(&format!("full-{sequence}"), 1, 50)) {
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
                failures += 1;
            }
            Ok(()) => assert_eq!(failures, 0, "a write succeeded on a full disk after failing"),
        }
    }
    assert!(failures > 200, "only {failures} of 300 writes failed on a full disk");
    let (status, body) = http_get(&http, "/readyz", "127.0.0.1");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the last write to the database failed"), "{body}");
    assert_eq!(http_get(&http, "/healthz", "127.0.0.1").0, 200, "alive, only not ready");
    let log = collector.stderr();
    let lines = log.matches("storing failed").count();
    assert!((1..=3).contains(&lines), "{lines} error lines for {failures} failures:\n{log}");

    std::fs::remove_file(filler).unwrap();
    eventually(Duration::from_secs(30), "a write after the disk was freed", || {
        send(collector.address(), host_with_installs("after", 1, 10)).ok()
    });
    assert_eq!(http_get(&http, "/readyz", "127.0.0.1").0, 200);
    assert!(collector.stderr().contains("storing works again after failures"), "{}", collector.stderr());
}

#[test]
fn health_probes_answer_any_host_header_the_dashboard_does_not() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0"]);
    let http = collector.http_address().to_owned();
    assert_eq!(http_get(&http, "/healthz", "lb-probe.corp.example"), (200, "ok\n".into()));
    assert_eq!(http_get(&http, "/readyz", "10.1.2.3:8080"), (200, "ready\n".into()));
    // DNS rebinding protection stays for everything else.
    assert_eq!(http_get(&http, "/", "lb-probe.corp.example").0, 421);
    assert_eq!(http_get(&http, "/api/v1/summary", "evil.example").0, 421);
}

/// A "collector" that answers every gRPC call with status INTERNAL and a
/// `grpc-status-details-bin` that is not base64, in the response headers (trailers-only) or in
/// the trailers after the headers; serves until the runtime is dropped.
fn undecodable_details_server(in_trailers: bool) -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(tcp).await else { return };
                while let Some(Ok((_request, mut respond))) = connection.accept().await {
                    let status = |builder: http::response::Builder| {
                        builder
                            .header("grpc-status", "13")
                            .header("grpc-message", "hostile details")
                            .header("grpc-status-details-bin", "%%% not base64 %%%")
                    };
                    let head = http::Response::builder().status(200).header("content-type", "application/grpc");
                    if in_trailers {
                        let Ok(mut stream) = respond.send_response(head.body(()).unwrap(), false) else { return };
                        let trailers = status(http::Response::builder()).body(()).unwrap().headers().clone();
                        let _ = stream.send_trailers(trailers);
                    } else {
                        let _ = respond.send_response(status(head).body(()).unwrap(), true);
                    }
                }
            });
        }
    });
    (address, runtime)
}

#[test]
fn a_status_with_undecodable_details_is_an_error_not_an_abort() {
    // tonic decodes grpc-status-details-bin with `expect`: unguarded, one answer from a hostile
    // collector (or from anything on the path to a plain-text one) aborts the agent.
    let dir = tempfile::tempdir().unwrap();
    for in_trailers in [false, true] {
        let (address, _server) = undecodable_details_server(in_trailers);
        let run = SimHost::new(dir.path(), CASE, "details").report(&format!("http://{address}"));
        assert!(run.code == 1 || run.code == 2, "exited {} (134 is an abort):\n{}", run.code, run.stderr);
        assert!(run.stderr.contains("hostile details"), "the collector's message is kept: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

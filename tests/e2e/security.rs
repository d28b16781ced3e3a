//! Security end to end: TLS and mutual TLS with certificates made here by rcgen, enrollment
//! secrets and node keys through the real CLI and agent, the default posture of `serve`, and
//! every request limit hit by a real client (the collector keeps serving after each).
// Helpers here are test code too: a panic is how they report a broken set-up.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use azver_e2e::{Collector, SimHost, agent, arg, bin, collector_cli, run_with_env};
use azver_proto::v1::inventory_service_client::InventoryServiceClient;
use azver_proto::v1::{HostFacts, InventoryReport, ReportRequest};
use prost::Message as _;
use serde_json::Value;

const CASE: &str = "linux-microsoft-deb";

/// A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, as PEM files.
pub(crate) struct Pki {
    _dir: tempfile::TempDir,
    pub(crate) ca: PathBuf,
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    /// A client certificate from another CA, which the collector must refuse.
    stranger_cert: PathBuf,
    stranger_key: PathBuf,
}

fn issuer(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().expect("CA key")).expect("self-sign the CA")
}

fn leaf(
    issuer: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    names: &[&str],
    usage: rcgen::ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).expect("leaf params");
    params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
    params.extended_key_usages = vec![usage];
    let key = rcgen::KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("sign the leaf");
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write PEM");
            path
        };
        let ca = issuer("azver test CA");
        let (server_cert, server_key) =
            leaf(&ca, &["127.0.0.1", "localhost"], rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) = leaf(&ca, &["agent-1"], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        let other = issuer("someone else's CA");
        let (stranger_cert, stranger_key) = leaf(&other, &["intruder"], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        Self {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            stranger_cert: write("stranger.pem", &stranger_cert),
            stranger_key: write("stranger.key", &stranger_key),
            _dir: dir,
        }
    }
}

/// The secret `secret create` printed alone on its last stdout line.
fn create_secret(collector: &Collector, extra: &[&str]) -> String {
    let mut args = vec!["secret", "create"];
    args.extend(extra);
    let run = collector.cli(&args);
    run.expect_code(0);
    let secret = run.stdout.lines().last().expect("secret create prints the secret").trim().to_owned();
    assert!(secret.starts_with("azes_"), "last line is not a secret: {:?}", run.stdout);
    secret
}

fn write_secret(dir: &Path, secret: &str) -> PathBuf {
    let path = dir.join("enroll-secret.txt");
    // Surrounding whitespace, as an editor or `echo` leaves it, is ignored.
    std::fs::write(&path, format!("  {secret}\n\n")).expect("write the secret file");
    path
}

fn host_count(collector: &Collector) -> usize {
    collector.report_json(&[])["hosts"].as_array().expect("hosts array").len()
}

#[test]
fn tls_and_mutual_tls_verify_both_sides_and_never_fall_back_to_plain_text() {
    let pki = Pki::new();
    let collector = Collector::start_with(&[
        "--tls-cert",
        arg(&pki.server_cert),
        "--tls-key",
        arg(&pki.server_key),
        "--client-ca",
        arg(&pki.ca),
    ]);
    let url = format!("https://{}", collector.address());
    let dir = tempfile::tempdir().unwrap();
    let mtls =
        ["--ca-cert", arg(&pki.ca), "--client-cert", arg(&pki.client_cert), "--client-key", arg(&pki.client_key)];

    let host = SimHost::new(dir.path(), CASE, "tls-host").with(&mtls);
    let run = host.report(&url);
    run.expect_code(0);
    assert_eq!(run.json()["status"], "compliant", "{}", run.stdout);
    // `check` fetches the fleet's baseline over the same TLS.
    let check = agent(
        &[
            &["check", "--collector", &url, "--format", "json", "--root"][..],
            &[arg(&azver_e2e::fixture_root(CASE))],
            &mtls[..],
        ]
        .concat(),
    );
    check.expect_code(0);

    // No client certificate: the handshake fails and nothing is stored.
    let anonymous = SimHost::new(dir.path(), CASE, "no-client-cert").with(&["--ca-cert", arg(&pki.ca)]);
    let run = anonymous.report(&url);
    run.expect_code(2);
    // A certificate from another CA: refused the same way.
    let stranger = SimHost::new(dir.path(), CASE, "stranger").with(&[
        "--ca-cert",
        arg(&pki.ca),
        "--client-cert",
        arg(&pki.stranger_cert),
        "--client-key",
        arg(&pki.stranger_key),
    ]);
    stranger.report(&url).expect_code(2);
    // The system roots do not know the test CA: the agent refuses the collector.
    let unverified = SimHost::new(dir.path(), CASE, "system-roots").with(&[
        "--client-cert",
        arg(&pki.client_cert),
        "--client-key",
        arg(&pki.client_key),
    ]);
    let run = unverified.report(&url);
    run.expect_code(2);
    assert!(run.stderr.to_lowercase().contains("certificate"), "{}", run.stderr);
    // http:// to a TLS listener: a clear failure that points at https://.
    let plain = SimHost::new(dir.path(), CASE, "plain").report(&collector.url());
    plain.expect_code(2);
    assert!(plain.stderr.contains("serves TLS: use https://"), "{}", plain.stderr);
    // TLS settings with an http:// URL are an error, not silently unused.
    let mixed = SimHost::new(dir.path(), CASE, "mixed").with(&["--ca-cert", arg(&pki.ca)]).report(&collector.url());
    mixed.expect_code(2);
    assert!(mixed.stderr.contains("need an https:// collector URL"), "{}", mixed.stderr);

    let hosts = collector.report_json(&[]);
    let names: Vec<&str> = hosts["hosts"].as_array().unwrap().iter().map(|h| h["hostname"].as_str().unwrap()).collect();
    assert_eq!(names, ["tls-host"], "only the verified agent was stored");
}

#[test]
fn tls_without_client_ca_serves_any_verified_agent() {
    let pki = Pki::new();
    let collector = Collector::start_with(&["--tls-cert", arg(&pki.server_cert), "--tls-key", arg(&pki.server_key)]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{}", collector.address().rsplit(':').next().unwrap());
    SimHost::new(dir.path(), CASE, "by-name").with(&["--ca-cert", arg(&pki.ca)]).report(&url).expect_code(0);
    // A wrong key file is named in the error before anything is sent.
    let run = SimHost::new(dir.path(), CASE, "bad-key")
        .with(&["--ca-cert", arg(&pki.ca), "--client-cert", arg(&pki.client_cert), "--client-key", "/nonexistent.key"])
        .report(&url);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot read the client key /nonexistent.key"), "{}", run.stderr);
    assert_eq!(host_count(&collector), 1);
    // https:// to a plain-text listener fails: the agent never falls back to plain text.
    let plain = Collector::start();
    let url = format!("https://{}", plain.address());
    SimHost::new(dir.path(), CASE, "no-fallback").with(&["--ca-cert", arg(&pki.ca)]).report(&url).expect_code(2);
    assert_eq!(host_count(&plain), 0);
}

#[test]
fn enrollment_gives_each_host_a_node_key_that_only_writes_its_own_host() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    // Before any secret, loopback accepts unauthenticated reports, and says so in its log.
    SimHost::new(dir.path(), CASE, "early").report(&collector.url()).expect_code(0);
    assert!(collector.stderr().contains("accepting unauthenticated reports"), "{}", collector.stderr());

    let secret = create_secret(&collector, &["--label", "fleet-2026"]);
    let secret_file = write_secret(dir.path(), &secret);

    // From now on a report without a node key is refused and nothing is stored.
    let anonymous = SimHost::new(dir.path(), CASE, "anonymous").report(&collector.url());
    anonymous.expect_code(2);
    assert!(anonymous.stderr.contains("Unauthenticated"), "{}", anonymous.stderr);
    let wrong = write_secret(&dir.path().join("state-anonymous"), "azes_00000000_not-the-secret");
    let run = SimHost::new(dir.path(), CASE, "wrong-secret")
        .with(&["--enroll-secret-file", arg(&wrong)])
        .report(&collector.url());
    run.expect_code(2);
    assert!(run.stderr.contains("Unauthenticated"), "{}", run.stderr);
    assert_eq!(host_count(&collector), 1);

    // Enrolling with the secret file stores a private node key; later reports need no secret.
    let host = SimHost::new(dir.path(), CASE, "enrolled").with(&["--enroll-secret-file", arg(&secret_file)]);
    host.report(&collector.url()).expect_code(0);
    let key_path = host.state_dir.join("node-key");
    let key = std::fs::read_to_string(&key_path).expect("node key kept").trim().to_owned();
    assert!(key.starts_with("aznk_"), "{key}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let no_secret = SimHost { extra: Vec::new(), ..host.clone() };
    no_secret.report(&collector.url()).expect_code(0);
    // The secret also comes from AZVER_ENROLL_SECRET.
    let env_host = SimHost::new(dir.path(), CASE, "from-env");
    let root = azver_e2e::fixture_root(CASE);
    let args = [
        "report",
        "--once",
        "--collector",
        &collector.url(),
        "--root",
        arg(&root),
        "--target-os",
        "linux",
        "--state-dir",
        arg(&env_host.state_dir),
        "--hostname",
        "from-env",
        "--format",
        "json",
    ];
    run_with_env(&bin("azver-agent"), &args, &[("AZVER_ENROLL_SECRET", &secret)]).expect_code(0);

    // A node key writes only its own host: another host id with it is refused, nothing stored.
    let reply = send_raw(collector.address(), &key, "someone-else", 1);
    assert_eq!(reply.map_err(|s| s.code()), Err(tonic::Code::PermissionDenied));
    let report = collector.report_json(&[]);
    assert_eq!(report["hosts"].as_array().unwrap().len(), 3);
    assert!(collector.stderr().lines().all(|l| !l.contains(&key) && !l.contains(&secret)), "a credential was logged");

    // A rejected node key (garbage) makes the agent enroll again by itself with its secret.
    std::fs::write(&key_path, "aznk_garbage\n").unwrap();
    host.report(&collector.url()).expect_code(0);
    let rekeyed = std::fs::read_to_string(&key_path).unwrap().trim().to_owned();
    assert!(rekeyed.starts_with("aznk_") && rekeyed != key && rekeyed != "aznk_garbage");

    // `host revoke`: the key stops working at once, and the host cannot enroll again.
    collector.cli(&["host", "revoke", &host.host_id()]).expect_code(0);
    let revoked = host.report(&collector.url());
    revoked.expect_code(2);
    assert!(revoked.stderr.contains("revoked"), "{}", revoked.stderr);
    // Other hosts are unaffected.
    no_secret_host(&dir, &collector, &secret_file).expect_code(0);

    // `secret revoke`: no new enrollments; enrolled hosts keep working.
    let list = collector.cli(&["secret", "list", "--format", "json"]);
    list.expect_code(0);
    let secrets: Value = list.json();
    let entry = &secrets.as_array().unwrap()[0];
    assert_eq!((entry["label"].as_str(), entry["enrollments"].as_u64()), (Some("fleet-2026"), Some(4)));
    assert!(!list.stdout.contains(&secret) && !list.stdout.contains(&azver_collector_hash(&secret)));
    collector.cli(&["secret", "revoke", entry["id"].as_str().unwrap()]).expect_code(0);
    let late = SimHost::new(dir.path(), CASE, "late")
        .with(&["--enroll-secret-file", arg(&secret_file)])
        .report(&collector.url());
    late.expect_code(2);
    assert!(late.stderr.contains("revoked"), "{}", late.stderr);
    SimHost { extra: Vec::new(), ..env_host }.report(&collector.url()).expect_code(0);
}

/// A fresh host enrolling with `secret_file`.
fn no_secret_host(dir: &tempfile::TempDir, collector: &Collector, secret_file: &Path) -> azver_e2e::Run {
    SimHost::new(dir.path(), CASE, "bystander")
        .with(&["--enroll-secret-file", arg(secret_file)])
        .report(&collector.url())
}

/// Only to assert the digest is not printed either: the hex SHA-256 of the secret.
fn azver_collector_hash(secret: &str) -> String {
    use std::fmt::Write as _;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes());
    digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[test]
fn secrets_expire_and_are_stored_hashed() {
    let collector = Collector::start();
    let secret = create_secret(&collector, &["--expires", "1s"]);
    std::thread::sleep(Duration::from_millis(1500));
    let dir = tempfile::tempdir().unwrap();
    let file = write_secret(dir.path(), &secret);
    let run =
        SimHost::new(dir.path(), CASE, "too-late").with(&["--enroll-secret-file", arg(&file)]).report(&collector.url());
    run.expect_code(2);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    // Neither the secret nor a node key is in the database file in clear text.
    let fresh = create_secret(&collector, &[]);
    let file = write_secret(dir.path(), &fresh);
    let host = SimHost::new(dir.path(), CASE, "in-time").with(&["--enroll-secret-file", arg(&file)]);
    host.report(&collector.url()).expect_code(0);
    let key = std::fs::read_to_string(host.state_dir.join("node-key")).unwrap().trim().to_owned();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(collector.dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("azver.db")) {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    for credential in [&secret, &fresh, &key] {
        assert!(!text.contains(credential.as_str()), "a credential is stored in clear text");
    }
    assert!(text.contains(&azver_collector_hash(&fresh)), "the digest is what is stored");
}

#[test]
fn serve_refuses_unsafe_addresses_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("azver.db");
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "0.0.0.0:0", "--db", arg(&db)];
        args.extend(extra);
        collector_cli(&args)
    };
    let plain = serve(&[]);
    plain.expect_code(2);
    assert!(
        plain.stderr.contains("refusing to serve plain text") && plain.stderr.contains("--tls-cert"),
        "{}",
        plain.stderr
    );
    let pki = Pki::new();
    let tls = ["--tls-cert", arg(&pki.server_cert), "--tls-key", arg(&pki.server_key)];
    let open = serve(&tls);
    open.expect_code(2);
    assert!(open.stderr.contains("refusing to accept unauthenticated reports"), "{}", open.stderr);
    // The HTTP listener off loopback needs an admin token first.
    let http = serve(&[&tls[..], &["--allow-unauthenticated", "--http", "0.0.0.0:0"]].concat());
    http.expect_code(2);
    assert!(http.stderr.contains("token create"), "{}", http.stderr);
    // `secret create` works on a fresh path and prints the secret alone on its last line.
    let created = collector_cli(&["secret", "create", "--db", arg(&dir.path().join("new.db")), "--label", "x"]);
    created.expect_code(0);
    assert!(created.stdout.trim_end().lines().last().unwrap().starts_with("azes_"), "{}", created.stdout);
}

/// One report for `host_id` with `node_key`, sent by a plain tonic client.
fn send_raw(address: &str, node_key: &str, host_id: &str, sequence: u64) -> Result<(), tonic::Status> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut client = InventoryServiceClient::connect(format!("http://{address}")).await.expect("connect");
        client
            .report(ReportRequest { node_key: node_key.to_owned(), report: Some(report(host_id, sequence)) })
            .await
            .map(|_| ())
    })
}

fn report(host_id: &str, sequence: u64) -> InventoryReport {
    InventoryReport {
        host: Some(HostFacts { host_id: host_id.to_owned(), hostname: host_id.to_owned(), ..HostFacts::default() }),
        report_id: format!("{host_id}-{sequence}"),
        sequence,
        ..InventoryReport::default()
    }
}

fn limits_config(dir: &Path, limits: &str) -> PathBuf {
    let path = dir.join("collector.toml");
    std::fs::write(&path, format!("[limits]\n{limits}")).unwrap();
    path
}

#[test]
fn the_per_host_rate_limit_sheds_a_flood_and_spares_other_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let config = limits_config(dir.path(), "rate_limit_burst = 5\nrate_limit_per_second = 1\n");
    let collector = Collector::start_with(&["--config", arg(&config)]);
    let mut codes = Vec::new();
    for sequence in 1..=8 {
        codes.push(send_raw(collector.address(), "", "flooder", sequence).err().map(|s| s.code()));
    }
    assert_eq!(&codes[..5], &[None; 5], "the burst passes");
    assert!(codes[5..].iter().all(|c| *c == Some(tonic::Code::ResourceExhausted)), "{codes:?}");
    assert_eq!(send_raw(collector.address(), "", "neighbour", 1).map_err(|s| s.code()), Ok(()));
    let report = collector.report_json(&[]);
    assert_eq!(report["hosts"].as_array().unwrap().len(), 2, "the collector keeps serving");
}

/// Sends a gRPC request over raw HTTP/2 whose body stops after the 5-byte frame header, and
/// returns the grpc-status the collector answers with. `extra` requests go on the same connection.
async fn stalled_then(address: &str, stalled: usize, finish: bool) -> Vec<String> {
    let tcp = tokio::net::TcpStream::connect(address).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let request = || {
        ::http::Request::builder()
            .method("POST")
            .uri(format!("http://{address}/azver.v1.InventoryService/Report"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap()
    };
    let mut pending = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..stalled {
        let mut client = client.clone().ready().await.expect("stream slot");
        let (response, mut body) = client.send_request(request(), false).expect("send headers");
        // A frame header promising 100 bytes that never come.
        body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 100]), false).expect("send part of the body");
        streams.push(body);
        pending.push(response);
    }
    let mut statuses = Vec::new();
    if finish {
        let message = ReportRequest { node_key: String::new(), report: Some(report("late-comer", 1)) }.encode_to_vec();
        let mut frame = vec![0u8];
        frame.extend((message.len() as u32).to_be_bytes());
        frame.extend(message);
        let mut client = client.clone().ready().await.expect("stream slot");
        let (response, mut body) = client.send_request(request(), false).expect("send headers");
        body.send_data(frame.into(), true).expect("send the body");
        statuses.push(grpc_status(response).await);
    }
    for response in pending {
        statuses.push(grpc_status(response).await);
    }
    drop(streams);
    statuses
}

async fn grpc_status(response: h2::client::ResponseFuture) -> String {
    let response = response.await.expect("response headers");
    if let Some(status) = response.headers().get("grpc-status") {
        return status.to_str().unwrap().to_owned();
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let _ = chunk;
    }
    let trailers = body.trailers().await.expect("trailers").unwrap_or_default();
    trailers.get("grpc-status").map(|s| s.to_str().unwrap().to_owned()).unwrap_or_else(|| "none".into())
}

#[test]
fn a_client_that_stops_sending_gets_deadline_exceeded_and_excess_requests_are_shed() {
    let dir = tempfile::tempdir().unwrap();
    let config = limits_config(dir.path(), "request_timeout = \"2s\"\nmax_concurrent_requests = 2\n");
    let collector = Collector::start_with(&["--config", arg(&config)]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // One stalled request: DEADLINE_EXCEEDED (4) when the deadline passes.
    assert_eq!(runtime.block_on(stalled_then(collector.address(), 1, false)), ["4"]);
    // Three requests at once on a connection allowed two: one of them (whichever the server
    // takes last) is shed at once with RESOURCE_EXHAUSTED (8); a stalled one that got a slot ends
    // with DEADLINE_EXCEEDED, the complete one, if it got a slot, is stored (0).
    let mut statuses = runtime.block_on(stalled_then(collector.address(), 2, true));
    statuses.sort();
    assert!(statuses == ["0", "4", "8"] || statuses == ["4", "4", "8"], "{statuses:?}");
    // The collector keeps serving.
    assert_eq!(send_raw(collector.address(), "", "after", 1).map_err(|s| s.code()), Ok(()));
}

/// A plain HTTP/1.1 GET to `127.0.0.1:PORT` of `address`; returns the status code.
fn http_status(address: &str, path: &str, authorization: Option<&str>) -> u16 {
    use std::io::{Read as _, Write as _};
    let port = address.rsplit(':').next().expect("an address with a port");
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().expect("a port"))).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("set a read timeout");
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: collector.corp.example\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status line: {reply:?}"))
}

#[test]
fn the_http_listener_off_loopback_needs_an_admin_token() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.db");
    let created = collector_cli(&["token", "create", "--db", arg(&db), "--label", "grafana"]);
    created.expect_code(0);
    let token = created.stdout.trim_end().lines().last().unwrap().to_owned();
    assert!(token.starts_with("azat_"), "{}", created.stdout);
    let collector =
        Collector::start_with_db("127.0.0.1:0", Some(arg(&db)), &["--http", "0.0.0.0:0", "--allow-plaintext"]);
    let http = collector.http_address().to_owned();
    let bearer = format!("Bearer {token}");
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("admin:{token}")));
    assert_eq!(http_status(&http, "/api/v1/summary", None), 401);
    assert_eq!(http_status(&http, "/metrics", Some("Bearer azat_00000000_wrong")), 401);
    assert_eq!(http_status(&http, "/api/v1/summary", Some(&bearer)), 200);
    assert_eq!(http_status(&http, "/", Some(&basic)), 200);
    // Load balancers probe without credentials.
    assert_eq!(http_status(&http, "/healthz", None), 200);
    // A revoked token stops working at once.
    let list: Value = collector.cli(&["token", "list", "--format", "json"]).json();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert!(!list.to_string().contains(&token));
    collector.cli(&["token", "revoke", &id]).expect_code(0);
    assert_eq!(http_status(&http, "/api/v1/summary", Some(&bearer)), 401);
}

/// The one stderr line of a failed `report --once` (exit 2), checked to hold each of `expected`.
#[track_caller]
fn single_error_line(run: &azver_e2e::Run, expected: &[&str]) {
    run.expect_code(2);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one stderr line expected:\n{}", run.stderr);
    for part in expected {
        assert!(run.stderr.contains(part), "stderr lacks {part:?}:\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("tonic::transport") && !run.stderr.contains("Some("), "{}", run.stderr);
}

#[test]
fn tls_errors_name_the_flag_that_fixes_them() {
    let pki = Pki::new();
    let tls = ["--tls-cert", arg(&pki.server_cert), "--tls-key", arg(&pki.server_key)];
    let collector = Collector::start_with(&tls);
    let mtls = Collector::start_with(&[&tls[..], &["--client-ca", arg(&pki.ca)]].concat());
    let dir = tempfile::tempdir().unwrap();
    let report = |url: &str, extra: &[&str]| SimHost::new(dir.path(), CASE, "tls-errors").with(extra).report(url);

    let unknown = report(&format!("https://{}", collector.address()), &[]);
    single_error_line(&unknown, &["not signed by a CA this agent trusts", "--ca-cert"]);
    let plain = report(&collector.url(), &[]);
    single_error_line(&plain, &["serves TLS: use https://"]);
    let no_client = report(&format!("https://{}", mtls.address()), &["--ca-cert", arg(&pki.ca)]);
    single_error_line(&no_client, &["requires a client certificate", "--client-cert"]);
}

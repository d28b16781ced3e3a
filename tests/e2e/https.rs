//! The dashboard over HTTPS (issue 19, item 10): `serve --tls-cert/--tls-key --http ADDR` serves
//! HTTPS with the gRPC pair (or with `--http-tls-cert/--http-tls-key`), checked with a rustls
//! client that trusts only the test CA; and the recipe of `docs/SECURITY.md`, run as written, lets
//! an admin in another network namespace reach the dashboard with a token.
// Helpers here are test code too: a panic is how they report a broken set-up.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use azver_e2e::{Collector, SimHost, arg, collector_cli};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::security::Pki;

/// How long each step of the namespace recipe test may take before it fails instead of hanging.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(90);

/// A client configuration that trusts only the CA in `ca_pem`.
fn trusting(ca_pem: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// GET `path` over HTTPS from `address` (verified as `name`) with a client trusting only `ca`;
/// `Ok((status, body))`, or `Err` with the TLS error.
fn https_get(address: &str, name: &str, ca: &Path, path: &str) -> Result<(u16, String), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(trusting(ca));
        let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
        let mut tls = connector.connect(server_name, tcp).await.map_err(|e| e.to_string())?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        let _ = tls.read_to_end(&mut reply).await;
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let status = reply.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        Ok((status, reply.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
    })
}

#[test]
fn with_tls_the_dashboard_serves_https_with_the_same_pair_to_a_client_trusting_only_the_ca() {
    let pki = Pki::new();
    let stranger = Pki::new();
    let collector = Collector::start_with(&[
        "--tls-cert",
        arg(&pki.server_cert),
        "--tls-key",
        arg(&pki.server_key),
        "--http",
        "127.0.0.1:0",
    ]);
    let http = collector.http_address().to_owned();
    let dir = tempfile::tempdir().unwrap();
    // The same pair on the gRPC port: an agent trusting the CA reports.
    SimHost::new(dir.path(), "linux-microsoft-deb", "tls-agent")
        .with(&["--ca-cert", arg(&pki.ca)])
        .report(&format!("https://{}", collector.address()))
        .expect_code(0);

    assert_eq!(https_get(&http, "127.0.0.1", &pki.ca, "/healthz"), Ok((200, "ok\n".into())));
    let (status, page) = https_get(&http, "localhost", &pki.ca, "/").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("tls-agent"), "the dashboard lists the host:\n{page}");
    // A client that trusts another CA refuses the certificate.
    let refused = https_get(&http, "127.0.0.1", &stranger.ca, "/healthz").unwrap_err();
    assert!(refused.starts_with("invalid peer certificate"), "{refused}");
    // Plain HTTP to the HTTPS port gets no page.
    let mut plain = std::net::TcpStream::connect(&http).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(15))).unwrap();
    std::io::Write::write_all(&mut plain, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut reply);
    assert!(!String::from_utf8_lossy(&reply).contains("200 OK"), "plain HTTP must not be served on the HTTPS port");
}

#[test]
fn a_separate_https_pair_is_served_on_the_http_port() {
    let grpc_pki = Pki::new();
    let http_pki = Pki::new();
    let collector = Collector::start_with(&[
        "--tls-cert",
        arg(&grpc_pki.server_cert),
        "--tls-key",
        arg(&grpc_pki.server_key),
        "--http",
        "127.0.0.1:0",
        "--http-tls-cert",
        arg(&http_pki.server_cert),
        "--http-tls-key",
        arg(&http_pki.server_key),
    ]);
    let http = collector.http_address().to_owned();
    assert_eq!(https_get(&http, "127.0.0.1", &http_pki.ca, "/readyz"), Ok((200, "ready\n".into())));
    assert!(https_get(&http, "127.0.0.1", &grpc_pki.ca, "/readyz").is_err(), "the gRPC pair is not used");
    // Only half of a pair stops the start with the reason.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let half = collector_cli(&[
        "serve",
        "--db",
        arg(&db),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--http-tls-cert",
        arg(&http_pki.server_cert),
    ]);
    assert_ne!(half.code, 0);
    assert!(half.stderr.contains("--http-tls-cert and --http-tls-key go together"), "{}", half.stderr);
}

/// The shell block that follows `marker` in docs/SECURITY.md.
fn doc_block(marker: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let doc = std::fs::read_to_string(root.join("docs/SECURITY.md")).unwrap();
    let after = doc.split_once(marker).unwrap_or_else(|| panic!("docs/SECURITY.md lost the marker {marker}")).1;
    let block = after.split_once("```sh\n").unwrap().1;
    block.split_once("\n```").unwrap().0.to_owned()
}

/// Two network namespaces joined by a veth pair: the collector's (`10.231.N.1`) and an admin's
/// workstation (`10.231.N.2`, where `azver.corp.example` resolves to the collector). Removed on
/// drop.
struct Network {
    server: String,
    client: String,
    hosts_dir: std::path::PathBuf,
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {} failed (network namespaces need root)", args.join(" "));
}

impl Network {
    fn new() -> Self {
        let id = std::process::id();
        let (server, client) = (format!("azvs{id}"), format!("azvc{id}"));
        let subnet = format!("10.231.{}", id % 250);
        ip(&["netns", "add", &server]);
        ip(&["netns", "add", &client]);
        let (a, b) = (format!("azva{id}"), format!("azvb{id}"));
        ip(&["link", "add", &a, "netns", &server, "type", "veth", "peer", "name", &b, "netns", &client]);
        for (ns, dev, address) in [(&server, &a, format!("{subnet}.1/30")), (&client, &b, format!("{subnet}.2/30"))] {
            ip(&["-n", ns, "addr", "add", &address, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        // `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts: the admin's DNS.
        let hosts_dir = Path::new("/etc/netns").join(&client);
        std::fs::create_dir_all(&hosts_dir).unwrap();
        std::fs::write(hosts_dir.join("hosts"), format!("127.0.0.1 localhost\n{subnet}.1 azver.corp.example\n"))
            .unwrap();
        Self { server, client, hosts_dir }
    }

    /// `bash -eo pipefail -c SCRIPT` in namespace `ns`, in `dir`, with the built binaries on PATH.
    fn bash(ns: &str, dir: &Path, script: &str) -> Command {
        let bin_dir = azver_e2e::bin("azver-collector").parent().unwrap().to_owned();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns, "bash", "-eo", "pipefail", "-c", script]).current_dir(dir).env("PATH", path);
        for name in azver_e2e::AZVER_ENV {
            command.env_remove(name);
        }
        command
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.server]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.client]).status();
        let _ = std::fs::remove_dir_all(&self.hosts_dir);
    }
}

/// Sends `signal` to the process group `pgid` with bash's builtin `kill`. Not kill(1): procps-ng
/// 4.0.2 (Debian 12) reads `kill -TERM -PGID` as a signal to every process (pid -1), which took
/// down the whole CI machine.
fn signal_group(signal: &str, pgid: u32) {
    let _ = Command::new("bash").args(["-c", "kill -s \"$1\" -- \"-$2\"", "kill", signal, &pgid.to_string()]).status();
}

#[test]
fn the_security_md_recipe_as_written_serves_the_dashboard_over_https_to_another_machine() {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().unwrap();
    let network = Network::new();
    let certificates = azver_e2e::output_within(
        &mut Network::bash(&network.server, dir.path(), &doc_block("<!-- recipe: certificates -->")),
        LIMIT,
        "the certificate recipe",
    );
    assert!(
        certificates.status.success(),
        "the certificate recipe failed:\n{}",
        String::from_utf8_lossy(&certificates.stderr)
    );

    // The collector runs in its own namespace, started exactly as the docs say.
    let mut serve = Network::bash(&network.server, dir.path(), &doc_block("<!-- recipe: serve -->"));
    let mut collector = serve.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).spawn().unwrap();
    let stop = |pid: u32| signal_group("TERM", pid);
    // Whatever fails below, the collector's process group does not outlive the test.
    struct StopOnDrop(u32);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            signal_group("KILL", self.0);
        }
    }
    let _stop_on_drop = StopOnDrop(collector.id());
    // The recipe's stdout, line by line, on a thread: a serve that never says `http listening
    // on` fails the test after LIMIT instead of hanging it.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let mut stdout = BufReader::new(collector.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut line = String::new();
        while matches!(stdout.read_line(&mut line), Ok(n) if n > 0) {
            if lines_tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });
    let mut lines = String::new();
    while !lines.contains("http listening on") {
        match lines_rx.recv_timeout(LIMIT) {
            Ok(line) => lines.push_str(&line),
            Err(e) => {
                stop(collector.id());
                let _ = collector.wait();
                let mut stderr = String::new();
                let _ = std::io::Read::read_to_string(&mut collector.stderr.take().unwrap(), &mut stderr);
                panic!("serve did not say `http listening on` ({e}):\n{lines}\n{stderr}");
            }
        }
    }

    // The admin's machine: the docs' curl command, then the same without the token.
    let fetch = azver_e2e::output_within(
        &mut Network::bash(&network.client, dir.path(), &doc_block("<!-- recipe: fetch -->")),
        LIMIT,
        "the fetch recipe",
    );
    let no_token = azver_e2e::output_within(
        &mut Network::bash(
            &network.client,
            dir.path(),
            "curl -sS --max-time 30 -o /dev/null -w '%{http_code}' --cacert ca.crt https://azver.corp.example:8443/api/v1/summary",
        ),
        LIMIT,
        "curl without the token",
    );
    stop(collector.id());
    let _ = collector.wait();
    let body = String::from_utf8_lossy(&fetch.stdout);
    assert!(fetch.status.success(), "curl failed:\n{}", String::from_utf8_lossy(&fetch.stderr));
    let summary: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(summary["summary"]["hosts"].is_number(), "{summary}");
    assert_eq!(String::from_utf8_lossy(&no_token.stdout), "401");
}

//! The agent reaches the collector through a corporate proxy (HTTP CONNECT), honours NO_PROXY,
//! and says so clearly when the proxy is down.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use azver_e2e::{Collector, arg, bin, fixture_root, free_port, run_with_env};

/// A minimal HTTP CONNECT proxy on 127.0.0.1 that counts the tunnels it opened.
struct ConnectProxy {
    port: u16,
    tunnels: Arc<AtomicUsize>,
}

impl ConnectProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tunnels = Arc::new(AtomicUsize::new(0));
        let counter = tunnels.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || tunnel(client, &counter));
            }
        });
        Self { port, tunnels }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::SeqCst)
    }
}

fn tunnel(client: TcpStream, counter: &AtomicUsize) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    // Skip the headers up to the blank line.
    let mut header = String::new();
    while reader.read_line(&mut header).unwrap_or(0) > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = (&client).write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
        return;
    };
    let Ok(upstream) = TcpStream::connect(target) else {
        let _ = (&client).write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    counter.fetch_add(1, Ordering::SeqCst);
    (&client).write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").unwrap();
    let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
    let mut client_write = client.try_clone().unwrap();
    let buffered = reader.buffer().to_vec();
    up_write.write_all(&buffered).unwrap();
    let mut client_read = reader.into_inner();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_read, &mut client_write);
        let _ = client_write.shutdown(std::net::Shutdown::Both);
    });
    let _ = std::io::copy(&mut client_read, &mut up_write);
    let _ = up_write.shutdown(std::net::Shutdown::Both);
}

#[test]
fn reports_go_through_a_connect_proxy_unless_no_proxy_says_otherwise() {
    let collector = Collector::start();
    let proxy = ConnectProxy::start();
    let dir = tempfile::tempdir().unwrap();
    let root = fixture_root("linux-microsoft-deb");
    let state = dir.path().join("state");
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
        arg(&state),
        "--format",
        "json",
    ];
    let proxied = run_with_env(&bin("azver-agent"), &args, &[("HTTP_PROXY", &proxy.url()), ("NO_PROXY", "")]);
    proxied.expect_code(0);
    assert_eq!(proxied.json()["status"], "compliant");
    assert_eq!(proxy.tunnels(), 1, "the report went through the proxy");

    let bypassed = run_with_env(&bin("azver-agent"), &args, &[("HTTP_PROXY", &proxy.url()), ("NO_PROXY", "127.0.0.1")]);
    bypassed.expect_code(0);
    assert_eq!(proxy.tunnels(), 1, "NO_PROXY kept the report off the proxy");

    let dead_proxy = format!("http://127.0.0.1:{}", free_port());
    let failed = run_with_env(&bin("azver-agent"), &args, &[("HTTP_PROXY", &dead_proxy), ("NO_PROXY", "")]);
    failed.expect_code(2);
    assert!(failed.stderr.contains(&format!("through proxy {dead_proxy}")), "{}", failed.stderr);
    // Nothing above touched the collector's accepted reports beyond the two that got through.
    let report = collector.report_json(&[]);
    assert_eq!(report["summary"]["hosts"], 1);
}

//! Issue 17 end to end: the host list of the JSON API is filtered, searched and paged by the
//! database, by cursor or by offset.
#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};

use azver_e2e::Collector;
use serde_json::Value;

use super::sequence::{bare, send};

/// `GET path` over HTTP/1.1 (loopback, `Connection: close`); returns the status and the JSON body.
fn get(address: &str, path: &str) -> (u16, Value) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let text = String::from_utf8(reply).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    (status, serde_json::from_str(body).unwrap())
}

fn names(page: &Value) -> Vec<String> {
    page["hosts"].as_array().unwrap().iter().map(|h| h["hostname"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_host_list_is_searched_and_paged_by_cursor_and_offset() {
    let collector = Collector::start_with(&["--http", "127.0.0.1:0"]);
    let http = collector.http_address().to_owned();
    for i in 0..7 {
        let name = if i == 3 { "db-primary".to_owned() } else { format!("web-{i}") };
        send(collector.address(), bare(&format!("id-{i}"), &name, &format!("r{i}"), 1)).unwrap();
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/hosts?limit=3".to_owned();
    loop {
        let (status, page) = get(&http, &path);
        assert_eq!((status, page["total"].as_u64(), page["limit"].as_u64()), (200, Some(7), Some(3)));
        seen.extend(names(&page));
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/hosts?limit=3&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["db-primary", "web-0", "web-1", "web-2", "web-4", "web-5", "web-6"]);
    let (_, second) = get(&http, "/api/v1/hosts?limit=3&offset=3");
    assert_eq!(names(&second), ["web-2", "web-4", "web-5"]);
    let (_, found) = get(&http, "/api/v1/hosts?q=PRIMARY");
    assert_eq!(
        (names(&found), found["total"].as_u64(), &found["next"]),
        (vec!["db-primary".to_owned()], Some(1), &Value::Null)
    );
    let (_, none) = get(&http, "/api/v1/hosts?q=%25&status=compliant");
    assert_eq!(none["total"], 0);
    let (status, error) = get(&http, "/api/v1/hosts?after=not-a-cursor");
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("not a cursor"), "{error}");
}

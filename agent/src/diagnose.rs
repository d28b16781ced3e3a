//! Why a connection to the collector failed, in one line that says what to do.
//!
//! tonic reports a failed connection as `transport error` with the useful part several `source()`
//! levels down. [`classify`] walks that chain and decides by the *types* it finds (an
//! `io::ErrorKind`, a `rustls::Error`, an `h2::Error`, a `hyper::Error`), never by their English text. When the
//! types only say "the other end spoke something else" (an HTTP/2 protocol error, a TLS record
//! that is not TLS, a connection closed mid-handshake), [`probe`] opens one more TCP connection,
//! sends the HTTP/2 preface and looks at the first bytes that come back: `HTTP/` is an HTTP/1
//! server (the collector's dashboard port), a TLS record header is a TLS listener, an HTTP/2
//! SETTINGS frame is plain-text gRPC. A TLS listener that ended an `https://` session is asked
//! once more by [`asks_for_client_certificate`], a TLS handshake that only records whether the
//! collector requested a client certificate (TLS 1.3 sends that refusal after the handshake, so
//! the agent may only see the connection close).

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Most causes followed down an error chain.
const MAX_DEPTH: usize = 32;

/// What the types in an error chain say went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Nothing listens on that port.
    Refused,
    /// No answer in time.
    TimedOut,
    /// The collector's certificate does not chain to a trusted CA.
    UnknownIssuer,
    /// Another certificate problem (wrong name, expired); the text is rustls's.
    BadCertificate(String),
    /// The collector asked for a client certificate the agent did not send.
    ClientCertificateRequired,
    /// The other end does not speak what the URL's scheme promised; [`probe`] tells what it is.
    ProtocolMismatch,
    /// The TLS session failed after the handshake (the collector sent an alert); the text is
    /// what rustls said.
    TlsAlert(String),
}

/// What [`probe`] found listening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// An HTTP/1 server: the collector's dashboard port (`serve --http`), or a web server.
    Http1,
    /// A TLS listener.
    Tls,
    /// Plain-text HTTP/2 (gRPC without TLS).
    PlainGrpc,
}

/// The causes of `error`, outermost first, with the errors inside `io::Error`s included
/// (`io::Error::source` skips the error it wraps).
fn causes<'a>(error: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    let mut found = Vec::new();
    let mut stack = vec![error];
    while let Some(current) = stack.pop() {
        if found.len() >= MAX_DEPTH {
            break;
        }
        found.push(current);
        if let Some(inner) = current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            stack.push(inner);
        } else if let Some(next) = current.source() {
            stack.push(next);
        }
    }
    found
}

/// Decides from the types in `error`'s chain; `None` when nothing in it is recognised.
pub fn classify(error: &(dyn Error + 'static)) -> Option<Cause> {
    let mut mismatch = false;
    for cause in causes(error) {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            use rustls::{AlertDescription as Alert, CertificateError};
            match tls {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    return Some(Cause::UnknownIssuer);
                }
                rustls::Error::InvalidCertificate(other) => return Some(Cause::BadCertificate(other.to_string())),
                rustls::Error::AlertReceived(Alert::CertificateRequired) => {
                    return Some(Cause::ClientCertificateRequired);
                }
                rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => mismatch = true,
                _ => {}
            }
        } else if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            match io.kind() {
                ErrorKind::ConnectionRefused => return Some(Cause::Refused),
                ErrorKind::TimedOut => return Some(Cause::TimedOut),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => mismatch = true,
                // tokio-rustls hands TLS failures over as `InvalidData` with the rustls error as
                // text only; the alert the collector sent is kept as the detail.
                ErrorKind::InvalidData if io.get_ref().is_some_and(|e| e.downcast_ref::<rustls::Error>().is_none()) => {
                    return Some(Cause::TlsAlert(azver_core::one_line(io)));
                }
                _ => {}
            }
        } else if let Some(h2) = cause.downcast_ref::<h2::Error>()
            && (h2.is_go_away() || h2.is_reset() || h2.reason().is_some() || h2.is_io())
        {
            mismatch = true;
        } else if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && (hyper.is_canceled() || hyper.is_closed() || hyper.is_incomplete_message())
        {
            // The other end closed the connection before answering (hyper's "connection
            // closed"): what a collector that wants a client certificate does under TLS 1.3.
            mismatch = true;
        } else if cause.downcast_ref::<tokio::time::error::Elapsed>().is_some() {
            return Some(Cause::TimedOut);
        }
    }
    mismatch.then_some(Cause::ProtocolMismatch)
}

/// Connects to `host:port`, sends the HTTP/2 client preface and reads what comes back.
pub async fn probe(host: &str, port: u16, timeout: Duration) -> Option<Peer> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        // The preface and an empty SETTINGS frame: an HTTP/2 server answers with its SETTINGS.
        stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await.ok()?;
        let mut buf = [0u8; 16];
        let mut filled = 0;
        while filled < 5 {
            let n = stream.read(buf.get_mut(filled..)?).await.ok()?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        peer_of(buf.get(..filled)?)
    };
    tokio::time::timeout(timeout, attempt).await.ok().flatten()
}

/// A client certificate "resolver" that has no certificate and only notes that the server asked
/// for one (rustls calls it on the server's CertificateRequest, before it checks the server's
/// certificate).
#[derive(Debug, Default)]
struct NotesCertificateRequest(AtomicBool);

impl rustls::client::ResolvesClientCert for NotesCertificateRequest {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Whether the TLS listener at `host:port` asks for a client certificate (mutual TLS): one TLS
/// handshake that trusts nothing (so it never completes a session and sends nothing but the
/// handshake) and notes the request. `false` when it cannot tell (no answer in `timeout`).
pub async fn asks_for_client_certificate(host: &str, port: u16, timeout: Duration) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let noted = Arc::new(NotesCertificateRequest::default());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(builder) = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()
    else {
        return false;
    };
    let config =
        builder.with_root_certificates(rustls::RootCertStore::empty()).with_client_cert_resolver(noted.clone());
    let Ok(name) = rustls::pki_types::ServerName::try_from(host.to_owned()) else { return false };
    let attempt = async {
        let stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        // Fails at the server's certificate (nothing is trusted) or its refusal; either way the
        // request, if any, came first.
        let _ = connector.connect(name, stream).await;
        Some(())
    };
    let _ = tokio::time::timeout(timeout, attempt).await;
    noted.0.load(Ordering::Relaxed)
}

/// What the first bytes a server sent back to the HTTP/2 preface say it is.
fn peer_of(bytes: &[u8]) -> Option<Peer> {
    match bytes {
        [b'H', b'T', b'T', b'P', b'/', ..] => Some(Peer::Http1),
        // A TLS record: alert (21) or handshake (22), protocol version 3.x.
        [21 | 22, 3, ..] => Some(Peer::Tls),
        // An HTTP/2 frame header: 24-bit length, then type 4 (SETTINGS).
        [_, _, _, 4, ..] => Some(Peer::PlainGrpc),
        _ => None,
    }
}

/// The one-line explanation of a failure to reach `url`, with the fix.
///
/// `https` is the URL's scheme, `client_cert` whether one was configured, `peer` what [`probe`]
/// found (only asked for [`Cause::ProtocolMismatch`]).
pub fn explain(url: &str, https: bool, client_cert: bool, cause: &Cause, peer: Option<Peer>) -> String {
    let address = url.split_once("://").map_or(url, |(_, rest)| rest).trim_end_matches('/');
    match cause {
        Cause::Refused => {
            format!("connection refused: nothing listens at {address}; is azver-collector running there, on that port?")
        }
        Cause::TimedOut => {
            format!("no answer from {address} in time: check the address, the firewall, or raise --timeout")
        }
        Cause::UnknownIssuer => format!(
            "the collector's certificate at {address} is not signed by a CA this agent trusts: pass that CA with \
             --ca-cert FILE (AZVER_CA_CERT, `ca_cert` in the config file)"
        ),
        Cause::BadCertificate(problem) => format!(
            "the collector's certificate at {address} was rejected ({problem}): the URL's host must be in the \
             certificate's subjectAltName, and the certificate must be valid now"
        ),
        Cause::ClientCertificateRequired if !client_cert => format!(
            "the collector at {address} requires a client certificate (mutual TLS): pass --client-cert FILE and \
             --client-key FILE"
        ),
        Cause::ClientCertificateRequired => format!(
            "the collector at {address} refused this agent's client certificate: it must be signed by the CA given \
             to the collector's --client-ca"
        ),
        // A collector that requires client certificates ends the session when none came (TLS 1.3
        // sends that alert after the handshake): the usual reason by far.
        Cause::TlsAlert(detail) if !https => format!("{address} broke the connection ({detail})"),
        Cause::TlsAlert(detail) if !client_cert => format!(
            "the collector at {address} ended the TLS session ({detail}); it requires a client certificate \
             (mutual TLS): pass --client-cert FILE and --client-key FILE"
        ),
        Cause::TlsAlert(detail) => format!(
            "the collector at {address} ended the TLS session ({detail}): its --client-ca must have signed \
             this agent's --client-cert"
        ),
        Cause::ProtocolMismatch => match (peer, https) {
            (Some(Peer::Http1), _) => format!(
                "{address} is an HTTP server, probably the collector's dashboard port (serve --http); agents report \
                 to the gRPC port (serve --listen, default 50051)"
            ),
            (Some(Peer::Tls), false) => {
                format!(
                    "the collector at {address} serves TLS: use https://{address} (with --ca-cert if its CA is private)"
                )
            }
            (Some(Peer::PlainGrpc), true) => {
                format!(
                    "the collector at {address} serves plain text, not TLS: use http://{address}, or start it with --tls-cert/--tls-key"
                )
            }
            (_, true) => format!("the TLS handshake with {address} failed: is it an azver collector serving TLS?"),
            (_, false) => format!(
                "{address} did not answer as a plain-text gRPC collector: is it an azver collector, and does it serve TLS (https://)?"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_tell_the_peer() {
        assert_eq!(peer_of(b"HTTP/1.1 400 Bad Request\r\n"), Some(Peer::Http1));
        assert_eq!(peer_of(&[0x15, 0x03, 0x03, 0x00, 0x02]), Some(Peer::Tls));
        assert_eq!(peer_of(&[0, 0, 6, 4, 0, 0, 0, 0, 0]), Some(Peer::PlainGrpc));
        assert_eq!(peer_of(b""), None);
        assert_eq!(peer_of(b"SSH-2.0"), None);
    }

    #[test]
    fn causes_are_found_by_type_through_io_errors() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(classify(&refused), Some(Cause::Refused));
        let unknown = std::io::Error::other(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer));
        assert_eq!(classify(&unknown), Some(Cause::UnknownIssuer));
        let alert = std::io::Error::other(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired));
        assert_eq!(classify(&alert), Some(Cause::ClientCertificateRequired));
        let other = std::io::Error::other("something else");
        assert_eq!(classify(&other), None);
    }

    #[test]
    fn explanations_name_the_fix() {
        let url = "https://collector.example:50051";
        assert!(explain(url, true, false, &Cause::UnknownIssuer, None).contains("--ca-cert"));
        assert!(explain(url, true, false, &Cause::ClientCertificateRequired, None).contains("--client-cert"));
        let plain = explain("http://c:50051", false, false, &Cause::ProtocolMismatch, Some(Peer::Tls));
        assert!(plain.contains("use https://c:50051"), "{plain}");
        let dashboard = explain("http://c:8080", false, false, &Cause::ProtocolMismatch, Some(Peer::Http1));
        assert!(dashboard.contains("dashboard port"), "{dashboard}");
        let refused = explain("http://c:50051", false, false, &Cause::Refused, None);
        assert!(!refused.contains("TLS"), "{refused}");
    }
}

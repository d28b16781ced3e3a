//! Talking to the collector: enroll, send a report, fetch the fleet's baseline.
//!
//! - `https://` URLs use TLS (rustls) and verify the collector against the system roots, or only
//!   against `--ca-cert` when one is given; `--client-cert`/`--client-key` answer a collector that
//!   requires mutual TLS. There is no fall-back to plain text, and TLS settings with an `http://`
//!   URL are an error rather than silently unused.
//! - [`Client::deliver`] authenticates each report with the node key from the state dir. Without
//!   one it enrolls first when it holds an enrollment secret; when the collector rejects the node
//!   key (revoked, or the collector's database was replaced) it forgets the key and enrolls once
//!   more, then retries. Without a secret or key it reports unauthenticated, which only a
//!   collector with no enrollment secret accepts.
//!
//! Domain ↔ wire conversion happens in `azver_proto::convert`; this module only moves messages.

use std::time::Duration;

use azver_core::Baseline;
use azver_proto::reason::Reason;
use azver_proto::v1::inventory_service_client::InventoryServiceClient;
use azver_proto::v1::{EnrollRequest, GetBaselineRequest, InventoryReport, ReportRequest, ReportResponse};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::scrub::ScrubStatus;

/// The channel every call goes through: tonic's, with statuses that would abort it scrubbed.
type Transport = ScrubStatus<Channel>;

use crate::credentials::{Secret, TlsFiles};
use crate::diagnose;
use crate::state::{State, StateError};

/// Why the collector did not accept a request.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The URL is not a collector URL.
    #[error("{url:?} is not a valid collector URL (expected http://HOST:PORT): {message}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        message: String,
    },
    /// No connection could be made.
    #[error("collector {url} is unreachable: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// The transport's explanation.
        message: String,
    },
    /// The collector answered with an error status.
    #[error("collector {url} refused the request ({code:?}): {message}")]
    Refused {
        /// The URL.
        url: String,
        /// gRPC status code.
        code: tonic::Code,
        /// The collector's message.
        message: String,
    },
    /// The collector's rate limit: the report was not stored; send it again later.
    #[error("collector {url} asks to slow down (rate limit); retrying in {retry_after:?}: {message}")]
    Throttled {
        /// The URL.
        url: String,
        /// How long the collector asked to wait.
        retry_after: Duration,
        /// The collector's message.
        message: String,
    },
    /// The TLS settings are unusable (unreadable file, settings without `https://`).
    #[error("collector {url}: {message}")]
    Tls {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The node key could not be kept in, or removed from, the state dir.
    #[error("cannot keep the node key: {0}")]
    State(#[from] StateError),
    /// The collector's baseline does not parse.
    #[error("collector {url} served a baseline this agent cannot read: {source}")]
    BadBaseline {
        /// The URL.
        url: String,
        /// Why.
        source: azver_core::BaselineError,
    },
}

/// The URL with any credentials (`https://user:password@host`) replaced by `****`: the only
/// form of a collector URL that may appear in logs, errors, status files and output.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://****@{host}{path}"),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// Where the collector is and how to reach it.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://HOST:PORT` or `https://HOST:PORT`.
    pub url: String,
    /// CA and client certificate for `https://`.
    pub tls: TlsFiles,
    /// Connect and request timeout.
    pub timeout: Duration,
}

impl Target {
    /// A target with no TLS settings (system roots for `https://`).
    pub fn plain(url: &str, timeout: Duration) -> Self {
        Self { url: url.to_owned(), tls: TlsFiles::default(), timeout }
    }
}

/// The rustls client configuration for an `https://` target.
fn tls_config(target: &Target) -> Result<ClientTlsConfig, ReportError> {
    let tls_error = |message: String| ReportError::Tls { url: redact_url(&target.url), message };
    let read = |what: &str, path: &std::path::Path| {
        let bytes =
            std::fs::read(path).map_err(|e| tls_error(format!("cannot read the {what} {}: {e}", path.display())))?;
        // Caught here rather than as an obscure handshake failure later.
        if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            return Err(tls_error(format!("the {what} {} is not PEM (no -----BEGIN line)", path.display())));
        }
        Ok(bytes)
    };
    let files = &target.tls;
    let mut config = ClientTlsConfig::new();
    config = match &files.ca_cert {
        // An internal CA: trust it alone, not the hundred-odd public roots as well.
        Some(path) => config.ca_certificate(Certificate::from_pem(read("CA certificate", path)?)),
        None => config.with_native_roots(),
    };
    match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(read("client certificate", cert)?, read("client key", key)?));
        }
        (None, None) => {}
        _ => return Err(tls_error("--client-cert and --client-key go together: give both or neither".into())),
    }
    Ok(config)
}

/// The TLS settings of `target` as a connection would use them: `None` for `http://`, the files
/// read for `https://`. `config check` calls this to refuse exactly what `run` would.
pub fn checked_tls(target: &Target) -> Result<Option<ClientTlsConfig>, ReportError> {
    if target.url.trim_start().starts_with("https://") {
        return tls_config(target).map(Some);
    }
    if target.tls.any() {
        return Err(ReportError::Tls {
            url: redact_url(&target.url),
            message: "TLS settings (--ca-cert, --client-cert, --client-key) need an https:// collector URL; \
                      this one is plain text"
                .into(),
        });
    }
    Ok(None)
}

async fn connect(target: &Target) -> Result<InventoryServiceClient<Transport>, ReportError> {
    let url = target.url.as_str();
    let timeout = target.timeout;
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| ReportError::BadUrl { url: redact_url(url), message: azver_core::one_line(&e) })?
        .connect_timeout(timeout)
        .timeout(timeout);
    if let Some(tls) = checked_tls(target)? {
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| ReportError::Tls { url: redact_url(url), message: azver_core::one_line(&e) })?;
    }
    // Laptops roam through corporate proxies: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY as
    // curl reads them, and on Windows and macOS the system proxy when no variable is set. gRPC
    // goes through the proxy in a CONNECT tunnel.
    let channel = match Matcher::from_system().intercept(endpoint.uri()) {
        None => {
            // Resolved here first so that a wrong host name is said as such, not as a transport error.
            if let (Some(host), Some(port)) = (endpoint.uri().host(), port_of(endpoint.uri())) {
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                if let Err(error) = tokio::net::lookup_host((bare, port)).await {
                    return Err(ReportError::Unreachable {
                        url: redact_url(url),
                        message: format!("cannot resolve the host name {host} ({error}): check the collector URL"),
                    });
                }
            }
            match endpoint.connect().await {
                Ok(channel) => channel,
                Err(error) => return Err(transport_failure(target, &error, true).await),
            }
        }
        Some(proxy) => {
            let via = format!("through proxy {}: ", proxy_display(proxy.uri()));
            if !matches!(proxy.uri().scheme_str(), Some("http" | "https")) {
                return Err(ReportError::Unreachable {
                    url: redact_url(url),
                    message: format!("{via}only http:// proxies (CONNECT) are supported"),
                });
            }
            let mut tcp = HttpConnector::new();
            tcp.enforce_http(false);
            tcp.set_connect_timeout(Some(timeout));
            let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            tracing::debug!(proxy = %proxy_display(proxy.uri()), "connecting through a proxy");
            endpoint.connect_with_connector(tunnel).await.map_err(|e| ReportError::Unreachable {
                url: redact_url(url),
                message: format!("{via}{}", azver_core::one_line(&e)),
            })?
        }
    };
    Ok(InventoryServiceClient::new(ScrubStatus(channel)))
}

/// The port of a collector URI, the scheme's default when none is written.
fn port_of(uri: &tonic::codegen::http::Uri) -> Option<u16> {
    uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })
}

/// A connection or call that failed below gRPC, explained from the types in `error`'s chain
/// (see [`crate::diagnose`]). `direct` is false through a proxy, where probing the collector's
/// port directly would test the wrong path.
async fn transport_failure(target: &Target, error: &(dyn std::error::Error + 'static), direct: bool) -> ReportError {
    let url = redact_url(&target.url);
    let https = target.url.starts_with("https://");
    let message = match diagnose::classify(error) {
        Some(cause) => {
            let uri = target.url.parse::<tonic::codegen::http::Uri>().ok();
            let client_cert = target.tls.client_cert.is_some();
            let mut cause = cause;
            let peer = match (&cause, uri.as_ref().and_then(|u| Some((u.host()?, port_of(u)?)))) {
                (diagnose::Cause::ProtocolMismatch, Some((host, port))) if direct => {
                    let peer = diagnose::probe(host, port, target.timeout).await;
                    // A TLS listener that ended the session of an agent without a client
                    // certificate: ask it whether it wants one (mutual TLS).
                    if https
                        && !client_cert
                        && peer == Some(diagnose::Peer::Tls)
                        && diagnose::asks_for_client_certificate(host, port, target.timeout).await
                    {
                        cause = diagnose::Cause::ClientCertificateRequired;
                    }
                    peer
                }
                _ => None,
            };
            diagnose::explain(&url, https, client_cert, &cause, peer)
        }
        None => azver_core::one_line(error),
    };
    ReportError::Unreachable { url, message }
}

/// A failed gRPC call: the collector's own answer, or a transport failure, which tonic hands
/// over as a status whose `source()` is the underlying error (the collector's statuses have none).
async fn call_failed(target: &Target, status: tonic::Status) -> ReportError {
    if std::error::Error::source(&status).is_some() {
        let direct = Matcher::from_system().intercept(&target.url.parse().unwrap_or_default()).is_none();
        return transport_failure(target, &status, direct).await;
    }
    // An answer that is not gRPC at all (an HTML 404 from the dashboard's HTTP/2 listener): its
    // content type says so, whatever tonic made of the body.
    let content_type = status.metadata().get("content-type").and_then(|v| v.to_str().ok());
    if content_type.is_some_and(|t| !t.starts_with("application/grpc")) {
        let url = redact_url(&target.url);
        let https = target.url.starts_with("https://");
        let message = diagnose::explain(
            &url,
            https,
            target.tls.client_cert.is_some(),
            &diagnose::Cause::ProtocolMismatch,
            Some(diagnose::Peer::Http1),
        );
        return ReportError::Unreachable { url, message };
    }
    refused(&target.url, status)
}

/// A proxy URI for messages, without credentials.
fn proxy_display(uri: &tonic::codegen::http::Uri) -> String {
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{}{port}", uri.scheme_str().unwrap_or("http"), uri.host().unwrap_or_default())
}

fn refused(url: &str, status: tonic::Status) -> ReportError {
    match status.code() {
        // Over the size limit is final; a rate limit (`retry-after`) or a shed request is not.
        tonic::Code::ResourceExhausted if Reason::of(&status) != Some(Reason::MessageTooLarge) => {
            let seconds = status
                .metadata()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            ReportError::Throttled {
                url: redact_url(url),
                retry_after: Duration::from_secs(seconds),
                message: status.message().to_owned(),
            }
        }
        code => ReportError::Refused { url: redact_url(url), code, message: status.message().to_owned() },
    }
}

/// A connection to the collector, reused for a whole delivery round.
#[derive(Debug, Clone)]
pub struct Client {
    target: Target,
    inner: InventoryServiceClient<Transport>,
}

/// The credentials a report is sent with: the state dir's node key, and the secret to get one.
#[derive(Debug, Clone, Copy)]
pub struct Auth<'a> {
    /// Holds the node key.
    pub state: &'a State,
    /// Enrollment secret, if the agent has one.
    pub secret: Option<&'a Secret>,
}

impl Client {
    /// Connects (or fails with [`ReportError::Unreachable`]).
    pub async fn connect(target: &Target) -> Result<Self, ReportError> {
        Ok(Self { target: target.clone(), inner: connect(target).await? })
    }

    /// Sends one report with `node_key` (empty: unauthenticated).
    async fn send(&mut self, report: InventoryReport, node_key: String) -> Result<ReportResponse, ReportError> {
        let request = ReportRequest { node_key, report: Some(report) };
        match self.inner.report(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(call_failed(&self.target, status).await),
        }
    }

    /// Exchanges the secret for a node key and keeps it in the state dir.
    async fn enroll(
        &mut self,
        report: &InventoryReport,
        auth: Auth<'_>,
        secret: &Secret,
    ) -> Result<String, ReportError> {
        let request = EnrollRequest { enroll_secret: secret.expose().to_owned(), host: report.host.clone() };
        let response = match self.inner.enroll(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Err(call_failed(&self.target, status).await),
        };
        if response.node_key.is_empty() {
            return Err(ReportError::Refused {
                url: redact_url(&self.target.url),
                code: tonic::Code::Internal,
                message: "the collector answered the enrollment without a node key".into(),
            });
        }
        auth.state.set_node_key(&response.node_key)?;
        tracing::info!(host_id = %response.host_id, "enrolled with the collector; node key kept in the state dir");
        Ok(response.node_key)
    }

    /// Sends one report with the node key, enrolling first when there is none, and enrolling
    /// again (once) when the collector rejects the key.
    pub async fn deliver(&mut self, report: InventoryReport, auth: Auth<'_>) -> Result<ReportResponse, ReportError> {
        let stored = auth.state.node_key()?;
        let (key, fresh) = match (stored, auth.secret) {
            (Some(key), _) => (key, false),
            (None, Some(secret)) => (self.enroll(&report, auth, secret).await?, true),
            (None, None) => (String::new(), false),
        };
        let sequence = report.sequence;
        let response = match (self.send(report.clone(), key).await, auth.secret) {
            (Err(ReportError::Refused { code: tonic::Code::Unauthenticated, message, .. }), Some(secret)) if !fresh => {
                tracing::warn!(%message, "the collector rejected the node key; enrolling again with the secret");
                auth.state.forget_node_key()?;
                let key = self.enroll(&report, auth, secret).await?;
                self.send(report, key).await
            }
            (result, _) => result,
        }?;
        // The collector holds a later sequence for this host than this report's (a lost or
        // restored `sequence` file): continue from it so the next report is stored.
        if response.last_sequence > sequence && auth.state.adopt_sequence(response.last_sequence)? {
            tracing::warn!(
                sequence,
                last_sequence = response.last_sequence,
                "the collector holds a later sequence for this host; continuing from it"
            );
        }
        Ok(response)
    }
}

/// Fetches the baseline the collector evaluates against.
pub async fn fetch_baseline(target: &Target) -> Result<Baseline, ReportError> {
    let mut client = connect(target).await?;
    let url = &target.url;
    let response = match client.get_baseline(GetBaselineRequest {}).await {
        Ok(response) => response.into_inner(),
        Err(status) => return Err(call_failed(target, status).await),
    };
    Baseline::from_toml(&response.baseline_toml)
        .map_err(|source| ReportError::BadBaseline { url: redact_url(url), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_leave_a_url() {
        assert_eq!(redact_url("https://ops:s3cret@collector.example:443/x"), "https://****@collector.example:443/x");
        assert_eq!(redact_url("http://token@10.0.0.1:50051"), "http://****@10.0.0.1:50051");
        assert_eq!(redact_url("http://collector:50051"), "http://collector:50051");
        assert_eq!(redact_url("http://collector:50051/a@b"), "http://collector:50051/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}

//! Talking to the collector: send a report, fetch the fleet's baseline.
//!
//! Domain ↔ wire conversion happens in `azver_proto::convert`; this module only moves messages.

use std::time::Duration;

use azver_core::Baseline;
use azver_proto::v1::inventory_service_client::InventoryServiceClient;
use azver_proto::v1::{GetBaselineRequest, InventoryReport, ReportRequest, ReportResponse};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use tonic::transport::{Channel, Endpoint};

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

/// Full text of an error and its causes (tonic's transport errors hide the useful part).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn connect(url: &str, timeout: Duration) -> Result<InventoryServiceClient<Channel>, ReportError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| ReportError::BadUrl { url: redact_url(url), message: chain(&e) })?
        .connect_timeout(timeout)
        .timeout(timeout);
    let unreachable = |via: &str, e: &dyn std::error::Error| ReportError::Unreachable {
        url: redact_url(url),
        message: format!("{via}{}", chain(e)),
    };
    // Laptops roam through corporate proxies: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY as
    // curl reads them, and on Windows and macOS the system proxy when no variable is set. gRPC
    // goes through the proxy in a CONNECT tunnel.
    let channel = match Matcher::from_system().intercept(endpoint.uri()) {
        None => endpoint.connect().await.map_err(|e| unreachable("", &e))?,
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
            endpoint.connect_with_connector(tunnel).await.map_err(|e| unreachable(&via, &e))?
        }
    };
    Ok(InventoryServiceClient::new(channel))
}

/// A proxy URI for messages, without credentials.
fn proxy_display(uri: &tonic::codegen::http::Uri) -> String {
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{}{port}", uri.scheme_str().unwrap_or("http"), uri.host().unwrap_or_default())
}

fn refused(url: &str, status: tonic::Status) -> ReportError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown
            if status.message().contains("transport") || status.message().contains("connect") =>
        {
            ReportError::Unreachable { url: redact_url(url), message: status.message().to_owned() }
        }
        code => ReportError::Refused { url: redact_url(url), code, message: status.message().to_owned() },
    }
}

/// A connection to the collector, reused for a whole delivery round.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    inner: InventoryServiceClient<Channel>,
}

impl Client {
    /// Connects (or fails with [`ReportError::Unreachable`]).
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, ReportError> {
        Ok(Self { url: url.to_owned(), inner: connect(url, timeout).await? })
    }

    /// Sends one report.
    pub async fn send(&mut self, report: InventoryReport) -> Result<ReportResponse, ReportError> {
        let request = ReportRequest { node_key: String::new(), report: Some(report) };
        self.inner.report(request).await.map(tonic::Response::into_inner).map_err(|s| refused(&self.url, s))
    }
}

/// Sends one report and returns the collector's verdict.
pub async fn send(url: &str, report: InventoryReport, timeout: Duration) -> Result<ReportResponse, ReportError> {
    Client::connect(url, timeout).await?.send(report).await
}

/// Fetches the baseline the collector evaluates against.
pub async fn fetch_baseline(url: &str, timeout: Duration) -> Result<Baseline, ReportError> {
    let mut client = connect(url, timeout).await?;
    let response = client.get_baseline(GetBaselineRequest {}).await.map_err(|s| refused(url, s))?.into_inner();
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

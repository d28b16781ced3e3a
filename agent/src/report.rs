//! Talking to the collector: send a report, fetch the fleet's baseline.
//!
//! Domain ↔ wire conversion happens in `azver_proto::convert`; this module only moves messages.

use std::time::Duration;

use azver_core::Baseline;
use azver_proto::v1::inventory_service_client::InventoryServiceClient;
use azver_proto::v1::{GetBaselineRequest, InventoryReport, ReportRequest, ReportResponse};
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
        .map_err(|e| ReportError::BadUrl { url: url.to_owned(), message: chain(&e) })?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel =
        endpoint.connect().await.map_err(|e| ReportError::Unreachable { url: url.to_owned(), message: chain(&e) })?;
    Ok(InventoryServiceClient::new(channel))
}

fn refused(url: &str, status: tonic::Status) -> ReportError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown
            if status.message().contains("transport") || status.message().contains("connect") =>
        {
            ReportError::Unreachable { url: url.to_owned(), message: status.message().to_owned() }
        }
        code => ReportError::Refused { url: url.to_owned(), code, message: status.message().to_owned() },
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
    let mut client = connect(url, timeout).await?;
    let request = ReportRequest { node_key: String::new(), report: Some(report) };
    client.report(request).await.map(tonic::Response::into_inner).map_err(|s| refused(url, s))
}

/// Fetches the baseline the collector evaluates against.
pub async fn fetch_baseline(url: &str, timeout: Duration) -> Result<Baseline, ReportError> {
    let mut client = connect(url, timeout).await?;
    let response = client.get_baseline(GetBaselineRequest {}).await.map_err(|s| refused(url, s))?.into_inner();
    Baseline::from_toml(&response.baseline_toml)
        .map_err(|source| ReportError::BadBaseline { url: url.to_owned(), source })
}

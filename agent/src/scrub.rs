//! A guard on the agent's gRPC channel against a status that would abort it.
//!
//! tonic (0.14) decodes a response's `grpc-status-details-bin` with `expect`: a collector, or
//! anything between the agent and a plain `http://` collector, that sends a value which is not
//! base64 panics the client, and with `panic = "abort"` the service dies. [`ScrubStatus`] wraps
//! the channel and removes such a value from the response headers (a trailers-only status) and
//! from the trailers before tonic reads them; the status code and message stay, so the agent
//! still reports what the collector said.

use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use tonic::codegen::{Body, BoxFuture, Bytes, Service, http};

/// The header tonic decodes with `expect`.
const DETAILS: &str = "grpc-status-details-bin";

/// The decoder tonic uses for that header (standard alphabet, padding optional): a value it
/// accepts is exactly a value this accepts.
const TONICS_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Removes every `grpc-status-details-bin` value tonic could not decode (all of them, when one
/// is bad: tonic reads the first). Returns whether anything was removed.
fn scrub(headers: &mut http::HeaderMap) -> bool {
    let bad = headers.get_all(DETAILS).iter().any(|value| TONICS_BASE64.decode(value.as_bytes()).is_err());
    if bad {
        headers.remove(DETAILS);
        tracing::warn!("the collector sent a gRPC status with undecodable details; they were dropped");
    }
    bad
}

/// A response body whose trailers are scrubbed (see the module documentation).
#[derive(Debug)]
pub struct ScrubbedBody<B>(B);

impl<B> Body for ScrubbedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.0).poll_frame(cx).map(|frame| {
            frame.map(|result| {
                result.map(|mut frame| {
                    if let Some(trailers) = frame.trailers_mut() {
                        scrub(trailers);
                    }
                    frame
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

/// The agent's channel with every response scrubbed (see the module documentation).
#[derive(Debug, Clone)]
pub struct ScrubStatus<S>(pub S);

impl<S, B, R> Service<http::Request<B>> for ScrubStatus<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = http::Response<ScrubbedBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = self.0.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            scrub(response.headers_mut());
            Ok(response.map(ScrubbedBody))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_undecodable_details_are_removed() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", http::HeaderValue::from_static("13"));
        headers.insert(DETAILS, http::HeaderValue::from_static("CAE"));
        assert!(!scrub(&mut headers), "unpadded base64 is what tonic accepts");
        assert!(headers.contains_key(DETAILS));
        headers.append(DETAILS, http::HeaderValue::from_static("not base64!"));
        assert!(scrub(&mut headers));
        assert!(!headers.contains_key(DETAILS));
        assert_eq!(headers.get("grpc-status").map(|v| v.as_bytes()), Some(&b"13"[..]));
    }
}

//! Machine-readable reasons for the collector's error statuses: a `google.rpc.ErrorInfo` in the
//! status details (the gRPC richer error model), domain [`DOMAIN`]. Clients decide on the code
//! and the reason, never on the message text, which is for people and may change.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// The `ErrorInfo.domain` of every reason azver sends.
pub const DOMAIN: &str = "azver.dev";

/// Why the collector refused a call, beyond its status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `RESOURCE_EXHAUSTED`: the host sends faster than its rate limit; retry after the
    /// `retry-after` metadata (seconds).
    RateLimited,
    /// `RESOURCE_EXHAUSTED`: the request is larger than the collector accepts; retrying the same
    /// request cannot succeed.
    MessageTooLarge,
    /// `UNAVAILABLE`: the collector could not store the report; retry later.
    StoreUnavailable,
}

impl Reason {
    /// The `ErrorInfo.reason` text (`UPPER_SNAKE_CASE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "RATE_LIMITED",
            Self::MessageTooLarge => "MESSAGE_TOO_LARGE",
            Self::StoreUnavailable => "STORE_UNAVAILABLE",
        }
    }

    /// Every reason.
    pub const ALL: [Self; 3] = [Self::RateLimited, Self::MessageTooLarge, Self::StoreUnavailable];

    /// A status with `code`, `message` and this reason in its details.
    pub fn status(self, code: Code, message: impl Into<String>) -> Status {
        Status::with_error_details(code, message, ErrorDetails::with_error_info(self.as_str(), DOMAIN, HashMap::new()))
    }

    /// The azver reason a status carries, if any (statuses from other servers, or from
    /// collectors older than reasons, carry none).
    pub fn of(status: &Status) -> Option<Self> {
        let info = status.get_details_error_info()?;
        if info.domain != DOMAIN {
            return None;
        }
        Self::ALL.into_iter().find(|r| r.as_str() == info.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_the_status_details() {
        for reason in Reason::ALL {
            let status = reason.status(Code::ResourceExhausted, "text that may change");
            // Through the wire form (headers), as a client receives it.
            let received = Status::from_header_map(status.into_http::<()>().headers()).unwrap();
            assert_eq!(Reason::of(&received), Some(reason));
        }
        assert_eq!(Reason::of(&Status::resource_exhausted("message length too large")), None);
        let foreign = Status::with_error_details(
            Code::Internal,
            "x",
            ErrorDetails::with_error_info("RATE_LIMITED", "other", HashMap::new()),
        );
        assert_eq!(Reason::of(&foreign), None, "another domain's reason is not ours");
    }
}

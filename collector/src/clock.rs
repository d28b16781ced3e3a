//! The collector's clock: the one place that reads the system time. Everything below takes
//! `now` as an argument, so tests pass any time they need.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch by the collector's clock.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

//! What `/readyz` knows beyond "the database answers": whether the store's last write worked.
//! A full disk still answers reads, so a read probe alone would call a collector ready while it
//! refuses every report.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// After this long without another write attempt, a failed write no longer makes the collector
/// unready: a load balancer that took it out of rotation sends it traffic again, and the next
/// report tells whether writes work (otherwise nothing would ever write, and it would stay out).
pub const FAILED_WRITE_HOLD: Duration = Duration::from_secs(30);

/// The outcome of the store's writes, shared by the gRPC service and `/readyz`.
#[derive(Debug, Default)]
pub struct WriteHealth(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    /// The last failure since the last success: when, and the error.
    failing: Option<(Instant, String)>,
    /// Failures since the last success.
    failures: u64,
}

impl WriteHealth {
    /// A write failed with `error`.
    pub fn write_failed(&self, error: &str) {
        self.write_failed_at(error, Instant::now());
    }

    /// [`Self::write_failed`] at a given time.
    pub fn write_failed_at(&self, error: &str, now: Instant) {
        let mut state = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.failing = Some((now, error.to_owned()));
        state.failures += 1;
    }

    /// A write worked; returns the last error and how many writes failed before, if any did.
    pub fn write_succeeded(&self) -> Option<(String, u64)> {
        let mut state = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let failures = std::mem::take(&mut state.failures);
        state.failing.take().map(|(_, error)| (error, failures))
    }

    /// `Err(error)` while the last write failed (for [`FAILED_WRITE_HOLD`] after it).
    pub fn check(&self) -> Result<(), String> {
        self.check_at(Instant::now())
    }

    /// [`Self::check`] at a given time.
    pub fn check_at(&self, now: Instant) -> Result<(), String> {
        let state = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &state.failing {
            Some((at, error)) if now.saturating_duration_since(*at) < FAILED_WRITE_HOLD => {
                Err(format!("the last write to the database failed ({} in a row): {error}", state.failures))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_last_write_and_a_failure_expires() {
        let health = WriteHealth::default();
        let start = Instant::now();
        assert_eq!(health.check_at(start), Ok(()));
        health.write_failed_at("database or disk is full", start);
        health.write_failed_at("database or disk is full", start + Duration::from_secs(1));
        let error = health.check_at(start + Duration::from_secs(2)).unwrap_err();
        assert_eq!(error, "the last write to the database failed (2 in a row): database or disk is full");
        // Without further attempts the collector is offered traffic again.
        assert_eq!(health.check_at(start + Duration::from_secs(1) + FAILED_WRITE_HOLD), Ok(()));
        assert_eq!(health.write_succeeded(), Some(("database or disk is full".to_owned(), 2)));
        assert_eq!(health.check_at(start + Duration::from_secs(3)), Ok(()));
        assert_eq!(health.write_succeeded(), None);
    }
}

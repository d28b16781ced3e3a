//! Rate-limited logging of repeated errors: a failing disk or an exhausted descriptor table
//! repeats the same error thousands of times a second, and a log that size hides everything
//! else (and fills the disk further). The first occurrence of a kind is logged; after that at
//! most one line per period, carrying how many identical lines were left out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Kinds remembered at once; past this the oldest is forgotten (its next line is logged).
const MAX_KINDS: usize = 64;

/// Decides which occurrences of repeated errors are logged.
#[derive(Debug)]
pub struct LogThrottle {
    every: Duration,
    /// Per kind: when it was last logged, and occurrences left out since.
    kinds: HashMap<String, (Instant, u64)>,
}

impl LogThrottle {
    /// At most one line per kind per `every`.
    pub fn new(every: Duration) -> Self {
        Self { every, kinds: HashMap::new() }
    }

    /// Whether this occurrence of `kind` should be logged now: `Some(left_out)` with the number
    /// of occurrences suppressed since the last line, or `None` to stay quiet.
    pub fn allow(&mut self, kind: &str) -> Option<u64> {
        self.allow_at(kind, Instant::now())
    }

    /// [`Self::allow`] at a given time.
    pub fn allow_at(&mut self, kind: &str, now: Instant) -> Option<u64> {
        if let Some((last, left_out)) = self.kinds.get_mut(kind) {
            if now.saturating_duration_since(*last) < self.every {
                *left_out += 1;
                return None;
            }
            let suppressed = *left_out;
            *last = now;
            *left_out = 0;
            return Some(suppressed);
        }
        if self.kinds.len() >= MAX_KINDS
            && let Some(oldest) = self.kinds.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
        {
            self.kinds.remove(&oldest);
        }
        self.kinds.insert(kind.to_owned(), (now, 0));
        Some(0)
    }

    /// Forgets `kind` and returns how many of its occurrences were never logged (for a closing
    /// summary line once the condition is over).
    pub fn clear(&mut self, kind: &str) -> u64 {
        self.kinds.remove(kind).map_or(0, |(_, left_out)| left_out)
    }
}

/// A [`LogThrottle`] shared between tasks.
#[derive(Debug)]
pub struct SharedLogThrottle(Mutex<LogThrottle>);

impl SharedLogThrottle {
    /// At most one line per kind per `every`.
    pub fn new(every: Duration) -> Self {
        Self(Mutex::new(LogThrottle::new(every)))
    }

    /// See [`LogThrottle::allow`].
    pub fn allow(&self, kind: &str) -> Option<u64> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).allow(kind)
    }

    /// See [`LogThrottle::clear`].
    pub fn clear(&self, kind: &str) -> u64 {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted_and_logged_once_per_period() {
        let mut log = LogThrottle::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(log.allow_at("disk full", start), Some(0));
        for second in 1..10 {
            assert_eq!(log.allow_at("disk full", start + Duration::from_secs(second)), None);
        }
        // Another kind is not held back by the first.
        assert_eq!(log.allow_at("permission denied", start), Some(0));
        assert_eq!(log.allow_at("disk full", start + Duration::from_secs(10)), Some(9));
        assert_eq!(log.allow_at("disk full", start + Duration::from_secs(11)), None);
        assert_eq!(log.clear("disk full"), 1);
        assert_eq!(log.clear("disk full"), 0);
        assert_eq!(log.allow_at("disk full", start + Duration::from_secs(12)), Some(0));
    }

    #[test]
    fn the_number_of_kinds_is_bounded() {
        let mut log = LogThrottle::new(Duration::from_secs(10));
        let start = Instant::now();
        for i in 0..1000u64 {
            assert_eq!(log.allow_at(&format!("kind {i}"), start + Duration::from_millis(i)), Some(0));
        }
        assert!(log.kinds.len() <= MAX_KINDS);
    }
}

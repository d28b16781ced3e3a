//! The baseline the collector serves: loaded from `--baseline FILE` (or the built-in one) and
//! replaced on SIGHUP. Readers take the current one with [`current_baseline`]; the front ends
//! and the periodic tasks share one [`SharedBaseline`].

use std::path::Path;
use std::sync::{Arc, RwLock};

use azver_core::{Baseline, BaselineError};

/// Why a baseline file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read baseline {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: std::io::Error,
    },
    /// The file is not a valid baseline.
    #[error("baseline {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong (names the key).
        reason: BaselineError,
    },
}

/// Loads a baseline file, or the built-in one.
pub fn load_baseline(path: Option<&Path>) -> Result<Baseline, LoadError> {
    let Some(path) = path else { return Ok(Baseline::default()) };
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|reason| LoadError::Read { path: shown(), reason })?;
    Baseline::from_toml(&text).map_err(|reason| LoadError::Invalid { path: shown(), reason })
}

/// A baseline as served, with the digest that stamps every verdict evaluated against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The baseline.
    pub baseline: Baseline,
    /// SHA-256 (hex) of its canonical TOML: equal baselines have equal digests, whatever their
    /// file's layout or comments.
    pub digest: String,
    /// Which loading of a baseline this is (each [`Served::new`] takes the next): what was
    /// learnt about the fleet under one (that every host is evaluated against it) may not hold
    /// when the same baseline is served again after another.
    pub generation: u64,
}

impl Served {
    /// Stamps `baseline` with its digest.
    pub fn new(baseline: Baseline) -> Self {
        use sha2::{Digest as _, Sha256};
        static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let digest = crate::store::hex(&Sha256::digest(baseline.to_toml().as_bytes()));
        let generation = GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self { baseline, digest, generation }
    }

    /// What counts kept for this baseline are kept under: its digest and generation.
    pub fn key(&self) -> String {
        format!("{}/{}", self.digest, self.generation)
    }
}

impl std::ops::Deref for Served {
    type Target = Baseline;

    fn deref(&self) -> &Baseline {
        &self.baseline
    }
}

/// The baseline the collector evaluates against; replaced on SIGHUP.
pub type SharedBaseline = Arc<RwLock<Arc<Served>>>;

/// A shared baseline holding `baseline`.
pub fn shared(baseline: Baseline) -> SharedBaseline {
    Arc::new(RwLock::new(Arc::new(Served::new(baseline))))
}

/// Reads the current baseline.
pub fn current_baseline(shared: &SharedBaseline) -> Arc<Served> {
    shared.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// Replaces the served baseline.
pub fn replace(shared: &SharedBaseline, baseline: Baseline) {
    *shared.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Served::new(baseline));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_follow_the_rules_not_the_file() {
        let builtin = Served::new(Baseline::default());
        assert_eq!(builtin.digest.len(), 64);
        assert_eq!(Served::new(Baseline::from_toml(&builtin.to_toml()).unwrap()).digest, builtin.digest);
        let stricter = Baseline::from_toml("[products.azure-cli]\nminimum = \"2.99.0\"\nrule = \"every\"\n").unwrap();
        assert_ne!(Served::new(stricter).digest, builtin.digest);
    }
}

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

/// The baseline the collector evaluates against; replaced on SIGHUP.
pub type SharedBaseline = Arc<RwLock<Arc<Baseline>>>;

/// Reads the current baseline.
pub fn current_baseline(shared: &SharedBaseline) -> Arc<Baseline> {
    shared.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

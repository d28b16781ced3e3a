//! What the agent proves to the collector, and how it checks the collector in return.
//!
//! - [`TlsFiles`]: the CA that signs the collector's certificate (default: the system's roots) and,
//!   for mutual TLS, the agent's own certificate and key.
//! - [`Secret`]: the enrollment secret, exchanged once for a per-host node key (kept in the state
//!   dir, see [`crate::state`]). It comes from, in order: `AZVER_ENROLL_SECRET`,
//!   `--enroll-secret-file` / `AZVER_ENROLL_SECRET_FILE` / `enroll_secret_file`, or the copy an
//!   installer handed over (the MSI's `ENROLL_SECRET`, moved into the state dir on first start).
//!
//! A secret never appears in `Debug` output, logs, `config check` or errors.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::state::{State, StateError};

/// TLS material for reaching the collector; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsFiles {
    /// PEM CA certificate(s) the collector's certificate must chain to, instead of the system roots.
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate, for a collector that requires mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

impl TlsFiles {
    /// True when any TLS setting is given (they only mean something with an `https://` URL).
    pub fn any(&self) -> bool {
        self.ca_cert.is_some() || self.client_cert.is_some() || self.client_key.is_some()
    }
}

/// An enrollment secret. Shown as `****` everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("****")
    }
}

/// Why no secret could be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret file could not be read.
    #[error("cannot read the enrollment secret file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The value is empty or not one line of text.
    #[error("the enrollment secret from {origin} is {problem}")]
    Invalid {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// The state dir copy could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

impl Secret {
    /// A secret from text; surrounding whitespace (a trailing newline) is ignored.
    pub fn parse(text: &str, origin: &str) -> Result<Self, SecretError> {
        let value = text.trim();
        let problem = if value.is_empty() {
            "empty"
        } else if value.len() > 1024 {
            "longer than 1024 bytes"
        } else if value.chars().any(char::is_control) {
            "not a single line of text"
        } else {
            return Ok(Self(value.to_owned()));
        };
        Err(SecretError::Invalid { origin: origin.to_owned(), problem })
    }

    /// Reads a secret file (surrounding whitespace ignored).
    pub fn read_file(path: &Path) -> Result<Self, SecretError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SecretError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The secret itself, for the enrollment request only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Where the enrollment secret comes from, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    /// `AZVER_ENROLL_SECRET`.
    pub env: Option<String>,
    /// `--enroll-secret-file` / `AZVER_ENROLL_SECRET_FILE` / `enroll_secret_file`.
    pub file: Option<PathBuf>,
}

impl SecretSources {
    /// The sources of this process: `AZVER_ENROLL_SECRET` and the given file setting.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Self { env: std::env::var("AZVER_ENROLL_SECRET").ok().filter(|v| !v.trim().is_empty()), file }
    }

    /// The first secret available, or `None` (then the agent reports without a node key unless it
    /// already has one).
    pub fn resolve(&self, state: &State) -> Result<Option<Secret>, SecretError> {
        Ok(self.find(Some(state))?.map(|(secret, _)| secret))
    }

    /// Where the secret [`Self::resolve`] would use comes from (`AZVER_ENROLL_SECRET`, the file,
    /// the state dir), read and checked the same way but never returned: for `config check`.
    /// Without a state dir (not created yet) the installer's copy cannot exist.
    pub fn describe(&self, state: Option<&State>) -> Result<Option<String>, SecretError> {
        Ok(self.find(state)?.map(|(_, origin)| origin))
    }

    fn find(&self, state: Option<&State>) -> Result<Option<(Secret, String)>, SecretError> {
        if let Some(text) = &self.env {
            let origin = "AZVER_ENROLL_SECRET".to_owned();
            return Secret::parse(text, &origin).map(|s| Some((s, origin)));
        }
        if let Some(path) = &self.file {
            return Secret::read_file(path).map(|s| Some((s, format!("file {}", path.display()))));
        }
        match state.map(State::enroll_secret).transpose()?.flatten() {
            Some(text) => Secret::parse(&text, "the state dir").map(|s| Some((s, "the state dir".to_owned()))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_trimmed_checked_and_never_shown() {
        let secret = Secret::parse("  es_abc.def\r\n", "test").unwrap();
        assert_eq!(secret.expose(), "es_abc.def");
        assert_eq!(format!("{secret:?}"), "Secret(****)");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"****\"");
        let empty = Secret::parse(" \n", "AZVER_ENROLL_SECRET").unwrap_err().to_string();
        assert_eq!(empty, "the enrollment secret from AZVER_ENROLL_SECRET is empty");
        assert!(Secret::parse("a\nb", "f").unwrap_err().to_string().contains("single line"));
    }

    #[test]
    fn environment_beats_file_beats_the_installer_copy() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let file = dir.path().join("secret.txt");
        std::fs::write(&file, "from-file\n").unwrap();
        state.set_enroll_secret("from-installer").unwrap();
        let resolve = |env: Option<&str>, file: Option<&Path>| {
            SecretSources { env: env.map(str::to_owned), file: file.map(Path::to_owned) }
                .resolve(&state)
                .unwrap()
                .map(|s| s.expose().to_owned())
        };
        assert_eq!(resolve(Some("from-env"), Some(&file)).as_deref(), Some("from-env"));
        assert_eq!(resolve(None, Some(&file)).as_deref(), Some("from-file"));
        assert_eq!(resolve(None, None).as_deref(), Some("from-installer"));
        let missing = SecretSources { env: None, file: Some(dir.path().join("nope")) }.resolve(&state).unwrap_err();
        assert!(missing.to_string().starts_with("cannot read the enrollment secret file"), "{missing}");
    }
}

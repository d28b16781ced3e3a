//! The agent's state directory: the stable host id and the report sequence number.
//!
//! Files are replaced atomically (write a temporary file, fsync, rename, fsync the folder), so a
//! crash or power loss leaves either the old or the new value, never a torn one. One state dir
//! per simulated host lets many agents run from one machine.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why the state dir could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The folder or a file in it could not be created, read or written.
    #[error("state dir {path}: {source}; pass --state-dir DIR to use another folder")]
    Io {
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A state file holds something that is not what azver wrote.
    #[error("state file {path} is corrupt ({detail}); remove it to start afresh")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// The default state dir for this OS: where services keep their data.
pub fn default_dir() -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
        base.join("azver")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/azver")
    } else {
        PathBuf::from("/var/lib/azver")
    }
}

/// An opened state dir.
#[derive(Debug, Clone)]
pub struct State {
    dir: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.display().to_string(), source }
}

impl State {
    /// Opens (creating if needed) the state dir.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        Ok(Self { dir: dir.to_owned() })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The host id, generated (a random UUID) and kept on first use.
    pub fn host_id(&self) -> Result<String, StateError> {
        match self.existing_host_id()? {
            Some(id) => Ok(id),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                write_atomically(&self.dir.join("host-id"), format!("{id}\n").as_bytes())?;
                Ok(id)
            }
        }
    }

    /// The host id if one was generated, without creating it: for readers such as `status`,
    /// which may run while the service is starting and must not race it for the file.
    pub fn existing_host_id(&self) -> Result<Option<String>, StateError> {
        let path = self.dir.join("host-id");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let id = text.trim();
                if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
                    return Err(StateError::Corrupt {
                        path: path.display().to_string(),
                        detail: "not a host id".into(),
                    });
                }
                Ok(Some(id.to_owned()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// The next report sequence number (1, 2, ...), persisted before it is used.
    pub fn next_sequence(&self) -> Result<u64, StateError> {
        let path = self.dir.join("sequence");
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|e| StateError::Corrupt { path: path.display().to_string(), detail: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_error(&path)(e)),
        };
        let next = current + 1;
        write_atomically(&path, format!("{next}\n").as_bytes())?;
        Ok(next)
    }
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
    file.write_all(bytes).map_err(io_error(&tmp))?;
    file.sync_all().map_err(io_error(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_error(path))?;
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        // Make the rename itself durable.
        std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(io_error(parent))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_id_is_stable_and_sequence_increases() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("nested/state")).unwrap();
        let id = state.host_id().unwrap();
        assert_eq!(uuid::Uuid::parse_str(&id).map(|u| u.get_version_num()), Ok(4));
        assert_eq!(State::open(state.dir()).unwrap().host_id().unwrap(), id);
        assert_eq!(state.next_sequence().unwrap(), 1);
        assert_eq!(state.next_sequence().unwrap(), 2);
        assert!(!state.dir().join("sequence.tmp").exists());
    }

    #[test]
    fn corrupt_files_are_reported_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sequence"), "seven").unwrap();
        std::fs::write(dir.path().join("host-id"), "\n").unwrap();
        let state = State::open(dir.path()).unwrap();
        let error = state.next_sequence().unwrap_err().to_string();
        assert!(error.contains("sequence is corrupt") && error.contains("remove it"), "{error}");
        assert!(matches!(state.host_id(), Err(StateError::Corrupt { .. })));
        assert_eq!(std::fs::read_to_string(dir.path().join("sequence")).unwrap(), "seven");
    }
}

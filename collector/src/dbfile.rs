//! Checks on an SQLite `--db` path before SQLite opens it, so that a typo or a wrong user gets
//! one line with the cause and the fix instead of SQLite's "unable to open database file".
//!
//! Commands that read or change an existing fleet (`report`, `hosts`, `host`, `purge`, `backup`,
//! `secret list|revoke`, `token list|revoke`, `migrate --from`) refuse a path that does not exist:
//! opening it would create an empty database and print "0 hosts". Only `serve`, `migrate --to` and
//! the `create` commands (`secret create`, `token create`: a first credential before the first
//! `serve`) make a new database.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Whether the command may create the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The database must exist already.
    Existing,
    /// A missing database is created (its folder must exist).
    CreateIfMissing,
}

/// Why the database file cannot be used; each message names the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DbFileError {
    /// A read command was pointed at a path that does not exist.
    #[error(
        "database {path} does not exist: check --db (AZVER_DB); only `serve`, `migrate --to`, `secret create` and \
         `token create` create a database"
    )]
    Missing {
        /// The `--db` path.
        path: PathBuf,
    },
    /// The folder the database would live in does not exist.
    #[error("cannot create database {path}: the folder {folder} does not exist; create it first")]
    NoFolder {
        /// The `--db` path.
        path: PathBuf,
        /// Its parent folder.
        folder: PathBuf,
    },
    /// Something other than a file is at the path (a folder, a device).
    #[error("database {path} is not a file (a folder?): point --db at the database file")]
    NotAFile {
        /// The `--db` path.
        path: PathBuf,
    },
    /// The file (or its `-wal`/`-shm` companion, or its folder) is not ours to write.
    #[error(
        "cannot open database {path}: permission denied on {denied}; run the command as the user that owns it \
         (packaged: `sudo runuser -u azver-collector -- azver-collector ...`)"
    )]
    PermissionDenied {
        /// The `--db` path.
        path: PathBuf,
        /// The file or folder that refused.
        denied: PathBuf,
    },
    /// Any other I/O failure.
    #[error("cannot open database {path}: {source}")]
    Io {
        /// The `--db` path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Checks `path` for the command's `need`; on success SQLite can open (or create) it.
///
/// For [`Need::CreateIfMissing`] a missing file is created empty (SQLite treats an empty file as
/// an empty database), so that the operating system, not SQLite, says why it cannot be.
pub fn check(path: &Path, need: Need) -> Result<(), DbFileError> {
    let owned = || path.to_owned();
    let io = |source: std::io::Error, denied: &Path| match source.kind() {
        ErrorKind::PermissionDenied => DbFileError::PermissionDenied { path: owned(), denied: denied.to_owned() },
        _ => DbFileError::Io { path: owned(), source },
    };
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err(DbFileError::NotAFile { path: owned() }),
        Ok(_) => {
            // Read and write: every command migrates the schema and SQLite keeps a WAL beside it;
            // WAL files left by another user (root) lock everyone else out.
            std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(|e| io(e, path))?;
            for suffix in ["-wal", "-shm"] {
                let companion = companion(path, suffix);
                if companion.exists() {
                    std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&companion)
                        .map_err(|e| io(e, &companion))?;
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => match need {
            Need::Existing => Err(DbFileError::Missing { path: owned() }),
            Need::CreateIfMissing => {
                let folder = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                    _ => PathBuf::from("."),
                };
                if !folder.is_dir() {
                    return Err(DbFileError::NoFolder { path: owned(), folder });
                }
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map(drop)
                    .or_else(|e| if e.kind() == ErrorKind::AlreadyExists { Ok(()) } else { Err(io(e, &folder)) })
            }
        },
        Err(e) => Err(io(e, path)),
    }
}

/// `fleet.db` → `fleet.db-wal`.
fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_has_its_own_message() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("typo.db");
        let error = check(&missing, Need::Existing).unwrap_err();
        assert!(matches!(error, DbFileError::Missing { .. }), "{error}");
        assert!(error.to_string().contains(&missing.display().to_string()), "{error}");
        assert!(!missing.exists(), "a read command must not create the file");

        let nested = dir.path().join("no-such-folder/fleet.db");
        let error = check(&nested, Need::CreateIfMissing).unwrap_err();
        assert!(matches!(error, DbFileError::NoFolder { .. }), "{error}");

        let error = check(dir.path(), Need::Existing).unwrap_err();
        assert!(matches!(error, DbFileError::NotAFile { .. }), "{error}");

        check(&missing, Need::CreateIfMissing).unwrap();
        assert!(missing.is_file());
        check(&missing, Need::Existing).unwrap();
    }
}

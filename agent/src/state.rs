//! The agent's state directory: the stable host id, the report sequence number and the
//! credentials (the node key the collector issued, and an enrollment secret handed over by an
//! installer).
//!
//! The whole state dir is private: the spool holds other users' names, paths and tenant ids. On
//! Unix the folders are 0700 and every file is created 0600 (never readable by others, not even
//! for an instant); on Windows the folder is restricted with `icacls` to SYSTEM, Administrators
//! and its owner, and its files inherit that. Opening a state dir tightens one an older version
//! left open (0755 folders, 0644 files). Credentials are, in addition, restricted on Windows to
//! SYSTEM and Administrators before the secret is written.
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
        crate::program_data::azver_dir()
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
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(io_error(dir))?;
        restrict_dir(dir)?;
        Ok(Self { dir: dir.to_owned() })
    }

    /// A state dir that already exists, opened without creating anything (`config check`).
    pub fn existing(dir: &Path) -> Self {
        Self { dir: dir.to_owned() }
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

    /// The node key the collector issued at enrollment, if any.
    pub fn node_key(&self) -> Result<Option<String>, StateError> {
        self.read_private(NODE_KEY)
    }

    /// Keeps the node key for every later report.
    pub fn set_node_key(&self, key: &str) -> Result<(), StateError> {
        write_private(&self.dir.join(NODE_KEY), format!("{key}\n").as_bytes())
    }

    /// Forgets a node key the collector no longer accepts (the agent then enrolls again).
    pub fn forget_node_key(&self) -> Result<(), StateError> {
        remove_if_present(&self.dir.join(NODE_KEY))
    }

    /// An enrollment secret an installer handed over (the MSI's `ENROLL_SECRET`), if any.
    pub fn enroll_secret(&self) -> Result<Option<String>, StateError> {
        self.read_private(ENROLL_SECRET)
    }

    /// Keeps an enrollment secret handed over by an installer, privately.
    pub fn set_enroll_secret(&self, secret: &str) -> Result<(), StateError> {
        write_private(&self.dir.join(ENROLL_SECRET), format!("{secret}\n").as_bytes())
    }

    fn read_private(&self, name: &str) -> Result<Option<String>, StateError> {
        let path = self.dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let value = text.trim();
                if value.is_empty() || value.len() > 1024 || value.chars().any(char::is_control) {
                    return Err(StateError::Corrupt { path: path.display().to_string(), detail: "not a key".into() });
                }
                Ok(Some(value.to_owned()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// The next report sequence number (1, 2, ...), persisted before it is used.
    pub fn next_sequence(&self) -> Result<u64, StateError> {
        let next = self.sequence()?.saturating_add(1);
        write_atomically(&self.dir.join("sequence"), format!("{next}\n").as_bytes())?;
        Ok(next)
    }

    /// The last sequence number used (0 before the first report).
    fn sequence(&self) -> Result<u64, StateError> {
        let path = self.dir.join("sequence");
        match std::fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|e| StateError::Corrupt { path: path.display().to_string(), detail: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Continues from `last`, the last sequence the collector holds for this host, when it is
    /// above this host's counter (a lost or restored `sequence` file), so the next report is
    /// stored instead of being taken for an older one. Returns whether the counter moved. A
    /// value the collector cannot hold (above `i64::MAX - 1`) is ignored.
    pub fn adopt_sequence(&self, last: u64) -> Result<bool, StateError> {
        if last >= i64::MAX as u64 || last <= self.sequence()? {
            return Ok(false);
        }
        write_atomically(&self.dir.join("sequence"), format!("{last}\n").as_bytes())?;
        Ok(true)
    }
}

/// The node key file in the state dir.
pub const NODE_KEY: &str = "node-key";
/// The enrollment secret an installer handed over, in the state dir.
pub const ENROLL_SECRET: &str = "enroll-secret";

fn remove_if_present(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(path)(e)),
        _ => Ok(()),
    }
}

/// Replaces `path` with `bytes` atomically and durably; on Unix the file is 0600.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    write_file(path, bytes, false)
}

/// Makes a folder of the state dir private to the service account, and what it holds two levels
/// down (the spool and its reports): a state dir an older version created 0755 with 0644 files
/// is tightened. Links are left alone, never followed.
pub fn restrict_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        restrict_unix(dir, 0o700, 2)
    }
    #[cfg(windows)]
    {
        restrict_folder(dir)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Sets `mode` on `path` when it grants anything to group or others, then (for a folder, down
/// to `depth` more levels) on what it holds: folders 0700, files 0600.
#[cfg(unix)]
fn restrict_unix(path: &Path, mode: u32, depth: usize) -> Result<(), StateError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::symlink_metadata(path).map_err(io_error(path))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_error(path))?;
    }
    if meta.is_dir() && depth > 0 {
        for entry in std::fs::read_dir(path).map_err(io_error(path))? {
            let entry = entry.map_err(io_error(path))?;
            let kind = entry.file_type().map_err(io_error(path))?;
            let child = entry.path();
            let restricted = if kind.is_dir() {
                restrict_unix(&child, 0o700, depth - 1)
            } else if kind.is_file() {
                restrict_unix(&child, 0o600, 0)
            } else {
                Ok(())
            };
            // A file renamed or removed since the listing (another agent process finishing an
            // atomic write, a spool file delivered) has nothing left to restrict.
            match restricted {
                Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    Ok(())
}

/// Like [`write_atomically`], for credentials: only the owner (the service account) can read
/// the file, from the moment it exists.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    write_file(path, bytes, true)
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), StateError> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // A leftover temporary file keeps its old mode: remove it so the mode below applies.
        remove_if_present(&tmp)?;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io_error(&tmp))?;
    // On Unix every file of the state dir is private; `private` adds the Windows ACL.
    #[cfg(not(windows))]
    let _ = private;
    #[cfg(windows)]
    if private {
        restrict_to_administrators(&tmp)?;
    }
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

/// Restricts a state folder to SYSTEM (S-1-5-18), Administrators (S-1-5-32-544) and its owner
/// (OWNER RIGHTS, S-1-3-4: the account that created a `--state-dir` of its own), inherited by
/// everything in it; existing files that inherit are updated by Windows itself.
#[cfg(windows)]
fn restrict_folder(path: &Path) -> Result<(), StateError> {
    icacls(
        path,
        &[
            "/inheritance:r",
            "/grant:r",
            "*S-1-5-18:(OI)(CI)F",
            "/grant:r",
            "*S-1-5-32-544:(OI)(CI)F",
            "/grant:r",
            "*S-1-3-4:(OI)(CI)F",
        ],
    )
}

/// Removes inherited permissions from `path` and grants full control to SYSTEM (S-1-5-18) and
/// the Administrators group (S-1-5-32-544) only. Runs Windows' own `icacls` by absolute path (by
/// SID, so it works in every display language).
#[cfg(windows)]
fn restrict_to_administrators(path: &Path) -> Result<(), StateError> {
    icacls(path, &["/inheritance:r", "/grant:r", "*S-1-5-18:F", "/grant:r", "*S-1-5-32-544:F"])
}

/// Runs Windows' own `icacls` on `path` with `args`.
#[cfg(windows)]
fn icacls(path: &Path, args: &[&str]) -> Result<(), StateError> {
    let system_root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
    let icacls = Path::new(&system_root).join("System32").join("icacls.exe");
    let output = std::process::Command::new(&icacls).arg(path).args(args).output().map_err(io_error(path))?;
    if !output.status.success() {
        return Err(StateError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(format!(
                "icacls could not restrict access: {}",
                String::from_utf8_lossy(&output.stdout).trim()
            )),
        });
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
        // The collector holds a later sequence (a lost `sequence` file): continue from it.
        assert!(state.adopt_sequence(40).unwrap());
        assert_eq!(state.next_sequence().unwrap(), 41);
        // Never backwards, never to a value the collector cannot hold.
        assert!(!state.adopt_sequence(7).unwrap());
        assert!(!state.adopt_sequence(u64::MAX).unwrap());
        assert_eq!(state.next_sequence().unwrap(), 42);
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

    /// Issue 15: the state dir and spool were 0755/0644 while the spool holds other users'
    /// names, paths and tenant ids. New files are 0600, folders 0700, and an existing open state
    /// dir (from an older version) is tightened when opened; links in it are not followed.
    #[cfg(unix)]
    #[test]
    fn the_state_dir_and_spool_are_private_and_old_ones_are_tightened() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh");
        let state = State::open(&fresh).unwrap();
        state.next_sequence().unwrap();
        let spool = crate::spool::Spool::open(&fresh, 10, 1 << 20).unwrap();
        spool
            .push(&azver_proto::v1::InventoryReport { sequence: 1, report_id: "r".into(), ..Default::default() })
            .unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&fresh.join("sequence")), 0o600);
        assert_eq!(mode(&fresh.join("spool")), 0o700);
        let spooled = spool.list().unwrap();
        assert_eq!(mode(&spooled[0].path), 0o600);

        let old = dir.path().join("old");
        std::fs::create_dir_all(old.join("spool")).unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "not ours").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, old.join("link")).unwrap();
        for (path, m) in [(&old, 0o755), (&old.join("spool"), 0o755)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
        }
        for file in ["host-id", "status.json", "spool/00000000000000000001-x.report"] {
            std::fs::write(old.join(file), "x").unwrap();
            std::fs::set_permissions(old.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        State::open(&old).unwrap();
        assert_eq!(mode(&old), 0o700);
        assert_eq!(mode(&old.join("spool")), 0o700);
        for file in ["host-id", "status.json", "spool/00000000000000000001-x.report"] {
            assert_eq!(mode(&old.join(file)), 0o600, "{file}");
        }
        assert_eq!(mode(&outside), 0o644, "a link's target outside the state dir is not touched");
    }

    #[test]
    fn credentials_are_private_and_can_be_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.node_key().unwrap(), None);
        // A stale temporary file with loose permissions must not lend them to the key.
        std::fs::write(dir.path().join("node-key.tmp"), "old").unwrap();
        state.set_node_key("nk_abc").unwrap();
        assert_eq!(state.node_key().unwrap().as_deref(), Some("nk_abc"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(NODE_KEY)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "node key mode {mode:o}");
        }
        state.forget_node_key().unwrap();
        state.forget_node_key().unwrap();
        assert_eq!(state.node_key().unwrap(), None);
        state.set_enroll_secret("es_1.secret").unwrap();
        assert_eq!(state.enroll_secret().unwrap().as_deref(), Some("es_1.secret"));
        std::fs::write(dir.path().join(ENROLL_SECRET), "\n").unwrap();
        assert!(matches!(state.enroll_secret(), Err(StateError::Corrupt { .. })));
    }
}

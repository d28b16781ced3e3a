//! The one seam between detection and the machine: a [`HostView`] knows the target OS, the root
//! being scanned, the user homes and the environment, and performs every file-system read.
//!
//! Two modes:
//! - **live**: the running machine; paths are native and the process environment is used;
//! - **rooted** (`--root DIR`): a mounted disk image or container root scanned as if it were `/`
//!   (or `C:\`). Every path, including absolute symlink targets, resolves inside DIR; nothing
//!   comes from the running process (no `PATH`, `HOME`, `PSModulePath`, user id).
//!
//! Detectors only ever see [`HostPath`]s, the paths as seen from inside the host, so Windows and
//! macOS layouts are testable on Linux from fixture trees.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use azver_core::{OsFamily, ScanError, ScanErrorKind};

/// Most symbolic links followed while resolving one path (Linux's own limit is 40).
const MAX_SYMLINK_HOPS: usize = 40;

/// Largest file a detector reads; real manifests and metadata are far smaller (Az.psd1 with its
/// signature block is about 30 KiB).
pub(crate) const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A path as seen from inside the scanned host: `/opt/az` or `C:\Program Files\...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPath {
    text: String,
    windows: bool,
}

impl HostPath {
    /// A path in the target's own syntax.
    pub fn new(text: impl Into<String>, os: OsFamily) -> Self {
        Self { text: text.into(), windows: os == OsFamily::Windows }
    }

    /// This path with one more component (or several, separated by `/`).
    pub fn join(&self, name: &str) -> Self {
        let sep = self.separator();
        let mut text = self.text.trim_end_matches(['/', '\\']).to_owned();
        for part in name.split(['/', '\\']).filter(|p| !p.is_empty()) {
            text.push(sep);
            text.push_str(part);
        }
        if text.is_empty() {
            text.push(sep);
        }
        Self { text, windows: self.windows }
    }

    /// The parent folder, if any.
    pub fn parent(&self) -> Option<Self> {
        let trimmed = self.text.trim_end_matches(['/', '\\']);
        let cut = trimmed.rfind(['/', '\\'])?;
        let parent = &trimmed[..cut];
        let parent = if parent.is_empty() || (self.windows && parent.ends_with(':')) {
            format!("{parent}{}", self.separator())
        } else {
            parent.to_owned()
        };
        Some(Self { text: parent, windows: self.windows })
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        let trimmed = self.text.trim_end_matches(['/', '\\']);
        trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed)
    }

    /// The path as text, in the target's syntax.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn separator(&self) -> char {
        if self.windows { '\\' } else { '/' }
    }

    /// Components below the root (a Windows drive is dropped: a rooted scan maps `C:` to DIR).
    fn components(&self) -> impl Iterator<Item = &str> {
        let mut parts = self.text.split(['/', '\\']).filter(|p| !p.is_empty()).peekable();
        if self.windows && parts.peek().is_some_and(|p| p.len() == 2 && p.ends_with(':')) {
            parts.next();
        }
        parts
    }

    /// True when `self` is `other` or lies below it. Components compare case-insensitively for
    /// Windows paths; elsewhere exactly (callers compare resolved keys when case matters).
    pub fn starts_with(&self, other: &HostPath) -> bool {
        let mine: Vec<&str> = self.components().collect();
        let theirs: Vec<&str> = other.components().collect();
        mine.len() >= theirs.len()
            && mine.iter().zip(&theirs).all(|(a, b)| if self.windows { a.eq_ignore_ascii_case(b) } else { a == b })
    }
}

impl fmt::Display for HostPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A user's home folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// Account name (the folder's name; `root` for `/root`).
    pub user: String,
    /// The home folder.
    pub path: HostPath,
}

/// Why a read failed; becomes a [`ScanError`] with the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsError {
    /// Machine-readable kind.
    pub kind: ScanErrorKind,
    /// Human-readable detail.
    pub message: String,
}

impl FsError {
    fn new(kind: ScanErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    fn from_io(error: &io::Error) -> Self {
        let kind = match error.kind() {
            io::ErrorKind::PermissionDenied => ScanErrorKind::PermissionDenied,
            io::ErrorKind::IsADirectory | io::ErrorKind::NotADirectory => ScanErrorKind::WrongFileType,
            _ if error.raw_os_error() == Some(40) && cfg!(unix) => ScanErrorKind::SymlinkLoop,
            _ => ScanErrorKind::Io,
        };
        Self::new(kind, error.to_string())
    }

    /// True when the path simply is not there (not worth reporting).
    pub fn is_not_found(&self) -> bool {
        self.kind == ScanErrorKind::Io && self.message == NOT_FOUND
    }

    /// Attaches the path this error is about.
    pub fn at(self, path: &HostPath) -> ScanError {
        ScanError { path: path.to_string(), kind: self.kind, message: self.message }
    }
}

const NOT_FOUND: &str = "not found";

/// Ends a scan early: a deadline, and a flag the service raises on shutdown. Every file-system
/// operation of a [`HostView`] checks it first, so a scan that runs too long (a huge or hostile
/// tree) or outlives its service stops at its next read instead of holding the process.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl Stop {
    /// A stop that trips at `deadline` (never, when `None`) or when [`Stop::stop`] is called.
    pub fn new(deadline: Option<Instant>) -> Self {
        Self { flag: Arc::default(), deadline }
    }

    /// Stops every scan holding a clone of this value.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// True once stopped or past the deadline.
    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn check(&self) -> Result<(), FsError> {
        if self.is_stopped() {
            return Err(FsError::new(ScanErrorKind::Io, "not read: the scan was stopped (deadline or shutdown)"));
        }
        Ok(())
    }
}

/// What a path is, after following symlinks (inside the root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Something else (socket, device).
    Other,
}

/// What a directory entry is, as its listing says (a link is not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (or a Windows junction), not followed.
    Symlink,
    /// Anything else.
    Other,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name (lossily decoded when it is not valid Unicode).
    pub name: String,
    /// Its type, links not followed.
    pub kind: EntryKind,
}

/// The scanned host as detectors see it. See the module documentation.
#[derive(Debug, Clone)]
pub struct HostView {
    os: OsFamily,
    root: Option<PathBuf>,
    env: BTreeMap<String, String>,
    privileged: bool,
    current_user: Option<Home>,
    stop: Stop,
}

impl HostView {
    /// The running machine, with the given environment (the process's, or a test's map).
    pub fn live(env: BTreeMap<String, String>) -> Self {
        let os = OsFamily::current();
        let home_var = if os == OsFamily::Windows { "USERPROFILE" } else { "HOME" };
        let current_user = env.get(home_var).filter(|h| !h.is_empty()).map(|home| {
            let path = HostPath::new(home.clone(), os);
            let user = env
                .get(if os == OsFamily::Windows { "USERNAME" } else { "USER" })
                .cloned()
                .unwrap_or_else(|| path.file_name().to_owned());
            Home { user, path }
        });
        Self { os, root: None, env, privileged: is_privileged(), current_user, stop: Stop::default() }
    }

    /// A mounted root scanned as a host of the given OS. Fails when `root` is not a directory.
    pub fn rooted(root: &Path, os: OsFamily) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "scan root is not a directory"));
        }
        Ok(Self {
            os,
            root: Some(root),
            env: BTreeMap::new(),
            privileged: true,
            current_user: None,
            stop: Stop::default(),
        })
    }

    /// The same view with a given environment: simulates a host's own variables (`PATH`,
    /// `PSModulePath`, `ProgramFiles`) over a rooted tree, for tests and simulations. The command
    /// line never does this: a `--root` scan uses no environment at all.
    pub fn with_env(mut self, env: BTreeMap<String, String>) -> Self {
        self.env = env;
        self
    }

    /// The same view, stopping every read once `stop` trips (see [`Stop`]).
    pub fn with_stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// True once this view's [`Stop`] has tripped: what the scan found since is incomplete.
    pub fn is_stopped(&self) -> bool {
        self.stop.is_stopped()
    }

    /// The target OS family.
    pub fn os(&self) -> OsFamily {
        self.os
    }

    /// True when scanning a mounted root rather than the running machine.
    pub fn is_rooted(&self) -> bool {
        self.root.is_some()
    }

    /// An environment variable of the running agent; always `None` for a rooted scan.
    pub fn env(&self, name: &str) -> Option<&str> {
        if self.os == OsFamily::Windows {
            // Windows environment names are case-insensitive.
            self.env.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        } else {
            self.env.get(name).map(String::as_str)
        }
        .filter(|v| !v.is_empty())
    }

    /// A path in the target's syntax.
    pub fn path(&self, text: &str) -> HostPath {
        HostPath::new(text, self.os)
    }

    /// The system drive's root for Windows targets (`C:\`), `/` otherwise.
    pub fn system_root(&self) -> HostPath {
        if self.os == OsFamily::Windows {
            let drive = self.env("SystemDrive").unwrap_or("C:");
            self.path(&format!("{drive}\\"))
        } else {
            self.path("/")
        }
    }

    /// Resolves a host path to a real path on this machine, plus the host path it resolves to
    /// (symlinks followed). Rooted scans never leave the root: absolute link targets are
    /// re-rooted and `..` stops at the root.
    pub fn resolve(&self, path: &HostPath) -> Result<(PathBuf, HostPath), FsError> {
        self.stop.check()?;
        let Some(root) = &self.root else {
            let real = PathBuf::from(path.as_str());
            let resolved = real.canonicalize().map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    FsError::new(ScanErrorKind::Io, NOT_FOUND)
                } else {
                    FsError::from_io(&e)
                }
            })?;
            let shown = HostPath::new(resolved.to_string_lossy().into_owned(), self.os);
            return Ok((resolved, shown));
        };
        let case_insensitive = self.os != OsFamily::Linux;
        let mut pending: Vec<String> = path.components().map(str::to_owned).collect();
        pending.reverse();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    // `/..` is `/` on the host itself, so a path the scan builds may say it; a
                    // relative link target that climbs above the root, though, points outside
                    // the scanned image (at whatever the scanning machine has there).
                    if resolved.pop().is_none() && hops > 0 {
                        return Err(FsError::new(
                            ScanErrorKind::OutsideRoot,
                            "a symbolic link climbs above the scanned root; not followed",
                        ));
                    }
                    continue;
                }
                _ => {}
            }
            let mut real = root.clone();
            real.extend(&resolved);
            let mut name = component;
            let mut candidate = real.join(&name);
            let mut meta = std::fs::symlink_metadata(&candidate);
            if case_insensitive
                && meta.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
                && let Some(actual) = find_ignoring_case(&real, &name)
            {
                name = actual;
                candidate = real.join(&name);
                meta = std::fs::symlink_metadata(&candidate);
            }
            match meta {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(FsError::new(ScanErrorKind::Io, NOT_FOUND));
                }
                Err(e) => return Err(FsError::from_io(&e)),
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(FsError::new(
                            ScanErrorKind::SymlinkLoop,
                            format!("more than {MAX_SYMLINK_HOPS} symbolic links (a loop?)"),
                        ));
                    }
                    let target = std::fs::read_link(&candidate).map_err(|e| FsError::from_io(&e))?;
                    let target = target.to_string_lossy();
                    let absolute = target.starts_with(['/', '\\']) || target.as_bytes().get(1) == Some(&b':');
                    if absolute {
                        resolved.clear();
                    }
                    let target_path = HostPath::new(target.into_owned(), self.os);
                    let mut parts: Vec<String> = target_path.components().map(str::to_owned).collect();
                    if !absolute && target_path.windows {
                        // A relative Windows target keeps its first component.
                        parts = target_path
                            .as_str()
                            .split(['/', '\\'])
                            .filter(|p| !p.is_empty())
                            .map(str::to_owned)
                            .collect();
                    }
                    pending.extend(parts.into_iter().rev());
                }
                Ok(_) => resolved.push(name),
            }
        }
        let mut real = root.clone();
        real.extend(&resolved);
        let mut shown = self.system_root();
        for part in &resolved {
            shown = shown.join(part);
        }
        Ok((real, shown))
    }

    /// What `path` is, following links.
    pub fn kind(&self, path: &HostPath) -> Result<Kind, FsError> {
        let (real, _) = self.resolve(path)?;
        let meta = std::fs::metadata(&real).map_err(|e| FsError::from_io(&e))?;
        Ok(if meta.is_dir() {
            Kind::Dir
        } else if meta.is_file() {
            Kind::File
        } else {
            Kind::Other
        })
    }

    /// True when `path` is a directory (any error counts as "no").
    pub fn is_dir(&self, path: &HostPath) -> bool {
        self.kind(path).is_ok_and(|k| k == Kind::Dir)
    }

    /// Names in a directory, sorted, so scans are deterministic.
    pub fn list(&self, path: &HostPath) -> Result<Vec<String>, FsError> {
        let (real, _) = self.resolve(path)?;
        let entries = std::fs::read_dir(&real).map_err(|e| FsError::from_io(&e))?;
        let mut names = Vec::new();
        for entry in entries {
            self.stop.check()?;
            let entry = entry.map_err(|e| FsError::from_io(&e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// The entries of a directory with their types as the listing gives them (links are not
    /// followed and no entry is stat'ed again), sorted by name: what bounded walks use, since
    /// [`HostView::kind`] per entry would resolve every path component again.
    pub fn entries(&self, path: &HostPath) -> Result<Vec<Entry>, FsError> {
        let (real, _) = self.resolve(path)?;
        let listing = std::fs::read_dir(&real).map_err(|e| FsError::from_io(&e))?;
        let mut out = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|e| FsError::from_io(&e))?;
            let kind = match entry.file_type() {
                Ok(t) if t.is_symlink() => EntryKind::Symlink,
                Ok(t) if t.is_dir() => EntryKind::Dir,
                Ok(t) if t.is_file() => EntryKind::File,
                _ => EntryKind::Other,
            };
            out.push(Entry { name: entry.file_name().to_string_lossy().into_owned(), kind });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Subfolders of `path` whose names satisfy `keep`; a missing folder is simply empty.
    ///
    /// An entry that `keep` selects but that cannot be resolved (a link loop, a link out of the
    /// root, no permission) is recorded in `errors`, so it is never silently dropped; a dangling
    /// link is skipped quietly, as a shell would.
    pub fn subdirs(
        &self,
        path: &HostPath,
        keep: impl Fn(&str) -> bool,
        errors: &mut Vec<ScanError>,
    ) -> Result<Vec<HostPath>, FsError> {
        let names = match self.list(path) {
            Ok(names) => names,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for name in names.iter().filter(|n| keep(n)) {
            let entry = path.join(name);
            match self.kind(&entry) {
                Ok(Kind::Dir) => out.push(entry),
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => errors.push(e.at(&entry)),
            }
        }
        Ok(out)
    }

    /// Reads a whole file, refusing directories and anything over [`MAX_FILE_BYTES`].
    pub fn read(&self, path: &HostPath) -> Result<Vec<u8>, FsError> {
        self.read_limited(path, MAX_FILE_BYTES)
    }

    /// Reads a file of at most `limit` bytes.
    pub fn read_limited(&self, path: &HostPath, limit: u64) -> Result<Vec<u8>, FsError> {
        use std::io::Read as _;
        let (file, len) = self.open_regular(path)?;
        if len > limit {
            return Err(FsError::new(ScanErrorKind::TooLarge, format!("{len} bytes, more than the {limit} allowed")));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| FsError::from_io(&e))?;
        if bytes.len() as u64 > limit {
            return Err(FsError::new(ScanErrorKind::TooLarge, format!("more than the {limit} bytes allowed")));
        }
        Ok(bytes)
    }

    /// Reads the first `limit` bytes of a file (launcher scripts, shebang lines).
    pub fn read_head(&self, path: &HostPath, limit: usize) -> Result<Vec<u8>, FsError> {
        use std::io::Read as _;
        let (file, _) = self.open_regular(path)?;
        let mut bytes = Vec::with_capacity(limit.min(64 * 1024));
        file.take(limit as u64).read_to_end(&mut bytes).map_err(|e| FsError::from_io(&e))?;
        Ok(bytes)
    }

    /// Opens a regular file for reading and returns it with its length.
    ///
    /// The type is checked on the opened descriptor (`fstat`), not on the path beforehand: a
    /// user who swaps the file for a FIFO or a device between a check and the open would
    /// otherwise make the open (or the read) block forever. On Unix the open itself never
    /// blocks (`O_NONBLOCK`; a FIFO without a writer opens at once, and is then refused), takes
    /// no controlling terminal (`O_NOCTTY`), and does not follow a symbolic link in the last
    /// component (`O_NOFOLLOW`): [`HostView::resolve`] has followed every link already, inside
    /// the root, so a link there now was put in after resolution. Windows has no FIFOs in the
    /// file system; the type of the opened handle is checked the same way.
    fn open_regular(&self, path: &HostPath) -> Result<(std::fs::File, u64), FsError> {
        let (real, _) = self.resolve(path)?;
        open_regular_at(&real)
    }

    /// Every user home on the host, plus the errors for homes that could not be read.
    ///
    /// Linux: `/home/*` and `/root`; macOS: `/Users/*` and `/var/root`; Windows: `C:\Users\*`
    /// without the built-in profiles. A live, unprivileged scan also includes the current user's
    /// home wherever it is, and reports every home it may not read as skipped.
    pub fn homes(&self) -> (Vec<Home>, Vec<ScanError>) {
        let (parents, extra, builtin): (&[&str], &[(&str, &str)], &[&str]) = match self.os {
            OsFamily::Linux => (&["/home"], &[("root", "/root")], &["lost+found", "linuxbrew"]),
            OsFamily::Macos => (&["/Users"], &[("root", "/var/root")], &["Shared", "Guest"]),
            OsFamily::Windows => (
                &["Users"],
                &[],
                &["Public", "Default", "Default User", "All Users", "defaultuser0", "WDAGUtilityAccount"],
            ),
        };
        let mut homes = Vec::new();
        let mut errors = Vec::new();
        for parent in parents {
            let parent = if self.os == OsFamily::Windows { self.system_root().join(parent) } else { self.path(parent) };
            match self.list(&parent) {
                Ok(names) => {
                    for name in names {
                        if builtin.iter().any(|b| b.eq_ignore_ascii_case(&name)) || name.starts_with('.') {
                            continue;
                        }
                        let path = parent.join(&name);
                        if self.is_dir(&path) {
                            homes.push(Home { user: name, path });
                        }
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => errors.push(e.at(&parent)),
            }
        }
        for (user, path) in extra {
            let path = self.path(path);
            if self.kind(&path).is_ok_and(|k| k == Kind::Dir) || self.list(&path).is_err_and(|e| !e.is_not_found()) {
                homes.push(Home { user: (*user).to_owned(), path });
            }
        }
        if let Some(current) = &self.current_user
            && !homes.iter().any(|h| h.path == current.path)
        {
            homes.push(current.clone());
        }
        // A home we may not even list is skipped, and said so, once.
        homes.retain(|home| match self.list(&home.path) {
            Ok(_) => true,
            Err(e) => {
                if !e.is_not_found() {
                    let mut error = e.at(&home.path);
                    if error.kind == ScanErrorKind::PermissionDenied && !self.privileged {
                        error.message = format!(
                            "skipped: no permission to read this home ({}); run as root or SYSTEM to scan every user",
                            error.message
                        );
                    }
                    errors.push(error);
                }
                false
            }
        });
        (homes, errors)
    }
}

/// Opens `real`, a path [`HostView::resolve`] returned, as described at [`HostView::open_regular`].
fn open_regular_at(real: &Path) -> Result<(std::fs::File, u64), FsError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW);
    }
    let file = options.open(real).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return FsError::new(
                ScanErrorKind::WrongFileType,
                "replaced by a symbolic link while being read; not followed",
            );
        }
        FsError::from_io(&e)
    })?;
    let meta = file.metadata().map_err(|e| FsError::from_io(&e))?;
    if meta.is_dir() {
        return Err(FsError::new(ScanErrorKind::WrongFileType, "a directory where a file was expected"));
    }
    if !meta.is_file() {
        return Err(FsError::new(ScanErrorKind::WrongFileType, "not a regular file"));
    }
    Ok((file, meta.len()))
}

fn find_ignoring_case(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.eq_ignore_ascii_case(name))
}

#[cfg(unix)]
fn is_privileged() -> bool {
    // Only a root agent can read every home; reading /proc avoids an unsafe getuid call.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_privileged() -> bool {
    // On Windows the service runs as SYSTEM; without it, unreadable homes are reported as skipped.
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn host_paths_join_and_split_in_the_targets_syntax() {
        let win = HostPath::new(r"C:\Program Files", OsFamily::Windows);
        assert_eq!(win.join("Microsoft SDKs/Azure").as_str(), r"C:\Program Files\Microsoft SDKs\Azure");
        assert_eq!(win.parent().map(|p| p.to_string()), Some(r"C:\".to_owned()));
        assert_eq!(win.file_name(), "Program Files");
        let unix = HostPath::new("/", OsFamily::Linux);
        assert_eq!(unix.join("opt").join("az").as_str(), "/opt/az");
        assert_eq!(HostPath::new("/opt", OsFamily::Linux).parent().map(|p| p.to_string()), Some("/".to_owned()));
        assert!(HostPath::new("/home/a/x", OsFamily::Linux).starts_with(&HostPath::new("/home/a", OsFamily::Linux)));
        assert!(!HostPath::new("/home/ab", OsFamily::Linux).starts_with(&HostPath::new("/home/a", OsFamily::Linux)));
    }

    #[cfg(unix)]
    #[test]
    fn rooted_resolution_never_leaves_the_root() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("opt/az/bin")).unwrap();
        std::fs::write(root.join("opt/az/bin/python3"), "x").unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        symlink("/opt/az/bin/python3", root.join("usr/bin/abs")).unwrap();
        symlink("../../opt/az/bin/python3", root.join("usr/bin/rel")).unwrap();
        symlink("../../../../../../etc/passwd", root.join("usr/bin/escape")).unwrap();
        symlink("loop2", root.join("usr/bin/loop1")).unwrap();
        symlink("loop1", root.join("usr/bin/loop2")).unwrap();
        let host = HostView::rooted(root, OsFamily::Linux).unwrap();
        let real_root = root.canonicalize().unwrap();
        for link in ["abs", "rel"] {
            let (real, shown) = host.resolve(&host.path(&format!("/usr/bin/{link}"))).unwrap();
            assert_eq!(real, real_root.join("opt/az/bin/python3"));
            assert_eq!(shown.as_str(), "/opt/az/bin/python3");
        }
        // A link whose `..` climbs above the root would read the scanning machine's own files.
        let escape = host.resolve(&host.path("/usr/bin/escape")).unwrap_err();
        assert_eq!(escape.kind, ScanErrorKind::OutsideRoot, "{escape:?}");
        // A path the scan builds itself may say `/..`, which is `/` on the host.
        let (_, shown) = host.resolve(&host.path("/../../opt/az/bin/python3")).unwrap();
        assert_eq!(shown.as_str(), "/opt/az/bin/python3");
        let looped = host.resolve(&host.path("/usr/bin/loop1")).unwrap_err();
        assert_eq!(looped.kind, ScanErrorKind::SymlinkLoop);
    }

    #[test]
    fn windows_and_macos_targets_match_names_ignoring_case() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("Program Files/WindowsPowerShell/Modules")).unwrap();
        let host = HostView::rooted(dir.path(), OsFamily::Windows).unwrap();
        let (real, shown) = host.resolve(&host.path(r"C:\PROGRAM FILES\windowspowershell\Modules")).unwrap();
        assert!(real.ends_with("Program Files/WindowsPowerShell/Modules"));
        assert_eq!(shown.as_str(), r"C:\Program Files\WindowsPowerShell\Modules");
        let linux = HostView::rooted(dir.path(), OsFamily::Linux).unwrap();
        assert!(linux.resolve(&linux.path("/program files")).unwrap_err().is_not_found());
    }

    #[test]
    fn reads_refuse_directories_and_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a.psd1")).unwrap();
        std::fs::write(dir.path().join("big"), vec![b'x'; 100]).unwrap();
        let host = HostView::rooted(dir.path(), OsFamily::Linux).unwrap();
        assert_eq!(host.read(&host.path("/a.psd1")).unwrap_err().kind, ScanErrorKind::WrongFileType);
        assert_eq!(host.read_limited(&host.path("/big"), 10).unwrap_err().kind, ScanErrorKind::TooLarge);
        assert_eq!(host.read_limited(&host.path("/big"), 100).unwrap().len(), 100);
    }

    /// Makes a FIFO with the system's `mkfifo` (the agent itself has no unsafe code).
    #[cfg(unix)]
    pub(crate) fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
        assert!(status.success(), "mkfifo {}", path.display());
    }

    /// Issue 15: a FIFO (or a device) where a manifest should be must be refused at once, never
    /// block the scan; a symbolic link put in place after resolution is not followed.
    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        mkfifo(&dir.path().join("Az.psd1"));
        let host = HostView::rooted(dir.path(), OsFamily::Linux).unwrap();
        for read in
            [host.read(&host.path("/Az.psd1")).map(|_| ()), host.read_head(&host.path("/Az.psd1"), 10).map(|_| ())]
        {
            let error = read.unwrap_err();
            assert_eq!((error.kind, error.message.as_str()), (ScanErrorKind::WrongFileType, "not a regular file"));
        }
        let live = HostView::live(BTreeMap::new());
        let fifo = live.path(&dir.path().join("Az.psd1").to_string_lossy());
        assert_eq!(live.read(&fifo).unwrap_err().kind, ScanErrorKind::WrongFileType);
        // /dev/zero would never end and /dev/tty could block: neither is a regular file.
        for device in ["/dev/zero", "/dev/null"] {
            assert_eq!(live.read(&live.path(device)).unwrap_err().kind, ScanErrorKind::WrongFileType, "{device}");
        }
        // resolve() followed every link already, so a link in the last component of what it
        // returned was put there afterwards (the swap races resolve and open): not followed.
        let link = dir.path().join("swapped.psd1");
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        let error = open_regular_at(&link).unwrap_err();
        assert_eq!(error.kind, ScanErrorKind::WrongFileType);
        assert!(error.message.contains("symbolic link"), "{error:?}");
    }

    /// A stopped view refuses every operation, so a scan past its deadline or its service's
    /// shutdown ends at its next read.
    #[test]
    fn a_stopped_view_reads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "x").unwrap();
        let stop = Stop::new(None);
        let host = HostView::rooted(dir.path(), OsFamily::Linux).unwrap().with_stop(stop.clone());
        assert_eq!(host.read(&host.path("/a")).unwrap(), b"x");
        assert!(!host.is_stopped());
        stop.stop();
        assert!(host.is_stopped());
        let error = host.read(&host.path("/a")).unwrap_err();
        assert!(error.message.contains("scan was stopped"), "{error:?}");
        assert!(host.list(&host.path("/")).is_err());
        let past = Stop::new(Some(Instant::now()));
        let late = HostView::rooted(dir.path(), OsFamily::Linux).unwrap().with_stop(past);
        assert!(late.is_stopped() && late.read(&late.path("/a")).is_err());
    }

    #[test]
    fn rooted_scans_ignore_the_process_environment() {
        let dir = tempfile::tempdir().unwrap();
        let host = HostView::rooted(dir.path(), OsFamily::Linux).unwrap();
        assert_eq!(host.env("PATH"), None);
        assert!(host.is_rooted());
        let live = HostView::live(BTreeMap::from([("PATH".to_owned(), "/bin".to_owned())]));
        assert_eq!(live.env("PATH"), Some("/bin"));
    }
}

//! Where Windows keeps machine-wide application data (`C:\ProgramData` on a stock install), the
//! parent of the agent's state dir, config file and logs.
//!
//! The folder is asked of the Known Folder API (`SHGetKnownFolderPath(FOLDERID_ProgramData)`),
//! not read from the `ProgramData` environment variable: a service and a console do not always
//! see the same environment (under Wine a service gets `ProgramData=C:\users\Public` while the
//! console gets `C:\ProgramData`), and `azver-agent status` in a console must read the state the
//! service writes. The variable, then `C:\ProgramData`, are only fall-backs for when the API
//! fails.

use std::path::PathBuf;

/// The machine-wide application data folder.
pub fn program_data() -> PathBuf {
    #[cfg(windows)]
    if let Some(dir) = known_folder() {
        return dir;
    }
    std::env::var_os("ProgramData")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from)
}

/// `<ProgramData>\azver`: the agent's state dir and the home of its config file and logs.
pub fn azver_dir() -> PathBuf {
    program_data().join("azver")
}

/// `FOLDERID_ProgramData` from the shell, or `None` when the call fails.
#[cfg(windows)]
fn known_folder() -> Option<PathBuf> {
    let dir = known_folders::get_known_folder_path(known_folders::KnownFolder::ProgramData)
        .filter(|d| !d.as_os_str().is_empty());
    if dir.is_none() {
        tracing::warn!("cannot ask Windows for the ProgramData folder; using %ProgramData%");
    }
    dir
}

//! Azure CLI versions from the Windows registry (live Windows scans only): the MSI's Uninstall
//! entries in both registry views, then `HKLM\Software\Microsoft\Microsoft Azure CLI`.

use winreg::RegKey;
use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_32KEY, KEY_WOW64_64KEY};

const UNINSTALL: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall";
const CLI_KEY: &str = r"SOFTWARE\Microsoft\Microsoft Azure CLI";

fn same_folder(a: &str, b: &str) -> bool {
    a.trim_end_matches('\\').eq_ignore_ascii_case(b.trim_end_matches('\\'))
}

/// The registered version of the Azure CLI installed at `install_root` (the CLI2 folder).
pub fn cli_version_for(install_root: &str) -> Option<String> {
    let hklm = RegKey::predef(HKEY_LOCAL_MACHINE);
    let views = [KEY_READ | KEY_WOW64_64KEY, KEY_READ | KEY_WOW64_32KEY];
    let mut unlocated = None;
    for flags in views {
        let Ok(uninstall) = hklm.open_subkey_with_flags(UNINSTALL, flags) else { continue };
        for name in uninstall.enum_keys().filter_map(Result::ok) {
            let Ok(entry) = uninstall.open_subkey_with_flags(&name, flags) else { continue };
            let display: String = entry.get_value("DisplayName").unwrap_or_default();
            if !display.starts_with("Microsoft Azure CLI") {
                continue;
            }
            let Ok(version) = entry.get_value::<String, _>("DisplayVersion") else { continue };
            match entry.get_value::<String, _>("InstallLocation") {
                Ok(location) if !location.trim().is_empty() => {
                    if same_folder(&location, install_root) {
                        return Some(version);
                    }
                }
                _ => unlocated = unlocated.or(Some(version)),
            }
        }
    }
    if unlocated.is_some() {
        return unlocated;
    }
    views.iter().find_map(|&flags| {
        let key = hklm.open_subkey_with_flags(CLI_KEY, flags).ok()?;
        key.get_value::<String, _>("version").ok().filter(|v| !v.trim().is_empty())
    })
}

//! Host facts: name, OS, kernel, architecture. Live scans ask the OS (sysinfo); rooted scans
//! read the root's own files (`/etc/os-release`, `/etc/hostname`, macOS's SystemVersion.plist),
//! so a disk image reports itself, not the machine scanning it.

use azver_core::{HostFacts, OsFamily};

use crate::host::HostView;

/// Facts about the scanned host.
pub fn host_facts(host: &HostView) -> HostFacts {
    let mut facts = HostFacts {
        os_family: Some(host.os()),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..HostFacts::default()
    };
    if !host.is_rooted() {
        facts.hostname = sysinfo::System::host_name().unwrap_or_default();
        facts.os_name = sysinfo::System::name().unwrap_or_default();
        facts.os_version = sysinfo::System::os_version().unwrap_or_default();
        facts.kernel_version = sysinfo::System::kernel_version().unwrap_or_default();
        facts.architecture = std::env::consts::ARCH.to_owned();
        return facts;
    }
    let text = |path: &str| {
        host.read_limited(&host.path(path), 64 * 1024).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    match host.os() {
        OsFamily::Linux => {
            if let Some(release) = text("/etc/os-release").or_else(|| text("/usr/lib/os-release")) {
                facts.os_name = os_release_field(&release, "NAME").unwrap_or_default();
                facts.os_version = os_release_field(&release, "VERSION_ID").unwrap_or_default();
            }
            facts.hostname = text("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        }
        OsFamily::Macos => {
            facts.os_name = "macOS".into();
            if let Some(plist) = text("/System/Library/CoreServices/SystemVersion.plist") {
                facts.os_version = plist_string(&plist, "ProductVersion").unwrap_or_default();
            }
        }
        OsFamily::Windows => facts.os_name = "Windows".into(),
    }
    facts
}

/// The host name a report carries: the configured one (`--hostname`), else the scanned one (the
/// OS host name, or the root's `/etc/hostname`), else the host id. Blank names count as unset, so a
/// report never reaches the collector with an empty host name.
pub fn reported_hostname(configured: Option<&str>, scanned: &str, host_id: &str) -> String {
    [configured.unwrap_or_default(), scanned, host_id]
        .into_iter()
        .map(str::trim)
        .find(|name| !name.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// A field of `/etc/os-release` (shell-style `KEY="value"`).
fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches(['"', '\'']).to_owned())
    })
}

/// The `<string>` after `<key>NAME</key>` in an XML property list.
fn plist_string(text: &str, key: &str) -> Option<String> {
    let after = &text[text.find(&format!("<key>{key}</key>"))?..];
    let start = after.find("<string>")? + "<string>".len();
    let end = after[start..].find("</string>")?;
    Some(after[start..start + end].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_host_names_fall_back_to_the_scanned_name_then_the_id() {
        assert_eq!(reported_hostname(Some("ci-7"), "box", "id-1"), "ci-7");
        assert_eq!(reported_hostname(Some("  "), "box", "id-1"), "box");
        assert_eq!(reported_hostname(None, "", "id-1"), "id-1");
        assert_eq!(reported_hostname(Some(""), " \t", "id-1"), "id-1");
    }

    #[test]
    fn reads_os_release_and_plists() {
        let release = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n";
        assert_eq!(os_release_field(release, "NAME").as_deref(), Some("Debian GNU/Linux"));
        assert_eq!(os_release_field(release, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(os_release_field(release, "ID"), None);
        let plist = "<dict>\n\t<key>ProductName</key>\n\t<string>macOS</string>\n\t<key>ProductVersion</key>\n\t<string>14.5</string>\n</dict>";
        assert_eq!(plist_string(plist, "ProductVersion").as_deref(), Some("14.5"));
        assert_eq!(plist_string(plist, "Missing"), None);
    }
}

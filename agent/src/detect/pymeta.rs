//! Python package metadata: `*.dist-info/METADATA` and `*.egg-info/PKG-INFO` (a folder, or in old
//! setups a file of the same format). Only the header block, up to the first blank line, is read:
//! that is where `Name:` and `Version:` live (core metadata, RFC 822 style).

#![deny(clippy::string_slice, clippy::indexing_slicing)]

use azver_core::{Evidence, ScanError, ScanErrorKind};

use crate::host::{HostPath, HostView};

/// Metadata files are a few KiB; the long description after the header is not needed, but is
/// allowed for up to this size.
const MAX_METADATA_BYTES: u64 = 1024 * 1024;

/// A distribution found in a site-packages folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// `Version:` from the metadata header.
    pub version: String,
    /// The metadata folder (or file).
    pub metadata_path: HostPath,
    /// dist-info or egg-info.
    pub evidence: Evidence,
}

/// Reads the `Version:` header of a METADATA / PKG-INFO text.
pub fn header_version(text: &str) -> Option<&str> {
    text.lines()
        .take_while(|line| !line.trim().is_empty())
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case("version").then(|| value.trim())
        })
        .filter(|v| !v.is_empty())
}

/// Normalises a distribution name as PEP 503 does, for comparing folder names.
fn normalise(name: &str) -> String {
    name.chars().map(|c| if c == '-' || c == '.' { '_' } else { c.to_ascii_lowercase() }).collect()
}

/// Splits `azure_cli-2.76.0.dist-info` or `azure_cli-2.45.0-py3.11.egg-info` into the normalised
/// name and the kind of metadata.
pub fn metadata_entry(name: &str) -> Option<(String, Evidence)> {
    let lower = name.to_ascii_lowercase();
    let (stem, evidence) = if let Some(stem) = lower.strip_suffix(".dist-info") {
        (stem, Evidence::DistInfo)
    } else if let Some(stem) = lower.strip_suffix(".egg-info") {
        (stem, Evidence::EggInfo)
    } else {
        return None;
    };
    // The distribution name ends at the first `-` followed by a digit (the version).
    let cut = stem.char_indices().find(|&(i, c)| {
        c == '-' && stem.get(i + 1..).is_some_and(|rest| rest.starts_with(|d: char| d.is_ascii_digit()))
    });
    let dist = cut.and_then(|(i, _)| stem.get(..i)).unwrap_or(stem);
    Some((normalise(dist), evidence))
}

/// Finds distribution `wanted` (any spelling: `azure-cli`, `azure_cli`, `Azure_CLI`) in a
/// site-packages folder by listing it (never walking it) and reading its metadata header.
/// Broken metadata is reported in `errors` and not returned. When several metadata entries
/// exist (an interrupted upgrade), the highest version wins.
pub fn find_distribution(
    host: &HostView,
    site_packages: &HostPath,
    wanted: &str,
    errors: &mut Vec<ScanError>,
) -> Option<Distribution> {
    let wanted = normalise(wanted);
    let names = match host.list(site_packages) {
        Ok(names) => names,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            errors.push(e.at(site_packages));
            return None;
        }
    };
    let mut best: Option<(azver_core::Version, Distribution)> = None;
    for name in names {
        let Some((dist, evidence)) = metadata_entry(&name) else { continue };
        if dist != wanted {
            continue;
        }
        let entry = site_packages.join(&name);
        let Some(found) = read_metadata(host, &entry, evidence, errors) else { continue };
        match azver_core::Version::parse(&found.version) {
            Ok(version) => {
                if best.as_ref().is_none_or(|(b, _)| version > *b) {
                    best = Some((version, found));
                }
            }
            Err(error) => errors.push(ScanError {
                path: found.metadata_path.to_string(),
                kind: ScanErrorKind::BadVersion,
                message: format!("metadata names a version that does not parse: {error}"),
            }),
        }
    }
    best.map(|(_, d)| d)
}

/// Reads one metadata entry: a `.dist-info` folder's METADATA, an `.egg-info` folder's PKG-INFO,
/// or an `.egg-info` file.
pub fn read_metadata(
    host: &HostView,
    entry: &HostPath,
    evidence: Evidence,
    errors: &mut Vec<ScanError>,
) -> Option<Distribution> {
    let file = match (evidence, host.is_dir(entry)) {
        (Evidence::DistInfo, _) => entry.join("METADATA"),
        (_, true) => entry.join("PKG-INFO"),
        (_, false) => entry.clone(),
    };
    let bytes = match host.read_limited(&file, MAX_METADATA_BYTES) {
        Ok(bytes) => bytes,
        Err(e) => {
            let mut error = e.at(&file);
            if error.message == "not found" {
                error.kind = ScanErrorKind::MalformedMetadata;
                error.message = "metadata folder without its metadata file".into();
            }
            errors.push(error);
            return None;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    match header_version(&text) {
        Some(version) => Some(Distribution { version: version.to_owned(), metadata_path: entry.clone(), evidence }),
        None => {
            errors.push(ScanError {
                path: file.to_string(),
                kind: ScanErrorKind::MalformedMetadata,
                message: "no Version: header before the first blank line".into(),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_comes_from_the_header_only() {
        let text = "Metadata-Version: 2.1\nName: azure-cli\nVersion: 2.76.0\nSummary: x\n\nVersion: 9.9.9\n";
        assert_eq!(header_version(text), Some("2.76.0"));
        assert_eq!(header_version("Name: a\r\nversion:  2.45.0 \r\n"), Some("2.45.0"));
        assert_eq!(header_version("Name: a\n\nVersion: 1.0\n"), None);
        assert_eq!(header_version("Version:\n"), None);
    }

    #[test]
    fn metadata_folder_names_in_every_spelling() {
        assert_eq!(metadata_entry("azure_cli-2.76.0.dist-info"), Some(("azure_cli".into(), Evidence::DistInfo)));
        assert_eq!(metadata_entry("azure-cli-2.45.0.egg-info"), Some(("azure_cli".into(), Evidence::EggInfo)));
        assert_eq!(metadata_entry("Azure_CLI-2.45.0-py3.11.EGG-INFO"), Some(("azure_cli".into(), Evidence::EggInfo)));
        assert_eq!(
            metadata_entry("azure_cli_core-2.76.0.dist-info"),
            Some(("azure_cli_core".into(), Evidence::DistInfo))
        );
        assert_eq!(
            metadata_entry("azure_cli_telemetry-1.1.0.dist-info"),
            Some(("azure_cli_telemetry".into(), Evidence::DistInfo))
        );
        assert_eq!(metadata_entry("azure"), None);
    }
}

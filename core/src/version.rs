//! Versions as Azure's clients write them, compared the way their own tools compare them.
//!
//! PowerShell module versions are .NET `System.Version` values (2 to 4 numeric parts) with an
//! optional prerelease label; Azure CLI versions follow PEP 440 (`2.76.0`, rarely `2.0.0rc1` or
//! `2.1.0.post1`). One type covers both:
//! - numeric parts compare as .NET does: a missing part is lower than any present one, so
//!   `14.3 < 14.3.0` (PowerShell's `-MinimumVersion 14.3.0` rejects a `14.3` module too);
//! - a prerelease sorts below its release; prereleases compare by semver's precedence rules;
//! - a PEP 440 post-release sorts above its release; a local label (`+ubuntu1`) is ignored.
//!
//! The text as found is kept for display ([`Version::as_str`]), because users recognise
//! `5.3.0-preview`, not a normalised form.

use std::cmp::Ordering;
use std::fmt;

/// Most numeric parts a version may have (.NET's limit; PEP 440 allows more, Azure never uses them).
const MAX_PARTS: usize = 4;

/// Why a version string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The string was empty or whitespace.
    #[error("empty version")]
    Empty,
    /// A numeric part was missing, not a number, or too large.
    #[error("version {text:?} has a part that is not a number: {part:?}")]
    BadPart {
        /// The whole input.
        text: String,
        /// The offending part.
        part: String,
    },
    /// More than four numeric parts.
    #[error("version {0:?} has more than four numeric parts")]
    TooManyParts(String),
    /// A suffix that is neither a prerelease label nor a post-release.
    #[error("version {text:?} has an unrecognised suffix {suffix:?}")]
    BadSuffix {
        /// The whole input.
        text: String,
        /// The part after the numbers.
        suffix: String,
    },
}

/// A parsed version; see the module documentation for how versions order.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    parts: [i64; MAX_PARTS],
    pre: Option<Pre>,
    post: Option<u64>,
}

/// A prerelease label, ordered by semver's rules when it fits them and by text otherwise.
#[derive(Debug, Clone)]
struct Pre {
    label: String,
    semver: Option<semver::Prerelease>,
}

impl Pre {
    fn new(label: &str) -> Self {
        Self { label: label.to_owned(), semver: semver::Prerelease::new(label).ok() }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.semver, &other.semver) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => self.label.cmp(&other.label),
        }
    }
}

impl Version {
    /// Parses a version as found on disk. Surrounding whitespace and a leading `v` are ignored.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let trimmed = text.trim();
        let body = trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed);
        if body.is_empty() {
            return Err(VersionError::Empty);
        }
        // A local version label (`+ubuntu1`, `+build.5`) never affects ordering.
        let body = body.split_once('+').map_or(body, |(b, _)| b);
        let numeric_end = body
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (c == '.' && next_is_digit(body, i))))
            .map_or(body.len(), |(i, _)| i);
        let (numeric, suffix) = body.split_at(numeric_end);
        let bad_part = |part: &str| VersionError::BadPart { text: text.to_owned(), part: part.to_owned() };
        let mut parts = [-1_i64; MAX_PARTS];
        for (count, part) in numeric.split('.').enumerate() {
            if count == MAX_PARTS {
                return Err(VersionError::TooManyParts(text.to_owned()));
            }
            if part.is_empty() || part.len() > 12 {
                return Err(bad_part(part));
            }
            parts[count] = part.parse().map_err(|_| bad_part(part))?;
        }
        let (pre, post) = parse_suffix(suffix)
            .ok_or_else(|| VersionError::BadSuffix { text: text.to_owned(), suffix: suffix.to_owned() })?;
        Ok(Self { text: trimmed.to_owned(), parts, pre, post })
    }

    /// Builds the version PowerShell shows for a module: `ModuleVersion` plus the manifest's
    /// `PrivateData.PSData.Prerelease` label, as `5.3.0-preview`.
    pub fn with_prerelease(module_version: &str, prerelease: Option<&str>) -> Result<Self, VersionError> {
        match prerelease.map(str::trim).filter(|p| !p.is_empty()) {
            None => Self::parse(module_version),
            Some(label) => {
                let label = label.trim_start_matches('-');
                Self::parse(&format!("{}-{label}", module_version.trim()))
            }
        }
    }

    /// The version as found (trimmed), e.g. `5.3.0-preview`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for prerelease versions (`-preview`, `rc1`, `.dev0`).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }
}

fn next_is_digit(s: &str, i: usize) -> bool {
    s.as_bytes().get(i + 1).is_some_and(u8::is_ascii_digit)
}

/// Reads what follows the numbers: nothing, `-label`, PEP 440 `a1`/`b2`/`rc1`/`.dev0`, `.post1`.
fn parse_suffix(suffix: &str) -> Option<(Option<Pre>, Option<u64>)> {
    if suffix.is_empty() {
        return Some((None, None));
    }
    let lower = suffix.to_ascii_lowercase();
    for post_prefix in [".post", "-post", "post"] {
        if let Some(n) = lower.strip_prefix(post_prefix) {
            let n = if n.is_empty() { 0 } else { n.parse().ok()? };
            return Some((None, Some(n)));
        }
    }
    let label = lower.strip_prefix(['-', '.', '_']).unwrap_or(&lower);
    let valid = !label.is_empty()
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && label.starts_with(|c: char| c.is_ascii_alphabetic());
    // Keep the label in its original case for display, but order by the lower-case form.
    valid.then(|| (Some(Pre::new(label)), None))
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts
            .cmp(&other.parts)
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
            .then_with(|| self.post.cmp(&other.post))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl std::str::FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn orders_like_dotnet_and_pep440() {
        // Each list is strictly increasing.
        let ascending = [
            "1.0",
            "1.0.0",
            "1.0.0.0",
            "2.9.99",
            "2.45.0",
            "2.75.1",
            "2.76.0rc1",
            "2.76.0",
            "2.76.0.post1",
            "2.76.1",
            "5.2.0-alpha",
            "5.2.0-preview",
            "5.2.0-preview2",
            "5.2.0-rc.1",
            "5.2.0",
            "14.3.0",
            "14.10.0",
        ];
        for pair in ascending.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(v(pair[1]) > v(pair[0]), "{} > {}", pair[1], pair[0]);
        }
    }

    #[test]
    fn equal_versions_ignore_case_whitespace_v_and_local_labels() {
        assert_eq!(v(" 2.76.0\n"), v("2.76.0"));
        assert_eq!(v("v14.3.0"), v("14.3.0"));
        assert_eq!(v("2.45.0+ds1"), v("2.45.0"));
        assert_eq!(v("5.3.0-Preview"), v("5.3.0-preview"));
        assert_eq!(v("5.3.0-Preview").as_str(), "5.3.0-Preview");
    }

    #[test]
    fn module_version_with_prerelease_label_reads_as_users_see_it() {
        let version = Version::with_prerelease("5.3.0", Some("preview")).unwrap();
        assert_eq!(version.as_str(), "5.3.0-preview");
        assert!(version.is_prerelease());
        assert!(version < v("5.3.0"));
        assert_eq!(Version::with_prerelease("14.3.0", Some("  ")).unwrap().as_str(), "14.3.0");
        assert_eq!(Version::with_prerelease("1.2", Some("-beta1")).unwrap().as_str(), "1.2-beta1");
    }

    #[test]
    fn rejects_what_is_not_a_version() {
        for (input, expected) in [
            ("", VersionError::Empty),
            ("   ", VersionError::Empty),
            ("1.2.3.4.5", VersionError::TooManyParts("1.2.3.4.5".into())),
            ("abc", VersionError::BadPart { text: "abc".into(), part: "".into() }),
            ("1..2", VersionError::BadSuffix { text: "1..2".into(), suffix: "..2".into() }),
            ("1.2.3-", VersionError::BadSuffix { text: "1.2.3-".into(), suffix: "-".into() }),
            ("1.2.3 beta", VersionError::BadSuffix { text: "1.2.3 beta".into(), suffix: " beta".into() }),
            (
                "99999999999999.0",
                VersionError::BadPart { text: "99999999999999.0".into(), part: "99999999999999".into() },
            ),
        ] {
            assert_eq!(Version::parse(input).unwrap_err(), expected, "input {input:?}");
        }
    }
}

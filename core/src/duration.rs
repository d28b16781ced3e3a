//! Durations as users write them everywhere (flags, environment, config files): `30s`, `5m`,
//! `1h`, `7d`, `1h 30m`; a bare number means seconds.

use std::time::Duration;

/// Why a duration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a duration (examples: 90, 30s, 5m, 1h, 7d): {reason}")]
pub struct DurationError {
    input: String,
    reason: String,
}

/// Parses a duration with units; a bare number is seconds.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let text = input.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|e| DurationError { input: input.to_owned(), reason: e.to_string() })
}

/// Formats a duration the way [`parse_duration`] reads it back (`7days`, `1h 30m`).
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 5m "), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        let error = parse_duration("soon").unwrap_err().to_string();
        assert!(error.starts_with("\"soon\" is not a duration"), "{error}");
        assert!(parse_duration("-5s").is_err());
        assert_eq!(parse_duration(&format_duration(Duration::from_secs(93784))), Ok(Duration::from_secs(93784)));
    }
}

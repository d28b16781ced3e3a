//! One host with its history, as the host page, `GET /api/v1/hosts/{id}` and `host ID` show it.

use crate::config::Config;
use crate::reports;
use crate::store::{HistoryEntry, StoredHost};

/// One host with its history, as `host ID` prints it.
#[derive(Debug, serde::Serialize)]
pub struct HostDetail {
    /// Current state with evaluated findings.
    #[serde(flatten)]
    pub entry: reports::HostEntry,
    /// OS and agent facts.
    pub facts: azver_core::HostFacts,
    /// Scan errors of the last report.
    pub errors: Vec<azver_core::ScanError>,
    /// Changes, oldest first.
    pub history: Vec<HistoryView>,
}

/// A history entry with a readable time.
#[derive(Debug, serde::Serialize)]
pub struct HistoryView {
    /// RFC 3339.
    pub at: String,
    /// `inventory` or `hostname`.
    pub change: String,
    /// Host name then.
    pub hostname: String,
    /// Installations from then on.
    pub installations: Vec<azver_core::Installation>,
}

/// A host with its history, evaluated against `baseline` at `now`.
pub fn host_detail(
    stored: &StoredHost,
    history: Vec<HistoryEntry>,
    baseline: &azver_core::Baseline,
    config: &Config,
    now: i64,
) -> HostDetail {
    let report = reports::build(std::slice::from_ref(stored), baseline, config, &Default::default(), now);
    HostDetail {
        entry: report.hosts.into_iter().next().expect("one host in, one host out"),
        facts: stored.facts.clone(),
        errors: stored.errors.clone(),
        history: history
            .into_iter()
            .map(|h| HistoryView {
                at: reports::rfc3339(h.at),
                change: h.change,
                hostname: h.hostname,
                installations: h.installations,
            })
            .collect(),
    }
}

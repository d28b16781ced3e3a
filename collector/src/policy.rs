//! A host's status, from its stored inventory, the baseline and the time: pure, `now` passed in.

use std::time::Duration;

use azver_core::{Baseline, Evaluation, Status, Subject};

use crate::baseline::Served;
use crate::config::Config;
use crate::store::{StoredHost, Verdict};

/// Evaluates `host` against `baseline` at `now` (seconds since the epoch). A host silent for
/// longer than its `stale_after` is `stale`, whatever its inventory says; its findings stay.
pub fn evaluate(host: &StoredHost, baseline: &Baseline, config: &Config, now: i64) -> Evaluation {
    let mut evaluation = baseline.evaluate(&subject(host));
    if is_silent_for(host, config.stale_after(&host.facts), now) {
        evaluation.status = Status::Stale;
    }
    evaluation
}

/// As [`evaluate`], but takes the verdict stored with the host when it is for `served` (no
/// evaluation at all), and evaluates only a host the re-evaluation has not reached yet.
pub fn evaluate_served(host: &StoredHost, served: &Served, config: &Config, now: i64) -> Evaluation {
    let mut evaluation = match &host.verdict {
        Some(v) if v.baseline == served.digest => Evaluation { status: v.status, findings: v.findings.clone() },
        _ => served.evaluate(&subject(host)),
    };
    if is_silent_for(host, config.stale_after(&host.facts), now) {
        evaluation.status = Status::Stale;
    }
    evaluation
}

fn subject(host: &StoredHost) -> Subject<'_> {
    Subject {
        installations: &host.installations,
        identities: &host.identities,
        role: host.facts.role,
        jobs: &host.job_sign_ins,
    }
}

/// The verdict to store for `host` under `served`: its evaluation without staleness (which
/// depends on the clock), stamped with the baseline's digest.
pub fn verdict(host: &StoredHost, served: &Served) -> Verdict {
    Verdict::new(&served.digest, served.evaluate(&subject(host)))
}

/// True when the host has not reported for longer than `limit`.
pub fn is_silent_for(host: &StoredHost, limit: Duration, now: i64) -> bool {
    let silent = now.saturating_sub(host.last_seen);
    silent > 0 && silent as u64 > limit.as_secs()
}

/// Host ids due for deletion under the retention settings.
pub fn due_for_purge(hosts: &[StoredHost], config: &Config, now: i64) -> Vec<String> {
    hosts
        .iter()
        .filter(|h| config.purge_after(&h.facts).is_some_and(|limit| is_silent_for(h, limit, now)))
        .map(|h| h.host_id().to_owned())
        .collect()
}

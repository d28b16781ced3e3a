//! The periodic work `serve` schedules, as functions the CLI and tests call directly: the daily
//! roll-up (hosts per role and status, counted from the current evaluation of every host,
//! streamed, stored per UTC day for the compliance-over-time chart), the retention purge, and
//! the re-evaluation of stored verdicts after a baseline change.

use azver_core::Baseline;

use crate::baseline::Served;
use crate::config::Config;
use crate::policy::{self, due_for_purge};
use crate::reports;
use crate::store::{DailyCount, Store, StoreError, StoredHost, Verdict, role_name};

/// UTC day (`YYYY-MM-DD`) of a Unix time.
pub fn day_of(unix: i64) -> String {
    reports::rfc3339(unix).chars().take(10).collect()
}

/// Hosts per role and status at `now`, as the roll-up of `day` stores them (pure). Hosts
/// without a role count under the empty role; only non-zero counts are listed.
pub fn daily_counts(
    hosts: &[StoredHost],
    baseline: &Baseline,
    config: &Config,
    day: &str,
    now: i64,
) -> Vec<DailyCount> {
    let mut counts = Tally::default();
    for host in hosts {
        counts.add(host, baseline, config, now);
    }
    counts.into_daily(day)
}

/// Hosts per (role, status), accumulated one host (or one database count) at a time.
#[derive(Debug, Default)]
struct Tally(std::collections::BTreeMap<(String, String), u64>);

impl Tally {
    fn add(&mut self, host: &StoredHost, baseline: &Baseline, config: &Config, now: i64) {
        let status = policy::evaluate(host, baseline, config, now).status;
        self.count(host.facts.role.map_or("", role_name), status.as_str(), 1);
    }

    fn count(&mut self, role: &str, status: &str, hosts: u64) {
        *self.0.entry((role.to_owned(), status.to_owned())).or_default() += hosts;
    }

    fn into_daily(self, day: &str) -> Vec<DailyCount> {
        self.0
            .into_iter()
            .map(|((role, status), hosts)| DailyCount { day: day.to_owned(), role, status, hosts })
            .collect()
    }
}

/// Hosts per role and status at `now`, as the roll-up of `day` stores them: counted by the
/// database for the hosts whose stored verdict is for `served` (staleness a predicate on
/// `last_seen`), and evaluated here, a batch at a time, for the hosts the re-evaluation has not
/// reached yet. Only non-zero counts are listed.
pub async fn status_counts(
    store: &dyn Store,
    served: &Served,
    config: &Config,
    day: &str,
    now: i64,
) -> Result<Vec<DailyCount>, StoreError> {
    let mut tally = Tally::default();
    for row in store.status_counts(config, &served.digest, now).await? {
        tally.count(&row.role, &row.status, row.hosts);
    }
    let mut after = String::new();
    loop {
        let hosts = store.unevaluated(&served.digest, &after, REEVALUATE_BATCH).await?;
        let Some(last) = hosts.last() else { break };
        after = last.host_id().to_owned();
        for host in &hosts {
            tally.add(host, served, config, now);
        }
        if hosts.len() < REEVALUATE_BATCH {
            break;
        }
    }
    Ok(tally.into_daily(day))
}

/// Rewrites today's (UTC) roll-up from the current status of every host. With several
/// collectors on one database each does this; the last one's counts stand for the day.
pub async fn rollup_once(store: &dyn Store, served: &Served, config: &Config, now: i64) -> Result<(), StoreError> {
    let day = day_of(now);
    let counts = status_counts(store, served, config, &day, now).await?;
    store.record_daily(&day, &counts, now).await
}

/// Deletes the hosts due for deletion at `now`; returns how many.
pub async fn purge_once(store: &dyn Store, config: &Config, now: i64) -> Result<usize, StoreError> {
    let due = due_for_purge(&store.hosts().await?, config, now);
    if due.is_empty() { Ok(0) } else { store.delete_hosts(&due).await }
}

/// Hosts re-evaluated per batch (one read, one write transaction each).
pub const REEVALUATE_BATCH: usize = 2_000;

/// Stores a verdict against `served` for every host whose stored verdict is for another
/// baseline (or missing), `batch` hosts at a time in host-id order; returns how many were
/// written. A host whose report arrives meanwhile keeps the verdict ingest stored with it.
///
/// Pipelined: the next batch is read (on a read connection) while this one is evaluated and
/// written (on the writer), so under ingest, where the writer is the one that is waited for, a
/// batch costs its write alone (see docs/BENCHMARKS.md, "Re-evaluation pipelined").
pub async fn reevaluate(store: &dyn Store, served: &Served, batch: usize) -> Result<usize, StoreError> {
    let mut written = 0;
    let mut hosts = store.unevaluated(&served.digest, "", batch).await?;
    while let Some(last) = hosts.last() {
        let write = async {
            let verdicts: Vec<(String, i64, Verdict)> =
                hosts.iter().map(|h| (h.host_id().to_owned(), h.last_sequence, policy::verdict(h, served))).collect();
            store.record_verdicts(&verdicts).await
        };
        if hosts.len() < batch {
            written += write.await?;
            break;
        }
        // `join!` polls the read first, so it is under way while the batch is evaluated.
        let (next, wrote) = tokio::join!(store.unevaluated(&served.digest, last.host_id(), batch), write);
        written += wrote?;
        hosts = next?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_767_225_599), "2025-12-31");
        assert_eq!(day_of(1_767_225_600), "2026-01-01");
    }
}

//! The periodic work `serve` schedules, as functions the CLI and tests call directly: the daily
//! roll-up (hosts per role and status, counted from the current evaluation of every host,
//! streamed, stored per UTC day for the compliance-over-time chart) and the retention purge.

use azver_core::Baseline;

use crate::config::Config;
use crate::policy::{self, due_for_purge};
use crate::reports;
use crate::store::{DailyCount, Store, StoreError, StoredHost, role_name};

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

/// Hosts per (role, status), accumulated one host at a time.
#[derive(Debug, Default)]
struct Tally(std::collections::BTreeMap<(&'static str, &'static str), u64>);

impl Tally {
    fn add(&mut self, host: &StoredHost, baseline: &Baseline, config: &Config, now: i64) {
        let status = policy::evaluate(host, baseline, config, now).status;
        *self.0.entry((host.facts.role.map_or("", role_name), status.as_str())).or_default() += 1;
    }

    fn into_daily(self, day: &str) -> Vec<DailyCount> {
        self.0
            .into_iter()
            .map(|((role, status), hosts)| DailyCount {
                day: day.to_owned(),
                role: role.into(),
                status: status.into(),
                hosts,
            })
            .collect()
    }
}

/// Rewrites today's (UTC) roll-up from the current evaluation of every host. With several
/// collectors on one database each does this; the last one's counts stand for the day.
pub async fn rollup_once(store: &dyn Store, baseline: &Baseline, config: &Config, now: i64) -> Result<(), StoreError> {
    let day = day_of(now);
    // Streamed: a large fleet is counted without holding every host in memory.
    let mut tally = Tally::default();
    store.for_each_host(&mut |host| tally.add(&host, baseline, config, now)).await?;
    store.record_daily(&day, &tally.into_daily(&day), now).await
}

/// Deletes the hosts due for deletion at `now`; returns how many.
pub async fn purge_once(store: &dyn Store, config: &Config, now: i64) -> Result<usize, StoreError> {
    let due = due_for_purge(&store.hosts().await?, config, now);
    if due.is_empty() { Ok(0) } else { store.delete_hosts(&due).await }
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

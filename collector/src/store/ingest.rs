//! The ingest decision, once for both stores: given what the store holds for a host and the
//! report that arrived, is the report a duplicate, an older report arriving late, a new state,
//! a sequence reset, a rename, a new snapshot? Pure: the stores read [`Known`] inside their
//! transaction (SQLite: the one writer; PostgreSQL: under the host row lock), call [`decide`]
//! and carry out the [`Decision`].
//!
//! - **Duplicates by report id within a window.** The last [`DEDUPE_WINDOW`] report ids of each
//!   host are kept: a retry of any of them is acknowledged and not stored again, whatever its
//!   sequence says.
//! - **Sequences order reports that are near each other.** A new report id whose sequence is at
//!   most the host's last (and not far behind it) is an older report arriving late: it is not
//!   stored (the newer state stays), and the answer tells the agent the last sequence the
//!   collector holds, so an agent whose counter went back (a lost `sequence` file) adopts it.
//! - **A sequence far from the last is a reset** (more than [`RESET_GAP`] ahead or behind): the
//!   report is stored and its sequence becomes the host's last. A forged `u64::MAX`, or an agent
//!   whose state dir was recreated long after, can therefore never freeze a host: the next
//!   honest report is itself far from the forged number and is stored.

/// How many recent report ids per host deduplicate retries.
pub const DEDUPE_WINDOW: usize = 32;

/// A sequence farther than this from the host's last is a reset, not an ordering. An agent
/// sends one report per scan (hourly by default), so an honest counter moves by far less
/// between two reports the collector sees, even after weeks offline.
pub const RESET_GAP: i64 = 100_000;

/// What the store holds for a host when its next report arrives.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// The host's last stored sequence.
    pub last_sequence: i64,
    /// The host's last stored report id.
    pub last_report_id: &'a str,
    /// Earlier report ids, newest first (the window beyond the last one).
    pub recent_report_ids: &'a [String],
    /// The current host name.
    pub hostname: &'a str,
    /// The digest of the current snapshot, if any.
    pub digest: Option<&'a [u8]>,
}

/// What the store does with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A retry of a report within the window: only `last_seen` moves.
    Duplicate,
    /// A new report id with a sequence at or below the last (and near it): an older report
    /// arriving late. Only `last_seen` moves; the agent is told `last_sequence`.
    Behind {
        /// The host's last stored sequence.
        last_sequence: i64,
    },
    /// Store the report as the host's current state.
    Store(Write),
}

/// How a report is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The sequence stored as the host's last (`u64` above `i64::MAX` is clamped).
    pub sequence: i64,
    /// The first report of this host: insert its row.
    pub new_host: bool,
    /// The sequence was far from the last one (logged by the store).
    pub reset: Option<i64>,
    /// The inventory changed: write a snapshot.
    pub new_snapshot: bool,
    /// The host name changed (or the host is new): write a host-name row.
    pub renamed: bool,
    /// The report-id window to store after this report, newest first (the report's own id is
    /// `last_report_id`, not in this list).
    pub recent_report_ids: Vec<String>,
}

/// Decides what to do with a report `report_id` / `sequence` / `hostname` whose inventory has
/// `digest`, given what is `known` of its host (`None`: a host never seen).
pub fn decide(known: Option<Known<'_>>, report_id: &str, sequence: u64, hostname: &str, digest: &[u8]) -> Decision {
    let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
    let Some(known) = known else {
        return Decision::Store(Write {
            sequence,
            new_host: true,
            reset: None,
            new_snapshot: true,
            renamed: true,
            recent_report_ids: Vec::new(),
        });
    };
    if known.last_report_id == report_id || known.recent_report_ids.iter().any(|id| id == report_id) {
        return Decision::Duplicate;
    }
    let distance = i128::from(sequence) - i128::from(known.last_sequence);
    let reset = distance.unsigned_abs() > RESET_GAP as u128;
    if distance <= 0 && !reset {
        return Decision::Behind { last_sequence: known.last_sequence };
    }
    let mut recent_report_ids = Vec::with_capacity(DEDUPE_WINDOW);
    if !known.last_report_id.is_empty() {
        recent_report_ids.push(known.last_report_id.to_owned());
    }
    recent_report_ids.extend(known.recent_report_ids.iter().take(DEDUPE_WINDOW.saturating_sub(2)).cloned());
    Decision::Store(Write {
        sequence,
        new_host: false,
        reset: reset.then_some(known.last_sequence),
        new_snapshot: known.digest != Some(digest),
        renamed: known.hostname != hostname,
        recent_report_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &[u8] = b"digest";

    fn known<'a>(last_sequence: i64, last_report_id: &'a str, recent: &'a [String]) -> Known<'a> {
        Known { last_sequence, last_report_id, recent_report_ids: recent, hostname: "web-1", digest: Some(DIGEST) }
    }

    fn stored(decision: Decision) -> Write {
        match decision {
            Decision::Store(write) => write,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn a_new_host_is_stored_with_a_snapshot_and_its_name() {
        let write = stored(decide(None, "r1", 1, "web-1", DIGEST));
        assert!(write.new_host && write.new_snapshot && write.renamed);
        assert_eq!((write.sequence, write.reset), (1, None));
    }

    #[test]
    fn retries_within_the_window_are_duplicates_whatever_their_sequence() {
        let recent: Vec<String> = (1..=5).rev().map(|i| format!("r{i}")).collect();
        let host = known(6, "r6", &recent);
        for (id, sequence) in [("r6", 6), ("r6", 7), ("r3", 3), ("r1", 99), ("r5", u64::MAX)] {
            assert_eq!(decide(Some(host), id, sequence, "web-1", DIGEST), Decision::Duplicate, "{id} {sequence}");
        }
    }

    #[test]
    fn a_new_id_at_or_below_the_last_sequence_is_behind() {
        let host = known(50, "r50", &[]);
        for sequence in [50, 49, 1] {
            assert_eq!(decide(Some(host), "new", sequence, "web-1", DIGEST), Decision::Behind { last_sequence: 50 });
        }
    }

    #[test]
    fn the_next_sequence_is_stored_and_moves_the_window() {
        let recent: Vec<String> = (0..DEDUPE_WINDOW).map(|i| format!("old{i}")).collect();
        let write = stored(decide(Some(known(7, "r7", &recent)), "r8", 8, "web-1", DIGEST));
        assert_eq!((write.sequence, write.reset, write.new_snapshot, write.renamed), (8, None, false, false));
        assert_eq!(write.recent_report_ids.len(), DEDUPE_WINDOW - 1, "the last id plus the window is the window");
        assert_eq!(write.recent_report_ids.first().map(String::as_str), Some("r7"));
        assert_eq!(write.recent_report_ids.last().map(String::as_str), Some("old29"));
    }

    #[test]
    fn changes_of_inventory_and_name_are_seen() {
        let write = stored(decide(Some(known(1, "r1", &[])), "r2", 2, "web-2", b"other"));
        assert!(write.new_snapshot && write.renamed && !write.new_host);
    }

    #[test]
    fn a_sequence_far_ahead_or_behind_is_a_reset_and_cannot_freeze_the_host() {
        // A forged u64::MAX is stored (clamped) as a reset...
        let forged = stored(decide(Some(known(5, "r5", &[])), "forged", u64::MAX, "web-1", DIGEST));
        assert_eq!((forged.sequence, forged.reset), (i64::MAX, Some(5)));
        // ...and the honest agent's next report is far from it, so it is stored too.
        let honest = stored(decide(Some(known(i64::MAX, "forged", &[])), "r6", 6, "web-1", DIGEST));
        assert_eq!((honest.sequence, honest.reset), (6, Some(i64::MAX)));
        // An agent whose counter restarted long after is stored as a reset...
        let restarted = stored(decide(Some(known(RESET_GAP + 10, "r", &[])), "n1", 1, "web-1", DIGEST));
        assert_eq!(restarted.reset, Some(RESET_GAP + 10));
        // ...and a jump by exactly the gap is still an ordinary next report.
        assert_eq!(stored(decide(Some(known(1, "r", &[])), "n", RESET_GAP as u64 + 1, "web-1", DIGEST)).reset, None);
    }
}

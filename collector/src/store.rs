//! The inventory store: SQLite through rusqlite, one file, created and migrated on open.
//!
//! - **Current state plus history**: `hosts` holds each host's latest facts and a pointer to its
//!   current snapshot; `snapshots` gets a new row only when what was found changes (the digest of
//!   installations and identities), so an unchanged host reporting hourly for a year adds nothing
//!   beyond its first snapshot; otherwise only `last_seen` moves.
//! - **Idempotent ingest**: a report whose id is the host's last one, or whose sequence number is
//!   not above the host's last, is a duplicate: acknowledged, not stored again. Only the last
//!   sequence per host is kept, so deduplication never grows the database.
//! - WAL journal, normal locking (never exclusive): the CLI reads the file while `serve` writes.
//! - **Durable before acknowledged**: the writing connection runs with `synchronous = FULL`, so
//!   a commit has reached the disk (the WAL is fsynced) when it returns. `NORMAL` would be
//!   faster but, in WAL mode, loses the last commits on power failure: an agent told "stored"
//!   would never resend them.
//! - **Group commit**: [`GroupCommit`] feeds concurrent reports to one writer thread, which
//!   stores everything waiting in one transaction (one fsync) and only then answers each
//!   report. Each report gets its own savepoint, so a report that fails is rolled back alone
//!   and the batch behaves exactly like the same reports ingested one by one, in order.
//! - Reads use their own connection: under WAL they see the last commit and never wait for
//!   the writer (nor it for them).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azver_core::{HostFacts, Identity, Installation, Role, ScanError};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (full disk, locked file, corruption).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A stored JSON column does not decode (a newer collector's data?).
    #[error("stored data does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// The transaction this report was batched into failed as a whole (its commit failed).
    #[error("{0}")]
    Batch(Arc<StoreError>),
    /// The writer thread is gone (it panicked, or the store is shutting down).
    #[error("the database writer has stopped; restart azver-collector")]
    WriterStopped,
    /// The database was written by a newer azver.
    #[error("database schema version {found} is newer than this collector's {supported}; upgrade azver-collector")]
    TooNew {
        /// Version in the file.
        found: usize,
        /// Newest this binary knows.
        supported: usize,
    },
}

/// A report as the store receives it (already validated and converted from the wire).
#[derive(Debug, Clone)]
pub struct IncomingReport {
    /// Host facts; `host_id` is set.
    pub host: HostFacts,
    /// The agent's scan time (seconds since the epoch, the agent's clock).
    pub scanned_at: Option<i64>,
    /// Unique id of this report.
    pub report_id: String,
    /// Per-host sequence number.
    pub sequence: u64,
    /// Installations found.
    pub installations: Vec<Installation>,
    /// Identities found.
    pub identities: Vec<Identity>,
    /// Scan errors.
    pub errors: Vec<ScanError>,
}

/// What ingest did with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored; `new_snapshot` tells whether the inventory changed.
    Stored {
        /// A new history entry was written.
        new_snapshot: bool,
    },
    /// Already stored (same id, or an older sequence): acknowledged, nothing written but `last_seen`.
    Duplicate,
}

/// A host's current state as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHost {
    /// Host facts (host id set).
    pub facts: HostFacts,
    /// First report, collector clock, seconds since the epoch.
    pub first_seen: i64,
    /// Last report (including duplicates), collector clock.
    pub last_seen: i64,
    /// The agent's own scan time of the last stored report.
    pub scanned_at: Option<i64>,
    /// Current installations.
    pub installations: Vec<Installation>,
    /// Current identities.
    pub identities: Vec<Identity>,
    /// Scan errors of the last stored report.
    pub errors: Vec<ScanError>,
    /// Seconds the agent's clock was ahead (positive) or behind the collector's when the last
    /// report was stored, if more than five minutes: the report is stored as sent and marked.
    pub clock_skew: Option<i64>,
}

impl StoredHost {
    /// The host id.
    pub fn host_id(&self) -> &str {
        self.facts.host_id.as_deref().unwrap_or_default()
    }
}

/// Clock differences below this are ordinary drift, not worth marking.
const CLOCK_SKEW_TOLERANCE_SECS: i64 = 300;

/// One entry of a host's history: a change of inventory or of name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the collector received the report that brought the change.
    pub at: i64,
    /// What changed, for people: `hostname`, `inventory`.
    pub change: String,
    /// The host name at that time.
    pub hostname: String,
    /// The inventory from then on.
    pub installations: Vec<Installation>,
    /// The identities from then on.
    pub identities: Vec<Identity>,
}

const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE hosts (
        host_id TEXT PRIMARY KEY NOT NULL,
        hostname TEXT NOT NULL,
        facts TEXT NOT NULL,
        role TEXT,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        scanned_at INTEGER,
        clock_skew INTEGER,
        last_sequence INTEGER NOT NULL,
        last_report_id TEXT NOT NULL,
        current_snapshot INTEGER,
        errors TEXT NOT NULL
    ) STRICT;
    CREATE INDEX hosts_hostname ON hosts(hostname);
    CREATE INDEX hosts_last_seen ON hosts(last_seen);
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        host_id TEXT NOT NULL REFERENCES hosts(host_id) ON DELETE CASCADE,
        received_at INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        digest BLOB NOT NULL,
        installations TEXT NOT NULL,
        identities TEXT NOT NULL
    ) STRICT;
    CREATE INDEX snapshots_host ON snapshots(host_id, id);
    CREATE TABLE hostnames (
        host_id TEXT NOT NULL REFERENCES hosts(host_id) ON DELETE CASCADE,
        hostname TEXT NOT NULL,
        since INTEGER NOT NULL,
        snapshot INTEGER,
        with_inventory INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX hostnames_host ON hostnames(host_id, since);",
    ),
    // M2: daily roll-ups for the dashboard's compliance-over-time chart. History keeps only
    // changes, so how many hosts had each status on a past day cannot be recomputed later:
    // `serve` writes today's counts (per role and status) on start and hourly.
    M::up(
        "CREATE TABLE daily_status (
        day TEXT NOT NULL,
        role TEXT NOT NULL,
        status TEXT NOT NULL,
        hosts INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        PRIMARY KEY (day, role, status)
    ) STRICT, WITHOUT ROWID;",
    ),
];

/// The SQLite store. Thread-safe; every call is short and blocking (call it from
/// `spawn_blocking` in async code, or ingest through [`GroupCommit`]).
#[derive(Debug)]
pub struct SqliteStore {
    /// The one connection that writes: SQLite allows one writer at a time anyway.
    writer: Mutex<Connection>,
    /// The connection reads go through, so reports and the dashboard never wait for ingest.
    reader: Mutex<Connection>,
}

/// Most reports committed in one transaction: bounds the latency a batch adds to its last
/// report, while far above what arrives during one fsync at the target rates.
pub const MAX_BATCH: usize = 512;

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a commit is on disk when it returns, so an acknowledged report is durable.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 32 MiB of page cache (the default is 2 MiB): at 10,000 hosts the writer otherwise
        // spends a fifth of its time re-reading pages from the OS (see docs/BENCHMARKS.md).
        conn.pragma_update(None, "cache_size", -32_768)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let found = usize::try_from(found).unwrap_or(usize::MAX);
        if found > MIGRATIONS.len() {
            return Err(StoreError::TooNew { found, supported: MIGRATIONS.len() });
        }
        Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
        let reader = Connection::open(path)?;
        reader.busy_timeout(Duration::from_secs(5))?;
        reader.pragma_update(None, "query_only", "ON")?;
        Ok(Self { writer: Mutex::new(conn), reader: Mutex::new(reader) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores a report received at `now` (collector clock, seconds since the epoch).
    pub fn ingest(&self, report: &IncomingReport, now: i64) -> Result<IngestOutcome, StoreError> {
        self.ingest_batch(&[(report, now)])?.pop().unwrap_or(Err(StoreError::WriterStopped))
    }

    /// Stores `reports` (each with the time it was received) in one transaction, in order, each
    /// in its own savepoint: the outcome of every report is exactly what [`Self::ingest`] one by
    /// one would give. The outer `Err` means the commit failed and nothing was stored.
    pub fn ingest_batch(
        &self,
        reports: &[(&IncomingReport, i64)],
    ) -> Result<Vec<Result<IngestOutcome, StoreError>>, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let mut outcomes = Vec::with_capacity(reports.len());
        for (report, now) in reports {
            let savepoint = tx.savepoint()?;
            let outcome = ingest_one(&savepoint, report, *now);
            if outcome.is_ok() {
                savepoint.commit()?;
            }
            // Dropping an uncommitted savepoint rolls that one report back.
            outcomes.push(outcome);
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Every host with its current inventory, ordered by host name then id.
    pub fn hosts(&self) -> Result<Vec<StoredHost>, StoreError> {
        query_hosts(&self.reader(), "", [])
    }

    /// Calls `visit` with every host in turn, holding one host in memory at a time (for
    /// aggregates over a large fleet, such as the daily roll-up).
    pub fn for_each_host(&self, visit: impl FnMut(StoredHost)) -> Result<(), StoreError> {
        visit_hosts(&self.reader(), "", [], visit)
    }

    /// Host ids matching an id exactly, or else a host name (several hosts may share a name).
    pub fn find(&self, id_or_name: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.reader();
        let by_id: Option<String> =
            conn.query_row("SELECT host_id FROM hosts WHERE host_id = ?1", [id_or_name], |r| r.get(0)).optional()?;
        if let Some(id) = by_id {
            return Ok(vec![id]);
        }
        let mut stmt = conn.prepare("SELECT host_id FROM hosts WHERE hostname = ?1 ORDER BY host_id")?;
        let ids = stmt.query_map([id_or_name], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// One host's current state.
    pub fn host(&self, host_id: &str) -> Result<Option<StoredHost>, StoreError> {
        Ok(query_hosts(&self.reader(), "WHERE h.host_id = ?1", [host_id])?.pop())
    }

    /// A host's history, oldest first: every inventory change and every later name change.
    ///
    /// Entries are ordered by the order reports arrived (snapshot ids and rename rows), not by
    /// their one-second timestamps, so a rename in the same second as an upgrade is kept.
    pub fn history(&self, host_id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let conn = self.reader();
        let snapshots: Vec<(i64, i64, String, String, String)> = conn
            .prepare(
                "SELECT id, received_at, hostname, installations, identities FROM snapshots WHERE host_id = ?1 ORDER BY id",
            )?
            .query_map([host_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
            .collect::<Result<_, _>>()?;
        // Renames that came without an inventory change (the first name is the host's birth).
        let renames: Vec<(i64, i64, String, Option<i64>)> = conn
            .prepare(
                "SELECT rowid, since, hostname, snapshot FROM hostnames WHERE host_id = ?1 AND with_inventory = 0 \
                 AND rowid > (SELECT min(rowid) FROM hostnames WHERE host_id = ?1) ORDER BY rowid",
            )?
            .query_map([host_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let mut keyed: Vec<((i64, i64), HistoryEntry)> = Vec::new();
        for (id, at, hostname, installations, identities) in &snapshots {
            let entry = HistoryEntry {
                at: *at,
                change: "inventory".into(),
                hostname: hostname.clone(),
                installations: serde_json::from_str(installations)?,
                identities: serde_json::from_str(identities)?,
            };
            keyed.push(((*id, 0), entry));
        }
        for (rowid, since, hostname, snapshot) in renames {
            // The inventory at the time of the rename is the snapshot current then.
            let then = snapshot.and_then(|id| keyed.iter().find(|((sid, sub), _)| *sid == id && *sub == 0));
            let entry = HistoryEntry {
                at: since,
                change: "hostname".into(),
                hostname,
                installations: then.map(|(_, e)| e.installations.clone()).unwrap_or_default(),
                identities: then.map(|(_, e)| e.identities.clone()).unwrap_or_default(),
            };
            keyed.push(((snapshot.unwrap_or(0), rowid), entry));
        }
        keyed.sort_by_key(|(key, _)| *key);
        Ok(keyed.into_iter().map(|(_, entry)| entry).collect())
    }

    /// Deletes hosts and their history. Returns how many were deleted.
    pub fn delete_hosts(&self, host_ids: &[String]) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut deleted = 0;
        for id in host_ids {
            deleted += tx.execute("DELETE FROM hosts WHERE host_id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(deleted)
    }

    /// Number of hosts, snapshots and the file size in bytes (for reports and benchmarks).
    pub fn stats(&self) -> Result<(u64, u64, u64), StoreError> {
        let conn = self.reader();
        let count = |sql: &str| -> Result<u64, StoreError> {
            let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        };
        Ok((
            count("SELECT count(*) FROM hosts")?,
            count("SELECT count(*) FROM snapshots")?,
            count("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")?,
        ))
    }
}

/// What the store knows of a host when its next report arrives.
#[derive(Debug)]
struct Existing {
    last_sequence: i64,
    last_report_id: String,
    hostname: String,
    /// The current snapshot's id and digest (none before the first inventory).
    snapshot: Option<i64>,
    digest: Option<Vec<u8>>,
}

/// Stores one report inside the caller's transaction (see [`SqliteStore::ingest_batch`]).
fn ingest_one(tx: &Connection, report: &IncomingReport, now: i64) -> Result<IngestOutcome, StoreError> {
    let host_id = report.host.host_id.as_deref().unwrap_or_default();
    // Statements are cached: at thousands of reports a second, parsing SQL would cost more
    // than running it.
    let existing: Option<Existing> = tx
        .prepare_cached(
            "SELECT h.last_sequence, h.last_report_id, h.hostname, h.current_snapshot, s.digest \
             FROM hosts h LEFT JOIN snapshots s ON s.id = h.current_snapshot WHERE h.host_id = ?1",
        )?
        .query_row([host_id], |r| {
            Ok(Existing {
                last_sequence: r.get(0)?,
                last_report_id: r.get(1)?,
                hostname: r.get(2)?,
                snapshot: r.get(3)?,
                digest: r.get(4)?,
            })
        })
        .optional()?;
    let sequence = i64::try_from(report.sequence).unwrap_or(i64::MAX);
    if let Some(known) = &existing
        && (known.last_report_id == report.report_id || sequence <= known.last_sequence)
    {
        tx.prepare_cached("UPDATE hosts SET last_seen = max(last_seen, ?2) WHERE host_id = ?1")?
            .execute(params![host_id, now])?;
        return Ok(IngestOutcome::Duplicate);
    }
    let digest = inventory_digest(&report.installations, &report.identities)?;
    let current_snapshot = existing.as_ref().and_then(|e| e.snapshot);
    let current_digest = existing.as_ref().and_then(|e| e.digest.as_deref());
    let facts = serde_json::to_string(&report.host)?;
    let errors = serde_json::to_string(&report.errors)?;
    let role = report.host.role.map(role_name);
    let skew = report.scanned_at.map(|t| t - now).filter(|s| s.abs() > CLOCK_SKEW_TOLERANCE_SECS);
    if existing.is_none() {
        tx.prepare_cached(
            "INSERT INTO hosts (host_id, hostname, facts, role, first_seen, last_seen, last_sequence, last_report_id, \
             errors) VALUES (?1, ?2, '{}', NULL, ?3, ?3, 0, '', '[]')",
        )?
        .execute(params![host_id, report.host.hostname, now])?;
    }
    let mut snapshot = current_snapshot;
    if current_digest != Some(digest.as_slice()) {
        // Serialised only when a snapshot is written: most reports change nothing.
        let installations = serde_json::to_string(&report.installations)?;
        let identities = serde_json::to_string(&report.identities)?;
        tx.prepare_cached(
            "INSERT INTO snapshots (host_id, received_at, hostname, digest, installations, identities) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![host_id, now, report.host.hostname, digest, installations, identities])?;
        snapshot = Some(tx.last_insert_rowid());
    }
    let new_snapshot = snapshot != current_snapshot;
    tx.prepare_cached(
        "UPDATE hosts SET hostname = ?2, facts = ?3, role = ?4, last_seen = max(last_seen, ?5), scanned_at = ?6, \
         last_sequence = ?7, last_report_id = ?8, current_snapshot = ?9, errors = ?10, clock_skew = ?11 WHERE host_id = ?1",
    )?
    .execute(params![
        host_id,
        report.host.hostname,
        facts,
        role,
        now,
        report.scanned_at,
        sequence,
        report.report_id,
        snapshot,
        errors,
        skew
    ])?;
    let hostname_changed = existing.as_ref().is_none_or(|e| e.hostname != report.host.hostname);
    if hostname_changed {
        tx.prepare_cached(
            "INSERT INTO hostnames (host_id, hostname, since, snapshot, with_inventory) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![host_id, report.host.hostname, now, snapshot, new_snapshot])?;
    }
    Ok(IngestOutcome::Stored { new_snapshot })
}

/// A report waiting for the writer thread, and where to send its outcome.
#[derive(Debug)]
struct Pending {
    report: IncomingReport,
    received_at: i64,
    done: tokio::sync::oneshot::Sender<Result<IngestOutcome, StoreError>>,
}

/// Group commit: one writer thread stores whatever reports are waiting in one transaction and
/// answers each only after that transaction is durably committed.
///
/// There is no timer: while one batch commits (its fsync is most of the cost), the next one
/// queues up, so batches grow with the load by themselves and a lone report is written at once.
/// The thread ends when the last clone of its `GroupCommit` is dropped, after storing what is
/// queued.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    queue: tokio::sync::mpsc::Sender<Pending>,
}

impl GroupCommit {
    /// Starts the writer thread over `store`. If the thread cannot be started (the process is
    /// out of threads), the error is logged and every ingest fails with
    /// [`StoreError::WriterStopped`], which agents see as `UNAVAILABLE` and retry.
    pub fn start(store: Arc<SqliteStore>) -> Self {
        // Bounded: a collector that cannot keep up pushes back on the gRPC handlers (and so on
        // the agents) rather than growing its memory.
        let (queue, receiver) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
        let spawned = std::thread::Builder::new()
            .name("azver-store-writer".into())
            .spawn(move || write_batches(&store, receiver));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the database writer thread; reports will be refused");
        }
        Self { queue }
    }

    /// Stores `report`, received at `received_at`; returns once it is durable.
    pub async fn ingest(&self, report: IncomingReport, received_at: i64) -> Result<IngestOutcome, StoreError> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.queue.send(Pending { report, received_at, done }).await.map_err(|_| StoreError::WriterStopped)?;
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// The writer thread's loop: take what is queued (up to [`MAX_BATCH`]), commit it, answer.
fn write_batches(store: &SqliteStore, mut receiver: tokio::sync::mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let result = {
            let reports: Vec<(&IncomingReport, i64)> = batch.iter().map(|p| (&p.report, p.received_at)).collect();
            store.ingest_batch(&reports)
        };
        tracing::trace!(reports = batch.len(), "batch committed");
        match result {
            Ok(outcomes) => {
                for (pending, outcome) in batch.drain(..).zip(outcomes) {
                    // The request may have been cancelled meanwhile; its report is stored anyway.
                    let _ = pending.done.send(outcome);
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for pending in batch.drain(..) {
                    let _ = pending.done.send(Err(StoreError::Batch(error.clone())));
                }
            }
        }
    }
}

/// One row of the daily roll-up: how many hosts had `status` in `role` on `day`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyCount {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// `developer`, `build-runner`, `server`, or empty for hosts without a role.
    pub role: String,
    /// `compliant`, `noncompliant`, `not-applicable` or `stale`.
    pub status: String,
    /// Number of hosts.
    pub hosts: u64,
}

impl SqliteStore {
    /// Replaces the roll-up of `day` with `counts` (the whole day at once, so a status that
    /// dropped to zero since the last roll-up does not linger). `now` is when it was computed.
    pub fn record_daily(&self, day: &str, counts: &[DailyCount], now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM daily_status WHERE day = ?1", [day])?;
        for count in counts {
            tx.execute(
                "INSERT INTO daily_status (day, role, status, hosts, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![day, count.role, count.status, i64::try_from(count.hosts).unwrap_or(i64::MAX), now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The roll-up rows from `since` (a `YYYY-MM-DD` day, inclusive) on, ordered by day.
    pub fn daily(&self, since: &str) -> Result<Vec<DailyCount>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare("SELECT day, role, status, hosts FROM daily_status WHERE day >= ?1 ORDER BY day, role, status")?;
        let rows = stmt.query_map([since], |r| {
            Ok(DailyCount {
                day: r.get(0)?,
                role: r.get(1)?,
                status: r.get(2)?,
                hosts: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The wire name of a role, also used in the database.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Developer => "developer",
        Role::BuildRunner => "build-runner",
        Role::Server => "server",
    }
}

fn query_hosts<P: rusqlite::Params>(conn: &Connection, filter: &str, params: P) -> Result<Vec<StoredHost>, StoreError> {
    let mut hosts = Vec::new();
    visit_hosts(conn, filter, params, |host| hosts.push(host))?;
    Ok(hosts)
}

fn visit_hosts<P: rusqlite::Params>(
    conn: &Connection,
    filter: &str,
    params: P,
    mut visit: impl FnMut(StoredHost),
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT h.facts, h.first_seen, h.last_seen, h.scanned_at, h.errors, s.installations, s.identities, h.clock_skew \
         FROM hosts h LEFT JOIN snapshots s ON s.id = h.current_snapshot {filter} ORDER BY h.hostname, h.host_id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, Option<i64>>(7)?,
        ))
    })?;
    for row in rows {
        let (facts, first_seen, last_seen, scanned_at, errors, installations, identities, clock_skew) = row?;
        visit(StoredHost {
            facts: serde_json::from_str(&facts)?,
            first_seen,
            last_seen,
            scanned_at,
            installations: installations.as_deref().map(serde_json::from_str).transpose()?.unwrap_or_default(),
            identities: identities.as_deref().map(serde_json::from_str).transpose()?.unwrap_or_default(),
            errors: serde_json::from_str(&errors)?,
            clock_skew,
        });
    }
    Ok(())
}

/// A digest of what was found, independent of the order detectors reported it in.
fn inventory_digest(installations: &[Installation], identities: &[Identity]) -> Result<Vec<u8>, StoreError> {
    let mut installs: Vec<String> = installations.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
    installs.sort();
    let mut ids: Vec<String> = identities.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
    ids.sort();
    let mut hasher = Sha256::new();
    for part in installs.iter().chain(std::iter::once(&String::from("--identities--"))).chain(ids.iter()) {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    Ok(hasher.finalize().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use azver_core::{Evidence, InstallSource, Scope};

    fn install(version: &str) -> Installation {
        Installation {
            product: "azure-cli".into(),
            version: version.into(),
            source: InstallSource::MicrosoftDeb,
            scope: Scope::System,
            user: None,
            path: "/opt/az/lib/python3.12/site-packages".into(),
            on_path: true,
            default_for_powershell: false,
            evidence: Evidence::DistInfo,
        }
    }

    fn report(host: &str, hostname: &str, sequence: u64, version: &str) -> IncomingReport {
        IncomingReport {
            host: HostFacts { host_id: Some(host.into()), hostname: hostname.into(), ..HostFacts::default() },
            scanned_at: Some(1_000),
            report_id: format!("{host}-{sequence}"),
            sequence,
            installations: vec![install(version)],
            identities: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("fleet.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn unchanged_reports_move_last_seen_only() {
        let (_dir, store) = store();
        assert_eq!(
            store.ingest(&report("h1", "a", 1, "2.76.0"), 1_000).unwrap(),
            IngestOutcome::Stored { new_snapshot: true }
        );
        let size_after_first = store.stats().unwrap().2;
        for sequence in 2..=500 {
            let outcome = store.ingest(&report("h1", "a", sequence, "2.76.0"), 1_000 + sequence as i64 * 3600).unwrap();
            assert_eq!(outcome, IngestOutcome::Stored { new_snapshot: false });
        }
        let (hosts, snapshots, size) = store.stats().unwrap();
        assert_eq!((hosts, snapshots), (1, 1));
        assert_eq!(size, size_after_first, "an unchanged host must not grow the database");
        let host = store.host("h1").unwrap().unwrap();
        assert_eq!((host.first_seen, host.last_seen), (1_000, 1_000 + 500 * 3600));
        assert_eq!(store.history("h1").unwrap().len(), 1);
    }

    #[test]
    fn a_batch_stores_exactly_what_reports_one_by_one_would() {
        // New host, unchanged, upgrade, retry of the upgrade, late older report, rename, and a
        // second host: all in one transaction, in order.
        let mut renamed = report("h1", "b", 4, "2.77.0");
        renamed.report_id = "h1-renamed".into();
        let reports = [
            (report("h1", "a", 1, "2.76.0"), 1_000),
            (report("h1", "a", 2, "2.76.0"), 1_001),
            (report("h1", "a", 3, "2.77.0"), 1_002),
            (report("h1", "a", 3, "2.77.0"), 1_003),
            (report("h1", "a", 2, "2.76.0"), 1_004),
            (renamed, 1_005),
            (report("h2", "c", 1, "2.76.0"), 1_006),
        ];
        let (_one_dir, one_by_one) = store();
        let expected: Vec<IngestOutcome> = reports.iter().map(|(r, now)| one_by_one.ingest(r, *now).unwrap()).collect();
        let (_dir, batched) = store();
        let refs: Vec<(&IncomingReport, i64)> = reports.iter().map(|(r, now)| (r, *now)).collect();
        let outcomes: Vec<IngestOutcome> =
            batched.ingest_batch(&refs).unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!(outcomes, expected);
        assert_eq!(
            expected,
            [
                IngestOutcome::Stored { new_snapshot: true },
                IngestOutcome::Stored { new_snapshot: false },
                IngestOutcome::Stored { new_snapshot: true },
                IngestOutcome::Duplicate,
                IngestOutcome::Duplicate,
                IngestOutcome::Stored { new_snapshot: false },
                IngestOutcome::Stored { new_snapshot: true },
            ]
        );
        assert_eq!(batched.hosts().unwrap(), one_by_one.hosts().unwrap());
        assert_eq!(batched.history("h1").unwrap(), one_by_one.history("h1").unwrap());
        assert_eq!(batched.stats().unwrap().1, 3);
    }

    #[test]
    fn group_commit_answers_every_concurrent_report_after_storing_it() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let outcomes = runtime.block_on(async {
            let writer = GroupCommit::start(store.clone());
            let tasks: Vec<_> = (1..=200u64)
                .map(|i| {
                    let writer = writer.clone();
                    tokio::spawn(async move { writer.ingest(report(&format!("h{i}"), "a", 1, "2.76.0"), 1_000).await })
                })
                .collect();
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.unwrap().unwrap());
            }
            // A retry through the same writer is still recognised.
            outcomes.push(writer.ingest(report("h7", "a", 1, "2.76.0"), 2_000).await.unwrap());
            outcomes
        });
        assert!(outcomes[..200].iter().all(|o| *o == IngestOutcome::Stored { new_snapshot: true }));
        assert_eq!(outcomes[200], IngestOutcome::Duplicate);
        // Acknowledged means committed: a fresh connection sees every host.
        let path = store.reader().path().unwrap().to_owned();
        let count: i64 =
            Connection::open(path).unwrap().query_row("SELECT count(*) FROM hosts", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 200);
    }

    #[test]
    fn duplicates_are_acknowledged_and_not_stored() {
        let (_dir, store) = store();
        let first = report("h1", "a", 5, "2.76.0");
        store.ingest(&first, 1_000).unwrap();
        // The same report again (an agent retrying), and an older one arriving late.
        assert_eq!(store.ingest(&first, 2_000).unwrap(), IngestOutcome::Duplicate);
        assert_eq!(store.ingest(&report("h1", "a", 4, "2.45.0"), 3_000).unwrap(), IngestOutcome::Duplicate);
        let host = store.host("h1").unwrap().unwrap();
        assert_eq!(host.installations[0].version, "2.76.0");
        assert_eq!(host.last_seen, 3_000);
        assert_eq!(store.stats().unwrap().1, 1);
    }

    #[test]
    fn changes_and_renames_are_history() {
        let (_dir, store) = store();
        store.ingest(&report("h1", "old-name", 1, "2.45.0"), 1_000).unwrap();
        store.ingest(&report("h1", "old-name", 2, "2.76.0"), 2_000).unwrap();
        store.ingest(&report("h1", "new-name", 3, "2.76.0"), 3_000).unwrap();
        let history = store.history("h1").unwrap();
        let summary: Vec<(i64, &str, &str, &str)> = history
            .iter()
            .map(|h| (h.at, h.change.as_str(), h.hostname.as_str(), h.installations[0].version.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (1_000, "inventory", "old-name", "2.45.0"),
                (2_000, "inventory", "old-name", "2.76.0"),
                (3_000, "hostname", "new-name", "2.76.0")
            ]
        );
        assert_eq!(store.find("new-name").unwrap(), ["h1"]);
        assert!(store.find("old-name").unwrap().is_empty());
    }

    #[test]
    fn strings_are_stored_exactly_and_hosts_can_be_deleted() {
        let (_dir, store) = store();
        let name = "<script>alert(1)</script> \u{1F600} \"quoted\"";
        store.ingest(&report("h1", name, 1, "2.76.0"), 1_000).unwrap();
        store.ingest(&report("h2", "twin", 1, "2.76.0"), 1_000).unwrap();
        store.ingest(&report("h3", "twin", 1, "2.76.0"), 1_000).unwrap();
        assert_eq!(store.host("h1").unwrap().unwrap().facts.hostname, name);
        assert_eq!(store.find("twin").unwrap(), ["h2", "h3"]);
        assert_eq!(store.delete_hosts(&store.find("twin").unwrap()).unwrap(), 2);
        assert_eq!(store.stats().unwrap().0, 1);
        assert!(store.history("h2").unwrap().is_empty(), "history goes with the host");
    }

    #[test]
    fn skewed_clocks_are_marked() {
        let (_dir, store) = store();
        let mut ahead = report("h1", "a", 1, "2.76.0");
        ahead.scanned_at = Some(1_000 + 2 * 86_400);
        store.ingest(&ahead, 1_000).unwrap();
        assert_eq!(store.host("h1").unwrap().unwrap().clock_skew, Some(2 * 86_400));
        store.ingest(&report("h1", "a", 2, "2.76.0"), 1_100).unwrap();
        assert_eq!(store.host("h1").unwrap().unwrap().clock_skew, None);
    }

    #[test]
    fn reopening_keeps_data_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        SqliteStore::open(&path).unwrap().ingest(&report("h1", "a", 1, "2.76.0"), 1_000).unwrap();
        assert_eq!(SqliteStore::open(&path).unwrap().stats().unwrap().0, 1);
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let error = SqliteStore::open(&path).unwrap_err().to_string();
        assert!(error.contains("schema version 99 is newer"), "{error}");
    }

    #[test]
    fn daily_rollups_replace_the_whole_day() {
        let (_dir, store) = store();
        let count = |day: &str, role: &str, status: &str, hosts| DailyCount {
            day: day.into(),
            role: role.into(),
            status: status.into(),
            hosts,
        };
        store.record_daily("2026-03-01", &[count("2026-03-01", "developer", "compliant", 3)], 1).unwrap();
        store
            .record_daily(
                "2026-03-02",
                &[count("2026-03-02", "developer", "compliant", 2), count("2026-03-02", "", "stale", 1)],
                2,
            )
            .unwrap();
        // A later roll-up of the same day replaces it: the stale host is gone, not left at 1.
        store.record_daily("2026-03-02", &[count("2026-03-02", "developer", "compliant", 4)], 3).unwrap();
        assert_eq!(
            store.daily("2026-01-01").unwrap(),
            [count("2026-03-01", "developer", "compliant", 3), count("2026-03-02", "developer", "compliant", 4)]
        );
        assert_eq!(store.daily("2026-03-02").unwrap(), [count("2026-03-02", "developer", "compliant", 4)]);
    }

    #[test]
    fn purge_deletes_only_hosts_past_their_retention() {
        use crate::config::Config;
        let (_dir, store) = store();
        let mut runner = report("runner", "ci-1", 1, "2.76.0");
        runner.host.role = Some(Role::BuildRunner);
        store.ingest(&runner, 1_000).unwrap();
        store.ingest(&report("laptop", "dev-1", 1, "2.76.0"), 1_000).unwrap();
        let config = Config::parse("[[rules]]\nrole = \"build-runner\"\npurge_after = \"1d\"\n", "test").unwrap();
        assert_eq!(crate::server::purge_once(&store, &config, 1_000 + 3600).unwrap(), 0);
        assert_eq!(crate::server::purge_once(&store, &config, 1_000 + 2 * 86_400).unwrap(), 1);
        let left: Vec<String> = store.hosts().unwrap().iter().map(|h| h.host_id().to_owned()).collect();
        assert_eq!(left, ["laptop"]);
    }
}

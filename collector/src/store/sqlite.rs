//! The SQLite store: one file, created and migrated on open; the embedded default.
//!
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
//!   the writer (nor it for them). Node-key lookups, which run for every report, have a
//!   connection of their own too, so a long fleet report never delays ingest.
//! - [`SqliteDb`] is the blocking core; [`SqliteStore`] wraps it in the async [`Store`] trait
//!   (blocking calls on tokio's blocking threads, ingest through the writer thread).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};

use super::RevokedHost;
use super::ingest::{self, Decision, Known};
use super::query::{self, Clause, Dialect, HostFilter, PageRequest};
use super::rollup;
use super::tables::{self, Cells as _, Value};
use super::{
    AdminTokenInfo, Credential, DailyCount, EnrollOutcome, EnrollSecretInfo, HistoryEntry, ImportCounts,
    IncomingReport, IngestOutcome, KeyDigest, Record, RenameEntry, SnapshotEntry, Store, StoreError, StoreStats,
    StoredHost, Verdict, clock_skew, decode_host, inventory_digest, log_reset, merge_history, role_name,
    versions_column,
};
use crate::config::Config;

/// The schema's migrations, in order: [`FIXED`], then the counts kept at write time (M9, then
/// M10 and M11 rebuilding them, built by [`rollup::sqlite_schema`] and [`rollup::sqlite_rebuild`]).
fn migrations() -> Vec<M<'static>> {
    static ROLLUP: std::sync::LazyLock<String> = std::sync::LazyLock::new(rollup::sqlite_schema);
    static REBUILD: std::sync::LazyLock<String> = std::sync::LazyLock::new(rollup::sqlite_rebuild);
    let mut all = FIXED.to_vec();
    // M9 (issue 17, the summary of 1,000,000 hosts in milliseconds): `fleet_counts`, kept by
    // triggers (see `store/rollup.rs`), filled here from what is stored.
    all.push(M::up(&ROLLUP));
    // M10: the counts again, with the stored status beside versions and findings (views
    // filtered by status from the counts).
    all.push(M::up(&REBUILD));
    // M11: the counts again, with the stored status beside labels, products counted from the
    // versions (a status within a label or product counted from a few rows, whatever share of
    // it has the status), and the hosts of each finding kind.
    all.push(M::up(&REBUILD));
    all
}

/// The migrations written as text.
const FIXED: &[M<'static>] = &[
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
    // M3: authentication (issue 5). Secrets are stored as SHA-256 digests only. A revoked host
    // stays in `revoked_hosts` (its node key is deleted) until `host delete` removes the host,
    // so it cannot enroll again with a leaked enrollment secret.
    M::up(
        "CREATE TABLE enroll_secrets (
        id TEXT PRIMARY KEY NOT NULL,
        label TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER,
        enrollments INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE node_keys (
        host_id TEXT PRIMARY KEY NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        secret_id TEXT,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE revoked_hosts (
        host_id TEXT PRIMARY KEY NOT NULL,
        revoked_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE admin_tokens (
        id TEXT PRIMARY KEY NOT NULL,
        label TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
    ) STRICT;",
    ),
    // M4 (issues 15.6 and 17): the host's recent report ids (JSON array, newest first), so a
    // retry is recognised by its id within a window rather than by its sequence alone.
    M::up("ALTER TABLE hosts ADD COLUMN recent_report_ids TEXT NOT NULL DEFAULT '[]';"),
    // M5 (issue 17): the verdict stored with each host's state, stamped with the baseline's
    // digest, and the columns aggregates read (status, finding kinds, products below the
    // baseline). Staleness is a predicate on `last_seen`, hence the (role, last_seen) index.
    M::up(
        "ALTER TABLE hosts ADD COLUMN verdict TEXT;
    ALTER TABLE hosts ADD COLUMN verdict_baseline TEXT;
    ALTER TABLE hosts ADD COLUMN verdict_status TEXT;
    ALTER TABLE hosts ADD COLUMN verdict_kinds TEXT;
    ALTER TABLE hosts ADD COLUMN verdict_below TEXT;
    CREATE INDEX hosts_status_seen ON hosts(verdict_status, last_seen);
    CREATE INDEX hosts_role_seen ON hosts(role, last_seen);
    CREATE INDEX hosts_name_id ON hosts(hostname, host_id);",
    ),
    // M(jobs): scheduled jobs that sign in to Azure (issue 16), part of the inventory and so of
    // each snapshot; rows written before hold none.
    M::up("ALTER TABLE snapshots ADD COLUMN job_sign_ins TEXT NOT NULL DEFAULT '[]';"),
    // M7 (issue 17, ingest at 1,000,000 hosts): staleness is indexed by `seen_hour`
    // (`last_seen / 3600`, see `query::stale_sql`) instead of the exact second, so the report of
    // an unchanged host rewrites its row and no index entry (it moved three before, each a
    // random page of a large file). Triggers keep `seen_hour` right on every write, import
    // included; they write it only when the hour changes. `hosts_hostname` duplicated the
    // prefix of `hosts_name_id`.
    M::up(
        "ALTER TABLE hosts ADD COLUMN seen_hour INTEGER NOT NULL DEFAULT 0;
    UPDATE hosts SET seen_hour = last_seen / 3600;
    DROP INDEX hosts_hostname;
    DROP INDEX hosts_last_seen;
    DROP INDEX hosts_status_seen;
    DROP INDEX hosts_role_seen;
    CREATE INDEX hosts_seen ON hosts(seen_hour);
    CREATE INDEX hosts_status_seen ON hosts(verdict_status, seen_hour);
    CREATE INDEX hosts_role_seen ON hosts(role, seen_hour);
    CREATE TRIGGER hosts_seen_hour_insert AFTER INSERT ON hosts WHEN NEW.seen_hour IS NOT NEW.last_seen / 3600
    BEGIN UPDATE hosts SET seen_hour = NEW.last_seen / 3600 WHERE rowid = NEW.rowid; END;
    CREATE TRIGGER hosts_seen_hour_update AFTER UPDATE OF last_seen, seen_hour ON hosts
    WHEN NEW.seen_hour IS NOT NEW.last_seen / 3600
    BEGIN UPDATE hosts SET seen_hour = NEW.last_seen / 3600 WHERE rowid = NEW.rowid; END;",
    ),
    // M8 (issue 17, counts at 1,000,000 hosts): the fleet's versions per product and findings
    // per kind read two small JSON columns instead of every current inventory's installations
    // and every verdict's findings (34 s and 21 s of a 52-73 s count): `versions`, the distinct
    // (product, version) pairs of the current inventory, and `verdict_tally`, findings per kind.
    // Filled here from what is stored; ingest and re-evaluation write them since.
    M::up(
        "ALTER TABLE hosts ADD COLUMN versions TEXT;
    ALTER TABLE hosts ADD COLUMN verdict_tally TEXT;
    UPDATE hosts SET versions = (SELECT json_group_array(json_array(p, v)) FROM (
        SELECT DISTINCT coalesce(i.value ->> '$.product', '') AS p, coalesce(i.value ->> '$.version', '') AS v
        FROM snapshots s, json_each(s.installations) i WHERE s.id = hosts.current_snapshot ORDER BY 1, 2))
    WHERE current_snapshot IS NOT NULL;
    UPDATE hosts SET verdict_tally = (SELECT json_group_object(k, n) FROM (
        SELECT coalesce(f.value ->> '$.kind', '') AS k, count(*) AS n FROM json_each(hosts.verdict, '$.findings') f
        GROUP BY 1 ORDER BY 1))
    WHERE verdict IS NOT NULL;",
    ),
];

/// The blocking SQLite database: a writer, [`READERS`] readers, one for aggregates and one for
/// node-key lookups. Thread-safe; every call is short and blocking.
#[derive(Debug)]
pub struct SqliteDb {
    /// The one connection that writes: SQLite allows one writer at a time anyway.
    writer: Mutex<Connection>,
    /// The connections reads go through, so reports and the dashboard never wait for ingest,
    /// and one slow read (a filtered page walking a large fleet) never holds up the others (a
    /// duplicate report's answer, the host page, the next API page).
    readers: Vec<Mutex<Connection>>,
    /// Where a read waits when every reader is busy (round robin).
    next_reader: std::sync::atomic::AtomicUsize,
    /// Node-key and admin-token lookups: on the path of every report, never behind a report
    /// over 100,000 hosts holding `reader`.
    auth: Mutex<Connection>,
    /// Aggregate queries over every host (`tally`, seconds on a large fleet), so a page of
    /// hosts or a host page never waits behind one (WAL: readers do not block each other).
    bulk: Mutex<Connection>,
    /// Wakes the checkpoint thread whenever the writer has been used (see [`checkpoints`]);
    /// `None` if that thread could not be started, and the writer checkpoints by itself.
    checkpoints: Option<std::sync::mpsc::SyncSender<()>>,
    /// What the checkpoint thread has done, and a condition signalled after each checkpoint.
    checkpointed: Arc<(Mutex<Checkpoints>, std::sync::Condvar)>,
    path: PathBuf,
}

/// The writer connection, held; dropping it (after its transaction has ended) wakes the
/// checkpoint thread.
pub(crate) struct Writer<'a> {
    conn: MutexGuard<'a, Connection>,
    checkpoints: Option<&'a std::sync::mpsc::SyncSender<()>>,
}

impl std::ops::Deref for Writer<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if let Some(wake) = self.checkpoints {
            // Full: a wake-up is already pending, and it will see this commit's frames too.
            let _ = wake.try_send(());
        }
    }
}

/// Starts the thread that checkpoints the WAL of `path` on its own connection each time it is
/// woken (after the writer's commits), so a commit never waits for a checkpoint's page writes
/// and `fsync` (13 % of ingest's time at 1,000,000 hosts when the committing writer ran them,
/// docs/BENCHMARKS.md). Passive: it never blocks the writer or a reader. The thread ends when
/// the returned sender is dropped.
fn checkpoints(
    path: &Path,
    checkpointed: Arc<(Mutex<Checkpoints>, std::sync::Condvar)>,
) -> Result<std::sync::mpsc::SyncSender<()>, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("azver-store-checkpoint".into())
        .spawn(move || {
            let mut throttle = crate::throttle::LogThrottle::new(Duration::from_secs(60));
            while woken.recv().is_ok() {
                // (busy, frames in the WAL, frames copied)
                let frames = match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                    Ok(frames) => frames,
                    Err(error) => {
                        if let Some(left_out) = throttle.allow("checkpoint") {
                            tracing::warn!(%error, left_out, "WAL checkpoint failed; the next commit tries again");
                        }
                        0
                    }
                };
                let (state, signal) = &*checkpointed;
                let mut state = lock(state);
                state.runs += 1;
                state.wal_frames = frames;
                signal.notify_all();
            }
        })
        .map_err(|e| StoreError::Task(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(wake)
}

/// What the checkpoint thread has done.
#[derive(Debug, Default)]
struct Checkpoints {
    /// Checkpoints run.
    runs: u64,
    /// Frames in the WAL at the last one.
    wal_frames: i64,
}

/// Frames (4 KiB pages) the WAL may hold before the writer checkpoints itself (see
/// [`SqliteDb::catch_up`]): the size the WAL is cut back to.
const WAL_FRAMES_MAX: i64 = JOURNAL_SIZE_LIMIT / 4096;

/// The size the WAL file is cut back to after a checkpoint: a WAL that a long read let grow to
/// gigabytes does not keep its disk space (see docs/BENCHMARKS.md, mixed load).
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Most reports committed in one transaction: bounds the latency a batch adds to its last
/// report, while far above what arrives during one fsync at the target rates.
pub const MAX_BATCH: usize = 512;

/// Read connections (under WAL, readers never block each other or the writer).
pub const READERS: usize = 4;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves SQLite consistent (transactions roll back).
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(conn)
}

// Every writing transaction starts IMMEDIATE: it takes the write lock first, so a second
// writer on the file (the CLI's `host delete` while `serve` runs, a second collector) waits
// for it under the busy timeout. A DEFERRED transaction that reads and then writes would
// fail at once with "database is locked" instead.

/// Maps a uniqueness violation to [`StoreError::Duplicate`] naming `what`.
fn unique(error: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Duplicate(what()),
        _ => StoreError::Sqlite(error),
    }
}

/// The count of a filter by status within a label or product with more conditions (a name, a
/// finding: what the counts kept at write time do not answer, [`rollup::count`]), from the hosts
/// stored with that status when they are fewer than the label's or product's
/// ([`query::candidates`], through the status index; both sizes from the counts kept at write
/// time); `None` to count from the label's or product's hosts. Only when every host is
/// `evaluated` against `digest`, so the stored statuses are those of the served baseline.
fn fewer_by_status(
    conn: &Connection,
    filter: &HostFilter,
    config: &Config,
    (digest, now, evaluated): (&str, i64, bool),
) -> Result<Option<Clause>, StoreError> {
    let by = match (&filter.label, &filter.product) {
        (Some(label), _) => HostFilter { label: Some(label.clone()), ..HostFilter::default() },
        (None, Some(product)) => HostFilter { product: Some(product.clone()), ..HostFilter::default() },
        (None, None) => return Ok(None),
    };
    let (Some(status), Some(members)) = (filter.status, rollup::count(Dialect::Sqlite, &by, config, digest, now))
    else {
        return Ok(None);
    };
    if status == azver_core::Status::Stale || !evaluated {
        return Ok(None);
    }
    let of_members: i64 =
        conn.query_row(&members.sql, rusqlite::params_from_iter(members.params.iter()), |r| r.get(0))?;
    let stored: i64 =
        conn.query_row(&rollup::sqlite_stored_status(), params![digest, status.as_str()], |r| r.get(0))?;
    if stored >= of_members {
        return Ok(None);
    }
    let mut c = query::clause(Dialect::Sqlite, filter, config, digest, now);
    c.members = query::candidates(Dialect::Sqlite, filter, config, digest, now, &mut c);
    Ok(c.members.is_some().then(|| query::count_of(Dialect::Sqlite, c)))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqliteDb {
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
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let found = usize::try_from(found).unwrap_or(usize::MAX);
        let migrations = migrations();
        if found > migrations.len() {
            return Err(StoreError::TooNew { found, supported: migrations.len() });
        }
        Migrations::new(migrations).to_latest(&mut conn)?;
        let checkpointed = Arc::new((Mutex::new(Checkpoints::default()), std::sync::Condvar::new()));
        let checkpoints = match checkpoints(path, checkpointed.clone()) {
            Ok(wake) => {
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                Some(wake)
            }
            Err(error) => {
                tracing::warn!(%error, "the writer checkpoints the WAL itself");
                None
            }
        };
        Ok(Self {
            checkpoints,
            checkpointed,
            writer: Mutex::new(conn),
            readers: (0..READERS).map(|_| read_connection(path).map(Mutex::new)).collect::<Result<_, _>>()?,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            auth: Mutex::new(read_connection(path)?),
            bulk: Mutex::new(read_connection(path)?),
            path: path.to_owned(),
        })
    }

    fn conn(&self) -> Writer<'_> {
        let conn = lock(&self.writer);
        self.catch_up(&conn);
        Writer { conn, checkpoints: self.checkpoints.as_ref() }
    }

    /// Waits until the checkpoint thread has run more than `past` checkpoints in all, or
    /// `timeout` has passed; returns the number run.
    pub fn wait_checkpoints(&self, past: u64, timeout: Duration) -> u64 {
        let (state, signal) = &*self.checkpointed;
        let state = lock(state);
        let (state, _) = signal
            .wait_timeout_while(state, timeout, |s| s.runs <= past)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.runs
    }

    /// Before the writer's next transaction: if the checkpoint thread has fallen behind (the
    /// WAL held more than [`WAL_FRAMES_MAX`] frames at its last checkpoint), the writer copies
    /// the WAL itself, so that transaction starts the WAL over. SQLite starts it over only when
    /// a write transaction begins with every frame copied, which never happens while the
    /// thread is always in the middle of a checkpoint: the WAL grew to 1.9 GB at 1,000,000
    /// hosts, and every page lookup through it slowed down (docs/BENCHMARKS.md).
    fn catch_up(&self, conn: &Connection) {
        let (state, _) = &*self.checkpointed;
        let (frames, runs) = {
            let state = lock(state);
            (state.wal_frames, state.runs)
        };
        if frames <= WAL_FRAMES_MAX {
            return;
        }
        // While the thread runs one, SQLite answers busy at once: wait for it, then try again.
        for _ in 0..2 {
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
                Ok(0) => break,
                Ok(_) => {
                    self.wait_checkpoints(runs, Duration::from_secs(5));
                }
                Err(error) => {
                    tracing::warn!(%error, "WAL checkpoint by the writer failed");
                    break;
                }
            }
        }
        lock(state).wal_frames = 0;
    }

    /// A free read connection, or (all busy) the next one in turn, waited for.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        for reader in &self.readers {
            if let Ok(guard) = reader.try_lock() {
                return guard;
            }
        }
        let turn = self.next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.readers.get(turn % self.readers.len().max(1)) {
            Some(reader) => lock(reader),
            None => lock(&self.auth),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
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
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        let mut hosts = Vec::new();
        visit_hosts(&self.reader(), "", [], |host| {
            hosts.push(host);
            true
        })?;
        Ok(hosts)
    }

    /// Calls `visit` with every host in turn, holding one host in memory at a time, until
    /// `visit` returns false.
    pub fn for_each_host(&self, visit: impl FnMut(StoredHost) -> bool) -> Result<(), StoreError> {
        visit_hosts(&self.reader(), "", [], visit)
    }

    /// See [`Store::unevaluated`].
    pub fn unevaluated(&self, digest: &str, after: &str, limit: usize) -> Result<Vec<StoredHost>, StoreError> {
        let conn = self.reader();
        // Every host evaluated (the usual case): the counts say so, no walk of every host.
        if after.is_empty()
            && conn.query_row(&rollup::unevaluated(Dialect::Sqlite), [digest], |r| r.get::<_, i64>(0))? == 0
        {
            return Ok(Vec::new());
        }
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN snapshots s ON s.id = h.current_snapshot \
             WHERE h.host_id > ?1 AND h.verdict_baseline IS NOT ?2 ORDER BY h.host_id LIMIT ?3"
        ))?;
        let mut rows = stmt.query(params![after, digest, i64::try_from(limit).unwrap_or(i64::MAX)])?;
        let mut hosts = Vec::new();
        while let Some(r) = rows.next()? {
            hosts.push(host_from_row(r)?);
        }
        Ok(hosts)
    }

    /// See [`Store::status_counts`].
    pub fn status_counts(&self, config: &Config, digest: &str, now: i64) -> Result<Vec<DailyCount>, StoreError> {
        let stale = query::stale_sql(Dialect::Sqlite, config, "?2");
        let conn = self.reader();
        let mut stmt = conn.prepare(&format!(
            "SELECT coalesce(h.role, ''), CASE WHEN {stale} THEN 'stale' ELSE h.verdict_status END, \
             count(*) FROM hosts h WHERE h.verdict_baseline = ?1 GROUP BY 1, 2 ORDER BY 1, 2"
        ))?;
        let rows = stmt.query_map(params![digest, now], |r| {
            Ok(DailyCount {
                day: String::new(),
                role: r.get(0)?,
                status: r.get(1)?,
                hosts: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// See [`Store::page`].
    pub fn page(
        &self,
        request: &PageRequest,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<Vec<StoredHost>, StoreError> {
        let c = query::page(Dialect::Sqlite, request, config, digest, now, HOST_COLUMNS);
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&c.sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
        let mut hosts = Vec::new();
        while let Some(r) = rows.next()? {
            hosts.push(host_from_row(r)?);
        }
        Ok(hosts)
    }

    /// See [`Store::count`].
    pub fn count(&self, filter: &HostFilter, config: &Config, digest: &str, now: i64) -> Result<u64, StoreError> {
        let conn = self.reader();
        // One snapshot: the plans below hold only if every host is evaluated when it counts.
        let tx = conn.unchecked_transaction()?;
        // Whether every host is evaluated, read once for the plans that depend on it.
        let evaluated = (filter.status.is_some() || filter.finding.is_some())
            && tx.query_row(&rollup::unevaluated(Dialect::Sqlite), [digest], |r| r.get::<_, i64>(0))? == 0;
        let kept = match rollup::count(Dialect::Sqlite, filter, config, digest, now) {
            Some(_) if rollup::count_needs_every_host_evaluated(filter) && !evaluated => None,
            kept => kept,
        };
        let c = match kept {
            Some(c) => c,
            None => match fewer_by_status(&tx, filter, config, (digest, now, evaluated))? {
                Some(c) => c,
                None => query::count(Dialect::Sqlite, filter, config, digest, now),
            },
        };
        let n: i64 = tx.query_row(&c.sql, rusqlite::params_from_iter(c.params.iter()), |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// See [`Store::tally`].
    pub fn tally(
        &self,
        what: query::Tally,
        filter: &HostFilter,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<Vec<(String, String, u64)>, StoreError> {
        // From the counts kept at write time when they answer (a few hundred rows), else a scan
        // of every host on the connection kept for those.
        let kept = match rollup::tally(Dialect::Sqlite, what, filter, config, digest, now) {
            Some(c) if rollup::needs_every_host_evaluated(what, filter) => {
                let conn = self.reader();
                let pending: i64 = conn.query_row(&rollup::unevaluated(Dialect::Sqlite), [digest], |r| r.get(0))?;
                (pending == 0).then_some((c, conn))
            }
            Some(c) => Some((c, self.reader())),
            None => None,
        };
        let (c, conn) = match kept {
            Some(kept) => kept,
            None => (query::tally(Dialect::Sqlite, what, filter, config, digest, now), lock(&self.bulk)),
        };
        // Not cached: the counts' statement holds the instant, so its text changes every second.
        let mut stmt = conn.prepare(&c.sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(c.params.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?.max(0) as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// See [`Store::record_verdicts`].
    pub fn record_verdicts(&self, verdicts: &[(String, i64, Verdict)]) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut written = 0;
        {
            // The indexed status is set only where it changes (see `ingest_one`): most hosts keep
            // theirs across a baseline change. One statement either way, so the counts' triggers
            // fire once per host (see `store/rollup.rs`).
            let mut current =
                tx.prepare_cached("SELECT verdict_status FROM hosts WHERE host_id = ?1 AND last_sequence = ?2")?;
            let mut update = tx.prepare_cached(
                "UPDATE hosts SET verdict = ?3, verdict_baseline = ?4, verdict_kinds = ?5, verdict_below = ?6, \
                 verdict_tally = ?7 WHERE host_id = ?1 AND last_sequence = ?2",
            )?;
            let mut with_status = tx.prepare_cached(
                "UPDATE hosts SET verdict = ?3, verdict_baseline = ?4, verdict_kinds = ?5, verdict_below = ?6, \
                 verdict_tally = ?7, verdict_status = ?8 WHERE host_id = ?1 AND last_sequence = ?2",
            )?;
            for (host_id, sequence, verdict) in verdicts {
                let c = Verdict::columns(Some(verdict))?;
                // Gone, or a newer report stored meanwhile (with its own verdict): nothing to write.
                let Some(old) =
                    current.query_row(params![host_id, sequence], |r| r.get::<_, Option<String>>(0)).optional()?
                else {
                    continue;
                };
                written += if old == c.status {
                    update.execute(params![host_id, sequence, c.json, c.baseline, c.kinds, c.below, c.tally])?
                } else {
                    with_status
                        .execute(params![host_id, sequence, c.json, c.baseline, c.kinds, c.below, c.tally, c.status])?
                };
            }
        }
        tx.commit()?;
        Ok(written)
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
        let mut found = None;
        visit_hosts(&self.reader(), "WHERE h.host_id = ?1", [host_id], |host| {
            found = Some(host);
            false
        })?;
        Ok(found)
    }

    /// A host's history, oldest first: every inventory change and every later name change.
    pub fn history(&self, host_id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let conn = self.reader();
        let snapshots: Vec<SnapshotEntry> = conn
            .prepare(
                "SELECT id, received_at, hostname, installations, identities FROM snapshots WHERE host_id = ?1 ORDER BY id",
            )?
            .query_map([host_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
            .collect::<Result<_, _>>()?;
        // Renames that came without an inventory change (the first name is the host's birth).
        let renames: Vec<RenameEntry> = conn
            .prepare(
                "SELECT rowid, since, hostname, snapshot FROM hostnames WHERE host_id = ?1 AND with_inventory = 0 \
                 AND rowid > (SELECT min(rowid) FROM hostnames WHERE host_id = ?1) ORDER BY rowid",
            )?
            .query_map([host_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        merge_history(&snapshots, renames)
    }

    /// Deletes hosts with their history, node keys and revocations. Returns how many hosts.
    pub fn delete_hosts(&self, host_ids: &[String]) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut deleted = 0;
        for id in host_ids {
            deleted += tx.execute("DELETE FROM hosts WHERE host_id = ?1", [id])?;
            tx.execute("DELETE FROM node_keys WHERE host_id = ?1", [id])?;
            tx.execute("DELETE FROM revoked_hosts WHERE host_id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(deleted)
    }

    /// Revoked hosts, ordered by host id.
    pub fn revoked_hosts(&self) -> Result<Vec<RevokedHost>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached("SELECT host_id, revoked_at FROM revoked_hosts ORDER BY host_id")?;
        let rows = stmt.query_map([], |r| Ok(RevokedHost { host_id: r.get(0)?, revoked_at: r.get(1)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of hosts, snapshots and the file size in bytes.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let conn = self.reader();
        let count = |sql: &str| -> Result<u64, StoreError> { Ok(count(conn.query_row(sql, [], |r| r.get(0))?)) };
        Ok(StoreStats {
            hosts: count("SELECT count(*) FROM hosts")?,
            snapshots: count("SELECT count(*) FROM snapshots")?,
            bytes: count("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")?,
        })
    }

    /// Replaces the roll-up of `day` with `counts`.
    pub fn record_daily(&self, day: &str, counts: &[DailyCount], now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM daily_status WHERE day = ?1", [day])?;
        // Hourly: the count rows of past hours and baselines, at zero, go.
        tx.execute(rollup::PRUNE, [])?;
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
            Ok(DailyCount { day: r.get(0)?, role: r.get(1)?, status: r.get(2)?, hosts: count(r.get(3)?) })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_credential(
        &self,
        kind: Credential,
        id: &str,
        label: &str,
        digest: &KeyDigest,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {} (id, label, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            kind.table()
        );
        self.conn()
            .execute(&sql, params![id, label, digest.as_hex(), now, expires_at])
            .map_err(|e| unique(e, || format!("{} with id {id:?} or the same digest", kind.what())))?;
        Ok(())
    }

    fn list_enroll_secrets(&self) -> Result<Vec<EnrollSecretInfo>, StoreError> {
        Ok(self.enroll_secret_rows()?.into_iter().map(|(info, _)| info).collect())
    }

    fn enroll_secret_rows(&self) -> Result<Vec<(EnrollSecretInfo, KeyDigest)>, StoreError> {
        enroll_secret_rows(&self.reader())
    }

    fn admin_token_rows(&self) -> Result<Vec<(AdminTokenInfo, KeyDigest)>, StoreError> {
        admin_token_rows(&self.reader())
    }

    fn revoke(&self, kind: Credential, id: &str, now: i64) -> Result<bool, StoreError> {
        let sql = format!("UPDATE {} SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", kind.table());
        Ok(self.conn().execute(&sql, params![id, now])? == 1)
    }

    fn any_enroll_secret_ever(&self) -> Result<bool, StoreError> {
        // On the path of every unauthenticated report while no secret exists: never behind a read.
        Ok(lock(&self.auth).query_row("SELECT EXISTS (SELECT 1 FROM enroll_secrets)", [], |r| r.get(0))?)
    }

    fn enroll(
        &self,
        secret: &KeyDigest,
        host_id: &str,
        node_key: &KeyDigest,
        now: i64,
    ) -> Result<EnrollOutcome, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(String, Option<i64>, Option<i64>)> = tx
            .query_row(
                "SELECT id, expires_at, revoked_at FROM enroll_secrets WHERE hash = ?1",
                [secret.as_hex()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let outcome = match found {
            None => EnrollOutcome::UnknownSecret,
            Some((_, _, Some(_))) => EnrollOutcome::SecretRevoked,
            Some((_, Some(expires_at), None)) if expires_at <= now => EnrollOutcome::SecretExpired,
            Some((secret_id, _, None)) => {
                let revoked: bool =
                    tx.query_row("SELECT EXISTS (SELECT 1 FROM revoked_hosts WHERE host_id = ?1)", [host_id], |r| {
                        r.get(0)
                    })?;
                if revoked {
                    EnrollOutcome::HostRevoked
                } else {
                    tx.execute(
                        "INSERT INTO node_keys (host_id, key_hash, secret_id, created_at) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (host_id) DO UPDATE SET key_hash = excluded.key_hash, \
                         secret_id = excluded.secret_id, created_at = excluded.created_at",
                        params![host_id, node_key.as_hex(), secret_id, now],
                    )
                    .map_err(|e| unique(e, || "a node key with the same digest".into()))?;
                    tx.execute(
                        "UPDATE enroll_secrets SET enrollments = enrollments + 1, last_used_at = ?2 WHERE id = ?1",
                        params![secret_id, now],
                    )?;
                    EnrollOutcome::Enrolled { secret_id }
                }
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    fn authenticate_node_key(&self, node_key: &KeyDigest) -> Result<Option<String>, StoreError> {
        let conn = lock(&self.auth);
        let mut stmt = conn.prepare_cached(
            "SELECT k.host_id FROM node_keys k WHERE k.key_hash = ?1 \
             AND NOT EXISTS (SELECT 1 FROM revoked_hosts r WHERE r.host_id = k.host_id)",
        )?;
        Ok(stmt.query_row([node_key.as_hex()], |r| r.get(0)).optional()?)
    }

    fn revoke_host(&self, host_id: &str, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM hosts WHERE host_id = ?1) OR EXISTS (SELECT 1 FROM node_keys WHERE host_id = ?1)",
            [host_id],
            |r| r.get(0),
        )?;
        let revoked = known
            && tx.execute(
                "INSERT INTO revoked_hosts (host_id, revoked_at) VALUES (?1, ?2) ON CONFLICT (host_id) DO NOTHING",
                params![host_id, now],
            )? == 1;
        tx.execute("DELETE FROM node_keys WHERE host_id = ?1 AND ?2", params![host_id, revoked])?;
        tx.commit()?;
        Ok(revoked)
    }

    fn authenticate_admin_token(&self, token: &KeyDigest, now: i64) -> Result<Option<String>, StoreError> {
        let conn = lock(&self.auth);
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM admin_tokens WHERE hash = ?1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > ?2)",
        )?;
        Ok(stmt.query_row(params![token.as_hex(), now], |r| r.get(0)).optional()?)
    }

    /// Sends every row of [`tables::TABLES`] from one read transaction (a consistent snapshot
    /// under WAL).
    fn export(&self, out: &tokio::sync::mpsc::Sender<Record>) -> Result<(), StoreError> {
        let mut conn = self.reader();
        let tx = conn.transaction()?;
        for table in tables::TABLES {
            let mut stmt = tx.prepare(&table.select_sql(Dialect::Sqlite))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                out.blocking_send(Record { table, values: r.values(table)? })
                    .map_err(|_| StoreError::Task("import stopped".into()))?;
            }
        }
        Ok(())
    }

    fn import(&self, records: &mut tokio::sync::mpsc::Receiver<Record>) -> Result<ImportCounts, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held: i64 = tx.query_row(tables::HELD_SQL, [], |r| r.get(0))?;
        if held > 0 {
            return Err(StoreError::NotEmpty(format!("{held} hosts, secrets, tokens or roll-up rows")));
        }
        let mut counts = ImportCounts::default();
        while let Some(record) = records.blocking_recv() {
            record.check()?;
            let table = record.table;
            tx.prepare_cached(&table.insert_sql(Dialect::Sqlite))?
                .execute(rusqlite::params_from_iter(record.values.iter()))?;
            table.tally.add(&mut counts);
        }
        tx.commit()?;
        Ok(counts)
    }
}

impl tables::Cells for rusqlite::Row<'_> {
    fn int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(index)?)
    }
    fn text(&self, index: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(index)?)
    }
    fn bytes(&self, index: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(index)?)
    }
    fn boolean(&self, index: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.get(index)?)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Self::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Self::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Self::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Self::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Self::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Self::Digest(digest) => ToSqlOutput::Borrowed(ValueRef::Text(digest.as_hex().as_bytes())),
        })
    }
}

fn enroll_secret_rows(conn: &Connection) -> Result<Vec<(EnrollSecretInfo, KeyDigest)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, label, created_at, expires_at, revoked_at, last_used_at, enrollments, hash \
         FROM enroll_secrets ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            EnrollSecretInfo {
                id: r.get(0)?,
                label: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
                revoked_at: r.get(4)?,
                last_used_at: r.get(5)?,
                enrollments: count(r.get(6)?),
            },
            r.get::<_, String>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (info, hash) = row?;
        out.push((info, stored_digest(&hash)?));
    }
    Ok(out)
}

fn admin_token_rows(conn: &Connection) -> Result<Vec<(AdminTokenInfo, KeyDigest)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, label, created_at, expires_at, revoked_at, hash FROM admin_tokens ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            AdminTokenInfo {
                id: r.get(0)?,
                label: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
                revoked_at: r.get(4)?,
            },
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (info, hash) = row?;
        out.push((info, stored_digest(&hash)?));
    }
    Ok(out)
}

/// A digest read back from the database (written by this code, so well-formed unless edited).
fn stored_digest(hex: &str) -> Result<KeyDigest, StoreError> {
    KeyDigest::from_hex(hex)
        .ok_or_else(|| StoreError::Task(format!("a stored digest is malformed: {} chars", hex.len())))
}

/// Makes a consistent copy of the live database at `source` into the new file `dest` with
/// SQLite's online backup API, while `serve` goes on writing (WAL: the copy is the last commit
/// when it started and never blocks the writer). The source is opened read-only and never
/// migrated. Returns the copy's size in bytes.
pub fn backup(source: &Path, dest: &Path) -> Result<u64, StoreError> {
    if dest.exists() {
        return Err(StoreError::Backup(format!("{} already exists; choose a new file", dest.display())));
    }
    if !source.is_file() {
        return Err(StoreError::Backup(format!("{} is not a database file", source.display())));
    }
    let from = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    from.busy_timeout(Duration::from_secs(5))?;
    let result = (|| {
        let mut to = Connection::open(dest)?;
        {
            let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
            // All pages in one step: one read transaction, so the copy is one consistent
            // snapshot. Copying in slices would restart whenever the collector commits.
            loop {
                match backup.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    rusqlite::backup::StepResult::More => {}
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        let check: String = to.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Backup(format!("the copy fails its integrity check: {check}")));
        }
        // A self-contained file: no -wal beside it.
        to.pragma_update(None, "journal_mode", "DELETE")?;
        Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    result
}

/// The columns [`decode_host`] takes, in its order (`h` the host, `s` its current snapshot).
const HOST_COLUMNS: &str = "h.facts, h.first_seen, h.last_seen, h.scanned_at, h.errors, s.installations, s.identities, \
                            h.clock_skew, h.last_sequence, h.verdict, s.job_sign_ins";

impl rusqlite::ToSql for query::Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Self::Text(text) => text.to_sql(),
            Self::Int(n) => n.to_sql(),
        }
    }
}

/// Decodes a row of [`HOST_COLUMNS`].
fn host_from_row(r: &rusqlite::Row<'_>) -> Result<StoredHost, StoreError> {
    decode_host(
        &r.get::<_, String>(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        &r.get::<_, String>(4)?,
        r.get::<_, Option<String>>(5)?.as_deref(),
        r.get::<_, Option<String>>(6)?.as_deref(),
        r.get(7)?,
        r.get(8)?,
        r.get::<_, Option<String>>(9)?.as_deref(),
        r.get::<_, Option<String>>(10)?.as_deref(),
    )
}

/// Calls `visit` for each host row selected by `filter` until it returns false.
fn visit_hosts<P: rusqlite::Params>(
    conn: &Connection,
    filter: &str,
    params: P,
    mut visit: impl FnMut(StoredHost) -> bool,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN snapshots s ON s.id = h.current_snapshot {filter} \
         ORDER BY h.hostname, h.host_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        let host = host_from_row(r)?;
        if !visit(host) {
            break;
        }
    }
    Ok(())
}

/// What the store knows of a host when its next report arrives.
#[derive(Debug)]
struct Existing {
    last_sequence: i64,
    last_report_id: String,
    recent_report_ids: String,
    hostname: String,
    /// The indexed columns besides the host name, written only when they change.
    role: Option<String>,
    verdict_status: Option<String>,
    /// The current snapshot's id and digest (none before the first inventory).
    snapshot: Option<i64>,
    digest: Option<Vec<u8>>,
}

/// Stores one report inside the caller's transaction (see [`SqliteDb::ingest_batch`]); what to
/// do is [`ingest::decide`]'s call.
fn ingest_one(tx: &Connection, report: &IncomingReport, now: i64) -> Result<IngestOutcome, StoreError> {
    let host_id = report.host.host_id.as_deref().unwrap_or_default();
    // Statements are cached: at thousands of reports a second, parsing SQL would cost more
    // than running it.
    let existing: Option<Existing> = tx
        .prepare_cached(
            "SELECT h.last_sequence, h.last_report_id, h.recent_report_ids, h.hostname, h.current_snapshot, s.digest, \
             h.role, h.verdict_status FROM hosts h LEFT JOIN snapshots s ON s.id = h.current_snapshot WHERE h.host_id = ?1",
        )?
        .query_row([host_id], |r| {
            Ok(Existing {
                last_sequence: r.get(0)?,
                last_report_id: r.get(1)?,
                recent_report_ids: r.get(2)?,
                hostname: r.get(3)?,
                snapshot: r.get(4)?,
                digest: r.get(5)?,
                role: r.get(6)?,
                verdict_status: r.get(7)?,
            })
        })
        .optional()?;
    let digest = inventory_digest(&report.installations, &report.identities, &report.job_sign_ins)?;
    let recent: Vec<String> = match &existing {
        Some(e) => serde_json::from_str(&e.recent_report_ids)?,
        None => Vec::new(),
    };
    let known = existing.as_ref().map(|e| Known {
        last_sequence: e.last_sequence,
        last_report_id: &e.last_report_id,
        recent_report_ids: &recent,
        hostname: &e.hostname,
        digest: e.digest.as_deref(),
    });
    let write = match ingest::decide(known, &report.report_id, report.sequence, &report.host.hostname, &digest) {
        Decision::Store(write) => write,
        other => {
            tx.prepare_cached("UPDATE hosts SET last_seen = max(last_seen, ?2) WHERE host_id = ?1")?
                .execute(params![host_id, now])?;
            return Ok(IngestOutcome::from(other));
        }
    };
    log_reset(host_id, &write);
    let verdict = Verdict::columns(report.verdict.as_ref())?;
    let facts = serde_json::to_string(&report.host)?;
    let errors = serde_json::to_string(&report.errors)?;
    let role = report.host.role.map(role_name);
    if write.new_host {
        tx.prepare_cached(
            "INSERT INTO hosts (host_id, hostname, facts, role, first_seen, last_seen, last_sequence, last_report_id, \
             errors) VALUES (?1, ?2, '{}', NULL, ?3, ?3, 0, '', '[]')",
        )?
        .execute(params![host_id, report.host.hostname, now])?;
    }
    let mut snapshot = existing.as_ref().and_then(|e| e.snapshot);
    if write.new_snapshot {
        // Serialised only when a snapshot is written: most reports change nothing.
        let installations = serde_json::to_string(&report.installations)?;
        let identities = serde_json::to_string(&report.identities)?;
        let job_sign_ins = serde_json::to_string(&report.job_sign_ins)?;
        tx.prepare_cached(
            "INSERT INTO snapshots (host_id, received_at, hostname, digest, installations, identities, job_sign_ins) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            host_id,
            now,
            report.host.hostname,
            digest,
            installations,
            identities,
            job_sign_ins
        ])?;
        snapshot = Some(tx.last_insert_rowid());
    }
    // The columns an index holds are written only when they change: SQLite rewrites the index
    // entries of every column a statement sets, changed or not, and each is a random page of a
    // large file (docs/BENCHMARKS.md, ingest at 1,000,000 hosts).
    let indexed_changed = existing.as_ref().is_none_or(|e| {
        e.hostname != report.host.hostname || e.role.as_deref() != role || e.verdict_status != verdict.status
    });
    if indexed_changed {
        tx.prepare_cached("UPDATE hosts SET hostname = ?2, role = ?3, verdict_status = ?4 WHERE host_id = ?1")?
            .execute(params![host_id, report.host.hostname, role, verdict.status])?;
    }
    tx.prepare_cached(
        "UPDATE hosts SET facts = ?2, last_seen = max(last_seen, ?3), scanned_at = ?4, \
         last_sequence = ?5, last_report_id = ?6, current_snapshot = ?7, errors = ?8, clock_skew = ?9, \
         recent_report_ids = ?10, verdict = ?11, verdict_baseline = ?12, verdict_kinds = ?13, \
         verdict_below = ?14, verdict_tally = ?15, versions = ?16 WHERE host_id = ?1",
    )?
    .execute(params![
        host_id,
        facts,
        now,
        report.scanned_at,
        write.sequence,
        report.report_id,
        snapshot,
        errors,
        clock_skew(report.scanned_at, now),
        serde_json::to_string(&write.recent_report_ids)?,
        verdict.json,
        verdict.baseline,
        verdict.kinds,
        verdict.below,
        verdict.tally,
        versions_column(&report.installations)?,
    ])?;
    if write.renamed {
        tx.prepare_cached(
            "INSERT INTO hostnames (host_id, hostname, since, snapshot, with_inventory) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![host_id, report.host.hostname, now, snapshot, write.new_snapshot])?;
    }
    Ok(IngestOutcome::Stored { new_snapshot: write.new_snapshot })
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
    /// Starts the writer thread over `db`. If the thread cannot be started (the process is
    /// out of threads), the error is logged and every ingest fails with
    /// [`StoreError::WriterStopped`], which agents see as `UNAVAILABLE` and retry.
    pub fn start(db: Arc<SqliteDb>) -> Self {
        // Bounded: a collector that cannot keep up pushes back on the gRPC handlers (and so on
        // the agents) rather than growing its memory.
        let (queue, receiver) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
        let spawned =
            std::thread::Builder::new().name("azver-store-writer".into()).spawn(move || write_batches(&db, receiver));
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
fn write_batches(db: &SqliteDb, mut receiver: tokio::sync::mpsc::Receiver<Pending>) {
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
            db.ingest_batch(&reports)
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

/// The SQLite [`Store`]: a [`SqliteDb`] and its group-commit writer thread (which ends when
/// the store is dropped).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<SqliteDb>,
    writer: GroupCommit,
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path` and starts its writer.
    /// Blocking.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Arc::new(SqliteDb::open(path)?);
        Ok(Self { writer: GroupCommit::start(db.clone()), db })
    }

    /// The blocking database underneath.
    pub fn db(&self) -> &Arc<SqliteDb> {
        &self.db
    }

    /// Runs `work` on the database on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&SqliteDb) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db)).await.map_err(|e| StoreError::Task(e.to_string()))?
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn ingest(&self, report: IncomingReport, now: i64) -> Result<IngestOutcome, StoreError> {
        self.writer.ingest(report, now).await
    }

    async fn hosts(&self) -> Result<Vec<StoredHost>, StoreError> {
        self.run(SqliteDb::hosts).await
    }

    async fn for_each_host(&self, visit: &mut (dyn FnMut(StoredHost) + Send)) -> Result<(), StoreError> {
        // The rows are read on a blocking thread and handed over through a small channel, so
        // at most a few dozen hosts are in memory at once.
        let (tx, mut rx) = tokio::sync::mpsc::channel(32);
        let reading = self.run(move |db| db.for_each_host(|host| tx.blocking_send(host).is_ok()));
        let visiting = async {
            while let Some(host) = rx.recv().await {
                visit(host);
            }
        };
        let (read, ()) = tokio::join!(reading, visiting);
        read
    }

    async fn unevaluated(&self, digest: &str, after: &str, limit: usize) -> Result<Vec<StoredHost>, StoreError> {
        let (digest, after) = (digest.to_owned(), after.to_owned());
        self.run(move |db| db.unevaluated(&digest, &after, limit)).await
    }

    async fn record_verdicts(&self, verdicts: &[(String, i64, Verdict)]) -> Result<usize, StoreError> {
        let verdicts = verdicts.to_vec();
        self.run(move |db| db.record_verdicts(&verdicts)).await
    }

    async fn status_counts(&self, config: &Config, digest: &str, now: i64) -> Result<Vec<DailyCount>, StoreError> {
        let (config, digest) = (config.clone(), digest.to_owned());
        self.run(move |db| db.status_counts(&config, &digest, now)).await
    }

    async fn page(
        &self,
        request: &PageRequest,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<Vec<StoredHost>, StoreError> {
        let (request, config, digest) = (request.clone(), config.clone(), digest.to_owned());
        self.run(move |db| db.page(&request, &config, &digest, now)).await
    }

    async fn count(&self, filter: &HostFilter, config: &Config, digest: &str, now: i64) -> Result<u64, StoreError> {
        let (filter, config, digest) = (filter.clone(), config.clone(), digest.to_owned());
        self.run(move |db| db.count(&filter, &config, &digest, now)).await
    }

    async fn tally(
        &self,
        what: query::Tally,
        filter: &HostFilter,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<Vec<(String, String, u64)>, StoreError> {
        let (filter, config, digest) = (filter.clone(), config.clone(), digest.to_owned());
        self.run(move |db| db.tally(what, &filter, &config, &digest, now)).await
    }

    async fn find(&self, id_or_name: &str) -> Result<Vec<String>, StoreError> {
        let id_or_name = id_or_name.to_owned();
        self.run(move |db| db.find(&id_or_name)).await
    }

    async fn host(&self, host_id: &str) -> Result<Option<StoredHost>, StoreError> {
        let host_id = host_id.to_owned();
        self.run(move |db| db.host(&host_id)).await
    }

    async fn history(&self, host_id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let host_id = host_id.to_owned();
        self.run(move |db| db.history(&host_id)).await
    }

    async fn delete_hosts(&self, host_ids: &[String]) -> Result<usize, StoreError> {
        let host_ids = host_ids.to_vec();
        self.run(move |db| db.delete_hosts(&host_ids)).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.run(SqliteDb::stats).await
    }

    async fn record_daily(&self, day: &str, counts: &[DailyCount], now: i64) -> Result<(), StoreError> {
        let (day, counts) = (day.to_owned(), counts.to_vec());
        self.run(move |db| db.record_daily(&day, &counts, now)).await
    }

    async fn daily(&self, since: &str) -> Result<Vec<DailyCount>, StoreError> {
        let since = since.to_owned();
        self.run(move |db| db.daily(&since)).await
    }

    async fn create_enroll_secret(
        &self,
        id: &str,
        label: &str,
        secret: &KeyDigest,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (id, label, secret) = (id.to_owned(), label.to_owned(), secret.clone());
        self.run(move |db| db.insert_credential(Credential::EnrollSecret, &id, &label, &secret, expires_at, now)).await
    }

    async fn list_enroll_secrets(&self) -> Result<Vec<EnrollSecretInfo>, StoreError> {
        self.run(SqliteDb::list_enroll_secrets).await
    }

    async fn revoke_enroll_secret(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.run(move |db| db.revoke(Credential::EnrollSecret, &id, now)).await
    }

    async fn any_enroll_secret_ever(&self) -> Result<bool, StoreError> {
        self.run(SqliteDb::any_enroll_secret_ever).await
    }

    async fn enroll(
        &self,
        secret: &KeyDigest,
        host_id: &str,
        node_key: &KeyDigest,
        now: i64,
    ) -> Result<EnrollOutcome, StoreError> {
        let (secret, host_id, node_key) = (secret.clone(), host_id.to_owned(), node_key.clone());
        self.run(move |db| db.enroll(&secret, &host_id, &node_key, now)).await
    }

    async fn authenticate_node_key(&self, node_key: &KeyDigest) -> Result<Option<String>, StoreError> {
        let node_key = node_key.clone();
        self.run(move |db| db.authenticate_node_key(&node_key)).await
    }

    async fn revoke_host(&self, host_id: &str, now: i64) -> Result<bool, StoreError> {
        let host_id = host_id.to_owned();
        self.run(move |db| db.revoke_host(&host_id, now)).await
    }

    async fn revoked_hosts(&self) -> Result<Vec<RevokedHost>, StoreError> {
        self.run(SqliteDb::revoked_hosts).await
    }

    async fn create_admin_token(
        &self,
        id: &str,
        label: &str,
        token: &KeyDigest,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (id, label, token) = (id.to_owned(), label.to_owned(), token.clone());
        self.run(move |db| db.insert_credential(Credential::AdminToken, &id, &label, &token, expires_at, now)).await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError> {
        self.run(|db| Ok(db.admin_token_rows()?.into_iter().map(|(info, _)| info).collect())).await
    }

    async fn revoke_admin_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.run(move |db| db.revoke(Credential::AdminToken, &id, now)).await
    }

    async fn authenticate_admin_token(&self, token: &KeyDigest, now: i64) -> Result<Option<String>, StoreError> {
        let token = token.clone();
        self.run(move |db| db.authenticate_admin_token(&token, now)).await
    }

    async fn export(&self, out: tokio::sync::mpsc::Sender<Record>) -> Result<(), StoreError> {
        self.run(move |db| db.export(&out)).await
    }

    async fn import(&self, mut records: tokio::sync::mpsc::Receiver<Record>) -> Result<ImportCounts, StoreError> {
        self.run(move |db| db.import(&mut records)).await
    }
}

#[cfg(test)]
mod tests {
    //! What only the SQLite store has: batches, the writer thread, the file. Everything both
    //! stores promise is in `store/conformance.rs`.

    use super::*;
    use crate::store::query::{HostFilter, PageRequest};
    use azver_core::{Evidence, HostFacts, InstallSource, Installation, Role, Scope, Status};

    fn report(host: &str, hostname: &str, sequence: u64, version: &str) -> IncomingReport {
        IncomingReport {
            host: HostFacts { host_id: Some(host.into()), hostname: hostname.into(), ..HostFacts::default() },
            scanned_at: Some(1_000),
            report_id: format!("{host}-{sequence}"),
            sequence,
            installations: vec![Installation {
                product: "azure-cli".into(),
                version: version.into(),
                source: InstallSource::MicrosoftDeb,
                scope: Scope::System,
                user: None,
                path: "/opt/az/lib/python3.12/site-packages".into(),
                on_path: true,
                default_for_powershell: false,
                evidence: Evidence::DistInfo,
            }],
            identities: Vec::new(),
            errors: Vec::new(),
            verdict: None,
            job_sign_ins: Vec::new(),
        }
    }

    fn db() -> (tempfile::TempDir, SqliteDb) {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("fleet.db")).unwrap();
        (dir, db)
    }

    #[test]
    fn unchanged_hosts_do_not_grow_the_file() {
        let (_dir, db) = db();
        db.ingest(&report("h1", "a", 1, "2.76.0"), 1_000).unwrap();
        let size_after_first = db.stats().unwrap().bytes;
        for sequence in 2..=500 {
            db.ingest(&report("h1", "a", sequence, "2.76.0"), 1_000 + sequence as i64 * 3600).unwrap();
        }
        assert_eq!(db.stats().unwrap().bytes, size_after_first, "an unchanged host must not grow the database");
    }

    #[test]
    fn a_batch_stores_exactly_what_reports_one_by_one_would() {
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
        let (_one_dir, one_by_one) = db();
        let expected: Vec<IngestOutcome> = reports.iter().map(|(r, now)| one_by_one.ingest(r, *now).unwrap()).collect();
        let (_dir, batched) = db();
        let refs: Vec<(&IncomingReport, i64)> = reports.iter().map(|(r, now)| (r, *now)).collect();
        let outcomes: Vec<IngestOutcome> =
            batched.ingest_batch(&refs).unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!(outcomes, expected);
        assert_eq!(outcomes.iter().filter(|o| **o == IngestOutcome::Duplicate).count(), 2);
        assert_eq!(batched.hosts().unwrap(), one_by_one.hosts().unwrap());
        assert_eq!(batched.history("h1").unwrap(), one_by_one.history("h1").unwrap());
        assert_eq!(batched.stats().unwrap().snapshots, 3);
    }

    #[test]
    fn group_commit_answers_every_concurrent_report_after_storing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        let store = SqliteStore::open(&path).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let outcomes = runtime.block_on(async {
            let tasks: Vec<_> = (1..=200u64)
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(async move { store.ingest(report(&format!("h{i}"), "a", 1, "2.76.0"), 1_000).await })
                })
                .collect();
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.unwrap().unwrap());
            }
            // A retry through the same writer is still recognised.
            outcomes.push(store.ingest(report("h7", "a", 1, "2.76.0"), 2_000).await.unwrap());
            outcomes
        });
        assert!(outcomes[..200].iter().all(|o| *o == IngestOutcome::Stored { new_snapshot: true }));
        assert_eq!(outcomes[200], IngestOutcome::Duplicate);
        // Acknowledged means committed: a fresh connection sees every host.
        let count: i64 =
            Connection::open(&path).unwrap().query_row("SELECT count(*) FROM hosts", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 200);
    }

    #[test]
    fn reopening_keeps_data_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        SqliteDb::open(&path).unwrap().ingest(&report("h1", "a", 1, "2.76.0"), 1_000).unwrap();
        assert_eq!(SqliteDb::open(&path).unwrap().stats().unwrap().hosts, 1);
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let error = SqliteDb::open(&path).unwrap_err().to_string();
        assert!(error.contains("schema version 99 is newer"), "{error}");
    }

    #[test]
    fn a_backup_taken_while_writing_is_a_consistent_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        let db = Arc::new(SqliteDb::open(&path).unwrap());
        for i in 0..200 {
            db.ingest(&report(&format!("h{i}"), "a", 1, "2.76.0"), 1_000).unwrap();
        }
        // A writer keeps committing while the backup runs.
        let writing = {
            let db = db.clone();
            std::thread::spawn(move || {
                for sequence in 2..200 {
                    db.ingest(&report("h1", "a", sequence, if sequence % 2 == 0 { "2.77.0" } else { "2.76.0" }), 2_000)
                        .unwrap();
                }
            })
        };
        let copy = dir.path().join("copy.db");
        let bytes = backup(&path, &copy).unwrap();
        writing.join().unwrap();
        assert!(bytes > 0);
        let copied = SqliteDb::open(&copy).unwrap();
        assert_eq!(copied.stats().unwrap().hosts, 200);
        let host = copied.host("h1").unwrap().unwrap();
        assert_eq!(copied.history("h1").unwrap().last().unwrap().installations, host.installations);
        // The copy is one file, and an existing file is never overwritten.
        assert!(
            !dir.path().join("copy.db-wal").exists()
                || std::fs::metadata(dir.path().join("copy.db-wal")).unwrap().len() == 0
        );
        let error = backup(&path, &copy).unwrap_err().to_string();
        assert!(error.contains("already exists"), "{error}");
        let error = backup(&dir.path().join("missing.db"), &dir.path().join("x.db")).unwrap_err().to_string();
        assert!(error.contains("is not a database file"), "{error}");
    }

    #[test]
    fn a_slow_read_holds_up_neither_other_reads_nor_the_secret_check_of_reports() {
        let (_dir, db) = db();
        let db = std::sync::Arc::new(db);
        db.ingest(&report("h1", "h1", 1, "2.76.0"), 100).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reads = db.clone();
        std::thread::spawn(move || {
            // Every reader but one is busy (slow dashboard pages): a host read takes the free one.
            let busy: Vec<_> = reads.readers.iter().skip(1).map(lock).collect();
            let host = reads.host("h1").map(|h| h.is_some());
            drop(busy);
            // Every reader busy: the per-report secret check does not wait for them.
            let all: Vec<_> = reads.readers.iter().map(lock).collect();
            let secrets = reads.any_enroll_secret_ever();
            drop(all);
            let _ = tx.send((host, secrets));
        });
        // A regression would wait forever on a held lock: a failure here, not a hung test run.
        let (host, secrets) = rx.recv_timeout(Duration::from_secs(120)).expect("the reads waited for a busy reader");
        assert!(host.unwrap(), "the host is read");
        assert!(!secrets.unwrap(), "no secret exists");
    }

    /// Frames the writer's next commit of `write` adds to an emptied WAL: the pages it wrote.
    fn frames_written(db: &SqliteDb, write: impl FnOnce(&Connection)) -> i64 {
        let mut conn = lock(&db.writer);
        // Waits for a checkpoint in progress, copies the WAL and empties it.
        // A checkpoint the thread is running makes this one busy at once: wait for it to end.
        loop {
            let done = db.wait_checkpoints(u64::MAX, Duration::ZERO);
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).unwrap();
            if busy == 0 {
                break;
            }
            db.wait_checkpoints(done, Duration::from_secs(60));
        }
        let tx = conn.transaction().unwrap();
        write(&tx);
        tx.commit().unwrap();
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)).unwrap()
    }

    #[test]
    fn an_unchanged_report_rewrites_its_row_and_no_index_entry() {
        let (_dir, db) = db();
        let hour = 1_800_000_000 / 3600 * 3600;
        let fleet: Vec<IncomingReport> =
            (0..3000).map(|i| report(&format!("id-{i:05}"), &format!("host-{i:05}"), 1, "2.76.0")).collect();
        let batch: Vec<(&IncomingReport, i64)> = fleet.iter().map(|r| (r, hour + 10)).collect();
        db.ingest_batch(&batch).unwrap().into_iter().for_each(|o| assert!(o.is_ok()));
        let seen = |db: &SqliteDb| -> (i64, i64) {
            lock(&db.writer)
                .query_row("SELECT last_seen, seen_hour FROM hosts WHERE host_id = 'id-01500'", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap()
        };
        assert_eq!(seen(&db), (hour + 10, hour / 3600));
        // The same host reports again within the hour, nothing changed: one page (its row),
        // where the indexes of host name, status, role and last seen were each rewritten before.
        let again = report("id-01500", "host-01500", 2, "2.76.0");
        let frames = frames_written(&db, |tx| {
            assert!(matches!(ingest_one(tx, &again, hour + 600).unwrap(), IngestOutcome::Stored { .. }));
        });
        // (Two if the longer list of recent report ids no longer fits the row's page.)
        assert!(frames <= 2, "pages written by an unchanged report: {frames}");
        assert_eq!(seen(&db), (hour + 600, hour / 3600));
        // The next hour moves `seen_hour` (the trigger) and so its index entries.
        let later = report("id-01500", "host-01500", 3, "2.76.0");
        let frames = frames_written(&db, |tx| {
            ingest_one(tx, &later, hour + 3600 + 5).unwrap();
        });
        assert!(frames > 1, "{frames}");
        assert_eq!(seen(&db), (hour + 3605, hour / 3600 + 1));
        // A rename rewrites the name's index entry, and a new host is indexed at once.
        let renamed = report("id-01500", "renamed", 4, "2.76.0");
        ingest_one(&lock(&db.writer), &renamed, hour + 3700).unwrap();
        assert_eq!(db.find("renamed").unwrap(), ["id-01500"]);
        assert!(db.find("host-01500").unwrap().is_empty());
        // Whatever writes `last_seen` or `seen_hour`, the trigger keeps them in step.
        lock(&db.writer)
            .execute_batch("UPDATE hosts SET seen_hour = 7 WHERE host_id = 'id-00001'; UPDATE hosts SET last_seen = 36000 WHERE host_id = 'id-00002'")
            .unwrap();
        let wrong: i64 = lock(&db.writer)
            .query_row("SELECT count(*) FROM hosts WHERE seen_hour IS NOT last_seen / 3600", [], |r| r.get(0))
            .unwrap();
        assert_eq!(wrong, 0);
    }

    #[test]
    fn few_hosts_of_a_status_are_found_through_indexes_not_by_walking_every_name() {
        let (_dir, db) = db();
        let config =
            Config::parse("stale_after = \"7d\"\n[[rules]]\nrole = \"server\"\nstale_after = \"1d\"\n", "test")
                .unwrap();
        let plan = |filter: HostFilter, sparse: bool| -> String {
            let request = PageRequest { filter, limit: 50, sparse, ..PageRequest::default() };
            let c = query::page(Dialect::Sqlite, &request, &config, "d", 1_800_000_000, HOST_COLUMNS);
            let conn = lock(&db.writer);
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", c.sql)).unwrap();
            let rows = stmt.query_map(rusqlite::params_from_iter(c.params.iter()), |r| r.get::<_, String>(3)).unwrap();
            rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
        };
        let status = |s| HostFilter { status: Some(s), ..HostFilter::default() };
        let developers = |filter: HostFilter| HostFilter { role: Some(Role::Developer), ..filter };
        let action = HostFilter { action: Some(true), ..HostFilter::default() };
        for filter in [status(Status::Compliant), status(Status::Stale), action.clone()] {
            // Many: the name index in page order, stopping after the page.
            assert!(plan(filter.clone(), false).contains("hosts_name_id"), "{}", plan(filter.clone(), false));
            // Few: from the status or `seen_hour` index, then sorted; no table scan.
            let few = plan(filter.clone(), true);
            assert!(
                !few.contains("SCAN h") && !few.contains("hosts_name_id") && !few.contains("hosts_role_seen"),
                "{filter:?}: {few}"
            );
            assert!(few.contains("hosts_status_seen") || few.contains("hosts_seen"), "{filter:?}: {few}");
        }
        // With a role, the stale ones of that role alone, through the index holding the role; the
        // hosts of a status of every role (no index holds both).
        for (filter, indexes) in [
            (developers(status(Status::Noncompliant)), &["hosts_status_seen"][..]),
            (developers(status(Status::Stale)), &["hosts_role_seen"][..]),
            (developers(action), &["hosts_status_seen", "hosts_role_seen"][..]),
        ] {
            let few = plan(filter.clone(), true);
            assert!(!few.contains("SCAN h") && !few.contains("hosts_name_id"), "{filter:?}: {few}");
            assert!(indexes.iter().all(|i| few.contains(i)), "{filter:?}: {few}");
        }
        // A label or product few hosts have: from their members, then sorted.
        let members = |filter: HostFilter| -> String {
            let request = PageRequest { filter, limit: 50, members: true, ..PageRequest::default() };
            let c = query::page(Dialect::Sqlite, &request, &config, "d", 1_800_000_000, HOST_COLUMNS);
            let conn = lock(&db.writer);
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", c.sql)).unwrap();
            let rows = stmt.query_map(rusqlite::params_from_iter(c.params.iter()), |r| r.get::<_, String>(3)).unwrap();
            rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
        };
        for filter in [
            HostFilter { label: Some(("team".into(), Some("web".into()))), ..HostFilter::default() },
            HostFilter { label: Some(("team".into(), None)), role: Some(Role::Developer), ..HostFilter::default() },
            HostFilter { product: Some("Az".into()), ..HostFilter::default() },
        ] {
            let few = members(filter.clone());
            // Nor the role's index, which a role in the filter would tempt the planner with.
            assert!(
                !few.contains("SCAN h") && !few.contains("hosts_name_id") && !few.contains("hosts_role_seen"),
                "{filter:?}: {few}"
            );
            assert!(few.contains("host_members"), "{filter:?}: {few}");
            // Many: the walk in name order probes each host's own members' key, never reads a
            // list of every member first.
            let walk = plan(filter.clone(), false);
            assert!(walk.contains("hosts_name_id") && !walk.contains("LIST SUBQUERY"), "{filter:?}: {walk}");
            if filter.label.as_ref().is_none_or(|(_, value)| value.is_some()) {
                assert!(walk.contains("host_id=?)"), "{filter:?}: {walk}");
            }
        }
    }

    #[test]
    fn a_count_by_status_within_a_label_reads_the_kept_rows_and_its_stale_hosts() {
        let (_dir, db) = db();
        let config = Config::default();
        let now = 1_800_000_000;
        let verdict = |status| Some(Verdict::new("d", azver_core::Evaluation { status, findings: Vec::new() }));
        // 60 hosts with the label team=web, half of them compliant (statuses split the label
        // evenly), two of those silent for a year (stale, their stored status kept), one
        // noncompliant one too; 10 without the label, noncompliant; every other one a developer.
        for i in 0..70 {
            let mut r = report(&format!("h{i:02}"), &format!("host-{i:02}"), 1, "2.76.0");
            if i < 60 {
                r.host.labels.insert("team".into(), "web".into());
            }
            if i % 2 == 0 {
                r.host.role = Some(Role::Developer);
            }
            let status = if i % 4 < 2 && i < 60 { Status::Compliant } else { Status::Noncompliant };
            r.verdict = verdict(status);
            // Some hosts have the product in three versions: counted once each.
            if i % 8 == 0 {
                for version in ["2.80.0", "2.70.0"] {
                    let mut other = r.installations[0].clone();
                    other.version = version.into();
                    other.path = format!("/home/u/{version}");
                    r.installations.push(other);
                }
            }
            let seen = if [20, 21, 23].contains(&i) { now - 365 * 86_400 } else { now };
            db.ingest(&r, seen).unwrap();
        }
        let web = |status| HostFilter {
            label: Some(("team".into(), Some("web".into()))),
            status: Some(status),
            ..HostFilter::default()
        };
        let explain = |c: &Clause| -> String {
            let conn = db.reader();
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", c.sql)).unwrap();
            let rows = stmt.query_map(rusqlite::params_from_iter(c.params.iter()), |r| r.get::<_, String>(3)).unwrap();
            rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
        };
        // What the count reads host by host.
        let plain = |filter: &HostFilter| -> u64 {
            let c = query::count(Dialect::Sqlite, filter, &config, "d", now);
            db.reader()
                .query_row(&c.sql, rusqlite::params_from_iter(c.params.iter()), |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .unwrap()
        };
        let developers = |status| HostFilter { role: Some(Role::Developer), ..web(status) };
        let key = |status| HostFilter { label: Some(("team".into(), None)), ..web(status) };
        let product =
            |status| HostFilter { product: Some("azure-cli".into()), role: Some(Role::Developer), ..web(status) };
        let product = |status| HostFilter { label: None, ..product(status) };
        let any_role = |filter: HostFilter| HostFilter { role: None, ..filter };
        for (filter, expected) in [
            (web(Status::Compliant), 28),
            (web(Status::Noncompliant), 29),
            (web(Status::Stale), 3),
            (web(Status::NotApplicable), 0),
            (developers(Status::Compliant), 14),
            (developers(Status::Noncompliant), 15),
            (developers(Status::Stale), 1),
            (key(Status::Compliant), 28),
            (product(Status::Compliant), 14),
            (product(Status::Noncompliant), 20),
            (any_role(product(Status::Compliant)), 28),
            (any_role(product(Status::Stale)), 3),
            (HostFilter { status: None, ..any_role(product(Status::Compliant)) }, 70),
        ] {
            let kept = rollup::count(Dialect::Sqlite, &filter, &config, "d", now).expect("from the counts");
            // Neither every host nor every host of the label: the kept rows, and the stale hosts
            // through an index on their hour.
            let read = explain(&kept);
            assert!(!read.contains("SCAN h"), "{filter:?}: {read}");
            assert!(filter.status.is_none() || read.contains("seen_hour<"), "{filter:?}: {read}");
            assert_eq!(db.count(&filter, &config, "d", now).unwrap(), expected, "{filter:?}");
            assert_eq!(plain(&filter), expected, "{filter:?}");
        }
        // A host not evaluated against the served baseline may have any status now: counted from
        // the hosts until it is (it is in the label, noncompliant under this baseline's verdict
        // of none: selected whenever it may match, as the page evaluates it).
        let mut late = report("h99", "host-99", 1, "2.76.0");
        late.host.labels.insert("team".into(), "web".into());
        db.ingest(&late, now).unwrap();
        assert_eq!(db.count(&web(Status::Compliant), &config, "d", now).unwrap(), plain(&web(Status::Compliant)));
        assert_eq!(plain(&web(Status::Compliant)), 29);
        // Stale holds whatever the verdicts.
        assert_eq!(db.count(&web(Status::Stale), &config, "d", now).unwrap(), 3);
        // With a name too, the counts do not answer: from the 30 hosts stored compliant (the
        // stale ones keep it), fewer than the label's 61, through the status index.
        let named = HostFilter { name: Some("host-0".into()), ..web(Status::Compliant) };
        assert!(rollup::count(Dialect::Sqlite, &named, &config, "d", now).is_none());
        db.record_verdicts(&[(
            "h99".into(),
            1,
            Verdict::new("d", azver_core::Evaluation { status: Status::Noncompliant, findings: Vec::new() }),
        )])
        .unwrap();
        let few =
            fewer_by_status(&db.reader(), &named, &config, ("d", now, true)).unwrap().expect("from the status index");
        let few = explain(&few);
        assert!(few.contains("hosts_status_seen") && !few.contains("SCAN h"), "{few}");
        assert_eq!(db.count(&named, &config, "d", now).unwrap(), plain(&named));
        assert_eq!(plain(&named), 6);
    }

    #[test]
    fn counts_by_status_read_the_kept_rows_and_the_stale_hosts_alone() {
        let (_dir, db) = db();
        for config in
            ["stale_after = \"7d\"\n", "stale_after = \"7d\"\n[[rules]]\nrole = \"server\"\nstale_after = \"1d\"\n"]
        {
            let config = Config::parse(config, "test").unwrap();
            for (status, role) in [
                (Status::Noncompliant, None),
                (Status::Compliant, Some(Role::Developer)),
                (Status::Stale, None),
                (Status::Stale, Some(Role::Server)),
            ] {
                let filter = HostFilter { status: Some(status), role, ..HostFilter::default() };
                for what in query::Tally::ALL {
                    let c = rollup::tally(Dialect::Sqlite, what, &filter, &config, "d", 1_800_000_000)
                        .expect("answered from the counts");
                    let conn = lock(&db.writer);
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", c.sql)).unwrap();
                    let plan = stmt
                        .query_map(rusqlite::params_from_iter(c.params.iter()), |r| r.get::<_, String>(3))
                        .unwrap()
                        .collect::<Result<Vec<_>, _>>()
                        .unwrap()
                        .join("; ");
                    // Neither every count row nor every host: the stale hosts through an index on
                    // their hour.
                    assert!(!plan.contains("SCAN h"), "{what:?} {filter:?}: {plan}");
                    let hour = if what == query::Tally::Statuses { "seen_hour=" } else { "seen_hour<" };
                    assert!(plan.contains(hour), "{what:?} {filter:?}: {plan}");
                }
            }
        }
        // Other filters are counted from the hosts.
        let label =
            HostFilter { status: Some(Status::Compliant), label: Some(("team".into(), None)), ..HostFilter::default() };
        assert!(rollup::tally(Dialect::Sqlite, query::Tally::Versions, &label, &Config::default(), "d", 0).is_none());
    }

    #[test]
    fn upgrading_fills_the_count_columns_from_what_is_stored() {
        use query::Tally;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        let served = crate::baseline::Served::new(azver_core::Baseline::default());
        let config = Config::default();
        let tallies = |db: &SqliteDb| -> Vec<Vec<(String, String, u64)>> {
            [Tally::Versions, Tally::FindingKinds]
                .into_iter()
                .map(|what| {
                    let mut rows = db.tally(what, &HostFilter::default(), &config, &served.digest, 10_000).unwrap();
                    rows.sort();
                    rows
                })
                .collect()
        };
        let columns = |db: &SqliteDb| -> Vec<(Option<String>, Option<String>)> {
            let conn = lock(&db.writer);
            let mut stmt = conn.prepare("SELECT versions, verdict_tally FROM hosts ORDER BY host_id").unwrap();
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            rows.map(|r| r.unwrap())
                .map(|(v, t): (Option<String>, Option<String>)| {
                    let parse = |text: Option<String>| {
                        text.map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap().to_string())
                    };
                    (parse(v), parse(t))
                })
                .collect()
        };
        let (written, counted) = {
            let db = SqliteDb::open(&path).unwrap();
            let mut two = report("h2", "two", 1, "2.45.0");
            let mut second = two.installations[0].clone();
            second.path = "/usr/lib/python3/dist-packages".into();
            two.installations.push(second.clone());
            second.product = "Az".into();
            second.version = "14.3.0".into();
            two.installations.push(second);
            for r in [report("h1", "one", 1, "2.45.0"), two, report("h3", "three", 1, "2.77.0")] {
                db.ingest(&r, 9_000).unwrap();
            }
            db.ingest(&report("h4", "never evaluated", 1, "2.45.0"), 9_000).unwrap();
            let verdicts: Vec<(String, i64, Verdict)> = ["h1", "h2", "h3"]
                .iter()
                .map(|id| {
                    let host = db.host(id).unwrap().unwrap();
                    (id.to_string(), host.last_sequence, crate::policy::verdict(&host, &served))
                })
                .collect();
            assert_eq!(db.record_verdicts(&verdicts).unwrap(), 3);
            let counted = tallies(&db);
            assert!(counted.iter().all(|rows| !rows.is_empty()), "{counted:?}");
            assert!(
                counted[0].contains(&("azure-cli".into(), "2.45.0".into(), 3)),
                "each pair once per host, h4 (not evaluated) too: {counted:?}"
            );
            let written = columns(&db);
            // As version 7 left it: no count columns.
            lock(&db.writer)
                .execute_batch(
                    "DROP TABLE fleet_counts; DROP TABLE host_members; DROP TRIGGER fleet_counts_insert; DROP TRIGGER fleet_counts_delete; \
                     DROP TRIGGER fleet_counts_status; DROP TRIGGER fleet_counts_versions; DROP TRIGGER fleet_counts_labels; \
                     DROP TRIGGER fleet_counts_verdicts; DROP TRIGGER fleet_counts_product_members; DROP TRIGGER fleet_counts_label_members; \
                     ALTER TABLE hosts DROP COLUMN versions; ALTER TABLE hosts DROP COLUMN verdict_tally; \
                     PRAGMA user_version = 7;",
                )
                .unwrap();
            (written, counted)
        };
        let db = SqliteDb::open(&path).unwrap();
        assert_eq!(columns(&db), written, "filled by the migration as ingest writes them");
        assert_eq!(tallies(&db), counted);
    }

    #[test]
    fn commits_are_checkpointed_by_their_own_thread_not_by_the_writer() {
        let (_dir, db) = db();
        let autocheckpoint: i64 =
            lock(&db.writer).pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0)).unwrap();
        assert_eq!(autocheckpoint, 0, "the writer leaves checkpoints to the thread");
        let before = db.wait_checkpoints(u64::MAX, Duration::ZERO);
        let file = || std::fs::metadata(db.path()).unwrap().len();
        let small = file();
        // 3 MiB committed by the writer: in the WAL only, until the thread copies it over.
        db.conn()
            .execute_batch("CREATE TABLE filler (b BLOB); INSERT INTO filler SELECT zeroblob(1048576) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3);")
            .unwrap();
        let mut done = before;
        while file() < small + 3 * 1024 * 1024 {
            let next = db.wait_checkpoints(done, Duration::from_secs(60));
            assert!(next > done, "no checkpoint within a minute of the commit");
            done = next;
        }
    }

    #[test]
    fn the_writer_copies_the_wal_itself_when_the_checkpoint_thread_falls_behind() {
        let (_dir, db) = db();
        let file = || std::fs::metadata(db.path()).unwrap().len();
        // 3 MiB committed without waking the thread: in the WAL only.
        lock(&db.writer)
            .execute_batch("CREATE TABLE filler (b BLOB); INSERT INTO filler SELECT zeroblob(1048576) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3);")
            .unwrap();
        let small = file();
        // The thread is keeping up (it has not run yet): the writer leaves the WAL to it.
        let conn = db.conn();
        assert!(file() < small + 3 * 1024 * 1024, "the writer checkpointed by itself");
        drop(conn);
        db.wait_checkpoints(0, Duration::from_secs(60));
        // Behind (its last checkpoint saw a WAL past the limit): the writer copies the WAL
        // before it writes again.
        lock(&db.checkpointed.0).wal_frames = WAL_FRAMES_MAX + 1;
        let small = file();
        lock(&db.writer)
            .execute_batch(
                "INSERT INTO filler SELECT zeroblob(1048576) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3);",
            )
            .unwrap();
        let conn = db.conn();
        assert!(file() >= small + 3 * 1024 * 1024, "{} of {small}", file());
        assert_eq!(lock(&db.checkpointed.0).wal_frames, 0);
        drop(conn);
    }

    #[test]
    fn the_wal_is_cut_back_after_a_checkpoint() {
        let (_dir, db) = db();
        let limit: i64 = lock(&db.writer).pragma_query_value(None, "journal_size_limit", |r| r.get(0)).unwrap();
        assert_eq!(limit, 64 * 1024 * 1024);
        // A WAL grown past the limit (as behind a long read) shrinks to it at the next
        // checkpoint: the file's size follows, not only the setting.
        let conn = lock(&db.writer);
        conn.pragma_update(None, "journal_size_limit", 4096).unwrap();
        conn.execute_batch("CREATE TABLE filler (b BLOB); INSERT INTO filler SELECT zeroblob(1048576) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3);").unwrap();
        let wal = db.path().with_extension("db-wal");
        let grown = std::fs::metadata(&wal).unwrap().len();
        assert!(grown > 3 * 1024 * 1024, "{grown}");
        // A passive checkpoint (what SQLite runs by itself) copies the WAL into the database;
        // the next write starts the WAL over and cuts the file back to the limit.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).unwrap();
        conn.execute_batch("INSERT INTO filler VALUES (x'00')").unwrap();
        let after = std::fs::metadata(&wal).unwrap().len();
        assert!(after < grown / 4, "{after} of {grown}");
    }
}

//! The PostgreSQL store: several collectors share one database and keep no state of their own.
//!
//! - **A pool per collector** (deadpool-postgres over tokio-postgres): every call takes a
//!   connection, so handlers never block a thread.
//! - **Deduplication in the database**: ingest runs in one transaction that first upserts the
//!   host row, which locks it (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`), then reads
//!   the last sequence and report id *under that lock*. Two collectors racing on the same
//!   host's reports are thus serialised by PostgreSQL: the second sees the first's commit and
//!   answers "duplicate". Different hosts never wait for each other.
//! - **Two round trips per report**: `BEGIN` is pipelined with that upsert, and the write with
//!   `COMMIT`; [`ingest::decide`] runs in between. The write is one statement: the host row
//!   alone (most reports), or with CTEs inserting the snapshot and host-name row. A connection
//!   whose transaction did not end is closed, never pooled.
//! - **Durable before acknowledged**: a report is answered after its `COMMIT` returns, with
//!   the server's `synchronous_commit` (on by default: the WAL is flushed; concurrent commits
//!   share flushes, PostgreSQL's own group commit).
//! - **Migrations** run in one transaction under a transaction-scoped advisory lock, so
//!   collectors starting at the same moment on an empty database apply them once; the others
//!   wait and find the schema current. The version lives in `azver_schema`.
//! - **Byte-wise order**: host ids and names use the `C` collation, so hosts are listed in the
//!   same order as SQLite lists them, whatever the database's locale.
//! - Large reads (the roll-up over every host, `migrate`) go through a portal, a few hundred
//!   rows at a time, so memory stays bounded with 100,000 hosts.
//! - TLS to the database (managed services such as Azure Database for PostgreSQL require it):
//!   `sslmode=require` in the URL. The server's certificate is verified against the system's roots
//!   plus `PGSSLROOTCERT` (a PEM file, libpq's variable) and must match the host name: stricter
//!   than libpq's `require`, never a silent fall-back to plain text. Without `sslmode=require` the
//!   connection is plain text (the default `prefer` does not try TLS).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::{try_join, try_join_all};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

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

/// Connections per collector. Ingest holds one for a few round trips; 16 keep two cores busy
/// while staying far below PostgreSQL's default `max_connections` (100) with several collectors.
pub const POOL_SIZE: usize = 16;

/// How long a call waits for a connection, or for a new connection to open, before failing
/// (agents see `UNAVAILABLE` and retry).
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows fetched per round trip when streaming every host or exporting.
const PORTAL_ROWS: i32 = 256;

/// Rows `import` sends per round trip (pipelined `INSERT`s).
const IMPORT_PIPELINE: usize = 256;

/// The advisory lock key migrations run under (any constant unique to azver: "azver" in ASCII).
const MIGRATION_LOCK: i64 = 0x0061_7a76_6572;

/// The first half of the two-part advisory lock key the roll-up of one day runs under ("azvd").
const DAILY_LOCK: i32 = 0x617a_7664;

/// The key of the advisory lock under which one collector at a time folds the counts' appended
/// changes into `fleet_counts` ("azvc").
const COUNTS_LOCK: i64 = 0x617a_7663;

/// Folded (dead) rows of `fleet_count_deltas` after which [`Store::maintain`] vacuums the
/// counts' tables: about 10 MB of dead rows, a `VACUUM` of a few tens of milliseconds. Every
/// read of the counts scans `fleet_count_deltas`, so its dead rows cost every read until a
/// vacuum: 1.4 GB of them (12 million rows, one import of 1,000,000 hosts with autovacuum off)
/// made reads of milliseconds take seconds.
const VACUUM_AFTER: u64 = 100_000;

/// The tables [`Store::maintain`] vacuums: the counts' (`fleet_counts` is rewritten by every
/// fold, the appended changes deleted by it).
const VACUUM_COUNTS: &str = "VACUUM fleet_count_deltas, fleet_counts";

/// The tables built from those of [`tables::TABLES`] (by triggers), which `import` vacuums and
/// analyzes with them.
const DERIVED_TABLES: [&str; 3] = ["host_members", "fleet_counts", "fleet_count_deltas"];

/// The schema's migrations, one per version (versions match the SQLite store's): [`FIXED`],
/// then the counts kept at write time (9, then 10 and 11 rebuilding them, built by
/// [`rollup::postgres_schema`] and [`rollup::postgres_rebuild`]).
fn migrations() -> Vec<&'static str> {
    static ROLLUP: std::sync::LazyLock<String> = std::sync::LazyLock::new(rollup::postgres_schema);
    static REBUILD: std::sync::LazyLock<String> = std::sync::LazyLock::new(rollup::postgres_rebuild);
    let mut all = FIXED.to_vec();
    all.push(&ROLLUP);
    all.push(&REBUILD);
    // 11: statuses beside labels, products counted from the versions, the hosts of each finding
    // kind (a status within a label, product or finding counted from a few rows).
    all.push(&REBUILD);
    all
}

/// The migrations written as text.
const FIXED: &[&str] = &[
    // 1: hosts, history, host names.
    r#"CREATE TABLE hosts (
        host_id TEXT COLLATE "C" PRIMARY KEY,
        hostname TEXT COLLATE "C" NOT NULL,
        facts TEXT NOT NULL,
        role TEXT,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        scanned_at BIGINT,
        clock_skew BIGINT,
        last_sequence BIGINT NOT NULL,
        last_report_id TEXT NOT NULL,
        current_snapshot BIGINT,
        current_digest BYTEA,
        errors TEXT NOT NULL
    );
    CREATE INDEX hosts_hostname ON hosts (hostname, host_id);
    CREATE INDEX hosts_last_seen ON hosts (last_seen);
    CREATE TABLE snapshots (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        host_id TEXT COLLATE "C" NOT NULL REFERENCES hosts (host_id) ON DELETE CASCADE,
        received_at BIGINT NOT NULL,
        hostname TEXT NOT NULL,
        digest BYTEA NOT NULL,
        installations TEXT NOT NULL,
        identities TEXT NOT NULL
    );
    CREATE INDEX snapshots_host ON snapshots (host_id, id);
    CREATE TABLE hostnames (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        host_id TEXT COLLATE "C" NOT NULL REFERENCES hosts (host_id) ON DELETE CASCADE,
        hostname TEXT NOT NULL,
        since BIGINT NOT NULL,
        snapshot BIGINT,
        with_inventory BOOLEAN NOT NULL
    );
    CREATE INDEX hostnames_host ON hostnames (host_id, id);"#,
    // 2: daily roll-ups.
    r#"CREATE TABLE daily_status (
        day TEXT COLLATE "C" NOT NULL,
        role TEXT COLLATE "C" NOT NULL,
        status TEXT COLLATE "C" NOT NULL,
        hosts BIGINT NOT NULL,
        recorded_at BIGINT NOT NULL,
        PRIMARY KEY (day, role, status)
    );"#,
    // 3: authentication (digests only).
    r#"CREATE TABLE enroll_secrets (
        id TEXT COLLATE "C" PRIMARY KEY,
        label TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        revoked_at BIGINT,
        last_used_at BIGINT,
        enrollments BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE node_keys (
        host_id TEXT COLLATE "C" PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        secret_id TEXT,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE revoked_hosts (
        host_id TEXT COLLATE "C" PRIMARY KEY,
        revoked_at BIGINT NOT NULL
    );
    CREATE TABLE admin_tokens (
        id TEXT COLLATE "C" PRIMARY KEY,
        label TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        revoked_at BIGINT
    );"#,
    // 4: recent report ids (issues 15.6 and 17), JSON array, newest first.
    r#"ALTER TABLE hosts ADD COLUMN recent_report_ids TEXT NOT NULL DEFAULT '[]';"#,
    // 5: verdicts stored with the state (issue 17), and the columns aggregates read.
    r#"ALTER TABLE hosts ADD COLUMN verdict TEXT;
    ALTER TABLE hosts ADD COLUMN verdict_baseline TEXT COLLATE "C";
    ALTER TABLE hosts ADD COLUMN verdict_status TEXT COLLATE "C";
    ALTER TABLE hosts ADD COLUMN verdict_kinds TEXT;
    ALTER TABLE hosts ADD COLUMN verdict_below TEXT;
    CREATE INDEX hosts_status_seen ON hosts (verdict_status, last_seen);
    CREATE INDEX hosts_role_seen ON hosts (role, last_seen);"#,
    // (jobs): scheduled jobs that sign in to Azure (issue 16), part of each snapshot.
    "ALTER TABLE snapshots ADD COLUMN job_sign_ins TEXT NOT NULL DEFAULT '[]';",
    // 7 (issue 17): staleness indexed by the hour of `last_seen` (see `query::stale_sql`), not
    // the second: the update of an unchanged host then changes no indexed value, so PostgreSQL
    // can make it a heap-only (HOT) update that adds no index entry, given room on the page
    // (fillfactor). Generated: nothing can write it wrong.
    r#"ALTER TABLE hosts ADD COLUMN seen_hour BIGINT GENERATED ALWAYS AS (last_seen / 3600) STORED;
    DROP INDEX hosts_last_seen;
    DROP INDEX hosts_status_seen;
    DROP INDEX hosts_role_seen;
    CREATE INDEX hosts_seen ON hosts (seen_hour);
    CREATE INDEX hosts_status_seen ON hosts (verdict_status, seen_hour);
    CREATE INDEX hosts_role_seen ON hosts (role, seen_hour);
    ALTER TABLE hosts SET (fillfactor = 70);"#,
    // 8 (issue 17): the small JSON columns the fleet's versions per product and findings per
    // kind are counted from (see the SQLite store's M8), filled from what is stored.
    r#"ALTER TABLE hosts ADD COLUMN versions TEXT;
    ALTER TABLE hosts ADD COLUMN verdict_tally TEXT;
    UPDATE hosts h SET versions = coalesce((SELECT json_agg(json_build_array(p, v) ORDER BY p, v)::text FROM (
        SELECT DISTINCT coalesce(i ->> 'product', '') AS p, coalesce(i ->> 'version', '') AS v
        FROM snapshots s, jsonb_array_elements(s.installations::jsonb) i WHERE s.id = h.current_snapshot) t), '[]')
    WHERE current_snapshot IS NOT NULL;
    UPDATE hosts h SET verdict_tally = coalesce((SELECT json_object_agg(k, n ORDER BY k)::text FROM (
        SELECT coalesce(f ->> 'kind', '') AS k, count(*) AS n FROM jsonb_array_elements(h.verdict::jsonb -> 'findings') f
        GROUP BY 1) t), '{}')
    WHERE verdict IS NOT NULL;"#,
];

/// The text of a PostgreSQL error with the server's message (tokio-postgres' own `Display`
/// says only "db error").
pub(super) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => db.to_string(),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// A connection URL with its password replaced by `***`.
pub(super) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***")),
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    // A password may also come as a query parameter.
    let tail: Vec<String> = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((before, _)) if before.is_empty() || before.ends_with('?') => format!("{before}password=***"),
            _ => part.to_owned(),
        })
        .collect();
    out.push_str(&tail.join("&"));
    out
}

fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => StoreError::Postgres(error),
        other => StoreError::Pool(format!("no database connection: {other}")),
    }
}

/// Maps a uniqueness violation to [`StoreError::Duplicate`] naming `what`.
fn unique(error: tokio_postgres::Error, what: impl FnOnce() -> String) -> StoreError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) { StoreError::Duplicate(what()) } else { error.into() }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl tables::Cells for Row {
    fn int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(index)?)
    }
    fn text(&self, index: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(index)?)
    }
    fn bytes(&self, index: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.try_get(index)?)
    }
    fn boolean(&self, index: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.try_get(index)?)
    }
}

/// A checked value of `column` as a statement parameter, typed by the column's kind (a NULL
/// too: tokio-postgres checks each parameter's Rust type against the column's SQL type).
fn param(value: Value, column: &tables::Column) -> Box<dyn ToSql + Sync + Send> {
    use tables::Kind;
    match value {
        Value::Null => match column.kind {
            Kind::Int => Box::new(None::<i64>),
            Kind::Text | Kind::Digest => Box::new(None::<String>),
            Kind::Bytes => Box::new(None::<Vec<u8>>),
            Kind::Bool => Box::new(None::<bool>),
        },
        Value::Int(n) => Box::new(n),
        Value::Text(text) => Box::new(text),
        Value::Bytes(bytes) => Box::new(bytes),
        Value::Bool(b) => Box::new(b),
        Value::Digest(digest) => Box::new(digest.as_hex().to_owned()),
    }
}

/// The PostgreSQL [`Store`].
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Rows of `fleet_count_deltas` this collector folded (deleted) since it last vacuumed the
    /// table: see [`Store::maintain`].
    folded: Arc<AtomicU64>,
    /// How many folded rows make [`Store::maintain`] vacuum the counts' tables.
    vacuum_after: u64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pool", &self.pool.status()).finish()
    }
}

const HOST_COLUMNS: &str = "h.facts, h.first_seen, h.last_seen, h.scanned_at, h.errors, s.installations, \
                            s.identities, h.clock_skew, h.last_sequence, h.verdict, s.job_sign_ins";

/// The parameters of a built query, owned, as tokio-postgres takes them.
fn pg_params(values: &[query::Value]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                query::Value::Text(text) => Box::new(text.clone()),
                query::Value::Int(n) => Box::new(*n),
            }
        })
        .collect()
}

fn pg_refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

fn host_from_row(row: &Row) -> Result<StoredHost, StoreError> {
    decode_host(
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
        row.try_get(6)?,
        row.try_get(7)?,
        row.try_get(8)?,
        row.try_get(9)?,
        row.try_get(10)?,
    )
}

/// The rustls connector for `sslmode=require`: the system's roots plus `PGSSLROOTCERT`.
fn tls_connector() -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = std::env::var_os("PGSSLROOTCERT") {
        let pem = std::fs::read(&path).map_err(|e| {
            StoreError::Location(format!("cannot read PGSSLROOTCERT {}: {e}", std::path::Path::new(&path).display()))
        })?;
        use rustls::pki_types::pem::PemObject as _;
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::Location(format!("PGSSLROOTCERT is not PEM: {e}")))?;
        roots.add_parsable_certificates(certs);
    }
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Location(format!("TLS set-up failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`), then
    /// creates or migrates the schema (several collectors may do so at the same moment).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Location(format!("{} is not a valid PostgreSQL URL: {}", redact(url), describe(&e)))
        })?;
        let mut config = config;
        if config.get_ssl_mode() != tokio_postgres::config::SslMode::Require {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        }
        let manager =
            Manager::from_config(config, tls_connector()?, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = Self { pool, folded: Arc::new(AtomicU64::new(0)), vacuum_after: VACUUM_AFTER };
        store.migrate().await?;
        store.warn_without_autovacuum().await;
        Ok(store)
    }

    /// This store, vacuuming the counts' tables after `rows` folded rows instead of
    /// [`VACUUM_AFTER`] (tests).
    #[cfg(test)]
    pub fn vacuuming_after(mut self, rows: u64) -> Self {
        self.vacuum_after = rows;
        self
    }

    /// Logs a warning when the server's autovacuum is off: the dead rows of every update (each
    /// report moves its host row) then stay until someone vacuums, and the planner has no
    /// statistics until someone analyzes. The collector vacuums only its counts' tables itself.
    async fn warn_without_autovacuum(&self) {
        // Once per process (`serve` opens the database for its checks, then to serve).
        static CHECKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if CHECKED.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(client) = self.client().await else { return };
        if let Ok(row) = client.query_one("SELECT current_setting('autovacuum')", &[]).await
            && row.try_get::<_, String>(0).is_ok_and(|v| v == "off")
        {
            tracing::warn!(
                "PostgreSQL's autovacuum is off: dead rows of the hosts table are not reclaimed and its statistics \
                 not refreshed; schedule VACUUM (ANALYZE) of this database, or turn autovacuum on \
                 (the collector vacuums only its counts' tables itself)"
            );
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Folds the counts' appended changes into `fleet_counts` (see `store/rollup.rs`), unless
    /// another collector is doing it: reads sum both tables either way.
    async fn compact_counts(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let ours: bool = tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&COUNTS_LOCK]).await?.try_get(0)?;
        let moved: i64 = if ours { tx.query_one(rollup::COMPACT_POSTGRES, &[]).await?.try_get(0)? } else { 0 };
        tx.commit().await?;
        self.folded.fetch_add(count(moved), Ordering::Relaxed);
        Ok(())
    }

    /// `kept`, a statement reading the counts kept at write time, when it answers now: if it
    /// `needs` every host evaluated against `digest`, only when none is left. `None`: count from
    /// the hosts. The statement sums the counts and the changes not folded yet, which the
    /// maintenance task folds every few seconds ([`Store::maintain`]): a read writes nothing.
    async fn kept(
        &self,
        client: &deadpool_postgres::Object,
        kept: Option<Clause>,
        needs: bool,
        digest: &str,
    ) -> Result<Option<Clause>, StoreError> {
        let Some(c) = kept else { return Ok(None) };
        if needs {
            let pending: i64 =
                client.query_one(&rollup::unevaluated(Dialect::Postgres), &[&digest]).await?.try_get(0)?;
            if pending > 0 {
                return Ok(None);
            }
        }
        Ok(Some(c))
    }

    /// Applies the missing migrations in one transaction under an advisory lock.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        // Without this, every start logs the server's notice that the table already exists.
        tx.batch_execute(
            "SET LOCAL client_min_messages TO warning; \
             CREATE TABLE IF NOT EXISTS azver_schema (version INTEGER NOT NULL)",
        )
        .await?;
        let found: Option<i32> = tx.query_opt("SELECT version FROM azver_schema", &[]).await?.map(|r| r.get(0));
        let found = usize::try_from(found.unwrap_or(0)).unwrap_or(0);
        let migrations = migrations();
        if found > migrations.len() {
            return Err(StoreError::TooNew { found, supported: migrations.len() });
        }
        for (index, sql) in migrations.iter().enumerate().skip(found) {
            tracing::info!(version = index + 1, "migrating the postgresql schema");
            tx.batch_execute(sql).await?;
        }
        let latest = i32::try_from(migrations.len()).unwrap_or(i32::MAX);
        if found == 0 {
            tx.execute("INSERT INTO azver_schema (version) VALUES ($1)", &[&latest]).await?;
        } else if found < migrations.len() {
            tx.execute("UPDATE azver_schema SET version = $1", &[&latest]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs `query` in a read-only repeatable-read transaction through a portal, calling
    /// `row` for each row until it returns false; at most [`PORTAL_ROWS`] rows in memory.
    async fn stream(
        &self,
        query: &str,
        params: &[&(dyn ToSql + Sync)],
        mut row: impl FnMut(Row) -> Result<bool, StoreError> + Send,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.build_transaction().read_only(true).start().await?;
        let statement = tx.prepare_cached(query).await?;
        let portal = tx.bind(&statement, params).await?;
        'fetch: loop {
            let rows = tx.query_portal(&portal, PORTAL_ROWS).await?;
            let done = rows.len() < usize::try_from(PORTAL_ROWS).unwrap_or(usize::MAX);
            for r in rows {
                if !row(r)? {
                    break 'fetch;
                }
            }
            if done {
                break;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_credential(
        &self,
        kind: Credential,
        id: &str,
        label: &str,
        digest: &KeyDigest,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "INSERT INTO {} (id, label, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            kind.table()
        );
        client
            .execute(sql.as_str(), &[&id, &label, &digest.as_hex(), &now, &expires_at])
            .await
            .map_err(|e| unique(e, || format!("{} with id {id:?} or the same digest", kind.what())))?;
        Ok(())
    }

    async fn revoke(&self, kind: Credential, id: &str, now: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let sql = format!("UPDATE {} SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", kind.table());
        Ok(client.execute(sql.as_str(), &[&id, &now]).await? == 1)
    }
}

/// Locks the host row and reads what ingest decides from: inserts a placeholder for a new host
/// (last_sequence 0, visible to no one else: it is replaced before the transaction commits) or,
/// for a known host, moves last_seen. Either way the row is then locked by this transaction
/// until it ends, and what it returns is the last committed state: a second collector storing
/// the same host waits here. (The current digest is kept on the host row for this reason: a
/// subquery here would read the snapshots as they were when the statement started, before the
/// other collector's commit.)
const LOCK_HOST: &str = "INSERT INTO hosts (host_id, hostname, facts, role, first_seen, last_seen, last_sequence, \
     last_report_id, errors) VALUES ($1, $2, '{}', NULL, $3, $3, 0, '', '[]') \
     ON CONFLICT (host_id) DO UPDATE SET last_seen = GREATEST(hosts.last_seen, EXCLUDED.last_seen) \
     RETURNING last_sequence, last_report_id, hostname, current_snapshot, current_digest, recent_report_ids";

/// The host row's columns as a report sets them (`$1` is the host id, `$8` the current snapshot
/// before this report); shared by [`UPDATE_HOST`] and [`WRITE_HOST`], whose first 19
/// parameters are the same.
macro_rules! set_host {
    () => {
        "hostname = $2::text, facts = $3, role = $4, scanned_at = $5, last_sequence = $6, last_report_id = $7, \
         errors = $9, clock_skew = $10, current_digest = $11::bytea, recent_report_ids = $12, verdict = $13, \
         verdict_baseline = $14, verdict_status = $15, verdict_kinds = $16, verdict_below = $17, \
         verdict_tally = $18, versions = $19"
    };
}

/// Carries out a [`Decision::Store`] that writes neither a snapshot nor a host-name row (most
/// reports: nothing changed): the host row only.
const UPDATE_HOST: &str = concat!("UPDATE hosts SET ", set_host!(), ", current_snapshot = $8 WHERE host_id = $1::text");

/// Carries out any other [`Decision::Store`] in one statement: the snapshot if the inventory
/// changed (`$24`), the host-name row if the host is new or renamed (`$25`, pointing at the
/// snapshot now current), and the host row.
const WRITE_HOST: &str = concat!(
    "WITH s AS ( \
         INSERT INTO snapshots (host_id, received_at, hostname, digest, installations, identities, job_sign_ins) \
         SELECT $1::text, $20::bigint, $2::text, $11::bytea, $21::text, $22::text, $23::text WHERE $24::boolean \
         RETURNING id \
     ), cur AS ( \
         SELECT coalesce((SELECT id FROM s), $8::bigint) AS id \
     ), renamed AS ( \
         INSERT INTO hostnames (host_id, hostname, since, snapshot, with_inventory) \
         SELECT $1::text, $2::text, $20::bigint, cur.id, $24::boolean FROM cur WHERE $25::boolean \
     ) \
     UPDATE hosts SET ",
    set_host!(),
    ", current_snapshot = (SELECT id FROM cur) WHERE host_id = $1::text"
);

/// A pool connection inside a transaction this module opened with a pipelined `BEGIN`: back to
/// the pool once the transaction has ended ([`Self::finish`]); dropped before that (an error,
/// or the caller gave up), the connection is closed instead, so the server rolls the
/// transaction back and no pooled connection is ever left inside one.
struct InTransaction(Option<deadpool_postgres::Object>);

impl InTransaction {
    fn client(&self) -> Result<&deadpool_postgres::Object, StoreError> {
        self.0.as_ref().ok_or_else(|| StoreError::Task("the transaction has ended".into()))
    }

    /// The transaction ended (committed or rolled back): the connection may be reused.
    fn finish(mut self) {
        drop(self.0.take());
    }
}

impl Drop for InTransaction {
    fn drop(&mut self) {
        if let Some(object) = self.0.take() {
            tracing::debug!("closing a database connection left inside a transaction");
            drop(deadpool_postgres::Object::take(object));
        }
    }
}

/// Stores one report in its own transaction; what to do is [`ingest::decide`]'s call.
///
/// Two round trips per report, whatever the decision: tokio-postgres pipelines requests issued
/// together on one connection (sent in the order the futures are first polled, answered in that
/// order), so `BEGIN` goes with the statement that locks the host row, and the statement that
/// writes goes with `COMMIT`. (If the write fails, the server answers the `COMMIT` of the failed
/// transaction by rolling it back, and the write's error is returned.)
async fn ingest_one(
    client: deadpool_postgres::Object,
    report: &IncomingReport,
    now: i64,
) -> Result<IngestOutcome, StoreError> {
    let host_id = report.host.host_id.as_deref().unwrap_or_default();
    // Prepared once per connection, then cached.
    let (lock, (update, write)) = try_join(
        client.prepare_cached(LOCK_HOST),
        try_join(client.prepare_cached(UPDATE_HOST), client.prepare_cached(WRITE_HOST)),
    )
    .await?;
    let tx = InTransaction(Some(client));
    let row = {
        let client = tx.client()?;
        let (_, row) =
            try_join(client.batch_execute("BEGIN"), client.query_one(&lock, &[&host_id, &report.host.hostname, &now]))
                .await?;
        row
    };
    let last_sequence: i64 = row.try_get(0)?;
    let last_report_id: String = row.try_get(1)?;
    let old_hostname: String = row.try_get(2)?;
    let current_snapshot: Option<i64> = row.try_get(3)?;
    let current_digest: Option<Vec<u8>> = row.try_get(4)?;
    let recent: Vec<String> = serde_json::from_str(row.try_get(5)?)?;
    // The placeholder row of a new host has no report id yet.
    let known = (!last_report_id.is_empty()).then_some(Known {
        last_sequence,
        last_report_id: &last_report_id,
        recent_report_ids: &recent,
        hostname: &old_hostname,
        digest: current_digest.as_deref(),
    });
    let digest = inventory_digest(&report.installations, &report.identities, &report.job_sign_ins)?;
    let write_host = match ingest::decide(known, &report.report_id, report.sequence, &report.host.hostname, &digest) {
        Decision::Store(write_host) => write_host,
        other => {
            tx.client()?.batch_execute("COMMIT").await?;
            tx.finish();
            return Ok(IngestOutcome::from(other));
        }
    };
    log_reset(host_id, &write_host);
    let (installations, identities, job_sign_ins) = if write_host.new_snapshot {
        (
            serde_json::to_string(&report.installations)?,
            serde_json::to_string(&report.identities)?,
            serde_json::to_string(&report.job_sign_ins)?,
        )
    } else {
        Default::default()
    };
    let facts = serde_json::to_string(&report.host)?;
    let errors = serde_json::to_string(&report.errors)?;
    let role = report.host.role.map(role_name);
    let recent_report_ids = serde_json::to_string(&write_host.recent_report_ids)?;
    let verdict = Verdict::columns(report.verdict.as_ref())?;
    let name_row = write_host.renamed || write_host.new_host;
    let clock_skew = clock_skew(report.scanned_at, now);
    let versions = versions_column(&report.installations)?;
    let params: [&(dyn ToSql + Sync); 25] = [
        &host_id,
        &report.host.hostname,
        &facts,
        &role,
        &report.scanned_at,
        &write_host.sequence,
        &report.report_id,
        &current_snapshot,
        &errors,
        &clock_skew,
        &digest,
        &recent_report_ids,
        &verdict.json,
        &verdict.baseline,
        &verdict.status,
        &verdict.kinds,
        &verdict.below,
        &verdict.tally,
        &versions,
        &now,
        &installations,
        &identities,
        &job_sign_ins,
        &write_host.new_snapshot,
        &name_row,
    ];
    {
        let client = tx.client()?;
        let write = async {
            if write_host.new_snapshot || name_row {
                client.execute(&write, &params).await
            } else {
                let [host @ .., _, _, _, _, _, _] = &params;
                client.execute(&update, host).await
            }
        };
        try_join(write, client.batch_execute("COMMIT")).await?;
    }
    tx.finish();
    Ok(IngestOutcome::Stored { new_snapshot: write_host.new_snapshot })
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ingest(&self, report: IncomingReport, now: i64) -> Result<IngestOutcome, StoreError> {
        ingest_one(self.client().await?, &report, now).await
    }

    async fn hosts(&self) -> Result<Vec<StoredHost>, StoreError> {
        let mut hosts = Vec::new();
        self.for_each_host(&mut |host| hosts.push(host)).await?;
        Ok(hosts)
    }

    async fn for_each_host(&self, visit: &mut (dyn FnMut(StoredHost) + Send)) -> Result<(), StoreError> {
        let query = format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN snapshots s ON s.id = h.current_snapshot \
             ORDER BY h.hostname, h.host_id"
        );
        self.stream(&query, &[], |row| {
            visit(host_from_row(&row)?);
            Ok(true)
        })
        .await
    }

    async fn unevaluated(&self, digest: &str, after: &str, limit: usize) -> Result<Vec<StoredHost>, StoreError> {
        let client = self.client().await?;
        // Every host evaluated (the usual case): the counts say so, no walk of every host.
        if after.is_empty() {
            let pending: i64 =
                client.query_one(&rollup::unevaluated(Dialect::Postgres), &[&digest]).await?.try_get(0)?;
            if pending == 0 {
                return Ok(Vec::new());
            }
        }
        let query = format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN snapshots s ON s.id = h.current_snapshot \
             WHERE h.host_id > $1 AND h.verdict_baseline IS DISTINCT FROM $2 ORDER BY h.host_id LIMIT $3"
        );
        let statement = client.prepare_cached(&query).await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client.query(&statement, &[&after, &digest, &limit]).await?;
        rows.iter().map(host_from_row).collect()
    }

    async fn status_counts(&self, config: &Config, digest: &str, now: i64) -> Result<Vec<DailyCount>, StoreError> {
        let stale = query::stale_sql(Dialect::Postgres, config, "$2::bigint");
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT coalesce(h.role, ''), CASE WHEN {stale} THEN 'stale' \
                     ELSE h.verdict_status END, count(*) FROM hosts h WHERE h.verdict_baseline = $1 \
                     GROUP BY 1, 2 ORDER BY 1, 2"
                ),
                &[&digest, &now],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let hosts: i64 = r.try_get(2)?;
                Ok(DailyCount {
                    day: String::new(),
                    role: r.try_get(0)?,
                    status: r.try_get(1)?,
                    hosts: hosts.max(0) as u64,
                })
            })
            .collect()
    }

    async fn page(
        &self,
        request: &PageRequest,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<Vec<StoredHost>, StoreError> {
        let c = query::page(Dialect::Postgres, request, config, digest, now, HOST_COLUMNS);
        let client = self.client().await?;
        let statement = client.prepare_cached(&c.sql).await?;
        let params = pg_params(&c.params);
        let rows = client.query(&statement, &pg_refs(&params)).await?;
        rows.iter().map(host_from_row).collect()
    }

    async fn count(&self, filter: &HostFilter, config: &Config, digest: &str, now: i64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let kept = rollup::count(Dialect::Postgres, filter, config, digest, now);
        let needs = rollup::count_needs_every_host_evaluated(filter);
        let c = match self.kept(&client, kept, needs, digest).await? {
            Some(c) => c,
            None => query::count(Dialect::Postgres, filter, config, digest, now),
        };
        let params = pg_params(&c.params);
        let n: i64 = client.query_one(&c.sql, &pg_refs(&params)).await?.try_get(0)?;
        Ok(n.max(0) as u64)
    }

    async fn tally(
        &self,
        what: query::Tally,
        filter: &HostFilter,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<Vec<(String, String, u64)>, StoreError> {
        let client = self.client().await?;
        let kept = rollup::tally(Dialect::Postgres, what, filter, config, digest, now);
        let needs = rollup::needs_every_host_evaluated(what, filter);
        let c = match self.kept(&client, kept, needs, digest).await? {
            Some(c) => c,
            None => query::tally(Dialect::Postgres, what, filter, config, digest, now),
        };
        let params = pg_params(&c.params);
        // Not prepared once: the counts' statement holds the instant.
        let rows = client.query(&c.sql, &pg_refs(&params)).await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get(2)?;
                Ok((r.try_get(0)?, r.try_get(1)?, n.max(0) as u64))
            })
            .collect()
    }

    async fn record_verdicts(&self, verdicts: &[(String, i64, Verdict)]) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let update = tx
            .prepare_cached(
                "UPDATE hosts SET verdict = $3, verdict_baseline = $4, verdict_status = $5, verdict_kinds = $6, \
                 verdict_below = $7, verdict_tally = $8 WHERE host_id = $1 AND last_sequence = $2",
            )
            .await?;
        let mut written = 0;
        for (host_id, sequence, verdict) in verdicts {
            let c = Verdict::columns(Some(verdict))?;
            written += tx
                .execute(&update, &[host_id, sequence, &c.json, &c.baseline, &c.status, &c.kinds, &c.below, &c.tally])
                .await?;
        }
        tx.commit().await?;
        Ok(usize::try_from(written).unwrap_or(usize::MAX))
    }

    async fn find(&self, id_or_name: &str) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        if let Some(row) = client.query_opt("SELECT host_id FROM hosts WHERE host_id = $1", &[&id_or_name]).await? {
            return Ok(vec![row.try_get(0)?]);
        }
        let rows =
            client.query("SELECT host_id FROM hosts WHERE hostname = $1 ORDER BY host_id", &[&id_or_name]).await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<String>, _>>()?)
    }

    async fn host(&self, host_id: &str) -> Result<Option<StoredHost>, StoreError> {
        let client = self.client().await?;
        let query = format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN snapshots s ON s.id = h.current_snapshot WHERE h.host_id = $1"
        );
        let statement = client.prepare_cached(&query).await?;
        client.query_opt(&statement, &[&host_id]).await?.as_ref().map(host_from_row).transpose()
    }

    async fn history(&self, host_id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut client = self.client().await?;
        // One snapshot of the database for both queries.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let snapshots: Vec<SnapshotEntry> = tx
            .query(
                "SELECT id, received_at, hostname, installations, identities FROM snapshots WHERE host_id = $1 ORDER BY id",
                &[&host_id],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
            .collect::<Result<_, tokio_postgres::Error>>()?;
        let renames: Vec<RenameEntry> = tx
            .query(
                "SELECT id, since, hostname, snapshot FROM hostnames WHERE host_id = $1 AND NOT with_inventory \
                 AND id > (SELECT min(id) FROM hostnames WHERE host_id = $1) ORDER BY id",
                &[&host_id],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_, tokio_postgres::Error>>()?;
        tx.commit().await?;
        merge_history(&snapshots, renames)
    }

    async fn delete_hosts(&self, host_ids: &[String]) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let deleted = tx.execute("DELETE FROM hosts WHERE host_id = ANY($1)", &[&host_ids]).await?;
        tx.execute("DELETE FROM node_keys WHERE host_id = ANY($1)", &[&host_ids]).await?;
        tx.execute("DELETE FROM revoked_hosts WHERE host_id = ANY($1)", &[&host_ids]).await?;
        tx.commit().await?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM hosts), (SELECT count(*) FROM snapshots), \
                 pg_database_size(current_database())",
                &[],
            )
            .await?;
        Ok(StoreStats {
            hosts: count(row.try_get(0)?),
            snapshots: count(row.try_get(1)?),
            bytes: count(row.try_get(2)?),
        })
    }

    async fn record_daily(&self, day: &str, counts: &[DailyCount], now: i64) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Collectors rolling up the same day take turns: each replaces the whole day, so the
        // rows are one collector's counts, never a sum of two.
        tx.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&DAILY_LOCK, &day]).await?;
        tx.execute("DELETE FROM daily_status WHERE day = $1", &[&day]).await?;
        // Hourly: the count rows of past hours and baselines, at zero, go.
        tx.execute(rollup::PRUNE, &[]).await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO daily_status (day, role, status, hosts, recorded_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .await?;
        for count in counts {
            let hosts = i64::try_from(count.hosts).unwrap_or(i64::MAX);
            tx.execute(&insert, &[&day, &count.role, &count.status, &hosts, &now]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn daily(&self, since: &str) -> Result<Vec<DailyCount>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT day, role, status, hosts FROM daily_status WHERE day >= $1 ORDER BY day, role, status",
                &[&since],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DailyCount {
                    day: r.try_get(0)?,
                    role: r.try_get(1)?,
                    status: r.try_get(2)?,
                    hosts: count(r.try_get(3)?),
                })
            })
            .collect()
    }

    async fn create_enroll_secret(
        &self,
        id: &str,
        label: &str,
        secret: &KeyDigest,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.insert_credential(Credential::EnrollSecret, id, label, secret, expires_at, now).await
    }

    async fn list_enroll_secrets(&self) -> Result<Vec<EnrollSecretInfo>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, label, created_at, expires_at, revoked_at, last_used_at, enrollments \
                 FROM enroll_secrets ORDER BY created_at, id",
                &[],
            )
            .await?;
        rows.iter().map(secret_from_row).collect()
    }

    async fn revoke_enroll_secret(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        self.revoke(Credential::EnrollSecret, id, now).await
    }

    async fn any_enroll_secret_ever(&self) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(client.query_one("SELECT EXISTS (SELECT 1 FROM enroll_secrets)", &[]).await?.try_get(0)?)
    }

    async fn enroll(
        &self,
        secret: &KeyDigest,
        host_id: &str,
        node_key: &KeyDigest,
        now: i64,
    ) -> Result<EnrollOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The secret row is locked, so a revocation cannot slip between the check and the use.
        let found = tx
            .query_opt(
                "SELECT id, expires_at, revoked_at FROM enroll_secrets WHERE hash = $1 FOR UPDATE",
                &[&secret.as_hex()],
            )
            .await?;
        let Some(row) = found else { return Ok(EnrollOutcome::UnknownSecret) };
        let (secret_id, expires_at, revoked_at): (String, Option<i64>, Option<i64>) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if revoked_at.is_some() {
            return Ok(EnrollOutcome::SecretRevoked);
        }
        if expires_at.is_some_and(|at| at <= now) {
            return Ok(EnrollOutcome::SecretExpired);
        }
        // Host revocation and enrollment of one host id take turns on this lock.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&host_id]).await?;
        let revoked: bool = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM revoked_hosts WHERE host_id = $1)", &[&host_id])
            .await?
            .try_get(0)?;
        if revoked {
            return Ok(EnrollOutcome::HostRevoked);
        }
        tx.execute(
            "INSERT INTO node_keys (host_id, key_hash, secret_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (host_id) DO UPDATE SET key_hash = EXCLUDED.key_hash, secret_id = EXCLUDED.secret_id, \
             created_at = EXCLUDED.created_at",
            &[&host_id, &node_key.as_hex(), &secret_id, &now],
        )
        .await
        .map_err(|e| unique(e, || "a node key with the same digest".into()))?;
        tx.execute(
            "UPDATE enroll_secrets SET enrollments = enrollments + 1, last_used_at = $2 WHERE id = $1",
            &[&secret_id, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(EnrollOutcome::Enrolled { secret_id })
    }

    async fn authenticate_node_key(&self, node_key: &KeyDigest) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT k.host_id FROM node_keys k WHERE k.key_hash = $1 \
                 AND NOT EXISTS (SELECT 1 FROM revoked_hosts r WHERE r.host_id = k.host_id)",
            )
            .await?;
        Ok(client.query_opt(&statement, &[&node_key.as_hex()]).await?.map(|r| r.try_get(0)).transpose()?)
    }

    async fn revoked_hosts(&self) -> Result<Vec<RevokedHost>, StoreError> {
        let client = self.client().await?;
        let rows = client.query("SELECT host_id, revoked_at FROM revoked_hosts ORDER BY host_id", &[]).await?;
        rows.iter().map(|r| Ok(RevokedHost { host_id: r.try_get(0)?, revoked_at: r.try_get(1)? })).collect()
    }

    async fn revoke_host(&self, host_id: &str, now: i64) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&host_id]).await?;
        let known: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM hosts WHERE host_id = $1) OR EXISTS (SELECT 1 FROM node_keys WHERE host_id = $1)",
                &[&host_id],
            )
            .await?
            .try_get(0)?;
        if !known {
            return Ok(false);
        }
        let inserted = tx
            .execute(
                "INSERT INTO revoked_hosts (host_id, revoked_at) VALUES ($1, $2) ON CONFLICT (host_id) DO NOTHING",
                &[&host_id, &now],
            )
            .await?;
        if inserted == 1 {
            tx.execute("DELETE FROM node_keys WHERE host_id = $1", &[&host_id]).await?;
        }
        tx.commit().await?;
        Ok(inserted == 1)
    }

    async fn create_admin_token(
        &self,
        id: &str,
        label: &str,
        token: &KeyDigest,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.insert_credential(Credential::AdminToken, id, label, token, expires_at, now).await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, label, created_at, expires_at, revoked_at FROM admin_tokens ORDER BY created_at, id",
                &[],
            )
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_admin_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        self.revoke(Credential::AdminToken, id, now).await
    }

    async fn authenticate_admin_token(&self, token: &KeyDigest, now: i64) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id FROM admin_tokens WHERE hash = $1 AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .await?;
        Ok(client.query_opt(&statement, &[&token.as_hex(), &now]).await?.map(|r| r.try_get(0)).transpose()?)
    }

    async fn export(&self, out: tokio::sync::mpsc::Sender<Record>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        // One snapshot of the whole database, even while collectors go on writing.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        for table in tables::TABLES {
            let statement = tx.prepare(&table.select_sql(Dialect::Postgres)).await?;
            let portal = tx.bind(&statement, &[]).await?;
            loop {
                let rows = tx.query_portal(&portal, PORTAL_ROWS).await?;
                let done = rows.len() < usize::try_from(PORTAL_ROWS).unwrap_or(usize::MAX);
                for row in &rows {
                    out.send(Record { table, values: row.values(table)? })
                        .await
                        .map_err(|_| StoreError::Task("import stopped".into()))?;
                }
                if done {
                    break;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn import(&self, mut records: tokio::sync::mpsc::Receiver<Record>) -> Result<ImportCounts, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Nobody else may write while the fleet moves in.
        let names: Vec<&str> = tables::TABLES.iter().map(|t| t.name).collect();
        tx.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", names.join(", "))).await?;
        let held: i64 = tx.query_one(tables::HELD_SQL, &[]).await?.try_get(0)?;
        if held > 0 {
            return Err(StoreError::NotEmpty(format!("{held} hosts, secrets, tokens or roll-up rows")));
        }
        let mut counts = ImportCounts::default();
        let mut inserts: Vec<Option<tokio_postgres::Statement>> = vec![None; tables::TABLES.len()];
        // Rows go in pipelined batches of one table: the INSERTs of a batch are sent together
        // (one round trip), and a batch of rows that refer to another table's rows is sent
        // only after that table's last batch succeeded.
        let mut batch: Vec<(tokio_postgres::Statement, Vec<Box<dyn ToSql + Sync + Send>>)> = Vec::new();
        let mut batch_table: Option<&'static tables::Table> = None;
        loop {
            let record = records.recv().await;
            let switch = record.as_ref().is_none_or(|r| batch_table.is_some_and(|t| !std::ptr::eq(t, r.table)));
            if batch.len() >= IMPORT_PIPELINE || switch {
                let refs: Vec<Vec<&(dyn ToSql + Sync)>> = batch.iter().map(|(_, params)| pg_refs(params)).collect();
                try_join_all(batch.iter().zip(&refs).map(|((insert, _), params)| tx.execute(insert, params))).await?;
                drop(refs);
                batch.clear();
            }
            let Some(record) = record else { break };
            record.check()?;
            let table = record.table;
            let index = tables::TABLES.iter().position(|t| std::ptr::eq(t, table)).unwrap_or_default();
            let insert = match inserts.get_mut(index) {
                Some(Some(statement)) => statement.clone(),
                Some(slot) => slot.insert(tx.prepare(&table.insert_sql(Dialect::Postgres)).await?).clone(),
                None => return Err(StoreError::Import(format!("a row of unknown table {:?}", table.name))),
            };
            let params: Vec<_> = record.values.into_iter().zip(table.columns).map(|(v, c)| param(v, c)).collect();
            batch.push((insert, params));
            batch_table = Some(table);
            table.tally.add(&mut counts);
        }
        // Ids were copied as they were: new rows must continue after them. The current digest
        // lives on the host row here (see `ingest_one`).
        tx.batch_execute(
            "UPDATE hosts SET current_digest = s.digest FROM snapshots s WHERE s.id = hosts.current_snapshot;
             SELECT setval(pg_get_serial_sequence('snapshots', 'id'), coalesce(max(id), 0) + 1, false) FROM snapshots;
             SELECT setval(pg_get_serial_sequence('hostnames', 'id'), coalesce(max(id), 0) + 1, false) FROM hostnames;",
        )
        .await?;
        tx.commit().await?;
        // As after any bulk load: the planner gets statistics of the new rows, the visibility
        // map is set (index-only scans), and the counts' changes appended by the triggers of
        // every imported host are folded and their dead rows reclaimed.
        self.compact_counts().await?;
        let mut vacuumed: Vec<&str> = names;
        vacuumed.extend(DERIVED_TABLES);
        client.batch_execute(&format!("VACUUM (ANALYZE) {}", vacuumed.join(", "))).await?;
        self.folded.store(0, Ordering::Relaxed);
        Ok(counts)
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        self.compact_counts().await?;
        let folded = self.folded.load(Ordering::Relaxed);
        if folded >= self.vacuum_after {
            // Not in a transaction (VACUUM cannot run in one); another collector vacuuming the
            // same tables makes this one wait, not fail.
            self.client().await?.batch_execute(VACUUM_COUNTS).await?;
            self.folded.fetch_sub(folded, Ordering::Relaxed);
            tracing::debug!(folded, "vacuumed the counts' tables");
        }
        Ok(())
    }
}

fn secret_from_row(row: &Row) -> Result<EnrollSecretInfo, StoreError> {
    Ok(EnrollSecretInfo {
        id: row.try_get(0)?,
        label: row.try_get(1)?,
        created_at: row.try_get(2)?,
        expires_at: row.try_get(3)?,
        revoked_at: row.try_get(4)?,
        last_used_at: row.try_get(5)?,
        enrollments: count(row.try_get(6)?),
    })
}

fn token_from_row(row: &Row) -> Result<AdminTokenInfo, StoreError> {
    Ok(AdminTokenInfo {
        id: row.try_get(0)?,
        label: row.try_get(1)?,
        created_at: row.try_get(2)?,
        expires_at: row.try_get(3)?,
        revoked_at: row.try_get(4)?,
    })
}

/// The environment variable tests read the PostgreSQL URL from (a database they may create
/// other databases with), e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const TEST_URL_VAR: &str = "AZVER_TEST_POSTGRES_URL";

/// A throwaway database for tests: created with a unique name on the server named by
/// [`TEST_URL_VAR`], dropped (with its connections) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl TestDatabase {
    /// Creates a database, or returns `None` after printing why when [`TEST_URL_VAR`] is not
    /// set. Under `CI=true` a missing variable panics: CI has PostgreSQL, so a skip there would
    /// hide a broken set-up. A set variable whose server does not answer always panics.
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var(TEST_URL_VAR) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{TEST_URL_VAR} is not set, and under CI=true the PostgreSQL tests must run (.ci/run sets it)"
            );
            eprintln!(
                "skipped: set {TEST_URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run the PostgreSQL tests"
            );
            return None;
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("azver_test_{}_{nanos}_{n}", std::process::id());
        let (client, connection) = tokio_postgres::connect(&admin_url, NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {} ({TEST_URL_VAR}): {}", redact(&admin_url), describe(&e)));
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {}", describe(&e)));
        drop(client);
        let _ = connection.await;
        let url = with_database(&admin_url, &name);
        Some(Self { admin_url, name, url })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own
        // with a small runtime drops the database.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin_url, NoTls).await.ok()?;
                tokio::spawn(connection);
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// `url` with its database name replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(with_database("postgres://u@h/db?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:p@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db?user=u&password=p"), "postgres://h/db?user=u&password=***");
        assert_eq!(redact("postgresql://u:p%40x@h"), "postgresql://u:***@h");
    }
}

//! The inventory store: one trait, [`Store`], with two implementations chosen by `--db`.
//!
//! - [`sqlite::SqliteStore`] (a path or `sqlite://PATH`): the embedded default, one file, a
//!   group-commit writer thread; one collector per file.
//! - [`postgres::PgStore`] (`postgres://...`): for several collectors sharing one database
//!   behind a load balancer. They keep no state of their own: deduplication, snapshots and
//!   roll-ups are decided inside the database's transactions, so two collectors racing on the
//!   same host's reports never store one twice.
//!
//! What both promise (one conformance suite, `store/conformance.rs`, runs against each):
//!
//! - **Current state plus history**: each host's latest facts and a pointer to its current
//!   snapshot; a new snapshot only when what was found changes (the digest of installations and
//!   identities), so an unchanged host reporting hourly for a year adds nothing beyond its first.
//! - **Idempotent ingest**: [`ingest::decide`] decides for both stores. A report whose id is one
//!   of the host's recent ones is a duplicate; a new id whose sequence is not above the host's
//!   last is an older report arriving late; both are acknowledged and not stored (only
//!   `last_seen` moves). A sequence far from the last is a reset, stored and logged.
//! - **Durable before acknowledged**: [`Store::ingest`] returns once the report is committed.
//! - Strings are stored exactly as sent; hosts are ordered by host name then id, byte-wise, in
//!   both stores.
//! - Authentication material (enrollment secrets, node keys, admin tokens) is stored only as
//!   SHA-256 digests ([`KeyDigest`]): the store never sees a secret.

pub mod ingest;
pub mod postgres;
pub mod query;
pub mod rollup;
pub mod sqlite;
pub mod tables;

#[cfg(test)]
mod conformance;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use azver_core::{
    Evaluation, Finding, FindingKind, HostFacts, Identity, Installation, JobSignIn, Role, ScanError, Status,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;

pub use postgres::PgStore;
pub use sqlite::{GroupCommit, MAX_BATCH, SqliteStore};
pub use tables::Record;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (full disk, locked file, corruption).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The SQLite schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// PostgreSQL failed or could not be reached.
    #[error("postgresql: {}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error("postgresql: {0}")]
    Pool(String),
    /// A stored JSON column does not decode (a newer collector's data?).
    #[error("stored data does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// The transaction this report was batched into failed as a whole (its commit failed).
    #[error("{0}")]
    Batch(Arc<StoreError>),
    /// The writer thread is gone (it panicked, or the store is shutting down).
    #[error("the database writer has stopped; restart azver-collector")]
    WriterStopped,
    /// A blocking store task panicked or was cancelled.
    #[error("a database task failed: {0}")]
    Task(String),
    /// The database was written by a newer azver.
    #[error("database schema version {found} is newer than this collector's {supported}; upgrade azver-collector")]
    TooNew {
        /// Version in the database.
        found: usize,
        /// Newest this binary knows.
        supported: usize,
    },
    /// Something with this id or digest already exists.
    #[error("{0} already exists")]
    Duplicate(String),
    /// `migrate` refuses to copy into a database that already holds data.
    #[error("the target database is not empty ({0}); migrate only into a new, empty database")]
    NotEmpty(String),
    /// The `--db` value names no store this collector knows.
    #[error("{0}")]
    Location(String),
    /// A backup could not be made.
    #[error("backup failed: {0}")]
    Backup(String),
    /// `migrate` received a row that does not fit the table it names.
    #[error("import refused: {0}")]
    Import(String),
}

/// Where the store lives, from `--db`: a path or `sqlite://PATH` for SQLite, `postgres://...`
/// (or `postgresql://...`) for PostgreSQL.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (may hold a password: never printed as is).
    Postgres(String),
}

impl DbLocation {
    /// Parses a `--db` value.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::Location("sqlite:// needs a path: sqlite:///var/lib/azver/fleet.db".into()));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(StoreError::Location(format!(
                "unknown database scheme {scheme:?}: use a file path, sqlite://PATH or postgres://USER@HOST/DB"
            )));
        }
        if text.is_empty() {
            return Err(StoreError::Location("--db is empty: give a file path or a postgres:// URL".into()));
        }
        Ok(Self::Sqlite(PathBuf::from(text)))
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(path) => Some(path),
            Self::Postgres(_) => None,
        }
    }
}

impl std::str::FromStr for DbLocation {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Shows the location with any password replaced by `***`, so it can be logged.
impl fmt::Display for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&postgres::redact(url)),
        }
    }
}

impl fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbLocation({self})")
    }
}

/// Opens the store at `location`, creating and migrating its schema as needed.
pub async fn open(location: &DbLocation) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match location {
        DbLocation::Sqlite(path) => {
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
            Arc::new(store)
        }
        DbLocation::Postgres(url) => Arc::new(PgStore::open(url).await?),
    })
}

/// The SHA-256 digest of a secret (enrollment secret, node key, admin token), as lower-case hex.
///
/// Every such secret is 256 random bits, so a fast unsalted hash is enough: nobody can guess
/// one from its digest, and a digest lets the store find a secret with one indexed lookup.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyDigest(String);

impl KeyDigest {
    /// The digest of `secret`.
    pub fn of(secret: &str) -> Self {
        Self(hex(&Sha256::digest(secret.as_bytes())))
    }

    /// A digest given as 64 hex digits (upper case is accepted and normalised).
    pub fn from_hex(hex: &str) -> Option<Self> {
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(hex.to_ascii_lowercase()))
    }

    /// The 64 lower-case hex digits.
    pub fn as_hex(&self) -> &str {
        &self.0
    }
}

/// Never prints the digest itself: it is as good as the secret for whoever can query the store.
impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({}…)", &self.0[..8.min(self.0.len())])
    }
}

/// Lower-case hex of `bytes` (digests, and the random parts of credentials).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
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
    /// Scheduled jobs that sign in to Azure (commands already redacted by the agent).
    pub job_sign_ins: Vec<JobSignIn>,
    /// The verdict evaluated at ingest (stored with the report); `None` leaves it to the
    /// background re-evaluation and to reads.
    pub verdict: Option<Verdict>,
}

/// A host's evaluation as stored with its state (issue 17): status and findings without
/// staleness (which depends on the clock: a predicate on `last_seen` at read time), stamped with
/// the digest of the baseline evaluated against. Stored as JSON beside columns for aggregates
/// (status, finding kinds, products below the baseline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The served baseline's digest (`baseline::Served::digest`).
    pub baseline: String,
    /// `compliant`, `noncompliant` or `not-applicable` (never `stale`).
    pub status: Status,
    /// What the baseline found.
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// The verdict of `evaluation` under the baseline with `digest`.
    pub fn new(digest: &str, evaluation: Evaluation) -> Self {
        Self { baseline: digest.to_owned(), status: evaluation.status, findings: evaluation.findings }
    }

    /// The finding kinds present, by name, sorted, once each (the `verdict_kinds` column).
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.findings.iter().map(|f| kind_name(f.kind)).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Products with an installation below the baseline, sorted, once each (`verdict_below`).
    pub fn below(&self) -> Vec<String> {
        let mut products: Vec<String> =
            self.findings.iter().filter(|f| f.kind == FindingKind::BelowBaseline).map(|f| f.product.clone()).collect();
        products.sort();
        products.dedup();
        products
    }

    /// Findings per kind, by name (the `verdict_tally` column: a small JSON object the
    /// fleet's count of findings per kind reads instead of every verdict's findings).
    pub fn tally(&self) -> std::collections::BTreeMap<String, u64> {
        let mut tally = std::collections::BTreeMap::new();
        for finding in &self.findings {
            *tally.entry(kind_name(finding.kind)).or_default() += 1;
        }
        tally
    }

    /// The columns ingest and re-evaluation write: `(verdict, baseline, status, kinds, below,
    /// tally)`.
    fn columns(verdict: Option<&Self>) -> Result<VerdictColumns, StoreError> {
        let Some(v) = verdict else { return Ok(VerdictColumns::default()) };
        Ok(VerdictColumns {
            json: Some(serde_json::to_string(v)?),
            baseline: Some(v.baseline.clone()),
            status: Some(v.status.as_str().to_owned()),
            kinds: Some(serde_json::to_string(&v.kinds())?),
            below: Some(serde_json::to_string(&v.below())?),
            tally: Some(serde_json::to_string(&v.tally())?),
        })
    }
}

/// The distinct (product, version) pairs of `installations`, sorted, as JSON
/// (`[["Az","14.3.0"],...]`): the `versions` column the fleet's versions per product and the
/// product filter read instead of every current inventory.
fn versions_column(installations: &[Installation]) -> Result<String, StoreError> {
    let pairs: std::collections::BTreeSet<[&str; 2]> =
        installations.iter().map(|i| [i.product.as_str(), i.version.as_str()]).collect();
    Ok(serde_json::to_string(&pairs)?)
}

/// A verdict as stored: all `None` for a host not evaluated yet.
#[derive(Debug, Default)]
struct VerdictColumns {
    json: Option<String>,
    baseline: Option<String>,
    status: Option<String>,
    kinds: Option<String>,
    below: Option<String>,
    tally: Option<String>,
}

/// The name of a finding kind as JSON spells it (`below-baseline`).
fn kind_name(kind: FindingKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// What ingest did with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored; `new_snapshot` tells whether the inventory changed.
    Stored {
        /// A new history entry was written.
        new_snapshot: bool,
    },
    /// Already stored (a report id within the host's dedupe window): acknowledged, nothing
    /// written but `last_seen`.
    Duplicate,
    /// A new report id whose sequence is at or just below the host's last: an older report
    /// arriving late. Acknowledged, nothing written but `last_seen`; the agent is told the last
    /// sequence so a counter that went back (a lost `sequence` file) catches up.
    Behind {
        /// The host's last stored sequence.
        last_sequence: i64,
    },
}

impl From<ingest::Decision> for IngestOutcome {
    fn from(decision: ingest::Decision) -> Self {
        match decision {
            ingest::Decision::Duplicate => Self::Duplicate,
            ingest::Decision::Behind { last_sequence } => Self::Behind { last_sequence },
            ingest::Decision::Store(write) => Self::Stored { new_snapshot: write.new_snapshot },
        }
    }
}

/// Logs a sequence reset (a report stored although its sequence was far from the host's last).
fn log_reset(host_id: &str, write: &ingest::Write) {
    if let Some(previous) = write.reset {
        tracing::warn!(
            %host_id,
            previous,
            sequence = write.sequence,
            "report sequence far from the host's last; stored as a sequence reset"
        );
    }
}

/// A host's current state as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The sequence of the last stored report.
    #[serde(default)]
    pub last_sequence: i64,
    /// The verdict stored with the state (possibly for an older baseline), if any.
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// Current scheduled-job sign-ins.
    #[serde(default)]
    pub job_sign_ins: Vec<JobSignIn>,
}

impl StoredHost {
    /// The host id.
    pub fn host_id(&self) -> &str {
        self.facts.host_id.as_deref().unwrap_or_default()
    }
}

/// Clock differences below this are ordinary drift, not worth marking.
const CLOCK_SKEW_TOLERANCE_SECS: i64 = 300;

/// The clock skew to mark for a report scanned at `scanned_at` and received at `now`.
fn clock_skew(scanned_at: Option<i64>, now: i64) -> Option<i64> {
    scanned_at.map(|t| t - now).filter(|s| s.abs() > CLOCK_SKEW_TOLERANCE_SECS)
}

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

/// Sizes, for `/metrics`, `/readyz` and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Hosts stored.
    pub hosts: u64,
    /// History snapshots stored.
    pub snapshots: u64,
    /// Bytes on disk: the SQLite file, or the PostgreSQL database (`pg_database_size`).
    pub bytes: u64,
}

/// An enrollment secret as listed (never its digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrollSecretInfo {
    /// Short public id (`es_...`).
    pub id: String,
    /// What the operator called it.
    pub label: String,
    /// Created, seconds since the epoch.
    pub created_at: i64,
    /// No enrollment with it from this time on; `None`: never expires.
    pub expires_at: Option<i64>,
    /// Revoked at; `None`: still valid (unless expired).
    pub revoked_at: Option<i64>,
    /// Last successful enrollment with it.
    pub last_used_at: Option<i64>,
    /// Successful enrollments with it.
    pub enrollments: u64,
}

/// An admin token as listed (never its digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminTokenInfo {
    /// Short public id.
    pub id: String,
    /// What the operator called it.
    pub label: String,
    /// Created, seconds since the epoch.
    pub created_at: i64,
    /// Refused from this time on; `None`: never expires.
    pub expires_at: Option<i64>,
    /// Revoked at; `None`: still valid (unless expired).
    pub revoked_at: Option<i64>,
}

/// What [`Store::enroll`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollOutcome {
    /// The node key is stored for the host (replacing an older one); `secret_id` enrolled it.
    Enrolled {
        /// The enrollment secret used.
        secret_id: String,
    },
    /// No enrollment secret has this digest.
    UnknownSecret,
    /// The secret was revoked.
    SecretRevoked,
    /// The secret expired.
    SecretExpired,
    /// The host was revoked: it cannot enroll again until `host delete` removes it.
    HostRevoked,
}

/// The two kinds of credential with an id, a label and an expiry (stored alike in both stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    EnrollSecret,
    AdminToken,
}

impl Credential {
    fn table(self) -> &'static str {
        match self {
            Self::EnrollSecret => "enroll_secrets",
            Self::AdminToken => "admin_tokens",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::EnrollSecret => "an enrollment secret",
            Self::AdminToken => "an admin token",
        }
    }
}

/// How many rows of each kind `import` wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    /// Hosts.
    pub hosts: u64,
    /// Snapshots.
    pub snapshots: u64,
    /// Host-name rows.
    pub hostnames: u64,
    /// Daily roll-up rows.
    pub daily: u64,
    /// Enrollment secrets, node keys, revoked hosts and admin tokens.
    pub auth: u64,
}

/// Records in flight between `export` and `import` (bounded: a large fleet streams through).
pub const RECORD_CHANNEL: usize = 1024;

/// The store, as `serve`, the CLI and the dashboard use it.
///
/// Every method is async: the SQLite store runs its blocking calls on tokio's blocking threads
/// (ingest through its group-commit writer thread), the PostgreSQL store talks to its pool.
/// Times are seconds since the epoch by the collector's clock, passed in (`now`), never read
/// inside.
#[async_trait::async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// `sqlite` or `postgres`, for logs.
    fn kind(&self) -> &'static str;

    /// Stores a report received at `now`; returns once it is durable (or known to be a
    /// duplicate). Safe to call concurrently, from several collectors on one database included.
    async fn ingest(&self, report: IncomingReport, now: i64) -> Result<IngestOutcome, StoreError>;

    /// Every host with its current inventory, ordered by host name then id (byte-wise).
    async fn hosts(&self) -> Result<Vec<StoredHost>, StoreError>;

    /// Calls `visit` with every host in turn, in the order of [`Store::hosts`], holding a
    /// bounded number of hosts in memory (for aggregates over a large fleet, such as the
    /// daily roll-up).
    async fn for_each_host(&self, visit: &mut (dyn FnMut(StoredHost) + Send)) -> Result<(), StoreError>;

    /// Up to `limit` hosts with a host id above `after` (in host-id order) whose stored verdict
    /// is not for the baseline with `digest` (or is missing).
    async fn unevaluated(&self, digest: &str, after: &str, limit: usize) -> Result<Vec<StoredHost>, StoreError>;

    /// Stores `(host_id, last_sequence, verdict)` for each host still at that sequence (one whose
    /// report arrived meanwhile keeps the verdict stored with it), in one transaction; returns
    /// how many were written.
    async fn record_verdicts(&self, verdicts: &[(String, i64, Verdict)]) -> Result<usize, StoreError>;

    /// Hosts per (role, status) at `now` among those whose verdict is for the baseline `digest`,
    /// counted in the database: status from the stored verdict, `stale` from `last_seen` and
    /// the `stale_after` of the first matching rule of `config`. Hosts without a role count
    /// under the empty role. The others are for the caller to evaluate (see [`Store::unevaluated`]).
    async fn status_counts(&self, config: &Config, digest: &str, now: i64) -> Result<Vec<DailyCount>, StoreError>;

    /// One page of the hosts [`query::clause`] selects, ordered by host name then id, filtered
    /// and paged in the database. With a status filter, hosts not re-evaluated against `digest`
    /// yet are included whenever they may match: the caller evaluates them and drops the others.
    async fn page(
        &self,
        request: &query::PageRequest,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<Vec<StoredHost>, StoreError>;

    /// How many hosts [`query::clause`] selects (counted in the database; during a
    /// re-evaluation, hosts not reached yet count when they may match).
    async fn count(
        &self,
        filter: &query::HostFilter,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<u64, StoreError>;

    /// Counts `what` over the hosts `filter` selects whose verdict is for the baseline `digest`,
    /// in the database ([`query::tally`]): rows of (text, text, count). The hosts not
    /// re-evaluated yet are the caller's to count ([`Store::unevaluated`]).
    async fn tally(
        &self,
        what: query::Tally,
        filter: &query::HostFilter,
        config: &Config,
        digest: &str,
        now: i64,
    ) -> Result<Vec<(String, String, u64)>, StoreError>;

    /// Host ids matching an id exactly, or else a host name (several hosts may share a name).
    async fn find(&self, id_or_name: &str) -> Result<Vec<String>, StoreError>;

    /// One host's current state.
    async fn host(&self, host_id: &str) -> Result<Option<StoredHost>, StoreError>;

    /// A host's history, oldest first: every inventory change and every later name change,
    /// in the order the reports were stored.
    async fn history(&self, host_id: &str) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Deletes hosts with their history, node keys and revocations. Returns how many hosts
    /// were deleted.
    async fn delete_hosts(&self, host_ids: &[String]) -> Result<usize, StoreError>;

    /// Hosts, snapshots and bytes on disk.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Replaces the roll-up of `day` with `counts` (the whole day at once, so a status that
    /// dropped to zero does not linger; several collectors writing the same day leave one
    /// set of rows, never a sum). `now` is when it was computed.
    async fn record_daily(&self, day: &str, counts: &[DailyCount], now: i64) -> Result<(), StoreError>;

    /// The roll-up rows from `since` (a `YYYY-MM-DD` day, inclusive) on, ordered by day, role,
    /// status.
    async fn daily(&self, since: &str) -> Result<Vec<DailyCount>, StoreError>;

    /// Stores a new enrollment secret. `id` and `secret` must be new ([`StoreError::Duplicate`]).
    async fn create_enroll_secret(
        &self,
        id: &str,
        label: &str,
        secret: &KeyDigest,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Every enrollment secret ever created, revoked ones included, oldest first.
    async fn list_enroll_secrets(&self) -> Result<Vec<EnrollSecretInfo>, StoreError>;

    /// Revokes the secret with this id at `now`; `false` when there is none or it was
    /// already revoked. Hosts enrolled with it keep their node keys.
    async fn revoke_enroll_secret(&self, id: &str, now: i64) -> Result<bool, StoreError>;

    /// True once any enrollment secret was created, even if all are revoked or expired since:
    /// from then on the collector requires authentication.
    async fn any_enroll_secret_ever(&self) -> Result<bool, StoreError>;

    /// Enrolls `host_id` in one transaction: the secret must exist, be unrevoked and unexpired
    /// at `now`, and the host must not be revoked; then the host's node key becomes `node_key`
    /// (replacing an older one) and the secret's use count and last use move.
    async fn enroll(
        &self,
        secret: &KeyDigest,
        host_id: &str,
        node_key: &KeyDigest,
        now: i64,
    ) -> Result<EnrollOutcome, StoreError>;

    /// The host a node key belongs to, unless the host is revoked. Read-only, one indexed
    /// lookup: it runs for every report.
    async fn authenticate_node_key(&self, node_key: &KeyDigest) -> Result<Option<String>, StoreError>;

    /// Revokes a host at `now`: its node key stops working at once and enrollments of this
    /// host id are refused until `host delete` removes the host. `false` when the host is
    /// unknown (never reported nor enrolled) or already revoked.
    async fn revoke_host(&self, host_id: &str, now: i64) -> Result<bool, StoreError>;

    /// Stores a new admin token. `id` and `token` must be new ([`StoreError::Duplicate`]).
    async fn create_admin_token(
        &self,
        id: &str,
        label: &str,
        token: &KeyDigest,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Every admin token ever created, revoked ones included, oldest first.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError>;

    /// Revokes the admin token with this id at `now`; `false` when there is none or it was
    /// already revoked.
    async fn revoke_admin_token(&self, id: &str, now: i64) -> Result<bool, StoreError>;

    /// The id of the admin token with this digest, if it is unrevoked and unexpired at `now`.
    async fn authenticate_admin_token(&self, token: &KeyDigest, now: i64) -> Result<Option<String>, StoreError>;

    /// Keeps the store's own bookkeeping small, every few seconds (the server's maintenance
    /// task): PostgreSQL folds the counts' appended changes into the counts (reads sum both, and
    /// write nothing) and vacuums the tables of both once enough rows were folded, so a read
    /// scans a few seconds of changes at most, and no dead rows of them. SQLite has nothing to do.
    async fn maintain(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Sends every row of every table of [`tables::TABLES`], table by table in that order and
    /// each in key order, read from one consistent snapshot of the database.
    async fn export(&self, out: tokio::sync::mpsc::Sender<Record>) -> Result<(), StoreError>;

    /// Writes the rows of another store's [`Store::export`] in one transaction; refuses a
    /// database that already holds hosts, secrets, tokens or roll-ups ([`StoreError::NotEmpty`])
    /// and a row that does not fit its table ([`StoreError::Import`]); ids are kept, and new
    /// rows continue after them.
    async fn import(&self, records: tokio::sync::mpsc::Receiver<Record>) -> Result<ImportCounts, StoreError>;

    /// Every revoked host with the time it was revoked, ordered by host id; hosts that were
    /// enrolled but never reported included. Small: only `host revoke` adds rows.
    async fn revoked_hosts(&self) -> Result<Vec<RevokedHost>, StoreError>;
}

/// A revoked host (`host revoke`): its node key is refused until `host delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokedHost {
    /// The host id.
    pub host_id: String,
    /// When it was revoked, seconds since the epoch.
    pub revoked_at: i64,
}

/// Copies every row of `from` into `to` (which must be empty), streaming.
pub async fn copy_all(from: &dyn Store, to: &dyn Store) -> Result<ImportCounts, StoreError> {
    let (tx, rx) = tokio::sync::mpsc::channel(RECORD_CHANNEL);
    let (exported, imported) = tokio::join!(from.export(tx), to.import(rx));
    // An import that stopped early makes the export fail on a closed channel: report the
    // import's reason first.
    let counts = imported?;
    exported?;
    Ok(counts)
}

/// The wire name of a role, also used in the database.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Developer => "developer",
        Role::BuildRunner => "build-runner",
        Role::Server => "server",
    }
}

/// A digest of what was found, independent of the order detectors reported it in.
/// Job sign-ins join the digest only when there are some, so hosts without any keep the digest
/// they had before job sign-ins existed (an upgrade writes no new snapshots).
fn inventory_digest(
    installations: &[Installation],
    identities: &[Identity],
    job_sign_ins: &[JobSignIn],
) -> Result<Vec<u8>, StoreError> {
    let mut installs: Vec<String> = installations.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
    installs.sort();
    let mut ids: Vec<String> = identities.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
    ids.sort();
    let mut jobs: Vec<String> = job_sign_ins.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
    jobs.sort();
    let mut hasher = Sha256::new();
    let jobs_marker = String::from("--job-sign-ins--");
    let jobs_part = (!jobs.is_empty()).then_some(&jobs_marker).into_iter().chain(jobs.iter());
    for part in
        installs.iter().chain(std::iter::once(&String::from("--identities--"))).chain(ids.iter()).chain(jobs_part)
    {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    Ok(hasher.finalize().to_vec())
}

/// Decodes a host from its stored columns (shared by both stores).
#[allow(clippy::too_many_arguments)]
fn decode_host(
    facts: &str,
    first_seen: i64,
    last_seen: i64,
    scanned_at: Option<i64>,
    errors: &str,
    installations: Option<&str>,
    identities: Option<&str>,
    clock_skew: Option<i64>,
    last_sequence: i64,
    verdict: Option<&str>,
    job_sign_ins: Option<&str>,
) -> Result<StoredHost, StoreError> {
    Ok(StoredHost {
        facts: serde_json::from_str(facts)?,
        first_seen,
        last_seen,
        scanned_at,
        installations: installations.map(serde_json::from_str).transpose()?.unwrap_or_default(),
        identities: identities.map(serde_json::from_str).transpose()?.unwrap_or_default(),
        errors: serde_json::from_str(errors)?,
        clock_skew,
        last_sequence,
        // A verdict that does not decode (a newer collector's findings?) is re-evaluated.
        verdict: verdict.and_then(|v| serde_json::from_str(v).ok()),
        job_sign_ins: job_sign_ins.map(serde_json::from_str).transpose()?.unwrap_or_default(),
    })
}

/// A snapshot row as history reads it: `(id, received_at, hostname, installations, identities)`.
type SnapshotEntry = (i64, i64, String, String, String);
/// A rename row as history reads it: `(id, since, hostname, snapshot)`.
type RenameEntry = (i64, i64, String, Option<i64>);

/// Merges snapshots and later renames into history, ordered by the order reports arrived
/// (snapshot ids and rename ids), not by their one-second timestamps, so a rename in the same
/// second as an upgrade is kept. `renames` excludes the host's first name and renames that came
/// with an inventory change.
fn merge_history(snapshots: &[SnapshotEntry], renames: Vec<RenameEntry>) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut keyed: Vec<((i64, i64), HistoryEntry)> = Vec::new();
    for (id, at, hostname, installations, identities) in snapshots {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_locations_parse_paths_and_urls() {
        assert_eq!(DbLocation::parse("fleet.db").unwrap(), DbLocation::Sqlite("fleet.db".into()));
        assert_eq!(DbLocation::parse("sqlite:///var/x.db").unwrap(), DbLocation::Sqlite("/var/x.db".into()));
        assert_eq!(DbLocation::parse("sqlite://rel.db").unwrap(), DbLocation::Sqlite("rel.db".into()));
        let pg = DbLocation::parse("postgres://azver:s3cret@db.example:5432/fleet").unwrap();
        assert!(matches!(pg, DbLocation::Postgres(_)));
        assert_eq!(pg.to_string(), "postgres://azver:***@db.example:5432/fleet");
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert!(matches!(DbLocation::parse("postgresql://h/db").unwrap(), DbLocation::Postgres(_)));
        assert!(DbLocation::parse("mysql://h/db").unwrap_err().to_string().contains("unknown database scheme"));
        assert!(DbLocation::parse("sqlite://").is_err());
        assert!(DbLocation::parse("").is_err());
    }

    #[test]
    fn key_digests_are_sha256_hex_and_never_printed() {
        let digest = KeyDigest::of("abc");
        assert_eq!(digest.as_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(KeyDigest::from_hex(&digest.as_hex().to_uppercase()), Some(digest.clone()));
        assert_eq!(KeyDigest::from_hex("ba78"), None);
        assert_eq!(KeyDigest::from_hex(&"g".repeat(64)), None);
        assert_eq!(format!("{digest:?}"), "KeyDigest(ba7816bf…)");
    }
}

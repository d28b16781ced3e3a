//! What `migrate` copies: one description of every exported table, from which both stores
//! build their `SELECT` and `INSERT` text and convert rows ([`Store::export`],
//! [`Store::import`]). Adding a column to the schema is one edit here (the conformance suite
//! fails while a column of either store's schema is missing from [`TABLES`]).
//!
//! - Every column is carried as stored, ids included (snapshot ids and host-name row ids, so
//!   history keeps its order and new rows continue after the copied ones).
//! - **Verdicts are carried**: the `verdict*` columns of `hosts` are stamped with the digest of
//!   the baseline they were evaluated against, so a copy served with the same baseline needs no
//!   re-evaluation of the fleet, and one served with another baseline re-evaluates them as after
//!   any baseline change (reads never take a verdict for another baseline).
//! - Derived data that is not carried: PostgreSQL's `hosts.current_digest` (a copy of the current
//!   snapshot's digest kept on the host row for ingest's lock), recomputed after an import.
//! - Digests of credentials travel as [`KeyDigest`] ([`Value::Digest`]): checked to be 64 hex
//!   digits on both sides and never printed in full.
//!
//! [`Store::export`]: super::Store::export
//! [`Store::import`]: super::Store::import

use super::query::Dialect;
use super::{ImportCounts, KeyDigest, StoreError};

/// How a column is stored (and read and written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `INTEGER` / `BIGINT`.
    Int,
    /// `TEXT`.
    Text,
    /// `BLOB` / `BYTEA`.
    Bytes,
    /// SQLite `INTEGER` 0 or 1 / PostgreSQL `BOOLEAN`.
    Bool,
    /// `TEXT` holding a [`KeyDigest`] (64 lower-case hex digits).
    Digest,
}

/// One exported column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name in PostgreSQL (and in SQLite unless `sqlite_rowid`).
    pub name: &'static str,
    /// How it is stored.
    pub kind: Kind,
    /// Whether it may be NULL.
    pub nullable: bool,
    /// In SQLite this column is the table's `rowid` (no column of its own).
    pub sqlite_rowid: bool,
}

impl Column {
    /// The column as `dialect` names it.
    pub fn sql_name(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite if self.sqlite_rowid => "rowid",
            _ => self.name,
        }
    }
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, kind, nullable: false, sqlite_rowid: false }
}

const fn null(name: &'static str, kind: Kind) -> Column {
    Column { name, kind, nullable: true, sqlite_rowid: false }
}

/// Which [`ImportCounts`] field a table's rows count towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    /// `hosts`.
    Hosts,
    /// `snapshots`.
    Snapshots,
    /// `hostnames`.
    Hostnames,
    /// `daily`.
    Daily,
    /// `auth`: secrets, node keys, revoked hosts, admin tokens.
    Auth,
}

impl Tally {
    /// Counts one row in `counts`.
    pub fn add(self, counts: &mut ImportCounts) {
        let field = match self {
            Self::Hosts => &mut counts.hosts,
            Self::Snapshots => &mut counts.snapshots,
            Self::Hostnames => &mut counts.hostnames,
            Self::Daily => &mut counts.daily,
            Self::Auth => &mut counts.auth,
        };
        *field += 1;
    }
}

/// One exported table.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    /// Its name (the same in both stores).
    pub name: &'static str,
    /// Every column, in the order of [`Record::values`].
    pub columns: &'static [Column],
    /// The columns rows are exported in order of (a key: the order is total).
    pub key: &'static [&'static str],
    /// What `import` counts its rows as.
    pub tally: Tally,
}

use Kind::{Bool, Bytes, Digest, Int, Text};

/// The columns of both kinds of credential with an id, a label and an expiry (`admin_tokens`).
const CREDENTIAL: [Column; 6] = [
    col("id", Text),
    col("label", Text),
    col("hash", Digest),
    col("created_at", Int),
    null("expires_at", Int),
    null("revoked_at", Int),
];

/// `enroll_secrets`: a credential and its use.
const ENROLL_SECRET: [Column; 8] = {
    let [id, label, hash, created_at, expires_at, revoked_at] = CREDENTIAL;
    [id, label, hash, created_at, expires_at, revoked_at, null("last_used_at", Int), col("enrollments", Int)]
};

/// Every exported table, in the order `export` sends and `import` accepts them (a row only
/// refers to rows of tables before it).
pub static TABLES: &[Table] = &[
    Table {
        name: "hosts",
        columns: &[
            col("host_id", Text),
            col("hostname", Text),
            col("facts", Text),
            null("role", Text),
            col("first_seen", Int),
            col("last_seen", Int),
            null("scanned_at", Int),
            null("clock_skew", Int),
            col("last_sequence", Int),
            col("last_report_id", Text),
            null("current_snapshot", Int),
            col("errors", Text),
            col("recent_report_ids", Text),
            null("verdict", Text),
            null("verdict_baseline", Text),
            null("verdict_status", Text),
            null("verdict_kinds", Text),
            null("verdict_below", Text),
            null("verdict_tally", Text),
            null("versions", Text),
        ],
        key: &["host_id"],
        tally: Tally::Hosts,
    },
    Table {
        name: "snapshots",
        columns: &[
            col("id", Int),
            col("host_id", Text),
            col("received_at", Int),
            col("hostname", Text),
            col("digest", Bytes),
            col("installations", Text),
            col("identities", Text),
            col("job_sign_ins", Text),
        ],
        key: &["id"],
        tally: Tally::Snapshots,
    },
    Table {
        name: "hostnames",
        columns: &[
            Column { name: "id", kind: Int, nullable: false, sqlite_rowid: true },
            col("host_id", Text),
            col("hostname", Text),
            col("since", Int),
            null("snapshot", Int),
            col("with_inventory", Bool),
        ],
        key: &["id"],
        tally: Tally::Hostnames,
    },
    Table {
        name: "daily_status",
        columns: &[
            col("day", Text),
            col("role", Text),
            col("status", Text),
            col("hosts", Int),
            col("recorded_at", Int),
        ],
        key: &["day", "role", "status"],
        tally: Tally::Daily,
    },
    Table { name: "enroll_secrets", columns: &ENROLL_SECRET, key: &["id"], tally: Tally::Auth },
    Table { name: "admin_tokens", columns: &CREDENTIAL, key: &["id"], tally: Tally::Auth },
    Table {
        name: "node_keys",
        columns: &[col("host_id", Text), col("key_hash", Digest), null("secret_id", Text), col("created_at", Int)],
        key: &["host_id"],
        tally: Tally::Auth,
    },
    Table {
        name: "revoked_hosts",
        columns: &[col("host_id", Text), col("revoked_at", Int)],
        key: &["host_id"],
        tally: Tally::Auth,
    },
];

/// Columns of a store's schema that are derived and deliberately not exported, as
/// `(table, column)`: PostgreSQL's copy of the current snapshot's digest on the host row, and
/// the generated hour of `last_seen` the staleness indexes hold.
pub const DERIVED_POSTGRES: &[(&str, &str)] = &[("hosts", "current_digest"), ("hosts", "seen_hour")];

/// Columns of the SQLite schema that are derived and deliberately not exported (kept by
/// triggers, import included).
pub const DERIVED_SQLITE: &[(&str, &str)] = &[("hosts", "seen_hour")];

/// Tables of a store's schema that are not fleet data: the schema version's own bookkeeping, and
/// the counts and members the triggers keep (`store/rollup.rs`), which an import's rows rebuild.
pub const NOT_EXPORTED: &[&str] = &["azver_schema", "fleet_counts", "fleet_count_deltas", "host_members"];

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A boolean.
    Bool(bool),
    /// A credential's digest (its `Debug` shows 8 hex digits only).
    Digest(KeyDigest),
}

impl Value {
    fn fits(&self, column: &Column) -> bool {
        match (self, column.kind) {
            (Self::Null, _) => column.nullable,
            (Self::Int(_), Int) | (Self::Text(_), Text) | (Self::Bytes(_), Bytes) => true,
            (Self::Bool(_), Bool) | (Self::Digest(_), Digest) => true,
            _ => false,
        }
    }
}

/// One row of one table, as `migrate` streams it from one store to another: the stored form,
/// ids and digests included, so the copy is the same fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The table (one of [`TABLES`]).
    pub table: &'static Table,
    /// One value per column of the table, in its order.
    pub values: Vec<Value>,
}

impl Record {
    /// Checks that this record is a row of one of [`TABLES`]: the table is known, and each
    /// value fits its column (count, kind, NULL only where allowed).
    pub fn check(&self) -> Result<(), StoreError> {
        let known = TABLES.iter().any(|t| std::ptr::eq(t, self.table));
        if !known {
            return Err(StoreError::Import(format!("a row of unknown table {:?}", self.table.name)));
        }
        if self.values.len() != self.table.columns.len() {
            return Err(StoreError::Import(format!(
                "a row of {} has {} values for {} columns",
                self.table.name,
                self.values.len(),
                self.table.columns.len()
            )));
        }
        for (value, column) in self.values.iter().zip(self.table.columns) {
            if !value.fits(column) {
                return Err(StoreError::Import(format!(
                    "{}.{} is {:?}{}, not {}",
                    self.table.name,
                    column.name,
                    column.kind,
                    if column.nullable { " or NULL" } else { "" },
                    value.describe()
                )));
            }
        }
        Ok(())
    }
}

impl Value {
    /// What kind of value this is, for errors (never the value: it may be a digest).
    fn describe(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Int(_) => "an integer",
            Self::Text(_) => "text",
            Self::Bytes(_) => "bytes",
            Self::Bool(_) => "a boolean",
            Self::Digest(_) => "a digest",
        }
    }

    /// A digest read from a `Digest` column, checked.
    pub fn digest(hex: &str) -> Result<Self, StoreError> {
        KeyDigest::from_hex(hex)
            .map(Self::Digest)
            .ok_or_else(|| StoreError::Task(format!("a stored digest is malformed: {} chars", hex.len())))
    }
}

/// A row as a driver returns it: each column read as a Rust type, NULL as `None`.
pub trait Cells {
    /// An integer column.
    fn int(&self, index: usize) -> Result<Option<i64>, StoreError>;
    /// A text column.
    fn text(&self, index: usize) -> Result<Option<String>, StoreError>;
    /// A bytes column.
    fn bytes(&self, index: usize) -> Result<Option<Vec<u8>>, StoreError>;
    /// A boolean column.
    fn boolean(&self, index: usize) -> Result<Option<bool>, StoreError>;

    /// Column `index`, read as `kind` (NULL as [`Value::Null`]; a digest checked).
    fn value(&self, index: usize, kind: Kind) -> Result<Value, StoreError> {
        let value = match kind {
            Int => self.int(index)?.map(Value::Int),
            Text => self.text(index)?.map(Value::Text),
            Bytes => self.bytes(index)?.map(Value::Bytes),
            Bool => self.boolean(index)?.map(Value::Bool),
            Digest => self.text(index)?.as_deref().map(Value::digest).transpose()?,
        };
        Ok(value.unwrap_or(Value::Null))
    }

    /// Every column of `table`, in its order.
    fn values(&self, table: &Table) -> Result<Vec<Value>, StoreError> {
        table.columns.iter().enumerate().map(|(i, column)| self.value(i, column.kind)).collect()
    }
}

impl Table {
    /// `SELECT` of every column in key order.
    pub fn select_sql(&self, dialect: Dialect) -> String {
        let columns: Vec<&str> = self.columns.iter().map(|c| c.sql_name(dialect)).collect();
        let key: Vec<&str> = self
            .key
            .iter()
            .map(|k| self.columns.iter().find(|c| c.name == *k).map_or(*k, |c| c.sql_name(dialect)))
            .collect();
        format!("SELECT {} FROM {} ORDER BY {}", columns.join(", "), self.name, key.join(", "))
    }

    /// `INSERT` of every column, with positional parameters.
    pub fn insert_sql(&self, dialect: Dialect) -> String {
        let columns: Vec<&str> = self.columns.iter().map(|c| c.sql_name(dialect)).collect();
        let params: Vec<String> = (1..=self.columns.len())
            .map(|n| match dialect {
                Dialect::Sqlite => format!("?{n}"),
                Dialect::Postgres => format!("${n}"),
            })
            .collect();
        format!("INSERT INTO {} ({}) VALUES ({})", self.name, columns.join(", "), params.join(", "))
    }
}

/// The SQL both stores run before an import: how many rows of the tables that make a database
/// "not empty" it holds (hosts, secrets, tokens, roll-ups).
pub const HELD_SQL: &str = "SELECT (SELECT count(*) FROM hosts) + (SELECT count(*) FROM enroll_secrets) + \
                            (SELECT count(*) FROM admin_tokens) + (SELECT count(*) FROM daily_status)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_is_built_from_the_description() {
        let hostnames = TABLES.iter().find(|t| t.name == "hostnames").unwrap();
        assert_eq!(
            hostnames.select_sql(Dialect::Sqlite),
            "SELECT rowid, host_id, hostname, since, snapshot, with_inventory FROM hostnames ORDER BY rowid"
        );
        assert_eq!(
            hostnames.insert_sql(Dialect::Postgres),
            "INSERT INTO hostnames (id, host_id, hostname, since, snapshot, with_inventory) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        );
        let daily = TABLES.iter().find(|t| t.name == "daily_status").unwrap();
        assert!(daily.select_sql(Dialect::Postgres).ends_with("ORDER BY day, role, status"));
        assert!(daily.insert_sql(Dialect::Sqlite).ends_with("VALUES (?1, ?2, ?3, ?4, ?5)"));
    }

    #[test]
    fn every_key_is_a_column_and_names_are_unique() {
        for table in TABLES {
            for key in table.key {
                assert!(table.columns.iter().any(|c| c.name == *key), "{}.{key}", table.name);
            }
            let mut names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.columns.len(), "{}", table.name);
        }
    }

    #[test]
    fn records_that_do_not_fit_are_refused() {
        let revoked = TABLES.iter().find(|t| t.name == "revoked_hosts").unwrap();
        let ok = Record { table: revoked, values: vec![Value::Text("h".into()), Value::Int(3)] };
        ok.check().unwrap();
        let short = Record { table: revoked, values: vec![Value::Text("h".into())] };
        assert!(short.check().unwrap_err().to_string().contains("1 values for 2 columns"));
        let null = Record { table: revoked, values: vec![Value::Text("h".into()), Value::Null] };
        assert!(null.check().unwrap_err().to_string().contains("revoked_hosts.revoked_at is Int, not NULL"));
        let swapped = Record { table: revoked, values: vec![Value::Int(3), Value::Text("h".into())] };
        assert!(swapped.check().is_err());
        static ROGUE: Table = Table { name: "hosts; DROP TABLE hosts", columns: &[], key: &[], tally: Tally::Hosts };
        let rogue = Record { table: &ROGUE, values: vec![] };
        assert!(rogue.check().unwrap_err().to_string().contains("unknown table"));
        // A digest where text is expected is refused, and its Debug never shows the digest.
        let tokens = TABLES.iter().find(|t| t.name == "node_keys").unwrap();
        let key = KeyDigest::of("secret");
        let as_text = Record {
            table: tokens,
            values: vec![Value::Text("h".into()), Value::Text(key.as_hex().into()), Value::Null, Value::Int(1)],
        };
        let error = as_text.check().unwrap_err().to_string();
        assert!(error.contains("node_keys.key_hash is Digest, not text"), "{error}");
        assert!(!error.contains(key.as_hex()), "{error}");
        let record = Record {
            table: tokens,
            values: vec![Value::Text("h".into()), Value::Digest(key.clone()), Value::Null, Value::Int(1)],
        };
        record.check().unwrap();
        assert!(!format!("{record:?}").contains(key.as_hex()));
        assert!(Value::digest("abc").is_err());
    }
}

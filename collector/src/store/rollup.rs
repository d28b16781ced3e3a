//! Counts kept at write time (issue 17): the fleet's counts per role and status, per product
//! and version, per label, per finding kind and per product below the baseline, held in one
//! small table, `fleet_counts`, that triggers on `hosts` keep exact on every write (ingest,
//! re-evaluation, deletion, import), so the summary of 1,000,000 hosts reads a few hundred rows
//! instead of every host. Pure: it builds SQL text for both stores.
//!
//! A row of `fleet_counts` is (`what`, `baseline`, `role`, `status`, `a`, `b`, `hour`, `n`): `n`
//! hosts (or findings, for `kind`) of role `role` ('' without one) counted under `what`:
//!
//! | what | baseline | status | a | b | hour | counts |
//! |---|---|---|---|---|---|---|
//! | `status` | the verdict's | | stored status | | `seen_hour` | hosts |
//! | `version` | | stored status | product | version | | hosts with that pair installed |
//! | `extra` | | stored status | product | | | a host's versions of it beyond the first |
//! | `label` | | stored status | key | value | | hosts with that label |
//! | `kind` | the verdict's | stored status | finding kind | | findings of it on the host | hosts |
//! | `below` | the verdict's | stored status | product | | | hosts below the baseline for it |
//!
//! The stored status (of the verdict, never `stale`) beside versions, labels, findings and
//! products below the baseline answers a view filtered by status: the rows of that status, less
//! the stale hosts among them, read from `hosts` through the (`verdict_status`, `seen_hour`)
//! index (a stale host keeps its stored status). Versions and labels are kept per status
//! whatever the verdict's baseline, so a host's rows of them move only when its status does, not
//! on every baseline change: they answer a filter by status once every host is evaluated against
//! the served baseline, which the stores check first ([`needs_every_host_evaluated`],
//! [`count_needs_every_host_evaluated`]). So the hosts of a label, product or finding kind and a
//! status are counted from a few rows whatever share of them has that status (schema 11; before
//! it, seconds at 1,000,000 hosts when statuses split a common label evenly).
//!
//! A product's hosts are its `version` rows less its `extra` ones (a host with the product in
//! k versions has k `version` rows and k - 1 `extra` ones; nearly every host has one version of
//! each), so a status change moves no row per product and host. A `kind` row counts `n` hosts
//! with `hour` findings of that kind each: findings per kind are the sum of `n` × `hour`, the
//! hosts with a finding of a kind the sum of `n`.
//!
//! Staleness depends on the clock, so statuses are kept per hour last seen: a host is stale at
//! `now` when its hour is before its cut-off's hour, or in that hour and seen before the cut-off
//! second, the one hour read from `hosts` through the `seen_hour` index
//! ([`query::stale_sql`]). Rules by label make the cut-off depend on a host's labels, which the
//! counts do not hold: then the statuses are counted from `hosts` as before.
//!
//! SQLite updates the counts in the writing transaction (one writer at a time). PostgreSQL's
//! triggers append changes to `fleet_count_deltas` instead, which takes no lock another
//! transaction waits for (two collectors updating the same count rows in different orders
//! would deadlock); [`COMPACT_POSTGRES`] folds them into `fleet_counts` under an advisory lock,
//! and reads sum both.
//!
//! The migrations that create the counts are built from this text: 9 created them (in the layout
//! of its time, without `status`), 10 (statuses beside versions and findings) and 11 (statuses
//! beside labels, `extra`, hosts per finding kind) drop what the one before built but the
//! members and build it again
//! ([`sqlite_rebuild`], [`postgres_rebuild`]), so a database at 11 holds this layout whichever
//! text 9 and 10 ran. A later change of layout is another migration that rebuilds them the same
//! way.

use azver_core::Status;

use super::query::{self, Clause, Dialect, HostFilter, SEEN_STEP, Tally, Value};
use super::role_name;
use crate::config::{Config, Matcher};

/// A kind of count row and the SQL producing a host's rows of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    Status,
    Version,
    /// A host's versions of a product beyond the first: its hosts are its version rows less
    /// these, kept per status without a row per product and host.
    Extra,
    /// The products of a host, once each: its `host_members` (no counts).
    Product,
    Label,
    Kind,
    Below,
}

/// The kinds of count row.
const ALL: [Dim; 6] = [Dim::Status, Dim::Version, Dim::Extra, Dim::Label, Dim::Kind, Dim::Below];

/// The columns of a count row, in order.
const COLUMNS: &str = "what, baseline, role, status, a, b, hour, n";

/// The key of a count row.
const KEY: &str = "what, baseline, role, status, a, b, hour";

/// Host row `r`'s rows of `dim`: the SQL of each column (`n` for one host, to multiply by a
/// sign), what they select from besides the row (`None`: the row alone) and which of those
/// (`None`: all). Each row is counted once per host, as the scanning tallies count them: the
/// stores write `versions` as a set of pairs, labels and findings per kind as JSON objects, and
/// products below the baseline deduplicated.
struct Rows {
    what: &'static str,
    baseline: String,
    role: String,
    status: String,
    a: String,
    b: String,
    hour: String,
    n: String,
    from: Option<String>,
    filter: Option<String>,
}

fn parts(dialect: Dialect, dim: Dim, r: &str) -> Rows {
    let pg = dialect == Dialect::Postgres;
    let versions = if pg {
        format!("jsonb_array_elements({r}.versions::jsonb) AS v(value)")
    } else {
        format!("json_each({r}.versions) v")
    };
    let (product, version) = ("coalesce(v.value ->> 0, '')".to_owned(), "coalesce(v.value ->> 1, '')".to_owned());
    let of_row = Rows {
        what: "",
        baseline: "''".to_owned(),
        role: format!("coalesce({r}.role, '')"),
        status: "''".to_owned(),
        a: String::new(),
        b: "''".to_owned(),
        hour: "0".to_owned(),
        n: "1".to_owned(),
        from: None,
        filter: None,
    };
    let verdict = format!("coalesce({r}.verdict_baseline, '')");
    let status = format!("coalesce({r}.verdict_status, '')");
    match dim {
        Dim::Status => Rows {
            what: "status",
            baseline: verdict,
            a: format!("coalesce({r}.verdict_status, '')"),
            hour: format!("{r}.seen_hour"),
            ..of_row
        },
        Dim::Version => Rows { what: "version", status, a: product, b: version, from: Some(versions), ..of_row },
        Dim::Extra => {
            // Every pair but the product's first: k - 1 of a product in k versions. The stores
            // write `versions` sorted (`versions_column`, the migration that filled it), so a
            // product's pairs are next to each other: on SQLite, a pair after one of the same
            // product (a look at the element before; a second walk of the array per pair took
            // 30 % of a replay of status changes, this 6 %: docs/BENCHMARKS.md).
            let filter = if pg {
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements({r}.versions::jsonb) AS w(value) \
                     WHERE w.value ->> 0 = v.value ->> 0 AND w.value ->> 1 < v.value ->> 1)"
                )
            } else {
                format!("v.key > 0 AND v.value ->> 0 = ({r}.versions ->> ('$[' || (v.key - 1) || '][0]'))")
            };
            Rows { what: "extra", status, a: product, from: Some(versions), filter: Some(filter), ..of_row }
        }
        Dim::Product => Rows { what: "product", a: product, from: Some(versions), ..of_row },
        Dim::Label => Rows {
            what: "label",
            status,
            a: "l.key".to_owned(),
            b: "coalesce(l.value, '')".to_owned(),
            from: Some(if pg {
                format!("jsonb_each_text({r}.facts::jsonb -> 'labels') AS l(key, value)")
            } else {
                format!("json_each({r}.facts, '$.labels') l")
            }),
            ..of_row
        },
        Dim::Kind => Rows {
            what: "kind",
            baseline: verdict,
            status,
            a: "t.key".to_owned(),
            // The host's findings of that kind in `hour` (see the module's comment).
            hour: if pg { "t.value::bigint" } else { "t.value" }.to_owned(),
            from: Some(if pg {
                format!("jsonb_each_text({r}.verdict_tally::jsonb) AS t(key, value)")
            } else {
                format!("json_each({r}.verdict_tally) t")
            }),
            ..of_row
        },
        Dim::Below => Rows {
            what: "below",
            baseline: verdict,
            status,
            a: "coalesce(b.value, '')".to_owned(),
            from: Some(if pg {
                format!("jsonb_array_elements_text({r}.verdict_below::jsonb) AS b(value)")
            } else {
                format!("json_each({r}.verdict_below) b")
            }),
            ..of_row
        },
    }
}

/// Host row `r`'s rows of `dim`, each counting `sign` (1 or -1), as a select list (named
/// [`COLUMNS`]) and what it selects from besides the row, with its `WHERE` clause.
fn rows(dialect: Dialect, dim: Dim, r: &str, sign: i64) -> (String, Option<String>) {
    let p = parts(dialect, dim, r);
    let list = format!(
        "'{}' AS what, {} AS baseline, {} AS role, {} AS status, {} AS a, {} AS b, {} AS hour, {sign} * {} AS n",
        p.what, p.baseline, p.role, p.status, p.a, p.b, p.hour, p.n
    );
    (list, p.from.map(|from| format!("{from} WHERE {}", p.filter.as_deref().unwrap_or("true"))))
}

/// The kinds of row `host_members` holds: the hosts of each label and product, so a page of the
/// few hosts with one is found through them (`query::candidates`).
const MEMBERS: [Dim; 2] = [Dim::Label, Dim::Product];

/// Host row `r`'s rows of `host_members` for `dim` (labels or products): (kind, a, b,
/// host id), each once; of every host when `r` is `h`, `hosts h`.
fn members(dialect: Dialect, dim: Dim, r: &str) -> String {
    let p = parts(dialect, dim, r);
    let hosts = if r == "h" { "hosts h, " } else { "" };
    format!(
        "SELECT DISTINCT '{}' AS kind, {} AS a, {} AS b, {r}.host_id AS host_id FROM {hosts}{}",
        p.what,
        p.a,
        p.b,
        p.from.unwrap_or_default()
    )
}

/// Statements adding host row `r`'s `host_members` rows of `dims` (those of [`MEMBERS`]).
fn add_members(dialect: Dialect, dims: &[Dim], r: &str) -> String {
    let conflict =
        if dialect == Dialect::Sqlite { "WHERE true ON CONFLICT DO NOTHING" } else { "ON CONFLICT DO NOTHING" };
    dims.iter()
        .filter(|d| MEMBERS.contains(d))
        .map(|d| format!("INSERT INTO host_members (kind, a, b, host_id) {} {conflict}; ", members(dialect, *d, r)))
        .collect()
}

/// Statements deleting host row `r`'s `host_members` rows of `dims`, by key.
fn drop_members(dialect: Dialect, dims: &[Dim], r: &str) -> String {
    dims.iter()
        .filter(|d| MEMBERS.contains(d))
        .map(|d| {
            format!(
                "DELETE FROM host_members WHERE (kind, a, b, host_id) IN (SELECT kind, a, b, host_id FROM ({}) m); ",
                members(dialect, *d, r)
            )
        })
        .collect()
}

/// The `host_members` table (both dialects: its columns are text).
fn members_table(dialect: Dialect) -> String {
    let (text, strict) = match dialect {
        Dialect::Sqlite => ("TEXT NOT NULL", " STRICT, WITHOUT ROWID"),
        Dialect::Postgres => ("TEXT COLLATE \"C\" NOT NULL", ""),
    };
    format!(
        "CREATE TABLE host_members (
        kind {text},
        a {text},
        b {text},
        host_id {text},
        PRIMARY KEY (kind, a, b, host_id)
    ){strict};\n"
    )
}

/// One host row's rows of `dim` as a SELECT with a `WHERE` clause (SQLite would read an
/// upsert's `ON` after a `FROM` as a join constraint without one).
fn select(dialect: Dialect, dim: Dim, r: &str, sign: i64) -> String {
    match rows(dialect, dim, r, sign) {
        (list, Some(from)) => format!("SELECT {list} FROM {from}"),
        (list, None) => format!("SELECT {list} WHERE true"),
    }
}

/// The change to the counts of `dims` when host row `old` becomes `new` (either may be absent):
/// one row per count that changes (what PostgreSQL's trigger appends).
fn change(dialect: Dialect, dims: &[Dim], old: Option<&str>, new: Option<&str>) -> String {
    let mut parts = Vec::new();
    for dim in dims {
        parts.extend(old.map(|r| select(dialect, *dim, r, -1)));
        parts.extend(new.map(|r| select(dialect, *dim, r, 1)));
    }
    let sum = if dialect == Dialect::Postgres { "sum(n)::bigint" } else { "sum(n)" };
    format!("SELECT {KEY}, {sum} FROM ({}) c GROUP BY {KEY} HAVING sum(n) <> 0", parts.join(" UNION ALL "))
}

/// What an update must change for the counts of `dims` to change (SQLite `IS NOT` compares
/// NULLs as values).
fn changed(dims: &[Dim]) -> (Vec<&'static str>, String) {
    let mut columns = vec!["role"];
    for dim in dims {
        columns.extend_from_slice(match dim {
            Dim::Status => &["verdict_baseline", "verdict_status", "seen_hour"][..],
            Dim::Version | Dim::Extra => &["versions", "verdict_status"][..],
            Dim::Product => &["versions"][..],
            Dim::Label => &["facts", "verdict_status"][..],
            Dim::Kind | Dim::Below => &["verdict_baseline", "verdict_status", "verdict_tally", "verdict_below"][..],
        });
    }
    columns.dedup();
    let mut sorted = columns.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let when = sorted
        .iter()
        .map(|c| match *c {
            // Only the labels of the facts are counted.
            "facts" => LABELS_CHANGED.to_owned(),
            c => format!("OLD.{c} IS NOT NEW.{c}"),
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    (sorted, when)
}

/// SQLite statements adding host row `r`'s rows of `dims` to the counts, each counting `sign`:
/// one upsert per kind of row, without the grouping of [`change`] (a temporary index per
/// statement: re-evaluation runs this for every host).
fn upserts(dims: &[Dim], r: &str, sign: i64) -> String {
    dims.iter()
        .map(|dim| {
            format!(
                "INSERT INTO fleet_counts ({COLUMNS}) {} ON CONFLICT DO UPDATE SET n = n + excluded.n; ",
                select(Dialect::Sqlite, *dim, r, sign)
            )
        })
        .collect()
}

/// SQLite's update triggers of the counts: one per group of columns, so a report that moves only
/// `seen_hour` (once an hour) touches the status counts alone, and one that changes nothing
/// counted fires nothing. The members have their own ([`SQLITE_MEMBER_TRIGGERS`]): a status
/// change moves a host's version and label counts, not its members.
const SQLITE_GROUPS: [(&str, &[Dim]); 4] = [
    ("status", &[Dim::Status]),
    ("versions", &[Dim::Version, Dim::Extra]),
    ("labels", &[Dim::Label]),
    ("verdicts", &[Dim::Kind, Dim::Below]),
];

/// SQLite's update triggers of `host_members`: (name, dimension, the condition it fires on).
const SQLITE_MEMBER_TRIGGERS: [(&str, Dim, &str); 2] = [
    ("product_members", Dim::Product, "OLD.versions IS NOT NEW.versions"),
    ("label_members", Dim::Label, LABELS_CHANGED),
];

/// Whether an update changes a host's labels: the whole text of the facts is compared first, as
/// every report rewrites them, mostly unchanged.
const LABELS_CHANGED: &str =
    "(OLD.facts IS NOT NEW.facts AND (OLD.facts -> '$.labels') IS NOT (NEW.facts -> '$.labels'))";

/// Every name a trigger of the counts has had on SQLite (schemas 9 to 11), which a rebuild drops.
const SQLITE_TRIGGERS: [&str; 9] =
    ["insert", "delete", "status", "versions", "products", "labels", "verdicts", "product_members", "label_members"];

/// Migration 9 on SQLite: the members, the counts, and their triggers, filled from what is
/// stored.
pub fn sqlite_schema() -> String {
    let mut sql = members_table(Dialect::Sqlite);
    sql.push_str(&sqlite_counts());
    sql.push_str(&add_members(Dialect::Sqlite, &MEMBERS, "h"));
    sql
}

/// Migrations 10 and 11 on SQLite: the counts and their triggers built again in this layout (see
/// the module's comment), the members kept.
pub fn sqlite_rebuild() -> String {
    let mut sql: String =
        SQLITE_TRIGGERS.iter().map(|name| format!("DROP TRIGGER IF EXISTS fleet_counts_{name};\n")).collect();
    sql.push_str("DROP TABLE IF EXISTS fleet_counts;\n");
    sql.push_str(&sqlite_counts());
    sql
}

/// The SQLite counts: the table, its triggers, and the counts of what is stored.
fn sqlite_counts() -> String {
    let mut sql = format!(
        "CREATE TABLE fleet_counts (
        what TEXT NOT NULL,
        baseline TEXT NOT NULL,
        role TEXT NOT NULL,
        status TEXT NOT NULL,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        hour INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY ({KEY})
    ) STRICT, WITHOUT ROWID;\n",
    );
    // The rows a change brings to zero go at once, so an unchanged host reporting every hour
    // leaves no row behind: found by the old row's keys (a label's values may be as many as the
    // hosts), or for findings, few per role and baseline, by that prefix.
    let prune = |dims: &[Dim]| {
        let old = dims.iter().map(|d| select(Dialect::Sqlite, *d, "OLD", 1)).collect::<Vec<_>>().join(" UNION ALL ");
        format!("DELETE FROM fleet_counts WHERE n = 0 AND ({KEY}) IN (SELECT {KEY} FROM ({old}));")
    };
    sql.push_str(&format!(
        "CREATE TRIGGER fleet_counts_insert AFTER INSERT ON hosts BEGIN {}{}END;\n",
        upserts(&ALL, "NEW", 1),
        add_members(Dialect::Sqlite, &MEMBERS, "NEW")
    ));
    sql.push_str(&format!(
        "CREATE TRIGGER fleet_counts_delete AFTER DELETE ON hosts BEGIN {}{} {}END;\n",
        upserts(&ALL, "OLD", -1),
        prune(&ALL),
        drop_members(Dialect::Sqlite, &MEMBERS, "OLD")
    ));
    for (name, dims) in SQLITE_GROUPS {
        let (columns, when) = changed(dims);
        let body = match dims {
            // The one that fires on most reports (a host's first of each hour): two rows by key.
            [Dim::Status] => {
                let old = "what = 'status' AND baseline = coalesce(OLD.verdict_baseline, '') \
                           AND role = coalesce(OLD.role, '') AND status = '' AND a = coalesce(OLD.verdict_status, '') \
                           AND b = '' AND hour = OLD.seen_hour";
                format!(
                    "UPDATE fleet_counts SET n = n - 1 WHERE {old}; DELETE FROM fleet_counts WHERE {old} AND n = 0; {}",
                    upserts(dims, "NEW", 1)
                )
            }
            // Every host on a baseline change.
            [Dim::Kind, Dim::Below] => format!(
                "{}{}DELETE FROM fleet_counts WHERE n = 0 AND what IN ('kind', 'below') \
                 AND baseline = coalesce(OLD.verdict_baseline, '') AND role = coalesce(OLD.role, '');",
                upserts(dims, "OLD", -1),
                upserts(dims, "NEW", 1)
            ),
            // Versions, extra ones and labels: the rows at zero are left to the hourly prune
            // ([`PRUNE`]): one statement less for each host whose status a baseline change
            // moves. A label whose values are as many as the hosts leaves at most a row per
            // host moved within the hour.
            _ => format!("{}{}", upserts(dims, "OLD", -1), upserts(dims, "NEW", 1)),
        };
        sql.push_str(&format!(
            "CREATE TRIGGER fleet_counts_{name} AFTER UPDATE OF {} ON hosts WHEN {when} BEGIN {body} END;\n",
            columns.join(", ")
        ));
    }
    for (name, dim, when) in SQLITE_MEMBER_TRIGGERS {
        let column = if dim == Dim::Label { "facts" } else { "versions" };
        sql.push_str(&format!(
            "CREATE TRIGGER fleet_counts_{name} AFTER UPDATE OF {column} ON hosts WHEN {when} BEGIN {}{}END;\n",
            drop_members(Dialect::Sqlite, &[dim], "OLD"),
            add_members(Dialect::Sqlite, &[dim], "NEW")
        ));
    }
    sql.push_str(&format!("INSERT INTO fleet_counts ({COLUMNS}) {};\n", recount(Dialect::Sqlite)));
    sql
}

/// Migration 9 on PostgreSQL: the members, the counts, the table of changes not folded in yet,
/// the trigger appending to it, filled from what is stored.
pub fn postgres_schema() -> String {
    let mut sql = members_table(Dialect::Postgres);
    sql.push_str(&postgres_counts());
    sql.push_str(&add_members(Dialect::Postgres, &MEMBERS, "h"));
    sql
}

/// Migrations 10 and 11 on PostgreSQL: the counts and their trigger built again in this layout
/// (see the module's comment), the members kept.
pub fn postgres_rebuild() -> String {
    let mut sql = String::from(
        "DROP TRIGGER IF EXISTS fleet_counts_write ON hosts;\n\
         DROP TRIGGER IF EXISTS fleet_counts_update ON hosts;\n\
         DROP FUNCTION IF EXISTS fleet_counts_change();\n\
         DROP TABLE IF EXISTS fleet_counts, fleet_count_deltas;\n",
    );
    sql.push_str(&postgres_counts());
    sql
}

/// The PostgreSQL counts: the table, the table of changes not folded in yet, the trigger
/// appending to it, and the counts of what is stored.
fn postgres_counts() -> String {
    let table = |name: &str, key: &str| {
        format!(
            "CREATE TABLE {name} (
        what TEXT COLLATE \"C\" NOT NULL,
        baseline TEXT COLLATE \"C\" NOT NULL,
        role TEXT COLLATE \"C\" NOT NULL,
        status TEXT COLLATE \"C\" NOT NULL,
        a TEXT COLLATE \"C\" NOT NULL,
        b TEXT COLLATE \"C\" NOT NULL,
        hour BIGINT NOT NULL,
        n BIGINT NOT NULL{key}
    );\n"
        )
    };
    let mut sql = table("fleet_counts", &format!(",\n        PRIMARY KEY ({KEY})"));
    sql.push_str(&table("fleet_count_deltas", ""));
    let pg = Dialect::Postgres;
    let append = |old: Option<&str>, new: Option<&str>| {
        format!("INSERT INTO fleet_count_deltas ({COLUMNS}) {};", change(pg, &ALL, old, new))
    };
    // A host's members change with its labels or products (two collectors never write one host
    // at once: ingest locks its row first).
    let moved = |dim: Dim, changed: &str| {
        format!("IF {changed} THEN {}{}END IF;", drop_members(pg, &[dim], "OLD"), add_members(pg, &[dim], "NEW"))
    };
    sql.push_str(&format!(
        "CREATE FUNCTION fleet_counts_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN {} {}
        ELSIF TG_OP = 'DELETE' THEN {} {}
        ELSE {} {} {}
        END IF;
        RETURN NULL;
    END $fn$;\n",
        append(None, Some("NEW")),
        add_members(pg, &MEMBERS, "NEW"),
        append(Some("OLD"), None),
        drop_members(pg, &MEMBERS, "OLD"),
        append(Some("OLD"), Some("NEW")),
        moved(Dim::Label, "(OLD.facts::jsonb -> 'labels') IS DISTINCT FROM (NEW.facts::jsonb -> 'labels')"),
        moved(Dim::Product, "OLD.versions IS DISTINCT FROM NEW.versions"),
    ));
    let when =
        ["role", "verdict_baseline", "verdict_status", "seen_hour", "versions", "verdict_tally", "verdict_below"]
            .iter()
            .map(|c| format!("OLD.{c} IS DISTINCT FROM NEW.{c}"))
            .chain(["(OLD.facts::jsonb -> 'labels') IS DISTINCT FROM (NEW.facts::jsonb -> 'labels')".to_owned()])
            .collect::<Vec<_>>()
            .join(" OR ");
    sql.push_str(
        "CREATE TRIGGER fleet_counts_write AFTER INSERT OR DELETE ON hosts \
         FOR EACH ROW EXECUTE FUNCTION fleet_counts_change();\n",
    );
    sql.push_str(&format!(
        "CREATE TRIGGER fleet_counts_update AFTER UPDATE ON hosts FOR EACH ROW WHEN ({when}) \
         EXECUTE FUNCTION fleet_counts_change();\n"
    ));
    sql.push_str(&format!("INSERT INTO fleet_counts ({COLUMNS}) {};\n", recount(Dialect::Postgres)));
    sql
}

/// Every host's `host_members` rows, computed from `hosts` (tests compare the table with them).
pub fn members_recount(dialect: Dialect) -> String {
    MEMBERS.iter().map(|d| members(dialect, *d, "h")).collect::<Vec<_>>().join(" UNION ALL ")
}

/// Folds PostgreSQL's appended changes into `fleet_counts`, in one transaction, by one
/// collector at a time (under an advisory lock; others skip and read both tables). The rows are
/// upserted in key order. Answers the number of appended rows it moved (each now a dead row of
/// `fleet_count_deltas` until a `VACUUM`).
pub const COMPACT_POSTGRES: &str = "WITH moved AS (DELETE FROM fleet_count_deltas RETURNING *), \
    folded AS (INSERT INTO fleet_counts (what, baseline, role, status, a, b, hour, n) \
    SELECT what, baseline, role, status, a, b, hour, sum(n)::bigint FROM moved \
    GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 \
    ON CONFLICT (what, baseline, role, status, a, b, hour) DO UPDATE SET n = fleet_counts.n + excluded.n) \
    SELECT count(*) FROM moved";

/// Deletes the count rows at zero (PostgreSQL's hours and baselines left behind; SQLite's
/// triggers delete theirs as they reach zero, but for versions and products).
pub const PRUNE: &str = "DELETE FROM fleet_counts WHERE n = 0";

/// The counts of every stored host, computed from `hosts` (the migration fills the table with
/// them; tests compare the table with them): rows of [`COLUMNS`], zeros left out.
pub fn recount(dialect: Dialect) -> String {
    let sum = if dialect == Dialect::Postgres { "sum(c.n)::bigint" } else { "sum(c.n)" };
    let group = "GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(c.n) <> 0";
    let each = match dialect {
        Dialect::Postgres => {
            let each = ALL.iter().map(|d| select(dialect, *d, "h", 1)).collect::<Vec<_>>().join(" UNION ALL ");
            format!("hosts h CROSS JOIN LATERAL ({each}) c")
        }
        // No LATERAL: every host's rows of each kind, once per host through its rowid.
        Dialect::Sqlite => {
            let each = ALL
                .iter()
                .map(|d| match rows(dialect, *d, "h", 1) {
                    (list, Some(from)) => format!("SELECT h.rowid AS id, {list} FROM hosts h, {from}"),
                    (list, None) => format!("SELECT h.rowid AS id, {list} FROM hosts h"),
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            format!("({each}) c")
        }
    };
    format!("SELECT c.what, c.baseline, c.role, c.status, c.a, c.b, c.hour, {sum} FROM {each} {group}")
}

/// `fleet_counts` as table `h` for reads; on PostgreSQL with the changes not folded in yet.
fn counts_table(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "fleet_counts h",
        Dialect::Postgres => {
            "(SELECT what, baseline, role, status, a, b, hour, n FROM fleet_counts \
             UNION ALL SELECT what, baseline, role, status, a, b, hour, n FROM fleet_count_deltas) h"
        }
    }
}

/// Binds `value` as the next parameter of `clause`.
fn bind(dialect: Dialect, clause: &mut Clause, value: Value) -> String {
    clause.params.push(value);
    match dialect {
        Dialect::Sqlite => format!("?{}", clause.params.len()),
        Dialect::Postgres => format!("${}", clause.params.len()),
    }
}

/// The condition on `h.role` of a filter by role (empty without one).
fn role_condition(dialect: Dialect, filter: &HostFilter, clause: &mut Clause) -> String {
    match filter.role {
        Some(role) => format!(" AND h.role = {}", bind(dialect, clause, Value::Text(role_name(role).to_owned()))),
        None => String::new(),
    }
}

/// Whether [`tally`]'s answer for `what` under `filter` holds only once every host is evaluated
/// against the served baseline: versions under a filter by status (their rows are kept per
/// stored status whatever the baseline). The stores check [`unevaluated`] first, and count from
/// the hosts while a re-evaluation runs.
pub fn needs_every_host_evaluated(what: Tally, filter: &HostFilter) -> bool {
    what == Tally::Versions && filter.status.is_some()
}

/// The statement reading [`query::tally`]'s rows from the counts, for a filter by role, status,
/// both or none; `None` when the counts cannot answer it (other filters; statuses under rules by
/// label). Versions are counted over every host the filter selects, whatever its verdict (see
/// [`needs_every_host_evaluated`] for a filter by status).
///
/// Under a filter by status, the rows kept for that stored status less those of its stale hosts
/// (a stale host keeps its stored status), or for `stale` the stale hosts' own, read from
/// `hosts` through the index of (`verdict_status` or `role`, `seen_hour`): no host is stale
/// unless seen before the latest cut-off's hour ([`query::stale_hour_bound`]).
pub fn tally(
    dialect: Dialect,
    what: Tally,
    filter: &HostFilter,
    config: &Config,
    digest: &str,
    now: i64,
) -> Option<Clause> {
    if *filter != (HostFilter { role: filter.role, status: filter.status, ..HostFilter::default() }) {
        return None;
    }
    let pg = dialect == Dialect::Postgres;
    let sum = if pg { "sum(h.n)::bigint" } else { "sum(h.n)" };
    let table = counts_table(dialect);
    let mut c = Clause { sql: String::new(), params: Vec::new(), members: None };
    let role = role_condition(dialect, filter, &mut c);
    let now_sql = if pg { format!("{now}::bigint") } else { now.to_string() };
    let stale = Status::Stale.as_str();
    c.sql = match (what, filter.status) {
        (Tally::Statuses, status) => {
            if config.rules.iter().any(|r| matches!(r.matcher, Matcher::Label(..))) {
                return None;
            }
            let d = bind(dialect, &mut c, Value::Text(digest.to_owned()));
            // The hour of the host's cut-off (role rules: per role, `h.role` in both tables).
            let cut = format!("(({now_sql}) - ({})) / {SEEN_STEP}", query::stale_after_sql(dialect, config));
            // Every cut-off hour there is, so the one hour read from `hosts` is an index range.
            let mut hours: Vec<i64> = config
                .rules
                .iter()
                .filter_map(|r| r.stale_after)
                .chain([config.stale_after])
                .map(|d| now.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)) / SEEN_STEP)
                .collect();
            hours.sort_unstable();
            hours.dedup();
            let hours = hours.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            let all = format!(
                "SELECT h.role AS r, CASE WHEN h.hour < {cut} THEN '{stale}' ELSE h.a END AS s, {sum} AS n FROM {table} \
                 WHERE h.what = 'status' AND h.baseline = {d}{role} AND h.hour <> {cut} GROUP BY 1, 2 HAVING sum(h.n) <> 0 \
                 UNION ALL SELECT coalesce(h.role, ''), CASE WHEN {} THEN '{stale}' ELSE h.verdict_status END, count(*) \
                 FROM hosts h WHERE h.seen_hour IN ({hours}) AND h.seen_hour = {cut} AND h.verdict_baseline = {d}{role} \
                 GROUP BY 1, 2",
                query::stale_sql(dialect, config, &now_sql),
            );
            match status {
                None => all,
                Some(status) => {
                    let s = bind(dialect, &mut c, Value::Text(status.as_str().to_owned()));
                    format!("SELECT t.r, t.s, t.n FROM ({all}) t WHERE t.s = {s}")
                }
            }
        }
        (Tally::Versions, None) => format!(
            "SELECT h.a, h.b, {sum} FROM {table} WHERE h.what = 'version'{role} GROUP BY 1, 2 HAVING sum(h.n) <> 0"
        ),
        (Tally::FindingKinds | Tally::Below, None) => {
            let d = bind(dialect, &mut c, Value::Text(digest.to_owned()));
            let (kind, sum) = match what {
                Tally::Below => ("below", sum.to_owned()),
                _ if pg => ("kind", "sum(h.n * h.hour)::bigint".to_owned()),
                _ => ("kind", "sum(h.n * h.hour)".to_owned()),
            };
            format!(
                "SELECT h.a, '', {sum} FROM {table} WHERE h.what = '{kind}' AND h.baseline = {d}{role} \
                 GROUP BY 1 HAVING {sum} <> 0"
            )
        }
        (Tally::Versions | Tally::FindingKinds | Tally::Below, Some(status)) => {
            let dim = match what {
                Tally::Versions => Dim::Version,
                Tally::FindingKinds => Dim::Kind,
                _ => Dim::Below,
            };
            let p = parts(dialect, dim, "h");
            // Findings and products below the baseline are the served baseline's; versions are
            // whatever the baseline (every host is evaluated against it: see above).
            let (kept_baseline, host_baseline) = if dim == Dim::Version {
                (String::new(), String::new())
            } else {
                let d = bind(dialect, &mut c, Value::Text(digest.to_owned()));
                (format!(" AND h.baseline = {d}"), format!(" AND h.verdict_baseline = {d}"))
            };
            // Findings: a row counts `hour` findings on each of its `n` hosts.
            let (kept_n, host_n) = if dim == Dim::Kind { ("h.n * h.hour", &p.hour) } else { ("h.n", &p.n) };
            let stale_hosts = |sign: i64, status: &str| {
                format!(
                    "SELECT {} AS a, {} AS b, {sign} * {} AS n FROM hosts h, {} \
                     WHERE h.seen_hour <= {}{status} AND {}{host_baseline}{role}",
                    p.a,
                    p.b,
                    host_n,
                    p.from.clone().unwrap_or_default(),
                    query::stale_hour_bound(config, now),
                    query::stale_sql(dialect, config, &now_sql),
                )
            };
            let rows = if status == Status::Stale {
                stale_hosts(1, "")
            } else {
                let s = bind(dialect, &mut c, Value::Text(status.as_str().to_owned()));
                format!(
                    "SELECT h.a AS a, h.b AS b, {kept_n} AS n FROM {table} WHERE h.what = '{}'{kept_baseline} \
                     AND h.status = {s}{role} UNION ALL {}",
                    p.what,
                    stale_hosts(-1, &format!(" AND h.verdict_status = {s}")),
                )
            };
            let sum = if pg { "sum(x.n)::bigint" } else { "sum(x.n)" };
            format!("SELECT x.a, x.b, {sum} FROM ({rows}) x GROUP BY 1, 2 HAVING sum(x.n) <> 0")
        }
    };
    Some(c)
}

/// The statement reading [`query::count`] from the counts: for a filter by role, product, label
/// or finding (a role with any of the last three, and a status with them); `None` for any other.
/// A finding's hosts are those of the served baseline's verdicts, so the count holds only once
/// every host is evaluated against it ([`count_needs_every_host_evaluated`]).
///
/// By status within a label, product or finding: the rows kept for that stored status less the
/// stale hosts among them (a stale host keeps its stored status), read from `hosts` through the
/// (`verdict_status`, `seen_hour`) index, as [`tally`] does; that too holds only once every
/// host is evaluated. For `stale`, the stale hosts of the label, product or finding, through
/// the `seen_hour` index: no host is stale unless seen before the latest cut-off's hour
/// ([`query::stale_hour_bound`]).
pub fn count(dialect: Dialect, filter: &HostFilter, config: &Config, digest: &str, now: i64) -> Option<Clause> {
    let by_role = HostFilter { role: filter.role, ..HostFilter::default() };
    let of = HostFilter { status: None, ..filter.clone() };
    let within = of != by_role
        && (of == HostFilter { product: filter.product.clone(), ..by_role.clone() }
            || of == HostFilter { label: filter.label.clone(), ..by_role.clone() }
            || of == HostFilter { finding: filter.finding.clone(), ..by_role.clone() });
    // Every host of a role by status: the status rows with the stale hour read from `hosts`
    // (`tally` of the statuses, the summary's).
    if !within && (of != by_role || filter.status.is_some()) {
        return None;
    }
    // The stale hosts of the label, product or finding (of its role), as `hosts h`: the
    // conditions of `query::clause` for `stale`, numbered first.
    let mut c = match filter.status {
        Some(_) => {
            let stale = HostFilter { status: Some(Status::Stale), ..filter.clone() };
            Clause { members: None, ..query::clause(dialect, &stale, config, digest, now) }
        }
        None => Clause { sql: String::new(), params: Vec::new(), members: None },
    };
    let bound = match filter.status {
        Some(_) => bind(dialect, &mut c, Value::Int(query::stale_hour_bound(config, now))),
        None => String::new(),
    };
    if filter.status == Some(Status::Stale) {
        c.sql = format!("SELECT count(*) FROM hosts h WHERE h.seen_hour <= {bound} AND {}", c.sql);
        return Some(c);
    }
    let condition = if let Some(kind) = filter.finding.clone() {
        let d = bind(dialect, &mut c, Value::Text(digest.to_owned()));
        format!("h.what = 'kind' AND h.baseline = {d} AND h.a = {}", bind(dialect, &mut c, Value::Text(kind)))
    } else if let Some(product) = filter.product.clone() {
        format!("h.what IN ('version', 'extra') AND h.a = {}", bind(dialect, &mut c, Value::Text(product)))
    } else if let Some((key, value)) = filter.label.clone() {
        let key = bind(dialect, &mut c, Value::Text(key));
        match value {
            Some(value) => {
                format!("h.what = 'label' AND h.a = {key} AND h.b = {}", bind(dialect, &mut c, Value::Text(value)))
            }
            None => format!("h.what = 'label' AND h.a = {key}"),
        }
    } else {
        "h.what = 'status'".to_owned()
    };
    let role = role_condition(dialect, filter, &mut c);
    // A product's hosts: its version rows less the extra versions of a host.
    let n = if filter.product.is_some() { "CASE h.what WHEN 'extra' THEN -h.n ELSE h.n END" } else { "h.n" };
    let sum = match dialect {
        Dialect::Postgres => format!("coalesce(sum({n}), 0)::bigint"),
        Dialect::Sqlite => format!("coalesce(sum({n}), 0)"),
    };
    let table = counts_table(dialect);
    c.sql = match filter.status {
        None => format!("SELECT {sum} FROM {table} WHERE {condition}{role}"),
        Some(status) => {
            let s = bind(dialect, &mut c, Value::Text(status.as_str().to_owned()));
            format!(
                "SELECT ({}) - ({}) ",
                format_args!("SELECT {sum} FROM {table} WHERE {condition} AND h.status = {s}{role}"),
                format_args!(
                    "SELECT count(*) FROM hosts h WHERE h.verdict_status = {s} AND h.seen_hour <= {bound} AND {}",
                    c.sql
                ),
            )
        }
    };
    Some(c)
}

/// Whether [`count`]'s answer for `filter` holds only once every host is evaluated against the
/// served baseline: a status other than `stale` (the rows are kept per stored status whatever
/// the baseline), or a finding (a host not evaluated yet may have it now). The stores check
/// [`unevaluated`] first, and count from the hosts while a re-evaluation runs.
pub fn count_needs_every_host_evaluated(filter: &HostFilter) -> bool {
    filter.status.is_some_and(|s| s != Status::Stale) || filter.finding.is_some()
}

/// SQLite: the statement counting the hosts whose stored status under the baseline `digest`
/// (`?1`) is `?2`, stale ones included, every role: what the status index holds of them.
pub fn sqlite_stored_status() -> String {
    format!(
        "SELECT coalesce(sum(n), 0) FROM {} WHERE what = 'status' AND baseline = ?1 AND a = ?2",
        counts_table(Dialect::Sqlite)
    )
}

/// The statement counting the hosts whose verdict is not for the baseline `digest` (`$1`/`?1`):
/// when it says none, nothing needs reading to find them.
pub fn unevaluated(dialect: Dialect) -> String {
    let (sum, d) = match dialect {
        Dialect::Sqlite => ("coalesce(sum(h.n), 0)", "?1"),
        Dialect::Postgres => ("coalesce(sum(h.n), 0)::bigint", "$1"),
    };
    format!("SELECT {sum} FROM {} WHERE h.what = 'status' AND h.baseline <> {d}", counts_table(dialect))
}

//! Host selection in SQL, for both stores: the filters of the API and the dashboard, the
//! staleness predicate (a rule on `last_seen` per role or label, never a per-host evaluation),
//! and keyset pagination by (host name, host id). Pure: it builds SQL text; values from users
//! are bound as parameters, values from the configuration are quoted literals.

use azver_core::{Role, Status};

use crate::config::{Config, Matcher};

use super::role_name;

/// Which SQL the text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (`?N` parameters, `json_each`).
    Sqlite,
    /// PostgreSQL (`$N` parameters, `jsonb`).
    Postgres,
}

/// Which hosts a listing selects; all unset selects every host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFilter {
    /// Hosts with this status now.
    pub status: Option<Status>,
    /// Hosts of this role.
    pub role: Option<Role>,
    /// Hosts with this label key (and value, when given).
    pub label: Option<(String, Option<String>)>,
    /// Hosts with an installation of this product.
    pub product: Option<String>,
    /// Hosts whose name contains this text (case-insensitive for ASCII).
    pub name: Option<String>,
    /// Hosts with a finding of this kind (`user-password-sign-in`, as JSON names it) against the
    /// served baseline.
    pub finding: Option<String>,
    /// `Some(true)`: the hosts that need action (stale, noncompliant, or not evaluated against
    /// the served baseline yet); `Some(false)`: every other host. The dashboard lists the first
    /// before the second.
    pub action: Option<bool>,
}

impl HostFilter {
    /// Whether the selection depends on verdicts (status, finding, need of action): a host not
    /// re-evaluated against the served baseline yet is then selected only once evaluated.
    pub fn by_verdict(&self) -> bool {
        self.status.is_some() || self.finding.is_some() || self.action.is_some()
    }
}

/// A page request: hosts after `after` (host name, host id) in that order, skipping `offset`
/// of them, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The selection.
    pub filter: HostFilter,
    /// The last (host name, host id) of the previous page.
    pub after: Option<(String, String)>,
    /// Hosts to skip after `after` (prefer `after`: skipping reads what it skips).
    pub offset: usize,
    /// Hosts per page.
    pub limit: usize,
    /// The caller knows that every host is evaluated against the served baseline and that the
    /// hosts of the filter's status, or those that need action, are few: the page is found
    /// from them through the status and `seen_hour` indexes, then sorted, instead of walking
    /// every host in name order until the page is full ([`candidates`]). Only the plan
    /// changes: the page is the same either way, as long as every host is evaluated.
    pub sparse: bool,
    /// The caller knows that the hosts with the filter's label or product are few: the page is
    /// found from them through `host_members` (kept by the stores' triggers, see
    /// `store/rollup.rs`), then sorted. Whatever the verdicts; it takes precedence over `sparse`.
    pub members: bool,
}

/// A parameter value of a built query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
}

/// A `WHERE` clause (without the keyword; `TRUE` when nothing is selected) and its parameters,
/// numbered from `?1` / `$1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// SQL text over `h` (hosts).
    pub sql: String,
    /// Parameter values in order.
    pub params: Vec<Value>,
    /// For a filter by label or product: the statement selecting the ids of its hosts from
    /// `host_members`; else, on SQLite, for a filter by name, from the name index (its
    /// parameters among `params`), for [`hosts_from`].
    pub members: Option<String>,
}

/// A configuration value as a SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// SQL for the value of label `key` of host `h` (NULL without it), `key` bound at `param`.
fn label_value(dialect: Dialect, key: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("(SELECT value FROM json_each(h.facts, '$.labels') WHERE key = {key})"),
        Dialect::Postgres => format!("((h.facts::jsonb -> 'labels') ->> {key})"),
    }
}

/// The number of seconds host `h` may stay silent: the first matching rule's `stale_after`, or
/// the default (the SQL form of `Config::stale_after`).
pub fn stale_after_sql(dialect: Dialect, config: &Config) -> String {
    let default = config.stale_after.as_secs();
    if config.rules.is_empty() {
        return default.to_string();
    }
    let mut sql = String::from("CASE");
    for rule in &config.rules {
        let condition = match &rule.matcher {
            Matcher::Role(role) => format!("h.role = {}", literal(role_name(*role))),
            Matcher::Label(key, value) => format!("{} = {}", label_value(dialect, &literal(key)), literal(value)),
        };
        let seconds = rule.stale_after.map_or(default, |d| d.as_secs());
        sql.push_str(&format!(" WHEN {condition} THEN {seconds}"));
    }
    sql.push_str(&format!(" ELSE {default} END"));
    sql
}

/// Seconds per step of `seen_hour`, the coarse `last_seen` that the staleness indexes hold: a
/// report moves it once an hour at most, so an unchanged report rewrites no index entry.
pub const SEEN_STEP: i64 = 3600;

/// SQL true when host `h` is stale at the instant `now` (SQL text: a parameter or literal),
/// under `config`'s rules: `last_seen` before `now` minus the host's `stale_after`. Written as
/// a range on the indexed `seen_hour` (`last_seen / SEEN_STEP`, kept by the stores) and an
/// exact comparison only within the cut-off's own hour, so a count of stale hosts walks an
/// index instead of every row. Equivalent to `h.last_seen < cutoff` because `/` is monotonic.
/// With rules the cut-off depends on the row, no index range can use it, and the plain
/// comparison evaluates the rules (a label's JSON) once instead of three times.
pub fn stale_sql(dialect: Dialect, config: &Config, now: &str) -> String {
    let cutoff = format!("({now} - ({}))", stale_after_sql(dialect, config));
    if !config.rules.is_empty() {
        return format!("(h.last_seen < {cutoff})");
    }
    format!(
        "(h.seen_hour < {cutoff} / {SEEN_STEP} OR (h.seen_hour = {cutoff} / {SEEN_STEP} AND h.last_seen < {cutoff}))"
    )
}

/// Builds the clause selecting `filter` at `now`, with the verdicts of the baseline `digest`.
/// A host whose verdict is for another baseline (not re-evaluated yet) is selected whenever it
/// may match: the caller evaluates it and drops it if it does not.
pub fn clause(dialect: Dialect, filter: &HostFilter, config: &Config, digest: &str, now: i64) -> Clause {
    let mut parts: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let mut members = None;
    let bind = |params: &mut Vec<Value>, value: Value| -> String {
        params.push(value);
        match dialect {
            Dialect::Sqlite => format!("?{}", params.len()),
            Dialect::Postgres => format!("${}", params.len()),
        }
    };
    if let Some(role) = filter.role {
        let p = bind(&mut params, Value::Text(role_name(role).to_owned()));
        parts.push(format!("h.role = {p}"));
    }
    // Labels and products through `host_members` (the hosts of each, kept by the stores'
    // triggers): the few hosts of a rare one are looked up (`members`), not found by reading
    // every row's JSON. The condition on a row is a probe of its own key (a list of the members
    // would be read whole first: 0.4 s for a page of a label every one of 1,000,000 hosts has),
    // or for a label key alone, whatever its value, the row's labels.
    if let Some((key, value)) = &filter.label {
        let k = bind(&mut params, Value::Text(key.clone()));
        let found = match value {
            Some(value) => {
                let v = bind(&mut params, Value::Text(value.clone()));
                parts.push(format!(
                    "EXISTS (SELECT 1 FROM host_members m WHERE m.kind = 'label' AND m.a = {k} AND m.b = {v} \
                     AND m.host_id = h.host_id)"
                ));
                format!("SELECT host_id FROM host_members WHERE kind = 'label' AND a = {k} AND b = {v}")
            }
            None => {
                parts.push(format!("{} IS NOT NULL", label_value(dialect, &k)));
                format!("SELECT host_id FROM host_members WHERE kind = 'label' AND a = {k}")
            }
        };
        members = Some(found);
    }
    if let Some(product) = &filter.product {
        let p = bind(&mut params, Value::Text(product.clone()));
        parts.push(format!(
            "EXISTS (SELECT 1 FROM host_members m WHERE m.kind = 'product' AND m.a = {p} AND m.b = '' \
             AND m.host_id = h.host_id)"
        ));
        let found = format!("SELECT host_id FROM host_members WHERE kind = 'product' AND a = {p} AND b = ''");
        members = members.or(Some(found));
    }
    if let Some(name) = &filter.name {
        let pattern = format!("%{}%", name.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let p = bind(&mut params, Value::Text(pattern));
        parts.push(match dialect {
            Dialect::Sqlite => format!("h.hostname LIKE {p} ESCAPE '\\'"),
            // The names matched first in `hostnames` (every name each host has had: its current
            // name is always there, written with the host and at each rename), then the rows of
            // the hosts found, checked again. That table is never updated, so it stays small
            // and all-visible; `hosts` is rewritten by every report, and reading its names
            // (the heap, or an index-only scan fetching the rows of pages changed since the
            // last vacuum) took 1-2 s at 1,000,000 hosts, against 0.22-0.26 s.
            Dialect::Postgres => format!(
                "h.host_id IN (SELECT n.host_id FROM hostnames n WHERE n.hostname ILIKE {p} ESCAPE '\\') \
                 AND h.hostname ILIKE {p} ESCAPE '\\'"
            ),
        });
        // SQLite: the names matched in the name index (a tenth of the hosts' rows), so a count
        // reads only the rows of the hosts found.
        if dialect == Dialect::Sqlite {
            let found =
                format!("SELECT host_id FROM hosts INDEXED BY hosts_name_id WHERE hostname LIKE {p} ESCAPE '\\'");
            members = members.or(Some(found));
        }
    }
    if let Some(kind) = &filter.finding {
        let d = bind(&mut params, Value::Text(digest.to_owned()));
        let k = bind(&mut params, Value::Text(kind.clone()));
        let has = match dialect {
            Dialect::Sqlite => format!("EXISTS (SELECT 1 FROM json_each(h.verdict_kinds) k WHERE k.value = {k})"),
            Dialect::Postgres => format!("jsonb_exists(h.verdict_kinds::jsonb, {k})"),
        };
        // A verdict for another baseline may say otherwise now: the caller evaluates those.
        parts.push(format!(
            "((h.verdict_baseline = {d} AND {has}) OR h.verdict_baseline IS NULL OR h.verdict_baseline <> {d})"
        ));
    }
    if let Some(status) = filter.status {
        let now = bind(&mut params, Value::Int(now));
        // PostgreSQL would type the parameter after the integer literals of the rules.
        let now = if dialect == Dialect::Postgres { format!("{now}::bigint") } else { now };
        let stale = stale_sql(dialect, config, &now);
        parts.push(match status {
            Status::Stale => stale,
            other => {
                let d = bind(&mut params, Value::Text(digest.to_owned()));
                let current = format!("h.verdict_baseline = {d}");
                let s = bind(&mut params, Value::Text(other.as_str().to_owned()));
                format!("NOT ({stale}) AND (({current} AND h.verdict_status = {s}) OR h.verdict_baseline IS NULL OR NOT ({current}))")
            }
        });
    }
    if let Some(action) = filter.action {
        let now = bind(&mut params, Value::Int(now));
        let now = if dialect == Dialect::Postgres { format!("{now}::bigint") } else { now };
        let stale = stale_sql(dialect, config, &now);
        let d = bind(&mut params, Value::Text(digest.to_owned()));
        let s = bind(&mut params, Value::Text(Status::Noncompliant.as_str().to_owned()));
        let needs =
            format!("({stale}) OR h.verdict_baseline IS NULL OR h.verdict_baseline <> {d} OR h.verdict_status = {s}");
        parts.push(if action { format!("({needs})") } else { format!("NOT ({needs})") });
    }
    let sql = if parts.is_empty() { "TRUE".to_owned() } else { parts.join(" AND ") };
    Clause { sql, params, members }
}

/// The hosts `h` a statement reads for `clause`: with a label or product, SQLite starts from
/// that one's hosts (`CROSS JOIN` keeps the order written), so a count over the few hosts of a
/// rare label reads those rows alone instead of every row, or a role's (2.4 s and 7.4 s at
/// 1,000,000 hosts for 11 hosts); with a name, from the hosts whose names in the name index
/// match. PostgreSQL plans the same from its statistics.
pub fn hosts_from(dialect: Dialect, clause: &Clause) -> String {
    match (dialect, &clause.members) {
        (Dialect::Sqlite, Some(found)) => {
            format!("(SELECT DISTINCT host_id FROM ({found})) AS few CROSS JOIN hosts h ON h.host_id = few.host_id")
        }
        _ => "hosts h".to_owned(),
    }
}

/// What [`tally`] counts, over the hosts whose verdict is for the served baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    /// Hosts per (role, status now); the empty role for hosts without one.
    Statuses,
    /// Hosts per (product, version) installed, each pair once per host: over every host the
    /// filter selects when it does not select by verdict ([`HostFilter::by_verdict`]), since
    /// what is installed does not depend on the baseline.
    Versions,
    /// Findings per (kind, ``).
    FindingKinds,
    /// Hosts per (product below the baseline, ``).
    Below,
}

impl Tally {
    /// Every tally, in the order summaries read them.
    pub const ALL: [Self; 4] = [Self::Statuses, Self::Versions, Self::FindingKinds, Self::Below];
}

/// The statement counting `what` over the hosts `filter` selects whose verdict is for the
/// baseline `digest` (versions: see [`Tally::Versions`]): rows of (text, text, count), grouped
/// by the two texts. Hosts not re-evaluated yet are left to the caller (see
/// `Store::unevaluated`).
pub fn tally(dialect: Dialect, what: Tally, filter: &HostFilter, config: &Config, digest: &str, now: i64) -> Clause {
    let mut c = clause(dialect, filter, config, digest, now);
    let bind = |params: &mut Vec<Value>, value: Value| -> String {
        params.push(value);
        match dialect {
            Dialect::Sqlite => format!("?{}", params.len()),
            Dialect::Postgres => format!("${}", params.len()),
        }
    };
    let selected = if what == Tally::Versions && !filter.by_verdict() {
        c.sql.clone()
    } else {
        let d = bind(&mut c.params, Value::Text(digest.to_owned()));
        format!("({}) AND h.verdict_baseline = {d}", c.sql)
    };
    let hosts = hosts_from(dialect, &c);
    // Every tally reads the host rows alone: no inventory, no verdict's findings.
    let (sqlite, pg) = (dialect == Dialect::Sqlite, dialect == Dialect::Postgres);
    c.sql = match what {
        Tally::Statuses => {
            let n = bind(&mut c.params, Value::Int(now));
            let n = if pg { format!("{n}::bigint") } else { n };
            format!(
                "SELECT coalesce(h.role, ''), CASE WHEN {} THEN 'stale' ELSE h.verdict_status END, \
                 count(*) FROM {hosts} WHERE {selected} GROUP BY 1, 2",
                stale_sql(dialect, config, &n)
            )
        }
        Tally::Versions => {
            // `versions` holds each pair once per host.
            let elements =
                if sqlite { "json_each(h.versions) v" } else { "jsonb_array_elements(h.versions::jsonb) AS v(value)" };
            format!(
                "SELECT coalesce(v.value ->> 0, ''), coalesce(v.value ->> 1, ''), count(*) FROM {hosts}, {elements} \
                 WHERE {selected} GROUP BY 1, 2"
            )
        }
        Tally::FindingKinds => {
            // `verdict_tally`: findings per kind of the host.
            let (elements, n) = if sqlite {
                ("json_each(h.verdict_tally) f", "sum(f.value)")
            } else {
                ("jsonb_each_text(h.verdict_tally::jsonb) AS f(key, value)", "sum(f.value::bigint)::bigint")
            };
            format!("SELECT f.key, '', {n} FROM {hosts}, {elements} WHERE {selected} GROUP BY 1")
        }
        Tally::Below => {
            let elements = if sqlite {
                "json_each(h.verdict_below) b"
            } else {
                "jsonb_array_elements_text(h.verdict_below::jsonb) AS b(value)"
            };
            format!("SELECT coalesce(b.value, ''), '', count(*) FROM {hosts}, {elements} WHERE {selected} GROUP BY 1")
        }
    };
    c
}

/// The last `seen_hour` a host stale at `now` may have under `config`: a host is stale only if
/// last seen before its cut-off, so before the latest cut-off of any rule (`now` less the
/// shortest `stale_after`), whose hour bounds an index range holding every stale host.
pub fn stale_hour_bound(config: &Config, now: i64) -> i64 {
    let shortest = config.rules.iter().filter_map(|r| r.stale_after).fold(config.stale_after, std::cmp::min);
    now.saturating_sub(i64::try_from(shortest.as_secs()).unwrap_or(i64::MAX)).div_euclid(SEEN_STEP)
}

/// A statement selecting the ids of a superset of the hosts `filter` selects, through indexes
/// alone, for a filter by status or by need of action, when every host is evaluated against
/// `digest` (see [`PageRequest::sparse`]); `None` for other filters. A host is stale only if last seen
/// before its cut-off, so before the earliest cut-off of any rule, whose hour bounds the
/// `seen_hour` range.
pub fn candidates(
    dialect: Dialect,
    filter: &HostFilter,
    config: &Config,
    digest: &str,
    now: i64,
    clause: &mut Clause,
) -> Option<String> {
    let stale_hours = stale_hour_bound(config, now);
    let mut bind = |value: Value| -> String {
        clause.params.push(value);
        match dialect {
            Dialect::Sqlite => format!("?{}", clause.params.len()),
            Dialect::Postgres => format!("${}", clause.params.len()),
        }
    };
    // With a role, the stale hosts of that role alone, through the (`role`, `seen_hour`) index.
    // The hosts of a status are of every role (no index holds both: one would cost a baseline
    // change that moves every status a tenth more time).
    let stale = |bind: &mut dyn FnMut(Value) -> String| {
        let role = filter.role.map(|r| format!(" AND role = {}", bind(Value::Text(role_name(r).to_owned()))));
        let hours = bind(Value::Int(stale_hours));
        format!("SELECT host_id FROM hosts WHERE seen_hour <= {hours}{}", role.unwrap_or_default())
    };
    match (filter.status, filter.action) {
        (Some(Status::Stale), _) => Some(stale(&mut bind)),
        (Some(status), _) => {
            let (s, d) = (bind(Value::Text(status.as_str().to_owned())), bind(Value::Text(digest.to_owned())));
            Some(format!("SELECT host_id FROM hosts WHERE verdict_status = {s} AND verdict_baseline = {d}"))
        }
        (None, Some(true)) => {
            let s = bind(Value::Text(Status::Noncompliant.as_str().to_owned()));
            let stale = stale(&mut bind);
            Some(format!("SELECT host_id FROM hosts WHERE verdict_status = {s} UNION ALL {stale}"))
        }
        _ => None,
    }
}

/// Adds the keyset condition of `after` to `clause` (hosts ordered by host name, then id).
pub fn after(dialect: Dialect, mut clause: Clause, after: Option<&(String, String)>) -> Clause {
    let Some((name, id)) = after else { return clause };
    let mut bind = |value: String| {
        clause.params.push(Value::Text(value));
        match dialect {
            Dialect::Sqlite => format!("?{}", clause.params.len()),
            Dialect::Postgres => format!("${}", clause.params.len()),
        }
    };
    let (n, i) = (bind(name.clone()), bind(id.clone()));
    clause.sql = format!("({}) AND (h.hostname, h.host_id) > ({n}, {i})", clause.sql);
    clause
}

/// The whole statement of one page: `columns` of hosts `h` with their current snapshot `s`.
pub fn page(dialect: Dialect, request: &PageRequest, config: &Config, digest: &str, now: i64, columns: &str) -> Clause {
    let selected = clause(dialect, &request.filter, config, digest, now);
    let mut c = after(dialect, selected, request.after.as_ref());
    let few = match (&c.members, request.members, request.sparse) {
        (Some(members), true, _) => Some(members.clone()),
        (_, _, true) => candidates(dialect, &request.filter, config, digest, now, &mut c),
        _ => None,
    };
    // A few hosts: found through the indexes, then sorted (the name index would be walked to its
    // end to fill a page of them: 8.5 s at 1,000,000 hosts). SQLite is made to start from them
    // (`CROSS JOIN` keeps the order written): with a role in the filter it would otherwise walk
    // that role's index instead (1.1 s at 1,000,000 hosts for 11 hosts of a label).
    // Without them, SQLite would pick the index of a filtered column (role, status) and sort
    // every match to return the first page: walking the name index in order stops after `limit`
    // matches (issue 17: 7.5 s → see docs/BENCHMARKS.md at 1,000,000 hosts).
    let hosts = match (dialect, few) {
        (Dialect::Sqlite, None) => "hosts h INDEXED BY hosts_name_id".to_owned(),
        (Dialect::Sqlite, Some(few)) => {
            format!("(SELECT DISTINCT host_id FROM ({few})) AS few CROSS JOIN hosts h ON h.host_id = few.host_id")
        }
        (Dialect::Postgres, Some(few)) => {
            c.sql = format!("h.host_id IN ({few}) AND ({})", c.sql);
            "hosts h".to_owned()
        }
        (Dialect::Postgres, None) => "hosts h".to_owned(),
    };
    c.sql = format!(
        "SELECT {columns} FROM {hosts} LEFT JOIN snapshots s ON s.id = h.current_snapshot WHERE {} \
         ORDER BY h.hostname, h.host_id LIMIT {} OFFSET {}",
        c.sql, request.limit, request.offset
    );
    c
}

/// The whole statement counting what `filter` selects.
pub fn count(dialect: Dialect, filter: &HostFilter, config: &Config, digest: &str, now: i64) -> Clause {
    count_of(dialect, clause(dialect, filter, config, digest, now))
}

/// The statement counting the hosts of `c` (a [`clause`], its `members` possibly chosen by the
/// store).
pub fn count_of(dialect: Dialect, mut c: Clause) -> Clause {
    c.sql = format!("SELECT count(*) FROM {} WHERE {}", hosts_from(dialect, &c), c.sql);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn staleness_follows_the_first_matching_rule() {
        let config = Config::parse(
            "stale_after = \"7d\"\n[[rules]]\nrole = \"build-runner\"\nstale_after = \"1d\"\n\
             [[rules]]\nlabel = \"team=o'brien\"\nstale_after = \"2h\"\n[[rules]]\nlabel = \"x=y\"\npurge_after = \"9d\"\n",
            "test",
        )
        .unwrap();
        assert_eq!(
            stale_after_sql(Dialect::Sqlite, &config),
            "CASE WHEN h.role = 'build-runner' THEN 86400 \
             WHEN (SELECT value FROM json_each(h.facts, '$.labels') WHERE key = 'team') = 'o''brien' THEN 7200 \
             WHEN (SELECT value FROM json_each(h.facts, '$.labels') WHERE key = 'x') = 'y' THEN 604800 ELSE 604800 END"
        );
        let default = Config { stale_after: Duration::from_secs(60), ..Config::default() };
        assert_eq!(stale_after_sql(Dialect::Postgres, &default), "60");
    }

    #[test]
    fn user_values_are_parameters_never_sql() {
        let filter = HostFilter {
            role: Some(Role::Developer),
            label: Some(("team".into(), Some("web'; DROP TABLE hosts; --".into()))),
            name: Some("50%_off".into()),
            ..HostFilter::default()
        };
        let built = clause(Dialect::Postgres, &filter, &Config::default(), "d", 0);
        assert!(!built.sql.contains("DROP"), "{}", built.sql);
        assert_eq!(
            built.params,
            [
                Value::Text("developer".into()),
                Value::Text("team".into()),
                Value::Text("web'; DROP TABLE hosts; --".into()),
                Value::Text("%50\\%\\_off%".into()),
            ]
        );
        assert!(
            built.sql.starts_with(
                "h.role = $1 AND EXISTS (SELECT 1 FROM host_members m WHERE m.kind = 'label' AND m.a = $2 AND m.b = $3 \
                 AND m.host_id = h.host_id)"
            ),
            "{}",
            built.sql
        );
        let paged = after(
            Dialect::Sqlite,
            clause(Dialect::Sqlite, &HostFilter::default(), &Config::default(), "d", 0),
            Some(&("a".into(), "b".into())),
        );
        assert_eq!(paged.sql, "(TRUE) AND (h.hostname, h.host_id) > (?1, ?2)");
    }
}

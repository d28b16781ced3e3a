//! azver-collector: receives inventory reports over gRPC, stores them in SQLite or PostgreSQL,
//! evaluates the shared baseline and produces fleet reports.
//!
//! Entry points: [`run`] executes a parsed command line; [`server::serve`] runs the gRPC server
//! (and [`server::serve_with_http`] the dashboard, API and metrics of [`http`] beside it) with
//! an injectable shutdown future (tests pass a oneshot, the binary passes the signals).

pub mod admin;
pub mod auth;
pub mod baseline;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dbfile;
pub mod detail;
pub mod grpc;
pub mod health;
pub mod housekeeping;
pub mod http;
#[cfg(test)]
mod layers;
pub mod listen;
pub mod metrics;
pub mod policy;
pub mod reports;
pub mod sanitize;
pub mod server;
pub mod store;
pub mod summary;
pub mod throttle;
pub mod tls;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use cli::{Cli, Command, CredentialAction, HostAction, ListFormat, ReportFormat};
use config::Config;
pub use detail::{HistoryView, HostDetail, host_detail};
use store::{DbLocation, Store};

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    })
}

/// Opens the database of a command that reads or changes an existing fleet: a missing SQLite
/// file is an error naming the path, never a new empty database.
async fn open(location: &DbLocation) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    open_as(location, dbfile::Need::Existing).await
}

/// Opens the database of `serve`, `migrate --to` and the `create` commands, creating it if needed.
async fn open_or_create(location: &DbLocation) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    open_as(location, dbfile::Need::CreateIfMissing).await
}

async fn open_as(location: &DbLocation, need: dbfile::Need) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    if let Some(path) = location.sqlite_path() {
        dbfile::check(path, need)?;
    }
    store::open(location).await.with_context(|| format!("cannot open database {location}"))
}

/// The connection limits `serve` was given; the total defaults to below the open file limit.
fn connection_limits(args: &cli::ServeArgs) -> anyhow::Result<listen::ConnectionLimits> {
    for (flag, value) in [("--handshake-timeout", args.handshake_timeout), ("--idle-timeout", args.idle_timeout)] {
        if value.is_zero() {
            anyhow::bail!("{flag} must be more than zero");
        }
    }
    let defaults = listen::ConnectionLimits::default();
    Ok(listen::ConnectionLimits {
        handshake_timeout: args.handshake_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections.map_or(defaults.max_connections, |n| n as usize),
        max_connections_per_source: args.max_connections_per_source as usize,
    })
}

/// Runs one command. `shutdown` ends `serve`.
pub async fn run(cli: Cli, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            // Refuse a bad baseline or database before announcing the port: a script that read
            // `listening on` must be able to rely on the server staying up.
            let loaded_baseline = baseline::load_baseline(args.baseline.as_deref())?;
            let config = load_config(args.config.as_deref())?;
            let connections = connection_limits(&args)?;
            let tls_files = tls::TlsFiles { cert: args.tls_cert, key: args.tls_key, client_ca: args.client_ca };
            let tls = tls_files.server_config()?;
            let http_tls =
                tls::HttpTlsFiles::choose((args.http_tls_cert, args.http_tls_key), &tls_files)?.server_config()?;
            let store = open_or_create(&args.db.db).await?;
            let posture = auth::Posture::decide(&auth::Listener {
                address: args.listen,
                tls: tls.is_some(),
                secrets_exist: store.any_enroll_secret_ever().await?,
                allow_unauthenticated: args.allow_unauthenticated,
                allow_plaintext: args.allow_plaintext,
            })
            .map_err(anyhow::Error::msg)?;
            let require_token = match args.http {
                Some(address) => {
                    let usable = admin::any_valid_token(&store.list_admin_tokens().await?, clock::unix_now());
                    http::check_bind_address(address, usable, http_tls.is_some(), args.allow_plaintext)
                        .map_err(anyhow::Error::msg)?;
                    !address.ip().is_loopback()
                }
                None => false,
            };
            drop(store);
            let options = server::ServeOptions {
                db: args.db.db,
                baseline: args.baseline,
                loaded_baseline: Some(loaded_baseline),
                limits: config.limits.clone(),
                config,
                tls,
                posture,
                require_token,
                connections,
                http_tls,
            };
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            let http_listener = match args.http {
                Some(address) => Some(
                    tokio::net::TcpListener::bind(address)
                        .await
                        .with_context(|| format!("cannot listen for HTTP on {address}"))?,
                ),
                None => None,
            };
            let address = listener.local_addr()?;
            // Take over SIGHUP before announcing the address: its default action ends the process,
            // and whoever reads `listening on` may send it at once. Tokio keeps the handler for the
            // life of the process; `server::serve` listens for the reloads.
            #[cfg(unix)]
            let _hangup_guard = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(|error| tracing::warn!(%error, "cannot take over SIGHUP"));
            // The first stdout line of `serve`: scripts and tests read the chosen port from it.
            println!("listening on {address}");
            if let Some(http) = &http_listener {
                // The second line, only with --http: where the dashboard is.
                println!("http listening on {}", http.local_addr()?);
                let scheme = if options.http_tls.is_some() { "https" } else { "http" };
                tracing::info!(address = %http.local_addr()?, scheme, "dashboard serving");
            }
            std::io::stdout().flush()?;
            tracing::info!(%address, db = %options.db, tls = options.tls.is_some(), "azver-collector serving");
            if options.posture.unauthenticated_allowed {
                tracing::warn!(
                    %address,
                    "accepting unauthenticated reports until an enrollment secret exists \
                     (`azver-collector secret create`); see docs/SECURITY.md"
                );
            }
            server::serve_with_http(listener, http_listener, options, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => {
            let config = load_config(args.config.as_deref())?;
            let baseline = baseline::load_baseline(args.baseline.as_deref())?;
            let store = open(&args.db.db).await?;
            let filters = reports::Filters {
                status: args.status.map(Into::into),
                product: args.product,
                role: args.role.map(Into::into),
            };
            let now = clock::unix_now();
            if matches!(args.format, ReportFormat::Json | ReportFormat::Csv) {
                // Streamed a page of hosts at a time: memory stays bounded however large the fleet.
                let served = Arc::new(baseline::Served::new(baseline));
                stream_report(store, served, Arc::new(config), &filters, args.format, now).await?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut report = reports::build(&store.hosts().await?, &baseline, &config, &filters, now);
            reports::mark_revoked(&mut report, &store.revoked_hosts().await?);
            let bytes = match args.format {
                ReportFormat::Markdown => reports::to_markdown(&report).into_bytes(),
                // JSON and CSV were streamed above.
                ReportFormat::Table | ReportFormat::Json | ReportFormat::Csv => reports::to_table(&report).into_bytes(),
            };
            emit(&bytes)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hosts(args) => {
            let config = load_config(args.config.as_deref())?;
            let baseline = baseline::load_baseline(args.baseline.as_deref())?;
            let store = open(&args.db.db).await?;
            let mut report =
                reports::build(&store.hosts().await?, &baseline, &config, &Default::default(), clock::unix_now());
            let revoked = store.revoked_hosts().await?;
            reports::mark_revoked(&mut report, &revoked);
            let text = if args.revoked {
                revoked_output(&report, &revoked, args.format)
            } else {
                hosts_output(&report, args.format)
            };
            emit(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Secret { action } => {
            credential(action, admin::create_secret, admin::list_secrets, admin::revoke_secret).await
        }
        Command::Token { action } => {
            credential(action, admin::create_token, admin::list_tokens, admin::revoke_token).await
        }
        Command::Host(args) => match args.action {
            Some(HostAction::Revoke { host, db }) => {
                let store = open(&db.db).await?;
                emit(admin::revoke_host(&*store, &host).await?.as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
            Some(HostAction::Delete { host, db }) => {
                let store = open(&db.db).await?;
                let ids = store.find(&host).await?;
                if ids.is_empty() {
                    // A host revoked before it ever reported has no row to find by name; its id
                    // clears the revocation so that it may enroll afresh.
                    if store.revoked_hosts().await?.iter().any(|r| r.host_id == host) {
                        store.delete_hosts(std::slice::from_ref(&host)).await?;
                        tracing::info!(host_id = %host, "revocation cleared");
                        emit(
                            format!("cleared the revocation of host {host} (it never reported); it may enroll again\n")
                                .as_bytes(),
                        )?;
                        return Ok(ExitCode::SUCCESS);
                    }
                    anyhow::bail!("no host with id or name {host:?} (see `hosts` and `hosts --revoked`)");
                }
                let deleted = store.delete_hosts(&ids).await?;
                emit(format!("deleted {deleted} host(s): {}\n", ids.join(", ")).as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
            None => {
                let host = args.host.context("name a host: azver-collector host ID|NAME")?;
                let db = args.db.context("--db PATH is required")?;
                let baseline = baseline::load_baseline(args.baseline.as_deref())?;
                let config = load_config(args.config.as_deref())?;
                let store = open(&db).await?;
                let ids = store.find(&host).await?;
                let revoked = store.revoked_hosts().await?;
                if ids.is_empty() {
                    if let Some(r) = revoked.iter().find(|r| r.host_id == host) {
                        let at = reports::rfc3339(r.revoked_at);
                        let text = match args.format {
                            ListFormat::Json => format!(
                                "{}\n",
                                serde_json::json!([{"host_id": host, "revoked_at": at, "reported": false}])
                            ),
                            ListFormat::Table => format!(
                                "{host}: revoked at {at}; it never reported (`host delete {host}` clears the revocation)\n"
                            ),
                        };
                        emit(text.as_bytes())?;
                        return Ok(ExitCode::SUCCESS);
                    }
                    anyhow::bail!("no host with id or name {host:?} (see `hosts` and `hosts --revoked`)");
                }
                let mut out = String::new();
                let mut details = Vec::new();
                for id in &ids {
                    let Some(stored) = store.host(id).await? else { continue };
                    let history = store.history(id).await?;
                    let mut detail = host_detail(&stored, history, &baseline, &config, clock::unix_now());
                    detail.entry.revoked_at = reports::revoked_at(&revoked, id);
                    details.push(detail);
                }
                match args.format {
                    ListFormat::Json => out.push_str(&serde_json::to_string_pretty(&details)?),
                    ListFormat::Table => {
                        for detail in &details {
                            out.push_str(&host_detail_text(detail));
                        }
                    }
                }
                emit(format!("{}\n", out.trim_end()).as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Purge(args) => {
            let config = load_config(args.config.as_deref())?;
            let store = open(&args.db.db).await?;
            let deleted = housekeeping::purge_once(&*store, &config, clock::unix_now()).await?;
            emit(format!("purged {deleted} host(s)\n").as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(args) => {
            if args.from == args.to {
                anyhow::bail!("--from and --to name the same database");
            }
            let from = open(&args.from).await.context("--from names the database to copy")?;
            let to = open_or_create(&args.to).await?;
            let counts = store::copy_all(&*from, &*to)
                .await
                .with_context(|| format!("copying {} into {}", args.from, args.to))?;
            emit(
                format!(
                    "copied {} host(s), {} snapshot(s), {} host name(s), {} roll-up row(s), {} authentication row(s) \
                     from {} to {}\n",
                    counts.hosts, counts.snapshots, counts.hostnames, counts.daily, counts.auth, args.from, args.to
                )
                .as_bytes(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup(args) => {
            let source = args.db.db.sqlite_path().context(
                "backup copies an SQLite database; back up PostgreSQL with its own tools (pg_dump, or the \
                 managed service's backups)",
            )?;
            dbfile::check(source, dbfile::Need::Existing)?;
            let (source, dest) = (source.to_owned(), args.to.clone());
            let bytes = tokio::task::spawn_blocking(move || store::sqlite::backup(&source, &dest))
                .await?
                .with_context(|| format!("cannot back up {}", args.db.db))?;
            emit(format!("backed up {} to {} ({bytes} bytes)\n", args.db.db, args.to.display()).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `report --format json|csv`, written to stdout a page of hosts at a time: the summary from
/// aggregate queries first (JSON), then the hosts, byte for byte what the whole report would
/// print. A closed pipe (`| head`) ends it quietly.
async fn stream_report(
    store: Arc<dyn Store>,
    served: Arc<baseline::Served>,
    config: Arc<Config>,
    filters: &reports::Filters,
    format: ReportFormat,
    now: i64,
) -> anyhow::Result<()> {
    let filter = filters.host_filter();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut json = reports::JsonStream::default();
    let head = if matches!(format, ReportFormat::Json) {
        let counts = summary::count(&*store, &served, &config, &filter, now).await?;
        let baseline = reports::baseline_entries(&served);
        reports::JsonStream::start(&reports::rfc3339(now), &baseline, &counts.summary(&served)).into_bytes()
    } else {
        reports::csv_start()?
    };
    let quiet = |result: std::io::Result<()>| match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
        Ok(()) => Ok(true),
    };
    if !quiet(out.write_all(&head))? {
        return Ok(());
    }
    let mut hosts = reports::HostStream::new(store, served, config, filter, now).await?;
    let mut chunk = Vec::new();
    while let Some(page) = hosts.next().await? {
        chunk.clear();
        if matches!(format, ReportFormat::Json) {
            for host in &page {
                chunk.extend_from_slice(json.host(host).as_bytes());
            }
        } else {
            reports::csv_rows(&page, &mut chunk)?;
        }
        if !quiet(out.write_all(&chunk))? {
            return Ok(());
        }
    }
    let tail = if matches!(format, ReportFormat::Json) { json.end().as_bytes() } else { &[] };
    quiet(out.write_all(tail).and_then(|()| out.flush()))?;
    Ok(())
}

/// Writes command output to stdout. A reader that went away (`| head`) ends the output quietly:
/// that is not an error of the command.
fn emit(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn hosts_output(report: &reports::FleetReport, format: ListFormat) -> String {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        host_id: &'a str,
        hostname: &'a str,
        role: Option<azver_core::Role>,
        status: azver_core::Status,
        last_seen: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        revoked_at: Option<&'a str>,
        os_family: Option<azver_core::OsFamily>,
        labels: &'a std::collections::BTreeMap<String, String>,
    }
    let rows: Vec<Row<'_>> = report
        .hosts
        .iter()
        .map(|h| Row {
            host_id: &h.host_id,
            hostname: &h.hostname,
            role: h.role,
            status: h.status,
            last_seen: &h.last_seen,
            revoked_at: h.revoked_at.as_deref(),
            os_family: h.os_family,
            labels: &h.labels,
        })
        .collect();
    if format == ListFormat::Json {
        return serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n";
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["HOSTNAME", "HOST ID", "ROLE", "STATUS", "LAST SEEN"]);
    for (row, host) in rows.iter().zip(&report.hosts) {
        table.add_row([
            sanitize::term(row.hostname),
            sanitize::term(row.host_id),
            row.role.map_or("-", store::role_name).to_owned(),
            host.status_text(),
            sanitize::term(row.last_seen),
        ]);
    }
    format!("{table}\n")
}

/// `hosts --revoked`: every revoked host, those that never reported included.
fn revoked_output(report: &reports::FleetReport, revoked: &[store::RevokedHost], format: ListFormat) -> String {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        host_id: &'a str,
        /// Empty for a host that enrolled but never reported.
        hostname: &'a str,
        revoked_at: String,
        reported: bool,
    }
    let rows: Vec<Row<'_>> = revoked
        .iter()
        .map(|r| {
            let known = report.hosts.iter().find(|h| h.host_id == r.host_id);
            Row {
                host_id: &r.host_id,
                hostname: known.map_or("", |h| h.hostname.as_str()),
                revoked_at: reports::rfc3339(r.revoked_at),
                reported: known.is_some(),
            }
        })
        .collect();
    if format == ListFormat::Json {
        return serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n";
    }
    if rows.is_empty() {
        return "no revoked hosts\n".to_owned();
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["HOST ID", "HOSTNAME", "REVOKED AT", "REPORTED"]);
    for row in rows {
        table.add_row([
            row.host_id.to_owned(),
            if row.hostname.is_empty() { "-".to_owned() } else { row.hostname.to_owned() },
            row.revoked_at,
            if row.reported { "yes" } else { "never" }.to_owned(),
        ]);
    }
    format!("{table}\n")
}

fn host_detail_text(detail: &HostDetail) -> String {
    use std::fmt::Write as _;
    // Every agent string goes through `T`: a host name holding ESC or CR must not drive the
    // terminal or forge a line.
    use sanitize::Term as T;
    let e = &detail.entry;
    let f = &detail.facts;
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", T(&e.hostname), T(&e.host_id));
    let _ = writeln!(
        out,
        "  status: {}  role: {}  last seen: {}  first seen: {}",
        e.status_text(),
        e.role.map_or("-", store::role_name),
        e.last_seen,
        e.first_seen
    );
    let _ = writeln!(
        out,
        "  os: {} {} {} ({}), agent {}",
        T(&f.os_name),
        T(&f.os_version),
        T(&f.kernel_version),
        T(&f.architecture),
        T(&f.agent_version)
    );
    out.push_str("  installations:\n");
    for i in &e.installations {
        let _ = writeln!(out, "    {} {}  {}", T(&i.product), T(&i.version), T(&i.path));
    }
    for f in &e.findings {
        let _ =
            writeln!(out, "  finding: {} {} < {}  fix: {}", T(&f.product), T(&f.installed), T(&f.required), T(&f.hint));
    }
    if !detail.errors.is_empty() {
        let _ = writeln!(out, "  scan errors: {}", detail.errors.len());
    }
    out.push_str("  history:\n");
    for h in &detail.history {
        let versions: Vec<String> =
            h.installations.iter().map(|i| format!("{} {}", T(&i.product), T(&i.version))).collect();
        let _ = writeln!(out, "    {}  {}  {}  {}", h.at, T(&h.change), T(&h.hostname), versions.join(", "));
    }
    out
}

/// Runs a `secret` or `token` subcommand with that credential's functions.
async fn credential<C, L, R>(action: CredentialAction, create: C, list: L, revoke: R) -> anyhow::Result<ExitCode>
where
    C: AsyncFn(&dyn Store, &str, Option<std::time::Duration>) -> anyhow::Result<String>,
    L: AsyncFn(&dyn Store, bool) -> anyhow::Result<String>,
    R: AsyncFn(&dyn Store, &str) -> anyhow::Result<String>,
{
    let text = match action {
        CredentialAction::Create { db, label, expires } => {
            create(&*open_or_create(&db.db).await?, &label, expires).await?
        }
        CredentialAction::List { db, format } => list(&*open(&db.db).await?, format == ListFormat::Json).await?,
        CredentialAction::Revoke { id, db } => revoke(&*open(&db.db).await?, &id).await?,
    };
    emit(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

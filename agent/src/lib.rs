//! azver-agent: reads installed Azure CLI and Az PowerShell versions from disk, without starting
//! `az` or `pwsh`, and evaluates them against the baseline.
//!
//! Entry points: [`run`] executes a parsed command line; [`scan::scan`] scans a [`host::HostView`].

pub mod bounds;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod detect;
pub mod diagnose;
mod exec;
pub mod facts;
pub mod host;
pub mod install;
pub mod output;
pub mod program_data;
pub mod report;
pub mod scan;
pub mod scrub;
pub mod service;
pub mod spool;
pub mod state;
pub mod supervise;
#[cfg(windows)]
pub mod windows_service;

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context as _;
use azver_core::{Baseline, Inventory, Status, Subject};

use cli::{Cli, Command, Format, ScanRequest};
use host::HostView;

/// Exit code of `check` for a compliant or not-applicable host.
pub const EXIT_OK: u8 = 0;
/// Exit code of `check` for a noncompliant host.
pub const EXIT_NONCOMPLIANT: u8 = 1;
/// Exit code for usage errors and scans that could not run at all.
pub const EXIT_USAGE: u8 = 2;

/// Runs one command; the error is for things that stop the command from running at all.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Scan(args) => {
            let inventory = scan_request(&args.scan.request())?;
            let text = match args.output.format {
                Format::Json => output::scan_json(&inventory),
                Format::Table => output::scan_table(&inventory),
            };
            output::emit(&text)?;
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Check(args) => {
            let baseline = match (&args.baseline, &args.collector) {
                (Some(path), _) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read baseline {}", path.display()))?;
                    Baseline::from_toml(&text).with_context(|| format!("baseline {}", path.display()))?
                }
                // The fleet's baseline: an unreachable collector is an error (exit 2), never a
                // silent fall-back to the built-in baseline.
                (None, Some(url)) => {
                    let target = report::Target { url: url.clone(), tls: args.tls.files(), timeout: args.timeout };
                    runtime()?.block_on(report::fetch_baseline(&target))?
                }
                (None, None) => Baseline::default(),
            };
            let request = args.scan.request();
            let inventory = scan_request(&request)?;
            let job = ci_job(&request);
            let evaluation = match &job {
                // Inside a pipeline only the job user's own sign-ins matter, and the host is a
                // build runner whatever else it is.
                Some(job) => {
                    let identities: Vec<_> =
                        inventory.identities.iter().filter(|i| job.owns(&i.path)).cloned().collect();
                    let role = Some(azver_core::Role::BuildRunner);
                    baseline.evaluate(&Subject {
                        installations: &inventory.installations,
                        identities: &identities,
                        role,
                        jobs: &inventory.job_sign_ins,
                    })
                }
                None => baseline.evaluate(&subject(&inventory)),
            };
            let text = match args.output.format {
                Format::Json => output::check_json(&inventory, &evaluation),
                Format::Table => output::check_text(&inventory, &evaluation, &baseline, job.as_ref().map(|j| j.ci)),
            };
            output::emit(&text)?;
            Ok(ExitCode::from(match evaluation.status {
                Status::Noncompliant => EXIT_NONCOMPLIANT,
                _ => EXIT_OK,
            }))
        }
        Command::Report(args) => report_once(args),
        Command::Run(args) => {
            let job = ServiceArgs::new(args);
            // The Windows service reads its configuration once it runs under the service
            // manager, and keeps running (retrying) while it is wrong: see `supervise`.
            #[cfg(windows)]
            if args.windows_service {
                windows_service::run(job)?;
                return Ok(ExitCode::from(EXIT_OK));
            }
            #[cfg(not(windows))]
            if args.windows_service {
                anyhow::bail!("--windows-service only means something on Windows");
            }
            let (config, request) = job.load()?;
            // `shutdown_signal()` runs inside the runtime, before the first scan.
            let rt = runtime()?;
            let result = rt.block_on(async { service::run(&config, &request, shutdown_signal()).await });
            // A scan the shutdown interrupted stops at its next file read; do not wait on a
            // blocking thread beyond that (dropping the runtime would wait for it forever).
            rt.shutdown_timeout(service::BLOCKING_GRACE);
            result?;
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Config { command: cli::ConfigCommand::Check(args) } => config_check(args),
        Command::Status(args) => {
            // A configuration error is shown, not fatal: `status` is where an admin looks when
            // the service does not report, and the state dir is still the default one.
            let (config, config_error) = match load_config(args.config.as_deref(), &args.overrides()) {
                Ok((config, _)) => (Some(config), None),
                Err(error) => (None, Some(azver_core::one_line(error.as_ref()))),
            };
            let state_dir = config
                .as_ref()
                .map_or_else(|| args.state_dir.clone().unwrap_or_else(state::default_dir), |c| c.state_dir.clone());
            // Read only: the service may be running and writing to the state dir and the spool
            // right now, so nothing is created or tightened here (the service does that).
            let state = state::State::existing(&state_dir);
            let spool = spool::Spool::inspect(&state_dir);
            let mut status = service::AgentStatus::load(&state);
            if status.host_id.is_empty() {
                status.host_id = state.existing_host_id()?.unwrap_or_default();
            }
            if status.collector.is_empty() {
                status.collector =
                    config.as_ref().and_then(|c| c.collector.as_deref()).map(report::redact_url).unwrap_or_default();
            }
            let depth = spool.list()?.len();
            let local = output::LocalStatus { service: service_state(), config_error };
            output::emit(&output::status(&status, depth, spool.drops(), &local, args.output.format))?;
            Ok(ExitCode::from(EXIT_OK))
        }
    }
}

/// `config check`: the configuration `run` would use, validated as `run` validates it (collector,
/// TLS files, the enrollment secret), with credentials shown only as present or absent. Exit 2
/// with every problem on stderr when `run` would refuse to start.
fn config_check(args: &cli::ConfigCheckArgs) -> anyhow::Result<ExitCode> {
    let (config, file) = load_config(args.run.config.as_deref(), &args.run.overrides())?;
    let mut problems = Vec::new();
    match &config.collector {
        None => problems.push(service::NO_COLLECTOR.to_owned()),
        Some(url) => {
            let target = report::Target { url: url.clone(), tls: config.tls.clone(), timeout: config.timeout };
            if let Err(error) = report::checked_tls(&target) {
                problems.push(error.to_string());
            }
        }
    }
    if config.state_dir.exists() && !config.state_dir.is_dir() {
        problems.push(format!("state dir {} is not a folder", config.state_dir.display()));
    }
    // The state dir is only read here, never created: `config check` changes nothing.
    let state = config.state_dir.is_dir().then(|| state::State::existing(&config.state_dir));
    let sources = credentials::SecretSources::from_process(config.enroll_secret_file.clone());
    let secret = match sources.describe(state.as_ref()) {
        Ok(found) => found,
        Err(error) => {
            problems.push(azver_core::one_line(&error));
            None
        }
    };
    let node_key = match state.as_ref().map(state::State::node_key).transpose() {
        Ok(key) => key.flatten().is_some(),
        Err(error) => {
            problems.push(azver_core::one_line(&error));
            false
        }
    };
    let credentials = output::Credentials { enroll_secret: secret, node_key };
    let origin = file.map(|f| f.display().to_string());
    output::emit(&output::config_check(&config, origin.as_deref(), &credentials, &problems, args.output.format))?;
    for problem in &problems {
        eprintln!("azver-agent: {problem}");
    }
    Ok(ExitCode::from(if problems.is_empty() { EXIT_OK } else { EXIT_USAGE }))
}

/// Reads the config file and merges flags and environment (`overrides`) over it.
fn load_config(
    path: Option<&std::path::Path>,
    overrides: &config::Overrides,
) -> anyhow::Result<(config::AgentConfig, Option<std::path::PathBuf>)> {
    let (raw, file) = config::read_file(path)?;
    // What an installer recorded (the MSI's properties) sits between the environment and the file.
    let raw = install::settings(&install::read_values())?.over(raw);
    let origin = file.as_ref().map_or_else(|| "config".to_owned(), |f| f.display().to_string());
    Ok((config::AgentConfig::resolve(&raw, &origin, overrides)?, file))
}

/// What `run` took from its command line, kept so that the configuration can be read again:
/// the Windows service re-reads it after an error instead of exiting.
#[derive(Debug, Clone)]
pub struct ServiceArgs {
    config: Option<std::path::PathBuf>,
    overrides: config::Overrides,
    request: ScanRequest,
}

impl ServiceArgs {
    /// Takes what `run` needs from its flags.
    pub fn new(args: &cli::RunArgs) -> Self {
        Self { config: args.config.clone(), overrides: args.overrides(), request: args.scan.request() }
    }

    /// The state dir before the configuration is known: the flag's, else the OS default (where
    /// a service that cannot read its configuration records why).
    pub fn state_dir(&self) -> std::path::PathBuf {
        self.overrides.state_dir.clone().unwrap_or_else(state::default_dir)
    }

    /// Reads the config file and the installer's settings afresh and validates them.
    pub fn load(&self) -> anyhow::Result<(config::AgentConfig, ScanRequest)> {
        let (config, _) = load_config(self.config.as_deref(), &self.overrides)?;
        let mut request = self.request.clone();
        request.options = scan::ScanOptions { report_account_names: config.report_account_names, role: config.role };
        Ok((config, request))
    }
}

/// The installed service's state as the service manager reports it (Windows); `None` elsewhere.
fn service_state() -> Option<String> {
    #[cfg(windows)]
    {
        Some(windows_service::installed_state())
    }
    #[cfg(not(windows))]
    {
        None
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C on Windows).
///
/// On Unix the handlers are installed when this is called, not when the future is first polled:
/// the service polls it only after its first scan, and a signal before that would otherwise kill
/// the process with the default action instead of ending it with exit 0. Call it inside the
/// runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
        async move {
            match handlers {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// What the baseline evaluates for a scanned host.
fn subject(inventory: &Inventory) -> Subject<'_> {
    Subject {
        installations: &inventory.installations,
        identities: &inventory.identities,
        role: inventory.host.role,
        jobs: &inventory.job_sign_ins,
    }
}

/// A CI job `check` runs inside, recognised by the job's own variables (live scans only).
#[derive(Debug)]
struct CiJob {
    ci: &'static str,
    /// The job user's profile folders: `~/.azure`, `~/.Azure`, `AZURE_CONFIG_DIR`.
    profile_dirs: Vec<host::HostPath>,
}

impl CiJob {
    fn owns(&self, profile: &str) -> bool {
        let os = azver_core::OsFamily::current();
        let profile = host::HostPath::new(profile, os);
        self.profile_dirs.iter().any(|dir| profile.starts_with(dir))
    }
}

fn ci_job(request: &ScanRequest) -> Option<CiJob> {
    if request.root.is_some() {
        return None;
    }
    let host = HostView::live(std::env::vars().collect::<BTreeMap<_, _>>());
    let ci = detect::role::ci_job(&host)?;
    let home = host.env("HOME").or(host.env("USERPROFILE")).map(|h| host.path(h));
    let mut profile_dirs: Vec<host::HostPath> =
        home.iter().flat_map(|h| [h.join(".azure"), h.join(".Azure")]).collect();
    profile_dirs.extend(host.env("AZURE_CONFIG_DIR").map(|d| host.path(d)));
    Some(CiJob { ci, profile_dirs })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

/// `report --once`: scan, send, print the collector's verdict.
fn report_once(args: &cli::ReportArgs) -> anyhow::Result<ExitCode> {
    let state_dir = args.state_dir.clone().unwrap_or_else(state::default_dir);
    let state = state::State::open(&state_dir)?;
    let mut inventory = scan_request(&args.scan.request())?;
    let host_id = state.host_id()?;
    inventory.host.hostname = facts::reported_hostname(args.hostname.as_deref(), &inventory.host.hostname, &host_id);
    inventory.host.host_id = Some(host_id);
    inventory.host.labels.extend(args.labels.iter().cloned());
    bounds::fit(&mut inventory, &bounds::Caps::REPORT);
    let sequence = state.next_sequence()?;
    let report_id = uuid::Uuid::new_v4().to_string();
    let scanned_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let wire = azver_proto::convert::report_to_wire(&inventory, &report_id, sequence, scanned_at);
    let rt = runtime()?;
    let target = report::Target { url: args.collector.clone(), tls: args.tls.files(), timeout: args.timeout };
    let local = if args.baseline_from_collector {
        Some(rt.block_on(report::fetch_baseline(&target))?.evaluate(&subject(&inventory)))
    } else {
        None
    };
    let secret = credentials::SecretSources::from_process(args.enroll_secret_file.clone()).resolve(&state)?;
    let auth = report::Auth { state: &state, secret: secret.as_ref() };
    let delivered = rt.block_on(async { report::Client::connect(&target).await?.deliver(wire, auth).await });
    // `status` tells what the last delivery did, whichever command made it.
    let mut shown = service::AgentStatus::load(&state);
    if let Some(id) = &inventory.host.host_id {
        shown.host_id.clone_from(id);
    }
    shown.collector = report::redact_url(&args.collector);
    match &delivered {
        Ok(response) => shown.record_delivery(response),
        Err(error) => shown.record_error(error.to_string()),
    }
    shown.save(&state);
    let response = delivered?;
    let status = azver_proto::convert::status_from_wire(response.status)
        .context("the collector answered without a compliance status")?;
    let findings: Vec<_> = response.findings.iter().map(azver_proto::convert::finding_from_wire).collect();
    let host_id = inventory.host.host_id.as_deref().unwrap_or_default();
    let verdict = output::Verdict {
        host_id,
        report_id: &report_id,
        sequence,
        status,
        duplicate: response.duplicate,
        findings: &findings,
        local: local.as_ref(),
    };
    let text = match args.output.format {
        Format::Json => output::report_json(&verdict),
        Format::Table => output::report_text(&report::redact_url(&args.collector), &verdict),
    };
    output::emit(&text)?;
    Ok(ExitCode::from(match status {
        Status::Noncompliant => EXIT_NONCOMPLIANT,
        _ => EXIT_OK,
    }))
}

/// Builds the host view a request asks for and scans it.
pub fn scan_request(request: &ScanRequest) -> anyhow::Result<Inventory> {
    scan_request_until(request, host::Stop::default())
}

/// Like [`scan_request`], stopped (an error, never a partial inventory) when `stop` trips.
pub fn scan_request_until(request: &ScanRequest, stop: host::Stop) -> anyhow::Result<Inventory> {
    let host = match &request.root {
        Some(root) => {
            HostView::rooted(root, request.os).with_context(|| format!("cannot scan root {}", root.display()))?
        }
        None => {
            if request.os != azver_core::OsFamily::current() {
                anyhow::bail!(
                    "--target-os {} needs --root: a live scan always uses the running OS's layout",
                    request.os.as_str()
                );
            }
            HostView::live(std::env::vars().collect::<BTreeMap<_, _>>())
        }
    };
    let host = host.with_stop(stop);
    let mut inventory = scan::scan_until(&host, &request.options)?;
    if request.exec {
        exec::confirm_with_az(&mut inventory);
    }
    Ok(inventory)
}

//! Running as a Windows service: the service control manager's Stop and Shutdown become the run
//! loop's shutdown future; the service sets its own restart-on-failure (wixl's WiX subset has no
//! `util:ServiceConfig`); logs go to a rotating file under `%ProgramData%\azver\logs`.
//!
//! The installed service's command line is `azver-agent.exe run --windows-service` plus any
//! flags; configuration otherwise comes from `%ProgramData%\azver\agent.toml`, the installer's
//! registry values and `AZVER_*`.
//!
//! The service reports RUNNING before it reads its configuration, and an error then (a bad
//! installer property, no collector, an unusable state dir) never ends it: it is written to the
//! log file, the Application event log and the status file that `azver-agent status` shows, and
//! the agent tries again after a growing delay ([`crate::supervise`]). An MSI install therefore
//! never rolls back because of a setting, and fixing the setting is enough.

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept, ServiceExitCode,
    ServiceFailureActions, ServiceFailureResetPeriod, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::ServiceArgs;

/// The service's name in the service control manager (the MSI installs it under this name).
pub const SERVICE_NAME: &str = "azver-agent";

/// What the service runs, handed from `main` to the dispatcher's thread.
static JOB: OnceLock<ServiceArgs> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hands control to the service control manager; returns when the service stops.
pub fn run(job: ServiceArgs) -> anyhow::Result<()> {
    let _ = JOB.set(job);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .map_err(|e| anyhow::anyhow!("cannot start as a Windows service (run it from the service manager): {e}"))
}

/// Logs to `%ProgramData%\azver\logs\agent.<date>.log`, keeping two weeks.
pub fn log_writer() -> anyhow::Result<tracing_appender::rolling::RollingFileAppender> {
    let dir = crate::program_data::azver_dir().join("logs");
    std::fs::create_dir_all(&dir)?;
    Ok(tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("agent")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)?)
}

/// The installed service's state for `status`: `running`, `stopped`, ..., `not installed`, or
/// why it cannot be read.
pub fn installed_state() -> String {
    let query = || -> windows_service::Result<ServiceState> {
        let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
        let service = manager.open_service(SERVICE_NAME, ServiceAccess::QUERY_STATUS)?;
        Ok(service.query_status()?.current_state)
    };
    match query() {
        Ok(state) => match state {
            ServiceState::Running => "running",
            ServiceState::Stopped => "stopped",
            ServiceState::StartPending => "starting",
            ServiceState::StopPending => "stopping",
            ServiceState::Paused => "paused",
            ServiceState::PausePending => "pausing",
            ServiceState::ContinuePending => "resuming",
        }
        .to_owned(),
        // ERROR_SERVICE_DOES_NOT_EXIST
        Err(windows_service::Error::Winapi(e)) if e.raw_os_error() == Some(1060) => "not installed".to_owned(),
        Err(error) => format!("unknown ({error})"),
    }
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(error) = run_service() {
        let error = azver_core::one_line(error.as_ref());
        tracing::error!(%error, "the service failed");
        event_log_error(&format!("azver-agent service failed: {error}"));
    }
}

fn status(state: ServiceState, exit_code: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: ServiceExitCode::Win32(exit_code),
        checkpoint: 0,
        wait_hint: Duration::from_secs(5),
        process_id: None,
    }
}

fn run_service() -> anyhow::Result<()> {
    let job = JOB.get().ok_or_else(|| anyhow::anyhow!("service started without its command line"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handle = service_control_handler::register(SERVICE_NAME, move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            let _ = stop_tx.send(true);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    })?;
    handle.set_service_status(status(ServiceState::Running, 0))?;
    if let Err(error) = set_restart_on_failure() {
        tracing::warn!(%error, "cannot set restart-on-failure for the service");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(crate::supervise::supervise(
        stop_rx,
        |stop| async move {
            let (config, request) = job.load()?;
            crate::service::run(&config, &request, stop).await
        },
        |error, delay| report_error(job, error, delay),
    ));
    // A scan the stop interrupted ends at its next file read; never wait on it beyond that.
    runtime.shutdown_timeout(crate::service::BLOCKING_GRACE);
    handle.set_service_status(status(ServiceState::Stopped, 0))?;
    Ok(())
}

/// Says why the agent cannot run, everywhere an admin looks: the log file, the event log and the
/// status file (`azver-agent status`).
fn report_error(job: &ServiceArgs, error: &anyhow::Error, retry_in: Duration) {
    let error = format!("{error:#}");
    let retry = humantime::format_duration(retry_in);
    tracing::error!(%error, retry_in = %retry, "the agent cannot run; retrying");
    event_log_error(&format!(
        "azver-agent cannot run: {error}. It tries again in {retry}; fix the setting, no restart needed."
    ));
    let dir = job.state_dir();
    let recorded = crate::state::State::open(&dir).map(|state| {
        let mut status = crate::service::AgentStatus::load(&state);
        status.last_error = Some(format!("{error} (retrying in {retry})"));
        status.last_error_at = Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string());
        status.save(&state);
    });
    if let Err(error) = recorded {
        tracing::warn!(%error, path = %dir.display(), "cannot record the error in the status file");
    }
}

/// Writes an error event (id 1) to the Application log under the source `azver-agent`, which
/// the MSI registers with EventCreate.exe's messages so Event Viewer shows the text as written.
fn event_log_error(message: &str) {
    use winsafe::{HEVENTLOG, co};
    let written = HEVENTLOG::RegisterEventSource(None, SERVICE_NAME)
        .and_then(|log| log.ReportEvent(co::EVENTLOG::ERROR_TYPE, 0, 1, None, &[message], &[]));
    if let Err(error) = written {
        tracing::warn!(%error, "cannot write to the event log");
    }
}

/// Restart after 1, 2 and 5 minutes when the process dies, whether it crashed or exited with an
/// error; the failure count resets after a day.
fn set_restart_on_failure() -> windows_service::Result<()> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
    let service = manager.open_service(SERVICE_NAME, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)?;
    let restart = |minutes: u64| ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(60 * minutes),
    };
    service.update_failure_actions(ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart(1), restart(2), restart(5)]),
    })?;
    service.set_failure_actions_on_non_crash_failures(true)
}

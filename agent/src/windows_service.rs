//! Running as a Windows service: the service control manager's Stop and Shutdown become the run
//! loop's shutdown future; the service sets its own restart-on-failure (wixl's WiX subset has no
//! `util:ServiceConfig`); logs go to a rotating file under `%ProgramData%\azver\logs`.
//!
//! The installed service's command line is `azver-agent.exe run --windows-service` plus any
//! flags; configuration otherwise comes from `C:\ProgramData\azver\agent.toml` and `AZVER_*`.

use std::ffi::OsString;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept, ServiceExitCode,
    ServiceFailureActions, ServiceFailureResetPeriod, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::cli::ScanRequest;
use crate::config::AgentConfig;

/// The service's name in the service control manager (the MSI installs it under this name).
pub const SERVICE_NAME: &str = "azver-agent";

/// What the service runs, handed from `main` to the dispatcher's thread.
static JOB: OnceLock<(AgentConfig, ScanRequest)> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hands control to the service control manager; returns when the service stops.
pub fn run(config: AgentConfig, request: ScanRequest) -> anyhow::Result<()> {
    let _ = JOB.set((config, request));
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .map_err(|e| anyhow::anyhow!("cannot start as a Windows service (run it from the service manager): {e}"))
}

/// Logs to `%ProgramData%\azver\logs\agent.<date>.log`, keeping two weeks.
pub fn log_writer() -> anyhow::Result<tracing_appender::rolling::RollingFileAppender> {
    let base = std::env::var_os("ProgramData").map_or_else(|| r"C:\ProgramData".into(), std::path::PathBuf::from);
    let dir = base.join("azver").join("logs");
    std::fs::create_dir_all(&dir)?;
    Ok(tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("agent")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)?)
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(error) = run_service() {
        tracing::error!(error = %format!("{error:#}"), "the service failed");
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
    let (config, request) = JOB.get().ok_or_else(|| anyhow::anyhow!("service started without its configuration"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Mutex::new(Some(stop_tx));
    let handle = service_control_handler::register(SERVICE_NAME, move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(tx) = stop_tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
                let _ = tx.send(());
            }
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
    let result = runtime.block_on(crate::service::run(config, request, async {
        let _ = stop_rx.await;
    }));
    runtime.shutdown_timeout(crate::service::BLOCKING_GRACE);
    let code = if result.is_ok() { 0 } else { 1 };
    handle.set_service_status(status(ServiceState::Stopped, code))?;
    result
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

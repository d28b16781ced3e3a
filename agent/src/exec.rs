//! `--exec`: confirm the files' answer by running `az version -o json`. Off by default: the point
//! of azver is not to start `az` (0.4 s and 40 MiB each time).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use azver_core::{Evidence, Inventory, ScanError, ScanErrorKind};

/// Longest `az version` may take before it is killed.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `az version -o json` from PATH and checks the on-PATH installation against it.
pub(crate) fn confirm_with_az(inventory: &mut Inventory) {
    match az_version() {
        Ok(version) => {
            match inventory.installations.iter_mut().find(|i| i.on_path && i.product == azver_core::AZURE_CLI) {
                Some(install) if install.version == version => install.evidence = Evidence::AzVersion,
                Some(install) => inventory.errors.push(ScanError {
                    path: install.path.clone(),
                    kind: ScanErrorKind::ExecFailed,
                    message: format!("az version reports {version}, but the files on disk say {}", install.version),
                }),
                None => inventory.errors.push(ScanError {
                    path: "az".into(),
                    kind: ScanErrorKind::ExecFailed,
                    message: format!("az version reports {version}, but no installation on PATH was found on disk"),
                }),
            }
        }
        Err(message) => {
            inventory.errors.push(ScanError { path: "az".into(), kind: ScanErrorKind::ExecFailed, message })
        }
    }
}

fn az_version() -> Result<String, String> {
    let program = if cfg!(windows) { "az.cmd" } else { "az" };
    let mut child = Command::new(program)
        .args(["version", "-o", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start az: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > TIMEOUT => {
                let _ = child.kill();
                return Err(format!("az version did not finish within {} s", TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for az: {e}")),
        }
    }
    let output = child.wait_with_output().map_err(|e| format!("reading az's output: {e}"))?;
    if !output.status.success() {
        return Err(format!("az version failed: {}", output.status));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("az version printed no JSON: {e}"))?;
    json.get("azure-cli")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "az version's JSON has no \"azure-cli\" key".to_owned())
}

//! systemd: service units (and their drop-ins) in `/etc/systemd/system` and users'
//! `~/.config/systemd/user`; `ExecStart=` and the other `Exec*=` lines are the job's commands,
//! `User=` the account. Timers start services, so scanning every service covers them. Unit names
//! in the system and vendor folders (and `*.wants/`) also reveal CI agents' services.

use azver_core::OsFamily;

use super::command::Dialect;
use super::{JobCommand, Walk};
use crate::detect::role::{RunnerService, runner_service_ci};
use crate::host::{HostPath, Kind};

/// Folders whose services are scanned for sign-ins: the administrator's.
const SYSTEM_UNITS: &str = "/etc/systemd/system";
/// Folders only listed for CI agents' unit names: what packages install.
const VENDOR_UNITS: &[&str] = &["/lib/systemd/system", "/usr/lib/systemd/system", "/usr/local/lib/systemd/system"];
/// Keys whose values are commands.
const EXEC_KEYS: &[&str] =
    &["ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop", "ExecStopPost", "ExecReload", "ExecCondition"];

pub(super) fn scan(walk: &mut Walk<'_>) {
    if walk.host().os() != OsFamily::Linux {
        return;
    }
    let host = walk.host();
    let system = host.path(SYSTEM_UNITS);
    units(walk, &system, Some("root".into()), None, true);
    for dir in VENDOR_UNITS {
        units(walk, &host.path(dir), None, None, false);
    }
    let homes: Vec<_> = walk.cx().homes.to_vec();
    for home in homes {
        let dir = home.path.join(".config/systemd/user");
        units(walk, &dir, Some(home.user.clone()), Some(home.path.clone()), true);
    }
}

/// One unit folder: CI agents' names always; with `scan_jobs`, every service's commands.
fn units(walk: &mut Walk<'_>, dir: &HostPath, run_as: Option<String>, home: Option<HostPath>, scan_jobs: bool) {
    for name in walk.list(dir) {
        let path = dir.join(&name);
        if name.ends_with(".wants") || name.ends_with(".requires") {
            // Enabled units are links here; their names are enough.
            for unit in walk.list(&path) {
                runner(walk, &unit, &path.join(&unit));
            }
            continue;
        }
        if let Some(unit) = name.strip_suffix(".d").filter(|u| u.ends_with(".service")) {
            if scan_jobs {
                for conf in walk.list(&path).into_iter().filter(|c| c.ends_with(".conf")) {
                    service(walk, &path.join(&conf), unit, run_as.clone(), home.clone());
                }
            }
            continue;
        }
        if !name.ends_with(".service") {
            continue;
        }
        runner(walk, &name, &path);
        if scan_jobs && walk.kind(&path) == Some(Kind::File) {
            service(walk, &path, &name, run_as.clone(), home.clone());
        }
    }
}

fn runner(walk: &mut Walk<'_>, unit: &str, path: &HostPath) {
    if let Some(ci) = unit.strip_suffix(".service").and_then(runner_service_ci) {
        walk.service(RunnerService { ci, service: format!("systemd:{unit}"), path: path.to_string() });
    }
}

/// One unit file or drop-in of service `unit`.
fn service(walk: &mut Walk<'_>, path: &HostPath, unit: &str, default_user: Option<String>, home: Option<HostPath>) {
    let Some(text) = walk.read_text(path) else { return };
    let parsed = parse(&text);
    let run_as = parsed.user.map(str::to_owned).or(default_user);
    let home = home.or_else(|| run_as.as_deref().and_then(|u| walk.home_of(u)));
    let workdir = parsed
        .workdir
        .map(|w| w.trim_start_matches(['-', '!']))
        .filter(|w| w.starts_with('/'))
        .map(|w| walk.host().path(w))
        .or_else(|| home.clone());
    for (line, command) in parsed.exec {
        let job = JobCommand {
            job: format!("systemd:{unit}"),
            run_as: run_as.clone(),
            path: path.clone(),
            line: Some(line),
            text: command,
            dialect: Dialect::Shell,
            workdir: workdir.clone(),
            home: home.clone(),
        };
        walk.job(&job);
    }
}

/// What a unit file says about its service.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Unit<'a> {
    /// `User=`.
    user: Option<&'a str>,
    /// `WorkingDirectory=`.
    workdir: Option<&'a str>,
    /// Each `Exec*=` command with its line, continuations joined, prefixes (`-@:+!`) removed.
    exec: Vec<(u32, String)>,
}

pub(super) fn parse(text: &str) -> Unit<'_> {
    let mut unit = Unit::default();
    let mut section = "";
    let mut pending: Option<(u32, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if let Some((line, mut command)) = pending.take() {
            let part = raw.trim();
            let continued = part.ends_with('\\');
            command.push(' ');
            command.push_str(part.trim_end_matches('\\').trim());
            if continued && command.len() < 64 * 1024 {
                pending = Some((line, command));
            } else {
                unit.exec.push((line, command));
            }
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[Service]" {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "User" => unit.user = Some(value).filter(|v| !v.is_empty()),
            "WorkingDirectory" => unit.workdir = Some(value),
            _ if EXEC_KEYS.contains(&key) => {
                let command = value.trim_start_matches(['-', '@', ':', '+', '!']).trim();
                let continued = command.ends_with('\\');
                let command = command.trim_end_matches('\\').trim().to_owned();
                if continued {
                    pending = Some((number, command));
                } else if !command.is_empty() {
                    unit.exec.push((number, command));
                }
            }
            _ => {}
        }
    }
    unit.exec.extend(pending);
    unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_files_give_commands_user_and_folder() {
        let text = "[Unit]\nDescription=Report\nExecStart=/not/in/service\n\n[Service]\nType=oneshot\nUser=reports\nWorkingDirectory=-/srv/reports\n# ExecStart=/commented\nExecStartPre=-/usr/bin/true\nExecStart=/usr/bin/az login \\\n    -u ops -p x\n";
        let unit = parse(text);
        assert_eq!(unit.user, Some("reports"));
        assert_eq!(unit.workdir, Some("-/srv/reports"));
        assert_eq!(unit.exec, [(10, "/usr/bin/true".to_owned()), (11, "/usr/bin/az login -u ops -p x".to_owned())]);
    }
}

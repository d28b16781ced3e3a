//! Jenkins: job definitions `JENKINS_HOME/jobs/**/config.xml` (folders and multibranch branches
//! included). Build steps are the commands: `hudson.tasks.Shell` (sh), `hudson.tasks.BatchFile`
//! (cmd), the PowerShell plugin's step, and a pipeline's inline `script`. The job's name is its
//! full name: `jenkins:team/deploy-prod`.

use azver_core::{OsFamily, ScanErrorKind};

use super::command::Dialect;
use super::xml;
use super::{JobCommand, MAX_WALK_DEPTH, Walk};
use crate::host::{HostPath, Kind};

/// Where Jenkins keeps its home on each OS, besides `JENKINS_HOME` and `~/.jenkins`.
const LINUX_MAC_HOMES: &[&str] = &["/var/lib/jenkins", "/var/jenkins_home", "/Users/Shared/Jenkins/Home"];
const WINDOWS_HOMES: &[&str] = &[
    r"ProgramData\Jenkins\.jenkins",
    r"Program Files\Jenkins",
    r"Program Files (x86)\Jenkins",
    r"Windows\System32\config\systemprofile\AppData\Local\Jenkins\.jenkins",
    r"Jenkins",
];

pub(super) fn scan(walk: &mut Walk<'_>) {
    let host = walk.host();
    let mut homes: Vec<HostPath> = Vec::new();
    if let Some(home) = host.env("JENKINS_HOME") {
        homes.push(host.path(home));
    }
    if host.os() == OsFamily::Windows {
        homes.extend(WINDOWS_HOMES.iter().map(|h| host.system_root().join(h)));
    } else {
        homes.extend(LINUX_MAC_HOMES.iter().map(|h| host.path(h)));
    }
    homes.extend(walk.cx().homes.iter().map(|h| h.path.join(".jenkins")));
    let mut seen = Vec::new();
    for home in homes {
        let Ok((_, resolved)) = host.resolve(&home) else { continue };
        if seen.contains(&resolved) {
            continue;
        }
        seen.push(resolved);
        jobs(walk, &home.join("jobs"), "", 0);
    }
}

/// A `jobs` folder: each child is a job (with `config.xml`) and may hold more (`jobs/`,
/// `branches/`).
fn jobs(walk: &mut Walk<'_>, dir: &HostPath, prefix: &str, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        walk.error(
            dir,
            ScanErrorKind::TooLarge,
            format!("Jenkins folders nested deeper than {MAX_WALK_DEPTH}; not read"),
        );
        return;
    }
    for name in walk.list(dir) {
        let job_dir = dir.join(&name);
        if walk.kind(&job_dir) != Some(Kind::Dir) {
            continue;
        }
        let full = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let config = job_dir.join("config.xml");
        if walk.kind(&config) == Some(Kind::File) {
            definition(walk, &config, &full);
        }
        for nested in ["jobs", "branches"] {
            let below = job_dir.join(nested);
            if walk.kind(&below) == Some(Kind::Dir) {
                jobs(walk, &below, &full, depth + 1);
            }
        }
    }
}

fn definition(walk: &mut Walk<'_>, path: &HostPath, name: &str) {
    let Some(bytes) = walk.read(path) else { return };
    let steps = xml::decode(&bytes).map_err(|e| e.to_string()).and_then(|text| {
        xml::elements(&text, |p| matches!(p.last().map(String::as_str), Some("command" | "script")))
            .map_err(|e| e.to_string())
    });
    let steps = match steps {
        Ok(steps) => steps,
        Err(message) => {
            return walk.error(path, ScanErrorKind::Io, format!("Jenkins job definition unreadable: {message}"));
        }
    };
    for step in steps {
        let parent = step.path.iter().rev().nth(1).map(String::as_str).unwrap_or("");
        let dialect = if parent.contains("BatchFile") {
            Dialect::Cmd
        } else if parent.to_ascii_lowercase().contains("powershell") {
            Dialect::PowerShell
        } else if parent.ends_with(".Shell") || parent == "hudson.tasks.Shell" {
            Dialect::Shell
        } else {
            Dialect::Any
        };
        let job = JobCommand {
            job: format!("jenkins:{name}"),
            run_as: None,
            path: path.clone(),
            line: Some(step.line),
            text: step.text,
            dialect,
            workdir: None,
            home: None,
        };
        walk.job(&job);
    }
}

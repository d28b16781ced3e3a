//! launchd: property lists in `/Library/LaunchDaemons`, `/Library/LaunchAgents` and users'
//! `~/Library/LaunchAgents`, XML or binary. `ProgramArguments` (or `Program`) is the command,
//! `UserName` the account (daemons run as root without it, user agents as their owner), `Label`
//! the job's name. Read as an event stream with a depth limit, never as a whole tree.

use std::io::Cursor;

use azver_core::{OsFamily, ScanErrorKind};
use plist::stream::{Event, Reader};

use super::command::Dialect;
use super::{JobCommand, Walk};
use crate::detect::role::{RunnerService, runner_service_ci};
use crate::host::{HostPath, Kind};

/// Deepest nesting of arrays and dictionaries read; launchd's own keys stay under 5.
const MAX_DEPTH: usize = 32;
/// Most events read from one property list.
const MAX_EVENTS: usize = 100_000;

pub(super) fn scan(walk: &mut Walk<'_>) {
    if walk.host().os() != OsFamily::Macos {
        return;
    }
    let host = walk.host();
    folder(walk, &host.path("/Library/LaunchDaemons"), Some("root".into()));
    folder(walk, &host.path("/Library/LaunchAgents"), None);
    let homes: Vec<_> = walk.cx().homes.to_vec();
    for home in homes {
        folder(walk, &home.path.join("Library/LaunchAgents"), Some(home.user.clone()));
    }
}

fn folder(walk: &mut Walk<'_>, dir: &HostPath, default_user: Option<String>) {
    for name in walk.list(dir) {
        if !name.ends_with(".plist") {
            continue;
        }
        let path = dir.join(&name);
        if walk.kind(&path) != Some(Kind::File) {
            continue;
        }
        let Some(bytes) = walk.read(&path) else { continue };
        let job = match parse(&bytes) {
            Ok(job) => job,
            Err(message) => {
                walk.error(&path, ScanErrorKind::Io, message);
                continue;
            }
        };
        let label = job.label.clone().unwrap_or_else(|| name.trim_end_matches(".plist").to_owned());
        if let Some(ci) = runner_service_ci(&label) {
            walk.service(RunnerService { ci, service: format!("launchd:{label}"), path: path.to_string() });
        }
        let Some(text) = job.command() else { continue };
        let run_as = job.user.clone().or(default_user.clone());
        let home = run_as.as_deref().and_then(|u| walk.home_of(u));
        // XML property lists have lines; a binary one does not.
        let line = std::str::from_utf8(&bytes).ok().and_then(|xml| {
            let key = if job.arguments.is_empty() { "<key>Program</key>" } else { "<key>ProgramArguments</key>" };
            let at = xml.find(key)?;
            u32::try_from(xml.get(..at)?.bytes().filter(|b| *b == b'\n').count() + 1).ok()
        });
        let workdir = job.workdir.as_deref().filter(|w| w.starts_with('/')).map(|w| walk.host().path(w));
        let command = JobCommand {
            job: format!("launchd:{label}"),
            run_as,
            path,
            line,
            text,
            dialect: Dialect::Any,
            workdir: workdir.or_else(|| home.clone()),
            home,
        };
        walk.job(&command);
    }
}

/// What a launchd job says.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct LaunchJob {
    label: Option<String>,
    program: Option<String>,
    arguments: Vec<String>,
    user: Option<String>,
    workdir: Option<String>,
}

impl LaunchJob {
    /// The command line: the arguments quoted for a shell, so `sh -c '...'` stays one word.
    fn command(&self) -> Option<String> {
        if self.arguments.is_empty() {
            return self.program.clone();
        }
        let quoted: Vec<String> = self
            .arguments
            .iter()
            .map(|a| {
                if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c)) {
                    a.clone()
                } else if !a.contains('\'') {
                    format!("'{a}'")
                } else {
                    format!("\"{}\"", a.replace('"', "\\\""))
                }
            })
            .collect();
        Some(quoted.join(" "))
    }
}

/// Reads the top-level keys launchd uses. Errors never quote the file.
pub(super) fn parse(bytes: &[u8]) -> Result<LaunchJob, String> {
    let mut job = LaunchJob::default();
    let mut depth = 0usize;
    let mut key: Option<String> = None;
    let mut expecting_key = false;
    let mut in_arguments = false;
    let reader = Reader::new(Cursor::new(bytes));
    for (count, event) in reader.enumerate() {
        if count > MAX_EVENTS {
            return Err(format!("property list has more than {MAX_EVENTS} values; not read"));
        }
        let event = event.map_err(|_| "property list is neither valid XML nor a valid binary plist".to_owned())?;
        match event {
            Event::StartDictionary(_) | Event::StartArray(_) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("property list nested deeper than {MAX_DEPTH}; not read"));
                }
                in_arguments = depth == 2 && key.as_deref() == Some("ProgramArguments");
                expecting_key = matches!(event, Event::StartDictionary(_)) && depth == 1;
                if depth == 2 {
                    key = None;
                }
            }
            Event::EndCollection => {
                depth = depth.saturating_sub(1);
                in_arguments = false;
                expecting_key = depth == 1;
            }
            Event::String(s) if depth == 1 && expecting_key => {
                key = Some(s.into_owned());
                expecting_key = false;
            }
            Event::String(s) if depth == 1 => {
                let value = s.into_owned();
                match key.take().as_deref() {
                    Some("Label") => job.label = Some(value),
                    Some("Program") => job.program = Some(value),
                    Some("UserName") => job.user = Some(value),
                    Some("WorkingDirectory") => job.workdir = Some(value),
                    _ => {}
                }
                expecting_key = true;
            }
            Event::String(s) if in_arguments => job.arguments.push(s.into_owned()),
            _ if depth == 1 && !expecting_key => {
                key = None;
                expecting_key = true;
            }
            _ => {}
        }
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_launchd_keys_from_xml_and_binary() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>Label</key><string>com.contoso.sync</string>
  <key>RunAtLoad</key><true/>
  <key>EnvironmentVariables</key><dict><key>Label</key><string>not-me</string></dict>
  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>az login -u a -p 'b c'</string></array>
  <key>UserName</key><string>ops</string>
</dict></plist>"#;
        let job = parse(xml).unwrap();
        assert_eq!(job.label.as_deref(), Some("com.contoso.sync"));
        assert_eq!(job.user.as_deref(), Some("ops"));
        assert_eq!(job.command().as_deref(), Some(r#"/bin/sh -c "az login -u a -p 'b c'""#));
        let value = plist::Value::from_reader(Cursor::new(&xml[..])).unwrap();
        let mut binary = Vec::new();
        value.to_writer_binary(&mut binary).unwrap();
        assert_eq!(parse(&binary).unwrap(), job);
        assert!(parse(b"<plist><dict><key>Label</string></plist>").is_err());
    }
}

//! Windows Task Scheduler: every task definition under `C:\Windows\System32\Tasks` (XML, usually
//! UTF-16 with a byte-order mark). `Actions/Exec/Command` and `Arguments` are the command,
//! `Principals/Principal/UserId` the account, `WorkingDirectory` the folder relative scripts are
//! found in. The job's name is the task's path: `task:\Ops\Rotate`.

use azver_core::{OsFamily, ScanErrorKind};

use super::command::Dialect;
use super::xml::{self, Element};
use super::{JobCommand, MAX_WALK_DEPTH, Walk};
use crate::host::{HostPath, Kind};

pub(super) fn scan(walk: &mut Walk<'_>) {
    if walk.host().os() != OsFamily::Windows {
        return;
    }
    let root = walk.host().system_root().join(r"Windows\System32\Tasks");
    folder(walk, &root, "", 0);
}

fn folder(walk: &mut Walk<'_>, dir: &HostPath, name: &str, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        walk.error(dir, ScanErrorKind::TooLarge, format!("task folders nested deeper than {MAX_WALK_DEPTH}; not read"));
        return;
    }
    for entry in walk.list(dir) {
        let path = dir.join(&entry);
        let task = format!(r"{name}\{entry}");
        match walk.kind(&path) {
            Some(Kind::Dir) => folder(walk, &path, &task, depth + 1),
            Some(Kind::File) => definition(walk, &path, &task),
            _ => {}
        }
    }
}

/// One task definition file.
fn definition(walk: &mut Walk<'_>, path: &HostPath, task: &str) {
    let Some(bytes) = walk.read(path) else { return };
    let text = match xml::decode(&bytes) {
        Ok(text) => text,
        Err(e) => return walk.error(path, ScanErrorKind::Io, format!("task definition unreadable: {e}")),
    };
    let wanted = |p: &[String]| {
        matches!(
            p,
            [_, a, b, c] if (a == "Principals" && b == "Principal" && c == "UserId")
                || (a == "Actions" && b == "Exec" && matches!(c.as_str(), "Command" | "Arguments" | "WorkingDirectory"))
        ) || matches!(p, [_, a, b] if a == "Actions" && b == "Exec")
    };
    let elements = match xml::elements(&text, wanted) {
        Ok(elements) => elements,
        Err(e) => return walk.error(path, ScanErrorKind::Io, format!("task definition unreadable: {e}")),
    };
    let run_as = elements.iter().find(|e| e.path.last().is_some_and(|n| n == "UserId")).map(|e| account(e.text.trim()));
    // Each `<Exec>` closes after its children; gather the children seen since the last one.
    let mut command: Option<&Element> = None;
    let mut arguments: Option<&Element> = None;
    let mut workdir: Option<&Element> = None;
    for element in &elements {
        match element.path.last().map(String::as_str) {
            Some("Command") => command = Some(element),
            Some("Arguments") => arguments = Some(element),
            Some("WorkingDirectory") => workdir = Some(element),
            Some("Exec") => {
                if let Some(command) = command.take() {
                    let program = command.text.trim();
                    let program = if program.contains(' ') && !program.starts_with('"') {
                        format!("\"{program}\"")
                    } else {
                        program.to_owned()
                    };
                    let args = arguments.take();
                    let text = match args {
                        Some(a) => format!("{program} {}", a.text.trim()),
                        None => program,
                    };
                    let workdir = workdir.take().map(|w| w.text.trim().trim_matches('"').to_owned());
                    let workdir =
                        workdir.filter(|w| w.get(1..3).is_some_and(|s| s == ":\\")).map(|w| walk.host().path(&w));
                    let job = JobCommand {
                        job: format!("task:{task}"),
                        run_as: run_as.clone(),
                        path: path.clone(),
                        line: Some(args.map_or(command.line, |a| a.line)),
                        text,
                        dialect: Dialect::Any,
                        workdir,
                        home: run_as.as_deref().and_then(|u| walk.home_of(u.rsplit('\\').next().unwrap_or(u))),
                    };
                    walk.job(&job);
                }
                arguments = None;
                workdir = None;
            }
            _ => {}
        }
    }
}

/// The account a `UserId` names; well-known SIDs by name.
fn account(user: &str) -> String {
    match user {
        "S-1-5-18" => r"NT AUTHORITY\SYSTEM".into(),
        "S-1-5-19" => r"NT AUTHORITY\LOCAL SERVICE".into(),
        "S-1-5-20" => r"NT AUTHORITY\NETWORK SERVICE".into(),
        other => other.to_owned(),
    }
}

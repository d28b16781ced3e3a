//! cron: `/etc/crontab` and `/etc/cron.d/*` (with a user field), users' crontabs
//! (`/var/spool/cron/crontabs/USER` on Debian, `/var/spool/cron/USER` on RHEL,
//! `/usr/lib/cron/tabs/USER` and `/var/at/tabs/USER` on macOS) and the `run-parts` folders
//! `/etc/cron.{hourly,daily,weekly,monthly}`, whose files are the jobs themselves.

use azver_core::OsFamily;

use super::command::Dialect;
use super::{JobCommand, Walk};
use crate::host::{HostPath, Kind};

/// Crontabs whose lines name the user to run as.
const SYSTEM_TABLES: &[&str] = &["/etc/crontab"];
/// Folders of crontabs with a user field.
const SYSTEM_TABLE_DIRS: &[&str] = &["/etc/cron.d"];
/// Folders of per-user crontabs, one file per account, named after it.
const USER_TABLE_DIRS: &[&str] = &["/var/spool/cron/crontabs", "/var/spool/cron", "/usr/lib/cron/tabs", "/var/at/tabs"];
/// Folders whose files `run-parts` runs as root.
const PERIODIC_DIRS: &[&str] = &["/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly"];

pub(super) fn scan(walk: &mut Walk<'_>) {
    if walk.host().os() == OsFamily::Windows {
        return;
    }
    let host = walk.host();
    for table in SYSTEM_TABLES {
        table_file(walk, &host.path(table), None);
    }
    for dir in SYSTEM_TABLE_DIRS.iter().map(|d| host.path(d)) {
        for name in walk.list(&dir) {
            if skipped_name(&name) {
                continue;
            }
            table_file(walk, &dir.join(&name), None);
        }
    }
    for dir in USER_TABLE_DIRS.iter().map(|d| host.path(d)) {
        for name in walk.list(&dir) {
            if skipped_name(&name) {
                continue;
            }
            let path = dir.join(&name);
            if walk.kind(&path) == Some(Kind::File) {
                table_file(walk, &path, Some(name));
            }
        }
    }
    for dir in PERIODIC_DIRS.iter().map(|d| host.path(d)) {
        for name in walk.list(&dir) {
            if skipped_name(&name) {
                continue;
            }
            let path = dir.join(&name);
            if walk.kind(&path) != Some(Kind::File) {
                continue;
            }
            let job = JobCommand {
                job: format!("cron:{path}"),
                run_as: Some("root".into()),
                path: path.clone(),
                line: Some(1),
                text: String::new(),
                dialect: Dialect::Shell,
                workdir: Some(dir.clone()),
                home: walk.home_of("root"),
            };
            walk.job_script(&job);
        }
    }
}

/// Names cron and `run-parts` ignore: hidden files, editor backups, package manager leftovers.
fn skipped_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [".dpkg-old", ".dpkg-dist", ".dpkg-new", ".rpmsave", ".rpmnew", ".swp", ".placeholder"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || name == "crontabs"
}

/// One crontab: `owner` is the account for a user crontab, `None` for a system one (each line
/// names its user).
fn table_file(walk: &mut Walk<'_>, path: &HostPath, owner: Option<String>) {
    let Some(text) = walk.read_text(path) else { return };
    let mut env = String::new();
    for entry in parse(&text, owner.is_none()) {
        match entry {
            Entry::Variable(line) => {
                env.push_str(line);
                env.push('\n');
            }
            Entry::Job { line, user, command } => {
                let run_as = owner.clone().or(user.map(str::to_owned));
                let home = run_as.as_deref().and_then(|u| walk.home_of(u));
                // The table's variables come first so that `-p "$SECRET"` knows whether
                // SECRET was written into the table; only the last line can hold a hit.
                let lines_before = u32::try_from(env.lines().count()).unwrap_or(0);
                let text = format!("{env}{command}");
                let job = JobCommand {
                    job: format!("cron:{path}"),
                    run_as,
                    path: path.clone(),
                    line: Some(line.saturating_sub(lines_before)),
                    text,
                    dialect: Dialect::Shell,
                    workdir: home.clone(),
                    home,
                };
                walk.job(&job);
            }
        }
    }
}

/// A meaningful crontab line.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Entry<'a> {
    /// `NAME=value`.
    Variable(&'a str),
    /// A schedule and the command it runs (cut at the first unescaped `%`, after which cron
    /// feeds the rest to the command's standard input).
    Job { line: u32, user: Option<&'a str>, command: String },
}

pub(super) fn parse(text: &str, with_user: bool) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let first = line.split_whitespace().next().unwrap_or("");
        if !first.starts_with('@') && !first.starts_with(|c: char| c.is_ascii_digit() || c == '*') {
            if line.contains('=') {
                out.push(Entry::Variable(line));
            }
            continue;
        }
        let fields = if first.starts_with('@') { 1 } else { 5 } + usize::from(with_user);
        let mut rest = line;
        let mut user = None;
        for field in 0..fields {
            let trimmed = rest.trim_start();
            let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
            if with_user && field == fields - 1 {
                user = trimmed.get(..end).filter(|u| !u.is_empty());
            }
            rest = trimmed.get(end..).unwrap_or("");
        }
        let command = cut_at_percent(rest.trim()).trim_end().to_owned();
        if !command.is_empty() {
            out.push(Entry::Job { line: number, user, command });
        }
    }
    out
}

fn cut_at_percent(command: &str) -> String {
    let mut out = String::new();
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                out.push('%');
                chars.next();
            }
            '%' => break,
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crontab_lines_schedules_users_and_percent_signs() {
        let table = "# m h dom mon dow user command\nSHELL=/bin/sh\n\n17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n@daily deploy /opt/jobs/sync.sh --since \"$(date +\\%F)\" % stdin text\n*/5 * * * * \n";
        assert_eq!(
            parse(table, true),
            [
                Entry::Variable("SHELL=/bin/sh"),
                Entry::Job {
                    line: 4,
                    user: Some("root"),
                    command: "cd / && run-parts --report /etc/cron.hourly".into()
                },
                Entry::Job {
                    line: 5,
                    user: Some("deploy"),
                    command: "/opt/jobs/sync.sh --since \"$(date +%F)\"".into()
                },
            ]
        );
        assert_eq!(
            parse("0 2 * * 1-5 az login -u a -p b\n", false),
            [Entry::Job { line: 1, user: None, command: "az login -u a -p b".into() }]
        );
    }
}

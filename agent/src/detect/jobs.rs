//! Scheduled jobs that sign in to Azure: cron, systemd, Windows Task Scheduler, launchd and
//! Jenkins job definitions, and the scripts they run (one level deep).
//!
//! Each source lives in its own module and only finds *job commands* (a text, the file and line
//! it came from, the job's name and the account it runs as); [`command`] decides what in a
//! command is a sign-in. Every read goes through [`HostView`], so `--root` scans see the image's
//! jobs, and through one [`Budget`], so a host with a hundred thousand tasks costs a bounded
//! scan. What leaves this module is a [`JobSignIn`] whose command is already redacted: no
//! password, secret, token or file content is kept, logged or reported.
//!
//! The same definitions reveal CI agents installed anywhere (a systemd unit
//! `actions.runner.*.service`, a launchd job `actions.runner.*`): those are recorded as
//! [`RunnerService`]s for the role.

pub mod command;
mod cron;
mod jenkins;
mod launchd;
mod systemd;
mod tasks;
pub mod xml;

use std::collections::BTreeMap;
use std::rc::Rc;

use azver_core::{JobSignIn, OsFamily, ScanError, ScanErrorKind};

use self::command::{Dialect, Hit};
use super::role::RunnerService;
use super::{Detection, Detector, ScanContext};
use crate::host::{FsError, HostPath, HostView, Kind};

/// Most files the job scan reads (definitions and scripts together).
pub const MAX_FILES: usize = 20_000;
/// Most bytes the job scan reads in all.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Largest job definition or script read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most entries listed in one folder.
pub const MAX_ENTRIES: usize = 50_000;
/// Deepest folder nesting walked (Task Scheduler folders, Jenkins folders).
pub const MAX_WALK_DEPTH: usize = 16;

/// The jobs detector.
#[derive(Debug)]
pub struct Jobs;

impl Detector for Jobs {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn detect(&self, cx: &ScanContext<'_>, out: &mut Detection) {
        let mut walk = Walk::new(cx);
        walk.all_sources();
        let Walk { sign_ins, errors, services, .. } = walk;
        out.job_sign_ins.extend(sign_ins);
        out.errors.extend(errors);
        out.runner_services.extend(services);
    }
}

/// A command a job runs, as its definition states it.
#[derive(Debug, Clone)]
pub struct JobCommand {
    /// `cron:/etc/cron.d/nightly`, `task:\Ops\Rotate`, ...
    pub job: String,
    /// The account the job runs as, where the definition says.
    pub run_as: Option<String>,
    /// The definition file.
    pub path: HostPath,
    /// Line of the definition where `text` starts (1-based), if the format has lines.
    pub line: Option<u32>,
    /// The command text.
    pub text: String,
    /// Its language.
    pub dialect: Dialect,
    /// The folder relative script paths are resolved against.
    pub workdir: Option<HostPath>,
    /// The home of the account the job runs as (for `~/` and `$HOME/`).
    pub home: Option<HostPath>,
}

/// The read budget of one job scan; see [`MAX_FILES`] and [`MAX_BYTES`].
#[derive(Debug)]
struct Budget {
    files: usize,
    bytes: u64,
    max_files: usize,
    max_bytes: u64,
    spent: bool,
}

/// One job scan in progress.
pub struct Walk<'a> {
    cx: &'a ScanContext<'a>,
    budget: Budget,
    sign_ins: Vec<JobSignIn>,
    errors: Vec<ScanError>,
    services: Vec<RunnerService>,
    /// Scripts already read, by resolved path: each is read once however many jobs run it.
    scripts: BTreeMap<HostPath, Rc<Vec<Hit>>>,
}

impl std::fmt::Debug for Walk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk").field("budget", &self.budget).field("sign_ins", &self.sign_ins.len()).finish()
    }
}

impl<'a> Walk<'a> {
    fn new(cx: &'a ScanContext<'a>) -> Self {
        Self::with_budget(cx, MAX_FILES, MAX_BYTES)
    }

    /// A walk with its own budget (tests use a small one).
    fn with_budget(cx: &'a ScanContext<'a>, max_files: usize, max_bytes: u64) -> Self {
        Self {
            cx,
            budget: Budget { files: 0, bytes: 0, max_files, max_bytes, spent: false },
            sign_ins: Vec::new(),
            errors: Vec::new(),
            services: Vec::new(),
            scripts: BTreeMap::new(),
        }
    }

    /// Reads every job source.
    fn all_sources(&mut self) {
        cron::scan(self);
        systemd::scan(self);
        tasks::scan(self);
        launchd::scan(self);
        jenkins::scan(self);
    }

    /// The host being scanned.
    pub fn host(&self) -> &'a HostView {
        self.cx.host
    }

    /// The scan's context (homes, options).
    pub fn cx(&self) -> &'a ScanContext<'a> {
        self.cx
    }

    /// Records a CI agent service.
    pub fn service(&mut self, service: RunnerService) {
        if !self.services.contains(&service) {
            self.services.push(service);
        }
    }

    /// Records an error about `path`.
    pub fn error(&mut self, path: &HostPath, kind: ScanErrorKind, message: impl Into<String>) {
        self.errors.push(ScanError { path: path.to_string(), kind, message: message.into() });
    }

    /// Names in a folder (sorted); a missing folder is empty, an unreadable one an error.
    pub fn list(&mut self, dir: &HostPath) -> Vec<String> {
        match self.host().list(dir) {
            Ok(mut names) => {
                if names.len() > MAX_ENTRIES {
                    self.error(
                        dir,
                        ScanErrorKind::TooLarge,
                        format!("{} entries; only the first {MAX_ENTRIES} were read", names.len()),
                    );
                    names.truncate(MAX_ENTRIES);
                }
                names
            }
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) if e.kind == ScanErrorKind::WrongFileType => Vec::new(),
            Err(e) => {
                self.errors.push(e.at(dir));
                Vec::new()
            }
        }
    }

    /// What a path is; `None` when missing or unreadable (the latter recorded).
    pub fn kind(&mut self, path: &HostPath) -> Option<Kind> {
        match self.host().kind(path) {
            Ok(kind) => Some(kind),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                self.errors.push(e.at(path));
                None
            }
        }
    }

    /// Reads a file within the budget; `None` (with an error recorded, except for a missing
    /// file or a masked systemd unit) when it cannot be read.
    pub fn read(&mut self, path: &HostPath) -> Option<Vec<u8>> {
        if self.budget.files >= self.budget.max_files || self.budget.bytes >= self.budget.max_bytes {
            if !self.budget.spent {
                self.budget.spent = true;
                self.error(
                    path,
                    ScanErrorKind::TooLarge,
                    format!(
                        "the job scan's budget ({} files, {} MiB) is spent; this and later job files were not read",
                        self.budget.max_files,
                        self.budget.max_bytes / 1024 / 1024
                    ),
                );
            }
            return None;
        }
        match self.host().read_limited(path, MAX_FILE_BYTES) {
            Ok(bytes) => {
                self.budget.files += 1;
                self.budget.bytes += bytes.len() as u64;
                Some(bytes)
            }
            Err(e) if e.is_not_found() => None,
            Err(FsError { kind: ScanErrorKind::WrongFileType, .. }) => None,
            Err(e) => {
                self.errors.push(e.at(path));
                None
            }
        }
    }

    /// Reads a text file (UTF-8, or UTF-16 with a byte-order mark); invalid UTF-8 is replaced,
    /// never reported with its content.
    pub fn read_text(&mut self, path: &HostPath) -> Option<String> {
        let bytes = self.read(path)?;
        Some(match xml::decode(&bytes) {
            Ok(text) => text,
            Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// Scans a job's command, and the scripts it runs.
    pub fn job(&mut self, job: &JobCommand) {
        let keep_names = self.cx.report_account_names;
        for hit in command::scan(&job.text, job.dialect, keep_names) {
            let line = job.line.map(|l| l.saturating_add(hit.line.saturating_sub(1)));
            self.push(job, &job.path, line, &hit);
        }
        for reference in command::script_refs(&job.text, job.dialect) {
            if let Some(path) = self.resolve_script(&reference, job) {
                self.follow(job, &path);
            }
        }
    }

    /// Scans a file that is itself the job (`/etc/cron.daily/backup`), and the scripts it runs.
    pub fn job_script(&mut self, job: &JobCommand) {
        let Some(text) = self.read_text(&job.path) else { return };
        let first = text.lines().next().unwrap_or("");
        let dialect = Dialect::of_script(job.path.file_name(), first);
        let job = JobCommand { text, dialect, line: Some(1), ..job.clone() };
        self.job(&job);
    }

    fn push(&mut self, job: &JobCommand, path: &HostPath, line: Option<u32>, hit: &Hit) {
        let sign_in = JobSignIn {
            product: hit.product.to_owned(),
            path: path.to_string(),
            line,
            job: job.job.clone(),
            run_as: job.run_as.clone(),
            command: hit.command.clone(),
            kind: hit.kind,
        };
        if !self.sign_ins.contains(&sign_in) {
            self.sign_ins.push(sign_in);
        }
    }

    /// Reads a script a job runs (once per scan) and records its sign-ins under the job.
    fn follow(&mut self, job: &JobCommand, path: &HostPath) {
        let hits = match self.scripts.get(path) {
            Some(hits) => Rc::clone(hits),
            None => {
                let hits = Rc::new(match self.read_text(path) {
                    Some(text) => {
                        let dialect = Dialect::of_script(path.file_name(), text.lines().next().unwrap_or(""));
                        command::scan(&text, dialect, self.cx.report_account_names)
                    }
                    None => Vec::new(),
                });
                self.scripts.insert(path.clone(), Rc::clone(&hits));
                hits
            }
        };
        for hit in hits.iter() {
            self.push(job, path, Some(hit.line), hit);
        }
    }

    /// The host path of a script reference, if it names a regular file: absolute, `~/` or
    /// `$HOME/` (against the job's home), or relative to the job's working folder.
    fn resolve_script(&mut self, reference: &str, job: &JobCommand) -> Option<HostPath> {
        let host = self.host();
        let windows = host.os() == OsFamily::Windows;
        let home_relative = ["~/", "$HOME/", "${HOME}/"].iter().find_map(|p| reference.strip_prefix(p));
        let path = if let Some(rest) = home_relative {
            job.home.as_ref()?.join(rest)
        } else if reference.starts_with('/') && !windows {
            host.path(reference)
        } else if windows && reference.get(1..3).is_some_and(|s| s == ":\\" || s == ":/") {
            host.path(reference)
        } else if reference.starts_with(['/', '\\']) {
            host.path(reference)
        } else {
            job.workdir.as_ref()?.join(reference.trim_start_matches("./").trim_start_matches(".\\"))
        };
        (self.kind(&path)? == Kind::File).then_some(path)
    }

    /// Homes by account name.
    pub fn home_of(&self, user: &str) -> Option<HostPath> {
        self.cx.homes.iter().find(|h| h.user == user).map(|h| h.path.clone())
    }
}

#[cfg(test)]
mod tests;

//! The harness of azver's end-to-end tests: find the built binaries, start a real collector on
//! `127.0.0.1:0` with a temporary database, run agent and collector commands, read their output.
//!
//! Nothing here is mocked: every helper starts the release-shaped binaries that
//! `cargo build --workspace --bins` put next to the test executable (`target/<profile>/`).
//! `scripts/test.sh` builds them before `cargo test`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Environment variables the binaries read; removed so the developer's shell cannot change a test.
pub const AZVER_ENV: &[&str] = &[
    "AZVER_DB",
    "AZVER_COLLECTOR",
    "AZVER_STATE_DIR",
    "AZVER_LOG",
    "AZVER_LOG_FORMAT",
    "AZVER_CONFIG",
    "AZVER_INTERVAL",
    "AZVER_MAX_BACKOFF",
    "AZVER_TIMEOUT",
    "AZVER_HOSTNAME",
    "AZVER_LABELS",
    "AZVER_ROLE",
    "AZVER_REPORT_ACCOUNT_NAMES",
    "AZVER_SPOOL_MAX_REPORTS",
    "AZVER_SPOOL_MAX_BYTES",
    // A proxy in the caller's environment would reroute the agents' 127.0.0.1 traffic; the proxy
    // test sets these itself.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// The workspace root (the folder holding `proto/` and `agent/testdata/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace root").to_owned()
}

/// Path of a built workspace binary (`azver-agent`, `azver-collector`).
///
/// The test executable lives in `target/<profile>/deps/`; `cargo build --bins` puts the binaries
/// one folder up. Cargo does not build them for an integration test of another package, so a
/// missing binary is a setup error with a clear fix, not a test failure to debug.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("the test executable sits in target/<profile>/deps");
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} does not exist: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A path as a command-line argument (temporary and fixture paths are UTF-8).
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// The root of an agent fixture tree, `agent/testdata/<case>/root`.
pub fn fixture_root(case: &str) -> PathBuf {
    let root = repo_root().join("agent/testdata").join(case).join("root");
    assert!(root.is_dir(), "fixture {} is missing", root.display());
    root
}

/// The `expected.json` of an agent fixture tree.
pub fn fixture_expected(case: &str) -> Value {
    let path = repo_root().join("agent/testdata").join(case).join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The outcome of one finished command.
#[derive(Debug)]
pub struct Run {
    /// What was run, for failure messages.
    pub command: String,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output, raw.
    pub bytes: Vec<u8>,
    /// Standard output as text (lossy).
    pub stdout: String,
    /// Standard error as text (lossy).
    pub stderr: String,
}

impl Run {
    /// Panics with the command's output unless it exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "{} exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        );
        self
    }

    /// Standard output parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "{} did not print JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
                self.command, self.stdout, self.stderr
            )
        })
    }
}

/// Runs a binary to completion with the azver environment variables removed.
pub fn run(binary: &Path, args: &[&str]) -> Run {
    run_with_env(binary, args, &[])
}

/// Runs a binary to completion with the azver environment variables removed, then `env` set.
pub fn run_with_env(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(binary);
    command.args(args).stdin(Stdio::null());
    for name in AZVER_ENV {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let output = output_within(&mut command, COMMAND_LIMIT, &format!("{name} {}", args.join(" ")));
    Run {
        command: format!("{name} {}", args.join(" ")),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        bytes: output.stdout,
    }
}

/// How long one command run by [`run`] may take before the test kills it and fails: far above
/// what any command needs, so only a hang reaches it (and CI gets a named failure, not a stall).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(180);

/// Runs `command` to completion like [`Command::output`], but kills it (and its process group
/// when it made one) and panics naming `what` if it has not exited within `limit`. Output is read
/// on threads so a chatty child never blocks on a full pipe.
#[track_caller]
pub fn output_within(command: &mut Command, limit: Duration, what: &str) -> std::process::Output {
    use std::io::Read as _;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {limit:?}: killed (a hang, not a slow machine)");
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    std::process::Output { status, stdout, stderr }
}

/// Runs `azver-agent ARGS`.
pub fn agent(args: &[&str]) -> Run {
    run(&bin("azver-agent"), args)
}

/// Runs `azver-collector ARGS`.
pub fn collector_cli(args: &[&str]) -> Run {
    run(&bin("azver-collector"), args)
}

/// One simulated host: a fixture tree, its own agent state dir, a host name.
#[derive(Debug, Clone)]
pub struct SimHost {
    /// Fixture case under `agent/testdata/`.
    pub case: String,
    /// `linux`, `windows` or `macos`.
    pub os: String,
    /// The agent's state dir (host id and sequence).
    pub state_dir: PathBuf,
    /// Host name to report.
    pub hostname: String,
    /// Extra flags for `report --once` (`--role`, `--label`).
    pub extra: Vec<String>,
}

impl SimHost {
    /// A Linux host scanning `case`, with its state under `dir/<hostname-derived folder>`.
    pub fn new(dir: &Path, case: &str, hostname: &str) -> Self {
        // Host names may hold anything (`<script>`, `=1+1`); the state folder needs a safe name.
        let safe: String = hostname.chars().take(40).map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let mut state_dir = dir.join(format!("state-{safe}"));
        let mut n = 1;
        while state_dir.exists() {
            n += 1;
            state_dir = dir.join(format!("state-{safe}-{n}"));
        }
        std::fs::create_dir_all(&state_dir).expect("create the state dir");
        Self { case: case.into(), os: "linux".into(), state_dir, hostname: hostname.into(), extra: Vec::new() }
    }

    /// Scans with another OS layout.
    pub fn os(mut self, os: &str) -> Self {
        self.os = os.into();
        self
    }

    /// Adds `report` flags (`--role`, `server`, `--label`, `k=v`).
    pub fn with(mut self, flags: &[&str]) -> Self {
        self.extra.extend(flags.iter().map(|f| (*f).to_owned()));
        self
    }

    /// `azver-agent report --once --format json` against `url`.
    pub fn report(&self, url: &str) -> Run {
        let root = fixture_root(&self.case);
        let mut args = vec![
            "report",
            "--once",
            "--collector",
            url,
            "--root",
            arg(&root),
            "--target-os",
            &self.os,
            "--state-dir",
            arg(&self.state_dir),
            "--hostname",
            &self.hostname,
            "--format",
            "json",
            "--timeout",
            "20s",
        ];
        args.extend(self.extra.iter().map(String::as_str));
        agent(&args)
    }

    /// The host id the agent keeps in its state dir (after the first report).
    pub fn host_id(&self) -> String {
        let path = self.state_dir.join("host-id");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .trim()
            .to_owned()
    }
}

/// A running `azver-collector serve` on `127.0.0.1:0` with a temporary database; killed on drop.
#[derive(Debug)]
pub struct Collector {
    child: Child,
    /// Kept open so the collector never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    address: String,
    /// The HTTP address, when started with `--http`.
    http: Option<String>,
    dir: TempDir,
    db: PathBuf,
    /// What `--db` says: the file above, or a `postgres://` URL.
    db_arg: String,
    stderr_path: PathBuf,
    /// Flags after `--db`, kept for a restart.
    extra: Vec<String>,
}

/// A started collector: the process, its stdout, its gRPC address and (with `--http`) its HTTP
/// address.
type Spawned = (Child, BufReader<ChildStdout>, String, Option<String>);

/// Starts `azver-collector serve --listen LISTEN --db DB EXTRA` and waits for its
/// `listening on ADDR` line (and `http listening on ADDR` with `--http`); stderr is appended to
/// `stderr_path`. `Err` holds what the collector logged when it exited instead of listening.
fn spawn_collector(listen: &str, db: &str, stderr_path: &Path, extra: &[String]) -> Result<Spawned, String> {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr_path)
        .expect("open the collector's stderr file");
    let mut command = Command::new(bin("azver-collector"));
    command
        .args(["serve", "--listen", listen, "--db", db])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    for name in AZVER_ENV {
        command.env_remove(name);
    }
    let mut child = command.spawn().expect("start azver-collector serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    // The collector prints its one stdout line once it listens; EOF means it exited instead.
    let read = stdout.read_line(&mut line);
    let address = match line.trim_end().strip_prefix("listening on ") {
        Some(address) if read.is_ok() => address.to_owned(),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "azver-collector serve did not print `listening on ADDR` (got {line:?})\n--- stderr\n{}",
                std::fs::read_to_string(stderr_path).unwrap_or_default()
            ));
        }
    };
    assert!(address.starts_with("127.0.0.1:"), "listening on {address}, expected 127.0.0.1");
    let mut http = None;
    if extra.iter().any(|e| e == "--http") {
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        http = line.trim_end().strip_prefix("http listening on ").map(str::to_owned);
        if http.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("serve --http did not print `http listening on ADDR` (got {line:?})"));
        }
    }
    Ok((child, stdout, address, http))
}

/// A port on 127.0.0.1 that nothing listens on right now (bound to port 0, then released), for
/// an agent that must find its collector down.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a bound socket has an address").port()
}

impl Collector {
    /// Starts `serve` with only the database.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts `serve` with extra flags (`--baseline FILE`, `--config FILE`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_listening("127.0.0.1:0", extra)
    }

    /// Starts `serve` on a fixed address (from [`free_port`]), for agents started before it.
    pub fn start_on(address: &str) -> Self {
        Self::start_listening(address, &[])
    }

    fn start_listening(listen: &str, extra: &[&str]) -> Self {
        Self::start_with_db(listen, None, extra)
    }

    /// Starts `serve` on `--db DB` (a `postgres://` URL shared with other collectors), or on a
    /// temporary SQLite file when `db` is `None`, with extra flags (`--http 127.0.0.1:0`).
    pub fn start_with_db(listen: &str, db: Option<&str>, extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new().prefix("azver-e2e-").tempdir().expect("create a temp dir");
        let db_path = dir.path().join("azver.db");
        let db_arg = db.map_or_else(|| arg(&db_path).to_owned(), str::to_owned);
        let stderr_path = dir.path().join("collector.stderr");
        let extra: Vec<String> = extra.iter().map(|e| (*e).to_owned()).collect();
        let (child, stdout, address, http) =
            spawn_collector(listen, &db_arg, &stderr_path, &extra).unwrap_or_else(|error| panic!("{error}"));
        Self { child, _stdout: stdout, address, http, dir, db: db_path, db_arg, stderr_path, extra }
    }

    /// Kills the collector with SIGKILL: no drain, no clean database close.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the collector");
        self.child.wait().expect("reap the collector");
    }

    /// Starts the (killed or exited) collector again on the same address with the same
    /// database and flags.
    pub fn restart(&mut self) {
        // The kernel may hold the port for a moment after a kill; retry the bind briefly.
        let address = self.address.clone();
        let (child, stdout, address, http) = eventually(Duration::from_secs(10), "the collector to bind again", || {
            spawn_collector(&address, &self.db_arg, &self.stderr_path, &self.extra).ok()
        });
        (self.child, self._stdout, self.address, self.http) = (child, stdout, address, http);
    }

    /// Kills the collector with SIGKILL, then starts it again (see [`Self::restart`]).
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.restart();
    }

    /// `127.0.0.1:PORT` of the HTTP listener (started with `--http`).
    pub fn http_address(&self) -> &str {
        self.http.as_deref().expect("the collector was started with --http")
    }

    /// `http://127.0.0.1:PORT`, for agents.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `127.0.0.1:PORT`, for gRPC clients that take a target.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The database file (of a collector on SQLite).
    pub fn db(&self) -> &Path {
        &self.db
    }

    /// A scratch folder that lives as long as the collector.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the collector logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `azver-collector ARGS --db <this collector's db>`.
    pub fn cli(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--db", &self.db_arg]);
        collector_cli(&all)
    }

    /// `report --format json` of this collector's database, plus `extra` flags.
    pub fn report_json(&self, extra: &[&str]) -> Value {
        let mut args = vec!["report", "--format", "json"];
        args.extend(extra);
        self.cli(&args).expect_code(0).json()
    }

    /// Sends a signal by name (`TERM`, `INT`, `HUP`) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().expect("run kill(1)");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits at most `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the collector") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `azver-agent run`; killed on drop.
#[derive(Debug)]
pub struct AgentService {
    child: Child,
    state_dir: PathBuf,
    stderr_path: PathBuf,
}

impl AgentService {
    /// Starts `azver-agent run --state-dir STATE_DIR ARGS`; its stderr goes to
    /// `STATE_DIR.stderr` beside the state dir, so the state dir holds only what the agent wrote.
    pub fn start(state_dir: &Path, args: &[&str]) -> Self {
        let stderr_path = state_dir.with_extension("stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("create the agent's stderr file");
        let mut command = Command::new(bin("azver-agent"));
        command
            .args(["run", "--state-dir", arg(state_dir)])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for name in AZVER_ENV {
            command.env_remove(name);
        }
        let child = command.spawn().expect("start azver-agent run");
        Self { child, state_dir: state_dir.to_owned(), stderr_path }
    }

    /// What the agent logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends a signal by name (`TERM`, `INT`) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").arg(format!("-{name}")).arg(&pid).status().expect("run kill(1)");
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// Waits at most `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the agent") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Sends `signal` and panics unless the agent exits 0 within `limit`.
    #[track_caller]
    pub fn stop(&mut self, signal: &str, limit: Duration) {
        self.signal(signal);
        let status = self.wait_exit(limit);
        let status = status.unwrap_or_else(|| panic!("agent still running {limit:?} after SIG{signal}"));
        assert_eq!(status.code(), Some(0), "agent exit after SIG{signal}; stderr:\n{}", self.stderr());
    }

    /// `azver-agent status --format json` of this agent's state dir.
    pub fn status(&self) -> Value {
        agent_status(&self.state_dir)
    }
}

impl Drop for AgentService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `azver-agent status --state-dir DIR --format json`.
#[track_caller]
pub fn agent_status(state_dir: &Path) -> Value {
    agent(&["status", "--state-dir", arg(state_dir), "--format", "json"]).expect_code(0).json()
}

/// The last report sequence an agent's state dir handed out (0 before the first).
pub fn agent_sequence(state_dir: &Path) -> u64 {
    match std::fs::read_to_string(state_dir.join("sequence")) {
        Ok(text) => text.trim().parse().unwrap_or_else(|e| panic!("sequence file holds {text:?}: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => panic!("cannot read the sequence file: {e}"),
    }
}

/// File names in an agent's spool folder, sorted.
pub fn spool_files(state_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(state_dir.join("spool")) {
        Ok(entries) => entries.map(|e| e.expect("spool entry").file_name().to_string_lossy().into_owned()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot list the spool: {e}"),
    };
    names.sort();
    names
}

/// Polls `probe` until it returns `Some`, for at most `limit` (for effects of asynchronous
/// signals such as SIGHUP); panics with `what` if it never does.
#[track_caller]
pub fn eventually<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sleeps until the collector's seconds-resolution clock has certainly moved on by `seconds`.
pub fn let_seconds_pass(seconds: u64) {
    std::thread::sleep(Duration::from_millis(seconds * 1000 + 200));
}

/// Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF records).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

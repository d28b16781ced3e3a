//! `azver-agent run` against a real collector that is down, killed, restarted or silent: every
//! report is spooled before it is sent, delivered exactly once, or dropped and counted. Also
//! `status`, `config check`, and a report of protocol revision 1 (`tests/data/compat/rev1/`).
//!
//! The only timing in here is upper bounds for things that must happen eventually; the agent
//! runs with a 1 s interval and backoff so that "several intervals" take seconds.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use azver_e2e::{
    AgentService, Collector, agent, agent_sequence, agent_status, arg, bin, eventually, fixture_expected, fixture_root,
    free_port, repo_root, run_with_env, spool_files,
};
use prost::Message as _;
use serde_json::Value;

/// Generous bound on the agent's exit after a signal (it promises 5 s).
const EXIT_LIMIT: Duration = Duration::from_secs(10);
/// Generous bound on anything the agent does "within a few intervals".
const SOON: Duration = Duration::from_secs(60);
/// The fixture every agent here scans: one azure-cli from Microsoft's deb package.
const CASE: &str = "linux-microsoft-deb";

/// `run` flags for a fast agent scanning [`CASE`] and reporting to `url` as `hostname`.
fn fast_agent(url: &str, hostname: &str, interval: &str, extra: &[&str]) -> Vec<String> {
    let root = fixture_root(CASE);
    let mut args: Vec<String> = [
        "--collector",
        url,
        "--interval",
        interval,
        "--max-backoff",
        "1s",
        "--timeout",
        "10s",
        "--root",
        arg(&root),
        "--target-os",
        "linux",
        "--hostname",
        hostname,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|e| (*e).to_owned()));
    args
}

fn start_agent(state_dir: &Path, args: &[String]) -> AgentService {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    AgentService::start(state_dir, &args)
}

fn u64_of(status: &Value, key: &str) -> u64 {
    status[key].as_u64().unwrap_or_else(|| panic!("status has no number {key}: {status}"))
}

/// The agent's status once every sequence it handed out is accounted for (acknowledged or
/// dropped) and its spool is empty, or `None` while reports are still on their way. The
/// sequence is read before and after the status, so a scan in between cannot fake a match.
fn drained(state_dir: &Path) -> Option<(u64, Value)> {
    let before = agent_sequence(state_dir);
    let status = agent_status(state_dir);
    let after = agent_sequence(state_dir);
    let accounted = u64_of(&status, "delivered") + u64_of(&status, "spool_drops");
    (before > 0 && before == after && status["spool_depth"] == 0 && accounted == before).then_some((before, status))
}

/// The one host in the collector's report, checked to be the agent's with the fixture's inventory.
#[track_caller]
fn only_host(collector: &Collector, state_dir: &Path, hostname: &str) -> Value {
    let report = collector.report_json(&[]);
    let hosts = report["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1, "one host, however often it reported: {report}");
    let host_id = std::fs::read_to_string(state_dir.join("host-id")).expect("host-id");
    assert_eq!(hosts[0]["host_id"], host_id.trim());
    assert_eq!(hosts[0]["hostname"], hostname);
    assert_eq!(hosts[0]["installations"], fixture_expected(CASE)["installations"]);
    hosts[0].clone()
}

#[test]
fn reports_spooled_while_the_collector_is_down_are_all_delivered_once_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let address = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{address}");
    let mut service = start_agent(&state, &fast_agent(&url, "spooler", "1s", &[]));

    let status = eventually(SOON, "three reports spooled", || {
        let status = agent_status(&state);
        (u64_of(&status, "spool_depth") >= 3).then_some(status)
    });
    assert_eq!(status["delivered"], 0);
    let error = status["last_error"].as_str().expect("an unreachable collector is the last error");
    assert!(error.starts_with(&format!("collector {url} is unreachable")), "{error}");
    let spooled = spool_files(&state);
    assert!(spooled.len() >= 3 && spooled.iter().all(|n| n.ends_with(".report")), "{spooled:?}");
    assert!(spooled[0].starts_with("00000000000000000001-"), "the first report waits: {spooled:?}");

    let collector = Collector::start_on(&address);
    let (sequences, status) = eventually(SOON, "the spool to drain", || drained(&state));
    assert!(sequences >= 3, "{sequences}");
    assert_eq!(u64_of(&status, "delivered"), sequences, "every report written was acknowledged: {status}");
    assert_eq!(status["duplicates"], 0, "{status}");
    assert_eq!(status["spool_drops"], 0, "{status}");
    assert_eq!(status["last_error"], Value::Null, "{status}");
    assert_eq!(status["last_status"], "compliant", "{status}");
    assert_eq!(status["collector"], url.as_str());
    only_host(&collector, &state, "spooler");
    service.stop("TERM", EXIT_LIMIT);
}

#[test]
fn a_collector_killed_mid_stream_and_restarted_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut collector = Collector::start();
    let mut service = start_agent(&state, &fast_agent(&collector.url(), "survivor", "1s", &[]));
    let delivered = || u64_of(&agent_status(&state), "delivered");
    eventually(SOON, "two reports delivered", || (delivered() >= 2).then_some(()));
    // Twice, so that one kill lands while reports are flowing, whatever the timing.
    for _ in 0..2 {
        let before = delivered();
        collector.kill_and_restart();
        eventually(SOON, "two more deliveries after the restart", || (delivered() >= before + 2).then_some(()));
    }
    service.stop("TERM", EXIT_LIMIT);

    // A report may have been in flight at SIGTERM; a restarted agent delivers what is spooled
    // (plus its own start-up report) and, with an hourly interval, then has nothing more to do.
    let first_run = agent_sequence(&state);
    let mut service = start_agent(&state, &fast_agent(&collector.url(), "survivor", "1h", &[]));
    let (sequences, status) =
        eventually(SOON, "the spool to drain", || drained(&state).filter(|(sequences, _)| *sequences > first_run));
    assert_eq!(sequences, first_run + 1, "one start-up scan");
    service.stop("TERM", EXIT_LIMIT);
    assert_eq!(agent_sequence(&state), sequences, "no scan after the drain");
    assert_eq!(u64_of(&status, "delivered"), sequences, "every sequence acknowledged: {status}");
    assert_eq!(status["spool_drops"], 0, "{status}");
    assert_eq!(spool_files(&state), Vec::<String>::new());
    // An acknowledgement lost to SIGKILL or SIGTERM makes the resend a duplicate: stored once.
    assert!(u64_of(&status, "duplicates") <= 3, "at most one per interruption: {status}");
    only_host(&collector, &state, "survivor");
    let host_id = std::fs::read_to_string(state.join("host-id")).unwrap();
    let detail = collector.cli(&["host", host_id.trim(), "--format", "json"]).expect_code(0).json();
    assert_eq!(detail.as_array().map(Vec::len), Some(1), "{detail}");
    let history = detail[0]["history"].as_array().expect("history");
    assert_eq!(history.len(), 1, "an unchanged inventory is one history entry: {detail}");
}

#[test]
fn half_written_and_undecodable_spool_files_are_removed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let spool = state.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let half = "00000000000000000007-4a6e2b1c-0000-4000-8000-000000000007.tmp";
    let garbage = "00000000000000000000-garbage.report";
    std::fs::write(spool.join(half), b"\x0a\x24\x0a\x22half a report").unwrap();
    std::fs::write(spool.join(garbage), b"\xff\xff\xff\xff not protobuf").unwrap();
    let collector = Collector::start();

    let mut service = start_agent(&state, &fast_agent(&collector.url(), "recovering", "1h", &[]));
    // The garbage file is not one of the agent's sequences, so `drained` does not apply.
    let status = eventually(SOON, "the first delivery", || {
        let status = agent_status(&state);
        (status["delivered"] == 1 && status["spool_depth"] == 0).then_some(status)
    });
    service.stop("TERM", EXIT_LIMIT);
    assert_eq!(agent_sequence(&state), 1, "the agent's own first report");
    assert_eq!(spool_files(&state), Vec::<String>::new(), "both leftovers are gone");
    assert_eq!(status["delivered"], 1, "{status}");
    assert_eq!(status["spool_drops"], 1, "the undecodable file is counted, the .tmp is not: {status}");
    assert_eq!(std::fs::read_to_string(state.join("spool-drops")).unwrap(), "1\n");
    assert_eq!(status["last_status"], "compliant");
    only_host(&collector, &state, "recovering");
    let log = service.stderr();
    assert!(log.contains("removing a half-written spool file"), "{log}");
    assert!(log.contains("removing a spool file that does not decode"), "{log}");
}

#[test]
fn a_full_spool_drops_the_oldest_and_the_collector_learns_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let address = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{address}");
    let mut service = start_agent(&state, &fast_agent(&url, "capped", "1s", &["--spool-max-reports", "2"]));

    // Two drops mean at least one spooled report was scanned after a drop and carries it.
    let status = eventually(SOON, "two drops", || {
        let status = agent_status(&state);
        (u64_of(&status, "spool_drops") >= 2).then_some(status)
    });
    assert_eq!(status["spool_depth"], 2, "{status}");
    assert_eq!(status["delivered"], 0, "{status}");
    let spooled = spool_files(&state);
    assert_eq!(spooled.len(), 2, "{spooled:?}");
    let newest: u64 = spooled[1][..20].parse().unwrap();
    assert!(newest >= 4, "reports 1 and 2 were dropped first: {spooled:?}");

    let collector = Collector::start_on(&address);
    let (sequences, status) = eventually(SOON, "the spool to drain", || drained(&state));
    let drops = u64_of(&status, "spool_drops");
    assert_eq!(u64_of(&status, "delivered") + drops, sequences, "{status}");
    assert!(drops >= 2, "{status}");
    // Reports scanned once the collector is back carry the final count.
    let facts = eventually(SOON, "the collector to hold the final drop count", || {
        let host_id = std::fs::read_to_string(state.join("host-id")).expect("host-id");
        let detail = collector.cli(&["host", host_id.trim(), "--format", "json"]).expect_code(0).json();
        (detail[0]["facts"]["spool_dropped"] == drops).then(|| detail[0]["facts"].clone())
    });
    assert_eq!(facts["hostname"], "capped");
    service.stop("TERM", EXIT_LIMIT);
    assert_eq!(u64_of(&agent_status(&state), "spool_drops"), drops, "no drops once delivering");
}

/// SIGTERM or SIGINT stops the agent with exit 0 in every state; whatever was not acknowledged
/// stays in the spool.
fn stops_cleanly(signal: &str, collector: Option<&Collector>) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = dir.path().join("state");
    let url = collector.map_or_else(|| format!("http://127.0.0.1:{}", free_port()), Collector::url);
    // An hourly interval and a long backoff: the signal must end the sleep, not wait it out.
    let mut args = fast_agent(&url, "stopper", "1h", &[]);
    let backoff = args.iter().position(|a| a == "--max-backoff").expect("fast_agent sets --max-backoff") + 1;
    args[backoff] = "10m".into();
    let mut service = start_agent(&state, &args);
    match collector {
        Some(_) => eventually(SOON, "the first delivery", || (agent_status(&state)["delivered"] == 1).then_some(())),
        None => eventually(SOON, "a failed delivery", || agent_status(&state)["last_error"].is_string().then_some(())),
    }
    service.stop(signal, EXIT_LIMIT);
    let status = agent_status(&state);
    let expected_depth = if collector.is_some() { 0 } else { 1 };
    assert_eq!(status["spool_depth"], expected_depth, "{status}");
    assert_eq!(spool_files(&state).len(), expected_depth);
    assert_eq!(agent_sequence(&state), 1);
    assert!(service.stderr().contains("azver-agent stopping"), "{}", service.stderr());
}

#[test]
fn sigterm_and_sigint_exit_0_while_idle() {
    let collector = Collector::start();
    stops_cleanly("TERM", Some(&collector));
    stops_cleanly("INT", Some(&collector));
}

#[test]
fn sigterm_and_sigint_exit_0_in_backoff() {
    stops_cleanly("TERM", None);
    stops_cleanly("INT", None);
}

#[test]
fn a_signal_right_after_start_up_exits_0() {
    // The service logs `azver-agent running` before its first scan; a signal from then on (a
    // quick `systemctl restart`) must end it cleanly rather than kill it.
    let collector = Collector::start();
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let mut service = start_agent(&state, &fast_agent(&collector.url(), "restarted", "1h", &[]));
        eventually(SOON, "the start-up line", || service.stderr().contains("azver-agent running").then_some(()));
        service.stop(signal, EXIT_LIMIT);
        let status = agent_status(&state);
        // Wherever the signal landed, the one report is delivered or still spooled.
        let accounted = u64_of(&status, "delivered") + u64_of(&status, "spool_depth");
        assert_eq!(accounted, agent_sequence(&state), "{status}");
    }
}

#[test]
fn a_signal_during_a_send_that_never_returns_exits_0_and_keeps_the_report() {
    // A "collector" that accepts connections and never answers: the send hangs until the timeout.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 64];
            let _ = stream.read(&mut buf);
            held.push(stream);
        }
    });
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let mut args = fast_agent(&url, "in-flight", "1h", &[]);
        let timeout = args.iter().position(|a| a == "--timeout").unwrap() + 1;
        args[timeout] = "1h".into();
        let mut service = start_agent(&state, &args);
        eventually(SOON, "the report to be spooled", || (spool_files(&state).len() == 1).then_some(()));
        // The first send starts right after spooling; give it a moment to be on the wire.
        std::thread::sleep(Duration::from_millis(500));
        service.stop(signal, EXIT_LIMIT);
        let status = agent_status(&state);
        assert_eq!((status["spool_depth"].clone(), status["delivered"].clone()), (1.into(), 0.into()), "{status}");
        let spooled = spool_files(&state);
        assert!(spooled[0].starts_with("00000000000000000001-") && spooled[0].ends_with(".report"), "{spooled:?}");
    }
}

#[test]
fn status_is_read_only_so_it_cannot_race_a_running_agent() {
    // `status` is what the helpdesk runs next to the service. If it created the host id it
    // could race the starting service for `host-id` (one of them fails, or the two disagree on
    // the id); if it cleaned `*.tmp` files it could delete the spool file the service is about
    // to rename. Either way the service would stop.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let spool = state.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let writing = spool.join("00000000000000000001-being-written.tmp");
    std::fs::write(&writing, b"partial").unwrap();
    let status = agent_status(&state);
    assert_eq!((status["spool_depth"].clone(), status["spool_drops"].clone()), (0.into(), 0.into()));
    assert!(writing.exists(), "status removed a spool file it does not own");
    assert!(!state.join("host-id").exists(), "status created a host id");
    assert_eq!(status["host_id"], "");
    assert_eq!(status["delivered"], 0);
    assert_eq!(status["last_success_at"], Value::Null);
    let table = agent(&["status", "--state-dir", arg(&state)]).expect_code(0).stdout.clone();
    assert!(table.starts_with("host id:          -\n"), "{table}");
    // Nor does it create a state dir, or tighten one (that is the service's job: tightening
    // walks the files the service is renaming).
    let absent = dir.path().join("absent");
    agent(&["status", "--state-dir", arg(&absent)]).expect_code(0);
    assert!(!absent.exists(), "status created the state dir");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        agent_status(&state);
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "status changed the state dir's mode");
    }

    // And polled while a service starts and delivers, it never disturbs it.
    let collector = Collector::start();
    let mut service = start_agent(&state, &fast_agent(&collector.url(), "polled", "1s", &[]));
    let host_ids: Vec<Value> = (0..30)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            agent_status(&state)["host_id"].clone()
        })
        .collect();
    let (sequences, _) = eventually(SOON, "the spool to drain", || drained(&state));
    assert!(sequences >= 1);
    service.stop("TERM", EXIT_LIMIT);
    let host_id = std::fs::read_to_string(state.join("host-id")).unwrap();
    assert!(host_ids.iter().all(|h| *h == "" || *h == host_id.trim()), "{host_ids:?} vs {host_id}");
    assert!(!writing.exists(), "the service itself cleans leftovers at start");
    only_host(&collector, &state, "polled");
}

#[test]
fn status_prints_the_documented_fields() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut service = start_agent(&state, &fast_agent(&collector.url(), "helpdesk", "1h", &[]));
    let (_, status) = eventually(SOON, "the first delivery", || drained(&state));
    service.stop("TERM", EXIT_LIMIT);
    let mut keys: Vec<&str> = status.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    for key in [
        "collector",
        "delivered",
        "duplicates",
        "host_id",
        "last_error",
        "last_findings",
        "last_status",
        "last_success_at",
        "spool_depth",
        "spool_drops",
    ] {
        assert!(keys.contains(&key), "status lacks {key}: {status}");
    }
    let host_id = std::fs::read_to_string(state.join("host-id")).unwrap();
    assert_eq!(status["host_id"], host_id.trim());
    assert_eq!(status["collector"], collector.url().as_str());
    assert_eq!(status["last_findings"], 0);
    assert!(status["last_success_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{status}");
    let table = agent(&["status", "--state-dir", arg(&state)]).expect_code(0).stdout.clone();
    assert!(table.contains("delivered:        1 (0 already known to the collector)"), "{table}");
    assert!(table.contains("spool:            0 waiting, 0 dropped"), "{table}");
    assert!(table.contains("last error:       none"), "{table}");
}

/// A configuration that does not validate does not hide the state: `status` still shows what the
/// agent did last (from the state dir), and the configuration error with the key to fix.
#[test]
fn status_shows_a_configuration_error_beside_the_last_state() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut service = start_agent(&state, &fast_agent(&collector.url(), "helpdesk", "1h", &[]));
    eventually(SOON, "the first delivery", || drained(&state));
    service.stop("TERM", EXIT_LIMIT);
    let broken = dir.path().join("agent.toml");
    std::fs::write(&broken, "interval = \"soon\"\n").unwrap();
    let args = ["status", "--state-dir", arg(&state), "--config", arg(&broken)];
    let table = agent(&args).expect_code(0).stdout.clone();
    let error_line = table.lines().find(|l| l.starts_with("config error:")).unwrap_or_else(|| panic!("{table}"));
    assert!(error_line.contains("interval"), "the error names the key: {error_line}");
    assert!(table.contains("delivered:        1 (0 already known to the collector)"), "{table}");
    let json: Value = serde_json::from_str(&agent(&[&args[..], &["--format", "json"]].concat()).expect_code(0).stdout)
        .expect("status --format json");
    assert!(json["config_error"].as_str().is_some_and(|e| e.contains("interval")), "{json}");
    assert_eq!(json["delivered"], 1, "{json}");
    // A valid configuration shows no error.
    let fine = serde_json::from_str::<Value>(
        &agent(&["status", "--state-dir", arg(&state), "--format", "json"]).expect_code(0).stdout,
    )
    .expect("status --format json");
    assert_eq!(fine["config_error"], Value::Null, "{fine}");
}

/// `config check --config FILE ARGS` with `env` set.
fn config_check(file: &Path, args: &[&str], env: &[(&str, &str)]) -> azver_e2e::Run {
    let mut all = vec!["config", "check", "--config", arg(file)];
    all.extend(args);
    run_with_env(&bin("azver-agent"), &all, env)
}

/// The printed value of `key` (a TOML line `key = value`).
#[track_caller]
fn printed(run: &azver_e2e::Run, key: &str) -> String {
    run.expect_code(0);
    let prefix = format!("{key} = ");
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no `{key}` in\n{}", run.stdout))
}

#[test]
fn config_check_refuses_unknown_keys_with_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, "collector = \"http://c:1\"\ninterval = \"1h\"\ncolector_url = \"http://typo:1\"\n").unwrap();
    let run = config_check(&file, &[], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("unknown field `colector_url`"), "{}", run.stderr);
    assert!(run.stderr.contains(arg(&file)), "names the file: {}", run.stderr);
    assert_eq!(run.stdout, "");

    // `run` reads the same file and refuses to start the same way.
    let run = agent(&["run", "--config", arg(&file), "--state-dir", arg(&dir.path().join("s"))]);
    run.expect_code(2);
    assert!(run.stderr.contains("unknown field `colector_url`"), "{}", run.stderr);

    let missing = dir.path().join("absent.toml");
    let run = config_check(&missing, &[], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("cannot read config {}", arg(&missing))), "{}", run.stderr);

    std::fs::write(&file, "interval = \"0s\"\n").unwrap();
    let run = config_check(&file, &[], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("interval") && run.stderr.contains("must be more than zero"), "{}", run.stderr);
}

#[test]
fn config_check_flag_beats_environment_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.toml");
    std::fs::write(
        &file,
        "collector = \"http://file:1\"\ninterval = \"30m\"\nhostname = \"from-file\"\nspool_max_reports = 30\n\
         [labels]\nsite = \"file\"\nteam = \"file\"\n",
    )
    .unwrap();
    let env = [
        ("AZVER_COLLECTOR", "http://env:2"),
        ("AZVER_INTERVAL", "20m"),
        ("AZVER_HOSTNAME", "from-env"),
        ("AZVER_SPOOL_MAX_REPORTS", "20"),
        ("AZVER_LABELS", "team=env"),
    ];
    let flags =
        ["--collector", "http://flag:3", "--interval", "10m", "--hostname", "from-flag", "--spool-max-reports", "10"];

    let all = config_check(&file, &flags, &env);
    assert_eq!(printed(&all, "collector"), "\"http://flag:3\"");
    assert_eq!(printed(&all, "interval"), "\"10m\"");
    assert_eq!(printed(&all, "hostname"), "\"from-flag\"");
    assert_eq!(printed(&all, "spool_max_reports"), "10");

    let env_and_file = config_check(&file, &[], &env);
    assert_eq!(printed(&env_and_file, "collector"), "\"http://env:2\"");
    assert_eq!(printed(&env_and_file, "interval"), "\"20m\"");
    assert_eq!(printed(&env_and_file, "hostname"), "\"from-env\"");
    assert_eq!(printed(&env_and_file, "spool_max_reports"), "20");
    assert_eq!(printed(&env_and_file, "team"), "\"env\"", "labels merge key by key");
    assert_eq!(printed(&env_and_file, "site"), "\"file\"");

    let file_only = config_check(&file, &[], &[]);
    assert_eq!(printed(&file_only, "collector"), "\"http://file:1\"");
    assert_eq!(printed(&file_only, "interval"), "\"30m\"");
    assert_eq!(printed(&file_only, "spool_max_reports"), "30");
    assert!(file_only.stdout.starts_with(&format!("# azver-agent effective configuration; file: {}\n", arg(&file))));

    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    // `config check` validates what `run` would: a collector is required, so name one and read
    // every other value's default.
    let defaults = config_check(&empty, &["--collector", "http://flag:3"], &[]);
    assert_eq!(printed(&defaults, "interval"), "\"1h\"");
    assert_eq!(printed(&defaults, "max_backoff"), "\"5m\"");
    assert_eq!(printed(&defaults, "timeout"), "\"30s\"");
    assert_eq!(printed(&defaults, "spool_max_reports"), "200");
    assert_eq!(printed(&defaults, "spool_max_bytes"), "16777216");
    assert_eq!(printed(&defaults, "collector"), "\"http://flag:3\"");
}

#[test]
fn config_check_masks_credentials_in_the_collector_url() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, "collector = \"https://svc:hunter2@collector.example:443\"\n").unwrap();
    let run = config_check(&file, &[], &[]);
    assert_eq!(printed(&run, "collector"), "\"https://****@collector.example:443\"");
    assert!(!run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"), "{}{}", run.stdout, run.stderr);
    // From a flag too.
    let run = config_check(&file, &["--collector", "http://ops:s3cret@10.0.0.5:50051"], &[]);
    assert_eq!(printed(&run, "collector"), "\"http://****@10.0.0.5:50051\"");
    assert!(!run.stdout.contains("s3cret"), "{}", run.stdout);
}

/// `tests/data/compat/<revision>/`.
fn compat(revision: &str) -> PathBuf {
    repo_root().join("tests/data/compat").join(revision)
}

#[test]
fn a_revision_1_report_is_accepted_by_todays_collector() {
    let bytes = std::fs::read(compat("rev1").join("report.bin")).expect("tests/data/compat/rev1/report.bin");
    let request = azver_proto::v1::ReportRequest::decode(bytes.as_slice()).expect("revision 1 decodes today");
    let report = request.report.as_ref().expect("a report");
    let host = report.host.as_ref().expect("host facts");
    // Fields revision 1 did not have read as their defaults.
    assert_eq!((host.ci_system.as_str(), host.spool_dropped), ("", 0));
    assert_eq!((report.sequence, report.installations.len()), (42, 3));

    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let response = runtime.block_on(async {
        let mut client = azver_proto::v1::inventory_service_client::InventoryServiceClient::connect(collector.url())
            .await
            .expect("connect to the collector");
        client.report(request.clone()).await
    });
    let response = response.expect("the collector accepts a revision 1 report").into_inner();
    assert!(!response.duplicate);
    assert_eq!(
        azver_proto::convert::status_from_wire(response.status).map(|s| s.to_string()).as_deref(),
        Some("noncompliant"),
        "azure-cli 2.61.0 is below the built-in baseline"
    );

    let fleet = collector.report_json(&[]);
    let hosts = fleet["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1, "{fleet}");
    let host = &hosts[0];
    assert_eq!(host["host_id"], "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e");
    assert_eq!(host["hostname"], "build-07.corp.example");
    assert_eq!(host["role"], "server");
    assert_eq!(host["labels"], serde_json::json!({"site": "ams1", "team": "payments"}));
    assert_eq!(host["scan_errors"], 1);
    let installations: Vec<(&str, &str, &str)> = host["installations"]
        .as_array()
        .expect("installations")
        .iter()
        .map(|i| (i["product"].as_str().unwrap(), i["version"].as_str().unwrap(), i["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        installations,
        [
            ("azure-cli", "2.61.0", "microsoft-deb"),
            ("Az", "12.0.0", "powershell-gallery"),
            ("Az.Accounts", "3.0.0", "powershell-gallery"),
        ]
    );
    let identities = host["identities"].as_array().expect("identities");
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0]["account_type"], "service-principal");
    assert_eq!(identities[0]["tenant_id"], "72f988bf-86f1-41af-91ab-2d7cd011db47");

    // The same bytes again are a duplicate, stored once.
    let again = runtime.block_on(async {
        let mut client =
            azver_proto::v1::inventory_service_client::InventoryServiceClient::connect(collector.url()).await.unwrap();
        client.report(request).await
    });
    assert!(again.expect("a resend is acknowledged").into_inner().duplicate);
}

/// Credentials in the collector URL never reach the log, the status file or `status` output,
/// even when every delivery fails and the URL ends up in error messages.
#[test]
fn credentials_in_the_collector_url_never_leave_the_agent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let url = format!("http://ops:s3cret@127.0.0.1:{}", free_port());
    let root = fixture_root("linux-microsoft-deb");
    let mut service = AgentService::start(
        &state,
        &["--collector", &url, "--interval", "1s", "--max-backoff", "1s", "--root", arg(&root), "--target-os", "linux"],
    );
    let status = eventually(Duration::from_secs(20), "a failed delivery", || {
        let status = service.status();
        status["last_error"].as_str().is_some().then_some(status)
    });
    service.stop("TERM", Duration::from_secs(10));
    let shown = run_with_env(&bin("azver-agent"), &["status", "--state-dir", arg(&state)], &[]);
    let status_file = std::fs::read_to_string(state.join("status.json")).expect("status.json");
    for (what, text) in [
        ("log", service.stderr()),
        ("status.json", status_file),
        ("status output", shown.stdout.clone()),
        ("status --format json", status.to_string()),
    ] {
        assert!(!text.contains("s3cret"), "the password leaked into the {what}:\n{text}");
    }
    assert!(shown.stdout.contains("http://****@127.0.0.1:"), "{}", shown.stdout);
    assert!(status["last_error"].as_str().is_some_and(|e| e.contains("****@127.0.0.1")), "{status}");
}

//! Issue 15.6 end to end: sequence numbers can neither freeze a host nor lose an honest agent,
//! duplicates are answered with the stored state's verdict, and refusals carry a
//! machine-readable reason.
#![allow(clippy::unwrap_used)]

use azver_e2e::{Collector, SimHost, agent_sequence, arg};
use azver_proto::reason::Reason;
use azver_proto::v1::inventory_service_client::InventoryServiceClient;
use azver_proto::v1::{ComplianceStatus, HostFacts, InventoryReport, ReportOutcome, ReportRequest, ReportResponse};

const CASE: &str = "linux-microsoft-deb";

/// Sends one report (unauthenticated, as a loopback collector allows) with a plain tonic client.
pub(crate) fn send(address: &str, report: InventoryReport) -> Result<ReportResponse, tonic::Status> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut client = InventoryServiceClient::connect(format!("http://{address}")).await.unwrap();
        client.report(ReportRequest { node_key: String::new(), report: Some(report) }).await.map(|r| r.into_inner())
    })
}

/// A report of `host_id` with no installations (not applicable on its own).
pub(crate) fn bare(host_id: &str, hostname: &str, report_id: &str, sequence: u64) -> InventoryReport {
    InventoryReport {
        host: Some(HostFacts { host_id: host_id.into(), hostname: hostname.into(), ..HostFacts::default() }),
        report_id: report_id.into(),
        sequence,
        ..InventoryReport::default()
    }
}

#[test]
fn sequences_never_freeze_a_host_and_a_lost_counter_recovers() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let host = SimHost::new(dir.path(), CASE, "seq-host");
    let first = host.report(&collector.url()).json();
    assert_eq!((first["sequence"].as_u64(), first["duplicate"].as_bool()), (Some(1), Some(false)));
    let status = first["status"].clone();
    let id = host.host_id();

    // A forged report far ahead is stored as a reset (and logged)...
    let forged = send(collector.address(), bare(&id, "seq-host", "forged", u64::MAX)).unwrap();
    assert_eq!(forged.outcome(), ReportOutcome::Stored);
    assert_eq!(forged.last_sequence, i64::MAX as u64);
    // ...but cannot freeze the host: the agent's next report is stored as its new state.
    let next = host.report(&collector.url()).json();
    assert_eq!((next["sequence"].as_u64(), next["duplicate"].as_bool()), (Some(2), Some(false)));
    assert_eq!(next["status"], status, "the agent's own inventory is the host's state again");

    // A new report id below the last sequence is not stored, and is answered with the verdict of
    // the state the collector holds (not of this empty report) and the last sequence.
    let late = send(collector.address(), bare(&id, "seq-host", "late", 1)).unwrap();
    assert_eq!((late.outcome(), late.duplicate, late.last_sequence), (ReportOutcome::Behind, true, 2));
    assert_ne!(late.status(), ComplianceStatus::NotApplicable, "the verdict is the stored state's");
    let retry = send(collector.address(), bare(&id, "seq-host", "forged", u64::MAX)).unwrap();
    assert_eq!((retry.outcome(), retry.last_sequence), (ReportOutcome::Duplicate, 2));

    // The agent loses its sequence file: its next report is behind, and it adopts the collector's.
    std::fs::remove_file(host.state_dir.join("sequence")).unwrap();
    let lost = host.report(&collector.url()).json();
    assert_eq!((lost["sequence"].as_u64(), lost["duplicate"].as_bool()), (Some(1), Some(true)));
    assert_eq!(agent_sequence(&host.state_dir), 2, "the agent continues from the collector's last sequence");
    let recovered = host.report(&collector.url()).json();
    assert_eq!((recovered["sequence"].as_u64(), recovered["duplicate"].as_bool()), (Some(3), Some(false)));
    assert!(collector.stderr().contains("stored as a sequence reset"), "{}", collector.stderr());
}

#[test]
fn refusals_carry_a_machine_readable_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, "[limits]\nmax_message_bytes = 4096\nrate_limit_burst = 2\nrate_limit_per_second = 1\n")
        .unwrap();
    let collector = Collector::start_with(&["--config", arg(&config)]);
    let mut big = bare("big", "big", "big-1", 1);
    big.host.as_mut().unwrap().labels = (0..40).map(|i| (format!("k{i}"), "v".repeat(200))).collect();
    let too_large = send(collector.address(), big).unwrap_err();
    assert_eq!(
        (too_large.code(), Reason::of(&too_large)),
        (tonic::Code::ResourceExhausted, Some(Reason::MessageTooLarge))
    );
    let mut reasons = Vec::new();
    for sequence in 1..=4 {
        if let Err(status) = send(collector.address(), bare("flood", "flood", &format!("f{sequence}"), sequence)) {
            reasons.push((status.code(), Reason::of(&status)));
        }
    }
    assert_eq!(reasons, [(tonic::Code::ResourceExhausted, Some(Reason::RateLimited)); 2]);
}

//! The report a collector receives: protobuf decode, then the collector's validation (which
//! converts to the domain types), then what the agent does to a report the collector refused
//! (wire → domain, cut to the reduced caps, back to the wire), which must always fit.
#![no_main]

use azver_agent::bounds::{Caps, fit};
use azver_collector::config::Limits;
use azver_collector::grpc::validate;
use azver_proto::v1::InventoryReport;
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = InventoryReport::decode(data) else { return };
    let _ = validate(&report, &Limits::default());
    let mut inventory = azver_proto::convert::inventory_from_wire(&report);
    fit(&mut inventory, &Caps::REDUCED);
    assert!(inventory.installations.len() <= Caps::REDUCED.installations);
    assert!(inventory.errors.len() <= Caps::REDUCED.errors);
    assert!(inventory.job_sign_ins.len() <= Caps::REDUCED.job_sign_ins);
    let wire = azver_proto::convert::report_to_wire(&inventory, "id", report.sequence.max(1), 0);
    assert!(wire.encoded_len() <= 1024 * 1024);
});

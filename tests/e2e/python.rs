//! A Python client built from the published `.proto` files talks to the real collector: proof
//! that the wire contract works from another language, including every documented error status.

use std::path::{Path, PathBuf};
use std::process::Command;

use azver_e2e::{Collector, SimHost, arg, repo_root};
use serde_json::{Value, json};

/// The Python with grpcio, or `None` (after saying why) when the test should be skipped.
fn python() -> Option<PathBuf> {
    match std::env::var_os("AZVER_PYTHON") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "AZVER_PYTHON is not set; CI must run the Python client test (scripts/setup.sh makes target/py-venv)"
            )
        }
        _ => {
            eprintln!("skipped: set AZVER_PYTHON (scripts/setup.sh makes target/py-venv)");
            None
        }
    }
}

#[track_caller]
fn run_python(python: &Path, args: &[&str]) -> String {
    let output = Command::new(python)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (AZVER_PYTHON): {e}", python.display()));
    assert!(
        output.status.success(),
        "{} {} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        python.display(),
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("python prints UTF-8")
}

/// Generates Python stubs for every `azver/v1/*.proto` into `out`.
fn generate_stubs(python: &Path, out: &Path) {
    let proto = repo_root().join("proto");
    let mut files: Vec<String> = std::fs::read_dir(proto.join("azver/v1"))
        .expect("read proto/azver/v1")
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".proto"))
        .map(|name| format!("azver/v1/{name}"))
        .collect();
    files.sort();
    assert_eq!(files, ["azver/v1/inventory.proto", "azver/v1/inventory_service.proto"]);
    let include = format!("-I{}", arg(&proto));
    let python_out = format!("--python_out={}", arg(out));
    let grpc_out = format!("--grpc_python_out={}", arg(out));
    let mut args = vec!["-m", "grpc_tools.protoc", &include, &python_out, &grpc_out];
    args.extend(files.iter().map(String::as_str));
    run_python(python, &args);
}

/// The client: every call's outcome as JSON on stdout.
const CLIENT: &str = r#"
import json, sys, time, uuid

sys.path.insert(0, sys.argv[1])
import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from azver.v1 import inventory_pb2 as inv
from azver.v1 import inventory_service_pb2 as svc
from azver.v1 import inventory_service_pb2_grpc as svc_grpc

channel = grpc.insecure_channel(sys.argv[2])
out = {}

health = health_pb2_grpc.HealthStub(channel)
for name in ["", "azver.v1.InventoryService"]:
    status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=20).status
    out["health " + (name or "(server)")] = health_pb2.HealthCheckResponse.ServingStatus.Name(status)

# Reflection v1alpha through grpcio-reflection's own client.
db = ProtoReflectionDescriptorDatabase(channel)
out["reflection_v1alpha"] = sorted(db.get_services())
method = DescriptorPool(db).FindServiceByName("azver.v1.InventoryService").methods_by_name["Report"]
out["report_method"] = [method.input_type.full_name, method.output_type.full_name]

# Reflection v1: grpcio-reflection ships only v1alpha stubs, but the v1 messages are the same
# bytes under another service name, so call the v1 method with the v1alpha messages.
v1 = channel.stream_stream(
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
    response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
)
answers = list(v1(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=20))
out["reflection_v1"] = sorted(s.name for s in answers[0].list_services_response.service)

stub = svc_grpc.InventoryServiceStub(channel)

def installation(version="2.76.0", path="/opt/az/lib/python3.12/site-packages"):
    return inv.Installation(
        product="azure-cli", version=version, source=inv.INSTALL_SOURCE_MICROSOFT_DEB,
        scope=inv.SCOPE_SYSTEM, path=path, on_path=True, evidence="dist-info")

def request(host_id, installations, sequence=1, report_id=None, scanned_at=None):
    ts = Timestamp()
    ts.FromSeconds(int(time.time() if scanned_at is None else scanned_at))
    return svc.ReportRequest(report=inv.InventoryReport(
        host=inv.HostFacts(
            host_id=host_id, hostname=host_id, os_family=inv.OS_FAMILY_LINUX, os_name="Debian GNU/Linux",
            os_version="13", architecture="x86_64", agent_version="python-client", role=inv.ROLE_SERVER,
            labels={"client": "python"}),
        scanned_at=ts, report_id=str(uuid.uuid4()) if report_id is None else report_id,
        sequence=sequence, installations=installations))

def call(req):
    try:
        resp = stub.Report(req, timeout=30)
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details()}
    return {"code": "OK", "status": svc.ComplianceStatus.Name(resp.status), "duplicate": resp.duplicate,
            "findings": [[f.kind, f.product, f.installed, f.required, f.severity] for f in resp.findings]}

good = request("py-good", [installation()])
out["good"] = call(good)
out["good again"] = call(good)
out["older sequence"] = call(request("py-good", [installation()], sequence=1))
out["3000 installations"] = call(request("py-many", [installation(path="/p/%d" % i) for i in range(3000)]))
big = request("py-big", [installation(path="/" + "x" * 2000 + "/%d" % i) for i in range(600)])
out["over 1 MiB"] = call(big)
out["over 1 MiB size"] = big.ByteSize()
out["empty host_id"] = call(request("", [installation()]))
out["empty report_id"] = call(request("py-noid", [installation()], report_id=""))
out["sequence 0"] = call(request("py-seq0", [installation()], sequence=0))
out["missing report"] = call(svc.ReportRequest())
out["future"] = call(request("py-future", [installation()], scanned_at=time.time() + 2 * 86400))
out["banana"] = call(request("py-banana", [installation(version="banana")]))
out["after bad input"] = call(request("py-after", [installation()]))

def enroll(req):
    try:
        stub.Enroll(req, timeout=20)
        return "OK"
    except grpc.RpcError as e:
        return e.code().name

out["enroll without host"] = enroll(svc.EnrollRequest(enroll_secret="s"))
out["enroll"] = enroll(svc.EnrollRequest(enroll_secret="azes_0_wrong", host=inv.HostFacts(host_id="py-enroll")))
out["baseline"] = stub.GetBaseline(svc.GetBaselineRequest(), timeout=20).baseline_toml

print(json.dumps(out))
"#;

#[test]
fn a_python_client_from_the_published_proto_gets_every_documented_answer() {
    let Some(python) = python() else { return };
    let collector = Collector::start();
    let stubs = collector.dir().join("py");
    std::fs::create_dir_all(&stubs).unwrap();
    generate_stubs(&python, &stubs);
    let script = collector.dir().join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let text = run_python(&python, &[arg(&script), arg(&stubs), collector.address()]);
    let out: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("client printed no JSON ({e}): {text}"));

    assert_eq!(out["health (server)"], "SERVING");
    assert_eq!(out["health azver.v1.InventoryService"], "SERVING");
    let services = json!([
        "azver.v1.InventoryService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection"
    ]);
    assert_eq!(out["reflection_v1alpha"], services);
    assert_eq!(out["reflection_v1"], services);
    assert_eq!(out["report_method"], json!(["azver.v1.ReportRequest", "azver.v1.ReportResponse"]));

    let ok = |status: &str, duplicate: bool| json!({ "code": "OK", "status": status, "duplicate": duplicate, "findings": [] });
    assert_eq!(out["good"], ok("COMPLIANCE_STATUS_COMPLIANT", false));
    assert_eq!(out["good again"], ok("COMPLIANCE_STATUS_COMPLIANT", true), "same report id: a duplicate");
    assert_eq!(out["older sequence"], ok("COMPLIANCE_STATUS_COMPLIANT", true), "sequence not above the last");
    let invalid = |details: &str| json!({ "code": "INVALID_ARGUMENT", "details": details });
    assert_eq!(out["3000 installations"], invalid("report.installations has 3000 entries; at most 2000 are accepted"));
    assert!(out["over 1 MiB size"].as_u64().unwrap() > 1024 * 1024);
    assert_eq!(out["over 1 MiB"]["code"], "RESOURCE_EXHAUSTED", "{}", out["over 1 MiB"]);
    let details = out["over 1 MiB"]["details"].as_str().unwrap();
    assert!(details.ends_with("the limit is: 1048576 bytes"), "{details}");
    assert_eq!(out["empty host_id"], invalid("report.host.host_id is empty"));
    assert_eq!(out["empty report_id"], invalid("report.report_id is empty"));
    assert_eq!(out["sequence 0"], invalid("report.sequence must be 1 or more"));
    assert_eq!(out["missing report"], invalid("report is missing"));
    assert_eq!(out["future"], ok("COMPLIANCE_STATUS_COMPLIANT", false), "a skewed clock is accepted");
    assert_eq!(
        out["banana"],
        json!({
            "code": "OK", "status": "COMPLIANCE_STATUS_NONCOMPLIANT", "duplicate": false,
            "findings": [["unparseable-version", "azure-cli", "banana", "2.76.0", "high"]]
        })
    );
    assert_eq!(out["after bad input"], ok("COMPLIANCE_STATUS_COMPLIANT", false));
    assert_eq!(out["enroll without host"], "INVALID_ARGUMENT");
    assert_eq!(out["enroll"], "UNAUTHENTICATED", "an unknown enrollment secret");
    let baseline = out["baseline"].as_str().unwrap();
    assert!(baseline.contains("[products.\"azure-cli\"]\nminimum = \"2.76.0\"\nrule = \"every\"\n"), "{baseline}");

    // What the collector stored: exactly the accepted hosts, each as sent.
    let report = collector.report_json(&[]);
    let hosts: Vec<&str> = report["hosts"].as_array().unwrap().iter().map(|h| h["host_id"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["py-after", "py-banana", "py-future", "py-good"], "nothing of a refused report is stored");
    let host = |id: &str| report["hosts"].as_array().unwrap().iter().find(|h| h["host_id"] == id).unwrap().clone();

    let future = host("py-future");
    let skew = future["clock_skew_seconds"].as_i64().expect("clock_skew_seconds is set");
    // The agent's clock ran two days ahead; the bound only allows for the time the call took.
    assert!((2 * 86400 - 120..=2 * 86400).contains(&skew), "clock_skew_seconds {skew}");
    assert!(host("py-good").get("clock_skew_seconds").is_none());

    let banana = host("py-banana");
    assert_eq!(banana["status"], "noncompliant");
    let finding = &banana["findings"][0];
    assert_eq!(
        (&finding["kind"], &finding["installed"], &finding["required"], &finding["severity"]),
        (&json!("unparseable-version"), &json!("banana"), &json!("2.76.0"), &json!("high"))
    );
    assert_eq!(banana["installations"][0]["version"], "banana", "stored as sent");
    assert_eq!(banana["labels"], json!({ "client": "python" }));
    assert_eq!(banana["role"], "server");

    let good = collector.cli(&["host", "py-good", "--format", "json"]).expect_code(0).json();
    assert_eq!(good[0]["history"].as_array().unwrap().len(), 1, "duplicates add no history");
    assert_eq!(good[0]["facts"]["agent_version"], "python-client");

    // Real agents still report after all that.
    SimHost::new(collector.dir(), "linux-microsoft-deb", "agent-after-python").report(&collector.url()).expect_code(0);
}

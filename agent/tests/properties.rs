//! The fuzz targets' properties (`fuzz/fuzz_targets/*.rs`), as a short proptest pass that runs in
//! `cargo test`: every parser of agent-side files returns a value or an error for any input,
//! never panics or overflows its stack, and what the agent sends always fits the collector's
//! limits. Inputs are both random bytes and structured near-misses of the real formats (deep
//! nesting, unbalanced brackets, truncations), where the bugs were. The long runs are in
//! docs/SECURITY.md, "Fuzzing".

use azver_agent::bounds::{Caps, fit};
use azver_agent::detect::identity::{Tool, parse_profile};
use azver_agent::detect::{psd1, pyc, pymeta};
use azver_proto::v1::InventoryReport;
use proptest::prelude::*;
use prost::Message as _;

/// Fragments of real manifests, profiles and metadata, recombined at random.
const PSD1_PIECES: &[&str] = &[
    "@{",
    "@(",
    "(",
    ")",
    "}",
    "[version]",
    "'5.2.0'",
    "\"1.0\"",
    "ModuleVersion",
    "=",
    ";",
    ",",
    "\n",
    "#",
    "<#",
    "#>",
    "@'\n",
    "\n'@",
    "PrivateData",
    "PSData",
    "Prerelease",
    "`",
    "''",
    "\r\n",
];
const JSON_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"subscriptions\"",
    "\"Contexts\"",
    "\"user\"",
    "\"type\"",
    "\"servicePrincipal\"",
    "\"Account\"",
    "\"Type\"",
    "\"User\"",
    "null",
    "true",
    "1e999",
    "\"\\u0000\"",
    "\"tenantId\"",
    "\"x\"",
];
const META_PIECES: &[&str] =
    &["Metadata-Version: 2.1\n", "Name: azure-cli\n", "Version: ", "2.76.0", "\n", "\r\n", " ", "\t", "Version:", ":"];

fn pieces(from: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(from), 0..max).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn psd1_never_panics_on_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = psd1::parse(&data);
    }

    #[test]
    fn psd1_never_panics_on_manifest_fragments(text in pieces(PSD1_PIECES, 400)) {
        if let Ok(manifest) = psd1::parse(text.as_bytes()) {
            prop_assert_eq!(manifest.module_version.trim(), manifest.module_version.as_str());
        }
    }

    /// Balanced, well-formed nesting of any construct past the limit is refused (so the limit,
    /// not a syntax error, is what stops it), and within the limit it parses.
    #[test]
    fn psd1_refuses_any_deep_nesting(
        depth in 1usize..5_000,
        (open, close) in proptest::sample::select(&[("(", ")"), ("@(", ")"), ("@{A=", "}"), ("[int] ", "")][..]),
    ) {
        let text = format!("@{{ModuleVersion='1.0'\nX={}1{}}}", open.repeat(depth), close.repeat(depth));
        let result = psd1::parse(text.as_bytes());
        if depth > 31 {
            let error = result.expect_err("too deep").to_string();
            prop_assert!(error.contains("nested more than 32 levels deep"), "{}", error);
        } else {
            prop_assert_eq!(result.map(|m| m.module_version), Ok("1.0".to_owned()));
        }
    }

    #[test]
    fn metadata_headers_never_panic(text in pieces(META_PIECES, 60), noise in ".{0,64}") {
        let text = format!("{text}{noise}");
        if let Some(version) = pymeta::header_version(&text) {
            prop_assert!(text.contains(version));
        }
    }

    #[test]
    fn pyc_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Some(version) = pyc::version_from_pyc(&data) {
            prop_assert!(version.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
        }
    }

    #[test]
    fn profiles_never_panic(text in pieces(JSON_PIECES, 300), bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for tool in [Tool::AzureCli, Tool::AzPowerShell] {
            let _ = parse_profile(text.as_bytes(), tool);
            let _ = parse_profile(&bytes, tool);
        }
    }

    /// Any decodable report, cut to either cap, fits the collector's default limits.
    #[test]
    fn any_report_fits_after_the_caps(data in proptest::collection::vec(any::<u8>(), 0..2048), extra in 0usize..3000) {
        let Ok(mut report) = InventoryReport::decode(data.as_slice()) else { return Ok(()) };
        for n in 0..extra {
            report.errors.push(azver_proto::v1::ScanError { path: format!("/m/Az.J{n}"), kind: "io".into(), message: "x".repeat(n % 5000) });
        }
        for caps in [Caps::REPORT, Caps::REDUCED] {
            let mut inventory = azver_proto::convert::inventory_from_wire(&report);
            fit(&mut inventory, &caps);
            prop_assert!(inventory.installations.len() <= caps.installations);
            prop_assert!(inventory.identities.len() <= caps.identities);
            prop_assert!(inventory.errors.len() <= caps.errors);
            let wire = azver_proto::convert::report_to_wire(&inventory, "id", 1, 0);
            prop_assert!(wire.encoded_len() < 1024 * 1024);
            prop_assert!(wire.errors.iter().all(|e| e.message.len() <= caps.string_bytes));
        }
    }
}

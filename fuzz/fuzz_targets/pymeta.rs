//! Python package metadata (`METADATA`, `PKG-INFO`): the `Version:` header of any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(version) = azver_agent::detect::pymeta::header_version(&text) {
        assert!(text.contains(version));
    }
});

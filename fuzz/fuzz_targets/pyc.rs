//! The version constant inside a compiled `__init__.pyc`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(version) = azver_agent::detect::pyc::version_from_pyc(data) {
        assert!(version.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())));
    }
});

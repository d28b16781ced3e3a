//! PowerShell module manifests: any bytes parse or fail with an error; no panic, no stack
//! overflow (every recursive construct is depth-limited).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = azver_agent::detect::psd1::parse(data) {
        assert_eq!(manifest.module_version.trim(), manifest.module_version);
        assert!(manifest.prerelease.as_deref().is_none_or(|p| !p.trim().is_empty()));
    }
});

//! Sign-in profiles (`azureProfile.json`, `AzureRmContext.json`) read as either client's.
#![no_main]

use azver_agent::detect::identity::{Tool, parse_profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for tool in [Tool::AzureCli, Tool::AzPowerShell] {
        if let Ok(sign_ins) = parse_profile(data, tool) {
            assert!(sign_ins.len() <= data.len());
        }
    }
});

//! The jobs command scanner (`agent/src/detect/jobs/command.rs`): any text in every dialect
//! scans without panicking, hits stay within their bounds, and a password written after `-p` on
//! a line of its own never survives redaction, whatever text surrounds it.
#![no_main]

use azver_agent::detect::jobs::command::{Dialect, scan, script_refs};
use libfuzzer_sys::fuzz_target;

const DIALECTS: [Dialect; 5] = [Dialect::Shell, Dialect::PowerShell, Dialect::Cmd, Dialect::Python, Dialect::Any];
/// The planted password; an input that contains it already is skipped.
const SENTINEL: &str = "Zq7SENTINELpw";
/// Longest command a hit carries (`MAX_COMMAND_CHARS`) plus the ` ...` of a cut one.
const MAX_HIT_CHARS: usize = 512 + 4;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if text.contains(SENTINEL) {
        return;
    }
    let lines = text.split('\n').count();
    for dialect in DIALECTS {
        for keep_user_names in [false, true] {
            for hit in scan(&text, dialect, keep_user_names) {
                assert!(hit.line >= 1 && hit.line as usize <= lines, "line {} of {lines}", hit.line);
                assert!(hit.command.chars().count() <= MAX_HIT_CHARS);
            }
        }
        for script in script_refs(&text, dialect) {
            assert!(!script.is_empty());
        }

        // The fuzzed text split in two around a sign-in line of the dialect, with blank lines
        // between so no continuation joins them.
        let (before, after) = text.split_at(text.floor_char_boundary(text.len() / 2));
        let sign_in = match dialect {
            Dialect::Python => format!("subprocess.run([\"az\", \"login\", \"-u\", \"ops\", \"-p\", \"{SENTINEL}\"])"),
            Dialect::PowerShell => format!("Connect-AzAccount -Credential {SENTINEL}"),
            _ => format!("az login -u ops -p {SENTINEL}"),
        };
        let planted = format!("{before}\n\n{sign_in}\n\n{after}");
        for keep_user_names in [false, true] {
            for hit in scan(&planted, dialect, keep_user_names) {
                assert!(!hit.command.contains(SENTINEL), "{dialect:?}: {}", hit.command);
            }
        }
    }
});

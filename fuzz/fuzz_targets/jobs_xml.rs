//! The XML reader of job definitions (`agent/src/detect/jobs/xml.rs`: Task Scheduler tasks,
//! Jenkins `config.xml`): any bytes decode or fail, any text yields elements or an error, with
//! the nesting limit kept and every line inside the document.
#![no_main]

use azver_agent::detect::jobs::xml::{decode, elements};
use libfuzzer_sys::fuzz_target;

/// `MAX_DEPTH` of the reader.
const MAX_DEPTH: usize = 64;

fn check(text: &str) {
    let lines = text.split('\n').count();
    for keep_all in [true, false] {
        let Ok(found) = elements(text, |path| keep_all || path.last().is_some_and(|n| n == "Command")) else {
            continue;
        };
        for element in found {
            assert!(!element.path.is_empty() && element.path.len() <= MAX_DEPTH);
            assert!(element.line >= 1 && element.line as usize <= lines, "line {} of {lines}", element.line);
            assert!(keep_all || element.path.last().is_some_and(|n| n == "Command"));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = decode(data) {
        check(&text);
    }
    check(&String::from_utf8_lossy(data));
});

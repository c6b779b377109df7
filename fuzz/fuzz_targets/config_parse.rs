//! The configuration loader on arbitrary text: problems are reported, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match handoffd::config::parse(text, &|_| None) {
        Ok(_) => {}
        Err(problems) => assert!(!problems.is_empty(), "an error with no problem to report"),
    }
});

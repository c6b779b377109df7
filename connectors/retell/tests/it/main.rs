//! The Retell connector's tests, one binary: the signature, parsing, the poller, the config.

mod kind;
mod parse;
mod poll;
mod signature;

use chrono::{DateTime, TimeZone, Utc};

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("a fixture")
}

/// A fixed "now" (2025-12-02 07:30:00 UTC).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 2, 7, 30, 0).single().expect("a valid time")
}

//! The turns endpoint's body parser on arbitrary bytes: it may reject them, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(interaction) = handoffd_whatsapp_cloud::parse_turn(body) {
        assert!(!interaction.dedup_key.is_empty(), "a parsed turn always has a dedup key");
    }
});

//! The WhatsApp Cloud webhook parser on arbitrary bytes: it may reject them, never panic.
#![no_main]

use handoffd_contract::webhook::{Verified, WebhookSource};
use handoffd_whatsapp_cloud::{WhatsappCloud, WhatsappCloudConfig};
use libfuzzer_sys::fuzz_target;

fn connector() -> WhatsappCloud {
    WhatsappCloud::new(WhatsappCloudConfig {
        id: "wa-main".to_owned(),
        app_secret: "fuzz-secret".to_owned(),
        verify_token: "fuzz-token".to_owned(),
        access_token: None,
        agent_access_tokens: Vec::new(),
        phone_number_id: "106540352242922".to_owned(),
        base_url: "http://127.0.0.1:9/graph".to_owned(),
        default_region: Some("IN".to_owned()),
    })
}

fuzz_target!(|body: &[u8]| {
    // Arbitrary bytes as an offline tool would feed them: the signature is not what is fuzzed here.
    let verified = Verified::for_offline_tool(body.to_vec(), chrono::Utc::now());
    if let Ok(event) = connector().parse(&verified) {
        // Whatever parses must render without panicking too (summaries, keys).
        let _ = format!("{event:?}");
    }
});

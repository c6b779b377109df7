//! The WhatsApp Cloud webhook parser on arbitrary bytes: it may reject them, never panic.
#![no_main]

use handoffd_contract::webhook::WebhookSource;
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
    if let Ok(event) = connector().parse(body) {
        // Whatever parses must render without panicking too (summaries, keys).
        let _ = format!("{event:?}");
    }
});

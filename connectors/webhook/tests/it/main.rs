//! Integration tests of the generic webhook connector, one binary: both signature schemes
//! (the Standard Webhooks specification's published vector, a vendor's published HMAC
//! example, our own cases) and the field mapping, configured in YAML for a vendor the
//! connector has never seen.

mod mapping;
mod signature;

use chrono::{DateTime, Utc};
use handoffd_contract::webhook::{RawRequest, Verified, VerifyError, WebhookSource};
use handoffd_webhook::{GenericWebhook, WebhookConfig};
use http::{HeaderMap, HeaderValue, Method};

/// A connector from a YAML block, as an admin writes it.
pub fn connector(yaml: &str) -> GenericWebhook {
    let config: WebhookConfig = serde_saphyr::from_str(yaml).expect("the test config parses");
    let problems = handoffd_webhook::kind::validate(&config);
    assert!(problems.is_empty(), "{problems:?}");
    GenericWebhook::new(config).expect("the test config builds")
}

pub fn request<'a>(headers: &'a HeaderMap, body: &'a [u8], received_at: DateTime<Utc>) -> RawRequest<'a> {
    RawRequest { method: &Method::POST, path: "/webhooks/gw", query: "", headers, body, received_at, peer: None }
}

pub fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

pub fn verify(
    connector: &GenericWebhook,
    headers: &HeaderMap,
    body: &[u8],
    at: DateTime<Utc>,
) -> Result<Verified, VerifyError> {
    connector.verify(&request(headers, body, at))
}

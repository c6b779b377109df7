//! Integration tests of the Exotel connector, one binary. Fixtures in `tests/fixtures/` are our
//! own, shaped like Exotel's StatusCallback and Passthru parameters.

mod access;
mod kind;
mod parse;
mod poll;

use std::net::IpAddr;

use handoffd_contract::webhook::{ParseError, ParsedEvent, RawRequest, Verified, VerifyError, WebhookSource};
use handoffd_exotel::{Exotel, ExotelConfig};
use http::{HeaderMap, HeaderValue, Method};

pub const TOKEN: &str = "ex-callback-token-8d41f0c2";
pub const ACCOUNT_SID: &str = "acme1";
pub const API_KEY: &str = "ex-api-key";
pub const API_TOKEN: &str = "ex-api-token";

pub fn config(extra: serde_json::Value) -> ExotelConfig {
    let mut base = serde_json::json!({
        "id": "ex-main", "token": TOKEN, "account_sid": ACCOUNT_SID, "api_key": API_KEY, "api_token": API_TOKEN,
        "default_region": "IN",
    });
    base.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    serde_json::from_value(base).expect("the test config is valid")
}

pub fn connector(extra: serde_json::Value) -> Exotel {
    Exotel::new(config(extra)).expect("the test config builds")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture exists")
}

/// A request to `/webhooks/ex-main` as the daemon hands it over.
pub struct Arrived {
    pub method: Method,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub peer: Option<IpAddr>,
}

impl Arrived {
    /// A StatusCallback POST with a form body, to `?token=...`.
    pub fn post(body: &[u8], content_type: &'static str) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static(content_type));
        Self { method: Method::POST, query: format!("token={TOKEN}"), headers, body: body.to_vec(), peer: None }
    }

    /// A Passthru GET: the event is the query, the token added to it.
    pub fn passthru(query: &str) -> Self {
        Self {
            method: Method::GET,
            query: format!("{query}&token={TOKEN}"),
            headers: HeaderMap::new(),
            body: Vec::new(),
            peer: None,
        }
    }

    pub fn request(&self) -> RawRequest<'_> {
        RawRequest {
            method: &self.method,
            path: "/webhooks/ex-main",
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
            received_at: chrono::Utc::now(),
            peer: self.peer,
        }
    }

    pub fn verify(&self, connector: &Exotel) -> Result<Verified, VerifyError> {
        connector.verify(&self.request())
    }

    pub fn parse(&self) -> Result<ParsedEvent, ParseError> {
        let connector = connector(serde_json::json!({}));
        let verified = self.verify(&connector).expect("a request with the token verifies");
        connector.parse(&verified)
    }
}

//! Integration tests of the Twilio connector, one binary. Fixtures in `tests/fixtures/` are our
//! own, shaped like Twilio's status callback parameters.

mod kind;
mod parse;
mod poll;
mod signature;

use handoffd_contract::webhook::{ParseError, ParsedEvent, RawRequest, Verified, VerifyError, WebhookSource};
use handoffd_twilio::signature::{Algorithm, form_pairs, sign};
use handoffd_twilio::{Twilio, TwilioConfig};
use http::{HeaderMap, HeaderValue, Method};

pub const AUTH_TOKEN: &str = "tw-test-auth-token-5521";
pub const ACCOUNT_SID: &str = "AC5f1e2d3c4b5a69788796a5b4c3d2e1f0";

pub fn config(extra: serde_json::Value) -> TwilioConfig {
    let mut base = serde_json::json!({"id": "tw-main", "auth_token": AUTH_TOKEN, "account_sid": ACCOUNT_SID});
    base.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    serde_json::from_value(base).expect("the test config is valid")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture exists")
}

/// A POST to `/webhooks/tw-main` as the daemon sees it behind a TLS proxy at `hooks.example.com`.
pub struct Posted {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Posted {
    pub fn form(body: &[u8]) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("hooks.example.com"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
        Self {
            method: Method::POST,
            path: "/webhooks/tw-main".into(),
            query: String::new(),
            headers,
            body: body.to_vec(),
        }
    }

    /// The URL Twilio called.
    pub fn url(&self) -> String {
        let query = if self.query.is_empty() { String::new() } else { format!("?{}", self.query) };
        format!("https://hooks.example.com{}{query}", self.path)
    }

    /// Sign as Twilio does with the Auth Token, over `url`.
    pub fn signed_for(mut self, url: &str) -> Self {
        let params = if self.method == Method::POST && !self.query.contains("bodySHA256") {
            form_pairs(&self.body)
        } else {
            Vec::new()
        };
        let signature = sign(Algorithm::HmacSha1, AUTH_TOKEN.as_bytes(), url, &params);
        self.headers.insert("x-twilio-signature", HeaderValue::from_str(&signature).unwrap());
        self
    }

    pub fn signed(self) -> Self {
        let url = self.url();
        self.signed_for(&url)
    }

    pub fn request(&self) -> RawRequest<'_> {
        RawRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
            received_at: chrono::Utc::now(),
            peer: None,
        }
    }

    pub fn verify(&self, connector: &Twilio) -> Result<Verified, VerifyError> {
        connector.verify(&self.request())
    }
}

/// Parse a form body the only way the connector allows: signed, verified, then parsed.
pub fn parse(body: &[u8]) -> Result<ParsedEvent, ParseError> {
    let connector = Twilio::new(config(serde_json::json!({})));
    let posted = Posted::form(body).signed();
    let verified = posted.verify(&connector).expect("a signed callback verifies");
    connector.parse(&verified)
}

//! A manager's notification when a task climbs to `notify_manager`: a signed JSON POST to a webhook, and/or an
//! approved WhatsApp template through a messenger connector.
//!
//! The POST carries `X-Handoffd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (the time is
//! signed with the body, so a receiver can refuse an old request replayed), and `X-Handoffd-Delivery`, the same
//! for every attempt of one step of one handoff, so a receiver can drop a repeat (a step whose outcome was lost
//! in a crash runs again).

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::config::schema::ManagerWebhook;

pub const SIGNATURE_HEADER: &str = "X-Handoffd-Signature";
pub const DELIVERY_HEADER: &str = "X-Handoffd-Delivery";
/// How long a manager's webhook may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// What a manager's webhook receives.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ManagerNotice {
    /// Always `sla.escalated`.
    pub event: &'static str,
    pub handoff_id: String,
    pub crm: String,
    pub task_id: String,
    pub subject: String,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub manager: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub due_at: DateTime<Utc>,
    pub minutes_past_due: i64,
    /// The ladder step (0-based) that sent it.
    pub step: usize,
}

/// `t=<at>,v1=<hex>`: the signature header's value for `body` sent at `at`.
pub fn sign(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let timestamp = at.timestamp();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// POST the notice to the manager's webhook; an answer other than 2xx is an error (the step runs again at the
/// next check).
pub async fn post(
    http: &reqwest::Client,
    webhook: &ManagerWebhook,
    notice: &ManagerNotice,
    now: DateTime<Utc>,
) -> anyhow::Result<u16> {
    let body = serde_json::to_vec(notice)?;
    let response = http
        .post(&webhook.url)
        .timeout(WEBHOOK_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, sign(&webhook.secret, now, &body))
        .header(DELIVERY_HEADER, format!("{}:{}", notice.handoff_id, notice.step))
        .body(body)
        .send()
        .await
        .with_context(|| format!("posting to the manager's webhook `{}`", redact(&webhook.url)))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "the manager's webhook `{}` answered {status}", redact(&webhook.url));
    Ok(status.as_u16())
}

/// A URL fit for logs: no query (it may carry a token) and no password.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_signature_covers_the_time_and_the_body() {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).single().unwrap();
        let signed = sign("s3cret", at, b"{\"a\":1}");
        assert!(signed.starts_with(&format!("t={},v1=", at.timestamp())));
        assert_eq!(signed.len(), format!("t={},v1=", at.timestamp()).len() + 64);
        assert_ne!(signed, sign("s3cret", at, b"{\"a\":2}"), "another body, another signature");
        assert_ne!(signed, sign("s3cret", at + chrono::Duration::seconds(1), b"{\"a\":1}"), "another time");
        assert_ne!(signed, sign("other", at, b"{\"a\":1}"), "another secret");
        assert_eq!(signed, sign("s3cret", at, b"{\"a\":1}"));
    }

    #[test]
    fn urls_in_errors_lose_their_query_and_password() {
        assert_eq!(redact("https://u:p@hooks.example.com/x?token=abc"), "https://u@hooks.example.com/x");
    }
}

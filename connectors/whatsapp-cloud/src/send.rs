//! The connector as a [`Messenger`]: templates (any time) and free text (inside the 24-hour
//! customer service window) through the Graph API, with the connector's own `access_token`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoffd_contract::messenger::{Messenger, MessengerError, OutboundMessage, SentMessage};
use serde_json::{Value, json};

use crate::WhatsappCloudConfig;
use crate::json::{array_at, text_at};

/// The Graph API version sends go to.
pub const GRAPH_API_VERSION: &str = "v23.0";

/// Meta's customer service window: free text within 24 hours of the customer's last message.
pub const REPLY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Meta's error code for free text outside the window ("Re-engagement message").
const RE_ENGAGEMENT: i64 = 131_047;

const SEND_TIMEOUT: Duration = Duration::from_secs(30);

pub struct WhatsappMessenger {
    config: WhatsappCloudConfig,
    http: reqwest::Client,
}

impl WhatsappMessenger {
    pub fn new(config: WhatsappCloudConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(SEND_TIMEOUT).build()?;
        Ok(Self { config, http })
    }
}

/// The Graph API body for `message`.
fn request_body(message: &OutboundMessage) -> Value {
    match message {
        OutboundMessage::Template(template) => {
            let parameters: Vec<Value> =
                template.body_parameters.iter().map(|text| json!({"type": "text", "text": text})).collect();
            let mut body = json!({"name": template.name, "language": {"code": template.language}});
            if !parameters.is_empty() {
                body["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": template.to,
                "type": "template", "template": body})
        }
        OutboundMessage::Text { to, text } => json!({"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": to, "type": "text", "text": {"preview_url": false, "body": text}}),
        other => json!({"to": other.to()}),
    }
}

#[async_trait]
impl Messenger for WhatsappMessenger {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn reply_window(&self) -> Option<Duration> {
        Some(REPLY_WINDOW)
    }

    async fn send(
        &self,
        message: &OutboundMessage,
        last_inbound_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<SentMessage, MessengerError> {
        self.check_window(message, last_inbound_at, now)?;
        let token =
            self.config.access_token.as_deref().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                MessengerError::NotConfigured("no `access_token`: set one to send templates".to_owned())
            })?;
        let from = self
            .config
            .phone_number_ids()
            .next()
            .ok_or_else(|| MessengerError::NotConfigured("no `phone_number_id` to send from".to_owned()))?;
        let url = format!("{}/{GRAPH_API_VERSION}/{from}/messages", self.config.base_url.trim_end_matches('/'));
        let answer = self
            .http
            .post(url)
            .bearer_auth(token.trim())
            .json(&request_body(message))
            .send()
            .await
            .map_err(|e| MessengerError::Unavailable(e.without_url().to_string()))?;
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        let meta_error = || {
            let code = body.pointer("/error/code").and_then(Value::as_i64);
            let message = text_at(&body, &["error", "message"]).unwrap_or("no message").to_owned();
            (code, format!("{status}: {message}"))
        };
        match status.as_u16() {
            200..=299 => array_at(&body, &["messages"])
                .first()
                .and_then(|m| text_at(m, &["id"]))
                .map(|id| SentMessage { message_id: id.to_owned() })
                .ok_or_else(|| MessengerError::Unavailable(format!("{status} without a message id"))),
            401 | 403 => Err(MessengerError::Auth(meta_error().1)),
            429 | 500..=599 => Err(MessengerError::Unavailable(meta_error().1)),
            _ => match meta_error() {
                (Some(RE_ENGAGEMENT), _) => Err(MessengerError::OutsideWindow { last_inbound_at }),
                (_, message) => Err(MessengerError::Rejected(message)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use handoffd_contract::messenger::TemplateMessage;

    use super::*;

    #[test]
    fn a_template_lists_its_body_parameters_in_order() {
        let template = OutboundMessage::Template(TemplateMessage {
            to: "+919820011111".into(),
            name: "visit_confirmation".into(),
            language: "en_US".into(),
            body_parameters: vec!["Saturday".into(), "10 AM".into()],
        });
        assert_eq!(
            request_body(&template),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+919820011111",
                "type": "template", "template": {"name": "visit_confirmation", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Saturday"}, {"type": "text", "text": "10 AM"}]}]}})
        );
    }
}

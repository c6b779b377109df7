//! The messenger side of the contract: confirm the next step to the customer on their channel.
//!
//! WhatsApp's rule shapes it: free-form messages may be sent only within 24 hours of the
//! customer's last message (the customer service window); outside it, only a template Meta has
//! approved. [`Messenger::send`] enforces the window before any call, so a free-form message
//! outside it is refused here, not by the vendor after spending a request.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What to send.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutboundMessage {
    /// An approved template: allowed at any time.
    Template(TemplateMessage),
    /// Free text: allowed only inside the reply window.
    Text { to: String, text: String },
}

impl OutboundMessage {
    pub fn to(&self) -> &str {
        match self {
            Self::Template(template) => &template.to,
            Self::Text { to, .. } => to,
        }
    }
}

/// An approved template with its body parameters, in order (`{{1}}`, `{{2}}`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateMessage {
    /// The customer: an E.164 number or the vendor's user id.
    pub to: String,
    /// The template's name as approved, e.g. `visit_confirmation`.
    pub name: String,
    /// Its language code, e.g. `en_US`, `hi`.
    pub language: String,
    pub body_parameters: Vec<String>,
}

/// A message the vendor accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// The vendor's id for it (WhatsApp `wamid`): the dedup key of its status webhooks.
    pub message_id: String,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessengerError {
    /// Free text outside the reply window: send a template instead.
    #[error("the customer's last message was {}: outside the reply window, only a template may be sent", last_inbound_at.map(|at| at.to_rfc3339()).unwrap_or_else(|| "never".to_owned()))]
    OutsideWindow { last_inbound_at: Option<DateTime<Utc>> },
    /// The connector has no credentials for sending (e.g. no `access_token`).
    #[error("this connector is not set up to send: {0}")]
    NotConfigured(String),
    /// 429, 5xx or a network failure: the message was not sent; try again later.
    #[error("the vendor is unavailable: {0}")]
    Unavailable(String),
    /// The vendor refused the message itself (unknown template, bad number): do not retry.
    #[error("the vendor refused the message: {0}")]
    Rejected(String),
    /// Credentials refused: an admin must act.
    #[error("the vendor refused our credentials: {0}")]
    Auth(String),
}

/// A channel that can message the customer.
#[async_trait]
pub trait Messenger: Send + Sync {
    /// The connector id from the config.
    fn id(&self) -> &str;

    /// How long after the customer's last message free text may be sent (`None`: always).
    fn reply_window(&self) -> Option<Duration>;

    /// Whether `message` may be sent now, given when the customer last wrote.
    fn check_window(
        &self,
        message: &OutboundMessage,
        last_inbound_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), MessengerError> {
        let (OutboundMessage::Text { .. }, Some(window)) = (message, self.reply_window()) else { return Ok(()) };
        let inside = last_inbound_at
            .is_some_and(|at| at <= now && chrono::Duration::from_std(window).is_ok_and(|window| now - at < window));
        if inside { Ok(()) } else { Err(MessengerError::OutsideWindow { last_inbound_at }) }
    }

    /// Send `message`, refusing free text outside the reply window before any call.
    async fn send(
        &self,
        message: &OutboundMessage,
        last_inbound_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<SentMessage, MessengerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Windowed;

    #[async_trait]
    impl Messenger for Windowed {
        fn id(&self) -> &str {
            "w"
        }
        fn reply_window(&self) -> Option<Duration> {
            Some(Duration::from_secs(24 * 3600))
        }
        async fn send(
            &self,
            _: &OutboundMessage,
            _: Option<DateTime<Utc>>,
            _: DateTime<Utc>,
        ) -> Result<SentMessage, MessengerError> {
            unreachable!("not called by these tests")
        }
    }

    #[test]
    fn free_text_needs_a_customer_message_within_the_window_and_templates_do_not() {
        let now = Utc::now();
        let text = OutboundMessage::Text { to: "+91".into(), text: "hi".into() };
        let template = OutboundMessage::Template(TemplateMessage {
            to: "+91".into(),
            name: "t".into(),
            language: "en".into(),
            body_parameters: vec![],
        });
        let hours = |h| Some(now - chrono::Duration::hours(h));
        assert_eq!(Windowed.check_window(&text, hours(23), now), Ok(()));
        assert!(matches!(Windowed.check_window(&text, hours(24), now), Err(MessengerError::OutsideWindow { .. })));
        assert!(Windowed.check_window(&text, None, now).is_err());
        assert_eq!(Windowed.check_window(&template, hours(500), now), Ok(()));
        assert_eq!(Windowed.check_window(&template, None, now), Ok(()));
    }
}

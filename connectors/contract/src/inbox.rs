//! The inbox as a connector sees it: a place to commit a verified event before answering.
//!
//! A connector's own routes (WhatsApp's turns endpoint, its send proxy) store what they
//! receive through an [`InboxSink`] the daemon hands them, so a connector knows nothing of the
//! database or the pipeline behind it.

use async_trait::async_trait;

use crate::webhook::Verified;

/// Which door of its connector an inbox event came through; it decides who parses it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InboxSource {
    /// `/webhooks/{id}`: parsed by the connector's [`crate::webhook::WebhookSource`].
    Webhook,
    /// A page of the connector's [`crate::poll::PollSource`]: canonical interactions as JSON,
    /// which the connector produced itself (stored so a page is durable before its cursor moves).
    Poll,
    /// One of the connector's own routes, named by it (WhatsApp: `turn`, `proxied_send`):
    /// parsed by that route's [`crate::routes::RouteHandler`].
    Route(String),
}

impl InboxSource {
    /// The stored form: `webhook`, or the route's event name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Webhook => "webhook",
            Self::Poll => "poll",
            Self::Route(name) => name,
        }
    }

    /// The inverse of [`InboxSource::as_str`]. Any other name is a route's: an unknown one is
    /// refused when its row is parsed (and the row quarantined), not here.
    pub fn from_stored(text: &str) -> Self {
        match text {
            "webhook" => Self::Webhook,
            "poll" => Self::Poll,
            route => Self::Route(route.to_owned()),
        }
    }
}

impl std::fmt::Display for InboxSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Proof that an event is durable in the inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The inbox row's id.
    pub inbox_id: i64,
}

/// The event could not be committed: answer so that the sender tries again later.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the inbox could not commit the event: {0}")]
pub struct InboxError(pub String);

/// Where a connector's routes commit what they receive. Implemented by the daemon (group
/// commit); `accept` returns once the event is durable.
#[async_trait]
pub trait InboxSink: Send + Sync {
    async fn accept(&self, connector_id: &str, source: InboxSource, event: Verified) -> Result<Committed, InboxError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_reads_back() {
        for source in [
            InboxSource::Webhook,
            InboxSource::Poll,
            InboxSource::Route("turn".into()),
            InboxSource::Route("proxied_send".into()),
        ] {
            assert_eq!(InboxSource::from_stored(source.as_str()), source);
        }
    }
}

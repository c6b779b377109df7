//! `POST /webhooks/{id}/turns`: bots that cannot point their Graph API base URL at handoffd post
//! what they (or a human agent) said, signed like Meta's webhooks with the app secret. The turn
//! is committed to the inbox before the answer, like a webhook.

use std::sync::Arc;

use async_trait::async_trait;
use handoffd_contract::inbox::{InboxSink, InboxSource};
use handoffd_contract::routes::{RouteAnswer, RouteHandler, text_response};
use handoffd_contract::webhook::{ParseError, ParsedEvent, RawRequest, Verified};
use http::{Method, StatusCode};

use crate::signature;

/// The inbox source name of a turn.
pub const TURN: &str = "turn";

/// The turns endpoint of one connector.
pub struct TurnsRoute {
    pub(crate) connector_id: String,
    pub(crate) app_secret: String,
}

impl TurnsRoute {
    pub fn new(connector_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Self { connector_id: connector_id.into(), app_secret: app_secret.into() }
    }
}

#[async_trait]
impl RouteHandler for TurnsRoute {
    fn event_name(&self) -> &'static str {
        TURN
    }

    async fn handle(&self, request: RawRequest<'_>, inbox: Arc<dyn InboxSink>) -> RouteAnswer {
        if request.method != Method::POST {
            return RouteAnswer::Respond(text_response(StatusCode::METHOD_NOT_ALLOWED, "use POST"));
        }
        let verified = Verified::check(&request, &["content-type"], |request| {
            signature::verify(&self.app_secret, request.headers, request.body)
        });
        let verified = match verified {
            Ok(verified) => verified,
            Err(error) => {
                metrics::counter!("handoffd_webhooks_refused_total", "connector" => self.connector_id.clone())
                    .increment(1);
                tracing::warn!(connector = %self.connector_id, source = TURN, %error, "Refused a request: bad signature.");
                return RouteAnswer::Respond(text_response(StatusCode::UNAUTHORIZED, "bad signature"));
            }
        };
        match inbox.accept(&self.connector_id, InboxSource::Route(TURN.to_owned()), verified).await {
            Ok(_) => {
                // Counted with the webhooks, as turns are signed the same way.
                metrics::counter!("handoffd_webhooks_accepted_total", "connector" => self.connector_id.clone())
                    .increment(1);
                RouteAnswer::Respond(text_response(StatusCode::OK, "ok"))
            }
            Err(error) => {
                // Not acknowledged, so the bot posts it again later: nothing is lost.
                tracing::error!(connector = %self.connector_id, %error, "Could not commit a turn; answering 503.");
                RouteAnswer::Respond(text_response(StatusCode::SERVICE_UNAVAILABLE, "not stored, try again"))
            }
        }
    }

    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError> {
        crate::turns::parse_turn(event.body()).map(|turn| ParsedEvent { interactions: vec![turn], ignored: Vec::new() })
    }
}

//! The Graph API send proxy: `/graph/{version}/{phone_number_id}/messages` on `server.listen`.
//!
//! A bot points its Graph API base URL here. The request goes on unchanged (method, headers
//! with the bot's own bearer token, body) to the connector's `base_url`, and Meta's answer comes
//! back unchanged, with no retry of ours: the bot owns its retries, and a second send would
//! message the customer twice. Once Meta has accepted a message (a `wamid` in the answer), the
//! send is recorded as an `ai` turn (an `agent` turn with one of `agent_access_tokens`), off the
//! answer's path: recording never delays or changes the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use handoffd_contract::conversation::Speaker;
use handoffd_contract::inbox::{InboxSink, InboxSource};
use handoffd_contract::interaction::Content;
use handoffd_contract::routes::{RouteAnswer, RouteHandler, text_response};
use handoffd_contract::webhook::{ParseError, ParsedEvent, RawRequest, Verified};
use http::{HeaderName, StatusCode};
use serde::{Deserialize, Serialize};

use crate::WhatsappCloud;
use crate::proxy::{outbound_from_send, parse_proxy_path};

/// The inbox source name of a proxied send.
pub const PROXIED_SEND: &str = "proxied_send";

/// How long Meta may take to answer a proxied send before the bot gets 504.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers that belong to one connection, not to the message (RFC 9110 section 7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

fn end_to_end(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str())
}

/// A send that went through the proxy, as stored in the inbox.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProxiedSend {
    pub request: String,
    pub response: String,
    /// Sent with one of the connector's `agent_access_tokens`: a human agent, not the AI.
    #[serde(default)]
    pub agent: bool,
}

/// The send proxy of one connector: it claims the sends from the phone numbers it serves.
pub struct SendProxyRoute {
    connector: Arc<WhatsappCloud>,
    /// No retries, no redirects, Meta's answer within [`UPSTREAM_TIMEOUT`].
    http: reqwest::Client,
}

impl SendProxyRoute {
    pub fn new(connector: Arc<WhatsappCloud>) -> Result<Self, reqwest::Error> {
        let http =
            reqwest::Client::builder().timeout(UPSTREAM_TIMEOUT).redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Self { connector, http })
    }

    fn connector_id(&self) -> &str {
        &self.connector.config().id
    }
}

#[async_trait]
impl RouteHandler for SendProxyRoute {
    fn event_name(&self) -> &'static str {
        PROXIED_SEND
    }

    async fn handle(&self, request: RawRequest<'_>, inbox: Arc<dyn InboxSink>) -> RouteAnswer {
        // Only the messages path of a configured number, only to its connector: no open relay.
        let Some(path) = parse_proxy_path(request.path) else {
            return RouteAnswer::Respond(text_response(StatusCode::NOT_FOUND, "not a Graph API messages path"));
        };
        if !self.connector.serves_phone_number(&path.phone_number_id) {
            return RouteAnswer::NotMine;
        }
        let config = self.connector.config();
        // No query string is forwarded: the messages endpoint takes none, and Graph reads an
        // `access_token` from the query, which would let a caller send as someone else.
        let url = format!("{}{}", config.base_url.trim_end_matches('/'), path.upstream_path());
        if !request.query.is_empty() {
            tracing::debug!(connector = %self.connector_id(), "A proxied send carried a query string; it is not forwarded.");
        }
        let body = Bytes::copy_from_slice(request.body);
        let mut upstream = self.http.request(request.method.clone(), &url).body(body.clone());
        for (name, value) in request.headers.iter().filter(|(name, _)| end_to_end(name)) {
            upstream = upstream.header(name, value);
        }
        let started = Instant::now();
        let answer = match upstream.send().await {
            Ok(answer) => answer,
            Err(error) => {
                metrics::counter!("handoffd_proxy_upstream_errors_total").increment(1);
                let status = if error.is_timeout() { StatusCode::GATEWAY_TIMEOUT } else { StatusCode::BAD_GATEWAY };
                tracing::warn!(connector = %self.connector_id(), error = %error.without_url(), "The Graph API did not answer a proxied send.");
                return RouteAnswer::Respond(text_response(status, "the Graph API did not answer"));
            }
        };
        let status = answer.status();
        let answer_headers = answer.headers().clone();
        let answer_body = match answer.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(connector = %self.connector_id(), error = %error.without_url(), "The Graph API's answer broke off.");
                return RouteAnswer::Respond(text_response(
                    StatusCode::BAD_GATEWAY,
                    "the Graph API's answer broke off",
                ));
            }
        };
        metrics::histogram!("handoffd_proxy_upstream_seconds").record(started.elapsed().as_secs_f64());

        if status.is_success() {
            let bearer = request
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let agent = bearer.is_some_and(|token| config.agent_access_tokens.iter().any(|t| t == token));
            self.record(inbox, &body, &answer_body, agent);
        }
        let mut response = http::Response::new(answer_body);
        *response.status_mut() = status;
        for (name, value) in answer_headers.iter().filter(|(name, _)| end_to_end(name)) {
            response.headers_mut().append(name, value.clone());
        }
        RouteAnswer::Respond(response)
    }

    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError> {
        parse_proxied_send(event)
    }
}

impl SendProxyRoute {
    /// Keep the accepted send in the inbox, in the background.
    fn record(&self, inbox: Arc<dyn InboxSink>, request: &Bytes, answer: &Bytes, agent: bool) {
        let (Ok(request), Ok(response)) = (std::str::from_utf8(request), std::str::from_utf8(answer)) else {
            return;
        };
        let send = ProxiedSend { request: request.to_owned(), response: response.to_owned(), agent };
        let Ok(body) = serde_json::to_vec(&send) else { return };
        // Meta accepted it: that is the check a send needs, and we wrote the event ourselves.
        let event = Verified::produced_by_connector(body, Utc::now());
        let connector_id = self.connector_id().to_owned();
        tokio::spawn(async move {
            if let Err(error) = inbox.accept(&connector_id, InboxSource::Route(PROXIED_SEND.to_owned()), event).await {
                metrics::counter!("handoffd_proxy_record_failures_total").increment(1);
                tracing::error!(connector = %connector_id, %error, "A proxied send was answered but could not be recorded.");
            }
        });
    }
}

/// A stored [`ProxiedSend`] as the `ai` (or `agent`) turn it became; none when Meta's answer
/// carries no wamid.
pub fn parse_proxied_send(event: &Verified) -> Result<ParsedEvent, ParseError> {
    let send: ProxiedSend = serde_json::from_slice(event.body()).map_err(|e| ParseError::Json(e.to_string()))?;
    let mut outbound = outbound_from_send(send.request.as_bytes(), send.response.as_bytes(), event.received_at());
    if send.agent
        && let Some(Content::Message(message)) = outbound.as_mut().map(|o| &mut o.content)
    {
        message.from = Speaker::Agent;
    }
    Ok(ParsedEvent { interactions: outbound.into_iter().collect(), ignored: Vec::new() })
}

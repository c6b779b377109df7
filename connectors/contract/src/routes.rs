//! HTTP routes a connector serves beyond `/webhooks/{id}` (WhatsApp: the turns endpoint and the
//! Graph API send proxy), described without any web framework: the daemon mounts them.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::inbox::InboxSink;
use crate::webhook::{ParseError, ParsedEvent, RawRequest, Verified};

/// Where a route is mounted on `server.listen`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoutePath {
    /// `/webhooks/{connector id}/{name}`: one connector's own endpoint (`turns`).
    UnderWebhook(&'static str),
    /// Every path under `/{prefix}/`, shared by every connector that serves it (`graph`): each
    /// is asked in turn and answers [`RouteAnswer::NotMine`] to requests for another.
    Prefix(&'static str),
}

/// What a route made of a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum RouteAnswer {
    /// Send this back.
    Respond(http::Response<Bytes>),
    /// The request is for another connector sharing the path (a phone number this one does
    /// not serve); the daemon asks the next one, and answers 404 when none claims it.
    NotMine,
}

/// One route of a connector. The handler checks the request itself (a route is the vendor's
/// or the bot's protocol, not ours) and commits what it accepted through `inbox` under
/// [`RouteHandler::event_name`]; later the daemon hands the stored event back to
/// [`RouteHandler::parse`].
#[async_trait]
pub trait RouteHandler: Send + Sync {
    /// The inbox source name of the events this route commits (`turn`, `proxied_send`).
    fn event_name(&self) -> &'static str;

    async fn handle(&self, request: RawRequest<'_>, inbox: Arc<dyn InboxSink>) -> RouteAnswer;

    /// Turn an event this route committed into interactions.
    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError>;
}

/// A route and where it is mounted.
#[derive(Clone)]
pub struct Route {
    pub path: RoutePath,
    pub handler: Arc<dyn RouteHandler>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route").field("path", &self.path).field("event_name", &self.handler.event_name()).finish()
    }
}

/// A plain answer with a text body, for routes' refusals.
pub fn text_response(status: http::StatusCode, text: &'static str) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from_static(text.as_bytes()));
    *response.status_mut() = status;
    response
}

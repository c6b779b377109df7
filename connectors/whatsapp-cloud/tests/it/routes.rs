//! The connector's own routes: the turns endpoint commits before it answers, the send proxy
//! forwards only its own numbers and records what Meta accepted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use handoffd_contract::conversation::Speaker;
use handoffd_contract::inbox::{Committed, InboxError, InboxSink, InboxSource};
use handoffd_contract::routes::{RouteAnswer, RouteHandler};
use handoffd_contract::webhook::{RawRequest, Verified};
use handoffd_whatsapp_cloud::WhatsappCloud;
use handoffd_whatsapp_cloud::routes::{SendProxyRoute, TurnsRoute};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{APP_SECRET, config, message, signed_headers};

/// An inbox that keeps what it accepted, or refuses everything.
#[derive(Default)]
struct MemoryInbox {
    accepted: Mutex<Vec<(String, InboxSource, Verified)>>,
    refuse: bool,
}

#[async_trait::async_trait]
impl InboxSink for MemoryInbox {
    async fn accept(&self, connector_id: &str, source: InboxSource, event: Verified) -> Result<Committed, InboxError> {
        if self.refuse {
            return Err(InboxError("disk full".into()));
        }
        let mut accepted = self.accepted.lock().unwrap();
        accepted.push((connector_id.to_owned(), source, event));
        Ok(Committed { inbox_id: accepted.len() as i64 })
    }
}

impl MemoryInbox {
    fn taken(&self) -> Vec<(String, InboxSource, Verified)> {
        std::mem::take(&mut *self.accepted.lock().unwrap())
    }
}

fn status(answer: RouteAnswer) -> StatusCode {
    match answer {
        RouteAnswer::Respond(response) => response.status(),
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn turn_body() -> Vec<u8> {
    json!({"to": "+919820011111", "at": "2025-11-25T14:05:00+05:30", "from": "ai", "text": "A colleague will call you.",
        "handoff": true, "message_id": "bot-1"})
    .to_string()
    .into_bytes()
}

fn raw<'a>(method: &'a Method, path: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> RawRequest<'a> {
    RawRequest { method, path, query: "", headers, body, received_at: chrono::Utc::now(), peer: None }
}

#[tokio::test]
async fn a_signed_turn_is_committed_then_acknowledged_and_parses_from_the_stored_event() {
    let route = TurnsRoute::new("wa-main", APP_SECRET);
    let inbox = Arc::new(MemoryInbox::default());
    let body = turn_body();
    let headers = signed_headers(&body);
    let answer = route.handle(raw(&Method::POST, "/webhooks/wa-main/turns", &headers, &body), inbox.clone()).await;
    assert_eq!(status(answer), StatusCode::OK);
    let accepted = inbox.taken();
    assert_eq!(accepted.len(), 1);
    let (connector, source, event) = &accepted[0];
    assert_eq!((connector.as_str(), source), ("wa-main", &InboxSource::Route("turn".into())));
    let parsed = route.parse(event).unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "bot-1");
    assert!(message(&parsed.interactions[0]).handoff);
}

#[tokio::test]
async fn a_bad_signature_a_get_or_a_failed_commit_is_not_acknowledged() {
    let route = TurnsRoute::new("wa-main", APP_SECRET);
    let inbox = Arc::new(MemoryInbox::default());
    let body = turn_body();
    let mut forged = HeaderMap::new();
    forged
        .insert("x-hub-signature-256", HeaderValue::from_str(&handoffd_whatsapp_cloud::sign("other", &body)).unwrap());
    let refused = route.handle(raw(&Method::POST, "/webhooks/wa-main/turns", &forged, &body), inbox.clone()).await;
    assert_eq!(status(refused), StatusCode::UNAUTHORIZED);
    let headers = signed_headers(&body);
    let get = route.handle(raw(&Method::GET, "/webhooks/wa-main/turns", &headers, &body), inbox.clone()).await;
    assert_eq!(status(get), StatusCode::METHOD_NOT_ALLOWED);
    assert!(inbox.taken().is_empty(), "nothing refused is stored");

    let full = Arc::new(MemoryInbox { refuse: true, ..MemoryInbox::default() });
    let unstored = route.handle(raw(&Method::POST, "/webhooks/wa-main/turns", &headers, &body), full).await;
    assert_eq!(status(unstored), StatusCode::SERVICE_UNAVAILABLE, "the bot must post it again");
}

async fn proxy_to(server: &MockServer) -> SendProxyRoute {
    let mut config = config();
    config.base_url = server.uri();
    config.agent_access_tokens = vec!["agent-desk".into()];
    SendProxyRoute::new(Arc::new(WhatsappCloud::new(config))).unwrap()
}

#[tokio::test]
async fn the_proxy_claims_only_its_numbers_and_the_messages_path() {
    let server = MockServer::start().await;
    let route = proxy_to(&server).await;
    let inbox = Arc::new(MemoryInbox::default());
    let headers = HeaderMap::new();
    let other = route.handle(raw(&Method::POST, "/graph/v23.0/999/messages", &headers, b"{}"), inbox.clone()).await;
    assert!(matches!(other, RouteAnswer::NotMine), "another connector's number");
    let media =
        route.handle(raw(&Method::POST, "/graph/v23.0/106600112233/media", &headers, b"{}"), inbox.clone()).await;
    assert_eq!(status(media), StatusCode::NOT_FOUND);
    assert!(server.received_requests().await.unwrap().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn an_accepted_agent_send_is_forwarded_unchanged_and_recorded_as_the_agents_turn() {
    let server = MockServer::start().await;
    let answer = json!({"messaging_product": "whatsapp", "contacts": [{"input": "919820011111", "wa_id": "919820011111"}],
        "messages": [{"id": "wamid.PROXY1"}]});
    Mock::given(method("POST"))
        .and(path("/v23.0/106600112299/messages"))
        .and(header("authorization", "Bearer agent-desk"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&answer))
        .expect(1)
        .mount(&server)
        .await;
    let route = proxy_to(&server).await;
    let inbox = Arc::new(MemoryInbox::default());
    let send =
        json!({"messaging_product": "whatsapp", "to": "919820011111", "type": "text", "text": {"body": "Arjun here."}})
            .to_string();
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_static("Bearer agent-desk"));
    let answered = route
        .handle(raw(&Method::POST, "/graph/v23.0/106600112299/messages", &headers, send.as_bytes()), inbox.clone())
        .await;
    let RouteAnswer::Respond(response) = answered else { panic!("the proxy answers") };
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(response.body()).unwrap(),
        answer,
        "Meta's answer, unchanged"
    );

    // Recorded off the answer's path.
    let mut recorded = Vec::new();
    for _ in 0..100 {
        recorded = inbox.taken();
        if !recorded.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let [(_, source, event)] = recorded.as_slice() else { panic!("one send recorded, got {}", recorded.len()) };
    assert_eq!(source, &InboxSource::Route("proxied_send".into()));
    let parsed = route.parse(event).unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "wamid.PROXY1");
    assert_eq!(message(&parsed.interactions[0]).from, Speaker::Agent);
}

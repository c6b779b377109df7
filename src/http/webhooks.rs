//! `/webhooks/{id}`: verify the whole request, commit the verified event to the inbox, then
//! answer. Parsing happens later, on the stored row, so a slow or failing parser never costs an
//! acknowledgement.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Extensions, HeaderMap, Method, StatusCode, Uri};
use chrono::Utc;
use handoffd_contract::inbox::InboxSource;
use handoffd_contract::webhook::{Handshake, RawRequest, VerifyError};

use super::AppState;
use crate::store::NewInboxEvent;

/// A GET: a vendor handshake, or an event from a vendor that delivers by GET.
pub async fn handshake(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let connectors = state.connectors.get();
    let Some(entry) = connectors.webhooks.get(&id) else {
        return (StatusCode::NOT_FOUND, format!("no connector `{id}`"));
    };
    let request = raw_request(&method, &uri, &extensions, &headers, b"");
    match entry.source.handshake(&request) {
        Handshake::Accept(challenge) => {
            tracing::info!(connector = %id, "Answered a webhook subscription handshake.");
            (StatusCode::OK, challenge)
        }
        Handshake::Forbidden => {
            tracing::warn!(connector = %id, "Refused a webhook handshake with a wrong verify token.");
            (StatusCode::FORBIDDEN, "wrong verify token".to_owned())
        }
        _ if entry.source.events_by_get() => {
            let (status, text) = accept(&state, id, &request).await;
            (status, text.to_owned())
        }
        _ => (StatusCode::BAD_REQUEST, "not a handshake".to_owned()),
    }
}

pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    accept(&state, id, &raw_request(&method, &uri, &extensions, &headers, &body)).await
}

fn raw_request<'a>(
    method: &'a Method,
    uri: &'a Uri,
    extensions: &Extensions,
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> RawRequest<'a> {
    // Present when the server was started with connect info (the daemon's is); absent in tests
    // that drive the router directly.
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    RawRequest {
        method,
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers,
        body,
        received_at: Utc::now(),
        peer,
    }
}

/// The `reason` label of a refusal: a small fixed set, so the metric's series stay bounded.
fn refusal_reason(error: &VerifyError) -> &'static str {
    match error {
        VerifyError::Missing(_) => "missing_signature",
        VerifyError::Malformed(_) => "malformed_signature",
        VerifyError::Mismatch => "bad_signature",
        VerifyError::Stale => "stale",
        _ => "refused",
    }
}

/// Refuse an unverified request (nothing stored), or commit it and answer once it is durable.
async fn accept(state: &AppState, connector_id: String, request: &RawRequest<'_>) -> (StatusCode, &'static str) {
    let connectors = state.connectors.get();
    let Some(entry) = connectors.webhooks.get(&connector_id) else {
        return (StatusCode::NOT_FOUND, "no such connector");
    };
    metrics::counter!("handoffd_webhooks_received_total", "connector" => connector_id.clone()).increment(1);
    let event = match entry.source.verify(request) {
        Ok(event) => event,
        Err(error) => {
            let reason = refusal_reason(&error);
            metrics::counter!("handoffd_webhooks_refused_total", "connector" => connector_id.clone(), "reason" => reason)
                .increment(1);
            tracing::warn!(connector = %connector_id, source = "webhook", reason, %error, "Refused a request: 401.");
            return (StatusCode::UNAUTHORIZED, "bad signature");
        }
    };
    let new = NewInboxEvent { connector_id: connector_id.clone(), source: InboxSource::Webhook, event };
    match state.inbox.commit(new).await {
        Ok(_) => {
            metrics::counter!("handoffd_webhooks_accepted_total", "connector" => connector_id).increment(1);
            (StatusCode::OK, "ok")
        }
        Err(error) => {
            // Not acknowledged, so the vendor delivers it again later: nothing is lost.
            tracing::error!(connector = %connector_id, %error, "Could not commit a webhook; answering 503.");
            (StatusCode::SERVICE_UNAVAILABLE, "not stored, try again")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use handoffd_contract::webhook::{ParseError, ParsedEvent, Verified, VerifyError, WebhookSource};
    use tower::ServiceExt;

    use super::*;
    use crate::ingest::InboxWriter;
    use crate::registry::{Connectors, WebhookEntry};

    /// A vendor like Exotel: events by GET, a token in the query, a timestamp header to keep.
    struct ByGet;

    impl WebhookSource for ByGet {
        fn id(&self) -> &str {
            "ex"
        }
        fn handshake(&self, _: &RawRequest<'_>) -> Handshake {
            Handshake::NotAHandshake
        }
        fn events_by_get(&self) -> bool {
            true
        }
        fn kept_headers(&self) -> &[&'static str] {
            &["x-timestamp"]
        }
        fn authenticate(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
            request.query.split('&').any(|pair| pair == "token=t0k").then_some(()).ok_or(VerifyError::Mismatch)
        }
        fn parse(&self, _: &Verified) -> Result<ParsedEvent, ParseError> {
            Ok(ParsedEvent::default())
        }
    }

    #[tokio::test]
    async fn a_vendor_that_delivers_by_get_has_its_query_and_kept_headers_stored_once_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&format!("sqlite://{}", dir.path().join("h.db").display())).await.unwrap();
        let (writer, inbox) = InboxWriter::new(store.clone(), Default::default());
        tokio::spawn(writer.run());
        let mut connectors = Connectors::default();
        connectors.webhooks.insert("ex".into(), WebhookEntry { source: Arc::new(ByGet), default_region: None });
        let app = crate::http::router(
            AppState {
                store: store.clone(),
                connectors: crate::daemon::shared::Shared::new(connectors),
                inbox,
                stages: Default::default(),
            },
            1024,
        );
        let get = |uri: &str| {
            axum::http::Request::get(uri)
                .header("x-timestamp", "1764057600")
                .header("x-other", "no")
                .body(Body::empty())
        };

        let refused = app.clone().oneshot(get("/webhooks/ex?CallSid=CA1&token=bad").unwrap()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let accepted = app.oneshot(get("/webhooks/ex?CallSid=CA1&token=t0k").unwrap()).await.unwrap();
        assert_eq!(accepted.status(), StatusCode::OK);

        let rows = store.unprocessed_inbox(10).await.unwrap();
        assert_eq!(rows.len(), 1, "only the verified request is stored");
        assert_eq!(rows[0].source, InboxSource::Webhook);
        assert_eq!(rows[0].event.query(), "CallSid=CA1&token=t0k");
        assert_eq!(rows[0].event.headers(), [("x-timestamp".to_owned(), "1764057600".to_owned())]);
    }
}

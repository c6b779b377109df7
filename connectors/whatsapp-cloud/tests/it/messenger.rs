//! The connector as a messenger: templates through the Graph API with the connector's token,
//! free text only inside the 24-hour window.

use chrono::{Duration, Utc};
use handoffd_contract::messenger::{Messenger, MessengerError, OutboundMessage, TemplateMessage};
use handoffd_whatsapp_cloud::send::WhatsappMessenger;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::config;

fn messenger(server: &MockServer) -> WhatsappMessenger {
    let mut config = config();
    config.base_url = server.uri();
    config.access_token = Some("wa-send-token".into());
    WhatsappMessenger::new(config).unwrap()
}

fn template() -> OutboundMessage {
    OutboundMessage::Template(TemplateMessage {
        to: "+919820011111".into(),
        name: "visit_confirmation".into(),
        language: "en_US".into(),
        body_parameters: vec!["Saturday 10 AM".into()],
    })
}

#[tokio::test]
async fn a_template_goes_out_from_the_first_number_with_the_connectors_token_even_after_the_window() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/106600112233/messages"))
        .and(header("authorization", "Bearer wa-send-token"))
        .and(body_partial_json(json!({"type": "template", "to": "+919820011111",
            "template": {"name": "visit_confirmation", "language": {"code": "en_US"}}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.TPL1"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let last_inbound = Some(Utc::now() - Duration::days(3));
    let sent = messenger(&server).send(&template(), last_inbound, Utc::now()).await.unwrap();
    assert_eq!(sent.message_id, "wamid.TPL1");
}

#[tokio::test]
async fn free_text_outside_the_window_is_refused_without_a_call() {
    let server = MockServer::start().await;
    let text = OutboundMessage::Text { to: "+919820011111".into(), text: "Still interested?".into() };
    let stale = Some(Utc::now() - Duration::hours(25));
    let refused = messenger(&server).send(&text, stale, Utc::now()).await;
    assert!(matches!(refused, Err(MessengerError::OutsideWindow { .. })), "{refused:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn metas_re_engagement_error_reads_as_outside_the_window_and_a_bad_token_as_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "text"})))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"message": "Re-engagement message", "code": 131047}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "template"})))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"message": "Invalid OAuth access token", "code": 190}})),
        )
        .mount(&server)
        .await;
    let text = OutboundMessage::Text { to: "+919820011111".into(), text: "hi".into() };
    let recent = Some(Utc::now() - Duration::hours(1));
    let outside = messenger(&server).send(&text, recent, Utc::now()).await;
    assert!(matches!(outside, Err(MessengerError::OutsideWindow { .. })), "{outside:?}");
    let auth = messenger(&server).send(&template(), None, Utc::now()).await;
    assert!(matches!(auth, Err(MessengerError::Auth(_))), "{auth:?}");
}

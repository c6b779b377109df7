//! The AI's side of a WhatsApp chat: the Graph API send proxy, the turns endpoint, and the
//! handoff marker that ends a conversation without waiting for the quiet period.

use std::time::{Duration, Instant};

use handoffd_mocks::MockOptions;
use serde_json::json;

use super::harness::*;

const GRAPH_PATH: &str = "/graph/v23.0/106540352242922/messages";

async fn send_via(base: &str, token: Option<&str>, body: &serde_json::Value) -> (u16, String) {
    let mut request = reqwest::Client::new().post(format!("{base}{GRAPH_PATH}")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn proxied_ai_turns_are_answered_unchanged_and_a_handoff_phrase_ends_the_conversation_at_once() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.graph_base_url = mock.graph_base_url();
    harness.quiet_period = "60s";
    let daemon = harness.start().await;
    let proxy = format!("http://{}", daemon.addr);

    let customer =
        text_webhook("wamid.PX1", "919820088888", "Meera", "Can someone call me about the 2BHK price?", now_unix());
    assert_eq!(post_signed(daemon.addr, &customer).await, 200);

    let send = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "919820088888",
        "type": "text", "text": {"body": "Sure! Our team will call you Saturday morning. I'm connecting you with our team now."}});
    let (status, body) = send_via(&proxy, Some("bot-token"), &send).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(answer["messages"][0]["id"].as_str().unwrap().starts_with("wamid."), "Meta's answer, unchanged: {body}");
    assert_eq!(answer["contacts"][0]["input"], "919820088888");

    // The handoff phrase ends the conversation: the task comes long before the 60 s quiet period.
    let started = Instant::now();
    let tasks =
        eventually(Duration::from_secs(15), "the task", || async { Some(mock.tasks()).filter(|t| !t.is_empty()) })
            .await;
    assert!(started.elapsed() < Duration::from_secs(15));
    let body = &tasks[0].properties["hs_task_body"];
    assert!(body.contains("Saturday morning"), "the AI's promise reaches the brief: {body}");
    assert_eq!(mock.report().whatsapp_messages_sent, 1);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_proxy_is_no_open_relay_and_passes_meta_errors_through() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.graph_base_url = mock.graph_base_url();
    let daemon = harness.start().await;
    let base = format!("http://{}", daemon.addr);
    let client = reqwest::Client::new();
    let send = json!({"messaging_product": "whatsapp", "to": "919820088888", "type": "text", "text": {"body": "hi"}});

    for path in ["/graph/v23.0/999999/messages", "/graph/v23.0/106540352242922/media", "/graph/../etc/passwd"] {
        let status = client.post(format!("{base}{path}")).bearer_auth("t").json(&send).send().await.unwrap().status();
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(mock.report().whatsapp_messages_sent, 0, "nothing was forwarded");

    // No bearer token: forwarded as it is, and Meta's 401 comes back as it came.
    let (status, body) = send_via(&base, None, &send).await;
    let (direct_status, direct_body) = send_via(&mock.graph_base_url().replace("/graph", ""), None, &send).await;
    assert_eq!(status, 401);
    assert_eq!((status, body.len()), (direct_status, direct_body.len()), "{body} vs {direct_body}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_signed_turn_with_the_handoff_flag_ends_the_conversation_and_a_bad_one_is_refused() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.quiet_period = "60s";
    let daemon = harness.start().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/webhooks/wa-main/turns", daemon.addr);
    let turn = json!({"to": "+919820099999", "at": chrono::Utc::now().to_rfc3339(), "from": "ai",
        "text": "Thanks! A counsellor will call you tomorrow evening.", "handoff": true, "message_id": "turn-1"})
    .to_string();

    let refused = client.post(&url).header("X-Hub-Signature-256", "sha256=00").body(turn.clone()).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(daemon.store.stage_counts().await.unwrap().inbox_total, 0);

    let customer =
        text_webhook("wamid.TURN1", "919820099999", "Kabir", "I want admission details for the MBA", now_unix());
    assert_eq!(post_signed(daemon.addr, &customer).await, 200);
    let signature = handoffd_whatsapp_cloud::sign(APP_SECRET, turn.as_bytes());
    let accepted = client.post(&url).header("X-Hub-Signature-256", signature).body(turn).send().await.unwrap();
    assert_eq!(accepted.status(), 200);

    let tasks =
        eventually(Duration::from_secs(15), "the task", || async { Some(mock.tasks()).filter(|t| !t.is_empty()) })
            .await;
    assert!(tasks[0].properties["hs_task_body"].contains("tomorrow evening"), "{:?}", tasks[0].properties);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_send_with_an_agent_token_is_recorded_as_the_agents_turn() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.graph_base_url = mock.graph_base_url();
    let daemon = harness.start().await;
    let proxy = format!("http://{}", daemon.addr);
    let customer = text_webhook("wamid.AG1", "919820012121", "Nisha", "When can I visit?", now_unix());
    assert_eq!(post_signed(daemon.addr, &customer).await, 200);

    let human = json!({"messaging_product": "whatsapp", "to": "919820012121", "type": "text", "text": {"body": "Hi Nisha, Arjun here."}});
    let bot = json!({"messaging_product": "whatsapp", "to": "919820012121", "type": "text", "text": {"body": "Let me check."}});
    assert_eq!(send_via(&proxy, Some("agent-desk-token"), &human).await.0, 200);
    assert_eq!(send_via(&proxy, Some("bot-token"), &bot).await.0, 200);

    let store = daemon.store.clone();
    let timeline = eventually(Duration::from_secs(10), "three turns stored", || {
        let store = store.clone();
        async move {
            let customer = store.customer_for_key("phone:+919820012121").await.ok()??;
            let timeline = store.customer_timeline(&customer).await.ok()?;
            let turns: Vec<String> =
                timeline.events.into_iter().filter(|e| e.source == "interaction").map(|e| e.summary).collect();
            Some(turns).filter(|t| t.len() == 3)
        }
    })
    .await;
    assert!(timeline.iter().any(|s| s.starts_with("agent") && s.contains("Arjun")), "{timeline:?}");
    assert!(timeline.iter().any(|s| s.starts_with("ai") && s.contains("Let me check")), "{timeline:?}");
    daemon.shutdown().await.unwrap();
}

/// Graph reads an `access_token` from the query: a query string on a proxied send is never
/// forwarded, so a caller cannot send with a token of its choosing (or anything else).
#[tokio::test]
async fn the_proxy_forwards_no_query_string() {
    let graph = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "919820088888", "wa_id": "919820088888"}],
            "messages": [{"id": "wamid.QUERY1"}]
        })))
        .mount(&graph)
        .await;
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.graph_base_url = graph.uri();
    let daemon = harness.start().await;
    let send = json!({"messaging_product": "whatsapp", "to": "919820088888", "type": "text", "text": {"body": "hi"}});
    let answer = reqwest::Client::new()
        .post(format!("http://{}{GRAPH_PATH}?access_token=someone-elses&appsecret_proof=x", daemon.addr))
        .bearer_auth("bot-token")
        .json(&send)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let received = graph.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].url.path(), "/v23.0/106540352242922/messages");
    assert_eq!(received[0].url.query(), None, "no query string reaches Graph");
    daemon.shutdown().await.unwrap();
}

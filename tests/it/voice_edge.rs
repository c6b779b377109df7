//! The voice connectors at the daemon's edge, on a real server: a request is stored only once
//! its signature (Twilio, Standard Webhooks) or its token and source address (Exotel) pass; a
//! signed body that does not parse is quarantined with its reason; a redelivery is stored once.

use std::time::Duration;

use handoffd_mocks::MockOptions;
use handoffd_twilio::signature::{Algorithm, form_pairs, sign};
use handoffd_webhook::signature::{standard_webhooks_key, standard_webhooks_sign};

use crate::spine::harness::*;

const TWILIO_TOKEN: &str = "e2e-twilio-auth-token";
const EXOTEL_TOKEN: &str = "e2e-exotel-token-51a0c7";
const WEBHOOK_SECRET: &str = "whsec_ZTJlLWdlbmVyaWMtd2ViaG9vay1zZWNyZXQtMDE=";

fn voice_connectors() -> String {
    format!(
        r#"  - id: tw-main
    kind: twilio
    auth_token: {TWILIO_TOKEN}
    account_sid: AC00000000000000000000000000000000
    base_url: http://127.0.0.1:9
  - id: ex-near
    kind: exotel
    token: {EXOTEL_TOKEN}
    allowed_sources: ["127.0.0.1"]
    account_sid: acme
    api_key: k
    api_token: t
    base_url: http://127.0.0.1:9
  - id: ex-far
    kind: exotel
    token: {EXOTEL_TOKEN}
    allowed_sources: ["10.0.0.0/8"]
    account_sid: acme
    api_key: k
    api_token: t
    base_url: http://127.0.0.1:9
  - id: acme-voice
    kind: webhook
    signature: {{scheme: standard_webhooks, secret: "{WEBHOOK_SECRET}"}}
    fields: {{phone: /customer/phone, turns: /turns}}
    default_region: IN
"#
    )
}

/// The mock and the harness (its state folder) live as long as the daemon.
async fn daemon() -> (handoffd_mocks::MockHandle, Harness, handoffd::daemon::RunningDaemon) {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { panic!("SQLite always runs") };
    harness.extra_hubspot = voice_connectors();
    let daemon = harness.start().await;
    (mock, harness, daemon)
}

async fn post_twilio(addr: std::net::SocketAddr, body: &str, signed_url: Option<String>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks/tw-main"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(url) = signed_url {
        let signature = sign(Algorithm::HmacSha1, TWILIO_TOKEN.as_bytes(), &url, &form_pairs(body.as_bytes()));
        request = request.header("x-twilio-signature", signature);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn twilio_callbacks_are_stored_only_when_signed_for_the_url_called() {
    let (_mock, _harness, daemon) = daemon().await;
    let addr = daemon.addr;
    let url = format!("http://{addr}/webhooks/tw-main");
    let completed = "CallSid=CAe2e0001&CallStatus=completed&Direction=inbound&From=%2B919820012345&To=%2B14155550134";

    assert_eq!(post_twilio(addr, completed, None).await, 401, "no signature");
    let forged = reqwest::Client::new()
        .post(&url)
        .header(
            "x-twilio-signature",
            sign(Algorithm::HmacSha1, b"another-token", &url, &form_pairs(completed.as_bytes())),
        )
        .body(completed)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401, "another account's token");
    // Signed for the public URL a proxy rewrote: without `public_url` the daemon cannot match it.
    assert_eq!(post_twilio(addr, completed, Some("https://voice.example.com/twilio".into())).await, 401);
    assert_eq!(daemon.store.stage_counts().await.unwrap().inbox_total, 0, "nothing refused is stored");

    assert_eq!(post_twilio(addr, completed, Some(url.clone())).await, 200);
    assert_eq!(post_twilio(addr, completed, Some(url.clone())).await, 200, "Twilio's redelivery");
    assert_eq!(post_twilio(addr, "CallStatus=completed&From=%2B919820012345", Some(url)).await, 200);

    let store = daemon.store.clone();
    let counts = eventually(Duration::from_secs(5), "one call stored and one body quarantined", || {
        let store = store.clone();
        async move {
            let counts = store.stage_counts().await.ok()?;
            (counts.inbox_unprocessed == 0 && counts.quarantined == 1).then_some(counts)
        }
    })
    .await;
    assert_eq!((counts.inbox_total, counts.interactions), (3, 1), "the redelivery is deduplicated");
    let quarantined = daemon.store.list_quarantine(10).await.unwrap();
    assert!(quarantined[0].reason.contains("CallSid"), "{:?}", quarantined[0].reason);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn exotel_events_need_the_token_and_a_listed_source_address() {
    let (_mock, _harness, daemon) = daemon().await;
    let client = reqwest::Client::new();
    let query = "CallSid=EXe2e1&CallFrom=09812345678&CallTo=02233344455&Direction=incoming&Stream[Status]=completed";
    let get = |id: &str, token: &str| {
        let url = format!("http://{}/webhooks/{id}?{query}&token={token}", daemon.addr);
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get("ex-near", "wrong-token-0000000").await, 401);
    assert_eq!(get("ex-far", EXOTEL_TOKEN).await, 401, "127.0.0.1 is not in 10.0.0.0/8");
    assert_eq!(get("ex-near", EXOTEL_TOKEN).await, 200);
    let store = daemon.store.clone();
    eventually(Duration::from_secs(5), "the Passthru call stored", || {
        let store = store.clone();
        async move { store.stage_counts().await.ok().filter(|c| c.interactions == 1 && c.inbox_total == 1) }
    })
    .await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn standard_webhooks_requests_are_refused_when_stale_and_stored_once_when_replayed() {
    let (_mock, _harness, daemon) = daemon().await;
    let url = format!("http://{}/webhooks/acme-voice", daemon.addr);
    let key = standard_webhooks_key(WEBHOOK_SECRET).unwrap();
    let body =
        r#"{"customer":{"phone":"+919820077001"},"turns":[{"role":"user","text":"Call me back about the loan."}]}"#;
    let send = |timestamp: i64| {
        let signature = standard_webhooks_sign(&key, "msg_e2e_1", timestamp, body.as_bytes());
        reqwest::Client::new()
            .post(&url)
            .header("webhook-id", "msg_e2e_1")
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
    };
    let now = now_unix();
    assert_eq!(send(now - 301).await.unwrap().status(), 401, "stale");
    assert_eq!(daemon.store.stage_counts().await.unwrap().inbox_total, 0);
    assert_eq!(send(now).await.unwrap().status(), 200);
    assert_eq!(send(now).await.unwrap().status(), 200, "a replay inside the window is accepted and deduplicated");
    let store = daemon.store.clone();
    let counts = eventually(Duration::from_secs(5), "both rows processed", || {
        let store = store.clone();
        async move { store.stage_counts().await.ok().filter(|c| c.inbox_total == 2 && c.inbox_unprocessed == 0) }
    })
    .await;
    assert_eq!(counts.interactions, 1);
    daemon.shutdown().await.unwrap();
}

fn explain(connector: &str, input: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["explain", "--config", "tests/fixtures/explain/voice.yaml", "--connector", connector, "--input", input])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// What becomes of a call after parsing (a handoff, or history only) is the pipeline's; here the
/// raw bodies must go through the connector as the daemon's webhook would, nothing quarantined.
#[test]
fn explain_takes_a_raw_twilio_form_body_and_an_exotel_passthru_request() {
    for (connector, input) in [
        ("tw-main", "tests/fixtures/explain/twilio_completed.form"),
        ("ex-main", "tests/fixtures/explain/exotel_passthru.txt"),
    ] {
        let output = explain(connector, input);
        assert!(output.status.success(), "{connector}: {}", String::from_utf8_lossy(&output.stderr));
        let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(out["quarantined"], serde_json::json!([]), "{connector}: {out:#}");
        for handoff in out["handoffs"].as_array().expect("a list of handoffs") {
            assert_eq!(handoff["conversation"]["channel"], "voice", "{connector}");
        }
    }
}

#[test]
fn explain_says_why_a_twilio_body_cannot_be_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("no_call_sid.form");
    std::fs::write(&input, "CallStatus=completed&From=%2B14155550199").unwrap();
    let output = explain("tw-main", input.to_str().unwrap());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CallSid") && stderr.contains("quarantine"), "{stderr}");
}

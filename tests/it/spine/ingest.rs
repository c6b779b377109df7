//! The webhook edge: handshake, signatures, quarantine, redelivery.

use std::time::Duration;

use handoffd_mocks::MockOptions;

use super::harness::*;

#[tokio::test]
async fn handshake_answers_the_challenge_only_with_the_right_token() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/webhooks/wa-main", daemon.addr);

    let ok = client
        .get(format!("{url}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");

    let wrong =
        client.get(format!("{url}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    let unknown = client.get(format!("http://{}/webhooks/nope?hub.mode=subscribe", daemon.addr)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_or_missing_signature_is_refused_and_nothing_is_stored() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    let body = text_webhook("wamid.BAD1", "919820012345", "Rahul", "price of 2BHK?", now_unix());

    assert_eq!(post_webhook(daemon.addr, &body, None).await, 401);
    let forged = handoffd_whatsapp_cloud::sign("another-secret", body.as_bytes());
    assert_eq!(post_webhook(daemon.addr, &body, Some(forged)).await, 401);
    assert_eq!(post_webhook(daemon.addr, &body, Some("sha256=zz".into())).await, 401);

    let counts = daemon.store.stage_counts().await.unwrap();
    assert_eq!(counts.inbox_total, 0, "a refused webhook must not be stored");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_body_gets_413() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    let body = "x".repeat(2 * 1024 * 1024);
    assert_eq!(post_signed(daemon.addr, &body).await, 413);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn signed_but_malformed_body_is_acknowledged_and_quarantined() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;

    assert_eq!(post_signed(daemon.addr, "{not json").await, 200);
    assert_eq!(post_signed(daemon.addr, r#"{"object":"page","entry":[]}"#).await, 200);

    let store = daemon.store.clone();
    let entries = eventually(Duration::from_secs(5), "two quarantined bodies", || {
        let store = store.clone();
        async move { store.list_quarantine(10).await.ok().filter(|q| q.len() == 2) }
    })
    .await;
    assert!(entries.iter().any(|e| e.body == b"{not json" && e.reason.contains("JSON")), "{entries:?}");
    assert!(entries.iter().all(|e| e.connector_id == "wa-main"));
    daemon.shutdown().await.unwrap();
}

//! What is not actionable, end to end through the WhatsApp connector: a lone emoji reaction to a
//! business message (and taking it back), a delivery or read status, a system notice (the
//! customer changed number) and a message type WhatsApp could not deliver are stored in the
//! customer's history, counted, and make no task; the customer's next real message does.

use std::time::Duration;

use handoffd_mocks::MockOptions;
use serde_json::{Value, json};

use super::harness::*;

const WAIT: Duration = Duration::from_secs(15);
const WA_ID: &str = "919820033333";

/// One webhook body of the `messages` field: `value` holds the messages or statuses.
fn webhook(value: Value) -> String {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({"display_phone_number": "15550783881", "phone_number_id": "106540352242922"});
    json!({"object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]})
    .to_string()
}

fn contact() -> Value {
    json!([{"profile": {"name": "Kavya Iyer"}, "wa_id": WA_ID}])
}

fn events(at: i64) -> Vec<String> {
    let ts = |offset: i64| (at + offset).to_string();
    vec![
        // The customer reacts to the AI's message, then takes the reaction back.
        webhook(json!({"contacts": contact(), "messages": [
            {"from": WA_ID, "id": "wamid.NA.REACT1", "timestamp": ts(0), "type": "reaction",
             "reaction": {"message_id": "wamid.NA.BUSINESS1", "emoji": "🙏"}},
            {"from": WA_ID, "id": "wamid.NA.REACT2", "timestamp": ts(1), "type": "reaction",
             "reaction": {"message_id": "wamid.NA.BUSINESS1", "emoji": ""}}]})),
        // The business's message was delivered and read.
        webhook(json!({"statuses": [
            {"id": "wamid.NA.BUSINESS1", "status": "delivered", "timestamp": ts(2), "recipient_id": WA_ID},
            {"id": "wamid.NA.BUSINESS1", "status": "read", "timestamp": ts(3), "recipient_id": WA_ID}]})),
        // A message type the Cloud API cannot deliver.
        webhook(json!({"contacts": contact(), "messages": [
            {"from": WA_ID, "id": "wamid.NA.UNSUP1", "timestamp": ts(4), "type": "unsupported",
             "errors": [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                         "error_data": {"details": "Message type is currently not supported."}}]}]})),
        // The customer changed number: a system notice.
        webhook(json!({"messages": [
            {"from": WA_ID, "id": "wamid.NA.SYS1", "timestamp": ts(5), "type": "system",
             "system": {"body": "Kavya Iyer changed from 919820033333 to 919820044444",
                        "wa_id": "919820044444", "type": "customer_changed_number"}}]})),
    ]
}

#[tokio::test]
async fn reactions_statuses_notices_and_unsupported_messages_make_no_task() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    let at = now_unix();
    let bodies = events(at);
    for body in &bodies {
        assert_eq!(post_signed(daemon.addr, body).await, 200);
    }
    let store = daemon.store.clone();
    let counts = eventually(WAIT, "every event stored", || {
        let store = store.clone();
        async move { store.stage_counts().await.ok().filter(|c| c.inbox_unprocessed == 0 && c.interactions == 6) }
    })
    .await;
    assert_eq!(counts.quarantined, 0, "every body parsed");
    assert_eq!(counts.handoffs_collecting, 0, "no handoff was opened");
    // Well past the quiet period (1 s): still nothing to deliver.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(mock.tasks().is_empty(), "{:?}", mock.tasks());
    let counts = daemon.store.stage_counts().await.unwrap();
    assert_eq!((counts.outbox_pending, counts.handoffs_with_task), (0, 0), "{counts:?}");
    let metrics = reqwest::get(format!("http://{}/metrics", daemon.admin_addr)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("handoffd_messages_without_handoff_total{reason=\"reaction\"}"), "{metrics}");
    assert!(metrics.contains("handoffd_messages_without_handoff_total{reason=\"unsupported\"}"), "{metrics}");

    // The customer's next message is a handoff, and the reactions before it are not its turns.
    let text = text_webhook("wamid.NA.TEXT1", WA_ID, "Kavya Iyer", "Is the 2BHK in Baner still available?", at + 10);
    assert_eq!(post_signed(daemon.addr, &text).await, 200);
    let tasks = eventually(WAIT, "the message's task", || async { Some(mock.tasks()).filter(|t| !t.is_empty()) }).await;
    assert_eq!(tasks.len(), 1);
    let body = &tasks[0].properties["hs_task_body"];
    assert!(body.contains("2BHK"), "{body}");
    assert!(!body.contains("Reacted") && !body.contains("unsupported") && !body.contains('🙏'), "{body}");
    daemon.shutdown().await.unwrap();
}

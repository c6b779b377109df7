//! The exact HubSpot requests the spine makes, against wiremock; a 429 whose `Retry-After` is respected before
//! the task is written; and more 429s in a row than `delivery.max_attempts` still end in the task, not a dead
//! letter (a rate limit is a wait, not a failed attempt).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::harness::*;

/// Answers batch/create: first `limited` times with 429 + `Retry-After`, then 201 echoing the inputs as
/// HubSpot does (ids assigned, properties returned). Records when each call arrived.
struct BatchCreate {
    calls: Arc<Mutex<Vec<(Instant, Value)>>>,
    limited: usize,
    retry_after: &'static str,
}

impl Respond for BatchCreate {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
        let mut calls = self.calls.lock().unwrap();
        calls.push((Instant::now(), body.clone()));
        if calls.len() <= self.limited {
            return ResponseTemplate::new(429).insert_header("Retry-After", self.retry_after).set_body_json(json!({
                "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT", "correlationId": "3f1c7e3a-1111-4b59-9f0e-5a0f0c1d2e3f",
                "policyName": "TEN_SECONDLY_ROLLING"
            }));
        }
        let results: Vec<Value> = body["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, input)| {
                json!({"id": format!("9000{i}"), "properties": input["properties"], "createdAt": "2026-11-25T10:00:00Z",
                       "updatedAt": "2026-11-25T10:00:00Z", "archived": false})
            })
            .collect();
        ResponseTemplate::new(201).set_body_json(json!({
            "status": "COMPLETE", "results": results,
            "startedAt": "2026-11-25T10:00:00Z", "completedAt": "2026-11-25T10:00:01Z"
        }))
    }
}

/// HubSpot on wiremock: no contact yet, one created, and batch/create answered by `batch_create`.
async fn hubspot_with(batch_create: BatchCreate) -> MockServer {
    let hubspot = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/properties/tasks/handoffd_handoff_id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "handoffd_handoff_id"})))
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .and(header("authorization", "Bearer mock-hubspot-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})))
        .expect(1)
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "5101", "properties": {"phone": "+919820012345", "firstname": "Rahul", "lastname": "Mehta"},
            "createdAt": "2026-11-25T10:00:00Z", "updatedAt": "2026-11-25T10:00:00Z", "archived": false
        })))
        .expect(1)
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/create"))
        .respond_with(batch_create)
        .mount(&hubspot)
        .await;
    hubspot
}

#[tokio::test]
async fn the_task_request_is_exact_and_a_429_retry_after_is_respected() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let hubspot = hubspot_with(BatchCreate { calls: calls.clone(), limited: 1, retry_after: "2" }).await;

    // Skipped (no PostgreSQL for the on_postgres copy): the expectations above must not fail the skip.
    let Some(mut harness) = Harness::new(hubspot.uri()) else {
        hubspot.reset().await;
        return;
    };
    harness.owners = vec![OWNER_A];
    let daemon = harness.start().await;
    let body =
        text_webhook("wamid.EXACT1", "919820012345", "Rahul Mehta", "I want to visit the flat tomorrow", now_unix());
    assert_eq!(post_signed(daemon.addr, &body).await, 200);

    eventually(Duration::from_secs(20), "the second batch/create", || async {
        Some(()).filter(|_| calls.lock().unwrap().len() >= 2)
    })
    .await;
    let store = daemon.store.clone();
    eventually(Duration::from_secs(5), "the job finished", || {
        let store = store.clone();
        async move { store.stage_counts().await.ok().filter(|c| c.outbox_pending == 0) }
    })
    .await;
    daemon.shutdown().await.unwrap();

    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 2, "one 429, then one successful write");
    let waited = calls[1].0 - calls[0].0;
    assert!(waited >= Duration::from_secs(2), "Retry-After: 2 was not respected: retried after {waited:?}");

    let input = &calls[1].1["inputs"][0];
    assert_eq!(calls[1].1["inputs"].as_array().unwrap().len(), 1);
    let props = &input["properties"];
    assert_eq!(props["hubspot_owner_id"], OWNER_A);
    assert_eq!(props["hs_task_type"], "CALL");
    assert_eq!(props["hs_task_status"], "NOT_STARTED");
    assert_eq!(props["hs_task_priority"], "HIGH", "a visit tomorrow is high urgency: {props}");
    assert!(props["hs_task_body"].as_str().unwrap().starts_with("<p><strong>"), "{props}");
    assert!(props["handoffd_handoff_id"].as_str().is_some_and(|id| !id.is_empty()));
    // Due: the customer asked for tomorrow, so the task is due at tomorrow's opening (IST).
    let due = chrono::DateTime::parse_from_rfc3339(props["hs_timestamp"].as_str().unwrap()).expect("ISO due time");
    let tomorrow =
        (chrono::Utc::now().with_timezone(&chrono_tz::Asia::Kolkata) + chrono::Duration::days(1)).date_naive();
    assert_eq!(due.with_timezone(&chrono_tz::Asia::Kolkata).date_naive(), tomorrow, "{props}");
    assert_eq!(
        input["associations"],
        json!([{"to": {"id": "5101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}])
    );
}

#[tokio::test]
async fn more_429s_than_max_attempts_still_end_in_the_task() {
    // The harness allows 4 attempts; HubSpot refuses six times in a row for its rate limit.
    const LIMITED: usize = 6;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let hubspot = hubspot_with(BatchCreate { calls: calls.clone(), limited: LIMITED, retry_after: "0" }).await;
    // Skipped (no PostgreSQL for the on_postgres copy): the expectations above must not fail the skip.
    let Some(mut harness) = Harness::new(hubspot.uri()) else {
        hubspot.reset().await;
        return;
    };
    harness.owners = vec![OWNER_A];
    let daemon = harness.start().await;
    let body =
        text_webhook("wamid.LIMITED1", "919820012346", "Rahul Mehta", "Please call me about the flat", now_unix());
    assert_eq!(post_signed(daemon.addr, &body).await, 200);

    let store = daemon.store.clone();
    eventually(Duration::from_secs(30), "the job finished", || {
        let store = store.clone();
        let calls = calls.clone();
        async move {
            let written = calls.lock().unwrap().len() > LIMITED;
            store.stage_counts().await.ok().filter(|c| written && c.outbox_pending == 0)
        }
    })
    .await;
    let dead = daemon.store.list_dead_letters(10).await.unwrap();
    daemon.shutdown().await.unwrap();
    assert!(dead.is_empty(), "a rate-limited job was dead-lettered: {dead:?}");
    assert_eq!(calls.lock().unwrap().len(), LIMITED + 1, "six refusals, then one write");
}

//! Voice calls end to end: a Vapi report lost and found again by the poller (one task), a
//! WhatsApp chat followed by a Retell call of the same phone (one task, updated), and a call that
//! is no handoff (recorded, counted, no task).

use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta, Utc};
use handoffd_mocks::MockOptions;
use serde_json::{Value, json};

use super::harness::*;

const WAIT: Duration = Duration::from_secs(15);
const VAPI_SECRET: &str = "vapi-server-secret";
const VAPI_KEY: &str = "vapi-private-key";
const RETELL_KEY: &str = "key_retell_test";

fn voice_connectors(vapi_base_url: &str) -> String {
    format!(
        r#"  - id: vapi-main
    kind: vapi
    secret: {VAPI_SECRET}
    api_key: {VAPI_KEY}
    base_url: {vapi_base_url}
    default_region: IN
    poll: {{schedule: "* * * * * *", look_back: 1h, settle: 1s}}
  - id: retell-main
    kind: retell
    api_key: {RETELL_KEY}
    default_region: IN
"#
    )
}

fn stamp(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A finished Vapi call as `GET /call` lists it, and the end-of-call report it would have sent.
fn vapi_call(id: &str, phone: &str) -> (Value, Value) {
    let now = Utc::now();
    let (created, ended) = (now - TimeDelta::minutes(3), now - TimeDelta::seconds(30));
    let artifact = json!({"messages": [
        {"role": "bot", "message": "Thanks for calling Skyline Homes, how can I help?", "secondsFromStart": 1.0},
        {"role": "user", "message": "Is the 2BHK in Andheri still available? My budget is 1.2 crore. Please call me back.", "secondsFromStart": 5.0},
        {"role": "bot", "message": "It is. Our sales team will call you back today.", "secondsFromStart": 11.0}
    ]});
    let analysis = json!({"summary": "Wants the Andheri 2BHK; budget 1.2 crore; asked for a callback.",
        "structuredData": {"callbackRequested": true, "budget": "1.2 crore", "leadTemperature": "warm"}});
    let call = json!({"id": id, "type": "inboundPhoneCall", "status": "ended", "createdAt": stamp(created),
        "updatedAt": stamp(ended), "startedAt": stamp(created), "endedAt": stamp(ended),
        "endedReason": "customer-ended-call", "customer": {"number": phone}, "artifact": artifact, "analysis": analysis});
    let report = json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
        "startedAt": stamp(created), "endedAt": stamp(ended), "customer": {"number": phone},
        "call": {"id": id, "type": "inboundPhoneCall"}, "artifact": artifact, "analysis": analysis}});
    (call, report)
}

async fn post(
    addr: std::net::SocketAddr,
    connector: &str,
    body: &str,
    headers: &[(&str, String)],
) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks/{connector}"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("webhook post").status()
}

async fn metrics(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn a_lost_vapi_report_is_found_by_the_poller_and_makes_one_task() {
    let mock = start_mock(MockOptions::default()).await;
    let vapi = handoffd_mocks::vapi::start(VAPI_KEY).await.unwrap();
    let Some(mut harness) = Harness::new(mock.base_url()) else { panic!("SQLite always runs") };
    harness.extra_hubspot = voice_connectors(&vapi.base_url());
    // The report never reached us: Vapi only has the call.
    let (call, report) = vapi_call("call-lost-1", "+919820012345");
    vapi.add_call(call);
    let daemon = harness.start().await;

    let tasks =
        eventually(WAIT, "a task from the polled call", || async { Some(mock.tasks()).filter(|t| !t.is_empty()) })
            .await;
    let body = &tasks[0].properties["hs_task_body"];
    assert!(body.contains("1.2 crore"), "{body}");
    assert!(
        body.contains("Call data") && body.contains("lead temperature: warm"),
        "vendor data as a labelled fact: {body}"
    );
    assert!(!body.contains("Thanks for calling"), "never a transcript dump: {body}");

    // The report arrives late after all: the same call and message type, stored once.
    let text = report.to_string();
    assert_eq!(post(daemon.addr, "vapi-main", &text, &[("x-vapi-secret", VAPI_SECRET.to_owned())]).await, 200);
    // A few more polls list the same call again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(mock.tasks().len(), 1);
    let report = mock.report();
    assert_eq!((report.tasks_created, report.duplicate_tasks), (1, 0));
    let counts = daemon.store.stage_counts().await.unwrap();
    assert_eq!(counts.interactions, 1, "the webhook's copy and every re-poll were duplicates");
    assert!(vapi.list_requests() >= 2, "the poller runs on its schedule");
    let shown = metrics(daemon.admin_addr).await;
    assert!(shown.contains("handoffd_poller_lag_seconds{connector=\"vapi-main\"}"), "{shown}");
    // The task written is timed from the end of the call (its end signal), as a histogram with buckets.
    assert!(shown.contains("handoffd_handoff_latency_seconds_bucket{crm=\"hubspot-main\",le=\"3600\"}"), "{shown}");
    assert!(shown.contains("handoffd_queue_oldest_age_seconds{stage=\"outbox\"}"), "{shown}");
    // A wrong secret is refused and nothing is stored.
    assert_eq!(post(daemon.addr, "vapi-main", &text, &[("x-vapi-secret", "guess".to_owned())]).await, 401);
    assert_eq!(daemon.store.stage_counts().await.unwrap().inbox_total, counts.inbox_total);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_whatsapp_chat_then_a_call_of_the_same_phone_update_one_task() {
    let mock = start_mock(MockOptions::default()).await;
    let vapi = handoffd_mocks::vapi::start(VAPI_KEY).await.unwrap();
    let Some(mut harness) = Harness::new(mock.base_url()) else { panic!("SQLite always runs") };
    harness.extra_hubspot = voice_connectors(&vapi.base_url());
    let daemon = harness.start().await;

    let chat = text_webhook(
        "wamid.VOICE1",
        "919820055555",
        "Priya Nair",
        "Hi, I want to know about the 3BHK in Baner",
        now_unix(),
    );
    assert_eq!(post_signed(daemon.addr, &chat).await, 200);
    let first = eventually(WAIT, "the chat's task", || async { Some(mock.tasks()).filter(|t| !t.is_empty()) }).await;
    assert_eq!(first.len(), 1);

    // The AI calls her back on the same number (written with the country code, no plus).
    let now = Utc::now().timestamp_millis();
    let call = json!({"event": "call_analyzed", "call": {"call_id": "retell-call-9", "direction": "outbound",
        "from_number": "+14155550100", "to_number": "919820055555", "call_status": "ended",
        "start_timestamp": now - 90_000, "end_timestamp": now - 5_000, "disconnection_reason": "user_hangup",
        "transcript_object": [
            {"role": "agent", "content": "Hi Priya, calling about the 3BHK in Baner.", "words": [{"start": 0.5}]},
            {"role": "user", "content": "Yes, can I visit on Saturday? My budget is 2 crore.", "words": [{"start": 4.0}]}
        ],
        "call_analysis": {"call_summary": "Wants a Saturday visit to the Baner 3BHK; budget 2 crore.",
            "call_successful": true, "custom_analysis_data": {"visit_day": "Saturday", "lead_source": "Instagram ad"}}}});
    let body = call.to_string();
    let signature = handoffd_retell::sign(RETELL_KEY, body.as_bytes(), Utc::now().timestamp_millis());
    assert_eq!(post(daemon.addr, "retell-main", &body, &[("x-retell-signature", signature)]).await, 200);
    // A stale signature is refused.
    let stale = handoffd_retell::sign(RETELL_KEY, body.as_bytes(), Utc::now().timestamp_millis() - 301_000);
    assert_eq!(post(daemon.addr, "retell-main", &body, &[("x-retell-signature", stale)]).await, 401);

    let updated = eventually(WAIT, "the task updated by the call", || async {
        Some(mock.tasks())
            .filter(|t| t.len() == 1 && t[0].properties["hs_task_body"].contains("lead source: Instagram ad"))
    })
    .await;
    assert_eq!(updated[0].id, first[0].id, "one customer, one task");
    let report = mock.report();
    assert_eq!(report.tasks_created, 1);
    assert!(report.tasks_updated >= 1, "{report:?}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_voicemail_is_recorded_and_counted_but_makes_no_task() {
    let mock = start_mock(MockOptions::default()).await;
    let vapi = handoffd_mocks::vapi::start(VAPI_KEY).await.unwrap();
    let Some(mut harness) = Harness::new(mock.base_url()) else { panic!("SQLite always runs") };
    harness.extra_hubspot = voice_connectors(&vapi.base_url());
    let daemon = harness.start().await;

    let voicemail = json!({"message": {"type": "end-of-call-report", "endedReason": "voicemail",
        "customer": {"number": "+919820077777"}, "call": {"id": "call-vm-1", "type": "outboundPhoneCall"},
        "artifact": {"messages": [{"role": "bot", "message": "Hi, this is Skyline Homes returning your call."}]},
        "analysis": {}}});
    let silent = json!({"message": {"type": "end-of-call-report", "endedReason": "silence-timed-out",
        "customer": {"number": "+919820077778"}, "call": {"id": "call-silent-1", "type": "inboundPhoneCall"},
        "artifact": {"messages": [{"role": "bot", "message": "Hello? Are you there?"}]}, "analysis": {}}});
    for report in [voicemail, silent] {
        let status =
            post(daemon.addr, "vapi-main", &report.to_string(), &[("x-vapi-secret", VAPI_SECRET.to_owned())]).await;
        assert_eq!(status, 200);
    }
    let store = daemon.store.clone();
    eventually(WAIT, "both calls recorded", || {
        let store = store.clone();
        async move { store.stage_counts().await.ok().filter(|c| c.interactions == 2) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(mock.tasks().is_empty(), "{:?}", mock.tasks());
    // A signed report that does not parse is kept in quarantine with its reason.
    let no_call_id = json!({"message": {"type": "end-of-call-report", "call": {}, "artifact": {}, "analysis": {}}});
    let status =
        post(daemon.addr, "vapi-main", &no_call_id.to_string(), &[("x-vapi-secret", VAPI_SECRET.to_owned())]).await;
    assert_eq!(status, 200);
    let quarantined = eventually(WAIT, "the report in quarantine", || {
        let store = store.clone();
        async move { store.list_quarantine(10).await.ok().filter(|q| !q.is_empty()) }
    })
    .await;
    assert_eq!(quarantined[0].connector_id, "vapi-main");
    assert!(quarantined[0].reason.contains("call.id"), "{:?}", quarantined[0].reason);
    let shown = metrics(daemon.admin_addr).await;
    assert!(shown.contains("handoffd_calls_without_handoff_total{reason=\"voicemail\"}"), "{shown}");
    assert!(shown.contains("handoffd_calls_without_handoff_total{reason=\"customer_silent\"}"), "{shown}");
    daemon.shutdown().await.unwrap();
}

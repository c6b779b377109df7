//! The poller against the bundled Vapi mock (`GET /call`, newest first, bare array).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use handoffd_contract::interaction::Content;
use handoffd_contract::poll::{PollError, PollSource};
use handoffd_mocks::VoiceMock;
use handoffd_vapi::poll::VapiPoller;
use serde_json::{Value, json};

use super::now;

fn poller(mock: &VoiceMock, api_key: &str) -> VapiPoller {
    VapiPoller {
        id: "vapi".into(),
        base_url: mock.base_url(),
        api_key: api_key.into(),
        schedule: "0 */5 * * * *".into(),
        look_back: Duration::from_secs(3600),
        settle: Duration::from_secs(300),
        http: reqwest::Client::new(),
        now: super::now,
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn call(id: &str, created: DateTime<Utc>, status: &str, ended: Option<DateTime<Utc>>) -> Value {
    json!({
        "id": id, "type": "inboundPhoneCall", "status": status,
        "createdAt": stamp(created), "updatedAt": stamp(ended.unwrap_or(created)),
        "startedAt": stamp(created), "endedAt": ended.map(stamp),
        "endedReason": ended.map(|_| "customer-ended-call"),
        "customer": {"number": "+919820012345"},
        "artifact": {"messages": [{"role": "user", "message": "Please call me back", "secondsFromStart": 1.0}]},
        "analysis": {"summary": "Wants a callback", "structuredData": {"callbackRequested": true}}
    })
}

#[tokio::test]
async fn finished_calls_are_found_keyed_as_their_report_and_the_cursor_waits_for_running_ones() {
    let mock = handoffd_mocks::vapi::start("vapi-key").await.unwrap();
    let t = |minutes: i64| now() - TimeDelta::minutes(minutes);
    mock.add_call(call("old", t(120), "ended", Some(t(118))));
    mock.add_call(call("done", t(50), "ended", Some(t(45))));
    mock.add_call(call("running", t(30), "in-progress", None));
    mock.add_call(call("after", t(20), "ended", Some(t(15))));
    mock.add_call(call("fresh", t(8), "ended", Some(t(2))));

    let page = poller(&mock, "vapi-key").poll(None).await.unwrap();
    let keys: Vec<&str> = page.interactions.iter().map(|i| i.dedup_key.as_str()).collect();
    // The look-back is an hour: `old` is out; `running` and `fresh` (ended 2 minutes ago, settle 5) are not
    // finished; `after` is listed, but the cursor stops just before `running`, so it is found again later.
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, ["after:end-of-call-report", "done:end-of-call-report"]);
    assert_eq!(page.next_cursor.as_deref(), Some(stamp(t(30) - TimeDelta::milliseconds(1)).as_str()));
    assert!(!page.more);
    let Content::Call(found) = &page.interactions[0].content else { panic!() };
    assert_eq!(found.analysis["callbackRequested"], json!(true));
    assert_eq!(page.interactions[0].keys.len(), 1);

    // From the cursor: `running` still holds it; nothing is lost and nothing is skipped.
    let again = poller(&mock, "vapi-key").poll(page.next_cursor.as_deref()).await.unwrap();
    assert_eq!(again.next_cursor, page.next_cursor);
}

#[tokio::test]
async fn a_full_page_halves_the_window_instead_of_guessing_what_was_left_out() {
    let mock = handoffd_mocks::vapi::start("vapi-key").await.unwrap();
    let from = now() - TimeDelta::minutes(50);
    for i in 0..150 {
        let created = from + TimeDelta::seconds(10 * (i + 1));
        mock.add_call(call(&format!("c{i:03}"), created, "ended", Some(created + TimeDelta::seconds(5))));
    }
    let mut cursor = Some(stamp(from));
    let mut found = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let page = poller(&mock, "vapi-key").poll(cursor.as_deref()).await.unwrap();
        assert!(page.interactions.len() < handoffd_vapi::poll::PAGE_LIMIT);
        found.extend(page.interactions.iter().map(|i| i.dedup_key.clone()));
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    // Calls within the settle time stay for later; every other call is found exactly by its key.
    let settled =
        (0..150).filter(|i| from + TimeDelta::seconds(10 * (i + 1) + 5) <= now() - TimeDelta::minutes(5)).count();
    assert_eq!(found.len(), settled);
}

#[tokio::test]
async fn errors_are_classified() {
    let mock = handoffd_mocks::vapi::start("vapi-key").await.unwrap();
    assert!(matches!(poller(&mock, "wrong").poll(None).await, Err(PollError::Auth(_))));
    mock.fail_next(1);
    assert!(matches!(poller(&mock, "vapi-key").poll(None).await, Err(PollError::Unavailable { .. })));
    assert!(matches!(poller(&mock, "vapi-key").poll(Some("last tuesday")).await, Err(PollError::InvalidCursor(_))));
    let future = stamp(now() + TimeDelta::days(1));
    assert!(matches!(poller(&mock, "vapi-key").poll(Some(&future)).await, Err(PollError::InvalidCursor(_))));
}

//! The poller against the bundled Retell mock (`POST /v3/list-calls`).

use std::time::Duration;

use chrono::TimeDelta;
use handoffd_contract::poll::{PollError, PollSource};
use handoffd_mocks::VoiceMock;
use handoffd_retell::poll::RetellPoller;
use serde_json::{Value, json};

use super::now;

fn poller(mock: &VoiceMock, api_key: &str) -> RetellPoller {
    RetellPoller {
        id: "retell".into(),
        base_url: mock.base_url(),
        api_key: api_key.into(),
        schedule: "0 */5 * * * *".into(),
        look_back: Duration::from_secs(3600),
        settle: Duration::from_secs(300),
        http: reqwest::Client::new(),
        now: super::now,
    }
}

fn call(id: &str, minutes_ago: i64, status: &str, ended_minutes_ago: Option<i64>, analysed: bool) -> Value {
    let at = |m: i64| (now() - TimeDelta::minutes(m)).timestamp_millis();
    let mut call = json!({"call_id": id, "direction": "inbound", "from_number": "+14155550142", "call_status": status,
        "start_timestamp": at(minutes_ago), "transcript": "User: call me back please"});
    if let Some(ended) = ended_minutes_ago {
        call["end_timestamp"] = json!(at(ended));
        call["disconnection_reason"] = json!("user_hangup");
    }
    if analysed {
        call["call_analysis"] = json!({"call_summary": "Wants a callback"});
    }
    call
}

#[tokio::test]
async fn finished_calls_are_found_and_the_cursor_stops_before_a_running_one() {
    let mock = handoffd_mocks::retell::start("key_1").await.unwrap();
    mock.add_call(call("old", 90, "ended", Some(88), true));
    mock.add_call(call("analysed", 50, "ended", Some(45), true));
    mock.add_call(call("ended", 40, "ended", Some(38), false));
    mock.add_call(call("running", 30, "ongoing", None, false));
    mock.add_call(call("later", 20, "ended", Some(15), true));
    let page = poller(&mock, "key_1").poll(None).await.unwrap();
    let keys: Vec<&str> = page.interactions.iter().map(|i| i.dedup_key.as_str()).collect();
    assert_eq!(keys, ["analysed:call_analyzed", "ended:call_ended"]);
    let running_start = (now() - TimeDelta::minutes(30)).timestamp_millis();
    assert_eq!(page.next_cursor, Some((running_start - 1).to_string()));
    assert!(!page.more);
    // The next poll from there lists `running` first and still stops before it.
    let again = poller(&mock, "key_1").poll(page.next_cursor.as_deref()).await.unwrap();
    assert!(again.interactions.is_empty());
    assert_eq!(again.next_cursor, page.next_cursor);
}

#[tokio::test]
async fn a_long_backlog_is_read_page_by_page() {
    let mock = handoffd_mocks::retell::start("key_1").await.unwrap();
    for i in 0..450 {
        let mut c = call(&format!("c{i:03}"), 55, "ended", Some(50), true);
        c["start_timestamp"] = json!((now() - TimeDelta::minutes(55)).timestamp_millis() + i * 1000);
        mock.add_call(c);
    }
    let mut cursor: Option<String> = None;
    let mut found = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let page = poller(&mock, "key_1").poll(cursor.as_deref()).await.unwrap();
        found.extend(page.interactions.into_iter().map(|i| i.dedup_key));
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(found.len(), 450);
}

#[tokio::test]
async fn errors_are_classified() {
    let mock = handoffd_mocks::retell::start("key_1").await.unwrap();
    assert!(matches!(poller(&mock, "key_2").poll(None).await, Err(PollError::Auth(_))));
    mock.fail_next(1);
    assert!(matches!(poller(&mock, "key_1").poll(None).await, Err(PollError::Unavailable { .. })));
    assert!(matches!(poller(&mock, "key_1").poll(Some("yesterday")).await, Err(PollError::InvalidCursor(_))));
}

#[tokio::test]
async fn a_backfill_cursor_reaches_calls_older_than_the_look_back() {
    let mock = handoffd_mocks::retell::start("key_retell").await.unwrap();
    mock.add_call(call("r-10d", 10 * 24 * 60, "ended", Some(10 * 24 * 60 - 2), true));
    let poller = poller(&mock, "key_retell");
    assert!(poller.poll(None).await.unwrap().interactions.is_empty(), "older than the 1 h look-back");
    let since = now() - TimeDelta::days(20);
    let cursor = poller.cursor_since(since).expect("Retell backfills");
    assert_eq!(poller.cursor_reached(&cursor).map(|at| at.timestamp_millis()), Some(since.timestamp_millis()));
    let page = poller.poll(Some(&cursor)).await.unwrap();
    assert_eq!(page.interactions.len(), 1);
    assert!(poller.cursor_reached(page.next_cursor.as_deref().unwrap()).unwrap() > since);
}

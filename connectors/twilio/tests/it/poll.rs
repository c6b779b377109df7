//! The Calls API poller against the bundled mock: lost callbacks found, pages followed, the
//! cursor carried, errors classified.

use chrono::{Duration, Utc};
use handoffd_contract::interaction::{CallOutcome, Content};
use handoffd_contract::poll::{PollError, PollSettings, PollSource};
use handoffd_mocks::twilio::{MockTwilioCall, TwilioCallsMock};
use handoffd_twilio::TwilioCalls;
use serde_json::json;

use super::*;

fn call(sid: &str, status: &str, minutes_ago: i64) -> MockTwilioCall {
    let end = Utc::now() - Duration::minutes(minutes_ago);
    MockTwilioCall {
        sid: sid.into(),
        status: status.into(),
        from: "+919820012345".into(),
        to: "+14155550134".into(),
        direction: "inbound".into(),
        start_time: end - Duration::seconds(95),
        end_time: Some(end),
        answered_by: None,
    }
}

fn settings(settle: &str) -> PollSettings {
    PollSettings { look_back: "24h".into(), settle: settle.into(), ..PollSettings::default() }
}

async fn poller(mock: &TwilioCallsMock, page_size: u32) -> TwilioCalls {
    poller_settling(mock, page_size, "0s")
}

fn poller_settling(mock: &TwilioCallsMock, page_size: u32, settle: &str) -> TwilioCalls {
    let config = config(json!({"base_url": mock.base_url(), "poll_page_size": page_size}));
    TwilioCalls::new(&config, &settings(settle), reqwest::Client::new()).unwrap()
}

fn keys(page: &handoffd_contract::poll::PollPage) -> Vec<String> {
    let mut keys: Vec<String> = page.interactions.iter().map(|i| i.dedup_key.clone()).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_call_whose_callback_was_lost_is_found_with_the_callbacks_dedup_key() {
    let mock = TwilioCallsMock::start(ACCOUNT_SID, AUTH_TOKEN).await.unwrap();
    mock.put(call("CA01", "completed", 60));
    mock.put(MockTwilioCall {
        direction: "outbound-api".into(),
        to: "+919820054321".into(),
        ..call("CA02", "busy", 20)
    });
    mock.put(MockTwilioCall { end_time: None, ..call("CA03", "in-progress", 0) });
    let poller = poller(&mock, 50).await;

    let first = poller.poll(None).await.unwrap();
    assert_eq!(keys(&first), ["CA01:completed", "CA02:busy"], "a running call waits until it ends");
    assert!(!first.more);
    let busy = first.interactions.iter().find(|i| i.dedup_key == "CA02:busy").unwrap();
    let Content::Call(busy_call) = &busy.content else { panic!("a call") };
    assert_eq!(busy_call.outcome, CallOutcome::Busy);
    assert_eq!(busy.keys, [handoffd_contract::identity::IdentityKey::phone("+919820054321")]);

    // The same key as the status callback for the same call: the two are stored once.
    let callback = parse(b"CallSid=CA01&CallStatus=completed&Direction=inbound&From=%2B919820012345").unwrap();
    assert_eq!(callback.interactions[0].dedup_key, "CA01:completed");

    // The running call ends; the next pass, from the stored cursor, finds it.
    mock.put(call("CA03", "completed", 0));
    let second = poller.poll(first.next_cursor.as_deref()).await.unwrap();
    assert!(keys(&second).contains(&"CA03:completed".to_owned()), "{:?}", keys(&second));
    assert!(!keys(&second).contains(&"CA01:completed".to_owned()), "a call well before the cursor is not read again");
}

#[tokio::test]
async fn every_page_is_followed_and_the_pass_then_moves_on() {
    let mock = TwilioCallsMock::start(ACCOUNT_SID, AUTH_TOKEN).await.unwrap();
    for i in 0..5 {
        mock.put(call(&format!("CA1{i}"), "completed", 80 - i * 15));
    }
    let poller = poller(&mock, 2).await;
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = poller.poll(cursor.as_deref()).await.unwrap();
        pages += 1;
        seen.extend(keys(&page));
        cursor = page.next_cursor.clone();
        if !page.more {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, ["CA10:completed", "CA11:completed", "CA12:completed", "CA13:completed", "CA14:completed"]);
    assert_eq!(pages, 3);
    assert_eq!(mock.requests(), 3);
    // The next pass starts at the newest call (less the overlap): the old calls are behind it.
    let next = poller.poll(cursor.as_deref()).await.unwrap();
    assert_eq!(keys(&next), ["CA14:completed"], "only the overlap is read again");
}

#[tokio::test]
async fn calls_older_than_the_look_back_are_not_read_on_a_first_pass() {
    let mock = TwilioCallsMock::start(ACCOUNT_SID, AUTH_TOKEN).await.unwrap();
    mock.put(call("CA20", "completed", 3 * 24 * 60));
    mock.put(call("CA21", "no-answer", 5));
    let page = poller(&mock, 50).await.poll(None).await.unwrap();
    assert_eq!(keys(&page), ["CA21:no-answer"]);
}

#[tokio::test]
async fn errors_are_classified_for_the_host() {
    let mock = TwilioCallsMock::start(ACCOUNT_SID, AUTH_TOKEN).await.unwrap();
    let poller = poller(&mock, 50).await;
    mock.fail_next(&[429, 503]);
    match poller.poll(None).await {
        Err(PollError::Unavailable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(std::time::Duration::from_secs(1)))
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert!(matches!(poller.poll(None).await, Err(PollError::Unavailable { .. })));
    assert!(poller.poll(None).await.is_ok(), "the faults are spent");

    let wrong = TwilioCalls::new(
        &config(json!({"base_url": mock.base_url(), "auth_token": "not-the-token"})),
        &settings("0s"),
        reqwest::Client::new(),
    )
    .unwrap();
    assert!(matches!(wrong.poll(None).await, Err(PollError::Auth(_))));

    assert!(matches!(poller.poll(Some("not a cursor")).await, Err(PollError::InvalidCursor(_))));
    let stale_page = json!({
        "ended_after": Utc::now().to_rfc3339(),
        "next_page": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json?PageSize=2&PageToken=EXPIRED"),
    });
    assert!(matches!(poller.poll(Some(&stale_page.to_string())).await, Err(PollError::InvalidCursor(_))));

    let unreachable =
        TwilioCalls::new(&config(json!({"base_url": "http://127.0.0.1:9"})), &settings("0s"), reqwest::Client::new())
            .unwrap();
    assert!(matches!(unreachable.poll(None).await, Err(PollError::Unavailable { .. })));
}

#[tokio::test]
async fn a_call_that_ended_within_the_settle_time_is_left_to_its_callback_and_read_later() {
    let mock = TwilioCallsMock::start(ACCOUNT_SID, AUTH_TOKEN).await.unwrap();
    mock.put(call("CA30", "completed", 40));
    mock.put(call("CA31", "completed", 2));
    let settling = poller_settling(&mock, 50, "10m");
    let first = settling.poll(None).await.unwrap();
    assert_eq!(keys(&first), ["CA30:completed"], "the call that ended 2 minutes ago is not read yet");
    // Once settled (a poller with no settle time stands for the later pass), it is found from
    // the stored cursor: the cursor did not pass it.
    let later = poller_settling(&mock, 50, "0s").poll(first.next_cursor.as_deref()).await.unwrap();
    assert_eq!(keys(&later), ["CA30:completed", "CA31:completed"], "CA30 again: the overlap, deduplicated");
    assert_eq!(settling.schedule(), PollSettings::default().schedule);
}

#[tokio::test]
async fn a_backfill_cursor_reaches_calls_older_than_the_look_back() {
    let mock = TwilioCallsMock::start(ACCOUNT_SID, AUTH_TOKEN).await.unwrap();
    mock.put(call("CA10D", "completed", 10 * 24 * 60));
    let poller = poller(&mock, 50).await;
    assert!(poller.poll(None).await.unwrap().interactions.is_empty(), "older than the 24 h look-back");
    let since = Utc::now() - Duration::days(20);
    let cursor = poller.cursor_since(since).expect("Twilio backfills");
    let page = poller.poll(Some(&cursor)).await.unwrap();
    assert_eq!(keys(&page), ["CA10D:completed"]);
    let reached = poller.cursor_reached(page.next_cursor.as_deref().unwrap()).expect("between passes");
    assert!(reached > since, "the walk moved on to the call's end");
}

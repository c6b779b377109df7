//! The Call Details API poller against the bundled mock: lost callbacks found, pages followed,
//! a running call read again once it ends, errors classified.

use chrono::{Duration, Utc};
use handoffd_contract::interaction::{CallOutcome, Content};
use handoffd_contract::poll::{PollError, PollPage, PollSettings, PollSource};
use handoffd_exotel::ExotelCalls;
use handoffd_mocks::exotel::{ExotelCallsMock, MockExotelCall};
use serde_json::json;

use super::*;

fn call(sid: &str, status: &str, minutes_ago: i64) -> MockExotelCall {
    let created = Utc::now() - Duration::minutes(minutes_ago);
    MockExotelCall {
        sid: sid.into(),
        status: status.into(),
        from: "08047112233".into(),
        to: "09876543210".into(),
        direction: "outbound-api".into(),
        date_created: created,
        end_time: Some(created + Duration::seconds(75)),
        recording_url: None,
    }
}

fn settings(settle: &str) -> PollSettings {
    PollSettings { look_back: "24h".into(), settle: settle.into(), ..PollSettings::default() }
}

fn poller(mock: &ExotelCallsMock, page_size: u32) -> ExotelCalls {
    poller_settling(mock, page_size, "0s")
}

fn poller_settling(mock: &ExotelCallsMock, page_size: u32, settle: &str) -> ExotelCalls {
    let config = config(json!({"base_url": mock.base_url(), "poll_page_size": page_size}));
    let offset = handoffd_exotel::parse_offset(&config.utc_offset).unwrap();
    ExotelCalls::new(&config, &settings(settle), offset, reqwest::Client::new()).unwrap()
}

fn keys(page: &PollPage) -> Vec<String> {
    let mut keys: Vec<String> = page.interactions.iter().map(|i| i.dedup_key.clone()).collect();
    keys.sort();
    keys
}

async fn drain(poller: &ExotelCalls, mut cursor: Option<String>) -> (Vec<String>, Option<String>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = poller.poll(cursor.as_deref()).await.unwrap();
        pages += 1;
        seen.extend(keys(&page));
        cursor = page.next_cursor.clone();
        if !page.more {
            seen.sort();
            return (seen, cursor, pages);
        }
    }
}

#[tokio::test]
async fn a_lost_status_callback_is_found_with_the_callbacks_dedup_key() {
    let mock = ExotelCallsMock::start(ACCOUNT_SID, API_KEY, API_TOKEN).await.unwrap();
    mock.put(call("e01", "completed", 90));
    mock.put(call("e02", "no-answer", 60));
    let page = poller(&mock, 50).poll(None).await.unwrap();
    assert_eq!(keys(&page), ["e01:completed", "e02:no-answer"]);
    let no_answer = page.interactions.iter().find(|i| i.dedup_key == "e02:no-answer").unwrap();
    let Content::Call(no_answer_call) = &no_answer.content else { panic!("a call") };
    assert_eq!(no_answer_call.outcome, CallOutcome::NoAnswer);
    // The same key as the StatusCallback's for the same call.
    let callback = Arrived::post(
        b"CallSid=e01&Status=completed&Direction=outbound-api&To=09876543210",
        "application/x-www-form-urlencoded",
    )
    .parse()
    .unwrap();
    assert_eq!(callback.interactions[0].dedup_key, "e01:completed");
}

#[tokio::test]
async fn pages_are_followed_and_a_running_call_holds_the_cursor_until_it_ends() {
    let mock = ExotelCallsMock::start(ACCOUNT_SID, API_KEY, API_TOKEN).await.unwrap();
    for i in 0..5 {
        mock.put(call(&format!("p{i}"), "completed", 200 - i * 30));
    }
    mock.put(MockExotelCall { end_time: None, ..call("run", "in-progress", 100) });
    let poller = poller(&mock, 2);
    let (seen, cursor, pages) = drain(&poller, None).await;
    assert_eq!(seen, ["p0:completed", "p1:completed", "p2:completed", "p3:completed", "p4:completed"]);
    assert_eq!(pages, 3);

    // The running call ends; the next pass starts no later than its creation and finds it.
    mock.put(MockExotelCall { status: "completed".into(), ..call("run", "completed", 100) });
    let (seen, cursor, _) = drain(&poller, cursor).await;
    assert!(seen.contains(&"run:completed".to_owned()), "{seen:?}");
    // Nothing runs any more: the cursor moves on to the newest call.
    let (seen, _, _) = drain(&poller, cursor).await;
    assert_eq!(seen, ["p4:completed"], "only the overlap is read again");
}

#[tokio::test]
async fn errors_are_classified_for_the_host() {
    let mock = ExotelCallsMock::start(ACCOUNT_SID, API_KEY, API_TOKEN).await.unwrap();
    let poller = poller(&mock, 50);
    mock.fail_next(&[429, 502]);
    assert!(matches!(poller.poll(None).await, Err(PollError::Unavailable { .. })));
    assert!(matches!(poller.poll(None).await, Err(PollError::Unavailable { .. })));
    assert!(poller.poll(None).await.is_ok());
    let wrong_key = config(json!({"base_url": mock.base_url(), "api_token": "wrong"}));
    let offset = handoffd_exotel::parse_offset("+05:30").unwrap();
    let wrong = ExotelCalls::new(&wrong_key, &settings("0s"), offset, reqwest::Client::new()).unwrap();
    assert!(matches!(wrong.poll(None).await, Err(PollError::Auth(_))));
    assert!(matches!(poller.poll(Some("{]")).await, Err(PollError::InvalidCursor(_))));
    let bad_page = json!({"created_after": Utc::now().to_rfc3339(),
        "next_page": format!("/v1/Accounts/{ACCOUNT_SID}/Calls.json?PageSize=2&After=gone")});
    assert!(matches!(poller.poll(Some(&bad_page.to_string())).await, Err(PollError::InvalidCursor(_))));
}

#[tokio::test]
async fn a_call_that_ended_within_the_settle_time_holds_the_cursor_until_it_is_read() {
    let mock = ExotelCallsMock::start(ACCOUNT_SID, API_KEY, API_TOKEN).await.unwrap();
    mock.put(call("s0", "completed", 120));
    mock.put(call("s1", "completed", 3));
    let settling = poller_settling(&mock, 50, "10m");
    let (seen, cursor, _) = drain(&settling, None).await;
    assert_eq!(seen, ["s0:completed"], "the call that just ended is left to its callback");
    let (seen, _, _) = drain(&poller(&mock, 50), cursor).await;
    assert!(seen.contains(&"s1:completed".to_owned()), "{seen:?}");
    assert_eq!(settling.schedule(), PollSettings::default().schedule);
}

#[tokio::test]
async fn a_backfill_cursor_reaches_calls_older_than_the_look_back() {
    let mock = ExotelCallsMock::start(ACCOUNT_SID, API_KEY, API_TOKEN).await.unwrap();
    mock.put(call("e10d", "completed", 10 * 24 * 60));
    let poller = poller(&mock, 50);
    assert!(poller.poll(None).await.unwrap().interactions.is_empty(), "older than the 24 h look-back");
    let since = Utc::now() - Duration::days(20);
    let (seen, cursor, _) = drain(&poller, poller.cursor_since(since)).await;
    assert_eq!(seen, ["e10d:completed"]);
    assert!(poller.cursor_reached(&cursor.unwrap()).expect("between passes") > since);
}

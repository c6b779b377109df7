//! The 2-second window paced on this side, the budget read from the answers, the daily budget as a pause.

use std::time::{Duration, Instant};

use handoffd_contract::crm::{Crm, CrmError};
use handoffd_mocks::pipedrive::PipedriveMockOptions;
use handoffd_mocks::recorded::RequestLog;
use serde_json::json;

use crate::support::{connector, mock};

#[tokio::test]
async fn single_calls_are_paced_under_the_window_and_the_headers_read() {
    let options = PipedriveMockOptions { requests_per_window: 10, ..PipedriveMockOptions::default() };
    let mock = mock(options, RequestLog::default()).await;
    let pipedrive = connector(&mock, json!({"limits": {"requests": 10}}));
    let started = Instant::now();
    // 15 calls at 10 per 2 s: no 429, and at least 1.4 s (14 gaps of 210 ms).
    let calls = (0..15).map(|_| pipedrive.list_owners());
    for result in futures_join(calls).await {
        result.expect("no call refused");
    }
    assert!(started.elapsed() >= Duration::from_millis(1400), "{:?}", started.elapsed());
    let budget = pipedrive.live_budget();
    assert!(budget.window_remaining.is_some_and(|r| r < 10), "{budget:?}");
    assert!(budget.daily_remaining.is_some_and(|d| d == 30_000 - 15 * 20), "{budget:?}");
}

#[tokio::test]
async fn a_spent_daily_budget_pauses_calls_instead_of_sending_them() {
    let log = RequestLog::default();
    let mock = mock(PipedriveMockOptions::default(), log.clone()).await;
    let pipedrive = connector(&mock, json!({"limits": {"daily_tokens": 45}}));
    pipedrive.list_owners().await.expect("20 tokens");
    pipedrive.list_owners().await.expect("40 tokens");
    let error = pipedrive.list_owners().await.expect_err("the budget is spent");
    assert!(matches!(error, CrmError::RateLimited { retry_after: Some(_), .. }), "{error}");
    assert_eq!(log.len(), 2, "the third call was not sent");
}

async fn futures_join<F: std::future::Future>(calls: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut outputs = Vec::new();
    let handles: Vec<_> = calls.collect();
    for output in futures::future::join_all(handles).await {
        outputs.push(output);
    }
    outputs
}

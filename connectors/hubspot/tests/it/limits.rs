use std::time::Duration;

use handoffd_contract::crm::Crm;
use handoffd_contract::identity::IdentityKey;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Arrivals, RecordingResponder, hubspot};

// The asserts count requests inside a window: a slow machine only spreads them further.
// The window is a little shorter than the configured one to absorb clock rounding.
const WINDOW: Duration = Duration::from_millis(950);

#[tokio::test]
async fn the_account_limiter_spaces_requests() {
    let server = MockServer::start().await;
    let arrivals = Arrivals::default();
    let template = ResponseTemplate::new(200).set_body_json(json!({ "results": [] }));
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .respond_with(RecordingResponder { arrivals: arrivals.clone(), template })
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({ "limits": { "requests": 2, "window": "1s" } }));
    let calls = (0..4).map(|_| crm.list_owners());
    for result in futures_join(calls).await {
        result.unwrap();
    }
    assert_eq!(arrivals.0.lock().unwrap().len(), 4);
    let most = arrivals.most_in_window(WINDOW);
    assert!(most <= 2, "{most} requests inside one window of the 2-per-second limit");
}

#[tokio::test]
async fn searches_also_pass_the_search_limiter() {
    let server = MockServer::start().await;
    let arrivals = Arrivals::default();
    let template = ResponseTemplate::new(200).set_body_json(json!({ "total": 0, "results": [] }));
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(RecordingResponder { arrivals: arrivals.clone(), template })
        .mount(&server)
        .await;
    // A generous account limit: only the search limit can space these.
    let crm = hubspot(&server, json!({ "limits": { "requests": 1000, "search_requests": 2, "search_window": "1s" } }));
    let keys = [IdentityKey::phone("+919820012345")];
    let calls = (0..4).map(|_| crm.find_contacts(&keys));
    for result in futures_join(calls).await {
        result.unwrap();
    }
    assert_eq!(arrivals.0.lock().unwrap().len(), 4);
    let most = arrivals.most_in_window(WINDOW);
    assert!(most <= 2, "{most} searches inside one window of the 2-per-second search limit");
}

/// Runs the futures concurrently (so a missing limiter would send them all at once).
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut outputs = Vec::new();
    // Poll all together: `join_all` without the futures crate.
    let mut pending: Vec<_> = set.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => {
                        *result = Some(out);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    outputs.extend(results.into_iter().map(|r| r.expect("every future finished")));
    outputs
}

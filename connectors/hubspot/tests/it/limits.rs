use std::sync::Arc;
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
    let crm = Arc::new(hubspot(&server, json!({ "limits": { "requests": 2, "window": "1s" } })));
    let calls = (0..4).map(|_| {
        let crm = crm.clone();
        tokio::spawn(async move { crm.list_owners().await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
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
    let crm = Arc::new(hubspot(
        &server,
        json!({ "limits": { "requests": 1000, "search_requests": 2, "search_window": "1s" } }),
    ));
    let calls = (0..4).map(|_| {
        let crm = crm.clone();
        tokio::spawn(async move { crm.find_contacts(&[IdentityKey::phone("+919820012345")]).await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(arrivals.0.lock().unwrap().len(), 4);
    let most = arrivals.most_in_window(WINDOW);
    assert!(most <= 2, "{most} searches inside one window of the 2-per-second search limit");
}

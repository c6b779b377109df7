use std::time::Duration;

use handoffd_contract::crm::{Crm, CrmError, LiveBudget};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{error_body, hubspot, task};

const CREATE: &str = "/crm/v3/objects/tasks/batch/create";

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_retry_after_and_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2").set_body_json(json!({
            "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "correlationId": "0d7c2a3e-1f4b-4c5d-8e9f-a0b1c2d3e4f5",
            "policyName": "TEN_SECONDLY_ROLLING"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = hubspot(&server, json!({})).create_tasks(&[task("h-1", "1", None)]).await.unwrap_err();
    match err {
        CrmError::RateLimited { retry_after, message } => {
            assert_eq!(retry_after, Some(Duration::from_secs(2)));
            assert_eq!(message, "You have reached your ten_secondly_rolling limit.");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn service_unavailable_is_unavailable_and_not_retried_here() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .expect(1)
        .mount(&server)
        .await;
    let err = hubspot(&server, json!({})).create_tasks(&[task("h-1", "1", None)]).await.unwrap_err();
    assert!(matches!(err, CrmError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_write_whose_answer_is_late_has_an_unknown_outcome() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(
            ResponseTemplate::new(201).set_delay(Duration::from_secs(3)).set_body_json(json!({ "results": [] })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({ "request_timeout": "200ms" }));
    let err = crm.create_tasks(&[task("h-1", "1", None)]).await.unwrap_err();
    assert!(matches!(err, CrmError::OutcomeUnknown(_)), "{err:?}");
}

#[tokio::test]
async fn a_read_whose_answer_is_late_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .respond_with(
            ResponseTemplate::new(200).set_delay(Duration::from_secs(3)).set_body_json(json!({ "results": [] })),
        )
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({ "request_timeout": "200ms" }));
    let err = crm.list_owners().await.unwrap_err();
    assert!(matches!(err, CrmError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_even_for_a_write() {
    // A port nothing listens on (wiremock keeps dropped servers alive in a pool).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = serde_json::from_value(
        json!({ "id": "h", "base_url": format!("http://127.0.0.1:{port}"), "access_token": "pat" }),
    );
    let vault = std::sync::Arc::new(handoffd_contract::auth::MemoryVault::default());
    let crm = handoffd_hubspot::Hubspot::new(config.unwrap(), vault, reqwest::Client::new()).unwrap();
    let err = crm.create_tasks(&[task("h-1", "1", None)]).await.unwrap_err();
    assert!(matches!(err, CrmError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn unauthorized_private_app_token_is_auth_without_retry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(error_body("Authentication credentials not found.", "INVALID_AUTHENTICATION")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = hubspot(&server, json!({})).list_owners().await.unwrap_err();
    assert!(matches!(err, CrmError::Auth(ref m) if m.contains("Authentication credentials not found.")), "{err:?}");
}

#[tokio::test]
async fn an_invalid_contact_is_rejected_with_hubspots_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(error_body("Property values were not valid", "VALIDATION_ERROR")),
        )
        .mount(&server)
        .await;
    let contact = handoffd_contract::crm::NewContact { email: Some("bad".into()), ..Default::default() };
    let err = hubspot(&server, json!({})).create_contact(&contact).await.unwrap_err();
    assert!(
        matches!(err, CrmError::Rejected { status: 400, ref message } if message == "Property values were not valid")
    );
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_is_a_protocol_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "results": "not a list" })))
        .mount(&server)
        .await;
    let err = hubspot(&server, json!({})).list_owners().await.unwrap_err();
    assert!(matches!(err, CrmError::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn live_budget_comes_from_the_last_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-HubSpot-RateLimit-Daily", "650000")
                .insert_header("X-HubSpot-RateLimit-Daily-Remaining", "649321")
                .insert_header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
                .insert_header("X-HubSpot-RateLimit-Max", "190")
                .insert_header("X-HubSpot-RateLimit-Remaining", "188")
                .set_body_json(json!({ "results": [] })),
        )
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    assert_eq!(crm.live_budget(), LiveBudget::default());
    crm.list_owners().await.unwrap();
    assert_eq!(crm.live_budget(), LiveBudget { window_remaining: Some(188), daily_remaining: Some(649_321) });
}

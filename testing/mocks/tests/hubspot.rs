//! The mock CRM against a real HTTP client: HubSpot's shapes, limits and faults, and the report.

use std::collections::BTreeSet;
use std::time::Duration;

use handoffd_mocks::{
    BatchErrorMode, DEFAULT_ACCESS_TOKEN, FaultPlan, MockCrm, MockHandle, MockLimits, MockOAuthApp, MockOptions,
    seed_contact_phone,
};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

async fn start(options: MockOptions) -> (MockHandle, Client) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    let mock = MockCrm::start(options, listener).await;
    let client = Client::builder().timeout(Duration::from_secs(10)).build().expect("a client");
    (mock, client)
}

async fn post(client: &Client, mock: &MockHandle, path: &str, body: &Value) -> Response {
    client
        .post(format!("{}{path}", mock.base_url()))
        .bearer_auth(DEFAULT_ACCESS_TOKEN)
        .json(body)
        .send()
        .await
        .expect("the mock answers")
}

async fn get(client: &Client, mock: &MockHandle, path: &str) -> Response {
    client.get(format!("{}{path}", mock.base_url())).bearer_auth(DEFAULT_ACCESS_TOKEN).send().await.expect("an answer")
}

async fn body(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

fn task(handoff_id: &str, owner: &str) -> Value {
    json!({
        "properties": {
            "hs_task_subject": format!("Call back ({handoff_id})"),
            "hs_task_body": "Customer asked for a call after 6 PM.",
            "hs_timestamp": "2026-03-02T12:30:00Z",
            "hubspot_owner_id": owner,
            "hs_task_priority": "HIGH",
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "CALL",
            "handoffd_handoff_id": handoff_id,
        },
        "associations": [{"to": {"id": "101"},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}],
        "objectWriteTraceId": handoff_id,
    })
}

fn options_with_property(seed_contacts: usize) -> MockOptions {
    MockOptions { seed_contacts, handoff_property_exists: true, seed: 7, ..MockOptions::default() }
}

fn handoff_ids(results: &Value) -> Vec<String> {
    results
        .as_array()
        .expect("results")
        .iter()
        .map(|task| task["properties"]["handoffd_handoff_id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn contact_search_ors_groups_ands_filters_matches_both_phone_properties_and_pages() {
    let (mock, client) = start(MockOptions { seed_contacts: 12, ..MockOptions::default() }).await;
    // Contacts 1 and 3 have `phone`; contact 5 has only `mobilephone` (every fifth does).
    let search = json!({
        "filterGroups": [
            {"filters": [{"propertyName": "phone", "operator": "IN",
                "values": [seed_contact_phone(0), seed_contact_phone(2), "+10000000000"]}]},
            {"filters": [{"propertyName": "mobilephone", "operator": "EQ", "value": seed_contact_phone(4)},
                         {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "75480001"}]},
        ],
        "properties": ["phone", "mobilephone", "hubspot_owner_id"],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 2,
        "after": "0",
    });
    let response = post(&client, &mock, "/crm/v3/objects/contacts/search", &search).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-hubspot-ratelimit-daily-remaining"));
    assert!(!response.headers().contains_key("x-hubspot-ratelimit-max"), "search has no interval headers");
    let first = body(response).await;
    assert_eq!(first["total"], 3);
    assert_eq!(first["results"][0]["properties"]["phone"], seed_contact_phone(0));
    assert_eq!(first["results"][0]["properties"]["mobilephone"], Value::Null);
    assert_eq!(first["results"][0]["archived"], false);
    assert_eq!(first["paging"]["next"]["after"], "2");

    let mut next = search.clone();
    next["after"] = first["paging"]["next"]["after"].clone();
    let second = body(post(&client, &mock, "/crm/v3/objects/contacts/search", &next).await).await;
    assert_eq!(second["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["results"][0]["properties"]["mobilephone"], seed_contact_phone(4));
    assert!(second.get("paging").is_none());

    // AND inside a group: the same mobile phone with another owner matches nothing.
    let mut and_search = search.clone();
    and_search["filterGroups"] = json!([{"filters": [
        {"propertyName": "mobilephone", "operator": "EQ", "value": seed_contact_phone(4)},
        {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "75480002"}]}]);
    let none = body(post(&client, &mock, "/crm/v3/objects/contacts/search", &and_search).await).await;
    assert_eq!(none["total"], 0);
    mock.shutdown().await;
}

#[tokio::test]
async fn search_validates_groups_and_caps_paging_at_ten_thousand() {
    let (mock, client) = start(MockOptions {
        seed_contacts: 10_050,
        limits: MockLimits { search_per_second: 100, ..MockLimits::default() },
        ..MockOptions::default()
    })
    .await;
    let filter = json!({"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]});
    let six_groups = json!({"filterGroups": vec![filter.clone(); 6]});
    let refused = post(&client, &mock, "/crm/v3/objects/contacts/search", &six_groups).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(refused).await["category"], "VALIDATION_ERROR");

    let five_groups = json!({"filterGroups": vec![filter; 5], "limit": 200, "after": "9900"});
    let last_page = body(post(&client, &mock, "/crm/v3/objects/contacts/search", &five_groups).await).await;
    assert_eq!(last_page["total"], 10_050);
    assert_eq!(last_page["results"].as_array().map(Vec::len), Some(100), "the page stops at result 10,000");
    assert!(last_page.get("paging").is_none(), "no cursor past 10,000");

    let past = post(&client, &mock, "/crm/v3/objects/contacts/search", &json!({"after": "10000"})).await;
    assert_eq!(past.status(), StatusCode::BAD_REQUEST);

    // GT on lastmodifieddate in milliseconds: seeded contacts are one second apart, the last ends now.
    let newest = &last_page["results"][99]["properties"]["lastmodifieddate"];
    let millis =
        chrono::DateTime::parse_from_rfc3339(newest.as_str().expect("a date")).expect("ISO").timestamp_millis();
    let gt = json!({"filterGroups": [{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "GT", "value": millis.to_string()}]}]});
    let later = body(post(&client, &mock, "/crm/v3/objects/contacts/search", &gt).await).await;
    assert_eq!(later["total"], 50, "contacts 10,001 to 10,050 are newer than contact 10,000");
    mock.shutdown().await;
}

#[tokio::test]
async fn a_batch_of_contacts_is_created_whole_or_refused_whole() {
    let (mock, client) = start(MockOptions { seed_contacts: 1, ..MockOptions::default() }).await;
    let input = |phone: &str, email: Option<&str>, trace: &str| {
        let mut properties = json!({"firstname": "Asha", "phone": phone});
        if let Some(email) = email {
            properties["email"] = json!(email);
        }
        json!({"properties": properties, "associations": [], "objectWriteTraceId": trace})
    };
    let batch =
        json!({"inputs": [input("+919811111101", Some("a@example.com"), "0"), input("+919811111102", None, "1")]});
    let created = post(&client, &mock, "/crm/v3/objects/contacts/batch/create", &batch).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = body(created).await;
    assert_eq!(created["status"], "COMPLETE");
    let mut traces: Vec<&str> =
        created["results"].as_array().unwrap().iter().map(|c| c["objectWriteTraceId"].as_str().unwrap()).collect();
    traces.sort();
    assert_eq!(traces, ["0", "1"]);

    // One input with a known email (any case) refuses the batch, and nothing of it is created.
    let refused =
        json!({"inputs": [input("+919811111103", None, "0"), input("+919811111104", Some("A@example.com"), "1")]});
    let conflict = post(&client, &mock, "/crm/v3/objects/contacts/batch/create", &refused).await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    assert_eq!(body(conflict).await["category"], "CONFLICT");
    // A seeded contact's phone is a duplicate (HubSpot allows it); two equal emails in one batch are not.
    let shared_phone = json!({"inputs": [input(&seed_contact_phone(0), None, "0")]});
    assert_eq!(post(&client, &mock, "/crm/v3/objects/contacts/batch/create", &shared_phone).await.status(), 201);
    let twice = json!({"inputs": [input("+919811111105", Some("b@example.com"), "0"), input("+919811111106", Some("b@example.com"), "1")]});
    assert_eq!(post(&client, &mock, "/crm/v3/objects/contacts/batch/create", &twice).await.status(), 400);
    let report = mock.report();
    assert_eq!((report.contacts_created, report.duplicate_contacts), (3, 1));
    mock.shutdown().await;
}

#[tokio::test]
async fn creating_a_contact_conflicts_on_email_and_counts_shared_phones() {
    let (mock, client) = start(MockOptions { seed_contacts: 1, ..MockOptions::default() }).await;
    let new = json!({"properties": {"firstname": "Ravi", "lastname": "K", "phone": "+919811111111",
        "email": "ravi@example.com", "hs_lead_status": "NEW"}});
    let created = post(&client, &mock, "/crm/v3/objects/contacts", &new).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = body(created).await;
    assert_eq!(created["properties"]["phone"], "+919811111111");

    let mut same_email = new.clone();
    same_email["properties"]["email"] = json!("RAVI@example.com");
    let conflict = post(&client, &mock, "/crm/v3/objects/contacts", &same_email).await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    let conflict = body(conflict).await;
    assert_eq!(conflict["category"], "CONFLICT");
    assert_eq!(
        conflict["message"],
        format!("Contact already exists. Existing ID: {}", created["id"].as_str().unwrap())
    );

    let mut same_phone = new.clone();
    same_phone["properties"]["email"] = json!("ravi.k@example.com");
    assert_eq!(post(&client, &mock, "/crm/v3/objects/contacts", &same_phone).await.status(), StatusCode::CREATED);
    let report = mock.report();
    assert_eq!((report.contacts_created, report.duplicate_contacts), (2, 1));
    mock.shutdown().await;
}

#[tokio::test]
async fn owners_are_listed_and_paged() {
    let (mock, client) = start(MockOptions::default()).await;
    let all = body(get(&client, &mock, "/crm/v3/owners?limit=100").await).await;
    let ids: Vec<&str> = all["results"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["75480001", "75480002"]);
    assert_eq!(all["results"][0]["type"], "PERSON");
    let first = body(get(&client, &mock, "/crm/v3/owners?limit=1").await).await;
    assert_eq!(first["paging"]["next"]["after"], "1");
    let second = body(get(&client, &mock, "/crm/v3/owners?limit=1&after=1").await).await;
    assert_eq!(second["results"][0]["id"], "75480002");
    assert!(second.get("paging").is_none());
    mock.shutdown().await;
}

#[tokio::test]
async fn batch_create_answers_201_in_shuffled_order_and_counts_duplicates() {
    let (mock, client) = start(options_with_property(1)).await;
    let ids: Vec<String> = (0..100).map(|i| format!("h-{i:03}")).collect();
    let inputs: Vec<Value> = ids.iter().map(|id| task(id, "75480001")).collect();
    let created = post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &json!({"inputs": inputs})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["x-hubspot-ratelimit-max"], "190");
    let created = body(created).await;
    assert_eq!(created["status"], "COMPLETE");
    assert!(created["startedAt"].is_string() && created["completedAt"].is_string());
    let returned = handoff_ids(&created["results"]);
    assert_eq!(returned.iter().collect::<BTreeSet<_>>(), ids.iter().collect::<BTreeSet<_>>());
    assert_ne!(returned, ids, "results must not come back in input order");
    assert_eq!(created["results"][0]["properties"]["hs_timestamp"], "2026-03-02T12:30:00.000Z");

    let again =
        post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &json!({"inputs": [task("h-007", "75480002")]}))
            .await;
    assert_eq!(again.status(), StatusCode::CREATED, "HubSpot itself does not refuse the duplicate");
    let report = mock.report();
    assert_eq!((report.tasks_created, report.duplicate_tasks), (101, 1));
    let views = mock.tasks();
    assert_eq!(views.len(), 101);
    assert_eq!(views[0].associations[0].to_id, "101");
    assert_eq!(views[0].associations[0].association_type_id, 204);
    mock.shutdown().await;
}

#[tokio::test]
async fn a_bad_owner_gets_207_with_an_error_for_that_input_only() {
    let (mock, client) = start(options_with_property(1)).await;
    let mut no_timestamp = task("h-3", "75480001");
    no_timestamp["properties"].as_object_mut().unwrap().remove("hs_timestamp");
    let inputs = json!({"inputs": [task("h-1", "75480001"), task("h-2", "99999999"), no_timestamp]});
    let answer = post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &inputs).await;
    assert_eq!(answer.status(), StatusCode::MULTI_STATUS);
    let answer = body(answer).await;
    assert_eq!(handoff_ids(&answer["results"]), ["h-1"]);
    assert_eq!(answer["numErrors"], 2);
    let owner_error = &answer["errors"][0];
    assert_eq!(owner_error["category"], "VALIDATION_ERROR");
    assert!(owner_error["message"].as_str().unwrap().contains("99999999 is not a valid owner id"));
    assert_eq!(owner_error["context"]["objectWriteTraceId"], json!(["h-2"]));
    assert_eq!(answer["errors"][1]["context"]["propertyName"], json!(["hs_timestamp"]));
    assert_eq!(mock.report().tasks_created, 1);
    mock.shutdown().await;
}

#[tokio::test]
async fn whole_batch_mode_and_batch_size_limits() {
    let (mock, client) =
        start(MockOptions { batch_errors: BatchErrorMode::WholeBatch, ..options_with_property(1) }).await;
    let inputs = json!({"inputs": [task("h-1", "75480001"), task("h-2", "99999999")]});
    let refused = post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &inputs).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(refused).await["category"], "VALIDATION_ERROR");
    assert_eq!(mock.report().tasks_created, 0, "nothing written");

    let too_many: Vec<Value> = (0..101).map(|i| task(&format!("h-{i}"), "75480001")).collect();
    let refused = post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &json!({"inputs": too_many})).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    mock.shutdown().await;
}

#[tokio::test]
async fn the_handoff_property_must_be_created_before_tasks_carry_it() {
    let (mock, client) = start(MockOptions { seed_contacts: 1, ..MockOptions::default() }).await;
    let missing = get(&client, &mock, "/crm/v3/properties/tasks/handoffd_handoff_id").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let refused =
        post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &json!({"inputs": [task("h-1", "75480001")]})).await;
    assert_eq!(refused.status(), StatusCode::MULTI_STATUS);
    assert!(body(refused).await["errors"][0]["message"].as_str().unwrap().contains("PROPERTY_DOESNT_EXIST"));

    let definition = json!({"name": "handoffd_handoff_id", "label": "handoffd handoff id", "type": "string",
        "fieldType": "text", "groupName": "taskinformation"});
    let created = post(&client, &mock, "/crm/v3/properties/tasks", &definition).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(body(created).await["name"], "handoffd_handoff_id");
    assert_eq!(post(&client, &mock, "/crm/v3/properties/tasks", &definition).await.status(), StatusCode::CONFLICT);
    let found = get(&client, &mock, "/crm/v3/properties/tasks/handoffd_handoff_id").await;
    assert_eq!(body(found).await["fieldType"], "text");
    let accepted =
        post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &json!({"inputs": [task("h-1", "75480001")]})).await;
    assert_eq!(accepted.status(), StatusCode::CREATED);
    mock.shutdown().await;
}

#[tokio::test]
async fn tasks_are_updated_read_and_searched_by_handoff_id() {
    let (mock, client) = start(options_with_property(1)).await;
    let created = body(
        post(
            &client,
            &mock,
            "/crm/v3/objects/tasks/batch/create",
            &json!({"inputs": [task("h-1", "75480001"), task("h-2", "75480001")]}),
        )
        .await,
    )
    .await;
    let id_of = |handoff: &str| {
        created["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["properties"]["handoffd_handoff_id"] == handoff)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (first, second) = (id_of("h-1"), id_of("h-2"));

    let update =
        json!({"inputs": [{"id": first, "properties": {"hs_task_priority": "LOW", "hubspot_owner_id": "75480002"}}]});
    let updated = post(&client, &mock, "/crm/v3/objects/tasks/batch/update", &update).await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(body(updated).await["results"][0]["properties"]["hs_task_priority"], "LOW");

    let read = json!({"inputs": [{"id": first}, {"id": second}, {"id": "123"}],
        "properties": ["hs_task_status", "hubspot_owner_id", "hs_timestamp", "handoffd_handoff_id"]});
    let answer = post(&client, &mock, "/crm/v3/objects/tasks/batch/read", &read).await;
    assert_eq!(answer.status(), StatusCode::MULTI_STATUS, "one id does not exist");
    let answer = body(answer).await;
    assert_eq!(answer["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(answer["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(answer["errors"][0]["context"]["ids"], json!(["123"]));
    let owner_of_first = answer["results"].as_array().unwrap().iter().find(|t| t["id"] == first.as_str()).unwrap()
        ["properties"]["hubspot_owner_id"]
        .clone();
    assert_eq!(owner_of_first, "75480002");

    let search = json!({"filterGroups": [{"filters": [{"propertyName": "handoffd_handoff_id", "operator": "IN",
        "values": ["h-2", "h-9"]}]}], "properties": ["handoffd_handoff_id"]});
    let found = body(post(&client, &mock, "/crm/v3/objects/tasks/search", &search).await).await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["results"][0]["id"], second.as_str());
    mock.shutdown().await;
}

#[tokio::test]
async fn request_191_in_ten_seconds_gets_hubspots_429() {
    let (mock, client) = start(MockOptions::default()).await;
    for request in 1..=190 {
        let answer = get(&client, &mock, "/crm/v3/owners").await;
        assert_eq!(answer.status(), StatusCode::OK, "request {request} is within the limit");
        assert_eq!(answer.headers()["x-hubspot-ratelimit-remaining"], (190 - request).to_string().as_str());
    }
    let refused = get(&client, &mock, "/crm/v3/owners").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = refused.headers().clone();
    assert_eq!(headers["x-hubspot-ratelimit-remaining"], "0");
    assert_eq!(headers["x-hubspot-ratelimit-max"], "190");
    assert_eq!(headers["x-hubspot-ratelimit-interval-milliseconds"], "10000");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after));
    let refused = body(refused).await;
    assert_eq!(refused["status"], "error");
    assert_eq!(refused["errorType"], "RATE_LIMIT");
    assert_eq!(refused["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(refused["message"], "You have reached your ten_secondly_rolling limit.");
    assert!(refused["correlationId"].is_string());
    let report = mock.report();
    assert_eq!((report.responses_429, report.rate_limited.ten_secondly_rolling), (1, 1));
    assert_eq!(report.max_requests_in_10s_window, 191);
    mock.shutdown().await;
}

#[tokio::test]
async fn search_and_daily_limits_refuse_with_their_own_policy() {
    let (mock, client) =
        start(MockOptions { limits: MockLimits { daily_max: 6, ..MockLimits::default() }, ..MockOptions::default() })
            .await;
    let mut policies = Vec::new();
    for _ in 0..5 {
        let answer = post(&client, &mock, "/crm/v3/objects/contacts/search", &json!({})).await;
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            policies.push(body(answer).await["policyName"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(policies, ["SECONDLY"], "the fifth search within a second is refused");
    // 4 searches used 4 of the 6 daily requests.
    assert_eq!(get(&client, &mock, "/crm/v3/owners").await.status(), StatusCode::OK);
    assert_eq!(get(&client, &mock, "/crm/v3/owners").await.status(), StatusCode::OK);
    let refused = get(&client, &mock, "/crm/v3/owners").await;
    assert_eq!(refused.headers()["x-hubspot-ratelimit-daily-remaining"], "0");
    assert_eq!(body(refused).await["policyName"], "DAILY");
    mock.shutdown().await;
}

#[tokio::test]
async fn bearer_tokens_and_the_oauth_refresh_grant() {
    let (mock, client) = start(MockOptions::default()).await;
    let url = format!("{}/crm/v3/owners", mock.base_url());
    let missing = client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(missing).await["category"], "INVALID_AUTHENTICATION");
    assert_eq!(client.get(&url).bearer_auth("not-a-token").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let token_url = format!("{}/oauth/v1/token", mock.base_url());
    let app = MockOAuthApp::default();
    let mut form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("client_id", app.client_id.clone()),
        ("client_secret", app.client_secret.0.clone()),
        ("refresh_token", "wrong".to_owned()),
    ];
    let bad = client.post(&token_url).form(&form).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(bad).await["status"], "BAD_REFRESH_TOKEN");

    form[3].1 = app.refresh_token.0.clone();
    let granted = body(client.post(&token_url).form(&form).send().await.unwrap()).await;
    assert_eq!(granted["token_type"], "bearer");
    assert_eq!(granted["expires_in"], 1800);
    assert_eq!(granted["refresh_token"], app.refresh_token.0.as_str());
    let token = granted["access_token"].as_str().unwrap();
    assert_eq!(client.get(&url).bearer_auth(token).send().await.unwrap().status(), StatusCode::OK);
    mock.shutdown().await;

    let (mock, client) = start(MockOptions {
        oauth: MockOAuthApp { expires_in_secs: 0, ..MockOAuthApp::default() },
        ..MockOptions::default()
    })
    .await;
    let granted =
        body(client.post(format!("{}/oauth/v1/token", mock.base_url())).form(&form).send().await.unwrap()).await;
    let expired = client
        .get(format!("{}/crm/v3/owners", mock.base_url()))
        .bearer_auth(granted["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(expired).await["category"], "EXPIRED_AUTHENTICATION");
    assert_eq!(mock.report().oauth_tokens_issued, 1);
    mock.shutdown().await;
}

#[tokio::test]
async fn a_lost_response_applies_the_write_but_the_client_sees_an_error() {
    let (mock, client) = start(options_with_property(1)).await;
    let faults = json!({"rate_lost": 1.0, "paths": ["tasks/batch/create"]});
    let set = client.post(format!("http://{}/_mock/faults", mock.addr())).json(&faults).send().await.unwrap();
    assert_eq!(set.status(), StatusCode::OK);

    let sent = client
        .post(format!("{}/crm/v3/objects/tasks/batch/create", mock.base_url()))
        .bearer_auth(DEFAULT_ACCESS_TOKEN)
        .json(&json!({"inputs": [task("h-lost", "75480001")]}))
        .send()
        .await;
    assert!(sent.is_err(), "the answer must never arrive, got {sent:?}");
    // Other routes are untouched by the plan, and the write can be found again by its external key.
    let search = json!({"filterGroups": [{"filters": [{"propertyName": "handoffd_handoff_id", "operator": "EQ",
        "value": "h-lost"}]}]});
    let found = body(post(&client, &mock, "/crm/v3/objects/tasks/search", &search).await).await;
    assert_eq!(found["total"], 1);

    let report: Value =
        client.get(format!("http://{}/_mock/report", mock.addr())).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["tasks_created"], 1);
    assert_eq!(report["faults_injected"]["lost_responses"], 1);
    let listed: Value =
        client.get(format!("http://{}/_mock/tasks", mock.addr())).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["properties"]["handoffd_handoff_id"], "h-lost");
    mock.shutdown().await;
}

#[tokio::test]
async fn resets_and_server_errors_do_no_work() {
    let (mock, client) = start(options_with_property(1)).await;
    mock.set_faults(FaultPlan { rate_reset: 1.0, ..FaultPlan::default() }).unwrap();
    let reset = client
        .post(format!("{}/crm/v3/objects/tasks/batch/create", mock.base_url()))
        .bearer_auth(DEFAULT_ACCESS_TOKEN)
        .json(&json!({"inputs": [task("h-1", "75480001")]}))
        .send()
        .await;
    assert!(reset.is_err());

    mock.set_faults(FaultPlan { rate_5xx: 1.0, seed: 3, ..FaultPlan::default() }).unwrap();
    let failed =
        post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &json!({"inputs": [task("h-1", "75480001")]})).await;
    assert!([500, 502, 503].contains(&failed.status().as_u16()), "{}", failed.status());

    mock.set_faults(FaultPlan { rate_429: 1.0, ..FaultPlan::default() }).unwrap();
    let limited =
        post(&client, &mock, "/crm/v3/objects/tasks/batch/create", &json!({"inputs": [task("h-1", "75480001")]})).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body(limited).await["errorType"], "RATE_LIMIT");

    assert!(mock.set_faults(FaultPlan { rate_reset: 0.6, rate_lost: 0.6, ..FaultPlan::default() }).is_err());
    let report = mock.report();
    assert_eq!(report.tasks_created, 0);
    assert_eq!((report.faults_injected.resets, report.faults_injected.status_5xx), (1, 1));
    assert_eq!(report.responses_429, 1);
    assert_eq!(report.requests_per_endpoint["POST /hubspot/crm/v3/objects/tasks/batch/create"], 3);
    mock.shutdown().await;
}

#[tokio::test]
async fn the_graph_send_route_answers_like_meta() {
    let (mock, client) = start(MockOptions::default()).await;
    let url = format!("{}/v23.0/1234567890/messages", mock.graph_base_url());
    let message = json!({"messaging_product": "whatsapp", "to": "+91 98100 00001", "type": "text",
        "text": {"body": "See you at 6 PM."}});
    let unauthorized = client.post(&url).json(&message).send().await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(unauthorized).await["error"]["type"], "OAuthException");

    let first = body(client.post(&url).bearer_auth("any").json(&message).send().await.unwrap()).await;
    assert_eq!(first["messaging_product"], "whatsapp");
    assert_eq!(first["contacts"], json!([{"input": "+91 98100 00001", "wa_id": "919810000001"}]));
    let second = body(client.post(&url).bearer_auth("any").json(&message).send().await.unwrap()).await;
    let wamid = first["messages"][0]["id"].as_str().unwrap();
    assert!(wamid.starts_with("wamid."));
    assert_ne!(wamid, second["messages"][0]["id"].as_str().unwrap());
    assert_eq!(mock.report().whatsapp_messages_sent, 2);
    mock.shutdown().await;
}

#[tokio::test]
async fn a_lost_response_can_hang_past_the_client_timeout() {
    let plan =
        FaultPlan { rate_lost: 1.0, lost_hang_ms: 5_000, paths: vec!["batch/create".into()], ..FaultPlan::default() };
    let (mock, _) = start(MockOptions { faults: plan, ..options_with_property(1) }).await;
    let impatient = Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
    let sent = impatient
        .post(format!("{}/crm/v3/objects/tasks/batch/create", mock.base_url()))
        .bearer_auth(DEFAULT_ACCESS_TOKEN)
        .json(&json!({"inputs": [task("h-slow", "75480001")]}))
        .send()
        .await;
    assert!(sent.is_err_and(|error| error.is_timeout()), "the client gives up before any answer");
    assert_eq!(mock.tasks()[0].properties["handoffd_handoff_id"], "h-slow", "the write was applied");
    mock.shutdown().await;
}

use std::time::Duration;

use handoffd_contract::crm::{Crm, CrmError, NewContact};
use handoffd_contract::identity::IdentityKey;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{self, error_body, hubspot};

const SEARCH: &str = "/crm/v3/objects/contacts/search";
const PROPERTIES: [&str; 8] = [
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "email",
    "hubspot_owner_id",
    "lastmodifieddate",
    "hs_merged_object_ids",
];

fn contact(id: &str, phone: Option<&str>, email: Option<&str>, modified: &str) -> Value {
    json!({
        "id": id,
        "properties": {
            "firstname": "Rahul", "lastname": "Mehta", "phone": phone, "mobilephone": null, "email": email,
            "hubspot_owner_id": "75480001", "lastmodifieddate": modified, "hs_object_id": id
        },
        "createdAt": "2026-01-10T08:00:00.000Z", "updatedAt": modified, "archived": false
    })
}

#[tokio::test]
async fn find_batches_phones_and_emails_into_one_search_and_pages() {
    let server = MockServer::start().await;
    let groups = json!([
        { "filters": [{ "propertyName": "phone", "operator": "IN", "values": ["+919820012345", "+5215512345678"] }] },
        { "filters": [{ "propertyName": "mobilephone", "operator": "IN", "values": ["+919820012345", "+5215512345678"] }] },
        { "filters": [{ "propertyName": "email", "operator": "IN", "values": ["rahul@example.in"] }] }
    ]);
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .and(body_json(json!({ "filterGroups": groups, "properties": PROPERTIES, "limit": 100 })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 2,
            "results": [contact("101", Some("+919820012345"), None, "2026-03-01T10:00:00.000Z")],
            "paging": { "next": { "after": "1" } }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .and(body_json(json!({ "filterGroups": groups, "properties": PROPERTIES, "limit": 100, "after": "1" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 2,
            "results": [contact("102", None, Some("rahul@example.in"), "2026-03-02T10:00:00.000Z")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let keys = [
        IdentityKey::phone("+919820012345"),
        IdentityKey::email("Rahul@Example.in"),
        IdentityKey::phone("+5215512345678"),
        IdentityKey::vendor("whatsapp", "919820012345"),
    ];
    let found = hubspot(&server, json!({})).find_contacts(&keys).await.unwrap();
    assert_eq!(found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["101", "102"]);
    assert_eq!(found[0].name.as_deref(), Some("Rahul Mehta"));
    assert_eq!(found[0].phones, ["+919820012345"]);
    assert_eq!(found[0].owner_id.as_deref(), Some("75480001"));
    assert_eq!(found[1].emails, ["rahul@example.in"]);
    assert_eq!(found[1].updated_at.unwrap().to_rfc3339(), "2026-03-02T10:00:00+00:00");
}

#[tokio::test]
async fn find_with_no_keys_makes_no_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    assert!(hubspot(&server, json!({})).find_contacts(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn change_feed_sorts_by_modification_and_resumes_from_its_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .and(body_json(json!({
            "filterGroups": [{ "filters": [{ "propertyName": "lastmodifieddate", "operator": "GTE", "value": "0" }] }],
            "properties": PROPERTIES, "limit": 100,
            "sorts": [{ "propertyName": "lastmodifieddate", "direction": "ASCENDING" }]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 101,
            "results": [contact("101", Some("+919820012345"), None, "2026-03-01T10:00:00.000Z")],
            "paging": { "next": { "after": "100" } }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .and(body_partial_json(json!({ "after": "100" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 101,
            "results": [contact("102", None, None, "2026-03-02T10:00:00.000Z")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    let first = crm.contacts_changed_since(None).await.unwrap();
    assert_eq!(first.contacts[0].id, "101");
    let cursor = first.next_cursor.expect("more pages");
    let last = crm.contacts_changed_since(Some(&cursor)).await.unwrap();
    assert_eq!(last.contacts[0].id, "102");
    assert_eq!(last.next_cursor, None);
}

/// HubSpot's search stops at 10,000 results: the feed restarts from the last timestamp seen.
#[tokio::test]
async fn change_feed_moves_past_the_search_cap_on_the_timestamp() {
    let server = MockServer::start().await;
    let last_ms = 1_772_359_200_000_i64; // 2026-03-01T10:00:00Z
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .and(body_partial_json(json!({ "after": "9900" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 25000,
            "results": [contact("105", None, None, "2026-03-01T10:00:00.000Z")],
            "paging": { "next": { "after": "10000" } }
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(move |request: &Request| {
            let body = support::body_json(request);
            assert!(body.get("after").is_none(), "a restarted query starts at the first page");
            assert_eq!(body["filterGroups"][0]["filters"][0]["value"], last_ms.to_string());
            ResponseTemplate::new(200).set_body_json(json!({ "total": 1, "results": [] }))
        })
        .expect(1)
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    let page = crm.contacts_changed_since(Some("v1:1700000000000:9900")).await.unwrap();
    let cursor = page.next_cursor.expect("the feed goes on");
    assert!(!cursor.contains("10000"), "the cursor must not ask past the cap: {cursor}");
    crm.contacts_changed_since(Some(&cursor)).await.unwrap();
}

#[tokio::test]
async fn change_feed_reports_merged_ids_with_their_survivor() {
    let server = MockServer::start().await;
    let mut survivor = contact("300", Some("+919820012345"), None, "2026-03-01T10:00:00.000Z");
    survivor["properties"]["hs_merged_object_ids"] = json!("201;202");
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "total": 1, "results": [survivor] })))
        .mount(&server)
        .await;
    let page = hubspot(&server, json!({})).contacts_changed_since(None).await.unwrap();
    let merged = page.contacts.iter().filter(|c| c.merged_into.as_deref() == Some("300")).count();
    assert_eq!(merged, 2);
    assert!(page.contacts.iter().any(|c| c.id == "300" && c.merged_into.is_none()));
}

#[tokio::test]
async fn create_contact_sends_names_phone_and_email() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .and(body_json(json!({ "properties": {
            "firstname": "Rahul", "lastname": "Kumar Mehta", "phone": "+919820012345", "email": "rahul@example.in"
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(contact(
            "401",
            Some("+919820012345"),
            Some("rahul@example.in"),
            "2026-03-07T10:00:00.000Z",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let new = NewContact {
        name: Some("Rahul Kumar Mehta".into()),
        phone: Some("+919820012345".into()),
        email: Some("rahul@example.in".into()),
        source: Some("whatsapp".into()),
    };
    let created = hubspot(&server, json!({})).create_contact(&new).await.unwrap();
    assert_eq!(created.id, "401");
}

#[tokio::test]
async fn create_contact_conflict_answers_with_the_existing_contact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(
            ResponseTemplate::new(409)
                .set_body_json(error_body("Contact already exists. Existing ID: 123", "CONFLICT")),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 1, "results": [contact("123", None, Some("rahul@example.in"), "2026-03-01T10:00:00.000Z")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let new = NewContact { email: Some("rahul@example.in".into()), ..Default::default() };
    let existing = hubspot(&server, json!({})).create_contact(&new).await.unwrap();
    assert_eq!(existing.id, "123");
}

fn new_contact(phone: &str, email: Option<&str>) -> NewContact {
    NewContact { name: Some("Asha Rao".into()), phone: Some(phone.into()), email: email.map(Into::into), source: None }
}

/// A batch answer with `results` in the order given (HubSpot promises none).
fn batch_created(results: Vec<Value>) -> Value {
    json!({ "status": "COMPLETE", "results": results, "startedAt": "2026-03-07T10:00:00.000Z",
            "completedAt": "2026-03-07T10:00:00.100Z" })
}

#[tokio::test]
async fn create_contacts_sends_one_batch_and_matches_results_by_trace_id() {
    let server = MockServer::start().await;
    let mut second = contact("502", Some("+919820000002"), None, "2026-03-07T10:00:00.000Z");
    second["objectWriteTraceId"] = json!("1");
    let mut first = contact("501", Some("+919820000001"), Some("a@example.in"), "2026-03-07T10:00:00.000Z");
    first["objectWriteTraceId"] = json!("0");
    // Answered in the other order, and the third result carries no trace id: matched by its phone.
    let third = contact("503", Some("+919820000003"), None, "2026-03-07T10:00:00.000Z");
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/create"))
        .and(body_json(json!({ "inputs": [
            { "properties": { "firstname": "Asha", "lastname": "Rao", "phone": "+919820000001", "email": "a@example.in" },
              "associations": [], "objectWriteTraceId": "0" },
            { "properties": { "firstname": "Asha", "lastname": "Rao", "phone": "+919820000002" },
              "associations": [], "objectWriteTraceId": "1" },
            { "properties": { "firstname": "Asha", "lastname": "Rao", "phone": "+919820000003" },
              "associations": [], "objectWriteTraceId": "2" },
        ]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(batch_created(vec![third, second, first])))
        .expect(1)
        .mount(&server)
        .await;
    let inputs = [
        new_contact("+919820000001", Some("a@example.in")),
        new_contact("+919820000002", None),
        new_contact("+919820000003", None),
    ];
    let created = hubspot(&server, json!({})).create_contacts(&inputs).await;
    let ids: Vec<String> = created.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, ["501", "502", "503"]);
}

#[tokio::test]
async fn create_contacts_splits_a_refused_batch_and_resolves_the_conflict_alone() {
    let server = MockServer::start().await;
    let batch = "/crm/v3/objects/contacts/batch/create";
    let conflict =
        || ResponseTemplate::new(409).set_body_json(error_body("Contact already exists. Existing ID: 123", "CONFLICT"));
    // The batch of two holds the conflicting email: refused whole.
    Mock::given(method("POST")).and(path(batch)).respond_with(conflict()).expect(1).mount(&server).await;
    // Alone, each goes to the single create: the first is created, the second's conflict is resolved by a search.
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .and(body_partial_json(json!({ "properties": { "phone": "+919820000001" } })))
        .respond_with(ResponseTemplate::new(201).set_body_json(contact(
            "601",
            Some("+919820000001"),
            None,
            "2026-03-07T10:00:00.000Z",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .and(body_partial_json(json!({ "properties": { "email": "taken@example.in" } })))
        .respond_with(conflict())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 1, "results": [contact("123", None, Some("taken@example.in"), "2026-03-01T10:00:00.000Z")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let inputs = [new_contact("+919820000001", None), new_contact("+919820000002", Some("taken@example.in"))];
    let created = hubspot(&server, json!({})).create_contacts(&inputs).await;
    let ids: Vec<String> = created.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, ["601", "123"]);
}

#[tokio::test]
async fn create_contacts_sends_a_rounds_batches_together() {
    let server = MockServer::start().await;
    // Each batch answers after 2 s: sent one after the other, two could not take less than 4 s.
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/create"))
        .respond_with(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let results: Vec<Value> = body["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|input| {
                    let trace = input["objectWriteTraceId"].as_str().unwrap();
                    let mut created = contact(&format!("7{trace}"), None, None, "2026-03-07T10:00:00.000Z");
                    created["objectWriteTraceId"] = json!(trace);
                    created
                })
                .collect();
            ResponseTemplate::new(201).set_delay(Duration::from_secs(2)).set_body_json(batch_created(results))
        })
        .expect(2)
        .mount(&server)
        .await;
    let inputs: Vec<NewContact> = (0..150).map(|i| new_contact(&format!("+9198200{i:05}"), None)).collect();
    let started = std::time::Instant::now();
    let created = hubspot(&server, json!({})).create_contacts(&inputs).await;
    let took = started.elapsed();
    let ids: Vec<String> = created.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, (0..150).map(|i| format!("7{i}")).collect::<Vec<_>>());
    assert!(took < Duration::from_secs(4), "the two batches went one after the other ({took:?})");
}

#[tokio::test]
async fn create_contacts_fails_every_input_with_a_rate_limit_and_sends_no_more() {
    let server = MockServer::start().await;
    // Two batches go together: the first is refused (a conflict inside it), the second meets the rate limit.
    // The refused batch is not split and sent again: every input waits for the backoff.
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/create"))
        .respond_with(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            if body["inputs"][0]["objectWriteTraceId"] == "0" {
                return ResponseTemplate::new(409)
                    .set_body_json(error_body("Contact already exists. Existing ID: 123", "CONFLICT"));
            }
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "3")
                .set_body_json(error_body("You have reached your ten_secondly_rolling limit.", "RATE_LIMITS"))
        })
        .expect(2)
        .mount(&server)
        .await;
    let inputs: Vec<NewContact> = (0..150).map(|i| new_contact(&format!("+9198200{i:05}"), None)).collect();
    let created = hubspot(&server, json!({})).create_contacts(&inputs).await;
    assert_eq!(created.len(), 150);
    for result in created {
        match result {
            Err(CrmError::RateLimited { retry_after, .. }) => assert_eq!(retry_after, Some(Duration::from_secs(3))),
            other => panic!("expected the rate limit on every input, got {other:?}"),
        }
    }
}

use handoffd_contract::crm::{Crm, TaskWriteOutcome};
use handoffd_contract::task::TaskRef;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{self, TOKEN, error_body, hubspot, task, task_result};

const CREATE: &str = "/crm/v3/objects/tasks/batch/create";

fn written(id: &str, key: &str) -> TaskWriteOutcome {
    TaskWriteOutcome::Written(TaskRef { task_id: id.into(), external_key: Some(key.into()) })
}

#[tokio::test]
async fn create_sends_properties_association_and_owner_and_maps_results_by_key() {
    let server = MockServer::start().await;
    let input = |key: &str, contact: &str, owner: &str| {
        json!({
            "properties": {
                "hs_task_subject": format!("Call back about {key}"),
                "hs_task_body": "<p><strong>Need:</strong> 2BHK &lt;near&gt; metro</p>",
                "hs_timestamp": "2026-03-07T14:30:00.000Z",
                "hubspot_owner_id": owner,
                "hs_task_priority": "HIGH",
                "hs_task_status": "NOT_STARTED",
                "hs_task_type": "CALL",
                "handoffd_handoff_id": key
            },
            "associations": [{
                "to": { "id": contact },
                "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204 }]
            }],
            "objectWriteTraceId": key
        })
    };
    Mock::given(method("POST"))
        .and(path(CREATE))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({ "inputs": [input("h-1", "501", "75480001"), input("h-2", "502", "75480002")] })))
        // HubSpot does not promise input order.
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "status": "COMPLETE",
            "results": [task_result("9002", "h-2"), task_result("9001", "h-1")],
            "startedAt": "2026-03-07T10:00:00.000Z", "completedAt": "2026-03-07T10:00:00.100Z"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    let outcomes =
        crm.create_tasks(&[task("h-1", "501", Some("75480001")), task("h-2", "502", Some("75480002"))]).await.unwrap();
    assert_eq!(outcomes, vec![written("9001", "h-1"), written("9002", "h-2")]);
}

#[tokio::test]
async fn multi_status_rejects_only_the_failed_input_whatever_the_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(207).set_body_json(json!({
            "status": "COMPLETE",
            "results": [task_result("9003", "h-c"), task_result("9001", "h-a")],
            "numErrors": 1,
            "errors": [{
                "status": "error", "category": "VALIDATION_ERROR",
                "message": "Property values were not valid: hs_timestamp",
                "context": { "objectWriteTraceId": ["h-b"] }
            }],
            "startedAt": "2026-03-07T10:00:00.000Z", "completedAt": "2026-03-07T10:00:00.100Z"
        })))
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    let outcomes =
        crm.create_tasks(&[task("h-a", "1", None), task("h-b", "2", None), task("h-c", "3", None)]).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            written("9001", "h-a"),
            TaskWriteOutcome::Rejected { message: "Property values were not valid: hs_timestamp".into() },
            written("9003", "h-c"),
        ]
    );
}

/// A 400 refuses the whole batch; the connector isolates the bad input so the good one is written.
#[tokio::test]
async fn bad_owner_is_rejected_with_hubspots_message_and_the_rest_written() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(|request: &Request| {
            let body = support::body_json(request);
            let inputs = body["inputs"].as_array().unwrap();
            if inputs.iter().any(|i| i["properties"]["hubspot_owner_id"] == "999") {
                return ResponseTemplate::new(400)
                    .set_body_json(error_body("999 is not a valid owner id", "VALIDATION_ERROR"));
            }
            let results = inputs
                .iter()
                .map(|i| {
                    let key = i["properties"]["handoffd_handoff_id"].as_str().unwrap();
                    task_result(&format!("id-{key}"), key)
                })
                .collect::<Vec<_>>();
            ResponseTemplate::new(201).set_body_json(json!({ "status": "COMPLETE", "results": results }))
        })
        .expect(3)
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    let outcomes =
        crm.create_tasks(&[task("h-good", "1", Some("75480001")), task("h-bad", "2", Some("999"))]).await.unwrap();
    assert_eq!(outcomes[0], written("id-h-good", "h-good"));
    match &outcomes[1] {
        TaskWriteOutcome::Rejected { message } => assert!(message.contains("999 is not a valid owner id"), "{message}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn batches_are_chunked_to_max_batch() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(|request: &Request| {
            let body = support::body_json(request);
            let results = body["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let key = i["properties"]["handoffd_handoff_id"].as_str().unwrap();
                    task_result(&format!("id-{key}"), key)
                })
                .collect::<Vec<_>>();
            ResponseTemplate::new(201).set_body_json(json!({ "status": "COMPLETE", "results": results }))
        })
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({ "limits": { "max_batch": 2 } }));
    let tasks = (0..5).map(|i| task(&format!("h-{i}"), "1", None)).collect::<Vec<_>>();
    let outcomes = crm.create_tasks(&tasks).await.unwrap();
    assert_eq!(outcomes.len(), 5);
    assert_eq!(outcomes[4], written("id-h-4", "h-4"));
    let sizes = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| support::body_json(r)["inputs"].as_array().unwrap().len())
        .collect::<Vec<_>>();
    assert_eq!(sizes, vec![2, 2, 1]);
}

#[tokio::test]
async fn update_sends_content_without_status_and_maps_by_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/update"))
        .respond_with(|request: &Request| {
            let body = support::body_json(request);
            let input = &body["inputs"][0];
            assert_eq!(input["id"], "9001");
            assert_eq!(input["properties"]["hubspot_owner_id"], "75480003");
            assert_eq!(input["properties"]["hs_timestamp"], "2026-03-07T14:30:00.000Z");
            assert!(input["properties"].get("hs_task_status").is_none(), "an update must not reset the status");
            ResponseTemplate::new(200)
                .set_body_json(json!({ "status": "COMPLETE", "results": [task_result("9001", "h-1")] }))
        })
        .expect(1)
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    let outcomes = crm.update_tasks(&[("9001".into(), task("h-1", "501", Some("75480003")))]).await.unwrap();
    assert_eq!(outcomes, vec![written("9001", "h-1")]);
}

#[tokio::test]
async fn find_by_external_keys_searches_with_in_and_pages() {
    let server = MockServer::start().await;
    let search = |after: Option<&str>| {
        let mut body = json!({
            "filterGroups": [{ "filters": [{ "propertyName": "handoffd_handoff_id", "operator": "IN", "values": ["h-1", "h-2"] }] }],
            "properties": ["handoffd_handoff_id"],
            "limit": 100
        });
        if let Some(after) = after {
            body["after"] = json!(after);
        }
        body
    };
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/search"))
        .and(body_json(search(None)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 2, "results": [task_result("9001", "h-1")], "paging": { "next": { "after": "1" } }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/search"))
        .and(body_json(search(Some("1"))))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "total": 2, "results": [task_result("9002", "h-2")] })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    let found = crm.find_tasks_by_external_keys(&["h-1".into(), "h-2".into()]).await.unwrap();
    assert_eq!(
        found,
        vec![
            TaskRef { task_id: "9001".into(), external_key: Some("h-1".into()) },
            TaskRef { task_id: "9002".into(), external_key: Some("h-2".into()) },
        ]
    );
}

#[tokio::test]
async fn task_states_read_completion_owner_and_due() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/read"))
        .and(body_json(json!({
            "inputs": [{ "id": "9001" }, { "id": "9002" }],
            "properties": ["hs_task_status", "hubspot_owner_id", "hs_timestamp", "handoffd_handoff_id"]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "status": "COMPLETE", "results": [
            { "id": "9002", "properties": { "hs_task_status": "NOT_STARTED", "hubspot_owner_id": "75480002",
                                            "hs_timestamp": "2026-03-07T14:30:00Z" } },
            { "id": "9001", "properties": { "hs_task_status": "COMPLETED", "hubspot_owner_id": null,
                                            "hs_timestamp": "1772893800000" } }
        ]})))
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({}));
    let states = crm.task_states(&["9001".into(), "9002".into()]).await.unwrap();
    let s1 = states.iter().find(|s| s.task_id == "9001").unwrap();
    let s2 = states.iter().find(|s| s.task_id == "9002").unwrap();
    assert!(s1.completed && !s2.completed);
    assert_eq!((s1.owner_id.as_deref(), s2.owner_id.as_deref()), (None, Some("75480002")));
    assert_eq!(s1.due_at, s2.due_at, "epoch ms and ISO name the same instant");
    assert_eq!(s2.due_at.unwrap().to_rfc3339(), "2026-03-07T14:30:00+00:00");
}

#[tokio::test]
async fn prepare_creates_the_external_key_property_when_missing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/properties/tasks/handoffd_handoff_id"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(error_body("Property does not exist", "OBJECT_NOT_FOUND")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/properties/tasks"))
        .and(body_json(json!({
            "name": "handoffd_handoff_id", "label": "handoffd handoff id", "type": "string",
            "fieldType": "text", "groupName": "taskinformation"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "name": "handoffd_handoff_id" })))
        .expect(1)
        .mount(&server)
        .await;
    hubspot(&server, json!({})).prepare().await.unwrap();
}

#[tokio::test]
async fn prepare_leaves_an_existing_property_alone() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/properties/tasks/handoffd_handoff_id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "name": "handoffd_handoff_id" })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/properties/tasks"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    hubspot(&server, json!({})).prepare().await.unwrap();
}

/// After one batch was written, a later batch's failure must not hide it: the outcome is unknown
/// so the deliverer looks the tasks up by key instead of writing the first batch twice.
#[tokio::test]
async fn a_failure_after_a_written_batch_is_an_unknown_outcome() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .and(wiremock::matchers::body_partial_json(json!({ "inputs": [{ "objectWriteTraceId": "h-1" }] })))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({ "status": "COMPLETE", "results": [task_result("9001", "h-1")] })),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let crm = hubspot(&server, json!({ "limits": { "max_batch": 1 } }));
    let err = crm.create_tasks(&[task("h-1", "1", None), task("h-2", "2", None)]).await.unwrap_err();
    assert!(matches!(err, handoffd_contract::crm::CrmError::OutcomeUnknown(_)), "{err:?}");
}

use handoffd_contract::crm::{Crm, CrmOwner};
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::hubspot;

#[tokio::test]
async fn owners_are_paged_with_limit_and_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{ "id": "75480001", "email": "priya@example.in", "firstName": "Priya", "lastName": "Shah",
                          "userId": 1, "archived": false }],
            "paging": { "next": { "after": "75480001" } }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .and(query_param("limit", "100"))
        .and(query_param("after", "75480001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{ "id": "75480002", "email": "arjun@example.in", "firstName": "Arjun", "lastName": null,
                          "userId": 2, "archived": true }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let owners = hubspot(&server, json!({})).list_owners().await.unwrap();
    assert_eq!(
        owners,
        vec![
            CrmOwner {
                id: "75480001".into(),
                name: Some("Priya Shah".into()),
                email: Some("priya@example.in".into()),
                active: true
            },
            CrmOwner {
                id: "75480002".into(),
                name: Some("Arjun".into()),
                email: Some("arjun@example.in".into()),
                active: false
            },
        ]
    );
}

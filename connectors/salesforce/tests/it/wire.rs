//! What the compliance suite does not cover: the JWT bearer flow, the scope and field checks at set-up, the
//! instance URL, escaping, the live budget, and each owner's own date.

use chrono::{TimeZone, Utc};
use handoffd_contract::crm::CrmError;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{TaskKind, TaskPriority, TaskText, TaskWrite};
use handoffd_mocks::MockOptions;
use handoffd_mocks::compliance::CrmMock;
use handoffd_mocks::salesforce::SalesforceOptions;
use serde_json::{Value, json};

use crate::support::{fresh, start, with_org};

const PRIVATE_KEY: &str = include_str!("../fixtures/jwt-test-key.pem");
const PUBLIC_KEY: &str = include_str!("../fixtures/jwt-test-key.pub.pem");

fn jwt_org() -> MockOptions {
    with_org(SalesforceOptions { jwt_public_key_pem: Some(PUBLIC_KEY.to_owned()), ..SalesforceOptions::default() })
}

fn jwt(username: &str) -> Value {
    json!({"client_secret": null, "refresh_token": null, "jwt": {"username": username, "private_key": PRIVATE_KEY}})
}

#[tokio::test]
async fn the_jwt_bearer_flow_gets_a_session_for_its_user() {
    let (crm, mock, _keep) = start(jwt_org(), jwt("integration@example.com")).await;
    crm.prepare().await.expect("set-up with a JWT session");
    let owners = crm.list_owners().await.expect("owners with a JWT session");
    assert_eq!(owners.len(), 2);
    // Each refusal of the session gets one new assertion, not a loop.
    mock.expire_access_tokens();
    crm.list_owners().await.expect("a new session after the old one expired");
    assert_eq!(mock.tokens_issued(), 2);
}

#[tokio::test]
async fn a_jwt_for_a_user_who_did_not_approve_the_app_is_an_auth_error() {
    let (crm, _mock, _keep) = start(jwt_org(), jwt("someone.else@example.com")).await;
    match crm.prepare().await {
        Err(CrmError::Auth(message)) => assert!(message.contains("hasn't approved"), "{message}"),
        other => panic!("expected an auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_without_the_api_scope_is_refused_at_set_up_naming_the_scope() {
    let org = SalesforceOptions { scope: "refresh_token openid".to_owned(), ..SalesforceOptions::default() };
    let (crm, mock, _keep) = start(with_org(org), json!({})).await;
    let before = mock.requests_received();
    match crm.prepare().await {
        Err(CrmError::Auth(message)) => {
            assert!(message.contains("`api` scope") && message.contains("refresh_token openid"), "{message}")
        }
        other => panic!("expected an auth error naming the scope, got {other:?}"),
    }
    // Only the token request: no API call is spent on a token that cannot make one.
    assert_eq!(mock.requests_received() - before, 1);
}

#[tokio::test]
async fn a_missing_external_id_field_is_refused_at_set_up_naming_the_field() {
    let org = SalesforceOptions { external_id_field: None, ..SalesforceOptions::default() };
    let (crm, _mock, _keep) = start(with_org(org), json!({})).await;
    match crm.prepare().await {
        Err(CrmError::Rejected { message, .. }) => {
            assert!(message.contains("Handoffd_Handoff_Id__c") && message.contains("External ID"), "{message}")
        }
        other => panic!("expected a rejection naming the field, got {other:?}"),
    }
}

#[tokio::test]
async fn a_quote_in_a_key_stays_inside_its_literal() {
    let (crm, _mock, _keep) = fresh().await;
    crm.prepare().await.expect("set-up");
    let made = crm
        .create_contacts(&[handoffd_contract::crm::NewContact {
            name: Some("Siobhan O'Brien".into()),
            email: Some("o'brien@example.com".into()),
            ..Default::default()
        }])
        .await;
    let contact = made.into_iter().next().expect("one result").expect("created");
    // A key that would widen the query if it were pasted in unescaped.
    let sneaky = IdentityKey::email("x@example.com' OR Email != 'y");
    assert_eq!(crm.find_contacts(&[sneaky]).await.expect("a search"), vec![]);
    let found = crm.find_contacts(&[IdentityKey::email("O'Brien@example.com")]).await.expect("a search");
    assert_eq!(found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [contact.id.as_str()]);
}

#[tokio::test]
async fn a_round_of_two_hundred_customers_is_looked_up_in_one_call() {
    // 150 customers the org knows as Contacts, 50 it does not: Contact and Lead queries in one Composite call.
    let org = SalesforceOptions { seed_contacts: 150, ..SalesforceOptions::default() };
    let (crm, mock, _keep) = start(with_org(org), json!({})).await;
    crm.list_owners().await.expect("owners");
    let keys: Vec<IdentityKey> = (0..200).map(|n| IdentityKey::phone(handoffd_mocks::seed_contact_phone(n))).collect();
    let (before, _) = mock.api_usage();
    let found = crm.find_contacts(&keys).await.expect("the lookup");
    let (after, _) = mock.api_usage();
    assert_eq!(after - before, 1, "one call against the allocation for the whole round");
    assert_eq!(found.len(), 150);
}

#[tokio::test]
async fn the_live_budget_is_the_orgs_allocation_left() {
    let (crm, mock, _keep) = fresh().await;
    crm.list_owners().await.expect("owners");
    crm.list_owners().await.expect("owners");
    let (used, max) = mock.api_usage();
    assert_eq!(used, 2);
    assert_eq!(crm.live_budget().daily_remaining, Some(u32::try_from(max - used).unwrap()));
}

#[tokio::test]
async fn automated_users_are_not_owners() {
    let (crm, _mock, _keep) = fresh().await;
    let owners = crm.list_owners().await.expect("owners");
    assert!(owners.iter().all(|o| o.name.as_deref() != Some("Automated Process")), "{owners:?}");
    assert_eq!(owners.len(), 2);
}

#[tokio::test]
async fn a_task_is_due_on_its_owners_date_with_the_exact_time_as_its_reminder() {
    let (crm, mock, _keep) = fresh().await;
    crm.prepare().await.expect("set-up reads the users' time zones");
    let contact = crm
        .create_contact(&handoffd_contract::crm::NewContact {
            phone: Some("+919800000001".into()),
            ..Default::default()
        })
        .await
        .expect("a contact");
    // 20:30 UTC on the 5th is already the 6th in Kolkata (Asha) and still the 5th in Mexico City (Miguel).
    let due_at = Utc.with_ymd_and_hms(2026, 12, 5, 20, 30, 0).unwrap();
    let task = |key: &str, owner: &str| TaskWrite {
        external_key: key.into(),
        contact_id: contact.id.clone(),
        owner_id: Some(owner.into()),
        text: TaskText { subject: "Call back".into(), facts: vec![], transcript_url: None },
        due_at,
        priority: TaskPriority::High,
        kind: TaskKind::Call,
    };
    let outcomes = crm
        .create_tasks(&[task("handoff-asha", "005000000000001AAA"), task("handoff-miguel", "005000000000002AAA")])
        .await
        .expect("written");
    let ids: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            handoffd_contract::crm::TaskWriteOutcome::Written(t) => t.task_id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let asha = mock.record("Task", &ids[0]).expect("stored");
    let miguel = mock.record("Task", &ids[1]).expect("stored");
    assert_eq!(asha["ActivityDate"], "2026-12-06");
    assert_eq!(miguel["ActivityDate"], "2026-12-05");
    for stored in [&asha, &miguel] {
        assert_eq!(stored["ReminderDateTime"], "2026-12-05T20:30:00.000Z");
        assert_eq!(stored["IsReminderSet"], true);
        assert_eq!((stored["Priority"].as_str(), stored["Type"].as_str()), (Some("High"), Some("Call")));
        assert_eq!(stored["WhoId"], contact.id.as_str());
    }
}

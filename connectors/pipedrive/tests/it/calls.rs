//! CRM calls and tokens per task, counted on the mock (figures printed with `--nocapture`). Pipedrive takes one
//! activity, one person and one search term a call: a new customer known by a phone costs a search, a person
//! and an activity; a known one a search and an activity.

use chrono::{TimeDelta, Utc};
use handoffd_contract::crm::{Crm, NewContact};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{LabelledFact, TaskKind, TaskPriority, TaskText, TaskWrite};
use handoffd_mocks::pipedrive::PipedriveMockOptions;
use handoffd_mocks::recorded::RequestLog;
use serde_json::json;

use crate::support::{connector, mock};

fn api_calls(log: &RequestLog) -> usize {
    log.requests().iter().filter(|r| r.path.starts_with("/v1/") || r.path.starts_with("/api/")).count()
}

fn task(key: String, contact: &str, owner: &str) -> TaskWrite {
    TaskWrite {
        external_key: key,
        contact_id: contact.to_owned(),
        owner_id: Some(owner.to_owned()),
        text: TaskText {
            subject: "Call back".into(),
            facts: vec![LabelledFact { label: "Need".into(), value: "a visit".into() }],
            transcript_url: None,
        },
        due_at: Utc::now() + TimeDelta::hours(2),
        priority: TaskPriority::Medium,
        kind: TaskKind::Call,
    }
}

#[tokio::test]
async fn new_customers_cost_three_calls_and_known_ones_two() {
    const CUSTOMERS: usize = 10;
    let log = RequestLog::default();
    let options =
        PipedriveMockOptions { requests_per_window: 80, searches_per_window: 10, ..PipedriveMockOptions::default() };
    let mock = mock(options, log.clone()).await;
    let pipedrive = connector(&mock, json!({"limits": {"requests": 80, "daily_tokens": 100000}}));
    pipedrive.prepare().await.expect("priorities read");
    let owner = pipedrive.list_owners().await.expect("owners")[0].id.clone();
    let start = api_calls(&log);
    let tokens_before = pipedrive.live_budget().daily_remaining.unwrap_or_default();
    let mut contacts = Vec::new();
    for c in 0..CUSTOMERS {
        let phone = format!("+9199100{c:05}");
        assert!(pipedrive.find_contacts(&[IdentityKey::phone(phone.clone())]).await.expect("searched").is_empty());
        let contact = pipedrive
            .create_contact(&NewContact {
                name: Some(format!("Customer {c}")),
                phone: Some(phone),
                ..NewContact::default()
            })
            .await
            .expect("created");
        pipedrive.create_tasks(&[task(format!("new-{c}"), &contact.id, &owner)]).await.expect("written");
        contacts.push(contact);
    }
    let new_calls = api_calls(&log) - start;
    let new_tokens = tokens_before - pipedrive.live_budget().daily_remaining.unwrap_or_default();
    let start = api_calls(&log);
    for (c, contact) in contacts.iter().enumerate() {
        let found = pipedrive.find_contacts(&[IdentityKey::phone(contact.phones[0].clone())]).await.expect("searched");
        assert_eq!(found.len(), 1);
        pipedrive.create_tasks(&[task(format!("known-{c}"), &contact.id, &owner)]).await.expect("written");
    }
    let known_calls = api_calls(&log) - start;
    eprintln!(
        "Pipedrive: a new customer {:.2} calls a task ({} tokens of the daily budget), a known one {:.2} calls a task",
        new_calls as f64 / CUSTOMERS as f64,
        new_tokens / CUSTOMERS as u32,
        known_calls as f64 / CUSTOMERS as f64
    );
    assert_eq!(new_calls, 3 * CUSTOMERS);
    assert_eq!(known_calls, 2 * CUSTOMERS);
}

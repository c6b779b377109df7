//! CRM calls per task for a backlog of new customers, counted on the mock (figures printed with `--nocapture`).
//! The deliverer works in rounds of up to `max_batch` handoffs: each round finds its customers' contacts in one
//! lookup, creates the missing ones in one call and upserts the tasks in one call.

use chrono::{TimeDelta, Utc};
use handoffd_contract::crm::Crm;
use handoffd_contract::crm::NewContact;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{LabelledFact, TaskKind, TaskPriority, TaskText, TaskWrite};
use handoffd_mocks::recorded::RequestLog;
use handoffd_mocks::zoho::ZohoMockOptions;

use crate::support::{connector, mock};

fn api_calls(log: &RequestLog) -> usize {
    log.requests().iter().filter(|r| r.path.starts_with("/crm/")).count()
}

#[tokio::test]
async fn a_backlog_of_new_customers_costs_three_calls_a_hundred_tasks() {
    const CUSTOMERS: usize = 500;
    let log = RequestLog::default();
    let mock = mock(ZohoMockOptions::default(), log.clone()).await;
    let zoho = connector(&mock);
    let owner = zoho.list_owners().await.expect("owners")[0].id.clone();
    let before = api_calls(&log);
    let round = zoho.limits().max_batch;
    for (n, start) in (0..CUSTOMERS).step_by(round).enumerate() {
        let customers: Vec<usize> = (start..(start + round).min(CUSTOMERS)).collect();
        let phone = |c: usize| format!("+91990{n:02}{c:05}");
        let keys: Vec<IdentityKey> = customers.iter().map(|c| IdentityKey::phone(phone(*c))).collect();
        let found = zoho.find_contacts(&keys).await.expect("the lookup");
        assert!(found.is_empty(), "new customers have no contact");
        let new: Vec<NewContact> = customers
            .iter()
            .map(|c| NewContact {
                name: Some(format!("Customer {c}")),
                phone: Some(phone(*c)),
                ..NewContact::default()
            })
            .collect();
        let created: Vec<_> = zoho.create_contacts(&new).await.into_iter().map(|r| r.expect("created")).collect();
        let tasks: Vec<TaskWrite> = created
            .iter()
            .zip(&customers)
            .map(|(contact, c)| TaskWrite {
                external_key: format!("backlog-{c}"),
                contact_id: contact.id.clone(),
                owner_id: Some(owner.clone()),
                text: TaskText {
                    subject: format!("Call back customer {c}"),
                    facts: vec![LabelledFact { label: "Need".into(), value: "a visit".into() }],
                    transcript_url: None,
                },
                due_at: Utc::now() + TimeDelta::hours(2),
                priority: TaskPriority::High,
                kind: TaskKind::Call,
            })
            .collect();
        let outcomes = zoho.create_tasks(&tasks).await.expect("upserted");
        assert_eq!(outcomes.len(), tasks.len());
    }
    let calls = api_calls(&log) - before;
    let per_task = calls as f64 / CUSTOMERS as f64;
    eprintln!("Zoho, backlog of {CUSTOMERS} new customers: {calls} calls, {per_task:.3} calls per task");
    assert_eq!(calls, 3 * CUSTOMERS.div_ceil(round), "one lookup, one contact insert, one task upsert a round");
    assert!(per_task <= 0.03, "{per_task} calls per task");
}

#[tokio::test]
async fn a_round_of_two_hundred_phones_is_one_query() {
    // 150 of the round's customers are known to Zoho, 50 are not: one COQL call finds the 150.
    let log = RequestLog::default();
    let mock = mock(ZohoMockOptions { seed_contacts: 150, ..ZohoMockOptions::default() }, log.clone()).await;
    let zoho = connector(&mock);
    zoho.list_owners().await.expect("owners");
    let keys: Vec<IdentityKey> = (0..200).map(|n| IdentityKey::phone(handoffd_mocks::seed_contact_phone(n))).collect();
    let before = api_calls(&log);
    let found = zoho.find_contacts(&keys).await.expect("the lookup");
    assert_eq!(api_calls(&log) - before, 1, "one query for the whole round");
    assert_eq!(found.len(), 150);
}

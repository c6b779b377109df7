//! Contacts and owners: create in batches, find by phone and email in batches, list owners.

use std::collections::BTreeSet;
use std::sync::Arc;

use handoffd_contract::crm::{Crm, CrmContact, NewContact};
use handoffd_contract::identity::IdentityKey;

use super::{CheckFuture, CrmMock, ensure, requests_during, unique};

/// `count` new contacts with distinct phones (+91 mobiles from a random block) and emails.
pub(super) fn new_contacts(count: usize) -> Vec<NewContact> {
    let block = uuid::Uuid::new_v4().as_u128() % 90_000 + 10_000;
    (0..count)
        .map(|n| NewContact {
            name: Some(format!("Compliance Customer {n}")),
            phone: Some(format!("+9198{block:05}{n:03}")),
            email: Some(format!("{}@example.com", unique(&format!("customer{n}")))),
            source: Some("whatsapp".to_owned()),
        })
        .collect()
}

/// Creates `count` contacts for a check that needs some, or says why it could not.
pub(super) async fn created_contacts(crm: &dyn Crm, count: usize) -> Result<Vec<CrmContact>, String> {
    crm.create_contacts(&new_contacts(count))
        .await
        .into_iter()
        .enumerate()
        .map(|(n, result)| result.map_err(|e| format!("creating contact {n} failed: {e}")))
        .collect()
}

pub(super) fn prepare_twice<'a>(crm: &'a Arc<dyn Crm>, _mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        crm.prepare().await.map_err(|e| format!("the first set-up failed: {e}"))?;
        // Every start of the daemon prepares again: the second time must find the set-up done.
        crm.prepare().await.map_err(|e| format!("the second set-up failed: {e}"))?;
        Ok(())
    })
}

pub(super) fn create_batch<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        crm.prepare().await.map_err(|e| format!("set-up failed: {e}"))?;
        let inputs = new_contacts(5);
        let before = mock.contacts().len();
        let (results, requests) = requests_during(mock, crm.create_contacts(&inputs)).await;
        ensure!(results.len() == inputs.len(), "{} results for {} contacts", results.len(), inputs.len());
        for (n, (input, result)) in inputs.iter().zip(&results).enumerate() {
            let created = result.as_ref().map_err(|e| format!("contact {n} was not created: {e}"))?;
            let phone = input.phone.as_deref().unwrap_or_default();
            ensure!(
                created.phones.iter().any(|p| p == phone),
                "result {n} has phones {:?}, its input {phone}: results must come in input order",
                created.phones
            );
        }
        let stored = mock.contacts();
        ensure!(stored.len() == before + inputs.len(), "the CRM holds {} new contacts, not 5", stored.len() - before);
        for input in &inputs {
            let email = input.email.as_deref().unwrap_or_default();
            ensure!(
                stored.iter().any(|c| c.emails.iter().any(|e| e == email)),
                "no contact in the CRM has the email {email}"
            );
        }
        ensure!(requests < inputs.len() as u64, "{requests} requests for {} contacts: not batched", inputs.len());
        Ok(())
    })
}

pub(super) fn find_by_phone_and_email<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        crm.prepare().await.map_err(|e| format!("set-up failed: {e}"))?;
        let contacts = created_contacts(crm.as_ref(), 4).await?;
        let phone = |c: &CrmContact| c.phones.first().cloned().unwrap_or_default();
        let email = |c: &CrmContact| c.emails.first().cloned().unwrap_or_default();
        // Two by phone, one by email, one by both, and two keys nobody has.
        let keys = vec![
            IdentityKey::phone(phone(&contacts[0])),
            IdentityKey::email(email(&contacts[1])),
            IdentityKey::phone(phone(&contacts[2])),
            IdentityKey::phone(phone(&contacts[3])),
            IdentityKey::email(email(&contacts[3])),
            IdentityKey::phone("+919000000001"),
            IdentityKey::email(format!("{}@example.com", unique("nobody"))),
        ];
        let (found, requests) = requests_during(mock, crm.find_contacts(&keys)).await;
        let found = found.map_err(|e| format!("the search failed: {e}"))?;
        let found_ids: BTreeSet<&str> = found.iter().map(|c| c.id.as_str()).collect();
        let expected: BTreeSet<&str> = contacts.iter().map(|c| c.id.as_str()).collect();
        ensure!(found_ids == expected, "found {found_ids:?}, expected {expected:?}");
        ensure!(found.len() == expected.len(), "a contact found by two keys came back twice: {found:?}");
        let by_email = found.iter().find(|c| c.id == contacts[1].id);
        ensure!(
            by_email.is_some_and(|c| c.emails.contains(&email(&contacts[1]))),
            "the contact found by email does not carry it: {by_email:?}"
        );
        // One search per kind of key at most, however many keys.
        ensure!(requests <= 2, "{requests} requests for {} keys: not batched", keys.len());
        Ok(())
    })
}

pub(super) fn list_owners<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let owners = crm.list_owners().await.map_err(|e| format!("listing owners failed: {e}"))?;
        let listed: BTreeSet<String> = owners.iter().map(|o| o.id.clone()).collect();
        let expected: BTreeSet<String> = mock.owner_ids().into_iter().collect();
        ensure!(!expected.is_empty(), "the mock has no owners to list");
        ensure!(listed == expected, "listed {listed:?}, the CRM has {expected:?}");
        ensure!(owners.iter().all(|o| o.active), "an active owner was listed as inactive: {owners:?}");
        Ok(())
    })
}

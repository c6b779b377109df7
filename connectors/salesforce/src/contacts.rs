//! Contacts and leads: found by phone, email or id with one SOQL query per object (Contact, then Lead), created
//! through sObject Collections, and read as a change feed for the identity cache.

use std::collections::HashSet;

use chrono::Utc;
use handoffd_contract::crm::{ContactPage, CrmContact, CrmError, NewContact};
use handoffd_contract::identity::IdentityKey;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::classify::record_error;
use crate::client::{Api, id_list};
use crate::soql::{in_list, quote, record_id};
use crate::wire::{PersonRecord, SaveResult, format_datetime, parse_datetime};

const PERSON_FIELDS: &str = "Id, Name, Phone, MobilePhone, Email, OwnerId, LastModifiedDate";
/// Contacts per page of the change feed.
const PAGE_SIZE: usize = 200;

/// Every Contact and unconverted Lead that holds one of `keys`: two queries (Contact, Lead) per run of up to 200
/// keys, sent together in one Composite call (Salesforce counts it as one call), so a round of new customers costs
/// one call to look up.
pub async fn find(api: &Api, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
    let mut soqls = Vec::new();
    for chunk in query_sized(keys) {
        let Some(condition) = matching(chunk) else { continue };
        for (object, extra) in [("Contact", ""), ("Lead", " AND IsConverted = false")] {
            soqls.push(format!("SELECT {PERSON_FIELDS} FROM {object} WHERE ({condition}){extra}"));
        }
    }
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let answers: Vec<Vec<PersonRecord>> = match soqls.as_slice() {
        [] => Vec::new(),
        // One query alone goes as itself (no composite envelope to pay for).
        [soql] => vec![api.query(soql, "find contacts").await?],
        _ => api.queries(&soqls, "find contacts").await?,
    };
    for record in answers.into_iter().flatten() {
        if seen.insert(record.id.clone()) {
            found.push(to_contact(record));
        }
    }
    Ok(found)
}

/// Keys in runs whose query stays under Salesforce's URL limit (16,384 characters, encoded): up to 200 keys a
/// query when they are phones (a round of new customers is then one query per object), fewer when they are long.
fn query_sized(keys: &[IdentityKey]) -> Vec<&[IdentityKey]> {
    const MAX_KEYS: usize = 200;
    const CONDITION_BUDGET: usize = 12_000;
    // What a key adds to the URL: its quoted literal, percent-encoded, and a comma; phones appear twice.
    let cost = |key: &IdentityKey| match key {
        IdentityKey::Phone { value } => 2 * (encoded_len(&quote(value)) + 3),
        IdentityKey::Email { value } => encoded_len(&quote(value)) + 3,
        IdentityKey::Vendor { id, .. } => id.len() + 9,
    };
    let mut runs = Vec::new();
    let (mut start, mut spent) = (0, 0);
    for (n, key) in keys.iter().enumerate() {
        let key_cost = cost(key);
        if n > start && (n - start >= MAX_KEYS || spent + key_cost > CONDITION_BUDGET) {
            runs.push(&keys[start..n]);
            (start, spent) = (n, 0);
        }
        spent += key_cost;
    }
    if start < keys.len() {
        runs.push(&keys[start..]);
    }
    runs
}

fn encoded_len(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || "-._~".contains(c) { 1 } else { 3 * c.len_utf8() }).sum()
}

/// `Phone IN (...) OR MobilePhone IN (...) OR Email IN (...) OR Id IN (...)` for the keys Salesforce can hold.
fn matching(keys: &[IdentityKey]) -> Option<String> {
    let mut phones = Vec::new();
    let mut emails = Vec::new();
    let mut ids = Vec::new();
    for key in keys {
        match key {
            IdentityKey::Phone { value } if !value.trim().is_empty() => phones.push(value.trim()),
            IdentityKey::Email { value } if !value.trim().is_empty() => emails.push(value.trim()),
            IdentityKey::Vendor { system, id } if system == "salesforce" => ids.extend(record_id(id)),
            _ => {}
        }
    }
    let parts: Vec<String> = [
        in_list("Phone", phones.iter().copied()),
        in_list("MobilePhone", phones.iter().copied()),
        in_list("Email", emails.iter().copied()),
        id_list("Id", ids.iter().copied()),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" OR "))
}

fn to_contact(record: PersonRecord) -> CrmContact {
    CrmContact {
        id: record.id,
        name: record.name.filter(|n| !n.trim().is_empty()),
        phones: [record.phone, record.mobile_phone].into_iter().flatten().filter(|p| !p.trim().is_empty()).collect(),
        emails: record.email.into_iter().filter(|e| !e.trim().is_empty()).collect(),
        owner_id: record.owner_id,
        updated_at: record.last_modified_date.as_deref().and_then(parse_datetime),
        merged_into: None,
    }
}

pub async fn create(api: &Api, contact: &NewContact) -> Result<CrmContact, CrmError> {
    create_many(api, 1, std::slice::from_ref(contact))
        .await
        .pop()
        .unwrap_or_else(|| Err(CrmError::Protocol("create contacts: no result for the one contact".to_owned())))
}

/// One collections call per `max_batch` contacts; one result per input, in input order. A call that failed as a
/// whole gives its error to its inputs and to every input after it, which are not sent.
pub async fn create_many(api: &Api, max_batch: usize, contacts: &[NewContact]) -> Vec<Result<CrmContact, CrmError>> {
    let mut results = Vec::with_capacity(contacts.len());
    for batch in contacts.chunks(max_batch.max(1)) {
        let body = json!({"allOrNone": false, "records": batch.iter().map(contact_record).collect::<Vec<_>>()});
        let answer = match api.write(Method::POST, "/composite/sobjects", &body, "create contacts") {
            Ok(call) => api.json::<Vec<SaveResult>>(&call).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(saved) if saved.len() == batch.len() => {
                results.extend(batch.iter().zip(saved).map(|(input, saved)| created(input, saved)));
            }
            Ok(saved) => {
                let error = CrmError::Protocol(format!(
                    "create contacts: {} results for {} contacts",
                    saved.len(),
                    batch.len()
                ));
                results.resize_with(contacts.len(), || Err(error.clone()));
                return results;
            }
            Err(error) => {
                results.resize_with(contacts.len(), || Err(error.clone()));
                return results;
            }
        }
    }
    results
}

/// A Contact: `LastName` is required, so a customer with no name is named by the key we know them by.
fn contact_record(contact: &NewContact) -> Value {
    let name = contact.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let (first, last) = match name.and_then(|n| n.rsplit_once(' ')) {
        Some((first, last)) => (Some(first.trim()), last.trim().to_owned()),
        None => {
            let fallback = contact.phone.as_deref().or(contact.email.as_deref()).unwrap_or("Unknown customer");
            (None, name.unwrap_or(fallback).to_owned())
        }
    };
    let mut record = Map::new();
    record.insert("attributes".into(), json!({"type": "Contact"}));
    record.insert("LastName".into(), json!(last));
    if let Some(first) = first {
        record.insert("FirstName".into(), json!(first));
    }
    if let Some(phone) = &contact.phone {
        record.insert("Phone".into(), json!(phone));
    }
    if let Some(email) = &contact.email {
        record.insert("Email".into(), json!(email));
    }
    // Not `LeadSource`: it is a restricted picklist in many orgs, and an unknown value would refuse the contact.
    if let Some(source) = &contact.source {
        record.insert("Description".into(), json!(format!("Created by handoffd from {source}.")));
    }
    Value::Object(record)
}

fn created(input: &NewContact, saved: SaveResult) -> Result<CrmContact, CrmError> {
    match (saved.success, saved.id) {
        (true, Some(id)) => Ok(CrmContact {
            id,
            name: input.name.clone(),
            phones: input.phone.iter().cloned().collect(),
            emails: input.email.iter().cloned().collect(),
            owner_id: None,
            updated_at: Some(Utc::now()),
            merged_into: None,
        }),
        (true, None) => Err(CrmError::Protocol("create contacts: a saved contact has no id".to_owned())),
        (false, _) => {
            let message = record_error(&saved.errors)?;
            Err(CrmError::Rejected { status: 400, message: format!("create contacts: {message}") })
        }
    }
}

/// Contacts modified after `cursor` (`<LastModifiedDate>|<Id>` of the last one read), oldest first.
pub async fn changed_since(api: &Api, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
    let after = match cursor {
        None => None,
        Some(cursor) => {
            let (at, id) = cursor.split_once('|').unwrap_or((cursor, ""));
            let at = parse_datetime(at)
                .ok_or_else(|| CrmError::Protocol(format!("the contact sync cursor `{cursor}` is not ours")))?;
            Some((format_datetime(at), id.to_owned()))
        }
    };
    let condition = match &after {
        None => String::new(),
        // Datetime literals are unquoted in SOQL; the id is quoted.
        Some((at, id)) => format!(" WHERE LastModifiedDate > {at} OR (LastModifiedDate = {at} AND Id > {})", quote(id)),
    };
    let soql =
        format!("SELECT {PERSON_FIELDS} FROM Contact{condition} ORDER BY LastModifiedDate, Id LIMIT {PAGE_SIZE}");
    let records: Vec<PersonRecord> = api.query(&soql, "list changed contacts").await?;
    let next_cursor = records.last().and_then(|last| {
        let at = last.last_modified_date.as_deref().and_then(parse_datetime)?;
        Some(format!("{}|{}", format_datetime(at), last.id))
    });
    Ok(ContactPage { contacts: records.into_iter().map(to_contact).collect(), next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_one_escaped_condition() {
        let keys = [
            IdentityKey::phone("+919812345678"),
            IdentityKey::email("o'brien@example.com"),
            IdentityKey::vendor("salesforce", "003000000000001AAA"),
            IdentityKey::vendor("salesforce", "not-an-id"),
            IdentityKey::vendor("hubspot", "42"),
        ];
        assert_eq!(
            matching(&keys).unwrap(),
            r"Phone IN ('+919812345678') OR MobilePhone IN ('+919812345678') OR Email IN ('o\'brien@example.com') OR Id IN ('003000000000001AAA')"
        );
        assert_eq!(matching(&[IdentityKey::vendor("hubspot", "1")]), None);
    }

    #[test]
    fn a_round_of_phones_is_one_query_and_long_keys_are_split() {
        let phones: Vec<IdentityKey> = (0..200).map(|n| IdentityKey::phone(format!("+9198{n:08}"))).collect();
        assert_eq!(query_sized(&phones).len(), 1);
        let more: Vec<IdentityKey> = (0..450).map(|n| IdentityKey::phone(format!("+9198{n:08}"))).collect();
        assert_eq!(query_sized(&more).iter().map(|r| r.len()).collect::<Vec<_>>(), [200, 200, 50]);
        let long: Vec<IdentityKey> =
            (0..200).map(|n| IdentityKey::email(format!("{}{n}@example.com", "a".repeat(120)))).collect();
        let runs = query_sized(&long);
        assert!(runs.len() > 1 && runs.iter().map(|r| r.len()).sum::<usize>() == 200, "{}", runs.len());
        assert!(query_sized(&[]).is_empty());
    }

    #[test]
    fn a_contact_without_a_name_is_named_by_its_key() {
        let record = contact_record(&NewContact { phone: Some("+15550100".into()), ..NewContact::default() });
        assert_eq!(record["LastName"], "+15550100");
        let record = contact_record(&NewContact { name: Some("Ana Maria Souza".into()), ..NewContact::default() });
        assert_eq!((record["FirstName"].as_str(), record["LastName"].as_str()), (Some("Ana Maria"), Some("Souza")));
    }
}

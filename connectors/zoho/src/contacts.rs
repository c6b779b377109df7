//! Contacts: found by phone and email through the Query API (two hundred phones and two hundred emails a call),
//! created a hundred a call, and the change feed for the identity cache.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use handoffd_contract::crm::{ContactPage, CrmContact, CrmError, NewContact};
use handoffd_contract::identity::IdentityKey;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::{Api, Call};
use crate::coql;
use crate::wire::{Records, lookup_id, text};

const MODULE_PATH: &str = "/crm/v8/Contacts";
const COQL_PATH: &str = "/crm/v8/coql";
const FIELDS: &str = "First_Name,Last_Name,Full_Name,Phone,Mobile,Email,Owner,Modified_Time";
/// Records per page of a read (Zoho's maximum).
const PAGE_SIZE: u32 = 200;

pub async fn find(api: &Api, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
    let mut phones = Vec::new();
    let mut emails = Vec::new();
    let mut ids = Vec::new();
    for key in keys {
        let (list, value) = match key {
            IdentityKey::Phone { value } => (&mut phones, value.trim().to_owned()),
            IdentityKey::Email { value } => (&mut emails, value.trim().to_owned()),
            IdentityKey::Vendor { system, id } if system == "zoho" => (&mut ids, id.clone()),
            IdentityKey::Vendor { .. } => continue,
        };
        if !list.contains(&value) {
            list.push(value);
        }
    }
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    // A query per two hundred phones and two hundred emails (a delivery round's customers): each field's values
    // in `in` lists of a hundred, six criteria of COQL's 25. Zoho keeps phones as typed, in two fields.
    let rounds = phones.len().max(emails.len()).div_ceil(coql::KEYS_PER_QUERY);
    for round in 0..rounds {
        let chunk = |list: &[String]| -> Vec<String> {
            list.iter().skip(round * coql::KEYS_PER_QUERY).take(coql::KEYS_PER_QUERY).cloned().collect()
        };
        let (phones, emails) = (chunk(&phones), chunk(&emails));
        let mut criteria = Vec::new();
        for part in phones.chunks(coql::MAX_IN_VALUES) {
            criteria.push(coql::is_in("Phone", part));
            criteria.push(coql::is_in("Mobile", part));
        }
        for part in emails.chunks(coql::MAX_IN_VALUES) {
            criteria.push(coql::is_in("Email", part));
        }
        let Some(criteria) = coql::any_of(criteria) else { continue };
        let mut offset = 0;
        loop {
            let query = coql::select(FIELDS, "Contacts", &criteria, offset);
            let call =
                Call::write(Method::POST, COQL_PATH, &json!({ "select_query": query }), "query contacts")?.read_only();
            let Some(records) = api.read::<Records>(&call).await? else { break };
            collect(&records, &mut seen, &mut found);
            if !records.info.as_ref().is_some_and(|info| info.more_records) {
                break;
            }
            offset += coql::PAGE_SIZE;
        }
    }
    for chunk in ids.chunks(PAGE_SIZE as usize) {
        let call = Call::get(MODULE_PATH, "read contacts").query("ids", chunk.join(",")).query("fields", FIELDS);
        if let Some(records) = api.read::<Records>(&call).await? {
            collect(&records, &mut seen, &mut found);
        }
    }
    Ok(found)
}

fn collect(records: &Records, seen: &mut HashSet<String>, found: &mut Vec<CrmContact>) {
    for record in &records.data {
        if let Some(contact) = to_contact(record)
            && seen.insert(contact.id.clone())
        {
            found.push(contact);
        }
    }
}

pub fn to_contact(record: &Map<String, Value>) -> Option<CrmContact> {
    let id = text(record, "id")?.to_owned();
    let name = text(record, "Full_Name").map(str::to_owned).or_else(|| {
        let parts: Vec<&str> = [text(record, "First_Name"), text(record, "Last_Name")].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Some(CrmContact {
        id,
        name,
        phones: ["Phone", "Mobile"].iter().filter_map(|f| text(record, f)).map(str::to_owned).collect(),
        emails: text(record, "Email").map(str::to_owned).into_iter().collect(),
        owner_id: lookup_id(record, "Owner").map(str::to_owned),
        updated_at: text(record, "Modified_Time")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc()),
        merged_into: None,
    })
}

/// The record Zoho is sent for a new contact. `Last_Name` is mandatory: a contact known only by a phone or an
/// email is named by it.
fn record_of(contact: &NewContact) -> Map<String, Value> {
    let mut record = Map::new();
    let name = contact.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let (first, last) = match name.and_then(|n| n.split_once(' ')) {
        Some((first, last)) => (Some(first), last.trim().to_owned()),
        None => (None, name.or(contact.phone.as_deref()).or(contact.email.as_deref()).unwrap_or("Unknown").to_owned()),
    };
    if let Some(first) = first {
        record.insert("First_Name".into(), json!(first));
    }
    record.insert("Last_Name".into(), json!(last));
    if let Some(phone) = &contact.phone {
        record.insert("Phone".into(), json!(phone));
    }
    if let Some(email) = &contact.email {
        record.insert("Email".into(), json!(email));
    }
    if let Some(source) = &contact.source {
        // Lead_Source is a picklist whose values each organisation edits: the source goes where any text fits.
        record.insert("Description".into(), json!(format!("First contact through {source} (handoffd).")));
    }
    record
}

/// Creates contacts `max_batch` a call; one result per input, in input order. A call refused as a whole fails
/// its inputs and, without sending them, every later input: the budget is better spent after a backoff.
pub async fn create_many(api: &Api, max_batch: usize, contacts: &[NewContact]) -> Vec<Result<CrmContact, CrmError>> {
    let mut results = Vec::with_capacity(contacts.len());
    for chunk in contacts.chunks(max_batch.max(1)) {
        match create_chunk(api, chunk).await {
            Ok(created) => results.extend(created),
            Err(error) => {
                results.resize_with(contacts.len(), || Err(error.clone()));
                break;
            }
        }
    }
    results
}

async fn create_chunk(api: &Api, chunk: &[NewContact]) -> Result<Vec<Result<CrmContact, CrmError>>, CrmError> {
    let records: Vec<Map<String, Value>> = chunk.iter().map(record_of).collect();
    let call = Call::write(Method::POST, MODULE_PATH, &json!({ "data": records }), "create contacts")?;
    let answer = api.write(&call, chunk.len()).await?;
    Ok(chunk
        .iter()
        .zip(&records)
        .zip(&answer.data)
        .map(|((input, sent), result)| match result.written_id() {
            Some(id) => Ok(CrmContact {
                id: id.to_owned(),
                name: input.name.clone(),
                phones: input.phone.iter().cloned().collect(),
                emails: input.email.iter().cloned().collect(),
                owner_id: result
                    .details
                    .get("Created_By")
                    .and_then(|u| u.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                updated_at: Some(Utc::now()),
                merged_into: None,
            }),
            None if result.is_transient() => Err(CrmError::Unavailable(result.refusal(sent))),
            None => Err(CrmError::Rejected { status: 400, message: result.refusal(sent) }),
        })
        .collect())
}

/// Contacts modified since `cursor` (an RFC 3339 time), oldest first, a page at a time.
pub async fn changed_since(api: &Api, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
    let mut call = Call::get(MODULE_PATH, "list changed contacts")
        .query("fields", FIELDS)
        .query("sort_by", "Modified_Time")
        .query("sort_order", "asc")
        .query("per_page", PAGE_SIZE.to_string());
    if let Some(since) = cursor {
        let since = DateTime::parse_from_rfc3339(since)
            .map_err(|e| CrmError::Protocol(format!("the contact sync cursor `{since}` is not a time: {e}")))?;
        call = call.header("If-Modified-Since", since.to_rfc3339());
    }
    let Some(records) = api.read::<Records>(&call).await? else {
        return Ok(ContactPage::default());
    };
    let contacts: Vec<CrmContact> = records.data.iter().filter_map(to_contact).collect();
    let more = records.info.as_ref().is_some_and(|info| info.more_records);
    let last = records.data.iter().rev().find_map(|r| text(r, "Modified_Time")).map(str::to_owned);
    Ok(ContactPage { contacts, next_cursor: if more { last } else { None } })
}

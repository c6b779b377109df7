//! Persons (Pipedrive's contacts): found by phone or email with the persons search (one term a call: Pipedrive has
//! no search by several values, so the searches go out together and the limiter paces them), created one a call,
//! and the change feed for the identity cache.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use handoffd_contract::crm::{ContactPage, CrmContact, CrmError, NewContact};
use handoffd_contract::identity::IdentityKey;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Api, Call, Cost};

#[derive(Debug, Deserialize)]
struct SearchData {
    #[serde(default)]
    items: Vec<SearchItem>,
}

#[derive(Debug, Deserialize)]
struct SearchItem {
    item: SearchPerson,
}

#[derive(Debug, Deserialize)]
struct SearchPerson {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phones: Vec<String>,
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    owner: Option<IdObject>,
}

#[derive(Debug, Deserialize)]
struct IdObject {
    id: u64,
}

/// A person as `POST /v1/persons` and the collection answer it.
#[derive(Debug, Deserialize)]
struct Person {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone: Vec<Labelled>,
    #[serde(default)]
    email: Vec<Labelled>,
    /// An object (`{"id": ...}`) in most answers, a bare id in the collection's.
    #[serde(default)]
    owner_id: Option<Value>,
    #[serde(default)]
    update_time: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Labelled {
    #[serde(default)]
    value: String,
}

pub async fn find(api: &Api, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
    let mut terms: Vec<(&'static str, String)> = Vec::new();
    for key in keys {
        let term = match key {
            IdentityKey::Phone { value } => ("phone", value.trim().to_owned()),
            IdentityKey::Email { value } => ("email", value.trim().to_owned()),
            _ => continue,
        };
        if !terms.contains(&term) {
            terms.push(term);
        }
    }
    let searches = terms.iter().map(|(field, term)| search(api, field, term));
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for answer in futures::future::join_all(searches).await {
        for contact in answer? {
            if seen.insert(contact.id.clone()) {
                found.push(contact);
            }
        }
    }
    Ok(found)
}

async fn search(api: &Api, field: &'static str, term: &str) -> Result<Vec<CrmContact>, CrmError> {
    let call = Call::get("/v1/persons/search", Cost::Search, "search persons")
        .query("term", term)
        .query("fields", field)
        .query("exact_match", "true")
        .query("limit", "100");
    let answer = api.json::<SearchData>(&call).await?;
    Ok(answer
        .data
        .map(|data| data.items)
        .unwrap_or_default()
        .into_iter()
        .map(|SearchItem { item }| CrmContact {
            id: item.id.to_string(),
            name: item.name,
            phones: item.phones,
            emails: item.emails,
            owner_id: item.owner.map(|o| o.id.to_string()),
            updated_at: None,
            merged_into: None,
        })
        .collect())
}

fn to_contact(person: Person) -> CrmContact {
    let owner_id = match &person.owner_id {
        Some(Value::Object(owner)) => owner.get("id").map(|id| id.to_string()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    CrmContact {
        id: person.id.to_string(),
        name: person.name,
        phones: person.phone.into_iter().map(|p| p.value).filter(|v| !v.is_empty()).collect(),
        emails: person.email.into_iter().map(|e| e.value).filter(|v| !v.is_empty()).collect(),
        owner_id,
        updated_at: person.update_time.as_deref().and_then(pipedrive_time),
        merged_into: None,
    }
}

/// Pipedrive's UTC times: `2026-03-07 10:00:00`.
fn pipedrive_time(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc())
}

pub async fn create(api: &Api, contact: &NewContact) -> Result<CrmContact, CrmError> {
    // A name is required: a person known only by a phone or an email is named by it.
    let name = contact
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .or(contact.phone.as_deref())
        .or(contact.email.as_deref())
        .unwrap_or("Unknown");
    let mut body = json!({ "name": name });
    if let Some(phone) = &contact.phone {
        body["phone"] = json!([{ "value": phone, "primary": true, "label": "mobile" }]);
    }
    if let Some(email) = &contact.email {
        body["email"] = json!([{ "value": email, "primary": true, "label": "work" }]);
    }
    let call = Call::write(Method::POST, "/v1/persons", &body, "create a person")?;
    let answer = api.json::<Person>(&call).await?;
    answer.data.map(to_contact).ok_or_else(|| CrmError::Protocol("create a person: no person in the answer".into()))
}

/// Persons changed since `cursor`, a page at a time: the cursor is Pipedrive's own (`next_cursor`), or, to start,
/// an RFC 3339 time.
pub async fn changed_since(api: &Api, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
    let mut call = Call::get("/v1/persons/collection", Cost::List, "list changed persons").query("limit", "500");
    match cursor {
        Some(time) if DateTime::parse_from_rfc3339(time).is_ok() => {
            let since = DateTime::parse_from_rfc3339(time).map(|t| t.to_utc()).unwrap_or_default();
            call = call.query("since", since.format("%Y-%m-%d %H:%M:%S").to_string());
        }
        Some(opaque) => call = call.query("cursor", opaque),
        None => {}
    }
    let answer = api.json::<Vec<Person>>(&call).await?;
    let contacts = answer.data.unwrap_or_default().into_iter().map(to_contact).collect();
    let next_cursor = answer
        .additional_data
        .as_ref()
        .and_then(|extra| extra.get("next_cursor"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(ContactPage { contacts, next_cursor })
}

//! `POST /crm/v3/objects/contacts`: creates a contact; 409 for an email another contact has. HubSpot allows two
//! contacts with one phone, so the mock does too, and counts them as duplicates in the report.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::error::{error, parse_body, scalar_to_string, validation_error};
use crate::mockcrm::state::{CrmObject, ObjectKind, Shared};

const PHONE_PROPERTIES: [&str; 2] = ["phone", "mobilephone"];

#[derive(Debug, Deserialize)]
struct CreateContact {
    properties: BTreeMap<String, Value>,
    /// Accepted for shape; contact associations are not modelled.
    #[serde(default)]
    #[allow(dead_code)]
    associations: Vec<Value>,
}

pub(super) async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let input: CreateContact = match parse_body(&body) {
        Ok(input) => input,
        Err(invalid) => return invalid.into_response(),
    };
    let properties: BTreeMap<String, String> =
        input.properties.iter().filter_map(|(name, value)| Some((name.clone(), scalar_to_string(value)?))).collect();

    let mut state = shared.lock();
    if let Some(owner) = properties.get("hubspot_owner_id").filter(|owner| !owner.is_empty())
        && !state.is_owner(owner)
    {
        return validation_error(format!(
            "Property values were not valid: [{{\"isValid\":false,\"message\":\"{owner} is not a valid owner id\",\
             \"error\":\"INVALID_OWNER_ID\",\"name\":\"hubspot_owner_id\"}}]"
        ));
    }
    if let Some(email) = properties.get("email").filter(|email| !email.is_empty()) {
        let existing = state
            .contacts
            .values()
            .find(|contact| contact.property("email").is_some_and(|known| known.eq_ignore_ascii_case(email)));
        if let Some(existing) = existing {
            return error(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!("Contact already exists. Existing ID: {}", existing.id),
            );
        }
    }
    let phones: Vec<&String> =
        PHONE_PROPERTIES.iter().filter_map(|name| properties.get(*name)).filter(|phone| !phone.is_empty()).collect();
    let shares_a_phone = state.contacts.values().any(|contact| {
        PHONE_PROPERTIES
            .iter()
            .filter_map(|name| contact.property(name))
            .any(|known| phones.iter().any(|p| *p == known))
    });
    if shares_a_phone {
        state.counters.duplicate_contacts += 1;
    }

    let id = state.next_id(ObjectKind::Contacts);
    let contact = CrmObject::new(id, ObjectKind::Contacts, properties, Utc::now());
    let answer = contact.to_json(ObjectKind::Contacts, None);
    state.contacts.insert(id, contact);
    state.counters.contacts_created += 1;
    (StatusCode::CREATED, Json(answer)).into_response()
}

//! `POST /crm/v3/objects/contacts` and `/crm/v3/objects/contacts/batch/create`: create contacts; 409 for an email
//! another contact has (a batch is refused as a whole, nothing created). HubSpot allows two contacts with one phone,
//! so the mock does too, and counts them as duplicates in the report.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rand::seq::SliceRandom;
use serde::Deserialize;
use serde_json::Value;

use super::error::{error, parse_body, scalar_to_string, validation_error};
use super::tasks::{batch_answer, check_size};
use crate::state::{CrmObject, MockState, ObjectKind, Shared};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateContact {
    properties: BTreeMap<String, Value>,
    /// Accepted for shape; contact associations are not modelled.
    #[serde(default)]
    #[allow(dead_code)]
    associations: Vec<Value>,
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Batch {
    inputs: Vec<CreateContact>,
}

pub(super) async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let input: CreateContact = match parse_body(&body) {
        Ok(input) => input,
        Err(invalid) => return invalid.into_response(),
    };
    let mut state = shared.lock();
    let properties = match check(&state, &input, &mut HashSet::new()) {
        Ok(properties) => properties,
        Err(refusal) => return *refusal,
    };
    let answer = insert(&mut state, properties, None);
    (StatusCode::CREATED, Json(answer)).into_response()
}

pub(super) async fn batch_create(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let batch: Batch = match parse_body(&body) {
        Ok(batch) => batch,
        Err(invalid) => return invalid.into_response(),
    };
    if let Err(invalid) = check_size(batch.inputs.len()) {
        return invalid.into_response();
    }
    let started = Utc::now();
    let mut state = shared.lock();
    let mut emails = HashSet::new();
    let mut accepted = Vec::with_capacity(batch.inputs.len());
    for input in &batch.inputs {
        match check(&state, input, &mut emails) {
            Ok(properties) => accepted.push((properties, input.object_write_trace_id.clone())),
            // One refused input refuses the batch: nothing was created.
            Err(refusal) => return *refusal,
        }
    }
    let mut results: Vec<Value> =
        accepted.into_iter().map(|(properties, trace)| insert(&mut state, properties, trace)).collect();
    results.shuffle(&mut state.shuffle);
    batch_answer(StatusCode::CREATED, results, &[], started)
}

/// The input's properties as strings, or HubSpot's refusal: an unknown owner (400) or an email another contact (or
/// an earlier input of the batch, `emails`) has (409).
fn check(
    state: &MockState,
    input: &CreateContact,
    emails: &mut HashSet<String>,
) -> Result<BTreeMap<String, String>, Box<Response>> {
    let properties: BTreeMap<String, String> =
        input.properties.iter().filter_map(|(name, value)| Some((name.clone(), scalar_to_string(value)?))).collect();
    if let Some(owner) = properties.get("hubspot_owner_id").filter(|owner| !owner.is_empty())
        && !state.is_owner(owner)
    {
        return Err(Box::new(validation_error(format!(
            "Property values were not valid: [{{\"isValid\":false,\"message\":\"{owner} is not a valid owner id\",\
             \"error\":\"INVALID_OWNER_ID\",\"name\":\"hubspot_owner_id\"}}]"
        ))));
    }
    // A custom property must exist before a contact may carry it, as on HubSpot (only ours, `handoffd_*`, are
    // checked: the mock does not list every property HubSpot defines for contacts).
    if let Some(unknown) = properties.keys().find(|name| {
        name.starts_with("handoffd_") && !state.custom_properties.contains_key(&(ObjectKind::Contacts, (*name).clone()))
    }) {
        return Err(Box::new(validation_error(format!(
            "Property values were not valid: [{{\"isValid\":false,\"message\":\"Property \\\"{unknown}\\\" does not \
             exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"{unknown}\"}}]"
        ))));
    }
    if let Some(email) = properties.get("email").filter(|email| !email.is_empty()) {
        if let Some(existing) = state.contact_with_email(email) {
            return Err(Box::new(error(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!("Contact already exists. Existing ID: {existing}"),
            )));
        }
        if !emails.insert(email.to_lowercase()) {
            return Err(Box::new(validation_error(format!("Duplicate email in batch input: {email}"))));
        }
    }
    Ok(properties)
}

/// Creates the contact and answers with it, counting a shared phone as a duplicate.
fn insert(state: &mut MockState, properties: BTreeMap<String, String>, trace: Option<String>) -> Value {
    let id = state.next_id(ObjectKind::Contacts);
    let mut contact = CrmObject::new(id, ObjectKind::Contacts, properties, Utc::now());
    contact.object_write_trace_id = trace;
    let answer = contact.to_json(ObjectKind::Contacts, None);
    if state.insert_contact(contact) {
        state.counters.duplicate_contacts += 1;
    }
    state.counters.contacts_created += 1;
    answer
}

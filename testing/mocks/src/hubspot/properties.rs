//! `GET /crm/v3/properties/{objectType}/{name}` (200 or 404) and `POST /crm/v3/properties/{objectType}` (201, or
//! 409 when the name is taken). Custom task properties must exist before a task may carry them, as on HubSpot.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::error::{error, parse_body, validation_error};
use crate::state::{MockState, ObjectKind, Shared, iso};

const BUILT_IN_TASK_PROPERTIES: [(&str, &str, &str); 7] = [
    ("hs_task_subject", "string", "text"),
    ("hs_task_body", "string", "textarea"),
    ("hs_timestamp", "datetime", "date"),
    ("hubspot_owner_id", "enumeration", "select"),
    ("hs_task_priority", "enumeration", "select"),
    ("hs_task_status", "enumeration", "select"),
    ("hs_task_type", "enumeration", "select"),
];

const BUILT_IN_CONTACT_PROPERTIES: [(&str, &str, &str); 7] = [
    ("firstname", "string", "text"),
    ("lastname", "string", "text"),
    ("email", "string", "text"),
    ("phone", "string", "phonenumber"),
    ("mobilephone", "string", "phonenumber"),
    ("hubspot_owner_id", "enumeration", "select"),
    ("lastmodifieddate", "datetime", "date"),
];

/// The definition of `handoffd_handoff_id`, as the connector creates it.
pub(crate) fn handoff_property() -> Map<String, Value> {
    let definition = json!({
        "name": "handoffd_handoff_id",
        "label": "handoffd handoff id",
        "type": "string",
        "fieldType": "text",
        "groupName": "taskinformation",
    });
    definition.as_object().cloned().unwrap_or_default()
}

/// A stored property definition in HubSpot's `Property` shape, from what the client sent.
pub(crate) fn definition(input: &Map<String, Value>) -> Value {
    let now = iso(Utc::now());
    let mut property = json!({
        "description": "",
        "options": [],
        "displayOrder": -1,
        "hasUniqueValue": false,
        "hidden": false,
        "formField": false,
        "calculated": false,
        "externalOptions": false,
        "archived": false,
        "createdAt": now,
        "updatedAt": now,
        "modificationMetadata": {"archivable": true, "readOnlyDefinition": false, "readOnlyValue": false},
    });
    for (key, value) in input {
        property[key] = value.clone();
    }
    property
}

/// Whether a task may carry `name`: HubSpot's own (`hs_*`, `hubspot_owner_id`) or a created custom property.
pub(crate) fn is_known_task_property(state: &MockState, name: &str) -> bool {
    name.starts_with("hs_")
        || name == "hubspot_owner_id"
        || state.custom_properties.contains_key(&(ObjectKind::Tasks, name.to_owned()))
}

pub(super) async fn read(
    State(shared): State<Arc<Shared>>,
    Path((object_type, name)): Path<(String, String)>,
) -> Response {
    let Some(kind) = ObjectKind::from_path(&object_type) else {
        return unknown_object_type(&object_type);
    };
    let state = shared.lock();
    if let Some(custom) = state.custom_properties.get(&(kind, name.clone())) {
        return Json(custom.clone()).into_response();
    }
    let built_in = match kind {
        ObjectKind::Tasks => &BUILT_IN_TASK_PROPERTIES,
        ObjectKind::Contacts => &BUILT_IN_CONTACT_PROPERTIES,
    };
    match built_in.iter().find(|(known, _, _)| *known == name) {
        Some((name, kind_of_value, field_type)) => {
            let input = json!({"name": name, "label": name, "type": kind_of_value, "fieldType": field_type,
                "groupName": "hubspot_defined"});
            let mut property = definition(input.as_object().unwrap_or(&Map::new()));
            property["modificationMetadata"]["readOnlyDefinition"] = Value::Bool(true);
            Json(property).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            format!("Unable to find property with name {name} for object type {}", kind.upper_name()),
        ),
    }
}

pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Response {
    let Some(kind) = ObjectKind::from_path(&object_type) else {
        return unknown_object_type(&object_type);
    };
    let input: Map<String, Value> = match parse_body(&body) {
        Ok(input) => input,
        Err(invalid) => return invalid.into_response(),
    };
    let missing: Vec<&str> = ["name", "label", "type", "fieldType", "groupName"]
        .into_iter()
        .filter(|key| !input.get(*key).is_some_and(Value::is_string))
        .collect();
    if !missing.is_empty() {
        return validation_error(format!("Missing required fields for a property: {}", missing.join(", ")));
    }
    let name = input.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return validation_error(format!(
            "Property name {name:?} is invalid: use lowercase letters, digits and underscores, starting with a letter"
        ));
    }
    let mut state = shared.lock();
    let key = (kind, name.clone());
    if state.custom_properties.contains_key(&key) || name.starts_with("hs_") {
        return error(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            format!("Property named '{name}' already exists."),
        );
    }
    let property = definition(&input);
    state.custom_properties.insert(key, property.clone());
    (StatusCode::CREATED, Json(property)).into_response()
}

fn unknown_object_type(object_type: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        format!("Unable to infer object type from: {object_type} (the mock serves contacts and tasks)"),
    )
}

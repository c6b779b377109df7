//! Task batches: `POST /crm/v3/objects/tasks/batch/{create,update,read}` (and contacts' batch read).
//!
//! At most 100 inputs. Results come back SHUFFLED (HubSpot does not promise input order). An invalid input is
//! answered per input (207 with `errors[]`, each carrying the input's `objectWriteTraceId` in `context` when
//! the client sent one) or fails the whole batch (400), as [`BatchErrorMode`] says.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{InvalidInput, correlation_id, parse_body, scalar_to_string, validation_error};
use super::properties::is_known_task_property;
use super::search::as_millis;
use crate::BatchErrorMode;
use crate::state::{Association, CrmObject, MockState, ObjectKind, Shared, iso};

const MAX_INPUTS: usize = 100;
const PRIORITIES: [&str; 4] = ["LOW", "MEDIUM", "HIGH", "NONE"];
const STATUSES: [&str; 5] = ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"];
const TYPES: [&str; 7] = ["CALL", "EMAIL", "TODO", "MEETING", "LINKED_IN", "LINKED_IN_CONNECT", "LINKED_IN_MESSAGE"];

#[derive(Debug, Deserialize)]
struct Batch<T> {
    inputs: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    #[serde(default)]
    properties: BTreeMap<String, Value>,
    #[serde(default)]
    associations: Vec<AssociationInput>,
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AssociationInput {
    to: AssociationTarget,
    #[serde(default)]
    types: Vec<AssociationType>,
}

#[derive(Debug, Deserialize)]
struct AssociationTarget {
    id: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationType {
    association_category: String,
    association_type_id: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    id: Value,
    #[serde(default)]
    properties: BTreeMap<String, Value>,
    #[serde(default)]
    id_property: Option<String>,
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadRequest {
    inputs: Vec<ReadInput>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    id_property: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReadInput {
    id: Value,
}

/// One input's error, in HubSpot's `StandardError` shape.
#[derive(Debug)]
pub(super) struct InputError {
    category: &'static str,
    message: String,
    context: BTreeMap<String, Vec<String>>,
}

impl InputError {
    fn to_json(&self) -> Value {
        json!({
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context,
            "errors": [],
            "links": {},
        })
    }

    /// The same error as a whole-request 400.
    fn into_response(self) -> Response {
        let body = json!({
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
            "category": self.category,
            "context": self.context,
        });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

/// One invalid property value, in the form HubSpot lists them inside its message.
#[derive(Debug)]
struct PropertyProblem {
    name: String,
    code: &'static str,
    message: String,
}

fn property_error(problems: &[PropertyProblem], trace: Option<&String>) -> InputError {
    let listed: Vec<Value> = problems
        .iter()
        .map(|p| json!({"isValid": false, "message": p.message, "error": p.code, "name": p.name}))
        .collect();
    let mut context =
        BTreeMap::from([("propertyName".to_owned(), problems.iter().map(|p| p.name.clone()).collect::<Vec<_>>())]);
    if let Some(trace) = trace {
        context.insert("objectWriteTraceId".to_owned(), vec![trace.clone()]);
    }
    InputError {
        category: "VALIDATION_ERROR",
        message: format!("Property values were not valid: {}", Value::Array(listed)),
        context,
    }
}

fn strings(properties: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    properties.iter().map(|(name, value)| (name.clone(), scalar_to_string(value).unwrap_or_default())).collect()
}

/// Checks task properties and writes `hs_timestamp` the way HubSpot returns it (ISO, milliseconds, `Z`).
fn check_task_properties(
    state: &MockState,
    properties: &mut BTreeMap<String, String>,
    creating: bool,
) -> Vec<PropertyProblem> {
    let mut problems = Vec::new();
    let mut problem = |name: &str, code, message: String| {
        problems.push(PropertyProblem { name: name.to_owned(), code, message });
    };
    for name in properties.keys() {
        if !is_known_task_property(state, name) {
            problem(name, "PROPERTY_DOESNT_EXIST", format!("Property \"{name}\" does not exist"));
        }
    }
    match properties.get("hs_timestamp").filter(|value| !value.is_empty()) {
        None if creating => problem("hs_timestamp", "REQUIRED_FIELD", "hs_timestamp is required".to_owned()),
        None => {}
        Some(value) => match as_millis(value).and_then(DateTime::<Utc>::from_timestamp_millis) {
            Some(at) => {
                properties.insert("hs_timestamp".to_owned(), iso(at));
            }
            None => problem("hs_timestamp", "INVALID_DATE", format!("{value} is not a valid date")),
        },
    }
    for (name, allowed) in
        [("hs_task_priority", &PRIORITIES[..]), ("hs_task_status", &STATUSES), ("hs_task_type", &TYPES)]
    {
        if let Some(value) =
            properties.get(name).filter(|value| !value.is_empty() && !allowed.contains(&value.as_str()))
        {
            problem(
                name,
                "INVALID_OPTION",
                format!("{value} was not one of the allowed options: [{}]", allowed.join(", ")),
            );
        }
    }
    if let Some(owner) = properties.get("hubspot_owner_id").filter(|owner| !owner.is_empty())
        && !state.is_owner(owner)
    {
        problem("hubspot_owner_id", "INVALID_OWNER_ID", format!("{owner} is not a valid owner id"));
    }
    problems
}

fn check_associations(
    state: &MockState,
    inputs: &[AssociationInput],
    trace: Option<&String>,
) -> Result<Vec<Association>, InputError> {
    let mut associations = Vec::new();
    for input in inputs {
        let to_id = scalar_to_string(&input.to.id).unwrap_or_default();
        let problem = if input.types.is_empty() {
            Some(format!("The association to {to_id} names no association type"))
        } else if state.find(ObjectKind::Contacts, &to_id, None).is_none() {
            Some(format!("No contact with id {to_id} exists to associate with"))
        } else {
            None
        };
        if let Some(message) = problem {
            let mut context = BTreeMap::from([("toObjectId".to_owned(), vec![to_id])]);
            if let Some(trace) = trace {
                context.insert("objectWriteTraceId".to_owned(), vec![trace.clone()]);
            }
            return Err(InputError { category: "VALIDATION_ERROR", message, context });
        }
        for kind in &input.types {
            associations.push(Association {
                to_id: to_id.clone(),
                category: kind.association_category.clone(),
                type_id: kind.association_type_id,
            });
        }
    }
    Ok(associations)
}

pub(super) fn check_size(count: usize) -> Result<(), InvalidInput> {
    if count == 0 {
        return Err(InvalidInput("inputs must contain at least one input".to_owned()));
    }
    if count > MAX_INPUTS {
        return Err(InvalidInput(format!("Too many inputs: {count} (the maximum batch size is {MAX_INPUTS})")));
    }
    Ok(())
}

/// HubSpot's batch answer: 200/201 when all went well, 207 with `errors[]` otherwise.
pub(super) fn batch_answer(
    ok: StatusCode,
    results: Vec<Value>,
    errors: &[InputError],
    started: DateTime<Utc>,
) -> Response {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(Utc::now()),
    });
    if errors.is_empty() {
        return (ok, Json(body)).into_response();
    }
    body["numErrors"] = json!(errors.len());
    body["errors"] = Value::Array(errors.iter().map(InputError::to_json).collect());
    (StatusCode::MULTI_STATUS, Json(body)).into_response()
}

pub(super) async fn batch_create(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let batch: Batch<CreateInput> = match parse_body(&body) {
        Ok(batch) => batch,
        Err(invalid) => return invalid.into_response(),
    };
    if let Err(response) = check_size(batch.inputs.len()) {
        return response.into_response();
    }
    let started = Utc::now();
    let mut state = shared.lock();
    let mut accepted = Vec::new();
    let mut errors = Vec::new();
    for input in &batch.inputs {
        let trace = input.object_write_trace_id.as_ref();
        let mut properties = strings(&input.properties);
        let problems = check_task_properties(&state, &mut properties, true);
        if !problems.is_empty() {
            errors.push(property_error(&problems, trace));
            continue;
        }
        match check_associations(&state, &input.associations, trace) {
            Ok(associations) => accepted.push((properties, associations, input.object_write_trace_id.clone())),
            Err(error) => errors.push(error),
        }
    }
    if shared.batch_errors == BatchErrorMode::WholeBatch && !errors.is_empty() {
        return errors.swap_remove(0).into_response();
    }

    let now = Utc::now();
    let mut results = Vec::with_capacity(accepted.len());
    for (properties, associations, trace) in accepted {
        let id = state.next_id(ObjectKind::Tasks);
        let mut task = CrmObject::new(id, ObjectKind::Tasks, properties, now);
        task.associations = associations;
        task.object_write_trace_id = trace;
        results.push(task.to_json(ObjectKind::Tasks, None));
        if state.insert_task(task) {
            state.counters.duplicate_tasks += 1;
        }
        state.counters.tasks_created += 1;
    }
    results.shuffle(&mut state.shuffle);
    batch_answer(StatusCode::CREATED, results, &errors, started)
}

pub(super) async fn batch_update(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let batch: Batch<UpdateInput> = match parse_body(&body) {
        Ok(batch) => batch,
        Err(invalid) => return invalid.into_response(),
    };
    if let Err(response) = check_size(batch.inputs.len()) {
        return response.into_response();
    }
    let ids: Vec<String> = batch.inputs.iter().map(|input| scalar_to_string(&input.id).unwrap_or_default()).collect();
    if ids.iter().collect::<BTreeSet<_>>().len() != ids.len() {
        return validation_error("Duplicate IDs found in batch input");
    }
    let started = Utc::now();
    let mut state = shared.lock();
    let mut accepted = Vec::new();
    let mut errors = Vec::new();
    for (input, id) in batch.inputs.iter().zip(&ids) {
        let trace = input.object_write_trace_id.as_ref();
        let Some(task_id) = state.find(ObjectKind::Tasks, id, input.id_property.as_deref()).map(|task| task.id) else {
            errors.push(not_found(ObjectKind::Tasks, vec![id.clone()]));
            continue;
        };
        let mut properties = strings(&input.properties);
        let problems = check_task_properties(&state, &mut properties, false);
        if problems.is_empty() {
            accepted.push((task_id, properties));
        } else {
            errors.push(property_error(&problems, trace));
        }
    }
    if shared.batch_errors == BatchErrorMode::WholeBatch && !errors.is_empty() {
        return errors.swap_remove(0).into_response();
    }

    let now = Utc::now();
    let mut results = Vec::with_capacity(accepted.len());
    for (task_id, properties) in accepted {
        let Some(task) = state.tasks.get_mut(&task_id) else { continue };
        task.properties.extend(properties);
        task.touch(ObjectKind::Tasks, now);
        results.push(task.to_json(ObjectKind::Tasks, None));
        state.counters.tasks_updated += 1;
    }
    results.shuffle(&mut state.shuffle);
    batch_answer(StatusCode::OK, results, &errors, started)
}

pub(super) async fn batch_read(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    read(&shared, ObjectKind::Tasks, &body)
}

pub(super) async fn batch_read_contacts(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    read(&shared, ObjectKind::Contacts, &body)
}

fn read(shared: &Shared, kind: ObjectKind, body: &[u8]) -> Response {
    let request: ReadRequest = match parse_body(body) {
        Ok(request) => request,
        Err(invalid) => return invalid.into_response(),
    };
    if let Err(response) = check_size(request.inputs.len()) {
        return response.into_response();
    }
    let started = Utc::now();
    let mut state = shared.lock();
    let mut seen = BTreeSet::new();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &request.inputs {
        let id = scalar_to_string(&input.id).unwrap_or_default();
        if !seen.insert(id.clone()) {
            continue;
        }
        match state.find(kind, &id, request.id_property.as_deref()) {
            Some(object) => results.push(object.to_json(kind, Some(&request.properties))),
            None => missing.push(id),
        }
    }
    results.shuffle(&mut state.shuffle);
    let errors = if missing.is_empty() { Vec::new() } else { vec![not_found(kind, missing)] };
    batch_answer(StatusCode::OK, results, &errors, started)
}

fn not_found(kind: ObjectKind, ids: Vec<String>) -> InputError {
    InputError {
        category: "OBJECT_NOT_FOUND",
        message: format!(
            "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
            kind.upper_name()
        ),
        context: BTreeMap::from([("ids".to_owned(), ids)]),
    }
}

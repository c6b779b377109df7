//! sObject Collections (`/composite/sobjects`): create (POST), update by id (PATCH), and upsert on an external id
//! field (PATCH `/composite/sobjects/{object}/{field}`), up to 200 records a call, one SaveResult per record in
//! input order; and `GET /sobjects/{object}/describe`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error;
use super::org::{Org, SObject, sf_datetime};
use super::soql::parse_datetime;
use crate::state::{MockState, Shared};

const MAX_RECORDS: usize = 200;
const TASK_STATUSES: [&str; 5] = ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"];
const PRIORITIES: [&str; 3] = ["High", "Normal", "Low"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Collection {
    #[serde(default)]
    all_or_none: bool,
    records: Vec<Map<String, Value>>,
}

/// Why one record was not saved.
struct SaveError {
    code: &'static str,
    message: String,
    fields: Vec<String>,
}

impl SaveError {
    fn new(code: &'static str, message: impl Into<String>, fields: &[&str]) -> Self {
        Self { code, message: message.into(), fields: fields.iter().map(|f| (*f).to_owned()).collect() }
    }

    fn to_json(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }
}

/// What a write will do to one record, decided before anything is applied.
enum Plan {
    Create { object: SObject, fields: Map<String, Value> },
    Update { object: SObject, id: String, fields: Map<String, Value> },
}

pub(super) async fn create(State(shared): State<Arc<Shared>>, Json(body): Json<Collection>) -> Response {
    collection(&shared, body, |org, record| {
        let object = record_type(record)?;
        if record.keys().any(|k| k.eq_ignore_ascii_case("id")) {
            return Err(SaveError::new("INVALID_FIELD", "Id is not allowed in a create call", &["Id"]));
        }
        let fields = checked_fields(org, object, record, true)?;
        if object == SObject::Task
            && let Some(existing) = external_id(org, &fields).and_then(|key| org.tasks_by_external_id.get(&key))
        {
            let field = org.options.external_id_field.clone().unwrap_or_default();
            return Err(SaveError::new(
                "DUPLICATE_VALUE",
                format!("duplicate value found: {field} duplicates value on record with id: {existing}"),
                &[field.as_str()],
            ));
        }
        Ok(Plan::Create { object, fields })
    })
}

pub(super) async fn update(State(shared): State<Arc<Shared>>, Json(body): Json<Collection>) -> Response {
    collection(&shared, body, |org, record| {
        let object = record_type(record)?;
        let id = record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("id"))
            .and_then(|(_, v)| v.as_str())
            .ok_or_else(|| SaveError::new("MISSING_ARGUMENT", "Id not specified in an update call", &[]))?
            .to_owned();
        if org.record(object, &id).is_none() {
            return Err(SaveError::new("ENTITY_IS_DELETED", "entity is deleted", &[]));
        }
        let fields = checked_fields(org, object, record, false)?;
        Ok(Plan::Update { object, id, fields })
    })
}

pub(super) async fn upsert(
    State(shared): State<Arc<Shared>>,
    Path((_version, object_name, field)): Path<(String, String, String)>,
    Json(body): Json<Collection>,
) -> Response {
    let known = SObject::from_name(&object_name) == Some(SObject::Task)
        && shared
            .lock()
            .salesforce
            .options
            .external_id_field
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case(&field));
    if !known {
        return error::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("Provided external ID field does not exist or is not accessible: {field}"),
        );
    }
    collection(&shared, body, |org, record| {
        let object = record_type(record)?;
        if object != SObject::Task {
            return Err(SaveError::new("INVALID_TYPE", "the records must be of the type in the path", &[]));
        }
        if record.keys().any(|k| k.eq_ignore_ascii_case("id")) {
            return Err(SaveError::new("INVALID_FIELD", "Id is not allowed in an upsert on an external id", &["Id"]));
        }
        let fields = checked_fields(org, object, record, true)?;
        let key = external_id(org, &fields)
            .ok_or_else(|| SaveError::new("MISSING_ARGUMENT", format!("{field} not specified"), &[field.as_str()]))?;
        Ok(match org.tasks_by_external_id.get(&key) {
            Some(id) => Plan::Update { object, id: id.clone(), fields },
            None => Plan::Create { object, fields },
        })
    })
}

/// Checks every record with `plan`, applies the valid ones (none if `allOrNone` and one is invalid), and answers
/// one SaveResult per record.
fn collection(
    shared: &Shared,
    body: Collection,
    plan: impl Fn(&Org, &Map<String, Value>) -> Result<Plan, SaveError>,
) -> Response {
    if body.records.len() > MAX_RECORDS {
        return error::error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            format!("record limit reached. cannot submit more than {MAX_RECORDS} records into this call"),
        );
    }
    let mut state = shared.lock();
    let plans: Vec<Result<Plan, SaveError>> = body.records.iter().map(|r| plan(&state.salesforce, r)).collect();
    let refused = plans.iter().any(Result::is_err);
    let mut results = Vec::with_capacity(plans.len());
    for planned in plans {
        let result = match planned {
            Err(e) => json!({"success": false, "errors": [e.to_json()]}),
            Ok(_) if body.all_or_none && refused => json!({"success": false, "errors": [
                {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": []}
            ]}),
            Ok(plan) => apply(&mut state, plan),
        };
        results.push(result);
    }
    Json(results).into_response()
}

fn apply(state: &mut MockState, plan: Plan) -> Value {
    let now = sf_datetime(Utc::now());
    match plan {
        Plan::Create { object, mut fields } => {
            let org = &mut state.salesforce;
            let id = org.new_id(object);
            fields.insert("Id".into(), json!(id));
            fields.insert("CreatedDate".into(), json!(now));
            fields.insert("LastModifiedDate".into(), json!(now));
            if !fields.contains_key("OwnerId")
                && let Some(user) = org.api_user()
            {
                fields.insert("OwnerId".into(), json!(user));
            }
            if object == SObject::Task {
                fields.entry("Status").or_insert(json!("Not Started"));
                fields.entry("Priority").or_insert(json!("Normal"));
                if let Some(key) = external_id(org, &fields) {
                    org.tasks_by_external_id.insert(key, id.clone());
                }
            }
            derive(object, &mut fields);
            org.records.entry(object).or_default().insert(id.clone(), fields);
            match object {
                SObject::Task => state.counters.tasks_created += 1,
                SObject::Contact | SObject::Lead => state.counters.contacts_created += 1,
                SObject::User => {}
            }
            json!({"id": id, "success": true, "errors": [], "created": true})
        }
        Plan::Update { object, id, fields } => {
            let Some(record) = state.salesforce.record_mut(object, &id) else {
                return json!({"success": false, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]});
            };
            for (name, value) in fields {
                record.insert(name, value);
            }
            record.insert("LastModifiedDate".into(), json!(now));
            derive(object, record);
            if object == SObject::Task {
                state.counters.tasks_updated += 1;
            }
            json!({"id": id, "success": true, "errors": [], "created": false})
        }
    }
}

/// Fields Salesforce computes: a person's `Name`, a task's `IsClosed`.
fn derive(object: SObject, fields: &mut Map<String, Value>) {
    match object {
        SObject::Task => {
            let closed = fields.get("Status").and_then(Value::as_str) == Some("Completed");
            fields.insert("IsClosed".into(), json!(closed));
        }
        SObject::Contact | SObject::Lead => {
            let part = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            let name = format!("{} {}", part("FirstName"), part("LastName")).trim().to_owned();
            fields.insert("Name".into(), json!(name));
        }
        SObject::User => {}
    }
}

fn record_type(record: &Map<String, Value>) -> Result<SObject, SaveError> {
    let name = record
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| SaveError::new("INVALID_INPUT", "each record needs an attributes map with its type", &[]))?;
    SObject::from_name(name)
        .filter(|o| *o != SObject::User)
        .ok_or_else(|| SaveError::new("INVALID_TYPE", format!("sObject type '{name}' is not supported"), &[]))
}

fn external_id(org: &Org, fields: &Map<String, Value>) -> Option<String> {
    let field = org.options.external_id_field.as_deref()?;
    fields.get(field).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// The record's fields under their canonical names, checked as Salesforce checks them.
fn checked_fields(
    org: &Org,
    object: SObject,
    record: &Map<String, Value>,
    creating: bool,
) -> Result<Map<String, Value>, SaveError> {
    let mut fields = Map::new();
    for (name, value) in record {
        if name == "attributes" || name.eq_ignore_ascii_case("id") {
            continue;
        }
        let canonical = org.canonical_field(object, name).ok_or_else(|| {
            SaveError::new(
                "INVALID_FIELD",
                format!("No such column '{name}' on sobject of type {}", object.name()),
                &[],
            )
        })?;
        if object.read_only().contains(&canonical.as_str()) {
            return Err(SaveError::new(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {canonical}. Please check the security settings of this field."
                ),
                &[canonical.as_str()],
            ));
        }
        fields.insert(canonical, value.clone());
    }
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    if let Some(owner) = text("OwnerId")
        && !org.is_active_user(owner)
    {
        let label = if object == SObject::Task { "Assigned To ID" } else { "Owner ID" };
        return Err(SaveError::new(
            "FIELD_INTEGRITY_EXCEPTION",
            format!("{label}: id value of incorrect type: {owner}"),
            &["OwnerId"],
        ));
    }
    match object {
        SObject::Task => {
            if let Some(who) = text("WhoId")
                && !org.is_person(who)
            {
                return Err(SaveError::new(
                    "FIELD_INTEGRITY_EXCEPTION",
                    format!("Name ID: id value of incorrect type: {who}"),
                    &["WhoId"],
                ));
            }
            if let Some(priority) = text("Priority").filter(|p| !PRIORITIES.contains(p)) {
                return Err(restricted("Priority", priority));
            }
            if let Some(status) = text("Status").filter(|s| !TASK_STATUSES.contains(s)) {
                return Err(restricted("Status", status));
            }
            if let Some(date) = text("ActivityDate")
                && NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err()
            {
                return Err(bad_type("Due Date Only", "ActivityDate", date));
            }
            if let Some(at) = text("ReminderDateTime")
                && parse_datetime(at).is_none()
            {
                return Err(bad_type("Reminder Date/Time", "ReminderDateTime", at));
            }
            if text("Subject").is_some_and(|s| s.chars().count() > 255) {
                return Err(SaveError::new("STRING_TOO_LONG", "Subject: data value too large", &["Subject"]));
            }
        }
        SObject::Contact | SObject::Lead => {
            if creating && text("LastName").is_none_or(|n| n.trim().is_empty()) {
                return Err(SaveError::new(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [LastName]",
                    &["LastName"],
                ));
            }
        }
        SObject::User => {}
    }
    Ok(fields)
}

fn restricted(field: &str, value: &str) -> SaveError {
    SaveError::new(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        format!("{field}: bad value for restricted picklist field: {value}"),
        &[field],
    )
}

fn bad_type(label: &str, field: &str, value: &str) -> SaveError {
    SaveError::new("INVALID_TYPE_ON_FIELD_IN_RECORD", format!("{label}: value not of required type: {value}"), &[field])
}

pub(super) async fn describe(
    State(shared): State<Arc<Shared>>,
    Path((_version, object_name)): Path<(String, String)>,
) -> Response {
    let Some(object) = SObject::from_name(&object_name) else {
        return error::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("The requested resource does not exist: sObject type '{object_name}' is not supported."),
        );
    };
    let state = shared.lock();
    let mut fields: Vec<Value> = object
        .standard_fields()
        .iter()
        .map(|name| json!({"name": name, "label": name, "externalId": false, "unique": false, "custom": false}))
        .collect();
    if object == SObject::Task
        && let Some(field) = &state.salesforce.options.external_id_field
    {
        fields.push(json!({"name": field, "label": field, "type": "string", "externalId": true, "unique": true, "custom": true}));
    }
    Json(json!({"name": object.name(), "label": object.name(), "fields": fields})).into_response()
}

//! The records API on `Contacts` and `Tasks`: insert, update, upsert with `duplicate_check_fields`, read by `ids`
//! (or a page of the module), search, and the users API.
//!
//! Writes take at most 100 records and answer one result per record, in the order sent: 201 (or 200 for updates)
//! when all were written, 207 when some were refused, 400 when none was.

// A refusal is Zoho's answer, built once and returned as it is: boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::criteria::Criteria;
use super::{Record, Zoho, ZohoState, alarm_time, error, text, zoho_time};

const MODULES: [&str; 2] = ["Contacts", "Tasks"];
const MAX_RECORDS: usize = 100;
const MAX_PER_PAGE: usize = 200;
const PRIORITIES: [&str; 5] = ["Highest", "High", "Normal", "Low", "Lowest"];
const STATUSES: [&str; 5] = ["Not Started", "Deferred", "In Progress", "Completed", "Waiting for input"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Insert,
    Update,
    Upsert,
}

fn check_module(module: &str) -> Result<(), Response> {
    if MODULES.contains(&module) {
        Ok(())
    } else {
        Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_MODULE",
            "the module name given seems to be invalid",
            json!({"resource_path_index": 0}),
        ))
    }
}

pub(super) async fn insert(State(zoho): State<Arc<Zoho>>, Path(module): Path<String>, body: Bytes) -> Response {
    write(&zoho, &module, &body, Write::Insert)
}

pub(super) async fn update(State(zoho): State<Arc<Zoho>>, Path(module): Path<String>, body: Bytes) -> Response {
    write(&zoho, &module, &body, Write::Update)
}

pub(super) async fn upsert(State(zoho): State<Arc<Zoho>>, Path(module): Path<String>, body: Bytes) -> Response {
    write(&zoho, &module, &body, Write::Upsert)
}

/// One record's refusal: `{"code","details","message","status":"error"}`.
fn refusal(code: &str, message: &str, field: &str, index: usize, extra: Value) -> Value {
    let mut details = json!({"api_name": field, "json_path": format!("$.data[{index}].{field}")});
    if let (Some(details), Value::Object(extra)) = (details.as_object_mut(), extra) {
        details.extend(extra);
    }
    json!({"code": code, "details": details, "message": message, "status": "error"})
}

fn write(zoho: &Zoho, module: &str, body: &[u8], kind: Write) -> Response {
    if let Err(response) = check_module(module) {
        return response;
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "INVALID_DATA", "body", json!({}));
    };
    let Some(Value::Array(records)) = body.get("data") else {
        return error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param": "data"}),
        );
    };
    if records.is_empty() || records.len() > MAX_RECORDS {
        return error(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", "limit exceeded", json!({"limit": MAX_RECORDS}));
    }
    let duplicate_check: Vec<String> = match body.get("duplicate_check_fields") {
        Some(Value::Array(fields)) => fields.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let now = Utc::now();
    let mut state = zoho.lock();
    let mut results = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let Value::Object(record) = record else {
            results.push(refusal("INVALID_DATA", "invalid data", "data", index, json!({})));
            continue;
        };
        let existing = match kind {
            Write::Insert => None,
            Write::Update => match text(record, "id").and_then(|id| id.parse::<u64>().ok()) {
                Some(id) if state.modules.get(module).is_some_and(|m| m.contains_key(&id)) => Some(id),
                _ => {
                    results.push(refusal("INVALID_DATA", "the id given seems to be invalid", "id", index, json!({})));
                    continue;
                }
            },
            Write::Upsert => find_duplicate(zoho, &state, module, record, &duplicate_check),
        };
        let mut fields = record.clone();
        fields.remove("id");
        if let Err(problem) = check_fields(zoho, &mut state, module, &mut fields, index, existing.is_none(), existing) {
            results.push(problem);
            continue;
        }
        let id = match existing {
            Some(id) => id,
            None => state.next_id(),
        };
        let records = state.modules.entry(module.to_owned()).or_default();
        let stored = records.entry(id).or_insert_with(|| {
            let mut fresh = Record::new();
            fresh.insert("id".into(), json!(id.to_string()));
            fresh.insert("Created_Time".into(), json!(zoho_time(now)));
            fresh
        });
        stored.extend(fields);
        stored.insert("Modified_Time".into(), json!(zoho_time(now)));
        let key = (module == "Tasks").then(|| text(stored, &zoho.options.external_key_field)).flatten();
        let created_time = stored["Created_Time"].clone();
        if let Some(key) = key {
            state.task_keys.insert(key, id);
        }
        let user = zoho.options.users.first().map(|u| json!({"name": u.full_name, "id": u.id})).unwrap_or(Value::Null);
        let mut result = json!({
            "code": "SUCCESS",
            "details": {
                "Modified_Time": zoho_time(now), "Modified_By": user, "Created_Time": created_time,
                "id": id.to_string(), "Created_By": user,
            },
            "message": if existing.is_some() { "record updated" } else { "record added" },
            "status": "success",
        });
        if kind == Write::Upsert {
            result["action"] = json!(if existing.is_some() { "update" } else { "insert" });
            result["duplicate_field"] = if existing.is_some() {
                duplicate_check.first().map_or(Value::Null, |f| json!(f))
            } else {
                Value::Null
            };
        }
        results.push(result);
    }
    let written = results.iter().filter(|r| r["status"] == "success").count();
    let status = match (written, kind) {
        (0, _) => StatusCode::BAD_REQUEST,
        (n, _) if n < results.len() => StatusCode::MULTI_STATUS,
        (_, Write::Update) => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    (status, Json(json!({ "data": results }))).into_response()
}

/// The record an upsert updates: the first whose duplicate-check fields hold the same values.
fn find_duplicate(zoho: &Zoho, state: &ZohoState, module: &str, record: &Record, fields: &[String]) -> Option<u64> {
    let records = state.modules.get(module)?;
    fields.iter().find_map(|field| {
        let value = text(record, field)?;
        // The Tasks' external key is indexed: a bench's 10,000 tasks are not scanned for each of a batch's records.
        if module == "Tasks" && *field == zoho.options.external_key_field {
            return state.task_keys.get(&value).copied();
        }
        records.iter().find(|(_, r)| text(r, field).as_deref() == Some(value.as_str())).map(|(id, _)| *id)
    })
}

/// Checks a record's fields as Zoho does and stores lookups as Zoho returns them (`{"id","name"}`).
fn check_fields(
    zoho: &Zoho,
    state: &mut ZohoState,
    module: &str,
    fields: &mut Record,
    index: usize,
    creating: bool,
    existing: Option<u64>,
) -> Result<(), Value> {
    let invalid = |field: &str, expected: &str| {
        refusal("INVALID_DATA", "invalid data", field, index, json!({"expected_data_type": expected}))
    };
    let mandatory = if module == "Contacts" { "Last_Name" } else { "Subject" };
    if creating && text(fields, mandatory).is_none() {
        return Err(refusal("MANDATORY_NOT_FOUND", "required field not found", mandatory, index, json!({})));
    }
    let owner = match fields.get("Owner") {
        None if creating => zoho.options.users.first().map(|u| u.id.clone()),
        None => None,
        Some(owner) => {
            Some(owner.get("id").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| invalid("Owner", "lookup"))?)
        }
    };
    if let Some(owner) = owner {
        let user = zoho.options.users.iter().find(|u| u.id == owner).ok_or_else(|| invalid("Owner", "lookup"))?;
        fields.insert("Owner".into(), json!({"id": user.id, "name": user.full_name, "email": user.email}));
    }
    if module == "Contacts" {
        let name: Vec<String> = ["First_Name", "Last_Name"].iter().filter_map(|f| text(fields, f)).collect();
        if !name.is_empty() {
            fields.insert("Full_Name".into(), json!(name.join(" ")));
        }
        return Ok(());
    }
    if let Some(who) = fields.get("Who_Id") {
        let id = who.get("id").and_then(Value::as_str).ok_or_else(|| invalid("Who_Id", "lookup"))?;
        let contact = id
            .parse::<u64>()
            .ok()
            .and_then(|id| state.modules.get("Contacts")?.get(&id))
            .ok_or_else(|| invalid("Who_Id", "lookup"))?;
        fields.insert("Who_Id".into(), json!({"id": id, "name": text(contact, "Full_Name")}));
    }
    for (field, allowed) in [("Priority", &PRIORITIES), ("Status", &STATUSES)] {
        if let Some(value) = fields.get(field)
            && !value.as_str().is_some_and(|v| allowed.contains(&v))
        {
            return Err(invalid(field, "picklist"));
        }
    }
    if let Some(date) = fields.get("Due_Date")
        && date.as_str().is_none_or(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err())
    {
        return Err(invalid("Due_Date", "date"));
    }
    if let Some(remind) = fields.get("Remind_At")
        && remind.get("ALARM").and_then(Value::as_str).is_none_or(|a| alarm_time(a).is_none())
    {
        return Err(invalid("Remind_At", "event_reminder"));
    }
    // The external-key field is unique ("Do not allow duplicate values").
    let key_field = zoho.options.external_key_field.as_str();
    if let Some(key) = text(fields, key_field)
        && let Some(duplicate) = state.task_keys.get(&key).filter(|id| Some(**id) != existing)
    {
        return Err(refusal(
            "DUPLICATE_DATA",
            "duplicate data",
            key_field,
            index,
            json!({"duplicate_record": {"id": duplicate.to_string(), "module": {"api_name": "Tasks"}}}),
        ));
    }
    Ok(())
}

/// The requested fields of a record, and its id.
fn project(record: &Record, fields: &[&str]) -> Value {
    let mut out = Record::new();
    out.insert("id".into(), record.get("id").cloned().unwrap_or(Value::Null));
    for field in fields {
        out.insert((*field).to_owned(), record.get(*field).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

fn page_of(records: Vec<&Record>, fields: &[&str], page: usize, per_page: usize) -> Response {
    if records.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let start = (page - 1) * per_page;
    let data: Vec<Value> = records.iter().skip(start).take(per_page).map(|r| project(r, fields)).collect();
    if data.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let more = records.len() > start + per_page;
    let info = json!({"per_page": per_page, "count": data.len(), "page": page, "more_records": more});
    Json(json!({"data": data, "info": info})).into_response()
}

fn paging(query: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let number =
        |name: &str, default: usize| match query.get(name) {
            None => Ok(default),
            Some(value) => value.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                error(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"param_name": name}))
            }),
        };
    let per_page = number("per_page", MAX_PER_PAGE)?.min(MAX_PER_PAGE);
    Ok((number("page", 1)?, per_page))
}

fn fields_param(query: &HashMap<String, String>) -> Result<Vec<&str>, Response> {
    match query.get("fields") {
        Some(fields) if !fields.is_empty() => Ok(fields.split(',').map(str::trim).collect()),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param": "fields"}),
        )),
    }
}

pub(super) async fn read(
    State(zoho): State<Arc<Zoho>>,
    Path(module): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = check_module(&module) {
        return response;
    }
    let (fields, (page, per_page)) = match (fields_param(&query), paging(&query)) {
        (Ok(fields), Ok(paging)) => (fields, paging),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let state = zoho.lock();
    let empty = Default::default();
    let records = state.modules.get(&module).unwrap_or(&empty);
    let selected: Vec<&Record> = match query.get("ids") {
        Some(ids) => {
            ids.split(',').filter_map(|id| id.trim().parse::<u64>().ok()).filter_map(|id| records.get(&id)).collect()
        }
        None => {
            let since = headers
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok());
            let mut all: Vec<&Record> = records
                .values()
                .filter(|r| {
                    let modified = text(r, "Modified_Time").and_then(|t| DateTime::parse_from_rfc3339(&t).ok());
                    since.is_none_or(|since| modified.is_some_and(|m| m > since))
                })
                .collect();
            if query.get("sort_by").map(String::as_str) == Some("Modified_Time") {
                all.sort_by_key(|r| text(r, "Modified_Time"));
            }
            all
        }
    };
    page_of(selected, &fields, page, per_page)
}

pub(super) async fn search(
    State(zoho): State<Arc<Zoho>>,
    Path(module): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = check_module(&module) {
        return response;
    }
    let (page, per_page) = match paging(&query) {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    let criteria = if let Some(criteria) = query.get("criteria") {
        match Criteria::parse(criteria) {
            Ok(criteria) => criteria,
            Err(problem) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_QUERY",
                    "invalid query formed",
                    json!({"reason": problem}),
                );
            }
        }
    } else if let Some(email) = query.get("email") {
        Criteria::Condition { field: "Email".into(), operator: "equals".into(), value: email.clone() }
    } else if let Some(phone) = query.get("phone") {
        Criteria::Any(
            ["Phone", "Mobile"]
                .iter()
                .map(|f| Criteria::Condition { field: (*f).into(), operator: "equals".into(), value: phone.clone() })
                .collect(),
        )
    } else {
        return error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param": "criteria"}),
        );
    };
    let fields: Vec<&str> = query.get("fields").map(|f| f.split(',').map(str::trim).collect()).unwrap_or_default();
    let state = zoho.lock();
    let matched: Vec<&Record> = state
        .modules
        .get(&module)
        .map(|records| records.values().filter(|r| criteria.matches(r)).collect())
        .unwrap_or_default();
    if fields.is_empty() {
        // Without `fields`, a search returns whole records.
        let whole: Vec<&str> = matched.first().map(|r| r.keys().map(String::as_str).collect()).unwrap_or_default();
        return page_of(matched.clone(), &whole, page, per_page);
    }
    page_of(matched, &fields, page, per_page)
}

pub(super) async fn users(State(zoho): State<Arc<Zoho>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let (page, per_page) = match paging(&query) {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    let users: Vec<Value> = zoho
        .options
        .users
        .iter()
        .map(|user| {
            let (first, last) = user.full_name.split_once(' ').unwrap_or(("", user.full_name.as_str()));
            json!({
                "id": user.id, "full_name": user.full_name, "first_name": first, "last_name": last,
                "email": user.email, "status": "active", "confirm": true,
                "role": {"name": "Sales Rep", "id": "5725767000000026008"},
            })
        })
        .collect();
    let start = (page - 1) * per_page;
    let shown: Vec<Value> = users.iter().skip(start).take(per_page).cloned().collect();
    let more = users.len() > start + per_page;
    let info = json!({"per_page": per_page, "count": shown.len(), "page": page, "more_records": more});
    Json(json!({"users": shown, "info": info})).into_response()
}

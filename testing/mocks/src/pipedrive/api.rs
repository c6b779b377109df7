//! The endpoints, in Pipedrive's envelope. v1 times are `YYYY-MM-DD HH:MM:SS` (UTC), v2's RFC 3339.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::{PRIORITY_OPTIONS, Pipedrive, error};

const ACTIVITY_TYPES: [&str; 6] = ["call", "meeting", "task", "deadline", "email", "lunch"];

pub(crate) fn v2_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn v1_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn ok(data: Value, additional: Value) -> Response {
    Json(json!({"success": true, "data": data, "additional_data": additional})).into_response()
}

fn user_json(pipedrive: &Pipedrive, id: u64) -> Value {
    pipedrive.options.users.iter().find(|u| u.id == id).map_or(
        Value::Null,
        |u| json!({"id": u.id, "name": u.name, "email": u.email, "has_pic": 0, "active_flag": true, "value": u.id}),
    )
}

/// `count` persons with seeded phones (the benchmark's known customers), changed a second apart.
pub(super) fn seed_persons(state: &mut super::PipedriveState, count: usize, owner: Option<&super::PipedriveUser>) {
    let now = Utc::now();
    let owner = owner.map_or(
        Value::Null,
        |u| json!({"id": u.id, "name": u.name, "email": u.email, "has_pic": 0, "active_flag": true, "value": u.id}),
    );
    for index in 0..count {
        let id = state.next_id();
        let at = v1_time(now - chrono::Duration::seconds((count - index) as i64));
        let phone = json!([{"value": crate::seed_contact_phone(index), "primary": true, "label": "mobile"}]);
        let person = json!({
            "id": id, "name": format!("Known {}", index + 1), "phone": phone, "email": [], "owner_id": owner,
            "add_time": at, "update_time": at, "visible_to": "3", "active_flag": true,
        });
        state.persons.insert(id, person);
    }
}

pub(super) async fn users(State(pipedrive): State<Arc<Pipedrive>>) -> Response {
    let users: Vec<Value> = pipedrive
        .options
        .users
        .iter()
        .map(
            |u| json!({"id": u.id, "name": u.name, "email": u.email, "active_flag": true, "is_admin": 0, "role_id": 1}),
        )
        .collect();
    ok(Value::Array(users), Value::Null)
}

pub(super) async fn activity_fields() -> Response {
    let options: Vec<Value> = PRIORITY_OPTIONS.iter().map(|(id, label)| json!({"id": id, "label": label})).collect();
    ok(
        json!([
            {"id": 1, "key": "subject", "name": "Subject", "field_type": "varchar"},
            {"id": 2, "key": "type", "name": "Type", "field_type": "varchar"},
            {"id": 3, "key": "priority", "name": "Priority", "field_type": "enum", "options": options},
        ]),
        Value::Null,
    )
}

/// Pipedrive takes a phone or an email as a string or as `[{value, primary, label}]`.
fn labelled(value: Option<&Value>) -> Result<Vec<Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({"value": text, "primary": true, "label": "work"})]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let value = item.get("value").and_then(Value::as_str).ok_or("each item needs a `value`")?;
                Ok(json!({
                    "value": value,
                    "primary": item.get("primary").and_then(Value::as_bool).unwrap_or(false),
                    "label": item.get("label").and_then(Value::as_str).unwrap_or("work"),
                }))
            })
            .collect(),
        Some(_) => Err("must be a string or an array of objects".to_owned()),
    }
}

pub(super) async fn create_person(State(pipedrive): State<Arc<Pipedrive>>, body: Bytes) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid JSON body");
    };
    let Some(name) = body.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "Name must be given.");
    };
    let (phones, emails) = match (labelled(body.get("phone")), labelled(body.get("email"))) {
        (Ok(phones), Ok(emails)) => (phones, emails),
        (Err(problem), _) => return error(StatusCode::BAD_REQUEST, &format!("phone {problem}")),
        (_, Err(problem)) => return error(StatusCode::BAD_REQUEST, &format!("email {problem}")),
    };
    let owner = pipedrive.options.users.first().map_or(0, |u| u.id);
    let now = Utc::now();
    let mut state = pipedrive.lock();
    let id = state.next_id();
    let person = json!({
        "id": id, "name": name, "phone": phones, "email": emails, "owner_id": user_json(&pipedrive, owner),
        "add_time": v1_time(now), "update_time": v1_time(now), "visible_to": "3", "active_flag": true,
    });
    state.persons.insert(id, person.clone());
    (StatusCode::CREATED, Json(json!({"success": true, "data": person, "related_objects": {}}))).into_response()
}

pub(super) async fn search_persons(
    State(pipedrive): State<Arc<Pipedrive>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(term) = query.get("term") else { return error(StatusCode::BAD_REQUEST, "term is required") };
    let exact = query.get("exact_match").map(String::as_str) == Some("true");
    if term.chars().count() < if exact { 1 } else { 2 } {
        return error(StatusCode::BAD_REQUEST, "Search term must be at least 2 characters long");
    }
    let fields: Vec<&str> = query.get("fields").map_or(vec!["phone", "email", "name"], |f| f.split(',').collect());
    let matches = |value: &str| {
        if exact { value.eq_ignore_ascii_case(term) } else { value.to_lowercase().contains(&term.to_lowercase()) }
    };
    let state = pipedrive.lock();
    let values = |person: &Value, field: &str| -> Vec<String> {
        person[field].as_array().into_iter().flatten().filter_map(|v| v["value"].as_str()).map(str::to_owned).collect()
    };
    let items: Vec<Value> = state
        .persons
        .values()
        .filter(|person| {
            fields.iter().any(|field| match *field {
                "phone" | "email" => values(person, field).iter().any(|v| matches(v)),
                "name" => person["name"].as_str().is_some_and(matches),
                _ => false,
            })
        })
        .map(|person| {
            json!({"result_score": 1.0, "item": {
                "id": person["id"], "type": "person", "name": person["name"],
                "phones": values(person, "phone"), "emails": values(person, "email"),
                "visible_to": 3, "owner": {"id": person["owner_id"]["id"]}, "organization": null,
                "custom_fields": [], "notes": [],
            }})
        })
        .collect();
    let count = items.len();
    ok(
        json!({"items": items}),
        json!({"pagination": {"start": 0, "limit": 100, "more_items_in_collection": count > 100}}),
    )
}

pub(super) async fn persons_collection(
    State(pipedrive): State<Arc<Pipedrive>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let since = query.get("since").and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok());
    let after: u64 = query.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).min(500);
    let state = pipedrive.lock();
    let selected: Vec<Value> = state
        .persons
        .range(after + 1..)
        .map(|(_, p)| p)
        .filter(|p| {
            since.is_none_or(|since| {
                p["update_time"]
                    .as_str()
                    .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok())
                    .is_some_and(|t| t >= since)
            })
        })
        .take(limit + 1)
        .map(|p| {
            let mut flat = p.clone();
            flat["owner_id"] = p["owner_id"]["id"].clone();
            flat
        })
        .collect();
    page(selected, limit)
}

/// A cursor page: `next_cursor` is the last id shown when there is more.
fn page(mut items: Vec<Value>, limit: usize) -> Response {
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().and_then(|i| i["id"].as_u64()).map(|id| json!(id.to_string())) } else { None };
    ok(Value::Array(items), json!({"next_cursor": next.unwrap_or(Value::Null)}))
}

/// Checks an activity's fields as v2 does; `creating` requires a subject.
fn check_activity(
    pipedrive: &Pipedrive,
    persons: &std::collections::BTreeMap<u64, Value>,
    body: &Map<String, Value>,
    creating: bool,
) -> Result<(), String> {
    if creating && body.get("subject").and_then(Value::as_str).is_none_or(|s| s.is_empty()) {
        return Err("subject is required".into());
    }
    if let Some(kind) = body.get("type")
        && !kind.as_str().is_some_and(|k| ACTIVITY_TYPES.contains(&k))
    {
        return Err(format!("Activity type {kind} is not valid"));
    }
    if let Some(date) = body.get("due_date")
        && date.as_str().is_none_or(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err())
    {
        return Err(format!("due_date {date} is not a date (YYYY-MM-DD)"));
    }
    if let Some(time) = body.get("due_time")
        && time.as_str().is_none_or(|t| {
            NaiveTime::parse_from_str(t, "%H:%M:%S").is_err() && NaiveTime::parse_from_str(t, "%H:%M").is_err()
        })
    {
        return Err(format!("due_time {time} is not a time (HH:MM or HH:MM:SS)"));
    }
    if let Some(owner) = body.get("owner_id")
        && !owner.as_u64().is_some_and(|id| pipedrive.options.users.iter().any(|u| u.id == id))
    {
        return Err(format!("User with id {owner} does not exist"));
    }
    if let Some(person) = body.get("person_id")
        && !person.as_u64().is_some_and(|id| persons.contains_key(&id))
    {
        return Err(format!("Person with id {person} does not exist"));
    }
    if let Some(priority) = body.get("priority")
        && !priority.as_u64().is_some_and(|p| PRIORITY_OPTIONS.iter().any(|(id, _)| *id == p))
    {
        return Err(format!("Priority {priority} is not an option of the priority field"));
    }
    if let Some(done) = body.get("done")
        && !done.is_boolean()
    {
        return Err("done must be a boolean".into());
    }
    Ok(())
}

fn v2_error(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"success": false, "error": message, "code": "ERR_SCHEMA_VALIDATION_FAILED"})))
        .into_response()
}

pub(super) async fn create_activity(State(pipedrive): State<Arc<Pipedrive>>, body: Bytes) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return v2_error("Invalid JSON body");
    };
    let now = Utc::now();
    let mut state = pipedrive.lock();
    if let Err(problem) = check_activity(&pipedrive, &state.persons, &body, true) {
        return v2_error(&problem);
    }
    let id = state.next_id();
    let mut activity = json!({
        "id": id, "subject": body["subject"], "type": body.get("type").cloned().unwrap_or(json!("call")),
        "owner_id": body.get("owner_id").cloned().unwrap_or(json!(pipedrive.options.users.first().map_or(0, |u| u.id))),
        "person_id": body.get("person_id").cloned().unwrap_or(Value::Null),
        "due_date": body.get("due_date").cloned().unwrap_or(Value::Null),
        "due_time": normalise_time(body.get("due_time")),
        "duration": body.get("duration").cloned().unwrap_or(Value::Null),
        "note": body.get("note").cloned().unwrap_or(Value::Null),
        "priority": body.get("priority").cloned().unwrap_or(Value::Null),
        "done": body.get("done").cloned().unwrap_or(json!(false)),
        "is_deleted": false, "add_time": v2_time(now), "update_time": v2_time(now),
    });
    if let Some(person) = activity["person_id"].as_u64() {
        activity["participants"] = json!([{"person_id": person, "primary": true}]);
    }
    state.activities.insert(id, activity.clone());
    ok(activity, Value::Null)
}

/// v2 answers times as `HH:MM:SS`.
fn normalise_time(time: Option<&Value>) -> Value {
    match time.and_then(Value::as_str) {
        Some(t) if t.len() == 5 => json!(format!("{t}:00")),
        Some(t) => json!(t),
        None => Value::Null,
    }
}

pub(super) async fn update_activity(
    State(pipedrive): State<Arc<Pipedrive>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return v2_error("Invalid JSON body");
    };
    let Ok(id) = id.parse::<u64>() else { return v2_error("id must be an integer") };
    let mut state = pipedrive.lock();
    if !state.activities.contains_key(&id) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"success": false, "error": "Activity not found", "code": "ERR_NOT_FOUND"})),
        )
            .into_response();
    }
    if let Err(problem) = check_activity(&pipedrive, &state.persons, &body, false) {
        return v2_error(&problem);
    }
    let Some(activity) = state.activities.get_mut(&id) else { return v2_error("Activity not found") };
    for (key, value) in body {
        activity[key.as_str()] = if key == "due_time" { normalise_time(Some(&value)) } else { value };
    }
    activity["update_time"] = json!(v2_time(Utc::now()));
    ok(activity.clone(), Value::Null)
}

pub(super) async fn list_activities(
    State(pipedrive): State<Arc<Pipedrive>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).min(500);
    let state = pipedrive.lock();
    let selected: Vec<Value> = match query.get("ids") {
        Some(ids) => ids
            .split(',')
            .filter_map(|id| id.trim().parse().ok())
            .filter_map(|id: u64| state.activities.get(&id).cloned())
            .collect(),
        None => state.activities.values().cloned().collect(),
    };
    page(selected, limit)
}

/// v1's activities collection: changed since `since` (`update_time`), in v1's shape.
pub(super) async fn activities_collection(
    State(pipedrive): State<Arc<Pipedrive>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let since = query.get("since").and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok());
    let after: u64 = query.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).min(500);
    let state = pipedrive.lock();
    let selected: Vec<Value> = state
        .activities
        .range(after + 1..)
        .map(|(_, a)| a)
        .filter(|a| {
            let updated =
                a["update_time"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.naive_utc());
            since.is_none_or(|since| updated.is_some_and(|t| t >= since))
        })
        .take(limit + 1)
        .map(|a| {
            let time = a["due_time"].as_str().map(|t| t.get(..5).unwrap_or(t).to_owned());
            let updated = a["update_time"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| v1_time(t.to_utc()));
            json!({
                "id": a["id"], "subject": a["subject"], "type": a["type"], "user_id": a["owner_id"],
                "person_id": a["person_id"], "due_date": a["due_date"], "due_time": time, "duration": a["duration"],
                "note": a["note"], "done": a["done"], "update_time": updated,
            })
        })
        .collect();
    page(selected, limit)
}

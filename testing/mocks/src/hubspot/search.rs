//! `POST /crm/v3/objects/{contacts,tasks}/search`: filter groups OR-ed (at most 5), filters inside a group
//! AND-ed (at most 6, 18 in all), one sort, `after` paging, and the 10,000-result cap.
//! Phones are matched as exact strings on `phone` and `mobilephone`, like any other property.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{parse_body, scalar_to_string, validation_error};
use crate::state::{CrmObject, ObjectKind, Shared};

const MAX_FILTER_GROUPS: usize = 5;
const MAX_FILTERS_PER_GROUP: usize = 6;
const MAX_FILTERS: usize = 18;
const MAX_LIMIT: usize = 200;
const DEFAULT_LIMIT: usize = 10;
/// HubSpot's search returns at most the first 10,000 results of a query.
const RESULT_CAP: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    #[serde(default)]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    sorts: Vec<SortSpec>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    after: Option<Value>,
    #[serde(default)]
    query: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FilterGroup {
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    property_name: String,
    operator: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    values: Option<Vec<Value>>,
    #[serde(default)]
    high_value: Option<Value>,
}

/// HubSpot takes `{"propertyName","direction"}` or a bare name (`-name` for descending).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SortSpec {
    Full {
        #[serde(rename = "propertyName")]
        property_name: String,
        #[serde(default)]
        direction: Option<String>,
    },
    Named(String),
}

/// A filter checked and ready to match.
#[derive(Debug)]
enum Condition {
    Eq(String, String),
    Neq(String, String),
    /// The values, and the same lowercased for a lookup that does not scan them per object.
    In(String, Vec<String>, HashSet<String>),
    NotIn(String, Vec<String>, HashSet<String>),
    Compare(String, Vec<Ordering>, String),
    Between(String, String, String),
    HasProperty(String),
    NotHasProperty(String),
    ContainsToken(String, String, bool),
}

pub(super) async fn contacts(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    search(&shared, ObjectKind::Contacts, &body)
}

pub(super) async fn tasks(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    search(&shared, ObjectKind::Tasks, &body)
}

fn search(shared: &Shared, kind: ObjectKind, body: &[u8]) -> Response {
    let request: SearchRequest = match parse_body(body) {
        Ok(request) => request,
        Err(invalid) => return invalid.into_response(),
    };
    let groups = match compile(&request.filter_groups) {
        Ok(groups) => groups,
        Err(message) => return validation_error(message),
    };
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return validation_error(format!("limit must be at most {MAX_LIMIT}, got {limit}"));
    }
    let offset = match request.after.as_ref().map(parse_after).transpose() {
        Ok(offset) => offset.unwrap_or(0),
        Err(message) => return validation_error(message),
    };
    if offset >= RESULT_CAP {
        return validation_error(format!(
            "Search results are limited to the first {RESULT_CAP}; `after` {offset} is past them. Narrow the filters \
             (for example on lastmodifieddate) instead of paging further."
        ));
    }
    let sort = match request.sorts.first().map(sort_key).transpose() {
        Ok(sort) => sort,
        Err(message) => return validation_error(message),
    };

    let state = shared.lock();
    let mut found: Vec<&CrmObject> = state
        .objects(kind)
        .values()
        .filter(|object| groups.is_empty() || groups.iter().any(|group| group.iter().all(|c| matches(object, c))))
        .filter(|object| request.query.as_deref().is_none_or(|query| matches_query(object, query)))
        .collect();
    if let Some((property, descending)) = &sort {
        found.sort_by(|a, b| {
            let order = compare_values(property, a.property(property), b.property(property));
            let order = if *descending { order.reverse() } else { order };
            order.then(a.id.cmp(&b.id))
        });
    }
    let total = found.len();
    let end = (offset + limit).min(total).min(RESULT_CAP);
    let page = found.get(offset.min(end)..end).unwrap_or_default();
    let results: Vec<Value> = page.iter().map(|object| object.to_json(kind, Some(&request.properties))).collect();
    let mut answer = json!({ "total": total, "results": results });
    if end < total && end < RESULT_CAP {
        answer["paging"] = json!({ "next": { "after": end.to_string() } });
    }
    Json(answer).into_response()
}

fn parse_after(after: &Value) -> Result<usize, String> {
    let text = scalar_to_string(after).unwrap_or_default();
    text.trim().parse().map_err(|_| format!("`after` must be a paging token from a previous answer, got {after}"))
}

fn sort_key(sort: &SortSpec) -> Result<(String, bool), String> {
    match sort {
        SortSpec::Named(name) => match name.strip_prefix('-') {
            Some(name) => Ok((name.to_owned(), true)),
            None => Ok((name.clone(), false)),
        },
        SortSpec::Full { property_name, direction } => match direction.as_deref() {
            None | Some("ASCENDING") => Ok((property_name.clone(), false)),
            Some("DESCENDING") => Ok((property_name.clone(), true)),
            Some(other) => Err(format!("Sort direction must be ASCENDING or DESCENDING, got {other}")),
        },
    }
}

fn compile(groups: &[FilterGroup]) -> Result<Vec<Vec<Condition>>, String> {
    if groups.len() > MAX_FILTER_GROUPS {
        return Err(format!("Too many filter groups: {} (the maximum is {MAX_FILTER_GROUPS}).", groups.len()));
    }
    let filters: usize = groups.iter().map(|group| group.filters.len()).sum();
    if filters > MAX_FILTERS {
        return Err(format!("Too many filters: {filters} in all (the maximum is {MAX_FILTERS})."));
    }
    groups
        .iter()
        .map(|group| {
            if group.filters.len() > MAX_FILTERS_PER_GROUP {
                return Err(format!(
                    "Too many filters in one group: {} (the maximum is {MAX_FILTERS_PER_GROUP}).",
                    group.filters.len()
                ));
            }
            group.filters.iter().map(condition).collect()
        })
        .collect()
}

fn condition(filter: &Filter) -> Result<Condition, String> {
    let name = filter.property_name.clone();
    let value = || {
        filter
            .value
            .as_ref()
            .and_then(scalar_to_string)
            .ok_or_else(|| format!("Operator {} on {} requires a `value`", filter.operator, filter.property_name))
    };
    let values = || {
        filter
            .values
            .as_ref()
            .map(|values| values.iter().filter_map(scalar_to_string).collect::<Vec<_>>())
            .ok_or_else(|| format!("Operator {} on {} requires `values`", filter.operator, filter.property_name))
    };
    Ok(match filter.operator.as_str() {
        "EQ" => Condition::Eq(name, value()?),
        "NEQ" => Condition::Neq(name, value()?),
        "IN" => {
            let values = values()?;
            Condition::In(name, values.clone(), lowercased(&values))
        }
        "NOT_IN" => {
            let values = values()?;
            Condition::NotIn(name, values.clone(), lowercased(&values))
        }
        "GT" => Condition::Compare(name, vec![Ordering::Greater], value()?),
        "GTE" => Condition::Compare(name, vec![Ordering::Greater, Ordering::Equal], value()?),
        "LT" => Condition::Compare(name, vec![Ordering::Less], value()?),
        "LTE" => Condition::Compare(name, vec![Ordering::Less, Ordering::Equal], value()?),
        "BETWEEN" => {
            let high = filter.high_value.as_ref().and_then(scalar_to_string);
            Condition::Between(name, value()?, high.ok_or("Operator BETWEEN requires a `highValue`")?)
        }
        "HAS_PROPERTY" => Condition::HasProperty(name),
        "NOT_HAS_PROPERTY" => Condition::NotHasProperty(name),
        "CONTAINS_TOKEN" => Condition::ContainsToken(name, value()?, true),
        "NOT_CONTAINS_TOKEN" => Condition::ContainsToken(name, value()?, false),
        other => return Err(format!("Unknown filter operator: {other}")),
    })
}

fn matches(object: &CrmObject, condition: &Condition) -> bool {
    let stored = |name: &str| object.property(name).filter(|value| !value.is_empty());
    match condition {
        Condition::Eq(name, wanted) => stored(name).is_some_and(|value| equals(name, value, wanted)),
        Condition::Neq(name, wanted) => !stored(name).is_some_and(|value| equals(name, value, wanted)),
        Condition::In(name, wanted, lower) => stored(name).is_some_and(|value| is_in(name, value, wanted, lower)),
        Condition::NotIn(name, wanted, lower) => !stored(name).is_some_and(|value| is_in(name, value, wanted, lower)),
        Condition::Compare(name, accepted, wanted) => {
            stored(name).and_then(|value| ordering(name, value, wanted)).is_some_and(|o| accepted.contains(&o))
        }
        Condition::Between(name, low, high) => stored(name).is_some_and(|value| {
            ordering(name, value, low).is_some_and(Ordering::is_ge)
                && ordering(name, value, high).is_some_and(Ordering::is_le)
        }),
        Condition::HasProperty(name) => stored(name).is_some(),
        Condition::NotHasProperty(name) => stored(name).is_none(),
        Condition::ContainsToken(name, token, wanted) => {
            let token = token.trim_matches('*').to_lowercase();
            let found = stored(name).is_some_and(|value| {
                value.to_lowercase().split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.').any(|t| t == token)
            });
            found == *wanted
        }
    }
}

fn matches_query(object: &CrmObject, query: &str) -> bool {
    let query = query.to_lowercase();
    query.is_empty() || object.properties.values().any(|value| value.to_lowercase().contains(&query))
}

/// Date properties compare as instants, whether written as ms since the epoch or ISO 8601.
fn is_date_property(name: &str) -> bool {
    matches!(
        name,
        "createdate"
            | "lastmodifieddate"
            | "hs_createdate"
            | "hs_lastmodifieddate"
            | "hs_timestamp"
            | "hs_task_completion_date"
            | "hs_task_reminders"
    )
}

pub(super) fn as_millis(text: &str) -> Option<i64> {
    if let Ok(millis) = text.trim().parse::<i64>() {
        return Some(millis);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(at.timestamp_millis());
    }
    let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

fn lowercased(values: &[String]) -> HashSet<String> {
    values.iter().map(|v| v.to_lowercase()).collect()
}

/// IN: as [`equals`] on each value; text by one set lookup.
fn is_in(name: &str, stored: &str, wanted: &[String], lower: &HashSet<String>) -> bool {
    if is_date_property(name) {
        return wanted.iter().any(|w| equals(name, stored, w));
    }
    lower.contains(stored) || lower.contains(&stored.to_lowercase())
}

/// EQ and IN: exact strings (case aside, as HubSpot), except dates, which compare as instants.
fn equals(name: &str, stored: &str, wanted: &str) -> bool {
    if is_date_property(name) {
        return as_millis(stored).is_some_and(|at| Some(at) == as_millis(wanted));
    }
    stored == wanted || stored.to_lowercase() == wanted.to_lowercase()
}

/// GT/GTE/LT/LTE: dates as instants, numbers as numbers, anything else as lowercase text.
fn ordering(name: &str, stored: &str, wanted: &str) -> Option<Ordering> {
    if is_date_property(name) {
        return Some(as_millis(stored)?.cmp(&as_millis(wanted)?));
    }
    if let (Ok(stored), Ok(wanted)) = (stored.parse::<f64>(), wanted.parse::<f64>()) {
        return stored.partial_cmp(&wanted);
    }
    Some(stored.to_lowercase().cmp(&wanted.to_lowercase()))
}

/// Sorting puts objects without the property last.
fn compare_values(name: &str, a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => ordering(name, a, b).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

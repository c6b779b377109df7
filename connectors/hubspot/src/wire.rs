//! HubSpot's JSON, as the CRM v3 endpoints send and take it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// HubSpot's association type for task -> contact (HUBSPOT_DEFINED).
pub const TASK_TO_CONTACT: u32 = 204;
/// The task property that holds the external key (the handoff id).
pub const EXTERNAL_KEY_PROPERTY: &str = "handoffd_handoff_id";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    pub filter_groups: Vec<FilterGroup>,
    pub properties: Vec<&'static str>,
    pub limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sorts: Vec<Sort>,
}

#[derive(Debug, Serialize)]
pub struct FilterGroup {
    pub filters: Vec<Filter>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: &'static str,
    pub operator: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

impl Filter {
    pub fn is_in(property_name: &'static str, values: Vec<String>) -> Self {
        Self { property_name, operator: "IN", value: None, values: Some(values) }
    }

    pub fn compare(property_name: &'static str, operator: &'static str, value: String) -> Self {
        Self { property_name, operator, value: Some(value), values: None }
    }

    /// `HAS_PROPERTY` (`true`) or `NOT_HAS_PROPERTY`.
    pub fn exists(property_name: &'static str, present: bool) -> Self {
        let operator = if present { "HAS_PROPERTY" } else { "NOT_HAS_PROPERTY" };
        Self { property_name, operator, value: None, values: None }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sort {
    pub property_name: &'static str,
    pub direction: &'static str,
}

/// A CRM object (contact, task) as search, batch and create answers carry it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrmObject {
    pub id: String,
    /// HubSpot sends `null` for properties that have no value.
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub object_write_trace_id: Option<String>,
}

impl CrmObject {
    /// A property's value, `None` when absent, null or empty.
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(|v| v.as_deref()).filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

impl<T> Page<T> {
    pub fn next_after(&self) -> Option<&str> {
        self.paging.as_ref().and_then(|p| p.next.as_ref()).map(|n| n.after.as_str())
    }

    /// Where to read the next page from; an empty page ends the listing whatever its paging says.
    pub fn continue_after(&self) -> Option<&str> {
        self.next_after().filter(|_| !self.results.is_empty())
    }
}

#[derive(Debug, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub next: Option<PagingNext>,
}

#[derive(Debug, Deserialize)]
pub struct PagingNext {
    pub after: String,
}

/// Answer of `batch/create`, `batch/update` and `batch/read` (201, 200 or 207).
#[derive(Debug, Deserialize)]
pub struct BatchResponse {
    #[serde(default)]
    pub results: Vec<CrmObject>,
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// HubSpot's error body: on a failed call, or one entry of a 207's `errors`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// `{"propertyName": ["..."], "id": ["..."], ...}`: values are lists of strings.
    #[serde(default)]
    pub context: Option<BTreeMap<String, Value>>,
}

impl ApiError {
    /// Whether `needle` (an external key or an object id) appears in the error's context.
    pub fn mentions(&self, needle: &str) -> bool {
        let Some(context) = &self.context else { return false };
        context.values().any(|value| match value {
            Value::String(s) => s == needle,
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some(needle)),
            _ => false,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    pub properties: BTreeMap<&'static str, String>,
    pub associations: Vec<Association>,
    /// Echoed back on the result; a second way to match results to inputs.
    pub object_write_trace_id: String,
}

#[derive(Debug, Serialize)]
pub struct UpdateInput {
    pub id: String,
    pub properties: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
pub struct Association {
    pub to: AssociationTarget,
    pub types: Vec<AssociationType>,
}

#[derive(Debug, Serialize)]
pub struct AssociationTarget {
    pub id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationType {
    pub association_category: &'static str,
    pub association_type_id: u32,
}

#[derive(Debug, Serialize)]
pub struct BatchInputs<'a, T> {
    pub inputs: &'a [T],
}

#[derive(Debug, Serialize)]
pub struct BatchReadRequest {
    pub inputs: Vec<ObjectId>,
    pub properties: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct ObjectId {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyCreate {
    pub name: &'static str,
    pub label: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub field_type: &'static str,
    pub group_name: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ObjectCreate {
    pub properties: BTreeMap<&'static str, String>,
}

/// Joins first and last name the way HubSpot shows them.
pub fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last].into_iter().flatten().map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>();
    (!name.is_empty()).then(|| name.join(" "))
}

//! Salesforce's JSON: the token answer, error arrays, query pages, SaveResults, and the records we read.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

/// The token endpoint's answer (both flows). Salesforce sends no `expires_in`: a session lasts until it is
/// refused (the org's session timeout).
#[derive(Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    /// Where the org's API lives: every API call goes there.
    pub instance_url: String,
    /// Space-separated scopes granted (absent from some answers).
    #[serde(default)]
    pub scope: Option<String>,
    /// Present when the connected app rotates refresh tokens.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// The token endpoint's refusal (RFC 6749's shape).
#[derive(Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// One entry of an API error array: `[{"message": "...", "errorCode": "INVALID_SESSION_ID"}]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub error_code: String,
}

/// An API error body: usually an array, sometimes one object.
pub fn api_errors(body: &[u8]) -> Vec<ApiError> {
    if let Ok(errors) = serde_json::from_slice::<Vec<ApiError>>(body) {
        return errors;
    }
    serde_json::from_slice::<ApiError>(body).map(|e| vec![e]).unwrap_or_default()
}

/// One page of a SOQL query.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage<T> {
    pub records: Vec<T>,
    pub done: bool,
    /// The path of the next page, e.g. `/services/data/v62.0/query/01gD0000002HU6KIAW-2000`.
    #[serde(default)]
    pub next_records_url: Option<String>,
}

/// A Composite call's answer: one entry per subrequest, in order.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeAnswer {
    pub composite_response: Vec<CompositeSubanswer>,
}

/// One subrequest's answer: its status and its body (a query page, or Salesforce's error array).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeSubanswer {
    #[serde(default)]
    pub body: serde_json::Value,
    pub http_status_code: u16,
}

/// The result of one record of an sObject Collections write, in input order.
#[derive(Debug, Deserialize)]
pub struct SaveResult {
    #[serde(default)]
    pub id: Option<String>,
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<SaveError>,
}

/// Why one record was not saved.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveError {
    pub status_code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A Contact or Lead as the searches read it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PersonRecord {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub mobile_phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub last_modified_date: Option<String>,
}

/// A Task as the lookups read it; the external id field's name is configured, so it is among `other`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskRecord {
    pub id: String,
    #[serde(default)]
    pub is_closed: Option<bool>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub reminder_date_time: Option<String>,
    #[serde(default)]
    pub activity_date: Option<String>,
    #[serde(flatten)]
    pub other: HashMap<String, Value>,
}

/// A User.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserRecord {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub is_active: bool,
    #[serde(default)]
    pub time_zone_sid_key: Option<String>,
}

/// `GET /sobjects/Task/describe`, the parts we check.
#[derive(Deserialize)]
pub struct Describe {
    pub fields: Vec<FieldDescribe>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescribe {
    pub name: String,
    #[serde(default)]
    pub external_id: bool,
    #[serde(default)]
    pub unique: bool,
}

/// Salesforce's datetimes (`2026-12-05T10:00:00.000+0000`); RFC 3339 is accepted too.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// A date field (`2026-12-05`) as midnight UTC.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|at| at.and_utc())
}

/// How we write datetimes: UTC with milliseconds, as Salesforce writes them back.
pub fn format_datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_datetimes_parse() {
        let at = parse_datetime("2026-12-05T10:00:00.000+0000").unwrap();
        assert_eq!(format_datetime(at), "2026-12-05T10:00:00.000Z");
        assert_eq!(parse_datetime("2026-12-05T10:00:00Z"), Some(at));
        assert_eq!(parse_date("2026-12-05").map(format_datetime).as_deref(), Some("2026-12-05T00:00:00.000Z"));
        assert_eq!(parse_datetime("yesterday"), None);
    }

    #[test]
    fn error_bodies_are_arrays_or_one_object() {
        let array = api_errors(br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#);
        assert_eq!(array[0].error_code, "INVALID_SESSION_ID");
        let one = api_errors(br#"{"message":"m","errorCode":"NOT_FOUND"}"#);
        assert_eq!(one[0].error_code, "NOT_FOUND");
        assert!(api_errors(b"<html>").is_empty());
    }
}

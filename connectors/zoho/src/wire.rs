//! Zoho CRM v8's JSON: error bodies, per-record results, and records read as maps of field API names (the
//! external-key field's name comes from the config, so records are not fixed structs).

use serde::Deserialize;
use serde_json::{Map, Value};

/// A whole call refused: `{"code","details","message","status":"error"}`.
#[derive(Debug, Deserialize)]
pub struct ApiError {
    pub code: String,
    #[serde(default)]
    pub details: Value,
    #[serde(default)]
    pub message: String,
}

impl ApiError {
    /// `CODE: message` and the details when Zoho gave some (they name the field at fault).
    pub fn describe(&self) -> String {
        describe(&self.code, &self.message, &self.details)
    }
}

fn describe(code: &str, message: &str, details: &Value) -> String {
    match details {
        Value::Object(map) if !map.is_empty() => format!("{code}: {message} ({details})"),
        _ => format!("{code}: {message}"),
    }
}

/// The answer to an insert, update or upsert: one result per record, in the order sent.
#[derive(Debug, Deserialize)]
pub struct RecordResults {
    pub data: Vec<RecordResult>,
}

#[derive(Debug, Deserialize)]
pub struct RecordResult {
    pub code: String,
    #[serde(default)]
    pub details: Value,
    #[serde(default)]
    pub message: String,
    pub status: String,
}

impl RecordResult {
    /// The record's id when Zoho wrote it.
    pub fn written_id(&self) -> Option<&str> {
        (self.status == "success").then(|| self.details.get("id").and_then(Value::as_str)).flatten()
    }

    /// Zoho refused the record for a reason that will pass by itself (the next attempt may succeed).
    pub fn is_transient(&self) -> bool {
        matches!(self.code.as_str(), "INTERNAL_ERROR" | "RECORD_LOCKED" | "TOO_MANY_REQUESTS" | "LIMIT_EXCEEDED")
    }

    /// Why Zoho refused the record, with the value we sent for the field it names (Zoho's own message says
    /// "invalid data" and names the field, not the value).
    pub fn refusal(&self, sent: &Map<String, Value>) -> String {
        let mut text = describe(&self.code, &self.message, &self.details);
        if let Some(field) = self.details.get("api_name").and_then(Value::as_str)
            && let Some(value) = sent.get(field)
        {
            let value = value.get("id").unwrap_or(value);
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            text.push_str(&format!("; `{field}` was `{value}`"));
        }
        text
    }
}

/// A page of records: `{"data":[...],"info":{...}}`.
#[derive(Debug, Deserialize)]
pub struct Records {
    #[serde(default)]
    pub data: Vec<Map<String, Value>>,
    #[serde(default)]
    pub info: Option<Info>,
}

#[derive(Debug, Deserialize)]
pub struct Info {
    #[serde(default)]
    pub more_records: bool,
}

/// `GET /crm/v8/users`: `{"users":[...],"info":{...}}`.
#[derive(Debug, Deserialize)]
pub struct Users {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub info: Option<UsersInfo>,
}

#[derive(Debug, Deserialize)]
pub struct UsersInfo {
    #[serde(default)]
    pub more_records: bool,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A text field's value, `None` when absent, null or empty.
pub fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str).filter(|v| !v.is_empty())
}

/// A lookup field's id (`{"id": "...", "name": "..."}`).
pub fn lookup_id<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record.get(field).and_then(|v| v.get("id")).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_refusal_names_the_field_and_the_value_sent() {
        let result: RecordResult = serde_json::from_value(json!({
            "code": "INVALID_DATA", "details": {"api_name": "Owner", "json_path": "$.data[1].Owner.id"},
            "message": "invalid data", "status": "error"
        }))
        .unwrap();
        let sent = json!({"Owner": {"id": "987654321"}, "Subject": "Call"});
        let text = result.refusal(sent.as_object().unwrap());
        assert!(text.starts_with("INVALID_DATA: invalid data"), "{text}");
        assert!(text.contains("`Owner` was `987654321`"), "{text}");
        assert_eq!(result.written_id(), None);
    }
}

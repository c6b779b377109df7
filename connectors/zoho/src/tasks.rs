//! Tasks: written through the upsert API with `duplicate_check_fields` on the external-key field, a hundred a
//! call, so that writing a task twice (after a lost answer) updates the first instead of adding a second; updated
//! in place; found by external key; their states read a hundred a call.
//!
//! A Zoho task's `Due_Date` is a date only. The due time goes into `Remind_At`, the reminder the owner gets at
//! that moment, and is read back from it.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use handoffd_contract::crm::{CrmError, TaskWriteOutcome};
use handoffd_contract::task::{TaskPriority, TaskRef, TaskState, TaskWrite};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::{Api, Call};
use crate::criteria::{Condition, any_of};
use crate::wire::{RecordResults, Records, lookup_id, text};

const MODULE_PATH: &str = "/crm/v8/Tasks";
const UPSERT_PATH: &str = "/crm/v8/Tasks/upsert";
const SEARCH_PATH: &str = "/crm/v8/Tasks/search";
/// Zoho's longest single-line text.
pub const SUBJECT_MAX_CHARS: usize = 255;
/// Ids in one read by `ids` (Zoho's page size).
const READ_IDS: usize = 100;
const COMPLETED: &str = "Completed";

/// The record for a task; `creating` adds what only a new task gets (its status, its external key).
fn record_of(task: &TaskWrite, external_key_field: &str, creating: bool) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("Subject".into(), json!(task.text.subject.chars().take(SUBJECT_MAX_CHARS).collect::<String>()));
    record.insert("Due_Date".into(), json!(task.due_at.date_naive().to_string()));
    record.insert("Remind_At".into(), json!({ "ALARM": alarm(task.due_at) }));
    record.insert("Priority".into(), json!(priority_name(task.priority)));
    record.insert("Description".into(), json!(task.text.to_plain()));
    // A task is about a contact (Who_Id); What_Id with its `$se_module` would name a deal or an account, which a
    // handoff does not have.
    record.insert("Who_Id".into(), json!({ "id": task.contact_id }));
    if let Some(owner) = &task.owner_id {
        record.insert("Owner".into(), json!({ "id": owner }));
    }
    if creating {
        record.insert("Status".into(), json!("Not Started"));
        record.insert(external_key_field.to_owned(), json!(task.external_key));
    }
    record
}

/// Zoho's reminder: a popup at the due time.
fn alarm(at: DateTime<Utc>) -> String {
    format!("FREQ=NONE;ACTION=POPUP;TRIGGER=DATE-TIME:{}", at.to_rfc3339_opts(SecondsFormat::Secs, false))
}

/// The due time a task's reminder holds (`TRIGGER=DATE-TIME:...`).
fn due_from_alarm(alarm: &str) -> Option<DateTime<Utc>> {
    let at = alarm.split(';').find_map(|part| part.strip_prefix("TRIGGER=DATE-TIME:"))?;
    DateTime::parse_from_rfc3339(at.trim()).ok().map(|at| at.to_utc())
}

fn priority_name(priority: TaskPriority) -> &'static str {
    match priority {
        TaskPriority::High => "High",
        TaskPriority::Medium => "Normal",
        TaskPriority::Low => "Low",
    }
}

/// Upserts tasks `max_batch` a call. A record Zoho refused for good is that input's rejection; one refused for a
/// passing reason (a locked record, an internal error) fails the call, which is safe to send again whole: the
/// records already written are found by their key and updated, never added twice.
pub async fn create(
    api: &Api,
    external_key_field: &str,
    max_batch: usize,
    tasks: &[TaskWrite],
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let mut outcomes = Vec::with_capacity(tasks.len());
    for chunk in tasks.chunks(max_batch.max(1)) {
        let records: Vec<Map<String, Value>> = chunk.iter().map(|t| record_of(t, external_key_field, true)).collect();
        let body = json!({ "data": records, "duplicate_check_fields": [external_key_field] });
        let call = Call::write(Method::POST, UPSERT_PATH, &body, "upsert tasks")?;
        let answer = api.write(&call, chunk.len()).await?;
        outcomes.extend(outcomes_of(&answer, &records, chunk.iter().map(|t| t.external_key.as_str()))?);
    }
    Ok(outcomes)
}

/// Updates tasks in place, `max_batch` a call. The status is left alone: an owner who closed a task meanwhile
/// keeps it closed.
pub async fn update(
    api: &Api,
    external_key_field: &str,
    max_batch: usize,
    tasks: &[(String, TaskWrite)],
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let mut outcomes = Vec::with_capacity(tasks.len());
    for chunk in tasks.chunks(max_batch.max(1)) {
        let records: Vec<Map<String, Value>> = chunk
            .iter()
            .map(|(id, task)| {
                let mut record = record_of(task, external_key_field, false);
                record.insert("id".into(), json!(id));
                record
            })
            .collect();
        let call = Call::write(Method::PUT, MODULE_PATH, &json!({ "data": records }), "update tasks")?;
        let answer = api.write(&call, chunk.len()).await?;
        outcomes.extend(outcomes_of(&answer, &records, chunk.iter().map(|(_, t)| t.external_key.as_str()))?);
    }
    Ok(outcomes)
}

fn outcomes_of<'a>(
    answer: &RecordResults,
    sent: &[Map<String, Value>],
    keys: impl Iterator<Item = &'a str>,
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    answer
        .data
        .iter()
        .zip(sent)
        .zip(keys)
        .map(|((result, sent), key)| match result.written_id() {
            Some(id) => {
                Ok(TaskWriteOutcome::Written(TaskRef { task_id: id.to_owned(), external_key: Some(key.to_owned()) }))
            }
            None if result.is_transient() => {
                Err(CrmError::Unavailable(format!("task `{key}`: {}", result.refusal(sent))))
            }
            None => Ok(TaskWriteOutcome::Rejected { message: result.refusal(sent) }),
        })
        .collect()
}

pub async fn find_by_external_keys(
    api: &Api,
    external_key_field: &str,
    keys: &[String],
) -> Result<Vec<TaskRef>, CrmError> {
    let conditions: Vec<Condition> = keys.iter().map(|key| Condition::equals(external_key_field, key)).collect();
    let mut found = Vec::new();
    for criteria in any_of(&conditions) {
        let call = Call::get(SEARCH_PATH, "find tasks by external key")
            .query("criteria", criteria)
            .query("fields", external_key_field.to_owned());
        let Some(records) = api.read::<Records>(&call).await? else { continue };
        for record in &records.data {
            let key = text(record, external_key_field);
            // Zoho's `equals` ignores case; the key must match exactly.
            if let (Some(id), Some(key)) = (text(record, "id"), key)
                && keys.iter().any(|k| k == key)
            {
                found.push(TaskRef { task_id: id.to_owned(), external_key: Some(key.to_owned()) });
            }
        }
    }
    Ok(found)
}

pub async fn states(api: &Api, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
    let mut states = Vec::with_capacity(task_ids.len());
    for chunk in task_ids.chunks(READ_IDS) {
        let call = Call::get(MODULE_PATH, "read task states")
            .query("ids", chunk.join(","))
            .query("fields", "Status,Owner,Due_Date,Remind_At");
        let Some(records) = api.read::<Records>(&call).await? else { continue };
        states.extend(records.data.iter().filter_map(state_of));
    }
    Ok(states)
}

fn state_of(record: &Map<String, Value>) -> Option<TaskState> {
    let due_at =
        record.get("Remind_At").and_then(|r| r.get("ALARM")).and_then(Value::as_str).and_then(due_from_alarm).or_else(
            || {
                let date = NaiveDate::parse_from_str(text(record, "Due_Date")?, "%Y-%m-%d").ok()?;
                Some(date.and_hms_opt(0, 0, 0)?.and_utc())
            },
        );
    Some(TaskState {
        task_id: text(record, "id")?.to_owned(),
        completed: text(record, "Status") == Some(COMPLETED),
        owner_id: lookup_id(record, "Owner").map(str::to_owned),
        due_at,
    })
}

#[cfg(test)]
mod tests {
    use crate::wire::RecordResults;
    use chrono::TimeZone;
    use handoffd_contract::task::{LabelledFact, TaskKind, TaskText};

    use super::*;

    #[test]
    fn a_new_task_carries_its_key_status_and_due_time_in_the_reminder() {
        let due_at = Utc.with_ymd_and_hms(2026, 3, 7, 14, 30, 5).unwrap();
        let task = TaskWrite {
            external_key: "handoff-1".into(),
            contact_id: "5725767000000411001".into(),
            owner_id: Some("5725767000000326001".into()),
            text: TaskText {
                subject: "Call Rahul".into(),
                facts: vec![LabelledFact { label: "Need".into(), value: "2BHK".into() }],
                transcript_url: None,
            },
            due_at,
            priority: TaskPriority::Medium,
            kind: TaskKind::Call,
        };
        let record = Value::Object(record_of(&task, "Handoffd_Handoff_Id", true));
        assert_eq!(record["Due_Date"], "2026-03-07");
        assert_eq!(record["Priority"], "Normal");
        assert_eq!(record["Who_Id"]["id"], "5725767000000411001");
        assert_eq!(record["Handoffd_Handoff_Id"], "handoff-1");
        let alarm = record["Remind_At"]["ALARM"].as_str().unwrap();
        assert_eq!(due_from_alarm(alarm), Some(due_at), "{alarm}");
        let update = Value::Object(record_of(&task, "Handoffd_Handoff_Id", false));
        assert!(update.get("Status").is_none() && update.get("Handoffd_Handoff_Id").is_none());
    }

    #[test]
    fn per_record_refusals_are_permanent_unless_they_pass_by_themselves() {
        let answer: RecordResults = serde_json::from_value(json!({"data": [
            {"code": "SUCCESS", "details": {"id": "1"}, "message": "record added", "status": "success"},
            {"code": "INVALID_DATA", "details": {"api_name": "Owner"}, "message": "invalid data", "status": "error"},
        ]}))
        .unwrap();
        let sent = vec![Map::new(), json!({"Owner": {"id": "987654321"}}).as_object().unwrap().clone()];
        let outcomes = outcomes_of(&answer, &sent, ["a", "b"].into_iter()).unwrap();
        assert!(matches!(&outcomes[0], TaskWriteOutcome::Written(r) if r.task_id == "1"));
        assert!(matches!(&outcomes[1], TaskWriteOutcome::Rejected { message } if message.contains("987654321")));

        let locked: RecordResults = serde_json::from_value(json!({"data": [
            {"code": "RECORD_LOCKED", "details": {}, "message": "the record is locked", "status": "error"},
        ]}))
        .unwrap();
        let error = outcomes_of(&locked, &[Map::new()], ["a"].into_iter()).unwrap_err();
        assert!(error.is_retriable(), "{error}");
    }
}

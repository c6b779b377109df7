//! Tasks: upserted on the external id field through sObject Collections (so a write sent twice is one task),
//! updated by id, looked up by external id, and read back for the SLA watcher. Collections answer in input order.

use std::collections::HashMap;

use chrono_tz::Tz;
use handoffd_contract::crm::{CrmError, TaskWriteOutcome};
use handoffd_contract::task::{TaskKind, TaskPriority, TaskRef, TaskState, TaskWrite};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::classify::record_error;
use crate::client::{Api, KEYS_PER_QUERY, id_list};
use crate::soql::in_list;
use crate::wire::{Describe, SaveResult, TaskRecord, format_datetime, parse_date, parse_datetime};

/// Salesforce's limit for `Subject`.
pub const SUBJECT_MAX_CHARS: usize = 255;

/// What a task is written with: the external id field, and the date zone of each owner.
pub struct TaskFields<'a> {
    pub external_id_field: &'a str,
    pub owner_zones: &'a HashMap<String, Tz>,
    pub default_zone: Tz,
}

/// The external id field must exist on Task and be an External ID, or upserts cannot work.
pub async fn check_external_id_field(api: &Api, field: &str) -> Result<(), CrmError> {
    let describe: Describe = api.json(&api.get("/sobjects/Task/describe", "describe Task")).await?;
    let how = "create it on Activity as Text (255), with \"External ID\" and \"Unique\" set, visible to the \
               integration user";
    match describe.fields.iter().find(|f| f.name.eq_ignore_ascii_case(field)) {
        None => Err(CrmError::Rejected {
            status: 400,
            message: format!("the Task field `{field}` (external_id_field) does not exist or is not visible: {how}"),
        }),
        Some(found) if !found.external_id => Err(CrmError::Rejected {
            status: 400,
            message: format!("the Task field `{field}` (external_id_field) is not an External ID: {how}"),
        }),
        Some(found) => {
            if !found.unique {
                tracing::warn!(
                    "The Task field `{field}` is not unique: Salesforce will not refuse a second task with the same handoff id."
                );
            }
            Ok(())
        }
    }
}

pub async fn create(
    api: &Api,
    max_batch: usize,
    fields: &TaskFields<'_>,
    tasks: &[TaskWrite],
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let path = format!("/composite/sobjects/Task/{}", fields.external_id_field);
    let mut outcomes = Vec::with_capacity(tasks.len());
    for batch in tasks.chunks(max_batch.max(1)) {
        let records: Vec<Value> = batch
            .iter()
            .map(|task| {
                let mut record = task_record(fields, task);
                record.insert(fields.external_id_field.to_owned(), json!(task.external_key));
                record.insert("Status".into(), json!("Not Started"));
                Value::Object(record)
            })
            .collect();
        let body = json!({"allOrNone": false, "records": records});
        let saved: Vec<SaveResult> = api.json(&api.write(Method::PATCH, &path, &body, "upsert tasks")?).await?;
        let keys: Vec<&str> = batch.iter().map(|t| t.external_key.as_str()).collect();
        outcomes.extend(outcomes_of(saved, &keys, "upsert tasks")?);
    }
    Ok(outcomes)
}

pub async fn update(
    api: &Api,
    max_batch: usize,
    fields: &TaskFields<'_>,
    tasks: &[(String, TaskWrite)],
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let mut outcomes = Vec::with_capacity(tasks.len());
    for batch in tasks.chunks(max_batch.max(1)) {
        let records: Vec<Value> = batch
            .iter()
            .map(|(id, task)| {
                let mut record = task_record(fields, task);
                record.insert("id".into(), json!(id));
                Value::Object(record)
            })
            .collect();
        let body = json!({"allOrNone": false, "records": records});
        let call = api.write(Method::PATCH, "/composite/sobjects", &body, "update tasks")?;
        let saved: Vec<SaveResult> = api.json(&call).await?;
        let keys: Vec<&str> = batch.iter().map(|(_, t)| t.external_key.as_str()).collect();
        outcomes.extend(outcomes_of(saved, &keys, "update tasks")?);
    }
    Ok(outcomes)
}

/// The Task fields a write sets: the date the task is due in its owner's zone, the exact time as the reminder.
fn task_record(fields: &TaskFields<'_>, task: &TaskWrite) -> Map<String, Value> {
    let zone = task.owner_id.as_ref().and_then(|o| fields.owner_zones.get(o)).copied().unwrap_or(fields.default_zone);
    let mut record = Map::new();
    record.insert("attributes".into(), json!({"type": "Task"}));
    record.insert("Subject".into(), json!(task.text.subject.chars().take(SUBJECT_MAX_CHARS).collect::<String>()));
    record.insert("Description".into(), json!(task.text.to_plain()));
    record.insert("ActivityDate".into(), json!(task.due_at.with_timezone(&zone).date_naive().to_string()));
    record.insert("ReminderDateTime".into(), json!(format_datetime(task.due_at)));
    record.insert("IsReminderSet".into(), json!(true));
    record.insert("WhoId".into(), json!(task.contact_id));
    if let Some(owner) = &task.owner_id {
        record.insert("OwnerId".into(), json!(owner));
    }
    let priority = match task.priority {
        TaskPriority::High => "High",
        TaskPriority::Medium => "Normal",
        TaskPriority::Low => "Low",
    };
    record.insert("Priority".into(), json!(priority));
    let kind = match task.kind {
        TaskKind::Call => "Call",
        TaskKind::Email => "Email",
        TaskKind::Todo => "Other",
    };
    record.insert("Type".into(), json!(kind));
    record
}

/// One outcome per input from a collections answer in input order. A record refused for now fails the call (sent
/// again whole: upserts and updates by id are safe to repeat).
fn outcomes_of(saved: Vec<SaveResult>, keys: &[&str], what: &str) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    if saved.len() != keys.len() {
        return Err(CrmError::Protocol(format!("{what}: {} results for {} tasks", saved.len(), keys.len())));
    }
    saved
        .into_iter()
        .zip(keys)
        .map(|(result, key)| match (result.success, result.id) {
            (true, Some(id)) => {
                Ok(TaskWriteOutcome::Written(TaskRef { task_id: id, external_key: Some((*key).to_owned()) }))
            }
            (true, None) => Err(CrmError::Protocol(format!("{what}: a saved task has no id"))),
            (false, _) => record_error(&result.errors).map(|message| TaskWriteOutcome::Rejected { message }),
        })
        .collect()
}

pub async fn find_by_external_keys(
    api: &Api,
    external_id_field: &str,
    keys: &[String],
) -> Result<Vec<TaskRef>, CrmError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let Some(condition) = in_list(external_id_field, chunk.iter().map(String::as_str)) else { continue };
        let soql = format!("SELECT Id, {external_id_field} FROM Task WHERE {condition}");
        let records: Vec<TaskRecord> = api.query(&soql, "find tasks by external id").await?;
        found.extend(records.into_iter().map(|record| {
            let key = record
                .other
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(external_id_field))
                .and_then(|(_, value)| value.as_str().map(str::to_owned));
            TaskRef { task_id: record.id, external_key: key }
        }));
    }
    Ok(found)
}

pub async fn states(api: &Api, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
    let mut states = Vec::with_capacity(task_ids.len());
    for chunk in task_ids.chunks(KEYS_PER_QUERY * 2) {
        let Some(condition) = id_list("Id", chunk.iter().map(String::as_str)) else { continue };
        let soql = format!("SELECT Id, IsClosed, OwnerId, ReminderDateTime, ActivityDate FROM Task WHERE {condition}");
        let records: Vec<TaskRecord> = api.query(&soql, "read task states").await?;
        states.extend(records.into_iter().map(|record| {
            TaskState {
                completed: record.is_closed.unwrap_or(false),
                owner_id: record.owner_id,
                due_at: record
                    .reminder_date_time
                    .as_deref()
                    .and_then(parse_datetime)
                    .or_else(|| record.activity_date.as_deref().and_then(parse_date)),
                task_id: record.id,
            }
        }));
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use handoffd_contract::task::TaskText;

    use super::*;
    use crate::wire::SaveError;

    fn task(owner: Option<&str>) -> TaskWrite {
        TaskWrite {
            external_key: "handoff-1".into(),
            contact_id: "003000000000001AAA".into(),
            owner_id: owner.map(str::to_owned),
            text: TaskText { subject: "Call Rahul".into(), facts: vec![], transcript_url: None },
            due_at: Utc.with_ymd_and_hms(2026, 12, 5, 20, 30, 0).unwrap(),
            priority: TaskPriority::Medium,
            kind: TaskKind::Call,
        }
    }

    #[test]
    fn the_due_date_is_the_owners_and_the_time_is_the_reminder() {
        let zones = HashMap::from([("005000000000001AAA".to_owned(), chrono_tz::Asia::Kolkata)]);
        let fields =
            TaskFields { external_id_field: "Handoffd_Handoff_Id__c", owner_zones: &zones, default_zone: Tz::UTC };
        // 20:30 UTC is 02:00 the next day in Kolkata.
        let record = task_record(&fields, &task(Some("005000000000001AAA")));
        assert_eq!(record["ActivityDate"], "2026-12-06");
        assert_eq!(record["ReminderDateTime"], "2026-12-05T20:30:00.000Z");
        assert_eq!((record["IsReminderSet"].as_bool(), record["Priority"].as_str()), (Some(true), Some("Normal")));
        assert_eq!(task_record(&fields, &task(None))["ActivityDate"], "2026-12-05");
    }

    #[test]
    fn results_follow_their_inputs_and_lock_errors_are_retried() {
        let saved = |success: bool, code: &str| SaveResult {
            id: success.then(|| "00T000000000001AAA".to_owned()),
            success,
            errors: if success {
                vec![]
            } else {
                vec![SaveError { status_code: code.into(), message: "m".into(), fields: vec![] }]
            },
        };
        let outcomes =
            outcomes_of(vec![saved(true, ""), saved(false, "FIELD_INTEGRITY_EXCEPTION")], &["a", "b"], "x").unwrap();
        assert!(matches!(&outcomes[0], TaskWriteOutcome::Written(r) if r.external_key.as_deref() == Some("a")));
        assert!(matches!(&outcomes[1], TaskWriteOutcome::Rejected { message } if message.contains("FIELD_INTEGRITY")));
        assert!(outcomes_of(vec![saved(false, "UNABLE_TO_LOCK_ROW")], &["a"], "x").is_err());
        assert!(matches!(outcomes_of(vec![], &["a"], "x"), Err(CrmError::Protocol(_))));
    }
}

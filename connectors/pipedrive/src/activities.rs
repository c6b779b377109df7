//! Activities (Pipedrive's tasks), written one a call through API v2 (`/api/v2/activities`, where Pipedrive has
//! moved activities: v2 has the priority, the owner and a read by several ids), and found again by the handoff id.
//!
//! Idempotency: a Pipedrive activity has no field an API client can make unique, no upsert, and no search (the
//! item search covers deals, persons, organisations, products and files, not activities). So the note ends with a
//! marker, `[handoffd:<handoff id>]`, and a write whose answer was lost is looked for among the activities changed
//! in the last `lookup_window` (`GET /v1/activities/collection?since=`, 500 a page), matched by that marker. The
//! scan costs a few list calls, but only after a lost answer, which is rare; the marker is also what a person in
//! Pipedrive sees to tie the activity to its handoff.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use handoffd_contract::crm::{CrmError, TaskWriteOutcome};
use handoffd_contract::task::{TaskKind, TaskPriority, TaskRef, TaskState, TaskWrite, escape_html};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::client::{Api, Call, Cost};

/// How long a call is planned for, in the owner's calendar.
const DURATION: &str = "00:15";
const MARKER_OPEN: &str = "[handoffd:";

/// The ids of the activity priority options, by the contract's priority (read once from `activityFields`).
#[derive(Debug, Default)]
pub struct Priorities(OnceCell<HashMap<TaskPriorityKey, u64>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskPriorityKey {
    High,
    Medium,
    Low,
}

impl From<TaskPriority> for TaskPriorityKey {
    fn from(priority: TaskPriority) -> Self {
        match priority {
            TaskPriority::High => Self::High,
            TaskPriority::Medium => Self::Medium,
            TaskPriority::Low => Self::Low,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Field {
    key: String,
    #[serde(default)]
    options: Vec<FieldOption>,
}

#[derive(Debug, Deserialize)]
struct FieldOption {
    id: Value,
    label: String,
}

impl Priorities {
    /// The option ids of the `priority` activity field; a company without one writes no priority.
    pub async fn load(&self, api: &Api) -> Result<&HashMap<TaskPriorityKey, u64>, CrmError> {
        self.0
            .get_or_try_init(|| async {
                let call = Call::get("/v1/activityFields", Cost::List, "read activity fields");
                let fields = api.json::<Vec<Field>>(&call).await?.data.unwrap_or_default();
                let mut ids = HashMap::new();
                for option in fields.into_iter().filter(|f| f.key == "priority").flat_map(|f| f.options) {
                    let id = option.id.as_u64().or_else(|| option.id.as_str().and_then(|s| s.parse().ok()));
                    let key = match option.label.to_lowercase().as_str() {
                        "high" => TaskPriorityKey::High,
                        "medium" | "normal" => TaskPriorityKey::Medium,
                        "low" => TaskPriorityKey::Low,
                        _ => continue,
                    };
                    if let Some(id) = id {
                        ids.insert(key, id);
                    }
                }
                if ids.is_empty() {
                    tracing::warn!("Pipedrive has no activity priority options; activities are written without one.");
                }
                Ok(ids)
            })
            .await
    }
}

fn marker(key: &str) -> String {
    format!("{MARKER_OPEN}{}]", escape_html(key))
}

/// The handoff id an activity's note carries.
fn key_in(note: &str) -> Option<String> {
    let start = note.rfind(MARKER_OPEN)? + MARKER_OPEN.len();
    let end = note[start..].find(']')? + start;
    Some(unescape_html(&note[start..end]))
}

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn person_id(task: &TaskWrite) -> Result<u64, String> {
    task.contact_id.parse().map_err(|_| format!("`{}` is not a Pipedrive person id", task.contact_id))
}

fn body_of(task: &TaskWrite, priorities: &HashMap<TaskPriorityKey, u64>, creating: bool) -> Result<Value, String> {
    let due = task.due_at;
    let mut body = json!({
        "subject": task.text.subject,
        "type": match task.kind {
            TaskKind::Call => "call",
            TaskKind::Todo => "task",
            TaskKind::Email => "email",
        },
        "due_date": due.date_naive().to_string(),
        // UTC, as Pipedrive reads it; seconds kept so the due time comes back as it was written.
        "due_time": due.time().format("%H:%M:%S").to_string(),
        "duration": DURATION,
        "person_id": person_id(task)?,
        "note": format!("{}<p>{}</p>", task.text.to_html(), marker(&task.external_key)),
    });
    if let Some(owner) = &task.owner_id {
        let owner: u64 = owner.parse().map_err(|_| format!("`{owner}` is not a Pipedrive user id"))?;
        body["owner_id"] = json!(owner);
    }
    if let Some(priority) = priorities.get(&task.priority.into()) {
        body["priority"] = json!(priority);
    }
    if creating {
        body["done"] = json!(false);
    }
    Ok(body)
}

#[derive(Debug, Deserialize)]
struct Activity {
    id: u64,
    #[serde(default)]
    done: Option<Value>,
    #[serde(default)]
    owner_id: Option<Value>,
    #[serde(default)]
    user_id: Option<Value>,
    #[serde(default)]
    due_date: Option<String>,
    #[serde(default)]
    due_time: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

impl Activity {
    fn due_at(&self) -> Option<DateTime<Utc>> {
        let date = NaiveDate::parse_from_str(self.due_date.as_deref()?, "%Y-%m-%d").ok()?;
        let time = match self.due_time.as_deref().filter(|t| !t.is_empty()) {
            Some(time) => NaiveTime::parse_from_str(time, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
                .ok()?,
            None => NaiveTime::MIN,
        };
        Some(date.and_time(time).and_utc())
    }

    fn is_done(&self) -> bool {
        matches!(self.done, Some(Value::Bool(true))) || self.done.as_ref().and_then(Value::as_u64) == Some(1)
    }

    fn owner(&self) -> Option<String> {
        let id = self.owner_id.as_ref().or(self.user_id.as_ref())?;
        id.as_u64().map(|id| id.to_string()).or_else(|| id.get("id").and_then(Value::as_u64).map(|id| id.to_string()))
    }
}

/// Writes tasks one a call. A task Pipedrive refuses (400, 404) is that task's rejection. Any other failure
/// ends the round: before anything was written it is the call's error; after, the outcome of the round is unknown
/// and the caller looks the tasks up by their keys before writing again.
pub async fn create(
    api: &Api,
    priorities: &Priorities,
    tasks: &[TaskWrite],
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let priorities = priorities.load(api).await?;
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        let body = match body_of(task, priorities, true) {
            Ok(body) => body,
            Err(message) => {
                outcomes.push(TaskWriteOutcome::Rejected { message });
                continue;
            }
        };
        let call = Call::write(Method::POST, "/api/v2/activities", &body, "create an activity")?;
        match api.json::<Activity>(&call).await {
            Ok(answer) => {
                let id = answer
                    .data
                    .ok_or_else(|| CrmError::Protocol("create an activity: no activity in the answer".into()))?
                    .id;
                outcomes.push(TaskWriteOutcome::Written(TaskRef {
                    task_id: id.to_string(),
                    external_key: Some(task.external_key.clone()),
                }));
            }
            Err(CrmError::Rejected { message, .. }) => outcomes.push(TaskWriteOutcome::Rejected { message }),
            Err(error) if outcomes.iter().any(|o| matches!(o, TaskWriteOutcome::Written(_))) => {
                return Err(CrmError::OutcomeUnknown(format!(
                    "{} of {} activities were written before: {error}",
                    outcomes.len(),
                    tasks.len()
                )));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(outcomes)
}

pub async fn update(
    api: &Api,
    priorities: &Priorities,
    tasks: &[(String, TaskWrite)],
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let priorities = priorities.load(api).await?;
    let mut outcomes = Vec::with_capacity(tasks.len());
    for (id, task) in tasks {
        let body = match (id.parse::<u64>(), body_of(task, priorities, false)) {
            (Ok(_), Ok(body)) => body,
            (Err(_), _) => {
                outcomes.push(TaskWriteOutcome::Rejected { message: format!("`{id}` is not a Pipedrive activity id") });
                continue;
            }
            (_, Err(message)) => {
                outcomes.push(TaskWriteOutcome::Rejected { message });
                continue;
            }
        };
        let call = Call::write(Method::PATCH, format!("/api/v2/activities/{id}"), &body, "update an activity")?;
        match api.json::<Activity>(&call).await {
            Ok(_) => outcomes.push(TaskWriteOutcome::Written(TaskRef {
                task_id: id.clone(),
                external_key: Some(task.external_key.clone()),
            })),
            Err(CrmError::Rejected { message, .. }) => outcomes.push(TaskWriteOutcome::Rejected { message }),
            // An update sent twice does no harm: the whole round can be sent again.
            Err(error) => return Err(error),
        }
    }
    Ok(outcomes)
}

/// The activities changed in the last `window` whose note carries one of `keys`.
pub async fn find_by_external_keys(
    api: &Api,
    window: std::time::Duration,
    keys: &[String],
) -> Result<Vec<TaskRef>, CrmError> {
    let since = Utc::now() - chrono::Duration::from_std(window).unwrap_or_default();
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut call = Call::get("/v1/activities/collection", Cost::List, "find activities by handoff id")
            .query("since", since.format("%Y-%m-%d %H:%M:%S").to_string())
            .query("limit", "500");
        if let Some(cursor) = &cursor {
            call = call.query("cursor", cursor.clone());
        }
        let answer = api.json::<Vec<Activity>>(&call).await?;
        for activity in answer.data.unwrap_or_default() {
            if let Some(key) = activity.note.as_deref().and_then(key_in)
                && keys.contains(&key)
                && !found.iter().any(|t: &TaskRef| t.external_key.as_deref() == Some(key.as_str()))
            {
                found.push(TaskRef { task_id: activity.id.to_string(), external_key: Some(key) });
            }
        }
        cursor = answer
            .additional_data
            .as_ref()
            .and_then(|d| d.get("next_cursor"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() || found.len() == keys.len() {
            break;
        }
    }
    Ok(found)
}

/// Up to 100 activities a call, by id (API v2).
pub async fn states(api: &Api, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
    let mut states = Vec::with_capacity(task_ids.len());
    for chunk in task_ids.chunks(100) {
        let call = Call::get("/api/v2/activities", Cost::List, "read activity states")
            .query("ids", chunk.join(","))
            .query("limit", "100");
        let answer = api.json::<Vec<Activity>>(&call).await?;
        states.extend(answer.data.unwrap_or_default().into_iter().map(|activity| TaskState {
            task_id: activity.id.to_string(),
            completed: activity.is_done(),
            owner_id: activity.owner(),
            due_at: activity.due_at(),
        }));
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use handoffd_contract::task::{LabelledFact, TaskText};

    use super::*;

    fn task(key: &str) -> TaskWrite {
        TaskWrite {
            external_key: key.into(),
            contact_id: "42".into(),
            owner_id: Some("7".into()),
            text: TaskText {
                subject: "Call Rahul".into(),
                facts: vec![LabelledFact { label: "Need".into(), value: "2BHK <near> metro".into() }],
                transcript_url: None,
            },
            due_at: Utc.with_ymd_and_hms(2026, 3, 7, 14, 30, 5).unwrap(),
            priority: TaskPriority::High,
            kind: TaskKind::Call,
        }
    }

    #[test]
    fn the_note_is_escaped_html_ending_with_the_key() {
        let priorities = HashMap::from([(TaskPriorityKey::High, 263)]);
        let body = body_of(&task("handoff-<1>"), &priorities, true).unwrap();
        let note = body["note"].as_str().unwrap();
        assert!(note.contains("2BHK &lt;near&gt; metro"), "{note}");
        assert_eq!(key_in(note).as_deref(), Some("handoff-<1>"));
        assert_eq!((body["due_date"].as_str(), body["due_time"].as_str()), (Some("2026-03-07"), Some("14:30:05")));
        assert_eq!(
            (body["owner_id"].as_u64(), body["person_id"].as_u64(), body["priority"].as_u64()),
            (Some(7), Some(42), Some(263))
        );
        let mut bad = task("k");
        bad.owner_id = Some("asha@example.com".into());
        assert!(body_of(&bad, &priorities, true).unwrap_err().contains("not a Pipedrive user id"));
    }
}

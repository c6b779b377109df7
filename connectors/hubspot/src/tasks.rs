//! Tasks: batch create (associated with their contact), batch update, lookup by external key,
//! and state reads for the SLA watcher. Results are matched to inputs by key, never by order.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Range;

use chrono::SecondsFormat;
use handoffd_contract::crm::{CrmError, TaskWriteOutcome};
use handoffd_contract::task::{TaskKind, TaskPriority, TaskRef, TaskState, TaskWrite};

use crate::client::{Api, Call};
use crate::contacts::parse_time;
use crate::wire::{
    ApiError, Association, AssociationTarget, AssociationType, BatchInputs, BatchReadRequest, BatchResponse,
    CreateInput, CrmObject, EXTERNAL_KEY_PROPERTY, Filter, FilterGroup, ObjectId, Page, PropertyCreate, SearchRequest,
    TASK_TO_CONTACT, UpdateInput,
};

/// Longest subject we send: HubSpot shows subjects on one line, and the brief asks for under 80.
pub const SUBJECT_MAX_CHARS: usize = 200;

pub async fn prepare(api: &Api) -> Result<(), CrmError> {
    let path = format!("/crm/v3/properties/tasks/{EXTERNAL_KEY_PROPERTY}");
    match api.send(&Call::get(path, "read the task property `handoffd_handoff_id`")).await {
        Ok(_) => return Ok(()),
        Err(CrmError::Rejected { status: 404, .. }) => {}
        Err(e) => return Err(e),
    }
    let property = PropertyCreate {
        name: EXTERNAL_KEY_PROPERTY,
        label: "handoffd handoff id",
        kind: "string",
        field_type: "text",
        group_name: "taskinformation",
    };
    let call = Call::write("/crm/v3/properties/tasks", &property, "create the task property `handoffd_handoff_id`")?;
    match api.send(&call).await {
        // 409: another instance created it meanwhile.
        Ok(_) | Err(CrmError::Rejected { status: 409, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn create(api: &Api, max_batch: usize, tasks: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let inputs = tasks.iter().map(create_input).collect::<Vec<_>>();
    let keys = tasks.iter().map(|t| t.external_key.clone()).collect::<Vec<_>>();
    write_in_batches(api, max_batch, "/crm/v3/objects/tasks/batch/create", "create tasks", &inputs, &keys, |o| {
        o.prop(EXTERNAL_KEY_PROPERTY).or(o.object_write_trace_id.as_deref()).map(str::to_owned)
    })
    .await
}

pub async fn update(
    api: &Api,
    max_batch: usize,
    tasks: &[(String, TaskWrite)],
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let inputs = tasks
        .iter()
        .map(|(id, task)| UpdateInput { id: id.clone(), properties: content_properties(task) })
        .collect::<Vec<_>>();
    let keys = tasks.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
    let mut outcomes =
        write_in_batches(api, max_batch, "/crm/v3/objects/tasks/batch/update", "update tasks", &inputs, &keys, |o| {
            Some(o.id.clone())
        })
        .await?;
    // The caller knows tasks by external key: report it, not the matching key (the task id).
    for (outcome, (_, task)) in outcomes.iter_mut().zip(tasks) {
        if let TaskWriteOutcome::Written(task_ref) = outcome {
            task_ref.external_key = Some(task.external_key.clone());
        }
    }
    Ok(outcomes)
}

/// Sends `inputs` in batches of `max_batch` and matches each answer to its input by `keys`
/// (`key_of` reads the key off a result).
///
/// A batch HubSpot refuses as a whole (a 4xx such as one unknown owner id) applied nothing, so
/// it is split in halves and sent again until the refused inputs stand alone: one bad task does
/// not take the others down. Once a batch has been written, a later failure of any kind is
/// reported as an unknown outcome, so the deliverer looks the tasks up before writing again.
async fn write_in_batches<T: serde::Serialize>(
    api: &Api,
    max_batch: usize,
    path: &'static str,
    what: &'static str,
    inputs: &[T],
    keys: &[String],
    key_of: impl Fn(&CrmObject) -> Option<String>,
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let mut outcomes: Vec<Option<TaskWriteOutcome>> = vec![None; inputs.len()];
    let mut pending: VecDeque<Range<usize>> =
        (0..inputs.len()).step_by(max_batch.max(1)).map(|s| s..(s + max_batch).min(inputs.len())).collect();
    let mut written_any = false;
    while let Some(range) = pending.pop_front() {
        let body = BatchInputs { inputs: &inputs[range.clone()] };
        match api.json::<BatchResponse>(&Call::write(path, &body, what)?).await {
            Ok(answer) => {
                written_any = true;
                let ids =
                    answer.results.iter().filter_map(|o| Some((key_of(o)?, o.id.clone()))).collect::<HashMap<_, _>>();
                for i in range {
                    outcomes[i] = Some(match ids.get(&keys[i]) {
                        Some(id) => TaskWriteOutcome::Written(TaskRef {
                            task_id: id.clone(),
                            external_key: Some(keys[i].clone()),
                        }),
                        None => TaskWriteOutcome::Rejected { message: error_for(&keys[i], &answer.errors) },
                    });
                }
            }
            Err(CrmError::Rejected { .. }) if range.len() > 1 => {
                let middle = range.start + range.len() / 2;
                pending.push_front(middle..range.end);
                pending.push_front(range.start..middle);
            }
            Err(CrmError::Rejected { status, message }) => {
                outcomes[range.start] = Some(TaskWriteOutcome::Rejected { message: format!("{message} ({status})") });
            }
            Err(e) if written_any => {
                return Err(CrmError::OutcomeUnknown(format!(
                    "{what}: a later batch failed after earlier ones were written: {e}"
                )));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| TaskWriteOutcome::Rejected { message: "not sent".into() }))
        .collect())
}

/// The message of the 207 error that belongs to `key`: the one whose context names it, else
/// the only one, else all of them.
fn error_for(key: &str, errors: &[ApiError]) -> String {
    if let Some(e) = errors.iter().find(|e| e.mentions(key) || e.message.contains(key)) {
        return e.message.clone();
    }
    match errors {
        [] => "HubSpot returned neither a task nor an error for this input".to_owned(),
        [only] => only.message.clone(),
        many => many.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "),
    }
}

fn create_input(task: &TaskWrite) -> CreateInput {
    let mut properties = content_properties(task);
    properties.insert("hs_task_status", "NOT_STARTED".to_owned());
    CreateInput {
        properties,
        associations: vec![Association {
            to: AssociationTarget { id: task.contact_id.clone() },
            types: vec![AssociationType {
                association_category: "HUBSPOT_DEFINED",
                association_type_id: TASK_TO_CONTACT,
            }],
        }],
        object_write_trace_id: task.external_key.clone(),
    }
}

/// What a task says and when it is due; the status is left alone on updates so an owner's
/// progress is never reset.
fn content_properties(task: &TaskWrite) -> BTreeMap<&'static str, String> {
    let mut properties = BTreeMap::new();
    properties.insert("hs_task_subject", truncate(&task.text.subject, SUBJECT_MAX_CHARS));
    properties.insert("hs_task_body", task.text.to_html());
    properties.insert("hs_timestamp", task.due_at.to_rfc3339_opts(SecondsFormat::Millis, true));
    if let Some(owner) = &task.owner_id {
        properties.insert("hubspot_owner_id", owner.clone());
    }
    let priority = match task.priority {
        TaskPriority::Low => "LOW",
        TaskPriority::Medium => "MEDIUM",
        TaskPriority::High => "HIGH",
    };
    properties.insert("hs_task_priority", priority.to_owned());
    let kind = match task.kind {
        TaskKind::Call => "CALL",
        TaskKind::Todo => "TODO",
        TaskKind::Email => "EMAIL",
    };
    properties.insert("hs_task_type", kind.to_owned());
    properties.insert(EXTERNAL_KEY_PROPERTY, task.external_key.clone());
    properties
}

/// At most `max` characters, cut on a character boundary, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut = text.chars().take(max.saturating_sub(1)).collect::<String>();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

pub async fn find_by_external_keys(api: &Api, keys: &[String]) -> Result<Vec<TaskRef>, CrmError> {
    let wanted = keys.iter().collect::<HashSet<_>>();
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for chunk in keys.chunks(100) {
        let mut after = None;
        loop {
            let request = SearchRequest {
                filter_groups: vec![FilterGroup {
                    filters: vec![Filter::is_in(EXTERNAL_KEY_PROPERTY, chunk.to_vec())],
                }],
                properties: vec![EXTERNAL_KEY_PROPERTY],
                limit: 100,
                after,
                sorts: Vec::new(),
            };
            let page: Page<CrmObject> =
                api.json(&Call::search("/crm/v3/objects/tasks/search", &request, "find tasks by handoff id")?).await?;
            for object in &page.results {
                let key = object.prop(EXTERNAL_KEY_PROPERTY).map(str::to_owned);
                if key.as_ref().is_some_and(|k| wanted.contains(k)) && seen.insert(object.id.clone()) {
                    found.push(TaskRef { task_id: object.id.clone(), external_key: key });
                }
            }
            match page.next_after() {
                Some(next) if !page.results.is_empty() => after = Some(next.to_owned()),
                _ => break,
            }
        }
    }
    Ok(found)
}

pub async fn states(api: &Api, max_batch: usize, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
    let mut states = Vec::with_capacity(task_ids.len());
    for chunk in task_ids.chunks(max_batch.max(1)) {
        let request = BatchReadRequest {
            inputs: chunk.iter().map(|id| ObjectId { id: id.clone() }).collect(),
            properties: vec!["hs_task_status", "hubspot_owner_id", "hs_timestamp", EXTERNAL_KEY_PROPERTY],
        };
        let call = Call::read_post("/crm/v3/objects/tasks/batch/read", &request, "read task states")?;
        // A 207 lists ids HubSpot no longer has (deleted tasks): they are absent from the answer.
        let answer: BatchResponse = api.json(&call).await?;
        states.extend(answer.results.iter().map(|o| TaskState {
            task_id: o.id.clone(),
            completed: o.prop("hs_task_status") == Some("COMPLETED"),
            owner_id: o.prop("hubspot_owner_id").map(str::to_owned),
            due_at: o.prop("hs_timestamp").and_then(parse_time),
        }));
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_cuts_on_character_boundaries() {
        assert_eq!(truncate("short", 10), "short");
        let long = "नमस्ते ".repeat(50);
        let cut = truncate(&long, 20);
        assert!(cut.chars().count() <= 20, "{cut}");
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn errors_are_matched_by_key_then_alone() {
        let e = |m: &str, ctx: Option<&str>| ApiError {
            message: m.into(),
            context: ctx.map(|c| [("objectWriteTraceId".to_owned(), serde_json::json!([c]))].into()),
            ..Default::default()
        };
        let errors = [e("bad a", Some("h-a")), e("bad b", Some("h-b"))];
        assert_eq!(error_for("h-b", &errors), "bad b");
        assert_eq!(error_for("h-z", &[e("only", None)]), "only");
        assert_eq!(error_for("h-z", &errors), "bad a; bad b");
    }
}

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
    write_in_batches(api, max_batch, "/crm/v3/objects/tasks/batch/create", CREATE_TASKS, &inputs, &keys, created_key)
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
    let mut outcomes = write_in_batches(
        api,
        max_batch,
        "/crm/v3/objects/tasks/batch/update",
        UPDATE_TASKS,
        &inputs,
        &keys,
        updated_key,
    )
    .await?;
    report_external_keys(&mut outcomes, tasks.iter().map(|(_, task)| &task.external_key));
    Ok(outcomes)
}

pub const CREATE_TASKS: &str = "create tasks";
pub const UPDATE_TASKS: &str = "update tasks";

/// The key a batch/create result is matched by: the external key property, else the write trace id.
pub fn created_key(object: &CrmObject) -> Option<String> {
    object.prop(EXTERNAL_KEY_PROPERTY).or(object.object_write_trace_id.as_deref()).map(str::to_owned)
}

/// The key a batch/update result is matched by: the task id.
pub fn updated_key(object: &CrmObject) -> Option<String> {
    Some(object.id.clone())
}

/// Updates are matched by task id, but the caller knows tasks by external key: report that.
pub fn report_external_keys<'k>(outcomes: &mut [TaskWriteOutcome], external_keys: impl Iterator<Item = &'k String>) {
    for (outcome, key) in outcomes.iter_mut().zip(external_keys) {
        if let TaskWriteOutcome::Written(task_ref) = outcome {
            task_ref.external_key = Some(key.clone());
        }
    }
}

/// Sends `inputs` in batches of `max_batch` and matches each answer to its input by `keys`
/// (`key_of` reads the key off a result); see [`BatchWrite`].
async fn write_in_batches<T: serde::Serialize>(
    api: &Api,
    max_batch: usize,
    path: &'static str,
    what: &'static str,
    inputs: &[T],
    keys: &[String],
    key_of: fn(&CrmObject) -> Option<String>,
) -> Result<Vec<TaskWriteOutcome>, CrmError> {
    let mut batches = BatchWrite::new(keys, max_batch, what, key_of);
    while let Some(range) = batches.next_batch() {
        let body = BatchInputs { inputs: &inputs[range.clone()] };
        let answer = api.json::<BatchResponse>(&Call::write(path, &body, what)?).await;
        batches.record(range, answer)?;
    }
    Ok(batches.finish())
}

/// The bookkeeping of a batched write, apart from the HTTP calls (so answers can be replayed).
///
/// A batch HubSpot refuses as a whole (a 4xx such as one unknown owner id) applied nothing, so
/// it is split in halves and sent again until the refused inputs stand alone: one bad task does
/// not take the others down. Once a batch has been written, a later failure of any kind is
/// reported as an unknown outcome, so the deliverer looks the tasks up before writing again.
pub struct BatchWrite<'k> {
    keys: &'k [String],
    what: &'static str,
    key_of: fn(&CrmObject) -> Option<String>,
    outcomes: Vec<Option<TaskWriteOutcome>>,
    pending: VecDeque<Range<usize>>,
    written_any: bool,
}

impl<'k> BatchWrite<'k> {
    pub fn new(
        keys: &'k [String],
        max_batch: usize,
        what: &'static str,
        key_of: fn(&CrmObject) -> Option<String>,
    ) -> Self {
        let max_batch = max_batch.max(1);
        let pending = (0..keys.len()).step_by(max_batch).map(|s| s..(s + max_batch).min(keys.len())).collect();
        Self { keys, what, key_of, outcomes: vec![None; keys.len()], pending, written_any: false }
    }

    /// The inputs to send next.
    pub fn next_batch(&mut self) -> Option<Range<usize>> {
        self.pending.pop_front()
    }

    /// Takes HubSpot's answer to the batch `range`; an error ends the write.
    pub fn record(&mut self, range: Range<usize>, answer: Result<BatchResponse, CrmError>) -> Result<(), CrmError> {
        match answer {
            Ok(answer) => {
                self.written_any = true;
                let ids = answer
                    .results
                    .iter()
                    .filter_map(|o| Some(((self.key_of)(o)?, o.id.clone())))
                    .collect::<HashMap<_, _>>();
                for i in range {
                    let key = &self.keys[i];
                    self.outcomes[i] = Some(match ids.get(key) {
                        Some(id) => {
                            TaskWriteOutcome::Written(TaskRef { task_id: id.clone(), external_key: Some(key.clone()) })
                        }
                        None => TaskWriteOutcome::Rejected { message: error_for(key, &answer.errors) },
                    });
                }
            }
            Err(CrmError::Rejected { .. }) if range.len() > 1 => {
                let middle = range.start + range.len() / 2;
                self.pending.push_front(middle..range.end);
                self.pending.push_front(range.start..middle);
            }
            Err(CrmError::Rejected { status, message }) => {
                self.outcomes[range.start] =
                    Some(TaskWriteOutcome::Rejected { message: format!("{message} ({status})") });
            }
            Err(e) if self.written_any => {
                return Err(CrmError::OutcomeUnknown(format!(
                    "{}: a later batch failed after earlier ones were written: {e}",
                    self.what
                )));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// One outcome per input, in input order.
    pub fn finish(self) -> Vec<TaskWriteOutcome> {
        self.outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| TaskWriteOutcome::Rejected { message: "not sent".into() }))
            .collect()
    }
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
            collect_found(&page, &wanted, &mut seen, &mut found);
            match page.continue_after() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
    }
    Ok(found)
}

/// The tasks of a search page that carry one of the `wanted` keys, each task once.
pub fn collect_found(
    page: &Page<CrmObject>,
    wanted: &HashSet<&String>,
    seen: &mut HashSet<String>,
    found: &mut Vec<TaskRef>,
) {
    for object in &page.results {
        let key = object.prop(EXTERNAL_KEY_PROPERTY).map(str::to_owned);
        if key.as_ref().is_some_and(|k| wanted.contains(k)) && seen.insert(object.id.clone()) {
            found.push(TaskRef { task_id: object.id.clone(), external_key: key });
        }
    }
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
        states.extend(answer.results.iter().map(task_state));
    }
    Ok(states)
}

pub fn task_state(object: &CrmObject) -> TaskState {
    TaskState {
        task_id: object.id.clone(),
        completed: object.prop("hs_task_status") == Some("COMPLETED"),
        owner_id: object.prop("hubspot_owner_id").map(str::to_owned),
        due_at: object.prop("hs_timestamp").and_then(parse_time),
    }
}

#[cfg(test)]
mod tests {
    use handoffd_contract::task::{LabelledFact, TaskText};

    use super::*;

    #[test]
    fn truncate_cuts_on_character_boundaries() {
        assert_eq!(truncate("short", 10), "short");
        let long = "नमस्ते ".repeat(50);
        let cut = truncate(&long, 20);
        assert!(cut.chars().count() <= 20, "{cut}");
        assert!(cut.ends_with('…'));
    }

    proptest::proptest! {
        /// Whatever the interpreter wrote, HubSpot gets a subject within the limit (cut with an
        /// ellipsis, never mid-character) and the escaped HTML body.
        #[test]
        fn subject_stays_within_the_limit(subject in "\\PC{0,300}|[ a\n]{190,260}", value in "\\PC{0,40}") {
            let task = TaskWrite {
                external_key: "h-1".into(),
                contact_id: "51".into(),
                owner_id: None,
                text: TaskText {
                    subject: subject.clone(),
                    facts: vec![LabelledFact { label: "Need".into(), value }],
                    transcript_url: None,
                },
                due_at: chrono::DateTime::UNIX_EPOCH,
                priority: TaskPriority::High,
                kind: TaskKind::Call,
            };
            let properties = content_properties(&task);
            let sent = &properties["hs_task_subject"];
            proptest::prop_assert!(sent.chars().count() <= SUBJECT_MAX_CHARS, "{} chars", sent.chars().count());
            if subject.trim().chars().count() <= SUBJECT_MAX_CHARS {
                proptest::prop_assert_eq!(sent.as_str(), subject.trim());
            } else {
                proptest::prop_assert!(sent.ends_with('…'));
                proptest::prop_assert!(subject.trim().starts_with(sent.trim_end_matches('…')));
            }
            proptest::prop_assert_eq!(&properties["hs_task_body"], &task.text.to_html());
        }
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

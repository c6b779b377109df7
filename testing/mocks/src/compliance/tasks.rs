//! Tasks: create with owner, due time, priority and contact; a batch with one refused input; update in place; read
//! states in a batch.

use std::sync::Arc;

use chrono::{DurationRound, TimeDelta, Utc};
use handoffd_contract::crm::{Crm, TaskWriteOutcome};
use handoffd_contract::task::{LabelledFact, TaskKind, TaskPriority, TaskRef, TaskText, TaskWrite};

use super::contacts::created_contacts;
use super::{CheckFuture, CrmMock, MockedTask, ensure, requests_during, unique};

/// A task for `contact_id`, due tomorrow on the second, owned by `owner_id`.
pub(super) fn task_write(contact_id: &str, owner_id: Option<&str>, priority: TaskPriority) -> TaskWrite {
    let due_at = (Utc::now() + TimeDelta::days(1)).duration_trunc(TimeDelta::seconds(1)).unwrap_or_else(|_| Utc::now());
    let external_key = unique("handoff");
    TaskWrite {
        text: TaskText {
            subject: format!("Call back about {external_key}"),
            facts: vec![LabelledFact { label: "Need".into(), value: "2BHK <near> the metro".into() }],
            transcript_url: None,
        },
        external_key,
        contact_id: contact_id.to_owned(),
        owner_id: owner_id.map(str::to_owned),
        due_at,
        priority,
        kind: TaskKind::Call,
    }
}

/// Set-up, one contact and the CRM's first owner: what every task check starts from.
pub(super) async fn contact_and_owner(crm: &dyn Crm, mock: &dyn CrmMock) -> Result<(String, String), String> {
    crm.prepare().await.map_err(|e| format!("set-up failed: {e}"))?;
    let contact = created_contacts(crm, 1).await?.remove(0);
    let owner = mock.owner_ids().into_iter().next().ok_or("the mock has no owner to assign tasks to")?;
    Ok((contact.id, owner))
}

/// The task written for `task`, or why there is none.
pub(super) fn written(outcome: &TaskWriteOutcome, task: &TaskWrite) -> Result<TaskRef, String> {
    match outcome {
        TaskWriteOutcome::Written(written) if written.external_key.as_deref() == Some(task.external_key.as_str()) => {
            Ok(written.clone())
        }
        TaskWriteOutcome::Written(written) => Err(format!(
            "the outcome for `{}` names another task ({written:?}): outcomes must come in input order",
            task.external_key
        )),
        TaskWriteOutcome::Rejected { message } => Err(format!("task `{}` was refused: {message}", task.external_key)),
    }
}

/// The tasks the mock holds for an external key.
pub(super) fn stored_with_key(mock: &dyn CrmMock, key: &str) -> Vec<MockedTask> {
    mock.tasks().into_iter().filter(|t| t.external_key.as_deref() == Some(key)).collect()
}

pub(super) fn create_one<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        let task = task_write(&contact, Some(&owner), TaskPriority::High);
        let outcomes =
            crm.create_tasks(std::slice::from_ref(&task)).await.map_err(|e| format!("create failed: {e}"))?;
        ensure!(outcomes.len() == 1, "{} outcomes for one task", outcomes.len());
        let written = written(&outcomes[0], &task)?;
        let stored = stored_with_key(mock, &task.external_key);
        ensure!(stored.len() == 1, "the CRM holds {} tasks for the key, not one", stored.len());
        let stored = &stored[0];
        ensure!(
            stored.id == written.task_id,
            "the outcome names task {}, the CRM holds {}",
            written.task_id,
            stored.id
        );
        ensure!(stored.owner_id.as_deref() == Some(owner.as_str()), "owner {:?}, expected {owner}", stored.owner_id);
        ensure!(stored.due_at == Some(task.due_at), "due {:?}, expected {}", stored.due_at, task.due_at);
        ensure!(stored.priority == Some(TaskPriority::High), "priority {:?}, expected high", stored.priority);
        ensure!(
            stored.contact_ids.contains(&contact),
            "linked to {:?}, expected contact {contact}",
            stored.contact_ids
        );
        ensure!(
            stored.subject.as_deref() == Some(task.text.subject.as_str()),
            "subject {:?}, expected {:?}",
            stored.subject,
            task.text.subject
        );
        ensure!(!stored.completed, "a new task is already completed");
        Ok(())
    })
}

pub(super) fn partial_batch<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        let unknown_owner = "987654321";
        ensure!(!mock.owner_ids().iter().any(|o| o == unknown_owner), "the mock has the owner meant to be unknown");
        let tasks = [
            task_write(&contact, Some(&owner), TaskPriority::Medium),
            task_write(&contact, Some(unknown_owner), TaskPriority::Medium),
            task_write(&contact, Some(&owner), TaskPriority::Low),
        ];
        let outcomes = crm.create_tasks(&tasks).await.map_err(|e| format!("the batch failed as a whole: {e}"))?;
        ensure!(outcomes.len() == 3, "{} outcomes for three tasks", outcomes.len());
        written(&outcomes[0], &tasks[0])?;
        written(&outcomes[2], &tasks[2])?;
        match &outcomes[1] {
            TaskWriteOutcome::Rejected { message } => {
                ensure!(message.contains(unknown_owner), "the refusal does not name the bad owner: {message}")
            }
            other => return Err(format!("the task with an unknown owner was not refused: {other:?}")),
        }
        for (task, held) in tasks.iter().zip([1, 0, 1]) {
            let stored = stored_with_key(mock, &task.external_key).len();
            ensure!(stored == held, "the CRM holds {stored} tasks for `{}`, expected {held}", task.external_key);
        }
        Ok(())
    })
}

pub(super) fn update_open<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        let task = task_write(&contact, Some(&owner), TaskPriority::Low);
        let outcomes =
            crm.create_tasks(std::slice::from_ref(&task)).await.map_err(|e| format!("create failed: {e}"))?;
        let created = written(outcomes.first().ok_or("no outcome for the created task")?, &task)?;

        let mut later = task.clone();
        later.priority = TaskPriority::High;
        later.due_at = task.due_at - TimeDelta::hours(20);
        later.text.subject = format!("{} (the customer wrote again)", task.text.subject);
        let outcomes = crm
            .update_tasks(&[(created.task_id.clone(), later.clone())])
            .await
            .map_err(|e| format!("update failed: {e}"))?;
        ensure!(outcomes.len() == 1, "{} outcomes for one update", outcomes.len());
        match &outcomes[0] {
            TaskWriteOutcome::Written(updated) => {
                ensure!(updated.task_id == created.task_id, "the update names task {}", updated.task_id)
            }
            TaskWriteOutcome::Rejected { message } => return Err(format!("the update was refused: {message}")),
        }
        let stored = stored_with_key(mock, &task.external_key);
        ensure!(stored.len() == 1, "the CRM holds {} tasks for the key after an update, not one", stored.len());
        let stored = &stored[0];
        ensure!(stored.id == created.task_id, "the update made a new task");
        ensure!(stored.priority == Some(TaskPriority::High), "priority {:?} after the update", stored.priority);
        ensure!(
            stored.due_at == Some(later.due_at),
            "due {:?} after the update, expected {}",
            stored.due_at,
            later.due_at
        );
        ensure!(stored.subject.as_deref() == Some(later.text.subject.as_str()), "subject {:?}", stored.subject);
        ensure!(stored.contact_ids.contains(&contact), "the update lost the contact link: {:?}", stored.contact_ids);
        Ok(())
    })
}

pub(super) fn read_states<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        let tasks: Vec<TaskWrite> = (0..3).map(|_| task_write(&contact, Some(&owner), TaskPriority::Medium)).collect();
        let outcomes = crm.create_tasks(&tasks).await.map_err(|e| format!("create failed: {e}"))?;
        let ids = tasks
            .iter()
            .zip(&outcomes)
            .map(|(task, outcome)| written(outcome, task).map(|w| w.task_id))
            .collect::<Result<Vec<_>, _>>()?;
        ensure!(mock.complete_task(&ids[1]), "the mock does not know task {}", ids[1]);

        let (states, requests) = requests_during(mock, crm.task_states(&ids)).await;
        let states = states.map_err(|e| format!("reading states failed: {e}"))?;
        ensure!(states.len() == 3, "{} states for three tasks", states.len());
        for (n, id) in ids.iter().enumerate() {
            let state = states.iter().find(|s| &s.task_id == id).ok_or(format!("no state for task {id}"))?;
            ensure!(state.completed == (n == 1), "task {n} reads completed = {}", state.completed);
            ensure!(state.owner_id.as_deref() == Some(owner.as_str()), "task {n} reads owner {:?}", state.owner_id);
            ensure!(state.due_at == Some(tasks[n].due_at), "task {n} reads due {:?}", state.due_at);
        }
        ensure!(requests == 1, "{requests} requests to read three states: not batched");
        Ok(())
    })
}

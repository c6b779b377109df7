//! Failures as the contract classifies them: what the caller may retry, after how long, and what it must look up
//! before writing again.

use std::sync::Arc;
use std::time::Duration;

use handoffd_contract::crm::{Crm, CrmError, TaskWriteOutcome};
use handoffd_contract::task::TaskPriority;

use super::tasks::{contact_and_owner, stored_with_key, task_write, written};
use super::{CheckFuture, CrmMock, ensure, unique};
use crate::faults::{FaultPlan, INJECTED_REJECTION, UNDOCUMENTED_ANSWER};

/// What the mock sends as `Retry-After` with an injected 429.
const INJECTED_RETRY_AFTER: Duration = Duration::from_secs(1);

pub(super) fn rate_limited<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        mock.set_faults(FaultPlan { rate_429: 1.0, ..FaultPlan::default() });
        let read = crm.list_owners().await;
        let task = task_write(&contact, Some(&owner), TaskPriority::High);
        let write = crm.create_tasks(std::slice::from_ref(&task)).await;
        mock.set_faults(FaultPlan::default());

        for (call, result) in [("listing owners", read.err()), ("creating a task", write.err())] {
            let error = result.ok_or(format!("{call} succeeded through a 429"))?;
            ensure!(matches!(error, CrmError::RateLimited { .. }), "{call}: a 429 became `{error}`");
            ensure!(error.is_retriable(), "{call}: a 429 is not retriable");
            ensure!(
                error.retry_after() == Some(INJECTED_RETRY_AFTER),
                "{call}: retry after {:?}, the CRM said {INJECTED_RETRY_AFTER:?}",
                error.retry_after()
            );
        }
        ensure!(stored_with_key(mock, &task.external_key).is_empty(), "a refused write left a task behind");
        // Once the CRM answers again, so does the connector: a 429 leaves nothing stuck.
        crm.list_owners().await.map_err(|e| format!("listing owners after the 429s failed: {e}"))?;
        Ok(())
    })
}

pub(super) fn server_error<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        mock.set_faults(FaultPlan { rate_5xx: 1.0, seed: 5, ..FaultPlan::default() });
        let read = crm.list_owners().await;
        let task = task_write(&contact, Some(&owner), TaskPriority::High);
        let write = crm.create_tasks(std::slice::from_ref(&task)).await;
        mock.set_faults(FaultPlan::default());

        for (call, result) in [("listing owners", read.err()), ("creating a task", write.err())] {
            let error = result.ok_or(format!("{call} succeeded through a 5xx"))?;
            ensure!(error.is_retriable(), "{call}: a 5xx is not retriable: {error}");
            ensure!(
                !matches!(error, CrmError::RateLimited { .. } | CrmError::OutcomeUnknown(_)),
                "{call}: a 5xx (nothing applied) became `{error}`"
            );
        }
        ensure!(stored_with_key(mock, &task.external_key).is_empty(), "a refused write left a task behind");
        let outcomes = crm.create_tasks(std::slice::from_ref(&task)).await.map_err(|e| format!("the retry: {e}"))?;
        written(outcomes.first().ok_or("no outcome for the retried task")?, &task)?;
        ensure!(stored_with_key(mock, &task.external_key).len() == 1, "the retry did not write exactly one task");
        Ok(())
    })
}

pub(super) fn rejected<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        mock.set_faults(FaultPlan { rate_400: 1.0, ..FaultPlan::default() });
        let task = task_write(&contact, Some(&owner), TaskPriority::High);
        let write = crm.create_tasks(std::slice::from_ref(&task)).await;
        mock.set_faults(FaultPlan::default());

        // Either shape is permanent: the call refused, or the one input refused.
        let message = match write {
            Err(error) => {
                ensure!(!error.is_retriable(), "a 400 is reported retriable: {error}");
                ensure!(
                    matches!(error, CrmError::Rejected { status: 400, .. }),
                    "a 400 became `{error}`, not a rejection with its status"
                );
                error.to_string()
            }
            Ok(outcomes) => match outcomes.as_slice() {
                [TaskWriteOutcome::Rejected { message }] => message.clone(),
                other => return Err(format!("a 400 gave the outcomes {other:?}")),
            },
        };
        ensure!(message.contains(INJECTED_REJECTION), "the vendor's message was not passed on: {message}");
        ensure!(stored_with_key(mock, &task.external_key).is_empty(), "a refused write left a task behind");
        Ok(())
    })
}

pub(super) fn lost_answer<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        let task = task_write(&contact, Some(&owner), TaskPriority::High);
        // The write is applied, then the connection closes without an answer.
        mock.set_faults(FaultPlan { rate_lost: 1.0, ..FaultPlan::default() });
        let write = crm.create_tasks(std::slice::from_ref(&task)).await;
        mock.set_faults(FaultPlan::default());

        match write {
            Err(error @ CrmError::OutcomeUnknown(_)) => ensure!(error.is_retriable(), "an unknown outcome must be"),
            Err(error) => {
                return Err(format!("a write whose answer was lost became `{error}`, not an unknown outcome"));
            }
            Ok(outcomes) => return Err(format!("a write whose answer was lost reported {outcomes:?}")),
        }
        let stored = stored_with_key(mock, &task.external_key);
        ensure!(
            stored.len() == 1,
            "after one lost answer the CRM holds {} tasks for the key: the connector must not write again by itself",
            stored.len()
        );

        let missing = unique("handoff-never-written");
        let found = crm
            .find_tasks_by_external_keys(&[task.external_key.clone(), missing.clone()])
            .await
            .map_err(|e| format!("the lookup by external key failed: {e}"))?;
        ensure!(found.len() == 1, "the lookup found {found:?}, expected the one task");
        ensure!(
            found[0].task_id == stored[0].id,
            "the lookup found task {}, the CRM holds {}",
            found[0].task_id,
            stored[0].id
        );
        ensure!(
            found[0].external_key.as_deref() == Some(task.external_key.as_str()),
            "the lookup's task carries the key {:?}",
            found[0].external_key
        );
        // What the deliverer does next: the task is known, so it is updated, never created again.
        let outcomes = crm
            .update_tasks(&[(found[0].task_id.clone(), task.clone())])
            .await
            .map_err(|e| format!("updating the found task failed: {e}"))?;
        ensure!(matches!(outcomes.as_slice(), [TaskWriteOutcome::Written(_)]), "updating the found task: {outcomes:?}");
        ensure!(stored_with_key(mock, &task.external_key).len() == 1, "the task was written twice");
        Ok(())
    })
}

pub(super) fn undocumented_answer<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        let task = task_write(&contact, Some(&owner), TaskPriority::High);
        let outcomes =
            crm.create_tasks(std::slice::from_ref(&task)).await.map_err(|e| format!("create failed: {e}"))?;
        let created = written(outcomes.first().ok_or("no outcome for the created task")?, &task)?;

        mock.set_faults(FaultPlan { rate_undocumented: 1.0, ..FaultPlan::default() });
        let owners = crm.list_owners().await;
        let states = crm.task_states(std::slice::from_ref(&created.task_id)).await;
        let found = crm.find_tasks_by_external_keys(std::slice::from_ref(&task.external_key)).await;
        mock.set_faults(FaultPlan::default());

        let errors = [
            ("listing owners", owners.map(|o| format!("{o:?}"))),
            ("reading task states", states.map(|s| format!("{s:?}"))),
            ("finding tasks by external key", found.map(|f| format!("{f:?}"))),
        ];
        for (call, result) in errors {
            let error = match result {
                Ok(answer) => return Err(format!("{call}: an undocumented answer was read as {answer}")),
                Err(error) => error,
            };
            ensure!(matches!(error, CrmError::Protocol(_)), "{call}: an undocumented answer became `{error}`");
            // What an admin reads in the dead letter: the body as it came, not only the parser's complaint.
            ensure!(error.to_string().contains(UNDOCUMENTED_ANSWER), "{call}: the body was not kept: {error}");
        }
        // Nothing is stuck afterwards.
        crm.list_owners().await.map_err(|e| format!("listing owners after the undocumented answers: {e}"))?;
        Ok(())
    })
}

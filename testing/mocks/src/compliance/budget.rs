//! Credentials and budgets: an access token that expired is refreshed once and the call sent again; a spent daily
//! budget refuses calls as retriable, with a time to wait, and loses nothing.

use std::sync::Arc;

use handoffd_contract::crm::{Crm, CrmError};
use handoffd_contract::task::TaskPriority;

use super::tasks::{contact_and_owner, stored_with_key, task_write, written};
use super::{CheckFuture, CrmMock, ensure};

pub(super) fn expired_token<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        let issued = mock.tokens_issued();
        ensure!(issued > 0, "the connector holds no token from {}'s token endpoint: nothing can expire", mock.vendor());

        // A read.
        mock.expire_access_tokens();
        crm.list_owners().await.map_err(|e| format!("listing owners with an expired token failed: {e}"))?;
        let refreshed = mock.tokens_issued() - issued;
        ensure!(refreshed == 1, "{refreshed} tokens were issued to replace one expired token");

        // A write: a refused token means nothing was applied, so the same write goes once more.
        mock.expire_access_tokens();
        let task = task_write(&contact, Some(&owner), TaskPriority::High);
        let outcomes = crm
            .create_tasks(std::slice::from_ref(&task))
            .await
            .map_err(|e| format!("creating a task with an expired token failed: {e}"))?;
        written(outcomes.first().ok_or("no outcome for the task")?, &task)?;
        let stored = stored_with_key(mock, &task.external_key).len();
        ensure!(stored == 1, "the CRM holds {stored} tasks for the key after a refused token, not one");
        let refreshed = mock.tokens_issued() - issued;
        ensure!(refreshed == 2, "{refreshed} tokens were issued to replace two expired tokens");

        // The new token is kept: the next call needs no refresh.
        crm.list_owners().await.map_err(|e| format!("listing owners with the new token failed: {e}"))?;
        let refreshed = mock.tokens_issued() - issued;
        ensure!(refreshed == 2, "a call with a good token fetched another one ({refreshed} issued in all)");
        Ok(())
    })
}

pub(super) fn daily_budget_spent<'a>(crm: &'a Arc<dyn Crm>, mock: &'a dyn CrmMock) -> CheckFuture<'a> {
    Box::pin(async move {
        let (contact, owner) = contact_and_owner(crm.as_ref(), mock).await?;
        let task = task_write(&contact, Some(&owner), TaskPriority::Medium);

        mock.exhaust_daily_budget();
        let write = crm.create_tasks(std::slice::from_ref(&task)).await;
        let read = crm.list_owners().await;
        let budget = crm.live_budget();
        for (call, result) in
            [("creating a task", write.map(|o| format!("{o:?}"))), ("listing owners", read.map(|o| format!("{o:?}")))]
        {
            let error = match result {
                Ok(answer) => return Err(format!("{call} went through a spent daily budget: {answer}")),
                Err(error) => error,
            };
            // Anything else would send the deliverer to retry at once, or to dead-letter the job.
            ensure!(
                matches!(error, CrmError::RateLimited { .. }),
                "{call}: a spent daily budget became `{error}`, not a rate limit"
            );
            ensure!(error.retry_after().is_some_and(|d| !d.is_zero()), "{call}: no time to wait was given: {error}");
        }
        ensure!(
            budget.daily_remaining == Some(0),
            "the live budget reads {:?} daily calls left while the CRM says none",
            budget.daily_remaining
        );
        ensure!(stored_with_key(mock, &task.external_key).is_empty(), "a write went through a spent budget");

        // The day moves on: the same write goes through, once.
        mock.reset_daily_budget();
        let outcomes = crm
            .create_tasks(std::slice::from_ref(&task))
            .await
            .map_err(|e| format!("the write after the budget came back failed: {e}"))?;
        written(outcomes.first().ok_or("no outcome for the task")?, &task)?;
        let stored = stored_with_key(mock, &task.external_key).len();
        ensure!(stored == 1, "the CRM holds {stored} tasks for the key after the budget came back, not one");
        let budget = crm.live_budget();
        ensure!(
            budget.daily_remaining != Some(0),
            "the live budget still reads no daily calls left after the CRM reset it"
        );
        Ok(())
    })
}

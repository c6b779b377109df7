//! The SLA watcher's rows: tasks watched once written, completed tasks closing their handoffs, ladder steps
//! recorded once, confirmations claimed once, opt-outs.

use std::sync::Arc;

use super::{queued_job, secs, t0};
use crate::conversation::lifecycle::{TASK_COMPLETED, TASK_WRITTEN};
use crate::store::{
    Assignment, AuditEntry, ConfirmationSettled, ConfirmationState, EscalationRecord, HandoffState, OutboxJob, Store,
};

/// A handoff whose task `task-<n>` the CRM holds; returns (customer id, handoff id, its job as delivered).
async fn delivered(store: &dyn Store, phone: &str, task: &str) -> (String, String, OutboxJob) {
    let (customer, handoff) = queued_job(store, phone, t0()).await;
    let now = t0() + secs(200);
    let job = store.lease_jobs("crm", "w", &[], now, now + secs(60), 10).await.unwrap().remove(0);
    store.set_crm_contact(&customer, "crm", &format!("contact-{task}"), now).await.unwrap();
    store.jobs_delivered(&[(&job, task.to_owned())], TASK_WRITTEN, now).await.unwrap();
    (customer, handoff, job)
}

fn entry(handoff: &str, event: &str) -> AuditEntry {
    AuditEntry {
        at: t0() + secs(300),
        handoff_id: Some(handoff.to_owned()),
        customer_id: None,
        event: event.to_owned(),
        detail: serde_json::json!({}),
    }
}

pub async fn a_written_task_is_watched_until_the_crm_reports_it_completed(store: Arc<dyn Store>) {
    let (customer, first, job) = delivered(store.as_ref(), "+919820012345", "task-1").await;
    let (_, second, _) = delivered(store.as_ref(), "+14155552671", "task-2").await;
    let watched = store.watched_tasks("crm", None, 10).await.unwrap();
    assert_eq!(watched.len(), 2);
    let mut ids = vec![first.clone(), second.clone()];
    ids.sort();
    assert_eq!(watched.iter().map(|t| t.handoff_id.clone()).collect::<Vec<_>>(), ids, "in handoff id order");
    let task = watched.iter().find(|t| t.handoff_id == first).unwrap();
    assert_eq!(
        (task.customer_id.as_str(), task.task_id.as_str(), task.payload.as_str(), task.steps_done),
        (customer.as_str(), "task-1", job.payload.as_str(), 0)
    );
    assert_eq!(task.contact_id.as_deref(), Some("contact-task-1"));
    assert_eq!(task.confirmation, None);
    assert_eq!(task.last_inbound_at, Some(t0()), "the customer's message");
    assert!(store.watched_tasks("other-crm", None, 10).await.unwrap().is_empty(), "per CRM account");
    let page = store.watched_tasks("crm", None, 1).await.unwrap();
    assert_eq!(page.len(), 1, "at most the limit");
    let next = store.watched_tasks("crm", Some(&page[0].handoff_id), 10).await.unwrap();
    assert_eq!(next.len(), 1, "the page after");
    assert_ne!(next[0].handoff_id, page[0].handoff_id);

    let now = t0() + secs(300);
    let completed = vec![(first.clone(), entry(&first, "task_completed"))];
    store.tasks_completed(&completed, TASK_COMPLETED, now).await.unwrap();
    store.tasks_completed(&completed, TASK_COMPLETED, now).await.unwrap();
    let handoff = store.handoff_conversation(&first).await.unwrap().handoff;
    assert_eq!(handoff.state, HandoffState::Closed);
    let audit = store.audit_for_handoff(&first).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.event == "task_completed").count(), 1, "audited once: {audit:#?}");
    let watched = store.watched_tasks("crm", None, 10).await.unwrap();
    assert_eq!(watched.iter().map(|t| t.handoff_id.as_str()).collect::<Vec<_>>(), [second.as_str()]);
}

pub async fn ladder_steps_are_recorded_once(store: Arc<dyn Store>) {
    let (_, handoff, _) = delivered(store.as_ref(), "+919820012345", "task-1").await;
    let record = |before: u32, after: u32, payload: Option<&str>| EscalationRecord {
        handoff_id: handoff.clone(),
        steps_before: before,
        steps_after: after,
        payload: payload.map(str::to_owned),
        reassigned: None,
        raised_priority: None,
        audit: vec![entry(&handoff, &format!("step_{after}"))],
        now: t0() + secs(400),
    };
    assert!(store.record_escalation(&record(0, 2, Some("{\"v\":\"reminded\"}"))).await.unwrap());
    assert!(!store.record_escalation(&record(0, 1, None)).await.unwrap(), "another instance's steps, recorded");
    let task = store.watched_tasks("crm", None, 10).await.unwrap().remove(0);
    assert_eq!((task.steps_done, task.payload.as_str()), (2, "{\"v\":\"reminded\"}"));
    assert!(store.record_escalation(&record(2, 3, None)).await.unwrap());
    let task = store.watched_tasks("crm", None, 10).await.unwrap().remove(0);
    assert_eq!((task.steps_done, task.payload.as_str()), (3, "{\"v\":\"reminded\"}"), "no payload: kept");
    let audit = store.audit_for_handoff(&handoff).await.unwrap();
    let steps: Vec<&str> = audit.iter().map(|a| a.event.as_str()).filter(|e| e.starts_with("step_")).collect();
    assert_eq!(steps, ["step_2", "step_3"], "only the recorded steps are audited");
    assert_eq!(store.watched_tasks("crm", None, 10).await.unwrap()[0].pool, None, "routed before pools were kept");

    // A reassignment replaces the handoff's owner and pool: open handoffs per owner follow the task.
    let moved = EscalationRecord { reassigned: Some(("o2".into(), "sales".into())), ..record(3, 4, None) };
    assert!(store.record_escalation(&moved).await.unwrap());
    assert_eq!(store.watched_tasks("crm", None, 10).await.unwrap()[0].pool.as_deref(), Some("sales"));
    assert_eq!(store.open_handoffs_by_owner().await.unwrap().get("o2"), Some(&1));
    // Not recorded (another instance's steps): nor is the reassignment.
    let lost = EscalationRecord { reassigned: Some(("o3".into(), "sales".into())), ..record(3, 4, None) };
    assert!(!store.record_escalation(&lost).await.unwrap());
    assert_eq!(store.open_handoffs_by_owner().await.unwrap().get("o3"), None);
}

pub async fn the_watchers_owner_and_priority_are_kept_and_a_rules_confirm_is_routed_with_the_handoff(
    store: Arc<dyn Store>,
) {
    use handoffd_contract::task::TaskPriority;
    let (_, handoff, job) = delivered(store.as_ref(), "+919820012345", "task-1").await;
    let (_, other, _) = delivered(store.as_ref(), "+14155552671", "task-2").await;
    let ids = vec![handoff.clone(), other.clone()];
    assert!(store.kept_escalations(&ids).await.unwrap().is_empty(), "nothing escalated yet");
    let now = t0() + secs(400);
    let step = |before: u32, reassigned: Option<(String, String)>, raised: Option<TaskPriority>| EscalationRecord {
        handoff_id: handoff.clone(),
        steps_before: before,
        steps_after: before + 1,
        payload: None,
        reassigned,
        raised_priority: raised,
        audit: Vec::new(),
        now,
    };
    assert!(store.record_escalation(&step(0, None, Some(TaskPriority::High))).await.unwrap());
    let kept = store.kept_escalations(&ids).await.unwrap();
    assert_eq!(kept.len(), 1, "only the escalated handoff: {kept:?}");
    assert_eq!((kept[&handoff].owner.clone(), kept[&handoff].priority), (None, Some(TaskPriority::High)));
    assert!(store.record_escalation(&step(1, Some(("o2".into(), "sales".into())), None)).await.unwrap());
    let kept = store.kept_escalations(std::slice::from_ref(&handoff)).await.unwrap();
    assert_eq!(kept[&handoff].owner, Some(("o2".to_owned(), "sales".to_owned())));
    assert_eq!(kept[&handoff].priority, Some(TaskPriority::High), "a later step keeps the raised priority");
    // A later brief's task written again (an update) keeps what the watcher changed.
    store.jobs_delivered(&[(&job, "task-1".to_owned())], TASK_WRITTEN, now).await.unwrap();
    assert_eq!(
        store.kept_escalations(std::slice::from_ref(&handoff)).await.unwrap()[&handoff]
            .owner
            .as_ref()
            .map(|o| o.0.as_str()),
        Some("o2")
    );

    // The rule's confirm flag travels with the routing; unset stays unset (`sla.confirm` decides).
    let confirm = |handoff: &str, confirm: Option<bool>| {
        let store = store.clone();
        let handoff = handoff.to_owned();
        async move {
            let mut tx = store.begin().await.unwrap();
            let assignment = Assignment { owner_id: Some("o1".into()), pool: Some("sales".into()), confirm };
            tx.assign_owner(&handoff, &assignment, now).await.unwrap();
            tx.commit().await.unwrap();
        }
    };
    confirm(&handoff, Some(false)).await;
    confirm(&other, Some(true)).await;
    let watched = store.watched_tasks("crm", None, 10).await.unwrap();
    let flag = |id: &str| watched.iter().find(|t| t.handoff_id == id).unwrap().confirm;
    assert_eq!((flag(&handoff), flag(&other)), (Some(false), Some(true)));
    confirm(&other, None).await;
    assert_eq!(
        store.watched_tasks("crm", None, 10).await.unwrap().iter().find(|t| t.handoff_id == other).unwrap().confirm,
        None
    );
}

pub async fn confirmations_are_claimed_once_and_opt_outs_are_kept(store: Arc<dyn Store>) {
    let (customer, handoff, _) = delivered(store.as_ref(), "+919820012345", "task-1").await;
    let now = t0() + secs(300);
    assert!(store.claim_confirmation(&handoff, &customer, "wa", now).await.unwrap());
    assert!(!store.claim_confirmation(&handoff, &customer, "wa", now).await.unwrap(), "claimed once");
    let task = store.watched_tasks("crm", None, 10).await.unwrap().remove(0);
    assert_eq!(task.confirmation, Some(ConfirmationState::Sending));
    store.release_confirmation(&handoff).await.unwrap();
    assert_eq!(store.watched_tasks("crm", None, 10).await.unwrap()[0].confirmation, None, "released");
    assert!(store.claim_confirmation(&handoff, &customer, "wa", now).await.unwrap(), "claimed again");
    store
        .settle_confirmation(&ConfirmationSettled {
            handoff_id: handoff.clone(),
            state: ConfirmationState::Sent,
            message_id: Some("wamid.1".into()),
            detail: String::new(),
            audit: entry(&handoff, "confirmation_sent"),
        })
        .await
        .unwrap();
    store.release_confirmation(&handoff).await.unwrap();
    let task = store.watched_tasks("crm", None, 10).await.unwrap().remove(0);
    assert_eq!(task.confirmation, Some(ConfirmationState::Sent), "a settled confirmation is never released");
    let audit = store.audit_for_handoff(&handoff).await.unwrap();
    assert!(audit.iter().any(|a| a.event == "confirmation_sent"));

    assert!(!store.opted_out(&customer).await.unwrap());
    let mut tx = store.begin().await.unwrap();
    tx.set_opt_out(&customer, true, 1, now).await.unwrap();
    tx.set_opt_out(&customer, true, 2, now).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.opted_out(&customer).await.unwrap());
    let mut tx = store.begin().await.unwrap();
    tx.set_opt_out(&customer, false, 3, now).await.unwrap();
    drop(tx);
    assert!(store.opted_out(&customer).await.unwrap(), "a transaction dropped keeps the opt-out");
    let mut tx = store.begin().await.unwrap();
    tx.set_opt_out(&customer, false, 3, now).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!store.opted_out(&customer).await.unwrap(), "opted back in");
}

/// A STOP sent under either of two customers identity later merges applies to the merged customer; START from
/// the merged customer lifts both; undoing the merge gives each its own consent back.
pub async fn opt_outs_follow_a_customer_merge(store: Arc<dyn Store>) {
    let (survivor, _) = super::customer_with_handoff(store.as_ref(), "+919820012345", t0()).await;
    let (absorbed, _) = super::customer_with_handoff(store.as_ref(), "+14155552671", t0() + secs(1)).await;
    let (third, _) = super::customer_with_handoff(store.as_ref(), "+447911123456", t0() + secs(2)).await;
    let now = t0() + secs(10);
    let mut tx = store.begin().await.unwrap();
    tx.set_opt_out(&absorbed, true, 1, now).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!store.opted_out(&survivor).await.unwrap(), "not merged yet");

    let mut tx = store.begin().await.unwrap();
    let merge_id = tx.merge_customers(&survivor, &absorbed, &[], "{}", now + secs(1)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.opted_out(&survivor).await.unwrap(), "the absorbed customer's STOP applies to the merged one");
    // A merge of the merged customer into another: the STOP follows again.
    let mut tx = store.begin().await.unwrap();
    let second = tx.merge_customers(&third, &survivor, &[], "{}", now + secs(2)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.opted_out(&third).await.unwrap(), "merges of merges");

    let mut tx = store.begin().await.unwrap();
    tx.set_opt_out(&third, false, 2, now + secs(3)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!store.opted_out(&third).await.unwrap(), "START from the merged customer lifts the STOP");

    let mut tx = store.begin().await.unwrap();
    tx.set_opt_out(&survivor, true, 3, now + secs(4)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.opted_out(&third).await.unwrap(), "a STOP under the other customer counts as well");
    // Undone merges carry nothing over.
    for merge in [second, merge_id] {
        let mut tx = store.begin().await.unwrap();
        let stored = tx.merge(merge).await.unwrap().unwrap();
        tx.undo_merge(&stored, &[], now + secs(5)).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert!(!store.opted_out(&third).await.unwrap(), "the merge that carried the STOP is undone");
    assert!(store.opted_out(&survivor).await.unwrap());
    assert!(!store.opted_out(&absorbed).await.unwrap(), "its STOP was lifted by START while merged");
}

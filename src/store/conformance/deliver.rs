//! The outbox, its leases and outcomes, the dead letters, and the customers' CRM contacts.

use std::sync::Arc;

use chrono::Duration;

use super::{queued_job, secs, t0};
use crate::conversation::lifecycle::{DEAD_LETTERED, REPLAYED, TASK_WRITTEN};
use crate::store::{HandoffState, NewJob, Store, StoreError};

pub async fn a_dead_workers_leases_are_leased_again_and_busy_jobs_are_not(store: Arc<dyn Store>) {
    queued_job(store.as_ref(), "+919820012345", t0()).await;
    queued_job(store.as_ref(), "+14155552671", t0()).await;
    let now = t0() + secs(200);
    let until = now + secs(120);
    assert_eq!(store.outbox_due("crm", "a", &[], now, 10).await.unwrap().count, 2);
    assert_eq!(store.outbox_due("other-crm", "a", &[], now, 10).await.unwrap().count, 0, "per CRM account");

    let leased = store.lease_jobs("crm", "a", &[], now, until, 1).await.unwrap();
    assert_eq!(leased.len(), 1, "at most the limit");
    let rest = store.lease_jobs("crm", "a", &[leased[0].id], now, until, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, leased[0].id, "a busy job is not leased again");
    let all: Vec<i64> = vec![leased[0].id, rest[0].id];

    assert!(store.lease_jobs("crm", "b", &[], now, until, 10).await.unwrap().is_empty(), "another worker waits");
    assert_eq!(store.outbox_due("crm", "b", &[], now, 10).await.unwrap(), Default::default());
    let again = store.lease_jobs("crm", "a", &[], now + secs(1), until, 10).await.unwrap();
    assert_eq!(again.len(), 2, "a worker's own jobs not busy are its previous life's: taken back at once");

    // Worker `a` dies: once its leases run out, another worker takes its jobs.
    let after = until + secs(1);
    let due = store.outbox_due("crm", "b", &[], after, 10).await.unwrap();
    assert_eq!(due.count, 2);
    assert_eq!(due.oldest, Some(t0() + secs(120)), "due since the brief queued it");
    let mut taken: Vec<i64> =
        store.lease_jobs("crm", "b", &[], after, after + secs(120), 10).await.unwrap().iter().map(|j| j.id).collect();
    taken.sort();
    let mut all = all;
    all.sort();
    assert_eq!(taken, all);
}

pub async fn a_new_account_holder_takes_the_previous_workers_jobs_at_once(store: Arc<dyn Store>) {
    queued_job(store.as_ref(), "+919820012345", t0()).await;
    queued_job(store.as_ref(), "+14155552671", t0()).await;
    let now = t0() + secs(200);
    let leased = store.lease_jobs("crm", "a", &[], now, now + secs(120), 10).await.unwrap();
    assert_eq!(leased.len(), 2);
    assert_eq!(store.release_jobs_of_others("other-crm", "b",).await.unwrap(), 0, "per CRM account");
    assert_eq!(store.release_jobs_of_others("crm", "a").await.unwrap(), 0, "a worker's own leases stay");
    assert!(store.lease_jobs("crm", "b", &[], now, now + secs(120), 10).await.unwrap().is_empty());
    assert_eq!(store.release_jobs_of_others("crm", "b").await.unwrap(), 2);
    let taken = store.lease_jobs("crm", "b", &[], now + secs(1), now + secs(120), 10).await.unwrap();
    assert_eq!(taken.len(), 2, "before `a`'s leases would have run out");
}

pub async fn a_delivered_job_finishes_unless_a_newer_brief_arrived(store: Arc<dyn Store>) {
    let (customer, handoff) = queued_job(store.as_ref(), "+919820012345", t0()).await;
    let now = t0() + secs(200);
    let job = store.lease_jobs("crm", "w", &[], now, now + secs(120), 10).await.unwrap().remove(0);
    assert_eq!(
        (job.customer_id.as_str(), job.version, job.attempts, job.in_flight, job.crm_task_id.clone()),
        (customer.as_str(), 1, 0, false, None)
    );

    // A newer brief while the task was being written: the job stays, as an update of the task just written.
    let mut tx = store.begin().await.unwrap();
    tx.queue_job(&handoff, &NewJob { crm_id: "crm".into(), payload: "{\"v\":2}".into() }, 2, now).await.unwrap();
    tx.commit().await.unwrap();
    store.mark_in_flight(&[job.id]).await.unwrap();
    store.jobs_delivered(&[(&job, "task-1".into())], TASK_WRITTEN, now + secs(1)).await.unwrap();
    let state = store.handoff_conversation(&handoff).await.unwrap().handoff;
    assert_eq!((state.state, state.crm_task_id.as_deref()), (HandoffState::Open, Some("task-1")));
    let update = store.lease_jobs("crm", "other", &[], now + secs(2), now + secs(60), 10).await.unwrap();
    assert_eq!(update.len(), 1, "released at once for the next round");
    let update = &update[0];
    assert_eq!((update.version, update.attempts, update.in_flight), (2, 0, false));
    assert_eq!(update.crm_task_id.as_deref(), Some("task-1"), "the next write updates the task");

    store.jobs_delivered(&[(update, "task-1".into())], TASK_WRITTEN, now + secs(3)).await.unwrap();
    assert_eq!(store.stage_counts().await.unwrap().outbox_pending, 0, "the job is finished");
    let events: Vec<String> = store.audit_for_handoff(&handoff).await.unwrap().into_iter().map(|e| e.event).collect();
    assert_eq!(events, vec!["task_created", "task_updated"]);
}

/// Jobs delivered together: each handoff opens with its own task, each job finishes unless its brief was replaced
/// meanwhile (that one stays, released, as an update), and the audit says what each one did, in order.
pub async fn jobs_delivered_together_are_each_finished_or_kept(store: Arc<dyn Store>) {
    let (_, first) = queued_job(store.as_ref(), "+919820012345", t0()).await;
    let (_, second) = queued_job(store.as_ref(), "+919820054321", t0()).await;
    let (_, third) = queued_job(store.as_ref(), "+919820011111", t0()).await;
    let now = t0() + secs(200);
    let jobs = store.lease_jobs("crm", "w", &[], now, now + secs(120), 10).await.unwrap();
    assert_eq!(jobs.len(), 3);
    let mut tx = store.begin().await.unwrap();
    tx.queue_job(&second, &NewJob { crm_id: "crm".into(), payload: "{\"v\":2}".into() }, 2, now).await.unwrap();
    tx.commit().await.unwrap();
    let tasks: Vec<(&crate::store::OutboxJob, String)> =
        jobs.iter().map(|job| (job, format!("task-{}", job.handoff_id))).collect();
    store.jobs_delivered(&tasks, TASK_WRITTEN, now + secs(1)).await.unwrap();
    for handoff in [&first, &second, &third] {
        let state = store.handoff_conversation(handoff).await.unwrap().handoff;
        let task = format!("task-{handoff}");
        assert_eq!((state.state, state.crm_task_id.as_deref()), (HandoffState::Open, Some(task.as_str())));
        let events: Vec<String> =
            store.audit_for_handoff(handoff).await.unwrap().into_iter().map(|e| e.event).collect();
        assert_eq!(events, vec!["task_created"], "{handoff}");
    }
    let left = store.lease_jobs("crm", "other", &[], now + secs(2), now + secs(60), 10).await.unwrap();
    assert_eq!(left.len(), 1, "only the replaced brief's job is left, released at once");
    assert_eq!((left[0].handoff_id.as_str(), left[0].version, left[0].in_flight), (second.as_str(), 2, false));
    let watched = store.watched_tasks("crm", None, 10).await.unwrap();
    assert_eq!(watched.len(), 3, "each task is watched");
}

pub async fn a_retry_releases_the_lease_until_its_time(store: Arc<dyn Store>) {
    queued_job(store.as_ref(), "+919820012345", t0()).await;
    let now = t0() + secs(200);
    let job = store.lease_jobs("crm", "w", &[], now, now + secs(120), 10).await.unwrap().remove(0);
    store.mark_in_flight(&[job.id]).await.unwrap();
    store.mark_in_flight(&[]).await.unwrap();
    let retry_at = now + secs(30);
    store.job_retry(job.id, 1, "HTTP 503", retry_at, true).await.unwrap();

    assert!(
        store.lease_jobs("crm", "w", &[], retry_at - secs(1), retry_at + secs(60), 10).await.unwrap().is_empty(),
        "not before its time"
    );
    let again = store.lease_jobs("crm", "other", &[], retry_at, retry_at + secs(60), 10).await.unwrap();
    assert_eq!(again.len(), 1, "the lease was released: any worker may take it");
    assert_eq!((again[0].attempts, again[0].in_flight), (1, true), "its outcome is unknown: look before writing");

    store.mark_in_flight(&[job.id]).await.unwrap();
    store.job_retry(job.id, 2, "HTTP 429", retry_at, false).await.unwrap();
    let third = store.lease_jobs("crm", "w", &[], retry_at, retry_at + secs(60), 10).await.unwrap();
    assert_eq!((third[0].attempts, third[0].in_flight), (2, false));
}

pub async fn dead_letters_are_replayed_and_dropped(store: Arc<dyn Store>) {
    let (_, handoff) = queued_job(store.as_ref(), "+919820012345", t0()).await;
    let now = t0() + secs(200);
    let job = store.lease_jobs("crm", "w", &[], now, now + secs(120), 10).await.unwrap().remove(0);
    store.mark_in_flight(&[job.id]).await.unwrap();
    store.mark_in_flight(&[job.id]).await.unwrap();
    store.job_dead(&job, "owner 42 does not exist", DEAD_LETTERED, now).await.unwrap();

    let letters = store.list_dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    let letter = store.get_dead_letter(letters[0].id).await.unwrap();
    assert_eq!(
        (letter.handoff_id.as_str(), letter.last_error.as_str(), letter.failed_at),
        (handoff.as_str(), "owner 42 does not exist", now)
    );
    assert_eq!(letter.attempts, 2, "the attempts counted, not fewer");
    assert_eq!(letter.payload, "{\"phone\":\"+919820012345\"}");
    assert_eq!(store.handoff_conversation(&handoff).await.unwrap().handoff.state, HandoffState::Failed);
    assert_eq!(store.stage_counts().await.unwrap().outbox_pending, 0);

    store.replay_dead_letter(letter.id, REPLAYED, now + secs(10)).await.unwrap();
    assert!(store.list_dead_letters(10).await.unwrap().is_empty());
    assert_eq!(store.handoff_conversation(&handoff).await.unwrap().handoff.state, HandoffState::Queued);
    let replayed = store.lease_jobs("crm", "w", &[], now + secs(10), now + secs(60), 10).await.unwrap();
    assert_eq!(
        (replayed.len(), replayed[0].attempts, replayed[0].in_flight),
        (1, 0, true),
        "fresh attempts; look before writing"
    );
    assert!(matches!(store.replay_dead_letter(letter.id, REPLAYED, now).await, Err(StoreError::NotFound(_))));

    store.job_dead(&replayed[0], "again", DEAD_LETTERED, now + secs(20)).await.unwrap();
    let id = store.list_dead_letters(10).await.unwrap()[0].id;
    store.drop_dead_letter(id).await.unwrap();
    assert!(matches!(store.get_dead_letter(id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.drop_dead_letter(id).await, Err(StoreError::NotFound(_))));
}

pub async fn crm_contacts_of_customers_are_remembered(store: Arc<dyn Store>) {
    let mut tx = store.begin().await.unwrap();
    for id in ["c1", "c2", "c3"] {
        tx.insert_customer(id, None, t0()).await.unwrap();
    }
    tx.commit().await.unwrap();
    store.set_crm_contacts("crm", &[("c1".into(), "101".into()), ("c2".into(), "102".into())], t0()).await.unwrap();
    store.set_crm_contact("c1", "crm", "111", t0() + Duration::minutes(1)).await.unwrap();
    store.set_crm_contact("c3", "other", "301", t0()).await.unwrap();
    let known = store.crm_contacts_of("crm", &["c1".into(), "c2".into(), "c3".into()]).await.unwrap();
    assert_eq!(known.len(), 2, "per CRM account");
    assert_eq!((known["c1"].as_str(), known["c2"].as_str()), ("111", "102"), "the latest contact wins");
    assert!(store.crm_contacts_of("crm", &[]).await.unwrap().is_empty());
}

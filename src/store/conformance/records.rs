//! The audit trail, credentials, health and counts.

use std::sync::Arc;

use super::{customer_with_handoff, queued_job, raw_event, secs, t0};
use crate::store::{AuditEntry, Store};

pub async fn audit_entries_and_tokens_are_kept(store: Arc<dyn Store>) {
    let entry = |event: &str, handoff: Option<&str>, at| AuditEntry {
        at,
        handoff_id: handoff.map(str::to_owned),
        customer_id: Some("c1".into()),
        event: event.into(),
        detail: serde_json::json!({"event": event}),
    };
    store.audit(entry("classified", Some("h1"), t0())).await.unwrap();
    store.audit(entry("routed", Some("h1"), t0())).await.unwrap();
    store.audit(entry("classified", Some("h2"), t0())).await.unwrap();
    let kept = store.audit_for_handoff("h1").await.unwrap();
    assert_eq!(
        kept.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        vec!["classified", "routed"],
        "in the order written"
    );
    assert_eq!(
        (kept[1].at, kept[1].customer_id.as_deref(), &kept[1].detail),
        (t0(), Some("c1"), &serde_json::json!({"event": "routed"}))
    );
    assert!(store.audit_for_handoff("h3").await.unwrap().is_empty());

    assert_eq!(store.load_token("hubspot").await.unwrap(), None);
    store.save_token("hubspot", "{\"a\":1}", t0()).await.unwrap();
    store.save_token("hubspot", "{\"a\":2}", t0() + secs(1)).await.unwrap();
    assert_eq!(
        store.load_token("hubspot").await.unwrap().as_deref(),
        Some("{\"a\":2}"),
        "a rotated token replaces the old"
    );
}

pub async fn stage_counts_follow_the_pipeline(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert_eq!(store.stage_counts().await.unwrap().inbox_total, 0);
    store.insert_inbox(&[raw_event("x", t0())]).await.unwrap();
    customer_with_handoff(store.as_ref(), "+919820012345", t0()).await;
    let counts = store.stage_counts().await.unwrap();
    assert_eq!((counts.inbox_total, counts.inbox_unprocessed, counts.handoffs_collecting), (2, 1, 1));
    assert_eq!((counts.outbox_pending, counts.outbox_unleased, counts.dead_letters, counts.quarantined), (0, 0, 0, 0));
}

pub async fn queue_ages_show_what_waits_and_since_when(store: Arc<dyn Store>) {
    let idle = store.queue_ages(t0()).await.unwrap();
    let stages: Vec<&str> = idle.iter().map(|q| q.stage).collect();
    assert_eq!(stages, ["inbox", "handoffs", "outbox"]);
    assert!(idle.iter().all(|q| q.depth == 0 && q.oldest.is_none()), "{idle:?}");
    store.insert_inbox(&[raw_event("x", t0())]).await.unwrap();
    customer_with_handoff(store.as_ref(), "+919820012345", t0() + secs(10)).await;
    queued_job(store.as_ref(), "+919820099999", t0() + secs(20)).await;
    let later = t0() + chrono::Duration::days(1);
    let queues = store.queue_ages(later).await.unwrap();
    assert_eq!((queues[0].depth, queues[0].oldest), (1, Some(t0())), "the unprocessed raw event: {queues:?}");
    assert_eq!(queues[1].depth, 1, "the collecting handoff past its quiet period: {queues:?}");
    assert!(queues[1].oldest.is_some_and(|at| at >= t0() + secs(10)), "{queues:?}");
    assert_eq!(queues[2].depth, 1, "the queued delivery: {queues:?}");
    assert!(queues[2].oldest.is_some_and(|at| at >= t0() + secs(20)), "{queues:?}");
    // Before its quiet period is over, a collecting handoff is not waiting on the stage.
    let before = store.queue_ages(t0() - chrono::Duration::days(1)).await.unwrap();
    assert_eq!(before[1].depth, 0, "{before:?}");
}

//! The inbox and the quarantine.

use std::sync::Arc;

use super::{raw_event, secs, t0};
use crate::store::{Store, StoreError};

pub async fn inbox_commits_events_in_order_and_hands_out_the_unprocessed(store: Arc<dyn Store>) {
    assert!(store.insert_inbox(&[]).await.unwrap().is_empty(), "nothing to commit, no ids");
    let ids = store
        .insert_inbox(&[raw_event("a", t0()), raw_event("b", t0() + secs(1)), raw_event("c", t0() + secs(2))])
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow in commit order: {ids:?}");
    let later = store.insert_inbox(&[raw_event("d", t0())]).await.unwrap();
    assert!(later[0] > ids[2], "ids are never reused");

    let first_two = store.unprocessed_inbox(2).await.unwrap();
    assert_eq!(
        first_two.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[..2].to_vec(),
        "oldest first, at most the limit"
    );
    let event = &first_two[1];
    assert_eq!((event.connector_id.as_str(), event.source.as_str()), ("wa", "webhook"));
    assert_eq!((event.event.received_at(), event.event.body()), (t0() + secs(1), b"b".as_slice()));
    assert_eq!(store.unprocessed_inbox(10).await.unwrap().len(), 4);
}

pub async fn processed_or_quarantined_rows_are_not_handed_out_again(store: Arc<dyn Store>) {
    let ids = store.insert_inbox(&[raw_event("a", t0()), raw_event("b", t0()), raw_event("c", t0())]).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.mark_processed(ids[0], t0()).await.unwrap();
    // Marked twice (a replayed round): still one row, still processed.
    tx.mark_processed(ids[0], t0() + secs(5)).await.unwrap();
    tx.commit().await.unwrap();
    store.quarantine(ids[2], "not JSON", t0()).await.unwrap();

    let left = store.unprocessed_inbox(10).await.unwrap();
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[1]]);
    let counts = store.stage_counts().await.unwrap();
    assert_eq!((counts.inbox_total, counts.inbox_unprocessed, counts.quarantined), (3, 1, 1));
}

pub async fn quarantine_entries_are_listed_shown_and_dropped(store: Arc<dyn Store>) {
    let ids = store.insert_inbox(&[raw_event("{broken", t0()), raw_event("<xml/>", t0() + secs(1))]).await.unwrap();
    store.quarantine(ids[0], "expected a JSON object", t0() + secs(2)).await.unwrap();
    store.quarantine(ids[1], "not JSON", t0() + secs(3)).await.unwrap();

    let listed = store.list_quarantine(10).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.inbox_id).collect::<Vec<_>>(), vec![ids[1], ids[0]], "newest first");
    assert_eq!(store.list_quarantine(1).await.unwrap().len(), 1);
    let entry = store.get_quarantine(listed[1].id).await.unwrap();
    assert_eq!(entry.body, b"{broken", "the body is kept as it came");
    assert_eq!(
        (entry.reason.as_str(), entry.connector_id.as_str(), entry.received_at),
        ("expected a JSON object", "wa", t0())
    );

    store.drop_quarantine(entry.id).await.unwrap();
    assert!(matches!(store.get_quarantine(entry.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.drop_quarantine(entry.id).await, Err(StoreError::NotFound(_))), "dropped once");
    assert_eq!(store.list_quarantine(10).await.unwrap().len(), 1);
}

//! Pollers' cursors: one holder at a time, and only the holder moves the cursor.

use std::sync::Arc;

use super::{secs, t0};
use crate::store::Store;

pub async fn a_cursor_is_leased_to_one_holder_until_its_lease_expires(store: Arc<dyn Store>) {
    let first = store.claim_poll_cursor("vapi", "a", t0(), t0() + secs(60)).await.unwrap().expect("a free cursor");
    assert_eq!((first.cursor, first.holder.as_deref()), (None, Some("a")), "a new cursor starts nowhere");
    assert!(store.claim_poll_cursor("vapi", "b", t0() + secs(30), t0() + secs(90)).await.unwrap().is_none());
    // Another connector's cursor is another lease.
    assert!(store.claim_poll_cursor("retell", "b", t0(), t0() + secs(60)).await.unwrap().is_some());
    // The holder renews its own lease.
    assert!(store.claim_poll_cursor("vapi", "a", t0() + secs(30), t0() + secs(120)).await.unwrap().is_some());
    assert!(store.claim_poll_cursor("vapi", "b", t0() + secs(90), t0() + secs(150)).await.unwrap().is_none());
    // Past its expiry, another instance takes it over.
    let taken = store.claim_poll_cursor("vapi", "b", t0() + secs(120), t0() + secs(180)).await.unwrap();
    assert_eq!(taken.and_then(|c| c.holder).as_deref(), Some("b"));
}

pub async fn only_the_holder_advances_the_cursor_and_a_released_one_is_free(store: Arc<dyn Store>) {
    store.claim_poll_cursor("vapi", "a", t0(), t0() + secs(60)).await.unwrap().expect("a free cursor");
    assert!(store.advance_poll_cursor("vapi", "a", Some("c1"), t0() + secs(1)).await.unwrap());
    assert!(!store.advance_poll_cursor("vapi", "b", Some("forged"), t0() + secs(2)).await.unwrap());
    // A lease that expired no longer lets its holder write.
    assert!(!store.advance_poll_cursor("vapi", "a", Some("late"), t0() + secs(61)).await.unwrap());
    let reclaimed = store.claim_poll_cursor("vapi", "a", t0() + secs(62), t0() + secs(120)).await.unwrap().unwrap();
    assert_eq!(reclaimed.cursor.as_deref(), Some("c1"), "the cursor is where its holder left it");
    assert_eq!(reclaimed.polled_at, Some(t0() + secs(1)));
    // A cursor reset to the start is stored as none.
    assert!(store.advance_poll_cursor("vapi", "a", None, t0() + secs(63)).await.unwrap());
    store.release_poll_cursor("vapi", "a").await.unwrap();
    let next = store.claim_poll_cursor("vapi", "b", t0() + secs(64), t0() + secs(120)).await.unwrap();
    assert_eq!(next.map(|c| (c.cursor, c.holder)), Some((None, Some("b".to_owned()))));
    let listed = store.poll_cursors().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].polled_at, Some(t0() + secs(63)));
}

pub async fn a_pause_is_kept_until_resumed_and_seen_by_every_reader(store: Arc<dyn Store>) {
    assert!(store.paused_connectors().await.unwrap().is_empty());
    assert!(store.set_connector_paused("vapi", true, t0()).await.unwrap());
    assert!(!store.set_connector_paused("vapi", true, t0() + secs(1)).await.unwrap(), "paused already");
    assert!(store.set_connector_paused("hubspot", true, t0()).await.unwrap());
    assert_eq!(store.paused_connectors().await.unwrap(), ["hubspot", "vapi"]);
    assert!(store.set_connector_paused("vapi", false, t0() + secs(2)).await.unwrap());
    assert!(!store.set_connector_paused("vapi", false, t0() + secs(3)).await.unwrap(), "not paused");
    assert_eq!(store.paused_connectors().await.unwrap(), ["hubspot"]);
}

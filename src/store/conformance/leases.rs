//! Named leases: one holder at a time, renewals, releases and takeovers after expiry.

use std::sync::Arc;

use super::{secs, t0};
use crate::store::{LeaseTake, Store};

pub async fn a_lease_has_one_holder_until_it_expires_or_is_released(store: Arc<dyn Store>) {
    let now = t0();
    let take = store.take_lease("crm:hubspot", "a", now, now + secs(10)).await.unwrap();
    assert_eq!(take, LeaseTake::Granted { previous: None }, "a lease never held is free");
    assert_eq!(
        store.take_lease("crm:hubspot", "b", now + secs(1), now + secs(11)).await.unwrap(),
        LeaseTake::Held { holder: "a".into(), until: now + secs(10) },
        "held until it expires"
    );
    assert!(store.take_lease("crm:other", "b", now, now + secs(10)).await.unwrap().granted(), "leases are apart");
    // A renewal: the holder's own lease, extended.
    let renewed = store.take_lease("crm:hubspot", "a", now + secs(5), now + secs(15)).await.unwrap();
    assert_eq!(renewed, LeaseTake::Granted { previous: None });
    assert!(!store.take_lease("crm:hubspot", "b", now + secs(12), now + secs(22)).await.unwrap().granted());

    // Expired: another holder takes it and learns until when the previous one had it.
    let taken = store.take_lease("crm:hubspot", "b", now + secs(16), now + secs(26)).await.unwrap();
    assert_eq!(taken, LeaseTake::Granted { previous: Some(("a".into(), now + secs(15))) });
    assert!(!store.take_lease("crm:hubspot", "a", now + secs(17), now + secs(27)).await.unwrap().granted());

    // Released: free at once, and the next holder learns when.
    store.release_lease("crm:hubspot", "a", now + secs(18)).await.unwrap();
    assert!(
        !store.take_lease("crm:hubspot", "c", now + secs(18), now + secs(28)).await.unwrap().granted(),
        "only the holder releases"
    );
    store.release_lease("crm:hubspot", "b", now + secs(20)).await.unwrap();
    let after_release = store.take_lease("crm:hubspot", "c", now + secs(21), now + secs(31)).await.unwrap();
    assert_eq!(after_release, LeaseTake::Granted { previous: Some(("b".into(), now + secs(20))) });
}

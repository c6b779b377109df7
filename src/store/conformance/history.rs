//! What `handoffd backtest` reads: routing decisions of a period in the order made, and the handoffs with
//! nothing to go by.

use std::sync::Arc;

use super::{customer_with_handoff, secs, t0};
use crate::store::{AuditEntry, BriefCommit, NewJob, Store};

fn routed(handoff: &str, customer: &str, owner: &str, at: chrono::DateTime<chrono::Utc>) -> AuditEntry {
    AuditEntry {
        at,
        handoff_id: Some(handoff.to_owned()),
        customer_id: Some(customer.to_owned()),
        event: "routed".into(),
        detail: serde_json::json!({"owner": owner, "rule": "default"}),
    }
}

pub async fn routing_decisions_of_a_period_are_read_in_order_with_their_handoffs(store: Arc<dyn Store>) {
    let (a_customer, a) = customer_with_handoff(store.as_ref(), "+919820000001", t0()).await;
    let (b_customer, b) = customer_with_handoff(store.as_ref(), "+919820000002", t0() + secs(3600)).await;
    let (_, never_made) = customer_with_handoff(store.as_ref(), "+919820000003", t0() + secs(7200)).await;
    let (_, failed) = customer_with_handoff(store.as_ref(), "+919820000004", t0() + secs(7300)).await;
    let job = || Some(NewJob { crm_id: "crm".into(), payload: "{}".into() });
    let commits = [
        BriefCommit {
            handoff_id: a.clone(),
            brief: "{\"who\":\"a\"}".into(),
            job: job(),
            audit: vec![routed(&a, &a_customer, "u1", t0() + secs(120))],
            now: t0() + secs(120),
            assignment: None,
        },
        // Routed twice (briefed again after a later message): both decisions are read.
        BriefCommit {
            handoff_id: b.clone(),
            brief: "{\"who\":\"b\"}".into(),
            job: job(),
            audit: vec![
                routed(&b, &b_customer, "u2", t0() + secs(3720)),
                routed(&b, &b_customer, "u1", t0() + secs(3721)),
            ],
            now: t0() + secs(3720),
            assignment: None,
        },
        // An interpretation that failed leaves the brief `null` and no decision.
        BriefCommit {
            handoff_id: failed.clone(),
            brief: "null".into(),
            job: None,
            audit: Vec::new(),
            now: t0() + secs(7500),
            assignment: None,
        },
    ];
    crate::conversation::commit_briefs(store.as_ref(), &commits, &[]).await.unwrap();

    let (since, until) = (t0(), t0() + chrono::Duration::days(1));
    let read = store.recorded_decisions(since, until, 0, 10).await.unwrap();
    let seen: Vec<(&str, &str)> =
        read.iter().map(|d| (d.handoff.id.as_str(), d.detail["owner"].as_str().unwrap())).collect();
    assert_eq!(seen, vec![(a.as_str(), "u1"), (b.as_str(), "u2"), (b.as_str(), "u1")], "in the order made");
    assert_eq!(read[0].at, t0() + secs(120));
    assert_eq!(read[0].brief.as_deref(), Some("{\"who\":\"a\"}"));
    assert_eq!(read[0].customer.id, a_customer);
    assert!(read[0].customer.key.as_deref().is_some_and(|k| k.contains("919820000001")), "{:?}", read[0].customer);
    assert_eq!(read[0].handoff.customer_id, a_customer);
    assert!(read.windows(2).all(|w| w[0].audit_id < w[1].audit_id));
    assert_eq!(store.count_recorded_decisions(since, until).await.unwrap(), 3);

    // Pages continue after the last id read; the period bounds the decision's time.
    let page = store.recorded_decisions(since, until, read[0].audit_id, 1).await.unwrap();
    assert_eq!(page.iter().map(|d| d.audit_id).collect::<Vec<_>>(), vec![read[1].audit_id]);
    let later = store.recorded_decisions(t0() + secs(600), until, 0, 10).await.unwrap();
    assert_eq!(later.len(), 2, "A's decision is before the period");
    assert_eq!(store.count_recorded_decisions(t0() + secs(600), t0() + secs(3721)).await.unwrap(), 1, "until excludes");

    let unrouted = store.unrouted_handoffs(since, until).await.unwrap();
    let ids: Vec<&str> = unrouted.iter().map(|u| u.handoff.id.as_str()).collect();
    assert_eq!(ids, vec![never_made.as_str(), failed.as_str()], "no decision and no brief, by ready time");
    assert!(store.unrouted_handoffs(t0() + secs(7400), until).await.unwrap().is_empty(), "ready before the period");
}

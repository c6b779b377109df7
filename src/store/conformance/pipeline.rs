//! The pipeline's transactional primitives and the rounds the stages build from them.

use std::sync::Arc;

use chrono::Duration;
use handoffd_contract::conversation::Speaker;

use super::{batch, customer_with_handoff, message, raw_event, secs, t0};
use crate::conversation::lifecycle::{self, BRIEFED, EXPIRED, MESSAGE_ARRIVED, NOTHING_TO_ACT_ON};
use crate::store::{Assignment, HandoffState, HandoffTouch, NewHandoff, NewInteraction, NewJob, RotationClaim, Store};

fn new_interaction<'a>(
    interaction: &'a handoffd_contract::interaction::Interaction,
    customer_id: &'a str,
    connector_id: &'a str,
    speaker: Option<&'a str>,
) -> NewInteraction<'a> {
    NewInteraction {
        connector_id,
        inbox_id: 1,
        customer_id,
        speaker,
        kind: "text".into(),
        text: Some("hello".into()),
        received_at: interaction.at,
        interaction,
    }
}

pub async fn a_transaction_dropped_without_commit_leaves_nothing(store: Arc<dyn Store>) {
    let inbox = store.insert_inbox(&[raw_event("a", t0())]).await.unwrap();
    let interaction = message("m1", "+919820012345", Speaker::Customer, t0());
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_customer("c1", Some("Asha"), t0()).await.unwrap();
        tx.add_keys("c1", &[("phone:+919820012345".into(), "+919820012345".into())], "wa", t0()).await.unwrap();
        let id = tx.insert_interaction(&new_interaction(&interaction, "c1", "wa", Some("customer"))).await.unwrap();
        assert!(id.is_some());
        tx.mark_processed(inbox[0], t0()).await.unwrap();
        // A crash here: the transaction ends without commit.
    }
    assert_eq!(store.customer_for_key("phone:+919820012345").await.unwrap(), None);
    assert_eq!(store.unprocessed_inbox(10).await.unwrap().len(), 1, "the row is handed out again");

    // The round is replayed as a whole: the interaction is new again, not a duplicate.
    let summary =
        crate::ingest::apply_interactions(store.as_ref(), &[(inbox[0], batch(vec![interaction], t0()))]).await.unwrap();
    assert_eq!((summary.stored, summary.duplicates, summary.customers_created, summary.handoffs_opened), (1, 0, 1, 1));
    assert!(store.unprocessed_inbox(10).await.unwrap().is_empty());
}

pub async fn a_round_applied_again_changes_nothing(store: Arc<dyn Store>) {
    let inbox = store.insert_inbox(&[raw_event("a", t0()), raw_event("b", t0() + secs(10))]).await.unwrap();
    let rows = vec![
        (inbox[0], batch(vec![message("m1", "+919820012345", Speaker::Customer, t0())], t0())),
        (
            inbox[1],
            batch(
                vec![
                    message("m2", "+919820012345", Speaker::Customer, t0() + secs(10)),
                    message("m3", "+14155552671", Speaker::Customer, t0() + secs(10)),
                ],
                t0() + secs(10),
            ),
        ),
    ];
    let first = crate::ingest::apply_interactions(store.as_ref(), &rows).await.unwrap();
    assert_eq!((first.stored, first.duplicates, first.customers_created, first.handoffs_opened), (3, 0, 2, 2));
    let handoffs = store.ready_handoffs(t0() + Duration::days(1), 10).await.unwrap();

    // Committed, then the process died before it knew: the same round comes again.
    let again = crate::ingest::apply_interactions(store.as_ref(), &rows).await.unwrap();
    assert_eq!((again.stored, again.duplicates, again.customers_created, again.handoffs_opened), (0, 3, 0, 0));
    let after = store.ready_handoffs(t0() + Duration::days(1), 10).await.unwrap();
    assert_eq!(
        after.iter().map(|h| (&h.id, h.ready_at)).collect::<Vec<_>>(),
        handoffs.iter().map(|h| (&h.id, h.ready_at)).collect::<Vec<_>>(),
        "no handoff opened or moved"
    );
    let conversation = store.handoff_conversation(&handoffs[0].id).await.unwrap();
    assert_eq!(conversation.interactions.len(), 2, "the burst of one customer is one handoff");
}

pub async fn interactions_are_stored_once_per_connector_and_dedup_key(store: Arc<dyn Store>) {
    let interaction = message("wamid.1", "+919820012345", Speaker::Customer, t0());
    let mut tx = store.begin().await.unwrap();
    tx.insert_customer("c1", None, t0()).await.unwrap();
    let first = tx.insert_interaction(&new_interaction(&interaction, "c1", "wa", Some("customer"))).await.unwrap();
    let again = tx.insert_interaction(&new_interaction(&interaction, "c1", "wa", Some("customer"))).await.unwrap();
    let other = tx.insert_interaction(&new_interaction(&interaction, "c1", "wa-2", Some("customer"))).await.unwrap();
    tx.commit().await.unwrap();
    assert!(first.is_some());
    assert_eq!(again, None, "a redelivery is not stored again");
    assert!(other.is_some() && other != first, "dedup keys are unique per connector");
}

pub async fn handoffs_are_found_touched_and_adopt_unattached_messages(store: Arc<dyn Store>) {
    let ai_first = message("m0", "+919820012345", Speaker::Ai, t0() - secs(60));
    let stale = message("m-old", "+919820012345", Speaker::Agent, t0() - Duration::days(2));
    let reply = message("m1", "+919820012345", Speaker::Customer, t0());
    let mut tx = store.begin().await.unwrap();
    tx.insert_customer("c1", None, t0()).await.unwrap();
    tx.insert_customer("c2", None, t0()).await.unwrap();
    let mut ai = new_interaction(&ai_first, "c1", "wa", Some("ai"));
    ai.received_at = t0() - secs(60);
    tx.insert_interaction(&ai).await.unwrap().unwrap();
    let mut old = new_interaction(&stale, "c1", "wa", Some("agent"));
    old.received_at = t0() - Duration::days(2);
    tx.insert_interaction(&old).await.unwrap().unwrap();
    let reply_id =
        tx.insert_interaction(&new_interaction(&reply, "c1", "wa", Some("customer"))).await.unwrap().unwrap();

    let open = |at| NewHandoff {
        id: "h1",
        customer_id: "c1",
        state: HandoffState::Collecting,
        opened_at: at,
        ready_at: at + secs(90),
        ended_by: None,
    };
    tx.insert_handoff(&open(t0())).await.unwrap();
    tx.insert_handoff(&NewHandoff {
        id: "h-closed",
        state: HandoffState::Closed,
        opened_at: t0() + secs(1),
        ..open(t0())
    })
    .await
    .unwrap();
    tx.insert_handoff(&NewHandoff { id: "h-other", customer_id: "c2", ..open(t0() + secs(2)) }).await.unwrap();
    assert_eq!(
        tx.adopt_interactions("h1", "c1", t0() - Duration::hours(24)).await.unwrap(),
        2,
        "the AI's opener and the reply"
    );
    tx.attach_interaction(reply_id, "h1").await.unwrap();

    let states = MESSAGE_ARRIVED.from;
    assert_eq!(tx.open_handoff_of("c1", states, t0() - Duration::days(7)).await.unwrap().as_deref(), Some("h1"));
    assert_eq!(tx.open_handoff_of("c1", states, t0()).await.unwrap(), None, "opened too long ago");
    assert_eq!(
        tx.open_handoff_of("c1", &[HandoffState::Closed], t0() - secs(1)).await.unwrap().as_deref(),
        Some("h-closed"),
        "only the states asked for"
    );
    let touch = HandoffTouch {
        state: HandoffState::Collecting,
        last_activity_at: t0() + secs(30),
        ready_at: t0() + secs(30),
        ended_by: Some("handoff_marker"),
    };
    tx.touch_handoff("h1", &touch).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.next_ready_at().await.unwrap(), Some(t0() + secs(30)), "the earliest collecting handoff");
    assert!(store.ready_handoffs(t0() + secs(29), 10).await.unwrap().is_empty());
    let ready = store.ready_handoffs(t0() + secs(100), 10).await.unwrap();
    assert_eq!(ready.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), vec!["h1", "h-other"], "oldest ready first");
    assert_eq!(store.ready_handoffs(t0() + secs(100), 1).await.unwrap().len(), 1);
    let h1 = &ready[0];
    assert_eq!((h1.state, h1.ended_by.as_deref(), h1.version), (HandoffState::Collecting, Some("handoff_marker"), 0));

    let conversation = store.handoff_conversation("h1").await.unwrap();
    let texts: Vec<_> = conversation.interactions.iter().map(|i| i.speaker.clone().unwrap_or_default()).collect();
    assert_eq!(texts, vec!["ai", "customer"], "in time order, the stale message left out");
    assert_eq!(conversation.earlier.len(), 1, "the stale message is earlier history");
    assert_eq!(conversation.customer.id, "c1");
    let both = store.handoff_conversations(&ready).await.unwrap();
    assert_eq!(both.iter().map(|c| c.handoff.id.as_str()).collect::<Vec<_>>(), vec!["h1", "h-other"]);
    assert!(matches!(store.handoff_conversation("nope").await, Err(crate::store::StoreError::NotFound(_))));
}

/// A touch is what later primitives of the same transaction see (a store may send it later, at commit): the
/// handoff is found in the state it was touched into, not in the one it left, and the last of two touches is kept.
pub async fn a_touch_is_seen_by_the_rest_of_its_transaction(store: Arc<dyn Store>) {
    let (customer, handoff) = customer_with_handoff(store.as_ref(), "+919820012345", t0()).await;
    let mut tx = store.begin().await.unwrap();
    let closed = HandoffTouch { state: HandoffState::Closed, last_activity_at: t0(), ready_at: t0(), ended_by: None };
    tx.touch_handoff(&handoff, &closed).await.unwrap();
    let since = t0() - Duration::days(1);
    assert_eq!(tx.open_handoff_of(&customer, MESSAGE_ARRIVED.from, since).await.unwrap(), None, "closed by the touch");
    assert_eq!(tx.open_handoff_of(&customer, &[HandoffState::Closed], since).await.unwrap(), Some(handoff.clone()));
    let collecting = HandoffTouch {
        state: HandoffState::Collecting,
        last_activity_at: t0() + secs(5),
        ready_at: t0() + secs(50),
        ended_by: Some("handoff_marker"),
    };
    tx.touch_handoff(&handoff, &collecting).await.unwrap();
    assert_eq!(tx.open_handoff_of(&customer, MESSAGE_ARRIVED.from, since).await.unwrap(), Some(handoff.clone()));
    // A brief reads the handoff's `ready_at` as touched: not ready before it.
    assert_eq!(tx.record_brief(&handoff, "{}", BRIEFED, t0() + secs(49)).await.unwrap(), None);
    tx.commit().await.unwrap();
    let ready = store.ready_handoffs(t0() + secs(50), 10).await.unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!((ready[0].state, ready[0].ended_by.as_deref()), (HandoffState::Collecting, Some("handoff_marker")));
    assert_eq!(store.next_ready_at().await.unwrap(), Some(t0() + secs(50)), "the last touch is kept");
}

pub async fn a_brief_is_recorded_only_for_a_ready_handoff_in_the_from_states(store: Arc<dyn Store>) {
    let (_, handoff) = customer_with_handoff(store.as_ref(), "+919820012345", t0()).await;
    let ready_at = t0() + secs(90);
    let job = NewJob { crm_id: "crm".into(), payload: "{\"v\":1}".into() };

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.record_brief(&handoff, "{}", BRIEFED, ready_at - secs(1)).await.unwrap(), None, "not ready yet");
    let version = tx.record_brief(&handoff, "{\"brief\":1}", BRIEFED, ready_at).await.unwrap();
    assert_eq!(version, Some(1));
    tx.queue_job(&handoff, &job, 1, ready_at).await.unwrap();
    assert_eq!(tx.record_brief(&handoff, "{}", BRIEFED, ready_at).await.unwrap(), None, "queued is not collecting");
    tx.commit().await.unwrap();
    assert!(store.ready_handoffs(ready_at + Duration::days(1), 10).await.unwrap().is_empty());

    // A later message reopens it; the new brief refreshes the one job instead of queueing another.
    let mut tx = store.begin().await.unwrap();
    let touch = HandoffTouch { state: MESSAGE_ARRIVED.to, last_activity_at: ready_at, ready_at, ended_by: None };
    tx.touch_handoff(&handoff, &touch).await.unwrap();
    let version = tx.record_brief(&handoff, "{\"brief\":2}", BRIEFED, ready_at).await.unwrap();
    assert_eq!(version, Some(2), "each brief bumps the version");
    tx.queue_job(&handoff, &NewJob { payload: "{\"v\":2}".into(), ..job.clone() }, 2, ready_at).await.unwrap();
    tx.commit().await.unwrap();
    let jobs = store.lease_jobs("crm", "w", &[], ready_at, ready_at + secs(60), 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].version, jobs[0].payload.as_str(), jobs[0].handoff_id.as_str()),
        (2, "{\"v\":2}", handoff.as_str())
    );

    // Nothing to act on closes a collecting handoff; no job.
    let (_, other) = customer_with_handoff(store.as_ref(), "+14155552671", t0()).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.record_brief(&other, "null", NOTHING_TO_ACT_ON, ready_at).await.unwrap(), Some(1));
    tx.commit().await.unwrap();
    let closed = store.handoff_conversation(&other).await.unwrap().handoff;
    assert_eq!(closed.state, HandoffState::Closed);
    assert_eq!(store.stage_counts().await.unwrap().outbox_pending, 1);
}

pub async fn transitions_move_only_handoffs_in_their_from_states(store: Arc<dyn Store>) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_customer("c1", None, t0()).await.unwrap();
    for (id, state, opened) in [
        ("open-old", HandoffState::Open, t0() - Duration::days(8)),
        ("open-new", HandoffState::Open, t0() - Duration::days(1)),
        ("queued-old", HandoffState::Queued, t0() - Duration::days(8)),
    ] {
        let new = NewHandoff { id, customer_id: "c1", state, opened_at: opened, ready_at: opened, ended_by: None };
        tx.insert_handoff(&new).await.unwrap();
    }
    tx.commit().await.unwrap();
    let expired = store.expire_handoffs(t0() - Duration::days(7), EXPIRED, t0()).await.unwrap();
    assert_eq!(expired, 1);
    let state = |id: &'static str| {
        let store = store.clone();
        async move { store.handoff_conversation(id).await.unwrap().handoff.state }
    };
    assert_eq!(state("open-old").await, HandoffState::Closed);
    assert_eq!(state("open-new").await, HandoffState::Open, "not open long enough");
    assert_eq!(state("queued-old").await, HandoffState::Queued, "only open handoffs expire");
    assert_eq!(store.expire_handoffs(t0() - Duration::days(7), EXPIRED, t0()).await.unwrap(), 0, "once");
    assert_eq!(lifecycle::after_brief(true), BRIEFED);
}

pub async fn rotation_advances_by_the_positions_handed_out(store: Arc<dyn Store>) {
    assert_eq!(store.rotation_position("sales").await.unwrap(), 0, "a pool never used starts at 0");
    let mut tx = store.begin().await.unwrap();
    tx.advance_rotation("sales", 3).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.advance_rotation("sales", 2).await.unwrap();
    drop(tx);
    assert_eq!(store.rotation_position("sales").await.unwrap(), 3, "an uncommitted round hands out nothing");
    crate::conversation::commit_briefs(store.as_ref(), &[], &[("sales".to_owned(), 4)]).await.unwrap();
    assert_eq!(store.rotation_position("sales").await.unwrap(), 7);
    assert_eq!(store.rotation_position("support").await.unwrap(), 0, "pools are apart");
}

/// Taking turns is a compare-and-set: a router whose view of the rotation is stale takes nothing and learns the
/// position, and the rounds' additive advances still add up with it.
pub async fn rotation_turns_are_taken_by_compare_and_set(store: Arc<dyn Store>) {
    assert_eq!(store.claim_rotation("sales", 0, 1).await.unwrap(), RotationClaim::Taken, "a new pool starts at 0");
    assert_eq!(store.claim_rotation("sales", 0, 1).await.unwrap(), RotationClaim::Moved { current: 1 }, "taken");
    assert_eq!(store.claim_rotation("sales", 1, 3).await.unwrap(), RotationClaim::Taken, "several turns at once");
    assert_eq!(store.rotation_position("sales").await.unwrap(), 3);
    assert_eq!(store.claim_rotation("support", 5, 6).await.unwrap(), RotationClaim::Moved { current: 0 });
    crate::conversation::commit_briefs(store.as_ref(), &[], &[("sales".to_owned(), 2)]).await.unwrap();
    assert_eq!(store.claim_rotation("sales", 3, 4).await.unwrap(), RotationClaim::Moved { current: 5 });
}

pub async fn assignments_count_open_handoffs_and_owners_are_replaced_whole(store: Arc<dyn Store>) {
    use handoffd_contract::crm::CrmOwner;
    let at = t0();
    let (_, first) = super::queued_job(store.as_ref(), "+919820000101", at).await;
    let (_, second) = super::queued_job(store.as_ref(), "+919820000102", at).await;
    let (_, third) = super::queued_job(store.as_ref(), "+919820000103", at).await;
    let assigned = |owner: Option<&str>, pool: Option<&str>| Assignment {
        owner_id: owner.map(str::to_owned),
        pool: pool.map(str::to_owned),
        confirm: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.assign_owner(&first, &assigned(Some("7"), Some("sales")), at).await.unwrap();
    tx.assign_owner(&second, &assigned(Some("7"), Some("sales")), at).await.unwrap();
    tx.assign_owner(&third, &assigned(None, None), at).await.unwrap();
    tx.commit().await.unwrap();
    let open = store.open_handoffs_by_owner().await.unwrap();
    assert_eq!(open, std::collections::HashMap::from([("7".to_owned(), 2)]), "unassigned handoffs count for nobody");
    // Reassigned: the later assignment replaces the earlier one.
    let mut tx = store.begin().await.unwrap();
    tx.assign_owner(&second, &assigned(Some("8"), Some("sales")), at).await.unwrap();
    tx.commit().await.unwrap();
    let open = store.open_handoffs_by_owner().await.unwrap();
    assert_eq!((open.get("7"), open.get("8")), (Some(&1), Some(&1)));

    assert!(store.crm_owners("crm").await.unwrap().is_empty(), "never synced");
    let owner = |id: &str, email: &str, active: bool| CrmOwner {
        id: id.into(),
        name: Some(format!("Owner {id}")),
        email: Some(email.into()),
        active,
    };
    store.replace_crm_owners("crm", &[owner("7", "Asha@X.in", true), owner("8", "b@x.in", false)], at).await.unwrap();
    store.replace_crm_owners("other", &[owner("1", "c@x.in", true)], at).await.unwrap();
    let listed = store.crm_owners("crm").await.unwrap();
    assert_eq!(listed, [owner("7", "asha@x.in", true), owner("8", "b@x.in", false)], "emails kept lowercased");
    store.replace_crm_owners("crm", &[owner("8", "b@x.in", true)], at).await.unwrap();
    assert_eq!(store.crm_owners("crm").await.unwrap(), [owner("8", "b@x.in", true)], "a deleted owner is gone");
    assert_eq!(store.crm_owners("other").await.unwrap().len(), 1, "accounts are apart");
}

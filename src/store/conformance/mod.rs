//! The store conformance suite: one set of tests that every backend passes, checking each method's and
//! each [`PipelineTx`](super::PipelineTx) primitive's contract, the transactional ones included (a
//! transaction dropped without commit leaves nothing, a round applied again changes nothing, a dead
//! worker's leases are taken over).
//!
//! It lives in the crate, behind `cfg(any(test, feature = "store-conformance"))`, rather than in `tests/`:
//! a backend in this crate runs it from its own `#[cfg(test)]` module, and a backend in a crate of its own
//! runs it by enabling the `store-conformance` feature in its dev-dependencies. A backend plugs in with one
//! line, given an async factory that makes a fresh, empty store per test:
//!
//! ```ignore
//! async fn backend() -> handoffd::store::conformance::Backend { /* a scratch database */ }
//! // or, for a backend that needs a server: async fn backend() -> Option<Backend> (None: skipped)
//! handoffd::store_conformance_suite!(backend);
//! ```
//!
//! The cases use fixed times, never the clock, so they mean the same on every machine.

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::inbox::InboxSource;
use handoffd_contract::interaction::{Channel, Content, Direction, Interaction, Message};
use handoffd_contract::webhook::Verified;

use super::{NewInboxEvent, NormalizedBatch, NormalizedInteraction, Store};

pub mod cache;
pub mod deliver;
pub mod history;
pub mod identity;
pub mod inbox;
pub mod leases;
pub mod pipeline;
pub mod poll;
pub mod records;
pub mod watch;

/// A fresh, empty store, with whatever must outlive it (a temp dir, a scratch database's guard).
pub struct Backend {
    pub store: Arc<dyn Store>,
    _keep: Box<dyn Any + Send + Sync>,
}

impl Backend {
    pub fn new(store: Arc<dyn Store>, keep: impl Any + Send + Sync) -> Self {
        Self { store, _keep: Box::new(keep) }
    }
}

/// What a backend factory returns: a [`Backend`], or `Option<Backend>` for a backend that needs a server
/// (`None`: skipped, after the factory said so).
pub trait MaybeBackend {
    fn available(self) -> Option<Backend>;
}

impl MaybeBackend for Backend {
    fn available(self) -> Option<Backend> {
        Some(self)
    }
}

impl MaybeBackend for Option<Backend> {
    fn available(self) -> Option<Backend> {
        self
    }
}

/// Stamp out one `#[tokio::test]` per conformance case for a backend factory (`async fn() -> Backend`).
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:path) => {
        $crate::store_conformance_suite!(@cases $make;
            inbox::inbox_commits_events_in_order_and_hands_out_the_unprocessed,
            inbox::processed_or_quarantined_rows_are_not_handed_out_again,
            inbox::quarantine_entries_are_listed_shown_and_dropped,
            pipeline::a_transaction_dropped_without_commit_leaves_nothing,
            pipeline::a_round_applied_again_changes_nothing,
            pipeline::interactions_are_stored_once_per_connector_and_dedup_key,
            pipeline::handoffs_are_found_touched_and_adopt_unattached_messages,
            pipeline::a_touch_is_seen_by_the_rest_of_its_transaction,
            pipeline::a_brief_is_recorded_only_for_a_ready_handoff_in_the_from_states,
            pipeline::transitions_move_only_handoffs_in_their_from_states,
            pipeline::rotation_advances_by_the_positions_handed_out,
            pipeline::assignments_count_open_handoffs_and_owners_are_replaced_whole,
            pipeline::rotation_turns_are_taken_by_compare_and_set,
            identity::customers_are_found_by_key_and_keys_stay_where_first_bound,
            identity::a_merge_moves_rows_and_undo_moves_exactly_those_back,
            identity::a_conflict_is_one_row_per_set_of_customers_counted,
            identity::a_customer_timeline_has_its_interactions_handoffs_and_audit,
            identity::a_conversation_carries_its_customers_identity_facts,
            deliver::a_dead_workers_leases_are_leased_again_and_busy_jobs_are_not,
            deliver::a_new_account_holder_takes_the_previous_workers_jobs_at_once,
            deliver::a_delivered_job_finishes_unless_a_newer_brief_arrived,
            deliver::jobs_delivered_together_are_each_finished_or_kept,
            deliver::a_retry_releases_the_lease_until_its_time,
            deliver::dead_letters_are_replayed_and_dropped,
            deliver::crm_contacts_of_customers_are_remembered,
            cache::a_sync_page_and_its_cursor_are_stored_together,
            cache::cached_contacts_are_found_by_key_and_followed_to_merge_survivors,
            history::routing_decisions_of_a_period_are_read_in_order_with_their_handoffs,
            records::audit_entries_and_tokens_are_kept,
            records::stage_counts_follow_the_pipeline,
            records::queue_ages_show_what_waits_and_since_when,
            poll::a_cursor_is_leased_to_one_holder_until_its_lease_expires,
            poll::only_the_holder_advances_the_cursor_and_a_released_one_is_free,
            poll::a_pause_is_kept_until_resumed_and_seen_by_every_reader,
            leases::a_lease_has_one_holder_until_it_expires_or_is_released,
            watch::a_written_task_is_watched_until_the_crm_reports_it_completed,
            watch::ladder_steps_are_recorded_once,
            watch::the_watchers_owner_and_priority_are_kept_and_a_rules_confirm_is_routed_with_the_handoff,
            watch::confirmations_are_claimed_once_and_opt_outs_are_kept,
            watch::opt_outs_follow_a_customer_merge,
        );
    };
    (@cases $make:path; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                // A factory may return `None`: the backend is not available here, and it said so.
                let Some(backend) = $crate::store::conformance::MaybeBackend::available($make().await) else {
                    return;
                };
                $crate::store::conformance::$module::$case(backend.store.clone()).await;
            }
        )*
    };
}

// --- fixtures shared by the cases ---------------------------------------------------------------

/// A fixed moment all cases count from.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).single().expect("a valid time")
}

pub(crate) fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

pub(crate) fn raw_event(body: &str, at: DateTime<Utc>) -> NewInboxEvent {
    NewInboxEvent {
        connector_id: "wa".into(),
        source: InboxSource::Webhook,
        event: Verified::produced_by_connector(body.as_bytes().to_vec(), at),
    }
}

pub(crate) fn message(dedup: &str, phone: &str, from: Speaker, at: DateTime<Utc>) -> Interaction {
    Interaction {
        dedup_key: dedup.to_owned(),
        channel: Channel::Whatsapp,
        direction: if from == Speaker::Customer { Direction::Inbound } else { Direction::Outbound },
        at,
        keys: vec![IdentityKey::phone(phone)],
        display_name: None,
        content: Content::Message(Message {
            from,
            kind: "text".into(),
            text: Some(format!("message {dedup}")),
            ..Default::default()
        }),
    }
}

/// One inbox row's interactions, as the normaliser hands them over (90 s quiet period, 7 days open).
pub(crate) fn batch(interactions: Vec<Interaction>, at: DateTime<Utc>) -> NormalizedBatch {
    NormalizedBatch {
        connector_id: "wa".into(),
        received_at: at,
        quiet_period: secs(90),
        reopen_after: Duration::days(7),
        interactions: interactions
            .into_iter()
            .map(|interaction| {
                let keys = interaction.keys.iter().flat_map(|k| crate::ingest::match_keys(k, None)).collect();
                NormalizedInteraction { interaction, keys, end_signal: None }
            })
            .collect(),
    }
}

/// A customer's message applied through the pipeline's own rules; returns (customer id, handoff id).
pub(crate) async fn customer_with_handoff(store: &dyn Store, phone: &str, at: DateTime<Utc>) -> (String, String) {
    let inbox = store.insert_inbox(&[raw_event(phone, at)]).await.expect("inbox insert");
    let dedup = format!("m-{phone}-{}", at.timestamp());
    crate::ingest::apply_interactions(
        store,
        &[(inbox[0], batch(vec![message(&dedup, phone, Speaker::Customer, at)], at))],
    )
    .await
    .expect("apply");
    let customer = store.customer_for_key(&format!("phone:{phone}")).await.expect("lookup").expect("a customer");
    let handoff = store.ready_handoffs(at + Duration::days(1), 100).await.expect("ready handoffs");
    let handoff = handoff.into_iter().find(|h| h.customer_id == customer).expect("the customer's handoff");
    (customer, handoff.id)
}

/// A handoff briefed and queued with version 1 for CRM `crm`; returns (customer id, handoff id).
pub(crate) async fn queued_job(store: &dyn Store, phone: &str, at: DateTime<Utc>) -> (String, String) {
    let (customer, handoff) = customer_with_handoff(store, phone, at).await;
    let commit = super::BriefCommit {
        handoff_id: handoff.clone(),
        brief: "{}".into(),
        job: Some(super::NewJob { crm_id: "crm".into(), payload: format!("{{\"phone\":\"{phone}\"}}") }),
        audit: Vec::new(),
        now: at + secs(120),
        assignment: None,
    };
    crate::conversation::commit_briefs(store, &[commit], &[]).await.expect("commit brief");
    (customer, handoff)
}

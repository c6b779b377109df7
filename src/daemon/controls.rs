//! What an admin changes in a running daemon without a reload: connectors paused and resumed,
//! polls asked for now (the admin API's `/admin/connectors/...`).
//!
//! What "paused" means depends on what the connector does, and is chosen so that nothing is
//! lost while it lasts:
//! - a **poller** stops polling: its cursor stays where it was, and the first poll after
//!   `resume` picks up everything since (within the vendor's history);
//! - the **delivery CRM** stops delivering: jobs stay in the outbox (its depth and oldest age
//!   grow on `/metrics`) and go out in order on `resume`;
//! - a **webhook source** cannot be paused: the vendor keeps sending, and refusing would make it
//!   retry and then give up. Its events are stored and acknowledged as always; pausing the CRM
//!   is how an admin holds back what they produce.
//!
//! A pause is kept in the store (`connector_pauses`) until `resume`: it survives a restart, and
//! every instance sharing the store reads the paused set on a short schedule
//! ([`Controls::follow_store`], every [`FOLLOW_EVERY`]), so a pause made through one instance's
//! admin API (or with `handoffd connector pause` while no daemon runs) holds on all of them.
//! The instance that took the request applies it at once; the others within one refresh.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::store::ConnectorPauseStore;

/// How often each instance reads the paused connectors from the store.
pub const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Paused connectors and poll-now requests, shared by the admin API and the stages.
#[derive(Clone)]
pub struct Controls {
    paused: watch::Sender<BTreeSet<String>>,
    poll_now: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
}

impl Default for Controls {
    fn default() -> Self {
        Self { paused: watch::Sender::new(BTreeSet::new()), poll_now: Default::default() }
    }
}

impl Controls {
    /// Pause a connector; `false` when it was paused already.
    pub fn pause(&self, connector_id: &str) -> bool {
        let changed = self.paused.send_if_modified(|paused| paused.insert(connector_id.to_owned()));
        self.record(connector_id);
        changed
    }

    /// Resume a connector; `false` when it was not paused.
    pub fn resume(&self, connector_id: &str) -> bool {
        let changed = self.paused.send_if_modified(|paused| paused.remove(connector_id));
        self.record(connector_id);
        changed
    }

    /// Replace the paused set with the store's (what another instance, or the CLI, changed).
    pub fn set_all(&self, paused: BTreeSet<String>) {
        let before = self.paused.borrow().clone();
        if self.paused.send_if_modified(|current| {
            let changed = *current != paused;
            *current = paused;
            changed
        }) {
            for id in before.symmetric_difference(&self.paused.borrow().clone()) {
                self.record(id);
            }
        }
    }

    /// Load the store's paused set now (at start, before any stage runs).
    pub async fn load(&self, store: &dyn ConnectorPauseStore) -> crate::store::StoreResult<()> {
        self.set_all(store.paused_connectors().await?.into_iter().collect());
        Ok(())
    }

    /// Follow the store's paused set until `stop` (a failed read keeps the last known set).
    pub async fn follow_store(self, store: std::sync::Arc<dyn ConnectorPauseStore>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            }
            if let Err(error) = self.load(store.as_ref()).await {
                tracing::warn!(%error, "The paused connectors could not be read from the store; the last known set holds.");
            }
        }
    }

    pub fn is_paused(&self, connector_id: &str) -> bool {
        self.paused.borrow().contains(connector_id)
    }

    /// The paused connectors, sorted.
    pub fn paused(&self) -> Vec<String> {
        self.paused.borrow().iter().cloned().collect()
    }

    /// Until `connector_id` is not paused (at once when it is not).
    pub async fn wait_resumed(&self, connector_id: &str) {
        let mut changes = self.paused.subscribe();
        // `wait_for` fails only when the sender is gone, and `self` holds it.
        let _ = changes.wait_for(|paused| !paused.contains(connector_id)).await;
    }

    /// Ask a poller to poll now instead of at its next scheduled time. A request made while it
    /// polls is kept, and served by one more poll right after.
    pub fn poll_now(&self, connector_id: &str) {
        self.poll_signal(connector_id).notify_one();
    }

    /// What a poller waits on beside its schedule.
    pub fn poll_signal(&self, connector_id: &str) -> Arc<Notify> {
        self.poll_now.lock().expect("poll-now signals").entry(connector_id.to_owned()).or_default().clone()
    }

    /// `handoffd_connector_paused{connector}`: 1 while paused, 0 once resumed.
    fn record(&self, connector_id: &str) {
        let value = if self.is_paused(connector_id) { 1.0 } else { 0.0 };
        metrics::gauge!("handoffd_connector_paused", "connector" => connector_id.to_owned()).set(value);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_paused_connector_waits_until_resumed_and_others_do_not_wait() {
        let controls = Controls::default();
        assert!(controls.pause("voice"));
        assert!(!controls.pause("voice"), "pausing twice changes nothing");
        tokio::time::timeout(Duration::from_millis(50), controls.wait_resumed("crm")).await.expect("not paused");
        let waiting = tokio::spawn({
            let controls = controls.clone();
            async move { controls.wait_resumed("voice").await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "still paused");
        assert!(controls.resume("voice"));
        tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("resumed").unwrap();
        assert!(controls.paused().is_empty());
    }

    /// Instance `a` pauses through its admin API (which writes the store); instance `b` follows
    /// the store; a restarted instance loads the pause before its stages run.
    async fn a_pause_reaches_another_instance_and_outlives_a_restart(store: std::sync::Arc<dyn crate::store::Store>) {
        let (a, b) = (Controls::default(), Controls::default());
        let stop = CancellationToken::new();
        let following = tokio::spawn(b.clone().follow_store(store.clone(), stop.clone()));
        store.set_connector_paused("voice", true, chrono::Utc::now()).await.unwrap();
        a.pause("voice");
        tokio::time::timeout(Duration::from_secs(30), async {
            while !b.is_paused("voice") {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("b sees a's pause within a refresh");
        let restarted = Controls::default();
        restarted.load(store.as_ref()).await.unwrap();
        assert_eq!(restarted.paused(), ["voice"]);
        store.set_connector_paused("voice", false, chrono::Utc::now()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), b.wait_resumed("voice")).await.expect("b sees the resume");
        stop.cancel();
        following.await.unwrap();
    }

    #[tokio::test]
    async fn a_pause_in_sqlite_reaches_another_instance_and_outlives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("handoffd.db").display());
        let store = crate::store::sqlite::SqliteStore::open(&url).await.unwrap();
        a_pause_reaches_another_instance_and_outlives_a_restart(std::sync::Arc::new(store)).await;
    }

    #[tokio::test]
    async fn a_pause_in_postgres_reaches_another_instance_and_outlives_a_restart() {
        let Some((store, _schema)) = crate::store::postgres::scratch::store("pauses_follow_the_store").await else {
            return;
        };
        a_pause_reaches_another_instance_and_outlives_a_restart(store).await;
    }

    #[tokio::test]
    async fn a_poll_asked_for_while_polling_is_not_lost() {
        let controls = Controls::default();
        let signal = controls.poll_signal("voice");
        controls.poll_now("voice");
        tokio::time::timeout(Duration::from_millis(50), signal.notified()).await.expect("the stored request");
    }
}

//! Work only one instance may do at a time, kept by a named lease in the store ([`LeaseStore`]): a CRM
//! account's delivery (so its rate limit and batching stay exact without a distributed limiter) and each
//! scheduled job (so exactly one instance runs it).
//!
//! A lease is held for [`Lease::ttl`] and renewed well before it ends; a killed instance's lease expires and
//! another instance takes it. The lease also says until when its previous holder may have used what it
//! guards (its last use when released, its expiry when it died): a CRM account's new holder starts its
//! limiter with the burst spent from then (or, for a connector that cannot, waits one rate window after it), so
//! a takeover never doubles the rate.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::store::{LeaseStore, LeaseTake, StoreResult};

/// Where this instance stands with a lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    /// Ours. `previous_use_until`: when we took it from another holder, until when that holder may have used
    /// it (`None`: nobody else had it). `taken_over`: this call took it from another holder.
    Held { previous_use_until: Option<DateTime<Utc>>, taken_over: bool },
    /// Another instance's, until then at least.
    Elsewhere { until: DateTime<Utc> },
}

pub struct Lease {
    store: Arc<dyn LeaseStore>,
    name: String,
    /// Unique per process life: a restarted instance does not mistake its dead predecessor's lease for its own.
    holder: String,
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Until when the lease is ours, as last taken or renewed.
    until: Option<DateTime<Utc>>,
    previous_use_until: Option<DateTime<Utc>>,
    /// When we last used what the lease guards (reported on release).
    last_used: Option<DateTime<Utc>>,
}

impl Lease {
    /// `who` names the instance in the lease row (host and port); a suffix makes it unique to this life.
    pub fn new(store: Arc<dyn LeaseStore>, name: impl Into<String>, who: &str, ttl: Duration) -> Self {
        Self {
            store,
            name: name.into(),
            holder: format!("{who}/{}", uuid::Uuid::new_v4().simple()),
            ttl,
            state: Mutex::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Take the lease, or renew it once a third of its time has passed; whether it is ours now.
    pub async fn hold(&self, now: DateTime<Utc>) -> StoreResult<Holding> {
        let mut state = self.state.lock().await;
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::seconds(10));
        if let Some(until) = state.until
            && until - now > ttl * 2 / 3
        {
            return Ok(Holding::Held { previous_use_until: state.previous_use_until, taken_over: false });
        }
        match self.store.take_lease(&self.name, &self.holder, now, now + ttl).await? {
            LeaseTake::Granted { previous } => {
                let taken_over = previous.is_some();
                if let Some((previous, used_until)) = previous {
                    tracing::info!(lease = %self.name, %previous, "Took a lease over from another holder.");
                    state.previous_use_until = Some(used_until);
                }
                state.until = Some(now + ttl);
                self.show_held(true);
                Ok(Holding::Held { previous_use_until: state.previous_use_until, taken_over })
            }
            LeaseTake::Held { until, .. } => {
                if state.until.take().is_some() {
                    tracing::warn!(lease = %self.name, "Lost a lease (it expired before it was renewed).");
                }
                self.show_held(false);
                Ok(Holding::Elsewhere { until })
            }
        }
    }

    /// Whether the lease is ours at `now`, as last taken (no store round trip).
    pub async fn is_held(&self, now: DateTime<Utc>) -> bool {
        self.state.lock().await.until.is_some_and(|until| until > now)
    }

    /// Remember that what the lease guards was used at `at` (a CRM call): reported when the lease is released.
    pub async fn used(&self, at: DateTime<Utc>) {
        let mut state = self.state.lock().await;
        state.last_used = state.last_used.max(Some(at));
    }

    /// Give the lease up, reporting when it was last used, so the next holder waits only as long as needed.
    pub async fn release(&self, now: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state.lock().await;
        if state.until.take().is_none() {
            return Ok(());
        }
        // Never used in this life: the previous holder's use still counts.
        let used_until = state.last_used.or(state.previous_use_until).unwrap_or(DateTime::UNIX_EPOCH).min(now);
        self.show_held(false);
        self.store.release_lease(&self.name, &self.holder, used_until).await
    }

    /// Which instance holds which lease, for the admin's dashboards and for the bench, which kills the holder of
    /// the CRM account's lease to time a takeover (it never opens the store).
    fn show_held(&self, held: bool) {
        metrics::gauge!("handoffd_lease_held", "lease" => self.name.clone()).set(if held { 1.0 } else { 0.0 });
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).single().unwrap()
    }

    async fn store() -> (Arc<SqliteStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?synchronous=normal", dir.path().join("h.db").display());
        (Arc::new(SqliteStore::open(&url).await.unwrap()), dir)
    }

    #[tokio::test]
    async fn one_instance_holds_a_lease_and_another_takes_it_after_it_expires() {
        let (store, _dir) = store().await;
        let t0 = t0();
        let a = Lease::new(store.clone(), "crm:hubspot", "a", Duration::from_secs(6));
        let b = Lease::new(store.clone(), "crm:hubspot", "b", Duration::from_secs(6));
        assert_eq!(a.hold(t0).await.unwrap(), Holding::Held { previous_use_until: None, taken_over: false });
        assert!(matches!(b.hold(t0).await.unwrap(), Holding::Elsewhere { .. }));
        // Renewed by `a` after a third of its time: still `a`'s when its first term would have ended.
        let renewed_at = t0 + chrono::Duration::seconds(3);
        assert!(matches!(a.hold(renewed_at).await.unwrap(), Holding::Held { .. }));
        assert!(matches!(b.hold(t0 + chrono::Duration::seconds(7)).await.unwrap(), Holding::Elsewhere { .. }));
        // `a` dies: its lease lapses, and `b` learns until when `a` may have used it.
        let later = renewed_at + chrono::Duration::seconds(7);
        let expired_at = renewed_at + chrono::Duration::seconds(6);
        assert_eq!(
            b.hold(later).await.unwrap(),
            Holding::Held { previous_use_until: Some(expired_at), taken_over: true }
        );
        assert!(matches!(a.hold(later).await.unwrap(), Holding::Elsewhere { .. }), "`a` has lost it");
    }

    #[tokio::test]
    async fn a_released_lease_reports_its_last_use() {
        let (store, _dir) = store().await;
        let t0 = t0();
        let a = Lease::new(store.clone(), "crm:hubspot", "a", Duration::from_secs(60));
        let b = Lease::new(store.clone(), "crm:hubspot", "b", Duration::from_secs(60));
        a.hold(t0).await.unwrap();
        a.used(t0 + chrono::Duration::seconds(2)).await;
        a.release(t0 + chrono::Duration::seconds(5)).await.unwrap();
        let taken = b.hold(t0 + chrono::Duration::seconds(6)).await.unwrap();
        assert_eq!(
            taken,
            Holding::Held { previous_use_until: Some(t0 + chrono::Duration::seconds(2)), taken_over: true }
        );

        // Released without use: the next holder inherits nothing newer than what `b` inherited.
        b.release(t0 + chrono::Duration::seconds(7)).await.unwrap();
        let c = Lease::new(store.clone(), "crm:hubspot", "c", Duration::from_secs(60));
        let taken = c.hold(t0 + chrono::Duration::seconds(8)).await.unwrap();
        assert_eq!(
            taken,
            Holding::Held { previous_use_until: Some(t0 + chrono::Duration::seconds(2)), taken_over: true }
        );
    }
}

/// The longest rate window a new holder of a CRM account waits out after the previous holder's last call.
const LONGEST_WINDOW_TO_WAIT: Duration = Duration::from_secs(60);

/// How long a new holder of a CRM account waits after the previous holder's last call before calling, when its
/// limiter cannot continue from the previous holder's budget: the account's rate window when it is short (two
/// holders inside one 10 s window could double the rate), nothing when the window is a day (Salesforce's and
/// Zoho's daily allocations are counted by the vendor, read back from every answer, and stop delivery when spent:
/// a takeover cannot double them, and waiting out a day would stop delivery for a day).
pub fn takeover_wait(window: Duration) -> Duration {
    if window <= LONGEST_WINDOW_TO_WAIT { window } else { Duration::ZERO }
}

#[cfg(test)]
mod takeover_tests {
    use super::*;

    #[test]
    fn a_short_window_is_waited_out_and_a_daily_allocation_is_not() {
        assert_eq!(takeover_wait(Duration::from_secs(10)), Duration::from_secs(10));
        assert_eq!(takeover_wait(Duration::from_secs(2)), Duration::from_secs(2));
        assert_eq!(takeover_wait(Duration::from_secs(24 * 3600)), Duration::ZERO);
    }
}

//! Customers whose contacts a delivery round is settling. Rounds run side by side; a round that shares a customer
//! with another waits for it, then finds that customer's contact already stored, so no two rounds create one
//! contact.

use std::collections::HashSet;
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Settling {
    held: Mutex<HashSet<String>>,
    released: Notify,
}

/// The customers one round holds; released when dropped.
#[derive(Debug)]
pub struct Held<'a> {
    settling: &'a Settling,
    customers: HashSet<String>,
}

impl Settling {
    /// Waits until none of `customers` is held by another round, then holds them all at once (all or nothing, so
    /// two rounds never wait on each other).
    pub async fn hold(&self, customers: impl IntoIterator<Item = String>) -> Held<'_> {
        let customers: HashSet<String> = customers.into_iter().collect();
        loop {
            // Made before the check: a release between the check and the wait still wakes this round.
            let released = self.released.notified();
            {
                let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
                if held.is_disjoint(&customers) {
                    held.extend(customers.iter().cloned());
                    return Held { settling: self, customers };
                }
            }
            released.await;
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut held = self.settling.held.lock().unwrap_or_else(|e| e.into_inner());
        for customer in &self.customers {
            held.remove(customer);
        }
        drop(held);
        self.settling.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_round_waits_only_for_a_round_that_shares_a_customer() {
        let settling = Settling::default();
        let first = settling.hold(["a".to_owned(), "b".to_owned()]).await;
        // Disjoint: at once.
        let other = tokio::time::timeout(Duration::from_secs(1), settling.hold(["c".to_owned()])).await;
        assert!(other.is_ok(), "a round with other customers waited");
        // Sharing `b`: not until the first round is done.
        let sharing = settling.hold(["b".to_owned(), "d".to_owned()]);
        tokio::pin!(sharing);
        assert!(tokio::time::timeout(Duration::from_secs(1), &mut sharing).await.is_err(), "it did not wait");
        drop(first);
        let held = tokio::time::timeout(Duration::from_secs(1), &mut sharing).await.expect("released");
        assert_eq!(held.customers.len(), 2);
    }
}

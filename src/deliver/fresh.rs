//! Whether the CRM identity cache is up to date enough that a customer it does not know is new to the CRM, so
//! that the customer's contact may be created without a search first.
//!
//! A round of 200 new customers otherwise costs one contact search for four writes, and searches have the stricter
//! limit (HubSpot: 4 a second, a slot held until a second after the answer): the searches, not the writes, set the
//! pace of a backlog of new customers. Instead, one read of the CRM's change feed serves every round waiting at
//! the time it begins. The rule, and why it is as exact as the search it replaces:
//!
//! - The cache holds every contact changed in the CRM before `caught_up_at` (and searchable by then): first by a
//!   read of the whole change feed from the stored sync cursor to its end ([`crate::identity::sync::catch_up`]),
//!   then by reads of the feed without our own new contacts ([`Crm::contacts_changed_elsewhere`]) from the
//!   previous `caught_up_at`, less [`INDEX_LAG`]: a change becomes searchable some seconds after it is made, and
//!   the overlap reads it then. Our own new contacts are cached when we create them.
//! - A round asks for a read that began after the moment it wanted to search. After it, a customer none of whose
//!   keys the cache holds had no contact in the CRM when that read began, exactly as a search sent then would
//!   have said. What neither sees: a contact created in the CRM after that moment (the search has the same gap,
//!   between its answer and our create), or one not yet searchable (the search has it too).
//! - The one case the feed without our own contacts leaves out: a contact we created since the previous read and
//!   someone changed, adding a key of another waiting customer, before this read. The next full sync reads it.
//! - A customer whose earlier attempt may have created a contact we did not cache (a lost answer, a crash, a
//!   killed holder) is searched as before: the caller marks a round's jobs before creating their contacts.
//!
//! A connector that cannot leave its own contacts out of the feed (`Ok(None)`) turns this off: every new customer
//! is searched.

use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd_contract::crm::{Crm, CrmError};
use tokio::sync::Mutex;

use crate::identity::contact_match_keys;
use crate::store::{CachedContact, ContactOrigin, Store};

/// How far each read of the feed reaches back before the previous one began: a change HubSpot's search shows
/// later than this after it was made is missed (by a search too). HubSpot documents no figure; a few seconds is
/// what is seen, so this is generous: it costs only the rows read again, not calls.
pub const INDEX_LAG: Duration = Duration::from_secs(30);
/// Pages one read may take. A read that has more to read than this is not caught up: its rounds search.
const MAX_PAGES: usize = 50;

/// The cache's freshness for one CRM account, on the instance that delivers for it.
pub struct Freshness {
    /// The CRM connector's `default_region`, for the phones of contacts read from the feed.
    default_region: Option<String>,
    state: Mutex<Probed>,
}

#[derive(Debug, Default)]
struct Probed {
    /// When the last read that reached the feed's end began.
    caught_up_at: Option<DateTime<Utc>>,
    /// The connector cannot leave its own contacts out of the feed: never fresh.
    unsupported: bool,
}

impl Freshness {
    pub fn new(default_region: Option<String>) -> Self {
        Self { default_region, state: Mutex::new(Probed::default()) }
    }

    /// Whether the cache holds every contact the CRM had when a read begun at or after `moment` began: then a
    /// customer the cache does not know is new. Reads the feed unless a read has begun since `moment`; rounds
    /// asking meanwhile wait for it, and those that asked before it began are answered by it (one read for
    /// them all). `Ok(false)`: search instead.
    pub async fn fresh_after(&self, store: &dyn Store, crm: &dyn Crm, moment: DateTime<Utc>) -> Result<bool, CrmError> {
        let mut probed = self.state.lock().await;
        if probed.unsupported {
            return Ok(false);
        }
        if probed.caught_up_at.is_some_and(|at| at >= moment) {
            return Ok(true);
        }
        let from = match probed.caught_up_at {
            Some(at) => at,
            None => {
                // Whether the connector can leave its own contacts out at all (no call when it cannot): if not, a
                // read of the whole feed would buy one round's freshness, no more.
                if crm.contacts_changed_elsewhere(Utc::now(), None).await?.is_none() {
                    tracing::info!(crm = %crm.id(), "The CRM connector cannot leave its own contacts out of the change feed; new customers are searched.");
                    probed.unsupported = true;
                    return Ok(false);
                }
                // Then the whole feed from the sync's cursor (the contacts we created are in it too, once).
                let (_, caught_up) = crate::identity::sync::catch_up(store, crm, self.default_region.as_deref())
                    .await
                    .map_err(|error| CrmError::Unavailable(format!("reading the CRM's change feed: {error:#}")))?;
                let Some(caught_up) = caught_up else { return Ok(false) };
                probed.caught_up_at = Some(caught_up);
                // That read, of everything, began after `moment`: it is the read the round waits for.
                if caught_up >= moment {
                    return Ok(true);
                }
                caught_up
            }
        };
        let started = Utc::now();
        let since = from - chrono::Duration::from_std(INDEX_LAG).unwrap_or_default();
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let Some(read) = crm.contacts_changed_elsewhere(since, page.as_deref()).await? else {
                tracing::info!(crm = %crm.id(), "The CRM connector cannot leave its own contacts out of the change feed; new customers are searched.");
                probed.unsupported = true;
                return Ok(false);
            };
            let contacts: Vec<CachedContact> = read
                .contacts
                .into_iter()
                .map(|contact| CachedContact {
                    match_keys: contact_match_keys(&contact, self.default_region.as_deref()),
                    contact,
                })
                .collect();
            if !contacts.is_empty() {
                store
                    .cache_contacts(crm.id(), &contacts, ContactOrigin::Sync, Utc::now())
                    .await
                    .map_err(|error| CrmError::Unavailable(format!("the store failed: {error}")))?;
            }
            match read.next_cursor {
                Some(next) if Some(&next) != page.as_ref() => page = Some(next),
                _ => {
                    probed.caught_up_at = Some(started);
                    return Ok(started >= moment);
                }
            }
        }
        // More changed elsewhere than a read takes: the cache is what the pages read made it; search meanwhile.
        probed.caught_up_at = Some(from);
        Ok(false)
    }
}

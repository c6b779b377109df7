//! Identity: which customer an interaction belongs to.
//!
//! Everything here is pure (no I/O) except [`resolve`], which drives the store's transactional primitives
//! with these decisions, and [`sync`], the CRM identity cache's sync loop.
//!
//! - [`keys`]: turn a raw [`IdentityKey`](handoffd_contract::identity::IdentityKey) into its
//!   canonical form and the match keys under which it joins others (phone quirks in [`phone`]).
//! - [`index`]: an in-memory resolver from match key to customer, compact enough for millions.
//! - [`merge`]: new customer, existing customer, merge (undoable) or conflict.
//! - [`resolve`]: those decisions carried out in the normalize round's transaction, and merges split.
//! - [`contacts`]: several CRM contacts claiming one customer: pick one, report the conflict.
//! - [`history`]: the short channel-history lines of the brief.
//! - [`sync`]: contacts changed in the CRM -> the store's identity cache, on a cron schedule.

pub mod contacts;
pub mod history;
pub mod index;
pub mod keys;
pub mod lookup;
pub mod merge;
pub mod phone;
pub mod resolve;
pub mod sync;
mod timeline;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use contacts::{
    ContactChoice, ContactConflict, ContactPickRule, contact_match_keys, customer_notes, key_notes, pick_contact,
};
pub use history::{HistoryItem, summarize};
pub use index::{IdentityIndex, KeyMatch, Resolution};
pub use keys::{NormalizedKey, normalize};
pub use merge::{Decision, IdentityConflict, KnownCustomer, MergeRecord, SplitPlan, decide, split};
pub use timeline::channel_history;

/// The store's id of a customer (the union of keys seen together).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(pub i64);

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

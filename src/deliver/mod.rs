//! Deliver: the outbox to the CRM. Leases due jobs in batches, makes sure each customer has a
//! CRM contact, writes tasks in batch calls, and classifies failures: retried with exponential
//! backoff and jitter (honouring `Retry-After`), looked up by external key when an outcome is
//! unknown, dead-lettered with the CRM's message when retrying cannot help.

mod backoff;
mod contacts;
mod fresh;
mod metered;
mod payload;
mod settling;
mod vault;
mod worker;

pub use backoff::RetryPolicy;
pub use contacts::{Unsearched, ensure_contacts};
pub use fresh::Freshness;
pub use metered::MeteredCrm;
pub use payload::DeliveryPayload;
pub use vault::{StoreVault, TokenKeys};
pub use worker::{ACCOUNT_LEASE, Deliverer, default_linger};

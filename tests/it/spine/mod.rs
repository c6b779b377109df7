//! End to end: signed WhatsApp webhooks in, HubSpot tasks out, through the daemon started
//! in-process on an ephemeral port against the bundled mock CRM (or wiremock where the exact
//! requests are asserted). Real time with short configured delays, as DESIGN.md asks.
//!
//! The pipeline's tests run on both backends: here on SQLite, and again in [`on_postgres`].

mod customer_clock;
mod delivery;
mod exact_requests;
mod explain_parity;
pub mod harness;
mod ingest;
mod not_actionable;
mod proxy;
mod restart;
mod supervision;
mod voice;
mod watch;

/// The store of this module's daemons.
const BACKEND: harness::Backend = harness::Backend::Sqlite;

/// The pipeline's tests again, with each daemon on PostgreSQL: the same files compiled a second time, on
/// purpose.
#[allow(clippy::duplicate_mod)]
mod on_postgres;

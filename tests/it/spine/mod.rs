//! End to end: signed WhatsApp webhooks in, HubSpot tasks out, through the daemon started
//! in-process on an ephemeral port against the bundled mock CRM (or wiremock where the exact
//! requests are asserted). Real time with short configured delays, as DESIGN.md asks.

mod delivery;
mod exact_requests;
mod explain_parity;
pub mod harness;
mod ingest;
mod proxy;
mod restart;
mod supervision;
mod voice;

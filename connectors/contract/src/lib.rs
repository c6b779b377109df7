//! The connector contract: what every vendor connector speaks and what the daemon expects.
//!
//! It knows no vendor and no part of the daemon (no database, no routing). Connectors depend on
//! this crate only; the daemon talks to connectors through these types and traits.
//!
//! Layout:
//! - [`identity`]: identity keys (phone, email, vendor id) as a connector saw them.
//! - [`interaction`]: one thing that happened on a channel (a message, a call, a status).
//! - [`conversation`]: the canonical conversation (turns in order) that interpretation reads.
//! - [`auth`]: credentials a connector refreshes and the daemon persists.
//! - [`brief`]: the handoff brief, the product's core artifact (field names are fixed).
//! - [`task`]: the CRM task that a brief becomes, as labelled facts a CRM renders.
//! - [`webhook`]: the webhook-source trait (verify raw bytes, answer handshakes, parse).
//! - [`crm`]: the CRM trait (contacts, tasks, owners, limits) and its error classes.

pub mod auth;
pub mod brief;
pub mod conversation;
pub mod crm;
pub mod identity;
pub mod interaction;
pub mod task;
pub mod webhook;

pub use async_trait::async_trait;

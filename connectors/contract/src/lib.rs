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
//! - [`kind`]: how a connector kind registers itself (name, config, pure validation, what it builds).
//! - [`webhook`]: the webhook-source trait (answer handshakes, verify the whole request, parse);
//!   [`verified`]: the verified event parsing requires.
//! - [`poll`]: the poll-source trait (cursor in, interactions and the next cursor out).
//! - [`crm`]: the CRM trait (contacts, tasks, owners, limits) and its error classes.
//! - [`messenger`]: the messenger trait (templates, the reply window).
//! - [`routes`]: extra HTTP routes a connector serves; [`inbox`]: where they commit events.

pub mod auth;
pub mod brief;
pub mod conversation;
pub mod crm;
pub mod identity;
pub mod inbox;
pub mod interaction;
pub mod kind;
pub mod messenger;
pub mod poll;
pub mod routes;
pub mod task;
pub mod verified;
pub mod webhook;

pub use async_trait::async_trait;

//! The routes the connector serves beyond `/webhooks/{id}`, for the AI's side of a chat (which
//! no Meta webhook shows): the turns endpoint and the Graph API send proxy.
//!
//! Layout: [`turns`] is `POST /webhooks/{id}/turns`, [`send_proxy`] is `/graph/{version}/{phone_number_id}/messages`.

pub mod send_proxy;
pub mod turns;

pub use send_proxy::{PROXIED_SEND, ProxiedSend, SendProxyRoute};
pub use turns::{TURN, TurnsRoute};

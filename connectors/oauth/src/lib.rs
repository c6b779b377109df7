//! OAuth 2.0 access tokens for the CRM connectors, in one place instead of one copy per vendor.
//!
//! - [`Grant`]: how a vendor mints a new access token. [`RefreshGrant`] is RFC 6749's refresh-token grant
//!   through the `oauth2` crate over our own reqwest client ([`TokenHttp`]); a connector with another grant
//!   (Salesforce's JWT bearer flow) implements [`Grant`] itself.
//! - [`SharedToken`]: the token a connector sends. It lives in the daemon's [`TokenVault`] (the store,
//!   encrypted when `store.token_keys` is set), so every instance sharing the store uses the same one; one
//!   caller in one instance refreshes at a time, the new refresh token is saved before the refresh right is
//!   given up, and a 401 on a token another instance already replaced reads the new one instead of refreshing.
//!
//! This crate knows no vendor: names and credential placement come from the connector.
//!
//! [`TokenVault`]: handoffd_contract::auth::TokenVault

mod grant;
mod http;
mod scopes;
mod shared;

pub use grant::{Grant, RefreshGrant};
pub use http::{TokenHttp, TokenHttpError, describe, retry_after};
pub use oauth2::TokenUrl;
pub use scopes::{NeededScope, require_scopes};
pub use shared::{REFRESH_MARGIN, SharedToken, is_fresh};

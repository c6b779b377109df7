//! HubSpot CRM connector: contacts, tasks, owners, OAuth2 refresh, request limits.

mod config;

pub use config::{HubspotConfig, OAuthConfig};

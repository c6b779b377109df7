//! The CRM compliance suite against the Zoho mock of `handoffd-mocks`, the requests of that suite checked against
//! Zoho's own OpenAPI description, and token refresh.

mod calls;
mod compliance;
mod oauth;
mod spec;
mod support;

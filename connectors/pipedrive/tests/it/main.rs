//! The CRM compliance suite against the Pipedrive mock of `handoffd-mocks`, the requests of that suite checked
//! against Pipedrive's v1 OpenAPI description, OAuth refresh, and the limits.

mod calls;
mod compliance;
mod limits;
mod oauth;
mod spec;
mod support;

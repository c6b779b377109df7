//! Integration tests against a wiremock server that speaks HubSpot's wire format, and the CRM compliance suite
//! against the HubSpot mock of `handoffd-mocks`.

mod compliance;
mod contacts;
mod errors;
mod feed;
mod limits;
mod oauth;
mod owners;
mod support;
mod tasks;

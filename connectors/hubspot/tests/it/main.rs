//! Integration tests against a wiremock server that speaks HubSpot's wire format.

mod contacts;
mod errors;
mod limits;
mod oauth;
mod owners;
mod support;
mod tasks;

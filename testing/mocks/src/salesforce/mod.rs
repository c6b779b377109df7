//! Salesforce's REST API as the connector uses it, served under `/salesforce`: the login host's token endpoint
//! (`/salesforce/login/services/oauth2/token`, refresh-token and JWT bearer grants), SOQL queries, sObject
//! Collections (create, update, upsert on an external id field), Task's describe, the org's 24-hour allocation
//! with `Sforce-Limit-Info` on every answer, and Salesforce's error arrays.
//!
//! - `org`: what the org holds; `soql`: the SOQL the mock understands; `gate`: session and allocation.
//! - `oauth`, `query`, `sobjects`: the endpoints; `error`: error arrays; `compliance`: [`SalesforceMock`].
//!
//! API routes pass, outermost first: calls in flight and the long-running cap, request counting (and the answer
//! delay), the session and allocation gate, faults, then the handler. The token endpoint has no gate, but does get faults.

mod compliance;
pub(crate) mod error;
mod gate;
mod oauth;
pub(crate) mod org;
mod query;
mod sobjects;
pub mod soql;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch, post};

pub use compliance::SalesforceMock;
pub use org::MockSalesforceUser;

use super::middleware::{FaultScope, Vendor, inject_faults, record_request};
use super::state::Shared;
use crate::MockSecret;

/// The org and its connected app, as the mock is told at start.
#[derive(Debug, Clone)]
pub struct SalesforceOptions {
    /// The connected app's consumer key.
    pub client_id: String,
    pub client_secret: MockSecret,
    /// The one refresh token the app holds.
    pub refresh_token: MockSecret,
    /// The user the JWT bearer flow may act as.
    pub jwt_username: String,
    /// The connected app certificate's public key (PEM); `None` refuses every JWT assertion.
    pub jwt_public_key_pem: Option<String>,
    /// The scopes every token is granted (space-separated), e.g. `api refresh_token`.
    pub scope: String,
    pub users: Vec<MockSalesforceUser>,
    /// API requests per rolling 24 hours.
    pub daily_max: u64,
    /// The Task's External ID field (`None`: the org has none, so upserts on it fail).
    pub external_id_field: Option<String>,
    /// Contacts created at start, with the phones [`crate::seed_contact_phone`] gives (the benchmark's known
    /// customers).
    pub seed_contacts: usize,
    /// Long-running requests (in flight 20 s or more) the org allows at once (Salesforce: 25 in production and
    /// Developer Edition orgs, 5 in trials).
    pub long_running_max: usize,
}

impl Default for SalesforceOptions {
    fn default() -> Self {
        Self {
            client_id: "mock-sf-consumer-key".to_owned(),
            client_secret: "mock-sf-consumer-secret".into(),
            refresh_token: "mock-sf-refresh-token".into(),
            jwt_username: "integration@example.com".to_owned(),
            jwt_public_key_pem: None,
            scope: "api refresh_token".to_owned(),
            users: MockSalesforceUser::defaults(),
            daily_max: 100_000,
            external_id_field: Some("Handoffd_Handoff_Id__c".to_owned()),
            seed_contacts: 0,
            long_running_max: 25,
        }
    }
}

pub(crate) fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let faults = FaultScope { shared: shared.clone(), vendor: Vendor::Salesforce };
    let api = Router::new()
        .route("/services/data/{version}/query", get(query::query))
        .route("/services/data/{version}/composite", post(query::composite))
        .route("/services/data/{version}/sobjects/{object}/describe", get(sobjects::describe))
        .route("/services/data/{version}/composite/sobjects", post(sobjects::create).patch(sobjects::update))
        .route("/services/data/{version}/composite/sobjects/{object}/{field}", patch(sobjects::upsert))
        .route_layer(from_fn_with_state(faults.clone(), inject_faults))
        .route_layer(from_fn_with_state(shared.clone(), gate::session_and_allocation))
        .route_layer(from_fn_with_state(shared.clone(), record_request))
        .route_layer(from_fn_with_state(shared.clone(), gate::concurrency));
    let login = Router::new()
        .route("/login/services/oauth2/token", post(oauth::token))
        .route_layer(from_fn_with_state(faults, inject_faults))
        .route_layer(from_fn_with_state(shared, record_request));
    api.merge(login)
}

//! HubSpot's CRM v3 endpoints, as listed in HUBSPOT-ENDPOINTS.md, served under `/hubspot`.
//!
//! - `compliance`: [`HubspotMock`], the mock as the CRM compliance suite sees it.
//! - `limits`: HubSpot's rate-limit policies and headers.
//!
//! Every API route passes, outermost first: request counting, Bearer check and rate limits ([`gate`]), faults,
//! then its handler. The OAuth token endpoint has no Bearer check and no limits, but does get faults.

mod compliance;
mod contacts;
pub(crate) mod error;
mod gate;
pub(crate) mod limits;
mod oauth;
mod owners;
pub(crate) mod properties;
mod search;
mod tasks;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

pub use compliance::HubspotMock;

use super::middleware::{FaultScope, Vendor, inject_faults, record_request};
use super::state::Shared;

pub(crate) fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let faults = FaultScope { shared: shared.clone(), vendor: Vendor::HubSpot };
    let api = Router::new()
        .route("/crm/v3/objects/contacts", post(contacts::create))
        .route("/crm/v3/objects/contacts/batch/create", post(contacts::batch_create))
        .route("/crm/v3/objects/contacts/search", post(search::contacts))
        .route("/crm/v3/objects/contacts/batch/read", post(tasks::batch_read_contacts))
        .route("/crm/v3/owners", get(owners::list))
        .route("/crm/v3/owners/", get(owners::list))
        .route("/crm/v3/objects/tasks/batch/create", post(tasks::batch_create))
        .route("/crm/v3/objects/tasks/batch/update", post(tasks::batch_update))
        .route("/crm/v3/objects/tasks/batch/read", post(tasks::batch_read))
        .route("/crm/v3/objects/tasks/search", post(search::tasks))
        .route("/crm/v3/properties/{object_type}", post(properties::create))
        .route("/crm/v3/properties/{object_type}/{property_name}", get(properties::read))
        .route_layer(from_fn_with_state(faults.clone(), inject_faults))
        .route_layer(from_fn_with_state(shared.clone(), gate::auth_and_limits))
        .route_layer(from_fn_with_state(shared.clone(), record_request));
    let token = Router::new()
        .route("/oauth/v1/token", post(oauth::token))
        .route_layer(from_fn_with_state(faults, inject_faults))
        .route_layer(from_fn_with_state(shared, record_request));
    api.merge(token)
}

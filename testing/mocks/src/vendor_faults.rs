//! Fault injection for the vendor mocks that run their own server (Zoho, Pipedrive): the same seeded dice as
//! HubSpot's, each vendor answering in its own error shapes.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::connection::ConnectionKill;
use crate::faults::{Fault, FaultInjector, FaultPlan, UNDOCUMENTED_ANSWER};

/// How a vendor words the faults the dice pick.
pub(crate) trait FaultAnswers: Send + Sync + 'static {
    /// A 429 that asks for one second's wait.
    fn too_many_requests(&self) -> Response;
    fn server_error(&self, status: StatusCode) -> Response;
    /// A 400 whose message contains [`crate::faults::INJECTED_REJECTION`].
    fn rejected(&self) -> Response;
}

/// The dice and the vendor's wording.
#[derive(Clone)]
pub(crate) struct FaultSwitch {
    injector: Arc<Mutex<FaultInjector>>,
    answers: Arc<dyn FaultAnswers>,
}

impl FaultSwitch {
    pub(crate) fn new(plan: FaultPlan, answers: Arc<dyn FaultAnswers>) -> Self {
        Self { injector: Arc::new(Mutex::new(FaultInjector::new(plan))), answers }
    }

    pub(crate) fn set_plan(&self, plan: FaultPlan) {
        self.injector.lock().unwrap_or_else(|e| e.into_inner()).set_plan(plan);
    }
}

pub(crate) async fn inject(State(switch): State<FaultSwitch>, request: Request, next: Next) -> Response {
    let decision = switch.injector.lock().unwrap_or_else(|e| e.into_inner()).decide(request.uri().path());
    if let Some(delay) = decision.delay {
        tokio::time::sleep(delay).await;
    }
    let kill = request.extensions().get::<ConnectionKill>().cloned();
    match decision.fault {
        Fault::None => next.run(request).await,
        Fault::TooManyRequests => switch.answers.too_many_requests(),
        Fault::ServerError(status) => {
            switch.answers.server_error(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Fault::Rejected => switch.answers.rejected(),
        // A 200 in no shape the vendor documents: neither its envelope nor its error body, so a connector that
        // trusts the status alone misreads it.
        Fault::Undocumented => (StatusCode::OK, axum::Json(serde_json::json!([UNDOCUMENTED_ANSWER]))).into_response(),
        Fault::Reset => end_without_answer(kill, true).await,
        Fault::LostResponse { hang } => {
            // The work is done; only its answer is lost.
            drop(next.run(request).await);
            tokio::time::sleep(hang).await;
            end_without_answer(kill, false).await
        }
    }
}

async fn end_without_answer(kill: Option<ConnectionKill>, reset: bool) -> Response {
    let Some(kill) = kill else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no connection to drop\n").into_response();
    };
    if reset {
        kill.reset();
    } else {
        kill.close();
    }
    std::future::pending::<Response>().await
}

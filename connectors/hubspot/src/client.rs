//! One HubSpot account over HTTP: bearer token, local limiters, the budget headers, and the
//! classification of every failure. It never retries, except once with a refreshed OAuth token
//! after a 401.

use std::time::Duration;

use handoffd_contract::crm::{CrmError, LiveBudget};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::classify::{Effect, status_error, transport_error};
use crate::limits::{BudgetTracker, Limiters};
use crate::oauth::TokenSource;

pub struct Api {
    http: reqwest::Client,
    base_url: String,
    tokens: TokenSource,
    limiters: Limiters,
    budget: BudgetTracker,
    timeout: Duration,
}

/// One HTTP call, described so it can be sent again after a token refresh.
pub struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    effect: Effect,
    search: bool,
    /// What the call does, for error messages ("create tasks").
    what: &'static str,
}

impl Call {
    pub fn get(path: impl Into<String>, what: &'static str) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            effect: Effect::Read,
            search: false,
            what,
        }
    }

    /// A POST that changes something: a lost answer means an unknown outcome.
    pub fn write(path: impl Into<String>, body: &impl Serialize, what: &'static str) -> Result<Self, CrmError> {
        Ok(Self { effect: Effect::Write, ..Self::read_post(path, body, what)? })
    }

    /// A POST that only reads (batch/read).
    pub fn read_post(path: impl Into<String>, body: &impl Serialize, what: &'static str) -> Result<Self, CrmError> {
        let body = serde_json::to_vec(body).map_err(|e| CrmError::Protocol(format!("{what}: encoding: {e}")))?;
        Ok(Self { method: Method::POST, body: Some(body), ..Self::get(path, what) })
    }

    /// A search: it also waits for the search limiter.
    pub fn search(path: impl Into<String>, body: &impl Serialize, what: &'static str) -> Result<Self, CrmError> {
        Ok(Self { search: true, ..Self::read_post(path, body, what)? })
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }
}

impl Api {
    pub fn new(
        http: reqwest::Client,
        base_url: String,
        tokens: TokenSource,
        limiters: Limiters,
        timeout: Duration,
    ) -> Self {
        Self { http, base_url, tokens, limiters, budget: BudgetTracker::default(), timeout }
    }

    /// See [`Limiters::assume_spent`].
    pub async fn assume_budget_spent(&self) {
        self.limiters.assume_spent().await;
    }

    pub fn budget(&self) -> LiveBudget {
        self.budget.current()
    }

    /// Sends the call and decodes a 2xx answer as `T`.
    pub async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, CrmError> {
        let (_, body) = self.send(call).await?;
        decode(&body, call.what)
    }

    /// Sends the call; any non-2xx answer is an error.
    pub async fn send(&self, call: &Call) -> Result<(StatusCode, Vec<u8>), CrmError> {
        let token = self.tokens.bearer().await?;
        let mut answer = self.attempt(call, &token).await?;
        if answer.0 == StatusCode::UNAUTHORIZED
            && let Some(fresh) = self.tokens.after_unauthorized(&token).await?
        {
            tracing::info!("HubSpot refused the access token for {}; retrying once with a new one.", call.what);
            answer = self.attempt(call, &fresh).await?;
        }
        let (status, headers, body) = answer;
        check(status, &headers, body, call.what)
    }

    async fn attempt(&self, call: &Call, token: &str) -> Result<(StatusCode, HeaderMap, Vec<u8>), CrmError> {
        // A search's slot is held until its answer has been read.
        let _slot = self.limiters.wait(call.search).await;
        let url = format!("{}{}", self.base_url, call.path);
        let mut request = self.http.request(call.method.clone(), url).bearer_auth(token).timeout(self.timeout);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        let response = request.send().await.map_err(|e| transport_error(&e, call.effect, call.what))?;
        let status = response.status();
        let headers = response.headers().clone();
        self.budget.record(&headers);
        let body = response.bytes().await.map_err(|e| transport_error(&e, call.effect, call.what))?;
        Ok((status, headers, body.to_vec()))
    }
}

/// A final answer: its body when the status is 2xx, else the classified error.
pub fn check(
    status: StatusCode,
    headers: &HeaderMap,
    body: Vec<u8>,
    what: &str,
) -> Result<(StatusCode, Vec<u8>), CrmError> {
    if status.is_success() { Ok((status, body)) } else { Err(status_error(status, headers, &body, what)) }
}

/// A 2xx body as `T`; any other shape is a protocol error that carries the body (its start), so whoever reads the
/// dead letter sees what HubSpot actually sent.
pub fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, CrmError> {
    serde_json::from_slice(body).map_err(|e| {
        let shown = String::from_utf8_lossy(&body[..body.len().min(BODY_SHOWN)]);
        CrmError::Protocol(format!("{what}: {e}; the answer was: {shown}"))
    })
}

/// How much of an undocumented answer an error message keeps.
const BODY_SHOWN: usize = 500;

//! One org over HTTP: the session, the limiter, the `Sforce-Limit-Info` budget, and the classification of every
//! failure. It never retries, except once with a new session after a 401.

use std::time::Duration;

use handoffd_contract::crm::{CrmError, LiveBudget};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{Auth, Session};
use crate::classify::{Effect, allocation_spent, status_error, transport_error};
use crate::limits::{BudgetTracker, Limiter};
use crate::soql;
use crate::wire::QueryPage;

pub struct Api {
    http: reqwest::Client,
    auth: Auth,
    /// `/services/data/v62.0`.
    data_path: String,
    limiter: Limiter,
    budget: BudgetTracker,
    timeout: Duration,
}

/// One HTTP call, described so it can be sent again with a new session.
pub struct Call {
    method: Method,
    /// From the instance URL on, e.g. `/services/data/v62.0/query`.
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    effect: Effect,
    /// What the call does, for messages ("create tasks").
    what: &'static str,
}

/// How much of an undocumented answer an error message keeps.
const BODY_SHOWN: usize = 500;

impl Api {
    pub fn new(http: reqwest::Client, auth: Auth, api_version: &str, limiter: Limiter, timeout: Duration) -> Self {
        Self {
            http,
            auth,
            data_path: format!("/services/data/{api_version}"),
            limiter,
            budget: BudgetTracker::default(),
            timeout,
        }
    }

    pub fn budget(&self) -> LiveBudget {
        self.budget.current()
    }

    /// The current session (fetched if needed), e.g. to check its scopes.
    pub async fn session(&self) -> Result<std::sync::Arc<Session>, CrmError> {
        self.auth.session().await
    }

    /// A GET under the data path (`/sobjects/Task/describe`).
    pub fn get(&self, path: &str, what: &'static str) -> Call {
        Call {
            method: Method::GET,
            path: format!("{}{path}", self.data_path),
            query: Vec::new(),
            body: None,
            effect: Effect::Read,
            what,
        }
    }

    /// A write under the data path: a lost answer means an unknown outcome.
    pub fn write(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
        what: &'static str,
    ) -> Result<Call, CrmError> {
        let body = serde_json::to_vec(body).map_err(|e| CrmError::Protocol(format!("{what}: encoding: {e}")))?;
        Ok(Call { method, body: Some(body), effect: Effect::Write, ..self.get(path, what) })
    }

    /// Every record a SOQL query selects, following `nextRecordsUrl` to the last page.
    pub async fn query<T: DeserializeOwned>(&self, soql: &str, what: &'static str) -> Result<Vec<T>, CrmError> {
        let mut call = self.get("/query", what);
        call.query.push(("q", soql.to_owned()));
        self.query_pages(call).await
    }

    /// Several SOQL queries in one Composite call, each query's records in the queries' order. Salesforce counts a
    /// composite request as one call against the allocation, whatever it holds (up to 25 subrequests, at most five
    /// of them queries): finding a round's customers among Contacts and Leads costs one call instead of two. A
    /// query with more than one page follows `nextRecordsUrl` with plain calls.
    pub async fn queries<T: DeserializeOwned>(
        &self,
        soqls: &[String],
        what: &'static str,
    ) -> Result<Vec<Vec<T>>, CrmError> {
        let mut answers = Vec::with_capacity(soqls.len());
        for chunk in soqls.chunks(QUERIES_PER_COMPOSITE) {
            let mut subrequests = Vec::with_capacity(chunk.len());
            for (n, soql) in chunk.iter().enumerate() {
                let base = format!("http://instance{}/query", self.data_path);
                let url = reqwest::Url::parse_with_params(&base, [("q", soql)])
                    .map_err(|e| CrmError::Protocol(format!("{what}: a query's URL: {e}")))?;
                let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
                subrequests.push(serde_json::json!({"method": "GET", "url": path, "referenceId": format!("q{n}")}));
            }
            let body = serde_json::json!({"allOrNone": false, "compositeRequest": subrequests});
            // A read, though sent as a POST: a lost answer changed nothing and may be asked again.
            let call = Call { effect: Effect::Read, ..self.write(Method::POST, "/composite", &body, what)? };
            let answer: crate::wire::CompositeAnswer = self.json(&call).await?;
            if answer.composite_response.len() != chunk.len() {
                return Err(CrmError::Protocol(format!(
                    "{what}: {} answers to {} composite subrequests",
                    answer.composite_response.len(),
                    chunk.len()
                )));
            }
            for sub in answer.composite_response {
                let status = StatusCode::from_u16(sub.http_status_code).unwrap_or(StatusCode::BAD_GATEWAY);
                let body = serde_json::to_vec(&sub.body).unwrap_or_default();
                if !status.is_success() {
                    if allocation_spent(&body) {
                        self.budget.spent();
                    }
                    return Err(status_error(status, &HeaderMap::new(), &body, what));
                }
                let page: QueryPage<T> = decode(&body, what)?;
                let mut records = page.records;
                if let Some(next) = page.next_records_url.filter(|next| !page.done && next.starts_with(&self.data_path))
                {
                    records.extend(self.query_pages::<T>(Call { path: next, ..self.get("", what) }).await?);
                }
                answers.push(records);
            }
        }
        Ok(answers)
    }

    /// Every record from `call`'s page on, following `nextRecordsUrl` to the last page.
    async fn query_pages<T: DeserializeOwned>(&self, mut call: Call) -> Result<Vec<T>, CrmError> {
        let what = call.what;
        let mut records = Vec::new();
        loop {
            let page: QueryPage<T> = self.json(&call).await?;
            records.extend(page.records);
            match page.next_records_url {
                Some(next) if !page.done && next.starts_with(&self.data_path) => {
                    call = Call { path: next, query: Vec::new(), ..self.get("", what) };
                }
                _ => break,
            }
        }
        Ok(records)
    }

    /// Sends the call and decodes a 2xx answer as `T`.
    pub async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, CrmError> {
        let (_, body) = self.send(call).await?;
        decode(&body, call.what)
    }

    /// Sends the call; any non-2xx answer is an error.
    pub async fn send(&self, call: &Call) -> Result<(StatusCode, Vec<u8>), CrmError> {
        let session = self.auth.session().await?;
        let mut answer = self.attempt(call, &session).await?;
        if answer.0 == StatusCode::UNAUTHORIZED {
            // An expired or revoked session: nothing was applied, so the call goes once more with a new one.
            tracing::info!("Salesforce refused the session for {}; retrying once with a new one.", call.what);
            let fresh = self.auth.replace(&session.access_token).await?;
            answer = self.attempt(call, &fresh).await?;
        }
        let (status, headers, body) = answer;
        if status.is_success() {
            return Ok((status, body));
        }
        if allocation_spent(&body) {
            self.budget.spent();
        }
        Err(status_error(status, &headers, &body, call.what))
    }

    async fn attempt(&self, call: &Call, session: &Session) -> Result<(StatusCode, HeaderMap, Vec<u8>), CrmError> {
        let _turn = self.limiter.wait().await;
        let url = format!("{}{}", session.instance_url, call.path);
        let mut request =
            self.http.request(call.method.clone(), url).bearer_auth(&session.access_token).timeout(self.timeout);
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

/// A 2xx body as `T`; any other shape is a protocol error that carries the body's start, so whoever reads the dead
/// letter sees what Salesforce actually sent.
pub fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, CrmError> {
    serde_json::from_slice(body).map_err(|e| {
        let shown = String::from_utf8_lossy(&body[..body.len().min(BODY_SHOWN)]);
        CrmError::Protocol(format!("{what}: {e}; the answer was: {shown}"))
    })
}

/// Queries in one Composite call: Salesforce's maximum.
pub const QUERIES_PER_COMPOSITE: usize = 5;

/// `IN` lists of at most this many values per query, so a query's URL stays well under Salesforce's 16,384
/// characters once encoded.
pub const KEYS_PER_QUERY: usize = 100;

/// Quoted ids for an `Id IN (...)` list; ids that are not Salesforce ids are left out (they match nothing).
pub fn id_list<'i>(field: &str, ids: impl IntoIterator<Item = &'i str>) -> Option<String> {
    soql::in_list(field, ids.into_iter().filter_map(soql::record_id))
}

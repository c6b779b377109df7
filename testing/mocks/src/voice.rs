//! What the voice vendors' mocks share: a small server holding the vendor's calls, which a
//! test adds to and the poller lists, and which counts the list requests it answered.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The calls a voice mock holds, and its API key.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub calls: Mutex<Vec<Value>>,
    pub api_key: String,
    pub list_requests: AtomicUsize,
    /// Answer the next this-many list requests with 503 (a vendor outage).
    pub failures_left: AtomicUsize,
}

impl Calls {
    /// `Err` with the status to answer: a wrong key (401) or an injected outage (503).
    pub(crate) fn admit(&self, headers: &HeaderMap) -> Result<(), StatusCode> {
        self.list_requests.fetch_add(1, Ordering::SeqCst);
        let expected = format!("Bearer {}", self.api_key);
        if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        if self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        Ok(())
    }
}

/// A running voice mock.
#[derive(Debug)]
pub struct VoiceMock {
    pub addr: SocketAddr,
    pub(crate) state: Arc<Calls>,
    task: JoinHandle<()>,
}

impl VoiceMock {
    pub(crate) async fn serve(router: Router, state: Arc<Calls>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "A voice mock stopped.");
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The `base_url` a connector is given.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Add a call, as the vendor would hold it after the call.
    pub fn add_call(&self, call: Value) {
        self.state.calls.lock().expect("the mock's calls").push(call);
    }

    /// How many list requests were answered (any status).
    pub fn list_requests(&self) -> usize {
        self.state.list_requests.load(Ordering::SeqCst)
    }

    /// Answer the next `n` list requests with 503.
    pub fn fail_next(&self, n: usize) {
        self.state.failures_left.store(n, Ordering::SeqCst);
    }
}

impl Drop for VoiceMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

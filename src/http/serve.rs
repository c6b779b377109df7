//! Serving a router on a listener so that slow and hostile clients cannot take the service down.
//!
//! `axum::serve` keeps every connection for as long as the client likes: a client that connects
//! and sends nothing, trickles its headers, or declares a body and stalls holds a descriptor
//! forever, and about a thousand of them exhaust the process's open-file limit, after which
//! every webhook and `/healthz` fails. Here each listener:
//! - caps its connections; at the cap a new connection sheds the connection idle the longest
//!   (no request in progress), and only when none is idle is the newcomer closed at once;
//! - closes a connection whose request headers do not arrive within `header_read_timeout`, and
//!   buffers at most `max_header_bytes` of them (431 beyond);
//! - closes a keep-alive connection idle for `idle_timeout`;
//! - fails a request whose body stalls for `body_read_timeout` (the handler answers 400);
//! - on an accept error (out of descriptors) logs once a second and waits, instead of spinning.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::Instrument;

/// The header that carries a request's id, taken from the client (a proxy's) when it sent a
/// sane one, else made here; it is on the request's log lines and echoed in the response.
const REQUEST_ID: &str = "x-request-id";

/// A listener's limits on its clients (`server.*` in the configuration).
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
}

/// How often a connection looks whether it has been idle too long.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// A connection younger than this is not shed: it may not have had the time to send its
/// request yet (a webhook arriving behind a flood would otherwise be the one shed).
const GRACE: Duration = Duration::from_millis(250);

/// A request whose body has not moved for this long may be shed to make room at the cap.
const STALLED: Duration = Duration::from_secs(1);

/// One open connection as the shedder sees it.
struct Tracked {
    /// Requests being answered now: a connection with none is idle.
    in_flight: Arc<AtomicUsize>,
    /// Its request's body has not all arrived yet.
    reading_body: Arc<AtomicBool>,
    /// When it last started or finished a request or received body bytes, in ms since the
    /// listener started.
    last_active: Arc<AtomicU64>,
    /// Cancelled to shed it: closed at once, whatever it was doing.
    close: CancellationToken,
}

#[derive(Default)]
struct Connections {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Tracked>>,
}

impl Connections {
    fn count(&self) -> usize {
        self.open.lock().expect("connections").len()
    }

    /// Closes the connection that has made no progress for longest: of those with no request in
    /// progress and quiet for at least [`GRACE`], and those whose request body has stalled (not
    /// moved for [`STALLED`]; a request whose handler is at work is never shed), the one quiet
    /// the longest; else the oldest idle one however young; else the request whose body has been
    /// quiet longest however briefly; `false` when every connection has a handler at work, and
    /// the newcomer is refused. The shed connection leaves the count at once, not when its task
    /// next runs, so one shed makes room for exactly one newcomer.
    ///
    /// Clients that declare a body and stall it fill the cap within a second of connecting, before
    /// any of them counts as stalled: refusing newcomers until then turned away the webhooks
    /// arriving behind them (a test under load saw it). The client sending its body slowest goes
    /// instead; a request cut before its body arrived was never acknowledged, so nothing is lost.
    ///
    /// Idle and stalled connections are ranked together, by how long they have been quiet: ranked
    /// idle first, a webhook whose request had arrived but whose head a loaded daemon had not yet
    /// parsed (it looks idle) was shed before clients that had stalled their bodies for seconds.
    fn shed_one_idle(&self, now_ms: u64) -> bool {
        let mut open = self.open.lock().expect("connections");
        let quiet_for = |c: &Tracked, at_least: Duration| {
            now_ms.saturating_sub(c.last_active.load(Ordering::SeqCst)) >= at_least.as_millis() as u64
        };
        let idle = |c: &Tracked| c.in_flight.load(Ordering::SeqCst) == 0;
        let stalled = |c: &Tracked| c.reading_body.load(Ordering::SeqCst) && quiet_for(c, STALLED);
        let oldest = |keep: &dyn Fn(&Tracked) -> bool| {
            open.iter()
                .filter(|(_, c)| keep(c))
                .min_by_key(|(_, c)| c.last_active.load(Ordering::SeqCst))
                .map(|(id, _)| *id)
        };
        // Every idle connection may be young (a flood accepted in one burst): the oldest of them
        // still goes before the newcomer is refused, which would turn away a webhook arriving
        // behind the flood.
        let idlest = oldest(&|c| (idle(c) && quiet_for(c, GRACE)) || stalled(c))
            .or_else(|| oldest(&idle))
            .or_else(|| oldest(&|c| c.reading_body.load(Ordering::SeqCst)));
        match idlest.and_then(|id| open.remove(&id)) {
            Some(connection) => {
                connection.close.cancel();
                true
            }
            None => false,
        }
    }
}

/// Serve `app` on `listener` until `stop`, then stop accepting, let requests in flight finish and
/// return once every connection is closed.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) {
    let connections = Arc::new(Connections::default());
    let tasks = TaskTracker::new();
    let started = Instant::now();
    let mut last_accept_error: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE and friends: the error repeats until a descriptor frees up; waiting a
                // little lets the shedding and timeouts do that instead of burning a core.
                if last_accept_error.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    tracing::error!(listener = name, %error, "Cannot accept connections; retrying.");
                    last_accept_error = Some(Instant::now());
                }
                metrics::counter!("handoffd_http_accept_errors_total", "listener" => name).increment(1);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let now_ms = started.elapsed().as_millis() as u64;
        if connections.count() >= limits.max_connections {
            if !connections.shed_one_idle(now_ms) {
                metrics::counter!("handoffd_http_connections_refused_total", "listener" => name).increment(1);
                tracing::warn!(listener = name, %peer, limit = limits.max_connections, "Refused a connection: every connection is busy.");
                drop(stream);
                continue;
            }
            metrics::counter!("handoffd_http_connections_shed_total", "listener" => name).increment(1);
        }
        let id = connections.next_id.fetch_add(1, Ordering::SeqCst);
        let tracked = Tracked {
            in_flight: Arc::new(AtomicUsize::new(0)),
            reading_body: Arc::new(AtomicBool::new(false)),
            last_active: Arc::new(AtomicU64::new(started.elapsed().as_millis() as u64)),
            close: CancellationToken::new(),
        };
        let connection = Connection {
            in_flight: tracked.in_flight.clone(),
            reading_body: tracked.reading_body.clone(),
            last_active: tracked.last_active.clone(),
            shed: tracked.close.clone(),
            stop: stop.clone(),
            started,
            peer,
        };
        connections.open.lock().expect("connections").insert(id, tracked);
        let app = app.clone();
        let connections = connections.clone();
        tasks.spawn(async move {
            connection.serve(stream, app, limits).await;
            connections.open.lock().expect("connections").remove(&id);
        });
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

struct Connection {
    in_flight: Arc<AtomicUsize>,
    reading_body: Arc<AtomicBool>,
    last_active: Arc<AtomicU64>,
    /// Cancelled to make room at the cap: close now.
    shed: CancellationToken,
    /// Cancelled at shutdown: finish the request in flight, then close.
    stop: CancellationToken,
    started: Instant,
    peer: SocketAddr,
}

impl Connection {
    async fn serve(self, stream: tokio::net::TcpStream, app: Router, limits: ConnectionLimits) {
        let _ = stream.set_nodelay(true);
        let service = {
            let in_flight = self.in_flight.clone();
            let reading_body = self.reading_body.clone();
            let last_active = self.last_active.clone();
            let started = self.started;
            let peer = self.peer;
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                let app = app.clone();
                let in_flight = in_flight.clone();
                let reading_body = reading_body.clone();
                let last_active = last_active.clone();
                request.extensions_mut().insert(ConnectInfo(peer));
                last_active.store(started.elapsed().as_millis() as u64, Ordering::SeqCst);
                in_flight.fetch_add(1, Ordering::SeqCst);
                reading_body.store(!hyper::body::Body::is_end_stream(request.body()), Ordering::SeqCst);
                let request_id = request_id(&request);
                let span = tracing::info_span!("request", id = %request_id, method = %request.method(), path = %request.uri().path());
                async move {
                    let body_timeout = limits.body_read_timeout;
                    let progress =
                        Progress { last_active: last_active.clone(), reading_body: reading_body.clone(), started };
                    let request =
                        request.map(|body| axum::body::Body::new(TimedBody::new(body, body_timeout, progress)));
                    let response = app.oneshot(request).instrument(span).await;
                    last_active.store(started.elapsed().as_millis() as u64, Ordering::SeqCst);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    reading_body.store(false, Ordering::SeqCst);
                    let mut response = response.unwrap_or_else(|never| match never {});
                    if let Ok(value) = http::HeaderValue::from_str(&request_id) {
                        response.headers_mut().insert(REQUEST_ID, value);
                    }
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192))
            .keep_alive(true);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let mut closing = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = self.shed.cancelled() => return,
                _ = self.stop.cancelled(), if !closing => {
                    // An idle connection closes at once; a busy one after its response.
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
                _ = tokio::time::sleep(IDLE_CHECK), if !closing => {
                    let idle_ms = (self.started.elapsed().as_millis() as u64).saturating_sub(self.last_active.load(Ordering::SeqCst));
                    if self.in_flight.load(Ordering::SeqCst) == 0 && Duration::from_millis(idle_ms) >= limits.idle_timeout {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        }
    }
}

fn request_id<B>(request: &hyper::Request<B>) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// A request body that fails when its next chunk does not arrive in time: the handler's body
/// extractor then fails and the client gets an error instead of holding the connection.
struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    progress: Progress,
}

/// Where a body records that it moved, so a slow but moving upload is not shed as stalled.
struct Progress {
    last_active: Arc<AtomicU64>,
    reading_body: Arc<AtomicBool>,
    started: Instant,
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration, progress: Progress) -> Self {
        Self { inner, timeout, deadline: Box::pin(tokio::time::sleep(timeout)), progress }
    }
}

/// The error a stalled body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimedOut(Duration);

impl hyper::body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.progress.last_active.store(this.progress.started.elapsed().as_millis() as u64, Ordering::SeqCst);
                if !matches!(frame, Some(Ok(_))) || this.inner.is_end_stream() {
                    this.progress.reading_body.store(false, Ordering::SeqCst);
                }
                let timeout = this.timeout;
                this.deadline.as_mut().reset(tokio::time::Instant::now() + timeout);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.timeout))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection as the shedder sees it: `in_flight` requests, reading a body or not, last
    /// active at `last_active_ms`.
    fn track(
        connections: &Connections,
        in_flight: usize,
        reading_body: bool,
        last_active_ms: u64,
    ) -> CancellationToken {
        let close = CancellationToken::new();
        let id = connections.next_id.fetch_add(1, Ordering::SeqCst);
        connections.open.lock().unwrap().insert(
            id,
            Tracked {
                in_flight: Arc::new(AtomicUsize::new(in_flight)),
                reading_body: Arc::new(AtomicBool::new(reading_body)),
                last_active: Arc::new(AtomicU64::new(last_active_ms)),
                close: close.clone(),
            },
        );
        close
    }

    #[test]
    fn the_connection_quiet_longest_is_shed_whether_idle_or_stalled_and_leaves_the_count() {
        let connections = Connections::default();
        // A body stalled since 1 s, an idle connection (a webhook not yet parsed, say) since 9.6 s,
        // a handler at work since 0 s: at 10 s the stalled body goes first, then the idle one.
        let stalled = track(&connections, 1, true, 1_000);
        let idle = track(&connections, 0, false, 9_600);
        let working = track(&connections, 1, false, 0);
        assert!(connections.shed_one_idle(10_000));
        assert!(stalled.is_cancelled() && !idle.is_cancelled());
        assert_eq!(connections.count(), 2, "a shed connection is no longer counted");
        assert!(connections.shed_one_idle(10_000));
        assert!(idle.is_cancelled());
        assert!(!connections.shed_one_idle(10_000), "a handler at work is never shed");
        assert!(!working.is_cancelled());
    }

    #[test]
    fn a_young_idle_connection_goes_before_the_newcomer_is_refused() {
        let connections = Connections::default();
        let young = track(&connections, 0, false, 9_900);
        let uploading = track(&connections, 1, true, 9_800);
        assert!(connections.shed_one_idle(10_000));
        assert!(young.is_cancelled(), "an idle connection younger than the grace is still shed at the cap");
        assert!(!uploading.is_cancelled(), "a body that moved within the last second is not stalled");
    }

    #[test]
    fn with_no_idle_connection_the_slowest_body_goes_and_a_handler_at_work_never_does() {
        let connections = Connections::default();
        // Both bodies moved within the last second (neither is stalled yet); the one quiet since
        // 9.2 s goes before the newcomer is refused, then the other, then nobody.
        let slow = track(&connections, 1, true, 9_200);
        let sending = track(&connections, 1, true, 9_900);
        let working = track(&connections, 1, false, 0);
        assert!(connections.shed_one_idle(10_000));
        assert!(slow.is_cancelled() && !sending.is_cancelled());
        assert!(connections.shed_one_idle(10_000));
        assert!(sending.is_cancelled());
        assert!(!connections.shed_one_idle(10_000), "a handler at work is never shed");
        assert!(!working.is_cancelled());
    }
}

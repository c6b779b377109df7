//! The accept loop. It serves each connection with hyper directly (not `axum::serve`) so that a handler can
//! end its own connection without answering: that is how resets and lost responses are injected.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Put into every request's extensions: lets a handler drop the connection it arrived on.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionKill {
    closed: CancellationToken,
    reset: Arc<AtomicBool>,
}

impl ConnectionKill {
    /// Closes the connection (FIN) without writing an answer.
    pub(crate) fn close(&self) {
        self.closed.cancel();
    }

    /// Aborts the connection (RST) without writing an answer.
    pub(crate) fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.closed.cancel();
    }
}

pub(crate) async fn accept_loop(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Usually EMFILE under load: wait a moment instead of spinning.
                tracing::warn!(%error, "The mock CRM could not accept a connection.");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        tokio::spawn(serve_connection(stream, router.clone(), shutdown.clone()));
    }
}

async fn serve_connection(stream: TcpStream, router: Router, shutdown: CancellationToken) {
    let kill = ConnectionKill { closed: CancellationToken::new(), reset: Arc::new(AtomicBool::new(false)) };
    let io = TokioIo::new(ResettableStream { inner: stream, reset: kill.reset.clone() });
    let kill_for_requests = kill.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(kill_for_requests.clone());
        router.clone().oneshot(request)
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    // Dropping the connection future drops the socket: the client sees the connection end with no answer.
    tokio::select! {
        _ = connection => {}
        () = kill.closed.cancelled() => {}
        () = shutdown.cancelled() => {}
    }
}

/// A TCP stream that can be told to end with RST instead of FIN when dropped.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            // Tokio deprecates SO_LINGER because a non-zero linger blocks on close; zero never blocks, it aborts.
            #[allow(deprecated)]
            let _ = self.inner.set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

//! The accept loop. `axum::serve` sets no timeouts, so a client that opens a
//! connection and sends nothing, or sends its headers a byte at a time, would hold a
//! socket and a task forever. This loop drives hyper directly:
//!
//! - the request headers must arrive within the header timeout; hyper starts the
//!   same timer when a kept-alive connection waits for its next request, so it is also
//!   the idle keep-alive timeout;
//! - the body deadline (total time to receive a request body) is a tower layer in
//!   `app.rs`, so it also covers Socket.IO long-polling bodies;
//! - accepted sockets get `TCP_NODELAY` (small frames such as acks go out at once);
//! - shutdown is graceful: the listener closes, idle connections close, and each busy
//!   connection closes after its current response.
//!
//! WebSocket connections leave hyper after the upgrade, so none of these timers apply
//! to them; Engine.IO's heartbeat watches them instead.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running accept loop.
pub struct HttpServer {
    stop: oneshot::Sender<()>,
    accepting: JoinHandle<GracefulShutdown>,
}

impl HttpServer {
    /// Starts accepting connections on `listener` and serving them with `router`.
    pub fn start(listener: TcpListener, router: Router, header_timeout: Duration) -> Self {
        let (stop, stopped) = oneshot::channel();
        let accepting = tokio::spawn(accept_loop(listener, router, header_timeout, stopped));
        Self { stop, accepting }
    }

    /// Stops accepting (the listening socket closes) and asks every open connection to
    /// finish its current request and close. Returns a future that resolves once every
    /// HTTP connection is closed.
    pub async fn stop_accepting(self) -> impl std::future::Future<Output = ()> {
        // The loop may already have ended; either way it returns its connections.
        let _ = self.stop.send(());
        let graceful = match self.accepting.await {
            Ok(graceful) => Some(graceful),
            Err(err) => {
                tracing::error!(error = %err, "the accept loop failed");
                None
            }
        };
        async move {
            if let Some(graceful) = graceful {
                graceful.shutdown().await;
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    mut stop: oneshot::Receiver<()>,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    metrics::counter!("orderchat_errors_total", "code" => "accept_failed", "transport" => "http")
                        .increment(1);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                connection_ended_with(&*err, peer, header_timeout);
            }
        });
    }
    tracing::info!("stopped accepting connections");
    graceful
}

/// Logs and counts why hyper gave up on a connection.
fn connection_ended_with(
    err: &(dyn std::error::Error + 'static),
    peer: std::net::SocketAddr,
    header_timeout: Duration,
) {
    match err.downcast_ref::<hyper::Error>() {
        Some(err) if err.is_timeout() => {
            metrics::counter!("orderchat_http_timeouts_total", "kind" => "headers").increment(1);
            tracing::info!(
                %peer,
                "closed an HTTP connection that sent no complete request headers within {} s",
                header_timeout.as_secs()
            );
        }
        _ => tracing::debug!(%peer, error = %err, "HTTP connection ended with an error"),
    }
}

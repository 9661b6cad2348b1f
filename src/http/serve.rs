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
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// A running accept loop.
pub struct HttpServer {
    stop: oneshot::Sender<()>,
    accepting: JoinHandle<()>,
    /// Tells every connection to finish its current request and close.
    close_connections: watch::Sender<bool>,
    connections: TaskTracker,
}

impl HttpServer {
    /// Starts accepting connections on `listener` and serving them with `router`.
    pub fn start(listener: TcpListener, router: Router, header_timeout: Duration) -> Self {
        let (stop, stopped) = oneshot::channel();
        let (close_connections, _) = watch::channel(false);
        let connections = TaskTracker::new();
        let accepting = tokio::spawn(accept_loop(
            listener,
            Serve {
                router,
                header_timeout,
                close_signal: close_connections.clone(),
                connections: connections.clone(),
            },
            stopped,
        ));
        Self {
            stop,
            accepting,
            close_connections,
            connections,
        }
    }

    /// Stops accepting (the listening socket closes) and asks every open connection to
    /// finish its current request and close. Returns a future that resolves once every
    /// HTTP connection is closed.
    pub async fn stop_accepting(self) -> impl std::future::Future<Output = ()> {
        // The loop may already have ended; either way it stops.
        let _ = self.stop.send(());
        if let Err(err) = self.accepting.await {
            tracing::error!(error = %err, "the accept loop failed");
        }
        self.close_connections.send_replace(true);
        self.connections.close();
        let connections = self.connections;
        async move { connections.wait().await }
    }
}

/// What every connection is served with.
#[derive(Clone)]
struct Serve {
    router: Router,
    header_timeout: Duration,
    close_signal: watch::Sender<bool>,
    connections: TaskTracker,
}

async fn accept_loop(listener: TcpListener, serve: Serve, mut stop: oneshot::Receiver<()>) {
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
        serve.connections.spawn(serve.clone().connection(stream, peer));
    }
    tracing::info!("stopped accepting connections");
}

impl Serve {
    async fn connection(self, stream: TcpStream, peer: std::net::SocketAddr) {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        // HTTP/1.1 only: what browsers, apps and Socket.IO clients speak to an origin
        // server without TLS. (hyper-util's auto-detecting builder first waits for bytes
        // to tell HTTP/1 from HTTP/2, with no timeout: a silent client would hang there.)
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout);
        let service = TowerToHyperService::new(self.router);
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = closing(self.close_signal.subscribe()) => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(err) = result {
            connection_ended_with(&err, peer, self.header_timeout);
        }
    }
}

/// Resolves once shutdown asks connections to close.
async fn closing(mut signal: watch::Receiver<bool>) {
    if signal.wait_for(|close| *close).await.is_err() {
        // The server is gone without a signal: the connection is closing anyway.
        std::future::pending::<()>().await;
    }
}

/// Logs and counts why hyper gave up on a connection.
fn connection_ended_with(err: &hyper::Error, peer: std::net::SocketAddr, header_timeout: Duration) {
    match err {
        err if err.is_timeout() => {
            metrics::counter!("orderchat_http_timeouts_total", "kind" => "headers").increment(1);
            // A client that sent nothing, went idle after a kept-alive request, or
            // trickled its headers: hyper reports all three alike.
            tracing::info!(
                %peer,
                "closed an HTTP connection that sent no complete request headers within {} s",
                header_timeout.as_secs()
            );
        }
        _ => tracing::debug!(%peer, error = %err, "HTTP connection ended with an error"),
    }
}

//! Wiring: builds the store, the Socket.IO layer, the use cases and the HTTP router,
//! binds the listener, and returns an `Application` that knows its port (tests bind
//! port 0) and runs until its shutdown signal fires.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::auth::Verifier;
use crate::chat::ChatService;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::origin::Origins;
use crate::realtime::{self, Presence, Realtime, SocketBroadcaster, Typing};
use crate::store::{SqliteStore, Store};

/// Everything a handler may need; cheap to clone (only `Arc`s inside).
#[derive(Clone)]
pub struct AppState {
    pub chat: ChatService,
    pub verifier: Arc<Verifier>,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub realtime: Realtime,
}

/// A built, bound server that has not started serving yet.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

/// Opens the configured store (running its migrations).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        if config.database_url.is_none() {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        }
        let store = SqliteStore::connect(&url)
            .await
            .with_context(|| format!("opening database {url}"))?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        anyhow::bail!("PostgreSQL is not supported yet; use the embedded SQLite (leave ORDERCHAT_DATABASE_URL unset)")
    } else {
        anyhow::bail!("ORDERCHAT_DATABASE_URL must start with sqlite:// or postgres://")
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        if config.redis_url.is_some() {
            anyhow::bail!("ORDERCHAT_REDIS_URL is not supported yet: orderchat runs single-node for now");
        }
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let verifier = Arc::new(Verifier::from_config(&config)?);
        let origins = Origins::from_config(&config.cors_origins)?;
        let store = open_store(&config).await?;
        let metrics = Metrics::install();

        let limits = &config.limits;
        let (socket_layer, io) = SocketIo::builder()
            .max_payload(limits.max_socket_payload as u64)
            .ws_max_message_size(limits.max_socket_payload)
            .ws_max_frame_size(limits.max_socket_payload)
            .max_buffer_size(limits.socket_buffer_packets)
            // A handshake that never sends its Socket.IO connect packet is dropped.
            .connect_timeout(Duration::from_secs(10))
            .build_layer();
        let presence = Arc::new(Presence::default());
        let realtime = Realtime {
            io: io.clone(),
            presence: presence.clone(),
            typing: Arc::new(Typing::default()),
        };
        let broadcaster = Arc::new(SocketBroadcaster::new(io.clone(), presence));
        let chat = ChatService::new(store, broadcaster, limits);
        let state = AppState {
            chat,
            verifier,
            config: Arc::new(config),
            metrics,
            realtime,
        };
        realtime::attach(&io, state.clone());

        let router = crate::http::router(&state)
            .with_state(state.clone())
            .layer(socket_layer)
            .layer(axum::middleware::from_fn_with_state(
                origins.clone(),
                crate::origin::check_socket_origin,
            ))
            .layer(origins.cors_layer())
            .layer(TraceLayer::new_for_http());

        let listener = TcpListener::bind(state.config.bind)
            .await
            .with_context(|| format!("binding {}", state.config.bind))?;
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.config.bind)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests
    /// finish, closes every socket and flushes the database.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        tracing::info!("orderchat listening on {addr}");
        let state = self.state.clone();

        let sweeper = {
            let chat = state.chat.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(60));
                loop {
                    every.tick().await;
                    chat.rate_limits().sweep();
                }
            })
        };

        let io = state.realtime.io.clone();
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: closing sockets, finishing requests");
                io.close().await;
            })
            .await
            .context("server error")?;
        sweeper.abort();
        state.chat.store().close().await;
        tracing::info!("shutdown complete");
        Ok(())
    }
}

//! Wiring: builds the store, the Socket.IO layer, the use cases and the HTTP router,
//! binds the listener, and returns an `Application` that knows its port (tests bind
//! port 0) and runs until its shutdown signal fires.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use socketioxide::adapter::Adapter;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo};
use socketioxide_core::adapter::DefinedAdapter;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower_http::trace::TraceLayer;

use crate::attachments::ObjectStorage;
use crate::auth::Verifier;
use crate::chat::{ArchivePolicy, ChatService, Files, PushPolicy};
use crate::cluster::{AdapterHealth, Cluster, ClusterAdapter, ClusterPresence};
use crate::config::Config;
use crate::http::HttpServer;
use crate::metrics::Metrics;
use crate::origin::Origins;
use crate::push::Webhook;
use crate::realtime::{self, Deliveries, Presence, Realtime, Sessions, SocketBroadcaster, SocketLayer, Typing};
use crate::shutdown::Shutdown;
use crate::state::AppState;
use crate::store::{CommitFeed, PostgresStore, SqliteStore, Store};

/// What the app is built from, before the Socket.IO adapter is chosen.
struct Wiring {
    config: Config,
    verifier: Arc<Verifier>,
    origins: Origins,
    store: Arc<dyn Store>,
    metrics: Metrics,
    committed: tokio::sync::mpsc::Receiver<crate::store::Committed>,
    cluster: Option<Arc<Cluster>>,
    /// Several nodes: presence and connections per user in Redis.
    cluster_presence: Option<Arc<ClusterPresence>>,
    health: Arc<AdapterHealth>,
    files: Files,
    /// With a push webhook: when its pushes are tried.
    push_policy: Option<PushPolicy>,
}

impl Wiring {
    /// Builds the use cases, the state and the router on a Socket.IO layer of either
    /// adapter; returns the namespace's initialisation (Redis: its subscriptions).
    fn wire<A: Adapter + DefinedAdapter>(
        self,
        io: SocketIo<A>,
        socket_layer: SocketIoLayer<A>,
        layer: SocketLayer,
    ) -> (Router, AppState, A::InitRes) {
        let presence = Arc::new(Presence::new(self.cluster_presence));
        let deliveries = Arc::new(Deliveries::default());
        let broadcaster = Arc::new(SocketBroadcaster::new(
            io.clone(),
            presence.clone(),
            self.health.clone(),
            deliveries.clone(),
            self.cluster.clone(),
        ));
        let realtime = Realtime {
            io: layer,
            presence,
            typing: Arc::new(Typing::default()),
            sessions: Arc::new(Sessions::default()),
            health: self.health,
            deliveries,
            live: broadcaster.clone(),
        };
        let shutdown = Shutdown::default();
        let limits = &self.config.limits;
        let mut chat = ChatService::new(
            self.store,
            broadcaster,
            self.files,
            limits,
            &self.config.closed_statuses,
            shutdown.clone(),
        )
        .with_read_only_statuses(&self.config.archive_closed_statuses);
        if let Some(cluster) = &self.cluster {
            chat = chat.with_peers(cluster.clone());
        }
        if let Some(policy) = self.push_policy {
            chat = chat.with_push_webhook(policy);
        }
        chat =
            chat.with_notification_retention(Duration::from_secs(self.config.notification_retention_days * 24 * 3600));
        chat.spawn_publisher(self.committed);
        let state = AppState {
            chat,
            verifier: self.verifier,
            config: Arc::new(self.config),
            metrics: self.metrics,
            realtime,
            shutdown,
            cluster: self.cluster,
        };
        let initialised = realtime::attach(&io, state.clone());

        let router = crate::http::router(&state)
            .with_state(state.clone())
            .layer(socket_layer)
            .layer(axum::middleware::map_request(realtime::own_handshake_parts))
            .layer(axum::middleware::from_fn_with_state(
                self.origins.clone(),
                crate::origin::check_socket_origin,
            ))
            .layer(self.origins.cors_layer())
            .layer(axum::middleware::from_fn_with_state(
                crate::http::BodyDeadlines::new(&state.config),
                crate::http::body_deadline,
            ))
            .layer(TraceLayer::new_for_http());
        (router, state, initialised)
    }
}

/// A built, bound server that has not started serving yet.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// Several nodes: the listeners for the other nodes' new messages, message changes
    /// and returns after an outage (subscribed before the server takes its first
    /// connection).
    messages: Vec<JoinHandle<()>>,
    /// The push webhook's sender, started with the server.
    webhook: Option<Webhook>,
}

/// Raises this process's open-file limit to the hard limit the system allows (each
/// connection is a file descriptor) and logs the resulting connection ceiling.
pub fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(
            open_files = limit,
            "open-file limit raised: room for about {} connections",
            limit.saturating_sub(64)
        ),
        Err(err) => tracing::warn!(error = %err, "could not raise the open-file limit"),
    }
}

/// Opens the attachment store `ORDERCHAT_ATTACHMENTS_URL` names and checks it answers.
async fn open_files(config: &Config) -> anyhow::Result<Files> {
    let storage = ObjectStorage::from_url(&config.attachments.url(&config.data_dir))?;
    storage.check().await?;
    tracing::info!(
        store = storage.description(),
        "attachments stored in {}",
        storage.description()
    );
    Ok(Files::new(storage, &config.attachments))
}

/// Opens the configured store (running its migrations).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    open_store_with_feed(config, None).await
}

/// Opens the configured store; every newly stored message is also sent to `feed`, in
/// commit order.
async fn open_store_with_feed(config: &Config, feed: Option<CommitFeed>) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        if config.database_url.is_none() {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        }
        let store = SqliteStore::open(&url, feed, config.limits.write_queue_messages)
            .await
            .with_context(|| format!("opening database {url}"))?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = PostgresStore::open(&url, feed, config.limits.write_queue_messages)
            .await
            // Not the URL: it may carry a password.
            .context("opening the PostgreSQL database")?;
        Ok(Arc::new(store))
    } else {
        anyhow::bail!("ORDERCHAT_DATABASE_URL must start with sqlite:// or postgres://")
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let verifier = Arc::new(Verifier::from_config(&config)?);
        let origins = Origins::from_config(&config.cors_origins)?;
        let presence_timing = config.presence_timing()?;
        let webhook = Webhook::from_settings(&config.push_webhook)?;
        let health = Arc::new(AdapterHealth::default());
        // Before the store: a wrong Redis URL should not leave a fresh database behind.
        let cluster = match &config.redis_url {
            Some(url) => Some(Arc::new(Cluster::connect(url, health.clone()).await?)),
            None => None,
        };
        let cluster_presence = match &cluster {
            Some(cluster) => {
                let (heartbeat, expiry) = presence_timing;
                Some(Arc::new(cluster.presence(heartbeat, expiry).await?))
            }
            None => None,
        };
        // Deep enough that the writer never waits on the publisher under any real burst.
        let (feed, committed) = tokio::sync::mpsc::channel(16_384);
        let store = open_store_with_feed(&config, Some(feed)).await?;
        let files = open_files(&config).await?;
        let metrics = Metrics::install();
        metrics.declare_counters(cluster.is_some());

        let limits = &config.limits;
        // Our patch of engineioxide (vendor/README.md): socketioxide's builder has no
        // setting for it, and takes the engine's defaults when it is created.
        engineioxide::config::set_default_max_buffer_bytes(limits.socket_buffer_bytes);
        engineioxide::config::on_overflow(realtime::dropped_slow_reader);
        let builder = SocketIo::builder()
            .max_payload(limits.max_socket_payload as u64)
            .ws_max_message_size(limits.max_socket_payload)
            .ws_max_frame_size(limits.max_socket_payload)
            .max_buffer_size(limits.socket_buffer_packets)
            // Most frames are small; a larger one is read in several chunks.
            .ws_read_buffer_size(512)
            // Files go over HTTP: a binary Socket.IO packet (one that announces
            // attachments) is a protocol error that closes the connection before any
            // attachment is buffered.
            .with_parser(
                ParserConfig::common()
                    .max_incoming_binaries(0)
                    .max_incoming_binary_buf_size(0),
            )
            // A handshake that never sends its Socket.IO connect packet is dropped.
            .connect_timeout(Duration::from_secs(10));
        let wiring = Wiring {
            config,
            verifier,
            origins,
            store,
            metrics,
            committed,
            cluster,
            cluster_presence,
            health,
            files,
            push_policy: webhook.as_ref().map(Webhook::policy),
        };
        let (router, state) = match wiring.cluster.clone() {
            None => {
                let (layer, io) = builder.build_layer();
                let (router, state, ()) = wiring.wire(io.clone(), layer, SocketLayer::Local(io));
                (router, state)
            }
            Some(cluster) => {
                let (layer, io) = builder.with_adapter::<ClusterAdapter>(cluster.adapter()).build_layer();
                let (router, state, subscribed) = wiring.wire(io.clone(), layer, SocketLayer::Redis(io));
                subscribed
                    .await
                    .map_err(|err| anyhow::anyhow!("subscribing the Socket.IO adapter to Redis: {err}"))?;
                tracing::info!("Redis adapter ready: broadcasts reach every node");
                (router, state)
            }
        };

        let messages = match &state.cluster {
            Some(cluster) => vec![
                cluster
                    .spawn_message_listener(state.realtime.live.clone())
                    .await
                    .context("subscribing to the other nodes' messages on Redis")?,
                cluster
                    .spawn_change_listener(state.realtime.live.clone())
                    .await
                    .context("subscribing to the other nodes' message changes on Redis")?,
                cluster
                    .spawn_return_listener()
                    .await
                    .context("subscribing to the other nodes' returns on Redis")?,
            ],
            None => Vec::new(),
        };

        let listener = TcpListener::bind(state.config.bind)
            .await
            .with_context(|| format!("binding {}", state.config.bind))?;
        Ok(Self {
            listener,
            router,
            state,
            messages,
            webhook,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.config.bind)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then shuts down in order: stop accepting and
    /// refuse new socket events; let in-flight HTTP requests, socket handlers and the
    /// pushes they spawned finish (at most the grace period); close every socket; wait
    /// for the HTTP connections; flush and close the database.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let state = self.state.clone();
        let header_timeout = state.config.limits.http_header_timeout();
        let server = HttpServer::start(self.listener, self.router, header_timeout);
        tracing::info!("orderchat listening on {addr}");
        let housekeeping = realtime::spawn_housekeeping(state.clone());
        let upload_cleanup = state.chat.spawn_upload_cleanup();
        let notification_expiry = state.chat.spawn_notification_expiry();
        let archiving = (state.config.archive.archive_interval_secs > 0).then(|| {
            state
                .chat
                .archiver(ArchivePolicy::from_config(&state.config))
                .spawn(Duration::from_secs(state.config.archive.archive_interval_secs))
        });
        let gap_filler = realtime::spawn_gap_filler(state.clone());
        let push_sender = self
            .webhook
            .map(|webhook| webhook.spawn(state.chat.clone(), state.shutdown.clone()));
        let mut cluster_tasks: Vec<_> = state
            .cluster
            .as_ref()
            .map(|cluster| vec![cluster.spawn_order_listener(state.chat.clone()), cluster.spawn_probe()])
            .unwrap_or_default();
        cluster_tasks.extend(realtime::spawn_cluster_presence(&state));
        cluster_tasks.extend(self.messages);
        cluster_tasks.extend(realtime::spawn_outage_recovery(state.clone()));

        shutdown.await;
        // First: an archive batch under way is rolled back whole, and none starts again.
        if let Some(task) = archiving {
            task.abort();
            let _ = task.await;
        }
        let grace = Duration::from_secs(state.config.shutdown_grace_secs);
        let deadline = Instant::now() + grace;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: finishing in-flight requests"
        );
        state.shutdown.begin_drain();
        let http_closed = server.stop_accepting().await;
        let unfinished = state.shutdown.wait_idle(grace).await;
        if unfinished > 0 {
            tracing::warn!(unfinished, "in-flight work still running after the grace period");
        }
        state.shutdown.begin_closing();

        tracing::info!("closing sockets");
        state.realtime.io.close().await;
        // What is left open now is idle or long-polling: nothing that writes. A polling
        // session that never joined a namespace is not closed by `io.close()`, so do not
        // wait for it long.
        let rest = deadline
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(100), Duration::from_secs(2));
        if tokio::time::timeout(rest, http_closed).await.is_err() {
            tracing::warn!("some HTTP connections were still open after the grace period");
        }
        state.shutdown.wait_idle(Duration::from_secs(1)).await;
        housekeeping.abort();
        upload_cleanup.abort();
        notification_expiry.abort();
        gap_filler.abort();
        if let Some(sender) = push_sender {
            // Stopped by itself once draining began, unless a push outlived the grace
            // period (its lease makes it due again later).
            sender.abort();
        }
        // After the sockets closed (their seats were given back on this node only).
        state.realtime.presence.goodbye().await;
        for task in cluster_tasks {
            task.abort();
        }
        state.chat.close().await;
        tracing::info!("shutdown complete");
        Ok(())
    }
}

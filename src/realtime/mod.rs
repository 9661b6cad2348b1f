//! Socket.IO (SPEC §5): authentication in the connect middleware, per-connection
//! event handlers, presence and typing state, and the `Broadcaster` that carries the
//! use cases' events to rooms. Handlers are generic over the adapter, so moving to a
//! multi-node adapter changes the builder, not the handlers.

mod ack;
mod broadcast;
mod connection;
mod delivery;
mod handlers;
mod handshake;
mod presence;
mod reorder;
mod rooms;
mod session;
mod typing;

use std::sync::Arc;
use std::time::Duration;

use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::operators::BroadcastOperators;
use tokio::task::JoinHandle;

pub use broadcast::{LiveOrders, SocketBroadcaster, dropped_slow_reader, emit_to};
pub use connection::attach;
pub use delivery::Deliveries;
pub use handshake::own_handshake_parts;
pub use presence::Presence;
pub use session::Sessions;
pub use typing::Typing;

use crate::cluster::{AdapterHealth, ClusterAdapter};
use crate::state::AppState;

/// The Socket.IO payload readers, public only so the property tests and the fuzz
/// target can feed them arbitrary input; not an API.
#[doc(hidden)]
pub mod payload {
    pub use super::ack::{optional_seq, order_ref};
}

/// The realtime side of the app: the Socket.IO handle and the per-node state.
#[derive(Clone)]
pub struct Realtime {
    pub io: SocketLayer,
    pub presence: Arc<Presence>,
    pub typing: Arc<Typing>,
    pub sessions: Arc<Sessions>,
    /// Whether broadcasts currently reach the other nodes (always fine on one node).
    pub health: Arc<AdapterHealth>,
    /// Each order's `new-message` line on this node (`delivery.rs`); joins go through it.
    pub deliveries: Arc<Deliveries>,
    /// The same lines' node-wide upkeep, and where other nodes' messages arrive.
    pub live: Arc<dyn LiveOrders>,
}

/// The Socket.IO handle, with the adapter chosen at start: the local one, or Redis when
/// `ORDERCHAT_REDIS_URL` is set.
///
/// Why an enum here and generics elsewhere: the handlers, the connection lifecycle and
/// the `SocketBroadcaster` are generic over `A: Adapter` (socketioxide's advice) and are
/// instantiated once per adapter in `app.rs`; only the few node-wide operations that
/// need the handle itself (shutdown, token expiry, room gauges) go through this enum.
/// Making `AppState` generic instead would thread a type parameter through every HTTP
/// handler for three calls; a trait object cannot hold `SocketIo<A>`'s async methods.
#[derive(Clone)]
pub enum SocketLayer {
    Local(SocketIo<LocalAdapter>),
    Redis(SocketIo<ClusterAdapter>),
}

impl SocketLayer {
    /// Closes every connection of this node (shutdown).
    pub async fn close(&self) {
        match self {
            Self::Local(io) => io.close().await,
            Self::Redis(io) => io.close().await,
        }
    }

    fn end_expired(&self, sessions: &Sessions) {
        match self {
            Self::Local(io) => session::end_expired(io, sessions),
            Self::Redis(io) => session::end_expired(io, sessions),
        }
    }
}

/// The default namespace, to emit to or look sockets up in. `None` once the server
/// has closed it at shutdown: socketioxide's `io.to(…)` and friends panic then, so
/// every emit goes through this instead.
pub(crate) fn namespace<A: Adapter>(io: &SocketIo<A>) -> Option<BroadcastOperators<A>> {
    io.of("/")
}

/// Periodic upkeep: ends connections whose token expired (every second), forgets the
/// `new-message` lines of orders nobody here is in (every half minute) and idle
/// rate-limit buckets (every minute). Aborted at shutdown.
pub fn spawn_housekeeping(app: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        let mut ticks: u64 = 0;
        loop {
            every_second.tick().await;
            ticks += 1;
            app.realtime.io.end_expired(&app.realtime.sessions);
            if ticks.is_multiple_of(30) {
                app.realtime.live.sweep();
            }
            if ticks.is_multiple_of(60) {
                app.chat.rate_limits().sweep();
            }
        }
    })
}

/// Several nodes: starts cluster-wide presence (heartbeat, sweeps, the copy of the
/// online set) and a task that announces every change Redis decided (a connect or
/// disconnect on any node, a dead node's users) to this node's connections, one at a
/// time, in Redis' order. Nothing on a single node. Aborted at shutdown.
pub fn spawn_cluster_presence(app: &AppState) -> Vec<JoinHandle<()>> {
    let Some((mut tasks, mut announcements)) = app.realtime.presence.spawn_cluster() else {
        return Vec::new();
    };
    let chat = app.chat.clone();
    tasks.push(tokio::spawn(async move {
        while let Some((user, online)) = announcements.recv().await {
            chat.announce_presence_here(&user, online).await;
        }
    }));
    tasks
}

/// Fills the gaps of the `new-message` lines (`delivery.rs`): sleeps while there are
/// none, looks again every `GAP_CHECK` while there are. Aborted at shutdown.
pub fn spawn_gap_filler(app: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            app.realtime.deliveries.gap_found().await;
            tokio::time::sleep(delivery::GAP_CHECK).await;
            app.realtime.live.fill_gaps(&app.chat).await;
        }
    })
}

/// Several nodes: whenever this node finds Redis back after an outage, or another node
/// says it is back (`cluster/returns.rs`), finds the orders whose line missed messages
/// committed meanwhile (they never arrived here, and no later one may come to reveal
/// the gap) and hands them to the gap filler. Retries every second while the database
/// does not answer. Nothing on a single node. Aborted at shutdown.
pub fn spawn_outage_recovery(app: AppState) -> Option<JoinHandle<()>> {
    app.cluster.as_ref()?;
    Some(tokio::spawn(async move {
        loop {
            app.realtime.health.returned().await;
            loop {
                match app.realtime.live.recheck(&app.chat).await {
                    Ok(behind) => {
                        tracing::info!(
                            behind,
                            "Redis back: orders that missed messages meanwhile read them from the database"
                        );
                        break;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "could not look for messages missed while Redis was down: trying again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }))
}

impl Realtime {
    /// Sets the connection and room gauges of this node (called when `/metrics` is
    /// scraped, so counting rooms costs nothing between scrapes).
    pub async fn record_room_gauges(&self) {
        metrics::gauge!("orderchat_connections").set(self.presence.total() as f64);
        metrics::gauge!("orderchat_live_orders").set(self.deliveries.lines() as f64);
        match &self.io {
            SocketLayer::Local(io) => record_rooms(io).await,
            SocketLayer::Redis(io) => record_rooms(io).await,
        }
    }
}

/// `orderchat_rooms` and `orderchat_room_members`: this node's order rooms (`local()`:
/// asking every node would wait on the slowest, and each node reports its own).
async fn record_rooms<A: Adapter>(io: &SocketIo<A>) {
    let Some(namespace) = namespace(io).map(BroadcastOperators::local) else {
        return;
    };
    let rooms = match namespace.clone().rooms().await {
        Ok(rooms) => rooms,
        Err(err) => {
            tracing::warn!(error = %err, "could not list rooms for metrics");
            return;
        }
    };
    let order_rooms: Vec<String> = rooms
        .into_iter()
        .filter(|r| r.starts_with("order:"))
        .map(|r| r.into_owned())
        .collect();
    let members: usize = order_rooms
        .iter()
        .map(|room| namespace.clone().within(room.clone()).sockets().len())
        .sum();
    metrics::gauge!("orderchat_rooms").set(order_rooms.len() as f64);
    metrics::gauge!("orderchat_room_members").set(members as f64);
}

//! Socket.IO (SPEC §5): authentication in the connect middleware, per-connection
//! event handlers, presence and typing state, and the `Broadcaster` that carries the
//! use cases' events to rooms. Handlers are generic over the adapter, so moving to a
//! multi-node adapter changes the builder, not the handlers.

mod ack;
mod broadcast;
mod connection;
mod handlers;
mod presence;
mod typing;

use std::sync::Arc;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

pub use broadcast::SocketBroadcaster;
pub use connection::attach;
pub use presence::Presence;
pub use typing::Typing;

/// The Socket.IO payload readers, public only so the property tests and the fuzz
/// target can feed them arbitrary input; not an API.
#[doc(hidden)]
pub mod payload {
    pub use super::ack::{optional_seq, order_ref};
}

/// The realtime side of the app: the Socket.IO handle and the per-node state.
pub struct Realtime<A: Adapter = socketioxide::adapter::LocalAdapter> {
    pub io: SocketIo<A>,
    pub presence: Arc<Presence>,
    pub typing: Arc<Typing>,
}

impl<A: Adapter> Clone for Realtime<A> {
    fn clone(&self) -> Self {
        Self {
            io: self.io.clone(),
            presence: self.presence.clone(),
            typing: self.typing.clone(),
        }
    }
}

impl<A: Adapter> Realtime<A> {
    /// Sets the connection and room gauges (called when `/metrics` is scraped, so
    /// counting rooms costs nothing between scrapes).
    pub async fn record_room_gauges(&self) {
        metrics::gauge!("orderchat_connections").set(self.presence.total() as f64);
        let rooms = match self.io.rooms().await {
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
            .map(|room| self.io.within(room.clone()).sockets().len())
            .sum();
        metrics::gauge!("orderchat_rooms").set(order_rooms.len() as f64);
        metrics::gauge!("orderchat_room_members").set(members as f64);
    }
}

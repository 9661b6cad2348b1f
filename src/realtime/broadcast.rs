//! Turns the use cases' `Event`s into Socket.IO emits: which event name, which payload
//! shape (SPEC §5), which rooms. Rooms: `order:<id>` holds the connections that joined
//! an order's chat; `user:<id>` holds every connection of a user.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::{SendError, SocketError, SocketIo};

use super::presence::Presence;
use crate::chat::{Broadcaster, Event};
use crate::domain::{Message, UserId, now_timestamp};

pub struct SocketBroadcaster<A: Adapter> {
    io: SocketIo<A>,
    presence: Arc<Presence>,
}

impl<A: Adapter> SocketBroadcaster<A> {
    pub fn new(io: SocketIo<A>, presence: Arc<Presence>) -> Self {
        Self { io, presence }
    }
}

/// Delivers an event to every connection `target` selects, one connection at a time,
/// so that a connection whose send buffer is full — a client that stopped reading — is
/// found and dropped: it reconnects and catches up with `sinceSeq`, instead of silently
/// missing messages while it looks connected. Deliveries and failures are counted.
///
/// With a remote adapter (several nodes) this covers this node's connections; remote
/// ones must go through the adapter's broadcast.
pub async fn emit_to<A: Adapter>(target: BroadcastOperators<A>, event: &'static str, payload: &impl Serialize) {
    let mut delivered = 0u64;
    for socket in target.sockets() {
        match socket.emit(event, payload) {
            Ok(()) => delivered += 1,
            Err(SendError::Socket(SocketError::Closed)) => {}
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                metrics::counter!("orderchat_slow_consumers_dropped_total").increment(1);
                tracing::warn!(sid = %socket.id, event, "send buffer full: dropping the connection");
                if let Err(err) = socket.disconnect() {
                    tracing::debug!(error = %err, "slow connection was already closing");
                }
            }
            Err(err) => {
                metrics::counter!("orderchat_errors_total", "code" => "emit_failed", "transport" => "socket")
                    .increment(1);
                tracing::warn!(event, error = %err, "emit failed");
            }
        }
    }
    metrics::counter!("orderchat_deliveries_total", "event" => event).increment(delivered);
}

fn message_payload(message: &Message) -> serde_json::Value {
    json!({ "orderId": message.order_id, "message": message, "timestamp": now_timestamp() })
}

#[async_trait]
impl<A: Adapter> Broadcaster for SocketBroadcaster<A> {
    async fn publish(&self, event: Event) {
        match event {
            Event::NewMessage(message) => {
                emit_to(
                    self.io.to(message.order_id.room()),
                    "new-message",
                    &message_payload(&message),
                )
                .await
            }
            Event::MessageUpdated(message) => {
                emit_to(
                    self.io.to(message.order_id.room()),
                    "message-updated",
                    &message_payload(&message),
                )
                .await
            }
            Event::MessageDeleted(message) => {
                emit_to(
                    self.io.to(message.order_id.room()),
                    "message-deleted",
                    &message_payload(&message),
                )
                .await
            }
            Event::OrderUpdated { order_id, update } => {
                let payload = json!({ "orderId": order_id, "update": update, "timestamp": now_timestamp() });
                emit_to(self.io.to(order_id.room()), "order-updated", &payload).await
            }
            Event::MessageRead {
                order_id,
                user_id,
                seq,
                origin,
            } => {
                let payload =
                    json!({ "userId": user_id, "orderId": order_id, "seq": seq, "timestamp": now_timestamp() });
                // The connection that read does not need its own echo.
                let origin = origin
                    .and_then(|sid| sid.parse().ok())
                    .and_then(|sid| self.io.get_socket(sid));
                let target = match origin {
                    Some(socket) => socket.to(order_id.room()),
                    None => self.io.to(order_id.room()),
                };
                emit_to(target, "message-read", &payload).await
            }
            Event::UnreadCount {
                user_id,
                order_id,
                unread_count,
            } => {
                let payload = json!({ "orderId": order_id, "unreadCount": unread_count });
                emit_to(self.io.to(user_id.room()), "unread-count", &payload).await
            }
            Event::Notification { user_id, notification } => {
                // Every device of the user, except those already looking at the chat.
                let target = self.io.to(user_id.room()).except(notification.order_id.room());
                emit_to(target, "notification", &notification).await
            }
        }
    }

    fn is_online(&self, user: &UserId) -> bool {
        self.presence.is_online(user)
    }
}

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

use super::namespace;
use super::presence::Presence;
use crate::access;
use crate::chat::{Broadcaster, Event};
use crate::domain::{Identity, Message, Order, OrderId, UserId, now_timestamp};

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
/// found and counted. The transport closes such a connection itself (our engineioxide
/// patch: socketioxide's `disconnect()` cannot, it needs room in the buffer for its
/// disconnect packet); the client reconnects and catches up with `sinceSeq` instead of
/// silently missing messages while it looks connected. Deliveries and failures are
/// counted.
///
/// The payload is serialised to JSON once; each connection then only copies those
/// bytes into its frame.
///
/// With a remote adapter (several nodes) this covers this node's connections; remote
/// ones must go through the adapter's broadcast.
/// Marks a connection found with a full send buffer (counted once).
#[derive(Clone)]
struct DroppedSlow;

pub async fn emit_to<A: Adapter>(target: BroadcastOperators<A>, event: &'static str, payload: &impl Serialize) {
    let payload = match serde_json::value::to_raw_value(payload) {
        Ok(encoded) => encoded,
        Err(err) => {
            metrics::counter!("orderchat_errors_total", "code" => "emit_failed", "transport" => "socket").increment(1);
            tracing::error!(event, error = %err, "could not encode an event");
            return;
        }
    };
    let mut delivered = 0u64;
    for socket in target.sockets() {
        match socket.emit(event, &*payload) {
            Ok(()) => delivered += 1,
            Err(SendError::Socket(SocketError::Closed)) => {}
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                // Until its disconnect is handled, later events find it full again.
                if socket.extensions.get::<DroppedSlow>().is_none() {
                    socket.extensions.insert(DroppedSlow);
                    metrics::counter!("orderchat_slow_consumers_dropped_total").increment(1);
                    tracing::warn!(sid = %socket.id, event, "send buffer full: the connection is closed");
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

/// `{ orderId, message, timestamp }` of `new-message`, `message-updated` and
/// `message-deleted`, serialised straight from the message (no intermediate JSON tree
/// on the per-message path).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageEvent<'a> {
    order_id: &'a OrderId,
    message: &'a Message,
    timestamp: String,
}

fn message_payload(message: &Message) -> MessageEvent<'_> {
    MessageEvent {
        order_id: &message.order_id,
        message,
        timestamp: now_timestamp(),
    }
}

/// Takes out of the order's room every connection that may no longer see the order,
/// and tells those who stay which users left.
async fn revoke_lost_access<A: Adapter>(io: BroadcastOperators<A>, order: &Order) {
    let room = order.id.room();
    let mut removed: Vec<UserId> = Vec::new();
    for socket in io.clone().within(room.clone()).sockets() {
        let Some(identity) = socket.extensions.get::<Identity>() else {
            continue;
        };
        if access::may_view(&identity, order) {
            continue;
        }
        socket.leave(room.clone());
        tracing::info!(user = %identity.user_id, order = %order.id, sid = %socket.id, "removed from the order: left its room");
        if !removed.contains(&identity.user_id) {
            removed.push(identity.user_id);
        }
    }
    for user_id in removed {
        let payload = json!({ "userId": user_id, "orderId": order.id, "timestamp": now_timestamp() });
        emit_to(io.clone().to(room.clone()), "user-left-order", &payload).await;
    }
}

#[async_trait]
impl<A: Adapter> Broadcaster for SocketBroadcaster<A> {
    async fn publish(&self, event: Event) {
        // Gone once the server closed its sockets at shutdown: nobody is left to tell.
        let Some(io) = namespace(&self.io) else { return };
        match event {
            Event::NewMessage(message) => {
                emit_to(
                    io.to(message.order_id.room()),
                    "new-message",
                    &message_payload(&message),
                )
                .await
            }
            Event::MessageUpdated(message) => {
                emit_to(
                    io.to(message.order_id.room()),
                    "message-updated",
                    &message_payload(&message),
                )
                .await
            }
            Event::MessageDeleted(message) => {
                emit_to(
                    io.to(message.order_id.room()),
                    "message-deleted",
                    &message_payload(&message),
                )
                .await
            }
            Event::OrderUpdated { order_id, update } => {
                let payload = json!({ "orderId": order_id, "update": update, "timestamp": now_timestamp() });
                emit_to(io.to(order_id.room()), "order-updated", &payload).await
            }
            Event::MembershipChanged(order) => revoke_lost_access(io, &order).await,
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
                    .and_then(|sid| io.get_socket(sid));
                let target = match origin {
                    Some(socket) => socket.to(order_id.room()),
                    None => io.to(order_id.room()),
                };
                emit_to(target, "message-read", &payload).await
            }
            Event::UnreadCount {
                user_id,
                order_id,
                unread_count,
            } => {
                let payload = json!({ "orderId": order_id, "unreadCount": unread_count });
                emit_to(io.to(user_id.room()), "unread-count", &payload).await
            }
            Event::Notification { user_id, notification } => {
                // Every device of the user, except those already looking at the chat.
                let target = io.to(user_id.room()).except(notification.order_id.room());
                emit_to(target, "notification", &notification).await
            }
        }
    }

    fn is_online(&self, user: &UserId) -> bool {
        self.presence.is_online(user)
    }
}

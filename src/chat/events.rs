//! What the use cases announce. The realtime layer turns each `Event` into Socket.IO
//! emits (to which rooms is its business); the use cases only say what happened.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::domain::{Message, Order, OrderId, Seq, UserId};

/// What happened, for the rooms and users that must hear of it. A newly stored message
/// is not one of these: it has a path of its own (`Broadcaster::new_message`), in seq
/// order per order.
#[derive(Debug, Clone)]
pub enum Event {
    MessageUpdated(Message),
    MessageDeleted(Message),
    OrderUpdated {
        order_id: OrderId,
        update: Value,
    },
    /// The order's participants were replaced: connections that may no longer see it
    /// must leave its room before this is considered delivered.
    MembershipChanged(Order),
    /// `origin` is the connection that moved the pointer, which does not need the echo.
    MessageRead {
        order_id: OrderId,
        user_id: UserId,
        seq: Seq,
        origin: Option<String>,
    },
    UnreadCount {
        user_id: UserId,
        order_id: OrderId,
        unread_count: i64,
    },
    Notification {
        user_id: UserId,
        notification: Notification,
    },
    /// The user came online (first connection on any node) or went offline (last one
    /// closed); `orders` are the rooms to tell, on every node or (`here_only`) on this
    /// node only.
    Presence {
        user_id: UserId,
        orders: Arc<[OrderId]>,
        online: bool,
        here_only: bool,
    },
}

/// SPEC §5 `notification`, sent to a participant's connections outside the order room.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The stored notification (`GET /api/chat/notifications`) this one is, when one
    /// was stored for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub order_id: OrderId,
    pub title: String,
    pub message: String,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<Seq>,
    /// How many new messages this notification stands for (bursts are coalesced).
    pub count: usize,
}

/// Tells a newly stored message's sender that it is stored and on its way (the ack of
/// `send-message`, the response of `POST /api/chat/messages`).
pub type Answer = Box<dyn FnOnce() + Send>;

#[async_trait]
pub trait Broadcaster: Send + Sync + 'static {
    async fn publish(&self, event: Event);

    /// `new-message` for a newly stored message. Called by the publisher in commit
    /// order, so each order's messages come in `seq` order. `answer` tells the sender
    /// (`docs/API.md`: the message is committed and its `new-message` on its way): call
    /// it once the message went to this node's connections and, with several nodes,
    /// once Redis took it (or gave up on it). Must not wait for Redis itself: the
    /// publisher takes the next message when this returns.
    async fn new_message(&self, message: &Message, answer: Answer);

    /// Whether the user has at least one live connection (so per-user pushes are worth
    /// computing).
    fn is_online(&self, user: &UserId) -> bool;

    /// Whether the user may have a live connection anywhere (so per-user pushes are
    /// worth computing): on a single node, `is_online`.
    fn may_be_connected(&self, user: &UserId) -> bool {
        self.is_online(user)
    }

    /// The users with at least one connection, on any node, that has the order's room
    /// joined (who are looking at its chat), in one request to the adapter; `None` when
    /// that could not be asked (the adapter failed: it logs why).
    async fn viewers(&self, order: &OrderId) -> Option<HashSet<UserId>>;
}

/// The other nodes of a cluster, which keep their own caches of orders (see
/// `cluster.rs`). A single node has none.
#[async_trait]
pub trait Peers: Send + Sync + 'static {
    /// The order's participants (or status) changed here, after the commit: others must
    /// drop their cached copy and take connections that lost access out of its room.
    async fn order_changed(&self, order: &OrderId);
}

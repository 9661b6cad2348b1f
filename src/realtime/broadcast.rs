//! Turns the use cases' `Event`s into Socket.IO emits: which event name, which payload
//! shape (SPEC §5), which rooms. Rooms: `order:<id>` holds the connections that joined
//! an order's chat; `user:<id>` holds every connection of a user.
//!
//! `new-message` goes its own way (`delivery.rs`): to this node's connections through
//! each order's line, which keeps them in seq order and in step with joins; with several
//! nodes, also once to Redis for the others (`cluster/messages.rs`, queued in commit
//! order and pipelined by `cluster/outbox.rs`), not through the adapter's broadcast.
//! `message-updated` and `message-deleted` follow it through the same lines
//! (`cluster/changes.rs` between nodes), so none overtakes its message.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::{BroadcastError, SocketError, SocketIo};

use super::delivery::{Deliveries, Frame, Incoming};
use super::namespace;
use super::presence::Presence;
use crate::access;
use crate::chat::{Answer, Broadcaster, ChatService, Event};
use crate::cluster::{AdapterHealth, Change, Cluster, Inbound};
use crate::domain::{Identity, Message, Order, OrderId, Seq, USER_ROOM_PREFIX, UserId, now_timestamp};

/// How long a flush waits for the nodes to say who is in an order's room.
const VIEWERS_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

pub struct SocketBroadcaster<A: Adapter> {
    io: SocketIo<A>,
    presence: Arc<Presence>,
    health: Arc<AdapterHealth>,
    deliveries: Arc<Deliveries>,
    /// Several nodes: new messages go to Redis too, and a user not connected here may be
    /// connected to another node.
    cluster: Option<Arc<Cluster>>,
}

impl<A: Adapter> SocketBroadcaster<A> {
    pub fn new(
        io: SocketIo<A>,
        presence: Arc<Presence>,
        health: Arc<AdapterHealth>,
        deliveries: Arc<Deliveries>,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        Self {
            io,
            presence,
            health,
            deliveries,
            cluster,
        }
    }
}

/// The node-wide upkeep of the order lines (`delivery.rs`), without the adapter type:
/// called by the gap filler and the housekeeping task.
#[async_trait]
pub trait LiveOrders: Inbound {
    /// Delivers what gaps held up, reading the missing messages from the store.
    async fn fill_gaps(&self, chat: &ChatService);

    /// Forgets the lines of orders nobody on this node is in the room of.
    fn sweep(&self);

    /// After a Redis outage: finds the lines behind the store (see
    /// `Deliveries::recheck`) and returns how many; the gap filler delivers the rest.
    async fn recheck(&self, chat: &ChatService) -> crate::error::Result<usize>;
}

#[async_trait]
impl<A: Adapter> Inbound for SocketBroadcaster<A> {
    async fn new_message(&self, order: OrderId, seq: Seq, payload: Box<RawValue>) {
        let Some(io) = namespace(&self.io) else { return };
        let room = io.local().within(order.room());
        self.deliveries
            .deliver(
                room,
                &self.health,
                &order,
                seq,
                Incoming::Frame(Frame::Encoded(payload)),
            )
            .await;
    }

    async fn message_changed(&self, order: OrderId, seq: Seq, change: Change, payload: Box<RawValue>) {
        let Some(io) = namespace(&self.io) else { return };
        let room = io.local().within(order.room());
        self.deliveries
            .change(room, &self.health, &order, seq, change.event(), Frame::Encoded(payload))
            .await;
    }
}

#[async_trait]
impl<A: Adapter> LiveOrders for SocketBroadcaster<A> {
    async fn fill_gaps(&self, chat: &ChatService) {
        self.deliveries.fill_gaps(&self.io, &self.health, chat).await;
    }

    fn sweep(&self) {
        let Some(io) = namespace(&self.io) else { return };
        let io = io.local();
        self.deliveries
            .sweep(|order| io.clone().within(order.room()).sockets().is_empty());
    }

    async fn recheck(&self, chat: &ChatService) -> crate::error::Result<usize> {
        self.deliveries.recheck(chat).await
    }
}

/// Delivers an event to every connection `target` selects, through the adapter: the
/// payload is encoded once, and each connection gets a reference to the same frame.
/// With the Redis adapter the frame is also published once for the other nodes, which
/// deliver it to their own connections.
///
/// Per node:
/// - **Slow readers.** A connection whose send buffer is full (a client that stopped
///   reading) is closed by the engine of the node holding it (our engineioxide patch:
///   socketioxide's `disconnect()` cannot, it needs room in the buffer for its
///   disconnect packet); the client reconnects and catches up with `sinceSeq` instead of
///   silently missing messages. The engine reports each such close once
///   (`dropped_slow_reader`: `orderchat_slow_consumers_dropped_total`), whichever
///   node's broadcast found the buffer full.
/// - **Metrics.** `orderchat_deliveries_total` counts deliveries to this node's
///   connections of the broadcasts this node emits. Other nodes deliver a remote
///   broadcast inside their adapter, which reports nothing, so those are not counted —
///   except `new-message`, which every node delivers itself (`delivery.rs`).
/// - **Redis down.** The adapter publishes before it delivers locally and gives up on
///   both when the publish fails; the event is then delivered to this node's
///   connections only, `health` logs the change once, and later broadcasts skip Redis
///   until its probe (`cluster.rs`) finds it back.
pub async fn emit_to<A: Adapter>(
    health: &AdapterHealth,
    target: BroadcastOperators<A>,
    event: &'static str,
    payload: &impl Serialize,
) {
    // The adapter reports failures, not successes: this node's recipients are counted.
    let recipients = target.clone().sockets();
    // Redis is down: this node's connections only, until the probe sees it back.
    let target = if health.is_degraded() { target.local() } else { target };
    let failed = match target.clone().emit(event, payload).await {
        Ok(()) => 0,
        Err(BroadcastError::Socket(errors)) => refused(&errors),
        Err(BroadcastError::Adapter(err)) => {
            health.failed(event, &err);
            match target.local().emit(event, payload).await {
                Ok(()) => 0,
                Err(BroadcastError::Socket(errors)) => refused(&errors),
                Err(err) => {
                    emit_failed(event, &err);
                    recipients.len()
                }
            }
        }
        Err(err @ BroadcastError::Serialize(_)) => {
            emit_failed(event, &err);
            recipients.len()
        }
    };
    let delivered = recipients.len().saturating_sub(failed) as u64;
    metrics::counter!("orderchat_deliveries_total", "event" => event).increment(delivered);
}

/// The deliveries a broadcast could not make on this node (returns how many). A full
/// send buffer is not ours to handle: the engine closes that connection and reports it
/// (`dropped_slow_reader`).
fn refused(errors: &[SocketError]) -> usize {
    errors.len()
}

/// Called by the engine (our engineioxide patch) once for each connection it closed
/// because its send buffer was full: a client that stopped reading.
pub fn dropped_slow_reader(sid: &engineioxide::socket::Sid) {
    metrics::counter!("orderchat_slow_consumers_dropped_total").increment(1);
    tracing::warn!(%sid, "send buffer full: the connection was closed");
}

fn emit_failed(event: &'static str, err: &BroadcastError) {
    metrics::counter!("orderchat_errors_total", "code" => "emit_failed", "transport" => "socket").increment(1);
    tracing::error!(event, error = %err, "could not emit an event");
}

/// `{ orderId, message, timestamp }` of `new-message`, `message-updated` and
/// `message-deleted`, serialised straight from the message (no intermediate JSON tree
/// on the per-message path).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageEvent<'a> {
    order_id: &'a OrderId,
    message: &'a Message,
    timestamp: String,
}

pub(super) fn message_payload(message: &Message) -> MessageEvent<'_> {
    MessageEvent {
        order_id: &message.order_id,
        message,
        timestamp: now_timestamp(),
    }
}

impl<A: Adapter> SocketBroadcaster<A> {
    /// An edit or a deletion: through the order's line on this node (after the message's
    /// `new-message`), and with several nodes once to Redis for the others, which do the
    /// same with theirs (`cluster/changes.rs`).
    async fn message_changed(&self, io: BroadcastOperators<A>, change: Change, message: &Message) {
        let (order, seq) = (&message.order_id, message.seq);
        let payload = match serde_json::to_string(&message_payload(message)) {
            Ok(payload) => payload,
            Err(err) => {
                metrics::counter!("orderchat_errors_total", "code" => "emit_failed", "transport" => "socket")
                    .increment(1);
                tracing::error!(%order, seq, error = %err, event = change.event(), "could not encode a message change");
                return;
            }
        };
        // While Redis is down, not even tried: the other nodes' clients see the change
        // when they next read the message.
        if let Some(cluster) = &self.cluster
            && !self.health.is_degraded()
            && let Err(err) = cluster.publish_change(order, seq, change, &payload).await
        {
            self.health.failed(change.event(), &err);
        }
        let Ok(raw) = RawValue::from_string(payload) else {
            return;
        };
        let room = io.local().within(order.room());
        self.deliveries
            .change(room, &self.health, order, seq, change.event(), Frame::Encoded(raw))
            .await;
    }
}

/// Takes out of the order's room every connection that may no longer see the order,
/// and tells those who stay which users left.
///
/// Each node does this for its own connections (it alone knows their identities):
/// the node that made the change when it commits, the others when they hear of it
/// from Redis (`cluster.rs`). `user-left-order` goes to the room on every node, so a
/// user who had joined from connections on two nodes is announced by both.
async fn revoke_lost_access<A: Adapter>(health: &AdapterHealth, io: BroadcastOperators<A>, order: &Order) {
    let room = order.id.room();
    let mut removed: Vec<UserId> = Vec::new();
    for socket in io.clone().within(room.clone()).local().sockets() {
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
        emit_to(health, io.clone().to(room.clone()), "user-left-order", &payload).await;
    }
}

#[async_trait]
impl<A: Adapter> Broadcaster for SocketBroadcaster<A> {
    async fn publish(&self, event: Event) {
        // Gone once the server closed its sockets at shutdown: nobody is left to tell.
        let Some(io) = namespace(&self.io) else { return };
        let health = &*self.health;
        match event {
            Event::MessageUpdated(message) => self.message_changed(io, Change::Updated, &message).await,
            Event::MessageDeleted(message) => self.message_changed(io, Change::Deleted, &message).await,
            Event::OrderUpdated { order_id, update } => {
                let payload = json!({ "orderId": order_id, "update": update, "timestamp": now_timestamp() });
                emit_to(health, io.to(order_id.room()), "order-updated", &payload).await
            }
            Event::MembershipChanged(order) => revoke_lost_access(health, io, &order).await,
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
                emit_to(health, target, "message-read", &payload).await
            }
            Event::UnreadCount {
                user_id,
                order_id,
                unread_count,
            } => {
                let payload = json!({ "orderId": order_id, "unreadCount": unread_count });
                emit_to(health, io.to(user_id.room()), "unread-count", &payload).await
            }
            Event::Notification { user_id, notification } => {
                // Every device of the user, except those already looking at the chat.
                let target = io.to(user_id.room()).except(notification.order_id.room());
                emit_to(health, target, "notification", &notification).await
            }
            Event::Presence {
                user_id,
                orders,
                online,
                here_only,
            } => {
                let rooms: Vec<String> = orders.iter().map(OrderId::room).collect();
                let payload = json!({ "userId": user_id, "online": online, "timestamp": now_timestamp() });
                let target = if here_only { io.to(rooms).local() } else { io.to(rooms) };
                emit_to(health, target, "presence", &payload).await
            }
        }
    }

    async fn new_message(&self, message: &Message, answer: Answer) {
        let Some(io) = namespace(&self.io) else { return answer() };
        let (order, seq) = (&message.order_id, message.seq);
        let room = io.local().within(order.room());
        let Some(cluster) = &self.cluster else {
            // One node: serialised only if someone here is in the room.
            self.deliveries
                .deliver(room, &self.health, order, seq, Incoming::Committed(message))
                .await;
            return answer();
        };
        // Several nodes: encoded once, for this node's connections and for Redis.
        let payload = match serde_json::to_string(&message_payload(message)) {
            Ok(payload) => payload,
            Err(err) => {
                metrics::counter!("orderchat_errors_total", "code" => "emit_failed", "transport" => "socket")
                    .increment(1);
                tracing::error!(%order, seq, error = %err, "could not encode new-message");
                return answer();
            }
        };
        let outbound = cluster.outbound_message(order, seq, &payload);
        if let Ok(raw) = RawValue::from_string(payload) {
            self.deliveries
                .deliver(room, &self.health, order, seq, Incoming::Frame(Frame::Encoded(raw)))
                .await;
        }
        // Behind this node's earlier messages, without waiting for Redis: the answer
        // goes out once Redis has it.
        cluster.queue_message(outbound, answer);
    }

    fn is_online(&self, user: &UserId) -> bool {
        self.presence.is_online(user)
    }

    fn may_be_connected(&self, user: &UserId) -> bool {
        self.presence.may_be_connected(user)
    }

    async fn viewers(&self, order: &OrderId) -> Option<HashSet<UserId>> {
        let io = namespace(&self.io)?;
        // The rooms of every connection in the order's room, on every node (one request
        // through the adapter); each connection is also in its user's room.
        let target = io.within(order.room());
        // Redis is down: this node's connections only (a viewer on another node then
        // gets a stored notification it did not need, never misses one).
        let target = if self.health.is_degraded() {
            target.local()
        } else {
            target
        };
        // Bounded: a node that does not answer must not hold up every order's flush
        // for the adapter's own request timeout (5 s).
        let asked = tokio::time::timeout(VIEWERS_TIMEOUT, target.rooms()).await;
        let Ok(answer) = asked else {
            metrics::counter!("orderchat_errors_total", "code" => "viewers_unknown", "transport" => "socket")
                .increment(1);
            tracing::warn!(%order, "no answer in time to who is in the order's room; notifying as if nobody were");
            return None;
        };
        match answer {
            Ok(rooms) => Some(
                rooms
                    .iter()
                    .filter_map(|room| room.strip_prefix(USER_ROOM_PREFIX))
                    .map(|id| UserId::from_trusted(id.to_owned()))
                    .collect(),
            ),
            Err(err) => {
                metrics::counter!("orderchat_errors_total", "code" => "viewers_unknown", "transport" => "socket")
                    .increment(1);
                tracing::warn!(%order, error = %err, "could not ask who is in the order's room; notifying as if nobody were");
                None
            }
        }
    }
}

//! `new-message` between nodes, on the channel [`MESSAGES_CHANNEL`] of our own rather
//! than the adapter's room broadcast.
//!
//! Why not the adapter: a node would deliver its own commits to its clients at once and
//! the other nodes' whenever Redis brings them, so with two nodes writing into one order
//! a client could see seq 7 before seq 6. Instead each node publishes every message it
//! committed (encoded once: the same JSON goes to Redis and to its own connections) and
//! every node, the publisher included, hands the messages to its own connections through
//! each order's reorder buffer (`realtime/delivery.rs`), which restores `seq` order and
//! fills what never arrives from the database.
//!
//! A node takes its own messages directly from its publisher and ignores their echo.
//! It publishes them through its outbox (`outbox.rs`): in commit order, as many per
//! Redis round trip as were committed meanwhile.
//! The channel rides on the adapter's connection (`driver.rs`), so it reconnects and
//! resubscribes with it; a message dropped on the way (Redis down, a full inbound
//! queue) becomes a gap that the receiving node fills from the database.
//!
//! On the wire: `node \n seq \n orderId \n payload` (ids never hold control characters;
//! the payload is compact JSON, which has no raw newline).

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::value::RawValue;
use socketioxide_redis::drivers::Driver;
use tokio::task::JoinHandle;

use super::{Change, Cluster};
use crate::chat::Answer;
use crate::domain::{OrderId, Seq};

/// The pub/sub channel of committed messages.
pub const MESSAGES_CHANNEL: &str = "orderchat-messages";

/// Messages from other nodes that may wait for this node's listener before Redis
/// messages are dropped (and later read from the database instead).
const INBOUND_QUEUE: usize = 16_384;

/// A committed message as it travels to the other nodes.
pub struct Outbound(Vec<u8>);

impl Outbound {
    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Where another node's `new-message` goes on this node (the realtime layer).
#[async_trait]
pub trait Inbound: Send + Sync + 'static {
    /// Message `seq` of `order` as its node encoded the `new-message` payload.
    async fn new_message(&self, order: OrderId, seq: Seq, payload: Box<RawValue>);

    /// An edit or a deletion of message `seq` of `order`, as its node encoded the
    /// event's payload (`changes.rs`).
    async fn message_changed(&self, order: OrderId, seq: Seq, change: Change, payload: Box<RawValue>);
}

impl Cluster {
    /// A message this node committed, ready for [`Cluster::queue_message`]
    /// (`payload`: its `new-message` JSON).
    pub fn outbound_message(&self, order: &OrderId, seq: Seq, payload: &str) -> Outbound {
        Outbound(encode(&self.node, order, seq, payload))
    }

    /// Queues a message for the other nodes, behind every message queued before it
    /// (`outbox.rs`); `answer` is called once Redis took it or gave up on it. Never
    /// waits: while Redis is down, or when too much waits for it already, the message is
    /// not published and `answer` is called at once.
    pub fn queue_message(&self, message: Outbound, answer: Answer) {
        if self.health.is_degraded() {
            // Not even tried: the other nodes fill the gap from the database.
            answer();
            return;
        }
        self.outbox.push(message, answer);
    }

    /// Subscribes to the other nodes' messages (before returning, so nothing published
    /// after start-up is missed) and hands each to `inbound` until aborted.
    pub async fn spawn_message_listener(self: &Arc<Self>, inbound: Arc<dyn Inbound>) -> anyhow::Result<JoinHandle<()>> {
        let mut stream = self
            .driver
            .subscribe(MESSAGES_CHANNEL.to_owned(), INBOUND_QUEUE)
            .await?;
        let node = self.node.clone();
        Ok(tokio::spawn(async move {
            while let Some((_, bytes)) = stream.next().await {
                let Some((from, order, seq, payload)) = decode(&bytes) else {
                    tracing::warn!("ignoring a malformed message from another node");
                    continue;
                };
                if from == node {
                    continue;
                }
                metrics::counter!("orderchat_cluster_messages_received_total").increment(1);
                inbound.new_message(order, seq, payload).await;
            }
        }))
    }
}

pub(super) fn encode(node: &str, order: &OrderId, seq: Seq, payload: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(node.len() + order.as_str().len() + payload.len() + 24);
    bytes.extend_from_slice(node.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(seq.to_string().as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(order.as_str().as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(payload.as_bytes());
    bytes
}

pub(super) fn decode(bytes: &[u8]) -> Option<(&str, OrderId, Seq, Box<RawValue>)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(4, '\n');
    let node = parts.next()?;
    let seq = parts.next()?.parse().ok()?;
    let order = OrderId::parse(parts.next()?).ok()?;
    let payload = RawValue::from_string(parts.next()?.to_owned()).ok()?;
    Some((node, order, seq, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_the_wire() {
        let order = OrderId::parse("order-1").unwrap();
        let payload = r#"{"orderId":"order-1","message":{"seq":7,"message":"two\nlines"}}"#;
        let bytes = encode("node-a", &order, 7, payload);
        let (node, got, seq, raw) = decode(&bytes).unwrap();
        assert_eq!((node, got.as_str(), seq, raw.get()), ("node-a", "order-1", 7, payload));
    }

    #[test]
    fn malformed_messages_are_refused() {
        for bad in [
            &b""[..],
            b"node",
            b"node\nx\norder\n{}",
            b"node\n1\norder\nnot json",
            b"node\n1\n\n{}",
        ] {
            assert!(decode(bad).is_none(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}

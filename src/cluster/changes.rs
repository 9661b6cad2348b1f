//! `message-updated` and `message-deleted` between nodes, on the channel
//! [`CHANGES_CHANNEL`], beside the new messages of `messages.rs` rather than through the
//! adapter.
//!
//! Why not the adapter: a receiving node hands `new-message` to its connections through
//! each order's line (`realtime/delivery.rs`), which may hold a message for a while (a
//! gap before it, up to `GAP_WAIT` until it is read from the database). An edit or a
//! deletion that went through the adapter would reach the room at once, so a client
//! could learn that message 7 was deleted before it ever got message 7. Through this
//! channel each node hands them to the same line, which keeps a change back until the
//! message it refers to has gone out.
//!
//! On the wire: `event \n` and then the same record as a new message (`messages.rs`).
//! One channel for both events, so an edit and a deletion of one message published by
//! one node arrive in the order they were made.

use std::sync::Arc;

use futures::StreamExt;
use socketioxide_redis::drivers::Driver;
use tokio::task::JoinHandle;

use super::messages::{decode, encode};
use super::{Cluster, Inbound, REDIS_TIMEOUT};
use crate::domain::{OrderId, Seq};

/// The pub/sub channel of edits and deletions of committed messages.
pub const CHANGES_CHANNEL: &str = "orderchat-message-changes";

/// Changes from other nodes that may wait for this node's listener (edits and
/// deletions are rare next to messages).
const INBOUND_QUEUE: usize = 4_096;

/// What happened to a committed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Updated,
    Deleted,
}

impl Change {
    /// The Socket.IO event that tells clients (SPEC §5).
    pub fn event(self) -> &'static str {
        match self {
            Change::Updated => "message-updated",
            Change::Deleted => "message-deleted",
        }
    }

    fn from_event(event: &str) -> Option<Self> {
        match event {
            "message-updated" => Some(Change::Updated),
            "message-deleted" => Some(Change::Deleted),
            _ => None,
        }
    }
}

impl Cluster {
    /// Publishes an edit or a deletion of message `seq` of `order` for the other nodes
    /// (`payload`: its event JSON). Fails when Redis does not take it within the timeout;
    /// the other nodes' clients then see the change when they next read the message.
    pub async fn publish_change(&self, order: &OrderId, seq: Seq, change: Change, payload: &str) -> anyhow::Result<()> {
        let mut bytes = Vec::with_capacity(payload.len() + 64);
        bytes.extend_from_slice(change.event().as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&encode(&self.node, order, seq, payload));
        let publish = self.driver.publish(CHANGES_CHANNEL.to_owned(), bytes);
        match tokio::time::timeout(REDIS_TIMEOUT, publish).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => anyhow::bail!("no answer within {REDIS_TIMEOUT:?}"),
        }
    }

    /// Subscribes to the other nodes' edits and deletions (before returning) and hands
    /// each to `inbound` until aborted.
    pub async fn spawn_change_listener(self: &Arc<Self>, inbound: Arc<dyn Inbound>) -> anyhow::Result<JoinHandle<()>> {
        let mut stream = self.driver.subscribe(CHANGES_CHANNEL.to_owned(), INBOUND_QUEUE).await?;
        let node = self.node.clone();
        Ok(tokio::spawn(async move {
            while let Some((_, bytes)) = stream.next().await {
                let Some((change, record)) = split_change(&bytes) else {
                    tracing::warn!("ignoring a malformed message change from another node");
                    continue;
                };
                let Some((from, order, seq, payload)) = decode(record) else {
                    tracing::warn!("ignoring a malformed message change from another node");
                    continue;
                };
                if from == node {
                    continue;
                }
                inbound.message_changed(order, seq, change, payload).await;
            }
        }))
    }
}

fn split_change(bytes: &[u8]) -> Option<(Change, &[u8])> {
    let at = bytes.iter().position(|&b| b == b'\n')?;
    let change = Change::from_event(std::str::from_utf8(&bytes[..at]).ok()?)?;
    Some((change, &bytes[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_survives_the_wire() {
        let order = OrderId::parse("order-1").unwrap();
        let payload = r#"{"orderId":"order-1","message":{"seq":7,"deleted":true}}"#;
        for change in [Change::Updated, Change::Deleted] {
            let mut bytes = format!("{}\n", change.event()).into_bytes();
            bytes.extend_from_slice(&encode("node-a", &order, 7, payload));
            let (got, record) = split_change(&bytes).unwrap();
            let (node, id, seq, raw) = decode(record).unwrap();
            assert_eq!(
                (got, node, id.as_str(), seq, raw.get()),
                (change, "node-a", "order-1", 7, payload)
            );
        }
    }

    #[test]
    fn unknown_events_are_refused() {
        assert!(split_change(b"new-message\nnode\n1\norder\n{}").is_none());
        assert!(split_change(b"message-deleted").is_none());
    }
}

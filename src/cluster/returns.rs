//! "A node is back on Redis", on the channel [`RETURNS_CHANNEL`]: how the other nodes
//! learn that it may have committed messages nobody heard of.
//!
//! While a node cannot reach Redis it publishes nothing, so the other nodes' clients
//! miss its messages until a later one reveals the gap — and in a quiet order none may
//! come. Each node therefore compares its live orders with the database
//! (`realtime::spawn_outage_recovery`) when its own probe finds Redis back (it may have
//! missed the others' messages), and when another node announces here that it is back
//! (that node's messages were missed, even by a node that never lost Redis: a node cut
//! off alone, or one whose probe noticed the way back later than this one's).

use std::sync::Arc;

use futures::StreamExt;
use socketioxide_redis::drivers::Driver;
use tokio::task::JoinHandle;

use super::{Cluster, REDIS_TIMEOUT};

/// The pub/sub channel of nodes coming back after an outage (the payload: the node id).
pub const RETURNS_CHANNEL: &str = "orderchat-node-returns";

impl Cluster {
    /// Tells the other nodes that this one reaches Redis again.
    pub(super) async fn announce_return(&self) {
        let publish = self
            .driver
            .publish(RETURNS_CHANNEL.to_owned(), self.node.as_bytes().to_vec());
        let failed = match tokio::time::timeout(REDIS_TIMEOUT, publish).await {
            Ok(Ok(())) => return,
            Ok(Err(err)) => err.to_string(),
            Err(_) => format!("no answer within {REDIS_TIMEOUT:?}"),
        };
        tracing::warn!(error = %failed,
            "could not tell the other nodes that this one is back: they see its messages from the outage when a later one arrives");
    }

    /// Subscribes to the other nodes' returns (before returning) and wakes this node's
    /// outage recovery for each, until aborted.
    pub async fn spawn_return_listener(self: &Arc<Self>) -> anyhow::Result<JoinHandle<()>> {
        let mut stream = self.driver.subscribe(RETURNS_CHANNEL.to_owned(), 64).await?;
        let cluster = self.clone();
        Ok(tokio::spawn(async move {
            while let Some((_, node)) = stream.next().await {
                if node != cluster.node.as_bytes() {
                    tracing::info!("another node is back on Redis: looking for its messages this node missed");
                    cluster.health.another_node_returned();
                }
            }
        }))
    }
}

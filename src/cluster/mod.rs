//! Redis, for running several `orderchat serve` nodes as one (`ORDERCHAT_REDIS_URL`).
//!
//! Redis carries five things between nodes:
//! - **Socket.IO traffic**, through `socketioxide-redis` (the adapter): every room
//!   broadcast, user-room event and typing indicator a node emits is published once
//!   and delivered by each node to its own connections. Built by [`Cluster::adapter`].
//! - **New messages**, on the channel [`MESSAGES_CHANNEL`] (`messages.rs`): not through
//!   the adapter, because every node must put the messages of an order, its own and the
//!   others', back into `seq` order before its connections see them. A node's own are
//!   published by its outbox (`outbox.rs`): in commit order, pipelined, never waited on
//!   by the publisher. Edits and deletions of messages go beside them, on
//!   [`CHANGES_CHANNEL`] (`changes.rs`), so that a node hands them out only after the
//!   message they change.
//! - **Order changes**, on the channel [`ORDERS_CHANNEL`]: a node that changed an
//!   order's participants tells the others, which drop their cached copy of the order,
//!   reload it from the shared database and take their own connections that lost access
//!   out of the order's room (see `ChatService::order_changed_elsewhere`). This is our
//!   own small message, not the adapter's: eviction needs each connection's identity,
//!   which only the node holding the connection knows.
//! - **Returns**, on the channel [`RETURNS_CHANNEL`] (`returns.rs`): a node that reaches
//!   Redis again after an outage says so, since the others missed what it committed
//!   meanwhile.
//! - **Presence and connections per user** ([`presence`]): each node's connection
//!   count per user, a heartbeat per node, and the set of users online anywhere, so a
//!   `presence` event is announced once per real change, a node that dies takes its
//!   users offline within the heartbeat expiry, and the per-user connection limit holds
//!   across nodes.
//!
//! Per node, and why:
//! - Slow readers are found and dropped by the engine of the node holding them.
//! - Typing timers and token expiry belong to one connection, which lives on one node.
//! - The message and typing **rate limits** (`limits.rs`) are token buckets in each
//!   node's memory: checking a shared bucket would put a Redis round trip on every
//!   message, the path the fast-path work keeps free of I/O before the store. A user
//!   whose traffic is spread over N nodes may send up to N times the configured rate;
//!   a Socket.IO connection stays on one node, so only a user with connections (or
//!   HTTP requests) on several nodes gets more. A load balancer that hashes on the user
//!   (or a rate set to rate ÷ N) keeps the limit exact.
//! - The total connections limit (`ORDERCHAT_MAX_CONNECTIONS`) is a node's capacity.
//!
//! Degradation: when Redis is unreachable a node keeps serving its own connections
//! (broadcasts go to this node's connections only, see `realtime::emit_to`), logs the
//! change once, and `/readyz` says `"redis": "error"` with status 200 — a load
//! balancer must not take every node out because the shared Redis is down. A probe
//! pings Redis every second on the adapter's connection; when it answers again, that
//! connection is back with its subscriptions (`driver.rs`) and broadcasts reach every
//! node again.
//! The order-change subscription reconnects by itself too, and then forgets every
//! cached order, since it may have missed changes. What was broadcast during the
//! outage did not reach the other nodes; their clients catch up with `sinceSeq`. New
//! messages are the exception: a node that sees a gap in an order's seqs reads the
//! missing ones from the shared database, so its clients get them in order anyway; and
//! when its probe finds Redis back, or another node says it is back (`returns.rs`), it
//! compares every order someone here has joined with the database's last seq (one read
//! per few hundred orders) and delivers what it missed, even if no later message comes
//! to reveal the gap (`realtime::spawn_outage_recovery`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::ConnectionManagerConfig;
use serde::{Deserialize, Serialize};
use socketioxide::adapter::Emitter;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::chat::{ChatService, Peers};
use crate::domain::OrderId;

mod changes;
mod driver;
mod messages;
mod outbox;
pub mod presence;
mod returns;

pub use changes::{CHANGES_CHANNEL, Change};
pub use driver::ReconnectingDriver;
pub use messages::{Inbound, MESSAGES_CHANNEL};
pub use presence::ClusterPresence;
pub use returns::RETURNS_CHANNEL;

/// socketioxide's adapter when several nodes act as one.
pub type ClusterAdapter = CustomRedisAdapter<Emitter, ReconnectingDriver>;

/// The pub/sub channel for "this order's participants changed".
pub const ORDERS_CHANNEL: &str = "orderchat-orders";

/// Prefix of the adapter's channels, so orderchat shares a Redis with other apps safely.
const ADAPTER_PREFIX: &str = "orderchat";

/// How long a health check or a publish may take before Redis counts as down.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// The connection to Redis shared by a node: the client, this node's id (so it ignores
/// its own order-change messages) and whether cross-node delivery works right now.
pub struct Cluster {
    client: redis::Client,
    /// The adapter's connection (pub/sub of Socket.IO traffic), shared by its clones.
    driver: ReconnectingDriver,
    /// This node's new messages on their way to Redis, on the adapter's connection.
    outbox: outbox::Outbox,
    node: String,
    health: Arc<AdapterHealth>,
}

/// Whether this node's broadcasts currently reach the other nodes: set by the first
/// broadcast or probe Redis refuses, cleared by the probe once Redis answers again
/// (each change logged once, not every emit).
#[derive(Default)]
pub struct AdapterHealth {
    degraded: AtomicBool,
    /// Wakes [`AdapterHealth::returned`] once per way back (a permit is kept if nobody
    /// waits right then).
    back: Notify,
}

impl AdapterHealth {
    /// A broadcast (delivered on this node only) or a probe could not reach Redis.
    pub fn failed(&self, event: &str, err: &dyn std::fmt::Display) {
        metrics::counter!("orderchat_cluster_errors_total", "kind" => "adapter").increment(1);
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::error!(event, error = %err,
                "Redis unreachable: broadcasts reach this node's connections only until it is back");
        }
    }

    /// Redis answers again: broadcasts go through it from now on. Returns whether it
    /// had been down (then the other nodes are told, `returns.rs`).
    fn recovered(&self) -> bool {
        let was_down = self.degraded.swap(false, Ordering::Relaxed);
        if was_down {
            tracing::info!("Redis reachable again: broadcasts reach every node");
            self.back.notify_one();
        }
        was_down
    }

    /// Another node announced that it reaches Redis again (`returns.rs`).
    fn another_node_returned(&self) {
        self.back.notify_one();
    }

    /// Waits until this node reaches Redis again after an outage, or another node
    /// announces that it does: messages committed meanwhile were not published, or not
    /// heard here (see `realtime::spawn_outage_recovery`). By then the adapter's
    /// connection is back with its subscriptions, so what is published from now on
    /// arrives.
    pub async fn returned(&self) {
        self.back.notified().await;
    }

    /// One atomic load: checked by every broadcast.
    #[inline]
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }
}

/// What travels on [`ORDERS_CHANNEL`].
#[derive(Serialize, Deserialize)]
struct OrderChanged {
    node: String,
    order: String,
}

impl Cluster {
    /// Checks the URL and that Redis answers. RESP3 is required by the adapter's driver
    /// (it receives pub/sub messages as RESP3 pushes), so `protocol=resp3` is added to
    /// a URL that does not choose a protocol; one that chooses another is refused.
    pub async fn connect(url: &str, health: Arc<AdapterHealth>) -> anyhow::Result<Self> {
        let url = resp3_url(url)?;
        let client = redis::Client::open(url.as_str()).context("ORDERCHAT_REDIS_URL is not a valid Redis URL")?;
        let connecting = tokio::time::timeout(REDIS_TIMEOUT * 2, ReconnectingDriver::connect(&client));
        let driver = match connecting.await {
            Ok(Ok(driver)) => driver,
            Ok(Err(err)) => return Err(err).context("Redis (ORDERCHAT_REDIS_URL) does not answer"),
            Err(_) => anyhow::bail!(
                "Redis (ORDERCHAT_REDIS_URL) does not answer within {:?}",
                REDIS_TIMEOUT * 2
            ),
        };
        let cluster = Self {
            client,
            outbox: outbox::Outbox::spawn(driver.clone(), health.clone()),
            driver,
            node: uuid::Uuid::now_v7().to_string(),
            health,
        };
        cluster
            .ping()
            .await
            .context("Redis (ORDERCHAT_REDIS_URL) does not answer")?;
        Ok(cluster)
    }

    /// Cluster-wide presence on its own reconnecting connection (its worker and
    /// listener start with `ClusterPresence::spawn`).
    pub async fn presence(&self, heartbeat: Duration, expiry: Duration) -> anyhow::Result<ClusterPresence> {
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let connecting = self.client.get_connection_manager_with_config(config);
        let conn = match tokio::time::timeout(REDIS_TIMEOUT * 2, connecting).await {
            Ok(conn) => conn.context("Redis (ORDERCHAT_REDIS_URL) does not answer")?,
            Err(_) => anyhow::bail!("Redis (ORDERCHAT_REDIS_URL) does not answer"),
        };
        Ok(ClusterPresence::new(
            self.node.clone(),
            self.client.clone(),
            conn,
            heartbeat,
            expiry,
        ))
    }

    /// The adapter constructor for socketioxide: every namespace's adapter shares the
    /// one reconnecting connection.
    pub fn adapter(&self) -> RedisAdapterCtr<ReconnectingDriver> {
        let config = RedisAdapterConfig::new().with_prefix(ADAPTER_PREFIX);
        RedisAdapterCtr::new_with_driver(self.driver.clone(), config)
    }

    /// Pings Redis on the adapter's connection every second. The connection notices a
    /// lost Redis only when a command fails, and reconnects (with its subscriptions)
    /// only on the next command: a node that only receives would otherwise stay cut off
    /// after a Redis restart. So this finds an outage within a second on every node, and
    /// the way back. Aborted at shutdown.
    pub fn spawn_probe(self: &Arc<Self>) -> JoinHandle<()> {
        let cluster = self.clone();
        tokio::spawn(async move {
            let mut every_second = tokio::time::interval(Duration::from_secs(1));
            loop {
                every_second.tick().await;
                let up = match cluster.driver.ping().await {
                    Ok(()) => {
                        if cluster.health.recovered() {
                            cluster.announce_return().await;
                        }
                        1.0
                    }
                    Err(err) => {
                        cluster.health.failed("(probe)", &err);
                        0.0
                    }
                };
                metrics::gauge!("orderchat_cluster_redis_up").set(up);
            }
        })
    }

    pub fn health(&self) -> &Arc<AdapterHealth> {
        &self.health
    }

    /// `PING` on the adapter's connection (no new connection per `/readyz` probe),
    /// bounded by twice [`REDIS_TIMEOUT`] (it may first try to reconnect).
    pub async fn ping(&self) -> anyhow::Result<()> {
        match tokio::time::timeout(REDIS_TIMEOUT * 2, self.driver.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => anyhow::bail!("no answer within {:?}", REDIS_TIMEOUT * 2),
        }
    }

    /// Listens for other nodes' order changes until aborted; reconnects by itself.
    pub fn spawn_order_listener(self: &Arc<Self>, chat: ChatService) -> JoinHandle<()> {
        let cluster = self.clone();
        tokio::spawn(async move {
            let mut lost = false;
            loop {
                match cluster.client.get_async_pubsub().await {
                    Ok(mut pubsub) => match pubsub.subscribe(ORDERS_CHANNEL).await {
                        Ok(()) => {
                            if lost {
                                // Changes made while we were away were never heard of.
                                chat.forget_cached_orders();
                                tracing::info!("order changes from other nodes heard again (order cache cleared)");
                            }
                            let mut messages = pubsub.into_on_message();
                            while let Some(message) = messages.next().await {
                                cluster.handle(&chat, message.get_payload_bytes()).await;
                            }
                        }
                        Err(err) => tracing::debug!(error = %err, "subscribing to order changes failed"),
                    },
                    Err(err) => tracing::debug!(error = %err, "connecting to Redis for order changes failed"),
                }
                if !lost {
                    metrics::counter!("orderchat_cluster_errors_total", "kind" => "subscription").increment(1);
                    tracing::error!("lost Redis: order changes from other nodes are not heard until it is back");
                }
                lost = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn handle(&self, chat: &ChatService, payload: &[u8]) {
        let changed: OrderChanged = match serde_json::from_slice(payload) {
            Ok(changed) => changed,
            Err(err) => {
                tracing::warn!(error = %err, "ignoring a malformed order-change message");
                return;
            }
        };
        if changed.node == self.node {
            return;
        }
        let Ok(order) = OrderId::parse(&changed.order) else {
            tracing::warn!("ignoring an order-change message with an invalid order id");
            return;
        };
        metrics::counter!("orderchat_cluster_order_changes_total", "direction" => "received").increment(1);
        chat.order_changed_elsewhere(&order).await;
    }
}

#[async_trait]
impl Peers for Cluster {
    async fn order_changed(&self, order: &OrderId) {
        let message = OrderChanged {
            node: self.node.clone(),
            order: order.as_str().to_owned(),
        };
        let Ok(payload) = serde_json::to_vec(&message) else {
            return;
        };
        // Membership changes are rare (a platform PUT/PATCH): a connection per change
        // keeps this path free of reconnect logic.
        let publish = async {
            let mut conn = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("PUBLISH")
                .arg(ORDERS_CHANNEL)
                .arg(payload)
                .query_async::<i64>(&mut conn)
                .await
        };
        match tokio::time::timeout(REDIS_TIMEOUT, publish).await {
            Ok(Ok(_)) => {
                metrics::counter!("orderchat_cluster_order_changes_total", "direction" => "sent").increment(1);
            }
            Ok(Err(err)) => order_change_lost(order, &err),
            Err(_) => order_change_lost(order, &"timed out"),
        }
    }
}

fn order_change_lost(order: &OrderId, err: &dyn std::fmt::Display) {
    metrics::counter!("orderchat_cluster_errors_total", "kind" => "order_change").increment(1);
    tracing::error!(order = %order, error = %err,
        "could not tell other nodes that the order's participants changed: they may serve a stale list until Redis is back");
}

/// `url` with `protocol=resp3` (added when no protocol is chosen).
fn resp3_url(url: &str) -> anyhow::Result<String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://")) {
        anyhow::bail!("ORDERCHAT_REDIS_URL must start with redis://, rediss:// or redis+unix://");
    }
    let lower = url.to_ascii_lowercase();
    if let Some(at) = lower.find("protocol=") {
        let value = lower[at + "protocol=".len()..].split('&').next().unwrap_or_default();
        if value != "resp3" {
            anyhow::bail!("ORDERCHAT_REDIS_URL must use protocol=resp3 (Redis 7 or later), not protocol={value}");
        }
        return Ok(url.to_owned());
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}protocol=resp3"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp3_is_added_when_no_protocol_is_chosen() {
        assert_eq!(
            resp3_url("redis://127.0.0.1:6379").unwrap(),
            "redis://127.0.0.1:6379?protocol=resp3"
        );
        assert_eq!(resp3_url("redis://h/0?x=1").unwrap(), "redis://h/0?x=1&protocol=resp3");
        assert_eq!(
            resp3_url("redis://h?protocol=RESP3").unwrap(),
            "redis://h?protocol=RESP3"
        );
    }

    #[test]
    fn other_protocols_and_schemes_are_refused() {
        assert!(resp3_url("redis://h?protocol=resp2").is_err());
        assert!(resp3_url("http://h").is_err());
        assert!(resp3_url("").is_err());
    }

    #[test]
    fn degradation_is_reported_once_and_clears() {
        let health = AdapterHealth::default();
        assert!(!health.is_degraded());
        health.failed("new-message", &"down");
        health.failed("new-message", &"down");
        assert!(health.is_degraded());
        health.recovered();
        assert!(!health.is_degraded());
    }

    #[tokio::test]
    async fn the_way_back_wakes_whoever_waits_for_it_once() {
        let health = AdapterHealth::default();
        health.recovered();
        let woken = tokio::time::timeout(Duration::from_millis(50), health.returned()).await;
        assert!(woken.is_err(), "woken without an outage");

        health.failed("(probe)", &"down");
        health.recovered();
        health.recovered();
        tokio::time::timeout(Duration::from_secs(5), health.returned())
            .await
            .expect("the way back was not announced");
        let again = tokio::time::timeout(Duration::from_millis(50), health.returned()).await;
        assert!(again.is_err(), "one way back announced twice");

        health.another_node_returned();
        tokio::time::timeout(Duration::from_secs(5), health.returned())
            .await
            .expect("another node's way back was not announced");
    }
}

//! The pub/sub driver of the Socket.IO adapter: socketioxide-redis' `Driver` on a
//! connection that comes back by itself. The crate's own `RedisDriver` holds one
//! `MultiplexedConnection`, which never reconnects: after a Redis restart a node would
//! stay cut off from the others until it was restarted too. This one uses the `redis`
//! crate's `ConnectionManager`, which reconnects on the next command after a failure
//! and subscribes to its channels again; the probe of `Cluster::spawn_probe` sends a
//! command (`PING`) every second, so a node that only receives comes back too.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, PushInfo, PushKind, RedisError, RedisResult};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use super::REDIS_TIMEOUT;

/// Where the messages of each subscribed channel go (the adapter's streams).
type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

#[derive(Clone)]
pub struct ReconnectingDriver {
    handlers: Handlers,
    conn: ConnectionManager,
}

impl ReconnectingDriver {
    pub async fn connect(client: &redis::Client) -> RedisResult<Self> {
        let handlers = Handlers::default();
        let routes = handlers.clone();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(move |push: PushInfo| {
                route(push, &routes);
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription()
            // Fail fast while Redis is down: the caller falls back to this node alone.
            .set_number_of_retries(1)
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(Self { handlers, conn })
    }

    /// `PING` on the adapter's own connection: reconnects it (and its subscriptions)
    /// if Redis is back.
    pub async fn ping(&self) -> RedisResult<()> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn.clone())
            .await
            .map(drop)
    }

    /// `PUBLISH`es each payload to `chan`, in order, as one pipeline: one write and one
    /// round trip for all of them (`outbox.rs`). The pipeline is built before the
    /// returned future runs, so it holds no borrow of the payloads.
    pub fn publish_all<'a>(
        &self,
        chan: &str,
        payloads: impl Iterator<Item = &'a [u8]>,
    ) -> impl Future<Output = RedisResult<()>> + Send + 'static {
        let mut pipeline = redis::pipe();
        for payload in payloads {
            pipeline.cmd("PUBLISH").arg(chan).arg(payload).ignore();
        }
        let mut conn = self.conn.clone();
        async move { pipeline.query_async::<()>(&mut conn).await }
    }
}

/// Hands a pub/sub message to its channel's stream. Runs on the connection's reader:
/// never blocks (a full stream drops the message, as socketioxide-redis' driver does).
fn route(push: PushInfo, handlers: &Handlers) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
        return;
    };
    let (Ok(channel), Ok(payload)) = (String::from_redis_value(channel), Vec::<u8>::from_redis_value(payload)) else {
        tracing::warn!("ignoring a malformed pub/sub message from Redis");
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(tx) = handlers.get(&channel)
        && let Err(err) = tx.try_send((channel, payload))
    {
        metrics::counter!("orderchat_cluster_errors_total", "kind" => "inbound_full").increment(1);
        tracing::warn!(error = %err, "a Socket.IO message from another node was dropped: this node is behind");
    }
}

impl Driver for ReconnectingDriver {
    type Error = RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        redis::cmd("PUBLISH")
            .arg(chan)
            .arg(val)
            .query_async::<redis::Value>(&mut self.conn.clone())
            .await
            .map(drop)
    }

    async fn subscribe(&self, chan: String, size: usize) -> Result<MessageStream<ChanItem>, Self::Error> {
        // The handler first, so a message that arrives right after SUBSCRIBE has a home.
        let (tx, rx) = mpsc::channel(size);
        self.handlers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(chan.clone(), tx);
        self.conn.clone().subscribe(chan.as_str()).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&chan);
        self.conn.clone().unsubscribe(chan).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(count)
    }
}

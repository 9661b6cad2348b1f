//! This node's new messages on their way to the other nodes: a queue and the one task
//! that publishes it to [`MESSAGES_CHANNEL`], pipelined.
//!
//! Why a task of its own: the publisher (`ChatService::spawn_publisher`) used to await
//! one `PUBLISH` per message before it took the next, so a node sent at most one
//! message per Redis round trip, whatever its CPU could do. Now the publisher queues
//! each message and goes on; this task takes everything queued (up to [`MAX_BATCH`])
//! and writes it as one pipeline, so every round trip carries what was committed while
//! the previous one was in flight.
//!
//! What stays as it was:
//! - **Commit order.** One task, one pipeline at a time, in queue order, on one
//!   connection: Redis receives a node's messages in the order they were committed, so
//!   the other nodes' reorder lines (`realtime/reorder.rs`) see no more disorder than
//!   before.
//! - **The sender's answer** waits for Redis, as it did: each message carries the
//!   answer to its sender, called once the pipeline that holds it was taken by Redis
//!   (or failed, or timed out): an acknowledged message has been handed to Redis, which
//!   queues a message for every subscribed node before it replies to the `PUBLISH`.
//! - **Redis down.** A pipeline waits at most [`REDIS_TIMEOUT`]; its failure marks the
//!   node degraded (`AdapterHealth`), and while it is degraded nothing is tried: what is
//!   queued is answered and dropped at once, and the other nodes fill the gap from the
//!   database when they notice it.
//!
//! Memory is bounded: at most [`OUTBOX_CAPACITY`] messages wait (a few MiB for chat
//! lines; up to ~130 MiB if all were 4,000 four-byte characters, the default limit).
//! A message that finds the queue full is not published (it is counted as `outbox_full` in
//! `orderchat_cluster_errors_total`, and its sender is answered at once): the publisher
//! never waits on Redis, and the other nodes read that message from the database like
//! any other gap. The queue fills only while Redis answers but more slowly than the
//! node commits (one pipeline of at most [`MAX_BATCH`] per round trip): a pipeline
//! without an answer within [`REDIS_TIMEOUT`] marks Redis down, which empties it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::messages::{MESSAGES_CHANNEL, Outbound};
use super::{AdapterHealth, REDIS_TIMEOUT, ReconnectingDriver};
use crate::chat::Answer;

/// The most messages waiting for Redis (see the module doc for what happens past it).
const OUTBOX_CAPACITY: usize = 8_192;

/// The most messages in one pipeline: keeps one write (and the replies Redis buffers for
/// it) small, a few hundred KiB for chat lines.
const MAX_BATCH: usize = 512;

struct Queued {
    message: Outbound,
    answer: Answer,
}

/// The queue of this node's messages for the other nodes (its task ends when the queue
/// is dropped, once it has published what was queued).
pub struct Outbox {
    queue: mpsc::Sender<Queued>,
    /// Set by the first message that found the queue full, cleared by the next
    /// pipeline Redis takes: the overflow is logged once, not per message.
    overflowing: Arc<AtomicBool>,
}

impl Outbox {
    pub fn spawn(driver: ReconnectingDriver, health: Arc<AdapterHealth>) -> Self {
        let (queue, queued) = mpsc::channel(OUTBOX_CAPACITY);
        let overflowing = Arc::new(AtomicBool::new(false));
        tokio::spawn(publish_queued(queued, driver, health, overflowing.clone()));
        Self { queue, overflowing }
    }

    /// Queues `message` behind every message queued before it; `answer` is called once
    /// Redis took it, gave up on it, or (queue full) at once.
    pub fn push(&self, message: Outbound, answer: Answer) {
        let queued = Queued { message, answer };
        match self.queue.try_send(queued) {
            Ok(()) => {}
            Err(TrySendError::Full(queued)) => {
                metrics::counter!("orderchat_cluster_errors_total", "kind" => "outbox_full").increment(1);
                if !self.overflowing.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        capacity = OUTBOX_CAPACITY,
                        "Redis does not keep up with this node's messages: some are not published \
                         (the other nodes read them from the database)"
                    );
                }
                (queued.answer)();
            }
            // The task is gone only if it panicked or the runtime is shutting down: the
            // sender still deserves its answer.
            Err(TrySendError::Closed(queued)) => (queued.answer)(),
        }
    }
}

/// The outbox's task: publishes what is queued, one pipeline at a time, until the queue
/// is closed and empty.
async fn publish_queued(
    mut queued: mpsc::Receiver<Queued>,
    driver: ReconnectingDriver,
    health: Arc<AdapterHealth>,
    overflowing: Arc<AtomicBool>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queued.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // While Redis is down, not even tried: the other nodes fill the gap from the
        // database when they notice it, and the probe says when Redis is back.
        if !health.is_degraded() {
            let publish = driver.publish_all(MESSAGES_CHANNEL, batch.iter().map(|queued| queued.message.bytes()));
            match tokio::time::timeout(REDIS_TIMEOUT, publish).await {
                Ok(Ok(())) => {
                    metrics::counter!("orderchat_cluster_messages_published_total").increment(batch.len() as u64);
                    overflowing.store(false, Ordering::Relaxed);
                }
                Ok(Err(err)) => health.failed("new-message", &err),
                Err(_) => health.failed("new-message", &format!("no answer within {REDIS_TIMEOUT:?}")),
            }
        }
        for queued in batch.drain(..) {
            (queued.answer)();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;
    use serde_json::value::RawValue;

    use super::super::{Change, Cluster, Inbound};
    use super::*;
    use crate::domain::{OrderId, Seq};

    /// What node B's listener heard: (order, seq) in arrival order.
    struct Heard(mpsc::UnboundedSender<(String, Seq)>);

    #[async_trait]
    impl Inbound for Heard {
        async fn new_message(&self, order: OrderId, seq: Seq, _: Box<RawValue>) {
            let _ = self.0.send((order.as_str().to_owned(), seq));
        }

        async fn message_changed(&self, _: OrderId, _: Seq, _: Change, _: Box<RawValue>) {}
    }

    /// Node A (its adapter health `health`) and node B on the Redis at `url`, B listening
    /// to A's messages (what it hears comes out of the receiver), and a fresh order.
    async fn two_nodes(
        url: &str,
        health: Arc<AdapterHealth>,
    ) -> (
        Arc<Cluster>,
        Arc<Cluster>,
        mpsc::UnboundedReceiver<(String, Seq)>,
        OrderId,
    ) {
        let a = Arc::new(Cluster::connect(url, health).await.unwrap());
        let b = Arc::new(Cluster::connect(url, Arc::new(AdapterHealth::default())).await.unwrap());
        let (heard, on_b) = mpsc::unbounded_channel();
        b.spawn_message_listener(Arc::new(Heard(heard))).await.unwrap();
        let order = OrderId::parse(&format!("order-{}", uuid::Uuid::now_v7().simple())).unwrap();
        (a, b, on_b, order)
    }

    fn answered_into(answers: &Arc<Mutex<Vec<Seq>>>, seq: Seq) -> Answer {
        let answers = answers.clone();
        Box::new(move || answers.lock().unwrap().push(seq))
    }

    #[tokio::test]
    async fn a_burst_reaches_the_other_node_in_queue_order_and_every_sender_is_answered_in_order() {
        let Ok(url) = std::env::var("ORDERCHAT_TEST_REDIS_URL") else {
            eprintln!("skipped: ORDERCHAT_TEST_REDIS_URL is not set (scripts/test sets it)");
            return;
        };
        let (a, _b, mut on_b, order) = two_nodes(&url, Arc::new(AdapterHealth::default())).await;

        // Far more than one pipeline, all queued before the first reply can come back.
        let total = 3 * MAX_BATCH as Seq + 7;
        let answers = Arc::new(Mutex::new(Vec::new()));
        for seq in 1..=total {
            let message = a.outbound_message(&order, seq, r#"{"m":1}"#);
            a.queue_message(message, answered_into(&answers, seq));
        }

        let mut seqs = Vec::new();
        while (seqs.len() as Seq) < total {
            let next = tokio::time::timeout(Duration::from_secs(10), on_b.recv()).await;
            let (got, seq) = next.expect("node B stopped hearing node A's messages").unwrap();
            if got == order.as_str() {
                seqs.push(seq);
            }
        }
        let expected: Vec<Seq> = (1..=total).collect();
        assert_eq!(seqs, expected, "node B heard node A's messages out of queue order");
        // Each answer follows its message's pipeline reply, in queue order.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while (answers.lock().unwrap().len() as Seq) < total {
            assert!(
                tokio::time::Instant::now() < deadline,
                "some senders were never answered"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*answers.lock().unwrap(), expected);
    }

    #[tokio::test]
    async fn while_redis_counts_as_down_a_message_is_answered_at_once_and_not_published() {
        let Ok(url) = std::env::var("ORDERCHAT_TEST_REDIS_URL") else {
            eprintln!("skipped: ORDERCHAT_TEST_REDIS_URL is not set (scripts/test sets it)");
            return;
        };
        let health = Arc::new(AdapterHealth::default());
        let (a, _b, mut on_b, order) = two_nodes(&url, health.clone()).await;
        let answers = Arc::new(Mutex::new(Vec::new()));

        health.failed("test", &"down");
        a.queue_message(a.outbound_message(&order, 1, "{}"), answered_into(&answers, 1));
        assert_eq!(
            *answers.lock().unwrap(),
            vec![1],
            "the sender waited while Redis was down"
        );

        // Back up: the next message goes out, and it is the first one node B hears.
        health.recovered();
        a.queue_message(a.outbound_message(&order, 2, "{}"), answered_into(&answers, 2));
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), on_b.recv()).await;
            let (got, seq) = next
                .expect("node B never heard the message sent after Redis was back")
                .unwrap();
            if got == order.as_str() {
                assert_eq!(seq, 2, "a message queued while Redis was down was published");
                break;
            }
        }
    }
}

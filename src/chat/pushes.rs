//! What participants hear about new messages besides the message itself: their
//! `unread-count` and notifications (stored, and live on connections not looking at the
//! chat: `notify.rs`).
//!
//! Coalesced: a burst of messages in one order costs one read of that order's unread
//! counters, one frame per user per order, and one notification write for all orders,
//! per `INTERVAL`,
//! not a query and a frame per participant per message. The first message after a quiet
//! spell goes out at once; the rest of a burst is folded into the next flush, which
//! carries the latest counts and a notification for the latest message (with how many
//! it stands for). The publisher's cost per message stays a map update: a message is
//! kept beyond its author's latest only when it is a system message (a status change)
//! or has an `@` in it (it may mention someone), a bounded number of each per flush.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use super::ChatService;
use crate::domain::{Message, OrderId, UserId};

/// At most one unread-count and one notification per user and order this often.
const INTERVAL: Duration = Duration::from_millis(100);

/// System messages, and messages with an `@`, kept per order and flush; more in one
/// flush (a hundred status changes in 100 ms) are not notified one by one.
const KEPT_PER_FLUSH: usize = 50;

/// Orders with new messages since the last flush.
#[derive(Default)]
pub(super) struct Pushes {
    pending: Mutex<HashMap<OrderId, Pending>>,
    /// Messages noted so far: orders are flushed in the order of their latest message,
    /// so the most recently active order's notifications come out on top.
    arrivals: AtomicU64,
    wake: Notify,
}

/// An order's messages since its last flush, as the notifications need them.
pub(super) struct Pending {
    /// Who wrote every message of the interval, if one user did: their own count did
    /// not change and they need no notification.
    pub sole_author: Option<UserId>,
    /// Per author: how many messages and the latest.
    pub by_author: HashMap<UserId, Authored>,
    /// System messages (status changes), oldest first.
    pub system: Vec<Message>,
    /// Messages by users with an `@` in them, oldest first.
    pub mentioning: Vec<Message>,
    /// When the latest message came (`Pushes::arrivals`).
    arrived: u64,
}

pub(super) struct Authored {
    pub messages: usize,
    pub latest: Message,
}

impl Pending {
    fn new(message: &Message) -> Self {
        Self {
            sole_author: message.author().cloned(),
            by_author: HashMap::new(),
            system: Vec::new(),
            mentioning: Vec::new(),
            arrived: 0,
        }
    }

    fn add(&mut self, message: Message, arrived: u64) {
        self.arrived = arrived;
        if self.sole_author.as_ref() != message.author() {
            self.sole_author = None;
        }
        let Some(author) = message.author() else {
            if self.system.len() < KEPT_PER_FLUSH {
                self.system.push(message);
            }
            return;
        };
        if self.mentioning.len() < KEPT_PER_FLUSH && message.message.contains('@') {
            self.mentioning.push(message.clone());
        }
        // The author's id is copied only for the first message of theirs in a flush.
        if let Some(authored) = self.by_author.get_mut(author) {
            authored.messages += 1;
            authored.latest = message;
        } else {
            let author = author.clone();
            self.by_author.insert(
                author,
                Authored {
                    messages: 1,
                    latest: message,
                },
            );
        }
    }
}

impl Pushes {
    /// Notes a committed message; the flusher picks it up.
    pub fn committed(&self, message: Message) {
        let arrived = self.arrivals.fetch_add(1, Ordering::Relaxed);
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending
            .entry(message.order_id.clone())
            .or_insert_with(|| Pending::new(&message))
            .add(message, arrived);
        drop(pending);
        self.wake.notify_one();
    }

    /// Every pending order, the least recently active first.
    fn take(&self) -> Vec<(OrderId, Pending)> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let mut pending: Vec<(OrderId, Pending)> = pending.into_iter().collect();
        pending.sort_by_key(|(_, p)| p.arrived);
        pending
    }
}

impl ChatService {
    /// Flushes pending pushes, then rests for `INTERVAL` so a burst is coalesced.
    pub(super) async fn run_pushes(self) {
        loop {
            self.pushes.wake.notified().await;
            // Shutdown waits for a flush under way before it closes the store.
            let in_flight = self.shutdown.in_flight();
            if self.shutdown.is_closing() {
                return; // every socket is closing and the store is about to.
            }
            let mut planned = Vec::new();
            for (order_id, pending) in self.pushes.take() {
                self.push_unread_counts(&order_id, pending.sole_author.as_ref()).await;
                planned.push(self.plan_notifications(&order_id, pending).await);
            }
            self.deliver_notifications(planned).await;
            drop(in_flight);
            tokio::time::sleep(INTERVAL).await;
        }
    }
}

//! What participants hear about new messages besides the message itself: their
//! `unread-count` and, on connections not looking at the chat, a `notification`.
//!
//! Coalesced: a burst of messages in one order costs one read of that order's unread
//! counters and one frame per user per order per `INTERVAL`, not a query and a frame
//! per participant per message. The first message after a quiet spell goes out at
//! once; the rest of a burst is folded into the next flush, which carries the latest
//! counts and a notification for the latest message (with how many it stands for).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use super::{ChatService, Event, Notification};
use crate::domain::{Message, OrderId, UserId, now_timestamp};

/// At most one unread-count and one notification per user and order this often.
const INTERVAL: Duration = Duration::from_millis(100);

/// Orders with new messages since the last flush.
#[derive(Default)]
pub(super) struct Pushes {
    pending: Mutex<HashMap<OrderId, Pending>>,
    wake: Notify,
}

struct Pending {
    latest: Message,
    messages: usize,
    /// Who wrote every message of the interval, if one user did: their own count did
    /// not change and they need no notification.
    sole_author: Option<UserId>,
}

impl Pushes {
    /// Notes a committed message; the flusher picks it up.
    pub fn committed(&self, message: Message) {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match pending.get_mut(&message.order_id) {
            Some(entry) => {
                if entry.sole_author.as_ref() != message.author() {
                    entry.sole_author = None;
                }
                entry.messages += 1;
                entry.latest = message;
            }
            None => {
                let entry = Pending {
                    sole_author: message.author().cloned(),
                    messages: 1,
                    latest: message,
                };
                pending.insert(entry.latest.order_id.clone(), entry);
            }
        }
        drop(pending);
        self.wake.notify_one();
    }

    fn take(&self) -> HashMap<OrderId, Pending> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
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
            for (order_id, pending) in self.pushes.take() {
                self.push_for_order(&order_id, pending).await;
            }
            drop(in_flight);
            tokio::time::sleep(INTERVAL).await;
        }
    }

    async fn push_for_order(&self, order_id: &OrderId, pending: Pending) {
        self.push_unread_counts(order_id, pending.sole_author.as_ref()).await;
        let order = match self.order_snapshot(order_id).await {
            Ok(Some(order)) => order,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, order = %order_id, "could not load the order to notify");
                return;
            }
        };
        let message = &pending.latest;
        let (title, kind) = match message.user.as_ref() {
            Some(user) => (
                format!("New message from {}", user.name.as_deref().unwrap_or(user.id.as_str())),
                "new-message",
            ),
            None => ("Order update".to_owned(), "order-status"),
        };
        let title = match &order.number {
            Some(number) => format!("{title} (order {number})"),
            None => title,
        };
        // Users with no connection at all: before the early return below (it is about
        // connected users only).
        self.queue_webhook_pushes(&order, message, pending.messages, kind, &title)
            .await;
        let to_notify: Vec<&UserId> = order
            .participants
            .iter()
            .map(|p| &p.user_id)
            .filter(|user| message.author() != Some(*user) && self.broadcaster.may_be_connected(user))
            .collect();
        if to_notify.is_empty() {
            return;
        }
        // One read per order and flush, only when someone is to be notified.
        let muted = match self.store.muted_users(order_id).await {
            Ok(muted) => muted,
            Err(err) => {
                tracing::warn!(error = %err, order = %order_id, "could not read who muted the order; notifying everyone");
                Vec::new()
            }
        };
        for user_id in to_notify {
            if muted.contains(user_id) {
                continue;
            }
            let notification = Notification {
                kind,
                order_id: order.id.clone(),
                title: title.clone(),
                message: message.message.chars().take(140).collect(),
                timestamp: now_timestamp(),
                message_id: Some(message.id.clone()),
                seq: Some(message.seq),
                count: pending.messages,
            };
            self.broadcaster
                .publish(Event::Notification {
                    user_id: user_id.clone(),
                    notification,
                })
                .await;
        }
    }
}

//! Who is told what about an order, per flush of its new messages (`pushes.rs`): its
//! participants except the author, except those who muted it. A `new-message`
//! (coalesced: one unread row per user and order, updated in place) and an
//! `order-status` notification are stored only for users none of whose connections has
//! the order's room joined; a `mention` is stored even for a user looking at the chat,
//! since a mentions list is what clients show. Who is looking is one adapter request per
//! order and flush, made only when one of the users to notify may be connected at all.
//! Every write of a flush is one store call, whatever the number of recipients. The live
//! `notification` event goes to the connections outside the room, with the stored id.

use std::collections::{HashMap, HashSet};

use super::mentions::mentioned;
use super::pushes::Pending;
use super::{ChatService, Event, Notification};
use crate::domain::{Message, Order, OrderId, UserId, now_timestamp};
use crate::store::{NewNotification, NotificationKind};

/// Characters of the message kept as a notification's preview.
const PREVIEW_CHARS: usize = 140;

impl ChatService {
    /// Stores and sends the notifications of one order's flush (see the module doc).
    pub(super) async fn notify(&self, order_id: &OrderId, pending: Pending) {
        let order = match self.order_snapshot(order_id).await {
            Ok(Some(order)) => order,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, order = %order_id, "could not load the order to notify");
                return;
            }
        };
        let mut recipients = recipients(&order, &pending);
        if recipients.is_empty() {
            return;
        }
        // One read per order and flush, only when someone is to be notified.
        match self.store.muted_users(order_id).await {
            Ok(muted) => recipients.retain(|r| !muted.contains(r.user)),
            Err(err) => {
                tracing::warn!(error = %err, order = %order_id, "could not read who muted the order; notifying everyone")
            }
        }
        if recipients.is_empty() {
            return;
        }
        let has_status = !pending.system.is_empty();
        let may_be_looking = recipients
            .iter()
            .any(|r| (r.chat.is_some() || has_status) && self.broadcaster.may_be_connected(r.user));
        let viewers = if may_be_looking {
            self.broadcaster.viewers(order_id).await.unwrap_or_default()
        } else {
            HashSet::new()
        };
        let titles = Titles::of(&order);
        let mut rows = Vec::new();
        for r in &recipients {
            if !viewers.contains(r.user) {
                if let Some((count, latest)) = r.chat {
                    rows.push(row(
                        r.user,
                        NotificationKind::NewMessage,
                        titles.new_message(latest),
                        latest,
                        count,
                    ));
                }
                for status in &pending.system {
                    rows.push(row(r.user, NotificationKind::OrderStatus, titles.status(), status, 1));
                }
            }
            for mention in &r.mentions {
                rows.push(row(
                    r.user,
                    NotificationKind::Mention,
                    titles.mention(mention),
                    mention,
                    1,
                ));
            }
        }
        let stored = self.store_rows(order_id, &rows).await;
        for r in &recipients {
            if !self.broadcaster.may_be_connected(r.user) {
                continue;
            }
            let live = |kind: NotificationKind, title: String, message: &Message, count: usize| Notification {
                id: stored
                    .get(&(r.user.as_str(), kind.as_str(), message.id.as_str()))
                    .cloned(),
                kind: kind.as_str(),
                order_id: order.id.clone(),
                title,
                message: preview(message),
                timestamp: now_timestamp(),
                message_id: Some(message.id.clone()),
                seq: Some(message.seq),
                count,
            };
            let mut notifications = Vec::new();
            if let Some((count, latest)) = r.chat {
                notifications.push(live(
                    NotificationKind::NewMessage,
                    titles.new_message(latest),
                    latest,
                    count,
                ));
            }
            for status in &pending.system {
                notifications.push(live(NotificationKind::OrderStatus, titles.status(), status, 1));
            }
            for notification in notifications {
                self.broadcaster
                    .publish(Event::Notification {
                        user_id: r.user.clone(),
                        notification,
                    })
                    .await;
            }
        }
    }

    /// Writes a flush's rows (one store call) and counts them; returns the stored ids by
    /// (user, kind, message id). A failure is logged: the live events still go out.
    async fn store_rows<'a>(
        &self,
        order_id: &OrderId,
        rows: &'a [NewNotification],
    ) -> HashMap<(&'a str, &'static str, &'a str), String> {
        let mut ids = HashMap::new();
        if rows.is_empty() {
            return ids;
        }
        let written = match self.store.store_notifications(order_id, &now_timestamp(), rows).await {
            Ok(written) => written,
            Err(err) => {
                metrics::counter!("orderchat_errors_total", "code" => "notification_not_stored", "transport" => "store")
                    .increment(1);
                tracing::warn!(error = %err, order = %order_id, "could not store notifications");
                return ids;
            }
        };
        let by_key: HashMap<(&str, &str, &str), &NewNotification> = rows
            .iter()
            .map(|row| ((row.user_id.as_str(), row.kind.as_str(), row.message_id.as_str()), row))
            .collect();
        for written in written {
            let key = (
                written.user_id.as_str(),
                written.kind.as_str(),
                written.message_id.as_deref().unwrap_or_default(),
            );
            let Some(row) = by_key.get(&key) else { continue };
            if row.count == written.count {
                metrics::counter!("orderchat_notifications_stored_total", "kind" => row.kind.as_str()).increment(1);
            } else {
                metrics::counter!("orderchat_notifications_coalesced_total").increment(1);
            }
            ids.insert(
                (row.user_id.as_str(), row.kind.as_str(), row.message_id.as_str()),
                written.id,
            );
        }
        ids
    }
}

/// What one participant is to hear of one flush.
struct Recipient<'a> {
    user: &'a UserId,
    /// New messages by others: how many, and the latest of them.
    chat: Option<(usize, &'a Message)>,
    /// The flush's messages that mention the user (not the user's own).
    mentions: Vec<&'a Message>,
}

/// Every participant with something to hear of `pending`, muted or not.
fn recipients<'a>(order: &'a Order, pending: &'a Pending) -> Vec<Recipient<'a>> {
    let mentioned: Vec<(&Message, HashSet<&UserId>)> = pending
        .mentioning
        .iter()
        .map(|message| (message, mentioned(&message.message, &order.participants)))
        .collect();
    let mut recipients = Vec::new();
    for participant in &order.participants {
        let user = &participant.user_id;
        let mut count = 0;
        let mut latest: Option<&Message> = None;
        for (author, authored) in &pending.by_author {
            if author == user {
                continue;
            }
            count += authored.messages;
            if latest.is_none_or(|l| authored.latest.seq > l.seq) {
                latest = Some(&authored.latest);
            }
        }
        let mentions: Vec<&Message> = mentioned
            .iter()
            .filter(|(message, users)| message.author() != Some(user) && users.contains(user))
            .map(|(message, _)| *message)
            .collect();
        let chat = latest.map(|latest| (count, latest));
        if chat.is_some() || !mentions.is_empty() || !pending.system.is_empty() {
            recipients.push(Recipient { user, chat, mentions });
        }
    }
    recipients
}

fn row(user: &UserId, kind: NotificationKind, title: String, message: &Message, count: usize) -> NewNotification {
    NewNotification {
        user_id: user.clone(),
        kind,
        title,
        message: preview(message),
        message_id: message.id.clone(),
        seq: message.seq,
        count: count as i64,
    }
}

fn preview(message: &Message) -> String {
    message.message.chars().take(PREVIEW_CHARS).collect()
}

/// Notification titles, with the order's number when it has one.
struct Titles<'a> {
    number: Option<&'a str>,
}

impl<'a> Titles<'a> {
    fn of(order: &'a Order) -> Self {
        Self {
            number: order.number.as_deref(),
        }
    }

    fn new_message(&self, latest: &Message) -> String {
        self.with_number(format!("New message from {}", author_name(latest)))
    }

    fn mention(&self, message: &Message) -> String {
        self.with_number(format!("{} mentioned you", author_name(message)))
    }

    fn status(&self) -> String {
        self.with_number("Order update".to_owned())
    }

    fn with_number(&self, title: String) -> String {
        match self.number {
            Some(number) => format!("{title} (order {number})"),
            None => title,
        }
    }
}

fn author_name(message: &Message) -> &str {
    match &message.user {
        Some(user) => user.name.as_deref().unwrap_or(user.id.as_str()),
        None => "the system",
    }
}

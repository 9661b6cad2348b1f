//! Who is told what about an order, per flush of its new messages (`pushes.rs`): its
//! participants except the author, except those who muted it. A `new-message`
//! (coalesced: one unread row per user and order, updated in place) and an
//! `order-status` notification are stored only for users none of whose connections has
//! the order's room joined; a `mention` is stored even for a user looking at the chat,
//! since a mentions list is what clients show. Who is looking is one adapter request per
//! order and flush, made only when one of the users to notify may be connected at all.
//! Every write of a flush is one store call (one transaction), whatever the number of
//! orders and recipients. The live
//! `notification` event goes to the connections outside the room, with the stored id.

use std::collections::{HashMap, HashSet};

use super::mentions::mentioned;
use super::pushes::Pending;
use super::{ChatService, Event, Notification};
use crate::domain::{Message, Order, OrderId, UserId, now_timestamp};
use crate::store::{NewNotification, NotificationKind};

/// Characters of the message kept as a notification's preview.
const PREVIEW_CHARS: usize = 140;

/// One order's notifications of a flush, decided: the rows to store and the live
/// events to send (which get the stored ids once the flush's rows are written).
#[derive(Default)]
pub(super) struct Planned {
    rows: Vec<NewNotification>,
    live: Vec<(UserId, Notification)>,
}

impl ChatService {
    /// Decides who is told what about one order's flush (see the module doc).
    pub(super) async fn plan_notifications(&self, order_id: &OrderId, pending: Pending) -> Planned {
        let mut planned = Planned::default();
        let order = match self.order_snapshot(order_id).await {
            Ok(Some(order)) => order,
            Ok(None) => return planned,
            Err(err) => {
                tracing::warn!(error = %err, order = %order_id, "could not load the order to notify");
                return planned;
            }
        };
        let mut recipients = recipients(&order, &pending);
        if recipients.is_empty() {
            return planned;
        }
        // One read per order and flush, only when someone is to be notified.
        match self.store.muted_users(order_id).await {
            Ok(muted) => recipients.retain(|r| !muted.contains(r.user)),
            Err(err) => {
                tracing::warn!(error = %err, order = %order_id, "could not read who muted the order; notifying everyone")
            }
        }
        if recipients.is_empty() {
            return planned;
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
        // Pushes for recipients with no connection at all (push webhook), grouped by what
        // they say: usually one group per order and flush.
        let mut pushes: Vec<(NotificationKind, String, &Message, usize, Vec<UserId>)> = Vec::new();
        let webhook = self.pushes_webhook();
        for r in &recipients {
            let mut told = Vec::new();
            if let Some((count, latest)) = r.chat {
                told.push((NotificationKind::NewMessage, titles.new_message(latest), latest, count));
            }
            for status in &pending.system {
                told.push((NotificationKind::OrderStatus, titles.status(), status, 1));
            }
            let viewing = viewers.contains(r.user);
            for (kind, title, message, count) in &told {
                if !viewing {
                    planned
                        .rows
                        .push(row(&order.id, r.user, *kind, title.clone(), message, *count));
                }
            }
            for mention in &r.mentions {
                let title = titles.mention(mention);
                planned
                    .rows
                    .push(row(&order.id, r.user, NotificationKind::Mention, title, mention, 1));
            }
            if webhook && !self.broadcaster.is_online(r.user) {
                for (kind, title, message, count) in &told {
                    match pushes
                        .iter_mut()
                        .find(|(k, _, m, c, _)| k == kind && m.id == message.id && c == count)
                    {
                        Some((.., users)) => users.push(r.user.clone()),
                        None => pushes.push((*kind, title.clone(), message, *count, vec![r.user.clone()])),
                    }
                }
            }
            // Live: on the user's connections outside the room (mentions are stored only).
            if self.broadcaster.may_be_connected(r.user) {
                for (kind, title, message, count) in told {
                    let notification = Notification {
                        id: None,
                        kind: kind.as_str(),
                        order_id: order.id.clone(),
                        title,
                        message: preview(message),
                        timestamp: now_timestamp(),
                        message_id: Some(message.id.clone()),
                        seq: Some(message.seq),
                        count,
                    };
                    planned.live.push((r.user.clone(), notification));
                }
            }
        }
        for (kind, title, message, count, users) in pushes {
            self.queue_webhook_pushes(order_id, &users, message, count, kind.as_str(), &title)
                .await;
        }
        planned
    }

    /// Stores the rows of every order of a flush in one store call, then sends the live
    /// events, each with the id of the notification stored for it (if any). A failed
    /// write is logged: the live events still go out.
    pub(super) async fn deliver_notifications(&self, planned: Vec<Planned>) {
        let rows: Vec<NewNotification> = planned.iter().flat_map(|p| p.rows.iter().cloned()).collect();
        let stored = self.store_rows(&rows).await;
        for (user_id, mut notification) in planned.into_iter().flat_map(|p| p.live) {
            let key = (
                user_id.as_str(),
                notification.kind,
                notification.message_id.as_deref().unwrap_or_default(),
            );
            notification.id = stored.get(&key).cloned();
            self.broadcaster
                .publish(Event::Notification { user_id, notification })
                .await;
        }
    }

    /// Writes a flush's rows and counts them; returns the stored ids by (user, kind,
    /// message id).
    async fn store_rows<'a>(&self, rows: &'a [NewNotification]) -> HashMap<(&'a str, &'static str, &'a str), String> {
        let mut ids = HashMap::new();
        if rows.is_empty() {
            return ids;
        }
        let written = match self.store.store_notifications(&now_timestamp(), rows).await {
            Ok(written) => written,
            Err(err) => {
                metrics::counter!("orderchat_errors_total", "code" => "notification_not_stored", "transport" => "store")
                    .increment(1);
                tracing::warn!(error = %err, rows = rows.len(), "could not store notifications");
                return ids;
            }
        };
        // Message ids are unique, so (user, kind, message) names one row of the flush.
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

fn row(
    order: &OrderId,
    user: &UserId,
    kind: NotificationKind,
    title: String,
    message: &Message,
    count: usize,
) -> NewNotification {
    NewNotification {
        order_id: order.clone(),
        user_id: user.clone(),
        kind,
        title,
        message: preview(message),
        message_id: message.id.clone(),
        seq: message.seq,
        count: count as i64,
    }
}

pub(super) fn preview(message: &Message) -> String {
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

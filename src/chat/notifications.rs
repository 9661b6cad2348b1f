//! Notifications: what a participant is told about an order besides its messages,
//! stored per user (`GET /api/chat/notifications`, so a device that was offline sees
//! what it missed) and sent live (`notification` on the user's connections outside the
//! order's room).
//!
//! Who is told, per flush of an order (`pushes.rs`): its participants except the
//! author, except those who muted it. A `new-message` (coalesced: one unread row per
//! user and order, updated in place) and an `order-status` row are stored only for
//! users none of whose connections has the order's room joined; a `mention` row is
//! stored even for a user looking at the chat, since a mentions list is what clients
//! show. Who is looking is one adapter request per order and flush, made only when one
//! of the users to notify may be connected at all. Every write of a flush is one store
//! call, whatever the number of recipients.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::mentions::mentioned;
use super::pushes::Pending;
use super::{ChatService, Event, Notification};
use crate::domain::{Identity, Message, Order, OrderId, UserId, now_timestamp, timestamp};
use crate::error::{Error, Result};
use crate::store::{MarkRead, NewNotification, NotificationKind, StoredNotification};

/// Notifications per page when the query names no `limit`, and the most it may name.
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Ids one read marking may name.
pub const MAX_READ_IDS: usize = 500;

/// How long a notification is kept after its last update when nothing is configured.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Notifications deleted per statement by the expiry.
const EXPIRY_BATCH: i64 = 1000;

/// Characters of the message kept as a notification's preview.
const PREVIEW_CHARS: usize = 140;

/// A page of `GET /api/chat/notifications`.
#[derive(Debug, Clone, Copy)]
pub struct NotificationQuery {
    below: Option<i64>,
    unread_only: bool,
    limit: i64,
}

impl NotificationQuery {
    /// Parses `cursor`, `limit` and `unread` as they come from a query string.
    pub fn parse(cursor: Option<&str>, limit: Option<&str>, unread: Option<&str>) -> Result<Self> {
        let below = cursor
            .map(|raw| parse_cursor(raw).ok_or_else(|| Error::InvalidQuery(format!("cursor: {CURSOR_RULE}"))))
            .transpose()?;
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| Error::InvalidQuery(format!("limit must be a number between 1 and {MAX_LIMIT}")))?,
        };
        let unread_only = match unread.map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(Error::InvalidQuery("unread must be true or false".into())),
        };
        Ok(Self {
            below,
            unread_only,
            limit,
        })
    }
}

const CURSOR_RULE: &str = "must be a cursor this API gave (`meta.nextCursor` or a notification's `cursor`)";

/// A position as clients hold it (a string of digits), if it is one.
fn parse_cursor(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok().filter(|position| *position > 0)
}

/// What `PATCH /api/chat/notifications/read` marks: exactly one of `ids` (at most
/// `MAX_READ_IDS`) and `before` (a cursor: that notification and every older one).
pub fn read_selection(ids: Option<Vec<String>>, before: Option<String>) -> Result<MarkRead> {
    match (ids, before) {
        (Some(_), Some(_)) => Err(Error::invalid_field("ids", "give either ids or before, not both")),
        (None, None) => Err(Error::invalid_field(
            "ids",
            "give ids (an array of notification ids) or before (a cursor)",
        )),
        (Some(ids), None) if ids.len() > MAX_READ_IDS => Err(Error::invalid_field(
            "ids",
            format!("at most {MAX_READ_IDS} ids at once"),
        )),
        (Some(ids), None) => Ok(MarkRead::Ids(ids)),
        (None, Some(before)) => parse_cursor(&before)
            .map(MarkRead::AtOrBelow)
            .ok_or_else(|| Error::invalid_field("before", CURSOR_RULE)),
    }
}

/// A page of the caller's notifications, newest first.
#[derive(Debug, Clone)]
pub struct NotificationPage {
    pub items: Vec<StoredNotification>,
    pub has_more: bool,
}

impl ChatService {
    /// How long notifications are kept after their last update (default
    /// `DEFAULT_RETENTION`).
    pub fn with_notification_retention(mut self, retention: Duration) -> Self {
        self.notification_retention = retention;
        self
    }

    /// The caller's notifications, newest (most recently updated) first.
    pub async fn notifications(&self, identity: &Identity, query: NotificationQuery) -> Result<NotificationPage> {
        let mut items = self
            .store
            .notifications(&identity.user_id, query.below, query.unread_only, query.limit + 1)
            .await?;
        let has_more = items.len() as i64 > query.limit;
        items.truncate(query.limit as usize);
        Ok(NotificationPage { items, has_more })
    }

    /// Marks the caller's notifications `which` selects as read; returns how many were
    /// unread (others' ids and unknown ids are ignored).
    pub async fn mark_notifications_read(&self, identity: &Identity, which: &MarkRead) -> Result<u64> {
        if let MarkRead::Ids(ids) = which
            && ids.is_empty()
        {
            return Ok(0);
        }
        let changed = self
            .store
            .mark_notifications_read(&identity.user_id, which, &now_timestamp())
            .await?;
        metrics::counter!("orderchat_notifications_read_total").increment(changed);
        Ok(changed)
    }

    /// Deletes the notifications not updated within the retention, in batches; returns
    /// how many.
    pub async fn expire_notifications(&self) -> Result<u64> {
        let age = chrono::Duration::from_std(self.notification_retention).unwrap_or(chrono::Duration::days(30));
        let before = timestamp(chrono::Utc::now() - age);
        let mut deleted = 0;
        loop {
            let batch = self.store.delete_notifications_before(&before, EXPIRY_BATCH).await?;
            deleted += batch;
            if batch < EXPIRY_BATCH as u64 {
                break;
            }
        }
        if deleted > 0 {
            metrics::counter!("orderchat_notifications_expired_total").increment(deleted);
            tracing::info!(deleted, "deleted expired notifications");
        }
        Ok(deleted)
    }

    /// Runs `expire_notifications` now and then (a hundredth of the retention, between
    /// a minute and an hour), until aborted.
    pub fn spawn_notification_expiry(&self) -> JoinHandle<()> {
        let chat = self.clone();
        let period = (self.notification_retention / 100).clamp(Duration::from_secs(60), Duration::from_secs(3600));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(err) = chat.expire_notifications().await {
                    tracing::warn!(error = %err, "notification expiry failed; retrying later");
                }
            }
        })
    }

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

//! What the stores keep of notifications (`notifications` table, both backends): the
//! rows a notification flush writes, the rows a user's list reads, and which of a
//! user's notifications a read marking touches.

use crate::domain::{OrderId, Seq, UserId};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// New messages in an order; coalesced: one unread row per user and order, updated
    /// in place.
    NewMessage,
    /// A status change of the order (the system message it posted); one per change.
    OrderStatus,
    /// A message that names the user (`@userId` or `@name`); one per message.
    Mention,
}

impl NotificationKind {
    /// The `type` clients see and the `kind` column holds.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::NewMessage => "new-message",
            NotificationKind::OrderStatus => "order-status",
            NotificationKind::Mention => "mention",
        }
    }
}

/// A notification to store for one user (`Store::store_notifications`). A
/// `NewMessage` row for a user who has an unread one in the same order updates that one
/// instead: its `count` is added, the rest replaces what was there.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub kind: NotificationKind,
    pub title: String,
    /// A preview of the message.
    pub message: String,
    pub message_id: String,
    pub seq: Seq,
    /// How many messages this stands for (1 except for coalesced `NewMessage` rows).
    pub count: i64,
}

/// What `store_notifications` made of one `NewNotification`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NotificationWritten {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub message_id: Option<String>,
    /// The row's count after the write: above the written count when it was coalesced
    /// into an unread row.
    pub count: i64,
}

/// A stored notification as a user's list reads it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredNotification {
    pub id: String,
    pub user_id: String,
    pub order_id: String,
    pub kind: String,
    pub title: String,
    pub message: String,
    pub message_id: Option<String>,
    pub seq: Option<i64>,
    pub count: i64,
    pub read_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The list's order and cursor: larger is newer; moves up on every in-place update.
    pub position: i64,
}

/// The columns `StoredNotification` reads, in both backends' queries.
macro_rules! notification_columns {
    () => {
        "id, user_id, order_id, kind, title, message, message_id, seq, count, read_at, created_at, updated_at, position"
    };
}
pub(crate) use notification_columns;

/// Which of a user's notifications a read marking touches.
#[derive(Debug, Clone)]
pub enum MarkRead {
    /// These ids, where they are the user's (others are ignored).
    Ids(Vec<String>),
    /// Every one with a position at or below this one.
    AtOrBelow(i64),
}

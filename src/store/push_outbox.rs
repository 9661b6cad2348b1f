//! The push webhook's outbox as both backends keep it (`push_outbox` table, see the
//! migrations): what a push says, a push claimed for sending, and what became of a
//! failed attempt. The rules (coalescing into the unsent entry, one in flight per user
//! and order, leases, dead letters) are the store's, so that several nodes on one
//! PostgreSQL database follow them too; `chat/webhook.rs` decides the times.

use crate::domain::{OrderId, Seq, UserId};

/// What one flush's push says: the same for every recipient in the order.
#[derive(Debug, Clone)]
pub struct PushContent {
    /// `new-message` or `order-status`, as the live `notification`.
    pub kind: String,
    pub title: String,
    /// The latest message's text, shortened.
    pub message: String,
    pub message_id: String,
    pub seq: Seq,
    /// How many messages the flush stands for.
    pub count: i64,
    /// The latest message's `createdAt`.
    pub created_at: String,
}

/// The users to push `content` to in one order, in one store call.
#[derive(Debug, Clone)]
pub struct PushBatch<'a> {
    pub order: &'a OrderId,
    pub users: &'a [UserId],
    pub content: &'a PushContent,
    /// Now, in unix milliseconds: when a new entry was queued (its age counts from it).
    pub now_ms: i64,
    /// When a new entry may first be sent (later than now: more messages of the burst
    /// may still join it).
    pub first_attempt_ms: i64,
}

/// A push a sender holds (its lease) until it reports the outcome.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedPush {
    pub idempotency_key: String,
    pub user_id: String,
    pub order_id: String,
    pub kind: String,
    pub title: String,
    pub message: String,
    pub message_id: String,
    pub seq: Seq,
    pub count: i64,
    pub created_at: String,
    /// Attempts made, this one included.
    pub attempts: i64,
}

/// A failed attempt, to record (`Store::push_failed`).
#[derive(Debug, Clone)]
pub struct PushFailure<'a> {
    pub idempotency_key: &'a str,
    /// Why, for whoever inspects a dead letter.
    pub error: &'a str,
    /// When to try again, in unix milliseconds.
    pub retry_at_ms: i64,
    /// An entry queued at or before this time (unix milliseconds) is too old to retry:
    /// it becomes a dead letter.
    pub dead_if_queued_by_ms: i64,
}

/// What became of an entry after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFate {
    Retrying,
    DeadLettered,
    /// No live entry has that key (delivered or dead-lettered by another sender whose
    /// lease it was).
    Gone,
}

/// The outbox's size, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutboxCounts {
    pub pending: i64,
    pub dead: i64,
}

/// The fate of an entry from the `state` a failed attempt left it in (`None`: no live
/// entry had the key).
pub(crate) fn fate(state: Option<&str>) -> PushFate {
    match state {
        Some("dead") => PushFate::DeadLettered,
        Some(_) => PushFate::Retrying,
        None => PushFate::Gone,
    }
}

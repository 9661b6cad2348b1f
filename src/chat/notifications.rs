//! A user's stored notifications: listing them (newest first, by an opaque cursor),
//! marking them read, and deleting those past the retention. What gets stored, and for
//! whom, is decided per flush in `notify.rs`.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::ChatService;
use crate::domain::{Identity, now_timestamp, timestamp};
use crate::error::{Error, Result};
use crate::store::{MarkRead, StoredNotification};

/// Notifications per page when the query names no `limit`, and the most it may name.
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Ids one read marking may name.
pub const MAX_READ_IDS: usize = 500;

/// How long a notification is kept after its last update when nothing is configured.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Notifications deleted per statement by the expiry.
const EXPIRY_BATCH: i64 = 1000;

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
        let deleted = delete_in_batches(|limit| self.store.delete_notifications_before(&before, limit)).await?;
        if deleted > 0 {
            metrics::counter!("orderchat_notifications_expired_total").increment(deleted);
            tracing::info!(deleted, "deleted expired notifications");
        }
        Ok(deleted)
    }

    /// Runs `expire_notifications`, and `expire_dead_pushes` with the same retention, now
    /// and then (a hundredth of the retention, between a minute and an hour), until
    /// aborted.
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
                if let Err(err) = chat.expire_dead_pushes(chat.notification_retention).await {
                    tracing::warn!(error = %err, "push dead-letter expiry failed; retrying later");
                }
            }
        })
    }
}

/// Calls `delete` (which deletes at most `limit` rows and says how many) until it
/// deletes fewer than a whole batch, so each transaction stays small; returns the total.
pub(super) async fn delete_in_batches<F, Fut>(mut delete: F) -> Result<u64>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let mut deleted = 0;
    loop {
        let batch = delete(EXPIRY_BATCH).await?;
        deleted += batch;
        if batch < EXPIRY_BATCH as u64 {
            return Ok(deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_go_on_until_one_comes_back_short() {
        let mut left = 2 * EXPIRY_BATCH as u64 + 500;
        let mut calls = 0;
        let deleted = delete_in_batches(|limit| {
            calls += 1;
            let batch = left.min(limit as u64);
            left -= batch;
            async move { Ok(batch) }
        })
        .await
        .unwrap();
        assert_eq!((deleted, calls, left), (2 * EXPIRY_BATCH as u64 + 500, 3, 0));

        let failed = delete_in_batches(|_| async { Err(Error::Unavailable("the database is closing")) }).await;
        assert!(failed.is_err());
    }
}

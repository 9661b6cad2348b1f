//! The push webhook, use-case side (SPEC §5, README "Push webhook"): which users a
//! flush of new messages queues a push for, and when a push is tried again. Users with
//! no connection at all (on any node) who did not mute the order get one entry per
//! order in the database's outbox, coalesced: a burst of messages is one push that
//! says how many, and each entry is sent until it is delivered or too old (a dead
//! letter). The HTTP side (signing, POSTing, the loop) is `push/`.
//!
//! Chosen where the spec is silent: a user who connects after the push was queued
//! still gets it (the app on the phone may drop it); muting is checked when the push
//! is queued, so an entry queued before the user muted the order is still sent.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::ChatService;
use crate::domain::{Message, OrderId, UserId};
use crate::error::Result;
use crate::store::{ClaimedPush, PushBatch, PushContent, PushFailure, PushFate, PushOutboxCounts};

/// The longest wait between two attempts of one push.
pub const RETRY_CAP: Duration = Duration::from_secs(300);

/// How long the sender sleeps at most when nothing is due (entries other nodes queue
/// are sent by those nodes; this only bounds how stale the outbox gauges get).
const IDLE_POLL: Duration = Duration::from_secs(5);

/// When pushes are tried (from `ORDERCHAT_PUSH_WEBHOOK_*`).
#[derive(Debug, Clone, Copy)]
pub struct PushPolicy {
    /// From queuing to the first attempt: the rest of a burst joins the entry meanwhile.
    pub delay: Duration,
    /// The backoff after the first failure (see `retry_delay`).
    pub retry_base: Duration,
    /// A push that still fails this long after it was queued becomes a dead letter.
    pub max_age: Duration,
    /// How long a claimed entry is held by its sender before it is due again: longer
    /// than the request timeout, so that a push is never sent twice at once.
    pub lease: Duration,
}

/// The outbox's part of `ChatService`: present only with a webhook configured.
pub(super) struct PushOutbox {
    policy: PushPolicy,
    /// Wakes the sender when a push was queued.
    queued: Notify,
}

impl ChatService {
    /// Queues pushes for users with no connection from now on, for `policy`'s sender.
    pub fn with_push_webhook(mut self, policy: PushPolicy) -> Self {
        self.push_outbox = Some(Arc::new(PushOutbox {
            policy,
            queued: Notify::new(),
        }));
        self
    }

    /// Whether pushes are queued at all (a webhook is configured).
    pub(super) fn pushes_webhook(&self) -> bool {
        self.push_outbox.is_some()
    }

    /// Queues a push about `message` (the latest of the `count` messages the flush
    /// stands for, for these users) for each of `users` (participants of `order` with
    /// no connection anywhere, chosen by the notification plan), in one store call;
    /// those who muted the order are left out by the store.
    pub(super) async fn queue_webhook_pushes(
        &self,
        order: &OrderId,
        users: &[UserId],
        message: &Message,
        count: usize,
        kind: &str,
        title: &str,
    ) {
        let Some(outbox) = &self.push_outbox else {
            return;
        };
        if users.is_empty() {
            return;
        }
        let content = PushContent {
            kind: kind.to_owned(),
            title: title.to_owned(),
            message: super::notify::preview(message),
            message_id: message.id.clone(),
            seq: message.seq,
            count: i64::try_from(count).unwrap_or(i64::MAX),
            created_at: message.created_at.clone(),
        };
        let now = now_ms();
        let batch = PushBatch {
            order,
            users,
            content: &content,
            now_ms: now,
            first_attempt_ms: now.saturating_add(millis(outbox.policy.delay)),
        };
        match self.store.queue_pushes(batch).await {
            Ok(()) => outbox.queued.notify_one(),
            Err(err) => tracing::warn!(error = %err, order = %order, "could not queue push webhook entries"),
        }
    }

    /// Claims up to `limit` due pushes for this node's sender (none without a webhook).
    pub async fn claim_pushes(&self, limit: i64) -> Result<Vec<ClaimedPush>> {
        let Some(outbox) = &self.push_outbox else {
            return Ok(Vec::new());
        };
        let now = now_ms();
        self.store
            .claim_pushes(now, now.saturating_add(millis(outbox.policy.lease)), limit)
            .await
    }

    /// The receiver took `push`: it is done, and the next of its user and order may go.
    pub async fn push_delivered(&self, push: &ClaimedPush) -> Result<()> {
        self.store.push_delivered(&push.idempotency_key).await
    }

    /// `push` failed (`error` says how): it is tried again after a backoff, or becomes
    /// a dead letter once it is older than the policy's maximum age.
    pub async fn push_failed(&self, push: &ClaimedPush, error: &str) -> Result<PushFate> {
        let Some(outbox) = &self.push_outbox else {
            return Ok(PushFate::Gone);
        };
        let policy = &outbox.policy;
        let now = now_ms();
        let delay = retry_delay(push.attempts, policy.retry_base, rand::random_range(0.5..=1.0));
        self.store
            .push_failed(PushFailure {
                idempotency_key: &push.idempotency_key,
                error,
                retry_at_ms: now.saturating_add(millis(delay)),
                dead_if_queued_by_ms: now.saturating_sub(millis(policy.max_age)),
            })
            .await
    }

    /// Waits until the next push is due, a push is queued here, or a few seconds passed.
    pub async fn wait_for_pushes(&self) {
        let Some(outbox) = &self.push_outbox else {
            return std::future::pending().await;
        };
        let wait = match self.store.next_push_due().await {
            Ok(Some(due)) => Duration::from_millis(u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0)),
            Ok(None) => IDLE_POLL,
            Err(err) => {
                tracing::warn!(error = %err, "could not read when the next push is due");
                IDLE_POLL
            }
        };
        // At least a moment: an entry another node holds locked is due but not claimable.
        let wait = wait.clamp(Duration::from_millis(20), IDLE_POLL);
        let _ = tokio::time::timeout(wait, outbox.queued.notified()).await;
    }

    /// Deletes the dead letters queued longer ago than `retention`, in batches (whether
    /// or not this node has a webhook: another may have had one); returns how many.
    pub async fn expire_dead_pushes(&self, retention: Duration) -> Result<u64> {
        let before = now_ms().saturating_sub(millis(retention));
        let deleted =
            super::notifications::delete_in_batches(|limit| self.store.delete_dead_pushes(before, limit)).await?;
        if deleted > 0 {
            metrics::counter!("orderchat_push_webhook_dead_letters_expired_total").increment(deleted);
            tracing::info!(deleted, "deleted expired push dead letters");
        }
        Ok(deleted)
    }

    /// Pending pushes and dead letters in the outbox (every node's).
    pub async fn push_outbox_counts(&self) -> Result<PushOutboxCounts> {
        self.store.push_outbox_counts().await
    }
}

/// The wait after the `attempts`th failed attempt: `base * 2^attempts`, at most
/// `RETRY_CAP`, scaled by `jitter` (drawn between 0.5 and 1, so that pushes that failed
/// together do not all come back at once).
pub fn retry_delay(attempts: i64, base: Duration, jitter: f64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
    let full = base.saturating_mul(2u32.saturating_pow(exponent)).min(RETRY_CAP);
    full.mul_f64(jitter.clamp(0.0, 1.0))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_per_attempt_up_to_the_cap_and_jitter_shortens_it() {
        let base = Duration::from_millis(1000);
        assert_eq!(retry_delay(1, base, 1.0), Duration::from_millis(2000));
        assert_eq!(retry_delay(2, base, 1.0), Duration::from_millis(4000));
        assert_eq!(retry_delay(3, base, 0.5), Duration::from_millis(4000));
        assert_eq!(retry_delay(9, base, 1.0), RETRY_CAP, "512 s is past the 5 minute cap");
        assert_eq!(
            retry_delay(1_000, base, 1.0),
            RETRY_CAP,
            "no overflow however many attempts"
        );
        assert_eq!(
            retry_delay(9, base, 0.5),
            RETRY_CAP / 2,
            "jitter applies to the capped wait"
        );
    }
}

//! The push webhook's outbox on SQLite. Each operation is one statement, so SQLite's
//! single writer makes it atomic: a claim and a coalescing update of the same entry
//! never interleave (see `store/push_outbox.rs` for the rules).

use sqlx::SqlitePool;

use crate::error::Result;
use crate::store::push_outbox::fate;
use crate::store::{ClaimedPush, PushBatch, PushFailure, PushFate, PushOutboxCounts};

pub(super) async fn queue(pool: &SqlitePool, batch: PushBatch<'_>) -> Result<()> {
    // `[[user, key], …]`: one new idempotency key per user, used only if the user has
    // no unsent entry for the order.
    let recipients: Vec<(&str, String)> = batch
        .users
        .iter()
        .map(|user| (user.as_str(), uuid::Uuid::new_v4().to_string()))
        .collect();
    let recipients = serde_json::to_string(&recipients).unwrap_or_else(|_| "[]".to_owned());
    let c = batch.content;
    // The latest message's fields are taken only if it is newer than what the entry
    // has (two nodes may flush one order at once, in either order).
    sqlx::query(
        "INSERT INTO push_outbox (idempotency_key, user_id, order_id, kind, title, message, message_id, seq, \
         count, created_at, queued_at_ms, due_at_ms) \
         SELECT json_extract(r.value, '$[1]'), json_extract(r.value, '$[0]'), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 \
         FROM json_each(?11) AS r \
         WHERE NOT EXISTS (SELECT 1 FROM mutes m WHERE m.order_id = ?1 AND m.user_id = json_extract(r.value, '$[0]')) \
         ON CONFLICT (user_id, order_id) WHERE attempts = 0 DO UPDATE SET \
         count = push_outbox.count + excluded.count, \
         kind = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.kind ELSE push_outbox.kind END, \
         title = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.title ELSE push_outbox.title END, \
         message = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.message ELSE push_outbox.message END, \
         message_id = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.message_id ELSE push_outbox.message_id END, \
         created_at = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.created_at ELSE push_outbox.created_at END, \
         seq = max(excluded.seq, push_outbox.seq)",
    )
    .bind(batch.order.as_str())
    .bind(&c.kind)
    .bind(&c.title)
    .bind(&c.message)
    .bind(&c.message_id)
    .bind(c.seq)
    .bind(c.count)
    .bind(&c.created_at)
    .bind(batch.now_ms)
    .bind(batch.first_attempt_ms)
    .bind(recipients)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn claim(pool: &SqlitePool, now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<ClaimedPush>> {
    let claimed = sqlx::query_as(
        "UPDATE push_outbox SET attempts = attempts + 1, due_at_ms = ?2 \
         WHERE position IN ( \
           SELECT o.position FROM push_outbox o \
           WHERE o.state = 'pending' AND o.due_at_ms <= ?1 \
             AND NOT EXISTS (SELECT 1 FROM push_outbox e WHERE e.user_id = o.user_id AND e.order_id = o.order_id \
                             AND e.state = 'pending' AND e.position < o.position) \
           ORDER BY o.due_at_ms, o.position LIMIT ?3) \
         RETURNING idempotency_key, user_id, order_id, kind, title, message, message_id, seq, count, created_at, attempts",
    )
    .bind(now_ms)
    .bind(lease_until_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(claimed)
}

pub(super) async fn delivered(pool: &SqlitePool, idempotency_key: &str) -> Result<()> {
    sqlx::query("DELETE FROM push_outbox WHERE idempotency_key = ?")
        .bind(idempotency_key)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn failed(pool: &SqlitePool, failure: PushFailure<'_>) -> Result<PushFate> {
    let state: Option<String> = sqlx::query_scalar(
        "UPDATE push_outbox SET \
         state = CASE WHEN queued_at_ms <= ?2 THEN 'dead' ELSE 'pending' END, \
         due_at_ms = ?3, last_error = ?4 \
         WHERE idempotency_key = ?1 AND state = 'pending' RETURNING state",
    )
    .bind(failure.idempotency_key)
    .bind(failure.dead_if_queued_by_ms)
    .bind(failure.retry_at_ms)
    .bind(failure.error)
    .fetch_optional(pool)
    .await?;
    Ok(fate(state.as_deref()))
}

pub(super) async fn next_due(pool: &SqlitePool) -> Result<Option<i64>> {
    let due = sqlx::query_scalar(
        "SELECT MIN(o.due_at_ms) FROM push_outbox o WHERE o.state = 'pending' \
         AND NOT EXISTS (SELECT 1 FROM push_outbox e WHERE e.user_id = o.user_id AND e.order_id = o.order_id \
                         AND e.state = 'pending' AND e.position < o.position)",
    )
    .fetch_one(pool)
    .await?;
    Ok(due)
}

pub(super) async fn delete_dead(pool: &SqlitePool, queued_before_ms: i64, limit: i64) -> Result<u64> {
    let deleted = sqlx::query(
        "DELETE FROM push_outbox WHERE position IN \
         (SELECT position FROM push_outbox WHERE state = 'dead' AND queued_at_ms < ?1 LIMIT ?2)",
    )
    .bind(queued_before_ms)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

pub(super) async fn counts(pool: &SqlitePool) -> Result<PushOutboxCounts> {
    let (pending, dead): (i64, i64) =
        sqlx::query_as("SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'dead'), 0) FROM push_outbox")
            .fetch_one(pool)
            .await?;
    Ok(PushOutboxCounts { pending, dead })
}

//! The push webhook's outbox on PostgreSQL, where several nodes send from one table.
//! Queuing is one upsert on the partial unique index of unsent entries, so two nodes
//! coalescing into the same entry serialise on it, and an entry a sender claimed in the
//! meantime no longer matches the index (the upsert then inserts a new entry). A claim
//! locks the rows it takes with `FOR UPDATE SKIP LOCKED`: two nodes claiming at once
//! take different entries, never the same one (see `store/push_outbox.rs` for the rules).

use sqlx::PgPool;

use crate::error::Result;
use crate::store::push_outbox::fate;
use crate::store::{ClaimedPush, PushBatch, PushFailure, PushFate, PushOutboxCounts};

pub(super) async fn queue(pool: &PgPool, batch: PushBatch<'_>) -> Result<()> {
    // One user per row (the upsert cannot touch one entry twice in a statement).
    let mut users: Vec<&str> = batch.users.iter().map(|u| u.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    // A new idempotency key per user, used only if the user has no unsent entry.
    let keys: Vec<String> = users.iter().map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let c = batch.content;
    // The latest message's fields are taken only if it is newer than what the entry
    // has (two nodes may flush one order at once, in either order).
    sqlx::query(
        "INSERT INTO push_outbox (idempotency_key, user_id, order_id, kind, title, message, message_id, seq, \
         count, created_at, queued_at_ms, due_at_ms) \
         SELECT r.idempotency_key, r.user_id, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
         FROM unnest($11::text[], $12::text[]) AS r (user_id, idempotency_key) \
         WHERE NOT EXISTS (SELECT 1 FROM mutes m WHERE m.order_id = $1 AND m.user_id = r.user_id) \
         ON CONFLICT (user_id, order_id) WHERE attempts = 0 DO UPDATE SET \
         count = push_outbox.count + excluded.count, \
         kind = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.kind ELSE push_outbox.kind END, \
         title = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.title ELSE push_outbox.title END, \
         message = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.message ELSE push_outbox.message END, \
         message_id = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.message_id ELSE push_outbox.message_id END, \
         created_at = CASE WHEN excluded.seq >= push_outbox.seq THEN excluded.created_at ELSE push_outbox.created_at END, \
         seq = GREATEST(excluded.seq, push_outbox.seq)",
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
    .bind(&users)
    .bind(&keys)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn claim(pool: &PgPool, now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<ClaimedPush>> {
    let claimed = sqlx::query_as(
        "UPDATE push_outbox SET attempts = attempts + 1, due_at_ms = $2 \
         WHERE position IN ( \
           SELECT o.position FROM push_outbox o \
           WHERE o.state = 'pending' AND o.due_at_ms <= $1 \
             AND NOT EXISTS (SELECT 1 FROM push_outbox e WHERE e.user_id = o.user_id AND e.order_id = o.order_id \
                             AND e.state = 'pending' AND e.position < o.position) \
           ORDER BY o.due_at_ms, o.position LIMIT $3 \
           FOR UPDATE OF o SKIP LOCKED) \
         AND state = 'pending' AND due_at_ms <= $1 \
         RETURNING idempotency_key, user_id, order_id, kind, title, message, message_id, seq, count, created_at, attempts",
    )
    .bind(now_ms)
    .bind(lease_until_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(claimed)
}

pub(super) async fn delivered(pool: &PgPool, idempotency_key: &str) -> Result<()> {
    sqlx::query("DELETE FROM push_outbox WHERE idempotency_key = $1")
        .bind(idempotency_key)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn failed(pool: &PgPool, failure: PushFailure<'_>) -> Result<PushFate> {
    let state: Option<String> = sqlx::query_scalar(
        "UPDATE push_outbox SET \
         state = CASE WHEN queued_at_ms <= $2 THEN 'dead' ELSE 'pending' END, \
         due_at_ms = $3, last_error = $4 \
         WHERE idempotency_key = $1 AND state = 'pending' RETURNING state",
    )
    .bind(failure.idempotency_key)
    .bind(failure.dead_if_queued_by_ms)
    .bind(failure.retry_at_ms)
    .bind(failure.error)
    .fetch_optional(pool)
    .await?;
    Ok(fate(state.as_deref()))
}

pub(super) async fn next_due(pool: &PgPool) -> Result<Option<i64>> {
    let due = sqlx::query_scalar(
        "SELECT MIN(o.due_at_ms) FROM push_outbox o WHERE o.state = 'pending' \
         AND NOT EXISTS (SELECT 1 FROM push_outbox e WHERE e.user_id = o.user_id AND e.order_id = o.order_id \
                         AND e.state = 'pending' AND e.position < o.position)",
    )
    .fetch_one(pool)
    .await?;
    Ok(due)
}

pub(super) async fn delete_dead(pool: &PgPool, queued_before_ms: i64, limit: i64) -> Result<u64> {
    let deleted = sqlx::query(
        "DELETE FROM push_outbox WHERE position IN \
         (SELECT position FROM push_outbox WHERE state = 'dead' AND queued_at_ms < $1 LIMIT $2)",
    )
    .bind(queued_before_ms)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

pub(super) async fn counts(pool: &PgPool) -> Result<PushOutboxCounts> {
    let (pending, dead): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE state = 'pending'), COUNT(*) FILTER (WHERE state = 'dead') FROM push_outbox",
    )
    .fetch_one(pool)
    .await?;
    Ok(PushOutboxCounts { pending, dead })
}

//! Archiving on SQLite: moving due messages from `messages` to `archived_messages`,
//! and reading the two together.
//!
//! The orders with something due are picked first, without the write lock; then a
//! batch is one `BEGIN IMMEDIATE` transaction on a pooled connection (busy timeout
//! 10 s): for each of them (its closed state read again under the lock), copy its due seq range, delete it from
//! the hot table (its full-text rows go with it, by trigger) and raise `archived_seq`.
//! The message writer (or a server's writer, when `orderchat archive` runs beside it)
//! waits on SQLite's lock for at most that one transaction, which the batch size
//! bounds; the caller pauses between batches so the writer gets the lock back.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use crate::domain::{Message, OrderId, Seq, timestamp};
use crate::error::Result;
use crate::store::rows::{MessageRow, archived_with_replies, message_columns, messages_with_replies};
use crate::store::{ArchiveBatch, ArchiveRule, HistoryWindow, Page};

/// The columns copied from `messages` to `archived_messages`; a macro so that the
/// statements are built with `concat!` and stay `&'static str`.
macro_rules! columns {
    () => {
        "id, order_id, seq, user_id, user_name, user_role, body, message_type, sender_type, \
     attachments, reply_to, client_id, created_at, updated_at, edited_at, deleted, reactions"
    };
}

/// Adds `lower(o.status) IN (…)` for the closed statuses (false when there are none).
fn push_closed(query: &mut QueryBuilder<Sqlite>, rule: &ArchiveRule) {
    if rule.closed_statuses.is_empty() {
        query.push("0");
        return;
    }
    query.push("(lower(o.status) IN (");
    let mut list = query.separated(", ");
    for status in &rule.closed_statuses {
        list.push_bind(status.clone());
    }
    query
        .push(") AND o.status_changed_at < ")
        .push_bind(rule.closed_before.clone())
        .push(")");
}

pub(super) async fn batch(
    pool: &SqlitePool,
    rule: &ArchiveRule,
    after: Option<&OrderId>,
    limit: i64,
    dry_run: bool,
) -> Result<ArchiveBatch> {
    let limit = limit.max(1);
    // Orders with something due, one pass over the orders by id: closed long enough,
    // or their oldest hot message (the seq after the archived prefix) is old enough.
    let mut query = QueryBuilder::<Sqlite>::new("SELECT o.id, ");
    push_closed(&mut query, rule);
    query
        .push(" AS closed FROM orders o WHERE o.id > ")
        .push_bind(after.map(|o| o.as_str().to_owned()).unwrap_or_default())
        .push(" AND o.archived_seq < o.last_seq AND (");
    push_closed(&mut query, rule);
    query
        .push(
            " OR EXISTS (SELECT 1 FROM messages m WHERE m.order_id = o.id AND m.seq = o.archived_seq + 1 \
             AND m.created_at < ",
        )
        .push_bind(rule.created_before.clone())
        .push(")) ORDER BY o.id LIMIT ")
        .push_bind(limit);
    // Picked before the write lock is taken: the pass over the orders (most of them with
    // nothing due, in a steady state) must not hold up the message writer.
    let candidates: Vec<(String, bool)> = query.build_query_as().fetch_all(pool).await?;
    if dry_run {
        let mut result = ArchiveBatch::default();
        let mut connection = pool.acquire().await?;
        for (id, closed) in &candidates {
            let order = OrderId::from_trusted(id.clone());
            let (floor, bound) = due_range(&mut connection, &order, *closed, rule, Seq::MAX).await?;
            if bound > floor {
                result.orders.push((order.clone(), bound - floor));
            }
            result.cursor = Some(order);
        }
        result.cursor = result.cursor.or_else(|| after.cloned());
        result.done = (candidates.len() as i64) < limit;
        return Ok(result);
    }

    if candidates.is_empty() {
        return Ok(ArchiveBatch {
            cursor: after.cloned(),
            done: true,
            ..ArchiveBatch::default()
        });
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let archived_at = timestamp(chrono::Utc::now());

    let mut result = ArchiveBatch::default();
    let mut budget = limit;
    let mut stopped = false;
    let mut cursor = after.cloned();
    for (id, _) in &candidates {
        let order = OrderId::from_trusted(id.clone());
        // Again under the lock: the order may have been reopened since it was picked.
        let closed = closed_now(&mut tx, &order, rule).await?;
        let moved = move_due(&mut tx, &order, closed, rule, budget, &archived_at).await?;
        if moved > 0 {
            result.orders.push((order.clone(), moved));
        }
        budget -= moved;
        if budget <= 0 {
            // The order may have more: the next batch starts with it again.
            stopped = true;
            break;
        }
        cursor = Some(order);
    }
    tx.commit().await?;
    result.cursor = cursor;
    result.done = !stopped && (candidates.len() as i64) < limit;
    Ok(result)
}

/// Whether `order` is closed for long enough now (`false` if it is gone).
async fn closed_now(connection: &mut SqliteConnection, order: &OrderId, rule: &ArchiveRule) -> Result<bool> {
    let mut query = QueryBuilder::<Sqlite>::new("SELECT ");
    push_closed(&mut query, rule);
    query
        .push(" FROM orders o WHERE o.id = ")
        .push_bind(order.as_str().to_owned());
    let closed: Option<bool> = query.build_query_scalar().fetch_optional(&mut *connection).await?;
    Ok(closed.unwrap_or(false))
}

/// The archived prefix of `order` and how far the due messages reach, looking at most
/// `cap` seqs past the prefix: `(floor, bound)`, nothing due when `bound <= floor`.
async fn due_range(
    connection: &mut SqliteConnection,
    order: &OrderId,
    closed: bool,
    rule: &ArchiveRule,
    cap: i64,
) -> Result<(Seq, Seq)> {
    let Some((floor, last_seq)): Option<(Seq, Seq)> =
        sqlx::query_as("SELECT archived_seq, last_seq FROM orders WHERE id = ?")
            .bind(order.as_str())
            .fetch_optional(&mut *connection)
            .await?
    else {
        return Ok((0, 0));
    };
    let top = last_seq.min(floor.saturating_add(cap));
    if closed {
        return Ok((floor, top));
    }
    // Read off the (order_id, seq) index: at most `cap` rows of this order.
    let bound: Option<Seq> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM messages WHERE order_id = ? AND seq > ? AND seq <= ? AND created_at < ?",
    )
    .bind(order.as_str())
    .bind(floor)
    .bind(top)
    .bind(&rule.created_before)
    .fetch_one(&mut *connection)
    .await?;
    Ok((floor, bound.unwrap_or(floor)))
}

/// Moves the due messages of one order, at most `cap`, inside the batch's
/// transaction; returns how many moved.
async fn move_due(
    connection: &mut SqliteConnection,
    order: &OrderId,
    closed: bool,
    rule: &ArchiveRule,
    cap: i64,
    archived_at: &str,
) -> Result<i64> {
    let (floor, bound) = due_range(&mut *connection, order, closed, rule, cap).await?;
    if bound <= floor {
        return Ok(0);
    }
    sqlx::query(concat!(
        "INSERT INTO archived_messages (",
        columns!(),
        ", archived_at) SELECT ",
        columns!(),
        ", ? FROM messages WHERE order_id = ? AND seq > ? AND seq <= ? ORDER BY seq"
    ))
    .bind(archived_at)
    .bind(order.as_str())
    .bind(floor)
    .bind(bound)
    .execute(&mut *connection)
    .await?;
    let moved = sqlx::query("DELETE FROM messages WHERE order_id = ? AND seq > ? AND seq <= ?")
        .bind(order.as_str())
        .bind(floor)
        .bind(bound)
        .execute(&mut *connection)
        .await?
        .rows_affected();
    sqlx::query("UPDATE orders SET archived_seq = ? WHERE id = ?")
        .bind(bound)
        .bind(order.as_str())
        .execute(&mut *connection)
        .await?;
    Ok(moved as i64)
}

pub(super) async fn archived_message(pool: &SqlitePool, id: &str) -> Result<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM ",
        archived_with_replies!(),
        " WHERE m.id = ?"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Message::from))
}

pub(super) async fn history_with_archive(
    pool: &SqlitePool,
    order: &OrderId,
    window: HistoryWindow,
) -> Result<Page<Message>> {
    let last_seq: Seq = sqlx::query_scalar("SELECT last_seq FROM orders WHERE id = ?")
        .bind(order.as_str())
        .fetch_optional(pool)
        .await?
        .unwrap_or(0);
    let range = window.range(last_seq, 0);
    let sql = if range.newest_first {
        concat!(
            "SELECT * FROM (SELECT * FROM (SELECT ",
            message_columns!(),
            " FROM ",
            messages_with_replies!(),
            " WHERE m.order_id = ?1 AND m.seq > ?2 AND m.seq < ?3 UNION ALL SELECT ",
            message_columns!(),
            " FROM ",
            archived_with_replies!(),
            " WHERE m.order_id = ?1 AND m.seq > ?2 AND m.seq < ?3) ORDER BY seq DESC LIMIT ?4) ORDER BY seq"
        )
    } else {
        concat!(
            "SELECT * FROM (SELECT ",
            message_columns!(),
            " FROM ",
            messages_with_replies!(),
            " WHERE m.order_id = ?1 AND m.seq > ?2 AND m.seq < ?3 UNION ALL SELECT ",
            message_columns!(),
            " FROM ",
            archived_with_replies!(),
            " WHERE m.order_id = ?1 AND m.seq > ?2 AND m.seq < ?3) ORDER BY seq LIMIT ?4"
        )
    };
    let rows: Vec<MessageRow> = sqlx::query_as(sql)
        .bind(order.as_str())
        .bind(range.above)
        .bind(range.below)
        .bind(range.limit)
        .fetch_all(pool)
        .await?;
    Ok(Page {
        items: rows.into_iter().map(Message::from).collect(),
        total: range.total,
    })
}

pub(super) async fn backdate_messages(pool: &SqlitePool, order: &OrderId, up_to: Seq, created_at: &str) -> Result<u64> {
    let changed = sqlx::query("UPDATE messages SET created_at = ?, updated_at = ? WHERE order_id = ? AND seq <= ?")
        .bind(created_at)
        .bind(created_at)
        .bind(order.as_str())
        .bind(up_to)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(changed)
}

pub(super) async fn backdate_status_change(pool: &SqlitePool, order: &OrderId, at: &str) -> Result<()> {
    sqlx::query("UPDATE orders SET status_changed_at = ? WHERE id = ?")
        .bind(at)
        .bind(order.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

//! Archiving on PostgreSQL: moving due messages from `messages` to
//! `archived_messages`, and reading the two together.
//!
//! Each order's share of a batch is one short transaction: `DELETE … RETURNING` feeds
//! the insert into the archive (so a concurrent edit or reaction either lands before
//! the row moves, and moves with it, or finds the message archived), then the order's
//! `archived_seq` is raised. The order's row is locked only by that last statement,
//! just before the commit, so the message writer (which locks order rows to allocate
//! seqs) waits at most for one commit; new messages never conflict with the moved
//! rows (their seqs are above `last_seq`). Two nodes archiving at once move each row
//! once: the second `DELETE` finds it gone.

use sqlx::{PgConnection, PgPool};

use crate::domain::{Message, OrderId, Seq, timestamp};
use crate::error::Result;
use crate::store::rows::{MessageRow, archived_with_replies, message_columns, messages_with_replies};
use crate::store::{ArchiveBatch, ArchiveRule, HistoryWindow, Page};

/// The columns moved from `messages` to `archived_messages`; a macro so that the
/// statements are built with `concat!` and stay `&'static str`.
macro_rules! columns {
    () => {
        "id, order_id, seq, user_id, user_name, user_role, body, message_type, sender_type, \
     attachments, reply_to, client_id, created_at, updated_at, edited_at, deleted, reactions"
    };
}

/// `true` for an order closed long enough (`$2`: the statuses, `$3`: the time).
macro_rules! closed {
    () => {
        "(lower(o.status) = ANY($2) AND o.status_changed_at < $3)"
    };
}

pub(super) async fn batch(
    pool: &PgPool,
    rule: &ArchiveRule,
    after: Option<&OrderId>,
    limit: i64,
    dry_run: bool,
) -> Result<ArchiveBatch> {
    let limit = limit.max(1);
    // Orders with something due, one pass over the orders by id: closed long enough,
    // or their oldest hot message (the seq after the archived prefix) is old enough.
    let candidates: Vec<(String, bool)> = sqlx::query_as(concat!(
        "SELECT o.id, ",
        closed!(),
        " FROM orders o WHERE o.id > $1 AND o.archived_seq < o.last_seq AND (",
        closed!(),
        " OR EXISTS (SELECT 1 FROM messages m \
           WHERE m.order_id = o.id AND m.seq = o.archived_seq + 1 AND m.created_at < $4)) \
         ORDER BY o.id LIMIT $5"
    ))
    .bind(after.map(|o| o.as_str().to_owned()).unwrap_or_default())
    .bind(&rule.closed_statuses)
    .bind(&rule.closed_before)
    .bind(&rule.created_before)
    .bind(limit)
    .fetch_all(pool)
    .await?;

    let mut result = ArchiveBatch::default();
    let mut budget = limit;
    let mut stopped = false;
    let mut cursor = after.cloned();
    for (id, closed) in &candidates {
        let order = OrderId::from_trusted(id.clone());
        if dry_run {
            let mut connection = pool.acquire().await?;
            let (floor, bound) = due_range(&mut connection, &order, *closed, rule, Seq::MAX).await?;
            if bound > floor {
                result.orders.push((order.clone(), bound - floor));
            }
            cursor = Some(order);
            continue;
        }
        let moved = move_due(pool, &order, *closed, rule, budget).await?;
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
    result.cursor = cursor;
    result.done = !stopped && (candidates.len() as i64) < limit;
    Ok(result)
}

/// The archived prefix of `order` and how far the due messages reach, looking at most
/// `cap` seqs past the prefix: `(floor, bound)`, nothing due when `bound <= floor`.
async fn due_range(
    connection: &mut PgConnection,
    order: &OrderId,
    closed: bool,
    rule: &ArchiveRule,
    cap: i64,
) -> Result<(Seq, Seq)> {
    let Some((floor, last_seq)): Option<(Seq, Seq)> =
        sqlx::query_as("SELECT archived_seq, last_seq FROM orders WHERE id = $1")
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
        "SELECT MAX(seq) FROM messages WHERE order_id = $1 AND seq > $2 AND seq <= $3 AND created_at < $4",
    )
    .bind(order.as_str())
    .bind(floor)
    .bind(top)
    .bind(&rule.created_before)
    .fetch_one(&mut *connection)
    .await?;
    Ok((floor, bound.unwrap_or(floor)))
}

/// Moves the due messages of one order, at most `cap`, in one transaction; returns how
/// many moved.
async fn move_due(pool: &PgPool, order: &OrderId, closed: bool, rule: &ArchiveRule, cap: i64) -> Result<i64> {
    let mut tx = pool.begin().await?;
    let (floor, bound) = due_range(&mut tx, order, closed, rule, cap).await?;
    if bound <= floor {
        return Ok(0);
    }
    let moved = sqlx::query(concat!(
        "WITH moved AS (DELETE FROM messages WHERE order_id = $1 AND seq > $2 AND seq <= $3 RETURNING ",
        columns!(),
        ") INSERT INTO archived_messages (",
        columns!(),
        ", archived_at) SELECT ",
        columns!(),
        ", $4 FROM moved"
    ))
    .bind(order.as_str())
    .bind(floor)
    .bind(bound)
    .bind(timestamp(chrono::Utc::now()))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("UPDATE orders SET archived_seq = GREATEST(archived_seq, $2) WHERE id = $1")
        .bind(order.as_str())
        .bind(bound)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(moved as i64)
}

pub(super) async fn archived_message(pool: &PgPool, id: &str) -> Result<Option<Message>> {
    if id.contains('\0') {
        return Ok(None);
    }
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM ",
        archived_with_replies!(),
        " WHERE m.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Message::from))
}

pub(super) async fn history_with_archive(
    pool: &PgPool,
    order: &OrderId,
    window: HistoryWindow,
) -> Result<Page<Message>> {
    let last_seq: Seq = sqlx::query_scalar("SELECT last_seq FROM orders WHERE id = $1")
        .bind(order.as_str())
        .fetch_optional(pool)
        .await?
        .unwrap_or(0);
    let range = window.range(last_seq, 0);
    let sql = if range.newest_first {
        concat!(
            "SELECT * FROM (SELECT ",
            message_columns!(),
            " FROM ",
            messages_with_replies!(),
            " WHERE m.order_id = $1 AND m.seq > $2 AND m.seq < $3 UNION ALL SELECT ",
            message_columns!(),
            " FROM ",
            archived_with_replies!(),
            " WHERE m.order_id = $1 AND m.seq > $2 AND m.seq < $3 ORDER BY seq DESC LIMIT $4) AS w ORDER BY seq"
        )
    } else {
        concat!(
            "SELECT ",
            message_columns!(),
            " FROM ",
            messages_with_replies!(),
            " WHERE m.order_id = $1 AND m.seq > $2 AND m.seq < $3 UNION ALL SELECT ",
            message_columns!(),
            " FROM ",
            archived_with_replies!(),
            " WHERE m.order_id = $1 AND m.seq > $2 AND m.seq < $3 ORDER BY seq LIMIT $4"
        )
    };
    let rows: Vec<MessageRow> = sqlx::query_as(sql)
        .bind(order.as_str())
        .bind(range.above)
        .bind(range.below)
        .bind(range.limit.max(0))
        .fetch_all(pool)
        .await?;
    Ok(Page {
        items: rows.into_iter().map(Message::from).collect(),
        total: range.total,
    })
}

pub(super) async fn backdate_messages(pool: &PgPool, order: &OrderId, up_to: Seq, created_at: &str) -> Result<u64> {
    let changed = sqlx::query("UPDATE messages SET created_at = $1, updated_at = $1 WHERE order_id = $2 AND seq <= $3")
        .bind(created_at)
        .bind(order.as_str())
        .bind(up_to)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(changed)
}

pub(super) async fn backdate_status_change(pool: &PgPool, order: &OrderId, at: &str) -> Result<()> {
    sqlx::query("UPDATE orders SET status_changed_at = $1 WHERE id = $2")
        .bind(at)
        .bind(order.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

//! Notifications on SQLite. A flush's rows (of every order) go in one `BEGIN IMMEDIATE` transaction:
//! their positions are taken from the one-row `notification_positions` counter, then
//! one multi-row upsert per few hundred recipients writes them (an unread
//! `new-message` row of the same user and order is updated in place instead).

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use crate::domain::UserId;
use crate::error::Result;
use crate::store::notifications::{
    MarkRead, NewNotification, NotificationWritten, StoredNotification, notification_columns,
};

/// Rows per statement (13 parameters each, far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 500;

pub(super) async fn store(pool: &SqlitePool, at: &str, rows: &[NewNotification]) -> Result<Vec<NotificationWritten>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let last: i64 = sqlx::query_scalar("UPDATE notification_positions SET last = last + ? WHERE id = 1 RETURNING last")
        .bind(rows.len() as i64)
        .fetch_one(&mut *tx)
        .await?;
    let mut position = last - rows.len() as i64;
    let mut written = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO notifications (id, user_id, order_id, kind, title, message, message_id, seq, count, \
             read_at, created_at, updated_at, position) ",
        );
        insert.push_values(chunk, |mut values, row| {
            position += 1;
            values
                .push_bind(uuid::Uuid::now_v7().to_string())
                .push_bind(row.user_id.as_str().to_owned())
                .push_bind(row.order_id.as_str().to_owned())
                .push_bind(row.kind.as_str())
                .push_bind(row.title.clone())
                .push_bind(row.message.clone())
                .push_bind(row.message_id.clone())
                .push_bind(row.seq)
                .push_bind(row.count)
                .push_bind(None::<String>)
                .push_bind(at.to_owned())
                .push_bind(at.to_owned())
                .push_bind(position);
        });
        insert.push(
            " ON CONFLICT (user_id, order_id) WHERE kind = 'new-message' AND read_at IS NULL DO UPDATE SET \
             title = excluded.title, message = excluded.message, message_id = excluded.message_id, \
             seq = excluded.seq, count = notifications.count + excluded.count, \
             updated_at = excluded.updated_at, position = excluded.position \
             RETURNING id, user_id, kind, message_id, count",
        );
        written.extend(
            insert
                .build_query_as::<NotificationWritten>()
                .fetch_all(&mut *tx)
                .await?,
        );
    }
    tx.commit().await?;
    Ok(written)
}

pub(super) async fn list(
    pool: &SqlitePool,
    user: &UserId,
    below: Option<i64>,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<StoredNotification>> {
    let mut query = QueryBuilder::<Sqlite>::new(concat!(
        "SELECT ",
        notification_columns!(),
        " FROM notifications WHERE user_id = "
    ));
    query.push_bind(user.as_str());
    if let Some(below) = below {
        query.push(" AND position < ").push_bind(below);
    }
    if unread_only {
        query.push(" AND read_at IS NULL");
    }
    query.push(" ORDER BY position DESC LIMIT ").push_bind(limit.max(0));
    Ok(query.build_query_as().fetch_all(pool).await?)
}

pub(super) async fn mark_read(pool: &SqlitePool, user: &UserId, which: &MarkRead, at: &str) -> Result<u64> {
    let done = match which {
        MarkRead::Ids(ids) => {
            let ids = serde_json::Value::from(ids.clone()).to_string();
            sqlx::query(
                "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL \
                 AND id IN (SELECT value FROM json_each(?))",
            )
            .bind(at)
            .bind(user.as_str())
            .bind(ids)
            .execute(pool)
            .await?
        }
        MarkRead::AtOrBelow(position) => {
            sqlx::query("UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL AND position <= ?")
                .bind(at)
                .bind(user.as_str())
                .bind(position)
                .execute(pool)
                .await?
        }
    };
    Ok(done.rows_affected())
}

pub(super) async fn delete_before(pool: &SqlitePool, before: &str, limit: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM notifications WHERE id IN \
         (SELECT id FROM notifications WHERE updated_at < ? ORDER BY updated_at LIMIT ?)",
    )
    .bind(before)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

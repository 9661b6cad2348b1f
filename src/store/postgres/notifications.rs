//! Notifications on PostgreSQL. A flush's rows (of every order) go in one transaction, one multi-row
//! upsert per few hundred recipients (an unread `new-message` row of the same user and
//! order is updated in place instead, against the partial unique index, so two nodes
//! flushing at once cannot make two). Positions come from the `notification_positions`
//! sequence, on insert and on every in-place update.

use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::domain::UserId;
use crate::error::Result;
use crate::store::notifications::{
    MarkRead, NewNotification, NotificationWritten, StoredNotification, notification_columns,
};

/// Rows per statement (12 parameters each, far below PostgreSQL's 65,535).
const ROWS_PER_STATEMENT: usize = 500;

pub(super) async fn store(pool: &PgPool, at: &str, rows: &[NewNotification]) -> Result<Vec<NotificationWritten>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let mut written = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Postgres>::new(
            "INSERT INTO notifications (id, user_id, order_id, kind, title, message, message_id, seq, count, \
             read_at, created_at, updated_at) ",
        );
        insert.push_values(chunk, |mut values, row| {
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
                .push_bind(at.to_owned());
        });
        insert.push(
            " ON CONFLICT (user_id, order_id) WHERE kind = 'new-message' AND read_at IS NULL DO UPDATE SET \
             title = excluded.title, message = excluded.message, message_id = excluded.message_id, \
             seq = excluded.seq, count = notifications.count + excluded.count, \
             updated_at = excluded.updated_at, position = nextval('notification_positions') \
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
    pool: &PgPool,
    user: &UserId,
    below: Option<i64>,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<StoredNotification>> {
    let mut query = QueryBuilder::<Postgres>::new(concat!(
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

pub(super) async fn mark_read(pool: &PgPool, user: &UserId, which: &MarkRead, at: &str) -> Result<u64> {
    let done = match which {
        MarkRead::Ids(ids) => {
            sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL AND id = ANY($3)")
                .bind(at)
                .bind(user.as_str())
                .bind(ids)
                .execute(pool)
                .await?
        }
        MarkRead::AtOrBelow(position) => {
            sqlx::query(
                "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL AND position <= $3",
            )
            .bind(at)
            .bind(user.as_str())
            .bind(position)
            .execute(pool)
            .await?
        }
    };
    Ok(done.rows_affected())
}

pub(super) async fn delete_before(pool: &PgPool, before: &str, limit: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM notifications WHERE id IN \
         (SELECT id FROM notifications WHERE updated_at < $1 ORDER BY updated_at LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

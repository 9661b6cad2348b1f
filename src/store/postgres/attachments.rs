//! Upload rows on PostgreSQL. The message writer claims uploads for new messages
//! (`claim`, inside the message's transaction, under the order's row lock); everything
//! else here runs on the read pool.

use sqlx::{PgPool, Postgres, Transaction};

use crate::domain::{NewMessage, UserId};
use crate::error::Result;
use crate::store::{StoredAttachment, UploadUsage, attachment_columns};

pub(super) async fn insert(pool: &PgPool, a: &StoredAttachment) -> Result<()> {
    sqlx::query(
        "INSERT INTO attachments (id, order_id, uploader_id, file_name, content_type, size, object_key, \
         thumbnail_key, message_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&a.id)
    .bind(&a.order_id)
    .bind(&a.uploader_id)
    .bind(&a.file_name)
    .bind(&a.content_type)
    .bind(a.size)
    .bind(&a.object_key)
    .bind(&a.thumbnail_key)
    .bind(&a.message_id)
    .bind(&a.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn get(pool: &PgPool, id: &str) -> Result<Option<StoredAttachment>> {
    let row = sqlx::query_as(concat!(
        "SELECT ",
        attachment_columns!(),
        " FROM attachments WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row)
}

pub(super) async fn usage(pool: &PgPool, user: &UserId, since: &str) -> Result<UploadUsage> {
    let usage = sqlx::query_as(
        "SELECT COALESCE(SUM(size), 0)::bigint AS bytes, MIN(created_at) AS oldest_at FROM attachments \
         WHERE uploader_id = $1 AND created_at >= $2",
    )
    .bind(user.as_str())
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(usage)
}

pub(super) async fn delete_unreferenced(pool: &PgPool, before: &str, limit: i64) -> Result<Vec<StoredAttachment>> {
    // A row a message writer has locked to claim it is skipped (SKIP LOCKED), and
    // `message_id IS NULL` is checked again on the row as it stands when deleted. The
    // batch is MATERIALIZED: as a plain `IN (subquery)` the planner may run the
    // subquery again and delete more than `limit` rows.
    let rows = sqlx::query_as(concat!(
        "WITH doomed AS MATERIALIZED (SELECT id AS doomed_id FROM attachments WHERE message_id IS NULL \
         AND created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         DELETE FROM attachments USING doomed WHERE id = doomed_id AND message_id IS NULL RETURNING ",
        attachment_columns!()
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

pub(super) async fn delete_of_message(pool: &PgPool, message_id: &str) -> Result<Vec<StoredAttachment>> {
    let rows = sqlx::query_as(concat!(
        "DELETE FROM attachments WHERE message_id = $1 RETURNING ",
        attachment_columns!(),
        ""
    ))
    .bind(message_id)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// Takes every upload `new` attaches for message `message_id`, or none: each must be
/// the author's, for the message's order, and taken by no message. The rows are locked
/// first (`FOR UPDATE`), so the cleanup cannot delete one under us and no other writer
/// can take one before we commit. `false`: refused, nothing taken.
pub(super) async fn claim(
    tx: &mut Transaction<'_, Postgres>,
    new: &NewMessage,
    message_id: &str,
) -> sqlx::Result<bool> {
    let ids: Vec<&str> = new.attachments.iter().map(|a| a.id.as_str()).collect();
    let author = new.author.as_ref().map(|a| a.id.as_str());
    let free: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM attachments WHERE id = ANY($1) AND order_id = $2 AND uploader_id = $3 \
         AND message_id IS NULL FOR UPDATE",
    )
    .bind(&ids)
    .bind(new.order_id.as_str())
    .bind(author)
    .fetch_all(&mut **tx)
    .await?;
    if free.len() != ids.len() {
        return Ok(false);
    }
    sqlx::query("UPDATE attachments SET message_id = $1 WHERE id = ANY($2)")
        .bind(message_id)
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

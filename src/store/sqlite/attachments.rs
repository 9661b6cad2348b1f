//! Upload rows on SQLite. The writer thread claims uploads for new messages
//! (`claim_attachments`, inside the message's transaction); everything else here runs
//! on the read pool.

use rusqlite::{Transaction, params};
use sqlx::SqlitePool;

use crate::domain::{NewMessage, UserId};
use crate::error::Result;
use crate::store::{StoredAttachment, UploadUsage, attachment_columns};

pub(super) async fn insert(pool: &SqlitePool, a: &StoredAttachment) -> Result<()> {
    sqlx::query(
        "INSERT INTO attachments (id, order_id, uploader_id, file_name, content_type, size, object_key, \
         thumbnail_key, message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

pub(super) async fn get(pool: &SqlitePool, id: &str) -> Result<Option<StoredAttachment>> {
    let row = sqlx::query_as(concat!(
        "SELECT ",
        attachment_columns!(),
        " FROM attachments WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row)
}

pub(super) async fn usage(pool: &SqlitePool, user: &UserId, since: &str) -> Result<UploadUsage> {
    let usage = sqlx::query_as(
        "SELECT COALESCE(SUM(size), 0) AS bytes, MIN(created_at) AS oldest_at FROM attachments \
         WHERE uploader_id = ? AND created_at >= ?",
    )
    .bind(user.as_str())
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(usage)
}

pub(super) async fn delete_unreferenced(pool: &SqlitePool, before: &str, limit: i64) -> Result<Vec<StoredAttachment>> {
    // One statement: a message claiming one of these rows on the writer's connection
    // commits either before it (the row is referenced and stays) or after it (the
    // row is gone and the message is refused).
    let rows = sqlx::query_as(concat!(
        "DELETE FROM attachments WHERE id IN (SELECT id FROM attachments WHERE message_id IS NULL \
         AND created_at < ? ORDER BY created_at LIMIT ?) AND message_id IS NULL RETURNING ",
        attachment_columns!(),
        ""
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

pub(super) async fn delete_of_message(pool: &SqlitePool, message_id: &str) -> Result<Vec<StoredAttachment>> {
    let rows = sqlx::query_as(concat!(
        "DELETE FROM attachments WHERE message_id = ? RETURNING ",
        attachment_columns!(),
        ""
    ))
    .bind(message_id)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// The ids of `new`'s attachments as a JSON array (what `json_each` reads).
pub(super) fn attachment_ids(new: &NewMessage) -> String {
    let ids: Vec<&str> = new.attachments.iter().map(|a| a.id.as_str()).collect();
    serde_json::Value::from(ids).to_string()
}

/// Whether every upload `new` attaches is still free for it: uploaded by its author,
/// for its order, taken by no message. Read inside the writer's transaction, which
/// holds SQLite's write lock, so nothing can take one between this and the claim.
pub(super) fn claimable(tx: &Transaction<'_>, new: &NewMessage, ids: &str) -> rusqlite::Result<bool> {
    let author = new.author.as_ref().map(|a| a.id.as_str());
    let free: i64 = tx
        .prepare_cached(
            "SELECT COUNT(*) FROM attachments WHERE id IN (SELECT value FROM json_each(?1)) \
             AND order_id = ?2 AND uploader_id = ?3 AND message_id IS NULL",
        )?
        .query_row(params![ids, new.order_id.as_str(), author], |row| row.get(0))?;
    Ok(free == new.attachments.len() as i64)
}

/// Marks `new`'s uploads as taken by message `message_id` (after `claimable`).
pub(super) fn claim(tx: &Transaction<'_>, ids: &str, message_id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE attachments SET message_id = ?1 WHERE id IN (SELECT value FROM json_each(?2))")?
        .execute(params![message_id, ids])?;
    Ok(())
}

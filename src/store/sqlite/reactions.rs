//! Reactions on SQLite. Each change is one `BEGIN IMMEDIATE` transaction (SQLite's one
//! writer at a time): check the message, change the `reactions` rows, rebuild the
//! message's summary column from them and read the message back, all before anyone
//! else writes, so the message returned is exactly what this change left.

use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::domain::{Emoji, MAX_REACTION_EMOJIS, Message, UserId, summarize_reactions, timestamp};
use crate::error::{Error, Result};
use crate::store::rows::{MessageRow, message_columns, messages_with_replies, reactions_json};

pub(super) async fn add(pool: &SqlitePool, id: &str, user: &UserId, emoji: &Emoji) -> Result<(Message, bool)> {
    let mut tx = begin(pool, id).await?;
    let there: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?)",
    )
    .bind(id)
    .bind(emoji.as_str())
    .bind(user.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if !there {
        // Other emojis than this one: at the limit, this one would be one too many
        // (when it is already on the message, the others are fewer than the limit).
        let others: i64 =
            sqlx::query_scalar("SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = ? AND emoji <> ?")
                .bind(id)
                .bind(emoji.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if others >= MAX_REACTION_EMOJIS as i64 {
            return Err(Error::TooManyReactions {
                max: MAX_REACTION_EMOJIS,
            });
        }
        sqlx::query("INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(user.as_str())
            .bind(emoji.as_str())
            .bind(timestamp(chrono::Utc::now()))
            .execute(&mut *tx)
            .await?;
        rewrite_summary(&mut tx, id).await?;
    }
    finish(tx, id, !there).await
}

pub(super) async fn remove(pool: &SqlitePool, id: &str, user: &UserId, emoji: &Emoji) -> Result<(Message, bool)> {
    let mut tx = begin(pool, id).await?;
    let removed = sqlx::query("DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?")
        .bind(id)
        .bind(emoji.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if removed {
        rewrite_summary(&mut tx, id).await?;
    }
    finish(tx, id, removed).await
}

/// The write transaction of a change to message `id`, which must exist and not be a
/// tombstone.
async fn begin<'a>(pool: &'a SqlitePool, id: &str) -> Result<Transaction<'a, Sqlite>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let deleted: Option<bool> = sqlx::query_scalar("SELECT deleted FROM messages WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    match deleted {
        None => Err(Error::MessageNotFound),
        Some(true) => Err(Error::MessageDeleted),
        Some(false) => Ok(tx),
    }
}

/// Rebuilds `messages.reactions` from the rows, in the order they were added (rowid).
/// A change also moves the message's `updatedAt` (not its `editedAt`).
async fn rewrite_summary(tx: &mut Transaction<'_, Sqlite>, id: &str) -> Result<()> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT emoji, user_id FROM reactions WHERE message_id = ? ORDER BY rowid")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    sqlx::query("UPDATE messages SET reactions = ?, updated_at = ? WHERE id = ?")
        .bind(reactions_json(&summarize_reactions(rows)))
        .bind(timestamp(chrono::Utc::now()))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads the message as this change left it, then commits.
async fn finish(mut tx: Transaction<'_, Sqlite>, id: &str, changed: bool) -> Result<(Message, bool)> {
    let row: MessageRow = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM ",
        messages_with_replies!(),
        " WHERE m.id = ?"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((row.into(), changed))
}

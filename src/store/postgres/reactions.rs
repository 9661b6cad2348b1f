//! Reactions on PostgreSQL. Each change is one transaction that first locks the
//! message's row (`FOR NO KEY UPDATE`: changes to one message, from any node, take
//! turns), then changes the `reactions` rows, rebuilds the message's summary column
//! from them and reads the message back, so the message returned is exactly what this
//! change left. Only the message row is locked, never the order's: a deletion, which
//! locks the order and then the message, waits for a change here without a cycle.

use sqlx::{PgPool, Postgres, Transaction};

use crate::domain::{Emoji, MAX_REACTION_EMOJIS, Message, UserId, summarize_reactions, timestamp};
use crate::error::{Error, Result};
use crate::store::rows::{MessageRow, message_columns, messages_with_replies, reactions_json};

pub(super) async fn add(pool: &PgPool, id: &str, user: &UserId, emoji: &Emoji) -> Result<(Message, bool)> {
    let mut tx = begin(pool, id).await?;
    let there: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3)",
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
            sqlx::query_scalar("SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = $1 AND emoji <> $2")
                .bind(id)
                .bind(emoji.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if others >= MAX_REACTION_EMOJIS as i64 {
            return Err(Error::TooManyReactions {
                max: MAX_REACTION_EMOJIS,
            });
        }
        sqlx::query("INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES ($1, $2, $3, $4)")
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

pub(super) async fn remove(pool: &PgPool, id: &str, user: &UserId, emoji: &Emoji) -> Result<(Message, bool)> {
    let mut tx = begin(pool, id).await?;
    let removed = sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3")
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
async fn begin<'a>(pool: &'a PgPool, id: &str) -> Result<Transaction<'a, Postgres>> {
    if !super::could_be_message_id(id) {
        return Err(Error::MessageNotFound);
    }
    let mut tx = pool.begin().await?;
    let deleted: Option<bool> = sqlx::query_scalar("SELECT deleted FROM messages WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    match deleted {
        None => Err(Error::MessageNotFound),
        Some(true) => Err(Error::MessageDeleted),
        Some(false) => Ok(tx),
    }
}

/// Rebuilds `messages.reactions` from the rows, in the order they were added.
/// A change also moves the message's `updatedAt` (not its `editedAt`).
async fn rewrite_summary(tx: &mut Transaction<'_, Postgres>, id: &str) -> Result<()> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT emoji, user_id FROM reactions WHERE message_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    sqlx::query("UPDATE messages SET reactions = $1, updated_at = $2 WHERE id = $3")
        .bind(reactions_json(&summarize_reactions(rows)))
        .bind(timestamp(chrono::Utc::now()))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads the message as this change left it, then commits.
async fn finish(mut tx: Transaction<'_, Postgres>, id: &str, changed: bool) -> Result<(Message, bool)> {
    let row: MessageRow = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM ",
        messages_with_replies!(),
        " WHERE m.id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((row.into(), changed))
}

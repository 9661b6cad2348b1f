//! The PostgreSQL backend, for running any number of nodes on one database. The schema
//! mirrors SQLite's (same tables, columns and text timestamps), so the row types are
//! shared and both backends answer alike; the shared store suite holds them to that.
//! Reads use a pool; new messages go through the group-commit writer in `writer.rs`,
//! which has a connection of its own.
//!
//! Concurrency between nodes rests on one lock order: whoever changes several rows that
//! belong to an order (its seq counter, its unread counters, its participants) first
//! locks the order's row. Under PostgreSQL's default READ COMMITTED, each statement
//! after that lock sees everything committed before it, so counters computed there
//! cannot miss a message another node just stored.

mod archive;
mod attachments;
mod notifications;
mod push_outbox;
mod reactions;
mod search;
mod stats;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder};

use self::writer::Writer;
use super::rows::{
    ChatRow, MessageRow, OrderRow, ParticipantJson, ParticipantRow, message_columns, messages_with_replies, reply_join,
    reply_preview_columns,
};
use super::{
    ArchiveBatch, ArchiveRule, ChatSummary, CommitFeed, DEFAULT_WRITE_QUEUE, HistoryWindow, MessageStats, OrderChanges,
    OrderRecord, Page, ReadPointer, Reply, Scope, SearchTerms, Store, StoredAttachment, UploadUsage,
};
use super::{ClaimedPush, PushBatch, PushFailure, PushFate, PushOutboxCounts};
use crate::domain::{Emoji, Message, MessageText, NewMessage, Order, OrderId, Participant, Seq, UserId, timestamp};
use crate::error::{Error, Result};

/// Migrations are embedded in the binary. sqlx takes an advisory lock while it runs
/// them, so nodes starting together do not migrate twice.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    writer: Writer,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…`) and brings its schema up to date.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::open(url, None, DEFAULT_WRITE_QUEUE).await
    }

    /// Like `connect`, and reports every message this process stores to `feed` in commit
    /// order. At most `write_queue` messages wait for the writer; more are refused.
    pub async fn open(url: &str, feed: Option<CommitFeed>, write_queue: usize) -> anyhow::Result<Self> {
        // Every statement is planned for its parameters and the tables as they are now:
        // sqlx prepares statements, and a generic plan cached while a table was small (a
        // new database) keeps sequential scans — for the writer's clientId lookup, one
        // over all messages on every batch (BENCHMARKS.md) — until the next ANALYZE.
        // Planning these keyed statements costs a fraction of a millisecond.
        let options = PgConnectOptions::from_str(url)?
            .application_name("orderchat")
            .options([("plan_cache_mode", "force_custom_plan")]);
        // The writer's connection first: if the server cannot be reached, this says why
        // (refused, unknown host, authentication) where the pool would only time out.
        let writer = Writer::start(options.clone(), feed, write_queue).await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // A database that does not answer fails requests fast instead of queueing them.
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, writer })
    }

    /// A setting of the message writer's connection, read back from the server rather
    /// than trusted from our options: that connection commits every message, and
    /// `synchronous_commit=on` is what makes an ack mean "on disk".
    pub async fn writer_setting(&self, name: &'static str) -> Result<String> {
        self.writer.setting(name).await
    }

    /// A setting of a connection of the read pool, read back from the server.
    pub async fn pool_setting(&self, name: &str) -> Result<String> {
        let value = sqlx::query_scalar("SELECT current_setting($1)")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    async fn participants(&self, order: &str) -> Result<Vec<Participant>> {
        let rows: Vec<ParticipantRow> =
            sqlx::query_as("SELECT user_id, role, name FROM order_participants WHERE order_id = $1 ORDER BY position")
                .bind(order)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(Participant::from).collect())
    }

    async fn count_chats(&self, scope: &Scope) -> Result<i64> {
        let total = match scope {
            Scope::All => {
                sqlx::query_scalar("SELECT COUNT(*) FROM orders")
                    .fetch_one(&self.pool)
                    .await?
            }
            Scope::ParticipantOf(user) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM order_participants WHERE user_id = $1")
                    .bind(user.as_str())
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        Ok(total)
    }
}

/// Replaces the participant list of an order inside `tx` (which holds the order's row
/// lock: it wrote the row first).
async fn write_participants(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    order: &OrderId,
    participants: &[Participant],
) -> Result<()> {
    sqlx::query("DELETE FROM order_participants WHERE order_id = $1")
        .bind(order.as_str())
        .execute(&mut **tx)
        .await?;
    for p in participants {
        sqlx::query(
            "INSERT INTO order_participants (order_id, user_id, role, name) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (order_id, user_id) DO UPDATE SET role = excluded.role, name = excluded.name",
        )
        .bind(order.as_str())
        .bind(p.user_id.as_str())
        .bind(&p.role)
        .bind(&p.name)
        .execute(&mut **tx)
        .await?;
        // A participant's unread counter starts with what is already in the chat,
        // archived messages included (as every recount does).
        sqlx::query(
            "INSERT INTO read_pointers (order_id, user_id, seq, unread, updated_at) \
             SELECT $1, $2, 0, (SELECT COUNT(*) FROM messages m WHERE m.order_id = $1 AND NOT m.deleted \
                AND m.user_id IS DISTINCT FROM $2) \
               + (SELECT COUNT(*) FROM archived_messages m WHERE m.order_id = $1 AND NOT m.deleted \
                AND m.user_id IS DISTINCT FROM $2), updated_at FROM orders WHERE id = $1 \
             ON CONFLICT (order_id, user_id) DO NOTHING",
        )
        .bind(order.as_str())
        .bind(p.user_id.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Whether `id` could name a stored message. Message ids reach the store as the client
/// sent them (a path segment, a `replyTo`), and PostgreSQL refuses a NUL anywhere in a
/// text parameter; ours are UUIDs, so such an id names no message.
fn could_be_message_id(id: &str) -> bool {
    !id.contains('\0')
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn upsert_order(&self, record: OrderRecord) -> Result<(Order, bool)> {
        let now = timestamp(chrono::Utc::now());
        let mut tx = self.pool.begin().await?;
        // Writing the row takes its lock before the participants and counters change.
        // `xmax = 0` holds only for a row this statement inserted.
        let created: bool = sqlx::query_scalar(
            "INSERT INTO orders (id, number, status, last_activity_at, created_at, updated_at, status_changed_at) \
             VALUES ($1, $2, $3, $4, $4, $4, $4) \
             ON CONFLICT (id) DO UPDATE SET number = excluded.number, status = excluded.status, \
             updated_at = excluded.updated_at, \
             status_changed_at = CASE WHEN orders.status IS NOT DISTINCT FROM excluded.status \
               THEN orders.status_changed_at ELSE excluded.updated_at END \
             RETURNING (xmax = 0)",
        )
        .bind(record.id.as_str())
        .bind(&record.number)
        .bind(&record.status)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        write_participants(&mut tx, &record.id, &record.participants).await?;
        tx.commit().await?;
        let order = self.order(&record.id).await?.ok_or(Error::OrderNotFound)?;
        Ok((order, created))
    }

    async fn update_order(&self, id: &OrderId, changes: OrderChanges) -> Result<Option<Order>> {
        let now = timestamp(chrono::Utc::now());
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE orders SET status = COALESCE($1, status), updated_at = $2, \
             status_changed_at = CASE WHEN $1::text IS NULL OR status IS NOT DISTINCT FROM $1 \
               THEN status_changed_at ELSE $2 END \
             WHERE id = $3",
        )
        .bind(&changes.status)
        .bind(&now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(participants) = &changes.participants {
            write_participants(&mut tx, id, participants).await?;
        }
        tx.commit().await?;
        self.order(id).await
    }

    async fn order(&self, id: &OrderId) -> Result<Option<Order>> {
        let row: Option<OrderRow> = sqlx::query_as(
            "SELECT id, number, status, last_seq, last_activity_at, created_at, updated_at FROM orders WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let participants = self.participants(&row.id).await?;
                Ok(Some(row.into_order(participants)))
            }
            None => Ok(None),
        }
    }

    async fn last_seqs(&self, orders: &[OrderId]) -> Result<Vec<(OrderId, Seq)>> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = orders.iter().map(OrderId::as_str).collect();
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT id, last_seq FROM orders WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, seq)| (OrderId::from_trusted(id), seq))
            .collect())
    }

    async fn orders_of(&self, user: &UserId) -> Result<Vec<(OrderId, Option<String>)>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT p.order_id, o.status FROM order_participants p JOIN orders o ON o.id = p.order_id \
             WHERE p.user_id = $1",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, status)| (OrderId::from_trusted(id), status))
            .collect())
    }

    fn queue_message(&self, message: NewMessage, reply: Reply) {
        self.writer.insert(message, reply)
    }

    async fn message(&self, id: &str) -> Result<Option<Message>> {
        if !could_be_message_id(id) {
            return Ok(None);
        }
        let row: Option<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM ",
            messages_with_replies!(),
            " WHERE m.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Message::from))
    }

    async fn history(&self, order: &OrderId, window: HistoryWindow) -> Result<Page<Message>> {
        // As in SQLite: seqs are gapless and the archive moves a prefix of them, so every
        // window is a seq range on the (order_id, seq) index and its count is arithmetic.
        let (last_seq, archived_seq): (Seq, Seq) =
            sqlx::query_as("SELECT last_seq, archived_seq FROM orders WHERE id = $1")
                .bind(order.as_str())
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or((0, 0));
        let range = window.range(last_seq, archived_seq);
        let (above, below, newest_first, limit, total) =
            (range.above, range.below, range.newest_first, range.limit, range.total);
        let sql = if newest_first {
            concat!(
                "SELECT * FROM (SELECT ",
                message_columns!(),
                " FROM ",
                messages_with_replies!(),
                " WHERE m.order_id = $1 AND m.seq > $2 AND m.seq < $3 \
                 ORDER BY m.seq DESC LIMIT $4) AS w ORDER BY seq"
            )
        } else {
            concat!(
                "SELECT ",
                message_columns!(),
                " FROM ",
                messages_with_replies!(),
                " WHERE m.order_id = $1 AND m.seq > $2 AND m.seq < $3 ORDER BY m.seq LIMIT $4"
            )
        };
        let rows: Vec<MessageRow> = sqlx::query_as(sql)
            .bind(order.as_str())
            .bind(above)
            .bind(below)
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        Ok(Page {
            items: rows.into_iter().map(Message::from).collect(),
            total,
        })
    }

    async fn message_stats(&self, order: &OrderId) -> Result<MessageStats> {
        stats::message_stats(&self.pool, order).await
    }

    async fn replies(&self, id: &str, after: Seq, limit: i64) -> Result<Page<Message>> {
        if !could_be_message_id(id) {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
            });
        }
        // Both read off the (reply_to, seq) index; replies to one message are few.
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM ",
            messages_with_replies!(),
            " WHERE m.reply_to = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3"
        ))
        .bind(id)
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE reply_to = $1 AND seq > $2")
            .bind(id)
            .bind(after)
            .fetch_one(&self.pool)
            .await?;
        Ok(Page {
            items: rows.into_iter().map(Message::from).collect(),
            total,
        })
    }

    async fn set_muted(&self, order: &OrderId, user: &UserId, muted: bool) -> Result<()> {
        if muted {
            sqlx::query(
                "INSERT INTO mutes (order_id, user_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (order_id, user_id) DO NOTHING",
            )
            .bind(order.as_str())
            .bind(user.as_str())
            .bind(timestamp(chrono::Utc::now()))
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query("DELETE FROM mutes WHERE order_id = $1 AND user_id = $2")
                .bind(order.as_str())
                .bind(user.as_str())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn muted_users(&self, order: &OrderId) -> Result<Vec<UserId>> {
        let users: Vec<String> = sqlx::query_scalar("SELECT user_id FROM mutes WHERE order_id = $1")
            .bind(order.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(users.into_iter().map(UserId::from_trusted).collect())
    }

    async fn insert_attachment(&self, attachment: &StoredAttachment) -> Result<()> {
        attachments::insert(&self.pool, attachment).await
    }

    async fn attachment(&self, id: &str) -> Result<Option<StoredAttachment>> {
        attachments::get(&self.pool, id).await
    }

    async fn upload_usage(&self, user: &UserId, since: &str) -> Result<UploadUsage> {
        attachments::usage(&self.pool, user, since).await
    }

    async fn delete_unreferenced_attachments(&self, before: &str, limit: i64) -> Result<Vec<StoredAttachment>> {
        attachments::delete_unreferenced(&self.pool, before, limit).await
    }

    async fn delete_attachments_of(&self, message_id: &str) -> Result<Vec<StoredAttachment>> {
        attachments::delete_of_message(&self.pool, message_id).await
    }

    async fn delete_message(&self, id: &str) -> Result<Message> {
        if !could_be_message_id(id) {
            return Err(Error::MessageNotFound);
        }
        let now = timestamp(chrono::Utc::now());
        let mut tx = self.pool.begin().await?;
        // The order's lock first (see the module doc), then the counters.
        let target: Option<(String, Seq, Option<String>, bool)> = sqlx::query_as(
            "SELECT m.order_id, m.seq, m.user_id, m.deleted FROM messages m JOIN orders o ON o.id = m.order_id \
             WHERE m.id = $1 FOR UPDATE OF o",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((order, seq, author, already_deleted)) = target else {
            return Err(Error::MessageNotFound);
        };
        sqlx::query(
            "UPDATE messages SET body = '', attachments = '[]', reactions = '[]', deleted = true, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM reactions WHERE message_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if !already_deleted {
            sqlx::query(
                "UPDATE read_pointers SET unread = unread - 1 \
                 WHERE order_id = $1 AND user_id IS DISTINCT FROM $2 AND seq < $3 AND unread > 0",
            )
            .bind(&order)
            .bind(&author)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        // Read again for the reply preview, which `RETURNING` cannot join.
        self.message(id).await?.ok_or(Error::MessageNotFound)
    }

    async fn edit_message(&self, id: &str, text: &MessageText) -> Result<Message> {
        if !could_be_message_id(id) {
            // What SQLite answers for an id it does not hold.
            return Err(Error::Conflict("a deleted message cannot be edited"));
        }
        let now = timestamp(chrono::Utc::now());
        let edited: Option<String> = sqlx::query_scalar(
            "UPDATE messages SET body = $1, updated_at = $2, edited_at = $2 WHERE id = $3 AND NOT deleted RETURNING id",
        )
        .bind(text.as_str())
        .bind(&now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match edited {
            // Read again for the reply preview, which `RETURNING` cannot join.
            Some(_) => self.message(id).await?.ok_or(Error::MessageNotFound),
            None => Err(Error::Conflict("a deleted message cannot be edited")),
        }
    }

    async fn add_reaction(&self, id: &str, user: &UserId, emoji: &Emoji) -> Result<(Message, bool)> {
        reactions::add(&self.pool, id, user, emoji).await
    }

    async fn remove_reaction(&self, id: &str, user: &UserId, emoji: &Emoji) -> Result<(Message, bool)> {
        reactions::remove(&self.pool, id, user, emoji).await
    }

    async fn mark_read_up_to(&self, order: &OrderId, user: &UserId, seq: Seq) -> Result<(Seq, i64)> {
        let now = timestamp(chrono::Utc::now());
        let mut tx = self.pool.begin().await?;
        // A share lock on the order waits for a batch storing into it to commit and
        // keeps the next one out until we are done, so the recount below sees every
        // message up to last_seq and no counter bump can slip in between.
        let exists: Option<bool> = sqlx::query_scalar("SELECT true FROM orders WHERE id = $1 FOR SHARE")
            .bind(order.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(Error::OrderNotFound);
        }
        // Archived messages above the new pointer still count as unread: a range read on
        // the archive's (order_id, seq) index, empty once the pointer is past the archived
        // prefix (the usual case).
        let (seq, unread): (Seq, i64) = sqlx::query_as(
            "INSERT INTO read_pointers (order_id, user_id, seq, unread, updated_at) \
             SELECT o.id, $2, GREATEST(0, LEAST($3, o.last_seq)), \
               (SELECT COUNT(*) FROM messages m WHERE m.order_id = o.id \
                  AND m.seq > GREATEST(0, LEAST($3, o.last_seq)) AND NOT m.deleted AND m.user_id IS DISTINCT FROM $2) \
               + (SELECT COUNT(*) FROM archived_messages m WHERE m.order_id = o.id \
                  AND m.seq > GREATEST(0, LEAST($3, o.last_seq)) AND NOT m.deleted AND m.user_id IS DISTINCT FROM $2), \
               $4 FROM orders o WHERE o.id = $1 \
             ON CONFLICT (order_id, user_id) DO UPDATE SET \
               seq = GREATEST(read_pointers.seq, excluded.seq), \
               unread = CASE WHEN excluded.seq > read_pointers.seq THEN excluded.unread ELSE read_pointers.unread END, \
               updated_at = CASE WHEN excluded.seq > read_pointers.seq THEN excluded.updated_at \
                 ELSE read_pointers.updated_at END \
             RETURNING seq, unread",
        )
        .bind(order.as_str())
        .bind(user.as_str())
        .bind(seq)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((seq, unread))
    }

    async fn read_pointers(&self, order: &OrderId) -> Result<Vec<ReadPointer>> {
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT user_id, seq, updated_at FROM read_pointers WHERE order_id = $1")
                .bind(order.as_str())
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, seq, updated_at)| ReadPointer {
                user_id: UserId::from_trusted(user_id),
                seq,
                updated_at,
            })
            .collect())
    }

    async fn unread_count(&self, order: &OrderId, user: &UserId) -> Result<i64> {
        let counter: Option<i64> =
            sqlx::query_scalar("SELECT unread FROM read_pointers WHERE order_id = $1 AND user_id = $2")
                .bind(order.as_str())
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await?;
        if let Some(unread) = counter {
            return Ok(unread);
        }
        // Staff who never opened this chat (participants always have a counter).
        let count = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM messages m WHERE m.order_id = $1 AND NOT m.deleted \
             AND m.user_id IS DISTINCT FROM $2) + (SELECT COUNT(*) FROM archived_messages m \
             WHERE m.order_id = $1 AND NOT m.deleted AND m.user_id IS DISTINCT FROM $2)",
        )
        .bind(order.as_str())
        .bind(user.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    async fn unread_counts(&self, order: &OrderId) -> Result<Vec<(UserId, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT user_id, unread FROM read_pointers WHERE order_id = $1")
            .bind(order.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(user, unread)| (UserId::from_trusted(user), unread))
            .collect())
    }

    async fn order_chats(&self, scope: &Scope, viewer: &UserId, page: i64, limit: i64) -> Result<Page<ChatSummary>> {
        // One query, as in SQLite: the page's orders with their participants (a JSON
        // array), newest message, the viewer's unread counter (a count for staff who
        // never opened the chat) and the total across pages as a window count.
        let mut query = QueryBuilder::<Postgres>::new(concat!(
            "SELECT o.id, o.number, o.status, o.last_seq, o.last_activity_at, o.created_at, o.updated_at, \
               COALESCE((SELECT json_agg(json_build_object('userId', p.user_id, 'role', p.role, 'name', p.name) \
                  ORDER BY p.position) FROM order_participants p WHERE p.order_id = o.id)::text, '[]') \
                  AS participants, \
               COALESCE(m.id, am.id) AS m_id, COALESCE(m.seq, am.seq) AS m_seq, COALESCE(m.user_id, am.user_id) AS m_user_id, COALESCE(m.user_name, am.user_name) AS m_user_name, \
               COALESCE(m.user_role, am.user_role) AS m_user_role, COALESCE(m.body, am.body) AS m_body, COALESCE(m.message_type, am.message_type) AS m_message_type, \
               COALESCE(m.sender_type, am.sender_type) AS m_sender_type, COALESCE(m.attachments, am.attachments) AS m_attachments, COALESCE(m.reply_to, am.reply_to) AS m_reply_to, \
               COALESCE(m.client_id, am.client_id) AS m_client_id, COALESCE(m.created_at, am.created_at) AS m_created_at, COALESCE(m.updated_at, am.updated_at) AS m_updated_at, \
               COALESCE(m.edited_at, am.edited_at) AS m_edited_at, COALESCE(m.deleted, am.deleted) AS m_deleted, COALESCE(m.reactions, am.reactions) AS m_reactions, ",
            reply_preview_columns!(),
            ", \
               COALESCE(rp.unread, (SELECT COUNT(*) FROM messages u WHERE u.order_id = o.id AND NOT u.deleted \
                 AND u.user_id IS DISTINCT FROM "
        ));
        query
            .push_bind(viewer.as_str().to_owned())
            .push(concat!(
                ")) AS unread, COUNT(*) OVER () AS total FROM orders o \
                 LEFT JOIN messages m ON m.order_id = o.id AND m.seq = o.last_seq \
                 LEFT JOIN archived_messages am ON m.id IS NULL AND am.order_id = o.id AND am.seq = o.last_seq",
                reply_join!(),
                " \
                 LEFT JOIN read_pointers rp ON rp.order_id = o.id AND rp.user_id = "
            ))
            .push_bind(viewer.as_str().to_owned());
        if let Scope::ParticipantOf(user) = scope {
            query
                .push(" WHERE o.id IN (SELECT order_id FROM order_participants WHERE user_id = ")
                .push_bind(user.as_str().to_owned())
                .push(")");
        }
        query
            // Byte order for ties, as SQLite compares text.
            .push(" ORDER BY o.last_activity_at DESC, o.id COLLATE \"C\" LIMIT ")
            .push_bind(limit.max(0))
            .push(" OFFSET ")
            .push_bind(((page - 1).saturating_mul(limit)).max(0));
        let rows: Vec<ChatRow> = query.build_query_as().fetch_all(&self.pool).await?;
        let total = match rows.first() {
            Some(row) => row.total,
            // Past the last page the window count is not there to read.
            None => self.count_chats(scope).await?,
        };
        let items = rows
            .into_iter()
            .map(|row| {
                let participants: Vec<ParticipantJson> = serde_json::from_str(&row.participants).unwrap_or_default();
                let last_activity_at = row.order.last_activity_at.clone();
                ChatSummary {
                    order: row
                        .order
                        .into_order(participants.into_iter().map(Participant::from).collect()),
                    last_message: row.last_message.map(Message::from),
                    unread_count: row.unread,
                    last_activity_at,
                }
            })
            .collect();
        Ok(Page { items, total })
    }

    async fn search(
        &self,
        scope: &Scope,
        order: Option<&OrderId>,
        terms: &SearchTerms,
        page: i64,
        limit: i64,
    ) -> Result<Page<Message>> {
        search::search(&self.pool, scope, order, terms, page, limit).await
    }

    async fn queue_pushes(&self, batch: PushBatch<'_>) -> Result<()> {
        push_outbox::queue(&self.pool, batch).await
    }

    async fn claim_pushes(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<ClaimedPush>> {
        push_outbox::claim(&self.pool, now_ms, lease_until_ms, limit).await
    }

    async fn push_delivered(&self, idempotency_key: &str) -> Result<()> {
        push_outbox::delivered(&self.pool, idempotency_key).await
    }

    async fn push_failed(&self, failure: PushFailure<'_>) -> Result<PushFate> {
        push_outbox::failed(&self.pool, failure).await
    }

    async fn next_push_due(&self) -> Result<Option<i64>> {
        push_outbox::next_due(&self.pool).await
    }

    async fn push_outbox_counts(&self) -> Result<PushOutboxCounts> {
        push_outbox::counts(&self.pool).await
    }

    async fn delete_dead_pushes(&self, queued_before_ms: i64, limit: i64) -> Result<u64> {
        push_outbox::delete_dead(&self.pool, queued_before_ms, limit).await
    }

    async fn store_notifications(
        &self,
        at: &str,
        rows: &[crate::store::NewNotification],
    ) -> Result<Vec<crate::store::NotificationWritten>> {
        notifications::store(&self.pool, at, rows).await
    }

    async fn notifications(
        &self,
        user: &UserId,
        below: Option<i64>,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<crate::store::StoredNotification>> {
        notifications::list(&self.pool, user, below, unread_only, limit).await
    }

    async fn mark_notifications_read(&self, user: &UserId, which: &crate::store::MarkRead, at: &str) -> Result<u64> {
        notifications::mark_read(&self.pool, user, which, at).await
    }

    async fn delete_notifications_before(&self, before: &str, limit: i64) -> Result<u64> {
        notifications::delete_before(&self.pool, before, limit).await
    }

    async fn archive_batch(
        &self,
        rule: &ArchiveRule,
        after: Option<&OrderId>,
        limit: i64,
        dry_run: bool,
    ) -> Result<ArchiveBatch> {
        archive::batch(&self.pool, rule, after, limit, dry_run).await
    }

    async fn archived_message(&self, id: &str) -> Result<Option<Message>> {
        archive::archived_message(&self.pool, id).await
    }

    async fn history_with_archive(&self, order: &OrderId, window: HistoryWindow) -> Result<Page<Message>> {
        archive::history_with_archive(&self.pool, order, window).await
    }

    async fn backdate_messages(&self, order: &OrderId, up_to: Seq, created_at: &str) -> Result<u64> {
        archive::backdate_messages(&self.pool, order, up_to, created_at).await
    }

    async fn backdate_status_change(&self, order: &OrderId, at: &str) -> Result<()> {
        archive::backdate_status_change(&self.pool, order, at).await
    }
}

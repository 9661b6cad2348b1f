//! The embedded SQLite backend: one file in WAL mode with `synchronous=FULL`, so a
//! message acknowledged after its commit survives a crash or power loss (NORMAL could
//! lose the last commits on power loss). Reads use a pool of connections; new messages
//! go through the group-commit writer in `writer.rs`.

mod archive;
mod attachments;
mod notifications;
mod push_outbox;
mod reactions;
mod stats;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

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

/// Migrations are embedded in the binary, so `serve` and `migrate` need no files.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and brings its schema up to date.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::open(url, None, DEFAULT_WRITE_QUEUE).await
    }

    /// Like `connect`, and reports every newly stored message to `feed` in commit order.
    /// At most `write_queue` messages wait for the writer; more are refused.
    pub async fn open(url: &str, feed: Option<CommitFeed>, write_queue: usize) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let path = options.get_filename().to_string_lossy().into_owned();
        let writer = Writer::start(&path, feed, write_queue)?;
        Ok(Self { pool, writer })
    }

    /// The journal mode and `synchronous` level the message writer's connection runs
    /// with (`("wal", 2)` means WAL with FULL), read back from SQLite rather than trusted
    /// from our options: that connection commits every message.
    pub async fn writer_durability(&self) -> Result<(String, i64)> {
        self.writer.durability().await
    }

    /// The same for a pooled connection (orders, read pointers, edits and deletions).
    pub async fn durability(&self) -> Result<(String, i64)> {
        let mut connection = self.pool.acquire().await?;
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *connection)
            .await?;
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *connection)
            .await?;
        Ok((journal, synchronous))
    }

    async fn participants(&self, order: &str) -> Result<Vec<Participant>> {
        let rows: Vec<ParticipantRow> =
            sqlx::query_as("SELECT user_id, role, name FROM order_participants WHERE order_id = ? ORDER BY rowid")
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
                sqlx::query_scalar("SELECT COUNT(*) FROM order_participants WHERE user_id = ?")
                    .bind(user.as_str())
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        Ok(total)
    }
}

/// Replaces the participant list of an order inside `tx`.
async fn write_participants(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    order: &OrderId,
    participants: &[Participant],
) -> Result<()> {
    sqlx::query("DELETE FROM order_participants WHERE order_id = ?")
        .bind(order.as_str())
        .execute(&mut **tx)
        .await?;
    for p in participants {
        sqlx::query(
            "INSERT INTO order_participants (order_id, user_id, role, name) VALUES (?, ?, ?, ?) \
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
             SELECT ?1, ?2, 0, (SELECT COUNT(*) FROM messages m WHERE m.order_id = ?1 AND m.deleted = 0 \
                AND m.user_id IS NOT ?2) \
               + (SELECT COUNT(*) FROM archived_messages m WHERE m.order_id = ?1 AND m.deleted = 0 \
                AND m.user_id IS NOT ?2), updated_at FROM orders WHERE id = ?1 \
             ON CONFLICT (order_id, user_id) DO NOTHING",
        )
        .bind(order.as_str())
        .bind(p.user_id.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The FTS5 expression for `terms`: each word a quoted phrase (quotes doubled), so no
/// word can act as an operator, column filter or wildcard; the last one a prefix.
/// Public only so that the property tests can feed FTS5 every shape of user input.
#[doc(hidden)]
pub fn fts5_expression(terms: &SearchTerms) -> String {
    let quote = |word: &str| format!("\"{}\"", word.replace('"', "\"\""));
    let mut expression = String::new();
    for word in terms.whole_words() {
        expression.push_str(&quote(word));
        expression.push(' ');
    }
    expression.push_str(&quote(terms.prefix()));
    expression.push('*');
    expression
}

/// Adds the `WHERE` part that limits messages (aliased `m`) to what a scope may see.
fn push_scope(query: &mut QueryBuilder<Sqlite>, scope: &Scope) {
    if let Scope::ParticipantOf(user) = scope {
        query
            .push(" AND m.order_id IN (SELECT order_id FROM order_participants WHERE user_id = ")
            .push_bind(user.as_str().to_owned())
            .push(")");
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        // Fold the WAL back into the main file so the data directory is self-contained.
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await {
            tracing::warn!(error = %err, "WAL checkpoint at shutdown failed");
        }
        self.pool.close().await;
    }

    async fn upsert_order(&self, record: OrderRecord) -> Result<(Order, bool)> {
        let now = timestamp(chrono::Utc::now());
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existed: Option<i64> = sqlx::query_scalar("SELECT 1 FROM orders WHERE id = ?")
            .bind(record.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO orders (id, number, status, last_activity_at, created_at, updated_at, status_changed_at) \
             VALUES (?1, ?2, ?3, ?4, ?4, ?4, ?4) \
             ON CONFLICT (id) DO UPDATE SET number = excluded.number, status = excluded.status, \
             updated_at = excluded.updated_at, \
             status_changed_at = CASE WHEN orders.status IS excluded.status THEN orders.status_changed_at \
               ELSE excluded.updated_at END",
        )
        .bind(record.id.as_str())
        .bind(&record.number)
        .bind(&record.status)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        write_participants(&mut tx, &record.id, &record.participants).await?;
        tx.commit().await?;
        let order = self.order(&record.id).await?.ok_or(Error::OrderNotFound)?;
        Ok((order, existed.is_none()))
    }

    async fn update_order(&self, id: &OrderId, changes: OrderChanges) -> Result<Option<Order>> {
        let now = timestamp(chrono::Utc::now());
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE orders SET status = COALESCE(?1, status), updated_at = ?2, \
             status_changed_at = CASE WHEN ?1 IS NULL OR status IS ?1 THEN status_changed_at ELSE ?2 END \
             WHERE id = ?3",
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
            "SELECT id, number, status, last_seq, last_activity_at, created_at, updated_at FROM orders WHERE id = ?",
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
        let mut query = QueryBuilder::<Sqlite>::new("SELECT id, last_seq FROM orders WHERE id IN (");
        let mut ids = query.separated(", ");
        for order in orders {
            ids.push_bind(order.as_str().to_owned());
        }
        query.push(")");
        let rows: Vec<(String, i64)> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, seq)| (OrderId::from_trusted(id), seq))
            .collect())
    }

    async fn orders_of(&self, user: &UserId) -> Result<Vec<(OrderId, Option<String>)>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT p.order_id, o.status FROM order_participants p JOIN orders o ON o.id = p.order_id \
             WHERE p.user_id = ?",
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
        let row: Option<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM ",
            messages_with_replies!(),
            " WHERE m.id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Message::from))
    }

    async fn history(&self, order: &OrderId, window: HistoryWindow) -> Result<Page<Message>> {
        // Seqs are gapless (a deletion leaves a tombstone) and the archive moves a
        // prefix of them, so the hot table holds exactly the seqs archived_seq+1..=last_seq:
        // every window is a seq range read straight off the (order_id, seq) index, and
        // its count is arithmetic. No COUNT(*), no OFFSET.
        let (last_seq, archived_seq): (Seq, Seq) =
            sqlx::query_as("SELECT last_seq, archived_seq FROM orders WHERE id = ?")
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
                " WHERE m.order_id = ? AND m.seq > ? AND m.seq < ? \
                 ORDER BY m.seq DESC LIMIT ?) ORDER BY seq"
            )
        } else {
            concat!(
                "SELECT ",
                message_columns!(),
                " FROM ",
                messages_with_replies!(),
                " WHERE m.order_id = ? AND m.seq > ? AND m.seq < ? ORDER BY m.seq LIMIT ?"
            )
        };
        let rows: Vec<MessageRow> = sqlx::query_as(sql)
            .bind(order.as_str())
            .bind(above)
            .bind(below)
            .bind(limit)
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
        // Both read off the (reply_to, seq) index; replies to one message are few.
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM ",
            messages_with_replies!(),
            " WHERE m.reply_to = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"
        ))
        .bind(id)
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE reply_to = ? AND seq > ?")
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
                "INSERT INTO mutes (order_id, user_id, created_at) VALUES (?, ?, ?) \
                 ON CONFLICT (order_id, user_id) DO NOTHING",
            )
            .bind(order.as_str())
            .bind(user.as_str())
            .bind(timestamp(chrono::Utc::now()))
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query("DELETE FROM mutes WHERE order_id = ? AND user_id = ?")
                .bind(order.as_str())
                .bind(user.as_str())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn muted_users(&self, order: &OrderId) -> Result<Vec<UserId>> {
        let users: Vec<String> = sqlx::query_scalar("SELECT user_id FROM mutes WHERE order_id = ?")
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
        let now = timestamp(chrono::Utc::now());
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let deleted: Option<String> = sqlx::query_scalar(
            "UPDATE messages SET body = '', attachments = '[]', reactions = '[]', deleted = 1, updated_at = ? \
             WHERE id = ? RETURNING id",
        )
        .bind(&now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM reactions WHERE message_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Read again for the reply preview, which `RETURNING` cannot join.
        match deleted {
            Some(_) => self.message(id).await?.ok_or(Error::MessageNotFound),
            None => Err(Error::MessageNotFound),
        }
    }

    async fn edit_message(&self, id: &str, text: &MessageText) -> Result<Message> {
        let now = timestamp(chrono::Utc::now());
        let edited: Option<String> = sqlx::query_scalar(
            "UPDATE messages SET body = ?1, updated_at = ?2, edited_at = ?2 WHERE id = ?3 AND deleted = 0 RETURNING id",
        )
        .bind(text.as_str())
        .bind(&now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match edited {
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
        // Archived messages above the new pointer still count as unread: a range read on
        // the archive's (order_id, seq) index, empty once the pointer is past the archived
        // prefix (the usual case).
        // One statement, so the recount cannot miss a message committed in between.
        // Counting only above the new pointer costs what is still unread, and nothing
        // when everything is read (the usual case).
        let stored: Option<(Seq, i64)> = sqlx::query_as(
            "INSERT INTO read_pointers (order_id, user_id, seq, unread, updated_at) \
             SELECT o.id, ?2, MAX(0, MIN(?3, o.last_seq)), \
               (SELECT COUNT(*) FROM messages m WHERE m.order_id = o.id AND m.seq > MAX(0, MIN(?3, o.last_seq)) \
                  AND m.deleted = 0 AND m.user_id IS NOT ?2) \
               + (SELECT COUNT(*) FROM archived_messages m WHERE m.order_id = o.id \
                  AND m.seq > MAX(0, MIN(?3, o.last_seq)) AND m.deleted = 0 AND m.user_id IS NOT ?2), \
               ?4 FROM orders o WHERE o.id = ?1 \
             ON CONFLICT (order_id, user_id) DO UPDATE SET \
               seq = MAX(read_pointers.seq, excluded.seq), \
               unread = CASE WHEN excluded.seq > read_pointers.seq THEN excluded.unread ELSE read_pointers.unread END, \
               updated_at = CASE WHEN excluded.seq > read_pointers.seq THEN excluded.updated_at ELSE read_pointers.updated_at END \
             RETURNING seq, unread",
        )
        .bind(order.as_str())
        .bind(user.as_str())
        .bind(seq)
        .bind(&now)
        .fetch_optional(&self.pool)
        .await?;
        stored.ok_or(Error::OrderNotFound)
    }

    async fn unread_counts(&self, order: &OrderId) -> Result<Vec<(UserId, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT user_id, unread FROM read_pointers WHERE order_id = ?")
            .bind(order.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(user, unread)| (UserId::from_trusted(user), unread))
            .collect())
    }

    async fn read_pointers(&self, order: &OrderId) -> Result<Vec<ReadPointer>> {
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT user_id, seq, updated_at FROM read_pointers WHERE order_id = ?")
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
            sqlx::query_scalar("SELECT unread FROM read_pointers WHERE order_id = ? AND user_id = ?")
                .bind(order.as_str())
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await?;
        if let Some(unread) = counter {
            return Ok(unread);
        }
        // Staff who never opened this chat (participants always have a counter).
        let count = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM messages m WHERE m.order_id = ?1 AND m.deleted = 0 AND m.user_id IS NOT ?2) \
             + (SELECT COUNT(*) FROM archived_messages m WHERE m.order_id = ?1 AND m.deleted = 0 \
               AND m.user_id IS NOT ?2)",
        )
        .bind(order.as_str())
        .bind(user.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    async fn order_chats(&self, scope: &Scope, viewer: &UserId, page: i64, limit: i64) -> Result<Page<ChatSummary>> {
        // One query: the orders of the page with their participants, newest message and
        // the viewer's unread counter, and the total across pages as a window count.
        // Staff without a counter in an order (they never opened it) get a count.
        let mut query = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT o.id, o.number, o.status, o.last_seq, o.last_activity_at, o.created_at, o.updated_at, \
               (SELECT json_group_array(json_object('userId', p.user_id, 'role', p.role, 'name', p.name)) \
                  FROM (SELECT * FROM order_participants p WHERE p.order_id = o.id ORDER BY p.rowid) p) AS participants, \
               COALESCE(m.id, am.id) AS m_id, COALESCE(m.seq, am.seq) AS m_seq, COALESCE(m.user_id, am.user_id) AS m_user_id, COALESCE(m.user_name, am.user_name) AS m_user_name, \
               COALESCE(m.user_role, am.user_role) AS m_user_role, COALESCE(m.body, am.body) AS m_body, COALESCE(m.message_type, am.message_type) AS m_message_type, \
               COALESCE(m.sender_type, am.sender_type) AS m_sender_type, COALESCE(m.attachments, am.attachments) AS m_attachments, COALESCE(m.reply_to, am.reply_to) AS m_reply_to, \
               COALESCE(m.client_id, am.client_id) AS m_client_id, COALESCE(m.created_at, am.created_at) AS m_created_at, COALESCE(m.updated_at, am.updated_at) AS m_updated_at, \
               COALESCE(m.edited_at, am.edited_at) AS m_edited_at, COALESCE(m.deleted, am.deleted) AS m_deleted, COALESCE(m.reactions, am.reactions) AS m_reactions, ",
            reply_preview_columns!(),
            ", \
               CASE WHEN rp.unread IS NOT NULL THEN rp.unread ELSE \
                 (SELECT COUNT(*) FROM messages u WHERE u.order_id = o.id AND u.deleted = 0 AND u.user_id IS NOT "
        ));
        query
            .push_bind(viewer.as_str().to_owned())
            .push(concat!(
                ") END AS unread, COUNT(*) OVER () AS total FROM orders o \
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
            .push(" ORDER BY o.last_activity_at DESC, o.id LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind((page - 1) * limit);
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
        let terms = fts5_expression(terms);
        let terms = terms.as_str();
        /// The MATCH expression narrows to the order, or to the viewer's orders, inside
        /// the index; the exact filters after it keep ids that share tokens apart.
        fn filters(query: &mut QueryBuilder<Sqlite>, fts: &str, scope: &Scope, order: Option<&OrderId>, terms: &str) {
            let words = format!("{{body}} : ({terms})");
            query.push(format_args!(" WHERE {fts} MATCH "));
            match (order, scope) {
                (Some(order), _) => {
                    let id = order.as_str().replace('"', "\"\"");
                    query.push_bind(format!("{words} AND {{order_id}} : \"{id}\""));
                }
                (None, Scope::ParticipantOf(user)) => {
                    query
                        .push_bind(format!("{words} AND {{order_id}} : ("))
                        .push(
                            " || COALESCE((SELECT group_concat('\"' || replace(order_id, '\"', '\"\"') || '\"', ' OR ') \
                             FROM order_participants WHERE user_id = ",
                        )
                        .push_bind(user.as_str().to_owned())
                        .push("), '\"\"') || ')'");
                }
                (None, Scope::All) => {
                    query.push_bind(words);
                }
            }
            query.push(" AND m.deleted = 0");
            if let Some(order) = order {
                query.push(" AND m.order_id = ").push_bind(order.as_str().to_owned());
            }
            push_scope(query, scope);
        }

        // Hot and archived messages, each matched in its own full-text table, ranked
        // together (bm25 over the words only: the order id column weighs nothing).
        let mut select = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT * FROM (SELECT ",
            message_columns!(),
            ", bm25(messages_fts, 1.0, 0.0) AS rank FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid",
            reply_join!()
        ));
        filters(&mut select, "messages_fts", scope, order, terms);
        select.push(concat!(
            " UNION ALL SELECT ",
            message_columns!(),
            ", bm25(archived_messages_fts, 1.0, 0.0) AS rank FROM archived_messages_fts \
             JOIN archived_messages m ON m.rowid = archived_messages_fts.rowid",
            reply_join!()
        ));
        filters(&mut select, "archived_messages_fts", scope, order, terms);
        select
            .push(") ORDER BY rank, created_at DESC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind((page - 1) * limit);
        let rows: Vec<MessageRow> = select.build_query_as().fetch_all(&self.pool).await?;

        let mut count = QueryBuilder::<Sqlite>::new(
            "SELECT (SELECT COUNT(*) FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid",
        );
        filters(&mut count, "messages_fts", scope, order, terms);
        count.push(
            ") + (SELECT COUNT(*) FROM archived_messages_fts \
             JOIN archived_messages m ON m.rowid = archived_messages_fts.rowid",
        );
        filters(&mut count, "archived_messages_fts", scope, order, terms);
        count.push(")");
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(Page {
            items: rows.into_iter().map(Message::from).collect(),
            total,
        })
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

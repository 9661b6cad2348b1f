//! Group commit: every new message goes through one writer that takes whatever is
//! queued (up to `MAX_BATCH`), stores it in one transaction and answers each sender
//! only after that transaction committed. Under load one fsync covers many messages;
//! when idle a lone message commits at once. SQLite has one writer anyway, so a single
//! writer loses nothing and keeps `seq` assignment free of races: the seq counter lives
//! in the `orders` row and is bumped inside the same transaction as the insert.
//!
//! Why rusqlite on a thread of its own, while reads use sqlx: every sqlx SQLite query
//! is a round trip to the connection's worker thread, and a message takes several
//! statements (client id lookup, seq bump, insert with its full-text and unread-counter
//! triggers). Here the writer *is* the connection's thread: each statement is a direct
//! call on a cached prepared statement, and the only hand-offs per message are the
//! queue in and the answer out. No savepoint per message either: nothing can fail
//! halfway through one message (an unknown order is found before anything is written,
//! a repeated client id before the insert), and anything else is an I/O error that
//! fails the whole batch.
//!
//! The queue is filled synchronously (`Writer::insert` queues before it returns its
//! future), so the order of calls is the order of commits; after each commit the new
//! messages go to the commit feed in that same order.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use super::attachments;
use crate::domain::{Message, NewMessage, timestamp};
use crate::error::{Error, Result};
use crate::store::queue::{self, MAX_BATCH, Queue};
use crate::store::rows::{MessageRow, message_columns, messages_with_replies};
use crate::store::{CommitFeed, Inserted, Reply, attachments_json};

/// WAL pages (4 KiB each) between two checkpoints (see `open`).
const CHECKPOINT_PAGES: i64 = 10_000;

/// What the writer can be asked besides storing messages: the journal mode and
/// `synchronous` level it runs with.
type Durability = oneshot::Sender<Result<(String, i64)>>;

/// Handle to the writer thread; cheap to clone. The thread ends when every handle is
/// dropped and the queue is empty.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: queue::Jobs<Durability>,
}

impl Writer {
    /// Opens the writer's own connection to `path` and starts its thread.
    pub fn start(path: &str, feed: Option<CommitFeed>, queue_depth: usize) -> anyhow::Result<Self> {
        let connection = open(path)?;
        let (jobs, queue) = queue::channel(queue_depth);
        std::thread::Builder::new()
            .name("orderchat-writer".into())
            .spawn(move || run(connection, queue, feed))?;
        Ok(Self { jobs })
    }

    /// Queues the message before returning (see `Store::insert_message`).
    pub fn insert(&self, message: NewMessage, reply: Reply) {
        self.jobs.insert(message, reply)
    }

    pub async fn durability(&self) -> Result<(String, i64)> {
        self.jobs.ask(|reply| reply).await
    }
}

/// The writer's connection: WAL with `synchronous=FULL` (an acknowledged message
/// survives power loss), like every connection of the pool.
///
/// It checkpoints (copies the WAL back into the database file, inside the commit that
/// crosses the threshold) every `CHECKPOINT_PAGES` instead of SQLite's default 1,000:
/// with 100 busy orders one batch dirties ~400 pages (an index leaf per order and per
/// index, the full-text segment, the counters), so the default made every third commit
/// a checkpoint that rewrote the same hot pages again and again; 10,000 took the
/// 100-rooms durable bench from ~16,700 to ~23,000 acks/s (BENCHMARKS.md). A
/// checkpoint never changes what is durable: a commit is durable once its WAL frames
/// are fsynced. Running checkpoints on a thread of their own was tried and was slower:
/// under a load that never pauses they never catch up, so the WAL never starts over.
fn open(path: &str) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)?;
    // The WAL file is reused from its start after a checkpoint; one that grew past
    // this (a long read held it open) is cut back.
    connection.pragma_update(None, "journal_size_limit", 64_i64 << 20)?;
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

fn run(mut connection: Connection, mut queue: Queue<Durability>, feed: Option<CommitFeed>) {
    let mut batch: Vec<(NewMessage, Reply)> = Vec::with_capacity(MAX_BATCH);
    // Blocks this thread (never a runtime worker) until there is work.
    while let Some(first) = queue.blocking_recv() {
        for reply in queue.fill(first, &mut batch) {
            let _ = reply.send(durability(&connection).map_err(Error::internal));
        }
        if batch.is_empty() {
            continue;
        }
        match write_batch(&mut connection, batch.iter().map(|(message, _)| message)) {
            Ok(results) => {
                let committed = queue::answer(&mut batch, results, feed.is_some());
                if let Some(feed) = &feed {
                    for message in committed {
                        if feed.blocking_send(message).is_err() {
                            // Dropping it answers its sender (stored).
                            tracing::debug!("commit feed closed: no events are published any more");
                        }
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, size = batch.len(), "message batch failed to commit");
                for (_, reply) in batch.drain(..) {
                    reply(Err(Error::internal(anyhow::anyhow!("batch commit failed: {err}"))));
                }
            }
        }
    }
    tracing::debug!("message writer stopped");
}

fn durability(connection: &Connection) -> rusqlite::Result<(String, i64)> {
    let journal: String = connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    let synchronous: i64 = connection.pragma_query_value(None, "synchronous", |row| row.get(0))?;
    Ok((journal, synchronous))
}

/// Writes every message in one transaction. A message refused on its own (unknown
/// order) writes nothing and does not sink the others. The outer `Err` means nothing
/// was committed.
fn write_batch<'a>(
    connection: &mut Connection,
    messages: impl Iterator<Item = &'a NewMessage>,
) -> rusqlite::Result<Vec<Result<Inserted>>> {
    // IMMEDIATE takes the write lock up front: a deferred transaction that read first
    // could fail to upgrade while another connection writes, and busy_timeout would not help.
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(MAX_BATCH);
    for message in messages {
        results.push(insert_one(&tx, message)?);
    }
    tx.commit()?;
    Ok(results)
}

fn insert_one(tx: &Transaction<'_>, new: &NewMessage) -> rusqlite::Result<Result<Inserted>> {
    let author_id = new.author.as_ref().map(|a| a.id.as_str());
    if let (Some(client_id), Some(author)) = (&new.client_id, author_id) {
        let earlier = tx
            .prepare_cached(concat!(
                "SELECT ",
                message_columns!(),
                " FROM ",
                messages_with_replies!(),
                " WHERE m.order_id = ?1 AND m.user_id = ?2 AND m.client_id = ?3"
            ))?
            .query_row(
                params![new.order_id.as_str(), author, client_id.as_str()],
                MessageRow::from_sqlite,
            )
            .optional()?;
        if let Some(row) = earlier {
            return Ok(Ok(Inserted {
                message: row.into(),
                duplicate: true,
            }));
        }
    }

    let attachment_ids = (!new.attachments.is_empty()).then(|| attachments::attachment_ids(new));
    if let Some(ids) = &attachment_ids
        && !attachments::claimable(tx, new, ids)?
    {
        return Ok(Err(Error::AttachmentTaken));
    }

    let now = timestamp(chrono::Utc::now());
    let seq: Option<i64> = tx
        .prepare_cached(
            "UPDATE orders SET last_seq = last_seq + 1, last_activity_at = ?1 WHERE id = ?2 RETURNING last_seq",
        )?
        .query_row(params![now, new.order_id.as_str()], |row| row.get(0))
        .optional()?;
    let Some(seq) = seq else {
        return Ok(Err(Error::OrderNotFound));
    };

    let message = Message {
        id: uuid::Uuid::now_v7().to_string(),
        order_id: new.order_id.clone(),
        seq,
        user: new.author.clone(),
        message: new.text.as_str().to_owned(),
        message_type: new.message_type,
        sender_type: new.sender_type,
        attachments: new.attachments.clone(),
        reply_to: new.reply_to.as_ref().map(|quoted| quoted.id.clone()),
        reply_preview: new.reply_to.clone(),
        client_id: new.client_id.as_ref().map(|c| c.as_str().to_owned()),
        created_at: now.clone(),
        updated_at: now,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
    };
    tx.prepare_cached(
        "INSERT INTO messages (id, order_id, seq, user_id, user_name, user_role, body, message_type, \
         sender_type, attachments, reply_to, client_id, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        message.id,
        message.order_id.as_str(),
        seq,
        author_id,
        new.author.as_ref().and_then(|a| a.name.as_deref()),
        new.author.as_ref().map(|a| a.role.as_str()),
        message.message,
        message.message_type.as_str(),
        message.sender_type.as_str(),
        attachments_json(&message),
        message.reply_to,
        message.client_id,
        message.created_at,
        message.updated_at,
    ])?;
    if let Some(ids) = &attachment_ids {
        attachments::claim(tx, ids, &message.id)?;
    }
    Ok(Ok(Inserted {
        message,
        duplicate: false,
    }))
}

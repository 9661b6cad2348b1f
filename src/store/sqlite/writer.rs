//! Group commit: every new message goes through one writer task that takes whatever
//! is queued (up to `MAX_BATCH`), stores it in one transaction and answers each sender
//! only after that transaction committed. Under load one fsync covers many messages;
//! when idle a lone message commits at once. SQLite has one writer anyway, so a single
//! task loses nothing and keeps `seq` assignment free of races: the seq counter lives
//! in the `orders` row and is bumped inside the same transaction as the insert.
//!
//! The queue is filled synchronously (`Writer::insert` queues before it returns its
//! future), so the order of calls is the order of commits; after each commit the new
//! messages go to the commit feed in that same order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;
use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::rows::{MessageRow, message_columns};
use crate::domain::{Message, NewMessage, timestamp};
use crate::error::{Error, Result};
use crate::store::{CommitFeed, Committing, Inserted};

const MAX_BATCH: usize = 256;
/// Messages queued and not yet committed; past this, new ones are refused
/// (`unavailable`) instead of piling up in memory.
const QUEUE_DEPTH: usize = 16_384;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<Inserted>>,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
    queued: Arc<AtomicUsize>,
}

impl Writer {
    pub fn spawn(pool: SqlitePool, feed: Option<CommitFeed>) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(pool, queue, queued.clone(), feed));
        Self { jobs, queued }
    }

    /// Queues the message before returning (see `Store::insert_message`).
    pub fn insert(&self, message: NewMessage) -> Committing {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= QUEUE_DEPTH {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("orderchat_errors_total", "code" => "write_queue_full", "transport" => "store")
                .increment(1);
            return futures::future::ready(Err(Error::Unavailable)).boxed();
        }
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job { message, reply }).is_err() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return futures::future::ready(Err(Error::internal(anyhow::anyhow!("message writer stopped")))).boxed();
        }
        async move {
            answer
                .await
                .map_err(|_| Error::internal(anyhow::anyhow!("message writer dropped a job")))?
        }
        .boxed()
    }
}

async fn run(
    pool: SqlitePool,
    mut queue: mpsc::UnboundedReceiver<Job>,
    queued: Arc<AtomicUsize>,
    feed: Option<CommitFeed>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        queued.fetch_sub(batch.len(), Ordering::AcqRel);
        metrics::histogram!("orderchat_write_batch_size").record(batch.len() as f64);
        let messages: Vec<&NewMessage> = batch.iter().map(|job| &job.message).collect();
        match write_batch(&pool, &messages).await {
            Ok(results) => {
                let mut committed = Vec::new();
                for (job, result) in batch.drain(..).zip(results) {
                    if let (Some(_), Ok(inserted)) = (&feed, &result)
                        && !inserted.duplicate
                    {
                        committed.push(inserted.message.clone());
                    }
                    // The sender may have gone (client disconnected); the message is stored.
                    let _ = job.reply.send(result);
                }
                if let Some(feed) = &feed {
                    for message in committed {
                        if feed.send(message).await.is_err() {
                            tracing::debug!("commit feed closed: no events are published any more");
                        }
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, size = batch.len(), "message batch failed to commit");
                for job in batch.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(Error::internal(anyhow::anyhow!("batch commit failed: {err}"))));
                }
            }
        }
    }
}

/// Writes every message in one transaction. Each message runs in its own savepoint, so
/// one refused message (unknown order) does not sink the others. The outer `Err` means
/// nothing was committed.
async fn write_batch(pool: &SqlitePool, messages: &[&NewMessage]) -> Result<Vec<Result<Inserted>>, sqlx::Error> {
    // IMMEDIATE takes the write lock up front: a deferred transaction that read first
    // could fail to upgrade while another connection writes, and busy_timeout would not help.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(messages.len());
    for message in messages {
        let mut savepoint = sqlx::Acquire::begin(&mut tx).await?;
        match insert_one(&mut savepoint, message).await {
            Ok(inserted) => {
                savepoint.commit().await?;
                results.push(Ok(inserted));
            }
            Err(err) => {
                savepoint.rollback().await?;
                results.push(Err(err));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn insert_one(tx: &mut Transaction<'_, Sqlite>, new: &NewMessage) -> Result<Inserted> {
    let author_id = new.author.as_ref().map(|a| a.id.as_str());
    if let (Some(client_id), Some(author)) = (&new.client_id, author_id) {
        let earlier: Option<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m WHERE m.order_id = ? AND m.user_id = ? AND m.client_id = ?"
        ))
        .bind(new.order_id.as_str())
        .bind(author)
        .bind(client_id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = earlier {
            return Ok(Inserted {
                message: row.into(),
                duplicate: true,
            });
        }
    }

    let now = timestamp(chrono::Utc::now());
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE orders SET last_seq = last_seq + 1, last_activity_at = ? WHERE id = ? RETURNING last_seq",
    )
    .bind(&now)
    .bind(new.order_id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let seq = seq.ok_or(Error::OrderNotFound)?;

    let message = Message {
        id: uuid::Uuid::now_v7().to_string(),
        order_id: new.order_id.clone(),
        seq,
        user: new.author.clone(),
        message: new.text.as_str().to_owned(),
        message_type: new.message_type,
        sender_type: new.sender_type,
        attachments: Vec::new(),
        reply_to: new.reply_to.clone(),
        client_id: new.client_id.as_ref().map(|c| c.as_str().to_owned()),
        created_at: now.clone(),
        updated_at: now,
        edited_at: None,
        deleted: false,
    };
    sqlx::query(
        "INSERT INTO messages (id, order_id, seq, user_id, user_name, user_role, body, message_type, \
         sender_type, attachments, reply_to, client_id, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?)",
    )
    .bind(&message.id)
    .bind(message.order_id.as_str())
    .bind(seq)
    .bind(author_id)
    .bind(new.author.as_ref().and_then(|a| a.name.as_deref()))
    .bind(new.author.as_ref().map(|a| a.role.as_str()))
    .bind(&message.message)
    .bind(message.message_type.as_str())
    .bind(message.sender_type.as_str())
    .bind(&message.reply_to)
    .bind(&message.client_id)
    .bind(&message.created_at)
    .bind(&message.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(Inserted {
        message,
        duplicate: false,
    })
}

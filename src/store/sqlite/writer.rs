//! Group commit: every new message goes through one writer task that takes whatever
//! is queued (up to `MAX_BATCH`), stores it in one transaction and answers each sender
//! only after that transaction committed. Under load one fsync covers many messages;
//! when idle a lone message commits at once. SQLite has one writer anyway, so a single
//! task loses nothing and keeps `seq` assignment free of races: the seq counter lives
//! in the `orders` row and is bumped inside the same transaction as the insert.

use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::rows::{MessageRow, message_columns};
use crate::domain::{Message, NewMessage, timestamp};
use crate::error::{Error, Result};
use crate::store::Inserted;

const MAX_BATCH: usize = 256;
const QUEUE_DEPTH: usize = 4096;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<Inserted>>,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub fn spawn(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(pool, queue));
        Self { jobs }
    }

    pub async fn insert(&self, message: NewMessage) -> Result<Inserted> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { message, reply })
            .await
            .map_err(|_| Error::internal(anyhow::anyhow!("message writer stopped")))?;
        answer
            .await
            .map_err(|_| Error::internal(anyhow::anyhow!("message writer dropped a job")))?
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::histogram!("orderchat_write_batch_size").record(batch.len() as f64);
        let messages: Vec<&NewMessage> = batch.iter().map(|job| &job.message).collect();
        match write_batch(&pool, &messages).await {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    // The sender may have gone (client disconnected); the message is stored.
                    let _ = job.reply.send(result);
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

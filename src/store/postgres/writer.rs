//! Group commit on PostgreSQL: one writer task per process takes whatever is queued (up
//! to `MAX_BATCH`), stores it in ONE transaction of a handful of multi-row statements
//! (`UNNEST` of arrays, however many messages) and answers each sender only after
//! COMMIT returned, with `synchronous_commit=on`, so an acknowledged message is on disk.
//!
//! Several processes ("nodes") may write into the same order at once. What keeps `seq`
//! gapless and unique and `clientId` dedup race-free across them is the order row lock:
//! a batch first locks the `orders` rows it touches (`SELECT … FOR UPDATE`, sorted by id
//! in byte order so two batches always lock in the same order and cannot deadlock),
//! then looks up the client ids already stored, then allocates seqs by bumping
//! `orders.last_seq`, and inserts. Another node's batch for the same order waits for our
//! COMMIT and then sees our rows. The unique indexes stay as the last guard: should one
//! fire anyway (or a deadlock be detected), the batch is retried from the start and then
//! finds the earlier message, so the client gets `duplicate: true`, never a 500.
//!
//! Every other write that changes several counters of an order (deletion, participant
//! changes) also locks the order row first, and a read-pointer move takes a share lock
//! on it; that single rule is the whole lock order.
//!
//! The writer has a connection of its own, outside the read pool, so a burst of reads
//! can never starve it; if that connection breaks, the next batch opens a new one.
//!
//! The queue is filled synchronously (`Writer::insert` queues before it returns its
//! future), so the order of calls is the order of commits; after each commit the new
//! messages go to the commit feed in that same order.

use std::collections::HashMap;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Postgres, Transaction};
use tokio::sync::oneshot;

use super::attachments;
use crate::domain::{Message, NewMessage, timestamp};
use crate::error::{Error, Result};
use crate::store::queue::{self, MAX_BATCH, Queue};
use crate::store::rows::{MessageRow, message_columns, messages_with_replies};
use crate::store::{CommitFeed, Inserted, Reply, attachments_json};

/// How often a batch is tried when it lost a race the order locks should have
/// prevented (a unique key fired, a deadlock or serialization failure).
const ATTEMPTS: usize = 3;

/// What the writer can be asked besides storing messages: a setting of its connection
/// (`synchronous_commit`, which every commit depends on, and the like), by name.
type Setting = (&'static str, oneshot::Sender<Result<String>>);

/// Handle to the writer task; cheap to clone. The task ends when every handle is
/// dropped and the queue is empty.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: queue::Jobs<Setting>,
}

impl Writer {
    /// Opens the writer's own connection (failing now if the database cannot be
    /// reached) and starts its task.
    pub async fn start(
        options: PgConnectOptions,
        feed: Option<CommitFeed>,
        queue_depth: usize,
    ) -> anyhow::Result<Self> {
        // Acks wait for the commit to be flushed, whatever the server's default says.
        let options = options.options([("synchronous_commit", "on")]);
        let connection = PgConnection::connect_with(&options).await?;
        let (jobs, queue) = queue::channel(queue_depth);
        tokio::spawn(run(options, Some(connection), queue, feed));
        Ok(Self { jobs })
    }

    /// Queues the message before returning (see `Store::insert_message`).
    pub fn insert(&self, message: NewMessage, reply: Reply) {
        self.jobs.insert(message, reply)
    }

    /// The setting `name` as the writer's own connection reports it (for
    /// `synchronous_commit`, `on` means every ack waited for the commit to be flushed
    /// to disk).
    pub async fn setting(&self, name: &'static str) -> Result<String> {
        self.jobs.ask(|reply| (name, reply)).await
    }
}

async fn run(
    options: PgConnectOptions,
    mut connection: Option<PgConnection>,
    mut queue: Queue<Setting>,
    feed: Option<CommitFeed>,
) {
    let mut batch: Vec<(NewMessage, Reply)> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        for (name, reply) in queue.fill(first, &mut batch) {
            let setting = setting(&options, &mut connection, name).await;
            let _ = reply.send(setting.map_err(Error::from));
        }
        if batch.is_empty() {
            continue;
        }
        let messages: Vec<&NewMessage> = batch.iter().map(|(message, _)| message).collect();
        match commit(&options, &mut connection, &messages).await {
            Ok(results) => {
                let committed = queue::answer(&mut batch, results, feed.is_some());
                if let Some(feed) = &feed {
                    for message in committed {
                        if feed.send(message).await.is_err() {
                            // Dropping it answers its sender (stored).
                            tracing::debug!("commit feed closed: no events are published any more");
                        }
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, size = batch.len(), "message batch failed to commit");
                let unavailable = connection_lost(&err) || connection.is_none();
                for (_, reply) in batch.drain(..) {
                    let answer = if unavailable {
                        Error::Unavailable("the database is unavailable")
                    } else {
                        Error::internal(anyhow::anyhow!("batch commit failed: {err}"))
                    };
                    reply(Err(answer));
                }
            }
        }
    }
    tracing::debug!("message writer stopped");
}

async fn setting(
    options: &PgConnectOptions,
    connection: &mut Option<PgConnection>,
    name: &str,
) -> sqlx::Result<String> {
    let live = match connection {
        Some(live) => live,
        None => connection.insert(PgConnection::connect_with(options).await?),
    };
    sqlx::query_scalar("SELECT current_setting($1)")
        .bind(name)
        .fetch_one(live)
        .await
}

/// Commits the batch, reconnecting if the connection is gone and retrying a batch that
/// lost a race (see the module doc). The outer `Err` means nothing was committed, or, if
/// the connection broke after COMMIT was sent, that we cannot know: such a batch is
/// answered `unavailable` and never retried here, since a retry could store its
/// messages twice (a client that retries with its `clientId` is safe either way).
async fn commit(
    options: &PgConnectOptions,
    connection: &mut Option<PgConnection>,
    messages: &[&NewMessage],
) -> sqlx::Result<Vec<Result<Inserted>>> {
    let mut attempt = 1;
    let mut reconnected = false;
    loop {
        let live = match connection {
            Some(live) => live,
            None => {
                reconnected = true;
                connection.insert(PgConnection::connect_with(options).await?)
            }
        };
        let outcome = match live.begin().await {
            Ok(tx) => write_batch(tx, messages).await.map_err(|err| (false, err)),
            Err(err) => Err((true, err)),
        };
        match outcome {
            Ok(results) => return Ok(results),
            // A connection the server closed while we were idle (a restart, a failover)
            // fails at BEGIN, before anything of the batch was sent: reconnect once.
            Err((true, err)) if connection_lost(&err) && !reconnected => {
                tracing::warn!(error = %err, "message writer lost its connection, reconnecting");
                *connection = None;
            }
            Err((_, err)) if attempt < ATTEMPTS && lost_a_race(&err) => {
                tracing::warn!(error = %err, attempt, "message batch lost a race, retrying");
                attempt += 1;
            }
            Err((_, err)) => {
                if connection_lost(&err) {
                    *connection = None;
                }
                return Err(err);
            }
        }
    }
}

/// The connection is gone or going (see `database_unreachable`).
pub(super) fn connection_lost(err: &sqlx::Error) -> bool {
    crate::error::database_unreachable(err)
}

/// Unique violation, serialization failure or deadlock: the batch can simply run again.
fn lost_a_race(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| matches!(code.as_ref(), "23505" | "40001" | "40P01"))
}

/// (order, author, clientId): what makes a message a repeat of an earlier one.
type DedupKey = (String, String, String);

fn dedup_key(message: &NewMessage) -> Option<DedupKey> {
    match (&message.author, &message.client_id) {
        (Some(author), Some(client_id)) => Some((
            message.order_id.as_str().to_owned(),
            author.id.as_str().to_owned(),
            client_id.as_str().to_owned(),
        )),
        _ => None,
    }
}

/// Writes every message in one transaction. A message refused on its own (unknown
/// order) writes nothing and does not sink the others.
async fn write_batch(
    mut tx: Transaction<'_, Postgres>,
    messages: &[&NewMessage],
) -> sqlx::Result<Vec<Result<Inserted>>> {
    let mut order_ids: Vec<&str> = messages.iter().map(|m| m.order_id.as_str()).collect();
    order_ids.sort_unstable();
    order_ids.dedup();
    // Byte order (COLLATE "C") is the lock order every node uses.
    let locked: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, last_seq FROM orders WHERE id = ANY($1) ORDER BY id COLLATE \"C\" FOR UPDATE")
            .bind(&order_ids)
            .fetch_all(&mut *tx)
            .await?;
    let mut last_seq: HashMap<String, i64> = locked.into_iter().collect();

    let mut earlier = earlier_messages(&mut tx, messages).await?;

    let now = timestamp(chrono::Utc::now());
    let mut results = Vec::with_capacity(messages.len());
    let mut fresh: Vec<Message> = Vec::new();
    for new in messages {
        let Some(seq) = last_seq.get_mut(new.order_id.as_str()) else {
            results.push(Err(Error::OrderNotFound));
            continue;
        };
        let key = dedup_key(new);
        if let Some(message) = key.as_ref().and_then(|key| earlier.get(key)) {
            results.push(Ok(Inserted {
                message: message.clone(),
                duplicate: true,
            }));
            continue;
        }
        let id = uuid::Uuid::now_v7().to_string();
        if !new.attachments.is_empty() && !attachments::claim(&mut tx, new, &id).await? {
            results.push(Err(Error::AttachmentTaken));
            continue;
        }
        *seq += 1;
        let message = Message {
            id,
            order_id: new.order_id.clone(),
            seq: *seq,
            user: new.author.clone(),
            message: new.text.as_str().to_owned(),
            message_type: new.message_type,
            sender_type: new.sender_type,
            attachments: new.attachments.clone(),
            reply_to: new.reply_to.as_ref().map(|quoted| quoted.id.clone()),
            reply_preview: new.reply_to.clone(),
            client_id: new.client_id.as_ref().map(|c| c.as_str().to_owned()),
            created_at: now.clone(),
            updated_at: now.clone(),
            edited_at: None,
            deleted: false,
        };
        if let Some(key) = key {
            // A repeat later in this same batch gets this message.
            earlier.insert(key, message.clone());
        }
        fresh.push(message.clone());
        results.push(Ok(Inserted {
            message,
            duplicate: false,
        }));
    }

    if !fresh.is_empty() {
        insert_messages(&mut tx, &fresh).await?;
        let touched: Vec<(&str, i64)> = last_seq.iter().map(|(id, seq)| (id.as_str(), *seq)).collect();
        let (ids, seqs): (Vec<&str>, Vec<i64>) = touched.into_iter().unzip();
        sqlx::query(
            "UPDATE orders o SET last_seq = n.last_seq, last_activity_at = $3 \
             FROM UNNEST($1::text[], $2::int8[]) AS n (id, last_seq) \
             WHERE o.id = n.id AND o.last_seq <> n.last_seq",
        )
        .bind(&ids)
        .bind(&seqs)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        count_unread(&mut tx, &fresh).await?;
    }
    tx.commit().await?;
    Ok(results)
}

/// The messages already stored under the client ids of this batch (read under the
/// order locks, so no other node can add one before we commit).
async fn earlier_messages(
    tx: &mut Transaction<'_, Postgres>,
    messages: &[&NewMessage],
) -> sqlx::Result<HashMap<DedupKey, Message>> {
    let keys: Vec<DedupKey> = messages.iter().filter_map(|m| dedup_key(m)).collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut orders = Vec::with_capacity(keys.len());
    let mut users = Vec::with_capacity(keys.len());
    let mut clients = Vec::with_capacity(keys.len());
    for (order, user, client) in &keys {
        orders.push(order.as_str());
        users.push(user.as_str());
        clients.push(client.as_str());
    }
    let rows: Vec<MessageRow> = sqlx::query_as(concat!(
        "SELECT DISTINCT ",
        message_columns!(),
        " FROM ",
        messages_with_replies!(),
        " JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k (order_id, user_id, client_id) \
         ON m.order_id = k.order_id AND m.user_id = k.user_id AND m.client_id = k.client_id"
    ))
    .bind(&orders)
    .bind(&users)
    .bind(&clients)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(Message::from)
        .filter_map(|message| {
            let key = (
                message.order_id.as_str().to_owned(),
                message.author()?.as_str().to_owned(),
                message.client_id.clone()?,
            );
            Some((key, message))
        })
        .collect())
}

/// One multi-row INSERT for the whole batch.
async fn insert_messages(tx: &mut Transaction<'_, Postgres>, fresh: &[Message]) -> sqlx::Result<()> {
    let column = |f: fn(&Message) -> Option<&str>| fresh.iter().map(f).collect::<Vec<Option<&str>>>();
    let ids = column(|m| Some(m.id.as_str()));
    let orders = column(|m| Some(m.order_id.as_str()));
    let seqs: Vec<i64> = fresh.iter().map(|m| m.seq).collect();
    let user_ids = column(|m| m.user.as_ref().map(|u| u.id.as_str()));
    let user_names = column(|m| m.user.as_ref().and_then(|u| u.name.as_deref()));
    let user_roles = column(|m| m.user.as_ref().map(|u| u.role.as_str()));
    let bodies = column(|m| Some(m.message.as_str()));
    let message_types = column(|m| Some(m.message_type.as_str()));
    let sender_types = column(|m| Some(m.sender_type.as_str()));
    let attachments: Vec<String> = fresh.iter().map(attachments_json).collect();
    let reply_tos = column(|m| m.reply_to.as_deref());
    let client_ids = column(|m| m.client_id.as_deref());
    let created = column(|m| Some(m.created_at.as_str()));
    sqlx::query(
        "INSERT INTO messages (id, order_id, seq, user_id, user_name, user_role, body, message_type, \
         sender_type, reply_to, client_id, created_at, updated_at, attachments) \
         SELECT id, order_id, seq, user_id, user_name, user_role, body, message_type, sender_type, reply_to, \
           client_id, created_at, created_at, attachments \
         FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], \
           $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[]) \
           AS n (id, order_id, seq, user_id, user_name, user_role, body, message_type, sender_type, reply_to, \
           client_id, created_at, attachments)",
    )
    .bind(&ids)
    .bind(&orders)
    .bind(&seqs)
    .bind(&user_ids)
    .bind(&user_names)
    .bind(&user_roles)
    .bind(&bodies)
    .bind(&message_types)
    .bind(&sender_types)
    .bind(&reply_tos)
    .bind(&client_ids)
    .bind(&created)
    .bind(&attachments)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds the batch's new messages to the unread counters of everyone else whose read
/// pointer is below them, in one statement.
async fn count_unread(tx: &mut Transaction<'_, Postgres>, fresh: &[Message]) -> sqlx::Result<()> {
    let orders: Vec<&str> = fresh.iter().map(|m| m.order_id.as_str()).collect();
    let seqs: Vec<i64> = fresh.iter().map(|m| m.seq).collect();
    let authors: Vec<Option<&str>> = fresh.iter().map(|m| m.author().map(|u| u.as_str())).collect();
    sqlx::query(
        "UPDATE read_pointers rp SET unread = rp.unread + n.count \
         FROM (SELECT r.order_id, r.user_id, COUNT(*) AS count FROM read_pointers r \
               JOIN UNNEST($1::text[], $2::int8[], $3::text[]) AS m (order_id, seq, user_id) \
                 ON r.order_id = m.order_id AND r.seq < m.seq AND r.user_id IS DISTINCT FROM m.user_id \
               GROUP BY r.order_id, r.user_id) AS n \
         WHERE rp.order_id = n.order_id AND rp.user_id = n.user_id",
    )
    .bind(&orders)
    .bind(&seqs)
    .bind(&authors)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

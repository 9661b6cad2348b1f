//! Storage behind one narrow trait with two backends, the embedded SQLite (one process)
//! and PostgreSQL (any number of processes on one database). SQL lives in the backends
//! and nowhere else; the use cases in `chat/` speak only this trait.
//!
//! Queries are runtime-checked (`sqlx::query_as`), not `query!` macros: the macros
//! check against one database at compile time and cannot target SQLite and
//! PostgreSQL from one crate, and they would make every build need a live database.
//! The backends are instead held to one shared behaviour by the test suite
//! (`tests/store/`, every test on both).

mod notifications;
mod postgres;
mod push_outbox;
mod queue;
mod rows;
mod sqlite;

use async_trait::async_trait;

use crate::domain::{Emoji, Message, MessageText, NewMessage, Order, OrderId, Participant, Seq, UserId};
use crate::error::Result;

pub use notifications::{MarkRead, NewNotification, NotificationKind, NotificationWritten, StoredNotification};
pub use postgres::PostgresStore;
pub use push_outbox::{ClaimedPush, PushBatch, PushContent, PushFailure, PushFate, PushOutboxCounts};

/// Messages that may wait for a backend's writer when no other limit is configured.
pub const DEFAULT_WRITE_QUEUE: usize = 16_384;
pub use sqlite::{SqliteStore, fts5_expression};

/// A message after `insert_message`: either newly stored, or the earlier message with
/// the same `clientId` from the same user in the same order.
#[derive(Debug, Clone)]
pub struct Inserted {
    pub message: Message,
    pub duplicate: bool,
}

/// The commit of a queued message (see `Store::insert_message`).
pub type Committing = futures::future::BoxFuture<'static, Result<Inserted>>;

/// What is done with a queued message's outcome (see `Store::queue_message`). It may
/// run on the writer's own thread, so it must be quick and must not block.
pub type Reply = Box<dyn FnOnce(Result<Inserted>) + Send>;

/// Where a backend reports every newly stored message, in commit order (per order: in
/// `seq` order), so events can be published in that order whoever asked for the write.
pub type CommitFeed = tokio::sync::mpsc::Sender<Committed>;

/// A newly stored message on the commit feed, with its sender's reply still to make:
/// the feed's reader answers once it has published the message, so an acknowledged
/// message is already on its way to everyone (and, on a Socket.IO connection, the ack
/// leaves in the same write as the sender's own `new-message`).
pub struct Committed {
    pub message: Message,
    /// Taken by `answer`; a `Committed` dropped unanswered (its reader gone) still tells
    /// the sender the truth: stored.
    reply: Option<Reply>,
}

impl Committed {
    pub(crate) fn new(message: Message, reply: Reply) -> Self {
        Self {
            message,
            reply: Some(reply),
        }
    }

    /// Tells the sender that the message is stored.
    pub fn answer(mut self) {
        self.reply_stored();
    }

    fn reply_stored(&mut self) {
        if let Some(reply) = self.reply.take() {
            reply(Ok(Inserted {
                message: self.message.clone(),
                duplicate: false,
            }))
        }
    }
}

impl Drop for Committed {
    fn drop(&mut self) {
        self.reply_stored();
    }
}

/// What `upsert_order` writes.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub id: OrderId,
    pub number: Option<String>,
    pub status: Option<String>,
    pub participants: Vec<Participant>,
}

/// A partial update of an order; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrderChanges {
    pub status: Option<String>,
    pub participants: Option<Vec<Participant>>,
}

/// One row of the caller's chat list.
#[derive(Debug, Clone)]
pub struct ChatSummary {
    pub order: Order,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub last_activity_at: String,
}

/// Whose orders a listing or search covers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every order (staff and service).
    All,
    /// Only orders this user participates in.
    ParticipantOf(UserId),
}

/// A user's read pointer in one order.
#[derive(Debug, Clone)]
pub struct ReadPointer {
    pub user_id: UserId,
    pub seq: Seq,
    pub updated_at: String,
}

/// A page of results with the total count across pages.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// What a user searches for, in no backend's syntax: the words they typed, in order.
/// Every word must match; the last one also matches as the start of a longer word, so
/// results appear while the user is still typing. Each backend turns the words into its
/// own query language and quotes them, so no word can act as an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    whole_words: Vec<String>,
    prefix: String,
}

impl SearchTerms {
    /// The words to search for, without control characters (no database takes a NUL
    /// in a query, and no message holds one); `None` when no word is left (the use case
    /// refuses an empty search before it reaches a store).
    pub fn new<I, S>(words: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut whole_words: Vec<String> = words
            .into_iter()
            .map(|word| word.into().chars().filter(|c| !c.is_control()).collect::<String>())
            .filter(|word| !word.is_empty())
            .collect();
        let prefix = whole_words.pop()?;
        Some(Self { whole_words, prefix })
    }

    /// Every word but the last, each matched whole.
    pub fn whole_words(&self) -> &[String] {
        &self.whole_words
    }

    /// The last word, matched as the start of a word.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// What the database counts about one order's messages (`Store::message_stats`), in one
/// pass over the order's rows: nothing of the history is loaded into the process. Each
/// backend's statement names its columns after these fields.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct MessageStats {
    /// Every stored message, tombstones included (the order's last seq).
    pub total: i64,
    /// `total` split by `senderType`; the three add up to `total`.
    pub by_user: i64,
    pub by_admin: i64,
    pub by_system: i64,
    /// Tombstones among `total`.
    pub deleted: i64,
    /// Attachments referenced by the messages (a tombstone keeps none).
    pub attachments: i64,
    /// `createdAt` of the first and the last message; `None` in an empty chat.
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    /// Customer waits that a staff message answered (see `median_first_response_ms`).
    pub answered_waits: i64,
    /// The median, in milliseconds, of the staff first-response times: a wait starts at
    /// the first `user` message after the chat's start or after the last `admin`
    /// message, and ends at the next `admin` message (`system` messages neither start
    /// nor end one; tombstones count as sent). `None` when no wait was answered.
    pub median_first_response_ms: Option<f64>,
}

/// An upload as the database keeps it (`attachments` table): its metadata, where its
/// bytes are, and the message that took it (`None` until one does).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredAttachment {
    pub id: String,
    pub order_id: String,
    pub uploader_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    /// The object store key of the file, and of its thumbnail if it has one.
    pub object_key: String,
    pub thumbnail_key: Option<String>,
    pub message_id: Option<String>,
    pub created_at: String,
}

/// The columns `StoredAttachment` reads, in both backends' queries; a macro so that
/// queries are built with `concat!` and stay `&'static str`.
macro_rules! attachment_columns {
    () => {
        "id, order_id, uploader_id, file_name, content_type, size, object_key, thumbnail_key, message_id, created_at"
    };
}
pub(crate) use attachment_columns;

/// The `attachments` column of a message (both backends): its attachments as JSON.
pub(crate) fn attachments_json(message: &Message) -> String {
    if message.attachments.is_empty() {
        return "[]".to_owned();
    }
    // Plain strings and numbers: serialising them cannot fail.
    serde_json::to_string(&message.attachments).unwrap_or_else(|_| "[]".to_owned())
}

/// What a user uploaded since a point in time (the daily quota).
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct UploadUsage {
    pub bytes: i64,
    /// `createdAt` of the oldest upload counted, when there is one: the quota frees up
    /// from then on.
    pub oldest_at: Option<String>,
}

/// Where a history query starts.
#[derive(Debug, Clone, Copy)]
pub enum HistoryWindow {
    /// Page `page` (1-based) counted from the newest message.
    Page { page: i64, limit: i64 },
    /// The `limit` messages just below `seq`.
    Before { seq: Seq, limit: i64 },
    /// The `limit` messages just above `seq`.
    After { seq: Seq, limit: i64 },
}

/// The seq range a history window reads and the total it reports, over an order whose
/// messages with seqs in `(floor, last_seq]` are the ones read (seqs are gapless: a
/// deletion leaves a tombstone, and the archive moves a prefix of them, see
/// `archived_seq`). Both backends' `history` and `history_with_archive` read through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeqRange {
    /// Exclusive bounds.
    pub above: Seq,
    pub below: Seq,
    /// Read from the top of the range (pages and `before`) or from its bottom.
    pub newest_first: bool,
    pub limit: i64,
    pub total: i64,
}

impl HistoryWindow {
    pub(crate) fn range(self, last_seq: Seq, floor: Seq) -> SeqRange {
        let floor = floor.clamp(0, last_seq);
        match self {
            HistoryWindow::Page { page, limit } => {
                let top = last_seq.saturating_sub((page - 1).saturating_mul(limit));
                SeqRange {
                    above: top.saturating_sub(limit).max(floor),
                    below: top.saturating_add(1),
                    newest_first: true,
                    limit,
                    total: last_seq - floor,
                }
            }
            HistoryWindow::Before { seq, limit } => SeqRange {
                above: floor,
                below: seq,
                newest_first: true,
                limit,
                total: (seq.saturating_sub(1).clamp(0, last_seq) - floor).max(0),
            },
            HistoryWindow::After { seq, limit } => SeqRange {
                above: seq.max(floor),
                below: Seq::MAX,
                newest_first: false,
                limit,
                total: last_seq.saturating_sub(seq.max(floor)).max(0),
            },
        }
    }
}

/// What the archive moves (see `Store::archive_batch`).
#[derive(Debug, Clone)]
pub struct ArchiveRule {
    /// Messages created before this (RFC 3339) move.
    pub created_before: String,
    /// All messages of an order move when its status is one of these (lower case)...
    pub closed_statuses: Vec<String>,
    /// ...and it took that status before this (RFC 3339).
    pub closed_before: String,
}

/// What one archive batch moved (or, in a dry run, would move).
#[derive(Debug, Clone, Default)]
pub struct ArchiveBatch {
    /// Messages per order, in order id order.
    pub orders: Vec<(OrderId, i64)>,
    /// Where the next batch starts (after this order id).
    pub cursor: Option<OrderId>,
    /// No order after `cursor` has anything to move: the run is over.
    pub done: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    /// Flushes and closes; called once at shutdown.
    async fn close(&self);

    /// Creates or replaces an order and its participants. Returns the order and whether
    /// it was created.
    async fn upsert_order(&self, record: OrderRecord) -> Result<(Order, bool)>;

    /// Applies `changes`; `None` if the order does not exist.
    async fn update_order(&self, id: &OrderId, changes: OrderChanges) -> Result<Option<Order>>;

    async fn order(&self, id: &OrderId) -> Result<Option<Order>>;

    /// The last committed seq of each of `orders` that exists, in one query (callers
    /// batch: at most a few hundred ids per call).
    async fn last_seqs(&self, orders: &[OrderId]) -> Result<Vec<(OrderId, Seq)>>;

    /// The orders a user participates in, with their status.
    async fn orders_of(&self, user: &UserId) -> Result<Vec<(OrderId, Option<String>)>>;

    /// Queues a message for storage **now**, in call order, and returns the future of
    /// its commit: once that resolves the message is durably stored with the next `seq`
    /// of its order. Queue order is commit order, so one connection's sends, queued one
    /// after another, are stored in the order they were sent. Dropping the future does
    /// not withdraw the message. Fails with `OrderNotFound` for an unknown order, and
    /// with `Unavailable` when the queue is full.
    fn insert_message(&self, message: NewMessage) -> Committing {
        let (sender, answer) = tokio::sync::oneshot::channel();
        self.queue_message(
            message,
            Box::new(move |result| {
                let _ = sender.send(result);
            }),
        );
        Box::pin(async move { answer.await.map_err(|_| queue::stopped())? })
    }

    /// `insert_message` with a callback instead of a future: `reply` gets the outcome
    /// (a refusal at once, in this call). With a commit feed, a newly stored message is
    /// answered by the feed's reader once it has published it (`Committed`); a
    /// duplicate or a failure is answered by the writer.
    fn queue_message(&self, message: NewMessage, reply: Reply);

    async fn message(&self, id: &str) -> Result<Option<Message>>;

    /// History of one order, always chronological. For `Page`, `total` counts the whole
    /// order; for cursors, `total` is the number of messages beyond the cursor.
    async fn history(&self, order: &OrderId, window: HistoryWindow) -> Result<Page<Message>>;

    /// Counts, activity bounds and the median staff first-response time of one order's
    /// messages (see `MessageStats`); all zero for an order without messages.
    async fn message_stats(&self, order: &OrderId) -> Result<MessageStats>;

    /// The messages that reply to message `id`, in `seq` order: up to `limit` of those
    /// with a seq above `after`. `total` is the number of replies above `after`.
    async fn replies(&self, id: &str, after: Seq, limit: i64) -> Result<Page<Message>>;

    /// Mutes (`true`) or unmutes `order` for `user`; either twice changes nothing.
    async fn set_muted(&self, order: &OrderId, user: &UserId, muted: bool) -> Result<()>;

    /// The users who muted `order`, in one read (once per notification flush, not per
    /// recipient).
    async fn muted_users(&self, order: &OrderId) -> Result<Vec<UserId>>;

    /// Records an upload (no message references it yet).
    async fn insert_attachment(&self, attachment: &StoredAttachment) -> Result<()>;

    async fn attachment(&self, id: &str) -> Result<Option<StoredAttachment>>;

    /// Bytes `user` uploaded since `since` (an RFC 3339 timestamp), uploads deleted
    /// since not counted.
    async fn upload_usage(&self, user: &UserId, since: &str) -> Result<UploadUsage>;

    /// Deletes up to `limit` uploads created before `before` that no message took, and
    /// returns them (their objects are the caller's to delete). A message that takes one
    /// at the same time either gets it (and it is not deleted) or is refused.
    async fn delete_unreferenced_attachments(&self, before: &str, limit: i64) -> Result<Vec<StoredAttachment>>;

    /// Deletes the upload rows of message `id` and returns them (their objects are the
    /// caller's to delete).
    async fn delete_attachments_of(&self, message_id: &str) -> Result<Vec<StoredAttachment>>;

    /// Turns a message into a tombstone: its text, attachments and reactions are gone.
    async fn delete_message(&self, id: &str) -> Result<Message>;

    async fn edit_message(&self, id: &str, text: &MessageText) -> Result<Message>;

    /// Adds `user`'s reaction with `emoji` to message `id` and rewrites the message's
    /// reaction summary in the same transaction. Returns the message as it then stands
    /// and whether anything changed (the same reaction again changes nothing). Fails
    /// with `MessageNotFound`, with `MessageDeleted` for a tombstone, and with
    /// `TooManyReactions` when `emoji` would be the message's
    /// `MAX_REACTION_EMOJIS + 1`th distinct emoji.
    async fn add_reaction(&self, id: &str, user: &UserId, emoji: &Emoji) -> Result<(Message, bool)>;

    /// Removes `user`'s reaction with `emoji` from message `id`, as `add_reaction`
    /// adds one; removing a reaction that is not there changes nothing.
    async fn remove_reaction(&self, id: &str, user: &UserId, emoji: &Emoji) -> Result<(Message, bool)>;

    /// Moves a user's read pointer forward to `seq` (clamped to the order's last seq;
    /// never backwards) and returns where it now stands and the user's unread count.
    async fn mark_read_up_to(&self, order: &OrderId, user: &UserId, seq: Seq) -> Result<(Seq, i64)>;

    async fn read_pointers(&self, order: &OrderId) -> Result<Vec<ReadPointer>>;

    /// Messages above the user's read pointer, not sent by the user, not deleted. Kept
    /// as a counter per participant, updated in the same transaction as every insert,
    /// deletion and pointer move, so reading it costs the same however long the chat.
    async fn unread_count(&self, order: &OrderId, user: &UserId) -> Result<i64>;

    /// The unread counters of everyone who has one in the order (every participant).
    async fn unread_counts(&self, order: &OrderId) -> Result<Vec<(UserId, i64)>>;

    /// The chat list of `viewer`, most recent activity first.
    async fn order_chats(&self, scope: &Scope, viewer: &UserId, page: i64, limit: i64) -> Result<Page<ChatSummary>>;

    /// Full-text search over messages that are not deleted, best match first (ties:
    /// newest first). `order` narrows it to one order; `scope` to the orders a user may
    /// see. `total` counts every match across pages.
    async fn search(
        &self,
        scope: &Scope,
        order: Option<&OrderId>,
        terms: &SearchTerms,
        page: i64,
        limit: i64,
    ) -> Result<Page<Message>>;

    // Push webhook outbox (`push_outbox.rs`).

    /// Queues a push for each of `batch.users` in one statement, except those who muted
    /// the order: into the user's entry for the order that was never attempted, if there
    /// is one (count added, the latest message's fields taken), else into a new entry
    /// with a new idempotency key, due at `batch.first_attempt_ms`.
    async fn queue_pushes(&self, batch: PushBatch<'_>) -> Result<()>;

    /// Claims up to `limit` due entries, each the oldest live entry of its user and
    /// order (so one is in flight per user and order): counts the attempt and makes the
    /// entry due again only at `lease_until_ms`, so nobody else claims it meanwhile and a
    /// sender that dies leaves it due again once the lease ends.
    async fn claim_pushes(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<ClaimedPush>>;

    /// Removes a delivered entry; the next entry of its user and order may go.
    async fn push_delivered(&self, idempotency_key: &str) -> Result<()>;

    /// Records a failed attempt: the entry is due again at `retry_at_ms`, or is a dead
    /// letter if it is too old.
    async fn push_failed(&self, failure: PushFailure<'_>) -> Result<PushFate>;

    /// When the next entry may be claimed (unix milliseconds), if any is live.
    async fn next_push_due(&self) -> Result<Option<i64>>;

    async fn push_outbox_counts(&self) -> Result<PushOutboxCounts>;

    /// Deletes up to `limit` dead letters queued before `queued_before_ms`; returns how
    /// many.
    async fn delete_dead_pushes(&self, queued_before_ms: i64, limit: i64) -> Result<u64>;

    // Notifications (stored per user; `store/notifications.rs`).

    /// Stores a flush's notifications, of every order and recipient at once, in one
    /// transaction (see `NewNotification`); `at` is their `updatedAt` (and `createdAt`
    /// when new). Each written row gets a new position, above every earlier one. At most
    /// one `NewMessage` row per user and order.
    async fn store_notifications(&self, at: &str, rows: &[NewNotification]) -> Result<Vec<NotificationWritten>>;

    /// Up to `limit` of the user's notifications, newest (highest position) first,
    /// below position `below` when given, only unread ones when `unread_only`.
    async fn notifications(
        &self,
        user: &UserId,
        below: Option<i64>,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<StoredNotification>>;

    /// Marks the user's notifications `which` selects as read at `at` (those already
    /// read stay as they were); returns how many changed.
    async fn mark_notifications_read(&self, user: &UserId, which: &MarkRead, at: &str) -> Result<u64>;

    /// Deletes up to `limit` notifications last updated before `before` (RFC 3339);
    /// returns how many.
    async fn delete_notifications_before(&self, before: &str, limit: i64) -> Result<u64>;

    // Archiving (issue 9, SPEC §7).

    /// Moves (unless `dry_run`) messages that `rule` says are due out of the hot
    /// tables into the archive, for orders after `after` (by id): at most `limit`
    /// messages, each order's share in a short transaction of its own, so the message
    /// writer waits at most one such transaction. A dry run changes nothing and reports,
    /// for up to `limit` orders, everything each would move. Order-level state (last
    /// seq, unread counters, read pointers) and reactions and attachment rows stay.
    async fn archive_batch(
        &self,
        rule: &ArchiveRule,
        after: Option<&OrderId>,
        limit: i64,
        dry_run: bool,
    ) -> Result<ArchiveBatch>;

    /// An archived message (read-only; `message` reads only hot ones).
    async fn archived_message(&self, id: &str) -> Result<Option<Message>>;

    /// `history` over hot and archived messages together, in seq order, with the
    /// windows and totals of an order that was never archived.
    async fn history_with_archive(&self, order: &OrderId, window: HistoryWindow) -> Result<Page<Message>>;

    /// Sets `createdAt` of the order's hot messages with seq up to `up_to` to
    /// `created_at` (RFC 3339): what tests, benchmarks and imports of old chats use to
    /// have messages that are due for the archive without waiting. Returns how many.
    #[doc(hidden)]
    async fn backdate_messages(&self, order: &OrderId, up_to: Seq, created_at: &str) -> Result<u64>;

    /// Sets when the order's status last changed (as `backdate_messages`).
    #[doc(hidden)]
    async fn backdate_status_change(&self, order: &OrderId, at: &str) -> Result<()>;
}

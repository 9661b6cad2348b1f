//! The queue in front of a backend's message writer (both backends have one writer
//! that commits whatever is queued as one batch): admission with a bounded depth,
//! collecting a batch, and answering its senders.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::{Committed, Inserted, Reply};
use crate::domain::NewMessage;
use crate::error::{Error, Result};

/// Most messages one batch (one transaction) takes.
pub(super) const MAX_BATCH: usize = 256;

/// What a writer receives: a message to store, or a backend's question `Q` about its
/// own connection (answered between batches).
pub(super) enum Job<Q> {
    Insert { message: NewMessage, reply: Reply },
    Ask(Q),
}

/// The sending side; cheap to clone.
pub(super) struct Jobs<Q> {
    sender: mpsc::UnboundedSender<Job<Q>>,
    /// Messages queued and not yet taken into a batch; past `depth`, new ones are
    /// refused (`unavailable`) instead of piling up in memory.
    queued: Arc<AtomicUsize>,
    depth: usize,
}

impl<Q> Clone for Jobs<Q> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
            queued: self.queued.clone(),
            depth: self.depth,
        }
    }
}

/// The writer's side.
pub(super) struct Queue<Q> {
    receiver: mpsc::UnboundedReceiver<Job<Q>>,
    queued: Arc<AtomicUsize>,
}

pub(super) fn channel<Q>(depth: usize) -> (Jobs<Q>, Queue<Q>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let jobs = Jobs {
        sender,
        queued: queued.clone(),
        depth: depth.max(1),
    };
    (jobs, Queue { receiver, queued })
}

impl<Q> Jobs<Q> {
    /// Queues the message before returning (see `Store::queue_message`); a refusal is
    /// answered at once.
    pub fn insert(&self, message: NewMessage, reply: Reply) {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.depth {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("orderchat_errors_total", "code" => "write_queue_full", "transport" => "store")
                .increment(1);
            return reply(Err(Error::Unavailable(
                "the server is busy: too many messages waiting to be stored",
            )));
        }
        if let Err(mpsc::error::SendError(job)) = self.sender.send(Job::Insert { message, reply }) {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            if let Job::Insert { reply, .. } = job {
                reply(Err(stopped()));
            }
        }
    }

    /// Asks the writer something about its connection.
    pub async fn ask<T>(&self, question: impl FnOnce(oneshot::Sender<Result<T>>) -> Q) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(Job::Ask(question(reply))).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl<Q> Queue<Q> {
    /// Waits for the next job (`None` once every sender is gone and the queue is empty).
    pub async fn recv(&mut self) -> Option<Job<Q>> {
        self.receiver.recv().await
    }

    /// `recv` for a writer on a thread of its own (never a runtime worker).
    pub fn blocking_recv(&mut self) -> Option<Job<Q>> {
        self.receiver.blocking_recv()
    }

    /// Puts `first` and whatever else is queued (up to `MAX_BATCH` messages) into
    /// `batch`, and returns the questions met on the way, for the writer to answer.
    pub fn fill(&mut self, first: Job<Q>, batch: &mut Vec<(NewMessage, Reply)>) -> Vec<Q> {
        let mut questions = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Insert { message, reply } => batch.push((message, reply)),
                Job::Ask(question) => questions.push(question),
            }
            if batch.len() < MAX_BATCH {
                next = self.receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            self.queued.fetch_sub(batch.len(), Ordering::AcqRel);
            metrics::histogram!("orderchat_write_batch_size").record(batch.len() as f64);
        }
        questions
    }
}

/// Answers the senders of a committed batch whose answer does not wait for the commit
/// feed (the sender may have gone: the message is stored all the same), and returns the
/// newly stored messages, in commit order, for the feed to publish and answer. Without
/// a feed, every sender is answered here.
pub(super) fn answer(
    batch: &mut Vec<(NewMessage, Reply)>,
    results: Vec<Result<Inserted>>,
    feed: bool,
) -> Vec<Committed> {
    let mut committed = Vec::new();
    for ((_, reply), result) in batch.drain(..).zip(results) {
        match result {
            Ok(inserted) if feed && !inserted.duplicate => committed.push(Committed::new(inserted.message, reply)),
            result => reply(result),
        }
    }
    committed
}

pub(super) fn stopped() -> Error {
    Error::internal(anyhow::anyhow!("message writer stopped"))
}

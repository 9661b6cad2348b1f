//! `new-message` to this node's connections: each order's messages in `seq` order, each
//! message once, whether it comes live or in a join's catch-up (SPEC §3, §5).
//!
//! Every order with a connection of this node in its room has a *line*: its reorder
//! buffer (`reorder.rs`) behind a lock. The line is the one ordering point of the order
//! on this node: the messages are handed to the room's connections under its lock, and
//! a connection joins the room under it too. So a join knows exactly which messages the
//! room has had without it (those up to the line's last delivered seq: its catch-up
//! returns them) and which it will get live (every later one) — nothing twice, nothing
//! missing. Lines are made by joins only (a join is the only way into an order's room),
//! so a message for an order without a line has nobody to go to here and costs a map
//! lookup; a line whose room has emptied is forgotten by [`Deliveries::sweep`].
//!
//! Where messages come from:
//! - **One node.** The commit feed, in commit order, so the line is never out of order;
//!   it only tells joins where they stand.
//! - **Several nodes.** This node's own commits (handed over directly by its publisher)
//!   and the other nodes' (from Redis, `cluster/messages.rs`), which interleave in any
//!   order: the line holds a message until the seqs before it are there. A gap that is
//!   still open after `GAP_WAIT` (a node died between commit and publish, Redis dropped
//!   a message or was down) is filled from the shared database by
//!   [`Deliveries::fill_gaps`]; a seq the database no longer has is skipped.
//!
//! A client that comes back from another node with `sinceSeq` may have had messages
//! this node's line has not delivered yet (they are on their way, or Redis lost them):
//! the join first reads those from the store and delivers them to the room
//! ([`Deliveries::bring_up`]), so they do not reach the client again after it joins.
//!
//! `message-updated` and `message-deleted` go through the line too (`delivery/changes.rs`):
//! one for a message the line has not delivered yet (held behind a gap, or another
//! node's message still on its way) waits in the line until that message has gone out,
//! so no connection hears of a change to a message before the message itself.
//!
//! After a Redis outage ([`Deliveries::recheck`]): what other nodes committed meanwhile
//! never arrives, and no later message may come to reveal the gap. So when Redis is back
//! every line is compared with the order's last committed seq (one store read per
//! `RECHECK_BATCH` orders, not one per order), and a line that is behind has that gap
//! filled at once by the gap filler, like any other.
//!
//! A new line does not know where it starts. The join that made it joins the room, then
//! reads the order's last committed seq `L`: messages up to `L` are in the database, so
//! its catch-up returns them, and the line delivers from `L + 1` on. Messages that
//! arrived in between were held and are delivered then (or dropped, if `≤ L`).
//!
//! Cost and bounds: per message, one map lookup and an uncontended lock; a message that
//! is next in line is serialised straight from the commit feed (not copied) or sent as
//! the JSON its node encoded, and only a held one is kept. No database read on this
//! path and nothing per recipient. A line holds at most `MAX_HELD` messages, and lines
//! exist only for orders someone on this node has joined.

use std::collections::HashSet;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use tokio::sync::{Mutex, Notify};

use self::changes::{HeldChange, release_changes};
use super::broadcast::{emit_to, message_payload};
use super::namespace;
use super::reorder::{GAP_WAIT, Offer, Reorder};
use crate::chat::ChatService;
use crate::cluster::AdapterHealth;
use crate::domain::{Message, OrderId, Seq};

/// The most messages one store read fills a gap with.
const FILL_BATCH: i64 = 200;

/// The most orders whose last seq one store read looks up after an outage.
const RECHECK_BATCH: usize = 500;

/// A `new-message` payload: a message of this node's commit feed or of the store,
/// serialised when it is sent, or one a node already encoded once for every node
/// (several nodes).
pub enum Frame {
    Fresh(Box<Message>),
    Encoded(Box<RawValue>),
}

impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Frame::Fresh(message) => message_payload(message).serialize(serializer),
            Frame::Encoded(raw) => raw.serialize(serializer),
        }
    }
}

/// A message handed to [`Deliveries::deliver`]: borrowed from the commit feed (copied
/// only if it must be held), or a frame of its own.
pub enum Incoming<'a> {
    Committed(&'a Message),
    Frame(Frame),
}

impl Incoming<'_> {
    fn into_frame(self) -> Frame {
        match self {
            Incoming::Committed(message) => Frame::Fresh(Box::new(message.clone())),
            Incoming::Frame(frame) => frame,
        }
    }
}

impl Serialize for Incoming<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Incoming::Committed(message) => message_payload(message).serialize(serializer),
            Incoming::Frame(frame) => frame.serialize(serializer),
        }
    }
}

struct Line {
    reorder: Reorder<Frame>,
    /// Edits and deletions of messages not delivered yet, in arrival order: each goes
    /// out once its message has.
    changes: Vec<HeldChange>,
    /// The last seq before the line's first delivery (set by the join that started it):
    /// the catch-up bound of every connection that joined before the start was known.
    started: Option<Seq>,
    /// Forgotten by the sweep: whoever still holds it must look the order up again.
    retired: bool,
}

type SharedLine = Arc<Mutex<Line>>;

/// Where a connection that just joined an order's room stands.
pub enum Entered {
    /// Its catch-up ends at this seq; every later message comes live.
    CaughtUpTo(Seq),
    /// The line does not know yet where it starts: read the order's last committed seq
    /// and call [`Deliveries::start`].
    Starting(StartingLine),
}

/// A line waiting for its start (see [`Entered::Starting`]).
pub struct StartingLine(SharedLine);

/// The lines of this node's orders. Shared by the broadcaster, the join handler, the
/// Redis listener and the gap filler.
#[derive(Default)]
pub struct Deliveries {
    lines: DashMap<OrderId, SharedLine>,
    /// Orders whose line holds messages behind a gap: the gap filler looks only here.
    gapped: SyncMutex<HashSet<OrderId>>,
    gap_found: Notify,
}

impl Deliveries {
    /// Hands message `seq` of `order` to this node's connections in its room (`room`:
    /// this node's connections only), in seq order. Nothing is done for an order
    /// nobody here is in, and a message that is next in line is not copied.
    pub async fn deliver<A: Adapter>(
        &self,
        room: BroadcastOperators<A>,
        health: &AdapterHealth,
        order: &OrderId,
        seq: Seq,
        incoming: Incoming<'_>,
    ) {
        let Some(line) = self.lines.get(order).map(|line| line.clone()) else {
            return;
        };
        let mut line = line.lock().await;
        if line.retired {
            return;
        }
        if line.reorder.take_turn(seq) {
            send(&room, health, &incoming).await;
            send_ready(&mut line, &room, health).await;
            return;
        }
        match line.reorder.offer(seq, incoming.into_frame(), Instant::now) {
            Offer::Deliver(frame) => {
                send(&room, health, &frame).await;
                send_ready(&mut line, &room, health).await;
            }
            Offer::Held => self.note_gap(order),
            Offer::Stale => {}
            Offer::Full => {
                metrics::counter!("orderchat_cluster_errors_total", "kind" => "reorder_full").increment(1);
                self.note_gap(order);
            }
        }
    }

    /// After a Redis outage: compares every line with its order's last committed seq in
    /// the store and hands the lines that are behind to the gap filler, which reads and
    /// delivers the missing messages at once. Returns how many lines were behind.
    pub async fn recheck(&self, chat: &ChatService) -> crate::error::Result<usize> {
        let orders: Vec<OrderId> = self.lines.iter().map(|line| line.key().clone()).collect();
        let mut behind = 0;
        for batch in orders.chunks(RECHECK_BATCH) {
            for (order, last_seq) in chat.committed_last_seqs(batch).await? {
                let Some(shared) = self.lines.get(&order).map(|line| line.clone()) else {
                    continue;
                };
                let mut line = shared.lock().await;
                if !line.retired && line.reorder.behind_store(last_seq) {
                    behind += 1;
                    self.note_gap(&order);
                }
            }
        }
        Ok(behind)
    }

    /// Joins a connection to the order's room at the order's ordering point and says
    /// where its catch-up ends; `None` if it was in the room already. `join` joins it
    /// unless it is in already (and says which). Call with the order's membership lock
    /// held (`ChatService::open_chat`).
    pub async fn enter(&self, order: &OrderId, join: impl FnOnce() -> bool) -> Option<Entered> {
        let mut join = Some(join);
        loop {
            let shared = self.lines.entry(order.clone()).or_insert_with(new_line).clone();
            let line = shared.lock().await;
            if line.retired {
                // Forgotten between the lookup and the lock: take the new one.
                continue;
            }
            if !join.take().is_some_and(|join| join()) {
                return None;
            }
            return Some(match line.reorder.next() {
                Some(next) => Entered::CaughtUpTo(next - 1),
                None => {
                    drop(line);
                    Entered::Starting(StartingLine(shared))
                }
            });
        }
    }

    /// The last seq the order's line has delivered, if that is below `seq`: a client
    /// that has had `seq` elsewhere (another node) joins a line that is behind, and
    /// should not get the messages in between again.
    pub async fn behind(&self, order: &OrderId, seq: Seq) -> Option<Seq> {
        let delivered = self.delivered(order).await?;
        (delivered < seq).then_some(delivered)
    }

    /// Delivers `stored` (read from the store) to the room now, ahead of Redis: a client
    /// about to join says it has had them (see [`Deliveries::behind`]), so the line
    /// must be past them before it joins.
    pub async fn bring_up<A: Adapter>(
        &self,
        room: BroadcastOperators<A>,
        health: &AdapterHealth,
        order: &OrderId,
        stored: Vec<Message>,
    ) {
        let Some(shared) = self.lines.get(order).map(|line| line.clone()) else {
            return;
        };
        let mut line = shared.lock().await;
        if line.retired {
            return;
        }
        let filled = offer_stored(&mut line, &room, health, stored).await;
        metrics::counter!("orderchat_cluster_messages_filled_total").increment(filled);
        if !line.reorder.pending() {
            self.gap_closed(order);
        }
    }

    /// Starts a line at `last_seq`, the order's last committed seq read after the join
    /// (unless another join started it first), and delivers what it held beyond. Returns
    /// where the joined connection's catch-up ends.
    pub async fn start<A: Adapter>(
        &self,
        room: BroadcastOperators<A>,
        health: &AdapterHealth,
        order: &OrderId,
        starting: StartingLine,
        last_seq: Seq,
    ) -> Seq {
        let mut line = starting.0.lock().await;
        if let Some(started) = line.started {
            return started;
        }
        line.started = Some(last_seq);
        line.reorder.start(last_seq);
        // Changes to messages up to the start are in the joining connections' catch-up,
        // which is read after this.
        line.changes.retain(|change| change.seq > last_seq);
        send_ready(&mut line, &room, health).await;
        if line.reorder.held() > 0 {
            self.note_gap(order);
        }
        last_seq
    }

    /// The last seq this node has handed to the order's room (a connection that joined
    /// before now has had every message up to it).
    pub async fn delivered(&self, order: &OrderId) -> Option<Seq> {
        let line = self.lines.get(order).map(|line| line.clone())?;
        let line = line.lock().await;
        line.reorder.next().map(|next| next - 1)
    }

    fn note_gap(&self, order: &OrderId) {
        let mut gapped = self.gapped.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if gapped.insert(order.clone()) {
            self.gap_found.notify_one();
        }
    }

    /// Waits until some line holds messages behind a gap.
    pub async fn gap_found(&self) {
        let pending = self.gap_found.notified();
        tokio::pin!(pending);
        pending.as_mut().enable();
        if self
            .gapped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_empty()
        {
            pending.await;
        }
    }

    /// Reads from the store the messages of every gap older than `GAP_WAIT` and delivers
    /// them (and what they held up); skips seqs the store no longer has.
    pub async fn fill_gaps<A: Adapter>(&self, io: &SocketIo<A>, health: &AdapterHealth, chat: &ChatService) {
        let orders: Vec<OrderId> = self
            .gapped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect();
        let Some(namespace) = namespace(io) else { return };
        for order in orders {
            let room = namespace.clone().local().within(order.room());
            self.fill_gap(room, health, chat, &order).await;
        }
    }

    async fn fill_gap<A: Adapter>(
        &self,
        room: BroadcastOperators<A>,
        health: &AdapterHealth,
        chat: &ChatService,
        order: &OrderId,
    ) {
        let Some(shared) = self.lines.get(order).map(|line| line.clone()) else {
            self.gap_closed(order);
            return;
        };
        let (first, last) = {
            let line = shared.lock().await;
            match line.reorder.gap(Instant::now(), GAP_WAIT) {
                Some(gap) if !line.retired => gap,
                _ => {
                    if line.retired || !line.reorder.pending() {
                        self.gap_closed(order);
                    }
                    return;
                }
            }
        };
        let limit = (last - first + 1).min(FILL_BATCH);
        let messages = match chat.committed_after(order, first - 1, limit).await {
            Ok(messages) => messages,
            Err(err) => {
                tracing::warn!(%order, error = %err, "could not read missing messages: trying again");
                return;
            }
        };
        // Read in full up to here; what the store did not return up to it is gone.
        let covered = if (messages.len() as i64) < limit {
            first + limit - 1
        } else {
            messages.last().map_or(first - 1, |m| m.seq)
        };
        let mut line = shared.lock().await;
        if line.retired {
            return;
        }
        let filled = offer_stored(&mut line, &room, health, messages).await;
        let before = line.reorder.next().unwrap_or(covered + 1);
        line.reorder.skip_to(covered + 1);
        let skipped = line.reorder.next().unwrap_or(before) - before;
        send_ready(&mut line, &room, health).await;
        metrics::counter!("orderchat_cluster_messages_filled_total").increment(filled);
        if skipped > 0 {
            metrics::counter!("orderchat_cluster_messages_skipped_total").increment(skipped as u64);
            tracing::warn!(%order, skipped, "messages missing from the store were skipped");
        }
        if filled > 0 {
            tracing::debug!(%order, filled, "messages that did not arrive in time were read from the store");
        }
        if !line.reorder.pending() {
            self.gap_closed(order);
        }
    }

    fn gap_closed(&self, order: &OrderId) {
        self.gapped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(order);
    }

    /// Forgets the lines of orders nobody on this node is in the room of (`is_empty`
    /// says, checked under the line's lock so no join is under way). A line in use is
    /// left for the next sweep.
    pub fn sweep(&self, is_empty: impl Fn(&OrderId) -> bool) {
        let mut forgotten = Vec::new();
        self.lines.retain(|order, shared| {
            let Ok(mut line) = shared.try_lock() else {
                return true;
            };
            if !is_empty(order) {
                return true;
            }
            line.retired = true;
            forgotten.push(order.clone());
            false
        });
        for order in &forgotten {
            self.gap_closed(order);
        }
    }

    /// How many orders have a line on this node.
    pub fn lines(&self) -> usize {
        self.lines.len()
    }
}

fn new_line() -> SharedLine {
    Arc::new(Mutex::new(Line {
        reorder: Reorder::new(None),
        changes: Vec::new(),
        started: None,
        retired: false,
    }))
}

async fn send<A: Adapter>(room: &BroadcastOperators<A>, health: &AdapterHealth, payload: &impl Serialize) {
    emit_to(health, room.clone(), "new-message", payload).await;
}

/// Offers messages read from the store to the line; returns how many went out then
/// (not counting those they released).
async fn offer_stored<A: Adapter>(
    line: &mut Line,
    room: &BroadcastOperators<A>,
    health: &AdapterHealth,
    stored: Vec<Message>,
) -> u64 {
    let mut filled = 0;
    for message in stored {
        let seq = message.seq;
        if let Offer::Deliver(frame) = line.reorder.offer(seq, Frame::Fresh(Box::new(message)), Instant::now) {
            filled += 1;
            send(room, health, &frame).await;
            send_ready(line, room, health).await;
        }
    }
    filled
}

/// Sends every held message that is next in line, each followed by the changes that
/// waited for it.
async fn send_ready<A: Adapter>(line: &mut Line, room: &BroadcastOperators<A>, health: &AdapterHealth) {
    release_changes(line, room, health).await;
    while let Some(frame) = line.reorder.pop_ready() {
        send(room, health, &frame).await;
        release_changes(line, room, health).await;
    }
}

/// How often the gap filler looks again while some gap is open.
pub const GAP_CHECK: Duration = Duration::from_millis(50);

mod changes;

#[cfg(test)]
mod tests;

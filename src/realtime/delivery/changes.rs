//! `message-updated` and `message-deleted` in an order's line (see `delivery.rs`): a
//! change to a message the line has not delivered yet waits there until it has, so no
//! connection hears of an edit or a deletion before the message itself. Changes are rare
//! next to messages: a line holds few, bounded like its held messages.

use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;

use super::{Deliveries, Frame, Line};
use crate::cluster::AdapterHealth;
use crate::domain::{OrderId, Seq};
use crate::realtime::broadcast::emit_to;
use crate::realtime::reorder::MAX_HELD;

/// A `message-updated` or `message-deleted` waiting for message `seq`.
pub(super) struct HeldChange {
    pub(super) seq: Seq,
    event: &'static str,
    frame: Frame,
}

impl Deliveries {
    /// Hands `event` (`message-updated` or `message-deleted`) about message `seq` of
    /// `order` to this node's connections in its room (`room`: this node's connections
    /// only), never before that message's `new-message`: held in the line until the
    /// message has gone out. Nothing is done for an order nobody here is in.
    pub async fn change<A: Adapter>(
        &self,
        room: BroadcastOperators<A>,
        health: &AdapterHealth,
        order: &OrderId,
        seq: Seq,
        event: &'static str,
        frame: Frame,
    ) {
        let Some(line) = self.lines.get(order).map(|line| line.clone()) else {
            return;
        };
        let mut line = line.lock().await;
        if line.retired {
            return;
        }
        if line.reorder.next().is_some_and(|next| seq < next) {
            emit_to(health, room, event, &frame).await;
            return;
        }
        if line.changes.len() >= MAX_HELD {
            // Bounded like the held messages: better early than never.
            metrics::counter!("orderchat_cluster_errors_total", "kind" => "changes_full").increment(1);
            emit_to(health, room, event, &frame).await;
            return;
        }
        line.changes.push(HeldChange { seq, event, frame });
    }
}

/// Sends the held changes whose message has gone out, in the order they arrived.
pub(super) async fn release_changes<A: Adapter>(line: &mut Line, room: &BroadcastOperators<A>, health: &AdapterHealth) {
    let Some(next) = line.reorder.next() else { return };
    if line.changes.iter().all(|change| change.seq >= next) {
        return;
    }
    for change in std::mem::take(&mut line.changes) {
        if change.seq < next {
            emit_to(health, room.clone(), change.event, &change.frame).await;
        } else {
            line.changes.push(change);
        }
    }
}

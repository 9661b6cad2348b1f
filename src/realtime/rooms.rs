//! Joining and leaving order rooms (`join-order-room`, `leave-order-room`): the
//! access-checked join at the order's ordering point on this node (`delivery.rs`), the
//! `sinceSeq` catch-up that ends exactly where live `new-message` events begin, and the
//! per-connection join points that let a long catch-up be paged by joining again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::ack::{optional_seq, order_ref};
use super::broadcast::emit_to;
use super::delivery::Entered;
use super::handlers::relay_typing;
use crate::chat::HistoryQuery;
use crate::domain::{Identity, Message, OrderId, Seq, now_timestamp};
use crate::error::Result;
use crate::state::AppState;
use crate::store::{HistoryWindow, Page};

/// How many messages a `join-order-room` catch-up returns at most.
const CATCH_UP_LIMIT: i64 = 200;

pub(super) fn in_room<A: Adapter>(s: &SocketRef<A>, order: &OrderId) -> bool {
    let room = order.room();
    s.rooms().iter().any(|r| *r == room)
}

/// `join-order-room`: joins the room at the order's ordering point on this node
/// (`delivery.rs`), so the catch-up after `sinceSeq` ends exactly where live
/// `new-message` events begin: every message once, live or in the ack.
pub(super) async fn join_order_room<A: Adapter>(
    app: Arc<AppState>,
    s: SocketRef<A>,
    identity: Identity,
    data: Value,
) -> Result<Value> {
    let (order_id, fields) = order_ref(data)?;
    let since = optional_seq(&fields, "sinceSeq")?;
    let deliveries = &app.realtime.deliveries;
    let entering = async {
        // Several nodes: a client back from another node may have had messages this
        // node's line has not delivered yet; deliver them first, so they do not come
        // again after it joins.
        if let Some(since) = since
            && let Some(delivered) = deliveries.behind(&order_id, since).await
        {
            let limit = (since - delivered).min(CATCH_UP_LIMIT);
            match app.chat.committed_after(&order_id, delivered, limit).await {
                Ok(stored) => {
                    let room = s.within(order_id.room()).local();
                    deliveries.bring_up(room, &app.realtime.health, &order_id, stored).await
                }
                Err(err) => {
                    tracing::warn!(order = %order_id, error = %err, "could not bring the order's line up to a joining client")
                }
            }
        }
        deliveries
            .enter(&order_id, || {
                if in_room(&s, &order_id) {
                    return false;
                }
                s.join(order_id.room());
                true
            })
            .await
    };
    let (order, entered) = app.chat.open_chat(&identity, &order_id, entering).await?;
    let joined = entered.is_some();
    let caught_up_to = match entered {
        Some(Entered::CaughtUpTo(seq)) => seq,
        Some(Entered::Starting(line)) => match app.chat.committed_last_seq(&order_id).await {
            Ok(last_seq) => {
                let room = s.within(order_id.room()).local();
                deliveries
                    .start(room, &app.realtime.health, &order_id, line, last_seq)
                    .await
            }
            Err(err) => {
                // Not joined after all: the client retries the join.
                s.leave(order_id.room());
                return Err(err);
            }
        },
        // Joined before: live events have come since that join's catch-up point.
        None => match JoinPoints::of(&s).get(&order_id) {
            Some(seq) => seq,
            None => deliveries.delivered(&order_id).await.unwrap_or(order.last_seq),
        },
    };
    if joined {
        JoinPoints::of(&s).set(&order_id, caught_up_to);
        let payload = json!({ "userId": identity.user_id, "orderId": order_id, "timestamp": now_timestamp() });
        emit_to(
            &app.realtime.health,
            s.to(order_id.room()),
            "user-joined-order",
            &payload,
        )
        .await;
        tracing::info!(user = %identity.user_id, order = %order_id, "joined order room");
    }
    let (messages, has_more) = match since {
        Some(seq) => {
            let query = HistoryQuery(HistoryWindow::After {
                seq,
                limit: CATCH_UP_LIMIT,
            });
            let page = app.chat.history(&identity, &order_id, query).await?;
            catch_up(page, caught_up_to)
        }
        None => (Vec::new(), false),
    };
    let online: Vec<_> = order
        .participants
        .iter()
        .filter(|p| app.realtime.presence.is_online(&p.user_id))
        .map(|p| p.user_id.clone())
        .collect();
    let messages: Vec<_> = messages.iter().map(|m| m.for_viewer(&identity.user_id)).collect();
    Ok(json!({
        "orderId": order_id,
        "lastSeq": order.last_seq,
        "messages": messages,
        "hasMore": has_more,
        "online": online,
    }))
}

/// The messages of a catch-up page up to `caught_up_to` (what comes after it comes
/// live), and whether more of them are left for another page.
fn catch_up(page: Page<Message>, caught_up_to: Seq) -> (Vec<Message>, bool) {
    let beyond = page.total > page.items.len() as i64;
    let mut messages = page.items;
    let cut = messages.iter().any(|m| m.seq > caught_up_to);
    messages.retain(|m| m.seq <= caught_up_to);
    let has_more = !cut && beyond && messages.last().is_some_and(|m| m.seq < caught_up_to);
    (messages, has_more)
}

/// Per connection: the seq each joined order's catch-up ended at (the connection has
/// had every later message live), so a repeated join (paging a long catch-up with
/// `hasMore`) returns only what it has not had.
#[derive(Clone, Default)]
struct JoinPoints(Arc<Mutex<HashMap<OrderId, Seq>>>);

impl JoinPoints {
    fn of<A: Adapter>(s: &SocketRef<A>) -> Self {
        if let Some(points) = s.extensions.get::<JoinPoints>() {
            return points;
        }
        let points = JoinPoints::default();
        s.extensions.insert(points.clone());
        points
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OrderId, Seq>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, order: &OrderId) -> Option<Seq> {
        self.lock().get(order).copied()
    }

    fn set(&self, order: &OrderId, seq: Seq) {
        self.lock().insert(order.clone(), seq);
    }

    fn forget(&self, order: &OrderId) {
        self.lock().remove(order);
    }
}

pub(super) async fn leave_order_room<A: Adapter>(
    app: Arc<AppState>,
    s: SocketRef<A>,
    identity: Identity,
    data: Value,
) -> Result<Value> {
    let (order_id, _) = order_ref(data)?;
    // Same answer as every other event for an order the caller may not see.
    app.chat.visible_order(&identity, &order_id).await?;
    if in_room(&s, &order_id) {
        if app.realtime.typing.stop(&s.id.to_string(), &order_id) {
            relay_typing(&app, &s, &identity, &order_id, false).await;
        }
        s.leave(order_id.room());
        JoinPoints::of(&s).forget(&order_id);
        let payload = json!({ "userId": identity.user_id, "orderId": order_id, "timestamp": now_timestamp() });
        emit_to(&app.realtime.health, s.to(order_id.room()), "user-left-order", &payload).await;
    }
    Ok(json!({ "orderId": order_id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(seqs: std::ops::RangeInclusive<Seq>, total: i64) -> Page<Message> {
        use crate::domain::{MessageType, SenderType};
        let items = seqs
            .map(|seq| Message {
                id: format!("m{seq}"),
                order_id: OrderId::parse("o").unwrap(),
                seq,
                user: None,
                message: String::new(),
                message_type: MessageType::System,
                sender_type: SenderType::System,
                attachments: Vec::new(),
                reply_to: None,
                reply_preview: None,
                client_id: None,
                created_at: String::new(),
                updated_at: String::new(),
                edited_at: None,
                deleted: false,
                reactions: Vec::new(),
            })
            .collect();
        Page { items, total }
    }

    fn seqs(messages: &[Message]) -> Vec<Seq> {
        messages.iter().map(|m| m.seq).collect()
    }

    #[test]
    fn a_catch_up_ends_where_live_delivery_begins() {
        // 11..=15 stored after sinceSeq 10; the connection gets 14 on live.
        let (messages, more) = catch_up(page(11..=15, 5), 13);
        assert_eq!((seqs(&messages), more), (vec![11, 12, 13], false));
    }

    #[test]
    fn a_long_catch_up_says_has_more_only_while_it_is_below_the_join_point() {
        let (messages, more) = catch_up(page(1..=200, 250), 240);
        assert_eq!((messages.len(), more), (200, true));
        let (messages, more) = catch_up(page(1..=200, 250), 200);
        assert_eq!((messages.len(), more), (200, false), "the rest comes live");
        let (messages, more) = catch_up(page(1..=200, 250), 150);
        assert_eq!((messages.len(), more), (150, false));
    }
}

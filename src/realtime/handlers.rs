//! Client → server events (SPEC §5). Each handler parses its payload, calls the same
//! use case the HTTP API calls, and answers the ack. Access is checked on every event:
//! through `ChatService`, or for typing by membership of the room, which only an
//! access-checked join grants (and a membership change takes away). Every event is
//! refused once the connection's token has expired or the server is shutting down.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use tokio::sync::oneshot;

use super::ack::{optional_seq, order_ref, send_ack, send_stored_ack};
use super::broadcast::emit_to;
use super::delivery::Entered;
use super::session;
use crate::auth;
use crate::chat::{HistoryQuery, SendMessage};
use crate::domain::{Identity, Message, OrderId, Seq, now_timestamp};
use crate::error::{Error, Result};
use crate::input;
use crate::state::AppState;
use crate::store::{HistoryWindow, Page};

/// How many messages a `join-order-room` catch-up returns at most.
const CATCH_UP_LIMIT: i64 = 200;

pub fn register<A: Adapter>(s: &SocketRef<A>, app: &Arc<AppState>) {
    on(s, app, "join-order-room", join_order_room::<A>);
    on(s, app, "leave-order-room", leave_order_room::<A>);
    on(s, app, "typing-start", typing_start::<A>);
    on(s, app, "typing-stop", typing_stop::<A>);
    on(s, app, "mark-read", mark_read::<A>);
    on_send_message(s, app);
    on(s, app, "refresh-token", refresh_token::<A>);
    on(s, app, "add-reaction", add_reaction::<A>);
    on(s, app, "remove-reaction", remove_reaction::<A>);
}

/// The caller of an event, unless the event must be refused before any handler runs:
/// the server is shutting down, or the connection's token has expired.
fn caller<A: Adapter>(app: &AppState, s: &SocketRef<A>, event: &'static str) -> Result<Identity> {
    if app.shutdown.is_draining() {
        return Err(Error::Unavailable("the server is shutting down"));
    }
    let identity = s
        .extensions
        .get::<Identity>()
        .ok_or_else(|| Error::Unauthenticated("connection has no identity".into()))?;
    if event != "refresh-token" && session::expired(&identity, jsonwebtoken::get_current_timestamp()) {
        return Err(Error::Unauthenticated(
            "the connection's token has expired: send refresh-token or reconnect".into(),
        ));
    }
    Ok(identity)
}

/// Registers `handler` for `event`: any payload is accepted (a malformed one is the
/// handler's to refuse), and the result always answers the ack.
fn on<A, F, Fut>(s: &SocketRef<A>, app: &Arc<AppState>, event: &'static str, handler: F)
where
    A: Adapter,
    F: Fn(Arc<AppState>, SocketRef<A>, Identity, Value) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Value>> + Send + 'static,
{
    let app = app.clone();
    s.on(
        event,
        move |s: SocketRef<A>, TryData(data): TryData<Value>, ack: AckSender<A>| {
            let app = app.clone();
            let handler = handler.clone();
            async move {
                let _in_flight = app.shutdown.in_flight();
                let result = match caller(&app, &s, event) {
                    Ok(identity) => handler(app, s, identity, data.unwrap_or(Value::Null)).await,
                    Err(err) => Err(err),
                };
                send_ack(ack, event, result);
            }
        },
    );
}

fn in_room<A: Adapter>(s: &SocketRef<A>, order: &OrderId) -> bool {
    let room = order.room();
    s.rooms().iter().any(|r| *r == room)
}

/// `join-order-room`: joins the room at the order's ordering point on this node
/// (`delivery.rs`), so the catch-up after `sinceSeq` ends exactly where live
/// `new-message` events begin: every message once, live or in the ack.
async fn join_order_room<A: Adapter>(
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

async fn leave_order_room<A: Adapter>(
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

/// Typing is only relayed to a room the connection has joined (an access-checked
/// join), so no database work is done per keystroke.
async fn typing_order<A: Adapter>(
    app: &AppState,
    s: &SocketRef<A>,
    identity: &Identity,
    data: Value,
) -> Result<OrderId> {
    let (order_id, _) = order_ref(data)?;
    if !in_room(s, &order_id) {
        // Same answer as for an order the user may not see: join first.
        app.chat.visible_order(identity, &order_id).await?;
        return Err(Error::invalid_field("orderId", "join the order room before typing"));
    }
    app.chat.rate_limits().check_typing(&identity.user_id)?;
    Ok(order_id)
}

/// `user-typing` to everyone else in the room.
async fn relay_typing<A: Adapter>(
    app: &AppState,
    s: &SocketRef<A>,
    identity: &Identity,
    order_id: &OrderId,
    is_typing: bool,
) {
    let payload = json!({ "userId": identity.user_id, "orderId": order_id, "isTyping": is_typing });
    emit_to(&app.realtime.health, s.to(order_id.room()), "user-typing", &payload).await;
}

async fn typing_start<A: Adapter>(
    app: Arc<AppState>,
    s: SocketRef<A>,
    identity: Identity,
    data: Value,
) -> Result<Value> {
    let order_id = typing_order(&app, &s, &identity, data).await?;
    let sid = s.id.to_string();
    let generation = app.realtime.typing.start(&sid, &order_id);
    relay_typing(&app, &s, &identity, &order_id, true).await;

    let timeout = app.config.limits.typing_timeout();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if app.realtime.typing.expire(&sid, &order_id, generation) && s.connected() {
            relay_typing(&app, &s, &identity, &order_id, false).await;
        }
    });
    Ok(json!({}))
}

async fn typing_stop<A: Adapter>(
    app: Arc<AppState>,
    s: SocketRef<A>,
    identity: Identity,
    data: Value,
) -> Result<Value> {
    let order_id = typing_order(&app, &s, &identity, data).await?;
    if app.realtime.typing.stop(&s.id.to_string(), &order_id) {
        relay_typing(&app, &s, &identity, &order_id, false).await;
    }
    Ok(json!({}))
}

async fn mark_read<A: Adapter>(app: Arc<AppState>, s: SocketRef<A>, identity: Identity, data: Value) -> Result<Value> {
    let (order_id, fields) = order_ref(data)?;
    let seq = optional_seq(&fields, "seq")?;
    let (seq, unread) = app
        .chat
        .mark_read(&identity, &order_id, seq, Some(s.id.to_string()))
        .await?;
    Ok(json!({ "orderId": order_id, "seq": seq, "unreadCount": unread }))
}

/// `send-message`: one connection's messages are stored in the order it sent them
/// (SPEC §3), while several may be in flight at once. socketioxide runs each event in
/// a task of its own, so the closure body, which runs synchronously as events arrive,
/// takes each message's place in line; its task waits until the message before it is
/// queued for the writer (not committed), then queues its own and frees the next.
fn on_send_message<A: Adapter>(s: &SocketRef<A>, app: &Arc<AppState>) {
    let app = app.clone();
    let line: Arc<Mutex<Option<oneshot::Receiver<()>>>> = Arc::default();
    s.on(
        "send-message",
        move |s: SocketRef<A>, TryData(data): TryData<Value>, ack: AckSender<A>| {
            let (queued, next_may_go) = oneshot::channel::<()>();
            let previous = line
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .replace(next_may_go);
            let app = app.clone();
            async move {
                let in_flight = app.shutdown.in_flight();
                if let Some(previous) = previous {
                    // Resolves (with an error, as nothing is sent) once it is dropped.
                    let _ = previous.await;
                }
                let prepared = async {
                    let identity = caller(&app, &s, "send-message")?;
                    let input: SendMessage = input::from_json_object(data.unwrap_or(Value::Null))?;
                    let message = app.chat.prepare_message(&identity, input).await?;
                    Ok((identity, message))
                }
                .await;
                match prepared {
                    Ok((identity, message)) => app.chat.queue_prepared(
                        message,
                        Box::new(move |result| {
                            // Shutdown waits for the ack, not just for the handler.
                            let _in_flight = in_flight;
                            send_stored_ack(ack, &identity.user_id, result);
                        }),
                    ),
                    Err(err) => send_ack(ack, "send-message", Err(err)),
                }
                drop(queued);
            }
        },
    );
}

/// `add-reaction { messageId, emoji }`: the ack carries the message, with `mine` for
/// the caller; the room hears `message-updated` when something changed.
async fn add_reaction<A: Adapter>(
    app: Arc<AppState>,
    _s: SocketRef<A>,
    identity: Identity,
    data: Value,
) -> Result<Value> {
    let (message_id, emoji) = reaction_ref(&data)?;
    let message = app.chat.add_reaction(&identity, message_id, emoji).await?;
    Ok(json!({ "message": message.for_viewer(&identity.user_id) }))
}

/// `remove-reaction { messageId, emoji }`, answered like `add-reaction`.
async fn remove_reaction<A: Adapter>(
    app: Arc<AppState>,
    _s: SocketRef<A>,
    identity: Identity,
    data: Value,
) -> Result<Value> {
    let (message_id, emoji) = reaction_ref(&data)?;
    let message = app.chat.remove_reaction(&identity, message_id, emoji).await?;
    Ok(json!({ "message": message.for_viewer(&identity.user_id) }))
}

/// The `{ messageId, emoji }` of a reaction event.
fn reaction_ref(data: &Value) -> Result<(&str, &str)> {
    let field = |name: &'static str| {
        data.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid_field(name, "expected { messageId, emoji } with string values"))
    };
    Ok((field("messageId")?, field("emoji")?))
}

/// `refresh-token { token }`: replaces the connection's token with a newer one of the
/// same user and role, so the connection outlives the old token's `exp`.
async fn refresh_token<A: Adapter>(
    app: Arc<AppState>,
    s: SocketRef<A>,
    identity: Identity,
    data: Value,
) -> Result<Value> {
    let raw = match &data {
        Value::Object(fields) => fields.get("token").and_then(Value::as_str),
        Value::String(token) => Some(token.as_str()),
        _ => None,
    }
    .ok_or_else(|| Error::invalid_field("token", "expected { token }"))?;
    let fresh = app.verifier.verify(auth::bearer(raw).unwrap_or(raw))?;
    if fresh.user_id != identity.user_id || fresh.role_name != identity.role_name {
        return Err(Error::Forbidden(
            "a refreshed token must be for the same user and role: reconnect to switch",
        ));
    }
    let sessions = &app.realtime.sessions;
    sessions.forget(s.id, identity.valid_until);
    sessions.watch(s.id, fresh.valid_until);
    let valid_until = fresh.valid_until;
    s.extensions.insert(fresh);
    tracing::info!(user = %identity.user_id, sid = %s.id, "connection token refreshed");
    Ok(json!({ "validUntil": valid_until }))
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

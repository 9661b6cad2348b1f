//! Client → server events (SPEC §5). Each handler parses its payload, calls the same
//! use case the HTTP API calls, and answers the ack. Access is checked on every event:
//! through `ChatService`, or for typing by membership of the room, which only an
//! access-checked join grants (and a membership change takes away). Every event is
//! refused once the connection's token has expired or the server is shutting down.

use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use tokio::sync::oneshot;

use super::ack::{optional_seq, order_ref, send_ack, send_stored_ack};
use super::broadcast::emit_to;
use super::rooms::{self, in_room};
use super::session;
use crate::auth;
use crate::chat::SendMessage;
use crate::domain::{Identity, OrderId};
use crate::error::{Error, Result};
use crate::input;
use crate::state::AppState;

pub fn register<A: Adapter>(s: &SocketRef<A>, app: &Arc<AppState>) {
    on(s, app, "join-order-room", rooms::join_order_room::<A>);
    on(s, app, "leave-order-room", rooms::leave_order_room::<A>);
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
pub(super) async fn relay_typing<A: Adapter>(
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

//! The life of a connection: the connect middleware verifies the token and takes the
//! connection's seat in the presence count, within the connection limits (a refusal
//! reaches the client as `connect_error`), and registers the event handlers; the
//! connect handler joins the user's own room, announces a user who came online and
//! watches the token's expiry; the disconnect handler undoes all of it.

use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide_core::adapter::DefinedAdapter;

use super::broadcast::emit_to;
use super::handlers;
use super::presence::{Refusal, Seat};
use crate::auth;
use crate::domain::Identity;
use crate::state::AppState;

/// Why a connection was refused; its text is the `connect_error` message.
#[derive(Debug)]
struct ConnectRefused(String);

impl fmt::Display for ConnectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Registers the default namespace on `io`. With a remote adapter (Redis) the
/// namespace subscribes to its channels: the returned future says when it has (or
/// why it could not); with the local adapter it is `()`.
pub fn attach<A: Adapter + DefinedAdapter>(io: &SocketIo<A>, app: AppState) -> A::InitRes {
    // One shared copy: every connection's handlers hold a pointer to it, not a clone.
    let app = Arc::new(app);
    let for_middleware = app.clone();
    let middleware = move |s: SocketRef<A>, TryData(auth): TryData<Value>| {
        let app = for_middleware.clone();
        async move { authenticate(&app, &s, auth.ok()).await }
    };
    let on_connect = move |s: SocketRef<A>| {
        // This body runs synchronously when the connection is accepted (the event
        // handlers are already registered, by the middleware); socketioxide spawns only
        // the returned future.
        let came_online = opened(&app, &s);
        let app = app.clone();
        let in_flight = app.shutdown.in_flight();
        async move {
            if let Some(identity) = came_online {
                app.chat.announce_presence(&identity.user_id, true).await;
            }
            drop(in_flight);
        }
    };
    io.ns("/", on_connect.with(middleware))
}

/// The token from the handshake `auth.token`, else the handshake's `Authorization`
/// header. Never from the query string.
fn handshake_token<A: Adapter>(s: &SocketRef<A>, auth: Option<&Value>) -> Option<String> {
    let from_auth = auth
        .and_then(|a| a.get("token"))
        .and_then(Value::as_str)
        .map(|t| auth::bearer(t).unwrap_or(t).to_owned());
    from_auth.filter(|t| !t.is_empty()).or_else(|| {
        s.req_parts()
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::bearer)
            .map(str::to_owned)
    })
}

async fn authenticate<A: Adapter>(
    app: &Arc<AppState>,
    s: &SocketRef<A>,
    auth: Option<Value>,
) -> Result<(), ConnectRefused> {
    let refuse = |reason: String| {
        metrics::counter!("orderchat_errors_total", "code" => "connect_refused", "transport" => "socket").increment(1);
        tracing::info!(reason = %reason, "socket connection refused");
        Err(ConnectRefused(reason))
    };
    if app.shutdown.is_draining() {
        return refuse("Server is shutting down: connect again shortly".into());
    }
    let Some(token) = handshake_token(s, auth.as_ref()) else {
        return refuse("Authentication error: no token (send it as auth.token)".into());
    };
    let identity = match app.verifier.verify(&token) {
        Ok(identity) => identity,
        Err(err) => return refuse(format!("Authentication error: {err}")),
    };
    let limits = &app.config.limits;
    // Counted here, not in the connect handler, so that checking the limits and taking
    // the seat are one step (with several nodes, one step in Redis).
    let admitted = app
        .realtime
        .presence
        .admit(
            &identity.user_id,
            limits.max_connections_per_user,
            limits.max_connections,
        )
        .await;
    let seat = match admitted {
        Ok(seat) => seat,
        Err(Refusal::UserLimit) => {
            return refuse(format!(
                "Too many connections: at most {} per user",
                limits.max_connections_per_user
            ));
        }
        Err(Refusal::NodeLimit) => {
            return refuse("Too many connections: the server is full".into());
        }
    };
    s.extensions.insert(seat);
    s.extensions.insert(identity);
    // Event handlers are registered here, not in the connect handler: socketioxide sends
    // the CONNECT packet before it calls the connect handler, and an event the client
    // emits in that window would find no handler and be dropped without an ack.
    handlers::register(s, app);
    Ok(())
}

/// Sets up an accepted connection: its user room, presence, the token's expiry.
/// Returns the identity when this is the user's first connection (they came online).
fn opened<A: Adapter>(app: &Arc<AppState>, s: &SocketRef<A>) -> Option<Identity> {
    let Some(identity) = s.extensions.get::<Identity>() else {
        // The middleware always sets it; a socket without one must not stay.
        if let Err(err) = s.clone().disconnect() {
            tracing::debug!(error = %err, "socket without identity already closed");
        }
        return None;
    };
    tracing::info!(user = %identity.user_id, role = %identity.role_name, sid = %s.id, "socket connected");
    s.join(identity.user_id.room());
    app.realtime.sessions.watch(s.id, identity.valid_until);
    let came_online = s.extensions.get::<Seat>().is_some_and(|seat| seat.came_online());
    let on_close = app.clone();
    s.on_disconnect(move |s: SocketRef<A>| {
        let app = on_close.clone();
        async move { disconnected(app, s).await }
    });
    came_online.then_some(identity)
}

async fn disconnected<A: Adapter>(app: Arc<AppState>, s: SocketRef<A>) {
    let _in_flight = app.shutdown.in_flight();
    // The identity as it is now: `refresh-token` may have replaced the one of connect.
    let Some(identity) = s.extensions.get::<Identity>() else {
        return;
    };
    tracing::info!(user = %identity.user_id, sid = %s.id, "socket disconnected");
    app.realtime.sessions.forget(s.id, identity.valid_until);
    let was_typing_in = app.realtime.typing.forget_connection(&s.id.to_string());
    let draining = app.shutdown.is_draining();
    let went_offline = match s.extensions.get::<Seat>() {
        Some(seat) => seat.give_back(draining).await,
        None => false,
    };
    if draining {
        // Every connection here is closing: there is no one left to tell on this node.
        // Other nodes hear of this node's users from its goodbye (`Presence::goodbye`).
        return;
    }
    for order_id in was_typing_in {
        let payload = json!({ "userId": identity.user_id, "orderId": order_id, "isTyping": false });
        emit_to(&app.realtime.health, s.to(order_id.room()), "user-typing", &payload).await;
    }
    if went_offline {
        app.chat.announce_presence(&identity.user_id, false).await;
    }
}

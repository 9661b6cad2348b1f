//! A minimal Socket.IO v5 client over an Engine.IO v4 WebSocket, written for load: no
//! reconnection logic, no binary packets, no long-polling. Only what the contract uses:
//!
//! - `GET /socket.io/?EIO=4&transport=websocket`, the server's open packet `0{…}`;
//! - namespace connect `40{"token":…}` answered by `40{…}` (or `44{…}`, a refusal);
//! - events `42["name",payload]`, events with an ack id `42<id>["name",payload]` answered
//!   by `43<id>[payload]`;
//! - the engine heartbeat: the server pings `2`, we answer `3`.
//!
//! Each connection is one task that owns the socket: it writes what the scenario queues
//! (batched into one flush), answers pings, hands acks back through oneshot channels and
//! server events to the connection's [`Inbox`] right where they are read, so the hot
//! path of a receiver costs no hop to another task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long the handshake (TCP, upgrade, open packet, namespace connect) may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Receives the server's events on the connection's own task.
pub trait Inbox: Send + 'static {
    /// `name` is the event name, `frame` the JSON text of the whole `["name", payload]`.
    fn event(&mut self, name: &str, frame: &str, at: Instant);
}

/// Discards every event (idle members, senders that only care about their acks).
impl Inbox for () {
    fn event(&mut self, _: &str, _: &str, _: Instant) {}
}

/// An inbox the scenario also reads while the connection runs.
impl<T: Inbox> Inbox for Arc<Mutex<T>> {
    fn event(&mut self, name: &str, frame: &str, at: Instant) {
        self.lock().expect("inbox lock").event(name, frame, at);
    }
}

/// An acknowledgement as received: the JSON text of `[payload]` and when it arrived.
#[derive(Debug)]
pub struct Ack {
    pub text: String,
    pub at: Instant,
}

impl Ack {
    /// The ack's first argument, parsed.
    pub fn payload<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        let (payload,): (T,) =
            serde_json::from_str(&self.text).with_context(|| format!("unexpected ack {}", self.text))?;
        Ok(payload)
    }
}

/// Why a connection's task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// We closed it (`close`) or dropped it (`drop_now`).
    Local,
    /// The server closed the socket or disconnected the namespace.
    Server(String),
    /// A read or write failed.
    Failed(String),
}

enum Command {
    Emit {
        event: &'static str,
        payload: String,
        ack: Option<oneshot::Sender<Ack>>,
    },
    /// Disconnect cleanly (`41`, then a WebSocket close).
    Close,
    /// Vanish without a goodbye, as a lost network would (the TCP socket just closes).
    Drop,
}

/// One live Socket.IO connection.
pub struct Conn<I: Inbox> {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<(I, End)>,
}

/// `http://host:port` → the Engine.IO WebSocket URL and the `host:port` to dial.
fn endpoint(base: &str) -> anyhow::Result<(String, String)> {
    let host = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("ws://"))
        .with_context(|| format!("server URL must be http://host:port, got {base}"))?
        .trim_end_matches('/');
    Ok((
        format!("ws://{host}/socket.io/?EIO=4&transport=websocket"),
        host.to_owned(),
    ))
}

impl<I: Inbox> Conn<I> {
    /// Connects to `base` (`http://host:port`) with `token` in the handshake `auth`, and
    /// returns once the namespace is connected. `inbox` receives every event from then on.
    pub async fn connect(base: &str, token: &str, inbox: I) -> anyhow::Result<Self> {
        let ws = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(base, token))
            .await
            .context("handshake timed out")??;
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(ws, rx, inbox));
        Ok(Conn { commands, task })
    }

    /// Sends `event` with `payload` (JSON text) and an ack id; the receiver resolves with
    /// the ack, or fails if the connection ends first.
    pub fn emit_ack(&self, event: &'static str, payload: String) -> oneshot::Receiver<Ack> {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Emit {
            event,
            payload,
            ack: Some(tx),
        });
        rx
    }

    /// Emits and waits for the ack, at most `timeout`.
    pub async fn request(&self, event: &'static str, payload: String, timeout: Duration) -> anyhow::Result<Ack> {
        let rx = self.emit_ack(event, payload);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(ack)) => Ok(ack),
            Ok(Err(_)) => bail!("connection ended before the {event} ack"),
            Err(_) => bail!("no {event} ack within {timeout:?}"),
        }
    }

    /// Whether the connection's task is still running.
    pub fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }

    /// Disconnects cleanly and returns the inbox and how the connection ended (`Local`
    /// unless the server had closed it before).
    pub async fn close(self) -> (I, End) {
        self.finish(Command::Close).await
    }

    /// Closes the TCP connection with no Socket.IO or WebSocket goodbye.
    pub async fn drop_now(self) -> (I, End) {
        self.finish(Command::Drop).await
    }

    async fn finish(self, how: Command) -> (I, End) {
        let _ = self.commands.send(how);
        match self.task.await {
            Ok(ended) => ended,
            Err(err) => panic!("connection task failed: {err}"),
        }
    }
}

async fn handshake(base: &str, token: &str) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let (url, host) = endpoint(base)?;
    let tcp = TcpStream::connect(&host)
        .await
        .with_context(|| format!("connect {host}"))?;
    tcp.set_nodelay(true)?;
    // Small read buffer: a hold run keeps thousands of these open in one process.
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(config))
        .await
        .context("WebSocket upgrade")?;

    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        bail!("expected the Engine.IO open packet, got {open:.80}");
    }
    let auth = serde_json::json!({ "token": token });
    ws.send(Message::text(format!("40{auth}"))).await?;
    loop {
        let packet = next_text(&mut ws).await?;
        if packet == "2" {
            ws.send(Message::text("3")).await?;
        } else if packet.starts_with("40") {
            return Ok(ws);
        } else if let Some(error) = packet.strip_prefix("44") {
            bail!("connect_error {error}");
        }
        // Anything else before the namespace is connected is not ours to handle.
    }
}

async fn next_text(ws: &mut WebSocketStream<TcpStream>) -> anyhow::Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => bail!("server closed the WebSocket: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(err.into()),
            None => bail!("server closed the connection"),
        }
    }
}

/// The connection's task: owns the socket until it ends.
async fn run<I: Inbox>(
    mut ws: WebSocketStream<TcpStream>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut inbox: I,
) -> (I, End) {
    let mut acks: HashMap<u64, oneshot::Sender<Ack>> = HashMap::new();
    let mut next_ack: u64 = 0;
    let end = loop {
        tokio::select! {
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => break End::Server(format!("close frame {frame:?}")),
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => break End::Failed(err.to_string()),
                    None => break End::Server("connection closed".into()),
                };
                let at = Instant::now();
                match packet(text.as_str()) {
                    Packet::Ping => {
                        if let Err(err) = ws.send(Message::text("3")).await {
                            break End::Failed(err.to_string());
                        }
                    }
                    Packet::Event(frame) => inbox.event(event_name(frame), frame, at),
                    Packet::Ack(id, args) => {
                        if let Some(tx) = acks.remove(&id) {
                            let _ = tx.send(Ack { text: args.to_owned(), at });
                        }
                    }
                    Packet::Gone(why) => break End::Server(why.to_owned()),
                    Packet::Other => {}
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { break End::Local };
                match write_batch(&mut ws, &mut commands, command, &mut acks, &mut next_ack).await {
                    Ok(None) => {}
                    Ok(Some(end)) => break end,
                    Err(err) => break End::Failed(err.to_string()),
                }
            }
        }
    };
    // Anyone still waiting for an ack learns the connection is gone (their sender drops).
    drop(acks);
    (inbox, end)
}

/// Writes `first` and whatever else is already queued, then flushes once. Returns
/// `Some(End::Local)` when the batch asked to close or drop the connection.
async fn write_batch(
    ws: &mut WebSocketStream<TcpStream>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    first: Command,
    acks: &mut HashMap<u64, oneshot::Sender<Ack>>,
    next_ack: &mut u64,
) -> anyhow::Result<Option<End>> {
    let mut command = first;
    for _ in 0..256 {
        match command {
            Command::Emit { event, payload, ack } => {
                let frame = match ack {
                    Some(tx) => {
                        let id = *next_ack;
                        *next_ack += 1;
                        acks.insert(id, tx);
                        format!("42{id}[\"{event}\",{payload}]")
                    }
                    None => format!("42[\"{event}\",{payload}]"),
                };
                ws.feed(Message::text(frame)).await?;
            }
            Command::Close => {
                ws.feed(Message::text("41")).await?;
                let _ = ws.close(None).await;
                return Ok(Some(End::Local));
            }
            Command::Drop => return Ok(Some(End::Local)),
        }
        match commands.try_recv() {
            Ok(next) => command = next,
            Err(_) => break,
        }
    }
    ws.flush().await?;
    Ok(None)
}

enum Packet<'a> {
    Ping,
    /// The JSON array of a `42` event (any ack id the server asked for is skipped: the
    /// contract's server never asks the client for one).
    Event(&'a str),
    /// A `43` ack: its id and the JSON array of its arguments.
    Ack(u64, &'a str),
    /// The server ended the session (engine close `1` or namespace disconnect `41`).
    Gone(&'a str),
    Other,
}

fn packet(text: &str) -> Packet<'_> {
    if text == "2" {
        return Packet::Ping;
    }
    if let Some(rest) = text.strip_prefix("42") {
        let start = rest.find('[').unwrap_or(rest.len());
        return Packet::Event(&rest[start..]);
    }
    if let Some(rest) = text.strip_prefix("43") {
        let start = rest.find('[').unwrap_or(rest.len());
        if let Ok(id) = rest[..start].parse() {
            return Packet::Ack(id, &rest[start..]);
        }
        return Packet::Other;
    }
    if text == "1" {
        return Packet::Gone("engine close packet");
    }
    if text.starts_with("41") {
        return Packet::Gone("disconnected by the server");
    }
    Packet::Other
}

/// The event name of `["name", …]`; event names in this contract carry no escapes.
pub fn event_name(frame: &str) -> &str {
    frame
        .strip_prefix("[\"")
        .and_then(|rest| rest.split_once('"'))
        .map_or("", |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_packets_of_the_contract() {
        assert!(matches!(packet("2"), Packet::Ping));
        assert!(matches!(
            packet("42[\"new-message\",{}]"),
            Packet::Event("[\"new-message\",{}]")
        ));
        assert!(matches!(
            packet("4312[{\"ok\":true}]"),
            Packet::Ack(12, "[{\"ok\":true}]")
        ));
        assert!(matches!(packet("41"), Packet::Gone(_)));
        assert!(matches!(packet("1"), Packet::Gone(_)));
        assert!(matches!(packet("3"), Packet::Other));
    }

    #[test]
    fn reads_event_names() {
        assert_eq!(event_name("[\"unread-count\",{\"orderId\":\"o\"}]"), "unread-count");
        assert_eq!(event_name("[]"), "");
    }

    #[test]
    fn builds_the_websocket_url() {
        let (url, host) = endpoint("http://127.0.0.1:3000/").unwrap();
        assert_eq!(url, "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket");
        assert_eq!(host, "127.0.0.1:3000");
    }

    #[test]
    fn reads_an_ack_payload() {
        let ack = Ack {
            text: r#"[{"ok":true,"message":{"seq":3}}]"#.into(),
            at: Instant::now(),
        };
        let value: serde_json::Value = ack.payload().unwrap();
        assert_eq!(value["message"]["seq"], 3);
    }
}

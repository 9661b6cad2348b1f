//! The scenarios and what they share: the run's options, unique names for orders and
//! users, connecting and joining members, and the acked-send load that `durable` and
//! `long-history` both measure.

pub mod durable;
pub mod fanout;
pub mod history;
pub mod hold;
pub mod reconnect;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Conn, Inbox};
use crate::stats::{CpuMeter, Latency, per_sec};
use crate::target::{Member, Target};

/// How long any single ack may take before it counts as an error.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Every knob of every scenario (the command line fills it; `--smoke` shrinks it).
#[derive(Debug, Clone)]
pub struct Opts {
    pub warmup: Duration,
    pub duration: Duration,
    pub one_room_inflight: usize,
    pub many_rooms: usize,
    pub many_inflight: usize,
    pub fanout_members: usize,
    pub fanout_rooms: usize,
    pub fanout_rate: f64,
    pub sweep: bool,
    pub sweep_start: f64,
    pub sweep_max: f64,
    pub sweep_step: Duration,
    pub p99_target_ms: f64,
    pub hold_connections: usize,
    pub hold_room_size: usize,
    pub hold_idle: Duration,
    pub connect_concurrency: usize,
    pub reconnect_clients: usize,
    pub reconnect_rate: f64,
    pub history: u64,
    pub fill_inflight: usize,
    pub fill_timeout: Duration,
    /// Wait for an idle server before each scenario and each fanout step.
    pub quiesce: bool,
}

/// What a scenario hands back: its parameters, its results, and how many things went
/// wrong (with the first one, to say what).
pub struct Outcome {
    pub params: Value,
    pub results: Value,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// Counts errors and keeps the first one's text.
#[derive(Default)]
pub struct Errors {
    pub count: u64,
    pub first: Option<String>,
}

impl Errors {
    pub fn add(&mut self, what: impl Into<String>) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(what.into());
        }
    }

    pub fn absorb(&mut self, other: Errors) {
        self.count += other.count;
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

/// Names unique to this run, so runs against a long-lived server never collide.
pub struct Names {
    prefix: String,
    counter: AtomicU64,
}

impl Names {
    pub fn new() -> Self {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        Names {
            prefix: format!("b{:x}{:x}", millis % 0xff_ffff_ffff, std::process::id() % 0xffff),
            counter: AtomicU64::new(0),
        }
    }

    /// `{prefix}-{what}-{n}`.
    pub fn next(&self, what: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}-{what}-{n}", self.prefix)
    }
}

/// Everything a scenario needs.
pub struct Ctx {
    pub target: Target,
    pub opts: Opts,
    pub names: Names,
}

/// An order and its participants, registered on the server.
pub struct Room {
    pub order_id: String,
    pub members: Vec<Member>,
}

const ROLES: [&str; 2] = ["customer", "driver"];

impl Ctx {
    /// Waits (at most two minutes) until the server is idle — its nodes and the stores
    /// it uses (when their PIDs are known) under 5% of a core for half a second — so
    /// work it queued during one measurement (pushes after acks, a checkpoint, …) does
    /// not count against the next, and until nothing else on the machine uses more than
    /// 15% of a core (another build or benchmark would skew every figure). Returns the
    /// seconds waited; without a PID, or with `quiesce` off, it does not wait.
    pub async fn quiesce(&self) -> f64 {
        let started = Instant::now();
        let window = Duration::from_millis(500);
        let cores = |d: Duration| d.as_secs_f64() / window.as_secs_f64();
        let server_side = || {
            self.target
                .cpu()
                .map(|nodes| nodes + self.target.db_cpu().unwrap_or_default())
        };
        while self.opts.quiesce && started.elapsed() < Duration::from_secs(120) {
            let (Some(server), Some(machine)) = (server_side(), crate::sys::machine_busy()) else {
                break;
            };
            let own = crate::sys::own_cpu();
            tokio::time::sleep(window).await;
            let (Some(server_after), Some(machine_after)) = (server_side(), crate::sys::machine_busy()) else {
                break;
            };
            let server_used = server_after.saturating_sub(server);
            let other = machine_after
                .saturating_sub(machine)
                .saturating_sub(server_used)
                .saturating_sub(crate::sys::own_cpu().saturating_sub(own));
            if cores(server_used) < 0.05 && cores(other) < 0.15 {
                break;
            }
        }
        started.elapsed().as_secs_f64()
    }

    /// A new order with `size` fresh non-staff participants (not registered yet).
    pub fn room(&self, what: &str, size: usize) -> Room {
        let order_id = self.names.next(what);
        let members = (0..size)
            .map(|i| Member::new(format!("{order_id}-u{i}"), ROLES[i % ROLES.len()]))
            .collect();
        Room { order_id, members }
    }

    /// Registers `rooms` on the server.
    pub async fn register(&self, rooms: &[Room]) -> anyhow::Result<()> {
        let orders: Vec<_> = rooms.iter().map(|r| (r.order_id.clone(), r.members.clone())).collect();
        self.target.put_orders(&orders).await
    }

    /// Connects `member` to the first node.
    pub async fn connect<I: Inbox>(&self, member: &Member, inbox: I) -> anyhow::Result<Conn<I>> {
        self.connect_to(0, member, inbox).await
    }

    /// Connects `member` to node `node` (an index into `target.nodes`).
    pub async fn connect_to<I: Inbox>(&self, node: usize, member: &Member, inbox: I) -> anyhow::Result<Conn<I>> {
        let token = self.target.member_token(member);
        let url = &self.target.nodes[node];
        Conn::connect(url, &token, inbox)
            .await
            .with_context(|| format!("connect as {} to {url}", member.user_id))
    }

    /// The node that member `member` of room `room` connects to: round robin over the
    /// members, shifted by one per room, so every room spans the nodes (when it has as
    /// many members) and room `r`'s first member — its sender in `durable` (b) and
    /// `fanout` — is on node `r mod nodes`.
    pub fn node_of(&self, room: usize, member: usize) -> usize {
        (room + member) % self.target.nodes.len()
    }
}

/// The ack of `join-order-room`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinAck {
    pub ok: bool,
    #[serde(default)]
    pub last_seq: u64,
    #[serde(default)]
    pub messages: Vec<SeqOnly>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub error: Option<String>,
}

/// A message reduced to what the bench checks.
#[derive(Debug, Deserialize)]
pub struct SeqOnly {
    pub seq: u64,
}

/// The ack of `send-message`.
#[derive(Debug, Deserialize)]
pub struct SendAck {
    pub ok: bool,
    #[serde(default)]
    pub message: Option<SeqOnly>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

impl SendAck {
    /// The stored message's seq, or why there is none.
    pub fn seq(&self) -> Result<u64, String> {
        match (&self.message, self.ok) {
            (Some(message), true) => Ok(message.seq),
            _ => Err(format!(
                "send-message refused: {} ({})",
                self.error.as_deref().unwrap_or("no error text"),
                self.code.as_deref().unwrap_or("no code")
            )),
        }
    }
}

/// An ack waited for with [`ACK_TIMEOUT`].
pub type AckWait =
    Result<Result<crate::client::Ack, tokio::sync::oneshot::error::RecvError>, tokio::time::error::Elapsed>;

/// Waits for a `send-message` ack, at most [`ACK_TIMEOUT`].
pub fn wait_ack(
    rx: tokio::sync::oneshot::Receiver<crate::client::Ack>,
) -> tokio::time::Timeout<tokio::sync::oneshot::Receiver<crate::client::Ack>> {
    tokio::time::timeout(ACK_TIMEOUT, rx)
}

/// The seq a `send-message` ack gives, or what went wrong.
pub fn acked_seq(result: &AckWait) -> Result<u64, String> {
    match result {
        Ok(Ok(ack)) => ack.payload::<SendAck>().map_err(|e| e.to_string())?.seq(),
        Ok(Err(_)) => Err("connection ended before a send-message ack".into()),
        Err(_) => Err(format!("no send-message ack within {ACK_TIMEOUT:?}")),
    }
}

/// `join-order-room { orderId, sinceSeq? }`; fails unless the ack says ok.
pub async fn join<I: Inbox>(conn: &Conn<I>, order_id: &str, since: Option<u64>) -> anyhow::Result<JoinAck> {
    let payload = match since {
        Some(seq) => json!({ "orderId": order_id, "sinceSeq": seq }),
        None => json!({ "orderId": order_id }),
    };
    let ack = conn
        .request("join-order-room", payload.to_string(), ACK_TIMEOUT)
        .await?;
    let join: JoinAck = ack.payload()?;
    if !join.ok {
        bail!("join-order-room {order_id} refused: {}", join.error.unwrap_or_default());
    }
    Ok(join)
}

/// The payload of `send-message`.
pub fn message_payload(order_id: &str, text: &str, client_id: &str) -> String {
    json!({ "orderId": order_id, "message": text, "clientId": client_id }).to_string()
}

/// Connects every member of every room (to the node [`Ctx::node_of`] picks) and joins
/// each to its room, one room at a time (its members concurrently). `inbox(room,
/// member)` gives each connection its inbox; the result keeps the order of `rooms` and
/// of their members.
pub async fn connect_and_join<I: Inbox>(
    ctx: &Ctx,
    rooms: &[Room],
    inbox: impl Fn(usize, usize) -> I,
) -> anyhow::Result<Vec<Vec<Conn<I>>>> {
    let mut all = Vec::with_capacity(rooms.len());
    for (r, room) in rooms.iter().enumerate() {
        let joins = room.members.iter().enumerate().map(|(m, member)| {
            let inbox = inbox(r, m);
            async move {
                let conn = ctx.connect_to(ctx.node_of(r, m), member, inbox).await?;
                join(&conn, &room.order_id, None).await?;
                anyhow::Ok(conn)
            }
        });
        let conns = futures_util::future::join_all(joins).await;
        all.push(conns.into_iter().collect::<anyhow::Result<Vec<_>>>()?);
    }
    Ok(all)
}

/// One sender of an acked load: a connection, its order and how many acks it keeps
/// in flight.
pub struct Sender<'a, I: Inbox> {
    pub conn: &'a Conn<I>,
    pub order_id: &'a str,
    pub inflight: usize,
}

/// What an acked load measured.
pub struct AckedLoad {
    /// Acks of messages sent inside the measured window.
    pub acks: u64,
    pub window: Duration,
    pub latency: Latency,
    pub errors: Errors,
    /// Every acked seq, per order (warm-up and drain included), for the gap check.
    pub seqs: HashMap<String, Vec<u64>>,
    pub cpu: Value,
}

impl AckedLoad {
    /// `{ acksPerSec, ackLatency{…}, cpu{…} }`.
    pub fn summary(&self) -> Value {
        json!({
            "acksPerSec": per_sec(self.acks, self.window),
            "ackLatency": self.latency.summary(),
            "cpu": self.cpu,
        })
    }
}

/// Sends acked `send-message`s from every sender, each keeping `inflight` in flight,
/// for `warmup + duration`; measures the acks of the messages sent during `duration`,
/// then waits for every outstanding ack.
pub async fn acked_load<I: Inbox>(
    ctx: &Ctx,
    senders: &[Sender<'_, I>],
    warmup: Duration,
    duration: Duration,
) -> AckedLoad {
    let start = Instant::now();
    let measure_from = start + warmup;
    let stop_at = measure_from + duration;
    let runs = senders.iter().map(|sender| async move {
        let mut latency = Latency::default();
        let mut acks = 0u64;
        let mut errors = Errors::default();
        let mut seqs = Vec::new();
        let mut pending = FuturesUnordered::new();
        let mut sent = 0u64;
        let tag = ctx.names.next("m");
        loop {
            let now = Instant::now();
            while now < stop_at && pending.len() < sender.inflight {
                sent += 1;
                let client_id = format!("{tag}-{sent}");
                let payload = message_payload(sender.order_id, &format!("bench message {sent}"), &client_id);
                let at = Instant::now();
                let rx = sender.conn.emit_ack("send-message", payload);
                pending.push(async move { (at, wait_ack(rx).await) });
            }
            let Some((sent_at, result)) = pending.next().await else {
                break;
            };
            match acked_seq(&result) {
                Ok(seq) => {
                    seqs.push(seq);
                    if sent_at >= measure_from && sent_at < stop_at {
                        acks += 1;
                        if let Ok(Ok(ack)) = &result {
                            latency.record(ack.at - sent_at);
                        }
                    }
                }
                Err(err) => errors.add(err),
            }
        }
        (sender.order_id.to_owned(), latency, acks, errors, seqs)
    });
    let meter = async {
        tokio::time::sleep_until(measure_from.into()).await;
        let meter = CpuMeter::start(&ctx.target);
        tokio::time::sleep_until(stop_at.into()).await;
        meter.stop(&ctx.target)
    };
    let (cpu, done) = tokio::join!(meter, futures_util::future::join_all(runs));
    let mut load = AckedLoad {
        acks: 0,
        window: duration,
        latency: Latency::default(),
        errors: Errors::default(),
        seqs: HashMap::new(),
        cpu,
    };
    for (order_id, latency, acks, errors, seqs) in done {
        load.acks += acks;
        load.latency.merge(&latency);
        load.errors.absorb(errors);
        load.seqs.entry(order_id).or_default().extend(seqs);
    }
    load
}

/// Checks that each order's acked seqs are exactly `after+1 ..= after+n` (no gap, no
/// seq given twice). Returns the number of problems; records each in `errors`.
pub fn check_gapless(seqs: &mut HashMap<String, Vec<u64>>, after: &HashMap<String, u64>, errors: &mut Errors) -> u64 {
    let mut problems = 0;
    for (order_id, list) in seqs.iter_mut() {
        list.sort_unstable();
        let base = after.get(order_id).copied().unwrap_or(0);
        for (i, seq) in list.iter().enumerate() {
            let expected = base + 1 + i as u64;
            if *seq != expected {
                problems += 1;
                errors.add(format!(
                    "order {order_id}: acked seq {seq} where {expected} was expected (gap or duplicate)"
                ));
                break;
            }
        }
    }
    problems
}

/// Closes connections (politely), a few at a time.
pub async fn close_all<I: Inbox>(conns: impl IntoIterator<Item = Conn<I>>) {
    futures_util::stream::iter(conns)
        .for_each_concurrent(64, |conn| async move {
            conn.close().await;
        })
        .await;
}

/// Shares one value between the tasks of a scenario.
pub fn shared<T>(value: T) -> Arc<std::sync::Mutex<T>> {
    Arc::new(std::sync::Mutex::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gapless_seqs_pass_and_gaps_are_counted() {
        let mut errors = Errors::default();
        let mut seqs = HashMap::from([("a".to_owned(), vec![3, 1, 2]), ("b".to_owned(), vec![11, 13])]);
        let after = HashMap::from([("b".to_owned(), 10)]);
        assert_eq!(check_gapless(&mut seqs, &after, &mut errors), 1);
        assert!(errors.first.unwrap().contains("order b"));
    }
}

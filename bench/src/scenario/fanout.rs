//! `fanout`: rooms of K joined members (default 50); one member per room sends at a fixed
//! rate, every other member must receive each `new-message`. Measures deliveries per
//! second and send→receive latency (from the moment the message was due, so a loader
//! that falls behind shows up as latency instead of hiding it), then sweeps the rate to
//! find the highest one at which the receive p99 stays under the target (50 ms).
//!
//! Each message carries its step number and due time in its text; a receiver counts only
//! the current step, so stragglers of an earlier step never pollute the next one.
//!
//! Given several nodes of one cluster (`--url` more than once), the members of each room
//! are spread over them round robin ([`Ctx::node_of`]): room `r`'s sender is on node
//! `r mod nodes` and its receivers on every node, so most deliveries cross the adapter.
//! Every step then also reports the deliveries and latency per node.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::{
    AckWait, Ctx, Errors, Outcome, Room, acked_seq, close_all, connect_and_join, message_payload, shared, wait_ack,
};
use crate::client::{Conn, Inbox};
use crate::stats::{CpuMeter, Latency, per_sec};

/// How long after a step's last send its deliveries may still arrive.
const DRAIN: Duration = Duration::from_secs(3);

struct Receiver {
    /// The node this receiver is connected to (an index into `target.nodes`).
    node: usize,
    base: Instant,
    counting: bool,
    step: u32,
    received: u64,
    latency: Latency,
    last_seq: u64,
    out_of_order: u64,
    unreadable: u64,
}

#[derive(Deserialize)]
struct Delivered<'a> {
    #[serde(borrow)]
    message: DeliveredMessage<'a>,
}

#[derive(Deserialize)]
struct DeliveredMessage<'a> {
    seq: u64,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

impl Inbox for Receiver {
    fn event(&mut self, name: &str, frame: &str, at: Instant) {
        if name != "new-message" || !self.counting {
            return;
        }
        let Ok((_, delivered)) = serde_json::from_str::<(IgnoredAny, Delivered)>(frame) else {
            self.unreadable += 1;
            return;
        };
        let message = delivered.message;
        if message.seq < self.last_seq {
            self.out_of_order += 1;
        }
        self.last_seq = self.last_seq.max(message.seq);
        let mut parts = message.message.split(' ').skip(1);
        let step: Option<u32> = parts.next().and_then(|s| s.parse().ok());
        let due: Option<u64> = parts.next().and_then(|s| s.parse().ok());
        match (step, due) {
            (Some(step), Some(due)) if step == self.step => {
                self.received += 1;
                self.latency
                    .record(at.saturating_duration_since(self.base + Duration::from_nanos(due)));
            }
            (Some(_), Some(_)) => {}
            _ => self.unreadable += 1,
        }
    }
}

type Shared = Arc<Mutex<Receiver>>;

pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let o = &ctx.opts;
    let members = o.fanout_members.max(2);
    let base = Instant::now();
    let rooms: Vec<Room> = (0..o.fanout_rooms.max(1))
        .map(|_| ctx.room("fanout", members))
        .collect();
    ctx.register(&rooms).await?;
    // The sender (first member of each room) does not count its own echo.
    let matrix: Vec<Vec<Shared>> = rooms
        .iter()
        .enumerate()
        .map(|(r, room)| {
            (0..room.members.len())
                .map(|m| {
                    shared(Receiver {
                        node: ctx.node_of(r, m),
                        base,
                        counting: m > 0,
                        step: 0,
                        received: 0,
                        latency: Latency::default(),
                        last_seq: 0,
                        out_of_order: 0,
                        unreadable: 0,
                    })
                })
                .collect()
        })
        .collect();
    let conns = connect_and_join(ctx, &rooms, |r, m| matrix[r][m].clone()).await?;
    let inboxes: Vec<Shared> = matrix.iter().flat_map(|room| room[1..].iter().cloned()).collect();
    let fanout = Fanout {
        ctx,
        base,
        rooms: &rooms,
        conns: &conns,
        inboxes: &inboxes,
        receivers_per_message: (members - 1) as u64,
    };

    let mut errors = Errors::default();
    let mut step_id = 0;
    // Warm-up at the fixed rate, not reported.
    step_id += 1;
    let warm = fanout.step(step_id, o.fanout_rate, o.warmup).await;
    errors.absorb(warm.errors);
    step_id += 1;
    let fixed = fanout.step(step_id, o.fanout_rate, o.duration).await;
    let fixed_summary = fixed.summary();
    errors.absorb(fixed.errors);

    let mut sweep = Value::Null;
    if o.sweep {
        let mut steps = Vec::new();
        let mut best: Option<(f64, Value)> = None;
        let mut failed_at: Option<f64> = None;
        let mut rate = o.sweep_start;
        // Double until a step fails (or the ceiling), then bisect between pass and fail.
        while rate <= o.sweep_max {
            step_id += 1;
            let step = fanout.step(step_id, rate, o.sweep_step).await;
            let pass = step.passes(o.p99_target_ms);
            steps.push(step.summary());
            if pass {
                best = Some((rate, step.summary()));
                rate *= 2.0;
            } else {
                failed_at = Some(rate);
                break;
            }
        }
        if let Some(mut high) = failed_at {
            let mut low = best.as_ref().map_or(0.0, |(r, _)| *r);
            for _ in 0..3 {
                let mid = ((low + high) / 2.0).round();
                if mid <= low || mid >= high {
                    break;
                }
                step_id += 1;
                let step = fanout.step(step_id, mid, o.sweep_step).await;
                let pass = step.passes(o.p99_target_ms);
                steps.push(step.summary());
                if pass {
                    low = mid;
                    best = Some((mid, step.summary()));
                } else {
                    high = mid;
                }
            }
        }
        sweep = json!({
            "p99TargetMs": o.p99_target_ms,
            "maxRateUnderTarget": best.as_ref().map(|(r, _)| *r),
            "deliveriesPerSecAtMax": best.as_ref().map(|(_, s)| s["deliveriesPerSec"].clone()),
            "firstFailingRate": failed_at,
            "steps": steps,
        });
    }

    let (out_of_order, unreadable) = inboxes.iter().fold((0, 0), |(o, u), inbox| {
        let inbox = inbox.lock().expect("inbox");
        (o + inbox.out_of_order, u + inbox.unreadable)
    });
    if unreadable > 0 {
        errors.add(format!("{unreadable} new-message events could not be read"));
    }
    close_all(conns.into_iter().flatten()).await;

    Ok(Outcome {
        params: json!({
            "rooms": rooms.len(),
            "members": members,
            "sendersPerRoom": 1,
            "rate": o.fanout_rate,
            "warmupSecs": o.warmup.as_secs_f64(),
            "durationSecs": o.duration.as_secs_f64(),
            "sweepStepSecs": o.sweep_step.as_secs_f64(),
            "nodes": ctx.target.nodes.len(),
        }),
        results: json!({
            "fixedRate": fixed_summary,
            "sweep": sweep,
            // SPEC §3: every connection receives an order's new-message events in seq order.
            "outOfOrderDeliveries": out_of_order,
        }),
        errors: errors.count,
        first_error: errors.first,
    })
}

struct Fanout<'a> {
    ctx: &'a Ctx,
    base: Instant,
    rooms: &'a [Room],
    conns: &'a [Vec<Conn<Shared>>],
    inboxes: &'a [Shared],
    receivers_per_message: u64,
}

struct Step {
    rate: f64,
    window: Duration,
    sent: u64,
    expected: u64,
    received: u64,
    latency: Latency,
    errors: Errors,
    cpu: Value,
    /// Seconds waited for an idle server before the step.
    quiesced: f64,
    /// With several nodes: per node, its URL, receivers, deliveries and their latency.
    per_node: Vec<NodeShare>,
}

/// What the receivers on one node of a cluster got during a step.
struct NodeShare {
    url: String,
    receivers: usize,
    received: u64,
    latency: Latency,
}

impl Step {
    fn passes(&self, p99_target_ms: f64) -> bool {
        self.errors.count == 0 && self.missing_deliveries() == 0 && self.latency.ms(0.99) <= p99_target_ms
    }

    fn missing_deliveries(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    fn summary(&self) -> Value {
        let mut summary = json!({
            "rate": self.rate,
            "sent": self.sent,
            "deliveries": self.received,
            "deliveriesPerSec": per_sec(self.received, self.window),
            "latency": self.latency.summary(),
            "missingDeliveries": self.missing_deliveries(),
            "errors": self.errors.count,
            "cpu": self.cpu,
            "quiesceSecs": crate::stats::round3(self.quiesced),
        });
        if !self.per_node.is_empty() {
            let per_node: Vec<Value> = self
                .per_node
                .iter()
                .map(|n| {
                    json!({
                        "url": n.url,
                        "receivers": n.receivers,
                        "deliveries": n.received,
                        "deliveriesPerSec": per_sec(n.received, self.window),
                        "latency": n.latency.summary(),
                    })
                })
                .collect();
            summary["perNode"] = json!(per_node);
        }
        summary
    }
}

impl Fanout<'_> {
    /// Sends at `rate` messages per second in total (spread over the rooms) for `window`,
    /// then waits for the deliveries.
    async fn step(&self, id: u32, rate: f64, window: Duration) -> Step {
        let quiesced = self.ctx.quiesce().await;
        for inbox in self.inboxes {
            let mut inbox = inbox.lock().expect("inbox");
            inbox.step = id;
            inbox.received = 0;
            inbox.latency = Latency::default();
        }
        let start = Instant::now();
        let end = start + window;
        let per_room = rate / self.rooms.len() as f64;
        let period = Duration::from_secs_f64(1.0 / per_room.max(0.001));
        let meter = CpuMeter::start(&self.ctx.target);
        let sends = self.rooms.iter().zip(self.conns).map(|(room, conns)| {
            let sender = &conns[0];
            self.send_at_rate(sender, &room.order_id, id, start, end, period)
        });
        let results = futures_util::future::join_all(sends).await;
        let cpu = meter.stop(&self.ctx.target);
        let mut errors = Errors::default();
        let mut sent = 0;
        for (count, errs) in results {
            sent += count;
            errors.absorb(errs);
        }
        let expected = sent * self.receivers_per_message;
        let drain_until = Instant::now() + DRAIN;
        let received = loop {
            let received = self.received();
            if received >= expected || Instant::now() >= drain_until {
                break received;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let mut latency = Latency::default();
        let nodes = &self.ctx.target.nodes;
        let mut per_node: Vec<NodeShare> = nodes
            .iter()
            .map(|url| NodeShare {
                url: url.clone(),
                receivers: 0,
                received: 0,
                latency: Latency::default(),
            })
            .collect();
        for inbox in self.inboxes {
            let inbox = inbox.lock().expect("inbox");
            latency.merge(&inbox.latency);
            let share = &mut per_node[inbox.node];
            share.receivers += 1;
            share.received += inbox.received;
            share.latency.merge(&inbox.latency);
        }
        if nodes.len() < 2 {
            per_node.clear();
        }
        Step {
            rate,
            window,
            sent,
            expected,
            received,
            latency,
            errors,
            cpu,
            quiesced,
            per_node,
        }
    }

    fn received(&self) -> u64 {
        self.inboxes.iter().map(|i| i.lock().expect("inbox").received).sum()
    }

    /// One room's sender: message k is due at `start + k × period`; a late loop sends at
    /// once to catch up. Returns how many it sent, and the errors of their acks.
    async fn send_at_rate(
        &self,
        sender: &Conn<Shared>,
        order_id: &str,
        step: u32,
        start: Instant,
        end: Instant,
        period: Duration,
    ) -> (u64, Errors) {
        let mut errors = Errors::default();
        let mut pending = FuturesUnordered::new();
        let tag = self.ctx.names.next("f");
        let mut k: u32 = 0;
        loop {
            let due = start + period * k;
            if due >= end {
                break;
            }
            tokio::select! {
                biased;
                Some(result) = pending.next(), if !pending.is_empty() => check_ack(result, &mut errors),
                _ = tokio::time::sleep_until(due.into()) => {
                    let nanos = due.duration_since(self.base).as_nanos();
                    let text = format!("fanout {step} {nanos}");
                    let payload = message_payload(order_id, &text, &format!("{tag}-{k}"));
                    let rx = sender.emit_ack("send-message", payload);
                    pending.push(wait_ack(rx));
                    k += 1;
                }
            }
        }
        while let Some(result) = pending.next().await {
            check_ack(result, &mut errors);
        }
        (u64::from(k), errors)
    }
}

fn check_ack(result: AckWait, errors: &mut Errors) {
    if let Err(err) = acked_seq(&result) {
        errors.add(err);
    }
}

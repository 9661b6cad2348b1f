//! `reconnect`: a storm. N clients (rooms of 4 receivers plus one sender that stays
//! connected) are joined and receiving while each room's sender keeps posting; then every
//! receiver's connection drops at once (TCP closed, no goodbye), and all reconnect and
//! re-join with `{ orderId, sinceSeq: lastSeenSeq }` while messages keep flowing. The
//! join ack's `messages` (more joins while `hasMore`) and the live `new-message` events
//! must together give each client every seq: measures the time until all are caught up
//! and counts the messages missed (must be 0).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;

use super::{
    AckWait, Ctx, Errors, Outcome, Room, acked_seq, close_all, connect_and_join, join, message_payload, shared,
    wait_ack,
};
use crate::client::{Conn, Inbox};
use crate::stats::{CpuMeter, Latency, round3};

/// How long the whole catch-up (and later the final drain) may take.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// The seqs one client has seen of its order.
#[derive(Default)]
struct Tracker {
    /// Every seq up to here has been seen.
    prefix: u64,
    /// Seen seqs above `prefix + 1`.
    above: BTreeSet<u64>,
    duplicates: u64,
    out_of_order: u64,
    last_live: u64,
    target: Option<u64>,
    caught_at: Option<Instant>,
}

impl Tracker {
    fn see(&mut self, seq: u64, at: Instant) {
        if seq <= self.prefix || !self.above.insert(seq) {
            self.duplicates += 1;
            return;
        }
        while self.above.remove(&(self.prefix + 1)) {
            self.prefix += 1;
        }
        self.check_caught(at);
    }

    fn set_target(&mut self, target: u64, at: Instant) {
        self.target = Some(target);
        self.caught_at = None;
        self.check_caught(at);
    }

    fn check_caught(&mut self, at: Instant) {
        if self.caught_at.is_none() && self.target.is_some_and(|t| self.prefix >= t) {
            self.caught_at = Some(at);
        }
    }

    /// Seqs in `1..=last` never seen.
    fn missed(&self, last: u64) -> u64 {
        if self.prefix >= last {
            return 0;
        }
        last - self.prefix - self.above.range(..=last).count() as u64
    }
}

#[derive(Deserialize)]
struct Delivered {
    message: super::SeqOnly,
}

impl Inbox for Tracker {
    fn event(&mut self, name: &str, frame: &str, at: Instant) {
        if name != "new-message" {
            return;
        }
        if let Ok((_, delivered)) = serde_json::from_str::<(IgnoredAny, Delivered)>(frame) {
            let seq = delivered.message.seq;
            if seq < self.last_live {
                self.out_of_order += 1;
            }
            self.last_live = self.last_live.max(seq);
            self.see(seq, at);
        }
    }
}

type Shared = Arc<std::sync::Mutex<Tracker>>;

pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let o = &ctx.opts;
    let room_count = o.reconnect_clients.div_ceil(4).max(1);
    let rooms: Vec<Room> = (0..room_count).map(|_| ctx.room("reconnect", 5)).collect();
    ctx.register(&rooms).await?;
    let trackers: Vec<Vec<Shared>> = rooms
        .iter()
        .map(|r| r.members.iter().map(|_| shared(Tracker::default())).collect())
        .collect();
    let mut conns = connect_and_join(ctx, &rooms, |r, m| trackers[r][m].clone()).await?;
    // Member 0 of each room sends and stays; members 1..5 receive and will drop.
    let senders: Vec<Conn<Shared>> = conns.iter_mut().map(|room| room.remove(0)).collect();
    let receivers: Vec<(usize, usize, Conn<Shared>)> = conns
        .into_iter()
        .enumerate()
        .flat_map(|(r, room)| room.into_iter().enumerate().map(move |(m, c)| (r, m + 1, c)))
        .collect();
    let clients = receivers.len();

    let rooms = &rooms;
    let stop = AtomicBool::new(false);
    let last_acked: Vec<AtomicU64> = rooms.iter().map(|_| AtomicU64::new(0)).collect();
    let per_room_period = Duration::from_secs_f64(room_count as f64 / o.reconnect_rate.max(0.001));
    // Rooms take turns (each starts a fraction of the period later), so the load is
    // steady instead of one burst of every room at each tick.
    let first = Instant::now();
    let sending = futures_util::future::join_all(senders.iter().zip(rooms).zip(&last_acked).enumerate().map(
        |(r, ((sender, room), last))| {
            let start = first + per_room_period.mul_f64(r as f64 / room_count as f64);
            send_until(ctx, sender, &room.order_id, start, per_room_period, &stop, last)
        },
    ));

    let storm = async {
        let mut errors = Errors::default();
        tokio::time::sleep(o.warmup.min(Duration::from_secs(2))).await;

        // Everyone drops at once.
        let meter = CpuMeter::start(&ctx.target);
        let dropped_at = Instant::now();
        let dropped: Vec<(usize, usize, Shared)> = futures_util::future::join_all(
            receivers
                .into_iter()
                .map(|(r, m, conn)| async move { (r, m, conn.drop_now().await.0) }),
        )
        .await;

        // And reconnects, re-joining with what it has seen.
        let rejoined: Vec<anyhow::Result<(Conn<Shared>, u64)>> = futures_util::stream::iter(dropped)
            .map(|(r, m, tracker)| rejoin(ctx, &rooms[r], m, tracker))
            .buffer_unordered(o.connect_concurrency.max(1))
            .collect()
            .await;
        let rejoined_secs = dropped_at.elapsed().as_secs_f64();
        let mut conns = Vec::with_capacity(rejoined.len());
        let mut caught_up_messages = 0;
        for result in rejoined {
            match result {
                Ok((conn, behind)) => {
                    caught_up_messages += behind;
                    conns.push(conn);
                }
                Err(err) => errors.add(format!("{err:#}")),
            }
        }

        // Wait until every client has everything up to its join ack's lastSeq.
        let deadline = Instant::now() + CATCH_UP_TIMEOUT;
        let all: Vec<&Shared> = trackers.iter().flat_map(|room| room[1..].iter()).collect();
        while Instant::now() < deadline && all.iter().any(|t| t.lock().expect("tracker").caught_at.is_none()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut catch_up = Latency::default();
        let mut last_caught = Duration::ZERO;
        let mut not_caught = 0;
        for tracker in &all {
            match tracker.lock().expect("tracker").caught_at {
                Some(at) => {
                    let took = at.saturating_duration_since(dropped_at);
                    catch_up.record(took);
                    last_caught = last_caught.max(took);
                }
                None => not_caught += 1,
            }
        }
        if not_caught > 0 {
            errors.add(format!(
                "{not_caught} clients did not catch up within {CATCH_UP_TIMEOUT:?}"
            ));
        }
        let cpu = meter.stop(&ctx.target);

        // Messages keep flowing a moment longer, then stop; every client must end with all.
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        (
            errors,
            conns,
            rejoined_secs,
            catch_up,
            last_caught,
            caught_up_messages,
            cpu,
        )
    };

    let (send_errors, (mut errors, conns, rejoined_secs, catch_up, last_caught, caught_up_messages, cpu)) =
        tokio::join!(sending, storm);
    for e in send_errors {
        errors.absorb(e);
    }

    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    let finals: Vec<u64> = last_acked.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let complete = |r: usize, t: &Shared| t.lock().expect("tracker").prefix >= finals[r];
    while Instant::now() < deadline
        && trackers
            .iter()
            .enumerate()
            .any(|(r, room)| room[1..].iter().any(|t| !complete(r, t)))
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (mut missed, mut duplicates, mut out_of_order) = (0, 0, 0);
    for (r, room) in trackers.iter().enumerate() {
        for tracker in &room[1..] {
            let t = tracker.lock().expect("tracker");
            missed += t.missed(finals[r]);
            duplicates += t.duplicates;
            out_of_order += t.out_of_order;
        }
    }
    if missed > 0 {
        errors.add(format!("{missed} messages missed"));
    }
    let total_messages: u64 = finals.iter().sum();
    close_all(conns).await;
    close_all(senders).await;

    Ok(Outcome {
        params: json!({
            "clients": clients,
            "rooms": room_count,
            "receiversPerRoom": 4,
            "rate": o.reconnect_rate,
            "connectConcurrency": o.connect_concurrency,
        }),
        results: json!({
            "rejoinedAllSecs": round3(rejoined_secs),
            "caughtUpAllSecs": round3(last_caught.as_secs_f64()),
            "catchUp": catch_up.summary(),
            "messagesInJoinAcks": caught_up_messages,
            "messagesSent": total_messages,
            "missed": missed,
            "duplicates": duplicates,
            // SPEC §3: every connection receives an order's new-message events in seq order.
            "outOfOrderDeliveries": out_of_order,
            "stormCpu": cpu,
        }),
        errors: errors.count,
        first_error: errors.first,
    })
}

/// Reconnects with the same tracker and re-joins with `sinceSeq` = what it has seen,
/// again while the ack says `hasMore`. Returns the connection and how many messages the
/// acks carried.
async fn rejoin(ctx: &Ctx, room: &Room, m: usize, tracker: Shared) -> anyhow::Result<(Conn<Shared>, u64)> {
    let member = &room.members[m];
    let conn = ctx.connect(member, tracker.clone()).await?;
    let mut since = tracker.lock().expect("tracker").prefix;
    let mut carried = 0;
    let mut target = None;
    loop {
        let ack = join(&conn, &room.order_id, Some(since)).await?;
        let at = Instant::now();
        let mut t = tracker.lock().expect("tracker");
        for message in &ack.messages {
            t.see(message.seq, at);
        }
        carried += ack.messages.len() as u64;
        let target = *target.get_or_insert(ack.last_seq);
        if !ack.has_more || ack.messages.is_empty() {
            t.set_target(target, at);
            break;
        }
        since = ack.messages.iter().map(|m| m.seq).max().unwrap_or(since);
    }
    Ok((conn, carried))
}

/// Posts to `order_id` every `period` from `start` until `stop`; records the highest
/// acked seq.
async fn send_until(
    ctx: &Ctx,
    sender: &Conn<Shared>,
    order_id: &str,
    start: Instant,
    period: Duration,
    stop: &AtomicBool,
    last_acked: &AtomicU64,
) -> Errors {
    let mut errors = Errors::default();
    let mut pending = FuturesUnordered::new();
    let tag = ctx.names.next("r");
    let mut ticks = tokio::time::interval_at(start.into(), period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut k = 0u64;
    let record = |result: AckWait, errors: &mut Errors| match acked_seq(&result) {
        Ok(seq) => {
            last_acked.fetch_max(seq, Ordering::Relaxed);
        }
        Err(err) => errors.add(err),
    };
    loop {
        tokio::select! {
            Some(result) = pending.next(), if !pending.is_empty() => record(result, &mut errors),
            _ = ticks.tick() => {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                k += 1;
                let payload = message_payload(order_id, &format!("reconnect {k}"), &format!("{tag}-{k}"));
                pending.push(wait_ack(sender.emit_ack("send-message", payload)));
            }
        }
    }
    while let Some(result) = pending.next().await {
        record(result, &mut errors);
    }
    errors
}

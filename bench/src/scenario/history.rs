//! `long-history`: durable case (a) — one room of 4, 4 senders × 16 acks in flight — in
//! an order that already holds `--history` messages (default 100,000) nobody has read,
//! against the same load in an empty order measured right after, in the same run. Per-
//! message cost must not grow with history, so the two rates should match.
//!
//! The history is filled through the contract itself, so it works against any server:
//! the order is first registered with one participant only, who posts the messages from
//! four connections with `--fill-inflight` acks in flight each; then the order is
//! registered again with all four members, so three of them have `--history` unread
//! messages. (With the members in the order from the start, a server whose per-message
//! cost grows with history would make the fill itself quadratic.) The fill's own rate is
//! reported, and a fill that exceeds `--fill-timeout` stops there and says how far it got.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;

use super::durable::measure;
use super::{
    Ctx, Errors, Outcome, Room, acked_seq, check_gapless, close_all, connect_and_join, message_payload, wait_ack,
};
use crate::client::Conn;
use crate::stats::{per_sec, round3};

pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let o = &ctx.opts;
    let mut errors = Errors::default();
    let rooms: Vec<Room> = vec![ctx.room("history", 4), ctx.room("empty", 4)];
    let writer = Room {
        order_id: rooms[0].order_id.clone(),
        members: rooms[0].members[..1].to_vec(),
    };
    ctx.register(std::slice::from_ref(&writer)).await?;
    let mut fillers = Vec::new();
    for _ in 0..4 {
        fillers.push(ctx.connect(&writer.members[0], ()).await?);
    }
    let started = Instant::now();
    let (filled, fill_errors) = fill(ctx, &writer, &fillers, o.history).await;
    let fill_secs = started.elapsed();
    errors.absorb(fill_errors);
    close_all(fillers).await;

    ctx.register(&rooms).await?;
    let conns = connect_and_join(ctx, &rooms, |_, _| ()).await?;
    if filled < o.history {
        errors.add(format!(
            "history fill stopped at {filled} of {} messages after {:.0} s (--fill-timeout)",
            o.history,
            fill_secs.as_secs_f64()
        ));
    }

    ctx.quiesce().await;
    let mut empty = measure(ctx, &rooms[1..], &conns[1..], 4, o.one_room_inflight, &HashMap::new()).await;
    let after = HashMap::from([(rooms[0].order_id.clone(), filled)]);
    ctx.quiesce().await;
    let mut full = measure(ctx, &rooms[..1], &conns[..1], 4, o.one_room_inflight, &after).await;
    close_all(conns.into_iter().flatten()).await;

    let empty_rate = per_sec(empty.acks, empty.window);
    let full_rate = per_sec(full.acks, full.window);
    let (empty_summary, full_summary) = (empty.summary(), full.summary());
    errors.absorb(std::mem::take(&mut empty.errors));
    errors.absorb(std::mem::take(&mut full.errors));

    Ok(Outcome {
        params: json!({
            "history": o.history,
            "members": 4,
            "senders": 4,
            "inflightPerSender": o.one_room_inflight,
            "fillInflightPerSender": o.fill_inflight,
            "warmupSecs": o.warmup.as_secs_f64(),
            "durationSecs": o.duration.as_secs_f64(),
        }),
        results: json!({
            "filled": filled,
            "fillSecs": round3(fill_secs.as_secs_f64()),
            "fillPerSec": per_sec(filled, fill_secs),
            "emptyOrder": empty_summary,
            "longHistory": full_summary,
            "historyToEmptyRatio": if empty_rate > 0.0 { round3(full_rate / empty_rate) } else { 0.0 },
        }),
        errors: errors.count,
        first_error: errors.first,
    })
}

/// Sends `count` acked messages to `room` from `conns`, `--fill-inflight` in flight
/// each, until done or `--fill-timeout`. Returns how many were stored; their seqs
/// must be exactly 1..=n.
async fn fill(ctx: &Ctx, room: &Room, conns: &[Conn<()>], count: u64) -> (u64, Errors) {
    let deadline = Instant::now() + ctx.opts.fill_timeout;
    let budget = AtomicU64::new(count);
    let take = || {
        budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    };
    let senders = conns.iter().map(|conn| {
        let take = &take;
        async move {
            let mut errors = Errors::default();
            let mut seqs = Vec::new();
            let mut pending = FuturesUnordered::new();
            let tag = ctx.names.next("h");
            let mut k = 0u64;
            loop {
                while pending.len() < ctx.opts.fill_inflight && Instant::now() < deadline && take() {
                    k += 1;
                    let payload = message_payload(&room.order_id, &format!("history {k}"), &format!("{tag}-{k}"));
                    pending.push(wait_ack(conn.emit_ack("send-message", payload)));
                }
                let Some(result) = pending.next().await else { break };
                match acked_seq(&result) {
                    Ok(seq) => seqs.push(seq),
                    Err(err) => errors.add(err),
                }
            }
            (seqs, errors)
        }
    });
    let mut errors = Errors::default();
    let mut seqs = Vec::new();
    for (s, e) in futures_util::future::join_all(senders).await {
        seqs.extend(s);
        errors.absorb(e);
    }
    let stored = seqs.len() as u64;
    let mut by_order = HashMap::from([(room.order_id.clone(), seqs)]);
    check_gapless(&mut by_order, &HashMap::new(), &mut errors);
    (stored, errors)
}

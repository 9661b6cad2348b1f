//! `durable`: acknowledged `send-message` throughput and ack latency — every ack means a
//! stored message. Two cases: (a) one order room of 4 connected members, all 4 sending
//! with 16 acks in flight each (one hot conversation); (b) 100 rooms of 4, one sender
//! per room with 4 in flight (many quiet conversations). Every ack must say `ok`, and
//! each order's acked seqs must be exactly 1..n. Given several nodes of one cluster,
//! members are spread over them as in `fanout` ([`super::Ctx::node_of`]): the one room's
//! 4 senders sit on both nodes, and the 100 rooms' senders alternate between them.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{AckedLoad, Ctx, Errors, Outcome, Room, Sender, acked_load, check_gapless, close_all, connect_and_join};
use crate::client::Conn;

pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let o = &ctx.opts;
    let mut errors = Errors::default();

    let one = one_case(ctx, "durable-one", 1, 4, o.one_room_inflight, &mut errors).await?;
    ctx.quiesce().await;
    let many = one_case(ctx, "durable-many", o.many_rooms, 1, o.many_inflight, &mut errors).await?;

    Ok(Outcome {
        params: json!({
            "warmupSecs": o.warmup.as_secs_f64(),
            "durationSecs": o.duration.as_secs_f64(),
            "nodes": ctx.target.nodes.len(),
            "oneRoom": { "rooms": 1, "members": 4, "senders": 4, "inflightPerSender": o.one_room_inflight },
            "manyRooms": { "rooms": o.many_rooms, "members": 4, "senders": o.many_rooms, "inflightPerSender": o.many_inflight },
        }),
        results: json!({ "oneRoom": one, "manyRooms": many }),
        errors: errors.count,
        first_error: errors.first,
    })
}

/// `rooms` fresh rooms of 4 joined members; the first `senders_per_room` members of
/// each send with `inflight` acks in flight.
async fn one_case(
    ctx: &Ctx,
    what: &str,
    rooms: usize,
    senders_per_room: usize,
    inflight: usize,
    errors: &mut Errors,
) -> anyhow::Result<Value> {
    let rooms: Vec<Room> = (0..rooms).map(|_| ctx.room(what, 4)).collect();
    ctx.register(&rooms).await?;
    let conns = connect_and_join(ctx, &rooms, |_, _| ()).await?;
    let mut load = measure(ctx, &rooms, &conns, senders_per_room, inflight, &HashMap::new()).await;
    close_all(conns.into_iter().flatten()).await;
    let summary = load.summary();
    errors.absorb(std::mem::take(&mut load.errors));
    Ok(summary)
}

/// Runs the acked load on already joined rooms; `after` is each order's last seq
/// before the load (0 if absent). Gaps and duplicates are counted into the errors.
pub async fn measure(
    ctx: &Ctx,
    rooms: &[Room],
    conns: &[Vec<Conn<()>>],
    senders_per_room: usize,
    inflight: usize,
    after: &HashMap<String, u64>,
) -> AckedLoad {
    let senders: Vec<Sender<'_, ()>> = rooms
        .iter()
        .zip(conns)
        .flat_map(|(room, conns)| {
            conns.iter().take(senders_per_room).map(|conn| Sender {
                conn,
                order_id: &room.order_id,
                inflight,
            })
        })
        .collect();
    let mut load = acked_load(ctx, &senders, ctx.opts.warmup, ctx.opts.duration).await;
    let mut gap_errors = Errors::default();
    check_gapless(&mut load.seqs, after, &mut gap_errors);
    load.errors.absorb(gap_errors);
    load
}

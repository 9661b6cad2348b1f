//! `hold`: N idle connections, each joined to its order room (orders of `room-size`
//! members, default 2: a customer and a driver). Measures the connect rate (TCP,
//! WebSocket upgrade, Engine.IO open, authenticated namespace connect), the join rate,
//! and the server's resident memory per connection: `VmRSS` of the server (`--server-pid`)
//! after the orders are registered and before the first connection, against `VmRSS`
//! once all are joined and have sat idle for `--hold-secs`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use super::{Ctx, Errors, Outcome, Room, close_all, join};
use crate::client::Conn;
use crate::stats::{CpuMeter, Latency, per_sec, round3};

pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let o = &ctx.opts;
    let size = o.hold_room_size.max(1);
    let room_count = o.hold_connections.div_ceil(size).max(1);
    let rooms: Vec<Room> = (0..room_count).map(|_| ctx.room("hold", size)).collect();
    let registered = Instant::now();
    ctx.register(&rooms).await?;
    let register_secs = registered.elapsed().as_secs_f64();
    let members: Vec<(&Room, &crate::target::Member)> = rooms
        .iter()
        .flat_map(|room| room.members.iter().map(move |m| (room, m)))
        .collect();
    let n = members.len();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = ctx.target.rss_kib();
    let mut errors = Errors::default();

    // Connect everyone, `connect-concurrency` handshakes at a time.
    let meter = CpuMeter::start(&ctx.target);
    let started = Instant::now();
    let results: Vec<(usize, anyhow::Result<Conn<()>>, Duration)> =
        futures_util::stream::iter(members.iter().enumerate())
            .map(|(i, (_, member))| async move {
                let at = Instant::now();
                let conn = ctx.connect(member, ()).await;
                (i, conn, at.elapsed())
            })
            .buffer_unordered(o.connect_concurrency.max(1))
            .collect()
            .await;
    let connect_secs = started.elapsed();
    let connect_cpu = meter.stop(&ctx.target);
    let mut connect_latency = Latency::default();
    let mut conns: Vec<(usize, Conn<()>)> = Vec::with_capacity(n);
    for (i, conn, took) in results {
        connect_latency.record(took);
        match conn {
            Ok(conn) => conns.push((i, conn)),
            Err(err) => errors.add(format!("{err:#}")),
        }
    }

    // Join each to its order room.
    let members = &members;
    let started = Instant::now();
    let joins: Vec<anyhow::Result<()>> = futures_util::stream::iter(conns.iter())
        .map(|(i, conn)| async move { join(conn, &members[*i].0.order_id, None).await.map(|_| ()) })
        .buffer_unordered(o.connect_concurrency.max(1))
        .collect()
        .await;
    let join_secs = started.elapsed();
    let joined = joins.iter().filter(|j| j.is_ok()).count();
    for join in joins {
        if let Err(err) = join {
            errors.add(format!("{err:#}"));
        }
    }

    tokio::time::sleep(o.hold_idle).await;
    let rss_after = ctx.target.rss_kib();
    let alive = conns.iter().filter(|(_, c)| c.is_alive()).count();
    if alive < conns.len() {
        errors.add(format!("{} connections ended while idle", conns.len() - alive));
    }
    let per_conn = match (rss_before, rss_after) {
        (Some(before), Some(after)) if joined > 0 => Some(round3(after.saturating_sub(before) as f64 / joined as f64)),
        _ => None,
    };
    close_all(conns.into_iter().map(|(_, c)| c)).await;

    Ok(Outcome {
        params: json!({
            "connections": n,
            "roomSize": size,
            "connectConcurrency": o.connect_concurrency,
            "holdSecs": o.hold_idle.as_secs_f64(),
        }),
        results: json!({
            "connected": alive,
            "joined": joined,
            "connectsPerSec": per_sec(n as u64, connect_secs),
            "connectLatency": connect_latency.summary(),
            "connectCpu": connect_cpu,
            "joinsPerSec": per_sec(joined as u64, join_secs),
            "serverRssBeforeKiB": rss_before,
            "serverRssAfterKiB": rss_after,
            "serverKiBPerConnection": per_conn,
            "registerOrdersSecs": round3(register_secs),
        }),
        errors: errors.count,
        first_error: errors.first,
    })
}

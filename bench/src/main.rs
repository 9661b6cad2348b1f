//! `orderchat-bench`: a load generator for orderchat and any server of its Socket.IO
//! contract (SPEC §2–§5). It speaks Engine.IO v4 / Socket.IO v5 over WebSockets itself,
//! mints HS256 tokens with the server's secret, registers orders over HTTP as the
//! platform service, and prints one JSON line per scenario on stdout (progress goes to
//! stderr). `compare` turns the lines of a run against two targets into a table.
//! See bench/README.md.

mod client;
mod report;
mod scenario;
mod stats;
mod sys;
mod target;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use scenario::{Ctx, Names, Opts};
use target::Target;

#[derive(Parser)]
#[command(name = "orderchat-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios against one server; one JSON line per scenario on stdout.
    Run(Box<RunArgs>),
    /// Read result lines (of a run against two targets) and print the table of ratios.
    Compare {
        /// File of JSON result lines.
        file: PathBuf,
        /// The target whose figures are divided (left of the ratio).
        #[arg(long, default_value = "orderchat")]
        base: String,
        /// The target it is compared with.
        #[arg(long, default_value = "node-socketio")]
        peer: String,
        /// Only these scenarios (repeated or comma-separated; default: every one).
        #[arg(long = "scenario", value_delimiter = ',')]
        scenarios: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Durable,
    Fanout,
    Hold,
    Reconnect,
    LongHistory,
    All,
}

impl Scenario {
    /// The scenarios that can spread their connections over several nodes.
    const MULTI_NODE: [Scenario; 2] = [Scenario::Durable, Scenario::Fanout];

    const EACH: [Scenario; 5] = [
        Scenario::Durable,
        Scenario::Fanout,
        Scenario::Hold,
        Scenario::Reconnect,
        Scenario::LongHistory,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Durable => "durable",
            Scenario::Fanout => "fanout",
            Scenario::Hold => "hold",
            Scenario::Reconnect => "reconnect",
            Scenario::LongHistory => "long-history",
            Scenario::All => "all",
        }
    }
}

#[derive(Parser)]
struct RunArgs {
    /// Scenarios to run, in this order.
    #[arg(value_enum, default_values = ["all"])]
    scenarios: Vec<Scenario>,

    /// The server's base URL. Repeated (or comma-separated), the nodes of one cluster:
    /// `durable` and `fanout` spread each room's members over them round robin; HTTP
    /// set-up goes to the first. The other scenarios take one.
    #[arg(
        long = "url",
        env = "BENCH_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:3000"
    )]
    urls: Vec<String>,

    /// HS256 secret the server verifies tokens with.
    #[arg(long, env = "ORDERCHAT_JWT_SECRET", hide_env_values = true)]
    secret: String,

    /// Name of the server under test, printed in every line.
    #[arg(long, default_value = "orderchat")]
    target: String,

    /// What the server stores into (`sqlite`, `postgres`, `memory`, …), printed in every
    /// line as `backend`; the bench does not check it.
    #[arg(long)]
    backend: Option<String>,

    /// PID of the server process: enables server memory (hold) and CPU figures. One per
    /// node with several `--url` (repeated or comma-separated), in the same order.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,

    /// PIDs of the stores the server uses (PostgreSQL's postmaster, redis-server): their
    /// CPU, child processes included, is reported as `dbCores` instead of counting as
    /// other load on the machine, and they must be idle too before a measurement.
    #[arg(long, value_delimiter = ',')]
    db_pid: Vec<u32>,

    /// Every scenario with tiny sizes and windows: a few seconds in all.
    #[arg(long)]
    smoke: bool,

    /// Worker threads of the loader (default: one per core).
    #[arg(long)]
    threads: Option<usize>,

    /// Seconds of load before measuring (durable, fanout, long-history).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,

    /// Seconds measured (durable cases, fanout at the fixed rate, long-history cases).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,

    /// durable (a): acks in flight per sender in the one room of 4.
    #[arg(long, default_value_t = 16)]
    one_room_inflight: usize,

    /// durable (b): number of rooms of 4.
    #[arg(long, default_value_t = 100)]
    many_rooms: usize,

    /// durable (b): acks in flight of each room's one sender.
    #[arg(long, default_value_t = 4)]
    many_inflight: usize,

    /// fanout: members per room (one sends, the others receive).
    #[arg(long, default_value_t = 50)]
    fanout_members: usize,

    /// fanout: number of rooms (one sender each).
    #[arg(long, default_value_t = 1)]
    fanout_rooms: usize,

    /// fanout: messages per second in total at the fixed rate.
    #[arg(long, default_value_t = 100.0)]
    fanout_rate: f64,

    /// fanout: skip the rate sweep.
    #[arg(long)]
    no_sweep: bool,

    /// fanout sweep: first rate (msgs/s); doubles until p99 passes the target, then bisects.
    #[arg(long, default_value_t = 25.0)]
    sweep_start: f64,

    /// fanout sweep: highest rate tried.
    #[arg(long, default_value_t = 25_600.0)]
    sweep_max: f64,

    /// fanout sweep: seconds per step.
    #[arg(long, default_value_t = 3.0)]
    sweep_step: f64,

    /// fanout sweep: the receive p99 a rate must stay under, in ms.
    #[arg(long, default_value_t = 50.0)]
    p99_target_ms: f64,

    /// hold: idle connections.
    #[arg(long, default_value_t = 5000)]
    connections: usize,

    /// hold: members per order room.
    #[arg(long, default_value_t = 2)]
    room_size: usize,

    /// hold: seconds the joined connections sit idle before memory is read.
    #[arg(long, default_value_t = 5.0)]
    hold_secs: f64,

    /// hold and reconnect: handshakes in flight at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,

    /// reconnect: clients that drop and reconnect (rooms of 4).
    #[arg(long, default_value_t = 1000)]
    clients: usize,

    /// reconnect: messages per second in total while they do.
    #[arg(long, default_value_t = 200.0)]
    reconnect_rate: f64,

    /// long-history: messages in the order before measuring.
    #[arg(long, default_value_t = 100_000)]
    history: u64,

    /// long-history: acks in flight per member while filling.
    #[arg(long, default_value_t = 64)]
    fill_inflight: usize,

    /// long-history: seconds the fill may take at most.
    #[arg(long, default_value_t = 900.0)]
    fill_timeout: f64,
}

impl RunArgs {
    fn opts(&self) -> Opts {
        let secs = Duration::from_secs_f64;
        let opts = Opts {
            warmup: secs(self.warmup),
            duration: secs(self.duration),
            one_room_inflight: self.one_room_inflight,
            many_rooms: self.many_rooms,
            many_inflight: self.many_inflight,
            fanout_members: self.fanout_members,
            fanout_rooms: self.fanout_rooms,
            fanout_rate: self.fanout_rate,
            sweep: !self.no_sweep,
            sweep_start: self.sweep_start,
            sweep_max: self.sweep_max,
            sweep_step: secs(self.sweep_step),
            p99_target_ms: self.p99_target_ms,
            hold_connections: self.connections,
            hold_room_size: self.room_size,
            hold_idle: secs(self.hold_secs),
            connect_concurrency: self.connect_concurrency,
            reconnect_clients: self.clients,
            reconnect_rate: self.reconnect_rate,
            history: self.history,
            fill_inflight: self.fill_inflight,
            fill_timeout: secs(self.fill_timeout),
            quiesce: true,
        };
        if !self.smoke {
            return opts;
        }
        Opts {
            warmup: secs(0.1),
            duration: secs(0.3),
            many_rooms: 5,
            fanout_members: 5,
            fanout_rate: 20.0,
            sweep_start: 50.0,
            sweep_max: 100.0,
            sweep_step: secs(0.2),
            // Generous: a debug build on a busy CI machine must still pass a step.
            p99_target_ms: 1000.0,
            hold_connections: 20,
            hold_idle: secs(0.2),
            reconnect_clients: 8,
            reconnect_rate: 40.0,
            history: 300,
            fill_timeout: secs(60.0),
            quiesce: false,
            ..opts
        }
    }
}

/// The scenarios asked for, `all` expanded, each once, in the order given.
fn expand(asked: &[Scenario]) -> Vec<Scenario> {
    let mut scenarios: Vec<Scenario> = Vec::new();
    for s in asked {
        let add: &[Scenario] = if *s == Scenario::All {
            &Scenario::EACH
        } else {
            std::slice::from_ref(s)
        };
        for s in add {
            if !scenarios.contains(s) {
                scenarios.push(*s);
            }
        }
    }
    scenarios
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Compare {
            file,
            base,
            peer,
            scenarios,
        } => {
            print!("{}", report::compare(&file, &base, &peer, &scenarios)?);
            Ok(())
        }
        Command::Run(args) => run(*args),
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let scenarios = expand(&args.scenarios);
    if args.urls.len() > 1
        && let Some(s) = scenarios.iter().find(|s| !Scenario::MULTI_NODE.contains(s))
    {
        anyhow::bail!(
            "{} runs against one server: give one --url (only durable and fanout spread over several nodes)",
            s.name()
        );
    }
    if !args.server_pid.is_empty() && args.server_pid.len() != args.urls.len() {
        anyhow::bail!(
            "{} --server-pid for {} --url: give one per node, in the same order",
            args.server_pid.len(),
            args.urls.len()
        );
    }
    let files = sys::raise_nofile_limit()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.enable_all().build()?;
    let ctx = Ctx {
        target: Target::new(&args.urls, &args.secret, args.server_pid.clone(), args.db_pid.clone())?,
        opts: args.opts(),
        names: Names::new(),
    };
    eprintln!(
        "orderchat-bench: {} at {} (open files up to {files}){}",
        args.target,
        args.urls.join(", "),
        if args.smoke { ", smoke" } else { "" }
    );
    runtime.block_on(async {
        for scenario in scenarios {
            let waited = ctx.quiesce().await;
            eprintln!("orderchat-bench: {} …", scenario.name());
            let started = Instant::now();
            let outcome = match scenario {
                Scenario::Durable => scenario::durable::run(&ctx).await,
                Scenario::Fanout => scenario::fanout::run(&ctx).await,
                Scenario::Hold => scenario::hold::run(&ctx).await,
                Scenario::Reconnect => scenario::reconnect::run(&ctx).await,
                Scenario::LongHistory => scenario::history::run(&ctx).await,
                Scenario::All => unreachable!("expanded above"),
            };
            let line = report::line(
                scenario.name(),
                &args.target,
                args.smoke,
                started.elapsed().as_secs_f64(),
                outcome,
            );
            let mut line = line;
            line["quiesceSecs"] = serde_json::json!(stats::round3(waited));
            line["nodes"] = serde_json::json!(args.urls.len());
            if let Some(backend) = &args.backend {
                line["backend"] = serde_json::json!(backend);
            }
            println!("{line}");
        }
    });
    Ok(())
}

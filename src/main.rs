//! The `orderchat` command line: `serve`, `token`, `migrate`, `archive`. Nothing else lives here.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use orderchat::app::{Application, open_store};
use orderchat::auth::Verifier;
use orderchat::chat::{ArchivePolicy, Archiver};
use orderchat::config::{Config, LogFormat};

#[derive(Parser)]
#[command(
    name = "orderchat",
    version,
    about = "Real-time order chat server (Socket.IO + HTTP, JWT, SQLite)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (with no configuration: SQLite under ./data, 127.0.0.1:3000).
    Serve(Config),
    /// Print a token signed with the server's configured HS256 secret.
    Token {
        #[command(flatten)]
        config: Config,
        /// User id (the `sub` claim).
        #[arg(long)]
        sub: String,
        /// Role: customer, driver, dispatcher, admin, service, …
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
        /// Print a link that opens the dispatcher console signed in with the token
        /// (`BASE/console/#token=…`; the fragment never reaches the server). BASE defaults
        /// to this server's `--bind` address, e.g. http://127.0.0.1:3000.
        #[arg(long, value_name = "BASE", num_args = 0..=1, default_missing_value = "")]
        console_url: Option<String>,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate(Config),
    /// Move the messages that are due (ORDERCHAT_ARCHIVE_*) to the archive once, print
    /// what moved per order and in total, then exit. Safe beside a running server: small
    /// transactions, and SQLite's lock is waited for.
    Archive {
        #[command(flatten)]
        config: Config,
        /// Print what would move, changing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `BASE/console/#token=TOKEN`; an empty `base` means this server's bind address (the
/// loopback address when it binds every interface).
fn console_link(base: &str, config: &Config, token: &str) -> String {
    let base = match base.trim().trim_end_matches('/') {
        "" => {
            let mut bind = config.bind;
            if bind.ip().is_unspecified() {
                bind.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{bind}")
        }
        base => base.to_owned(),
    };
    format!("{base}/console/#token={token}")
}

fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration like 30m, 1h or 7d"))?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => return Err(format!("unknown unit `{unit}`: use s, m, h or d")),
    };
    if seconds == 0 {
        return Err("the lifetime must be positive".into());
    }
    Ok(Duration::from_secs(seconds))
}

/// jemalloc rather than glibc's allocator: after a burst of connects and joins, glibc
/// kept the burst's free memory in its per-thread arenas, fragmented between live
/// connection state (5,000 idle joined connections: 18–23 KiB resident each with
/// glibc, 17.1–17.2 with jemalloc), and the durable and fanout scenarios ran no
/// slower with it (BENCHMARKS.md, "Hold").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => {
            orderchat::telemetry::init(config.log_format);
            orderchat::app::raise_open_file_limit();
            let app = Application::build(config).await?;
            app.run_until(shutdown_signal()).await
        }
        Command::Token {
            config,
            sub,
            role,
            name,
            ttl,
            console_url,
        } => {
            orderchat::telemetry::init(LogFormat::Human);
            let verifier = Verifier::from_config(&config)?;
            let token = verifier.mint(&sub, &role, name.as_deref(), ttl)?;
            match console_url {
                None => println!("{token}"),
                Some(base) => println!("{}", console_link(&base, &config, &token)),
            }
            Ok(())
        }
        Command::Migrate(config) => {
            orderchat::telemetry::init(config.log_format);
            let store = open_store(&config).await.context("migration failed")?;
            store.close().await;
            tracing::info!(database = %config.database_url_for_logs(), "database schema is up to date");
            Ok(())
        }
        Command::Archive { config, dry_run } => {
            orderchat::telemetry::init(config.log_format);
            let store = open_store(&config).await.context("opening the database failed")?;
            let archiver = Archiver::new(store.clone(), ArchivePolicy::from_config(&config));
            let report = archiver.run(dry_run).await;
            store.close().await;
            let report = report.context("archive run failed")?;
            let verb = if dry_run { "would move" } else { "moved" };
            for (order, count) in &report.orders {
                println!("order {order}: {verb} {count} messages");
            }
            println!(
                "total: {verb} {} messages of {} orders ({} ms){}",
                report.total,
                report.orders.len(),
                report.elapsed.as_millis(),
                if dry_run { "; dry run, nothing changed" } else { "" }
            );
            Ok(())
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

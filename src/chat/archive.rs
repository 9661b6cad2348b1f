//! Archiving (SPEC §7): moving old messages, and the chats of orders closed for long
//! enough, out of the hot tables, batch by batch. The server runs it every
//! `ORDERCHAT_ARCHIVE_INTERVAL_SECS`; `orderchat archive [--dry-run]` runs it once.
//!
//! What is due is decided here (cut-off times from the configured days); how a batch
//! moves is the store's (`Store::archive_batch`). Between two batches the run pauses at
//! least as long as the last batch took, so it never holds more than half of the
//! database's write time: on SQLite, whose one write lock the message writer shares, a
//! batch's transaction is the longest a message commit waits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::config::Config;
use crate::domain::{OrderId, timestamp};
use crate::error::Result;
use crate::store::{ArchiveRule, Store};

/// Shortest pause between two batches.
const MIN_PAUSE: Duration = Duration::from_millis(20);

/// What is due for the archive and how much one batch moves.
#[derive(Debug, Clone)]
pub struct ArchivePolicy {
    pub after_days: u32,
    pub closed_after_days: u32,
    /// Lower case.
    pub closed_statuses: Vec<String>,
    pub batch: i64,
}

impl ArchivePolicy {
    pub fn from_config(config: &Config) -> Self {
        Self {
            after_days: config.archive.archive_after_days,
            closed_after_days: config.archive.archive_closed_after_days,
            closed_statuses: config
                .archive_closed_statuses
                .iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            batch: config.archive.archive_batch.max(1),
        }
    }

    /// The cut-off times as of `now`.
    fn rule(&self, now: chrono::DateTime<chrono::Utc>) -> ArchiveRule {
        let days = |n: u32| now - chrono::Duration::days(i64::from(n));
        ArchiveRule {
            created_before: timestamp(days(self.after_days)),
            closed_statuses: self.closed_statuses.clone(),
            closed_before: timestamp(days(self.closed_after_days)),
        }
    }
}

/// What one run moved (or, dry run, would move).
#[derive(Debug, Clone, Default)]
pub struct ArchiveReport {
    /// Messages per order, in order id order.
    pub orders: Vec<(OrderId, i64)>,
    pub total: i64,
    pub batches: u64,
    pub elapsed: Duration,
}

impl super::ChatService {
    /// An archiver over this service's store (the server's background job).
    pub fn archiver(&self, policy: ArchivePolicy) -> Archiver {
        Archiver::new(self.store.clone(), policy)
    }
}

/// Runs archive passes over one store; cheap to clone.
#[derive(Clone)]
pub struct Archiver {
    store: Arc<dyn Store>,
    policy: Arc<ArchivePolicy>,
}

impl Archiver {
    pub fn new(store: Arc<dyn Store>, policy: ArchivePolicy) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
        }
    }

    /// One pass over every order, batch by batch, until nothing is due. A dry run
    /// changes nothing and reports what would move. Counted in `/metrics` (not dry runs).
    pub async fn run(&self, dry_run: bool) -> Result<ArchiveReport> {
        let started = Instant::now();
        let result = self.pass(dry_run).await;
        if !dry_run {
            let outcome = if result.is_ok() { "ok" } else { "failed" };
            metrics::counter!("orderchat_archive_runs_total", "outcome" => outcome).increment(1);
            let seconds = started.elapsed().as_secs_f64();
            metrics::histogram!("orderchat_archive_run_duration_seconds").record(seconds);
            metrics::gauge!("orderchat_archive_last_run_seconds").set(seconds);
        }
        result
    }

    async fn pass(&self, dry_run: bool) -> Result<ArchiveReport> {
        let started = Instant::now();
        // One cut-off for the whole pass, so it ends even while messages keep aging.
        let rule = self.policy.rule(chrono::Utc::now());
        let mut report = ArchiveReport::default();
        let mut cursor: Option<OrderId> = None;
        loop {
            let batch_started = Instant::now();
            let batch = self
                .store
                .archive_batch(&rule, cursor.as_ref(), self.policy.batch, dry_run)
                .await?;
            report.batches += 1;
            let mut moved = 0;
            for (order, count) in batch.orders {
                moved += count;
                // An order split over two batches is reported once.
                match report.orders.last_mut() {
                    Some((last, total)) if *last == order => *total += count,
                    _ => report.orders.push((order, count)),
                }
            }
            report.total += moved;
            if !dry_run {
                metrics::counter!("orderchat_archive_moved_messages_total").increment(moved.max(0) as u64);
            }
            if batch.done {
                break;
            }
            cursor = batch.cursor;
            if !dry_run {
                tokio::time::sleep(batch_started.elapsed().max(MIN_PAUSE)).await;
            }
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Runs a pass every `interval` (the first one `interval` after the start) until
    /// the task is aborted at shutdown; a batch interrupted there is rolled back whole.
    pub fn spawn(self, interval: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.run(false).await {
                    Ok(report) if report.total > 0 => tracing::info!(
                        moved = report.total,
                        orders = report.orders.len(),
                        elapsed_ms = report.elapsed.as_millis() as u64,
                        "archive run moved messages"
                    ),
                    Ok(_) => tracing::debug!("archive run: nothing due"),
                    Err(err) => tracing::warn!(error = %err, "archive run failed; retrying at the next interval"),
                }
            }
        })
    }
}

//! Measurements: latency histograms (HDR, microsecond resolution) summarised in
//! milliseconds, and a CPU meter that says how busy the loader and the server were
//! during a window — the first thing to look at when asking what limits a figure.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::sys;
use crate::target::Target;

/// Latencies in microseconds, 1 µs to 10 minutes, 3 significant digits.
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"))
    }
}

impl Latency {
    pub fn record(&mut self, elapsed: Duration) {
        self.0.saturating_record((elapsed.as_micros() as u64).max(1));
    }

    pub fn merge(&mut self, other: &Latency) {
        self.0.add(&other.0).expect("histograms with the same bounds");
    }

    /// The quantile `q` (0..1) in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        round3(self.0.value_at_quantile(q) as f64 / 1000.0)
    }

    /// `{ count, p50Ms, p99Ms, p999Ms, maxMs }`.
    pub fn summary(&self) -> Value {
        if self.0.is_empty() {
            return json!({ "count": 0 });
        }
        json!({
            "count": self.0.len(),
            "p50Ms": self.ms(0.5),
            "p99Ms": self.ms(0.99),
            "p999Ms": self.ms(0.999),
            "maxMs": round3(self.0.max() as f64 / 1000.0),
        })
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Per-second rate, rounded to a whole number.
pub fn per_sec(count: u64, window: Duration) -> f64 {
    (count as f64 / window.as_secs_f64().max(1e-9)).round()
}

/// CPU used by the loader (this process), the server (if its PIDs are known; one per
/// node), the stores it uses (PostgreSQL, Redis: if their PIDs are known) and
/// everything else on the machine between `start` and `stop`, in cores (1.0 = one core
/// busy all the time). `otherCores` well above zero means something else competed for the
/// machine during the measurement.
pub struct CpuMeter {
    wall: Instant,
    own: Duration,
    nodes: Vec<Option<Duration>>,
    db: Option<Duration>,
    machine: Option<Duration>,
}

impl CpuMeter {
    pub fn start(target: &Target) -> Self {
        CpuMeter {
            wall: Instant::now(),
            own: sys::own_cpu(),
            nodes: target.node_cpu(),
            db: target.db_cpu(),
            machine: sys::machine_busy(),
        }
    }

    /// `{ loaderCores, serverCores, otherCores }` since `start`; with stores' PIDs also
    /// `dbCores`, and with several nodes `serverCoresPerNode`.
    pub fn stop(&self, target: &Target) -> Value {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let cores = |used: Duration| round3(used.as_secs_f64() / wall);
        let loader = sys::own_cpu().saturating_sub(self.own);
        let per_node: Vec<Option<Duration>> = self
            .nodes
            .iter()
            .zip(target.node_cpu())
            .map(|(before, after)| Some(after?.saturating_sub((*before)?)))
            .collect();
        let server: Option<Duration> = if per_node.is_empty() {
            None
        } else {
            per_node.iter().copied().sum()
        };
        let db = match (self.db, target.db_cpu()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        let other = match (self.machine, sys::machine_busy(), server) {
            (Some(before), Some(after), Some(server)) => Some(
                after
                    .saturating_sub(before)
                    .saturating_sub(loader)
                    .saturating_sub(server)
                    .saturating_sub(db.unwrap_or_default()),
            ),
            _ => None,
        };
        let mut value = json!({
            "loaderCores": cores(loader),
            "serverCores": server.map(cores),
            "otherCores": other.map(cores),
        });
        if let Some(db) = db {
            value["dbCores"] = json!(cores(db));
        }
        if per_node.len() > 1 {
            value["serverCoresPerNode"] = json!(per_node.iter().map(|n| n.map(cores)).collect::<Vec<_>>());
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_in_milliseconds() {
        let mut latency = Latency::default();
        for ms in 1..=100 {
            latency.record(Duration::from_millis(ms));
        }
        let summary = latency.summary();
        assert_eq!(summary["count"], 100);
        assert!((summary["p50Ms"].as_f64().unwrap() - 50.0).abs() < 0.1);
        assert!((summary["p99Ms"].as_f64().unwrap() - 99.0).abs() < 0.1);
    }
}

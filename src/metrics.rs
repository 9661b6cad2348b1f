//! Prometheus metrics. The `metrics` facade needs one process-wide recorder; it is
//! installed once and every app in the process (tests start several) shares it, which
//! only means tests must not assert exact counter values across apps.
//!
//! Metric names: `orderchat_connections` (gauge), `orderchat_messages_stored_total`,
//! `orderchat_deliveries_total{event}`, `orderchat_rooms` and
//! `orderchat_room_members` (gauges), `orderchat_errors_total{code,transport}`,
//! `orderchat_http_request_duration_seconds{method,route,status}`,
//! `orderchat_write_batch_size`, `orderchat_rate_limited_total{kind}`,
//! `orderchat_http_timeouts_total{kind=headers|body}`,
//! `orderchat_sessions_expired_total`, `orderchat_slow_consumers_dropped_total`,
//! `orderchat_live_orders` (gauge: orders with a `new-message` line on this node);
//! the push webhook (`push/`): `orderchat_push_webhook_delivered_total`,
//! `_failed_attempts_total`, `_dead_letters_total`, `_dead_letters_expired_total` and the gauge
//! `orderchat_push_webhook_outbox{state=pending|dead}` (the shared outbox's entries);
//! archiving (`chat/archive.rs`): `orderchat_archive_runs_total{outcome=ok|failed}`,
//! `orderchat_archive_moved_messages_total`, `orderchat_archive_run_duration_seconds`
//! (histogram) and `orderchat_archive_last_run_seconds` (gauge);
//! with Redis (`cluster.rs`): `orderchat_cluster_redis_up` (1 or 0, from the probe every
//! second), `orderchat_cluster_errors_total{kind}`,
//! `orderchat_cluster_order_changes_total{direction}`, and for new messages between
//! nodes (`cluster/messages.rs`, `realtime/delivery.rs`)
//! `orderchat_cluster_messages_published_total`, `_received_total`, `_filled_total`
//! (read from the database because Redis did not bring them within 300 ms) and
//! `_skipped_total` (gone from the database). Stored notifications
//! (`chat/notify.rs`, `chat/notifications.rs`): `orderchat_notifications_stored_total{kind}` (new rows,
//! `kind` = `new-message|order-status|mention`), `_coalesced_total` (an unread
//! `new-message` row updated in place), `_read_total` (marked read) and
//! `_expired_total` (deleted by the retention job). Every figure is this node's.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Renders the process's metrics.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the recorder on first use and returns a handle to it.
    pub fn install() -> Self {
        let handle = HANDLE.get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full("orderchat_write_batch_size".into()), BATCH_BUCKETS)
                })
                .expect("bucket lists are non-empty constants")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        });
        Self { handle: handle.clone() }
    }

    /// Puts at zero the counters an operator alerts on, so each series exists from the
    /// start: Prometheus' `increase()` and `rate()` see nothing of a series' first
    /// sample, so an error counter that appeared only with its first error would hide
    /// exactly that error. `cluster`: also the counters of several nodes.
    pub fn declare_counters(&self, cluster: bool) {
        for name in [
            "orderchat_messages_stored_total",
            "orderchat_sessions_expired_total",
            "orderchat_slow_consumers_dropped_total",
            "orderchat_push_webhook_delivered_total",
            "orderchat_push_webhook_failed_attempts_total",
            "orderchat_push_webhook_dead_letters_total",
            "orderchat_push_webhook_dead_letters_expired_total",
            "orderchat_notifications_coalesced_total",
            "orderchat_notifications_read_total",
            "orderchat_notifications_expired_total",
            "orderchat_archive_moved_messages_total",
        ] {
            metrics::counter!(name).increment(0);
        }
        for kind in ["headers", "body"] {
            metrics::counter!("orderchat_http_timeouts_total", "kind" => kind).increment(0);
        }
        for kind in ["new-message", "order-status", "mention"] {
            metrics::counter!("orderchat_notifications_stored_total", "kind" => kind).increment(0);
        }
        for kind in ["message", "typing"] {
            metrics::counter!("orderchat_rate_limited_total", "kind" => kind).increment(0);
        }
        metrics::counter!("orderchat_errors_total", "code" => "write_queue_full", "transport" => "store").increment(0);
        for outcome in ["ok", "failed"] {
            metrics::counter!("orderchat_archive_runs_total", "outcome" => outcome).increment(0);
        }
        metrics::gauge!("orderchat_archive_last_run_seconds").set(0.0);
        if !cluster {
            return;
        }
        for name in [
            "orderchat_cluster_messages_published_total",
            "orderchat_cluster_messages_received_total",
            "orderchat_cluster_messages_filled_total",
            "orderchat_cluster_messages_skipped_total",
        ] {
            metrics::counter!(name).increment(0);
        }
        for kind in [
            "adapter",
            "subscription",
            "order_change",
            "inbound_full",
            "outbox_full",
            "reorder_full",
            "changes_full",
            "presence",
        ] {
            metrics::counter!("orderchat_cluster_errors_total", "kind" => kind).increment(0);
        }
        for direction in ["sent", "received"] {
            metrics::counter!("orderchat_cluster_order_changes_total", "direction" => direction).increment(0);
        }
    }

    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

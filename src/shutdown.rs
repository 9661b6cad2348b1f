//! Graceful shutdown, in order: stop accepting, let in-flight work finish, then close
//! sockets, then close the database. `Shutdown` is the small explicit value every
//! piece of in-flight work holds on to: HTTP API requests, Socket.IO event handlers,
//! disconnect handlers and each flush of the coalesced pushes carry a
//! `InFlight` token while they run, so shutdown can wait for exactly them (bounded
//! by the grace period) before it tears down what they use.
//!
//! Once draining has begun, new Socket.IO events are refused with `unavailable` (a
//! client retries them after reconnecting elsewhere), while the work already started
//! runs to the end and answers. HTTP requests still arriving on open connections are
//! served while draining, and refused with `503 unavailable` once the database is
//! about to close.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio_util::task::{TaskTracker, task_tracker::TaskTrackerToken};

/// Cheap to clone; every clone sees the same state.
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// 0 while running, then `DRAINING`, then `CLOSING`. SeqCst, so that work which took its token
    /// and then saw `RUNNING` is always counted by `wait_idle`.
    stage: AtomicU8,
    in_flight: TaskTracker,
}

const DRAINING: u8 = 1;
const CLOSING: u8 = 2;

/// Held by a piece of in-flight work; shutdown waits until every token is dropped.
pub struct InFlight(#[allow(dead_code)] TaskTrackerToken);

impl Shutdown {
    /// Marks the start of a piece of work that shutdown must wait for.
    pub fn in_flight(&self) -> InFlight {
        InFlight(self.inner.in_flight.token())
    }

    /// True once shutdown has begun: new socket events are refused.
    pub fn is_draining(&self) -> bool {
        self.inner.stage.load(Ordering::SeqCst) >= DRAINING
    }

    /// True once in-flight work has been waited for: the database is about to close,
    /// so nothing new may start.
    pub fn is_closing(&self) -> bool {
        self.inner.stage.load(Ordering::SeqCst) >= CLOSING
    }

    /// Begins draining: new socket events are refused from now on.
    pub fn begin_drain(&self) {
        self.inner.stage.fetch_max(DRAINING, Ordering::SeqCst);
        self.inner.in_flight.close();
    }

    /// The last stage: sockets and the database are being closed.
    pub fn begin_closing(&self) {
        self.inner.stage.fetch_max(CLOSING, Ordering::SeqCst);
        self.inner.in_flight.close();
    }

    /// Waits until no work is in flight, or `grace` has passed. Returns how much work
    /// was still running when it gave up (0 when everything finished).
    pub async fn wait_idle(&self, grace: Duration) -> usize {
        match tokio::time::timeout(grace, self.inner.in_flight.wait()).await {
            Ok(()) => 0,
            Err(_) => self.inner.in_flight.len().max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_work_in_flight_then_reports_idle() {
        let shutdown = Shutdown::default();
        let token = shutdown.in_flight();
        assert!(!shutdown.is_draining());
        shutdown.begin_drain();
        assert!(shutdown.is_draining());
        assert!(!shutdown.is_closing());
        assert_eq!(shutdown.wait_idle(Duration::from_millis(20)).await, 1);
        drop(token);
        assert_eq!(shutdown.wait_idle(Duration::from_secs(5)).await, 0);
    }
}

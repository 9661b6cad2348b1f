//! Per-user rate limits (SPEC §6): messages (HTTP and Socket.IO share one budget, so a
//! client cannot double its rate by using both) and typing events. Token buckets from
//! `governor`, keyed by user id; idle keys are swept by `sweep`, which the app runs
//! periodically so memory stays bounded by active users.
//!
//! Per node, also with several nodes: the check runs on every message, and a bucket in
//! Redis would put a round trip on that path. A user's traffic spread over N nodes may
//! reach N times the rate; one Socket.IO connection stays on one node, so that takes
//! several devices or HTTP requests spread by the load balancer (README, "Several
//! nodes"). The connections-per-user limit, checked only on connect, is cluster-wide
//! (`realtime::presence`).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits;
use crate::domain::UserId;
use crate::error::{Error, Result};

pub struct RateLimits {
    messages: DefaultKeyedRateLimiter<UserId>,
    typing: DefaultKeyedRateLimiter<UserId>,
    clock: DefaultClock,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl RateLimits {
    pub fn new(limits: &Limits) -> Self {
        Self {
            messages: RateLimiter::keyed(quota(limits.message_rate_per_minute, limits.message_burst)),
            typing: RateLimiter::keyed(quota(limits.typing_rate_per_minute, limits.typing_burst)),
            clock: DefaultClock::default(),
        }
    }

    /// One message from `user`, or `RateLimited` with how long to wait.
    pub fn check_message(&self, user: &UserId) -> Result<()> {
        self.check(&self.messages, user, "message")
    }

    /// One typing event from `user`.
    pub fn check_typing(&self, user: &UserId) -> Result<()> {
        self.check(&self.typing, user, "typing")
    }

    fn check(&self, limiter: &DefaultKeyedRateLimiter<UserId>, user: &UserId, kind: &'static str) -> Result<()> {
        limiter.check_key(user).map_err(|not_until| {
            metrics::counter!("orderchat_rate_limited_total", "kind" => kind).increment(1);
            Error::RateLimited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            }
        })
    }

    /// Forgets users whose buckets are full again.
    pub fn sweep(&self) {
        self.messages.retain_recent();
        self.typing.retain_recent();
        self.messages.shrink_to_fit();
        self.typing.shrink_to_fit();
    }
}

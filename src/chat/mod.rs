//! The use cases of order chat: send, read history, mark read, search, moderate, react,
//! export, count, manage orders, archive. Both transports (HTTP in `http/`, Socket.IO in
//! `realtime/`) call these and nothing else, so they can never disagree. No HTTP or
//! Socket.IO type appears here: what the world must hear about goes out as an `Event`
//! through the `Broadcaster` the realtime layer provides.

mod archive;
mod attachments;
mod directory;
mod events;
mod export;
mod history;
mod membership;
mod mentions;
mod moderate;
mod mutes;
mod notifications;
mod notify;
mod orders;
mod presence;
mod pushes;
mod reactions;
mod read;
mod search;
mod send;
mod stats;
mod webhook;

use std::collections::HashSet;
use std::sync::Arc;

pub use archive::{ArchivePolicy, ArchiveReport, Archiver};
pub use attachments::{Download, Files, MAX_ATTACHMENTS_PER_MESSAGE, NewUpload, UploadSlot};
pub use events::{Answer, Broadcaster, Event, Notification, Peers};
pub use export::{Export, ExportFormat};
pub use history::{HistoryQuery, RepliesQuery};
pub use notifications::{MAX_READ_IDS, NotificationPage, NotificationQuery, read_selection};
pub use orders::{OrderUpdate, PutOrder};
pub use read::ParticipantStatus;
pub use search::SearchQuery;
pub use send::SendMessage;
pub use stats::OrderStats;
pub use webhook::PushPolicy;

use crate::access;
use crate::config::Limits;
use crate::domain::{Identity, Order, OrderId};
use crate::error::{Error, Result};
use crate::limits::RateLimits;
use crate::shutdown::Shutdown;
use crate::store::Store;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct ChatService {
    store: Arc<dyn Store>,
    broadcaster: Arc<dyn Broadcaster>,
    /// Other nodes to tell about membership changes; `None` on a single node.
    peers: Option<Arc<dyn Peers>>,
    rate_limits: Arc<RateLimits>,
    membership: Arc<membership::MembershipLocks>,
    directory: Arc<directory::Directory>,
    pushes: Arc<pushes::Pushes>,
    /// Attachment files: their store and rules.
    files: Arc<Files>,
    max_message_length: usize,
    /// Push flushes hold an in-flight token from it, so shutdown waits for them
    /// before closing the store.
    shutdown: Shutdown,
    /// Statuses of orders that are over (lower case): no presence is announced there.
    closed_statuses: Arc<StatusSet>,
    /// Statuses of orders whose chat is closed: read-only.
    read_only_statuses: Arc<StatusSet>,
    /// The push webhook's outbox; `None` without a webhook (nothing is queued).
    push_outbox: Option<Arc<webhook::PushOutbox>>,
    /// Notifications not updated for this long are deleted.
    notification_retention: std::time::Duration,
}

impl ChatService {
    pub fn new(
        store: Arc<dyn Store>,
        broadcaster: Arc<dyn Broadcaster>,
        files: Files,
        limits: &Limits,
        closed_statuses: &[String],
        shutdown: Shutdown,
    ) -> Self {
        Self {
            store,
            broadcaster,
            peers: None,
            rate_limits: Arc::new(RateLimits::new(limits)),
            membership: Arc::default(),
            directory: Arc::default(),
            pushes: Arc::default(),
            files: Arc::new(files),
            max_message_length: limits.max_message_length,
            shutdown,
            closed_statuses: Arc::new(StatusSet::new(closed_statuses)),
            read_only_statuses: Arc::default(),
            push_outbox: None,
            notification_retention: notifications::DEFAULT_RETENTION,
        }
    }

    /// Makes the chats of orders in one of `statuses` read-only (`check_writable`).
    pub fn with_read_only_statuses(mut self, statuses: &[String]) -> Self {
        self.read_only_statuses = Arc::new(StatusSet::new(statuses));
        self
    }

    /// Tells `peers` about every membership change from now on (several nodes).
    pub fn with_peers(mut self, peers: Arc<dyn Peers>) -> Self {
        self.peers = Some(peers);
        self
    }

    /// Flushes and closes the store; the last step of shutdown.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }

    pub fn rate_limits(&self) -> &RateLimits {
        &self.rate_limits
    }

    /// Refuses a change to the chat of a closed order with `OrderClosed`. Reading,
    /// read pointers and moderation (deleting) stay open; system messages too.
    fn check_writable(&self, order: &Order) -> Result<()> {
        match &order.status {
            Some(status) if self.read_only_statuses.contains(status) => {
                Err(Error::OrderClosed { status: status.clone() })
            }
            _ => Ok(()),
        }
    }

    /// The order, if it exists and `identity` may see it; `OrderNotFound` otherwise.
    pub async fn visible_order(&self, identity: &Identity, id: &OrderId) -> Result<Order> {
        match self.order_snapshot(id).await? {
            Some(order) if access::may_view(identity, &order) => Ok(order),
            _ => Err(Error::OrderNotFound),
        }
    }
}

/// Order statuses, compared without regard to case or surrounding blanks. Asked on
/// every message sent (is the chat closed?), so an ASCII status is compared in place.
#[derive(Debug, Default)]
struct StatusSet(HashSet<String>);

impl StatusSet {
    fn new(statuses: &[String]) -> Self {
        Self(
            statuses
                .iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }

    fn contains(&self, status: &str) -> bool {
        let status = status.trim();
        if status.is_ascii() {
            self.0.iter().any(|s| s.eq_ignore_ascii_case(status))
        } else {
            self.0.contains(&status.to_lowercase())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StatusSet;

    #[test]
    fn statuses_match_without_regard_to_case_or_blanks() {
        let set = StatusSet::new(&[" Completed".to_owned(), "ÉCHOUÉ".to_owned(), "".to_owned()]);
        assert!(set.contains("completed"));
        assert!(set.contains("COMPLETED "));
        assert!(set.contains("échoué"));
        assert!(!set.contains("complete"));
        assert!(!set.contains(""), "an empty entry closes nothing");
    }
}

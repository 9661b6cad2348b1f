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
mod moderate;
mod mutes;
mod orders;
mod presence;
mod pushes;
mod reactions;
mod read;
mod search;
mod send;
mod stats;

use std::collections::HashSet;
use std::sync::Arc;

pub use archive::{ArchivePolicy, ArchiveReport, Archiver};
pub use attachments::{Download, Files, MAX_ATTACHMENTS_PER_MESSAGE, NewUpload, UploadSlot};
pub use events::{Answer, Broadcaster, Event, Notification, Peers};
pub use export::{Export, ExportFormat};
pub use history::{HistoryQuery, RepliesQuery};
pub use orders::{OrderUpdate, PutOrder};
pub use read::ParticipantStatus;
pub use search::SearchQuery;
pub use send::SendMessage;
pub use stats::OrderStats;

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
    closed_statuses: Arc<HashSet<String>>,
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
            closed_statuses: Arc::new(closed_statuses.iter().map(|s| s.trim().to_lowercase()).collect()),
        }
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

    /// The order, if it exists and `identity` may see it; `OrderNotFound` otherwise.
    pub async fn visible_order(&self, identity: &Identity, id: &OrderId) -> Result<Order> {
        match self.order_snapshot(id).await? {
            Some(order) if access::may_view(identity, &order) => Ok(order),
            _ => Err(Error::OrderNotFound),
        }
    }
}

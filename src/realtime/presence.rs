//! Who is online: a count of live Socket.IO connections per user on this node and, with
//! several nodes, the cluster-wide state in Redis (`cluster::presence`). A user is
//! online while they have at least one connection on any node (phone and laptop
//! together count once); `presence` events fire only when that changes: the first
//! connection anywhere, the last disconnection everywhere.
//!
//! One node: the local counts decide everything, as they always did, and the connection
//! that changed the state announces it. Several nodes: every change of a local count is
//! also written to Redis, which decides whether the per-user connection limit holds
//! across nodes and whether the user's cluster-wide presence changed; every node hears
//! each change from Redis, in the same order, and announces it to its own connections
//! (`spawn_cluster`), so the connection itself announces nothing. Only connects and
//! disconnects talk to Redis; `is_online` (HTTP participants, join acks, which per-user
//! pushes to compute) is a memory lookup. With Redis unreachable, decisions fall back
//! to this node's counts and the connection announces as on one node (see
//! `cluster::presence` for how it resyncs).
//!
//! A connection's place in the count is a [`Seat`], taken by the connect middleware
//! (so the limits are checked and the count taken in one step) and given back once: by
//! the disconnect handler, or, for a connection that never opened, when it is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::cluster::ClusterPresence;
use crate::cluster::presence::{Announcement, Outcome};
use crate::domain::UserId;

#[derive(Default)]
pub struct Presence {
    connections: DashMap<UserId, usize>,
    total: AtomicUsize,
    /// Several nodes: the cluster-wide side; `None` on a single node.
    cluster: Option<Arc<ClusterPresence>>,
}

/// A connection that may not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UserLimit,
    NodeLimit,
}

impl Presence {
    pub fn new(cluster: Option<Arc<ClusterPresence>>) -> Self {
        Self {
            cluster,
            ..Self::default()
        }
    }

    /// Counts one more connection of `user` if it fits the limits: at most `per_user`
    /// connections of the user (on every node, with Redis) and `total` on this node.
    pub async fn admit(self: &Arc<Self>, user: &UserId, per_user: usize, total: usize) -> Result<Seat, Refusal> {
        if self.total.load(Ordering::Relaxed) >= total {
            return Err(Refusal::NodeLimit);
        }
        let (count, cluster) = {
            let mut entry = self.connections.entry(user.clone()).or_insert(0);
            if *entry >= per_user {
                return Err(Refusal::UserLimit);
            }
            *entry += 1;
            self.total.fetch_add(1, Ordering::Relaxed);
            let cluster = self.cluster.as_ref().map(|c| c.set(user, *entry, Some(per_user)));
            (*entry, cluster)
        };
        let came_online = match cluster {
            None => count == 1,
            Some(outcome) => match verdict(outcome).await {
                // Every node announces it when it hears of it from Redis.
                Outcome::Written(_) => false,
                Outcome::OverLimit => {
                    self.leave(user, Announce::No);
                    return Err(Refusal::UserLimit);
                }
                Outcome::Unavailable => count == 1,
            },
        };
        Ok(Seat(Arc::new(SeatInner {
            presence: self.clone(),
            user: user.clone(),
            came_online,
            given_back: AtomicBool::new(false),
        })))
    }

    /// Counts a closed connection; the outcome says whether the user went offline
    /// everywhere (with `Announce::No`, nobody waits for Redis).
    fn leave(&self, user: &UserId, announce: Announce) -> Left {
        self.total.fetch_sub(1, Ordering::Relaxed);
        let Entry::Occupied(mut entry) = self.connections.entry(user.clone()) else {
            return Left::Decided(false);
        };
        *entry.get_mut() -= 1;
        let count = *entry.get();
        let cluster = match (&self.cluster, announce) {
            (None, _) => None,
            (Some(cluster), Announce::Yes) => Some(cluster.set(user, count, None)),
            (Some(cluster), Announce::No) => {
                cluster.set_quietly(user, count);
                None
            }
            // Shutting down: the node's goodbye expires it as a whole.
            (Some(_), Announce::NotEvenRedis) => None,
        };
        if count == 0 {
            entry.remove();
        }
        match cluster {
            None => Left::Decided(count == 0),
            Some(outcome) => Left::Asked(outcome, count == 0),
        }
    }

    /// Whether the user has a connection on this node or, as far as this node knows,
    /// on another one. No I/O.
    pub fn is_online(&self, user: &UserId) -> bool {
        self.connections.contains_key(user) || self.cluster.as_ref().is_some_and(|c| c.is_online(user))
    }

    /// Whether the user may have a connection anywhere (so per-user pushes are worth
    /// computing): `is_online`, unless this node's copy of the cluster-wide state is
    /// not following Redis right now, when anyone may be connected elsewhere.
    pub fn may_be_connected(&self, user: &UserId) -> bool {
        match &self.cluster {
            None => self.connections.contains_key(user),
            Some(cluster) => !cluster.is_synced() || self.is_online(user),
        }
    }

    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// This node's count per user.
    fn snapshot(&self) -> Vec<(UserId, usize)> {
        self.connections
            .iter()
            .map(|entry| (entry.key().clone(), *entry.value()))
            .collect()
    }

    /// Several nodes: starts the Redis side (heartbeat, sweeps, the copy of the online
    /// set). Every cluster-wide presence change (connects and disconnects on any node, a
    /// dead node's users) comes out of the returned receiver, in the order Redis decided
    /// them, for the caller to announce to this node's connections.
    pub fn spawn_cluster(self: &Arc<Self>) -> Option<(Vec<JoinHandle<()>>, mpsc::UnboundedReceiver<Announcement>)> {
        let cluster = self.cluster.as_ref()?;
        let weak = Arc::downgrade(self);
        let snapshot = Box::new(move || weak.upgrade().map(|p| p.snapshot()).unwrap_or_default());
        Some(cluster.spawn(snapshot))
    }

    /// At shutdown, after every connection closed: lets the other nodes take this
    /// node's users offline.
    pub async fn goodbye(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.goodbye().await;
        }
    }
}

/// Redis' answer to a write, or `Unavailable` if the worker is gone (shutdown) or does
/// not answer in time (it gives up on Redis after a second itself; this bounds the wait
/// behind a queue of other writes).
async fn verdict(outcome: oneshot::Receiver<Outcome>) -> Outcome {
    match tokio::time::timeout(VERDICT_WAIT, outcome).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) | Err(_) => Outcome::Unavailable,
    }
}

const VERDICT_WAIT: Duration = Duration::from_secs(3);

#[derive(Clone, Copy)]
enum Announce {
    /// The caller announces a change: wait for Redis' verdict.
    Yes,
    /// Count it, tell nobody.
    No,
    /// Count it on this node only (shutdown).
    NotEvenRedis,
}

enum Left {
    Decided(bool),
    /// Redis decides; the bool is this node's own answer if it cannot.
    Asked(oneshot::Receiver<Outcome>, bool),
}

/// A connection's place in the presence count. Cloned into the socket's extensions; given
/// back once, by [`Seat::give_back`] or, if nobody did, when the last clone is dropped.
#[derive(Clone)]
pub struct Seat(Arc<SeatInner>);

struct SeatInner {
    presence: Arc<Presence>,
    user: UserId,
    came_online: bool,
    given_back: AtomicBool,
}

impl Seat {
    /// Whether this connection brought its user online and must announce it (one node,
    /// or Redis unreachable; otherwise every node announces what Redis decided).
    pub fn came_online(&self) -> bool {
        self.0.came_online
    }

    /// The connection closed: `true` if its user went offline and it must announce it
    /// (as for `came_online`). While shutting down (`quietly`), only this node's count
    /// changes.
    pub async fn give_back(&self, quietly: bool) -> bool {
        if self.0.given_back.swap(true, Ordering::AcqRel) {
            return false;
        }
        let announce = if quietly { Announce::NotEvenRedis } else { Announce::Yes };
        match self.0.presence.leave(&self.0.user, announce) {
            Left::Decided(offline) => offline,
            Left::Asked(outcome, local) => match verdict(outcome).await {
                Outcome::Written(_) => false,
                Outcome::OverLimit | Outcome::Unavailable => local,
            },
        }
    }
}

impl Drop for SeatInner {
    fn drop(&mut self) {
        // A connection refused or cut before its connect handler ran.
        if !self.given_back.swap(true, Ordering::AcqRel) {
            self.presence.leave(&self.user, Announce::No);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn online_while_any_connection_is_open() {
        let presence = Arc::new(Presence::default());
        let ana = UserId::parse("ana").unwrap();
        let phone = presence.admit(&ana, 5, 10).await.unwrap();
        let laptop = presence.admit(&ana, 5, 10).await.unwrap();
        assert!(phone.came_online());
        assert!(!laptop.came_online());
        assert!(!phone.give_back(false).await);
        assert!(presence.is_online(&ana));
        assert!(presence.may_be_connected(&ana));
        assert!(laptop.give_back(false).await);
        assert!(!presence.is_online(&ana));
        assert_eq!(presence.total(), 0);
    }

    #[tokio::test]
    async fn limits_per_user_and_per_node() {
        let presence = Arc::new(Presence::default());
        let ana = UserId::parse("ana").unwrap();
        let bo = UserId::parse("bo").unwrap();
        let _one = presence.admit(&ana, 2, 10).await.unwrap();
        let _two = presence.admit(&ana, 2, 10).await.unwrap();
        assert_eq!(presence.admit(&ana, 2, 10).await.err(), Some(Refusal::UserLimit));
        let _three = presence.admit(&bo, 2, 10).await.unwrap();
        assert_eq!(presence.admit(&bo, 2, 3).await.err(), Some(Refusal::NodeLimit));
        assert_eq!(presence.total(), 3);
    }

    #[tokio::test]
    async fn a_seat_is_given_back_once_even_if_never_opened() {
        let presence = Arc::new(Presence::default());
        let ana = UserId::parse("ana").unwrap();
        let seat = presence.admit(&ana, 5, 10).await.unwrap();
        let copy = seat.clone();
        assert!(seat.give_back(false).await);
        assert!(!copy.give_back(false).await, "given back twice");
        drop((seat, copy));
        assert_eq!(presence.total(), 0);

        // Dropped without a disconnect (the connection never opened): counted out.
        let lost = presence.admit(&ana, 5, 10).await.unwrap();
        assert!(presence.is_online(&ana));
        drop(lost);
        assert!(!presence.is_online(&ana));
        assert_eq!(presence.total(), 0);
    }
}

//! Which orders exist and who takes part in them, kept in memory: every send, typing
//! event and read needs the answer, and it changes only when the platform `PUT`s or
//! `PATCH`es an order. So the hot path reads this cache, never the database.
//!
//! Coherence: an entry is loaded only while holding the order's membership lock for
//! reading, and replaced by membership changes while they hold it for writing (after
//! their commit, see `membership.rs`), so a load can never put back a stale list over a
//! newer one. With several nodes, a peer's "order changed" message (`cluster.rs`)
//! drops the entry and every user's order list the same way, under the same lock.
//!
//! The cache is bounded: past `MAX_CACHED` orders, an arbitrary eighth is dropped (they
//! reload on next use). `last_seq` of a cached order follows the commit feed.
//!
//! It also remembers which active orders (not in a closed status) each user takes part
//! in, for presence (a user's first connection and last disconnection are announced to
//! those orders' rooms), so that connecting costs no database read once the list is
//! known. A membership or status change drops the lists of everyone it touched.
//!
//! `last_seq` is never behind what this node's publisher has handed on: `advance` on
//! an order that is not cached leaves a placeholder with the seq, which the load that
//! follows keeps (a commit can land between a load's database read and its `remember`).
//! On one node that makes it the order's last published seq, which a join uses to
//! start the order's delivery line without reading the database (`last_published`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::DashMap;

use super::ChatService;
use crate::domain::{Order, OrderId, Seq, UserId};
use crate::error::Result;

const MAX_CACHED: usize = 100_000;

struct Entry {
    /// `None` for a placeholder: messages were published while the order was not cached.
    order: Option<Order>,
    /// Shared by the entries that replace one another for the same order, so an
    /// `advance` that raced with a `remember` is not lost on the replaced entry.
    last_seq: Arc<AtomicI64>,
}

impl Entry {
    fn snapshot(&self) -> Option<Order> {
        let mut order = self.order.clone()?;
        order.last_seq = order.last_seq.max(self.last_seq.load(Ordering::Acquire));
        Some(order)
    }
}

#[derive(Default)]
pub(super) struct Directory {
    orders: DashMap<OrderId, Arc<Entry>>,
    /// The orders each user takes part in (for presence), loaded on first use.
    users: DashMap<UserId, Arc<[OrderId]>>,
    /// Bumped by every membership change, so a load that raced with one is not kept.
    epoch: AtomicU64,
}

impl Directory {
    fn cached(&self, id: &OrderId) -> Option<Order> {
        self.orders.get(id).and_then(|entry| entry.snapshot())
    }

    /// The last seq of a cached order that this node's publisher has handed on (see the
    /// module doc); `None` if the order is not cached.
    pub fn last_published(&self, id: &OrderId) -> Option<Seq> {
        let entry = self.orders.get(id)?;
        entry.order.as_ref()?;
        Some(entry.last_seq.load(Ordering::Acquire))
    }

    /// Stores the order as the database now has it. Call with the membership lock held.
    pub fn remember(&self, order: &Order) {
        if self.orders.len() >= MAX_CACHED {
            let mut n = 0usize;
            self.orders.retain(|_, _| {
                n += 1;
                !n.is_multiple_of(8)
            });
        }
        match self.orders.entry(order.id.clone()) {
            dashmap::Entry::Occupied(mut cached) => {
                // Keeps what the publisher advanced meanwhile (a placeholder's seq, or
                // an advance racing this replacement on the same shared counter).
                let last_seq = cached.get().last_seq.clone();
                last_seq.fetch_max(order.last_seq, Ordering::AcqRel);
                cached.insert(Arc::new(Entry {
                    order: Some(order.clone()),
                    last_seq,
                }));
            }
            dashmap::Entry::Vacant(vacant) => {
                vacant.insert(Arc::new(Entry {
                    order: Some(order.clone()),
                    last_seq: Arc::new(AtomicI64::new(order.last_seq)),
                }));
            }
        }
    }

    /// The users of a membership change: their order lists must be loaded again.
    pub fn participants_changed<'a>(&self, users: impl Iterator<Item = &'a UserId>) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for user in users {
            self.users.remove(user);
        }
    }

    /// Drops the cached order and every user's order list (another node changed it).
    pub fn forget(&self, id: &OrderId) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.orders.remove(id);
        self.users.clear();
    }

    /// Drops everything cached.
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.orders.clear();
        self.users.clear();
    }

    /// A message with `seq` was committed in `id`.
    pub fn advance(&self, id: &OrderId, seq: Seq) {
        if let Some(entry) = self.orders.get(id) {
            entry.last_seq.fetch_max(seq, Ordering::AcqRel);
            return;
        }
        // Not cached: a placeholder, so a load racing with this commit keeps its seq.
        self.orders
            .entry(id.clone())
            .or_insert_with(|| {
                Arc::new(Entry {
                    order: None,
                    last_seq: Arc::new(AtomicI64::new(seq)),
                })
            })
            .last_seq
            .fetch_max(seq, Ordering::AcqRel);
    }
}

impl ChatService {
    /// The orders a user takes part in that are not over (their status is not one of
    /// the closed statuses): the rooms that hear of the user's presence. From memory,
    /// or loaded once.
    pub async fn active_orders_of(&self, user: &UserId) -> Result<Arc<[OrderId]>> {
        if let Some(orders) = self.directory.users.get(user) {
            return Ok(orders.clone());
        }
        let epoch = self.directory.epoch.load(Ordering::Acquire);
        let orders: Arc<[OrderId]> = self
            .store
            .orders_of(user)
            .await?
            .into_iter()
            .filter(|(_, status)| status.as_deref().is_none_or(|s| !self.closed_statuses.contains(s)))
            .map(|(id, _)| id)
            .collect();
        if self.directory.users.len() >= MAX_CACHED {
            self.directory.users.clear();
        }
        // Kept only if no membership change happened while it loaded.
        if self.directory.epoch.load(Ordering::Acquire) == epoch {
            self.directory.users.insert(user.clone(), orders.clone());
        }
        Ok(orders)
    }

    /// The order with its participants: from memory, or loaded once.
    pub(super) async fn order_snapshot(&self, id: &OrderId) -> Result<Option<Order>> {
        if let Some(order) = self.directory.cached(id) {
            return Ok(Some(order));
        }
        let _no_membership_change = self.membership.joining(id).await;
        self.load_order_locked(id).await
    }

    /// Like `order_snapshot`, for a caller that already holds the membership lock.
    pub(super) async fn load_order_locked(&self, id: &OrderId) -> Result<Option<Order>> {
        if let Some(order) = self.directory.cached(id) {
            return Ok(Some(order));
        }
        let order = self.store.order(id).await?;
        if let Some(order) = &order {
            self.directory.remember(order);
        }
        Ok(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str) -> Order {
        Order {
            id: OrderId::parse(id).unwrap(),
            number: None,
            status: None,
            participants: Vec::new(),
            last_seq: 3,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn another_nodes_change_drops_the_order_and_every_order_list() {
        let directory = Directory::default();
        let (a, b) = (order("a"), order("b"));
        directory.remember(&a);
        directory.remember(&b);
        let ana = UserId::parse("ana").unwrap();
        directory.users.insert(ana.clone(), Arc::from(vec![a.id.clone()]));
        let epoch = directory.epoch.load(Ordering::Acquire);

        directory.forget(&a.id);
        assert!(directory.cached(&a.id).is_none());
        assert_eq!(directory.cached(&b.id).map(|o| o.last_seq), Some(3));
        assert!(
            directory.users.get(&ana).is_none(),
            "a list loaded before the change survived it"
        );
        assert!(
            directory.epoch.load(Ordering::Acquire) > epoch,
            "a load racing the change could be kept"
        );

        directory.forget_all();
        assert!(directory.cached(&b.id).is_none());
    }

    #[test]
    fn a_commit_published_while_the_order_loads_is_not_lost() {
        let directory = Directory::default();
        let stale = order("a");
        // The load read last_seq 3 from the database; seq 4 was published before the
        // load could remember the order.
        directory.advance(&stale.id, 4);
        assert_eq!(
            directory.last_published(&stale.id),
            None,
            "a placeholder is not an order"
        );
        directory.remember(&stale);
        assert_eq!(directory.last_published(&stale.id), Some(4));
        assert_eq!(directory.cached(&stale.id).map(|o| o.last_seq), Some(4));
        // Replaced by a membership change: advances keep counting on the same seq.
        directory.advance(&stale.id, 5);
        directory.remember(&stale);
        assert_eq!(directory.last_published(&stale.id), Some(5));
    }
}

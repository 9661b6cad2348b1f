//! Who is in an order's chat right now. A participant removed by `PUT`/`PATCH` loses
//! the live feed at once (SPEC §2): after the change commits, the realtime layer takes
//! every connection that may no longer see the order out of its room.
//!
//! Joining a room is "check access, then join", and a concurrent removal is "commit,
//! then take out of the room". Interleaved, a join could check before the commit and
//! join after the removal swept the room, keeping a removed user in it. So both hold a
//! lock on the order for their two steps: joins share it, membership changes take it
//! alone. The locks are striped (a fixed array indexed by the order id's hash) so they
//! cost the same memory however many orders exist.

use std::hash::{BuildHasher, RandomState};

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{ChatService, Event};
use crate::access;
use crate::domain::{Identity, Order, OrderId};
use crate::error::{Error, Result};

const STRIPES: usize = 64;

pub(super) struct MembershipLocks {
    stripes: Vec<RwLock<()>>,
    hasher: RandomState,
}

impl Default for MembershipLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| RwLock::new(())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl MembershipLocks {
    fn stripe(&self, order: &OrderId) -> &RwLock<()> {
        let index = self.hasher.hash_one(order.as_str()) as usize % STRIPES;
        &self.stripes[index]
    }

    /// Held while a connection checks access and joins the order's room.
    pub async fn joining(&self, order: &OrderId) -> RwLockReadGuard<'_, ()> {
        self.stripe(order).read().await
    }

    /// Held while the order's participants change and removed users leave the room.
    pub async fn changing(&self, order: &OrderId) -> RwLockWriteGuard<'_, ()> {
        self.stripe(order).write().await
    }
}

impl ChatService {
    /// Opens an order's chat for a connection: checks that `identity` may see it and,
    /// while no membership change can interleave, runs `enter` (which joins the room;
    /// it does not run at all if access is refused).
    pub async fn open_chat<T>(
        &self,
        identity: &Identity,
        order_id: &OrderId,
        enter: impl Future<Output = T>,
    ) -> Result<(Order, T)> {
        let _no_membership_change = self.membership.joining(order_id).await;
        let order = if self.peers.is_some() {
            // Messages stored by other nodes do not pass this node's commit feed, so the
            // cached `last_seq` may be behind: a join reads the order afresh.
            let order = self.store.order(order_id).await?;
            if let Some(order) = &order {
                self.directory.remember(order);
            }
            order
        } else {
            self.load_order_locked(order_id).await?
        };
        let order = match order {
            Some(order) if access::may_view(identity, &order) => order,
            _ => return Err(Error::OrderNotFound),
        };
        let entered = enter.await;
        Ok((order, entered))
    }

    /// Records an order's new participant list and announces it, so that connections
    /// of users who may no longer see it leave its room. Call with the `changing` lock
    /// held, after the change committed.
    pub(super) async fn announce_membership(&self, before: Option<&Order>, order: &Order) {
        let before = before.map(|b| b.participants.as_slice()).unwrap_or_default();
        self.directory
            .participants_changed(before.iter().chain(&order.participants).map(|p| &p.user_id));
        self.directory.remember(order);
        self.broadcaster.publish(Event::MembershipChanged(order.clone())).await;
        if let Some(peers) = &self.peers {
            peers.order_changed(&order.id).await;
        }
    }

    /// Another node changed the order: drop what this node cached about it, reload it
    /// from the shared database and take this node's connections that lost access out
    /// of its room, under the same lock as a local change (so a concurrent join here
    /// either sees the new list or is swept). Which users' order lists changed is not
    /// known here, so every list is dropped; they reload on next use.
    pub async fn order_changed_elsewhere(&self, order_id: &OrderId) {
        let _exclusive = self.membership.changing(order_id).await;
        self.directory.forget(order_id);
        match self.store.order(order_id).await {
            Ok(Some(order)) => {
                self.directory.remember(&order);
                self.broadcaster.publish(Event::MembershipChanged(order)).await;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, order = %order_id, "could not reload an order changed on another node");
            }
        }
    }

    /// Drops every cached order and order list (after missing other nodes' changes).
    pub fn forget_cached_orders(&self) {
        self.directory.forget_all();
    }
}

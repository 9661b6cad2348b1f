//! Announcing a user's presence: the rooms of the orders they take part in (not the
//! orders that are over) hear that they came online or went offline. Whether it
//! changed is decided by the realtime layer (`realtime::Presence`, cluster-wide with
//! Redis); this says where it goes.

use super::ChatService;
use super::events::Event;
use crate::domain::UserId;

impl ChatService {
    /// Tells the rooms of `user`'s active orders, on every node, that they came online
    /// or went offline.
    pub async fn announce_presence(&self, user: &UserId, online: bool) {
        self.tell_presence(user, online, false).await
    }

    /// Like `announce_presence`, to this node's connections only: with several nodes,
    /// each node announces every change it hears of from Redis to its own connections.
    pub async fn announce_presence_here(&self, user: &UserId, online: bool) {
        self.tell_presence(user, online, true).await
    }

    async fn tell_presence(&self, user: &UserId, online: bool, here_only: bool) {
        let orders = match self.active_orders_of(user).await {
            Ok(orders) => orders,
            Err(err) => {
                tracing::warn!(error = %err, %user, "could not load orders for presence");
                return;
            }
        };
        if orders.is_empty() {
            return;
        }
        self.broadcaster
            .publish(Event::Presence {
                user_id: user.clone(),
                orders,
                online,
                here_only,
            })
            .await;
    }
}

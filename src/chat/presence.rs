//! Announcing a user's presence: the rooms of the orders they take part in (not the
//! orders that are over) hear that they came online or went offline. Whether it
//! changed is decided by the realtime layer (`realtime::Presence`, cluster-wide with
//! Redis); this says where it goes.

use super::ChatService;
use super::events::Event;
use crate::domain::UserId;

impl ChatService {
    /// Tells the rooms of `user`'s active orders that they came online or went offline.
    pub async fn announce_presence(&self, user: &UserId, online: bool) {
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
            })
            .await;
    }
}

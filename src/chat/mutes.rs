//! Muting an order: a user who muted an order gets no notification about it (the
//! `notification` event on connections outside its room; later, stored notifications
//! and pushes). Messages, unread counts and everything else still arrive.

use super::ChatService;
use crate::domain::{Identity, OrderId};
use crate::error::Result;

impl ChatService {
    /// Mutes (`true`) or unmutes an order for `identity`, who must be able to see it.
    pub async fn set_muted(&self, identity: &Identity, order_id: &OrderId, muted: bool) -> Result<()> {
        self.visible_order(identity, order_id).await?;
        self.store.set_muted(order_id, &identity.user_id, muted).await
    }
}

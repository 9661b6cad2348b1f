//! Statistics of one order's chat (`GET /api/chat/orders/:orderId/stats`): what the
//! store counts in one query, plus the caller's unread counter and the participants of
//! the order. Nothing of the history is loaded here.

use serde::Serialize;

use super::ChatService;
use crate::domain::{Identity, OrderId};
use crate::error::Result;

/// The statistics as clients receive them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderStats {
    pub order_id: OrderId,
    pub messages: MessageCounts,
    /// The caller's unread count (as `unread-count` reports it).
    pub unread_count: i64,
    /// Attachments referenced by the order's messages.
    pub attachments: i64,
    /// People registered on the order.
    pub participants: usize,
    /// `createdAt` of the first and last message; `null` in an empty chat.
    #[schema(required, format = DateTime)]
    pub first_activity_at: Option<String>,
    #[schema(required, format = DateTime)]
    pub last_activity_at: Option<String>,
    pub staff_first_response: FirstResponse,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageCounts {
    /// Every message, tombstones included: the sum of `bySenderType`.
    pub total: i64,
    pub by_sender_type: BySenderType,
    /// Tombstones among `total`.
    pub deleted: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BySenderType {
    pub user: i64,
    pub admin: i64,
    pub system: i64,
}

/// How fast staff answer customers; see `store::MessageStats` for what a wait is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FirstResponse {
    /// The median wait in seconds, to the millisecond; `null` when none was answered.
    #[schema(required)]
    pub median_seconds: Option<f64>,
    /// How many answered waits the median is taken over.
    pub answered: i64,
}

impl ChatService {
    pub async fn stats(&self, identity: &Identity, order_id: &OrderId) -> Result<OrderStats> {
        let order = self.visible_order(identity, order_id).await?;
        let counted = self.store.message_stats(order_id).await?;
        let unread_count = self.store.unread_count(order_id, &identity.user_id).await?;
        Ok(OrderStats {
            order_id: order.id,
            messages: MessageCounts {
                total: counted.total,
                by_sender_type: BySenderType {
                    user: counted.by_user,
                    admin: counted.by_admin,
                    system: counted.by_system,
                },
                deleted: counted.deleted,
            },
            unread_count,
            attachments: counted.attachments,
            participants: order.participants.len(),
            first_activity_at: counted.first_at,
            last_activity_at: counted.last_at,
            staff_first_response: FirstResponse {
                median_seconds: counted.median_first_response_ms.map(|ms| ms.round() / 1000.0),
                answered: counted.answered_waits,
            },
        })
    }
}

//! Read state: per-user read pointers, unread counts and who is in an order's chat.
//! Read pointers are per user and per order, never global.

use serde::Serialize;

use super::{ChatService, Event};
use crate::domain::{Identity, OrderId, Seq, UserId};
use crate::error::{Error, Result};

/// A participant as `GET /api/chat/orders/:orderId/participants` lists them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParticipantStatus {
    pub user_id: UserId,
    #[schema(required)]
    pub name: Option<String>,
    pub role: String,
    /// Connected on any node.
    pub online: bool,
    /// The user's read pointer: every message up to this seq is read.
    #[schema(value_type = i64)]
    pub read_seq: Seq,
    #[schema(required, format = DateTime)]
    pub last_read_at: Option<String>,
}

impl ChatService {
    /// Moves the caller's read pointer forward to `seq` (default: the latest message)
    /// and returns where it stands and what is still unread.
    pub async fn mark_read(
        &self,
        identity: &Identity,
        order_id: &OrderId,
        seq: Option<Seq>,
        origin: Option<String>,
    ) -> Result<(Seq, i64)> {
        if seq.is_some_and(|s| s < 0) {
            return Err(Error::invalid_field("seq", "must not be negative"));
        }
        self.visible_order(identity, order_id).await?;
        // "Everything": the store clamps to the order's latest seq as it commits.
        let (seq, unread) = self
            .store
            .mark_read_up_to(order_id, &identity.user_id, seq.unwrap_or(Seq::MAX))
            .await?;
        self.broadcaster
            .publish(Event::MessageRead {
                order_id: order_id.clone(),
                user_id: identity.user_id.clone(),
                seq,
                origin,
            })
            .await;
        self.broadcaster
            .publish(Event::UnreadCount {
                user_id: identity.user_id.clone(),
                order_id: order_id.clone(),
                unread_count: unread,
            })
            .await;
        Ok((seq, unread))
    }

    pub async fn unread_count(&self, identity: &Identity, order_id: &OrderId) -> Result<i64> {
        self.visible_order(identity, order_id).await?;
        self.store.unread_count(order_id, &identity.user_id).await
    }

    /// The order's participants with online status and read pointers.
    pub async fn participants(&self, identity: &Identity, order_id: &OrderId) -> Result<Vec<ParticipantStatus>> {
        let order = self.visible_order(identity, order_id).await?;
        let pointers = self.store.read_pointers(order_id).await?;
        Ok(order
            .participants
            .into_iter()
            .map(|p| {
                let pointer = pointers.iter().find(|r| r.user_id == p.user_id);
                ParticipantStatus {
                    online: self.broadcaster.is_online(&p.user_id),
                    read_seq: pointer.map_or(0, |r| r.seq),
                    last_read_at: pointer.map(|r| r.updated_at.clone()),
                    user_id: p.user_id,
                    name: p.name,
                    role: p.role,
                }
            })
            .collect())
    }

    /// Sends the current unread counts of an order to the connections of its online
    /// users other than `except` (the author of the change). One read of the counters
    /// for the whole order, whatever its size.
    pub(super) async fn push_unread_counts(&self, order_id: &OrderId, except: Option<&UserId>) {
        let counts = match self.store.unread_counts(order_id).await {
            Ok(counts) => counts,
            Err(err) => {
                tracing::warn!(error = %err, %order_id, "could not read unread counts");
                return;
            }
        };
        for (user_id, unread_count) in counts {
            if Some(&user_id) == except || !self.broadcaster.may_be_connected(&user_id) {
                continue;
            }
            self.broadcaster
                .publish(Event::UnreadCount {
                    user_id,
                    order_id: order_id.clone(),
                    unread_count,
                })
                .await;
        }
    }
}

//! An order as the platform registered it, with the people in its chat.

use serde::Serialize;

use super::{OrderId, Seq, UserId};

/// A free-form status string (`created`, `picked_up`, `delivered` …): the platform owns
/// its vocabulary, orderchat only reports changes.
pub type OrderStatus = String;

/// A person in an order's chat, as the platform registered them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Participant {
    pub user_id: UserId,
    pub role: String,
    #[schema(required)]
    pub name: Option<String>,
}

// `deny_unknown_fields` here (and on the other response types) only tells the OpenAPI
// document that no other field is written: `additionalProperties: false`.
/// An order with its participants.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Order {
    pub id: OrderId,
    #[schema(required)]
    pub number: Option<String>,
    #[schema(required, value_type = Option<String>)]
    pub status: Option<OrderStatus>,
    pub participants: Vec<Participant>,
    /// The seq of the order's latest message; 0 before the first.
    #[schema(value_type = i64)]
    pub last_seq: Seq,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Order {
    pub fn has_participant(&self, user: &UserId) -> bool {
        self.participants.iter().any(|p| &p.user_id == user)
    }
}

//! An order as the platform registered it, with the people in its chat.

use serde::Serialize;

use super::{OrderId, Seq, UserId};

/// A free-form status string (`created`, `picked_up`, `delivered` …): the platform owns
/// its vocabulary, orderchat only reports changes.
pub type OrderStatus = String;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub user_id: UserId,
    pub role: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: OrderId,
    pub number: Option<String>,
    pub status: Option<OrderStatus>,
    pub participants: Vec<Participant>,
    pub last_seq: Seq,
    pub created_at: String,
    pub updated_at: String,
}

impl Order {
    pub fn has_participant(&self, user: &UserId) -> bool {
        self.participants.iter().any(|p| &p.user_id == user)
    }
}

//! The one rule for who may see an order's chat, used by every HTTP handler and every
//! Socket.IO event through `ChatService::visible_order`. An order the caller may not
//! see is reported exactly like an order that does not exist, so outsiders learn
//! nothing about which order ids are real.

use crate::domain::{Identity, Order, Role};
use crate::store::Scope;

/// Staff and the platform's service see every order; everyone else only the orders they
/// participate in.
pub fn may_view(identity: &Identity, order: &Order) -> bool {
    identity.sees_every_order() || order.has_participant(&identity.user_id)
}

/// May `identity` delete or edit a message written by `author`? Authors may; staff may
/// moderate any message.
pub fn may_moderate(identity: &Identity, author: Option<&crate::domain::UserId>) -> bool {
    identity.role == Role::Staff || author == Some(&identity.user_id)
}

/// Only the platform's backend registers and changes orders.
pub fn may_manage_orders(identity: &Identity) -> bool {
    identity.role == Role::Service
}

/// The orders listings and global search cover for this caller.
pub fn scope_of(identity: &Identity) -> Scope {
    if identity.sees_every_order() {
        Scope::All
    } else {
        Scope::ParticipantOf(identity.user_id.clone())
    }
}

//! Who is calling: the verified claims of a token, reduced to what access checks and
//! message authorship need.

use serde::Serialize;

use super::UserId;

/// What a role may do. Staff roles are configurable; `service` is the platform backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May open every order's chat; messages carry `senderType: "admin"`.
    Staff,
    /// The platform backend: registers orders, posts system messages, reads every chat.
    Service,
    /// Customers, drivers, carriers …: only the orders they participate in.
    Member,
}

/// A verified caller.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub user_id: UserId,
    /// The role string as the token gave it (`customer`, `dispatcher`, …).
    pub role_name: String,
    #[serde(skip)]
    pub role: Role,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Unix time (seconds) after which the token is no longer accepted: its `exp` plus
    /// the clock leeway. `None` for tokens without `exp` (when those are allowed).
    #[serde(skip)]
    pub valid_until: Option<u64>,
}

impl Identity {
    /// Staff and the platform's service may see every order.
    pub fn sees_every_order(&self) -> bool {
        matches!(self.role, Role::Staff | Role::Service)
    }
}

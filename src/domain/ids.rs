//! Identifiers that come from clients: order ids, user ids and client message ids.
//! Each is a short printable string; anything else is refused at the edge.

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};

const MAX_ID_LEN: usize = 128;

fn parse_id(field: &'static str, raw: &str) -> Result<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    if trimmed.chars().count() > MAX_ID_LEN {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_ID_LEN} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::invalid_field(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self> {
                parse_id($field, raw).map(Self)
            }

            /// For values read back from our own storage, which were parsed when stored.
            pub fn from_trusted(raw: String) -> Self {
                Self(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The platform's id of an order; one chat per order.
    OrderId,
    "orderId"
);
id_type!(
    /// A user id from the token's `sub` (or `id` / `userId`) claim.
    UserId,
    "userId"
);
id_type!(
    /// Set by the sender to make a retried send idempotent.
    ClientId,
    "clientId"
);

impl OrderId {
    /// The Socket.IO room of this order's chat.
    pub fn room(&self) -> String {
        format!("order:{}", self.0)
    }
}

/// What every user's Socket.IO room name starts with (`UserId::room`).
pub const USER_ROOM_PREFIX: &str = "user:";

impl UserId {
    /// The Socket.IO room holding every connection of this user.
    pub fn room(&self) -> String {
        format!("{USER_ROOM_PREFIX}{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_trimmed_and_bounded() {
        assert_eq!(OrderId::parse(" o-1 ").unwrap().as_str(), "o-1");
        assert_eq!(OrderId::parse("").unwrap_err().code(), "invalid_field");
        assert_eq!(OrderId::parse(&"x".repeat(129)).unwrap_err().code(), "invalid_field");
        assert_eq!(UserId::parse("a\u{0}b").unwrap_err().code(), "invalid_field");
    }
}

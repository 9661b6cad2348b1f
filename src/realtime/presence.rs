//! Who is online on this node: a count of live Socket.IO connections per user. A user
//! is online while they have at least one connection (phone and laptop together count
//! once); `presence` events fire only on the first connect and the last disconnect.
//!
//! Single-node for now: with several nodes this map must move to Redis (SPEC §8).

use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::domain::UserId;

#[derive(Default)]
pub struct Presence {
    connections: DashMap<UserId, usize>,
    total: AtomicUsize,
}

/// A connection that may not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UserLimit,
    NodeLimit,
}

impl Presence {
    /// Whether one more connection of `user` fits the limits.
    pub fn admits(&self, user: &UserId, per_user: usize, total: usize) -> Result<(), Refusal> {
        if self.total.load(Ordering::Relaxed) >= total {
            return Err(Refusal::NodeLimit);
        }
        if self.connections.get(user).is_some_and(|n| *n >= per_user) {
            return Err(Refusal::UserLimit);
        }
        Ok(())
    }

    /// Counts a new connection; `true` if it is the user's first (they came online).
    pub fn connect(&self, user: &UserId) -> bool {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut count = self.connections.entry(user.clone()).or_insert(0);
        *count += 1;
        *count == 1
    }

    /// Counts a closed connection; `true` if it was the user's last (they went offline).
    pub fn disconnect(&self, user: &UserId) -> bool {
        self.total.fetch_sub(1, Ordering::Relaxed);
        match self.connections.entry(user.clone()) {
            Entry::Occupied(mut entry) => {
                *entry.get_mut() -= 1;
                if *entry.get() == 0 {
                    entry.remove();
                    true
                } else {
                    false
                }
            }
            Entry::Vacant(_) => false,
        }
    }

    pub fn is_online(&self, user: &UserId) -> bool {
        self.connections.contains_key(user)
    }

    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_while_any_connection_is_open() {
        let presence = Presence::default();
        let ana = UserId::parse("ana").unwrap();
        assert!(presence.connect(&ana));
        assert!(!presence.connect(&ana));
        assert!(!presence.disconnect(&ana));
        assert!(presence.is_online(&ana));
        assert!(presence.disconnect(&ana));
        assert!(!presence.is_online(&ana));
    }

    #[test]
    fn limits_per_user_and_per_node() {
        let presence = Presence::default();
        let ana = UserId::parse("ana").unwrap();
        let bo = UserId::parse("bo").unwrap();
        presence.connect(&ana);
        presence.connect(&ana);
        assert_eq!(presence.admits(&ana, 2, 10), Err(Refusal::UserLimit));
        assert_eq!(presence.admits(&bo, 2, 10), Ok(()));
        assert_eq!(presence.admits(&bo, 2, 2), Err(Refusal::NodeLimit));
    }
}

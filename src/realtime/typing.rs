//! Typing indicators that cannot get stuck: every `typing-start` arms a timer, and if
//! no `typing-stop` (or newer start) arrives before it fires, the others in the room
//! are told the user stopped. Keyed by connection and order, so two devices of one
//! user type independently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use crate::domain::OrderId;

/// Keyed by connection first, so closing a connection finds its typing state at once
/// instead of scanning everyone's.
#[derive(Default)]
pub struct Typing {
    /// connection id → (order → generation of the latest start).
    active: DashMap<String, HashMap<OrderId, u64>>,
    next_generation: AtomicU64,
}

impl Typing {
    /// Records a start; returns its generation for `expire`.
    pub fn start(&self, connection: &str, order: &OrderId) -> u64 {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        self.active
            .entry(connection.to_owned())
            .or_default()
            .insert(order.clone(), generation);
        generation
    }

    /// Records a stop; `true` if the connection was typing there.
    pub fn stop(&self, connection: &str, order: &OrderId) -> bool {
        self.remove_where(connection, order, |_| true)
    }

    /// Ends the start of `generation` if nothing newer replaced it; `true` if it did.
    pub fn expire(&self, connection: &str, order: &OrderId, generation: u64) -> bool {
        self.remove_where(connection, order, |g| g == generation)
    }

    /// Forgets a closed connection; returns the orders it was typing in.
    pub fn forget_connection(&self, connection: &str) -> Vec<OrderId> {
        self.active
            .remove(connection)
            .map(|(_, orders)| orders.into_keys().collect())
            .unwrap_or_default()
    }

    fn remove_where(&self, connection: &str, order: &OrderId, matches: impl Fn(u64) -> bool) -> bool {
        let removed = match self.active.get_mut(connection) {
            Some(mut orders) => match orders.get(order) {
                Some(&generation) if matches(generation) => orders.remove(order).is_some(),
                _ => false,
            },
            None => false,
        };
        self.active.remove_if(connection, |_, orders| orders.is_empty());
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_start_outlives_the_older_timer() {
        let typing = Typing::default();
        let order = OrderId::parse("o1").unwrap();
        let first = typing.start("c1", &order);
        let second = typing.start("c1", &order);
        assert!(!typing.expire("c1", &order, first));
        assert!(typing.expire("c1", &order, second));
        assert!(!typing.stop("c1", &order));
    }

    #[test]
    fn a_closed_connection_reports_where_it_was_typing_and_leaves_nothing_behind() {
        let typing = Typing::default();
        let (a, b) = (OrderId::parse("a").unwrap(), OrderId::parse("b").unwrap());
        typing.start("c1", &a);
        typing.start("c1", &b);
        typing.start("c2", &a);
        let mut orders = typing.forget_connection("c1");
        orders.sort();
        assert_eq!(orders, vec![a.clone(), b]);
        assert!(typing.forget_connection("c1").is_empty());
        assert!(typing.stop("c2", &a));
        assert!(typing.active.is_empty(), "stopped connections leave no entry");
    }
}

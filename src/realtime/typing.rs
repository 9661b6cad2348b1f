//! Typing indicators that cannot get stuck: every `typing-start` arms a timer, and if
//! no `typing-stop` (or newer start) arrives before it fires, the others in the room
//! are told the user stopped. Keyed by connection and order, so two devices of one
//! user type independently.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use crate::domain::OrderId;

#[derive(Default)]
pub struct Typing {
    /// (connection id, order) → generation of the latest start.
    active: DashMap<(String, OrderId), u64>,
    next_generation: AtomicU64,
}

impl Typing {
    /// Records a start; returns its generation for `expire`.
    pub fn start(&self, connection: &str, order: &OrderId) -> u64 {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        self.active.insert((connection.to_owned(), order.clone()), generation);
        generation
    }

    /// Records a stop; `true` if the connection was typing there.
    pub fn stop(&self, connection: &str, order: &OrderId) -> bool {
        self.active.remove(&(connection.to_owned(), order.clone())).is_some()
    }

    /// Ends the start of `generation` if nothing newer replaced it; `true` if it did.
    pub fn expire(&self, connection: &str, order: &OrderId, generation: u64) -> bool {
        self.active
            .remove_if(&(connection.to_owned(), order.clone()), |_, g| *g == generation)
            .is_some()
    }

    /// Forgets a closed connection; returns the orders it was typing in.
    pub fn forget_connection(&self, connection: &str) -> Vec<OrderId> {
        let orders: Vec<OrderId> = self
            .active
            .iter()
            .filter(|e| e.key().0 == connection)
            .map(|e| e.key().1.clone())
            .collect();
        for order in &orders {
            self.active.remove(&(connection.to_owned(), order.clone()));
        }
        orders
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
}

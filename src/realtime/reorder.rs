//! The reorder buffer of one order on one node: hands out an order's messages strictly
//! in `seq` order, whatever order they arrive in. With several nodes writing into one
//! order, a node hears its own commits at once and the other nodes' through Redis a
//! little later, so seq 7 can arrive before seq 6; the buffer holds 7 until 6 is there.
//!
//! It is plain data (no locks, no I/O, no clock of its own), so `delivery.rs` owns the
//! locking and the fetching, and the tests here drive it with instants of their own.
//!
//! A gap is not always filled by a late arrival: a node may die between its commit and
//! its publish, or Redis may drop a message. So a held message also starts a clock:
//! once the oldest held message has waited [`GAP_WAIT`], [`Reorder::gap`] names the
//! missing seqs for the caller to read from the store, and [`Reorder::skip_to`] steps
//! over those the store no longer has. Memory is bounded: at most [`MAX_HELD`] messages
//! are held; past that, arrivals are refused ([`Offer::Full`]) and the gap is reported
//! at once — refused messages are read back from the store like any other gap.
//!
//! A gap can also have nothing after it: messages another node committed while Redis
//! was down never arrive, and no later one may come to reveal them. A node that finds
//! (by asking the store, `delivery.rs`) that an order has more than it delivered says
//! so with [`Reorder::behind_store`], and [`Reorder::gap`] reports those seqs at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::domain::Seq;

/// How long a message waits for the ones before it before they are read from the store.
pub const GAP_WAIT: Duration = Duration::from_millis(300);

/// The most messages one order holds behind a gap.
pub const MAX_HELD: usize = 1024;

/// What became of an offered message.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer<P> {
    /// It is the next one: deliver it now, then whatever [`Reorder::pop_ready`] gives.
    Deliver(P),
    /// Held until the seqs before it arrive (or are read from the store).
    Held,
    /// Already delivered, skipped or held: dropped.
    Stale,
    /// The buffer is full: dropped (the store has it; [`Reorder::gap`] now reports).
    Full,
}

#[derive(Debug)]
pub struct Reorder<P> {
    /// The next seq to deliver; `None` until the line knows where it starts.
    next: Option<Seq>,
    /// Messages that arrived ahead of `next`, with when each arrived.
    held: BTreeMap<Seq, (Instant, P)>,
    /// Set when an arrival was refused: the gap is reported without waiting.
    overflowed: bool,
    /// The store is known to hold the order's messages up to this seq: those from
    /// `next` up to it are a gap reported without waiting (see [`Reorder::behind_store`]).
    stored_up_to: Option<Seq>,
}

impl<P> Default for Reorder<P> {
    fn default() -> Self {
        Self::new(None)
    }
}

impl<P> Reorder<P> {
    /// A buffer that delivers from `next` on, or holds everything until [`Reorder::start`].
    pub fn new(next: Option<Seq>) -> Self {
        Self {
            next,
            held: BTreeMap::new(),
            overflowed: false,
            stored_up_to: None,
        }
    }

    /// The next seq to deliver, once known.
    pub fn next(&self) -> Option<Seq> {
        self.next
    }

    /// How many messages wait behind a gap.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Whether a gap is open: messages held, or seqs the store has that were not
    /// delivered yet.
    pub fn pending(&self) -> bool {
        !self.held.is_empty() || self.behind()
    }

    /// The store holds the order's messages up to `last_seq`; returns whether this line
    /// has not delivered them all (then [`Reorder::gap`] reports the rest at once).
    /// Nothing for a line that does not know where it starts: its start is read later.
    pub fn behind_store(&mut self, last_seq: Seq) -> bool {
        let Some(next) = self.next else { return false };
        if last_seq < next {
            return false;
        }
        self.stored_up_to = self.stored_up_to.max(Some(last_seq));
        true
    }

    fn behind(&self) -> bool {
        matches!((self.next, self.stored_up_to), (Some(next), Some(last)) if last >= next)
    }

    /// Sets where delivery starts: everything up to `last_seq` is another path's to
    /// deliver (a catch-up), so held messages up to it are dropped. Then call
    /// [`Reorder::pop_ready`].
    pub fn start(&mut self, last_seq: Seq) {
        self.next = Some(last_seq + 1);
        self.drop_before(last_seq + 1);
    }

    /// Whether `seq` is the next to deliver; if so, it counts as delivered (the caller
    /// sends it, then whatever [`Reorder::pop_ready`] gives). The cheap check of the
    /// common case: nothing is moved or copied.
    pub fn take_turn(&mut self, seq: Seq) -> bool {
        if self.next == Some(seq) {
            self.next = Some(seq + 1);
            return true;
        }
        false
    }

    /// A message with `seq` arrived; `now` is asked only when it has to be held.
    pub fn offer(&mut self, seq: Seq, payload: P, now: impl FnOnce() -> Instant) -> Offer<P> {
        match self.next {
            Some(next) if seq < next => return Offer::Stale,
            Some(next) if seq == next => {
                self.next = Some(next + 1);
                return Offer::Deliver(payload);
            }
            _ => {}
        }
        if self.held.contains_key(&seq) {
            return Offer::Stale;
        }
        if self.held.len() >= MAX_HELD {
            self.overflowed = true;
            return Offer::Full;
        }
        self.held.insert(seq, (now(), payload));
        Offer::Held
    }

    /// The next message to deliver, if it is held.
    pub fn pop_ready(&mut self) -> Option<P> {
        let next = self.next?;
        let entry = self.held.first_entry()?;
        if *entry.key() != next {
            return None;
        }
        let (_, payload) = entry.remove();
        self.next = Some(next + 1);
        if self.held.is_empty() {
            self.overflowed = false;
        }
        Some(payload)
    }

    /// The missing seqs (first, last) before the first held message, once that message
    /// has waited `wait` (at once after an overflow or when the store is known to have
    /// them), or up to what the store is known to have when nothing is held; `None` if
    /// there is no such gap or it is young.
    pub fn gap(&self, now: Instant, wait: Duration) -> Option<(Seq, Seq)> {
        let next = self.next?;
        let Some((&first, (arrived, _))) = self.held.first_key_value() else {
            return self.behind().then(|| (next, self.stored_up_to.unwrap_or(next)));
        };
        if first <= next {
            return None;
        }
        let old = now.saturating_duration_since(*arrived) >= wait;
        (old || self.overflowed || self.behind()).then_some((next, first - 1))
    }

    /// Gives up on every seq below `seq` (the store does not have them). Then call
    /// [`Reorder::pop_ready`].
    pub fn skip_to(&mut self, seq: Seq) {
        if self.next.is_some_and(|next| next < seq) {
            self.next = Some(seq);
            self.drop_before(seq);
        }
    }

    fn drop_before(&mut self, seq: Seq) {
        self.held = self.held.split_off(&seq);
        if self.held.is_empty() {
            self.overflowed = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> impl FnOnce() -> Instant {
        let base = base();
        move || base + Duration::from_millis(ms)
    }

    fn base() -> Instant {
        use std::sync::OnceLock;
        static BASE: OnceLock<Instant> = OnceLock::new();
        *BASE.get_or_init(Instant::now)
    }

    fn ms(ms: u64) -> Instant {
        base() + Duration::from_millis(ms)
    }

    fn ready(buffer: &mut Reorder<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| buffer.pop_ready()).collect()
    }

    #[test]
    fn in_order_arrivals_are_delivered_at_once() {
        let mut buffer = Reorder::new(Some(1));
        assert_eq!(buffer.offer(1, "one", at(0)), Offer::Deliver("one"));
        assert_eq!(buffer.offer(2, "two", at(0)), Offer::Deliver("two"));
        assert_eq!(buffer.next(), Some(3));
        assert_eq!(buffer.held(), 0);
    }

    #[test]
    fn a_message_ahead_of_a_gap_is_held_until_the_gap_fills() {
        let mut buffer = Reorder::new(Some(6));
        assert_eq!(buffer.offer(7, "seven", at(0)), Offer::Held);
        assert_eq!(buffer.offer(8, "eight", at(1)), Offer::Held);
        assert_eq!(ready(&mut buffer), Vec::<&str>::new(), "delivered across a gap");
        assert_eq!(buffer.offer(6, "six", at(2)), Offer::Deliver("six"));
        assert_eq!(ready(&mut buffer), ["seven", "eight"]);
        assert_eq!(buffer.next(), Some(9));
        assert_eq!(buffer.gap(ms(10_000), GAP_WAIT), None);
    }

    #[test]
    fn the_next_message_takes_its_turn_without_being_moved() {
        let mut buffer: Reorder<&str> = Reorder::new(Some(3));
        assert!(!buffer.take_turn(4));
        assert!(buffer.take_turn(3));
        assert!(!buffer.take_turn(3), "a seq took its turn twice");
        assert_eq!(buffer.next(), Some(4));
        assert!(
            !Reorder::<&str>::new(None).take_turn(1),
            "delivered before the start was known"
        );
    }

    #[test]
    fn duplicates_and_old_messages_are_dropped() {
        let mut buffer = Reorder::new(Some(5));
        assert_eq!(buffer.offer(4, "old", at(0)), Offer::Stale);
        assert_eq!(buffer.offer(7, "seven", at(0)), Offer::Held);
        assert_eq!(buffer.offer(7, "seven again", at(0)), Offer::Stale);
        assert_eq!(buffer.offer(5, "five", at(0)), Offer::Deliver("five"));
        assert_eq!(buffer.offer(5, "five again", at(0)), Offer::Stale);
    }

    #[test]
    fn a_gap_is_reported_for_the_store_only_after_it_has_waited() {
        let mut buffer = Reorder::new(Some(3));
        buffer.offer(6, "six", at(100));
        assert_eq!(buffer.gap(ms(100), GAP_WAIT), None, "reported before the wait");
        assert_eq!(buffer.gap(ms(399), GAP_WAIT), None);
        assert_eq!(buffer.gap(ms(400), GAP_WAIT), Some((3, 5)));

        // The store had 3 and 5; 4 is gone: deliver what it had, skip the rest.
        assert_eq!(buffer.offer(3, "three", at(401)), Offer::Deliver("three"));
        assert_eq!(buffer.offer(5, "five", at(401)), Offer::Held);
        buffer.skip_to(5);
        assert_eq!(ready(&mut buffer), ["five", "six"]);
        assert_eq!(buffer.next(), Some(7));
        assert_eq!(buffer.gap(ms(10_000), GAP_WAIT), None);
    }

    #[test]
    fn the_buffer_is_bounded_and_an_overflow_is_reported_at_once() {
        let mut buffer = Reorder::new(Some(1));
        for seq in 2..2 + MAX_HELD as Seq {
            assert_eq!(buffer.offer(seq, "held", at(0)), Offer::Held);
        }
        let beyond = 2 + MAX_HELD as Seq;
        assert_eq!(buffer.offer(beyond, "refused", at(0)), Offer::Full);
        assert_eq!(buffer.held(), MAX_HELD);
        assert_eq!(
            buffer.gap(ms(0), GAP_WAIT),
            Some((1, 1)),
            "an overflow waits for nothing"
        );

        // Filled from the store: everything held goes out; the refused one comes later.
        assert_eq!(buffer.offer(1, "one", at(0)), Offer::Deliver("one"));
        assert_eq!(ready(&mut buffer).len(), MAX_HELD);
        assert_eq!(buffer.next(), Some(beyond));
        assert_eq!(buffer.gap(ms(0), GAP_WAIT), None);
    }

    #[test]
    fn seqs_the_store_has_but_nobody_sent_are_a_gap_at_once() {
        let mut buffer: Reorder<&str> = Reorder::new(Some(4));
        assert!(!buffer.behind_store(3), "behind with everything delivered");
        assert!(!buffer.pending());
        assert!(buffer.behind_store(6));
        assert!(buffer.pending());
        assert_eq!(buffer.gap(ms(0), GAP_WAIT), Some((4, 6)), "nothing is held: no wait");

        // The store had 4 and 6 (5 is gone): after them nothing is pending.
        assert_eq!(buffer.offer(4, "four", at(0)), Offer::Deliver("four"));
        assert_eq!(buffer.offer(6, "six", at(0)), Offer::Held);
        assert_eq!(
            buffer.gap(ms(0), GAP_WAIT),
            Some((5, 5)),
            "a young hold waits for nothing"
        );
        buffer.skip_to(6);
        assert_eq!(ready(&mut buffer), ["six"]);
        assert!(!buffer.pending());
        assert_eq!(buffer.gap(ms(10_000), GAP_WAIT), None);

        assert!(
            !Reorder::<&str>::new(None).behind_store(9),
            "a line that does not know its start reads it later"
        );
    }

    #[test]
    fn a_line_that_does_not_know_its_start_holds_everything_until_told() {
        let mut buffer = Reorder::new(None);
        assert_eq!(buffer.offer(4, "four", at(0)), Offer::Held);
        assert_eq!(buffer.offer(5, "five", at(0)), Offer::Held);
        assert_eq!(buffer.offer(6, "six", at(0)), Offer::Held);
        assert_eq!(
            buffer.gap(ms(10_000), GAP_WAIT),
            None,
            "no gap before the start is known"
        );
        // A join read seq 5 as the last committed: 4 and 5 are in its catch-up.
        buffer.start(5);
        assert_eq!(ready(&mut buffer), ["six"]);
        assert_eq!(buffer.offer(7, "seven", at(0)), Offer::Deliver("seven"));
    }
}

//! Property tests of every parser that takes client input: ids, message text, JSON
//! request bodies, emojis, search text, history and paging parameters, Socket.IO payloads.
//! The property everywhere: a valid result that keeps the documented invariants, or a
//! refusal that maps to a 4xx with a stable code and a message; never a panic.
//! (`tests/api/fuzz.rs` holds the same property at the HTTP level, `fuzz/` a
//! coverage-guided target for long runs.)

mod bodies;
mod contract;
mod emoji;
mod files;
mod history;
mod ids;
mod message_text;
mod payload;
mod search;
mod store;
mod strategies;

//! HTTP integration tests: each test starts the real server on a free port with its own
//! SQLite file (`spawn_app`) and talks to it over HTTP like a client would.

mod archive;
mod auth;
mod closed;
mod console;
mod export;
mod fuzz;
mod helpers;
mod history;
mod messages;
mod moderation;
mod notifications;
mod openapi;
mod orders;
mod origin;
mod persistence;
mod reactions;
mod read_state;
mod refusals;
mod replies;
mod search;
mod stats;
#[path = "../props/strategies.rs"]
mod strategies;
mod timeouts;

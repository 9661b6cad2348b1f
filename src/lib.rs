//! orderchat: a real-time chat server for dispatch and delivery platforms. One chat
//! per order, Socket.IO and HTTP on the same port, JWT on every request, SQLite
//! embedded by default. `main.rs` is only the command line; `app.rs` wires the rest.

pub mod access;
pub mod app;
pub mod attachments;
pub mod auth;
pub mod chat;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod input;
pub mod limits;
pub mod metrics;
pub mod origin;
pub mod push;
pub mod realtime;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;

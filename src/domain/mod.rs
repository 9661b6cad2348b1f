//! Domain types: values that are valid by construction. Input is parsed into these at
//! the edge (HTTP handlers, Socket.IO handlers); code past the edge never re-checks.

mod identity;
mod ids;
mod message;
mod order;
mod reaction;

pub use identity::{Identity, Role};
pub use ids::{ClientId, OrderId, USER_ROOM_PREFIX, UserId};
pub use message::{
    Attachment, ForViewer, Message, MessageText, MessageType, MessageUser, NewMessage, REPLY_EXCERPT_CHARS,
    ReplyPreview, SenderType,
};
pub use order::{Order, OrderStatus, Participant};
pub use reaction::{Emoji, MAX_EMOJI_CHARS, MAX_REACTION_EMOJIS, Reaction, summarize_reactions};

/// Position of a message inside its order: 1, 2, 3 … with no gaps.
pub type Seq = i64;

/// Timestamps as clients see them: RFC 3339 UTC with milliseconds.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Now, formatted for an event payload.
pub fn now_timestamp() -> String {
    timestamp(chrono::Utc::now())
}

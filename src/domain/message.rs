//! A chat message as stored and as every response and event carries it (SPEC §3),
//! and the validated input of a new one.

use serde::{Deserialize, Serialize};

use super::{ClientId, Identity, OrderId, Role, Seq, UserId};
use crate::error::{Error, Result};

/// Message text that passed the rules: not blank, not too long, no control characters
/// other than newline and tab. Windows line endings (`\r\n`) are stored as `\n`; a lone
/// `\r` is refused like any other control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self> {
        let normalized;
        let raw = if raw.contains("\r\n") {
            normalized = raw.replace("\r\n", "\n");
            normalized.as_str()
        } else {
            raw
        };
        if raw.trim().is_empty() {
            return Err(Error::MessageEmpty);
        }
        if raw.chars().count() > max_chars {
            return Err(Error::MessageTooLong { max: max_chars });
        }
        if raw.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(Error::MessageInvalidCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    /// Text the server writes itself (system messages).
    pub fn system(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Text,
    System,
    File,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::System => "system",
            MessageType::File => "file",
        }
    }

    pub fn from_stored(raw: &str) -> Self {
        match raw {
            "system" => MessageType::System,
            "file" => MessageType::File,
            _ => MessageType::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderType {
    User,
    Admin,
    System,
}

impl SenderType {
    pub fn of(identity: &Identity) -> Self {
        match identity.role {
            Role::Staff => SenderType::Admin,
            Role::Service | Role::Member => SenderType::User,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SenderType::User => "user",
            SenderType::Admin => "admin",
            SenderType::System => "system",
        }
    }

    pub fn from_stored(raw: &str) -> Self {
        match raw {
            "admin" => SenderType::Admin,
            "system" => SenderType::System,
            _ => SenderType::User,
        }
    }
}

/// The author of a message as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageUser {
    pub id: UserId,
    pub name: Option<String>,
    pub role: String,
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub url: String,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub order_id: OrderId,
    pub seq: Seq,
    pub user: Option<MessageUser>,
    pub message: String,
    pub message_type: MessageType,
    pub sender_type: SenderType,
    pub attachments: Vec<Attachment>,
    pub reply_to: Option<String>,
    pub client_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub edited_at: Option<String>,
    pub deleted: bool,
}

impl Message {
    /// The user id of the author; `None` for system messages.
    pub fn author(&self) -> Option<&UserId> {
        self.user.as_ref().map(|u| &u.id)
    }
}

/// A message ready to be stored: everything but the id, seq and timestamps, which the
/// store assigns when it commits.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub order_id: OrderId,
    pub author: Option<MessageUser>,
    pub text: MessageText,
    pub message_type: MessageType,
    pub sender_type: SenderType,
    pub reply_to: Option<String>,
    pub client_id: Option<ClientId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert!(MessageText::parse("hi\nthere\t!", 10).is_ok());
        assert_eq!(MessageText::parse("   \n", 10).unwrap_err().code(), "message_empty");
        assert_eq!(
            MessageText::parse("12345678901", 10).unwrap_err().code(),
            "message_too_long"
        );
        assert_eq!(
            MessageText::parse("a\u{7}b", 10).unwrap_err().code(),
            "message_invalid_characters"
        );
        assert_eq!(
            MessageText::parse("a\rb", 10).unwrap_err().code(),
            "message_invalid_characters"
        );
        assert_eq!(MessageText::parse("a\r\nb", 10).unwrap().as_str(), "a\nb");
        // Length is in characters, not bytes.
        assert!(MessageText::parse(&"é".repeat(10), 10).is_ok());
    }
}

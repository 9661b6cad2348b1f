//! A chat message as stored and as every response and event carries it (SPEC §3),
//! and the validated input of a new one.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use super::reaction::ReactionsFor;
use super::{ClientId, Identity, OrderId, Reaction, Role, Seq, UserId};
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

    /// The text of a message that carries attachments: it may be blank (a photo
    /// without a caption); otherwise the same rules as `parse`.
    pub fn parse_caption(raw: &str, max_chars: usize) -> Result<Self> {
        if raw.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(raw, max_chars)
    }

    /// Text the server writes itself (system messages).
    pub fn system(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageUser {
    pub id: UserId,
    #[schema(required)]
    pub name: Option<String>,
    pub role: String,
}

/// A file attached to a message (SPEC §3), as the upload answer and every message
/// carry it. Stored with the message as JSON, so reading a message needs no join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub url: String,
    /// A small JPEG of an image upload, for chat lists; `None` for other files (and
    /// images that could not be decoded).
    #[serde(default)]
    #[schema(required)]
    pub thumbnail_url: Option<String>,
}

/// A stored message. Serialised with `_id` beside `id` (same value): the old service's
/// frontends key and delete messages by `_id` (SPEC §3).
#[derive(Debug, Clone, PartialEq)]
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
    /// What a client needs to render the quote of `reply_to`, as the quoted message
    /// stands when this one is read (see [`ReplyPreview`]).
    /// Boxed: most messages reply to nothing, and a `Message` is moved and held (reorder
    /// buffers, write queues) on the hot path.
    pub reply_preview: Option<Box<ReplyPreview>>,
    pub client_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub edited_at: Option<String>,
    pub deleted: bool,
    /// One entry per emoji, in order of first use (empty on a tombstone).
    pub reactions: Vec<Reaction>,
}

impl Message {
    /// The user id of the author; `None` for system messages.
    pub fn author(&self) -> Option<&UserId> {
        self.user.as_ref().map(|u| &u.id)
    }

    /// This message as `viewer` gets it: each reaction says whether it is `mine`.
    pub fn for_viewer<'a>(&'a self, viewer: &'a UserId) -> ForViewer<'a> {
        ForViewer { message: self, viewer }
    }

    /// The message's fields, with `mine` in each reaction when written for one reader
    /// (an HTTP response, an ack) and without it for a whole room (events), whose
    /// clients compare `userIds` with their own id.
    pub fn serialize_for<S: Serializer>(
        &self,
        viewer: Option<&UserId>,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Message", 18)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("_id", &self.id)?;
        s.serialize_field("orderId", &self.order_id)?;
        s.serialize_field("seq", &self.seq)?;
        s.serialize_field("user", &self.user)?;
        s.serialize_field("message", &self.message)?;
        s.serialize_field("messageType", &self.message_type)?;
        s.serialize_field("senderType", &self.sender_type)?;
        s.serialize_field("attachments", &self.attachments)?;
        s.serialize_field("replyTo", &self.reply_to)?;
        s.serialize_field("replyPreview", &self.reply_preview)?;
        s.serialize_field("clientId", &self.client_id)?;
        s.serialize_field("createdAt", &self.created_at)?;
        s.serialize_field("updatedAt", &self.updated_at)?;
        s.serialize_field("editedAt", &self.edited_at)?;
        s.serialize_field("deleted", &self.deleted)?;
        s.serialize_field(
            "reactions",
            &ReactionsFor {
                reactions: &self.reactions,
                viewer,
            },
        )?;
        s.end()
    }
}

// Written by hand rather than derived: a derive cannot write one field under two names,
// and this is the per-message path of every event (no intermediate JSON tree). Without
// a reader: the shape of events sent to a room.
impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.serialize_for(None, serializer)
    }
}

/// A message serialised for one reader (see `Message::serialize_for`).
#[derive(Debug, Clone, Copy)]
pub struct ForViewer<'a> {
    message: &'a Message,
    viewer: &'a UserId,
}

impl Serialize for ForViewer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.message.serialize_for(Some(self.viewer), serializer)
    }
}

// The JSON `Message`'s serializer above writes, field for field, for the OpenAPI
// document only (never built). A field added to the serializer goes here too:
// `tests::message_schema_lists_what_is_serialised` fails until it does.
/// A chat message as every response and event carries it.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct MessageShape {
    /// Unique and opaque.
    id: String,
    /// The same value as `id`, for the old service's frontends.
    #[serde(rename = "_id")]
    legacy_id: String,
    order_id: OrderId,
    /// 1, 2, 3 … within the order, no gaps.
    #[schema(value_type = i64)]
    seq: Seq,
    /// `null` for system messages.
    #[schema(required)]
    user: Option<MessageUser>,
    /// The text; empty once deleted.
    message: String,
    message_type: MessageType,
    sender_type: SenderType,
    attachments: Vec<Attachment>,
    /// The id of the message this one replies to.
    #[schema(required)]
    reply_to: Option<String>,
    #[schema(required)]
    reply_preview: Option<ReplyPreview>,
    #[schema(required)]
    client_id: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    #[schema(required, format = DateTime)]
    edited_at: Option<String>,
    /// A tombstone: the text and attachments are gone.
    deleted: bool,
    /// One entry per emoji, in order of first use; `[]` when none.
    reactions: Vec<super::reaction::ReactionShape>,
}

impl utoipa::PartialSchema for Message {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        MessageShape::schema()
    }
}

impl utoipa::ToSchema for Message {
    fn name() -> std::borrow::Cow<'static, str> {
        "Message".into()
    }

    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        MessageShape::schemas(schemas)
    }
}

/// The characters of a quoted message's text a reply carries.
pub const REPLY_EXCERPT_CHARS: usize = 140;

/// The quoted message of a reply, as much of it as a client needs to render the quote:
/// who wrote it and the start of its text. The text of a deleted message is never
/// shown: `message` is then `null` and `deleted` is `true`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyPreview {
    pub id: String,
    pub user: Option<MessageUser>,
    pub sender_type: SenderType,
    /// The first `REPLY_EXCERPT_CHARS` characters (not bytes) of the text; `None` once
    /// the quoted message is deleted.
    pub message: Option<String>,
    pub deleted: bool,
}

impl ReplyPreview {
    /// The preview of `quoted` as it stands.
    pub fn of(quoted: &Message) -> Self {
        Self::new(
            quoted.id.clone(),
            quoted.user.clone(),
            quoted.sender_type,
            &quoted.message,
            quoted.deleted,
        )
    }

    /// A preview from its parts; cuts the text to its excerpt, and drops it when deleted.
    pub fn new(id: String, user: Option<MessageUser>, sender_type: SenderType, text: &str, deleted: bool) -> Self {
        let message = (!deleted).then(|| match text.char_indices().nth(REPLY_EXCERPT_CHARS) {
            Some((end, _)) => text[..end].to_owned(),
            None => text.to_owned(),
        });
        Self {
            id,
            user,
            sender_type,
            message,
            deleted,
        }
    }
}

impl Serialize for ReplyPreview {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ReplyPreview", 6)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("_id", &self.id)?;
        s.serialize_field("user", &self.user)?;
        s.serialize_field("senderType", &self.sender_type)?;
        s.serialize_field("message", &self.message)?;
        s.serialize_field("deleted", &self.deleted)?;
        s.end()
    }
}

// The JSON `ReplyPreview`'s serializer writes, for the OpenAPI document only (see
// `MessageShape`).
/// The quoted message of a reply: who wrote it and the start of its text.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct ReplyPreviewShape {
    /// The quoted message's id.
    id: String,
    #[serde(rename = "_id")]
    legacy_id: String,
    #[schema(required)]
    user: Option<MessageUser>,
    sender_type: SenderType,
    /// The start of the quoted text; `null` once the quoted message is deleted.
    #[schema(required)]
    message: Option<String>,
    deleted: bool,
}

impl utoipa::PartialSchema for ReplyPreview {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ReplyPreviewShape::schema()
    }
}

impl utoipa::ToSchema for ReplyPreview {
    fn name() -> std::borrow::Cow<'static, str> {
        "ReplyPreview".into()
    }

    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        ReplyPreviewShape::schemas(schemas)
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
    /// The message replied to, as it stood when the reply was checked: the new
    /// message's `replyTo` is its id, and its preview goes out with the new message.
    /// Boxed, as in `Message`: a queued message stays small.
    pub reply_to: Option<Box<ReplyPreview>>,
    pub client_id: Option<ClientId>,
    /// Uploads the message attaches; the writer claims them for it in the message's
    /// own transaction (`Store::queue_message`), or refuses the message.
    pub attachments: Vec<Attachment>,
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

    /// The property names and required names of a schema built by `ToSchema`.
    fn schema_fields<T: utoipa::PartialSchema>() -> (Vec<String>, Vec<String>) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        match T::schema() {
            RefOr::T(Schema::Object(object)) => {
                let mut properties: Vec<String> = object.properties.keys().cloned().collect();
                let mut required = object.required.clone();
                properties.sort();
                required.sort();
                (properties, required)
            }
            _ => panic!("expected an object schema"),
        }
    }

    fn serialised_keys(value: &impl Serialize) -> Vec<String> {
        let json = serde_json::to_value(value).unwrap();
        let mut keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn full_message() -> Message {
        let user = MessageUser {
            id: UserId::from_trusted("u1".into()),
            name: Some("Ana".into()),
            role: "customer".into(),
        };
        let quoted = ReplyPreview::new("m0".into(), Some(user.clone()), SenderType::User, "hi", false);
        Message {
            id: "m1".into(),
            order_id: OrderId::from_trusted("o1".into()),
            seq: 2,
            user: Some(user),
            message: "hello".into(),
            message_type: MessageType::Text,
            sender_type: SenderType::User,
            attachments: vec![Attachment {
                id: "a1".into(),
                file_name: "f.png".into(),
                content_type: "image/png".into(),
                size: 3,
                url: "/api/chat/attachments/a1".into(),
                thumbnail_url: Some("/api/chat/attachments/a1/thumbnail".into()),
            }],
            reply_to: Some("m0".into()),
            reply_preview: Some(Box::new(quoted)),
            client_id: Some("c1".into()),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            edited_at: Some("2026-01-01T00:00:01.000Z".into()),
            deleted: false,
            reactions: vec![Reaction {
                emoji: "👍".into(),
                user_ids: vec![UserId::from_trusted("u2".into())],
            }],
        }
    }

    // A reaction's schema lists what its serializer writes; `mine` only for one reader.
    #[test]
    fn reaction_schema_lists_what_is_serialised() {
        let message = full_message();
        let (properties, required) = schema_fields::<super::super::reaction::ReactionShape>();
        let viewer = UserId::from_trusted("u2".into());
        let for_one = serde_json::to_value(message.for_viewer(&viewer)).unwrap();
        let for_room = serde_json::to_value(&message).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v["reactions"][0].as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(&for_one), properties);
        let mut without_mine = properties.clone();
        without_mine.retain(|k| k != "mine");
        assert_eq!(keys(&for_room), without_mine);
        assert_eq!(required, without_mine);
    }

    // The OpenAPI schema of `Message` is written beside its hand-written serializer
    // (`MessageShape`): this keeps the two from drifting apart silently. Every field is
    // always written (`null` when empty), so every field is required.
    #[test]
    fn message_schema_lists_what_is_serialised() {
        let message = full_message();
        let (properties, required) = schema_fields::<Message>();
        assert_eq!(properties, serialised_keys(&message));
        assert_eq!(required, properties);
        let empty = Message {
            user: None,
            reply_to: None,
            reply_preview: None,
            client_id: None,
            edited_at: None,
            ..message
        };
        assert_eq!(serialised_keys(&empty), properties);
    }

    #[test]
    fn reply_preview_schema_lists_what_is_serialised() {
        let preview = full_message().reply_preview.unwrap();
        let (properties, required) = schema_fields::<ReplyPreview>();
        assert_eq!(properties, serialised_keys(&preview));
        assert_eq!(required, properties);
    }

    #[test]
    fn reply_excerpt_is_cut_at_a_character_and_hidden_once_deleted() {
        let text = "é".repeat(REPLY_EXCERPT_CHARS + 5);
        let preview = ReplyPreview::new("m1".into(), None, SenderType::User, &text, false);
        assert_eq!(preview.message, Some("é".repeat(REPLY_EXCERPT_CHARS)));
        let short = ReplyPreview::new("m1".into(), None, SenderType::User, "hi", false);
        assert_eq!(short.message.as_deref(), Some("hi"));
        let deleted = ReplyPreview::new("m1".into(), None, SenderType::User, "secret", true);
        assert_eq!(deleted.message, None);
    }
}

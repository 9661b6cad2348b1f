//! Rows as the databases return them, and their conversion into domain types. Both
//! backends keep the same column names and types (text timestamps, JSON text for
//! attachments and the reactions summary), so one set of row types serves both.

use sqlx::FromRow;

use crate::domain::{
    Attachment, Message, MessageType, MessageUser, Order, OrderId, Participant, Reaction, ReplyPreview, SenderType,
    UserId,
};

/// The message columns in the order `MessageRow` reads them; a macro so that queries
/// can be built with `concat!` and stay `&'static str`.
macro_rules! message_columns {
    () => {
        concat!(
            "m.id, m.order_id, m.seq, m.user_id, m.user_name, m.user_role, m.body, m.message_type, \
         m.sender_type, m.attachments, m.reply_to, m.client_id, m.created_at, m.updated_at, \
         m.edited_at, m.deleted, m.reactions, ",
            $crate::store::rows::reply_preview_columns!()
        )
    };
}
pub(super) use message_columns;

/// The columns of the replied-to message `r` that `ReplyRow` reads.
macro_rules! reply_preview_columns {
    () => {
        "COALESCE(r.id, ra.id) AS reply_id, COALESCE(r.user_id, ra.user_id) AS reply_user_id, \
         COALESCE(r.user_name, ra.user_name) AS reply_user_name, \
         COALESCE(r.user_role, ra.user_role) AS reply_user_role, \
         COALESCE(r.sender_type, ra.sender_type) AS reply_sender_type, \
         substr(COALESCE(r.body, ra.body), 1, 140) AS reply_body, \
         COALESCE(r.deleted, ra.deleted) AS reply_deleted"
    };
}
pub(super) use reply_preview_columns;

/// `messages m` with the message each one replies to as `r`, which the reply columns
/// of `message_columns!()` read: the preview is joined on every read (a primary-key
/// lookup per reply), so it always shows the quoted message as it stands — edited,
/// or deleted and its text gone. `substr` counts characters on both databases and only
/// bounds what is read; `ReplyPreview::new` makes the excerpt.
macro_rules! messages_with_replies {
    () => {
        concat!("messages m", $crate::store::rows::reply_join!())
    };
}
pub(super) use messages_with_replies;

/// `archived_messages m` with the replied-to message, as `messages_with_replies!()`.
macro_rules! archived_with_replies {
    () => {
        concat!("archived_messages m", $crate::store::rows::reply_join!())
    };
}
pub(super) use archived_with_replies;

/// The join of `messages_with_replies!()`, for a query that reaches `m` another way.
/// A quoted message that was archived is found in the archive (`ra`, a primary-key
/// lookup made only when the hot lookup found nothing), so its preview still resolves.
macro_rules! reply_join {
    () => {
        " LEFT JOIN messages r ON r.id = m.reply_to \
          LEFT JOIN archived_messages ra ON r.id IS NULL AND ra.id = m.reply_to"
    };
}
pub(super) use reply_join;

#[derive(Debug, FromRow)]
pub(super) struct MessageRow {
    id: String,
    order_id: String,
    seq: i64,
    user_id: Option<String>,
    user_name: Option<String>,
    user_role: Option<String>,
    body: String,
    message_type: String,
    sender_type: String,
    attachments: String,
    reply_to: Option<String>,
    client_id: Option<String>,
    created_at: String,
    updated_at: String,
    edited_at: Option<String>,
    deleted: bool,
    reactions: String,
    #[sqlx(flatten)]
    reply: ReplyRow,
}

/// The reply columns of `message_columns!()`: all `NULL` for a message that replies to
/// nothing (or to a message that is gone).
#[derive(Debug, Default, FromRow)]
pub(super) struct ReplyRow {
    reply_id: Option<String>,
    reply_user_id: Option<String>,
    reply_user_name: Option<String>,
    reply_user_role: Option<String>,
    reply_sender_type: Option<String>,
    reply_body: Option<String>,
    reply_deleted: Option<bool>,
}

impl ReplyRow {
    fn into_preview(self) -> Option<Box<ReplyPreview>> {
        let id = self.reply_id?;
        let user = self.reply_user_id.map(|id| MessageUser {
            id: UserId::from_trusted(id),
            name: self.reply_user_name,
            role: self.reply_user_role.unwrap_or_default(),
        });
        let sender_type = SenderType::from_stored(self.reply_sender_type.as_deref().unwrap_or_default());
        let text = self.reply_body.unwrap_or_default();
        Some(Box::new(ReplyPreview::new(
            id,
            user,
            sender_type,
            &text,
            self.reply_deleted.unwrap_or(false),
        )))
    }
}

impl MessageRow {
    /// Reads a row selected with `message_columns!()` through rusqlite (the writer).
    pub(super) fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            order_id: row.get(1)?,
            seq: row.get(2)?,
            user_id: row.get(3)?,
            user_name: row.get(4)?,
            user_role: row.get(5)?,
            body: row.get(6)?,
            message_type: row.get(7)?,
            sender_type: row.get(8)?,
            attachments: row.get(9)?,
            reply_to: row.get(10)?,
            client_id: row.get(11)?,
            created_at: row.get(12)?,
            updated_at: row.get(13)?,
            edited_at: row.get(14)?,
            deleted: row.get(15)?,
            reactions: row.get(16)?,
            reply: ReplyRow {
                reply_id: row.get(17)?,
                reply_user_id: row.get(18)?,
                reply_user_name: row.get(19)?,
                reply_user_role: row.get(20)?,
                reply_sender_type: row.get(21)?,
                reply_body: row.get(22)?,
                reply_deleted: row.get(23)?,
            },
        })
    }
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        let user = row.user_id.map(|id| MessageUser {
            id: UserId::from_trusted(id),
            name: row.user_name,
            role: row.user_role.unwrap_or_default(),
        });
        Message {
            id: row.id,
            order_id: OrderId::from_trusted(row.order_id),
            seq: row.seq,
            user,
            message: row.body,
            message_type: MessageType::from_stored(&row.message_type),
            sender_type: SenderType::from_stored(&row.sender_type),
            attachments: attachments_from_json(&row.attachments),
            reply_to: row.reply_to,
            reply_preview: row.reply.into_preview(),
            client_id: row.client_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            edited_at: row.edited_at,
            deleted: row.deleted,
            reactions: reactions_from_json(&row.reactions),
        }
    }
}

/// One emoji of the `messages.reactions` summary as stored: the users who reacted with
/// it, in order; the count is theirs to count.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReactionJson {
    emoji: String,
    user_ids: Vec<String>,
}

/// The summary column for `reactions` (see the reactions migration).
pub(super) fn reactions_json(reactions: &[Reaction]) -> String {
    let stored: Vec<ReactionJson> = reactions
        .iter()
        .map(|r| ReactionJson {
            emoji: r.emoji.clone(),
            user_ids: r.user_ids.iter().map(|u| u.as_str().to_owned()).collect(),
        })
        .collect();
    // Strings only: serialising them cannot fail.
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

fn attachments_from_json(raw: &str) -> Vec<Attachment> {
    // Most messages have none: no parsing on that path of every read.
    if raw == "[]" {
        return Vec::new();
    }
    // Written by us as JSON; an unreadable value would be a bug, shown as none.
    serde_json::from_str(raw).unwrap_or_default()
}

fn reactions_from_json(raw: &str) -> Vec<Reaction> {
    // Most messages have none: no parsing on that path of every read.
    if raw == "[]" {
        return Vec::new();
    }
    // Written by us; an unreadable value would be a bug, shown as none.
    let stored: Vec<ReactionJson> = serde_json::from_str(raw).unwrap_or_default();
    stored
        .into_iter()
        .map(|r| Reaction {
            emoji: r.emoji,
            user_ids: r.user_ids.into_iter().map(UserId::from_trusted).collect(),
        })
        .collect()
}

#[derive(Debug, FromRow)]
pub(super) struct OrderRow {
    pub id: String,
    pub number: Option<String>,
    pub status: Option<String>,
    pub last_seq: i64,
    pub last_activity_at: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One row of the chat list: the order, its participants (as a JSON array built by
/// the database), its newest message if any, the viewer's unread count and the total number of
/// rows of the listing.
#[derive(Debug)]
pub(super) struct ChatRow {
    pub order: OrderRow,
    pub participants: String,
    pub last_message: Option<MessageRow>,
    pub unread: i64,
    pub total: i64,
}

/// The same reading for each backend's row type (the column names are shared).
macro_rules! chat_row_from {
    ($row:ty) => {
        impl<'r> FromRow<'r, $row> for ChatRow {
            fn from_row(row: &'r $row) -> sqlx::Result<Self> {
                use sqlx::Row;
                let last_message = match row.try_get::<Option<String>, _>("m_id")? {
                    Some(id) => Some(MessageRow {
                        id,
                        order_id: row.try_get("id")?,
                        seq: row.try_get("m_seq")?,
                        user_id: row.try_get("m_user_id")?,
                        user_name: row.try_get("m_user_name")?,
                        user_role: row.try_get("m_user_role")?,
                        body: row.try_get("m_body")?,
                        message_type: row.try_get("m_message_type")?,
                        sender_type: row.try_get("m_sender_type")?,
                        attachments: row.try_get("m_attachments")?,
                        reply_to: row.try_get("m_reply_to")?,
                        client_id: row.try_get("m_client_id")?,
                        created_at: row.try_get("m_created_at")?,
                        updated_at: row.try_get("m_updated_at")?,
                        edited_at: row.try_get("m_edited_at")?,
                        deleted: row.try_get("m_deleted")?,
                        reactions: row.try_get("m_reactions")?,
                        reply: ReplyRow::from_row(row)?,
                    }),
                    None => None,
                };
                Ok(Self {
                    order: OrderRow::from_row(row)?,
                    participants: row.try_get("participants")?,
                    last_message,
                    unread: row.try_get("unread")?,
                    total: row.try_get("total")?,
                })
            }
        }
    };
}
chat_row_from!(sqlx::sqlite::SqliteRow);
chat_row_from!(sqlx::postgres::PgRow);

/// A participant as the chat list's JSON array carries it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ParticipantJson {
    pub user_id: String,
    pub role: String,
    pub name: Option<String>,
}

impl From<ParticipantJson> for Participant {
    fn from(p: ParticipantJson) -> Self {
        Participant {
            user_id: UserId::from_trusted(p.user_id),
            role: p.role,
            name: p.name,
        }
    }
}

#[derive(Debug, FromRow)]
pub(super) struct ParticipantRow {
    pub user_id: String,
    pub role: String,
    pub name: Option<String>,
}

impl OrderRow {
    pub fn into_order(self, participants: Vec<Participant>) -> Order {
        Order {
            id: OrderId::from_trusted(self.id),
            number: self.number,
            status: self.status,
            participants,
            last_seq: self.last_seq,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl From<ParticipantRow> for Participant {
    fn from(row: ParticipantRow) -> Self {
        Participant {
            user_id: UserId::from_trusted(row.user_id),
            role: row.role,
            name: row.name,
        }
    }
}

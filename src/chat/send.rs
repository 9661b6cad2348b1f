//! Sending a message: the one path for user messages from HTTP and Socket.IO alike,
//! and for system messages about order changes; and publishing what was stored, in
//! commit order.

use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ChatService;
use crate::domain::{
    ClientId, Identity, MessageText, MessageType, MessageUser, NewMessage, Order, OrderId, ReplyPreview, Role,
    SenderType,
};
use crate::error::{Error, Result};
use crate::store::{Committed, Committing, Inserted, Reply};

/// The body of `POST /api/chat/messages` and of the `send-message` event, as sent.
/// Unknown fields (the old clients send `senderType`) are ignored: the server decides
/// who sent a message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    pub order_id: IdInput,
    /// Optional for a message with attachments (a photo without a caption).
    #[serde(default)]
    pub message: Option<String>,
    /// `text` by default; `system` only for the platform (role `service`).
    #[serde(default)]
    pub message_type: Option<MessageType>,
    /// Ids of uploaded attachments.
    #[serde(default)]
    pub attachments: Option<Vec<String>>,
    /// The id of a message of the same order this one replies to.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Makes a retried send idempotent: a second send with the same `clientId` by the
    /// same user in the same order returns the first message.
    #[serde(default)]
    pub client_id: Option<IdInput>,
}

/// Ids arrive as strings, and from some old clients as numbers.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IdInput {
    Text(String),
    Number(serde_json::Number),
}

/// `type: [string, number]` in the OpenAPI document.
impl utoipa::PartialSchema for IdInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
            .description(Some("A string, or from some old clients a number"))
            .into()
    }
}

impl utoipa::ToSchema for IdInput {}

impl IdInput {
    pub fn as_text(&self) -> String {
        match self {
            IdInput::Text(text) => text.clone(),
            IdInput::Number(number) => number.to_string(),
        }
    }
}

impl ChatService {
    /// Stores a message from `identity`; returns once it is durably committed. Everyone
    /// who should know hears of it from the commit feed (see `spawn_publisher`).
    pub async fn send_message(&self, identity: &Identity, input: SendMessage) -> Result<Inserted> {
        self.queue_message(identity, input).await?.await
    }

    /// Checks and queues a message from `identity`, and returns the future of its commit.
    /// Messages are stored in the order they are queued, so a caller that queues one
    /// message only after the previous one was queued keeps its sending order.
    pub async fn queue_message(&self, identity: &Identity, input: SendMessage) -> Result<Committing> {
        let new = self.prepare_message(identity, input).await?;
        // Resolves once the publisher has emitted the message's `new-message` (see
        // `spawn_publisher`): with several nodes it is then on its way to them too, so a
        // sender that has its answer can count on everyone hearing of the message.
        Ok(self.store.insert_message(new))
    }

    /// Queues a message checked by `prepare_message`, in call order (like
    /// `queue_message`); `reply` gets the outcome. A newly stored message is answered by
    /// the publisher right after it emitted the message's `new-message` (so on one
    /// Socket.IO connection the ack follows its own `new-message` in the same write, and
    /// with several nodes the message is already on its way to them); a duplicate or a
    /// refusal is answered at once, possibly on the store's writer thread.
    pub fn queue_prepared(&self, message: NewMessage, reply: Reply) {
        self.store.queue_message(message, reply)
    }

    /// Checks a message from `identity` (fields, rate, access, reply target) and builds
    /// what the store writes.
    pub async fn prepare_message(&self, identity: &Identity, input: SendMessage) -> Result<NewMessage> {
        let order_id = OrderId::parse(&input.order_id.as_text())?;
        let attachment_ids = input.attachments.unwrap_or_default();
        // A file message may go without a caption; any other needs its text.
        let text = match (&input.message, attachment_ids.is_empty()) {
            (Some(text), true) => MessageText::parse(text, self.max_message_length)?,
            (None, true) => {
                return Err(Error::invalid_field(
                    "message",
                    "missing field (only a message with attachments may go without text)",
                ));
            }
            (text, false) => MessageText::parse_caption(text.as_deref().unwrap_or_default(), self.max_message_length)?,
        };
        let client_id = input.client_id.map(|c| ClientId::parse(&c.as_text())).transpose()?;
        let message_type = input.message_type.unwrap_or(if attachment_ids.is_empty() {
            MessageType::Text
        } else {
            MessageType::File
        });
        if message_type == MessageType::File && attachment_ids.is_empty() {
            return Err(Error::invalid_field(
                "attachments",
                "a file message needs at least one attachment (upload it with POST /api/chat/attachments)",
            ));
        }
        let system = message_type == MessageType::System;
        if system && identity.role != Role::Service {
            return Err(Error::Forbidden("only the platform service may post system messages"));
        }
        self.rate_limits.check_message(&identity.user_id)?;

        let order = self.visible_order(identity, &order_id).await?;
        // The platform may still post system messages to a closed order.
        if !system {
            self.check_writable(&order)?;
        }
        // The quoted message is read here anyway, to check it: its preview goes to the
        // writer with the reply, so storing and publishing it costs no further read.
        let reply_to = match &input.reply_to {
            Some(reply_to) => match self.store.message(reply_to).await? {
                Some(quoted) if quoted.order_id == order_id => Some(Box::new(ReplyPreview::of(&quoted))),
                Some(_) => return Err(Error::invalid_field("replyTo", "no such message in this order")),
                // Archived messages are read-only: no new reply attaches to one.
                None if self
                    .store
                    .archived_message(reply_to)
                    .await?
                    .is_some_and(|q| q.order_id == order_id) =>
                {
                    return Err(Error::MessageArchived);
                }
                None => {
                    return Err(Error::invalid_field("replyTo", "no such message in this order"));
                }
            },
            None => None,
        };
        let attachments = self
            .attachments_for_message(identity, &order_id, &attachment_ids, client_id.is_some())
            .await?;

        let (author, sender_type) = if system {
            (None, SenderType::System)
        } else {
            let author = MessageUser {
                id: identity.user_id.clone(),
                name: display_name(identity, &order),
                role: identity.role_name.clone(),
            };
            (Some(author), SenderType::of(identity))
        };
        Ok(NewMessage {
            order_id,
            author,
            text,
            message_type,
            sender_type,
            reply_to,
            client_id,
            attachments,
        })
    }

    /// Stores a system message (order status change …) in an order's chat.
    pub(super) async fn post_system_message(&self, order: &Order, text: String) -> Result<Inserted> {
        let new = NewMessage {
            order_id: order.id.clone(),
            author: None,
            text: MessageText::system(text),
            message_type: MessageType::System,
            sender_type: SenderType::System,
            reply_to: None,
            client_id: None,
            attachments: Vec::new(),
        };
        self.store.insert_message(new).await
    }

    /// Publishes every committed message, in commit order (so each order's messages go
    /// out in `seq` order), answers its sender, and hands it to the coalesced pushes
    /// (unread counts, notifications). Runs until the store closes its commit feed.
    pub fn spawn_publisher(&self, mut committed: mpsc::Receiver<Committed>) -> JoinHandle<()> {
        tokio::spawn(self.clone().run_pushes());
        let chat = self.clone();
        tokio::spawn(async move {
            while let Some(committed) = committed.recv().await {
                let message = committed.message.clone();
                metrics::counter!("orderchat_messages_stored_total").increment(1);
                chat.directory.advance(&message.order_id, message.seq);
                // On one node the sender is answered right after the emit, before any
                // other task runs: a Socket.IO ack joins the sender's `new-message` in
                // its connection's next write. With several nodes, once Redis took the
                // message: the publisher does not wait for that.
                chat.broadcaster
                    .new_message(&message, Box::new(move || committed.answer()))
                    .await;
                chat.pushes.committed(message);
            }
        })
    }
}

/// The name shown with a message: the token's `name`, else the name the platform gave
/// the participant.
fn display_name(identity: &Identity, order: &Order) -> Option<String> {
    identity.name.clone().or_else(|| {
        order
            .participants
            .iter()
            .find(|p| p.user_id == identity.user_id)
            .and_then(|p| p.name.clone())
    })
}

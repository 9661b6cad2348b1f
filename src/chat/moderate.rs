//! Changing messages after the fact: edits by their author, deletion by their author or
//! by staff. A deleted message stays as a tombstone so `seq` keeps no gaps.

use super::{ChatService, Event};
use crate::access;
use crate::domain::{Identity, Message, MessageText, Order};
use crate::error::{Error, Result};

impl ChatService {
    /// The message and its order, if the caller may see them.
    pub(super) async fn visible_message(&self, identity: &Identity, id: &str) -> Result<(Message, Order)> {
        let message = match self.store.message(id).await? {
            Some(message) => message,
            None => return Err(self.missing_message(identity, id).await),
        };
        let order = self
            .visible_order(identity, &message.order_id)
            .await
            .map_err(|err| match err {
                Error::OrderNotFound => Error::MessageNotFound,
                other => other,
            })?;
        Ok((message, order))
    }

    /// Why message `id` is not among the hot messages: `MessageArchived` when it is an
    /// archived message the caller may see (archived messages are read-only),
    /// `MessageNotFound` otherwise. Only read on that refusal path.
    pub(super) async fn missing_message(&self, identity: &Identity, id: &str) -> Error {
        match self.store.archived_message(id).await {
            Ok(Some(archived)) => match self.visible_order(identity, &archived.order_id).await {
                Ok(_) => Error::MessageArchived,
                Err(Error::OrderNotFound) => Error::MessageNotFound,
                Err(other) => other,
            },
            Ok(None) => Error::MessageNotFound,
            Err(err) => err,
        }
    }

    pub async fn delete_message(&self, identity: &Identity, id: &str) -> Result<Message> {
        let (message, order) = self.visible_message(identity, id).await?;
        if !access::may_moderate(identity, message.author()) {
            return Err(Error::Forbidden("only the author or staff may delete this message"));
        }
        if message.deleted {
            return Ok(message);
        }
        let tombstone = self.store.delete_message(id).await?;
        // The tombstone is committed: its files go now (nobody can download them any
        // more, and a crash before this leaves them to no one but the disk).
        if !message.attachments.is_empty() {
            self.delete_files_of(id).await;
        }
        self.broadcaster.publish(Event::MessageDeleted(tombstone.clone())).await;
        // A deleted message no longer counts as unread.
        self.push_unread_counts(&order.id, tombstone.author()).await;
        Ok(tombstone)
    }

    pub async fn edit_message(&self, identity: &Identity, id: &str, text: &str) -> Result<Message> {
        let text = MessageText::parse(text, self.max_message_length)?;
        let (message, order) = self.visible_message(identity, id).await?;
        if message.author() != Some(&identity.user_id) {
            return Err(Error::Forbidden("only the author may edit this message"));
        }
        self.check_writable(&order)?;
        let edited = self.store.edit_message(id, &text).await?;
        self.broadcaster.publish(Event::MessageUpdated(edited.clone())).await;
        Ok(edited)
    }
}

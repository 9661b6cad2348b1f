//! Reactions: a user who may see a message adds or removes an emoji on it, one reaction
//! per user per emoji. Both are idempotent (the same reaction again, or removing one
//! that is not there, answers with the message and announces nothing). A change goes to
//! the room as `message-updated`, on the same path as an edit, so it keeps its order
//! with the message's other changes on every node.
//!
//! Reactions spend the sender's message budget (`RateLimits::check_message`): each is a
//! database write and an event to the whole room, like a message, and a budget of
//! their own would let a client double what it may make everyone receive.

use super::{ChatService, Event};
use crate::domain::{Emoji, Identity, Message};
use crate::error::{Error, Result};

impl ChatService {
    /// Adds `identity`'s reaction `emoji` to message `id`; returns the message.
    pub async fn add_reaction(&self, identity: &Identity, id: &str, emoji: &str) -> Result<Message> {
        let emoji = self.check_reaction(identity, id, emoji).await?;
        let (message, changed) = self.store.add_reaction(id, &identity.user_id, &emoji).await?;
        Ok(self.announce_reactions(message, changed).await)
    }

    /// Removes `identity`'s reaction `emoji` from message `id`; returns the message.
    pub async fn remove_reaction(&self, identity: &Identity, id: &str, emoji: &str) -> Result<Message> {
        let emoji = self.check_reaction(identity, id, emoji).await?;
        let (message, changed) = self.store.remove_reaction(id, &identity.user_id, &emoji).await?;
        Ok(self.announce_reactions(message, changed).await)
    }

    /// The emoji, once the caller may change reactions on message `id`: a valid emoji,
    /// within the rate limit, a message they may see (`MessageNotFound` otherwise, as
    /// for every message route) and not a tombstone. The store checks the tombstone
    /// again inside its transaction, against a deletion in between.
    async fn check_reaction(&self, identity: &Identity, id: &str, emoji: &str) -> Result<Emoji> {
        let emoji = Emoji::parse(emoji)?;
        self.rate_limits.check_message(&identity.user_id)?;
        let (message, order) = self.visible_message(identity, id).await?;
        if message.deleted {
            return Err(Error::MessageDeleted);
        }
        self.check_writable(&order)?;
        Ok(emoji)
    }

    async fn announce_reactions(&self, message: Message, changed: bool) -> Message {
        if changed {
            self.broadcaster.publish(Event::MessageUpdated(message.clone())).await;
        }
        message
    }
}

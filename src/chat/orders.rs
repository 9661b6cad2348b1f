//! Orders as the platform registers them (role `service`), and the caller's list of
//! order chats.

use serde::Deserialize;
use serde_json::json;

use super::send::IdInput;
use super::{ChatService, Event};
use crate::access;
use crate::domain::{Identity, Order, OrderId, Participant, UserId};
use crate::error::{Error, Result};
use crate::store::{ChatSummary, OrderChanges, OrderRecord, Page};

const MAX_PARTICIPANTS: usize = 100;
const MAX_TEXT: usize = 200;

/// Body of `PUT /api/orders/:orderId`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PutOrder {
    #[serde(default)]
    pub number: Option<IdInput>,
    #[serde(default)]
    pub status: Option<String>,
    pub participants: Vec<ParticipantInput>,
}

/// Body of `PATCH /api/orders/:orderId`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderUpdate {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub participants: Option<Vec<ParticipantInput>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInput {
    pub user_id: IdInput,
    pub role: String,
    #[serde(default)]
    pub name: Option<String>,
}

fn parse_participants(input: Vec<ParticipantInput>) -> Result<Vec<Participant>> {
    if input.len() > MAX_PARTICIPANTS {
        return Err(Error::invalid_field(
            "participants",
            format!("at most {MAX_PARTICIPANTS} participants"),
        ));
    }
    let mut participants: Vec<Participant> = Vec::with_capacity(input.len());
    for p in input {
        let user_id = UserId::parse(&p.user_id.as_text())?;
        let role = short_text("participants.role", &p.role)?;
        let name = p
            .name
            .as_deref()
            .map(|n| short_text("participants.name", n))
            .transpose()?;
        // A user listed twice keeps the last entry.
        participants.retain(|existing| existing.user_id != user_id);
        participants.push(Participant { user_id, role, name });
    }
    Ok(participants)
}

fn short_text(field: &'static str, raw: &str) -> Result<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    if text.chars().count() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_TEXT} printable characters"),
        ));
    }
    Ok(text.to_owned())
}

fn require_service(identity: &Identity) -> Result<()> {
    if access::may_manage_orders(identity) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only the platform service (role `service`) may manage orders",
        ))
    }
}

impl ChatService {
    /// Creates or replaces an order. Returns the order and whether it was created.
    pub async fn put_order(&self, identity: &Identity, id: &OrderId, input: PutOrder) -> Result<(Order, bool)> {
        require_service(identity)?;
        let record = OrderRecord {
            id: id.clone(),
            number: input.number.map(|n| short_text("number", &n.as_text())).transpose()?,
            status: input.status.as_deref().map(|s| short_text("status", s)).transpose()?,
            participants: parse_participants(input.participants)?,
        };
        let _exclusive = self.membership.changing(id).await;
        let before = self.store.order(id).await?;
        let (order, created) = self.store.upsert_order(record).await?;
        self.announce_membership(before.as_ref(), &order).await;
        Ok((order, created))
    }

    /// Applies a change; a status change posts a system message and `order-updated`.
    pub async fn update_order(&self, identity: &Identity, id: &OrderId, input: OrderUpdate) -> Result<Order> {
        require_service(identity)?;
        let status = input.status.as_deref().map(|s| short_text("status", s)).transpose()?;
        let note = match input.note.as_deref().map(str::trim) {
            Some(note) if note.chars().count() > 1000 || note.chars().any(|c| c.is_control() && c != '\n') => {
                return Err(Error::invalid_field("note", "must be at most 1000 characters of text"));
            }
            Some("") | None => None,
            Some(note) => Some(note.to_owned()),
        };
        let participants = input.participants.map(parse_participants).transpose()?;
        let membership_changes = participants.is_some();
        let exclusive = self.membership.changing(id).await;
        let before = self.store.order(id).await?.ok_or(Error::OrderNotFound)?;
        let changes = OrderChanges {
            status: status.clone(),
            participants,
        };
        let after = self
            .store
            .update_order(id, changes)
            .await?
            .ok_or(Error::OrderNotFound)?;
        // A status change matters to membership too: whether the order is over decides
        // where its participants' presence is announced.
        if membership_changes || after.status != before.status {
            self.announce_membership(Some(&before), &after).await;
        } else {
            self.directory.remember(&after);
        }
        drop(exclusive);

        let status_changed = status.is_some() && status != before.status;
        if status_changed || note.is_some() {
            let mut text = match &after.status {
                Some(status) if status_changed => format!("Order status changed to {status}"),
                _ => "Order updated".to_owned(),
            };
            if let Some(note) = &note {
                text = format!("{text}\n{note}");
            }
            self.post_system_message(&after, text).await?;
            let update = json!({ "status": after.status, "previousStatus": before.status, "note": note });
            self.broadcaster
                .publish(Event::OrderUpdated {
                    order_id: id.clone(),
                    update,
                })
                .await;
        }
        Ok(after)
    }

    /// The order for service, staff and participants.
    pub async fn get_order(&self, identity: &Identity, id: &OrderId) -> Result<Order> {
        self.visible_order(identity, id).await
    }

    /// The caller's order chats, most recent activity first.
    pub async fn order_chats(
        &self,
        identity: &Identity,
        page: Option<i64>,
        limit: Option<i64>,
    ) -> Result<(Page<ChatSummary>, i64, i64)> {
        let page = super::history::parse_page(page)?;
        let limit = super::history::parse_limit(limit)?;
        let chats = self
            .store
            .order_chats(&access::scope_of(identity), &identity.user_id, page, limit)
            .await?;
        Ok((chats, page, limit))
    }
}

//! Reading an order's history: page by page from the newest, or by `seq` cursors.

use super::ChatService;
use crate::domain::{Identity, Message, OrderId, Seq};
use crate::error::{Error, Result};
use crate::store::{HistoryWindow, Page};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A validated history request.
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery(pub HistoryWindow);

impl HistoryQuery {
    /// Parses `page`, `limit`, `before`, `after` as they come from a query string.
    pub fn parse(page: Option<i64>, limit: Option<i64>, before: Option<Seq>, after: Option<Seq>) -> Result<Self> {
        let limit = parse_limit(limit)?;
        let window = match (page, before, after) {
            (_, Some(_), Some(_)) => {
                return Err(Error::InvalidQuery("use either before or after, not both".into()));
            }
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(Error::InvalidQuery(
                    "use either page or a cursor (before/after), not both".into(),
                ));
            }
            (_, Some(seq), None) if seq < 1 => {
                return Err(Error::InvalidQuery("before must be at least 1".into()));
            }
            (_, None, Some(seq)) if seq < 0 => {
                return Err(Error::InvalidQuery("after must not be negative".into()));
            }
            (_, Some(seq), None) => HistoryWindow::Before { seq, limit },
            (_, None, Some(seq)) => HistoryWindow::After { seq, limit },
            (page, None, None) => HistoryWindow::Page {
                page: parse_page(page)?,
                limit,
            },
        };
        Ok(Self(window))
    }
}

/// `limit` between 1 and `MAX_LIMIT`, `DEFAULT_LIMIT` when absent.
pub fn parse_limit(limit: Option<i64>) -> Result<i64> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(l) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
        Some(_) => Err(Error::InvalidQuery(format!("limit must be between 1 and {MAX_LIMIT}"))),
    }
}

/// `page` from 1, 1 when absent.
pub fn parse_page(page: Option<i64>) -> Result<i64> {
    match page {
        None => Ok(1),
        Some(p) if (1..=1_000_000).contains(&p) => Ok(p),
        Some(_) => Err(Error::InvalidQuery("page must be a positive number".into())),
    }
}

/// A validated `GET /api/chat/messages/:messageId/replies` request: the replies above
/// seq `after` (0: from the first), at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct RepliesQuery {
    pub after: Seq,
    pub limit: i64,
}

impl RepliesQuery {
    /// Parses `after` and `limit` as they come from a query string.
    pub fn parse(after: Option<Seq>, limit: Option<i64>) -> Result<Self> {
        let limit = parse_limit(limit)?;
        match after {
            Some(seq) if seq < 0 => Err(Error::InvalidQuery("after must not be negative".into())),
            after => Ok(Self {
                after: after.unwrap_or(0),
                limit,
            }),
        }
    }
}

impl ChatService {
    /// The replies to a message the caller may see, in `seq` order (an unknown message,
    /// or one of an order the caller may not see, is `MessageNotFound`).
    pub async fn replies(&self, identity: &Identity, message_id: &str, query: RepliesQuery) -> Result<Page<Message>> {
        // An archived message's replies can still be read (those not archived).
        let quoted = match self.visible_message(identity, message_id).await {
            Ok((quoted, _)) => quoted.id,
            Err(Error::MessageArchived) => message_id.to_owned(),
            Err(err) => return Err(err),
        };
        self.store.replies(&quoted, query.after, query.limit).await
    }

    /// History of the hot messages only: archived messages are left out (and so is
    /// the Socket.IO catch-up, which reads through `committed_after`).
    pub async fn history(&self, identity: &Identity, order_id: &OrderId, query: HistoryQuery) -> Result<Page<Message>> {
        self.visible_order(identity, order_id).await?;
        self.store.history(order_id, query.0).await
    }

    /// `history` over hot and archived messages together (`includeArchived=true`), in
    /// one seq order, with the same windows and totals as a chat never archived.
    pub async fn history_including_archive(
        &self,
        identity: &Identity,
        order_id: &OrderId,
        query: HistoryQuery,
    ) -> Result<Page<Message>> {
        self.visible_order(identity, order_id).await?;
        self.store.history_with_archive(order_id, query.0).await
    }

    /// Where the order's delivery line starts when a join is the first of its room on
    /// this node (the join's catch-up ends there; every later seq reaches the line): on
    /// one node, the last seq this node's publisher handed on, from the cache; with
    /// several nodes, the last committed seq, from the store.
    pub async fn committed_last_seq(&self, order_id: &OrderId) -> Result<Seq> {
        // One node: every commit passes this node's publisher, which advances the cached
        // order before it delivers, so the cache knows without a database read.
        if self.peers.is_none()
            && let Some(seq) = self.directory.last_published(order_id)
        {
            return Ok(seq);
        }
        let order = self.store.order(order_id).await?.ok_or(Error::OrderNotFound)?;
        Ok(order.last_seq)
    }

    /// The last committed seq of each of `orders` (at most a few hundred per call), in
    /// one read: how a node that was cut off from the others finds what it missed.
    pub async fn committed_last_seqs(&self, orders: &[OrderId]) -> Result<Vec<(OrderId, Seq)>> {
        self.store.last_seqs(orders).await
    }

    /// Up to `limit` stored messages of an order just above `seq`, for the realtime layer
    /// to deliver those that did not reach this node in time. No access check: they go
    /// to the order's room, whose members were checked when they joined.
    pub async fn committed_after(&self, order_id: &OrderId, seq: Seq, limit: i64) -> Result<Vec<Message>> {
        let page = self
            .store
            .history(order_id, HistoryWindow::After { seq, limit })
            .await?;
        Ok(page.items)
    }
}

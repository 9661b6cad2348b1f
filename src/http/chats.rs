//! `/api/chat/orders…` and `/api/chat/search`: reading an order's chat — history,
//! read state, participants, statistics, search — and the caller's list of chats.
//! (The export, a file download, is in `export.rs`.)

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, patch};
use serde::Deserialize;
use serde_json::json;

use super::extract::{ApiQuery, AuthUser};
use super::response::ApiResponse;
use crate::chat::{HistoryQuery, SearchQuery};
use crate::domain::{ForViewer, Message, OrderId, Seq, UserId};
use crate::error::{Error, Result};
use crate::input;
use crate::state::AppState;
use crate::store::{HistoryWindow, Page};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/chat/orders", get(order_chats))
        .route("/api/chat/orders/{order_id}/messages", get(history))
        .route("/api/chat/orders/{order_id}/messages/search", get(search_order))
        .route("/api/chat/orders/{order_id}/read", patch(mark_read))
        .route("/api/chat/orders/{order_id}/unread-count", get(unread_count))
        .route("/api/chat/orders/{order_id}/participants", get(participants))
        .route("/api/chat/orders/{order_id}/stats", get(stats))
        .route("/api/chat/search", get(search_all))
}

#[derive(Deserialize)]
struct PageParams {
    page: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/chat/orders` — the caller's order chats with last message and unread count.
async fn order_chats(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiResponse> {
    let (chats, page, limit) = state.chat.order_chats(&identity, params.page, params.limit).await?;
    let items = chats
        .items
        .into_iter()
        .map(|c| {
            json!({
                "orderId": c.order.id,
                "order": c.order,
                "lastMessage": c.last_message.as_ref().map(|m| m.for_viewer(&identity.user_id)),
                "unreadCount": c.unread_count,
                "lastActivityAt": c.last_activity_at,
            })
        })
        .collect();
    Ok(ApiResponse::page(
        Page {
            items,
            total: chats.total,
        },
        page,
        limit,
    ))
}

#[derive(Deserialize)]
struct HistoryParams {
    page: Option<i64>,
    limit: Option<i64>,
    before: Option<Seq>,
    after: Option<Seq>,
}

/// `GET /api/chat/orders/:orderId/messages` — history by page (page 1 = newest) or by
/// `before`/`after` seq cursors; chronological inside.
async fn history(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    let query = HistoryQuery::parse(params.page, params.limit, params.before, params.after)?;
    let page = state.chat.history(&identity, &order_id, query).await?;
    let first = page.items.first().map(|m| m.seq);
    let last = page.items.last().map(|m| m.seq);
    let page = viewed(&page, &identity.user_id);
    Ok(match query.0 {
        HistoryWindow::Page { page: number, limit } => ApiResponse::page(page, number, limit),
        HistoryWindow::Before { limit, .. } => ApiResponse::cursor(page.items, page.total > limit, first),
        HistoryWindow::After { limit, .. } => ApiResponse::cursor(page.items, page.total > limit, last),
    })
}

#[derive(Deserialize)]
struct ReadBody {
    seq: Option<Seq>,
}

/// `PATCH /api/chat/orders/:orderId/read` — moves the caller's read pointer (default:
/// to the latest message).
async fn mark_read(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    // The body is optional (old clients send none), so it is parsed by hand.
    let seq = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let value = serde_json::from_slice(&body)
            .map_err(|err| Error::InvalidJson(format!("body is not valid JSON: {err}")))?;
        input::from_json_object::<ReadBody>(value)?.seq
    };
    let (seq, unread) = state.chat.mark_read(&identity, &order_id, seq, None).await?;
    Ok(ApiResponse::ok(json!({ "orderId": order_id, "seq": seq, "unreadCount": unread })).message("Marked as read"))
}

/// `GET /api/chat/orders/:orderId/unread-count`
async fn unread_count(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    let unread = state.chat.unread_count(&identity, &order_id).await?;
    Ok(ApiResponse::ok(json!({ "orderId": order_id, "unreadCount": unread })))
}

/// `GET /api/chat/orders/:orderId/participants` — with online status and read pointers.
async fn participants(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    Ok(ApiResponse::ok(state.chat.participants(&identity, &order_id).await?))
}

/// `GET /api/chat/orders/:orderId/stats` — message counts by sender, the caller's unread
/// count, attachments, participants, first and last activity, median staff first response.
async fn stats(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    Ok(ApiResponse::ok(state.chat.stats(&identity, &order_id).await?))
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    page: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/chat/orders/:orderId/messages/search?q=` — ranked full-text search in one order.
async fn search_order(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    let query = SearchQuery::parse(params.q.as_deref(), params.page, params.limit)?;
    let page = state.chat.search_order(&identity, &order_id, &query).await?;
    Ok(ApiResponse::page(
        viewed(&page, &identity.user_id),
        query.page(),
        query.limit(),
    ))
}

/// `GET /api/chat/search?q=` — ranked full-text search across the caller's orders.
async fn search_all(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<ApiResponse> {
    let query = SearchQuery::parse(params.q.as_deref(), params.page, params.limit)?;
    let page = state.chat.search_all(&identity, &query).await?;
    Ok(ApiResponse::page(
        viewed(&page, &identity.user_id),
        query.page(),
        query.limit(),
    ))
}

/// A page of messages as `viewer` reads them (`mine` in their reactions).
fn viewed<'a>(page: &'a Page<Message>, viewer: &'a UserId) -> Page<ForViewer<'a>> {
    Page {
        items: page.items.iter().map(|m| m.for_viewer(viewer)).collect(),
        total: page.total,
    }
}

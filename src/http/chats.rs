//! `/api/chat/orders…` and `/api/chat/search`: reading an order's chat — history,
//! read state, participants, statistics, search — and the caller's list of chats.
//! (The export, a file download, is in `export.rs`.)

use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, AuthUser};
use super::openapi::{
    BadRequest, Internal, NotFound, Paged, PagedOrCursored, PayloadTooLarge, RequestTimeout, Success, Unauthenticated,
    Unavailable,
};
use super::response::ApiResponse;
use crate::chat::{HistoryQuery, OrderStats, ParticipantStatus, SearchQuery};
use crate::domain::{ForViewer, Message, Order, OrderId, Seq, UserId};
use crate::error::{Error, Result};
use crate::input;
use crate::state::AppState;
use crate::store::{HistoryWindow, Page};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(order_chats))
        .routes(routes!(history))
        .routes(routes!(search_order))
        .routes(routes!(mark_read))
        .routes(routes!(unread_count))
        .routes(routes!(participants))
        .routes(routes!(mute, unmute))
        .routes(routes!(stats))
        .routes(routes!(search_all))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// 1 is the first page.
    page: Option<i64>,
    /// Items per page.
    limit: Option<i64>,
}

/// One of the caller's order chats.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrderChat<'a> {
    order_id: OrderId,
    order: Order,
    /// `null` in a chat without messages; its reactions say `mine` for the caller.
    #[schema(required, value_type = Option<Message>)]
    last_message: Option<ForViewer<'a>>,
    /// The caller's unread count in this order.
    unread_count: i64,
    #[schema(format = DateTime)]
    last_activity_at: String,
}

/// `GET /api/chat/orders` — the caller's order chats with last message and unread count.
#[utoipa::path(
    get,
    path = "/api/chat/orders",
    tag = "chats",
    params(PageParams),
    responses(
        (status = 200, description = "The caller's order chats, latest activity first", body = Paged<OrderChat>),
        BadRequest, Unauthenticated, Internal, Unavailable,
    )
)]
async fn order_chats(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiResponse> {
    let (chats, page, limit) = state.chat.order_chats(&identity, params.page, params.limit).await?;
    let items = chats
        .items
        .iter()
        .map(|c| OrderChat {
            order_id: c.order.id.clone(),
            order: c.order.clone(),
            last_message: c.last_message.as_ref().map(|m| m.for_viewer(&identity.user_id)),
            unread_count: c.unread_count,
            last_activity_at: c.last_activity_at.clone(),
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryParams {
    /// Page number, 1 = the newest messages (not with `before`/`after`).
    page: Option<i64>,
    /// Messages per page.
    limit: Option<i64>,
    /// Cursor: the messages just before this seq.
    #[param(value_type = Option<i64>)]
    before: Option<Seq>,
    /// Cursor: the messages just after this seq.
    #[param(value_type = Option<i64>)]
    after: Option<Seq>,
    /// `true`: archived messages too, in one seq order with the others (same windows
    /// and totals as if nothing were archived). Default `false`: archived messages are
    /// left out. Any other value is refused (`400`).
    #[serde(rename = "includeArchived")]
    include_archived: Option<bool>,
}

/// The order id in the path of `/api/chat/orders/{order_id}/…`.
const ORDER_ID: &str = "The platform's order id";

/// `GET /api/chat/orders/:orderId/messages` — history by page (page 1 = newest) or by
/// `before`/`after` seq cursors; chronological inside; archived messages only with
/// `includeArchived=true`.
#[utoipa::path(
    get,
    path = "/api/chat/orders/{order_id}/messages",
    tag = "chats",
    params(("order_id" = String, Path, description = ORDER_ID), HistoryParams),
    responses(
        (status = 200, description = "Messages in seq order: `meta` has page numbers, or `hasMore`/`nextCursor` with `before`/`after`", body = PagedOrCursored<Message>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
async fn history(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    let query = HistoryQuery::parse(params.page, params.limit, params.before, params.after)?;
    let page = if params.include_archived.unwrap_or(false) {
        state
            .chat
            .history_including_archive(&identity, &order_id, query)
            .await?
    } else {
        state.chat.history(&identity, &order_id, query).await?
    };
    let first = page.items.first().map(|m| m.seq);
    let last = page.items.last().map(|m| m.seq);
    let page = viewed(&page, &identity.user_id);
    Ok(match query.0 {
        HistoryWindow::Page { page: number, limit } => ApiResponse::page(page, number, limit),
        HistoryWindow::Before { limit, .. } => ApiResponse::cursor(page.items, page.total > limit, first),
        HistoryWindow::After { limit, .. } => ApiResponse::cursor(page.items, page.total > limit, last),
    })
}

/// Where to move the read pointer.
#[derive(Deserialize, utoipa::ToSchema)]
struct ReadBody {
    /// Default: the latest message.
    #[schema(value_type = Option<i64>)]
    seq: Option<Seq>,
}

/// The caller's read state in one order.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadState {
    order_id: OrderId,
    /// Where the read pointer stands now (it never moves back).
    #[schema(value_type = i64)]
    seq: Seq,
    unread_count: i64,
}

/// `PATCH /api/chat/orders/:orderId/read` — moves the caller's read pointer (default:
/// to the latest message).
#[utoipa::path(
    patch,
    path = "/api/chat/orders/{order_id}/read",
    tag = "chats",
    params(("order_id" = String, Path, description = ORDER_ID)),
    request_body(content = Option<ReadBody>, description = "Optional: no body moves the pointer to the latest message"),
    responses(
        (status = 200, description = "The read pointer moved; `message-read` and `unread-count` are emitted", body = Success<ReadState>),
        BadRequest, Unauthenticated, NotFound, RequestTimeout, PayloadTooLarge, Internal, Unavailable,
    )
)]
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
    let state = ReadState {
        order_id,
        seq,
        unread_count: unread,
    };
    Ok(ApiResponse::ok(state).message("Marked as read"))
}

/// The caller's unread count in one order.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UnreadCount {
    order_id: OrderId,
    unread_count: i64,
}

/// `GET /api/chat/orders/:orderId/unread-count`
#[utoipa::path(
    get,
    path = "/api/chat/orders/{order_id}/unread-count",
    tag = "chats",
    params(("order_id" = String, Path, description = ORDER_ID)),
    responses(
        (status = 200, description = "Messages above the caller's read pointer, not the caller's own, not deleted", body = Success<UnreadCount>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
async fn unread_count(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    let unread = state.chat.unread_count(&identity, &order_id).await?;
    Ok(ApiResponse::ok(UnreadCount {
        order_id,
        unread_count: unread,
    }))
}

/// `GET /api/chat/orders/:orderId/participants` — with online status and read pointers.
#[utoipa::path(
    get,
    path = "/api/chat/orders/{order_id}/participants",
    tag = "chats",
    params(("order_id" = String, Path, description = ORDER_ID)),
    responses(
        (status = 200, description = "The order's participants", body = Success<Vec<ParticipantStatus>>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
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
#[utoipa::path(
    get,
    path = "/api/chat/orders/{order_id}/stats",
    tag = "chats",
    params(("order_id" = String, Path, description = ORDER_ID)),
    responses(
        (status = 200, description = "The order chat's statistics", body = Success<OrderStats>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
async fn stats(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    Ok(ApiResponse::ok(state.chat.stats(&identity, &order_id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// The words to find (required); the last one also matches as a prefix.
    q: Option<String>,
    /// 1 is the best-ranked page.
    page: Option<i64>,
    /// Results per page.
    limit: Option<i64>,
}

/// `GET /api/chat/orders/:orderId/messages/search?q=` — ranked full-text search in one order.
#[utoipa::path(
    get,
    path = "/api/chat/orders/{order_id}/messages/search",
    tag = "chats",
    params(("order_id" = String, Path, description = ORDER_ID), SearchParams),
    responses(
        (status = 200, description = "Matching messages, best first", body = Paged<Message>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
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
#[utoipa::path(
    get,
    path = "/api/chat/search",
    tag = "chats",
    params(SearchParams),
    responses(
        (status = 200, description = "Matching messages in every order the caller may see, best first", body = Paged<Message>),
        BadRequest, Unauthenticated, Internal, Unavailable,
    )
)]
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

/// Whether the caller muted an order's notifications.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MuteState {
    order_id: OrderId,
    muted: bool,
}

/// `PUT /api/chat/orders/:orderId/mute` — the caller gets no notification about this
/// order any more (messages and unread counts still arrive).
#[utoipa::path(
    put,
    path = "/api/chat/orders/{order_id}/mute",
    tag = "chats",
    params(("order_id" = String, Path, description = ORDER_ID)),
    responses(
        (status = 200, description = "Muted (also when it already was)", body = Success<MuteState>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
async fn mute(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    set_muted(state, identity, order_id, true).await
}

/// `DELETE /api/chat/orders/:orderId/mute` — notifications about this order again.
#[utoipa::path(
    delete,
    path = "/api/chat/orders/{order_id}/mute",
    tag = "chats",
    params(("order_id" = String, Path, description = ORDER_ID)),
    responses(
        (status = 200, description = "Unmuted (also when it was not muted)", body = Success<MuteState>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
async fn unmute(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    set_muted(state, identity, order_id, false).await
}

async fn set_muted(
    state: AppState,
    identity: crate::domain::Identity,
    order_id: String,
    muted: bool,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    state.chat.set_muted(&identity, &order_id, muted).await?;
    let message = if muted { "Order muted" } else { "Order unmuted" };
    Ok(ApiResponse::ok(MuteState { order_id, muted }).message(message))
}

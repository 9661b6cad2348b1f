//! `/api/chat/notifications`: the caller's stored notifications, newest first by an
//! opaque cursor, and marking them read.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiQuery, AuthUser};
use super::openapi::{
    BadRequest, Internal, PayloadTooLarge, RequestTimeout, Success, TokenCursored, Unauthenticated, Unavailable,
    UnsupportedMediaType,
};
use super::response::ApiResponse;
use crate::chat::{NotificationQuery, read_selection};
use crate::error::Result;
use crate::state::AppState;
use crate::store::StoredNotification;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_notifications_read))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// `meta.nextCursor` of the previous page: the notifications below it.
    cursor: Option<String>,
    /// Notifications per page, 1 to 100 (default 20).
    #[param(value_type = Option<i64>)]
    limit: Option<String>,
    /// `true`: unread ones only.
    #[param(value_type = Option<bool>)]
    unread: Option<String>,
}

/// One stored notification.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NotificationItem {
    id: String,
    /// `new-message` (coalesced: `count` messages, the latest in `messageId`/`seq`),
    /// `order-status` or `mention`.
    #[serde(rename = "type")]
    kind: String,
    order_id: String,
    title: String,
    /// A preview of the message.
    message: String,
    #[schema(required)]
    message_id: Option<String>,
    #[schema(required)]
    seq: Option<i64>,
    count: i64,
    read: bool,
    #[schema(required)]
    read_at: Option<String>,
    created_at: String,
    /// Moves with every message coalesced into a `new-message` notification.
    updated_at: String,
    /// Where this notification stands in the list: as `cursor`, the page below it;
    /// as `before` of a read marking, it and everything older.
    cursor: String,
}

impl From<StoredNotification> for NotificationItem {
    fn from(stored: StoredNotification) -> Self {
        Self {
            id: stored.id,
            kind: stored.kind,
            order_id: stored.order_id,
            title: stored.title,
            message: stored.message,
            message_id: stored.message_id,
            seq: stored.seq,
            count: stored.count,
            read: stored.read_at.is_some(),
            read_at: stored.read_at,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            cursor: stored.position.to_string(),
        }
    }
}

/// `GET /api/chat/notifications` — the caller's notifications, most recently updated
/// first (`?unread=true`: unread ones only), by cursor.
#[utoipa::path(
    get,
    path = "/api/chat/notifications",
    tag = "notifications",
    params(ListParams),
    responses(
        (status = 200, description = "Newest first; `meta.nextCursor` is the next page's `cursor`", body = TokenCursored<NotificationItem>),
        BadRequest, Unauthenticated, Internal, Unavailable,
    )
)]
async fn list_notifications(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiResponse> {
    let query = NotificationQuery::parse(
        params.cursor.as_deref(),
        params.limit.as_deref(),
        params.unread.as_deref(),
    )?;
    let page = state.chat.notifications(&identity, query).await?;
    let next = page.items.last().map(|n| n.position.to_string());
    let items: Vec<NotificationItem> = page.items.into_iter().map(NotificationItem::from).collect();
    Ok(ApiResponse::token_cursor(items, page.has_more, next))
}

/// Which notifications to mark read: exactly one of the two.
#[derive(Deserialize, utoipa::ToSchema)]
struct ReadNotificationsBody {
    /// Ids of the caller's notifications (at most 500); others' and unknown ids are
    /// ignored.
    ids: Option<Vec<String>>,
    /// A `cursor` (a notification's, or `meta.nextCursor`): that notification and every
    /// older one of the caller's.
    before: Option<String>,
}

/// How many notifications the marking changed.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadNotifications {
    /// Notifications that were unread and are read now.
    updated: u64,
}

/// `PATCH /api/chat/notifications/read` — marks the caller's notifications read, by
/// `ids` or everything at or below the cursor `before`.
#[utoipa::path(
    patch,
    path = "/api/chat/notifications/read",
    tag = "notifications",
    request_body = ReadNotificationsBody,
    responses(
        (status = 200, description = "Marked; `updated` says how many were unread", body = Success<ReadNotifications>),
        BadRequest, Unauthenticated, RequestTimeout, PayloadTooLarge, UnsupportedMediaType, Internal, Unavailable,
    )
)]
async fn mark_notifications_read(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    ApiJson(body): ApiJson<ReadNotificationsBody>,
) -> Result<ApiResponse> {
    let which = read_selection(body.ids, body.before)?;
    let updated = state.chat.mark_notifications_read(&identity, &which).await?;
    Ok(ApiResponse::ok(ReadNotifications { updated }).message("Marked as read"))
}

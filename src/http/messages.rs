//! `/api/chat/messages`: sending, editing and deleting messages, reactions, and the
//! replies to one. Messages in responses carry `mine` in their reactions, for the caller.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiQuery, AuthUser};
use super::openapi::{
    BadRequest, Conflict, Cursored, Forbidden, Internal, NotFound, PayloadTooLarge, RateLimited, RequestTimeout,
    Success, Unauthenticated, Unavailable, UnsupportedMediaType,
};
use super::response::ApiResponse;
use crate::chat::{RepliesQuery, SendMessage};
use crate::domain::{Message, Seq};
use crate::error::Result;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(edit_message, delete_message))
        .routes(routes!(replies))
        .routes(routes!(add_reaction, remove_reaction))
}

/// `POST /api/chat/messages` — stores a message; 201 once it is durably committed, or
/// 200 with the earlier message when its `clientId` was already used.
#[utoipa::path(
    post,
    path = "/api/chat/messages",
    tag = "messages",
    request_body = SendMessage,
    responses(
        (status = 201, description = "Stored (durably committed) and sent to the order's room", body = Success<Message>),
        (status = 200, description = "This `clientId` was already used by the caller in this order: the message stored then", body = Success<Message>),
        BadRequest, Unauthenticated, Forbidden, NotFound, RequestTimeout, Conflict, PayloadTooLarge,
        UnsupportedMediaType, RateLimited, Internal, Unavailable,
    )
)]
async fn send_message(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    ApiJson(body): ApiJson<SendMessage>,
) -> Result<ApiResponse> {
    let inserted = state.chat.send_message(&identity, body).await?;
    let message = inserted.message.for_viewer(&identity.user_id);
    Ok(if inserted.duplicate {
        ApiResponse::ok(message).message("duplicate clientId: returning the message already stored")
    } else {
        ApiResponse::created(message).message("Message sent")
    })
}

/// The new text of a message.
#[derive(Deserialize, utoipa::ToSchema)]
struct EditBody {
    message: String,
}

/// `PATCH /api/chat/messages/:messageId` — the author edits the text.
#[utoipa::path(
    patch,
    path = "/api/chat/messages/{message_id}",
    tag = "messages",
    params(("message_id" = String, Path, description = "The message's `id`")),
    request_body = EditBody,
    responses(
        (status = 200, description = "The edited message (`editedAt` set); `message-updated` is emitted", body = Success<Message>),
        BadRequest, Unauthenticated, Forbidden, NotFound, RequestTimeout, Conflict, PayloadTooLarge, UnsupportedMediaType, Internal, Unavailable,
    )
)]
async fn edit_message(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(message_id): Path<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<ApiResponse> {
    let message = state.chat.edit_message(&identity, &message_id, &body.message).await?;
    Ok(ApiResponse::ok(message.for_viewer(&identity.user_id)).message("Message updated"))
}

/// `DELETE /api/chat/messages/:messageId` — the author (or staff) leaves a tombstone.
#[utoipa::path(
    delete,
    path = "/api/chat/messages/{message_id}",
    tag = "messages",
    params(("message_id" = String, Path, description = "The message's `id`")),
    responses(
        (status = 200, description = "The tombstone (`deleted: true`, no text); `message-deleted` is emitted", body = Success<Message>),
        BadRequest, Unauthenticated, Forbidden, NotFound, Conflict, Internal, Unavailable,
    )
)]
async fn delete_message(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(message_id): Path<String>,
) -> Result<ApiResponse> {
    let tombstone = state.chat.delete_message(&identity, &message_id).await?;
    Ok(ApiResponse::ok(tombstone.for_viewer(&identity.user_id)).message("Message deleted"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RepliesParams {
    /// Only replies with a seq above this one.
    #[param(value_type = Option<i64>)]
    after: Option<Seq>,
    /// Replies per page.
    limit: Option<i64>,
}

/// `GET /api/chat/messages/:messageId/replies` — the messages that reply to it, in seq
/// order, by `after` seq cursor; 404 for a message the caller may not see.
#[utoipa::path(
    get,
    path = "/api/chat/messages/{message_id}/replies",
    tag = "messages",
    params(("message_id" = String, Path, description = "The quoted message's `id`"), RepliesParams),
    responses(
        (status = 200, description = "The replies, in seq order; `meta.nextCursor` is the next `after`", body = Cursored<Message>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
async fn replies(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(message_id): Path<String>,
    ApiQuery(params): ApiQuery<RepliesParams>,
) -> Result<ApiResponse> {
    let query = RepliesQuery::parse(params.after, params.limit)?;
    let page = state.chat.replies(&identity, &message_id, query).await?;
    let has_more = page.total > query.limit;
    let next = page.items.last().map(|m| m.seq);
    let items = page.items.iter().map(|m| m.for_viewer(&identity.user_id)).collect();
    Ok(ApiResponse::cursor(items, has_more, next))
}

/// `PUT /api/chat/messages/:messageId/reactions/:emoji` — the caller reacts with the
/// emoji (URL-encoded in the path); 200 with the message, also when the reaction was
/// already there. 400 `invalid_emoji`, 404 for a message the caller may not see, 409
/// `message_deleted` or `too_many_reactions`.
#[utoipa::path(
    put,
    path = "/api/chat/messages/{message_id}/reactions/{emoji}",
    tag = "messages",
    params(
        ("message_id" = String, Path, description = "The message's `id`"),
        ("emoji" = String, Path, description = "The emoji, URL-encoded (`%F0%9F%91%8D` for 👍)"),
    ),
    responses(
        (status = 200, description = "The message with its reactions (`mine` for the caller); also when the caller had already reacted so", body = Success<Message>),
        BadRequest, Unauthenticated, NotFound, Conflict, RateLimited, Internal, Unavailable,
    )
)]
async fn add_reaction(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path((message_id, emoji)): Path<(String, String)>,
) -> Result<ApiResponse> {
    let message = state.chat.add_reaction(&identity, &message_id, &emoji).await?;
    Ok(ApiResponse::ok(message.for_viewer(&identity.user_id)).message("Reaction added"))
}

/// `DELETE /api/chat/messages/:messageId/reactions/:emoji` — the caller withdraws
/// their reaction; 200 with the message, also when there was none.
#[utoipa::path(
    delete,
    path = "/api/chat/messages/{message_id}/reactions/{emoji}",
    tag = "messages",
    params(
        ("message_id" = String, Path, description = "The message's `id`"),
        ("emoji" = String, Path, description = "The emoji, URL-encoded"),
    ),
    responses(
        (status = 200, description = "The message with its reactions (`mine` for the caller); also when the caller had no such reaction", body = Success<Message>),
        BadRequest, Unauthenticated, NotFound, Conflict, RateLimited, Internal, Unavailable,
    )
)]
async fn remove_reaction(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path((message_id, emoji)): Path<(String, String)>,
) -> Result<ApiResponse> {
    let message = state.chat.remove_reaction(&identity, &message_id, &emoji).await?;
    Ok(ApiResponse::ok(message.for_viewer(&identity.user_id)).message("Reaction removed"))
}

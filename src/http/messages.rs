//! `/api/chat/messages`: sending, editing and deleting messages, reactions, and the
//! replies to one. Messages in responses carry `mine` in their reactions, for the caller.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, patch, post, put};
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery, AuthUser};
use super::response::ApiResponse;
use crate::chat::{RepliesQuery, SendMessage};
use crate::domain::Seq;
use crate::error::Result;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/chat/messages", post(send_message))
        .route(
            "/api/chat/messages/{message_id}",
            patch(edit_message).delete(delete_message),
        )
        .route("/api/chat/messages/{message_id}/replies", get(replies))
        .route(
            "/api/chat/messages/{message_id}/reactions/{emoji}",
            put(add_reaction).delete(remove_reaction),
        )
}

/// `POST /api/chat/messages` — stores a message; 201 once it is durably committed, or
/// 200 with the earlier message when its `clientId` was already used.
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

#[derive(Deserialize)]
struct EditBody {
    message: String,
}

/// `PATCH /api/chat/messages/:messageId` — the author edits the text.
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
async fn delete_message(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(message_id): Path<String>,
) -> Result<ApiResponse> {
    let tombstone = state.chat.delete_message(&identity, &message_id).await?;
    Ok(ApiResponse::ok(tombstone.for_viewer(&identity.user_id)).message("Message deleted"))
}

#[derive(Deserialize)]
struct RepliesParams {
    after: Option<Seq>,
    limit: Option<i64>,
}

/// `GET /api/chat/messages/:messageId/replies` — the messages that reply to it, in seq
/// order, by `after` seq cursor; 404 for a message the caller may not see.
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
async fn remove_reaction(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path((message_id, emoji)): Path<(String, String)>,
) -> Result<ApiResponse> {
    let message = state.chat.remove_reaction(&identity, &message_id, &emoji).await?;
    Ok(ApiResponse::ok(message.for_viewer(&identity.user_id)).message("Reaction removed"))
}

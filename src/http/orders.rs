//! `/api/orders/:orderId`: the platform (role `service`) registers orders and their
//! participants, and reports status changes.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::put;

use super::extract::{ApiJson, AuthUser};
use super::response::ApiResponse;
use crate::chat::{OrderUpdate, PutOrder};
use crate::domain::OrderId;
use crate::error::Result;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/orders/{order_id}",
        put(put_order).patch(update_order).get(get_order),
    )
}

/// `PUT /api/orders/:orderId` — create or replace an order; idempotent.
async fn put_order(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
    ApiJson(body): ApiJson<PutOrder>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    let (order, created) = state.chat.put_order(&identity, &order_id, body).await?;
    Ok(if created {
        ApiResponse::created(order).message("Order created")
    } else {
        ApiResponse::ok(order).message("Order replaced")
    })
}

/// `PATCH /api/orders/:orderId` — status, note or participants; a status change posts a
/// system message and emits `order-updated`.
async fn update_order(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
    ApiJson(body): ApiJson<OrderUpdate>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    Ok(ApiResponse::ok(state.chat.update_order(&identity, &order_id, body).await?).message("Order updated"))
}

/// `GET /api/orders/:orderId` — the order with its participants.
async fn get_order(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    Ok(ApiResponse::ok(state.chat.get_order(&identity, &order_id).await?))
}

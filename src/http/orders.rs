//! `/api/orders/:orderId`: the platform (role `service`) registers orders and their
//! participants, and reports status changes.

use axum::extract::{Path, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, AuthUser};
use super::openapi::{
    BadRequest, Forbidden, Internal, NotFound, PayloadTooLarge, RequestTimeout, Success, Unauthenticated, Unavailable,
    UnsupportedMediaType,
};
use super::response::ApiResponse;
use crate::chat::{OrderUpdate, PutOrder};
use crate::domain::{Order, OrderId};
use crate::error::Result;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_order, update_order, get_order))
}

/// `PUT /api/orders/:orderId` — create or replace an order; idempotent.
#[utoipa::path(
    put,
    path = "/api/orders/{order_id}",
    tag = "orders",
    params(("order_id" = String, Path, description = "The platform's order id")),
    request_body = PutOrder,
    responses(
        (status = 201, description = "Created", body = Success<Order>),
        (status = 200, description = "Replaced; removed participants leave the order's room at once", body = Success<Order>),
        BadRequest, Unauthenticated, Forbidden, RequestTimeout, PayloadTooLarge, UnsupportedMediaType, Internal, Unavailable,
    )
)]
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
#[utoipa::path(
    patch,
    path = "/api/orders/{order_id}",
    tag = "orders",
    params(("order_id" = String, Path, description = "The platform's order id")),
    request_body = OrderUpdate,
    responses(
        (status = 200, description = "The updated order", body = Success<Order>),
        BadRequest, Unauthenticated, Forbidden, NotFound, RequestTimeout, PayloadTooLarge, UnsupportedMediaType,
        Internal, Unavailable,
    )
)]
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
#[utoipa::path(
    get,
    path = "/api/orders/{order_id}",
    tag = "orders",
    params(("order_id" = String, Path, description = "The platform's order id")),
    responses(
        (status = 200, description = "The order", body = Success<Order>),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
async fn get_order(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
) -> Result<ApiResponse> {
    let order_id = OrderId::parse(&order_id)?;
    Ok(ApiResponse::ok(state.chat.get_order(&identity, &order_id).await?))
}

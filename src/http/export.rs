//! `/api/chat/orders/:orderId/export`: an order's whole chat as a file download, its
//! body streamed as the use case produces it (see `chat::export`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, AuthUser};
use super::openapi::{BadRequest, Internal, NotFound, Unauthenticated, Unavailable};
use crate::chat::ExportFormat;
use crate::domain::{Message, Order, OrderId};
use crate::error::{Error, Result};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportParams {
    /// `json` (the default) or `csv`, in any case.
    format: Option<String>,
}

// The JSON file `chat::export` writes, for the OpenAPI document only (never built).
/// An exported chat (`format=json`): the order and every message, tombstones included.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct ExportFile {
    order_id: OrderId,
    order: Order,
    #[schema(format = DateTime)]
    exported_at: String,
    messages: Vec<Message>,
}

/// `GET /api/chat/orders/:orderId/export?format=json|csv` — the whole chat as a file
/// (`Content-Disposition: attachment`). Refusals come before the first byte, as JSON;
/// a failure while streaming aborts the response, so a cut file never looks complete.
#[utoipa::path(
    get,
    path = "/api/chat/orders/{order_id}/export",
    tag = "chats",
    params(("order_id" = String, Path, description = "The platform's order id"), ExportParams),
    responses(
        (status = 200, description = "The whole chat as a file download (`Content-Disposition: attachment`): JSON, or CSV with a header row then one row per message (RFC 4180)",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"order-<id>.<json|csv>\"`")),
            content(
                (ExportFile = "application/json"),
                (String = "text/csv"),
            )),
        BadRequest, Unauthenticated, NotFound, Internal, Unavailable,
    )
)]
async fn export(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(order_id): Path<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response> {
    let order_id = OrderId::parse(&order_id)?;
    let format = ExportFormat::parse(params.format.as_deref())?;
    let export = state.chat.export(&identity, &order_id, format).await?;
    // The file name holds only `[A-Za-z0-9._-]`, so this cannot fail; if it ever did,
    // the error says so instead of a panic.
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", export.file_name)).map_err(Error::internal)?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(format.content_type())),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, Body::from_stream(export.body)).into_response())
}

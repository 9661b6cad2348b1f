//! `/api/chat/orders/:orderId/export`: an order's whole chat as a file download, its
//! body streamed as the use case produces it (see `chat::export`).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::extract::{ApiQuery, AuthUser};
use crate::chat::ExportFormat;
use crate::domain::OrderId;
use crate::error::{Error, Result};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/chat/orders/{order_id}/export", get(export))
}

#[derive(Deserialize)]
struct ExportParams {
    format: Option<String>,
}

/// `GET /api/chat/orders/:orderId/export?format=json|csv` — the whole chat as a file
/// (`Content-Disposition: attachment`). Refusals come before the first byte, as JSON;
/// a failure while streaming aborts the response, so a cut file never looks complete.
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

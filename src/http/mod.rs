//! The HTTP API (SPEC §4): axum handlers, one file per resource, each a thin
//! translation from a request to a `ChatService` call and back. The layers here apply
//! to every route: body limit, CORS, tracing, request metrics, JSON 404s.

mod chats;
mod extract;
mod health;
mod messages;
mod orders;
mod response;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::app::AppState;
use crate::error::Error;

pub use response::ApiResponse;

/// Every HTTP route, with the per-request layers.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(health::routes())
        .merge(messages::routes())
        .merge(chats::routes())
        .merge(orders::routes())
        .fallback(|| async { Error::NotFound })
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(middleware::from_fn(track_request))
}

/// Request count and latency by route template (never by raw path, so label
/// cardinality stays bounded).
async fn track_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed: Duration = started.elapsed();
    metrics::histogram!("orderchat_http_request_duration_seconds", "method" => method.clone(), "route" => route.clone(), "status" => status.clone())
        .record(elapsed.as_secs_f64());
    metrics::counter!("orderchat_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

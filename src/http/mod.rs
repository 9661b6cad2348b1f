//! The HTTP API (SPEC §4): axum handlers, one file per resource, each a thin
//! translation from a request to a `ChatService` call and back. The layers here apply
//! to every route: body limit, request metrics, shutdown tracking, and JSON bodies for
//! every refusal (including the router's own 404/405 and extractor rejections).

mod attachments;
mod chats;
mod console;
mod export;
mod extract;
mod health;
mod messages;
mod notifications;
mod openapi;
mod orders;
mod response;
mod serve;

use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use tower_http::timeout::{DeadlineBody, TimeoutBody};

use crate::error::Error;
use crate::shutdown::Shutdown;
use crate::state::AppState;

pub use response::ApiResponse;
pub use serve::HttpServer;

/// Every HTTP route, with the per-request layers.
pub fn router(state: &AppState) -> Router<AppState> {
    let (router, document) = routes(attachments::upload_body_limit(state)).split_for_parts();
    router
        .merge(console::routes(&state.config.console_dir))
        .layer(Extension(openapi::Document::new(&document)))
        .fallback(|| async { Error::NotFound })
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(middleware::from_fn(json_refusals))
        .layer(middleware::from_fn_with_state(state.shutdown.clone(), in_flight))
        .layer(middleware::from_fn(track_request))
}

/// Every route, each with its entry in the OpenAPI document (`openapi.rs`): a handler
/// is registered with `routes!`, so it cannot be served without being documented.
/// `upload_body_limit` bounds the body of `POST /api/chat/attachments`.
fn routes(upload_body_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::routes())
        .merge(messages::routes())
        .merge(attachments::routes(upload_body_limit))
        .merge(chats::routes())
        .merge(export::routes())
        .merge(orders::routes())
        .merge(notifications::routes())
        .merge(openapi::routes())
}

/// The OpenAPI document of every route, as `GET /api/openapi.json` serves it.
pub fn openapi_document() -> serde_json::Value {
    // Body limits do not show in the document.
    openapi::to_json(&routes(usize::MAX).into_openapi())
}

/// How long a request body may take to arrive: the ordinary body timeout for every
/// request (HTTP API and Socket.IO long-polling), and a longer deadline for file
/// uploads, whose bodies may still not stall for longer than the ordinary timeout.
#[derive(Clone, Copy)]
pub struct BodyDeadlines {
    body: Duration,
    upload: Duration,
}

impl BodyDeadlines {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            body: config.limits.http_body_timeout(),
            upload: Duration::from_secs(config.attachments.attachment_body_timeout_secs.max(1)),
        }
    }
}

/// Puts the request body under its deadline (see `BodyDeadlines`); a body that misses
/// it fails to read with `tower_http`'s `TimeoutError`, which the extractors answer
/// with `408`.
pub async fn body_deadline(State(deadlines): State<BodyDeadlines>, request: Request, next: Next) -> Response {
    let upload = request.method() == axum::http::Method::POST && request.uri().path() == "/api/chat/attachments";
    let request = if upload {
        request.map(|body| {
            axum::body::Body::new(TimeoutBody::new(
                deadlines.body,
                DeadlineBody::new(deadlines.upload, body),
            ))
        })
    } else {
        request.map(|body| axum::body::Body::new(DeadlineBody::new(deadlines.body, body)))
    };
    next.run(request).await
}

/// Counts the request as in flight, so shutdown waits for its answer; once the
/// database is about to close, refuses it with `503 unavailable` instead.
async fn in_flight(State(shutdown): State<Shutdown>, request: Request, next: Next) -> Response {
    let _in_flight = shutdown.in_flight();
    if shutdown.is_closing() {
        return Error::Unavailable("the server is shutting down").into_response();
    }
    next.run(request).await
}

/// Gives the refusals that axum makes before a handler runs (`405` with `Allow`, an
/// unparsable path segment …) the same JSON error body as ours. Responses that
/// already carry JSON pass untouched.
async fn json_refusals(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("request refused").to_owned(),
        text => text.chars().take(300).collect(),
    };
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal_error",
        _ => "invalid_request",
    };
    let mut refused = Error::Refused {
        status: status.as_u16(),
        code,
        message,
    }
    .into_response();
    // Keep what the refusal said in its headers (`Allow` on a 405, for one).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            refused.headers_mut().append(name.clone(), value.clone());
        }
    }
    refused
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

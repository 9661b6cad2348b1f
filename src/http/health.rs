//! Operational endpoints: liveness, readiness and Prometheus metrics. They carry no
//! token: they say nothing about orders or users.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::Unavailable;
use super::response::ErrorBody;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The process is up.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Liveness {
    /// Always `ok`.
    status: &'static str,
}

/// Whether this node can serve.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Readiness {
    /// `ready`, `degraded` (Redis down: the node still serves its own connections) or
    /// `unavailable` (the database does not answer).
    status: &'static str,
    /// `ok` or `error`.
    database: &'static str,
    /// `ok` or `error`; only with several nodes (`ORDERCHAT_REDIS_URL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    redis: Option<&'static str>,
}

// The two bodies a 503 may have, for the OpenAPI document only (never built).
/// Readiness with `status: unavailable`, or the error body while shutting down.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum NotReady {
    Readiness(Readiness),
    Refused(ErrorBody),
}

/// `GET /healthz` — the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The process is up", body = Liveness), Unavailable)
)]
async fn healthz() -> impl IntoResponse {
    axum::Json(Liveness { status: "ok" })
}

/// `GET /readyz` — the database answers (503 if not) and, with several nodes, whether
/// Redis does. Redis being down does not make a node unready: it keeps serving its own
/// connections, and a load balancer must not take every node out at once; the body
/// says `"redis": "error"` and `"status": "degraded"` instead.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready (or degraded: Redis is down, the node still serves)", body = Readiness),
        (status = 503, description = "The database does not answer, or the server is shutting down (then with the error body)",
            body = NotReady),
    )
)]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.chat.ping().await;
    let redis = match &state.cluster {
        None => None,
        Some(cluster) => Some(match cluster.ping().await {
            Ok(()) if !cluster.health().is_degraded() => "ok",
            Ok(()) => "error",
            Err(err) => {
                tracing::warn!(error = %err, "readiness: Redis does not answer");
                "error"
            }
        }),
    };
    let (code, mut body) = match database {
        Ok(()) => (
            StatusCode::OK,
            Readiness {
                status: "ready",
                database: "ok",
                redis: None,
            },
        ),
        Err(err) => {
            tracing::warn!(error = ?err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Readiness {
                    status: "unavailable",
                    database: "error",
                    redis: None,
                },
            )
        }
    };
    if let Some(redis) = redis {
        body.redis = Some(redis);
        if redis != "ok" && code == StatusCode::OK {
            body.status = "degraded";
        }
    }
    (code, axum::Json(body))
}

/// `GET /metrics` — Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        Unavailable,
    )
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.realtime.record_room_gauges().await;
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

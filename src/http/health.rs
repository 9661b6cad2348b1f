//! Operational endpoints: liveness, readiness and Prometheus metrics. They carry no
//! token: they say nothing about orders or users.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// `GET /healthz` — the process is up.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// `GET /readyz` — the database answers (503 if not) and, with several nodes, whether
/// Redis does. Redis being down does not make a node unready: it keeps serving its own
/// connections, and a load balancer must not take every node out at once; the body
/// says `"redis": "error"` and `"status": "degraded"` instead.
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
        Ok(()) => (StatusCode::OK, json!({ "status": "ready", "database": "ok" })),
        Err(err) => {
            tracing::warn!(error = ?err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "unavailable", "database": "error" }),
            )
        }
    };
    if let Some(redis) = redis {
        body["redis"] = json!(redis);
        if redis != "ok" && code == StatusCode::OK {
            body["status"] = json!("degraded");
        }
    }
    (code, axum::Json(body))
}

/// `GET /metrics` — Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.realtime.record_room_gauges().await;
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

//! A restart on the same data directory keeps everything; health endpoints answer.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_restart_keeps_orders_messages_and_read_pointers() {
    let mut app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    app.send(&ana, "o1", "before restart").await;
    app.send(&ana, "o1", "second").await;
    app.call(
        Method::PATCH,
        "/api/chat/orders/o1/read",
        Some(&dan),
        Some(json!({ "seq": 1 })),
    )
    .await;
    let dir = app.keep_data().expect("temp dir");
    app.stop().await;

    let app = spawn_in(dir.path().to_path_buf(), &[]).await;
    let (status, order) = app.get("/api/orders/o1", &dan).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["data"]["participants"].as_array().unwrap().len(), 2);
    let (_, history) = app.get("/api/chat/orders/o1/messages", &dan).await;
    assert_eq!(history["data"][0]["message"], "before restart");
    let (_, unread) = app.get("/api/chat/orders/o1/unread-count", &dan).await;
    assert_eq!(unread["data"]["unreadCount"], 1);
    // Numbering continues where it stopped.
    assert_eq!(app.send(&ana, "o1", "after restart").await["seq"], 3);
    app.stop().await;
}

/// The metrics recorder is process-wide and every test in this binary shares it, so
/// this only checks that `/metrics` is served with our metric names and route labels;
/// exact counts are asserted end to end (e2e/tests/observability.test.mjs), where each
/// server is its own process.
#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    app.send(&token("ana", "customer"), "o1", "count me").await;
    let healthz = app.client.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(healthz.status(), StatusCode::OK);
    let readyz = app.client.get(format!("{}/readyz", app.url)).send().await.unwrap();
    assert_eq!(readyz.status(), StatusCode::OK);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "orderchat_messages_stored_total",
        "orderchat_http_request_duration_seconds",
        "orderchat_connections",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    assert!(
        metrics.contains("route=\"/api/chat/messages\""),
        "routes are labelled by template"
    );
}

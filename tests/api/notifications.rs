//! Notification expiry: a notification older than `--notification-retention-days` is
//! deleted by the background job (which runs at start, then periodically), a recent one
//! stays, and `/metrics` counts the deletion.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn notifications(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = app.get("/api/chat/notifications", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().cloned().unwrap_or_default()
}

async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

fn expired_total(metrics: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("orderchat_notifications_expired_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn notifications_past_the_retention_are_deleted_by_the_background_job() {
    let mut app = spawn_app_with(&["--notification-retention-days", "7"]).await;
    app.create_order("old", &[("ana", "customer"), ("dan", "driver")]).await;
    app.create_order("new", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    app.send(&ana, "old", "a week ago").await;
    app.send(&ana, "new", "just now").await;
    until("dan has two notifications", || async {
        notifications(&app, &dan).await.len() == 2
    })
    .await;
    // Eight days old: past the retention (the store writes the clock's time).
    app.execute_sql(
        "UPDATE notifications SET updated_at = '2000-01-01T00:00:00.000Z', created_at = '2000-01-01T00:00:00.000Z' \
         WHERE order_id = 'old'",
    )
    .await;
    let (_, _, before) = app.get_text("/metrics", "").await;
    let dir = app.keep_data().expect("temp dir");
    app.stop().await;

    // The job runs once at start.
    let app = spawn_in(dir.path().to_path_buf(), &["--notification-retention-days", "7"]).await;
    until("the old notification is gone", || async {
        notifications(&app, &dan).await.len() == 1
    })
    .await;
    let left = notifications(&app, &dan).await;
    assert_eq!(left[0]["orderId"], "new");
    let (_, _, after) = app.get_text("/metrics", "").await;
    assert!(
        expired_total(&after) >= expired_total(&before) + 1.0,
        "expired: {} then {}",
        expired_total(&before),
        expired_total(&after)
    );
    app.stop().await;
}

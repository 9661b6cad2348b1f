//! A closed order's chat is read-only (`ORDERCHAT_ARCHIVE_CLOSED_STATUSES`): sending,
//! editing and reacting answer 409 `order_closed`; reading, read pointers, deleting and
//! the platform's system messages stay open; a new status reopens it.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn set_status(app: &TestApp, order: &str, status: &str) {
    let (code, body) = app
        .call(
            Method::PATCH,
            &format!("/api/orders/{order}"),
            Some(&token("platform", "service")),
            Some(json!({ "status": status })),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

async fn post(app: &TestApp, token: &str, order: &str, text: &str) -> (StatusCode, serde_json::Value) {
    app.call(
        Method::POST,
        "/api/chat/messages",
        Some(token),
        Some(json!({ "orderId": order, "message": text })),
    )
    .await
}

#[tokio::test]
async fn a_closed_order_refuses_changes_until_it_is_reopened() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    let before = app.send(&ana, "o1", "where is my parcel?").await;
    let id = before["id"].as_str().unwrap().to_owned();

    set_status(&app, "o1", "Completed").await;
    let refused = post(&app, &dan, "o1", "one more thing").await;
    assert_error(&refused, StatusCode::CONFLICT, "order_closed");
    let reason = refused.1["message"].as_str().unwrap();
    assert!(reason.contains("Completed") && reason.contains("read-only"), "{reason}");
    let edit = app
        .call(
            Method::PATCH,
            &format!("/api/chat/messages/{id}"),
            Some(&ana),
            Some(json!({ "message": "edited" })),
        )
        .await;
    assert_error(&edit, StatusCode::CONFLICT, "order_closed");
    let react = app
        .call(
            Method::PUT,
            &format!("/api/chat/messages/{id}/reactions/%F0%9F%91%8D"),
            Some(&dan),
            None,
        )
        .await;
    assert_error(&react, StatusCode::CONFLICT, "order_closed");

    // Nothing was stored by the refusals: the chat holds the message and the status
    // change's system message, unedited.
    let (_, history) = app.get("/api/chat/orders/o1/messages", &ana).await;
    assert_eq!(history["meta"]["totalItems"], 2, "{history}");
    assert_eq!(history["data"][0]["message"], "where is my parcel?");
    assert_eq!(history["data"][0]["reactions"], json!([]));

    // Reading and moving the read pointer stay open; so does the platform.
    let (status, read) = app
        .call(Method::PATCH, "/api/chat/orders/o1/read", Some(&dan), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let (status, system) = app
        .call(
            Method::POST,
            "/api/chat/messages",
            Some(&token("platform", "service")),
            Some(json!({ "orderId": "o1", "message": "Refund issued", "messageType": "system" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{system}");
    // Moderation too: the author may still delete.
    let (status, deleted) = app
        .call(Method::DELETE, &format!("/api/chat/messages/{id}"), Some(&ana), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");

    // The platform reopens the order: the chat is writable again.
    set_status(&app, "o1", "reopened").await;
    let (status, sent) = post(&app, &dan, "o1", "back on it").await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
}

#[tokio::test]
async fn delivered_is_not_closed_by_default_and_the_statuses_are_configurable() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    set_status(&app, "o1", "delivered").await;
    let (status, body) = post(&app, &token("ana", "customer"), "o1", "thanks!").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.stop().await;

    let app = spawn_app_with(&["--archive-closed-statuses", "delivered,done"]).await;
    app.create_order("o1", &[("ana", "customer")]).await;
    set_status(&app, "o1", "DONE").await;
    let refused = post(&app, &token("ana", "customer"), "o1", "hello?").await;
    assert_error(&refused, StatusCode::CONFLICT, "order_closed");
    set_status(&app, "o1", "completed").await;
    let (status, body) = post(&app, &token("ana", "customer"), "o1", "hello?").await;
    assert_eq!(status, StatusCode::CREATED, "completed is not in this list: {body}");
}

//! Deleting leaves a tombstone; only authors edit; staff moderate.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn authors_and_staff_delete_others_cannot() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    let first = app.send(&ana, "o1", "first").await;
    let second = app.send(&ana, "o1", "second").await;
    let app = &app;
    let delete = |id: &str, token: &str| {
        let path = format!("/api/chat/messages/{id}");
        let token = token.to_owned();
        async move { app.call(Method::DELETE, &path, Some(&token), None).await }
    };

    assert_error(
        &delete(first["id"].as_str().unwrap(), &dan).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, body) = delete(first["id"].as_str().unwrap(), &ana).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["deleted"], true);
    assert_eq!(body["data"]["message"], "");
    assert_eq!(body["data"]["seq"], 1);
    let (status, _) = delete(second["id"].as_str().unwrap(), &token("mod", "moderator")).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        &delete("no-such-id", &ana).await,
        StatusCode::NOT_FOUND,
        "message_not_found",
    );

    // Tombstones keep their seq in history and no longer count as unread.
    let (_, history) = app.get("/api/chat/orders/o1/messages", &dan).await;
    assert_eq!(history["data"][0]["deleted"], true);
    assert_eq!(history["data"][0]["message"], "");
    let (_, unread) = app.get("/api/chat/orders/o1/unread-count", &dan).await;
    assert_eq!(unread["data"]["unreadCount"], 0);
}

#[tokio::test]
async fn only_the_author_edits_and_deleted_messages_stay_deleted() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let ana = token("ana", "customer");
    let message = app.send(&ana, "o1", "typo").await;
    let path = format!("/api/chat/messages/{}", message["id"].as_str().unwrap());

    let (status, edited) = app
        .call(Method::PATCH, &path, Some(&ana), Some(json!({ "message": "fixed" })))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["data"]["message"], "fixed");
    assert!(edited["data"]["editedAt"].is_string());

    let by_other = app
        .call(
            Method::PATCH,
            &path,
            Some(&token("dan", "driver")),
            Some(json!({ "message": "x" })),
        )
        .await;
    assert_error(&by_other, StatusCode::FORBIDDEN, "forbidden");
    let empty = app
        .call(Method::PATCH, &path, Some(&ana), Some(json!({ "message": " " })))
        .await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "message_empty");

    app.call(Method::DELETE, &path, Some(&ana), None).await;
    let after_delete = app
        .call(Method::PATCH, &path, Some(&ana), Some(json!({ "message": "back" })))
        .await;
    assert_error(&after_delete, StatusCode::CONFLICT, "conflict");
}

//! The platform registers orders; status changes reach the chat as system messages.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn put_creates_then_replaces_an_order() {
    let app = spawn_app().await;
    let service = token("platform", "service");
    let body =
        json!({ "number": "A-7", "status": "created", "participants": [{ "userId": "ana", "role": "customer" }] });
    let (status, created) = app
        .call(Method::PUT, "/api/orders/o7", Some(&service), Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["data"]["participants"][0]["userId"], "ana");

    let replaced = json!({ "participants": [{ "userId": "bo", "role": "driver", "name": "Bo" }] });
    let (status, body) = app
        .call(Method::PUT, "/api/orders/o7", Some(&service), Some(replaced))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"]["participants"],
        json!([{ "userId": "bo", "role": "driver", "name": "Bo" }])
    );
    // Ana is no longer a participant, so she no longer sees it.
    assert_error(
        &app.get("/api/orders/o7", &token("ana", "customer")).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
}

#[tokio::test]
async fn only_the_service_role_manages_orders() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let body = json!({ "participants": [] });
    for role in ["customer", "dispatcher", "admin"] {
        let result = app
            .call(
                Method::PUT,
                "/api/orders/o2",
                Some(&token("x", role)),
                Some(body.clone()),
            )
            .await;
        assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
        let patch = app
            .call(
                Method::PATCH,
                "/api/orders/o1",
                Some(&token("ana", role)),
                Some(json!({ "status": "x" })),
            )
            .await;
        assert_error(&patch, StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn bad_order_bodies_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let service = token("platform", "service");
    let missing = app
        .call(
            Method::PUT,
            "/api/orders/o1",
            Some(&service),
            Some(json!({ "status": "x" })),
        )
        .await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "invalid_field");
    assert!(missing.1["message"].as_str().unwrap().starts_with("participants"));
    let nested = json!({ "participants": [{ "userId": "ana" }] });
    let nested = app
        .call(Method::PUT, "/api/orders/o1", Some(&service), Some(nested))
        .await;
    assert_error(&nested, StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        nested.1["message"]
            .as_str()
            .unwrap()
            .starts_with("participants[0].role"),
        "{}",
        nested.1
    );
    let blank_user = json!({ "participants": [{ "userId": " ", "role": "customer" }] });
    let result = app
        .call(Method::PUT, "/api/orders/o1", Some(&service), Some(blank_user))
        .await;
    assert_error(&result, StatusCode::BAD_REQUEST, "invalid_field");
    assert!(result.1["message"].as_str().unwrap().contains("userId"));
    let patch = app
        .call(
            Method::PATCH,
            "/api/orders/unknown",
            Some(&service),
            Some(json!({ "status": "x" })),
        )
        .await;
    assert_error(&patch, StatusCode::NOT_FOUND, "order_not_found");
}

#[tokio::test]
async fn a_status_change_posts_a_system_message() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let service = token("platform", "service");
    let update = json!({ "status": "picked_up", "note": "Driver is on the way" });
    let (status, body) = app
        .call(Method::PATCH, "/api/orders/o1", Some(&service), Some(update))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "picked_up");

    let (_, history) = app.get("/api/chat/orders/o1/messages", &token("ana", "customer")).await;
    let system = &history["data"][0];
    assert_eq!(system["messageType"], "system");
    assert_eq!(system["senderType"], "system");
    assert_eq!(system["user"], json!(null));
    assert_eq!(
        system["message"],
        "Order status changed to picked_up\nDriver is on the way"
    );

    // The same status again is no change and posts nothing.
    app.call(
        Method::PATCH,
        "/api/orders/o1",
        Some(&service),
        Some(json!({ "status": "picked_up" })),
    )
    .await;
    let (_, history) = app.get("/api/chat/orders/o1/messages", &token("ana", "customer")).await;
    assert_eq!(history["meta"]["totalItems"], 1);
}

#[tokio::test]
async fn the_service_posts_system_messages_and_others_cannot() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let body = json!({ "orderId": "o1", "message": "Payment received", "messageType": "system" });
    let (status, sent) = app
        .call(
            Method::POST,
            "/api/chat/messages",
            Some(&token("platform", "service")),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(sent["data"]["senderType"], "system");
    let refused = app
        .call(
            Method::POST,
            "/api/chat/messages",
            Some(&token("ana", "customer")),
            Some(body),
        )
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
}

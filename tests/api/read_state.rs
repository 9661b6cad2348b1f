//! Read pointers and unread counts are per user and per order, never global.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn unread(app: &TestApp, token: &str, order: &str) -> i64 {
    let (status, body) = app.get(&format!("/api/chat/orders/{order}/unread-count"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["orderId"], order);
    body["data"]["unreadCount"].as_i64().unwrap()
}

#[tokio::test]
async fn each_user_has_their_own_unread_count() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver"), ("eva", "driver")])
        .await;
    let (ana, dan, eva) = (token("ana", "customer"), token("dan", "driver"), token("eva", "driver"));
    app.send(&ana, "o1", "one").await;
    app.send(&ana, "o1", "two").await;
    app.send(&dan, "o1", "three").await;

    // Own messages never count as unread.
    assert_eq!(unread(&app, &ana, "o1").await, 1);
    assert_eq!(unread(&app, &dan, "o1").await, 2);
    assert_eq!(unread(&app, &eva, "o1").await, 3);

    // Dan reads up to seq 1: only his pointer moves.
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/chat/orders/o1/read",
            Some(&dan),
            Some(json!({ "seq": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], json!({ "orderId": "o1", "seq": 1, "unreadCount": 1 }));
    assert_eq!(unread(&app, &eva, "o1").await, 3);

    // No body: read everything.
    let (_, body) = app
        .call(Method::PATCH, "/api/chat/orders/o1/read", Some(&eva), None)
        .await;
    assert_eq!(body["data"]["seq"], 3);
    assert_eq!(unread(&app, &eva, "o1").await, 0);
}

#[tokio::test]
async fn the_read_pointer_never_moves_back_or_past_the_end() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    for text in ["a", "b", "c"] {
        app.send(&ana, "o1", text).await;
    }
    let read = |seq: i64| {
        app.call(
            Method::PATCH,
            "/api/chat/orders/o1/read",
            Some(&dan),
            Some(json!({ "seq": seq })),
        )
    };
    assert_eq!(read(2).await.1["data"]["seq"], 2);
    assert_eq!(read(1).await.1["data"]["seq"], 2);
    assert_eq!(read(99).await.1["data"]["seq"], 3);
    assert_error(&read(-1).await, StatusCode::BAD_REQUEST, "invalid_field");
    let bad = app
        .call(
            Method::PATCH,
            "/api/chat/orders/o1/read",
            Some(&dan),
            Some(json!({ "seq": "x" })),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_field");
}

#[tokio::test]
async fn the_chat_list_shows_last_message_and_unread_count_newest_first() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    app.create_order("o2", &[("ana", "customer"), ("dan", "driver")]).await;
    app.create_order("o3", &[("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    app.send(&dan, "o2", "older").await;
    app.send(&dan, "o1", "newer").await;
    app.send(&dan, "o1", "newest").await;

    let (status, body) = app.get("/api/chat/orders", &ana).await;
    assert_eq!(status, StatusCode::OK);
    let chats = body["data"].as_array().unwrap();
    assert_eq!(chats.len(), 2, "o3 is not Ana's: {body}");
    assert_eq!(chats[0]["orderId"], "o1");
    assert_eq!(chats[0]["lastMessage"]["message"], "newest");
    assert_eq!(chats[0]["unreadCount"], 2);
    assert_eq!(chats[1]["orderId"], "o2");
    assert_eq!(chats[1]["unreadCount"], 1);
    assert_eq!(body["meta"]["totalItems"], 2);
}

#[tokio::test]
async fn participants_show_read_pointers() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    app.send(&ana, "o1", "hello").await;
    app.call(Method::PATCH, "/api/chat/orders/o1/read", Some(&dan), None)
        .await;
    let (_, body) = app.get("/api/chat/orders/o1/participants", &ana).await;
    let dan_row = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["userId"] == "dan")
        .unwrap()
        .clone();
    assert_eq!(dan_row["readSeq"], 1);
    assert_eq!(dan_row["online"], false);
    assert!(dan_row["lastReadAt"].is_string());
}

//! Every `/api` request needs a valid token; the one rule of who sees which order.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let path = "/api/chat/orders/o1/messages";

    assert_error(
        &app.call(Method::GET, path, None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    let wrong_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "ana", "role": "customer", "exp": now() + 60 }),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-entirely"),
    )
    .unwrap();
    let expired = sign(json!({ "sub": "ana", "role": "customer", "exp": now() - 3600 }));
    let without_exp = sign(json!({ "sub": "ana", "role": "customer" }));
    let without_role = sign(json!({ "sub": "ana", "exp": now() + 60 }));
    // Header {"alg":"none","typ":"JWT"}, no signature.
    let alg_none = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        base64url(&json!({ "sub": "ana", "role": "customer", "exp": now() + 60 }).to_string())
    );
    for bad in [
        wrong_secret,
        expired,
        without_exp,
        without_role,
        alg_none,
        "garbage".to_owned(),
    ] {
        assert_error(&app.get(path, &bad).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
}

#[tokio::test]
async fn a_token_in_the_query_string_is_ignored() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let path = format!("/api/chat/orders/o1/messages?token={}", token("ana", "customer"));
    assert_error(
        &app.call(Method::GET, &path, None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn old_tokens_with_id_or_user_id_claims_work() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("42", "driver")]).await;
    let with_id = sign(json!({ "id": "ana", "role": "customer", "exp": now() + 60 }));
    let with_numeric_user_id = sign(json!({ "userId": 42, "role": "driver", "exp": now() + 60 }));
    assert_eq!(
        app.get("/api/chat/orders/o1/messages", &with_id).await.0,
        StatusCode::OK
    );
    let sent = app.send(&with_numeric_user_id, "o1", "on my way").await;
    assert_eq!(sent["user"]["id"], "42");
}

#[tokio::test]
async fn outsiders_get_404_on_every_order_endpoint() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let message = app.send(&token("ana", "customer"), "o1", "private").await;
    let eve = token("eve", "customer");
    let id = message["id"].as_str().unwrap();

    for path in [
        "/api/chat/orders/o1/messages",
        "/api/chat/orders/o1/unread-count",
        "/api/chat/orders/o1/participants",
        "/api/chat/orders/o1/messages/search?q=private",
        "/api/orders/o1",
    ] {
        assert_error(&app.get(path, &eve).await, StatusCode::NOT_FOUND, "order_not_found");
    }
    let read = app
        .call(Method::PATCH, "/api/chat/orders/o1/read", Some(&eve), None)
        .await;
    assert_error(&read, StatusCode::NOT_FOUND, "order_not_found");
    let send = app
        .call(
            Method::POST,
            "/api/chat/messages",
            Some(&eve),
            Some(json!({ "orderId": "o1", "message": "hi" })),
        )
        .await;
    assert_error(&send, StatusCode::NOT_FOUND, "order_not_found");
    let delete = app
        .call(Method::DELETE, &format!("/api/chat/messages/{id}"), Some(&eve), None)
        .await;
    assert_error(&delete, StatusCode::NOT_FOUND, "message_not_found");
    let edit = app
        .call(
            Method::PATCH,
            &format!("/api/chat/messages/{id}"),
            Some(&eve),
            Some(json!({ "message": "x" })),
        )
        .await;
    assert_error(&edit, StatusCode::NOT_FOUND, "message_not_found");

    // Lists and global search show nothing of it.
    let (_, chats) = app.get("/api/chat/orders", &eve).await;
    assert_eq!(chats["data"], json!([]));
    let (_, found) = app.get("/api/chat/search?q=private", &eve).await;
    assert_eq!(found["data"], json!([]));
    // An unknown order looks exactly the same.
    assert_error(
        &app.get("/api/chat/orders/nope/messages", &eve).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
}

#[tokio::test]
async fn staff_see_every_order_and_post_as_admin() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let dispatcher = token("disp", "dispatcher");
    assert_eq!(
        app.get("/api/chat/orders/o1/messages", &dispatcher).await.0,
        StatusCode::OK
    );
    let sent = app.send(&dispatcher, "o1", "Dispatcher here").await;
    assert_eq!(sent["senderType"], "admin");
    let (_, chats) = app.get("/api/chat/orders", &dispatcher).await;
    assert_eq!(chats["data"][0]["orderId"], "o1");
}

fn base64url(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn a_token_that_is_not_valid_yet_is_refused() {
    let app = spawn_app_with(&["--jwt-leeway-secs", "5"]).await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let path = "/api/chat/orders/o1/messages";
    let claims = |nbf: u64| json!({ "sub": "ana", "role": "customer", "exp": now() + 3600, "nbf": nbf });
    assert_error(
        &app.get(path, &sign(claims(now() + 600))).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    // Within the clock leeway, and in the past: accepted.
    assert_eq!(app.get(path, &sign(claims(now() + 2))).await.0, StatusCode::OK);
    assert_eq!(app.get(path, &sign(claims(now() - 60))).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_configured_issuer_and_audience_must_be_present_and_match() {
    let app = spawn_app_with(&["--jwt-issuer", "platform", "--jwt-audience", "orderchat"]).await;
    let service = sign(
        json!({ "sub": "platform", "role": "service", "exp": now() + 3600, "iss": "platform", "aud": "orderchat" }),
    );
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/orders/o1",
            Some(&service),
            Some(json!({ "participants": [{ "userId": "ana", "role": "customer" }] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = "/api/chat/orders/o1/messages";
    let with = |extra: serde_json::Value| {
        let mut claims = json!({ "sub": "ana", "role": "customer", "exp": now() + 3600 });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        sign(claims)
    };
    assert_eq!(
        app.get(path, &with(json!({ "iss": "platform", "aud": "orderchat" })))
            .await
            .0,
        StatusCode::OK
    );
    for (case, bad) in [
        ("no iss", with(json!({ "aud": "orderchat" }))),
        ("no aud", with(json!({ "iss": "platform" }))),
        ("neither", with(json!({}))),
        ("wrong iss", with(json!({ "iss": "someone-else", "aud": "orderchat" }))),
        (
            "wrong aud",
            with(json!({ "iss": "platform", "aud": "another-service" })),
        ),
    ] {
        let result = app.get(path, &bad).await;
        assert_eq!(result.0, StatusCode::UNAUTHORIZED, "{case}: {}", result.1);
        assert_error(&result, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
}

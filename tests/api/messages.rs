//! Sending messages over HTTP: the stored shape, idempotency, ordering under
//! concurrency, and every refusal.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_sent_message_has_the_contract_shape() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let message = app.send(&token("ana", "customer"), "o1", "Where is my order?").await;
    assert!(message["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(message["orderId"], "o1");
    assert_eq!(message["seq"], 1);
    assert_eq!(
        message["user"],
        json!({ "id": "ana", "name": "ANA", "role": "customer" })
    );
    assert_eq!(message["message"], "Where is my order?");
    assert_eq!(message["messageType"], "text");
    assert_eq!(message["senderType"], "user");
    assert_eq!(message["attachments"], json!([]));
    assert_eq!(message["deleted"], false);
    for field in ["replyTo", "clientId", "editedAt"] {
        assert_eq!(message[field], json!(null), "{field}");
    }
    let created = message["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'),
        "{created}"
    );
}

#[tokio::test]
async fn a_repeated_client_id_returns_the_first_message() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let ana = token("ana", "customer");
    let body = json!({ "orderId": "o1", "message": "once", "clientId": "c-1" });
    let (first_status, first) = app
        .call(Method::POST, "/api/chat/messages", Some(&ana), Some(body.clone()))
        .await;
    let (second_status, second) = app
        .call(Method::POST, "/api/chat/messages", Some(&ana), Some(body.clone()))
        .await;
    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(second_status, StatusCode::OK);
    assert_eq!(first["data"]["id"], second["data"]["id"]);
    // Another user may use the same clientId.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/chat/messages",
            Some(&token("dan", "driver")),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, history) = app.get("/api/chat/orders/o1/messages", &ana).await;
    assert_eq!(history["meta"]["totalItems"], 2);
}

#[tokio::test]
async fn concurrent_senders_get_gapless_unique_seqs() {
    let app = spawn_app_with(&["--message-burst", "1000", "--message-rate-per-minute", "100000"]).await;
    let users: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    let participants: Vec<(&str, &str)> = users.iter().map(|u| (u.as_str(), "driver")).collect();
    app.create_order("busy", &participants).await;

    let mut tasks = Vec::new();
    for user in &users {
        let (client, url, token) = (app.client.clone(), app.url.clone(), token(user, "driver"));
        tasks.push(tokio::spawn(async move {
            for n in 0..20 {
                let response = client
                    .post(format!("{url}/api/chat/messages"))
                    .bearer_auth(&token)
                    .json(&json!({ "orderId": "busy", "message": format!("m{n}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (_, history) = app
        .get("/api/chat/orders/busy/messages?limit=200", &token("u0", "driver"))
        .await;
    let seqs: Vec<i64> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
}

#[tokio::test]
async fn invalid_messages_are_refused_and_nothing_is_stored() {
    let app = spawn_app_with(&["--max-message-length", "20"]).await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    let post = |body: Value| app.call(Method::POST, "/api/chat/messages", Some(&ana), Some(body));

    assert_error(
        &post(json!({ "orderId": "o1", "message": "  \n " })).await,
        StatusCode::BAD_REQUEST,
        "message_empty",
    );
    assert_error(
        &post(json!({ "orderId": "o1", "message": "x".repeat(21) })).await,
        StatusCode::BAD_REQUEST,
        "message_too_long",
    );
    assert_error(
        &post(json!({ "orderId": "o1", "message": "bell\u{7}" })).await,
        StatusCode::BAD_REQUEST,
        "message_invalid_characters",
    );
    let missing = post(json!({ "message": "hi" })).await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        missing.1["message"].as_str().unwrap().starts_with("orderId"),
        "{}",
        missing.1
    );
    assert_error(
        &post(json!({ "orderId": "", "message": "hi" })).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    let wrong_type = post(json!({ "orderId": "o1", "message": 5 })).await;
    assert_error(&wrong_type, StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        wrong_type.1["message"].as_str().unwrap().starts_with("message"),
        "{}",
        wrong_type.1
    );
    // serde would read an array into the struct by position; a body must be an object.
    assert_error(
        &post(json!(["o1", "hi"])).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    assert_error(
        &post(json!({ "orderId": "nope", "message": "hi" })).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    assert_error(
        &post(json!({ "orderId": "o1", "message": "hi", "replyTo": "not-a-message" })).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    assert_error(
        &post(json!({ "orderId": "o1", "message": "hi", "attachments": ["a1"] })).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );

    let raw = |content_type: &'static str, body: &'static str| {
        app.client
            .post(format!("{}/api/chat/messages", app.url))
            .bearer_auth(&ana)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let broken = raw("application/json", "{\"orderId\": \"o1\", ").await.unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert_eq!(broken.json::<Value>().await.unwrap()["code"], "invalid_json");
    let text = raw("text/plain", "{\"orderId\":\"o1\",\"message\":\"hi\"}")
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(text.json::<Value>().await.unwrap()["code"], "unsupported_media_type");

    let (_, history) = app.get("/api/chat/orders/o1/messages", &ana).await;
    assert_eq!(history["meta"]["totalItems"], 0, "nothing stored: {history}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = spawn_app_with(&["--max-body-bytes", "1024"]).await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let big = json!({ "orderId": "o1", "message": "x".repeat(2000) });
    let result = app
        .call(
            Method::POST,
            "/api/chat/messages",
            Some(&token("ana", "customer")),
            Some(big),
        )
        .await;
    assert_error(&result, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn too_many_messages_are_rate_limited_with_retry_after() {
    let app = spawn_app_with(&["--message-burst", "3", "--message-rate-per-minute", "1"]).await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let ana = token("ana", "customer");
    for n in 0..3 {
        app.send(&ana, "o1", &format!("m{n}")).await;
    }
    let response = app
        .client
        .post(format!("{}/api/chat/messages", app.url))
        .bearer_auth(&ana)
        .json(&json!({ "orderId": "o1", "message": "one too many" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "rate_limited");
    // Another user has their own budget.
    app.send(&token("dan", "driver"), "o1", "fine").await;
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let app = spawn_app().await;
    let result = app.get("/api/nothing-here", &token("ana", "customer")).await;
    assert_error(&result, StatusCode::NOT_FOUND, "not_found");
}

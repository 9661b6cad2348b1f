//! The message shape the old frontends rely on (`_id` beside `id`), reply previews, and
//! `GET /api/chat/messages/:messageId/replies`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn reply(app: &TestApp, token: &str, order_id: &str, text: &str, reply_to: &Value) -> Value {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/chat/messages",
            Some(token),
            Some(json!({ "orderId": order_id, "message": text, "replyTo": reply_to })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "reply: {body}");
    body["data"].clone()
}

fn assert_underscore_id(message: &Value, context: &str) {
    assert!(
        message["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{context}: {message}"
    );
    assert_eq!(message["_id"], message["id"], "{context}: {message}");
}

#[tokio::test]
async fn every_message_out_carries_underscore_id_and_takes_it_back() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    let first = app.send(&ana, "o1", "where is my parcel").await;
    assert_underscore_id(&first, "send");
    // An `_id` is accepted wherever a message id is taken: replyTo, edit, delete.
    let answer = reply(&app, &dan, "o1", "parcel is on its way", &first["_id"]).await;
    assert_underscore_id(&answer, "reply");
    assert_underscore_id(&answer["replyPreview"], "reply preview");

    let (_, history) = app.get("/api/chat/orders/o1/messages", &ana).await;
    for message in history["data"].as_array().unwrap() {
        assert_underscore_id(message, "history");
    }
    let (_, found) = app.get("/api/chat/orders/o1/messages/search?q=parcel", &ana).await;
    assert_eq!(found["data"].as_array().unwrap().len(), 2);
    for message in found["data"].as_array().unwrap() {
        assert_underscore_id(message, "search");
    }
    let (_, chats) = app.get("/api/chat/orders", &ana).await;
    assert_underscore_id(&chats["data"][0]["lastMessage"], "chat list");

    let path = format!("/api/chat/messages/{}", answer["_id"].as_str().unwrap());
    let (status, edited) = app
        .call(
            Method::PATCH,
            &path,
            Some(&dan),
            Some(json!({ "message": "on its way" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_underscore_id(&edited["data"], "edit");
    let (status, deleted) = app.call(Method::DELETE, &path, Some(&dan), None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_underscore_id(&deleted["data"], "delete");
    assert_eq!(deleted["data"]["deleted"], true);
}

#[tokio::test]
async fn a_reply_carries_a_preview_of_the_quoted_message_that_hides_it_once_deleted() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    // 200 two-byte characters: the preview keeps 140 of them, not 140 bytes.
    let long = "é".repeat(200);
    let quoted = app.send(&ana, "o1", &long).await;
    let answer = reply(&app, &dan, "o1", "noted", &quoted["id"]).await;
    let expected = json!({
        "id": quoted["id"],
        "_id": quoted["id"],
        "user": { "id": "ana", "name": "ANA", "role": "customer" },
        "senderType": "user",
        "message": "é".repeat(140),
        "deleted": false,
    });
    assert_eq!(answer["replyTo"], quoted["id"]);
    assert_eq!(answer["replyPreview"], expected);
    assert_eq!(quoted["replyPreview"], Value::Null);

    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/chat/messages/{}", quoted["id"].as_str().unwrap()),
            Some(&ana),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, history) = app.get("/api/chat/orders/o1/messages", &dan).await;
    let preview = &history["data"][1]["replyPreview"];
    assert_eq!(preview["deleted"], true, "{preview}");
    assert_eq!(
        preview["message"],
        Value::Null,
        "a deleted quote shows no text: {preview}"
    );
    assert_eq!(preview["user"]["id"], "ana");
}

#[tokio::test]
async fn the_replies_to_a_message_come_in_seq_order_by_cursor() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    let quoted = app.send(&ana, "o1", "which door?").await;
    let mut seqs = Vec::new();
    for n in 0..3 {
        seqs.push(reply(&app, &dan, "o1", &format!("door {n}"), &quoted["id"]).await["seq"].clone());
        app.send(&ana, "o1", "unrelated").await;
    }
    let path = format!("/api/chat/messages/{}/replies", quoted["id"].as_str().unwrap());

    let (status, first) = app.get(&format!("{path}?limit=2"), &ana).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let got: Vec<Value> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].clone())
        .collect();
    assert_eq!(got, seqs[..2]);
    assert_eq!(first["meta"], json!({ "hasMore": true, "nextCursor": seqs[1] }));
    assert_eq!(first["data"][0]["replyPreview"]["id"], quoted["id"]);
    assert_underscore_id(&first["data"][0], "replies");

    let (_, rest) = app.get(&format!("{path}?limit=2&after={}", seqs[1]), &ana).await;
    let got: Vec<Value> = rest["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].clone())
        .collect();
    assert_eq!(got, seqs[2..]);
    assert_eq!(rest["meta"]["hasMore"], false);

    let unanswered = rest["data"][0]["id"].as_str().unwrap();
    let (_, none) = app.get(&format!("/api/chat/messages/{unanswered}/replies"), &ana).await;
    assert_eq!(none["data"], json!([]), "a message nobody answered has no replies");
}

#[tokio::test]
async fn replies_of_a_message_are_not_found_by_outsiders_nor_for_unknown_ids() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let quoted = app.send(&token("ana", "customer"), "o1", "private").await;
    let path = format!("/api/chat/messages/{}/replies", quoted["id"].as_str().unwrap());

    let outsider = app.get(&path, &token("eve", "customer")).await;
    assert_error(&outsider, StatusCode::NOT_FOUND, "message_not_found");
    let staff = app.get(&path, &token("sam", "dispatcher")).await;
    assert_eq!(staff.0, StatusCode::OK, "staff see every order: {}", staff.1);
    let unknown = app
        .get("/api/chat/messages/no-such-message/replies", &token("ana", "customer"))
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "message_not_found");
    let ana = token("ana", "customer");
    assert_error(
        &app.get(&format!("{path}?limit=0"), &ana).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    assert_error(
        &app.get(&format!("{path}?after=-1"), &ana).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    let (status, body) = app.call(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

//! Statistics of one order's chat on a conversation with real pauses: counts by sender,
//! the caller's own unread count, and the median staff first response computed from
//! the timestamps the server gave the messages.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn millis(message: &Value) -> i64 {
    let at = message["createdAt"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(at).unwrap().timestamp_millis()
}

async fn pause(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test]
async fn stats_count_the_conversation_and_take_the_median_staff_first_response() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("bo", "driver")]).await;
    let (ana, bo, dan) = (
        token("ana", "customer"),
        token("bo", "driver"),
        token("dan", "dispatcher"),
    );

    let q1 = app.send(&ana, "o1", "where is my order?").await; // starts a wait
    let again = app.send(&ana, "o1", "hello?").await; // the same wait; deleted below
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/orders/o1",
            Some(&token("platform", "service")),
            Some(json!({ "status": "picked_up" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}"); // a system message: answers nothing
    pause(120).await;
    let a1 = app.send(&dan, "o1", "on its way").await;
    let q2 = app.send(&ana, "o1", "and the invoice?").await;
    pause(30).await;
    let a2 = app.send(&dan, "o1", "sent").await;
    let q3 = app.send(&ana, "o1", "one more thing").await;
    pause(60).await;
    let a3 = app.send(&dan, "o1", "sure").await;
    let last = app.send(&ana, "o1", "bye").await; // a wait nobody answered
    let path = format!("/api/chat/messages/{}", again["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&ana), None).await.0,
        StatusCode::OK
    );
    app.execute_sql(&format!(
        "UPDATE messages SET attachments = '[{0},{0}]' WHERE id = '{1}'",
        r#"{"id":"f","fileName":"f.pdf","contentType":"application/pdf","size":1,"url":"/u"}"#,
        q1["id"].as_str().unwrap()
    ))
    .await;

    let mut waits = [
        millis(&a1) - millis(&q1),
        millis(&a2) - millis(&q2),
        millis(&a3) - millis(&q3),
    ];
    waits.sort();
    assert!(waits[0] >= 30, "the pauses show in the timestamps: {waits:?}");
    let (status, body) = app.get("/api/chat/orders/o1/stats", &ana).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!({
            "orderId": "o1",
            "messages": { "total": 9, "bySenderType": { "user": 5, "admin": 3, "system": 1 }, "deleted": 1 },
            // Not her own, not deleted: the system message and dan's three answers.
            "unreadCount": 4,
            "attachments": 2,
            "participants": 2,
            "firstActivityAt": q1["createdAt"],
            "lastActivityAt": last["createdAt"],
            "staffFirstResponse": { "medianSeconds": waits[1] as f64 / 1000.0, "answered": 3 },
        })
    );
    // The unread count is the caller's own: bo sent nothing; staff who never opened the
    // chat count everything but their own messages.
    let (_, body) = app.get("/api/chat/orders/o1/stats", &bo).await;
    assert_eq!(body["data"]["unreadCount"], 8);
    let (_, body) = app.get("/api/chat/orders/o1/stats", &dan).await;
    assert_eq!(body["data"]["unreadCount"], 5);
}

#[tokio::test]
async fn stats_of_an_empty_chat_are_zero_and_null() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let (status, body) = app.get("/api/chat/orders/o1/stats", &token("ana", "customer")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["messages"]["total"], 0);
    assert_eq!(body["data"]["firstActivityAt"], Value::Null);
    assert_eq!(
        body["data"]["staffFirstResponse"],
        json!({ "medianSeconds": null, "answered": 0 })
    );
}

#[tokio::test]
async fn outsiders_get_no_stats() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    app.send(&token("ana", "customer"), "o1", "private").await;
    let eve = token("eve", "customer");
    assert_error(
        &app.get("/api/chat/orders/o1/stats", &eve).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    assert_error(
        &app.get("/api/chat/orders/nope/stats", &token("dan", "dispatcher"))
            .await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
}

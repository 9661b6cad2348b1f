//! Archiving over HTTP: the server's archive job moves backdated messages out of plain
//! history; `includeArchived=true`, search, export and stats bring them back; archived
//! messages are read-only; a bad `includeArchived` is refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orderchat::domain::OrderId;
use orderchat::store::{PostgresStore, SqliteStore, Store};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Dates the first `up_to` messages of `order` back to 2020, through a store opened on
/// the server's database as another process would.
async fn backdate(app: &TestApp, order: &str, up_to: i64) {
    let store: Arc<dyn Store> = if app.database_url.starts_with("sqlite:") {
        Arc::new(SqliteStore::connect(&app.database_url).await.unwrap())
    } else {
        Arc::new(PostgresStore::connect(&app.database_url).await.unwrap())
    };
    let changed = store
        .backdate_messages(&OrderId::parse(order).unwrap(), up_to, "2020-01-01T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(changed, up_to as u64);
    store.close().await;
}

fn seqs(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_archive_job_moves_old_messages_that_stay_readable_but_read_only() {
    let app = spawn_app_with(&["--archive-interval-secs", "1"]).await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    let old = app.send(&ana, "o1", "old parcel note").await;
    app.send(&ana, "o1", "old gate code").await;
    app.send(&dan, "o1", "fresh reply").await;
    app.send(&dan, "o1", "fresh parcel update").await;
    backdate(&app, "o1", 2).await;

    // The server's job (every second) moves the two old messages.
    let started = Instant::now();
    let plain = loop {
        let (status, body) = app.get("/api/chat/orders/o1/messages", &ana).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["meta"]["totalItems"] == 2 {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not archived: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(seqs(&plain), vec![3, 4]);
    let (_, explicit_false) = app
        .get("/api/chat/orders/o1/messages?includeArchived=false", &ana)
        .await;
    assert_eq!(seqs(&explicit_false), vec![3, 4]);

    let (status, all) = app.get("/api/chat/orders/o1/messages?includeArchived=true", &ana).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(seqs(&all), vec![1, 2, 3, 4]);
    assert_eq!(all["meta"]["totalItems"], 4);
    assert_eq!(all["data"][0]["message"], "old parcel note");
    let (_, before) = app
        .get(
            "/api/chat/orders/o1/messages?includeArchived=true&before=4&limit=2",
            &ana,
        )
        .await;
    assert_eq!(seqs(&before), vec![2, 3]);

    // Search (in the order and across the caller's orders), export and stats see them.
    let (_, found) = app.get("/api/chat/orders/o1/messages/search?q=parcel", &ana).await;
    let mut texts: Vec<&str> = found["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    texts.sort();
    assert_eq!(texts, vec!["fresh parcel update", "old parcel note"]);
    let (_, everywhere) = app.get("/api/chat/search?q=gate", &dan).await;
    assert_eq!(everywhere["data"][0]["message"], "old gate code", "{everywhere}");
    let (_, outsider) = app.get("/api/chat/search?q=gate", &token("zed", "customer")).await;
    assert_eq!(outsider["data"], json!([]));
    let (status, _, exported) = app.get_text("/api/chat/orders/o1/export?format=json", &ana).await;
    assert_eq!(status, StatusCode::OK);
    let exported: Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(exported["messages"].as_array().unwrap().len(), 4);
    assert_eq!(exported["messages"][0]["message"], "old parcel note");
    let (_, stats) = app.get("/api/chat/orders/o1/stats", &ana).await;
    assert_eq!(stats["data"]["messages"]["total"], 4, "{stats}");

    // Read-only: no edit, deletion, reaction or reply.
    let id = old["id"].as_str().unwrap();
    let path = format!("/api/chat/messages/{id}");
    let edit = app
        .call(Method::PATCH, &path, Some(&ana), Some(json!({ "message": "changed" })))
        .await;
    assert_error(&edit, StatusCode::CONFLICT, "message_archived");
    assert_error(
        &app.call(Method::DELETE, &path, Some(&ana), None).await,
        StatusCode::CONFLICT,
        "message_archived",
    );
    let react = app
        .call(Method::PUT, &format!("{path}/reactions/%F0%9F%91%8D"), Some(&dan), None)
        .await;
    assert_error(&react, StatusCode::CONFLICT, "message_archived");
    let reply = app
        .call(
            Method::POST,
            "/api/chat/messages",
            Some(&dan),
            Some(json!({ "orderId": "o1", "message": "re", "replyTo": id })),
        )
        .await;
    assert_error(&reply, StatusCode::CONFLICT, "message_archived");
    // Someone who may not see the order learns nothing about the message.
    let outsider_edit = app
        .call(
            Method::PATCH,
            &path,
            Some(&token("zed", "customer")),
            Some(json!({ "message": "x" })),
        )
        .await;
    assert_error(&outsider_edit, StatusCode::NOT_FOUND, "message_not_found");

    let (_, _, metrics) = app.get_text("/metrics", &ana).await;
    let moved: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("orderchat_archive_moved_messages_total "))
        .expect("moved counter")
        .trim()
        .parse()
        .unwrap();
    assert!(moved >= 2.0, "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn include_archived_takes_only_true_or_false() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    for bad in ["yes", "1", "", "TRUE!"] {
        let result = app
            .get(&format!("/api/chat/orders/o1/messages?includeArchived={bad}"), &ana)
            .await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_query");
    }
    app.stop().await;
}

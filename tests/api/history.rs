//! History: pages counted from the newest, and seq cursors both ways.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn seqs(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

async fn app_with_messages(count: usize) -> (TestApp, String) {
    let app = spawn_app_with(&["--message-burst", "100"]).await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    for n in 1..=count {
        app.send(&ana, "o1", &format!("message {n}")).await;
    }
    (app, ana)
}

#[tokio::test]
async fn pages_start_at_the_newest_and_are_chronological_inside() {
    let (app, ana) = app_with_messages(12).await;
    let (_, first) = app.get("/api/chat/orders/o1/messages?limit=5", &ana).await;
    assert_eq!(seqs(&first), vec![8, 9, 10, 11, 12]);
    assert_eq!(first["meta"]["totalItems"], 12);
    assert_eq!(first["meta"]["totalPages"], 3);
    assert_eq!(first["meta"]["currentPage"], 1);
    assert_eq!(first["meta"]["itemsPerPage"], 5);
    let (_, last) = app.get("/api/chat/orders/o1/messages?limit=5&page=3", &ana).await;
    assert_eq!(seqs(&last), vec![1, 2]);
}

#[tokio::test]
async fn cursors_walk_backwards_and_forwards() {
    let (app, ana) = app_with_messages(12).await;
    let (_, before) = app.get("/api/chat/orders/o1/messages?before=10&limit=4", &ana).await;
    assert_eq!(seqs(&before), vec![6, 7, 8, 9]);
    assert_eq!(before["meta"]["hasMore"], true);
    assert_eq!(before["meta"]["nextCursor"], 6);
    let (_, oldest) = app.get("/api/chat/orders/o1/messages?before=3&limit=4", &ana).await;
    assert_eq!(seqs(&oldest), vec![1, 2]);
    assert_eq!(oldest["meta"]["hasMore"], false);

    let (_, after) = app.get("/api/chat/orders/o1/messages?after=9&limit=2", &ana).await;
    assert_eq!(seqs(&after), vec![10, 11]);
    assert_eq!(after["meta"]["hasMore"], true);
    assert_eq!(after["meta"]["nextCursor"], 11);
    let (_, rest) = app.get("/api/chat/orders/o1/messages?after=11&limit=2", &ana).await;
    assert_eq!(seqs(&rest), vec![12]);
    assert_eq!(rest["meta"]["hasMore"], false);
}

#[tokio::test]
async fn bad_history_queries_are_refused() {
    let (app, ana) = app_with_messages(1).await;
    for query in [
        "limit=0",
        "limit=201",
        "page=0",
        "page=abc",
        "before=0",
        "after=-1",
        "before=5&after=1",
        "page=2&before=3",
    ] {
        let result = app.get(&format!("/api/chat/orders/o1/messages?{query}"), &ana).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_query");
    }
}

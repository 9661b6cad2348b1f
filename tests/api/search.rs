//! Full-text search: ranked, scoped to what the caller may see, immune to FTS syntax.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn texts(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_finds_words_in_one_order_best_match_first() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    app.create_order("o2", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    app.send(&ana, "o1", "the parcel is at the door").await;
    app.send(&ana, "o1", "parcel parcel parcel, where is my parcel").await;
    app.send(&ana, "o1", "nothing to see").await;
    app.send(&ana, "o2", "parcel in another order").await;

    let (status, body) = app.get("/api/chat/orders/o1/messages/search?q=parcel", &ana).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        texts(&body),
        vec!["parcel parcel parcel, where is my parcel", "the parcel is at the door"]
    );
    assert_eq!(body["meta"]["totalItems"], 2);

    // The last word matches as a prefix; case and accents do not matter.
    let (_, body) = app.get("/api/chat/orders/o1/messages/search?q=DOO", &ana).await;
    assert_eq!(texts(&body), vec!["the parcel is at the door"]);
}

#[tokio::test]
async fn fts_syntax_in_queries_is_plain_text() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    app.send(&ana, "o1", "call me at the gate").await;
    // Operators are words like any other: every word must appear (the last as a
    // prefix), so an operator that is not in the text finds nothing, and one that
    // would have widened the search in FTS syntax cannot.
    for (q, found) in [
        ("%22gate*%20OR", 0),
        ("NEAR(gate%20call)", 0),
        ("body:gate", 0),
        ("gate%22%22%22", 1),
        ("-gate", 1),
        ("gate%20AND%20NOT%20x", 0),
        ("gate%20OR%20nothing", 0),
        ("%22call%22%20gate", 1),
    ] {
        let (status, body) = app
            .get(&format!("/api/chat/orders/o1/messages/search?q={q}"), &ana)
            .await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        assert_eq!(body["data"].as_array().map(Vec::len), Some(found), "{q}: {body}");
    }
    // Nothing but operators and punctuation: no word to search for.
    for q in ["%5E*", "%22%22", "*%20(%20)"] {
        assert_error(
            &app.get(&format!("/api/chat/orders/o1/messages/search?q={q}"), &ana)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );
    }
    assert_error(
        &app.get("/api/chat/orders/o1/messages/search?q=", &ana).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
}

#[tokio::test]
async fn global_search_covers_only_the_callers_orders() {
    let app = spawn_app().await;
    app.create_order("mine", &[("ana", "customer")]).await;
    app.create_order("theirs", &[("bo", "customer")]).await;
    app.send(&token("ana", "customer"), "mine", "secret code 1234").await;
    app.send(&token("bo", "customer"), "theirs", "secret code 5678").await;

    let (_, ana_found) = app.get("/api/chat/search?q=secret", &token("ana", "customer")).await;
    assert_eq!(texts(&ana_found), vec!["secret code 1234"]);
    let (_, staff_found) = app.get("/api/chat/search?q=secret", &token("disp", "dispatcher")).await;
    assert_eq!(staff_found["meta"]["totalItems"], 2);
}

#[tokio::test]
async fn deleted_messages_are_not_found() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    let message = app.send(&ana, "o1", "remove this pineapple").await;
    app.call(
        reqwest::Method::DELETE,
        &format!("/api/chat/messages/{}", message["id"].as_str().unwrap()),
        Some(&ana),
        None,
    )
    .await;
    let (_, body) = app.get("/api/chat/orders/o1/messages/search?q=pineapple", &ana).await;
    assert_eq!(body["data"], serde_json::json!([]));
}

//! Reactions over HTTP: one per user per emoji, `mine` for the caller in every message
//! a response carries, and every refusal.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// The reactions route of a message, the emoji percent-encoded as a client sends it.
fn reaction_path(message_id: &str, emoji: &str) -> String {
    let encoded: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("/api/chat/messages/{message_id}/reactions/{encoded}")
}

async fn react(app: &TestApp, method: Method, token: &str, message_id: &str, emoji: &str) -> (StatusCode, Value) {
    app.call(method, &reaction_path(message_id, emoji), Some(token), None)
        .await
}

#[tokio::test]
async fn one_reaction_per_user_per_emoji_with_mine_for_the_caller() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    let message = app.send(&ana, "o1", "parcel delivered").await;
    let id = message["id"].as_str().unwrap();
    assert_eq!(message["reactions"], json!([]), "a new message has none");

    let (status, body) = react(&app, Method::PUT, &dan, id, "👍").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(
        body["data"]["reactions"],
        json!([{ "emoji": "👍", "count": 1, "userIds": ["dan"], "mine": true }])
    );
    let (status, body) = react(&app, Method::PUT, &dan, id, "👍").await;
    assert_eq!(status, StatusCode::OK, "adding twice is not an error");
    assert_eq!(body["data"]["reactions"][0]["count"], 1, "and counts once");

    let (_, body) = react(&app, Method::PUT, &ana, id, "👍").await;
    assert_eq!(
        body["data"]["reactions"],
        json!([{ "emoji": "👍", "count": 2, "userIds": ["dan", "ana"], "mine": true }])
    );
    let (_, body) = react(&app, Method::PUT, &ana, id, "👩🏽‍💻").await;
    assert_eq!(body["data"]["reactions"][1]["emoji"], "👩🏽‍💻");

    // Every read carries the summary, `mine` relative to the reader.
    let (_, history) = app.get("/api/chat/orders/o1/messages", &dan).await;
    let reactions = &history["data"][0]["reactions"];
    assert_eq!(reactions[0]["mine"], true);
    assert_eq!(reactions[1]["mine"], false, "dan did not use 👩🏽‍💻");
    let (_, staff) = app
        .get("/api/chat/orders/o1/messages?after=0", &token("mo", "moderator"))
        .await;
    assert_eq!(staff["data"][0]["reactions"][0]["count"], 2);
    assert_eq!(staff["data"][0]["reactions"][0]["mine"], false);
    let (_, found) = app.get("/api/chat/orders/o1/messages/search?q=parcel", &ana).await;
    assert_eq!(found["data"][0]["reactions"][1]["mine"], true, "in search");
    let (_, chats) = app.get("/api/chat/orders", &dan).await;
    assert_eq!(
        chats["data"][0]["lastMessage"]["reactions"][0]["mine"], true,
        "in the chat list"
    );

    let (status, body) = react(&app, Method::DELETE, &dan, id, "👍").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"]["reactions"][0],
        json!({ "emoji": "👍", "count": 1, "userIds": ["ana"], "mine": false })
    );
    let (status, again) = react(&app, Method::DELETE, &dan, id, "👍").await;
    assert_eq!(status, StatusCode::OK, "removing what is not there is not an error");
    assert_eq!(again["data"]["reactions"], body["data"]["reactions"]);
    let (_, body) = react(&app, Method::DELETE, &ana, id, "👍").await;
    assert_eq!(
        body["data"]["reactions"].as_array().unwrap().len(),
        1,
        "only 👩🏽‍💻 is left"
    );
}

#[tokio::test]
async fn reactions_refuse_bad_emojis_outsiders_tombstones_and_missing_tokens() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let ana = token("ana", "customer");
    let message = app.send(&ana, "o1", "hi").await;
    let id = message["id"].as_str().unwrap();

    for bad in [
        "a",
        "ok",
        " ",
        "👍 ",
        "<b>",
        "👍a",
        "1",
        "\u{200D}",
        "\u{7}",
        &"👍".repeat(17),
    ] {
        let refused = react(&app, Method::PUT, &ana, id, bad).await;
        assert_error(&refused, StatusCode::BAD_REQUEST, "invalid_emoji");
        assert!(
            refused.1["message"].as_str().unwrap().starts_with("emoji:"),
            "{refused:?}"
        );
    }
    for outsider in [token("eve", "customer"), token("dan2", "driver")] {
        for method in [Method::PUT, Method::DELETE] {
            assert_error(
                &react(&app, method, &outsider, id, "👍").await,
                StatusCode::NOT_FOUND,
                "message_not_found",
            );
        }
    }
    assert_error(
        &react(&app, Method::PUT, &ana, "no-such-message", "👍").await,
        StatusCode::NOT_FOUND,
        "message_not_found",
    );
    let anonymous = app.call(Method::PUT, &reaction_path(id, "👍"), None, None).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthenticated");
    let wrong_method = app.call(Method::GET, &reaction_path(id, "👍"), Some(&ana), None).await;
    assert_eq!(wrong_method.0, StatusCode::METHOD_NOT_ALLOWED);

    react(&app, Method::PUT, &ana, id, "👍").await;
    let path = format!("/api/chat/messages/{id}");
    let (status, tombstone) = app.call(Method::DELETE, &path, Some(&ana), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tombstone["data"]["reactions"], json!([]), "deleting clears them");
    for method in [Method::PUT, Method::DELETE] {
        assert_error(
            &react(&app, method, &ana, id, "🎉").await,
            StatusCode::CONFLICT,
            "message_deleted",
        );
    }
}

#[tokio::test]
async fn a_message_takes_at_most_twenty_distinct_emojis() {
    let app = spawn_app_with(&["--message-burst", "100"]).await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    let message = app.send(&ana, "o1", "vote").await;
    let id = message["id"].as_str().unwrap();
    let emojis: Vec<String> = (0..20)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for e in &emojis {
        let (status, _) = react(&app, Method::PUT, &ana, id, e).await;
        assert_eq!(status, StatusCode::OK);
    }
    let refused = react(&app, Method::PUT, &dan, id, "👍").await;
    assert_error(&refused, StatusCode::CONFLICT, "too_many_reactions");
    let (status, body) = react(&app, Method::PUT, &dan, id, &emojis[0]).await;
    assert_eq!(status, StatusCode::OK, "one already there is still open to everyone");
    assert_eq!(body["data"]["reactions"][0]["count"], 2);
}

#[tokio::test]
async fn reactions_spend_the_message_budget() {
    let app = spawn_app_with(&["--message-burst", "2", "--message-rate-per-minute", "1"]).await;
    app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
    let (ana, dan) = (token("ana", "customer"), token("dan", "driver"));
    let message = app.send(&ana, "o1", "hi").await;
    let id = message["id"].as_str().unwrap();
    assert_eq!(react(&app, Method::PUT, &dan, id, "👍").await.0, StatusCode::OK);
    assert_eq!(react(&app, Method::DELETE, &dan, id, "👍").await.0, StatusCode::OK);
    let limited = react(&app, Method::PUT, &dan, id, "👍").await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

//! Every refusal carries the JSON error body, even those made before a handler runs:
//! a wrong method, a path segment that is not valid UTF-8, an unknown route.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn a_wrong_method_gets_405_with_allow_and_a_json_body() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/api/chat/messages", app.url))
        .bearer_auth(token("ana", "customer"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response
        .headers()
        .get("allow")
        .expect("Allow header")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("POST"), "Allow: {allow}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "content type"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_error(
        &(StatusCode::METHOD_NOT_ALLOWED, body),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn an_unparsable_path_segment_gets_a_json_400() {
    let app = spawn_app().await;
    let ana = token("ana", "customer");
    for path in ["/api/chat/orders/%FF/messages", "/api/chat/orders/%C3%28/unread-count"] {
        let result = app.get(path, &ana).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_request");
    }
    let result = app
        .call(Method::DELETE, "/api/chat/messages/%FE%FF", Some(&ana), None)
        .await;
    assert_error(&result, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn an_unknown_route_gets_a_json_404() {
    let app = spawn_app().await;
    assert_error(
        &app.get("/api/no/such/thing", &token("ana", "customer")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

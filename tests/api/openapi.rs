//! The OpenAPI document: served without a token, as built from the handlers.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn the_openapi_document_is_served_without_a_token() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/api/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let served: serde_json::Value = response.json().await.unwrap();
    assert_eq!(served, orderchat::http::openapi_document());
    assert_eq!(served["openapi"], "3.1.0");
    assert!(served["paths"]["/api/chat/messages"]["post"].is_object());
}

#[tokio::test]
async fn the_openapi_document_is_read_only() {
    let app = spawn_app().await;
    let (status, body) = app.call(Method::POST, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["code"], "method_not_allowed");
}

//! Browser origins: CORS for HTTP and the `Origin` check of Socket.IO handshakes.

use reqwest::StatusCode;

use crate::helpers::*;

const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

#[tokio::test]
async fn by_default_only_same_origin_pages_may_open_sockets() {
    let app = spawn_app().await;
    let handshake = |origin: Option<String>| {
        let mut request = app.client.get(format!("{}{HANDSHAKE}", app.url));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    // Not a browser (no Origin): allowed.
    assert_eq!(handshake(None).await.unwrap().status(), StatusCode::OK);
    // The page served from the server's own address: allowed.
    assert_eq!(handshake(Some(app.url.clone())).await.unwrap().status(), StatusCode::OK);
    let foreign = handshake(Some("https://evil.example".into())).await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(foreign.json::<serde_json::Value>().await.unwrap()["code"], "forbidden");
}

#[tokio::test]
async fn configured_origins_may_open_sockets_and_call_the_api() {
    let app = spawn_app_with(&["--cors-origins", "https://app.example,https://ops.example"]).await;
    let handshake = |origin: &'static str| {
        app.client
            .get(format!("{}{HANDSHAKE}", app.url))
            .header("origin", origin)
            .send()
    };
    assert_eq!(handshake("https://app.example").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        handshake("https://evil.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/api/chat/messages", app.url))
        .header("origin", "https://ops.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://ops.example"
    );
    let refused = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/api/chat/messages", app.url))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

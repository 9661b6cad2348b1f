//! The dispatcher console's files at `/console/`: served from `--console-dir` with a
//! strict CSP and cache headers, a clear refusal while it is not built, nothing outside
//! the directory.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION};
use serde_json::Value;

use crate::helpers::spawn_app_with;

/// A directory that looks like Vite's output.
fn built_console() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("assets")).expect("assets dir");
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>console</title>").expect("index");
    std::fs::write(dir.path().join("assets/index-4f2a.js"), "console.log(1)").expect("asset");
    dir
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn console_files_are_served_with_a_strict_policy() {
    let console = built_console();
    let app = spawn_app_with(&["--console-dir", &console.path().display().to_string()]).await;

    let page = get(&format!("{}/console/", app.url)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()[CACHE_CONTROL], "no-cache");
    assert!(page.text().await.unwrap().contains("<title>console</title>"));

    let asset = get(&format!("{}/console/assets/index-4f2a.js", app.url)).await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(asset.headers()[CACHE_CONTROL].to_str().unwrap().contains("immutable"));

    let bare = get(&format!("{}/console", app.url)).await;
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers()[LOCATION], "/console/");
    app.stop().await;
}

#[tokio::test]
async fn console_refuses_what_is_not_its_files() {
    let console = built_console();
    std::fs::write(console.path().parent().unwrap().join("secret.txt"), "no").ok();
    let app = spawn_app_with(&["--console-dir", &console.path().display().to_string()]).await;

    for path in [
        "/console/missing.js",
        "/console/../Cargo.toml",
        "/console/%2e%2e/secret.txt",
    ] {
        let response = get(&format!("{}{path}", app.url)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await.expect("JSON error body");
        assert_eq!(body["success"], false, "{path}");
    }
    let post = reqwest::Client::new()
        .post(format!("{}/console/", app.url))
        .send()
        .await
        .expect("request sent");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = post.json().await.expect("JSON error body");
    assert_eq!(body["code"], "method_not_allowed");
    app.stop().await;
}

#[tokio::test]
async fn console_not_built_says_how_to_build_it() {
    let empty = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_with(&["--console-dir", &empty.path().display().to_string()]).await;
    let response = get(&format!("{}/console/", app.url)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["code"], "console_not_built");
    assert!(body["message"].as_str().unwrap().contains("npm run build"), "{body}");
    // The API beside it is unaffected.
    let health = get(&format!("{}/healthz", app.url)).await;
    assert_eq!(health.status(), StatusCode::OK);
    app.stop().await;
}

//! `spawn_app()`: the real server on 127.0.0.1:0 with a fresh data directory, plus
//! helpers to mint tokens and call the API.
//!
//! With `ORDERCHAT_API_TEST_DATABASE_URL` set to a PostgreSQL server where the tests may
//! create databases, every server stores into a database of its own on it instead of
//! the SQLite file (a restarted server finds its database again through its data
//! directory), so the same stories run on both backends (`scripts/test` runs them twice).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use orderchat::app::Application;
use orderchat::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SECRET: &str = "test-secret-0123456789abcdef";

#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    config: Config,
}

pub struct TestApp {
    pub url: String,
    /// The server's database, for the few tests that set what no endpoint writes yet.
    pub database_url: String,
    pub client: reqwest::Client,
    _dir: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts a server with default limits.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a server with extra command-line flags (e.g. `--message-burst 2`).
pub async fn spawn_app_with(flags: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = spawn_in(dir.path().to_path_buf(), flags).await;
    app._dir = Some(dir);
    app
}

/// Starts a server on an existing data directory (for restart tests).
pub async fn spawn_in(data_dir: PathBuf, flags: &[&str]) -> TestApp {
    let mut args = vec![
        "orderchat".to_owned(),
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--jwt-secret".into(),
        SECRET.into(),
    ];
    let database_url = match postgres_database_for(&data_dir).await {
        Some(url) => {
            args.extend(["--database-url".to_owned(), url.clone()]);
            url
        }
        None => format!("sqlite://{}", data_dir.join("orderchat.db").display()),
    };
    args.extend(flags.iter().map(|f| f.to_string()));
    let config = TestCli::parse_from(args).config;
    let app = Application::build(config).await.expect("app builds");
    let url = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        url,
        database_url,
        client,
        _dir: None,
        stop: Some(stop),
        task: Some(task),
    }
}

/// The PostgreSQL database of the server on `data_dir`, created on its first start;
/// `None` when the tests run on SQLite.
async fn postgres_database_for(data_dir: &std::path::Path) -> Option<String> {
    use sqlx::Connection;
    let server = std::env::var("ORDERCHAT_API_TEST_DATABASE_URL").ok()?;
    let marker = data_dir.join("postgres-database");
    let name = match std::fs::read_to_string(&marker) {
        Ok(name) => name,
        Err(_) => {
            let name = format!("orderchat_api_{}", uuid::Uuid::now_v7().simple());
            let mut admin = sqlx::PgConnection::connect(&server).await.expect("PostgreSQL server");
            // The name is ours: a fixed prefix and hex digits.
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .expect("test database created");
            std::fs::write(&marker, &name).expect("database name kept");
            name
        }
    };
    let (base, _) = server.split_once('?').unwrap_or((&server, ""));
    let host_end = base.find("://").map_or(0, |i| i + 3);
    let server_part = match base[host_end..].find('/') {
        Some(slash) => &base[..host_end + slash],
        None => base,
    };
    Some(format!("{server_part}/{name}"))
}

impl TestApp {
    /// Graceful shutdown; returns once the database is flushed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
    }

    /// Keeps the data directory alive past `stop` (for restart tests).
    pub fn keep_data(&mut self) -> Option<TempDir> {
        self._dir.take()
    }

    /// Calls the API; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{}", self.url, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, body)
    }

    /// Runs one statement on the server's database directly, past the API: for what no
    /// endpoint writes yet (attachments on messages).
    pub async fn execute_sql(&self, sql: &str) {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if self.database_url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&self.database_url)
                .await
                .expect("SQLite");
            sqlx::query(sql).execute(&mut connection).await.expect("statement runs");
        } else {
            let mut connection = sqlx::PgConnection::connect(&self.database_url)
                .await
                .expect("PostgreSQL");
            sqlx::query(sql).execute(&mut connection).await.expect("statement runs");
        }
    }

    /// A GET whose answer is not JSON: the status, the headers and the body as text.
    pub async fn get_text(&self, path: &str, token: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let response = self
            .client
            .get(format!("{}{}", self.url, path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read in full");
        (status, headers, text)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Registers an order as the platform's service.
    pub async fn create_order(&self, order_id: &str, participants: &[(&str, &str)]) {
        let participants: Vec<Value> = participants
            .iter()
            .map(|(id, role)| json!({ "userId": id, "role": role, "name": id.to_uppercase() }))
            .collect();
        let (status, body) = self
            .call(
                Method::PUT,
                &format!("/api/orders/{order_id}"),
                Some(&token("platform", "service")),
                Some(json!({ "number": format!("N-{order_id}"), "status": "created", "participants": participants })),
            )
            .await;
        assert!(status.is_success(), "create order: {status} {body}");
    }

    /// Sends a text message and returns the stored message.
    pub async fn send(&self, token: &str, order_id: &str, text: &str) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/chat/messages",
                Some(token),
                Some(json!({ "orderId": order_id, "message": text })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "send: {body}");
        body["data"].clone()
    }
}

/// A valid token for `sub` with `role`, signed with the test secret.
pub fn token(sub: &str, role: &str) -> String {
    sign(json!({ "sub": sub, "role": role, "name": sub.to_uppercase(), "exp": now() + 3600 }))
}

pub fn sign(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token signs")
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Asserts an error response: status, stable code, and a non-empty message.
pub fn assert_error(result: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (actual, body) = result;
    assert_eq!(*actual, status, "status of {body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["code"], json!(code), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
}

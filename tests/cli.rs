//! The binary as a newcomer uses it: `serve` with no JWT configuration generates a
//! private dev secret, `token` mints a token the server accepts, SIGTERM exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_orderchat");

fn orderchat(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars() {
        if name.starts_with("ORDERCHAT_") {
            command.env_remove(name);
        }
    }
    command
        .env("ORDERCHAT_DATA_DIR", data_dir)
        .env("ORDERCHAT_BIND", "127.0.0.1:0");
    command
}

fn mint(data_dir: &std::path::Path, sub: &str, role: &str) -> String {
    let output = orderchat(data_dir)
        .args(["token", "--sub", sub, "--role", role, "--ttl", "10m"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "token: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn serve_with_no_configuration_then_token_then_send() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = orderchat(dir.path())
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The log says where it listens.
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let started = Instant::now();
    let addr = loop {
        let line = lines.next().expect("server log ended").unwrap();
        if let Some(addr) = line.split("listening on ").nth(1) {
            break addr.trim().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "server did not start");
    };
    std::thread::spawn(move || lines.for_each(drop));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("jwt-secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the dev secret is private");
    }

    let client = reqwest::Client::new();
    let service = mint(dir.path(), "platform", "service");
    let ana = mint(dir.path(), "ana", "customer");
    let order = client
        .put(format!("http://{addr}/api/orders/order-1"))
        .bearer_auth(&service)
        .json(&serde_json::json!({ "participants": [{ "userId": "ana", "role": "customer" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), reqwest::StatusCode::CREATED);
    let sent = client
        .post(format!("http://{addr}/api/chat/messages"))
        .bearer_auth(&ana)
        .json(&serde_json::json!({ "orderId": "order-1", "message": "Hi, where is my order?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), reqwest::StatusCode::CREATED);

    #[cfg(unix)]
    {
        let pid = server.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = server.wait().unwrap();
        assert!(status.success(), "SIGTERM exits 0, got {status}");
    }
    #[cfg(not(unix))]
    server.kill().unwrap();
}

#[test]
fn token_refuses_a_bad_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let output = orderchat(dir.path())
        .args(["token", "--sub", "a", "--role", "customer", "--ttl", "soon"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a duration"));
}

#[test]
fn migrate_creates_the_schema_and_logs_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let output = orderchat(dir.path())
        .args(["migrate", "--log-format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("orderchat.db").exists());
    let log = String::from_utf8_lossy(&output.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("schema is up to date"))
        .expect("migrate logs its result");
    let parsed: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(parsed["level"], "INFO");
    // Running it again on an up-to-date database is harmless.
    assert!(orderchat(dir.path()).arg("migrate").output().unwrap().status.success());
}

/// The database `orderchat archive` runs on: the data directory's SQLite file, or a new
/// PostgreSQL database when `ORDERCHAT_TEST_DATABASE_URL` names a server.
async fn archive_database(data_dir: &std::path::Path, postgres: bool) -> Option<String> {
    use sqlx::Connection;
    if !postgres {
        return Some(format!("sqlite://{}", data_dir.join("orderchat.db").display()));
    }
    let admin = std::env::var("ORDERCHAT_TEST_DATABASE_URL").ok()?;
    let name = format!("orderchat_cli_{}", uuid::Uuid::now_v7().simple());
    let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .unwrap();
    let (base, _) = admin.split_once('?').unwrap_or((&admin, ""));
    let host = base.find("://").map_or(0, |i| i + 3);
    let server = base[host..].find('/').map_or(base, |slash| &base[..host + slash]);
    Some(format!("{server}/{name}"))
}

async fn open(url: &str) -> std::sync::Arc<dyn orderchat::store::Store> {
    use orderchat::store::{PostgresStore, SqliteStore};
    if url.starts_with("sqlite:") {
        std::sync::Arc::new(SqliteStore::connect(url).await.unwrap())
    } else {
        std::sync::Arc::new(PostgresStore::connect(url).await.unwrap())
    }
}

/// `orderchat archive --dry-run` prints what would move and changes nothing; then
/// `orderchat archive` moves it, while a server runs on the same database.
async fn archive_cli_moves_backdated_messages(postgres: bool) {
    use orderchat::domain::{MessageText, MessageType, MessageUser, NewMessage, OrderId, Participant, UserId};
    use orderchat::store::{HistoryWindow, OrderRecord};

    let dir = tempfile::tempdir().unwrap();
    let Some(url) = archive_database(dir.path(), postgres).await else {
        eprintln!("skipped: ORDERCHAT_TEST_DATABASE_URL is not set");
        return;
    };
    let store = open(&url).await;
    let ana = UserId::parse("ana").unwrap();
    for id in ["o1", "o2"] {
        store
            .upsert_order(OrderRecord {
                id: OrderId::parse(id).unwrap(),
                number: None,
                status: Some("created".into()),
                participants: vec![Participant {
                    user_id: ana.clone(),
                    role: "customer".into(),
                    name: None,
                }],
            })
            .await
            .unwrap();
        for n in 0..3 {
            store
                .insert_message(NewMessage {
                    order_id: OrderId::parse(id).unwrap(),
                    author: Some(MessageUser {
                        id: ana.clone(),
                        name: None,
                        role: "customer".into(),
                    }),
                    text: MessageText::parse(&format!("line {n}"), 100).unwrap(),
                    message_type: MessageType::Text,
                    sender_type: orderchat::domain::SenderType::User,
                    reply_to: None,
                    client_id: None,
                    attachments: Vec::new(),
                })
                .await
                .unwrap();
        }
    }
    let o1 = OrderId::parse("o1").unwrap();
    store
        .backdate_messages(&o1, 2, "2020-01-01T00:00:00.000Z")
        .await
        .unwrap();
    store.close().await;

    // A server on the same database, its own archive job off.
    let mut server = orderchat(dir.path())
        .args(["serve", "--database-url", &url, "--archive-interval-secs", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("server log ended").unwrap();
        if line.contains("listening on ") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));

    let run = |dry_run: bool| {
        let mut command = orderchat(dir.path());
        command.args(["archive", "--database-url", &url]);
        if dry_run {
            command.arg("--dry-run");
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "archive: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let dry = run(true);
    assert!(dry.contains("order o1: would move 2 messages"), "{dry}");
    assert!(!dry.contains("o2"), "{dry}");
    assert!(dry.contains("total: would move 2 messages of 1 orders"), "{dry}");
    assert!(dry.contains("dry run, nothing changed"), "{dry}");
    let store = open(&url).await;
    let hot = store
        .history(&o1, HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!(hot.total, 3, "the dry run moved nothing");
    store.close().await;

    let moved = run(false);
    assert!(moved.contains("order o1: moved 2 messages"), "{moved}");
    assert!(moved.contains("total: moved 2 messages of 1 orders"), "{moved}");
    let store = open(&url).await;
    let hot = store
        .history(&o1, HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!(hot.items.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3]);
    let all = store
        .history_with_archive(&o1, HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!(all.items.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    store.close().await;
    assert!(run(false).contains("total: moved 0 messages of 0 orders"));

    #[cfg(unix)]
    {
        let pid = server.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        assert!(server.wait().unwrap().success());
    }
    #[cfg(not(unix))]
    server.kill().unwrap();
}

#[tokio::test]
async fn archive_cli_on_sqlite_beside_a_running_server() {
    archive_cli_moves_backdated_messages(false).await;
}

#[tokio::test]
async fn archive_cli_on_postgres_beside_a_running_server() {
    archive_cli_moves_backdated_messages(true).await;
}

#[test]
fn out_of_range_retention_and_archive_batch_are_refused() {
    // `migrate` reads the same settings as `serve` and exits once done, so a value
    // that were accepted would show as a success here, not as a hang.
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--notification-retention-days", "0"),
        ("--archive-batch", "0"),
        ("--archive-batch", "100001"),
    ] {
        let output = orderchat(dir.path()).args(["migrate", flag, value]).output().unwrap();
        assert!(!output.status.success(), "{flag} {value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(flag),
            "{flag} {value}: the refusal names the flag: {stderr}"
        );
    }
}

#[test]
fn token_console_url_opens_the_console_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    let link = |extra: &[&str]| {
        let output = orderchat(dir.path())
            .args([
                "token",
                "--sub",
                "dina",
                "--role",
                "dispatcher",
                "--bind",
                "0.0.0.0:4000",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let local = link(&["--console-url"]);
    let token = local
        .strip_prefix("http://127.0.0.1:4000/console/#token=")
        .unwrap_or_else(|| panic!("unexpected link {local}"));
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let public = link(&["--console-url", "https://chat.example.com/"]);
    assert!(
        public.starts_with("https://chat.example.com/console/#token="),
        "{public}"
    );
}

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

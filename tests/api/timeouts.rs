//! Slow clients cannot hold connections: headers, idle keep-alive connections and
//! request bodies each have a deadline (1 s here), after which the server closes the
//! connection. Each test speaks raw HTTP over TCP, as a slow or silent client would.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const FLAGS: &[&str] = &["--http-header-timeout-secs", "1", "--http-body-timeout-secs", "1"];
/// Far above the 1 s deadlines, so a busy machine cannot fail the tests.
const PATIENCE: Duration = Duration::from_secs(15);

async fn open(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection; returns what it sent. Panics if the
/// connection is still open after `PATIENCE`.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&received).into_owned(),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "connection still open after {PATIENCE:?}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = spawn_app_with(FLAGS).await;
    let mut stream = open(&app).await;
    let started = Instant::now();
    let received = read_until_closed(&mut stream).await;
    assert_eq!(received, "", "nothing is answered to a silent client");
    assert!(started.elapsed() >= Duration::from_millis(900), "closed too early");
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_are_cut_off() {
    let app = spawn_app_with(FLAGS).await;
    let mut stream = open(&app).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = Instant::now();
    let mut closed = false;
    for byte in request.iter().take(request.len() - 2) {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > PATIENCE {
            break;
        }
    }
    if !closed {
        let received = read_until_closed(&mut stream).await;
        assert!(!received.contains("200 OK"), "the slow request was served: {received}");
    }
    assert!(
        started.elapsed() < PATIENCE,
        "slow headers were accepted for {PATIENCE:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(FLAGS).await;
    let mut stream = open(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408_and_the_connection_closes() {
    let app = spawn_app_with(FLAGS).await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let mut stream = open(&app).await;
    let head = format!(
        "POST /api/chat/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"orderId\":\"o1\",\"message\":\"",
        token("ana", "customer")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Keep trickling in the background; the answer must come anyway.
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut received = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => continue,
        }
    }
    trickle.abort();
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    assert!(
        received.to_ascii_lowercase().contains("connection: close"),
        "{received}"
    );
    assert!(received.contains(r#""code":"request_timeout""#), "{received}");
    // Nothing was stored from the half-sent body.
    let (_, history) = app.get("/api/chat/orders/o1/messages", &token("ana", "customer")).await;
    assert_eq!(history["data"].as_array().map(Vec::len), Some(0), "{history}");
}

//! Export: an order's whole chat as a JSON or CSV file, streamed; the same refusals as
//! history.

use futures::StreamExt;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> &str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Rows and cells of an RFC 4180 document (CRLF between rows, quoted cells may hold
/// commas, doubled quotes and line breaks); fails on anything else.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "rows end with CRLF");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => {
                assert!(c != '"' && c != '\n', "bare {c:?} in an unquoted cell of {text:?}");
                cell.push(c);
            }
        }
    }
    assert!(
        !quoted && cell.is_empty() && row.is_empty(),
        "the document ends with a row"
    );
    rows
}

const HEADER: [&str; 13] = [
    "seq",
    "id",
    "createdAt",
    "senderType",
    "userId",
    "userName",
    "userRole",
    "messageType",
    "message",
    "deleted",
    "editedAt",
    "replyTo",
    "attachments",
];

#[tokio::test]
async fn json_export_holds_every_message_with_tombstones_and_attachments() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    let dan = token("dan", "dispatcher");
    let first = app.send(&ana, "o1", "hello").await;
    app.send(&dan, "o1", "hi, how can I help?").await;
    let gone = app.send(&ana, "o1", "oops, wrong chat").await;
    let path = format!("/api/chat/messages/{}", gone["id"].as_str().unwrap());
    let (status, _) = app.call(Method::DELETE, &path, Some(&ana), None).await;
    assert_eq!(status, StatusCode::OK);
    let attachment = json!({ "id": "f1", "fileName": "label, \"v2\".pdf", "contentType": "application/pdf",
                             "size": 1234, "url": "/api/chat/attachments/f1", "thumbnailUrl": null });
    app.execute_sql(&format!(
        "UPDATE messages SET attachments = '{}' WHERE id = '{}'",
        json!([attachment]),
        first["id"].as_str().unwrap()
    ))
    .await;

    for (token, path) in [
        (&ana, "/api/chat/orders/o1/export"),
        (&dan, "/api/chat/orders/o1/export?format=json"),
    ] {
        let (status, headers, text) = app.get_text(path, token).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(header(&headers, CONTENT_TYPE), "application/json");
        assert_eq!(
            header(&headers, CONTENT_DISPOSITION),
            "attachment; filename=\"order-o1.json\""
        );
        let file: Value = serde_json::from_str(&text).expect("one JSON document");
        assert_eq!(file["orderId"], "o1");
        assert_eq!(file["order"]["number"], "N-o1");
        assert_eq!(file["order"]["lastSeq"], 3);
        assert!(file["exportedAt"].is_string());
        let messages = file["messages"].as_array().unwrap();
        let seqs: Vec<i64> = messages.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        // Each message as history shows it.
        let (_, history) = app.get("/api/chat/orders/o1/messages", token).await;
        assert_eq!(messages, history["data"].as_array().unwrap());
        assert_eq!(messages[0]["attachments"], json!([attachment]));
        assert_eq!(messages[1]["senderType"], "admin");
        assert_eq!(messages[2]["deleted"], true);
        assert_eq!(messages[2]["message"], "");
    }
}

#[tokio::test]
async fn csv_export_quotes_separators_and_defuses_formulas() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    let texts = [
        "=1+1",
        "+cmd",
        "-2",
        "@SUM(A1:A2)",
        "a, b",
        "say \"hi\"",
        "two\nlines",
        "plain text",
    ];
    for text in texts {
        app.send(&ana, "o1", text).await;
    }
    let (status, headers, text) = app.get_text("/api/chat/orders/o1/export?format=csv", &ana).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(header(&headers, CONTENT_TYPE), "text/csv; charset=utf-8");
    assert_eq!(
        header(&headers, CONTENT_DISPOSITION),
        "attachment; filename=\"order-o1.csv\""
    );
    let rows = parse_csv(&text);
    assert_eq!(rows[0], HEADER);
    assert_eq!(rows.len(), 1 + texts.len());
    let cells: Vec<&str> = rows[1..].iter().map(|row| row[8].as_str()).collect();
    assert_eq!(
        cells,
        [
            "'=1+1",
            "'+cmd",
            "'-2",
            "'@SUM(A1:A2)",
            "a, b",
            "say \"hi\"",
            "two\nlines",
            "plain text"
        ]
    );
    // As encoded: quoted where needed, quotes doubled, the line break kept inside.
    assert!(text.contains(",\"a, b\","), "{text}");
    assert!(text.contains(",\"say \"\"hi\"\"\","), "{text}");
    assert!(text.contains(",\"two\nlines\","), "{text}");
    let first = &rows[1];
    assert_eq!(first[0], "1");
    assert_eq!(&first[3..8], ["user", "ana", "ANA", "customer", "text"]);
    assert_eq!((first[9].as_str(), first[10].as_str()), ("false", ""));
    assert_eq!(first[12], "[]");
}

#[tokio::test]
async fn csv_cells_from_names_and_attachments_are_defused_too_and_file_names_sanitised() {
    let app = spawn_app().await;
    // `a"b;c` in the path.
    app.create_order("a%22b%3Bc", &[("ana", "customer")]).await;
    let mallory = sign(
        json!({ "sub": "ana", "role": "customer", "name": "=HYPERLINK(\"http://x\")",
                               "exp": now() + 3600 }),
    );
    let sent = app.send(&mallory, "a\"b;c", "hi").await;
    app.execute_sql(&format!(
        "UPDATE messages SET attachments = '[{{\"id\":\"f\",\"fileName\":\"-x.pdf\",\"contentType\":\"a/b\",\"size\":1,\"url\":\"/u\"}}]' WHERE id = '{}'",
        sent["id"].as_str().unwrap()
    ))
    .await;
    let (status, headers, text) = app
        .get_text("/api/chat/orders/a%22b%3Bc/export?format=CSV", &mallory)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        header(&headers, CONTENT_DISPOSITION),
        "attachment; filename=\"order-a_b_c.csv\""
    );
    let rows = parse_csv(&text);
    assert_eq!(rows[1][5], "'=HYPERLINK(\"http://x\")");
    let attachments: Value = serde_json::from_str(&rows[1][12]).expect("attachments as JSON");
    assert_eq!(attachments[0]["fileName"], "-x.pdf");
}

#[tokio::test]
async fn outsiders_unknown_orders_and_unknown_formats_are_refused() {
    let app = spawn_app().await;
    app.create_order("o1", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    app.send(&ana, "o1", "private").await;
    let eve = token("eve", "customer");
    for path in ["/api/chat/orders/o1/export", "/api/chat/orders/o1/export?format=csv"] {
        assert_error(&app.get(path, &eve).await, StatusCode::NOT_FOUND, "order_not_found");
    }
    assert_error(
        &app.get("/api/chat/orders/nope/export", &ana).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    for format in ["xml", "", "json,csv"] {
        let result = app
            .get(&format!("/api/chat/orders/o1/export?format={format}"), &ana)
            .await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_query");
        assert!(result.1["message"].as_str().unwrap().contains("format"), "{}", result.1);
    }
    let (status, body) = app.call(Method::GET, "/api/chat/orders/o1/export", None, None).await;
    assert_error(&(status, body), StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_long_chat_is_streamed_whole_in_seq_order() {
    const COUNT: usize = 3_000;
    let app = spawn_app_with(&["--message-burst", "10000", "--message-rate-per-minute", "1000000"]).await;
    app.create_order("big", &[("ana", "customer")]).await;
    let ana = token("ana", "customer");
    futures::stream::iter(1..=COUNT)
        .for_each_concurrent(64, |n| {
            let (app, ana) = (&app, &ana);
            async move {
                app.send(ana, "big", &format!("message {n}, \"quoted\"")).await;
            }
        })
        .await;

    let (status, headers, text) = app.get_text("/api/chat/orders/big/export?format=csv", &ana).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(CONTENT_LENGTH).is_none(), "streamed, not sized in advance");
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 1 + COUNT);
    let seqs: Vec<usize> = rows[1..].iter().map(|row| row[0].parse().unwrap()).collect();
    assert_eq!(seqs, (1..=COUNT).collect::<Vec<_>>());

    let (status, headers, text) = app.get_text("/api/chat/orders/big/export", &ana).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(CONTENT_LENGTH).is_none(), "streamed, not sized in advance");
    let file: Value = serde_json::from_str(&text).expect("one JSON document");
    let seqs: Vec<usize> = file["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(seqs, (1..=COUNT).collect::<Vec<_>>());
}

//! Arbitrary bytes into every parser that takes client input: the bytes as text into
//! the ids, message text and search text; as JSON into the request bodies and the
//! Socket.IO payload readers; as integers into history paging. A crash is a panic in
//! a parser, or a result that breaks the rule the property tests (`tests/props`)
//! state: a valid value keeps its invariants, a refusal is a 4xx with a code and a
//! message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orderchat::chat::{HistoryQuery, OrderUpdate, PutOrder, SearchQuery, SendMessage};
use orderchat::domain::{ClientId, MessageText, OrderId, UserId};
use orderchat::error::Error;
use orderchat::input::from_json_object;
use orderchat::realtime::payload::{optional_seq, order_ref};
use serde_json::Value;

fn refused(err: &Error) {
    assert!(err.status().is_client_error(), "{err:?} is not a 4xx");
    assert!(!err.code().is_empty() && !err.to_string().trim().is_empty(), "{err:?}");
}

fn valid_id(id: &str) -> bool {
    id == id.trim() && !id.is_empty() && id.chars().count() <= 128 && !id.chars().any(char::is_control)
}

fn ids(text: &str) {
    let parsed = [
        OrderId::parse(text).map(|id| id.as_str().to_owned()),
        UserId::parse(text).map(|id| id.as_str().to_owned()),
        ClientId::parse(text).map(|id| id.as_str().to_owned()),
    ];
    for result in parsed {
        match result {
            Ok(id) => assert!(valid_id(&id) && id == text.trim(), "{id:?}"),
            Err(err) => refused(&err),
        }
    }
}

fn message_text(text: &str) {
    match MessageText::parse(text, 4000) {
        Ok(parsed) => {
            let parsed = parsed.as_str();
            assert!(!parsed.trim().is_empty() && parsed.chars().count() <= 4000);
            assert!(!parsed.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        }
        Err(err) => refused(&err),
    }
}

/// Up to four optional integers from the first bytes (9 bytes each: a presence
/// byte, then the value).
fn numbers(data: &[u8]) -> [Option<i64>; 4] {
    std::array::from_fn(|i| {
        let chunk = data.get(i * 9..i * 9 + 9)?;
        let bytes: [u8; 8] = chunk[1..].try_into().ok()?;
        (chunk[0] % 4 != 0).then(|| i64::from_le_bytes(bytes))
    })
}

fn search(text: &str, [page, limit, ..]: [Option<i64>; 4]) {
    match SearchQuery::parse(Some(text), page, limit) {
        Ok(query) => {
            let fts = orderchat::store::fts5_expression(query.terms());
            assert!(fts.starts_with('"') && fts.ends_with("\"*"), "{fts:?}");
            assert!((1..=1_000_000).contains(&query.page()) && (1..=200).contains(&query.limit()));
        }
        Err(err) => refused(&err),
    }
}

fn history([page, limit, before, after]: [Option<i64>; 4]) {
    if let Err(err) = HistoryQuery::parse(page, limit, before, after) {
        refused(&err);
    }
}

fn bodies(value: &Value) {
    if let Err(err) = from_json_object::<SendMessage>(value.clone()) {
        refused(&err);
    }
    if let Err(err) = from_json_object::<PutOrder>(value.clone()) {
        refused(&err);
    }
    if let Err(err) = from_json_object::<OrderUpdate>(value.clone()) {
        refused(&err);
    }
}

fn payload(value: Value) {
    match order_ref(value) {
        Ok((id, fields)) => {
            assert!(valid_id(id.as_str()) && !fields.contains_key("orderId"));
            for name in ["seq", "sinceSeq"] {
                match optional_seq(&fields, name) {
                    Ok(seq) => assert!(seq.is_none_or(|n| n >= 0)),
                    Err(err) => refused(&err),
                }
            }
        }
        Err(err) => refused(&err),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    ids(&text);
    message_text(&text);
    search(&text, numbers(data));
    history(numbers(data));
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        bodies(&value);
        payload(value);
    }
});

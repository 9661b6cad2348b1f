//! Generators of hostile client input, shared by the parser properties (`tests/props`)
//! and the HTTP properties (`tests/api/fuzz.rs`): strings made of control characters,
//! odd whitespace, FTS5 syntax and boundary lengths; numbers at the edges; and
//! arbitrary JSON trees, plus "almost right" request bodies that get past the first
//! checks so the deeper ones are exercised too.
#![allow(dead_code)] // each test crate uses a different part of this file

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Pieces that break naive parsers: every kind of control character and whitespace,
/// invisible and bidi format characters, combining marks, letters and numbers outside
/// ASCII, quotes, FTS5 operators and column filters, URL and path characters.
const NASTY: &[&str] = &[
    "\0",
    "\u{1}",
    "\u{7}",
    "\u{8}",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\r\r\n",
    "\u{b}",
    "\u{c}",
    "\u{1b}",
    "\u{7f}",
    "\u{85}",
    "\u{9f}",
    "\u{a0}",
    "\u{2028}",
    "\u{2029}",
    "\u{200b}",
    "\u{200e}",
    "\u{202e}",
    "\u{feff}",
    "\u{3000}",
    "\u{fffd}",
    "\u{ffff}",
    "\u{10ffff}",
    "\u{301}",
    "\u{902}",
    "\u{1f600}",
    "\u{1f469}\u{200d}\u{1f4bb}",
    "é",
    "ß",
    "İ",
    "ǅ",
    "Ⅻ",
    "²",
    "½",
    "٣",
    "한",
    "中",
    "\"",
    "\"\"",
    "'",
    "`",
    "*",
    "^",
    "-",
    "_",
    "+",
    ":",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "NEAR(",
    "NEAR/2",
    "NEAR",
    "OR",
    "AND",
    "NOT",
    "col:",
    "message:",
    "{message}:",
    "- ",
    "%",
    "%00",
    "%FF",
    "%2F",
    "/",
    "\\",
    "..",
    "?",
    "#",
    "&",
    "=",
    ";",
    "<",
    ">",
    "$",
    "null",
    "true",
    "0",
    "-1",
    "1e999",
    "NaN",
    " ",
    "  ",
    "a",
    "Z",
    "order",
    "o1",
];

/// Lengths just around the limits: ids 128, search 200, order texts 200, notes 1000,
/// message text 4000, and well past the request body limit (64 KiB).
fn boundary_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        5 => 126usize..=130,
        5 => 198usize..=202,
        5 => 998usize..=1002,
        5 => 3998usize..=4002,
        1 => Just(70_000usize),
    ]
}

/// A string built from a repeated piece, sized around a limit, sometimes padded with
/// whitespace (which trimming must not count).
fn long_string() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["x", "é", "\u{1f600}", "a ", "\u{7}", "ab\n"][..]),
        boundary_len(),
        any::<bool>(),
    )
        .prop_map(|(piece, len, pad)| {
            let body: String = piece.chars().cycle().take(len).collect();
            if pad { format!("  {body}\t\n") } else { body }
        })
}

/// A short concatenation of nasty pieces, words and arbitrary characters.
fn mixed_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(NASTY).prop_map(str::to_owned),
        2 => "[a-zA-Z0-9]{1,8}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

/// Any string a client might send.
pub fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => mixed_string(),
        2 => any::<String>(),
        1 => long_string(),
    ]
}

/// Integers at the edges of every range the server checks.
pub fn edge_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        prop::sample::select(
            &[
                i64::MIN,
                i64::MIN + 1,
                -1_000_001,
                -1,
                0,
                1,
                2,
                199,
                200,
                201,
                999_999,
                1_000_000,
                1_000_001,
                i64::MAX - 1,
                i64::MAX,
            ][..]
        ),
        -3i64..300,
        any::<i64>(),
    ]
}

/// JSON numbers: edge integers, beyond `i64` (`u64::MAX`), floats, negative zero.
pub fn json_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        3 => edge_i64().prop_map(Number::from),
        1 => prop::sample::select(&[u64::MAX, i64::MAX as u64 + 1][..]).prop_map(Number::from),
        1 => prop::sample::select(&[0.5, -0.0, 1.0, -1.5, 1e300, -1e300, f64::MIN_POSITIVE, 4000.0][..])
            .prop_map(|f| Number::from_f64(f).expect("finite")),
        1 => any::<f64>().prop_filter_map("finite", Number::from_f64),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number().prop_map(Value::Number),
        hostile_string().prop_map(Value::String),
    ]
}

/// Field names of every body and payload, so random objects often hit real fields.
pub const KNOWN_KEYS: &[&str] = &[
    "orderId",
    "message",
    "messageType",
    "attachments",
    "replyTo",
    "clientId",
    "number",
    "status",
    "participants",
    "userId",
    "role",
    "name",
    "note",
    "seq",
    "sinceSeq",
    "token",
    "senderType",
];

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KNOWN_KEYS).prop_map(str::to_owned),
        1 => hostile_string(),
    ]
}

/// An arbitrary JSON tree (a few levels deep, a few dozen nodes).
pub fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A value for a known field: usually a plausible type with hostile content,
/// sometimes anything at all.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => hostile_string().prop_map(Value::String),
        1 => prop::sample::select(&["o1", "text", "system", "file", "delivered", "hello world", "ana"][..])
            .prop_map(Value::from),
        1 => json_number().prop_map(Value::Number),
        1 => Just(Value::Null),
        1 => prop::collection::vec(hostile_string().prop_map(Value::String), 0..3).prop_map(Value::Array),
        1 => participants().prop_map(Value::Array),
        2 => json_value(),
    ]
}

/// An id as clients send it: usually a string, sometimes a number, sometimes the
/// order the HTTP properties registered.
fn id_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => hostile_string().prop_map(Value::String),
        1 => json_number().prop_map(Value::Number),
        3 => Just(Value::from("o1")),
    ]
}

/// Something shaped like a participant list (usually `{ userId, role, name? }` with
/// hostile values), sometimes past the limit of 100.
fn participants() -> impl Strategy<Value = Vec<Value>> {
    let text = || hostile_string().prop_map(Value::String);
    let shaped = (id_value(), text(), prop::option::of(text())).prop_map(|(user_id, role, name)| {
        let mut fields = Map::new();
        fields.insert("userId".into(), user_id);
        fields.insert("role".into(), role);
        if let Some(name) = name {
            fields.insert("name".into(), name);
        }
        Value::Object(fields)
    });
    let loose = prop::collection::vec(
        (
            prop::sample::select(&["userId", "role", "name"][..]),
            prop_oneof![3 => text(), 1 => json_number().prop_map(Value::Number), 1 => json_value()],
        ),
        0..4,
    )
    .prop_map(|fields| Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    let participant = prop_oneof![3 => shaped, 1 => loose];
    prop_oneof![
        8 => prop::collection::vec(participant.clone(), 0..4),
        1 => prop::collection::vec(participant, 99..=102),
    ]
}

/// An object with the given fields always present and some optional ones.
fn object_with(
    required: Vec<(&'static str, BoxedStrategy<Value>)>,
    optional: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    let extras = prop::collection::vec((prop::sample::select(optional), field_value()), 0..=optional.len());
    let required: Vec<BoxedStrategy<(String, Value)>> = required
        .into_iter()
        .map(|(key, value)| value.prop_map(move |v| (key.to_owned(), v)).boxed())
        .collect();
    (required, extras).prop_map(|(required, extras)| {
        let mut object: Map<String, Value> = extras.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        object.extend(required);
        Value::Object(object)
    })
}

/// Shaped like the body of `POST /api/chat/messages` (and `send-message`): `orderId`
/// and `message` always there, other fields sometimes, every value hostile.
pub fn send_message_like() -> impl Strategy<Value = Value> {
    object_with(
        vec![
            ("orderId", id_value().boxed()),
            (
                "message",
                prop_oneof![2 => hostile_string(), 1 => "[a-zA-Z0-9 .,!?]{1,80}"]
                    .prop_map(Value::String)
                    .boxed(),
            ),
        ],
        &["messageType", "attachments", "replyTo", "clientId", "senderType"],
    )
}

/// Shaped like the body of `PUT` / `PATCH /api/orders/:orderId`.
pub fn order_like() -> impl Strategy<Value = Value> {
    object_with(
        vec![("participants", participants().prop_map(Value::Array).boxed())],
        &["number", "status", "note"],
    )
}

/// An object made mostly of real field names with hostile values, or shaped like one
/// of the real bodies: the "almost a valid request" that gets past the JSON shape and
/// reaches the checks behind it.
pub fn body_like() -> impl Strategy<Value = Value> {
    let loose = prop::collection::vec((json_key(), field_value()), 0..7)
        .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>()));
    prop_oneof![
        2 => loose,
        2 => send_message_like(),
        1 => order_like(),
    ]
}

/// Any JSON a client might send as a body or an event payload.
pub fn any_body() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => body_like(),
        2 => json_value(),
    ]
}

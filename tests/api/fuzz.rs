//! Property-based fuzzing of the HTTP API: the real server (started once per test)
//! receives arbitrary JSON bodies, raw non-JSON bytes under any content type,
//! percent-encoded path segments, query strings and methods, with valid tokens. The
//! contract (SPEC §4, §6): never a 5xx; a success is `{ success: true, … }`; every
//! refusal, however early, is a 4xx with `{ success: false, code, message }`.
//!
//! The two halves are separate tests over the same inputs, so a refusal that is not
//! JSON yet can never hide a 500: `client_input_never_gets_a_server_error` checks
//! status and success bodies only, `every_refusal_is_the_json_error_body` adds the
//! refusal body. Every property of a test runs even when an earlier one fails, and
//! the test lists each minimal failing input at the end. Cases per property:
//! `FUZZ_CASES` (default 128).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, token};
use crate::strategies::{any_body, edge_i64, hostile_string, json_number, json_value, order_like, send_message_like};

/// What a response is held to.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    /// Never a 5xx, only 2xx/4xx; a 2xx carries `success: true`.
    NoServerError,
    /// The above, and every refusal carries the JSON error body.
    JsonRefusals,
}

/// The server under test, with an order and a message to aim at.
struct Target {
    app: TestApp,
    /// A client without keep-alive: the server may close a connection after refusing
    /// a body it did not read, and that must not fail the next, unrelated request.
    client: reqwest::Client,
    /// Customer `ana`, participant of `o1`.
    customer: String,
    /// Staff: sees every order.
    staff: String,
    /// The platform: manages orders.
    service: String,
    /// A message of `o1` by `ana`.
    message_id: String,
    /// How often each status was seen by the current property, to show what the
    /// inputs reached.
    statuses: Mutex<BTreeMap<u16, u32>>,
}

impl Target {
    async fn start() -> Self {
        // Rate limits would turn most sends into 429s before their body is looked at.
        let app = spawn_app_with(&["--message-burst", "1000000", "--message-rate-per-minute", "1000000"]).await;
        app.create_order("o1", &[("ana", "customer"), ("dan", "driver")]).await;
        app.create_order("o-fuzz", &[("ana", "customer")]).await;
        let customer = token("ana", "customer");
        let message = app.send(&customer, "o1", "hello, where is the driver?").await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client");
        Target {
            client,
            message_id: message["id"].as_str().expect("message id").to_owned(),
            app,
            customer,
            staff: token("disp", "dispatcher"),
            service: token("platform", "service"),
            statuses: Mutex::default(),
        }
    }

    fn token(&self, who: Who) -> &str {
        match who {
            Who::Customer => &self.customer,
            Who::Staff => &self.staff,
            Who::Service => &self.service,
        }
    }

    /// Sends a request and holds the response to `check`. A URL the client itself
    /// cannot build is no request, so it passes.
    async fn send(&self, check: Check, request: Request) -> Result<(), TestCaseError> {
        let url = format!("{}{}", self.app.url, request.path);
        let mut builder = self
            .client
            .request(request.method.clone(), &url)
            .bearer_auth(self.token(request.who));
        if let Some(content_type) = &request.content_type {
            builder = builder.header(CONTENT_TYPE, content_type.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(err) if err.is_builder() => return Ok(()),
            Err(err) => return Err(TestCaseError::fail(format!("NO RESPONSE for {request:?}: {err:?}"))),
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        *self
            .statuses
            .lock()
            .expect("status counts")
            .entry(status.as_u16())
            .or_default() += 1;

        prop_assert!(
            !status.is_server_error(),
            "SERVER ERROR {status} for {request:?}: {text}"
        );
        prop_assert!(
            status.is_success() || status.is_client_error(),
            "unexpected {status} for {request:?}: {text}"
        );
        if status.is_success() && request.method == Method::OPTIONS {
            // The CORS layer answers every OPTIONS itself, with headers and no body.
            return Ok(());
        }
        if status.is_success() {
            let success = body.as_ref().map(|b| b["success"] == json!(true));
            prop_assert_eq!(success, Some(true), "{} for {:?}: {}", status, request, text);
            return Ok(());
        }
        if check == Check::JsonRefusals {
            // Including axum's own rejections (a path id that is not UTF-8 after
            // percent-decoding, a method the route does not take, a body over the limit
            // on a `Bytes` extractor), which `http::json_refusals` turns into our body.
            let json_type = content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json"));
            let shaped = body.as_ref().is_some_and(|b| {
                b["success"] == json!(false)
                    && b["code"]
                        .as_str()
                        .is_some_and(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                    && b["message"].as_str().is_some_and(|m| !m.trim().is_empty())
            });
            prop_assert!(
                json_type && shaped,
                "REFUSAL NOT JSON: {status} {content_type:?} {text:?} for {request:?}"
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Who {
    Customer,
    Staff,
    Service,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![Just(Who::Customer), Just(Who::Staff), Just(Who::Service)]
}

/// One request to send; `{message}` in a path stands for the message id.
#[derive(Clone)]
struct Request {
    method: Method,
    path: String,
    who: Who,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

/// Bodies shown as text, cut short: a failure report must stay readable.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} as {:?}", self.method, self.path, self.who)?;
        if let Some(content_type) = &self.content_type {
            write!(f, ", Content-Type: {content_type:?}")?;
        }
        if let Some(body) = &self.body {
            let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
            write!(f, ", body ({} bytes): {text:?}", body.len())?;
        }
        Ok(())
    }
}

impl Request {
    fn new(method: Method, path: String, who: Who) -> Self {
        Request {
            method,
            path,
            who,
            content_type: None,
            body: None,
        }
    }

    fn json(mut self, body: &Value) -> Self {
        self.content_type = Some("application/json".into());
        self.body = Some(serde_json::to_vec(body).expect("JSON serializes"));
        self
    }
}

/// Every byte but the unreserved ones as `%XX`.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A path segment: hostile text or raw bytes (not always UTF-8), percent-encoded;
/// broken escapes; a real id now and then.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => hostile_string().prop_map(|s| percent_encode(s.as_bytes())),
        2 => prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| percent_encode(&b)),
        1 => prop::sample::select(&["%", "%zz", "%F", "%FF", "%C3%28", "%00", "%2F", "%2e%2e", "a%20b", "%E2%80%AE", "o1", "o-fuzz"][..])
            .prop_map(str::to_owned),
    ]
}

/// A query string: known and unknown keys, edge numbers, floats, signs, hostile text
/// and bytes, duplicates, keys without `=`.
fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => prop::sample::select(&["page", "limit", "before", "after", "q", "includeArchived", "format"][..])
            .prop_map(str::to_owned),
        1 => hostile_string().prop_map(|s| percent_encode(s.as_bytes())),
    ];
    let value = prop_oneof![
        3 => edge_i64().prop_map(|n| n.to_string()),
        1 => json_number().prop_map(|n| percent_encode(n.to_string().as_bytes())),
        1 => prop::sample::select(&["", "-0", "+1", "%201", "1%20", "0x10", "1_000", "99999999999999999999", "%FF", "%", "a+b", "true"][..])
            .prop_map(str::to_owned),
        2 => hostile_string().prop_map(|s| percent_encode(s.as_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..20).prop_map(|b| percent_encode(&b)),
    ];
    let pair = (key, prop::option::of(value)).prop_map(|(k, v)| match v {
        Some(v) => format!("{k}={v}"),
        None => k,
    });
    prop::collection::vec(pair, 0..6).prop_map(|pairs| pairs.join("&"))
}

/// Raw bodies: bytes, JSON cut short or spliced with a byte, nesting past the parser's
/// depth limit, whitespace, a body over the 64 KiB limit.
fn raw_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..200),
        3 => (any_body(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(value, at, byte)| {
            let mut bytes = serde_json::to_vec(&value).expect("JSON serializes");
            let at = at.index(bytes.len() + 1);
            if byte % 2 == 0 { bytes.truncate(at) } else { bytes.insert(at, byte) }
            bytes
        }),
        1 => (1usize..400).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
        1 => (1usize..400).prop_map(|depth| "{\"seq\":".repeat(depth).into_bytes()),
        1 => prop::sample::select(&["", " ", "\n\t ", "null", "{}", "[]", "\"x\"", "1e999", "{\"seq\":1e999}", "\u{feff}{}"][..])
            .prop_map(|s| s.as_bytes().to_vec()),
        1 => (64 * 1024 - 2..64 * 1024 + 64usize).prop_map(|len| {
            let mut bytes = b"{\"message\":\"".to_vec();
            bytes.resize(len - 2, b'x');
            bytes.extend_from_slice(b"\"}");
            bytes
        }),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        3 => Just(Some("application/json".to_owned())),
        2 => prop::sample::select(&[
            "application/json; charset=utf-8",
            "application/json; charset=utf-16",
            "APPLICATION/JSON",
            "application/problem+json",
            "application/jsonx",
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/octet-stream",
            "*/*",
            "",
            ";",
            "application/",
        ][..])
        .prop_map(|s| Some(s.to_owned())),
    ]
}

/// The routes that take a body, with the caller that may use them.
fn body_route() -> impl Strategy<Value = (Method, &'static str, Who)> {
    prop::sample::select(
        &[
            (Method::POST, "/api/chat/messages", Who::Customer),
            (Method::PUT, "/api/orders/o-fuzz", Who::Service),
            (Method::PATCH, "/api/orders/o-fuzz", Who::Service),
            (Method::PATCH, "/api/chat/orders/o1/read", Who::Customer),
            (Method::PATCH, "/api/chat/messages/{message}", Who::Customer),
        ][..],
    )
}

/// Every route with an id in it; `{}` is where the fuzzed segment goes.
const ID_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/chat/orders/{}/messages"),
    ("GET", "/api/chat/orders/{}/messages/search?q=driver"),
    ("PATCH", "/api/chat/orders/{}/read"),
    ("GET", "/api/chat/orders/{}/unread-count"),
    ("GET", "/api/chat/orders/{}/participants"),
    ("GET", "/api/orders/{}"),
    ("PATCH", "/api/orders/{}"),
    ("PUT", "/api/orders/{}"),
    ("PATCH", "/api/chat/messages/{}"),
    ("DELETE", "/api/chat/messages/{}"),
];

/// Every route that reads a query string.
const QUERY_ROUTES: &[&str] = &[
    "/api/chat/orders",
    "/api/chat/orders/o1/messages",
    "/api/chat/orders/o1/messages/search",
    "/api/chat/search",
];

/// Every route of the API, for the method property.
const ALL_ROUTES: &[&str] = &[
    "/api/chat/messages",
    "/api/chat/messages/{message}",
    "/api/chat/orders",
    "/api/chat/orders/o1/messages",
    "/api/chat/orders/o1/messages/search",
    "/api/chat/orders/o1/read",
    "/api/chat/orders/o1/unread-count",
    "/api/chat/orders/o1/participants",
    "/api/chat/search",
    "/api/orders/o-fuzz",
];

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(
        &[
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ][..],
    )
}

/// Arbitrary JSON to every route that takes a body, and bodies shaped for their own
/// route (so some requests get all the way to the store).
fn json_bodies() -> impl Strategy<Value = Request> {
    let to = |method: Method, path: &'static str, who: Who| {
        move |body: Value| Request::new(method.clone(), path.to_owned(), who).json(&body)
    };
    let seq_body = prop_oneof![
        edge_i64().prop_map(|n| json!({ "seq": n })),
        json_value().prop_map(|v| json!({ "seq": v })),
    ];
    let edit_body = hostile_string().prop_map(|text| json!({ "message": text }));
    prop_oneof![
        3 => (body_route(), any_body())
            .prop_map(|((method, path, who), body)| Request::new(method, path.to_owned(), who).json(&body)),
        2 => send_message_like().prop_map(to(Method::POST, "/api/chat/messages", Who::Customer)),
        1 => order_like().prop_map(to(Method::PUT, "/api/orders/o-fuzz", Who::Service)),
        1 => any_body().prop_map(to(Method::PATCH, "/api/orders/o-fuzz", Who::Service)),
        1 => seq_body.prop_map(to(Method::PATCH, "/api/chat/orders/o1/read", Who::Customer)),
        1 => edit_body.prop_map(to(Method::PATCH, "/api/chat/messages/{message}", Who::Customer)),
    ]
}

/// Raw bytes under any content type (or none) to every route that takes a body.
fn raw_bodies() -> impl Strategy<Value = Request> {
    (body_route(), content_type(), raw_body()).prop_map(|((method, path, who), content_type, body)| Request {
        content_type,
        body: Some(body),
        ..Request::new(method, path.to_owned(), who)
    })
}

/// Fuzzed ids in every route that has one, with a plausible JSON body where the
/// route takes one.
fn path_segments() -> impl Strategy<Value = Request> {
    (prop::sample::select(ID_ROUTES), segment(), who(), any_body()).prop_map(|((method, route), segment, who, body)| {
        let method: Method = method.parse().expect("method");
        let request = Request::new(method.clone(), route.replace("{}", &segment), who);
        if method == Method::GET || method == Method::DELETE {
            request
        } else {
            request.json(&body)
        }
    })
}

/// Fuzzed query strings to every route that reads one.
fn query_strings() -> impl Strategy<Value = Request> {
    (prop::sample::select(QUERY_ROUTES), query_string(), who())
        .prop_map(|(route, query, who)| Request::new(Method::GET, format!("{route}?{query}"), who))
}

/// Any method on any route, without a body.
fn methods() -> impl Strategy<Value = Request> {
    (method(), prop::sample::select(ALL_ROUTES), who())
        .prop_map(|(method, route, who)| Request::new(method, route.to_owned(), who))
}

/// Runs every property against one server; returns the failures, each with its
/// minimal input.
fn run_properties(check: Check) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let target = runtime.block_on(Target::start());
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128);
    let properties: Vec<(&str, BoxedStrategy<Request>)> = vec![
        ("json bodies", json_bodies().boxed()),
        ("raw bodies", raw_bodies().boxed()),
        ("path segments", path_segments().boxed()),
        ("query strings", query_strings().boxed()),
        ("methods", methods().boxed()),
    ];
    let mut failures = Vec::new();
    for (name, strategy) in properties {
        let started = Instant::now();
        let mut runner = TestRunner::new(Config {
            cases,
            // Nothing persisted: the properties share one source file, so their seeds
            // would mix; a failure prints its minimal input instead.
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&strategy, |mut request| {
            request.path = request.path.replace("{message}", &target.message_id);
            runtime.block_on(target.send(check, request))
        });
        let statuses = std::mem::take(&mut *target.statuses.lock().expect("status counts"));
        eprintln!(
            "fuzz {name}: {cases} cases in {:.1?}, statuses {statuses:?}",
            started.elapsed()
        );
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, input)) => {
                failures.push(format!("{name}: {reason}\n  minimal input: {input:?}"))
            }
            Err(TestError::Abort(reason)) => failures.push(format!("{name}: aborted: {reason}")),
        }
    }
    runtime.block_on(target.app.stop());
    failures
}

#[test]
fn client_input_never_gets_a_server_error() {
    let failures = run_properties(Check::NoServerError);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_refusal_is_the_json_error_body() {
    let failures = run_properties(Check::JsonRefusals);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

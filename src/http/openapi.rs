//! The OpenAPI 3.1 document of the HTTP API, served at `GET /api/openapi.json`.
//!
//! It is generated from the code so that it cannot drift: every handler carries its
//! `#[utoipa::path]` (parameters, body, responses) and is registered with
//! `utoipa_axum::routes!`, which adds the route to the router and its operation to the
//! document in one step. Response bodies are the types the handlers serialise
//! (`ToSchema` derived beside `Serialize`; `Message` describes its hand-written
//! serializer in `domain::message`). This file holds what no handler owns: the
//! envelopes of SPEC §4, the refusals (one `IntoResponses` per status, all with the
//! `ErrorBody` schema), the bearer scheme, and the Socket.IO events (not HTTP, listed in
//! the `x-socketio-events` extension).
//!
//! The e2e suite validates every response it receives against this document (see
//! `e2e/openapi.mjs`): a route or status missing here fails it.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::response::ErrorBody;
use crate::state::AppState;

/// The document's fixed parts; `http::router` adds every route's operation to it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "orderchat",
        description = "HTTP API of orderchat, the real-time chat of orders. Every route under \
            `/api` needs `Authorization: Bearer <JWT>` (except this document). Successful \
            answers are `{ success: true, message?, data, meta? }`; refusals are \
            `{ success: false, code, message }` with a fitting status. A path that is not \
            listed answers 404, a listed path with another method 405 (with `Allow`), both \
            with the error body. The Socket.IO events (namespace `/`, protocol v5) are listed \
            in `x-socketio-events`; see docs/API.md for the whole contract.",
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAndEvents),
    security(("bearer" = [])),
    tags(
        (name = "messages", description = "Sending, editing and deleting messages"),
        (name = "chats", description = "Reading an order's chat: history, read state, participants, statistics, search"),
        (name = "attachments", description = "Uploading files to reference in messages, downloading them and their thumbnails"),
        (name = "notifications", description = "The caller's stored notifications: listing and read marking"),
        (name = "orders", description = "Orders as the platform (role `service`) registers them"),
        (name = "operations", description = "Liveness, readiness, metrics and this document (no token)"),
    )
)]
pub struct ApiDoc;

/// The bearer JWT scheme and the Socket.IO events.
struct BearerAndEvents;

impl Modify for BearerAndEvents {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "A JWT with `sub` (user id) and `role`; `name` and `email` optional; `exp` required.",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        openapi.extensions = Some(
            ExtensionsBuilder::new()
                .add("x-socketio-events", socketio_events())
                .build(),
        );
    }
}

/// SPEC §5, briefly: what a client may emit (each with an optional ack, `{ ok: true, … }`
/// or `{ ok: false, error, code }`) and what the server emits.
fn socketio_events() -> serde_json::Value {
    json!({
        "namespace": "/",
        "auth": "JWT in the handshake `auth.token` or its `Authorization: Bearer` header; refused with a `connect_error` whose message begins `Authentication error`",
        "clientToServer": {
            "join-order-room": { "payload": "orderId | { orderId, sinceSeq? }", "ack": "{ ok, messages (after sinceSeq), online }" },
            "leave-order-room": { "payload": "orderId", "ack": "{ ok }" },
            "typing-start": { "payload": "orderId", "ack": "{ ok }" },
            "typing-stop": { "payload": "orderId", "ack": "{ ok }" },
            "mark-read": { "payload": "orderId | { orderId, seq? }", "ack": "{ ok, seq, unreadCount }" },
            "send-message": { "payload": "SendMessage (as POST /api/chat/messages)", "ack": "{ ok, message: Message }" },
            "refresh-token": { "payload": "{ token }", "ack": "{ ok }" }
        },
        "serverToClient": {
            "new-message": "{ orderId, message: Message, timestamp }",
            "message-updated": "{ orderId, message: Message, timestamp }",
            "message-deleted": "{ orderId, message: Message, timestamp }",
            "order-updated": "{ orderId, update, timestamp }",
            "user-typing": "{ userId, orderId, isTyping }",
            "message-read": "{ userId, orderId, seq, timestamp }",
            "user-joined-order": "{ userId, orderId, timestamp }",
            "user-left-order": "{ userId, orderId, timestamp }",
            "presence": "{ userId, online, timestamp }",
            "unread-count": "{ orderId, unreadCount }",
            "notification": "{ id?, type, orderId, title, message, timestamp, messageId?, seq?, count }",
            "session-expired": "{ reason }"
        }
    })
}

/// `GET /api/openapi.json` itself, registered like every other route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The document as served: serialised once when the router is built.
#[derive(Clone)]
pub struct Document(Bytes);

impl Document {
    pub fn new(openapi: &utoipa::openapi::OpenApi) -> Self {
        let json = serde_json::to_vec(&to_json(openapi)).expect("a JSON value serialises");
        Self(Bytes::from(json))
    }
}

/// The document as JSON, with every inline copy of a named object schema replaced by a
/// `$ref` to it. (utoipa inlines the type argument of a generic envelope, so
/// `Success<Message>` would otherwise carry its own copy of `Message`; with the `$ref`
/// a client generator sees one `Message` type, and the schema lives in one place.)
pub fn to_json(openapi: &utoipa::openapi::OpenApi) -> Value {
    // Plain data with string keys: serialising it cannot fail.
    let mut document = serde_json::to_value(openapi).expect("the OpenAPI document serialises to JSON");
    let named: Vec<(String, Value)> = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|schemas| {
            schemas
                .iter()
                .filter(|(_, schema)| schema.get("properties").is_some())
                .map(|(name, schema)| (name.clone(), schema.clone()))
                .collect()
        })
        .unwrap_or_default();
    // Below each component's root (never a component by a `$ref` to itself), and in
    // the paths.
    if let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") {
        for schema in schemas.values_mut() {
            share_below(schema, &named);
        }
    }
    if let Some(paths) = document.get_mut("paths") {
        share_below(paths, &named);
    }
    document
}

fn share_below(node: &mut Value, named: &[(String, Value)]) {
    let children: Vec<&mut Value> = match node {
        Value::Object(map) => map.values_mut().collect(),
        Value::Array(items) => items.iter_mut().collect(),
        _ => return,
    };
    for child in children {
        match named.iter().find(|(_, schema)| schema == child) {
            Some((name, _)) => *child = json!({ "$ref": format!("#/components/schemas/{name}") }),
            None => share_below(child, named),
        }
    }
}

/// `GET /api/openapi.json` — this document (no token needed).
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", body = Object),
        Unavailable,
    )
)]
async fn openapi_json(Extension(document): Extension<Document>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        document.0,
    )
}

/// `success` of a successful answer: always `true`.
fn always_true() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .into()
}

/// `success` of a refusal: always `false`.
pub fn always_false() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([false]))
        .into()
}

/// `{ success: true, message?, data }`: one thing.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // a description of `ApiResponse::ok`, never built
pub struct Success<T> {
    #[schema(schema_with = always_true)]
    success: bool,
    /// What was done, for people ("Message sent").
    #[schema(nullable = false)]
    message: Option<String>,
    data: T,
}

/// `{ success: true, data: [...], meta }` with page numbers (`ApiResponse::page`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Paged<T> {
    #[schema(schema_with = always_true)]
    success: bool,
    #[schema(nullable = false)]
    message: Option<String>,
    data: Vec<T>,
    meta: PageMeta,
}

/// `{ success: true, data: [...], meta }` with a seq cursor (`ApiResponse::cursor`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Cursored<T> {
    #[schema(schema_with = always_true)]
    success: bool,
    #[schema(nullable = false)]
    message: Option<String>,
    data: Vec<T>,
    meta: CursorMeta,
}

/// `{ success: true, data: [...], meta }` with an opaque string cursor
/// (`ApiResponse::token_cursor`: notifications).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TokenCursored<T> {
    #[schema(schema_with = always_true)]
    success: bool,
    #[schema(nullable = false)]
    message: Option<String>,
    data: Vec<T>,
    meta: TokenCursorMeta,
}

/// Cursor pagination with an opaque cursor: pass `nextCursor` as the next `cursor`;
/// `null` on an empty page.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct TokenCursorMeta {
    has_more: bool,
    #[schema(required)]
    next_cursor: Option<String>,
}

/// A list by page or by cursor, as the query asked (history).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PagedOrCursored<T> {
    #[schema(schema_with = always_true)]
    success: bool,
    #[schema(nullable = false)]
    message: Option<String>,
    data: Vec<T>,
    meta: ListMeta,
}

/// Page pagination (SPEC §4).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct PageMeta {
    total_items: i64,
    total_pages: i64,
    current_page: i64,
    items_per_page: i64,
}

/// Cursor pagination (SPEC §4): `nextCursor` is the seq to pass as the next
/// `before`/`after`; `null` on an empty page.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct CursorMeta {
    has_more: bool,
    #[schema(required)]
    next_cursor: Option<i64>,
}

#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ListMeta {
    Page(PageMeta),
    Cursor(CursorMeta),
}

/// One refusal status with the `ErrorBody` schema and what it means here.
fn refusal(
    status: u16,
    description: &str,
    headers: &[(&str, &str)],
) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    for (name, meaning) in headers {
        let header = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(*meaning))
            .build();
        response = response.header(*name, header);
    }
    BTreeMap::from([(status.to_string(), response.build().into())])
}

/// Declares a refusal a route may answer: `responses(..., NotFound)`.
macro_rules! refusals {
    ($($name:ident => $status:literal, $description:literal $(, $header:literal: $meaning:literal)*;)*) => {$(
        #[doc = $description]
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                refusal($status, $description, &[$(($header, $meaning)),*])
            }
        }
    )*};
}

refusals! {
    BadRequest => 400, "Invalid input; `code` says what (`invalid_field` naming the field, `invalid_query`, `invalid_json`, `message_empty`, `message_too_long`, `message_invalid_characters`, `invalid_request` for an unreadable path)";
    Unauthenticated => 401, "Missing or bad bearer token (`unauthenticated`)",
        "WWW-Authenticate": "`Bearer`";
    Forbidden => 403, "The caller may see this but not do it (`forbidden`)";
    NotFound => 404, "Unknown, or not visible to the caller: no hint that it exists (`order_not_found`, `message_not_found`, `attachment_not_found`, `no_thumbnail` for a file that is not an image, `not_found`)";
    RequestTimeout => 408, "The body did not arrive in time (`request_timeout`)",
        "Connection": "`close`";
    Conflict => 409, "Conflicts with the current state: editing a deleted message (`conflict`), attaching an upload another message took (`attachment_taken`), changing the chat of a closed order (`order_closed`), changing or replying to an archived message (`message_archived`)";
    PayloadTooLarge => 413, "The body is larger than the configured limit (`payload_too_large`; `file_too_large` for an upload)";
    UnsupportedMediaType => 415, "The body is not of the expected type: `application/json` (`unsupported_media_type`), `multipart/form-data` for an upload, or a file type the server does not take (`unsupported_file_type`)";
    RangeNotSatisfiable => 416, "The `Range` lies wholly outside the file (`range_not_satisfiable`)",
        "Content-Range": "`bytes */size`";
    RateLimited => 429, "Too many messages in the interval (`rate_limited`), or the daily upload quota is used up (`upload_quota_exceeded`)",
        "Retry-After": "Seconds to wait, at least 1";
    Internal => 500, "An unexpected failure, logged on the server (`internal_error`); never for bad input";
    Unavailable => 503, "Shutting down, or the database is unreachable or too busy (`unavailable`); retry shortly",
        "Retry-After": "Seconds to wait";
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        crate::http::openapi_document()
    }

    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.push(target.clone());
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {target}"));
            assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {target}");
        }
    }

    #[test]
    fn the_envelopes_refer_to_the_message_schema_instead_of_copying_it() {
        let doc = document();
        let success = &doc["components"]["schemas"]["Success_Message"]["properties"]["data"];
        assert_eq!(success, &serde_json::json!({ "$ref": "#/components/schemas/Message" }));
        let paged = &doc["components"]["schemas"]["Paged_Message"]["properties"]["data"]["items"];
        assert_eq!(paged, &serde_json::json!({ "$ref": "#/components/schemas/Message" }));
        assert!(doc["components"]["schemas"]["Message"]["properties"].is_object());
    }

    #[test]
    fn every_operation_documents_success_and_its_refusals() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 17, "{:?}", paths.keys());
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                let what = format!("{method} {path}");
                assert!(responses.keys().any(|s| s.starts_with('2')), "{what}: no success");
                assert!(responses.contains_key("503"), "{what}: no 503 (shutdown)");
                let open = !path.starts_with("/api/") || path == "/api/openapi.json";
                assert_eq!(
                    responses.contains_key("401"),
                    !open,
                    "{what}: 401 iff a token is needed"
                );
                if open {
                    assert_eq!(operation["security"], serde_json::json!([{}]), "{what}: needs no token");
                }
                for (status, response) in responses {
                    if status.starts_with('4') {
                        let schema = &response["content"]["application/json"]["schema"]["$ref"];
                        assert_eq!(schema, "#/components/schemas/ErrorBody", "{what} {status}");
                    }
                }
            }
        }
    }
}

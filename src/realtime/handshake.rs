//! Memory per connection: engineioxide keeps the handshake request's parts (URI,
//! headers, extensions) for the whole life of a Socket.IO connection (`req_parts`). As
//! hyper hands them over they are slices of its ~8 KiB read buffer, so each idle
//! connection would keep that whole buffer alive — through the URI, every header, and
//! axum's `OriginalUri` extension (a clone of the URI, added by the router). Copying
//! them into small allocations of their own before the Socket.IO layer sees the request
//! lets the buffer go.
//!
//! A WebSocket handshake keeps only what is read after it: `Authorization` (the token,
//! when it is not in `auth.token`) and `Sec-WebSocket-Key` (engineioxide answers the
//! upgrade with it). A browser sends a kilobyte or more of other headers (cookies,
//! user agent, languages) that would otherwise sit in memory for as long as the tab
//! stays open. Only the Socket.IO layer sees the trimmed request: CORS, the origin
//! check and the request log run before this. Long-polling requests keep every header
//! (engineioxide reads `Content-Type` on each POST).

use std::str::FromStr;

use axum::extract::{OriginalUri, Request};
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_KEY};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};

/// The headers a WebSocket handshake keeps (see the module docs).
const KEPT_BY_WEBSOCKETS: [HeaderName; 2] = [AUTHORIZATION, SEC_WEBSOCKET_KEY];

/// For Socket.IO handshakes: the same request with its URI and headers copied out of
/// hyper's read buffer. Other requests pass untouched. (`async` for `map_request`.)
pub async fn own_handshake_parts(request: Request) -> Request {
    owned(request)
}

fn owned(request: Request) -> Request {
    if !request.uri().path().starts_with("/socket.io") {
        return request;
    }
    let websocket = request
        .uri()
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "transport=websocket"));
    let (mut parts, body) = request.into_parts();
    if let Ok(uri) = Uri::from_str(&parts.uri.to_string()) {
        parts.uri = uri;
    }
    // Nothing behind this layer reads `OriginalUri` (the router adds it for nested
    // routes); a polling request gets a copy, a WebSocket session none.
    if parts.extensions.remove::<OriginalUri>().is_some() && !websocket {
        parts.extensions.insert(OriginalUri(parts.uri.clone()));
    }
    let keep = |name: &HeaderName| !websocket || KEPT_BY_WEBSOCKETS.contains(name);
    let mut headers = HeaderMap::with_capacity(parts.headers.keys().filter(|name| keep(name)).count());
    for (name, value) in parts.headers.iter().filter(|(name, _)| keep(name)) {
        let name = HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        let value = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        headers.append(name, value);
    }
    parts.headers = headers;
    Request::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(uri: &str) -> Request {
        let mut request = Request::builder()
            .uri(uri)
            .header("authorization", "Bearer x")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("cookie", "session=1")
            .header("user-agent", "test")
            .body(axum::body::Body::empty())
            .unwrap();
        let uri = request.uri().clone();
        request.extensions_mut().insert(OriginalUri(uri));
        request
    }

    #[test]
    fn a_websocket_handshake_keeps_only_the_headers_read_later() {
        let owned = owned(handshake("/socket.io/?EIO=4&transport=websocket"));
        assert_eq!(owned.uri(), "/socket.io/?EIO=4&transport=websocket");
        let names: Vec<_> = owned.headers().keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["authorization", "sec-websocket-key"]);
        assert_eq!(owned.headers()["authorization"], "Bearer x");
        assert_eq!(owned.headers()["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
        assert!(owned.extensions().get::<OriginalUri>().is_none());
    }

    #[test]
    fn a_polling_request_keeps_every_header() {
        let owned = owned(handshake("/socket.io/?EIO=4&transport=polling"));
        assert_eq!(owned.headers().len(), 4);
        assert_eq!(owned.headers()["cookie"], "session=1");
        let original = owned.extensions().get::<OriginalUri>().expect("OriginalUri kept");
        assert_eq!(original.0, "/socket.io/?EIO=4&transport=polling");
    }

    #[test]
    fn a_handshake_keeps_its_uri_and_headers() {
        let request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=polling")
            .header("authorization", "Bearer x")
            .header("x-custom", "a")
            .header("x-custom", "b")
            .body(axum::body::Body::empty())
            .unwrap();
        let mut request = request;
        let uri = request.uri().clone();
        request.extensions_mut().insert(OriginalUri(uri));
        let owned = owned(request);
        assert_eq!(owned.uri(), "/socket.io/?EIO=4&transport=polling");
        let original = owned.extensions().get::<OriginalUri>().expect("OriginalUri kept");
        assert_eq!(original.0, "/socket.io/?EIO=4&transport=polling");
        assert_eq!(owned.headers()["authorization"], "Bearer x");
        let custom: Vec<_> = owned.headers().get_all("x-custom").iter().collect();
        assert_eq!(custom, ["a", "b"]);
    }
}

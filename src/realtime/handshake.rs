//! Memory per connection: engineioxide keeps the handshake request's parts (URI,
//! headers, extensions) for the whole life of a Socket.IO connection (`req_parts`). As
//! hyper hands them over they are slices of its ~8 KiB read buffer, so each idle
//! connection would keep that whole buffer alive — through the URI, every header, and
//! axum's `OriginalUri` extension (a clone of the URI, added by the router). Copying
//! them into small allocations of their own before the Socket.IO layer sees the request
//! lets the buffer go.

use std::str::FromStr;

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};

/// For Socket.IO handshakes: the same request with its URI and headers copied out of
/// hyper's read buffer. Other requests pass untouched. (`async` for `map_request`.)
pub async fn own_handshake_parts(request: Request) -> Request {
    owned(request)
}

fn owned(request: Request) -> Request {
    if !request.uri().path().starts_with("/socket.io") {
        return request;
    }
    let (mut parts, body) = request.into_parts();
    if let Ok(uri) = Uri::from_str(&parts.uri.to_string()) {
        parts.uri = uri;
    }
    if parts.extensions.remove::<OriginalUri>().is_some() {
        parts.extensions.insert(OriginalUri(parts.uri.clone()));
    }
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
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

    #[test]
    fn a_handshake_keeps_its_uri_and_headers() {
        let request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("authorization", "Bearer x")
            .header("x-custom", "a")
            .header("x-custom", "b")
            .body(axum::body::Body::empty())
            .unwrap();
        let mut request = request;
        let uri = request.uri().clone();
        request.extensions_mut().insert(OriginalUri(uri));
        let owned = owned(request);
        assert_eq!(owned.uri(), "/socket.io/?EIO=4&transport=websocket");
        let original = owned.extensions().get::<OriginalUri>().expect("OriginalUri kept");
        assert_eq!(original.0, "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(owned.headers()["authorization"], "Bearer x");
        let custom: Vec<_> = owned.headers().get_all("x-custom").iter().collect();
        assert_eq!(custom, ["a", "b"]);
    }
}

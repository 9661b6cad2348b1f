//! Which browser origins may talk to the server (`ORDERCHAT_CORS_ORIGINS`): the CORS
//! layer for HTTP, and the `Origin` check of Socket.IO handshakes, which CORS does not
//! cover (a WebSocket upgrade is not subject to CORS). Requests without an `Origin`
//! header (servers, mobile apps, the Node client) are not browsers and pass.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::Error;

#[derive(Clone, Debug)]
pub enum Origins {
    /// Unset: only pages served from the same host and port.
    SameOrigin,
    /// `*`: any origin.
    Any,
    List(Vec<HeaderValue>),
}

impl Origins {
    pub fn from_config(origins: &[String]) -> anyhow::Result<Self> {
        let origins: Vec<&str> = origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/'))
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() {
            return Ok(Origins::SameOrigin);
        }
        if origins.contains(&"*") {
            return Ok(Origins::Any);
        }
        let list = origins
            .into_iter()
            .map(|o| {
                HeaderValue::from_str(o).map_err(|_| anyhow::anyhow!("invalid origin in ORDERCHAT_CORS_ORIGINS: {o}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Origins::List(list))
    }

    fn permits(&self, origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
        match self {
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o == origin),
            Origins::SameOrigin => {
                let origin_authority = origin
                    .to_str()
                    .ok()
                    .and_then(|o| o.split_once("://"))
                    .map(|(_, rest)| rest);
                matches!((origin_authority, host.and_then(|h| h.to_str().ok())), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
            }
        }
    }

    pub fn cors_layer(&self) -> CorsLayer {
        let allow = match self {
            Origins::SameOrigin => return CorsLayer::new(),
            Origins::Any => AllowOrigin::any(),
            Origins::List(list) => AllowOrigin::list(list.clone()),
        };
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
    }
}

/// Refuses Socket.IO handshakes from browser origins that are not allowed.
pub async fn check_socket_origin(State(origins): State<Origins>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/socket.io")
        && let Some(origin) = request.headers().get(header::ORIGIN)
        && !origins.permits(origin, request.headers().get(header::HOST))
    {
        tracing::info!(origin = ?origin, "socket handshake from a refused origin");
        return Error::Forbidden("origin not allowed").into_response();
    }
    next.run(request).await
}

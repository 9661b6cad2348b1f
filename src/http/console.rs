//! The dispatcher console at `/console/`: the static files of the React app in
//! `web/console` (built by Vite into `web/console/dist`), served from a directory
//! (`ORDERCHAT_CONSOLE_DIR`) on the API's own origin, so the page needs no CORS and its
//! Socket.IO handshake passes the same-origin check.
//!
//! The files are read from disk, not carried in the binary: `cargo build` stays free of
//! Node.js, and a console rebuilt with `npm run build` is served without restarting.
//! A directory without `index.html` answers `404 console_not_built`, saying how to
//! build it. The token never reaches the server through these requests: the console
//! takes it from the URL fragment, which browsers do not send.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and
//! connections from this origin only; images also from `blob:` and `data:`, for
//! attachment thumbnails fetched with the token), and Vite's content-hashed files under
//! `assets/` are cached for a year while `index.html` is revalidated every time.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use tower_http::services::ServeDir;

use crate::error::Error;
use crate::state::AppState;

/// What every console answer says the page may load and do.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// `GET /console` (redirects to `/console/`) and `GET /console/{*path}`: the console's
/// files from `dir`, or `404 console_not_built` while `dir` has no `index.html`.
pub fn routes(dir: &Path) -> Router<AppState> {
    let files = ServeDir::new(dir).append_index_html_on_directories(true);
    let index = dir.join("index.html");
    Router::new()
        .nest_service("/console", files)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let index = index.clone();
            async move { console_headers(&index, request, next).await }
        }))
}

/// Redirects `/console` to `/console/`, refuses while the console is not built, and
/// adds the security and cache headers.
async fn console_headers(index: &PathBuf, request: Request, next: Next) -> Response {
    // The page's own relative links resolve against `/console/`.
    if request.uri().path() == "/console" {
        return Redirect::permanent("/console/").into_response();
    }
    if !tokio::fs::try_exists(index).await.unwrap_or(false) {
        return Error::Refused {
            status: 404,
            code: "console_not_built",
            message: format!(
                "the console is not built: {} is missing (run `npm ci && npm run build` in web/, \
                 or start the server with ./scripts/serve; ORDERCHAT_CONSOLE_DIR points elsewhere)",
                index.display()
            ),
        }
        .into_response();
    }
    let immutable = request.uri().path().starts_with("/console/assets/");
    let mut response = next.run(request).await;
    let cache = if immutable && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

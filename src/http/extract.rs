//! Extractors that turn a request into domain input or a clear `Error`: the caller's
//! identity from the bearer token, JSON bodies and query strings with our error codes
//! instead of axum's plain-text rejections.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tower_http::timeout::TimeoutError;

use crate::config::Limits;
use crate::domain::Identity;
use crate::error::Error;
use crate::state::AppState;
use crate::{auth, input};

/// The verified caller of an `/api` request.
pub struct AuthUser(pub Identity);

impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Unauthenticated("missing Authorization: Bearer token".into()))?;
        let token = auth::bearer(header).ok_or_else(|| Error::Unauthenticated("expected a Bearer token".into()))?;
        state.verifier.verify(token).map(AuthUser)
    }
}

/// A JSON object body; every rejection becomes our error with a fitting status.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => input::from_json_object(value).map(ApiJson),
            Err(rejection) => Err(json_error(rejection, &AppState::from_ref(state).config.limits)),
        }
    }
}

fn json_error(rejection: JsonRejection, limits: &Limits) -> Error {
    if caused_by_body_timeout(&rejection) {
        metrics::counter!("orderchat_http_timeouts_total", "kind" => "body").increment(1);
        tracing::info!(
            "refused a request whose body did not arrive within {} s",
            limits.http_body_timeout_secs
        );
        return Error::RequestTimeout(format!(
            "the request body did not arrive within {} s",
            limits.http_body_timeout_secs
        ));
    }
    let max_body_bytes = limits.max_body_bytes;
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Error::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(err) => {
            Error::InvalidJson(format!("body is not valid JSON: {}", err.body_text()))
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge { max: max_body_bytes },
        other => Error::InvalidJson(other.body_text()),
    }
}

/// Whether reading the body failed because the body deadline passed.
pub(super) fn caused_by_body_timeout(rejection: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(err) = cause {
        if err.is::<TimeoutError>() {
            return true;
        }
        cause = err.source();
    }
    false
}

/// A query string; a malformed one is a 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(err)) => Err(Error::InvalidQuery(err.body_text())),
            Err(other) => Err(Error::InvalidQuery(other.body_text())),
        }
    }
}

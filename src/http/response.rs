//! The response envelope (SPEC §4) and the one mapping of `Error` to HTTP.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, retry_after_secs};
use crate::store::Page;

/// Every refusal's body (SPEC §4): `{ success: false, code, message }`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    #[schema(schema_with = super::openapi::always_false)]
    success: bool,
    /// Stable snake_case code clients branch on (`order_not_found`, `invalid_field` …).
    code: &'static str,
    /// A human-readable reason; for `invalid_field` it starts with the field's path.
    message: String,
}

/// `{ success: true, data, meta? }` with a status.
pub struct ApiResponse {
    status: StatusCode,
    body: Value,
}

impl ApiResponse {
    pub fn ok(data: impl Serialize) -> Self {
        Self::with_status(StatusCode::OK, data)
    }

    pub fn created(data: impl Serialize) -> Self {
        Self::with_status(StatusCode::CREATED, data)
    }

    pub fn with_status(status: StatusCode, data: impl Serialize) -> Self {
        Self {
            status,
            body: json!({ "success": true, "data": data }),
        }
    }

    /// A page of a page-numbered list.
    pub fn page<T: Serialize>(page: Page<T>, current_page: i64, items_per_page: i64) -> Self {
        let total_pages = (page.total + items_per_page - 1) / items_per_page;
        let mut response = Self::ok(page.items);
        response.body["meta"] = json!({
            "totalItems": page.total,
            "totalPages": total_pages,
            "currentPage": current_page,
            "itemsPerPage": items_per_page,
        });
        response
    }

    /// A cursor-paginated list.
    pub fn cursor<T: Serialize>(items: Vec<T>, has_more: bool, next_cursor: Option<i64>) -> Self {
        let mut response = Self::ok(items);
        response.body["meta"] = json!({ "hasMore": has_more, "nextCursor": next_cursor });
        response
    }

    /// A cursor-paginated list whose cursor is an opaque string.
    pub fn token_cursor<T: Serialize>(items: Vec<T>, has_more: bool, next_cursor: Option<String>) -> Self {
        let mut response = Self::ok(items);
        response.body["meta"] = json!({ "hasMore": has_more, "nextCursor": next_cursor });
        response
    }

    pub fn message(mut self, text: &str) -> Self {
        self.body["message"] = text.into();
        self
    }
}

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidJson(_)
            | Error::InvalidField { .. }
            | Error::InvalidQuery(_)
            | Error::MessageEmpty
            | Error::MessageTooLong { .. }
            | Error::MessageInvalidCharacters
            | Error::InvalidEmoji(_) => StatusCode::BAD_REQUEST,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::OrderNotFound
            | Error::MessageNotFound
            | Error::NotFound
            | Error::AttachmentNotFound
            | Error::NoThumbnail => StatusCode::NOT_FOUND,
            Error::Conflict(_)
            | Error::OrderClosed { .. }
            | Error::AttachmentTaken
            | Error::MessageDeleted
            | Error::MessageArchived
            | Error::TooManyReactions { .. } => StatusCode::CONFLICT,
            Error::PayloadTooLarge { .. } | Error::FileTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType | Error::UnsupportedFileType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::RateLimited { .. }
            | Error::TooManyConnections
            | Error::UploadQuotaExceeded { .. }
            | Error::TooManyUploads => StatusCode::TOO_MANY_REQUESTS,
            Error::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Error::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Refused { status, .. } => StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(err) = &self {
            tracing::error!(error = ?err, "internal error");
        }
        metrics::counter!("orderchat_errors_total", "code" => self.code(), "transport" => "http").increment(1);
        let body = ErrorBody {
            success: false,
            code: self.code(),
            message: self.to_string(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Error::RateLimited { retry_after } | Error::UploadQuotaExceeded { retry_after, .. } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(*retry_after)));
        }
        if let Error::Unauthenticated(_) = &self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Error::Unavailable(_) | Error::TooManyUploads = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Error::RequestTimeout(_) = &self {
            // The rest of the body may still be trickling in: do not keep reading it.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

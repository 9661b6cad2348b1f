//! The one error type of the domain. Every failure a client can cause or see is a
//! variant with a stable `code` (snake_case, the same in HTTP bodies and Socket.IO
//! error acks) and a human-readable message. It is mapped to an HTTP response once
//! (`http::response`) and to an ack once (`realtime::ack`). Database and unexpected
//! errors become an opaque `internal_error` and are logged, never shown.

use std::time::Duration;

/// Result of every use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{field}: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("{0}")]
    InvalidQuery(String),
    #[error("message must not be empty")]
    MessageEmpty,
    #[error("message is longer than {max} characters")]
    MessageTooLong { max: usize },
    #[error("message contains control characters (only newline and tab are allowed)")]
    MessageInvalidCharacters,
    #[error("emoji: {0}")]
    InvalidEmoji(String),
    #[error("the message is deleted: its reactions cannot change")]
    MessageDeleted,
    /// Archived messages are read-only (SPEC §7): no edit, deletion, reaction or reply.
    #[error(
        "the message is archived: it can be read (history with includeArchived=true, search, export) but not changed or replied to"
    )]
    MessageArchived,
    #[error("a message carries at most {max} different reactions")]
    TooManyReactions { max: usize },
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("order not found")]
    OrderNotFound,
    #[error("message not found")]
    MessageNotFound,
    #[error("not found")]
    NotFound,
    #[error("attachment not found")]
    AttachmentNotFound,
    #[error("the requested range lies outside the file ({size} bytes)")]
    RangeNotSatisfiable { size: u64 },
    #[error("this attachment has no thumbnail (only JPEG, PNG, GIF and WebP images have one)")]
    NoThumbnail,
    #[error("{0}")]
    Conflict(&'static str),
    /// The order's status closes its chat (`ORDERCHAT_ARCHIVE_CLOSED_STATUSES`): it is
    /// read-only until the platform changes the status again.
    #[error("the order is {status}: its chat is read-only until the platform reopens the order")]
    OrderClosed { status: String },
    /// A message attached an upload that another message took first.
    #[error("an attachment is already attached to another message")]
    AttachmentTaken,
    /// The file's bytes are of a type the server does not take.
    #[error("files of type {0} are not accepted")]
    UnsupportedFileType(String),
    #[error("the file is larger than {max} bytes")]
    FileTooLarge { max: u64 },
    #[error("too many uploads under way; retry when one has finished")]
    TooManyUploads,
    #[error("daily upload quota of {quota} bytes used up, retry in {} s", retry_after_secs(*.retry_after))]
    UploadQuotaExceeded { quota: u64, retry_after: Duration },
    #[error("request body is larger than {max} bytes")]
    PayloadTooLarge { max: usize },
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("too many requests, retry in {} s", retry_after_secs(*.retry_after))]
    RateLimited { retry_after: Duration },
    #[error("too many connections")]
    TooManyConnections,
    /// The request body did not arrive in time; the message says which deadline.
    #[error("{0}")]
    RequestTimeout(String),
    /// The server cannot take this now (shutting down, or its write queue is full);
    /// the client should retry shortly, on this node or another.
    #[error("{0}; retry shortly")]
    Unavailable(&'static str),
    /// A refusal made before our handlers ran (by the router or a layer), carried over
    /// with its status so it gets the same JSON body as every other error.
    #[error("{message}")]
    Refused {
        status: u16,
        code: &'static str,
        message: String,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidJson(_) => "invalid_json",
            Error::InvalidField { .. } => "invalid_field",
            Error::InvalidQuery(_) => "invalid_query",
            Error::MessageEmpty => "message_empty",
            Error::MessageTooLong { .. } => "message_too_long",
            Error::MessageInvalidCharacters => "message_invalid_characters",
            Error::InvalidEmoji(_) => "invalid_emoji",
            Error::MessageDeleted => "message_deleted",
            Error::MessageArchived => "message_archived",
            Error::TooManyReactions { .. } => "too_many_reactions",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::OrderNotFound => "order_not_found",
            Error::MessageNotFound => "message_not_found",
            Error::NotFound => "not_found",
            Error::AttachmentNotFound => "attachment_not_found",
            Error::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Error::NoThumbnail => "no_thumbnail",
            Error::Conflict(_) => "conflict",
            Error::OrderClosed { .. } => "order_closed",
            Error::AttachmentTaken => "attachment_taken",
            Error::UnsupportedFileType(_) => "unsupported_file_type",
            Error::FileTooLarge { .. } => "file_too_large",
            Error::UploadQuotaExceeded { .. } => "upload_quota_exceeded",
            Error::TooManyUploads => "too_many_uploads",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::RateLimited { .. } => "rate_limited",
            Error::TooManyConnections => "too_many_connections",
            Error::RequestTimeout(_) => "request_timeout",
            Error::Unavailable(_) => "unavailable",
            Error::Refused { code, .. } => code,
            Error::Internal(_) => "internal_error",
        }
    }

    pub fn invalid_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Error::Internal(err.into())
    }
}

/// Whole seconds a client should wait, never 0 (a `Retry-After: 0` invites a busy loop).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// A database that cannot be reached is `unavailable` (503, retry later), not an
/// internal error: the pool's 5 s acquire timeout makes requests fail fast while it is
/// down, and they succeed again by themselves once it is back.
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        if database_unreachable(&err) {
            tracing::warn!(error = %err, "database unreachable");
            return Error::Unavailable("the database is unavailable");
        }
        Error::Internal(err.into())
    }
}

/// The connection is gone or going: I/O and protocol failures, no pooled connection in
/// time, and PostgreSQL's own goodbyes (class 08 connection exceptions; 57P01–57P03:
/// administrator or crash shutdown, not accepting connections yet).
pub fn database_unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => true,
        _ => err
            .as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|code| code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_unavailable_and_other_failures_internal() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        for err in [sqlx::Error::PoolTimedOut, sqlx::Error::Io(refused)] {
            let mapped = Error::from(err);
            assert_eq!(mapped.code(), "unavailable", "{mapped:?}");
        }
        for err in [sqlx::Error::RowNotFound, sqlx::Error::PoolClosed] {
            let mapped = Error::from(err);
            assert_eq!(mapped.code(), "internal_error", "{mapped:?}");
        }
    }
}

//! `/api/chat/attachments`: uploading a file (multipart), downloading it (with `Range`)
//! and its thumbnail. Downloads are served so that a file can never act as a page of
//! ours: `nosniff`, a sandboxing `Content-Security-Policy`, and `attachment` disposition
//! for everything but plain raster images.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Extension, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, AuthUser, caused_by_body_timeout};
use super::openapi::{
    BadRequest, Conflict, Internal, NotFound, PayloadTooLarge, RangeNotSatisfiable, RateLimited, RequestTimeout,
    Success, Unauthenticated, Unavailable, UnsupportedMediaType,
};
use super::response::ApiResponse;
use crate::attachments::{content, names};
use crate::chat::{Download, NewUpload};
use crate::config::Config;
use crate::domain::Attachment;
use crate::error::{Error, Result};
use crate::state::AppState;

/// Bytes of a multipart body besides the file: the `orderId` field, the part headers
/// and boundaries.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The most bytes read before the `file` part starts (the preamble, other fields, every
/// part's headers): multipart headers have no size limit of their own, and a client must
/// not make the server buffer megabytes of "headers". Generous, since the last read may
/// carry the start of the file too.
const MAX_BEFORE_FILE: u64 = 1024 * 1024;

/// The longest `orderId` field read.
const MAX_ID_FIELD: usize = 1024;

/// How a downloaded file is kept from acting as a page: no scripts, no plug-ins, no
/// styles, no frames; images show as images.
const CSP: &str = "default-src 'none'; img-src 'self'; sandbox";

/// The largest body of an upload: the file and the multipart overhead.
pub fn upload_body_limit(state: &AppState) -> usize {
    let limit = state
        .config
        .attachments
        .max_attachment_bytes
        .saturating_add(MULTIPART_OVERHEAD);
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// `upload_body_limit` is what `upload_body_limit` says for the configuration.
pub fn routes(upload_body_limit: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, upload_route) = routes!(upload);
    OpenApiRouter::new()
        .routes((
            schemas,
            paths,
            upload_route
                .layer(DefaultBodyLimit::max(upload_body_limit))
                .layer(axum::middleware::from_fn(limit_before_file)),
        ))
        .routes(routes!(download))
        .routes(routes!(thumbnail))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct UploadParams {
    /// The order the file is for, when not sent as a form field.
    order_id: Option<String>,
}

// The multipart form of an upload, for the OpenAPI document only (never built).
/// `orderId` (a field before `file`, or `?orderId=`) and the file; other fields are
/// ignored.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct UploadForm {
    order_id: Option<String>,
    /// The file's bytes; its type is decided from them, never from the part's headers.
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// `POST /api/chat/attachments` — multipart with `orderId` (a field before `file`, or
/// `?orderId=`) and `file`; 201 with the attachment to reference in a message.
#[utoipa::path(
    post,
    path = "/api/chat/attachments",
    tag = "attachments",
    params(UploadParams),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored; reference its `id` in a message's `attachments` before it expires", body = Success<Attachment>),
        BadRequest, Unauthenticated, NotFound, RequestTimeout, Conflict, PayloadTooLarge, UnsupportedMediaType,
        RateLimited, Internal, Unavailable,
    )
)]
async fn upload(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    ApiQuery(params): ApiQuery<UploadParams>,
    Extension(file_started): Extension<FileStarted>,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<ApiResponse> {
    // Before a byte of the form is read: a user past their concurrent uploads (or a
    // node past its own) is refused at once.
    let slot = state.chat.reserve_upload(&identity)?;
    let mut multipart = multipart.map_err(|rejection| Error::Refused {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE.as_u16(),
        code: "unsupported_media_type",
        message: format!(
            "expected a multipart/form-data body with a `file` field: {}",
            rejection.body_text()
        ),
    })?;
    let limits = &state.config;
    let mut order_id = params.order_id;
    while let Some(field) = multipart.next_field().await.map_err(|err| body_error(err, limits))? {
        match field.name() {
            Some("orderId") => order_id = Some(read_id_field(field, limits).await?),
            Some("file") => {
                file_started.0.store(true, Ordering::Relaxed);
                let order_id = order_id.ok_or_else(|| {
                    Error::invalid_field("orderId", "send orderId before the file field (or as ?orderId=)")
                })?;
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let body = field.map_err(|err| body_error(err, limits));
                let upload = NewUpload {
                    order_id: &order_id,
                    file_name: &file_name,
                };
                let attachment = state.chat.upload_attachment(&identity, slot, upload, body).await?;
                return Ok(ApiResponse::created(attachment).message("File uploaded"));
            }
            // Other fields (a client's `type`, `name` …) are not ours to read.
            _ => {}
        }
    }
    Err(Error::invalid_field("file", "no file field in the multipart body"))
}

async fn read_id_field(mut field: Field<'_>, limits: &Config) -> Result<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|err| body_error(err, limits))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_ID_FIELD {
            return Err(Error::invalid_field("orderId", "too long"));
        }
    }
    String::from_utf8(bytes).map_err(|_| Error::invalid_field("orderId", "not UTF-8 text"))
}

/// Set by the handler once the `file` part begins (see `limit_before_file`).
#[derive(Clone)]
struct FileStarted(Arc<AtomicBool>);

/// What `limit_before_file` fails the body with.
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_BEFORE_FILE} bytes of form data before the file")]
struct TooMuchBeforeFile;

/// Fails the upload's body once `MAX_BEFORE_FILE` bytes were read and the `file` part
/// has not begun.
async fn limit_before_file(mut request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = Arc::new(AtomicBool::new(false));
    request.extensions_mut().insert(FileStarted(started.clone()));
    let mut read: u64 = 0;
    let request = request.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let chunk = chunk?;
            if !started.load(Ordering::Relaxed) {
                read += chunk.len() as u64;
                if read > MAX_BEFORE_FILE {
                    return Err(axum::Error::new(TooMuchBeforeFile));
                }
            }
            Ok(chunk)
        }))
    });
    next.run(request).await
}

/// Whether `err` (or what caused it) is `TooMuchBeforeFile`.
fn caused_by_too_much_before_file(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = cause {
        if err.is::<TooMuchBeforeFile>() {
            return true;
        }
        cause = err.source();
    }
    false
}

/// A multipart body that could not be read: too large (the route's body limit, or too
/// much before the file), too slow (a pause longer than the body timeout, or the whole
/// upload past its deadline) or malformed.
fn body_error(err: MultipartError, config: &Config) -> Error {
    let limits = &config.attachments;
    if caused_by_too_much_before_file(&err) {
        return Error::Refused {
            status: StatusCode::PAYLOAD_TOO_LARGE.as_u16(),
            code: "payload_too_large",
            message: TooMuchBeforeFile.to_string(),
        };
    }
    if caused_by_body_timeout(&err) {
        metrics::counter!("orderchat_http_timeouts_total", "kind" => "body").increment(1);
        // Either deadline may have passed; the error does not say which.
        return Error::RequestTimeout(format!(
            "the upload stalled for more than {} s, or did not arrive within {} s",
            config.limits.http_body_timeout().as_secs(),
            limits.attachment_body_timeout_secs.max(1)
        ));
    }
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Error::FileTooLarge {
            max: limits.max_attachment_bytes,
        };
    }
    Error::invalid_field("file", format!("unreadable multipart body: {}", err.body_text()))
}

/// `GET /api/chat/attachments/:id` — the file, to whoever may see its message (or its
/// uploader before it is attached); 404 for everyone else. One `Range` is honoured.
#[utoipa::path(
    get,
    path = "/api/chat/attachments/{attachment_id}",
    tag = "attachments",
    params(
        ("attachment_id" = String, Path, description = "The attachment's `id`"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=first-last`, `bytes=first-` or `bytes=-suffix`; several ranges or an unreadable one are ignored (the whole file is sent)"),
    ),
    responses(
        (status = 200, description = "The file, with its detected type, `nosniff`, a sandboxing `Content-Security-Policy`, and `inline` (plain raster images) or `attachment` disposition",
            headers(("Content-Disposition" = String), ("Accept-Ranges" = String, description = "`bytes`")),
            content((String = "*/*"))),
        (status = 206, description = "The requested range of the file",
            headers(("Content-Range" = String, description = "`bytes first-last/size`")),
            content((String = "*/*"))),
        Unauthenticated, NotFound, RangeNotSatisfiable, Internal, Unavailable,
    )
)]
async fn download(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(attachment_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let download = state
        .chat
        .download_attachment(&identity, &attachment_id, |size| match &range {
            Some(range) => parse_range(range, size),
            None => Ok(None),
        })
        .await;
    match download {
        Ok(download) => Ok(file_response(download)),
        Err(Error::RangeNotSatisfiable { size }) => {
            let mut response = Error::RangeNotSatisfiable { size }.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            Ok(response)
        }
        Err(err) => Err(err),
    }
}

fn file_response(download: Download) -> Response {
    let Download {
        attachment,
        range,
        body,
    } = download;
    let size = attachment.size.max(0) as u64;
    let (status, length) = match &range {
        Some(range) => (StatusCode::PARTIAL_CONTENT, range.end - range.start),
        None => (StatusCode::OK, size),
    };
    let mut response = (status, Body::from_stream(body)).into_response();
    let headers = response.headers_mut();
    let disposition = if content::shows_inline(&attachment.content_type) {
        "inline"
    } else {
        "attachment"
    };
    safe_file_headers(headers, &attachment.content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&names::content_disposition(disposition, &attachment.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(range) = range
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", range.start, range.end - 1))
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

/// The headers every served file carries.
fn safe_file_headers(headers: &mut HeaderMap, content_type: &str) {
    let content_type =
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // Access can be taken away (a participant removed): caches keep it briefly, privately.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
}

/// `GET /api/chat/attachments/:id/thumbnail` — a small JPEG of an image attachment.
#[utoipa::path(
    get,
    path = "/api/chat/attachments/{attachment_id}/thumbnail",
    tag = "attachments",
    params(("attachment_id" = String, Path, description = "The attachment's `id`")),
    responses(
        (status = 200, description = "A small JPEG of the image", content((String = "image/jpeg"))),
        Unauthenticated,
        NotFound, Internal, Unavailable,
    )
)]
async fn thumbnail(
    State(state): State<AppState>,
    AuthUser(identity): AuthUser,
    Path(attachment_id): Path<String>,
) -> Result<Response> {
    let jpeg: Bytes = state.chat.attachment_thumbnail(&identity, &attachment_id).await?;
    let mut response = (StatusCode::OK, jpeg).into_response();
    let headers = response.headers_mut();
    safe_file_headers(headers, "image/jpeg");
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    Ok(response)
}

/// The byte range a `Range` header asks of a file of `size` bytes (RFC 9110 §14).
/// One range only: a header with several, or one we cannot read, is ignored (the
/// whole file is sent), which the RFC allows; a range wholly past the end is `416`.
fn parse_range(header: &str, size: u64) -> Result<Option<Range<u64>>> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        // The last N bytes.
        let Ok(suffix) = last.parse::<u64>() else {
            return Ok(None);
        };
        if suffix == 0 {
            return Err(Error::RangeNotSatisfiable { size });
        }
        size.saturating_sub(suffix)..size
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return Ok(None);
        };
        let end = if last.is_empty() {
            size
        } else {
            let Ok(last) = last.parse::<u64>() else { return Ok(None) };
            if last < start {
                return Ok(None);
            }
            last.saturating_add(1).min(size)
        };
        start..end
    };
    if range.start >= size || range.is_empty() {
        return Err(Error::RangeNotSatisfiable { size });
    }
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_the_rfc_says() {
        assert_eq!(parse_range("bytes=0-99", 1000).unwrap(), Some(0..100));
        assert_eq!(parse_range("bytes=900-", 1000).unwrap(), Some(900..1000));
        assert_eq!(parse_range("bytes=-100", 1000).unwrap(), Some(900..1000));
        assert_eq!(parse_range("bytes=-5000", 1000).unwrap(), Some(0..1000));
        assert_eq!(parse_range("bytes=990-2000", 1000).unwrap(), Some(990..1000));
        // Ignored: the whole file is sent.
        assert_eq!(parse_range("bytes=0-1,5-6", 1000).unwrap(), None);
        assert_eq!(parse_range("items=0-1", 1000).unwrap(), None);
        assert_eq!(parse_range("bytes=9-3", 1000).unwrap(), None);
        assert_eq!(parse_range("bytes=x-", 1000).unwrap(), None);
        // Past the end.
        assert_eq!(
            parse_range("bytes=1000-", 1000).unwrap_err().code(),
            "range_not_satisfiable"
        );
        assert_eq!(
            parse_range("bytes=-0", 1000).unwrap_err().code(),
            "range_not_satisfiable"
        );
    }
}

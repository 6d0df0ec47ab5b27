//! The outermost layer of the application: limits on the request line and
//! headers, and the guarantee that every error answer is problem+json.
//!
//! Handlers and our extractors already answer with [`Problem`]s. What is left
//! are answers made by the framework around them — axum's own extractor
//! rejections (a `Bytes` body over the route's limit is a `text/plain` 413),
//! tower-http layers, anything added later — which [`guard`] rewrites into a
//! problem with the same status instead of hunting each one down.
//!
//! Hyper itself answers a request it cannot parse (a request line over 64 KiB,
//! more than 100 headers, a head over ~400 KiB) with an empty 414 or 431 before
//! the application sees it. The limits here are well below those, so a client
//! that sends a long URI or many headers meets ours, as problem+json; only a
//! request far beyond them gets hyper's bare status.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

/// The longest path and query string taken: room for a filter of a few hundred values.
pub const MAX_URI: usize = 16 << 10;

/// The largest header block taken (names and values together).
pub const MAX_HEADERS: usize = 32 << 10;

/// How much of a non-problem error body is kept as the problem's `detail`.
const DETAIL_MAX: usize = 1024;

/// Refuses an oversized request line or header block, and turns any error
/// answer that is not already problem+json into one.
pub async fn guard(req: Request, next: Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI {
        return Problem::new(StatusCode::URI_TOO_LONG, "uri-too-long", format!("the path and query string are {uri} bytes; the limit is {} KiB", MAX_URI >> 10)).into_response();
    }
    let headers: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if headers > MAX_HEADERS {
        return Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            format!("the request's headers are {headers} bytes; the limit is {} KiB", MAX_HEADERS >> 10),
        )
        .into_response();
    }
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(&res) {
        return res;
    }
    as_problem(res).await
}

fn is_problem(res: &Response) -> bool {
    let ct = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // A JSON error body is a deliberate answer (the health check's 503); only bare ones are rewritten.
    ct.starts_with("application/problem+json") || ct.starts_with("application/json")
}

async fn as_problem(res: Response) -> Response {
    let (parts, body) = res.into_parts();
    let status = parts.status;
    let text = match axum::body::to_bytes(body, DETAIL_MAX * 4).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().chars().take(DETAIL_MAX).collect::<String>(),
        Err(_) => String::new(),
    };
    let (slug, fallback) = match status {
        StatusCode::BAD_REQUEST => ("bad-request", "the request is malformed"),
        StatusCode::NOT_FOUND => ("not-found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "the method is not allowed here"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "the body is larger than this route takes"),
        StatusCode::URI_TOO_LONG => ("uri-too-long", "the path and query string are too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "the body's Content-Type is not one this route takes"),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid-body", "the body does not have the expected shape"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ("headers-too-large", "the request's headers are too large"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
        s if s.is_server_error() => ("internal", "something went wrong on our side; it has been logged"),
        _ => ("http-error", status.canonical_reason().unwrap_or("the request was refused")),
    };
    let detail = if status.is_server_error() {
        tracing::error!(status = status.as_u16(), body = %text, "a server error answered outside the handlers");
        fallback.to_owned()
    } else if status == StatusCode::PAYLOAD_TOO_LARGE || text.is_empty() {
        // axum's text ("Failed to buffer the body: length limit exceeded") says less than ours.
        fallback.to_owned()
    } else {
        text
    };
    let mut out = Problem::new(status, slug, detail).into_response();
    // Keep what the original answer said beyond its body: Allow, Retry-After, …
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH && !out.headers().contains_key(name) {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// A raw request body (a file to import, a pack) of at most `LIMIT` bytes,
/// the limit the route's `DefaultBodyLimit` sets. Refuses a larger one from
/// its `Content-Length` before reading it, and while reading one that
/// declares none, with a 413 problem naming the limit.
pub struct Upload<const LIMIT: usize>(pub Bytes);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for Upload<LIMIT> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let too_large = || Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", format!("the body is larger than the limit of {} MiB", LIMIT >> 20));
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > LIMIT) {
            return Err(too_large());
        }
        Bytes::from_request(req, state).await.map(Upload).map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                Problem::new(StatusCode::BAD_REQUEST, "unreadable-body", e.body_text())
            }
        })
    }
}

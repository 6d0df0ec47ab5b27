//! Extractors whose refusals are our problem documents rather than axum's
//! plain-text defaults: JSON bodies, bearer or cookie auth, `If-Match`, typed paths and
//! query strings.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use trellis_engine::Actor;

use crate::AppState;
use crate::problem::Problem;
use crate::session::Credential;

/// A JSON request body. Refuses a wrong content type with 415, malformed JSON
/// with 400 (line and column), JSON of the wrong shape with 422 and an
/// oversized body with 413.
pub struct JsonBody<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        if !is_json(&content_type) {
            let got = if content_type.is_empty() { "no Content-Type".to_owned() } else { format!("Content-Type {content_type}") };
            return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", format!("send JSON with Content-Type: application/json (got {got})")));
        }
        let too_large = || Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", format!("the body is larger than the limit of {} MiB", crate::BODY_LIMIT >> 20));
        // Refuse from the declared length before reading anything; the limit still applies to bodies without one.
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > crate::BODY_LIMIT) {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                Problem::new(StatusCode::BAD_REQUEST, "unreadable-body", e.body_text())
            }
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "malformed-json", format!("the body is not valid JSON: {e}")))?;
        if let Some(pointer) = find_nul(&value, String::new()) {
            return Err(Problem::validation(vec![trellis_core::Issue::new(pointer, "nul", "text may not contain NUL characters (\\u0000)")]));
        }
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", format!("the body does not have the expected shape: {e}")))
    }
}

/// An optional JSON body: a request with no body and no Content-Type has none.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Problem> {
        let typed = req.headers().contains_key(header::CONTENT_TYPE);
        let length = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        if !typed && length.unwrap_or(0) == 0 {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state).await.map(Some)
    }
}

/// Where a NUL character hides in a JSON value: PostgreSQL cannot store it in
/// text or jsonb, so it is refused up front on both backends.
fn find_nul(v: &serde_json::Value, at: String) -> Option<String> {
    use trellis_core::issue::escape_token;
    match v {
        serde_json::Value::String(s) => s.contains('\0').then_some(at),
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| find_nul(x, format!("{at}/{i}"))),
        serde_json::Value::Object(m) => m.iter().find_map(|(k, x)| {
            let here = format!("{at}/{}", escape_token(k));
            if k.contains('\0') { Some(here) } else { find_nul(x, here) }
        }),
        _ => None,
    }
}

/// The signed-in user, from `Authorization: Bearer TOKEN` or, for the
/// browser, the session cookie (with its cross-site check, see [`crate::session`]).
pub struct Auth(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Auth
where
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let state = AppState::from_ref(state);
        let credential = Credential::of(&parts.headers).ok_or_else(|| {
            Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in: send Authorization: Bearer TOKEN (POST /api/v1/auth/token gives one)")
        })?;
        if let Credential::Cookie(_) = credential {
            crate::session::check_csrf(&parts.method, &parts.headers)?;
        }
        match state.engine.actor_for_token(credential.token()).await? {
            Some(actor) => Ok(Auth(actor)),
            None => Err(Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "the token is unknown or was revoked; sign in again")),
        }
    }
}

/// The bearer token of a request, if it sent one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The address a request came from (the TCP peer; `unknown` when the server
/// was not started by [`crate::serve`]). A proxy in front makes every client
/// one address: limits keyed by it then apply to all of them together.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let addr = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| client_of(c.0.ip()));
        Ok(ClientAddr(addr.unwrap_or_else(|| "unknown".into())))
    }
}

/// An address as limits count it: an IPv6 client by its /64, the block one
/// subscriber is given, so hopping through its addresses does not reset a limit.
fn client_of(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        v4 => v4.to_string(),
    }
}

/// `If-Match` with a revision (`"3"` or `3`); `*` or no
/// header means any revision.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let s = v.to_str().unwrap_or("").trim();
        if s == "*" {
            return Ok(IfMatch(None));
        }
        // If-Match compares strongly (RFC 9110), so weak tags are refused rather than half-honoured.
        let bare = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s);
        bare.parse().map(|r| IfMatch(Some(r))).map_err(|_| Problem {
            param: Some("If-Match".into()),
            ..Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("If-Match must be a strong revision tag such as \"3\", not {s}"))
        })
    }
}

/// Path parameters, with refusals (e.g. a segment that is not UTF-8) as problems.
pub struct PathOf<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathOf<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(t)| PathOf(t))
            .map_err(|e| Problem::new(StatusCode::NOT_FOUND, "not-found", format!("no such resource: {}", e.body_text())))
    }
}

/// A query string, with refusals as problems.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        // PostgreSQL cannot take a NUL in text: refused here for every parameter, as in bodies.
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", "query parameters may not contain NUL characters (%00)").zh("查询参数中不能含有空字符（%00）"));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Params(t))
            .map_err(|e: QueryRejection| Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_ipv6_client_counts_by_its_64_block() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(super::client_of(a), super::client_of(b));
        assert_eq!(super::client_of(a), "2001:db8:1:2::/64");
        assert_eq!(super::client_of("::ffff:10.0.0.7".parse().unwrap()), "10.0.0.7");
        assert_eq!(super::client_of("10.0.0.7".parse().unwrap()), "10.0.0.7");
    }
}

//! Operations: `/healthz`, `/metrics`, the OpenAPI document, and problem
//! answers for unknown routes and methods.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::problem::Problem;

/// 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.engine.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({"status": "ok", "database": state.engine.store().backend()}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "unavailable"}))).into_response()
        }
    }
}

/// The Prometheus exposition: to anyone with `--metrics-public`; otherwise
/// to the metrics token (`--metrics-token`) or an admin's token, sent as
/// `Authorization: Bearer …` (or the admin's session cookie).
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, Problem> {
    if !state.config.metrics_public {
        metrics_allowed(&state, &headers).await?;
    }
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(res)
}

async fn metrics_allowed(state: &AppState, headers: &axum::http::HeaderMap) -> Result<(), Problem> {
    let Some(credential) = crate::session::Credential::of(headers) else {
        return Err(Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "/metrics needs Authorization: Bearer with the metrics token or an admin's token"));
    };
    let sent = credential.token();
    if let Some(expected) = &state.config.metrics_token {
        // Compared as hashes, so the time taken says nothing about how much of the token matched.
        use sha2::Digest;
        if sha2::Sha256::digest(sent.as_bytes()) == sha2::Sha256::digest(expected.as_bytes()) {
            return Ok(());
        }
    }
    match state.engine.actor_for_token(sent).await? {
        Some(actor) => Ok(actor.require_admin("read /metrics")?),
        None => Err(Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "the token is neither the metrics token nor a live token; sign in again")),
    }
}

/// The OpenAPI document; like every `/api` route but sign-in, it needs a token
/// (`trellis openapi` prints it without one).
pub async fn openapi(State(state): State<AppState>, _auth: crate::extract::Auth) -> Response {
    let mut res = state.openapi.as_str().to_owned().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

pub async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", format!("no route {}; the API is described at /api/v1/openapi.json", uri.path()))
}

pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", format!("{method} is not allowed on {}", uri.path()))
}

//! `POST /api/v1/auth/token` signs in; `DELETE` the same path revokes the token sent.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, JsonBody, bearer};
use crate::problem::{ApiResult, Problem};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer TOKEN`. Shown once; only its hash is stored.
    pub token: String,
    pub user: UserOut,
}

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub id: uuid::Uuid,
    pub email: String,
    pub role: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_token, revoke_token)).routes(routes!(me))
}

/// Sign in with email and password; answers a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn create_token(State(state): State<AppState>, JsonBody(req): JsonBody<TokenRequest>) -> ApiResult<axum::Json<TokenResponse>> {
    let (token, actor) = state.engine.login(&req.email, &req.password).await?;
    Ok(axum::Json(TokenResponse { token, user: UserOut { id: actor.id, email: actor.email, role: actor.role.as_str().into() } }))
}

/// Revoke the token this request is signed with.
#[utoipa::path(delete, path = "/api/v1/auth/token", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn revoke_token(State(state): State<AppState>, _auth: Auth, headers: HeaderMap) -> ApiResult<StatusCode> {
    let token = bearer(&headers).unwrap_or_default().to_owned();
    state.engine.revoke_token(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn me(Auth(actor): Auth) -> axum::Json<UserOut> {
    axum::Json(UserOut { id: actor.id, email: actor.email, role: actor.role.as_str().into() })
}

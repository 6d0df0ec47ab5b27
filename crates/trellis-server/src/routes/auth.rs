//! `POST /api/v1/auth/token` signs in (five wrong passwords for an email in a
//! quarter hour lock it out: 429 with `Retry-After`); `DELETE` the same path
//! revokes the token sent; `/api/v1/auth/tokens` lists a user's tokens and
//! revokes one by id. The browser signs in at `/api/v1/auth/session`
//! instead: the token goes into an HttpOnly cookie and never reaches a script.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use trellis_engine::auth::{TokenView, UserView};

use crate::AppState;
use crate::extract::{Auth, ClientAddr, JsonBody, Params, PathOf};
use crate::session::{self, Credential};
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
    /// The display name, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, revoke_token))
        .routes(routes!(create_session, end_session))
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(rename_user))
        .routes(routes!(list_tokens))
        .routes(routes!(revoke_token_id))
        .routes(routes!(audit_log))
}

#[derive(Serialize, ToSchema)]
struct UserList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<UserView>,
}

/// The directory, for every signed-in user: id, email, name, role, manager (email).
#[utoipa::path(get, path = "/api/v1/users", tag = "auth", security(("bearer" = [])), responses((status = 200, body = UserList)))]
async fn list_users(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<axum::Json<UserList>> {
    Ok(axum::Json(UserList { items: state.engine.list_users(&actor).await? }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    /// The name pages show (王芳); the email when absent.
    name: Option<String>,
    /// admin, manager or staff.
    role: String,
    password: String,
    /// The manager's email: the user joins their team.
    manager: Option<String>,
}

/// Add a user (admins); 409 when the email is taken, 422 naming the field for a bad email, role, password or manager.
#[utoipa::path(post, path = "/api/v1/users", tag = "auth", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = Object), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_user(State(state): State<AppState>, Auth(actor): Auth, JsonBody(u): JsonBody<NewUser>) -> ApiResult<(StatusCode, axum::Json<UserView>)> {
    let user = state.engine.create_user(&actor, &u.email, u.name.as_deref(), &u.role, &u.password, u.manager.as_deref().filter(|m| !m.is_empty())).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    /// The new display name; empty or `null` clears it.
    name: Option<String>,
}

/// Rename a user (admins; anyone may rename themself). 422 at `/name` for a name over 50 characters.
#[utoipa::path(patch, path = "/api/v1/users/{user}", tag = "auth", security(("bearer" = [])), params(("user" = String, Path, description = "email or id")), request_body = UserPatch,
    responses((status = 200, body = Object), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn rename_user(State(state): State<AppState>, Auth(actor): Auth, PathOf(user): PathOf<String>, JsonBody(b): JsonBody<UserPatch>) -> ApiResult<axum::Json<UserView>> {
    Ok(axum::Json(state.engine.set_user_name(&actor, &user, b.name.as_deref()).await?))
}

/// Sign in with email and password; answers a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn create_token(State(state): State<AppState>, ClientAddr(client): ClientAddr, JsonBody(req): JsonBody<TokenRequest>) -> ApiResult<axum::Json<TokenResponse>> {
    let (token, actor) = state.engine.login_from(&req.email, &req.password, Some(&client)).await?;
    Ok(axum::Json(TokenResponse { token, user: user_out(&state, actor).await }))
}

/// Revoke the token this request is signed with.
#[utoipa::path(delete, path = "/api/v1/auth/token", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn revoke_token(State(state): State<AppState>, _auth: Auth, headers: HeaderMap) -> ApiResult<StatusCode> {
    let token = Credential::of(&headers).map(|c| c.token()).unwrap_or_default().to_owned();
    state.engine.revoke_token(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct SessionOut {
    user: UserOut,
}

/// Sign the browser in: the answer sets an HttpOnly, `SameSite=Strict` session cookie
/// (`Secure` when reached over HTTPS) and names the user; the token itself is not in the body.
/// Only our own pages may call it (a cross-site sign-in is refused with 403), and the same
/// lock-out as `/api/v1/auth/token` applies.
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = SessionOut), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn create_session(State(state): State<AppState>, ClientAddr(client): ClientAddr, headers: HeaderMap, JsonBody(req): JsonBody<TokenRequest>) -> ApiResult<impl IntoResponse> {
    // Signing a victim's browser in to the attacker's account is an attack too.
    session::check_csrf(&Method::POST, &headers)?;
    let (token, actor) = state.engine.login_from(&req.email, &req.password, Some(&client)).await?;
    let user = user_out(&state, actor).await;
    Ok(([(header::SET_COOKIE, session::set_cookie(token, &headers)), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], axum::Json(SessionOut { user })))
}

/// Sign the browser out: revokes the session's token and removes the cookie.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth", security(("cookie" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn end_session(State(state): State<AppState>, _auth: Auth, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    if let Some(c) = Credential::of(&headers) {
        state.engine.revoke_token(c.token()).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, session::clear_cookie(&headers))]))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn me(State(state): State<AppState>, Auth(actor): Auth) -> axum::Json<UserOut> {
    axum::Json(user_out(&state, actor).await)
}

/// The signed-in user with their display name (none when the lookup fails: the name is for show).
async fn user_out(state: &AppState, actor: trellis_engine::Actor) -> UserOut {
    let name = state.engine.user_view(&actor.id.to_string()).await.ok().and_then(|u| u.name);
    UserOut { id: actor.id, email: actor.email, role: actor.role.as_str().into(), name }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TokensParams {
    /// Another user's email (admins).
    user: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct TokenList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<TokenView>,
}

/// Your bearer tokens (live and revoked, newest first; `current` is the one
/// this request is signed with), or with `?user=EMAIL` another user's (admins).
#[utoipa::path(get, path = "/api/v1/auth/tokens", tag = "auth", security(("bearer" = [])), params(TokensParams),
    responses((status = 200, body = TokenList), (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_tokens(State(state): State<AppState>, Auth(actor): Auth, Params(p): Params<TokensParams>, headers: HeaderMap) -> ApiResult<axum::Json<TokenList>> {
    Ok(axum::Json(TokenList { items: state.engine.list_tokens(&actor, p.user.as_deref(), Credential::of(&headers).map(|c| c.token())).await? }))
}

/// Revoke a token by its id: your own, or anyone's for an admin. It stops working at once.
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{id}", tag = "auth", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn revoke_token_id(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<uuid::Uuid>) -> ApiResult<axum::Json<TokenView>> {
    Ok(axum::Json(state.engine.revoke_token_id(&actor, id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    /// Entries before this time (RFC 3339): the `at` of the last entry of the previous page.
    before: Option<String>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct AuditList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<trellis_engine::AuditEntry>,
}

/// The audit log (admins), newest first: sign-ins and failed ones, token revocations, users added,
/// forms and definitions saved, packs installed and removed — each with its actor's id and email.
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", security(("bearer" = [])), params(AuditParams),
    responses((status = 200, body = AuditList), (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn audit_log(State(state): State<AppState>, Auth(actor): Auth, Params(p): Params<AuditParams>) -> ApiResult<axum::Json<AuditList>> {
    let before = match &p.before {
        Some(b) => Some(b.parse::<jiff::Timestamp>().map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("before is an RFC 3339 time: {e}")))?),
        None => None,
    };
    let limit = crate::paging::limit(p.limit, crate::paging::MAX_LIMIT)?;
    Ok(axum::Json(AuditList { items: state.engine.audit_log(&actor, before, limit.unwrap_or(100)).await? }))
}

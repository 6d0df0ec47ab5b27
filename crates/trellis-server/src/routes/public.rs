//! Public form links. Signed-in users make and manage them under
//! `/api/v1/forms/{form}/public-links` and `/api/v1/public-links/{id}`;
//! anyone with a link's URL (`/f/TOKEN`, a phone-sized page) reads its form
//! at `GET /api/v1/public/{token}` and submits at `POST` the same path,
//! without signing in and rate limited per address.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_engine::public::{LinkView, NewLink, PublicForm, Receipt};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::extract::{Auth, ClientAddr, JsonBody, Params, PathOf};
use crate::openapi::{NewLinkIn, RecordData};
use crate::problem::{ApiResult, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_links, create_link))
        .routes(routes!(revoke_link))
        .routes(routes!(link_url))
        .routes(routes!(public_form, public_submit))
}

#[derive(Serialize, ToSchema)]
struct LinkList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<LinkView>,
}

/// Make a public link: `{"fields": [...], "expires_at": …, "mode": "create"|"update", "title": …, "record": …}`.
/// A create link answers its `url`; an update link is signed per record (give `record`, or ask `…/url?record=`).
#[utoipa::path(post, path = "/api/v1/forms/{form}/public-links", tag = "public", security(("bearer" = [])), params(("form" = String, Path)), request_body = NewLinkIn,
    responses((status = 201, body = Object), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_link(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>, JsonBody(new): JsonBody<NewLink>) -> ApiResult<(StatusCode, Json<LinkView>)> {
    Ok((StatusCode::CREATED, Json(state.engine.create_public_link(&actor, &form, new).await?)))
}

/// A form's public links: an admin sees every one, others their own.
#[utoipa::path(get, path = "/api/v1/forms/{form}/public-links", tag = "public", security(("bearer" = [])), params(("form" = String, Path)), responses((status = 200, body = LinkList)))]
async fn list_links(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>) -> ApiResult<Json<LinkList>> {
    Ok(Json(LinkList { items: state.engine.public_links(&actor, &form).await? }))
}

/// Switch a link off: its URLs answer 410 from now on.
#[utoipa::path(delete, path = "/api/v1/public-links/{id}", tag = "public", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn revoke_link(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>) -> ApiResult<StatusCode> {
    state.engine.revoke_public_link(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct UrlParams {
    /// The record the update link is for.
    record: Uuid,
}

#[derive(Serialize, ToSchema)]
struct UrlOut {
    url: String,
}

/// An update link's URL for one record, to send to that customer.
#[utoipa::path(get, path = "/api/v1/public-links/{id}/url", tag = "public", security(("bearer" = [])), params(("id" = Uuid, Path), UrlParams),
    responses((status = 200, body = UrlOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn link_url(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>, Params(p): Params<UrlParams>) -> ApiResult<Json<UrlOut>> {
    Ok(Json(UrlOut { url: state.engine.public_link_url(&actor, id, p.record).await? }))
}

/// The form behind a link: its title and the link's fields (with the record's values for an update link). No sign-in.
#[utoipa::path(get, path = "/api/v1/public/{token}", tag = "public", params(("token" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 410, body = Problem, content_type = "application/problem+json")))]
async fn public_form(State(state): State<AppState>, PathOf(token): PathOf<String>) -> ApiResult<Json<PublicForm>> {
    Ok(Json(state.engine.public_form(&token).await?))
}

/// Submit through a link, without signing in: a create link makes a record (201), an update link changes its record (200).
/// Fields beyond the link's are refused (403, each named); too many submissions from one address answer 429.
#[utoipa::path(post, path = "/api/v1/public/{token}", tag = "public", params(("token" = String, Path)), request_body = RecordData,
    responses((status = 201, body = Object), (status = 200, body = Object), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"), (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn public_submit(State(state): State<AppState>, ClientAddr(client): ClientAddr, PathOf(token): PathOf<String>, JsonBody(data): JsonBody<Value>) -> ApiResult<Response> {
    let r: Receipt = state.engine.public_submit(&token, &client, data).await?;
    let status = if r.mode == "create" { StatusCode::CREATED } else { StatusCode::OK };
    state.metrics.wrote(if r.mode == "create" { "create" } else { "update" }, 1);
    Ok((status, Json(r)).into_response())
}

/// `/f/{token}`: the page a link opens, sized for a phone.
pub async fn page(headers: HeaderMap) -> Response {
    crate::routes::pages::public_page(&headers)
}

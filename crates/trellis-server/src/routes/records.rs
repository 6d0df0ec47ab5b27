//! Records of a form: create (one or a batch), list, get, patch, delete,
//! restore, history.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trellis_core::query::ListParams;
use trellis_core::{HistoryEntry, Record};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::extract::{Auth, IfMatch, JsonBody, Params, PathOf};
use crate::openapi::{RecordData, RecordsIn};
use crate::problem::{ApiResult, Problem};

/// A record.
#[derive(Serialize, ToSchema)]
pub struct RecordOut {
    pub id: Uuid,
    pub form: String,
    /// The form version the data was validated against.
    pub form_version: i64,
    /// The revision, also sent as the `ETag`; send it back in `If-Match`.
    pub rev: i64,
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    #[schema(value_type = Object)]
    pub segments: Map<String, Value>,
    pub owner: Option<Uuid>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

impl From<Record> for RecordOut {
    fn from(r: Record) -> Self {
        RecordOut {
            id: r.id,
            form: r.form,
            form_version: r.form_version,
            rev: r.rev,
            data: r.data,
            segments: r.segments,
            owner: r.owner,
            created_by: r.created_by,
            updated_by: r.updated_by,
            created_at: r.created_at.to_string(),
            updated_at: r.updated_at.to_string(),
            deleted_at: r.deleted_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RecordList {
    pub items: Vec<RecordOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A batch create's answer.
#[derive(Serialize, ToSchema)]
pub struct CreatedList {
    pub items: Vec<RecordOut>,
}

/// A create's answer: the record for an object, `{items}` for an array.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// Only the document's description of the answer: never built, so its size does not matter.
#[allow(dead_code, clippy::large_enum_variant)]
enum Created {
    One(RecordOut),
    Many(CreatedList),
}

/// One change of a record.
#[derive(Serialize, ToSchema)]
pub struct HistoryOut {
    pub rev: i64,
    /// create, update, delete, restore or transition.
    pub op: String,
    pub actor: Uuid,
    pub actor_email: Option<String>,
    pub at: String,
    /// For updates: `{"field": {"from": old, "to": new}}`; for a workflow
    /// starting or moving: `{"workflows.KEY": {"from", "to", "transition"}}`.
    #[schema(value_type = Object)]
    pub changes: Map<String, Value>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryList {
    pub items: Vec<HistoryOut>,
}

impl From<HistoryEntry> for HistoryOut {
    fn from(h: HistoryEntry) -> Self {
        HistoryOut { rev: h.rev, op: h.op.as_str().into(), actor: h.actor, actor_email: h.actor_email, at: h.at.to_string(), changes: h.changes }
    }
}

/// List parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQueryParams {
    /// Directus-style JSON filter, e.g. `{"level":{"_in":["A","B"]},"meta.created_at":{"_gte":"2026-01-01"}}`.
    pub filter: Option<String>,
    /// Comma-separated keys, `-` for descending, e.g. `-annual_spend,name`. Default: newest first.
    pub sort: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// List the trash instead of live records.
    pub deleted: Option<bool>,
}

fn record_id(form: &str, id: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(id).map_err(|_| Problem::new(StatusCode::NOT_FOUND, "not-found", format!("there is no record '{id}' in form '{form}': record ids are UUIDs")))
}

fn record_response(status: StatusCode, r: Record) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", r.rev)).expect("digits"));
    if status == StatusCode::CREATED
        && let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/forms/{}/records/{}", r.form, r.id)) {
            headers.insert(header::LOCATION, loc);
        }
    (status, headers, Json(RecordOut::from(r))).into_response()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_records, list_records))
        .routes(routes!(count_records))
        .routes(routes!(get_record, patch_record, delete_record))
        .routes(routes!(restore_record))
        .routes(routes!(record_history))
}

/// Create a record (a JSON object), or several at once (a JSON array: all or
/// nothing, errors point at `/INDEX/field`).
#[utoipa::path(post, path = "/api/v1/forms/{form}/records", tag = "records", security(("bearer" = [])), params(("form" = String, Path)),
    request_body = RecordsIn,
    responses((status = 201, description = "the record, or {items} for an array", body = Created),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_records(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>, JsonBody(body): JsonBody<Value>) -> ApiResult<Response> {
    match body {
        Value::Array(items) => {
            let records = state.engine.create_records(&actor, &form, items, true).await?;
            state.metrics.wrote("create", records.len());
            Ok((StatusCode::CREATED, Json(CreatedList { items: records.into_iter().map(RecordOut::from).collect() })).into_response())
        }
        one => {
            let mut records = state.engine.create_records(&actor, &form, vec![one], false).await?;
            state.metrics.wrote("create", 1);
            Ok(record_response(StatusCode::CREATED, records.remove(0)))
        }
    }
}

/// List live records (or the trash) with a filter, a sort and keyset paging.
#[utoipa::path(get, path = "/api/v1/forms/{form}/records", tag = "records", security(("bearer" = [])), params(("form" = String, Path), ListQueryParams),
    responses((status = 200, body = RecordList), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn list_records(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>, Params(q): Params<ListQueryParams>) -> ApiResult<Json<RecordList>> {
    let params = ListParams { filter: q.filter.as_deref(), sort: q.sort.as_deref(), cursor: q.cursor.as_deref(), limit: q.limit, deleted: q.deleted.unwrap_or(false) };
    let page = state.engine.list_records(&actor, &form, &params).await?;
    Ok(Json(RecordList { items: page.items.into_iter().map(RecordOut::from).collect(), next_cursor: page.next_cursor }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CountParams {
    /// The list's filter (JSON), as for listing.
    filter: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct CountOut {
    count: i64,
}

/// How many live records match a filter: the count a list view shows.
#[utoipa::path(get, path = "/api/v1/forms/{form}/records/count", tag = "records", security(("bearer" = [])), params(("form" = String, Path), CountParams),
    responses((status = 200, body = CountOut), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn count_records(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>, Params(q): Params<CountParams>) -> ApiResult<Json<CountOut>> {
    Ok(Json(CountOut { count: state.engine.count_records(&actor, &form, q.filter.as_deref()).await? }))
}

/// One record. A deleted record answers 410.
#[utoipa::path(get, path = "/api/v1/forms/{form}/records/{id}", tag = "records", security(("bearer" = [])), params(("form" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = RecordOut), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 410, body = Problem, content_type = "application/problem+json")))]
async fn get_record(State(state): State<AppState>, Auth(actor): Auth, PathOf((form, id)): PathOf<(String, String)>) -> ApiResult<Response> {
    let id = record_id(&form, &id)?;
    Ok(record_response(StatusCode::OK, state.engine.get_record(&actor, &form, id).await?))
}

/// Change a record with a JSON merge patch (RFC 7396); `If-Match: "REV"` refuses a stale edit with 412.
#[utoipa::path(patch, path = "/api/v1/forms/{form}/records/{id}", tag = "records", security(("bearer" = [])),
    params(("form" = String, Path), ("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "the revision being edited, `\"3\"`")),
    request_body(content((RecordData = "application/merge-patch+json"), (RecordData = "application/json"))),
    responses((status = 200, body = RecordOut), (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn patch_record(
    State(state): State<AppState>,
    Auth(actor): Auth,
    PathOf((form, id)): PathOf<(String, String)>,
    IfMatch(rev): IfMatch,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult<Response> {
    let id = record_id(&form, &id)?;
    let r = state.engine.patch_record(&actor, &form, id, patch, rev).await?;
    state.metrics.wrote("update", 1);
    Ok(record_response(StatusCode::OK, r))
}

/// Move a record to the trash. It keeps its history and can be restored.
#[utoipa::path(delete, path = "/api/v1/forms/{form}/records/{id}", tag = "records", security(("bearer" = [])),
    params(("form" = String, Path), ("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "the revision being deleted, `\"3\"`")),
    responses((status = 204), (status = 410, body = Problem, content_type = "application/problem+json"), (status = 412, body = Problem, content_type = "application/problem+json")))]
async fn delete_record(State(state): State<AppState>, Auth(actor): Auth, PathOf((form, id)): PathOf<(String, String)>, IfMatch(rev): IfMatch) -> ApiResult<StatusCode> {
    let id = record_id(&form, &id)?;
    state.engine.delete_record(&actor, &form, id, rev).await?;
    state.metrics.wrote("delete", 1);
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a deleted record back.
#[utoipa::path(post, path = "/api/v1/forms/{form}/records/{id}/restore", tag = "records", security(("bearer" = [])), params(("form" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = RecordOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn restore_record(State(state): State<AppState>, Auth(actor): Auth, PathOf((form, id)): PathOf<(String, String)>) -> ApiResult<Response> {
    let id = record_id(&form, &id)?;
    let r = state.engine.restore_record(&actor, &form, id).await?;
    state.metrics.wrote("restore", 1);
    Ok(record_response(StatusCode::OK, r))
}

/// Every change of a record, oldest first.
#[utoipa::path(get, path = "/api/v1/forms/{form}/records/{id}/history", tag = "records", security(("bearer" = [])), params(("form" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = HistoryList), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn record_history(State(state): State<AppState>, Auth(actor): Auth, PathOf((form, id)): PathOf<(String, String)>) -> ApiResult<Json<HistoryList>> {
    let id = record_id(&form, &id)?;
    let items = state.engine.history(&actor, &form, id).await?.into_iter().map(HistoryOut::from).collect();
    Ok(Json(HistoryList { items }))
}

//! Forms: `GET/POST /api/v1/forms`, `GET/PUT /api/v1/forms/{form}`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use trellis_engine::forms::{Backfill, FormInfo};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use trellis_core::permission::Access;
use trellis_engine::Actor;

use crate::extract::{Auth, IfMatch, JsonBody, Params, PathOf};
use crate::openapi::FormIn;
use crate::problem::{ApiResult, Problem};

/// A form at its current version.
#[derive(Serialize, ToSchema)]
pub struct FormOut {
    pub key: String,
    pub title: String,
    /// Starts at 1; every published change adds one.
    pub version: i64,
    pub updated_at: String,
    /// The definition: `key`, `title`, `schema` (JSON Schema 2020-12), `ui`, `title_field`, `unique`, `indexes`.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// What the signed-in user may do with the form's records: `create`,
    /// `read`/`write`/`delete` scopes (none, own, team, all), `hidden` and
    /// `readonly` fields, and the `rule` that says so.
    #[schema(value_type = Object)]
    pub access: Value,
    /// After a publish with `?backfill=defaults` that has records to fill:
    /// the job filling them (`GET /api/v1/jobs/{id}` shows its progress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill_job: Option<uuid::Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct FormList {
    pub items: Vec<FormOut>,
}

fn out(f: FormInfo, actor: &Actor) -> FormOut {
    let access = serde_json::to_value(Access::of(&f.definition, actor.role.as_str())).unwrap_or(Value::Null);
    FormOut {
        access,
        key: f.definition.key.clone(),
        title: f.definition.title.clone(),
        version: f.version,
        updated_at: f.updated_at.to_string(),
        definition: serde_json::to_value(&f.definition).unwrap_or(Value::Null),
        backfill_job: None,
    }
}

fn with_etag(status: StatusCode, f: FormInfo, actor: &Actor) -> Response {
    with_job(status, f, None, actor)
}

fn with_job(status: StatusCode, f: FormInfo, job: Option<uuid::Uuid>, actor: &Actor) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", f.version)).expect("digits are a valid header");
    let location = HeaderValue::from_str(&format!("/api/v1/forms/{}", f.definition.key)).expect("form keys are URL-safe");
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag);
    if status == StatusCode::CREATED {
        headers.insert(header::LOCATION, location);
    }
    let body = FormOut { backfill_job: job, ..out(f, actor) };
    (status, headers, Json(body)).into_response()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_forms, create_form)).routes(routes!(get_form, put_form)).routes(routes!(explain))
}

/// All forms.
#[utoipa::path(get, path = "/api/v1/forms", tag = "forms", security(("bearer" = [])), responses((status = 200, body = FormList)))]
async fn list_forms(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<FormList>> {
    let items = state.engine.list_forms().await?.into_iter().map(|f| out(f, &actor)).collect();
    Ok(Json(FormList { items }))
}

/// Create a form (admins). The schema is checked as a draft 2020-12 JSON Schema.
#[utoipa::path(post, path = "/api/v1/forms", tag = "forms", security(("bearer" = [])), request_body = FormIn,
    responses((status = 201, body = FormOut), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_form(State(state): State<AppState>, Auth(actor): Auth, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(with_etag(StatusCode::CREATED, state.engine.create_form(&actor, def).await?, &actor))
}

/// A form's current definition and version.
#[utoipa::path(get, path = "/api/v1/forms/{form}", tag = "forms", security(("bearer" = [])), params(("form" = String, Path)),
    responses((status = 200, body = FormOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_form(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>) -> ApiResult<Response> {
    Ok(with_etag(StatusCode::OK, state.engine.get_form(&form).await?, &actor))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PublishParams {
    /// `defaults`: when the new version requires a field that stored records
    /// lack, publish anyway and fill each such field's schema `default` into
    /// them by a job (`backfill_job` in the answer).
    backfill: Option<String>,
}

/// Publish a new version of a form (admins). `If-Match` takes the version
/// being edited. A version that newly requires a field live records lack is
/// refused (409 `records-would-fail`, with `missing`), unless `?backfill=defaults`
/// and the new schema gives each such field a `default`.
#[utoipa::path(put, path = "/api/v1/forms/{form}", tag = "forms", security(("bearer" = [])),
    params(("form" = String, Path), ("If-Match" = Option<String>, Header, description = "the version being edited, `\"3\"`"), PublishParams), request_body = FormIn,
    responses((status = 200, body = FormOut), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`records-would-fail`: stored records lack a field the new version requires"),
        (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_form(
    State(state): State<AppState>,
    Auth(actor): Auth,
    PathOf(form): PathOf<String>,
    IfMatch(version): IfMatch,
    Params(p): Params<PublishParams>,
    JsonBody(def): JsonBody<Value>,
) -> ApiResult<Response> {
    let backfill = match p.backfill.as_deref() {
        None => Backfill::No,
        Some("defaults") => Backfill::Defaults,
        Some(other) => {
            return Err(Problem { param: Some("backfill".into()), ..Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("backfill takes 'defaults', not '{other}'")).zh(format!("backfill 只能是 defaults，不能是「{other}」")) });
        }
    };
    let published = state.engine.publish_form(&actor, &form, def, version, backfill).await?;
    if let Some(id) = published.backfill_job {
        let engine = state.engine.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.run_job(id, &|_| {}).await {
                tracing::error!(job = %id, error = %e, "backfill stopped; it resumes when it is picked up again");
            }
        });
    }
    Ok(with_job(StatusCode::OK, published.form, published.backfill_job, &actor))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ExplainParams {
    /// The user asked about: email or id.
    user: String,
    form: String,
    /// A record of the form: whether its scope reaches it.
    record: Option<uuid::Uuid>,
}

/// What a user may do with a form (and one of its records), field by field,
/// and why: which role, scope and rule decide (admins).
#[utoipa::path(get, path = "/api/v1/permissions/explain", tag = "forms", security(("bearer" = [])), params(ExplainParams),
    responses((status = 200, body = Object), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn explain(State(state): State<AppState>, Auth(actor): Auth, Params(p): Params<ExplainParams>) -> ApiResult<Json<trellis_engine::access::Explanation>> {
    let x = state.engine.explain(&actor, &p.user, &p.form, p.record).await?;
    // The reasons are for people: in the reader's language.
    Ok(Json(if crate::lang::Lang::current() == crate::lang::Lang::Zh { x.in_chinese() } else { x }))
}

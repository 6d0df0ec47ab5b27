//! Imports and exports: `POST /api/v1/forms/{form}/imports` starts a job,
//! `GET /api/v1/jobs/{id}` follows it, `GET /api/v1/jobs/{id}/errors` is its
//! report of refused rows; `GET /api/v1/forms/{form}/export` streams a list
//! out as CSV or XLSX.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use trellis_engine::exports::ExportFormat;
use trellis_engine::imports::{self, ImportOptions, JobView, RowError};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::edge::Upload;
use crate::extract::{Auth, Params, PathOf};
use crate::problem::{ApiResult, Problem};

/// The largest file an import takes (a spreadsheet of a few hundred thousand rows).
pub const IMPORT_LIMIT: usize = 128 << 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_import))
        .layer(DefaultBodyLimit::max(IMPORT_LIMIT))
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(job_errors))
        .routes(routes!(export_records))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportParams {
    /// The file's name, shown with the job (the format is read from the content).
    name: Option<String>,
    /// Check every row and count what would happen; write no record.
    #[serde(default)]
    dry_run: bool,
    /// Column → field as a JSON object, for headers that are neither a field's key nor its title; `""` leaves a column out.
    map: Option<String>,
    /// A unique field: a row whose value exists updates that record.
    upsert_on: Option<String>,
    /// Fire event triggers for the rows (default true).
    events: Option<bool>,
    /// The time zone of date-times without an offset (default Asia/Shanghai).
    tz: Option<String>,
}

/// Import a CSV (UTF-8, UTF-8 with BOM, UTF-16, GBK) or Excel file into a
/// form. The body is the file. Answers 202 with the job at once; follow it at
/// `GET /api/v1/jobs/{id}`. Every row goes through the write path; refused
/// rows are listed at `GET /api/v1/jobs/{id}/errors`. Starting the same
/// import again while it is unfinished answers the same job.
#[utoipa::path(post, path = "/api/v1/forms/{form}/imports", tag = "imports", security(("bearer" = [])), params(("form" = String, Path), ImportParams),
    request_body(content = Vec<u8>, content_type = "text/csv", description = "the file: CSV or XLSX"),
    responses((status = 202, body = Object, description = "the job"), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "the user has as many unfinished imports as one may run at once")))]
async fn start_import(
    State(state): State<AppState>,
    Auth(actor): Auth,
    PathOf(form): PathOf<String>,
    Params(p): Params<ImportParams>,
    Upload(body): Upload<IMPORT_LIMIT>,
) -> ApiResult<Response> {
    if body.is_empty() {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", "send the file (CSV or XLSX) as the request body"));
    }
    let map: BTreeMap<String, String> = match &p.map {
        Some(m) => serde_json::from_str(m).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("map is a JSON object of column → field: {e}")))?,
        None => BTreeMap::new(),
    };
    // Refused rows are said in the language of whoever starts the import (the job keeps it).
    let lang = (crate::lang::Lang::current() == crate::lang::Lang::Zh).then(|| "zh".to_owned());
    let opts = ImportOptions { dry_run: p.dry_run, map, upsert_on: p.upsert_on, events: p.events.unwrap_or(true), tz: p.tz, batch: None, lang };
    let name = p.name.unwrap_or_else(|| "upload".into());
    // Without a copy: the body is the only owner of its bytes.
    let job = state.engine.start_import(&actor, &form, &name, Vec::from(body), opts).await?.columns_page(0, imports::COLUMNS_PAGE);
    let engine = state.engine.clone();
    let id = job.id;
    tokio::spawn(async move {
        if let Err(e) = engine.run_job(id, &|_| {}).await {
            tracing::error!(job = %id, error = %e, "import stopped; it resumes when it is picked up again");
        }
    });
    let mut res = (StatusCode::ACCEPTED, Json(job)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/jobs/{id}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

#[derive(Serialize, ToSchema)]
struct JobList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<JobView>,
}

/// The newest jobs: your own, or everyone's for an admin.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "imports", security(("bearer" = [])), responses((status = 200, body = JobList)))]
async fn list_jobs(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<JobList>> {
    Ok(Json(JobList { items: state.engine.jobs(&actor, 50).await? }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct JobParams {
    /// The first column of the mapping shown (default 0).
    columns_offset: Option<usize>,
    /// How many columns of the mapping are shown: 0–1000 (default 100); `column_count` says how many there are.
    #[param(minimum = 0, maximum = 1000)]
    columns_limit: Option<usize>,
}

/// A job's progress: `total` rows, `done` so far, and what became of them,
/// with a page of its column mapping.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "imports", security(("bearer" = [])), params(("id" = Uuid, Path), JobParams),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_job(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>, Params(p): Params<JobParams>) -> ApiResult<Json<JobView>> {
    let most = trellis_core::sheet::Limits::DEFAULT.columns;
    let limit = p.columns_limit.unwrap_or(imports::COLUMNS_PAGE);
    if limit > most {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("columns_limit is 0–{most}, not {limit}")));
    }
    Ok(Json(state.engine.job(&actor, id).await?.columns_page(p.columns_offset.unwrap_or(0), limit)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ErrorsParams {
    /// `csv` (the default: a report to download) or `json`.
    format: Option<String>,
    /// At most this many: 1–1000, default 1000 (JSON only; the CSV report has every row kept).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Skip this many first (JSON only; default 0).
    offset: Option<i64>,
}

/// The most refused rows one JSON page holds.
const ERRORS_PAGE: i64 = 1000;

#[derive(Serialize, ToSchema)]
struct ErrorList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<RowError>,
    /// How many refused rows the job keeps (at most 10,000; `failed` counts them all).
    total: i64,
}

/// The rows a job refused — row, column, field and reason — as a CSV report or JSON.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/errors", tag = "imports", security(("bearer" = [])), params(("id" = Uuid, Path), ErrorsParams),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn job_errors(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>, Params(p): Params<ErrorsParams>) -> ApiResult<Response> {
    match p.format.as_deref() {
        Some("json") => {
            let limit = crate::paging::limit(p.limit, ERRORS_PAGE)?.unwrap_or(ERRORS_PAGE);
            let offset = p.offset.unwrap_or(0);
            if offset < 0 {
                return Err(Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("offset is 0 or more, not {offset}")));
            }
            let (items, total) = state.engine.job_errors_page(&actor, id, offset, limit).await?;
            Ok(Json(ErrorList { items, total }).into_response())
        }
        None | Some("csv") => {
            let errors = state.engine.job_errors(&actor, id, None).await?;
            Ok(attachment(Body::from(imports::errors_csv(&errors)?), "text/csv; charset=utf-8", &format!("import-{id}-errors.csv")))
        }
        Some(other) => Err(Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("format is csv or json, not '{other}'"))),
    }
}

fn attachment(body: Body, content_type: &'static str, file_name: &str) -> Response {
    let mut res = Response::new(body);
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    /// `csv` (default) or `xlsx`.
    format: Option<String>,
    /// The list's filter (JSON), as for listing.
    filter: Option<String>,
    /// The list's sort, as for listing.
    sort: Option<String>,
}

/// Export a form's records — any filtered, sorted list — as CSV (UTF-8 with a
/// BOM, for Excel) or XLSX, streamed: the headers are the fields' titles, and
/// the file imports back as it is.
#[utoipa::path(get, path = "/api/v1/forms/{form}/export", tag = "imports", security(("bearer" = [])), params(("form" = String, Path), ExportParams),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn export_records(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>, Params(p): Params<ExportParams>) -> ApiResult<Response> {
    let format = match p.format.as_deref() {
        None => ExportFormat::Csv,
        Some(f) => ExportFormat::parse(f).ok_or_else(|| Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("format is csv or xlsx, not '{f}'")))?,
    };
    let export = state.engine.prepare_export(&actor, &form, p.filter.as_deref(), p.sort.as_deref(), format).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let engine = state.engine.clone();
    tokio::spawn(async move {
        if let Err(e) = engine.run_export(export, tx).await {
            tracing::error!(error = %e, "export stopped");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    let ext = if format == ExportFormat::Xlsx { "xlsx" } else { "csv" };
    Ok(attachment(Body::from_stream(stream), format.content_type(), &format!("{form}.{ext}")))
}

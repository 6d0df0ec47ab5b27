//! Template packs (`/api/v1/packs`: the installed and bundled ones, install or
//! upgrade from an upload, export, uninstall), dashboards
//! (`/api/v1/dashboards`) and roles (`/api/v1/roles`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_engine::packs::{self, InstallOptions, InstallReport, InstalledPack, archive, bundled};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::edge::Upload;
use crate::extract::{Auth, JsonBody, Params, PathOf};
use crate::openapi::DashboardIn;
use crate::problem::{ApiResult, Problem};
use crate::routes::workflows::{DefinitionList, DefinitionOut, out, saved};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_packs, install_pack))
        .routes(routes!(export_pack, uninstall_pack))
        .routes(routes!(list_dashboards, create_dashboard))
        .routes(routes!(get_dashboard, put_dashboard))
        .routes(routes!(dashboard_data))
        .routes(routes!(list_roles))
}

#[derive(Serialize, ToSchema)]
struct BundledPack {
    name: String,
    version: String,
    title: String,
    description: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct PackList {
    /// Installed packs.
    #[schema(value_type = Vec<Object>)]
    items: Vec<InstalledPack>,
    /// Packs shipped inside this binary, installable with `POST /api/v1/packs?bundled=NAME`.
    bundled: Vec<BundledPack>,
}

/// The installed packs, and the packs bundled with this binary.
#[utoipa::path(get, path = "/api/v1/packs", tag = "packs", security(("bearer" = [])), responses((status = 200, body = PackList)))]
async fn list_packs(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<PackList>> {
    let bundled = bundled::names()
        .into_iter()
        .filter_map(|n| bundled::manifest(&n).map(|m| BundledPack { name: n, version: m.version, title: m.title, description: m.description }))
        .collect();
    Ok(Json(PackList { items: state.engine.list_packs().await?, bundled }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InstallParams {
    /// Install a pack bundled with the binary instead of an uploaded one.
    bundled: Option<String>,
    /// Report what would change and write nothing.
    #[serde(default)]
    dry_run: bool,
    /// Allow a downgrade.
    #[serde(default)]
    force: bool,
    /// Load the pack's sample data and demo users (first install only).
    #[serde(default)]
    sample_data: bool,
}

/// Install or upgrade a pack (admins): the body is the pack as a `.tar.gz` or
/// `.zip`, or empty with `?bundled=NAME`. Installing the same version again
/// changes nothing; an upgrade merges the pack's changes with local ones and
/// reports conflicts (local values are kept), then migrates records.
#[utoipa::path(post, path = "/api/v1/packs", tag = "packs", security(("bearer" = [])), params(InstallParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the pack archive (.tar.gz or .zip)"),
    responses((status = 200, body = Object, description = "the install report"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn install_pack(State(state): State<AppState>, Auth(actor): Auth, Params(p): Params<InstallParams>, Upload(body): Upload<{ crate::BODY_LIMIT }>) -> ApiResult<Json<InstallReport>> {
    let opts = InstallOptions { dry_run: p.dry_run, force: p.force, sample_data: p.sample_data, demo_password: None };
    let report = match &p.bundled {
        Some(name) => {
            let files = bundled::files(name).ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "not-found", format!("no pack '{name}' is bundled with this binary")))?;
            state.engine.install_pack(&actor, &files, &opts, &|_| {}).await?
        }
        None if body.is_empty() => return Err(Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", "send the pack as a .tar.gz or .zip body, or name a bundled one with ?bundled=NAME")),
        None => state.engine.install_archive(&actor, body.to_vec(), &opts, &|_| {}).await?,
    };
    Ok(Json(report))
}

/// Export an installed pack (admins) as a `.tar.gz`: its definitions as they
/// are in force, changes made here included.
#[utoipa::path(get, path = "/api/v1/packs/{name}/export", tag = "packs", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, content_type = "application/gzip", body = Vec<u8>), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn export_pack(State(state): State<AppState>, Auth(actor): Auth, PathOf(name): PathOf<String>) -> ApiResult<Response> {
    let files = state.engine.export_pack(&actor, &name).await?;
    let bytes = archive::to_tar_gz(&name, &files)?;
    let mut res = (StatusCode::OK, bytes).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.tar.gz\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct UninstallParams {
    /// Also delete the records of the pack's forms.
    #[serde(default)]
    purge: bool,
}

#[derive(Serialize, ToSchema)]
struct Uninstalled {
    /// The definitions removed, `kind/key`.
    removed: Vec<String>,
}

/// Uninstall a pack (admins): its definitions go; its forms and records stay unless `purge`.
#[utoipa::path(delete, path = "/api/v1/packs/{name}", tag = "packs", security(("bearer" = [])), params(("name" = String, Path), UninstallParams),
    responses((status = 200, body = Uninstalled), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn uninstall_pack(State(state): State<AppState>, Auth(actor): Auth, PathOf(name): PathOf<String>, Params(p): Params<UninstallParams>) -> ApiResult<Json<Uninstalled>> {
    Ok(Json(Uninstalled { removed: state.engine.uninstall_pack(&actor, &name, p.purge).await? }))
}

/// Dashboards (数据看板): metric cards, charts and lists over forms.
#[utoipa::path(get, path = "/api/v1/dashboards", tag = "packs", security(("bearer" = [])), responses((status = 200, body = DefinitionList)))]
async fn list_dashboards(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<DefinitionList>> {
    Ok(Json(DefinitionList { items: state.engine.list_definitions(&actor, packs::DASHBOARD).await?.into_iter().map(out).collect() }))
}

/// Create a dashboard (admins), checked against the forms and workflows in force.
#[utoipa::path(post, path = "/api/v1/dashboards", tag = "packs", security(("bearer" = [])), request_body = DashboardIn,
    responses((status = 201, body = DefinitionOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_dashboard(State(state): State<AppState>, Auth(actor): Auth, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(packs::DASHBOARD, state.engine.save_dashboard(&actor, None, def, true).await?))
}

#[utoipa::path(get, path = "/api/v1/dashboards/{key}", tag = "packs", security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 200, body = DefinitionOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_dashboard(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>) -> ApiResult<Json<DefinitionOut>> {
    Ok(Json(out(state.engine.get_definition(&actor, packs::DASHBOARD, &key).await?)))
}

/// Create or change a dashboard (admins).
#[utoipa::path(put, path = "/api/v1/dashboards/{key}", tag = "packs", security(("bearer" = [])), params(("key" = String, Path)), request_body = DashboardIn,
    responses((status = 200, body = DefinitionOut), (status = 201, body = DefinitionOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_dashboard(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(packs::DASHBOARD, state.engine.save_dashboard(&actor, Some(&key), def, false).await?))
}

/// A dashboard's figures, computed now: per widget a metric's `value`, a chart's `points` `[{label, value}]` or a table's `rows`.
#[utoipa::path(get, path = "/api/v1/dashboards/{key}/data", tag = "packs", security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn dashboard_data(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>) -> ApiResult<Json<trellis_engine::dashboards::DashboardData>> {
    Ok(Json(state.engine.dashboard_data(&actor, &key).await?))
}

/// The roles' titles and descriptions, as packs name them (the roles are admin, manager and staff).
#[utoipa::path(get, path = "/api/v1/roles", tag = "packs", security(("bearer" = [])), responses((status = 200, body = DefinitionList)))]
async fn list_roles(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<DefinitionList>> {
    Ok(Json(DefinitionList { items: state.engine.list_definitions(&actor, packs::ROLE).await?.into_iter().map(out).collect() }))
}

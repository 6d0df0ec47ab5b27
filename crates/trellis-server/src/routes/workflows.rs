//! Workflows, messages, triggers and working-day calendars
//! (`/api/v1/workflows`, `/api/v1/messages`, `/api/v1/triggers`,
//! `/api/v1/calendars`), the workflows on a record, transitions by hand, and
//! what triggers did (`/api/v1/occurrences`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_engine::definitions::{CALENDAR, CalendarDays, MESSAGE, TRIGGER, WORKFLOW};
use trellis_engine::workflows::InstanceView;
use trellis_engine::StoredDefinition;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::extract::{Auth, JsonBody, PathOf};
use crate::openapi::{CalendarIn, MessageIn, TriggerIn, WorkflowIn};
use crate::problem::{ApiResult, JsonObject, Problem};

/// A workflow or message definition at its current version.
#[derive(Serialize, ToSchema)]
pub struct DefinitionOut {
    pub key: String,
    /// Starts at 1; every change adds one.
    pub version: i64,
    pub updated_at: String,
    #[schema(value_type = Object)]
    pub definition: Value,
}

#[derive(Serialize, ToSchema)]
pub struct DefinitionList {
    pub items: Vec<DefinitionOut>,
}

pub(crate) fn out(d: StoredDefinition) -> DefinitionOut {
    DefinitionOut { key: d.key, version: d.version, updated_at: d.updated_at.to_string(), definition: d.definition }
}

pub(crate) fn saved(kind: &str, (d, created): (StoredDefinition, bool)) -> Response {
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let location = HeaderValue::from_str(&format!("/api/v1/{kind}s/{}", d.key)).ok();
    let etag = HeaderValue::from_str(&format!("\"{}\"", d.version)).ok();
    let mut res = (status, Json(out(d))).into_response();
    if let (true, Some(l)) = (created, location) {
        res.headers_mut().insert(header::LOCATION, l);
    }
    if let Some(e) = etag {
        res.headers_mut().insert(header::ETAG, e);
    }
    res
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(get_workflow, put_workflow))
        .routes(routes!(list_messages, create_message))
        .routes(routes!(get_message, put_message))
        .routes(routes!(preview_message))
        .routes(routes!(record_workflows, start_workflow))
        .routes(routes!(transition))
        .routes(routes!(board))
        .routes(routes!(form_workflows))
        .routes(routes!(list_triggers, create_trigger))
        .routes(routes!(get_trigger, put_trigger))
        .routes(routes!(list_occurrences))
        .routes(routes!(list_calendars, create_calendar))
        .routes(routes!(get_calendar, put_calendar))
        .routes(routes!(calendar_days))
        .routes(routes!(record_reminders))
        .routes(routes!(reminders))
}

/// All triggers (admins).
#[utoipa::path(get, path = "/api/v1/triggers", tag = "triggers", security(("bearer" = [])), responses((status = 200, body = DefinitionList)))]
async fn list_triggers(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<DefinitionList>> {
    Ok(Json(DefinitionList { items: state.engine.list_definitions(&actor, TRIGGER).await?.into_iter().map(out).collect() }))
}

/// Create a trigger (admins): `when` (an event, or a date, anniversary,
/// festival or inactivity moment with `at` and `tz`), `condition`, `actions`, `max_lateness`.
/// Its next moment is computed for every record of its form.
#[utoipa::path(post, path = "/api/v1/triggers", tag = "triggers", security(("bearer" = [])), request_body = TriggerIn,
    responses((status = 201, body = DefinitionOut), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_trigger(State(state): State<AppState>, Auth(actor): Auth, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(TRIGGER, state.engine.save_trigger(&actor, None, def, true).await?))
}

#[utoipa::path(get, path = "/api/v1/triggers/{key}", tag = "triggers", security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 200, body = DefinitionOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_trigger(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>) -> ApiResult<Json<DefinitionOut>> {
    Ok(Json(out(state.engine.get_definition(&actor, TRIGGER, &key).await?)))
}

/// Create or change a trigger (admins); the moments of its records are computed again.
#[utoipa::path(put, path = "/api/v1/triggers/{key}", tag = "triggers", security(("bearer" = [])), params(("key" = String, Path)), request_body = TriggerIn,
    responses((status = 200, body = DefinitionOut), (status = 201, body = DefinitionOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_trigger(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(TRIGGER, state.engine.save_trigger(&actor, Some(&key), def, false).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OccurrenceParams {
    pub trigger: Option<String>,
    pub record: Option<Uuid>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct OccurrenceList {
    /// `{trigger, record_id, at, status (fired | skipped | missed), handled_at}`.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<trellis_engine::Occurrence>,
}

/// What triggers did (admins): each moment fired, skipped (condition false) or missed (too late), newest first.
#[utoipa::path(get, path = "/api/v1/occurrences", tag = "triggers", security(("bearer" = [])), params(OccurrenceParams), responses((status = 200, body = OccurrenceList)))]
async fn list_occurrences(State(state): State<AppState>, Auth(actor): Auth, crate::extract::Params(p): crate::extract::Params<OccurrenceParams>) -> ApiResult<Json<OccurrenceList>> {
    let limit = crate::paging::limit(p.limit, crate::paging::MAX_LIMIT)?;
    Ok(Json(OccurrenceList { items: state.engine.occurrences(&actor, p.trigger.as_deref(), p.record, limit).await? }))
}

/// All workflows (admins: definitions hold webhook URLs, whose tokens are secrets).
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])), responses((status = 200, body = DefinitionList)))]
async fn list_workflows(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<DefinitionList>> {
    Ok(Json(DefinitionList { items: state.engine.list_definitions(&actor, WORKFLOW).await?.into_iter().map(out).collect() }))
}

/// Create a workflow (admins). Checked first: states, transitions, scripts,
/// and every form, message, workflow and role it names; each problem has a pointer.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])), request_body = WorkflowIn,
    responses((status = 201, body = DefinitionOut), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_workflow(State(state): State<AppState>, Auth(actor): Auth, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(WORKFLOW, state.engine.save_workflow(&actor, None, def, true).await?))
}

/// A workflow's current definition (admins).
#[utoipa::path(get, path = "/api/v1/workflows/{key}", tag = "workflows", security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 200, body = DefinitionOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_workflow(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>) -> ApiResult<Json<DefinitionOut>> {
    Ok(Json(out(state.engine.get_definition(&actor, WORKFLOW, &key).await?)))
}

/// Create or change a workflow (admins); the version in force stays when the new one does not check.
#[utoipa::path(put, path = "/api/v1/workflows/{key}", tag = "workflows", security(("bearer" = [])), params(("key" = String, Path)), request_body = WorkflowIn,
    responses((status = 200, body = DefinitionOut), (status = 201, body = DefinitionOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_workflow(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(WORKFLOW, state.engine.save_workflow(&actor, Some(&key), def, false).await?))
}

/// All message templates.
#[utoipa::path(get, path = "/api/v1/messages", tag = "workflows", security(("bearer" = [])), responses((status = 200, body = DefinitionList)))]
async fn list_messages(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<DefinitionList>> {
    Ok(Json(DefinitionList { items: state.engine.list_definitions(&actor, MESSAGE).await?.into_iter().map(out).collect() }))
}

/// Create a message template (admins): `{"key", "template"}`, minijinja; a first line `subject: …` is the email subject.
#[utoipa::path(post, path = "/api/v1/messages", tag = "workflows", security(("bearer" = [])), request_body = MessageIn,
    responses((status = 201, body = DefinitionOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_message(State(state): State<AppState>, Auth(actor): Auth, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(MESSAGE, state.engine.save_message(&actor, None, def, true).await?))
}

#[utoipa::path(get, path = "/api/v1/messages/{key}", tag = "workflows", security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 200, body = DefinitionOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_message(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>) -> ApiResult<Json<DefinitionOut>> {
    Ok(Json(out(state.engine.get_definition(&actor, MESSAGE, &key).await?)))
}

/// Create or change a message template (admins).
#[utoipa::path(put, path = "/api/v1/messages/{key}", tag = "workflows", security(("bearer" = [])), params(("key" = String, Path)), request_body = MessageIn,
    responses((status = 200, body = DefinitionOut), (status = 201, body = DefinitionOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_message(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(MESSAGE, state.engine.save_message(&actor, Some(&key), def, false).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewIn {
    /// minijinja source; an optional first line `subject: …`.
    template: String,
    /// A sample record's data (`record` in the template)…
    #[schema(value_type = Option<Object>)]
    record: Option<serde_json::Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    segments: Option<serde_json::Map<String, Value>>,
    /// …or a stored record: its form and id.
    form: Option<String>,
    record_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
struct PreviewOut {
    subject: Option<String>,
    body: String,
}

/// Render a message template against a sample or stored record (admins), writing nothing: the designer's live preview.
#[utoipa::path(post, path = "/api/v1/messages/preview", tag = "workflows", security(("bearer" = [])), request_body = PreviewIn,
    responses((status = 200, body = PreviewOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn preview_message(State(state): State<AppState>, Auth(actor): Auth, JsonBody(body): JsonBody<PreviewIn>) -> ApiResult<Json<PreviewOut>> {
    let stored = match (&body.form, body.record_id) {
        (Some(f), Some(id)) => Some((f.as_str(), id)),
        (None, None) => None,
        _ => return Err(Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", "a stored record needs both form and record_id")),
    };
    let (subject, body) = state.engine.preview_message(&actor, &body.template, trellis_engine::definitions::MessageSample { record: body.record, segments: body.segments }, stored).await?;
    Ok(Json(PreviewOut { subject, body }))
}

/// Saved working-day calendars. The built-in `cn` is not listed unless it was saved (extended).
#[utoipa::path(get, path = "/api/v1/calendars", tag = "triggers", security(("bearer" = [])), responses((status = 200, body = DefinitionList)))]
async fn list_calendars(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<DefinitionList>> {
    Ok(Json(DefinitionList { items: state.engine.list_definitions(&actor, CALENDAR).await?.into_iter().map(out).collect() }))
}

/// Create a working-day calendar (admins): `{"key", "base", "weekend", "holidays", "workdays"}`.
#[utoipa::path(post, path = "/api/v1/calendars", tag = "triggers", security(("bearer" = [])), request_body = CalendarIn,
    responses((status = 201, body = DefinitionOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_calendar(State(state): State<AppState>, Auth(actor): Auth, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(CALENDAR, state.engine.save_calendar(&actor, None, def, true).await?))
}

#[utoipa::path(get, path = "/api/v1/calendars/{key}", tag = "triggers", security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 200, body = DefinitionOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_calendar(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>) -> ApiResult<Json<DefinitionOut>> {
    Ok(Json(out(state.engine.get_definition(&actor, CALENDAR, &key).await?)))
}

/// Create or change a working-day calendar (admins); `cn` extends the built-in one. Triggers that keep to it are rescheduled.
#[utoipa::path(put, path = "/api/v1/calendars/{key}", tag = "triggers", security(("bearer" = [])), params(("key" = String, Path)), request_body = CalendarIn,
    responses((status = 200, body = DefinitionOut), (status = 201, body = DefinitionOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_calendar(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>, JsonBody(def): JsonBody<Value>) -> ApiResult<Response> {
    Ok(saved(CALENDAR, state.engine.save_calendar(&actor, Some(&key), def, false).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DaysParams {
    /// First day, `2026-10-01`.
    from: String,
    /// Last day (at most 366 days after `from`).
    to: String,
}

/// Which days of a span a calendar counts as working days (the built-in `cn` included), and the last year it has holiday data for.
#[utoipa::path(get, path = "/api/v1/calendars/{key}/days", tag = "triggers", security(("bearer" = [])), params(("key" = String, Path), DaysParams),
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn calendar_days(State(state): State<AppState>, _auth: Auth, PathOf(key): PathOf<String>, crate::extract::Params(p): crate::extract::Params<DaysParams>) -> ApiResult<Json<CalendarDays>> {
    Ok(Json(state.engine.calendar_days(&key, &p.from, &p.to).await?))
}

/// A record's next moment for one trigger.
#[derive(Serialize, ToSchema)]
pub struct Reminder {
    pub trigger: String,
    /// RFC 3339, UTC.
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReminderList {
    pub items: Vec<Reminder>,
}

/// A record's next reminders: each moment trigger's next moment for it, earliest first.
#[utoipa::path(get, path = "/api/v1/forms/{form}/records/{id}/reminders", tag = "triggers", security(("bearer" = [])),
    params(("form" = String, Path), ("id" = Uuid, Path)), responses((status = 200, body = ReminderList), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn record_reminders(State(state): State<AppState>, Auth(actor): Auth, PathOf((form, id)): PathOf<(String, Uuid)>) -> ApiResult<Json<ReminderList>> {
    let items = state.engine.next_reminders(&actor, &form, id).await?.into_iter().map(|s| Reminder { trigger: s.trigger, at: s.fire_at.to_string() }).collect();
    Ok(Json(ReminderList { items }))
}

#[derive(Serialize, ToSchema)]
pub struct InstanceList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<InstanceView>,
}

/// The workflows on a record, with their state and the transitions open from it.
#[utoipa::path(get, path = "/api/v1/forms/{form}/records/{id}/workflows", tag = "workflows", security(("bearer" = [])),
    params(("form" = String, Path), ("id" = Uuid, Path)), responses((status = 200, body = InstanceList), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn record_workflows(State(state): State<AppState>, Auth(actor): Auth, PathOf((form, id)): PathOf<(String, Uuid)>) -> ApiResult<Json<InstanceList>> {
    Ok(Json(InstanceList { items: state.engine.record_workflows(&actor, &form, id).await? }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartIn {
    pub workflow: String,
}

/// Start a workflow on a record by hand; 409 when it is already running there.
#[utoipa::path(post, path = "/api/v1/forms/{form}/records/{id}/workflows", tag = "workflows", security(("bearer" = [])),
    params(("form" = String, Path), ("id" = Uuid, Path)), request_body = StartIn,
    responses((status = 201, body = JsonObject), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn start_workflow(State(state): State<AppState>, Auth(actor): Auth, PathOf((form, id)): PathOf<(String, Uuid)>, JsonBody(body): JsonBody<StartIn>) -> ApiResult<Response> {
    let view = state.engine.start_workflow(&actor, &form, id, &body.workflow).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BoardParams {
    /// A list filter on the workflow's form (the record list's syntax).
    pub filter: Option<String>,
    /// Most cards, 1 to 1000 (default 500); the newest-changed records come first.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CardOut {
    /// The running instance: move the card with `POST /api/v1/instances/{instance}/transitions/{key}`.
    pub instance: Uuid,
    pub state: String,
    pub record: crate::routes::records::RecordOut,
}

#[derive(Serialize, ToSchema)]
pub struct BoardOut {
    pub workflow: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub form: String,
    /// `{key, title, final, count}` per state, in the workflow's order.
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<trellis_engine::boards::Column>,
    /// `{key, title, from, to}`: which transition a move from one column to another takes (`from` empty: any non-final state).
    #[schema(value_type = Vec<Object>)]
    pub transitions: Vec<trellis_engine::boards::Move>,
    pub cards: Vec<CardOut>,
    /// More records matched than `limit`.
    pub truncated: bool,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReminderParams {
    /// From this instant (RFC 3339), included.
    pub from: String,
    /// Until this instant (RFC 3339), excluded; at most 62 days after `from`.
    pub to: String,
}

#[derive(Serialize, ToSchema)]
pub struct Moment {
    pub trigger: String,
    /// The trigger's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub form: String,
    pub record_id: Uuid,
    /// RFC 3339, UTC.
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MomentList {
    pub items: Vec<Moment>,
    /// More than 1,000 moments fell in the window; narrow it.
    pub truncated: bool,
}

/// The reminder moments (each moment trigger's next moment per record) in a window, of records you may read, earliest first: a calendar's reminders.
#[utoipa::path(get, path = "/api/v1/reminders", tag = "triggers", security(("bearer" = [])), params(ReminderParams),
    responses((status = 200, body = MomentList), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn reminders(State(state): State<AppState>, Auth(actor): Auth, crate::extract::Params(p): crate::extract::Params<ReminderParams>) -> ApiResult<Json<MomentList>> {
    let bad = |param: &str, detail: String| Problem { param: Some(param.into()), ..Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", detail) };
    let from: jiff::Timestamp = p.from.parse().map_err(|e| bad("from", format!("from is not an RFC 3339 instant: {e}")))?;
    let to: jiff::Timestamp = p.to.parse().map_err(|e| bad("to", format!("to is not an RFC 3339 instant: {e}")))?;
    if to <= from || to.duration_since(from) > jiff::SignedDuration::from_hours(62 * 24) {
        return Err(bad("to", "to must be after from, by at most 62 days".into()));
    }
    let (list, truncated) = state.engine.reminders_between(&actor, from, to, 1000).await?;
    let items = list.into_iter().map(|(m, title)| Moment { trigger: m.trigger, title, form: m.form, record_id: m.record_id, at: m.fire_at.to_string() }).collect();
    Ok(Json(MomentList { items, truncated }))
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowRef {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `{key, title, from, to}`: its transitions, as moves between states (what bulk 推进 offers).
    #[schema(value_type = Vec<Object>)]
    pub transitions: Vec<trellis_engine::boards::Move>,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowRefs {
    pub items: Vec<WorkflowRef>,
}

/// The workflows that run on a form's records (key, title, transitions), for anyone: a list offers their boards and stage moves.
#[utoipa::path(get, path = "/api/v1/forms/{form}/workflows", tag = "workflows", security(("bearer" = [])), params(("form" = String, Path)),
    responses((status = 200, body = WorkflowRefs), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn form_workflows(State(state): State<AppState>, Auth(_actor): Auth, PathOf(form): PathOf<String>) -> ApiResult<Json<WorkflowRefs>> {
    // Forms are readable by every signed-in user (their access says what of the records).
    state.engine.form(&form).await?;
    Ok(Json(WorkflowRefs { items: state.engine.workflows_of(&form).await?.into_iter().map(|(key, title, transitions)| WorkflowRef { key, title, transitions }).collect() }))
}

/// A workflow as a board: a column per state, the records you may read as cards in their state's column.
#[utoipa::path(get, path = "/api/v1/workflows/{key}/board", tag = "workflows", security(("bearer" = [])), params(("key" = String, Path), BoardParams),
    responses((status = 200, body = BoardOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn board(State(state): State<AppState>, Auth(actor): Auth, PathOf(key): PathOf<String>, crate::extract::Params(p): crate::extract::Params<BoardParams>) -> ApiResult<Json<BoardOut>> {
    if p.limit.is_some_and(|n| !(1..=trellis_engine::boards::MAX_CARDS).contains(&n)) {
        return Err(Problem { param: Some("limit".into()), ..Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("limit must be between 1 and {}", trellis_engine::boards::MAX_CARDS)) });
    }
    let b = state.engine.board(&actor, &key, p.filter.as_deref(), p.limit).await?;
    Ok(Json(BoardOut {
        workflow: b.workflow,
        title: b.title,
        form: b.form,
        columns: b.columns,
        transitions: b.transitions,
        cards: b.cards.into_iter().map(|c| CardOut { instance: c.instance, state: c.state, record: c.record.into() }).collect(),
        truncated: b.truncated,
    }))
}

/// Take a transition by hand. 409 when it does not leave the current state,
/// 422 `guard-failed` with the guard's message, 403 when it is for other roles.
#[utoipa::path(post, path = "/api/v1/instances/{id}/transitions/{key}", tag = "workflows", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("key" = String, Path)),
    responses((status = 200, body = JsonObject), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn transition(State(state): State<AppState>, Auth(actor): Auth, PathOf((id, key)): PathOf<(Uuid, String)>) -> ApiResult<Json<InstanceView>> {
    Ok(Json(state.engine.take_transition(&actor, id, &key).await?))
}

//! Work: tasks (`/api/v1/tasks`), notifications, the delivery outbox, and a user's team.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_engine::tasks::{TaskDetail, TaskFilter, TaskView};
use trellis_engine::{Delivery, Notification};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::extract::{Auth, JsonBody, Params, PathOf};
use crate::problem::{ApiResult, JsonObject, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks))
        .routes(routes!(get_task))
        .routes(routes!(complete_task))
        .routes(routes!(cancel_task))
        .routes(routes!(reopen_task))
        .routes(routes!(reassign_task))
        .routes(routes!(comment_task))
        .routes(routes!(list_notifications))
        .routes(routes!(read_notification))
        .routes(routes!(read_all_notifications))
        .routes(routes!(list_deliveries))
        .routes(routes!(set_manager))
        .routes(routes!(list_views, save_view))
        .routes(routes!(delete_view))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskParams {
    /// `me` (default), `all` (managers, admins) or a user's email.
    pub assignee: Option<String>,
    /// `open` (default), `done`, `cancelled` or `any`.
    pub status: Option<String>,
    /// Due before this date or time.
    pub due_before: Option<String>,
    /// Due at or after this date or time.
    pub due_after: Option<String>,
    /// Only the tasks of this record.
    pub record: Option<Uuid>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<TaskView>,
}

/// My open tasks by due date (overdue ones have `overdue: true`); filters by status, due date, record, assignee.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", security(("bearer" = [])), params(TaskParams), responses((status = 200, body = TaskList)))]
async fn list_tasks(State(state): State<AppState>, Auth(actor): Auth, Params(p): Params<TaskParams>) -> ApiResult<Json<TaskList>> {
    let limit = crate::paging::limit(p.limit, crate::paging::MAX_LIMIT)?;
    let f = TaskFilter { assignee: p.assignee, status: p.status, due_before: p.due_before, due_after: p.due_after, record: p.record, limit };
    Ok(Json(TaskList { items: state.engine.list_tasks(&actor, &f).await? }))
}

/// A task with its comments and its record's history.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = JsonObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_task(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>) -> ApiResult<Json<TaskDetail>> {
    Ok(Json(state.engine.task_detail(&actor, id).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CompleteIn {
    /// The fields of the task's form (e.g. a revisit's satisfaction and NPS).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// Complete a task; a task with a form needs `data`, stored as a record of that form linked to the task's record.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "tasks", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CompleteIn,
    responses((status = 200, body = JsonObject), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn complete_task(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>, body: Option<JsonBody<CompleteIn>>) -> ApiResult<Json<TaskDetail>> {
    let body = body.map(|JsonBody(b)| b).unwrap_or_default();
    Ok(Json(state.engine.complete_task(&actor, id, body.data).await?))
}

/// Take back a completion (the undo after 完成): the task is open again. Its completer, a manager or an admin;
/// 409 when it is not done, or completing it created an outcome record (delete that record instead).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/reopen", tag = "tasks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Object), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn reopen_task(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>) -> ApiResult<Json<TaskDetail>> {
    Ok(Json(state.engine.reopen_task(&actor, id).await?))
}

/// Cancel an open task.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/cancel", tag = "tasks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = JsonObject), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn cancel_task(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>) -> ApiResult<Json<TaskDetail>> {
    Ok(Json(state.engine.cancel_task(&actor, id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignIn {
    /// The new assignee's email or id.
    pub assignee: String,
}

/// Give an open task to someone else (they are notified; a comment records the handover).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/reassign", tag = "tasks", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = ReassignIn,
    responses((status = 200, body = JsonObject), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn reassign_task(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>, JsonBody(b): JsonBody<ReassignIn>) -> ApiResult<Json<TaskDetail>> {
    Ok(Json(state.engine.reassign_task(&actor, id, &b.assignee).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentIn {
    pub body: String,
}

/// Comment on a task.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/comments", tag = "tasks", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CommentIn,
    responses((status = 201, body = JsonObject), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn comment_task(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>, JsonBody(b): JsonBody<CommentIn>) -> ApiResult<(StatusCode, Json<TaskDetail>)> {
    Ok((StatusCode::CREATED, Json(state.engine.comment_task(&actor, id, &b.body).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NotificationParams {
    /// Only unread ones.
    pub unread: Option<bool>,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    /// `{id, title, body, record_form, record_id, task_id, created_at, read_at}`.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Notification>,
    pub unread: i64,
}

/// My notifications, newest first, and how many are unread.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "tasks", security(("bearer" = [])), params(NotificationParams), responses((status = 200, body = NotificationList)))]
async fn list_notifications(State(state): State<AppState>, Auth(actor): Auth, Params(p): Params<NotificationParams>) -> ApiResult<Json<NotificationList>> {
    let limit = crate::paging::limit(p.limit, crate::paging::MAX_LIMIT)?;
    let (items, unread) = state.engine.notifications(&actor, p.unread.unwrap_or(false), limit).await?;
    Ok(Json(NotificationList { items, unread }))
}

/// Mark one of my notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "tasks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn read_notification(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>) -> ApiResult<StatusCode> {
    state.engine.mark_read(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ReadAll {
    /// How many were unread.
    pub marked: u64,
}

/// Mark all of my notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "tasks", security(("bearer" = [])), responses((status = 200, body = ReadAll)))]
async fn read_all_notifications(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<ReadAll>> {
    Ok(Json(ReadAll { marked: state.engine.mark_all_read(&actor).await? }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    pub record: Option<Uuid>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    /// `{id, channel (email | webhook), target, subject, body, format, idempotency_key,
    /// record_id, status (pending | sent | failed), attempts, created_at, sent_at, last_error}`.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Delivery>,
}

/// The delivery outbox (admins): emails and webhooks handed over by workflows, newest first.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "tasks", security(("bearer" = [])), params(DeliveryParams), responses((status = 200, body = DeliveryList)))]
async fn list_deliveries(State(state): State<AppState>, Auth(actor): Auth, Params(p): Params<DeliveryParams>) -> ApiResult<Json<DeliveryList>> {
    let limit = crate::paging::limit(p.limit, crate::paging::MAX_LIMIT)?;
    let items = state.engine.deliveries(&actor, p.record, limit).await?;
    Ok(Json(DeliveryList { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerIn {
    /// The manager's email or id; `null` takes the user out of any team.
    pub manager: Option<String>,
}

/// Put a user in a manager's team (admins): "the owner's manager" in tasks and escalations.
#[utoipa::path(put, path = "/api/v1/users/{user}/manager", tag = "auth", security(("bearer" = [])), params(("user" = String, Path)), request_body = ManagerIn,
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn set_manager(State(state): State<AppState>, Auth(actor): Auth, PathOf(user): PathOf<String>, JsonBody(b): JsonBody<ManagerIn>) -> ApiResult<StatusCode> {
    state.engine.set_manager(Some(&actor), &user, b.manager.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ViewList {
    /// `{id, user_id, form, name, config, shared, created_at, updated_at}`, by name.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<trellis_engine::SavedView>,
}

/// A form's saved list views offered to me: mine, and the shared ones of my team (my manager, my reports, those with my manager).
#[utoipa::path(get, path = "/api/v1/forms/{form}/views", tag = "records", security(("bearer" = [])), params(("form" = String, Path)),
    responses((status = 200, body = ViewList), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_views(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>) -> ApiResult<Json<ViewList>> {
    Ok(Json(ViewList { items: state.engine.saved_views(&actor, &form).await? }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewIn {
    /// 1 to 50 characters; saving the same name again replaces my view of that name.
    pub name: String,
    /// What the list keeps (columns, conditions, sort), as the browser app writes it; at most 16 KiB.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Offer it to my team too.
    #[serde(default)]
    pub shared: bool,
}

/// Save a list view of a form (mine) → 201 the view; 422 at `/name` or `/config`.
#[utoipa::path(post, path = "/api/v1/forms/{form}/views", tag = "records", security(("bearer" = [])), params(("form" = String, Path)), request_body = ViewIn,
    responses((status = 201, body = Object), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn save_view(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>, JsonBody(v): JsonBody<ViewIn>) -> ApiResult<(StatusCode, Json<trellis_engine::SavedView>)> {
    Ok((StatusCode::CREATED, Json(state.engine.save_view(&actor, &form, &v.name, v.config, v.shared).await?)))
}

/// Delete a saved view: mine, or any for an admin.
#[utoipa::path(delete, path = "/api/v1/views/{id}", tag = "records", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_view(State(state): State<AppState>, Auth(actor): Auth, PathOf(id): PathOf<Uuid>) -> ApiResult<StatusCode> {
    state.engine.delete_view(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

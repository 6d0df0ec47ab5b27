//! Rules: trying a script, simulating a changed form, sweeping a form, and
//! (with `--clock manual`) moving the engine clock.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trellis_engine::scripts::{ScriptTrial, Simulation};
use trellis_engine::sweep::SweepReport;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::extract::{Auth, JsonBody, PathOf};
use crate::openapi::FormIn;
use crate::problem::{ApiResult, JsonObject, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(test_script)).routes(routes!(simulate)).routes(routes!(refresh))
}

/// A script and what to run it against: a sample `record`, or a stored one (`form` + `record_id`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptTestIn {
    pub script: String,
    #[schema(value_type = Option<Object>)]
    pub record: Option<Map<String, Value>>,
    pub form: Option<String>,
    pub record_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub segments: Option<Map<String, Value>>,
    /// RFC 3339; the engine clock's time when absent.
    pub now: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScriptTestOut {
    /// Whatever the script returned: any JSON value, `null` included.
    pub value: Value,
}

/// Run a script against a sample or stored record (admins). A script that
/// does not compile or fails answers 422 with the line and column.
#[utoipa::path(post, path = "/api/v1/scripts/test", tag = "rules", security(("bearer" = [])), request_body = ScriptTestIn,
    responses((status = 200, body = ScriptTestOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn test_script(State(state): State<AppState>, Auth(actor): Auth, JsonBody(body): JsonBody<ScriptTestIn>) -> ApiResult<Json<ScriptTestOut>> {
    let stored = match (body.form, body.record_id) {
        (Some(f), Some(id)) => Some((f, id)),
        (None, None) => None,
        _ => return Err(Problem::validation(vec![trellis_core::Issue::new("/record_id", "required", "a stored record needs both form and record_id")])),
    };
    let trial = ScriptTrial { script: body.script, record: body.record, stored, segments: body.segments, now: body.now };
    match state.engine.try_script(&actor, trial).await? {
        Ok(value) => Ok(Json(ScriptTestOut { value })),
        Err(e) => Err(Problem::script("script-error", format!("the script failed: {}", e.describe()), "/script".into(), &e)),
    }
}

/// What a simulation reports (documentation of [`Simulation`]'s JSON).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct SimulationOut {
    form: String,
    /// Live records seen.
    records: i64,
    /// Records whose rules failed under the changed definition.
    failed: i64,
    first_error: Option<String>,
    /// Why the run stopped early (20 failed records, or 15 s); the counts cover the records seen.
    stopped: Option<String>,
    /// Per segment: `{segment, kind, before, after, changed, moves, examples: [{id, title, from, to}]}`.
    #[schema(value_type = Vec<Object>)]
    segments: Vec<Value>,
    validation: ValidationOut,
}

/// What the changed definition does to the stored data.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ValidationOut {
    /// Records valid now that the change would refuse at their next write.
    invalid: i64,
    /// Records already refused by the version in force (not counted in `invalid`).
    already_invalid: i64,
    /// Up to 5 of the `invalid` records.
    examples: Vec<InvalidExampleOut>,
    /// Fields removed that records still hold data in.
    dropped: Vec<DroppedOut>,
    /// Fields whose JSON type changes.
    retyped: Vec<RetypedOut>,
    /// Fields newly required that records lack.
    required: Vec<MissingOut>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct InvalidExampleOut {
    id: Uuid,
    /// The record's title field value (any JSON value the field holds).
    title: Option<Value>,
    errors: Vec<PointerMessage>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PointerMessage {
    pointer: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DroppedOut {
    field: String,
    title: String,
    records: i64,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RetypedOut {
    field: String,
    title: String,
    from: Vec<String>,
    to: Vec<String>,
    records: i64,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct MissingOut {
    field: String,
    title: String,
    missing: i64,
}

/// Run a changed definition over every live record of the form without
/// writing (admins): how each segment's values would move, and what the
/// change does to the stored data — records that would stop validating,
/// fields dropped or retyped, newly required fields records lack.
#[utoipa::path(post, path = "/api/v1/forms/{form}/simulate", tag = "rules", security(("bearer" = [])), params(("form" = String, Path)),
    request_body = FormIn, responses((status = 200, body = SimulationOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn simulate(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>, JsonBody(def): JsonBody<Value>) -> ApiResult<Json<Simulation>> {
    let sim = state.engine.simulate(&actor, &form, def).await?;
    // The problems of the examples are for people: in the reader's language.
    Ok(Json(if crate::lang::Lang::current() == crate::lang::Lang::Zh { sim.in_chinese() } else { sim }))
}

/// Re-evaluate the form's rules over every record now (admins); resumes a sweep that was cut off.
#[utoipa::path(post, path = "/api/v1/forms/{form}/segments/refresh", tag = "rules", security(("bearer" = [])), params(("form" = String, Path)),
    responses((status = 200, body = JsonObject), (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn refresh(State(state): State<AppState>, Auth(actor): Auth, PathOf(form): PathOf<String>) -> ApiResult<Json<SweepReport>> {
    Ok(Json(state.engine.refresh_segments(&actor, &form).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockIn {
    pub now: String,
}

/// `POST /api/v1/dev/clock {"now"}`: sets the manual clock and runs what became due
/// (workflow timers, trigger moments, deliveries, sweeps), before answering. Mounted only with `--clock manual`.
pub async fn set_clock(State(state): State<AppState>, Auth(actor): Auth, JsonBody(body): JsonBody<ClockIn>) -> ApiResult<Json<Value>> {
    let report = state.engine.advance_clock(&actor, &body.now).await?;
    let mut out = serde_json::to_value(&report).map_err(|e| Problem::from(trellis_engine::EngineError::Internal(e.to_string())))?;
    out["now"] = Value::String(state.engine.clock().now().to_string());
    Ok(Json(out))
}

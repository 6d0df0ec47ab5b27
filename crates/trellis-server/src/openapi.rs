//! The OpenAPI document's shared parts: the problem responses every operation
//! can answer, added once here rather than repeated on ~90 handlers, and the
//! request body shapes of definitions.
//!
//! The definition bodies (`FormIn`, `WorkflowIn`, …) describe the stored
//! definition formats of `trellis-core` for clients and fuzzers. They are
//! documentation only: the core types stay free of HTTP concerns (no utoipa in
//! the pure crate), and the handlers still read `serde_json::Value` so that each
//! problem in a definition is reported with a pointer by the engine's checks
//! instead of one serde error. Nested parts whose shape depends on a kind
//! (actions, a trigger's `when`, widgets) are described as objects.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, ToSchema};

/// Adds the problem responses an operation can answer besides the ones its
/// handler names: a refused query or header (400), a missing or unknown token
/// (401) and a role that may not (403) on signed-in routes, an unknown form
/// or record (404), a body too large (413), of the wrong type (415) or shape
/// (422), a URI or header block too large (414, 431), and sign-in and public
/// routes' rate limits (429).
pub struct SharedResponses;

const SHARED: &[(&str, &str, &str)] = &[
    ("400", "BadRequest", "a query parameter, header or path segment is malformed or out of range"),
    ("401", "Unauthorized", "no token, or an unknown or revoked one"),
    ("403", "Forbidden", "the signed-in user's role may not do this"),
    ("404", "NotFound", "no such form, record or definition"),
    ("409", "Conflict", "a unique key is taken, the resource is not in a state that allows this, or (publishing a form) stored records would fail the new version"),
    ("410", "Gone", "the record was deleted (restore it first), or the link was switched off"),
    ("412", "PreconditionFailed", "If-Match names a revision that is no longer current"),
    ("413", "PayloadTooLarge", "the body is larger than the route's limit"),
    ("414", "UriTooLong", "the request line is longer than the server takes"),
    ("415", "UnsupportedMediaType", "the body is not sent as JSON"),
    ("422", "Unprocessable", "the body is JSON of the wrong shape, or its data does not validate; `errors` names each problem"),
    ("429", "TooManyRequests", "too many attempts from this address or for this account; see Retry-After"),
    ("431", "HeadersTooLarge", "the request's headers are larger than the server takes"),
];

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in SHARED {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
            let response = ResponseBuilder::new().description(*description).content("application/problem+json", content).build();
            components.responses.insert((*name).to_owned(), RefOr::T(response));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for (i, op) in ops.into_iter().enumerate() {
                if let Some(op) = op {
                    let method = ["get", "put", "post", "delete", "patch"][i];
                    add_shared(path, method, op);
                }
            }
        }
    }
}

fn add_shared(path: &str, method: &str, op: &mut Operation) {
    let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let json_body = op.request_body.as_ref().is_some_and(|b| match b {
        RefOr::T(b) => b.content.keys().any(|c| c.contains("json")),
        RefOr::Ref(_) => true,
    });
    let body = op.request_body.is_some();
    let mut codes = vec!["400", "404", "414", "431"];
    if signed_in {
        codes.extend(["401", "403"]);
    } else {
        codes.push("429");
    }
    if body {
        codes.push("413");
    }
    if json_body {
        codes.extend(["415", "422"]);
    }
    // Writes that name a record or a definition can meet a unique key, a deleted record or a stale revision.
    if method != "get" && path.contains('{') {
        codes.extend(["409", "410", "412"]);
    }
    if method == "post" && !path.contains('{') {
        codes.push("409");
    }
    if method == "get" && path.contains("/records/{id}") {
        codes.push("410");
    }
    for code in codes {
        let name = SHARED.iter().find(|(c, ..)| *c == code).map(|(_, n, _)| *n).expect("every shared code has a response");
        op.responses.responses.entry(code.to_owned()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

/// A form definition, as `docs/forms.md` describes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FormIn {
    /// `[a-z][a-z0-9_]*`, at most 63 characters; fixed once created.
    #[schema(pattern = "^[a-z][a-z0-9_]*$")]
    key: String,
    title: Option<String>,
    description: Option<String>,
    /// A draft 2020-12 JSON Schema of an object; its top-level properties are the fields.
    #[schema(value_type = Object)]
    schema: Value,
    /// Layout and widgets for the browser; opaque to the server.
    #[schema(value_type = Option<Object>)]
    ui: Option<Value>,
    title_field: Option<String>,
    /// Sets of fields whose values must be unique among live records.
    unique: Option<Vec<Vec<String>>>,
    /// Fields that get a database index.
    indexes: Option<Vec<String>>,
    /// Computed fields: key → rhai script.
    computed: Option<BTreeMap<String, String>>,
    /// Rollups: key → `{form, link, op, field, filter}`.
    #[schema(value_type = Option<BTreeMap<String, Object>>)]
    rollups: Option<BTreeMap<String, Value>>,
    /// Segments: key → `{kind, script | rules, …}`.
    #[schema(value_type = Option<BTreeMap<String, Object>>)]
    segments: Option<BTreeMap<String, Value>>,
    /// Per role: `{create, read, write, delete, hidden, readonly}`.
    #[schema(value_type = Option<BTreeMap<String, Object>>)]
    permissions: Option<BTreeMap<String, Value>>,
    /// Fields every new record must have (refused like `schema.required`), which records stored before may lack.
    required_for_new: Option<Vec<String>>,
}

/// A workflow definition (`docs/workflows.md`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WorkflowIn {
    #[schema(pattern = "^[a-z][a-z0-9_]*$")]
    key: String,
    /// The form whose records it runs on.
    form: String,
    title: Option<String>,
    description: Option<String>,
    /// `{on: create | manual | …, condition}`.
    #[schema(value_type = Option<Object>)]
    start: Option<Value>,
    /// The state a new instance is in.
    initial: String,
    /// State key → `{title, final, on_enter, timers, …}`.
    #[schema(value_type = BTreeMap<String, Object>)]
    states: BTreeMap<String, Value>,
    /// `{key, from, to, roles, guard, when, actions, …}`.
    #[schema(value_type = Option<Vec<Object>>)]
    transitions: Option<Vec<Value>>,
}

/// A trigger definition (`docs/triggers.md`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TriggerIn {
    #[schema(pattern = "^[a-z][a-z0-9_]*$")]
    key: String,
    form: String,
    title: Option<String>,
    description: Option<String>,
    /// An event (`{"event": "create"}`, …) or a moment (`{"date": …, "at", "tz"}`, anniversary, festival, inactive, cron).
    #[schema(value_type = Object)]
    when: Value,
    /// A rhai condition over the record.
    condition: Option<String>,
    /// The actions, as in workflows.
    #[schema(value_type = Vec<Object>)]
    actions: Vec<Value>,
    /// A duration such as `2h`: a moment found later than this is missed, not fired.
    max_lateness: Option<String>,
}

/// A message template.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct MessageIn {
    #[schema(pattern = "^[a-z][a-z0-9_]*$")]
    key: String,
    /// minijinja source; a first line `subject: …` is the email subject.
    template: String,
}

/// A working-day calendar.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CalendarIn {
    #[schema(pattern = "^[a-z][a-z0-9_]*$")]
    key: String,
    title: Option<String>,
    description: Option<String>,
    /// The calendar it extends (`cn`), or none.
    base: Option<String>,
    /// Weekdays off: `sat`, `sun`, ….
    weekend: Option<Vec<String>>,
    /// Extra days off, `2026-10-09`.
    holidays: Option<Vec<String>>,
    /// Make-up working days.
    workdays: Option<Vec<String>>,
}

/// A dashboard (`docs/dashboards.md`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DashboardIn {
    #[schema(pattern = "^[a-z][a-z0-9_]*$")]
    key: String,
    title: Option<String>,
    description: Option<String>,
    /// `{key, kind: metric | bar | line | pie | funnel | table, title, form, measure, group_by, filter, …}`.
    #[schema(value_type = Vec<Object>)]
    widgets: Vec<Value>,
}

/// A public link to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewLinkIn {
    /// The form's fields the link shows and takes.
    fields: Vec<String>,
    /// RFC 3339; none for a link that does not expire.
    expires_at: Option<String>,
    /// `create` (the default) or `update`.
    mode: Option<String>,
    title: Option<String>,
    /// For an update link: the record to sign the URL for.
    record: Option<uuid::Uuid>,
}

/// A record's data: the fields of its form, whose schema each form defines
/// (`GET /api/v1/forms/{form}`), so it is a free-form object here.
#[derive(Deserialize, ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
pub struct RecordData(Value);

/// One record's data, or an array of them written all or nothing.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum RecordsIn {
    One(RecordData),
    Many(Vec<RecordData>),
}

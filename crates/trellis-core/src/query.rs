//! Reading a list request: a Directus-style `filter`, a `sort` and a keyset
//! `cursor`, resolved against a form into a small AST the store renders as
//! SQL for its dialect.
//!
//! Fields are addressed by key; segment values as `segments.KEY`; the record's
//! own bookkeeping as `meta.id`, `meta.owner`, `meta.created_by`,
//! `meta.updated_by`, `meta.created_at`, `meta.updated_at` and `meta.rev`.
//! Anything else is an error naming what was not understood, never an empty
//! result.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::Value;
use uuid::Uuid;

use crate::form::CompiledForm;
use crate::rules::SegmentKind;
use crate::record::Record;

/// Default and largest page size.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;

/// A list request that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// `filter`, `sort`, `cursor` or `limit`.
    pub param: &'static str,
    pub message: String,
    /// For a filter: a JSON Pointer into the filter object to what was refused
    /// (`""` is the whole filter, `/tags/_lt` one operator).
    pub pointer: Option<String>,
}

fn err(param: &'static str, message: impl Into<String>) -> QueryError {
    QueryError { param, message: message.into(), pointer: None }
}

/// A filter error at `at`, a JSON Pointer into the filter.
fn ferr(at: &str, message: impl Into<String>) -> QueryError {
    QueryError { param: "filter", message: message.into(), pointer: Some(at.to_owned()) }
}

/// What a target holds, as far as filter operators go: each kind takes the
/// operators [`Kind::takes`] says, on both databases (docs/api.md, "Filters").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Strings, whatever their format (date, date-time, phone, user, x-link, …) and `label` segments.
    Text,
    /// `number` and `integer` fields, `score` segments.
    Number,
    /// `boolean` fields, `flag` segments.
    Boolean,
    /// Array fields and `labels` segments.
    Array,
    /// Nested objects.
    Object,
    /// A field whose schema names no type, or several (computed fields): a
    /// condition only matches values of its literal's JSON type.
    Mixed,
    /// `meta.id`, `meta.owner`, `meta.created_by`, `meta.updated_by`.
    Id,
    /// `meta.created_at`, `meta.updated_at`.
    Time,
    /// `meta.rev`.
    Int,
}

impl Kind {
    /// Whether a target of this kind takes `op` (one of the filter operators).
    pub fn takes(self, op: &str) -> bool {
        match op {
            "_null" | "_nnull" => true,
            "_contains" => matches!(self, Kind::Text | Kind::Array | Kind::Mixed),
            "_eq" | "_neq" | "_in" | "_nin" => !matches!(self, Kind::Array | Kind::Object),
            "_lt" | "_lte" | "_gt" | "_gte" | "_between" => !matches!(self, Kind::Array | Kind::Object | Kind::Boolean),
            _ => false,
        }
    }

    /// The operators this kind takes, for messages and docs.
    pub fn operators(self) -> Vec<&'static str> {
        OPERATORS.iter().copied().filter(|op| self.takes(op)).collect()
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "a number",
            Kind::Boolean => "a boolean",
            Kind::Array => "an array",
            Kind::Object => "an object",
            Kind::Mixed => "untyped",
            Kind::Id => "an id",
            Kind::Time => "a time",
            Kind::Int => "an integer",
        }
    }
}

/// Every filter operator, in the order messages list them.
pub const OPERATORS: [&str; 12] = ["_eq", "_neq", "_lt", "_lte", "_gt", "_gte", "_in", "_nin", "_contains", "_null", "_nnull", "_between"];

/// The kind of a target of `form` (see [`Kind`]).
pub fn kind(form: &CompiledForm, t: &Target) -> Kind {
    match t {
        Target::Data(k) => match form.field(k) {
            Some(f) => kind_of_types(&f.types),
            None => Kind::Mixed,
        },
        Target::Segment(k) => match form.segment(k).map(|s| s.kind) {
            Some(SegmentKind::Label) => Kind::Text,
            Some(SegmentKind::Labels) => Kind::Array,
            Some(SegmentKind::Score) => Kind::Number,
            Some(SegmentKind::Flag) => Kind::Boolean,
            None => Kind::Mixed,
        },
        Target::Meta(Meta::Id | Meta::Owner | Meta::CreatedBy | Meta::UpdatedBy) => Kind::Id,
        Target::Meta(Meta::CreatedAt | Meta::UpdatedAt) => Kind::Time,
        Target::Meta(Meta::Rev) => Kind::Int,
    }
}

fn kind_of_types(types: &[String]) -> Kind {
    let types: Vec<&str> = types.iter().map(String::as_str).filter(|t| *t != "null").collect();
    if types.contains(&"array") {
        // Several values, ordered differently by the two databases: only membership means the same on both.
        return Kind::Array;
    }
    let all = |set: &[&str]| !types.is_empty() && types.iter().all(|t| set.contains(t));
    if all(&["string"]) {
        Kind::Text
    } else if all(&["number", "integer"]) {
        Kind::Number
    } else if all(&["boolean"]) {
        Kind::Boolean
    } else if all(&["object"]) {
        Kind::Object
    } else {
        Kind::Mixed
    }
}

/// Bookkeeping columns a filter or sort can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    Id,
    Owner,
    CreatedBy,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
    Rev,
}

impl Meta {
    fn parse(s: &str) -> Option<Meta> {
        Some(match s {
            "id" => Meta::Id,
            "owner" => Meta::Owner,
            "created_by" => Meta::CreatedBy,
            "updated_by" => Meta::UpdatedBy,
            "created_at" => Meta::CreatedAt,
            "updated_at" => Meta::UpdatedAt,
            "rev" => Meta::Rev,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Meta::Id => "id",
            Meta::Owner => "owner",
            Meta::CreatedBy => "created_by",
            Meta::UpdatedBy => "updated_by",
            Meta::CreatedAt => "created_at",
            Meta::UpdatedAt => "updated_at",
            Meta::Rev => "rev",
        }
    }
}

/// What a condition or a sort key looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A top-level field of the record's data.
    Data(String),
    /// A segment value.
    Segment(String),
    Meta(Meta),
}

/// A literal in a condition, typed for its target.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// A JSON scalar, compared with a data field or segment.
    Json(Value),
    Id(Uuid),
    Time(Timestamp),
    Int(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

/// A resolved filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    /// `Neq` also matches records without a value, as people expect of "is not".
    Compare { target: Target, op: Cmp, value: Lit },
    /// `negated` also matches records without a value.
    In { target: Target, values: Vec<Lit>, negated: bool },
    /// Substring of a text field, or membership in an array field.
    Contains { target: Target, value: Lit, array: bool },
    Null { target: Target, is_null: bool },
}

impl Filter {
    /// Every field, segment and column the filter looks at.
    pub fn targets(&self) -> Vec<&Target> {
        match self {
            Filter::All(fs) | Filter::Any(fs) => fs.iter().flat_map(Filter::targets).collect(),
            Filter::Compare { target, .. } | Filter::In { target, .. } | Filter::Contains { target, .. } | Filter::Null { target, .. } => vec![target],
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub target: Target,
    pub desc: bool,
}

/// A fully read list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// Always ends with `meta.id`, which makes the order total for keyset paging.
    pub sort: Vec<SortKey>,
    /// The sort values of the last record already seen (`None` for a missing value).
    pub after: Option<Vec<Option<Lit>>>,
    pub limit: u32,
    /// List the trash (soft-deleted records) instead of live records.
    pub deleted: bool,
}

/// The raw parameters of a list request.
#[derive(Debug, Clone, Default)]
pub struct ListParams<'a> {
    pub filter: Option<&'a str>,
    pub sort: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: Option<u32>,
    pub deleted: bool,
}

/// Reads a list request for `form`.
pub fn parse_list(form: &CompiledForm, p: &ListParams<'_>) -> Result<ListQuery, QueryError> {
    let filter = match p.filter {
        None => None,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => {
            let v: Value = serde_json::from_str(s).map_err(|e| err("filter", format!("filter is not valid JSON: {e}")))?;
            Some(parse_filter(form, &v)?)
        }
    };
    let sort = parse_sort(form, p.sort.unwrap_or(""))?;
    let after = p.cursor.filter(|c| !c.is_empty()).map(|c| decode_cursor(form, c, &sort)).transpose()?;
    let limit = match p.limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(err("limit", "limit must be at least 1")),
        Some(n) if n > MAX_LIMIT => return Err(err("limit", format!("limit must be at most {MAX_LIMIT}"))),
        Some(n) => n,
    };
    Ok(ListQuery { filter, sort, after, limit, deleted: p.deleted })
}

fn target(form: &CompiledForm, name: &str, param: &'static str) -> Result<Target, QueryError> {
    if let Some(m) = name.strip_prefix("meta.") {
        return Meta::parse(m).map(Target::Meta).ok_or_else(|| {
            err(param, format!("unknown metadata '{name}': use meta.id, meta.owner, meta.created_by, meta.updated_by, meta.created_at, meta.updated_at or meta.rev"))
        });
    }
    if let Some(s) = name.strip_prefix("segments.") {
        return match form.segment(s) {
            Some(_) => Ok(Target::Segment(s.to_owned())),
            None => Err(err(param, format!("form '{}' has no segment '{s}'", form.key()))),
        };
    }
    match form.field(name) {
        Some(_) => Ok(Target::Data(name.to_owned())),
        None => Err(err(param, format!("unknown field '{name}' in form '{}'", form.key()))),
    }
}

fn lit(form: &CompiledForm, t: &Target, v: &Value, op: &str) -> Result<Lit, QueryError> {
    lit_at(form, t, v, op, None)
}

/// A literal for `t`; `at` places a refusal in the filter (cursors have no place).
fn lit_at(form: &CompiledForm, t: &Target, v: &Value, op: &str, at: Option<&str>) -> Result<Lit, QueryError> {
    let fail = |message: String| match at {
        Some(at) => ferr(at, message),
        None => err("filter", message),
    };
    let bad = |what: &str| fail(format!("{op} on {} needs {what}, not {v}", describe(t)));
    if v.as_str().is_some_and(|s| s.contains('\0')) {
        return Err(fail("text in a filter may not contain NUL characters".into()));
    }
    match t {
        Target::Data(_) | Target::Segment(_) => {
            let kind = match v {
                Value::Array(_) | Value::Object(_) | Value::Null => return Err(bad("a string, number or boolean")),
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
            };
            // Compare like with like: the databases order mixed types differently.
            let types = match t {
                Target::Data(k) => form.field(k).map(|f| f.types.clone()).unwrap_or_default(),
                Target::Segment(k) => match form.segment(k).map(|s| s.kind) {
                    Some(SegmentKind::Label) => vec!["string".to_owned()],
                    Some(SegmentKind::Labels) => vec!["array".to_owned()],
                    Some(SegmentKind::Score) => vec!["number".to_owned()],
                    Some(SegmentKind::Flag) => vec!["boolean".to_owned()],
                    None => vec![],
                },
                Target::Meta(_) => vec![],
            };
            let fits = |types: &[String]| types.is_empty() || types.iter().any(|ty| ty == kind || (kind == "number" && ty == "integer"));
            if types.iter().any(|ty| ty == "array") {
                // An array is matched by its items: the literal has the items' type.
                let items = item_types(form, t);
                if !fits(&items) {
                    return Err(bad(&format!("a {} (the type of the field's items)", items.join(" or "))));
                }
            } else if !fits(&types) {
                return Err(bad(&format!("a {} (the field's type)", types.join(" or "))));
            }
            Ok(Lit::Json(v.clone()))
        }
        Target::Meta(Meta::Id | Meta::Owner | Meta::CreatedBy | Meta::UpdatedBy) => {
            v.as_str().and_then(|s| Uuid::parse_str(s).ok()).map(Lit::Id).ok_or_else(|| bad("an id"))
        }
        Target::Meta(Meta::CreatedAt | Meta::UpdatedAt) => v.as_str().and_then(parse_time).map(Lit::Time).ok_or_else(|| bad("an RFC 3339 time or a date")),
        Target::Meta(Meta::Rev) => v.as_i64().map(Lit::Int).ok_or_else(|| bad("an integer")),
    }
}

/// The JSON types of an array target's items (empty when the schema does not say).
fn item_types(form: &CompiledForm, t: &Target) -> Vec<String> {
    match t {
        Target::Segment(_) => vec!["string".to_owned()],
        Target::Data(k) => match form.def.schema.pointer(&format!("/properties/{}/items/type", crate::issue::escape_token(k))) {
            Some(Value::String(ty)) => vec![ty.clone()],
            Some(Value::Array(tys)) => tys.iter().filter_map(Value::as_str).filter(|t| *t != "null").map(str::to_owned).collect(),
            _ => vec![],
        },
        Target::Meta(_) => vec![],
    }
}

/// An RFC 3339 timestamp, or a plain date meaning its midnight UTC, in years 1 to 9999
/// (what both databases can store).
fn parse_time(s: &str) -> Option<Timestamp> {
    let t = s.parse::<Timestamp>().ok().or_else(|| s.parse::<jiff::civil::Date>().ok().and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok()).map(|z| z.timestamp()))?;
    let year = t.to_zoned(jiff::tz::TimeZone::UTC).year();
    (1..=9999).contains(&year).then_some(t)
}

fn describe(t: &Target) -> String {
    match t {
        Target::Data(k) => format!("'{k}'"),
        Target::Segment(k) => format!("'segments.{k}'"),
        Target::Meta(m) => format!("'meta.{}'", m.name()),
    }
}

/// The most conditions one filter may hold; deeper or wider filters are refused
/// rather than handed to the database's expression limits.
pub const MAX_CONDITIONS: usize = 200;

/// The most values an `_in` or `_nin` list may hold.
pub const MAX_LIST: usize = 1000;

/// Reads a Directus-style filter object. A refusal points into it.
pub fn parse_filter(form: &CompiledForm, v: &Value) -> Result<Filter, QueryError> {
    let f = parse_filter_inner(form, v, "")?;
    if count(&f) > MAX_CONDITIONS {
        return Err(ferr("", format!("a filter may hold at most {MAX_CONDITIONS} conditions")));
    }
    Ok(f)
}

fn count(f: &Filter) -> usize {
    match f {
        Filter::All(p) | Filter::Any(p) => 1 + p.iter().map(count).sum::<usize>(),
        _ => 1,
    }
}

fn parse_filter_inner(form: &CompiledForm, v: &Value, at: &str) -> Result<Filter, QueryError> {
    let Some(obj) = v.as_object() else {
        return Err(ferr(at, format!("a filter is an object such as {{\"name\": {{\"_eq\": \"x\"}}}}, not {v}")));
    };
    let mut all = Vec::new();
    for (k, cond) in obj {
        let here = format!("{at}/{}", crate::issue::escape_token(k));
        match k.as_str() {
            "_and" | "_or" => {
                let Some(items) = cond.as_array() else {
                    return Err(ferr(&here, format!("{k} takes an array of filters")));
                };
                if items.len() > MAX_CONDITIONS {
                    return Err(ferr(&here, format!("a filter may hold at most {MAX_CONDITIONS} conditions")));
                }
                let parts = items.iter().enumerate().map(|(i, f)| parse_filter_inner(form, f, &format!("{here}/{i}"))).collect::<Result<Vec<_>, _>>()?;
                all.push(if k == "_and" { Filter::All(parts) } else { Filter::Any(parts) });
            }
            name => {
                let t = target(form, name, "filter").map_err(|e| QueryError { pointer: Some(here.clone()), ..e })?;
                all.extend(parse_conditions(form, t, cond, &here)?);
            }
        }
    }
    Ok(match all.len() {
        1 => all.remove(0),
        _ => Filter::All(all),
    })
}

fn parse_conditions(form: &CompiledForm, t: Target, cond: &Value, at: &str) -> Result<Vec<Filter>, QueryError> {
    let Some(ops) = cond.as_object().filter(|o| !o.is_empty()) else {
        return Err(ferr(at, format!("conditions on {} are an object of operators such as {{\"_eq\": …}}, not {cond}", describe(&t))));
    };
    let kind = kind(form, &t);
    let array = kind == Kind::Array;
    let mut out = Vec::new();
    for (op, v) in ops {
        let at = &format!("{at}/{}", crate::issue::escape_token(op));
        if !OPERATORS.contains(&op.as_str()) {
            return Err(ferr(at, format!("unknown operator '{op}': use {}", OPERATORS.join(" "))));
        }
        if !kind.takes(op) {
            return Err(ferr(at, format!("{op} does not apply to {}, which is {}; it takes {}", describe(&t), kind.name(), kind.operators().join(" "))));
        }
        let one = |v: &Value, at: &str| lit_at(form, &t, v, op, Some(at));
        let cmp = |c| -> Result<Filter, QueryError> { Ok(Filter::Compare { target: t.clone(), op: c, value: one(v, at)? }) };
        let list = |negated| -> Result<Filter, QueryError> {
            let items = v.as_array().ok_or_else(|| ferr(at, format!("{op} takes an array")))?;
            if items.len() > MAX_LIST {
                return Err(ferr(at, format!("{op} takes at most {MAX_LIST} values")));
            }
            Ok(Filter::In { target: t.clone(), values: items.iter().enumerate().map(|(i, x)| one(x, &format!("{at}/{i}"))).collect::<Result<_, _>>()?, negated })
        };
        out.push(match op.as_str() {
            "_eq" => cmp(Cmp::Eq)?,
            "_neq" => cmp(Cmp::Neq)?,
            "_lt" => cmp(Cmp::Lt)?,
            "_lte" => cmp(Cmp::Lte)?,
            "_gt" => cmp(Cmp::Gt)?,
            "_gte" => cmp(Cmp::Gte)?,
            "_in" => list(false)?,
            "_nin" => list(true)?,
            "_contains" => {
                let value = one(v, at)?;
                if !array && !matches!(&value, Lit::Json(Value::String(_))) {
                    return Err(ferr(at, format!("_contains on {} needs a string", describe(&t))));
                }
                Filter::Contains { target: t.clone(), value, array }
            }
            "_null" | "_nnull" => {
                let b = v.as_bool().ok_or_else(|| ferr(at, format!("{op} takes true or false")))?;
                Filter::Null { target: t.clone(), is_null: b == (op == "_null") }
            }
            // `_between`, the one operator left.
            _ => match v.as_array().map(Vec::as_slice) {
                Some([lo, hi]) => Filter::All(vec![
                    Filter::Compare { target: t.clone(), op: Cmp::Gte, value: one(lo, &format!("{at}/0"))? },
                    Filter::Compare { target: t.clone(), op: Cmp::Lte, value: one(hi, &format!("{at}/1"))? },
                ]),
                _ => return Err(ferr(at, "_between takes an array of two values")),
            },
        });
    }
    Ok(out)
}

/// Reads `sort=-annual_spend,name`; appends `meta.id` in the last key's
/// direction so that the order is total. No sort means newest first.
pub fn parse_sort(form: &CompiledForm, s: &str) -> Result<Vec<SortKey>, QueryError> {
    let mut keys = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (desc, name) = match part.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, part.strip_prefix('+').unwrap_or(part)),
        };
        let t = target(form, name, "sort")?;
        if let Target::Data(k) = &t
            && !form.field(k).is_some_and(|f| f.is_scalar())
        {
            return Err(err("sort", format!("'{k}' is not a field of type string, number, integer or boolean, so it cannot be sorted on")));
        }
        if let Target::Segment(k) = &t
            && form.segment(k).is_some_and(|s| s.kind == SegmentKind::Labels)
        {
            return Err(err("sort", format!("'segments.{k}' holds several labels, so it cannot be sorted on")));
        }
        if keys.iter().any(|k: &SortKey| k.target == t) {
            return Err(err("sort", format!("'{name}' is listed twice")));
        }
        keys.push(SortKey { target: t, desc });
    }
    if !keys.iter().any(|k| k.target == Target::Meta(Meta::Id)) {
        let desc = keys.last().is_none_or(|k| k.desc);
        keys.push(SortKey { target: Target::Meta(Meta::Id), desc });
    }
    Ok(keys)
}

/// The value of one sort key for a record, as it goes into a cursor.
pub fn sort_value(r: &Record, t: &Target) -> Value {
    match t {
        Target::Data(k) => r.data.get(k).cloned().unwrap_or(Value::Null),
        Target::Segment(k) => r.segments.get(k).cloned().unwrap_or(Value::Null),
        Target::Meta(m) => match m {
            Meta::Id => Value::String(r.id.to_string()),
            Meta::Owner => r.owner.map(|o| Value::String(o.to_string())).unwrap_or(Value::Null),
            Meta::CreatedBy => Value::String(r.created_by.to_string()),
            Meta::UpdatedBy => Value::String(r.updated_by.to_string()),
            Meta::CreatedAt => Value::String(r.created_at.to_string()),
            Meta::UpdatedAt => Value::String(r.updated_at.to_string()),
            Meta::Rev => Value::from(r.rev),
        },
    }
}

/// The opaque cursor after `r`: URL-safe base64 of its sort values.
pub fn encode_cursor(r: &Record, sort: &[SortKey]) -> String {
    let values: Vec<Value> = sort.iter().map(|k| sort_value(r, &k.target)).collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&values).expect("JSON values serialize"))
}

fn decode_cursor(form: &CompiledForm, c: &str, sort: &[SortKey]) -> Result<Vec<Option<Lit>>, QueryError> {
    let bad = || err("cursor", "cursor is not one this server gave out for this sort; start again without it");
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let values: Vec<Value> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if values.len() != sort.len() {
        return Err(bad());
    }
    sort.iter()
        .zip(values)
        .map(|(k, v)| match v {
            Value::Null => Ok(None),
            v => lit(form, &k.target, &v, "cursor").map(Some).map_err(|_| bad()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{FormDef, compile};
    use serde_json::{Map, json};

    fn form() -> CompiledForm {
        let def: FormDef = serde_json::from_value(json!({"key": "customer", "schema": {"type": "object", "properties": {
            "name": {"type": "string"}, "spend": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}}}}}))
        .unwrap();
        compile(def, 1).unwrap()
    }

    fn filter(v: Value) -> Result<Filter, String> {
        parse_filter(&form(), &v).map_err(|e| e.message)
    }

    fn data(k: &str) -> Target {
        Target::Data(k.into())
    }

    #[test]
    fn reads_operators_and_nesting() {
        assert_eq!(
            filter(json!({"spend": {"_gte": 100, "_lt": 200}, "_or": [{"name": {"_contains": "张"}}, {"tags": {"_contains": "vip"}}]})).unwrap(),
            Filter::All(vec![
                Filter::Compare { target: data("spend"), op: Cmp::Gte, value: Lit::Json(json!(100)) },
                Filter::Compare { target: data("spend"), op: Cmp::Lt, value: Lit::Json(json!(200)) },
                Filter::Any(vec![
                    Filter::Contains { target: data("name"), value: Lit::Json(json!("张")), array: false },
                    Filter::Contains { target: data("tags"), value: Lit::Json(json!("vip")), array: true },
                ]),
            ])
        );
        assert_eq!(
            filter(json!({"meta.created_at": {"_gte": "2026-01-01"}})).unwrap(),
            Filter::Compare { target: Target::Meta(Meta::CreatedAt), op: Cmp::Gte, value: Lit::Time("2026-01-01T00:00:00Z".parse().unwrap()) }
        );
        assert!(matches!(filter(json!({"name": {"_between": ["a", "m"]}})).unwrap(), Filter::All(v) if v.len() == 2));
    }

    #[test]
    fn explains_what_it_does_not_understand() {
        for (f, msg) in [
            (json!({"nmae": {"_eq": 1}}), "unknown field 'nmae' in form 'customer'"),
            (json!({"name": {"_like": 1}}), "unknown operator '_like'"),
            (json!({"name": "x"}), "conditions on 'name' are an object"),
            (json!({"segments.tier": {"_eq": "A"}}), "form 'customer' has no segment 'tier'"),
            (json!({"meta.bogus": {"_eq": 1}}), "unknown metadata 'meta.bogus'"),
            (json!({"meta.id": {"_eq": "x"}}), "_eq on 'meta.id' needs an id"),
            (json!({"name": {"_in": "x"}}), "_in takes an array"),
            (json!({"name": {"_eq": {"a": 1}}}), "needs a string, number or boolean"),
            (json!([1]), "a filter is an object"),
            (json!({"spend": {"_gt": "100"}}), "needs a number (the field's type)"),
            (json!({"name": {"_gt": 5}}), "needs a string (the field's type)"),
            (json!({"name": {"_eq": "a\u{0}b"}}), "NUL"),
            (json!({"meta.created_at": {"_gt": "-005000-01-03"}}), "RFC 3339"),
            (json!({"_or": vec![json!({"spend": {"_eq": 1}}); 201]}), "at most 200 conditions"),
            (json!({"name": {"_in": vec!["x"; 1001]}}), "at most 1000 values"),
        ] {
            let got = filter(f.clone()).unwrap_err();
            assert!(got.contains(msg), "{f}: {got}");
        }
    }

    fn kinds_form() -> CompiledForm {
        let def: FormDef = serde_json::from_value(json!({"key": "k", "schema": {"type": "object", "properties": {
            "name": {"type": "string"}, "n": {"type": "integer"}, "ok": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}},
            "addr": {"type": "object"}, "any": {}, "when": {"type": "string", "format": "date"}}},
            "segments": {"lab": {"kind": "labels", "script": "[]"}, "tier": {"kind": "label", "script": "\"A\""},
                         "hot": {"kind": "flag", "script": "true"}, "sc": {"kind": "score", "script": "1"}}}))
        .unwrap();
        compile(def, 1).unwrap()
    }

    #[test]
    fn operators_a_kind_does_not_take_are_refused_with_a_pointer() {
        let f = kinds_form();
        for (filter, pointer) in [
            (json!({"tags": {"_lt": "t1"}}), "/tags/_lt"),
            (json!({"tags": {"_eq": "t1"}}), "/tags/_eq"),
            (json!({"tags": {"_in": ["t1"]}}), "/tags/_in"),
            (json!({"segments.lab": {"_gt": "z"}}), "/segments.lab/_gt"),
            (json!({"segments.lab": {"_nin": ["z"]}}), "/segments.lab/_nin"),
            (json!({"_or": [{"name": {"_eq": "x"}}, {"tags": {"_between": ["a", "b"]}}]}), "/_or/1/tags/_between"),
            (json!({"ok": {"_gt": false}}), "/ok/_gt"),
            (json!({"segments.hot": {"_lte": true}}), "/segments.hot/_lte"),
            (json!({"n": {"_contains": "1"}}), "/n/_contains"),
            (json!({"addr": {"_eq": "x"}}), "/addr/_eq"),
            (json!({"meta.rev": {"_contains": "1"}}), "/meta.rev/_contains"),
            (json!({"tags": {"_contains": 5}}), "/tags/_contains"),
            (json!({"name": {"_in": ["a", 5]}}), "/name/_in/1"),
            (json!({"n": {"_between": [1, "x"]}}), "/n/_between/1"),
            (json!({"nope": {"_eq": 1}}), "/nope"),
            (json!({"name": {"_like": "x"}}), "/name/_like"),
            (json!({"_and": {}}), "/_and"),
            (json!({"a/b": {"_eq": 1}}), "/a~1b"),
        ] {
            let e = parse_filter(&f, &filter).unwrap_err();
            assert_eq!((e.param, e.pointer.as_deref()), ("filter", Some(pointer)), "{filter}: {}", e.message);
        }
        let e = parse_filter(&f, &json!({"tags": {"_lt": "t1"}})).unwrap_err();
        assert!(e.message.contains("it takes _contains _null _nnull"), "{}", e.message);
    }

    #[test]
    fn every_kind_takes_its_operators() {
        let f = kinds_form();
        for filter in [
            json!({"tags": {"_contains": "t1", "_nnull": true}}),
            json!({"segments.lab": {"_contains": "x"}}),
            json!({"segments.tier": {"_gt": "A", "_contains": "B", "_in": ["C"]}}),
            json!({"segments.sc": {"_between": [1, 2], "_nin": [3]}}),
            json!({"segments.hot": {"_eq": true, "_in": [false]}}),
            json!({"ok": {"_neq": true, "_nin": [false], "_null": false}}),
            json!({"n": {"_lt": 1.5, "_gte": -3}}),
            json!({"when": {"_between": ["2026-01-01", "2026-12-31"]}}),
            json!({"addr": {"_null": true}}),
            json!({"any": {"_gt": 1, "_lt": "x", "_eq": true, "_contains": "y", "_in": [1, "a", false]}}),
            json!({"meta.created_at": {"_between": ["2026-01-01", "2026-12-31"]}}),
        ] {
            parse_filter(&f, &filter).unwrap_or_else(|e| panic!("{filter}: {}", e.message));
        }
        assert_eq!(kind(&f, &data("any")), Kind::Mixed);
        assert_eq!(Kind::Array.operators(), ["_contains", "_null", "_nnull"]);
        assert_eq!(Kind::Boolean.operators(), ["_eq", "_neq", "_in", "_nin", "_null", "_nnull"]);
    }

    #[test]
    fn sort_always_ends_with_id() {
        let s = parse_sort(&form(), "-spend,name").unwrap();
        assert_eq!(s.last().unwrap(), &SortKey { target: Target::Meta(Meta::Id), desc: false });
        assert_eq!(parse_sort(&form(), "").unwrap(), [SortKey { target: Target::Meta(Meta::Id), desc: true }]);
        assert!(parse_sort(&form(), "tags").is_err());
        assert!(parse_sort(&form(), "nope").is_err());
    }

    #[test]
    fn cursor_round_trips_and_refuses_garbage() {
        let f = form();
        let sort = parse_sort(&f, "spend").unwrap();
        let r = Record {
            id: Uuid::from_u128(7),
            form: "customer".into(),
            form_version: 1,
            rev: 1,
            data: json!({"name": "A"}).as_object().unwrap().clone(),
            segments: Map::new(),
            owner: None,
            created_by: Uuid::nil(),
            updated_by: Uuid::nil(),
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
            deleted_at: None,
        };
        let c = encode_cursor(&r, &sort);
        let q = parse_list(&f, &ListParams { sort: Some("spend"), cursor: Some(&c), ..Default::default() }).unwrap();
        assert_eq!(q.after, Some(vec![None, Some(Lit::Id(r.id))]));
        assert_eq!(parse_list(&f, &ListParams { cursor: Some("zzz"), ..Default::default() }).unwrap_err().param, "cursor");
        assert_eq!(parse_list(&f, &ListParams { cursor: Some(&c), ..Default::default() }).unwrap_err().param, "cursor");
        assert_eq!(parse_list(&f, &ListParams { limit: Some(5000), ..Default::default() }).unwrap_err().param, "limit");
    }
}

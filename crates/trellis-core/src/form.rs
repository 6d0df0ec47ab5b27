//! Forms: the stored definition ([`FormDef`]) and the checked, compiled value
//! the write path uses ([`CompiledForm`]).
//!
//! A definition is checked once when it is saved; the compiled form (with its
//! JSON Schema validator) is immutable and shared behind an `Arc` by the engine
//! until the next version replaces it.

use std::collections::BTreeSet;
use std::sync::Arc;

use indexmap::IndexMap;
use jsonschema::{Draft, Validator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::formats;
use crate::issue::{Issue, escape_token};
use crate::key;
use crate::rules::{RollupDef, RollupOp, Rules, SegmentDef};

/// A form as stored, sent and received. Unknown keys are refused rather than
/// silently dropped, so a pack written for a later Trellis fails loudly
/// instead of losing its rules. Rule maps keep their order: rules run in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    pub key: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A draft 2020-12 JSON Schema of an object; its top-level properties are the fields.
    pub schema: Value,
    /// Layout and widgets for the browser; opaque to the engine.
    #[serde(default = "empty_ui")]
    pub ui: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_field: Option<String>,
    /// Sets of fields whose values must be unique among live records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<Vec<String>>,
    /// Fields that get a database index for filtering and sorting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<String>,
    /// Fields computed by a script on every write: key → script.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub computed: IndexMap<String, String>,
    /// Fields kept from child records of another form.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub rollups: IndexMap<String, RollupDef>,
    /// Labels, scores and flags computed from the record, stored beside its data.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub segments: IndexMap<String, SegmentDef>,
    /// Rules per role (see [`crate::permission`]); none means open to every signed-in user.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub permissions: std::collections::BTreeMap<String, crate::permission::RoleRule>,
    /// Fields a new record must have, refused like `schema.required` on every
    /// create, while records stored before may stay without them (updates do
    /// not ask for them). How a field becomes required without a backfill.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_for_new: Vec<String>,
}

fn empty_ui() -> Value {
    json!({"layout": [], "widgets": {}})
}

/// What the engine needs to know about one top-level field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    pub key: String,
    /// The JSON Schema `type` values allowed (empty when the schema does not say).
    pub types: Vec<String>,
    pub format: Option<String>,
    /// The form this field links to (`x-link`).
    pub link: Option<String>,
    /// Set for fields the engine writes: computed fields and rollups.
    pub derived: Option<Derived>,
}

/// Where a field's value comes from when it is not typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    Computed,
    Rollup,
}

impl FieldInfo {
    pub fn is_array(&self) -> bool {
        self.types.iter().any(|t| t == "array")
    }

    /// Whether values are scalars, so the field can be indexed or be part of a unique key.
    pub fn is_scalar(&self) -> bool {
        // A derived value's type is whatever its script gives; it may be indexed and sorted.
        self.derived.is_some() || !self.types.is_empty() && self.types.iter().all(|t| matches!(t.as_str(), "string" | "number" | "integer" | "boolean" | "null"))
    }
}

/// A checked form definition at one version, ready for validating records.
#[derive(Debug)]
pub struct CompiledForm {
    pub def: FormDef,
    pub version: i64,
    pub fields: Vec<FieldInfo>,
    pub rules: Rules,
    pub(crate) validator: Validator,
    /// Whether the schema allows fields it does not list.
    pub(crate) open: bool,
}

impl CompiledForm {
    pub fn key(&self) -> &str {
        &self.def.key
    }

    pub fn field(&self, key: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The field that names the record's owner: a top-level `owner` of format `user`.
    pub fn owner_field(&self) -> Option<&FieldInfo> {
        self.field("owner").filter(|f| f.format.as_deref() == Some("user"))
    }

    pub fn segment(&self, key: &str) -> Option<&SegmentDef> {
        self.def.segments.get(key)
    }

    /// The forms this form links to, for checking that they exist.
    pub fn link_targets(&self) -> BTreeSet<&str> {
        self.fields.iter().filter_map(|f| f.link.as_deref()).collect()
    }
}

/// Builds the JSON Schema validator every record is checked with: draft
/// 2020-12, formats asserted, unknown formats refused, and no network (a
/// remote `$ref` in a user-written schema would be an SSRF hole).
pub(crate) fn build_validator(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .with_format("phone", formats::is_phone)
        .with_format("user", |s: &str| !s.trim().is_empty())
        .with_format("money", formats::is_money_text)
        // Numeric formats are checked by `formats::check_numeric`; as text they never fit.
        .with_format("rating", |_: &str| false)
        .with_format("nps", |_: &str| false)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Checks a definition and compiles it. Every problem is reported, each with a
/// pointer into the definition. Whether linked forms exist is for the caller,
/// which can see the other forms.
pub fn compile(def: FormDef, version: i64) -> Result<CompiledForm, Vec<Issue>> {
    let mut issues = Vec::new();
    if !key::is_valid(&def.key, key::MAX_FORM_KEY) {
        issues.push(Issue::new("/key", "invalid_key", format!("form key '{}' {}", def.key, key::rule(key::MAX_FORM_KEY))).zh(format!("表单标识「{}」只能用 1 到 {} 个小写字母、数字和 _ 组成，以字母开头，且不能连续两个 _", def.key, key::MAX_FORM_KEY)));
    }
    for err in jsonschema::draft202012::meta::validator().iter_errors(&def.schema) {
        issues.push(Issue::new(format!("/schema{}", err.instance_path().as_str()), "invalid_schema", err.to_string()).zh(format!("表单的字段定义（schema）不符合 JSON Schema 规范：{err}")));
    }
    if !issues.is_empty() {
        return Err(issues);
    }

    let schema = def.schema.as_object();
    if schema.and_then(|s| s.get("type")) != Some(&json!("object")) {
        issues.push(Issue::new("/schema/type", "invalid_schema", "a form's schema must have \"type\": \"object\"").zh("表单的字段定义（schema）必须写 \"type\": \"object\""));
    }
    let empty = Map::new();
    let props = schema.and_then(|s| s.get("properties")).and_then(Value::as_object).unwrap_or(&empty);
    let open = schema.is_some_and(|s| s.contains_key("additionalProperties") || s.contains_key("unevaluatedProperties"));

    let mut fields = Vec::new();
    for (k, sub) in props {
        let at = format!("/schema/properties/{}", escape_token(k));
        if !key::is_valid(k, key::MAX_FIELD_KEY) {
            issues.push(Issue::new(&at, "invalid_key", format!("field key '{k}' {}", key::rule(key::MAX_FIELD_KEY))).zh(format!("字段标识「{k}」只能用 1 到 {} 个小写字母、数字和 _ 组成，以字母开头，且不能连续两个 _", key::MAX_FIELD_KEY)));
        }
        let types: Vec<String> = match sub.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => vec![],
        };
        let format = sub.get("format").and_then(Value::as_str).map(str::to_owned);
        if let Some(f) = format.as_deref() {
            let wanted: &[&str] = match f {
                "rating" | "nps" => &["integer"],
                "money" => &["number", "string"],
                "phone" | "user" => &["string"],
                _ => &[],
            };
            if !wanted.is_empty() && !types.iter().any(|t| wanted.contains(&t.as_str())) {
                issues.push(Issue::new(
                    format!("{at}/format"),
                    "invalid_format_type",
                    format!("format '{f}' needs \"type\": {}", wanted.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" or ")),
                ).zh(format!("格式「{f}」要求 \"type\" 为 {}", wanted.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" 或 "))));
            }
        }
        if format.as_deref() == Some("user") {
            // A user field is stored as the user's id, so constraints on the text typed in would break later writes.
            for kw in ["maxLength", "minLength", "pattern", "enum", "const"] {
                if sub.get(kw).is_some() {
                    issues.push(Issue::new(format!("{at}/{kw}"), "user_constraint", format!("a user field is stored as a user id; {kw} does not apply to it")).zh(format!("用户字段保存的是用户 ID，不能设置 {kw}")));
                }
            }
        }
        let link = match sub.get("x-link") {
            None => None,
            Some(Value::String(target)) if key::is_valid(target, key::MAX_FORM_KEY) => {
                if !types.iter().any(|t| t == "string") {
                    issues.push(Issue::new(format!("{at}/type"), "invalid_link", "an x-link field holds a record id: give it \"type\": \"string\"").zh("关联字段（x-link）保存的是记录编号，请设为 \"type\": \"string\""));
                }
                Some(target.clone())
            }
            Some(other) => {
                issues.push(Issue::new(format!("{at}/x-link"), "invalid_link", format!("x-link must name a form key, not {other}")).zh(format!("x-link 要写一个表单标识，不能是 {other}")));
                None
            }
        };
        fields.push(FieldInfo { key: k.clone(), types, format, link, derived: None });
    }
    let derived = def.computed.keys().map(|k| (k, "computed", Derived::Computed, vec![])).chain(def.rollups.iter().map(|(k, r)| {
        let types = match r.op {
            RollupOp::Count => vec!["integer".to_owned()],
            RollupOp::Sum | RollupOp::Avg => vec!["number".to_owned()],
            _ => vec![],
        };
        (k, "rollups", Derived::Rollup, types)
    }));
    for (k, section, kind, types) in derived {
        let at = format!("/{section}/{}", escape_token(k));
        if !key::is_valid(k, key::MAX_FIELD_KEY) {
            issues.push(Issue::new(&at, "invalid_key", format!("field key '{k}' {}", key::rule(key::MAX_FIELD_KEY))).zh(format!("字段标识「{k}」只能用 1 到 {} 个小写字母、数字和 _ 组成，以字母开头，且不能连续两个 _", key::MAX_FIELD_KEY)));
        } else if fields.iter().any(|f| &f.key == k) {
            issues.push(Issue::new(&at, "duplicate", format!("'{k}' is already a field of this form; a {section} field needs a key of its own")).zh(format!("「{k}」已是本表单的字段，{}要用自己的标识", if section == "computed" { "计算字段" } else { "汇总字段" })));
        }
        fields.push(FieldInfo { key: k.clone(), types, format: None, link: None, derived: Some(kind) });
    }
    for k in def.segments.keys() {
        if !key::is_valid(k, key::MAX_FIELD_KEY) {
            issues.push(Issue::new(format!("/segments/{}", escape_token(k)), "invalid_key", format!("segment key '{k}' {}", key::rule(key::MAX_FIELD_KEY))).zh(format!("分层标识「{k}」只能用 1 到 {} 个小写字母、数字和 _ 组成，以字母开头，且不能连续两个 _", key::MAX_FIELD_KEY)));
        }
    }
    for (k, r) in &def.rollups {
        let at = format!("/rollups/{}", escape_token(k));
        if r.op != RollupOp::Count && r.field.is_none() {
            issues.push(Issue::new(format!("{at}/field"), "required", "this rollup needs the child field it combines: \"field\"").zh("这个汇总字段要在 \"field\" 中指定要汇总的子表单字段"));
        }
        for (name, v) in [("from", Some(&r.from)), ("via", Some(&r.via)), ("field", r.field.as_ref()), ("date", r.date.as_ref())] {
            if let Some(v) = v
                && !key::is_valid(v, key::MAX_FIELD_KEY) {
                    issues.push(Issue::new(format!("{at}/{name}"), "invalid_key", format!("'{v}' is not a form or field key")).zh(format!("「{v}」不是有效的表单或字段标识")));
                }
        }
    }
    let rules = Rules::compile(&def.computed, &def.rollups, &def.segments, &mut issues);

    let scalar_field = |f: &str, at: String, what: &str, issues: &mut Vec<Issue>| match fields.iter().find(|x| x.key == f) {
        None => issues.push(Issue::new(at, "unknown_field", format!("{what} names '{f}', which is not a field of this form")).zh(format!("{}中的「{f}」不是本表单的字段", match what { "title_field" => "标题字段", "unique" => "唯一键", _ => "索引" }))),
        Some(x) if !x.is_scalar() => issues.push(Issue::new(
            at,
            "not_scalar",
            format!("{what} needs a field of type string, number, integer or boolean; '{f}' is not"),
        ).zh(format!("「{f}」不是文本、数字、整数或布尔类型的字段，不能用作{}", match what { "title_field" => "标题字段", "unique" => "唯一键", _ => "索引" }))),
        Some(_) => {}
    };
    if let Some(t) = &def.title_field {
        scalar_field(t, "/title_field".into(), "title_field", &mut issues);
    }
    let mut seen_unique = BTreeSet::new();
    for (i, set) in def.unique.iter().enumerate() {
        if set.is_empty() {
            issues.push(Issue::new(format!("/unique/{i}"), "empty_unique", "a unique key needs at least one field").zh("唯一键至少要包含一个字段"));
        }
        let mut sorted = set.clone();
        sorted.sort();
        if !seen_unique.insert(sorted) {
            issues.push(Issue::new(format!("/unique/{i}"), "duplicate", "this unique key is listed twice").zh("这个唯一键重复了"));
        }
        for (j, f) in set.iter().enumerate() {
            scalar_field(f, format!("/unique/{i}/{j}"), "unique", &mut issues);
        }
    }
    let mut seen_index = BTreeSet::new();
    for (i, f) in def.indexes.iter().enumerate() {
        if !seen_index.insert(f) {
            issues.push(Issue::new(format!("/indexes/{i}"), "duplicate", format!("'{f}' is indexed twice")).zh(format!("「{f}」的索引重复了")));
        }
        scalar_field(f, format!("/indexes/{i}"), "indexes", &mut issues);
    }

    for (i, f) in def.required_for_new.iter().enumerate() {
        if !fields.iter().any(|x| &x.key == f && x.derived.is_none()) {
            issues.push(Issue::new(format!("/required_for_new/{i}"), "unknown_field", format!("required_for_new names '{f}', which is not a field of this form")).zh(format!("「仅新记录必填」中的「{f}」不是本表单可填写的字段")));
        }
    }

    let keys: BTreeSet<&str> = fields.iter().map(|f| f.key.as_str()).collect();
    crate::permission::check(&def, &keys, &mut issues);

    let validator = match build_validator(&def.schema) {
        Ok(v) => Some(v),
        Err(e) => {
            issues.push(Issue::new("/schema", "invalid_schema", e).zh("表单的字段定义（schema）无法生效，请检查写法"));
            None
        }
    };
    match validator {
        Some(validator) if issues.is_empty() => Ok(CompiledForm { def, version, fields, rules, validator, open }),
        _ => Err(issues),
    }
}

/// Checks what a compiled form needs of other forms: that link targets exist,
/// and that each rollup's child form links here by its `via` field and has the
/// fields it names. `other` finds a form by key (the caller's: forms in the
/// database, or in a pack).
pub fn check_references(compiled: &CompiledForm, other: &dyn Fn(&str) -> Option<Arc<CompiledForm>>) -> Vec<Issue> {
    let mut issues = Vec::new();
    for f in &compiled.fields {
        if let Some(target) = &f.link
            && target != compiled.key()
            && other(target).is_none()
        {
            issues.push(Issue::new(format!("/schema/properties/{}/x-link", escape_token(&f.key)), "unknown_form", format!("x-link names form '{target}', which does not exist")).zh(format!("x-link 指向的表单「{target}」不存在")));
        }
    }
    for r in &compiled.rules.rollups {
        let at = format!("/rollups/{}", escape_token(&r.key));
        let found = if r.def.from == compiled.key() { None } else { other(&r.def.from) };
        if r.def.from != compiled.key() && found.is_none() {
            issues.push(Issue::new(format!("{at}/from"), "unknown_form", format!("rollup over form '{}', which does not exist", r.def.from)).zh(format!("汇总字段所汇总的表单「{}」不存在", r.def.from)));
            continue;
        }
        let child: &CompiledForm = found.as_deref().unwrap_or(compiled);
        match child.field(&r.def.via) {
            Some(f) if f.link.as_deref() == Some(compiled.key()) => {}
            Some(_) => issues.push(Issue::new(format!("{at}/via"), "invalid_link", format!("'{}.{}' does not link to form '{}' (it needs \"x-link\": \"{}\")", child.key(), r.def.via, compiled.key(), compiled.key())).zh(format!("「{}.{}」没有关联到表单「{}」（需要设置 \"x-link\": \"{}\"）", child.key(), r.def.via, compiled.key(), compiled.key()))),
            None => issues.push(Issue::new(format!("{at}/via"), "unknown_field", format!("form '{}' has no field '{}'", child.key(), r.def.via)).zh(format!("表单「{}」没有字段「{}」", child.key(), r.def.via))),
        }
        for (name, field) in [("field", &r.def.field), ("date", &r.def.date)] {
            if let Some(field) = field
                && child.field(field).is_none()
            {
                issues.push(Issue::new(format!("{at}/{name}"), "unknown_field", format!("form '{}' has no field '{field}'", child.key())).zh(format!("表单「{}」没有字段「{field}」", child.key())));
            }
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(v: Value) -> FormDef {
        serde_json::from_value(v).unwrap()
    }

    fn pointers(r: Result<CompiledForm, Vec<Issue>>) -> Vec<String> {
        r.err().unwrap().into_iter().map(|i| i.pointer).collect()
    }

    #[test]
    fn compiles_a_customer_form() {
        let f = compile(
            def(json!({"key": "customer", "title": "客户", "schema": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "phone": {"type": "string", "format": "phone"},
                "owner": {"type": "string", "format": "user"}, "company": {"type": "string", "x-link": "company"},
                "tags": {"type": "array", "items": {"type": "string"}}}},
                "unique": [["phone"]], "indexes": ["name"], "title_field": "name"})),
            1,
        )
        .unwrap();
        assert_eq!(f.owner_field().unwrap().key, "owner");
        assert_eq!(f.link_targets().into_iter().collect::<Vec<_>>(), ["company"]);
        assert!(f.field("tags").unwrap().is_array());
    }

    #[test]
    fn reports_every_problem_with_a_pointer() {
        let r = compile(
            def(json!({"key": "customer", "schema": {"type": "object", "properties": {
                "Bad-Key": {"type": "string"}, "stars": {"type": "string", "format": "rating"},
                "tags": {"type": "array"}, "co": {"type": "string", "x-link": 5}}},
                "unique": [["missing"], []], "indexes": ["tags", "tags"], "title_field": "nope"})),
            1,
        );
        assert_eq!(
            pointers(r),
            [
                "/schema/properties/Bad-Key",
                "/schema/properties/stars/format",
                "/schema/properties/co/x-link",
                "/title_field",
                "/unique/0/0",
                "/unique/1",
                "/indexes/0",
                "/indexes/1",
                "/indexes/1"
            ]
        );
    }

    #[test]
    fn refuses_invalid_schemas_and_keys() {
        assert_eq!(pointers(compile(def(json!({"key": "c", "schema": {"type": "nonsense"}})), 1)), ["/schema/type"]);
        assert_eq!(pointers(compile(def(json!({"key": "C!", "schema": {"type": "object"}})), 1)), ["/key"]);
        assert_eq!(pointers(compile(def(json!({"key": "c", "schema": {"type": "array"}})), 1)), ["/schema/type"]);
        let unknown_format = compile(def(json!({"key": "c", "schema": {"type": "object", "properties": {"x": {"type": "string", "format": "fone"}}}})), 1);
        assert_eq!(pointers(unknown_format), ["/schema"]);
    }

    #[test]
    fn required_for_new_names_fields_typed_in() {
        let d = |names: Value| def(json!({"key": "c", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "computed": {"b": "1"}, "required_for_new": names}));
        assert!(compile(d(json!(["a"])), 1).is_ok());
        assert_eq!(pointers(compile(d(json!(["a", "nope", "b"])), 1)), ["/required_for_new/1", "/required_for_new/2"]);
    }

    #[test]
    fn unknown_definition_keys_are_refused() {
        let r: Result<FormDef, _> = serde_json::from_value(json!({"key": "c", "schema": {}, "segmnts": {}}));
        assert!(r.unwrap_err().to_string().contains("unknown field `segmnts`"));
    }
}

//! A form's rules: computed fields, rollups and segments — their definitions,
//! their compiled scripts, and how a record's derived values are evaluated.
//!
//! Order on every write: rollup values (kept by the engine from the child
//! records) are already in the data; computed fields run in definition order,
//! each seeing the ones before it; then segments in order, each seeing
//! `segments` so far. All of it is a pure function of the record and `now`.

use indexmap::IndexMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::issue::{Issue, escape_token};
use crate::record::Record;
use crate::script::{self, Inputs, Script, ScriptError, Target};

/// How a rollup combines its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RollupOp {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Latest,
}

/// A value kept on a parent record from the records of `from` whose `via`
/// field links to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollupDef {
    pub from: String,
    pub via: String,
    pub op: RollupOp,
    /// The child field combined; not needed for `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A script over the child (`record`) that keeps it when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Only children dated within this many days before now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<u32>,
    /// The child field that dates a child, for `within_days` and `latest`;
    /// the child's creation time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    /// One text label (tier A/B/C), or none.
    Label,
    /// Several text labels (behavioural tags).
    Labels,
    /// A number (health 0–100).
    Score,
    /// True or false (churn risk).
    Flag,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    pub kind: SegmentKind,
    pub script: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What each value reads as on a page (`high` → 高); values not listed show as they are.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub values: IndexMap<String, String>,
}

/// A compiled rule and where its source is in the form definition.
#[derive(Debug, Clone)]
pub struct Rule {
    pub key: String,
    /// JSON Pointer of the script in the definition, e.g. `/segments/tier/script`.
    pub pointer: String,
    pub script: Script,
}

#[derive(Debug, Clone)]
pub struct CompiledRollup {
    pub key: String,
    pub def: RollupDef,
    pub filter: Option<Rule>,
}

/// A form's rules, compiled once per form version.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub computed: Vec<Rule>,
    pub rollups: Vec<CompiledRollup>,
    pub segments: Vec<(Rule, SegmentKind)>,
}

/// A rule that failed while evaluating a record.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFailure {
    /// The form whose rule failed (a parent's, when a child write updates a rollup).
    pub form: String,
    /// `computed.completeness`, `segments.tier`, `rollups.orders_90d`.
    pub rule: String,
    pub pointer: String,
    pub error: ScriptError,
}

impl RuleFailure {
    fn new(form: &str, rule: &Rule, section: &str, error: ScriptError) -> Box<Self> {
        Box::new(RuleFailure { form: form.to_owned(), rule: format!("{section}.{}", rule.key), pointer: rule.pointer.clone(), error })
    }

    pub fn message(&self) -> String {
        format!("rule {} of form '{}' failed: {}", self.rule, self.form, self.error.describe())
    }
}

fn compile_rule(key: &str, pointer: String, source: &str, issues: &mut Vec<Issue>) -> Option<Rule> {
    match script::sandbox().compile(source) {
        Ok(script) => Some(Rule { key: key.to_owned(), pointer, script }),
        Err(e) => {
            issues.push(Issue::new(pointer, "script", e.message.clone()).at(e.line, e.column));
            None
        }
    }
}

impl Rules {
    /// Compiles every script; each one that does not compile is an issue at its pointer.
    pub fn compile(
        computed: &IndexMap<String, String>,
        rollups: &IndexMap<String, RollupDef>,
        segments: &IndexMap<String, SegmentDef>,
        issues: &mut Vec<Issue>,
    ) -> Rules {
        let mut rules = Rules::default();
        for (k, src) in computed {
            rules.computed.extend(compile_rule(k, format!("/computed/{}", escape_token(k)), src, issues));
        }
        for (k, def) in rollups {
            let filter = def.filter.as_deref().and_then(|src| compile_rule(k, format!("/rollups/{}/filter", escape_token(k)), src, issues));
            rules.rollups.push(CompiledRollup { key: k.clone(), def: def.clone(), filter });
        }
        for (k, def) in segments {
            if let Some(rule) = compile_rule(k, format!("/segments/{}/script", escape_token(k)), &def.script, issues) {
                rules.segments.push((rule, def.kind));
            }
        }
        rules
    }

    /// Whether a record's derived values can change with time alone, so the sweep must revisit them.
    pub fn time_dependent(&self) -> bool {
        self.computed.iter().any(|r| r.script.reads_now)
            || self.segments.iter().any(|(r, _)| r.script.reads_now)
            || self.rollups.iter().any(|r| r.def.within_days.is_some() || r.filter.as_ref().is_some_and(|f| f.script.reads_now))
    }

    pub fn is_empty(&self) -> bool {
        self.computed.is_empty() && self.rollups.is_empty() && self.segments.is_empty()
    }

    /// Evaluates the computed fields into `data` and returns the segments.
    pub fn evaluate(&self, form: &str, data: &mut Map<String, Value>, now: Timestamp) -> Result<Map<String, Value>, Box<RuleFailure>> {
        let mut segments = Map::new();
        if self.computed.is_empty() && self.segments.is_empty() {
            return Ok(segments);
        }
        let computed = self.computed.iter().map(|r| (r, None));
        let segs = self.segments.iter().map(|(r, k)| (r, Some(*k)));
        let order: Vec<(&Rule, Option<SegmentKind>)> = computed.chain(segs).collect();
        let empty = Map::new();
        let inputs = Inputs { record: data, segments: &empty, now };
        let mut results: Vec<(Target, String, Value)> = Vec::with_capacity(order.len());
        script::sandbox().run_in_order(order.iter().map(|(r, _)| &r.script), &inputs, |i, out| {
            let (rule, kind) = order[i];
            let section = if kind.is_some() { "segments" } else { "computed" };
            let value = out.map_err(|e| RuleFailure::new(form, rule, section, e))?;
            let (target, value) = match kind {
                None => (Target::Record, value),
                Some(kind) => (Target::Segments, segment_value(kind, value).map_err(|m| RuleFailure::new(form, rule, section, ScriptError::plain(m)))?),
            };
            results.push((target, rule.key.clone(), value.clone()));
            Ok::<_, Box<RuleFailure>>(Some((target, rule.key.clone(), value)))
        })?;
        for (target, key, value) in results {
            let map = if target == Target::Record { &mut *data } else { &mut segments };
            if value.is_null() {
                map.remove(&key);
            } else {
                map.insert(key, value);
            }
        }
        Ok(segments)
    }
}

/// Checks a segment script's value against its kind. Nothing (`()`) is no
/// label, no labels, no score, and a false flag; an absent value is not stored.
fn segment_value(kind: SegmentKind, v: Value) -> Result<Value, String> {
    let wrong = |want: &str, v: &Value| Err(format!("a {} segment must give {want}, not {v}", kind_name(kind)));
    match (kind, v) {
        (SegmentKind::Flag, Value::Null) => Ok(Value::Bool(false)),
        (_, Value::Null) => Ok(Value::Null),
        (SegmentKind::Label, v @ Value::String(_)) => Ok(v),
        (SegmentKind::Label, v) => wrong("text or ()", &v),
        (SegmentKind::Score, v @ Value::Number(_)) => Ok(v),
        (SegmentKind::Score, v) => wrong("a number or ()", &v),
        (SegmentKind::Flag, v @ Value::Bool(_)) => Ok(v),
        (SegmentKind::Flag, v) => wrong("true or false", &v),
        (SegmentKind::Labels, Value::Array(items)) => {
            let mut labels: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(_) if !labels.contains(&item) => labels.push(item),
                    Value::String(_) => {}
                    other => return wrong("an array of text", &other),
                }
            }
            Ok(if labels.is_empty() { Value::Null } else { Value::Array(labels) })
        }
        (SegmentKind::Labels, v @ Value::String(_)) => Ok(Value::Array(vec![v])),
        (SegmentKind::Labels, v) => wrong("an array of text", &v),
    }
}

pub fn kind_name(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Label => "label",
        SegmentKind::Labels => "labels",
        SegmentKind::Score => "score",
        SegmentKind::Flag => "flag",
    }
}

/// The date of a child for windows and `latest`: its `date` field (a date or
/// a time) or its creation time.
fn child_time(def: &RollupDef, child: &Record) -> Option<Timestamp> {
    match &def.date {
        None => Some(child.created_at),
        Some(f) => {
            let s = child.data.get(f)?.as_str()?;
            s.parse::<Timestamp>()
                .ok()
                .or_else(|| script::helpers::parse_date(s).and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok()).map(|z| z.timestamp()))
        }
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => script::helpers::number_of(&rhai::Dynamic::from(s.clone())),
        _ => None,
    }
}

/// Compares JSON scalars of one kind: numbers as numbers, text as text
/// (ISO dates and times order correctly as text).
fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl CompiledRollup {
    /// The rollup's value over the live children of one parent.
    pub fn aggregate(&self, parent_form: &str, children: &[Record], now: Timestamp) -> Result<Value, Box<RuleFailure>> {
        let def = &self.def;
        let since = def.within_days.map(|d| now.saturating_sub(jiff::SignedDuration::from_hours(24 * i64::from(d))).unwrap_or(Timestamp::MIN));
        let mut kept: Vec<(&Record, Option<Timestamp>)> = Vec::new();
        for child in children {
            let at = child_time(def, child);
            if let Some(since) = since
                && at.is_none_or(|t| t < since) {
                    continue;
                }
            if let Some(rule) = &self.filter {
                let keep = script::sandbox()
                    .run(&rule.script, &Inputs { record: &child.data, segments: &child.segments, now })
                    .map_err(|e| RuleFailure::new(parent_form, rule, "rollups", e))?;
                match keep {
                    Value::Bool(true) => {}
                    Value::Bool(false) | Value::Null => continue,
                    other => {
                        return Err(RuleFailure::new(parent_form, rule, "rollups", ScriptError::plain(format!("a rollup filter must give true or false, not {other}"))));
                    }
                }
            }
            kept.push((child, at));
        }
        let values = || kept.iter().filter_map(|(c, _)| def.field.as_deref().and_then(|f| c.data.get(f))).filter(|v| !v.is_null());
        Ok(match def.op {
            RollupOp::Count => Value::from(kept.len() as i64),
            RollupOp::Sum => {
                let vals: Vec<&Value> = values().collect();
                if vals.iter().all(|v| v.is_i64()) {
                    Value::from(vals.iter().filter_map(|v| v.as_i64()).fold(0i64, i64::saturating_add))
                } else {
                    number(vals.iter().filter_map(|v| as_f64(v)).sum())
                }
            }
            RollupOp::Avg => {
                let nums: Vec<f64> = values().filter_map(as_f64).collect();
                if nums.is_empty() { Value::Null } else { number(nums.iter().sum::<f64>() / nums.len() as f64) }
            }
            RollupOp::Min => values().min_by(|a, b| order(a, b).unwrap_or(std::cmp::Ordering::Equal)).cloned().unwrap_or(Value::Null),
            RollupOp::Max => values().max_by(|a, b| order(a, b).unwrap_or(std::cmp::Ordering::Equal)).cloned().unwrap_or(Value::Null),
            RollupOp::Latest => kept
                .iter()
                .max_by_key(|(c, at)| (*at, c.created_at, c.id))
                .and_then(|(c, _)| def.field.as_deref().and_then(|f| c.data.get(f)).cloned())
                .unwrap_or(Value::Null),
        })
    }
}

fn number(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn rules(v: Value) -> Result<Rules, Vec<Issue>> {
        let computed: IndexMap<String, String> = serde_json::from_value(v["computed"].clone()).unwrap_or_default();
        let rollups: IndexMap<String, RollupDef> = serde_json::from_value(v["rollups"].clone()).unwrap_or_default();
        let segments: IndexMap<String, SegmentDef> = serde_json::from_value(v["segments"].clone()).unwrap_or_default();
        let mut issues = Vec::new();
        let r = Rules::compile(&computed, &rollups, &segments, &mut issues);
        if issues.is_empty() { Ok(r) } else { Err(issues) }
    }

    fn now() -> Timestamp {
        "2026-11-23T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn computed_then_segments_in_order() {
        let r = rules(json!({
            "computed": {"double": "record.spend * 2", "quad": "record.double * 2"},
            "segments": {"tier": {"kind": "label", "script": "if record.quad > 100 { \"A\" } else { \"B\" }"},
                         "vip": {"kind": "flag", "script": "segments.tier == \"A\""},
                         "tags": {"kind": "labels", "script": "[\"x\", \"x\", \"y\"]"},
                         "none": {"kind": "label", "script": "()"}}}))
        .unwrap();
        let mut data = json!({"spend": 30}).as_object().unwrap().clone();
        let segs = r.evaluate("customer", &mut data, now()).unwrap();
        assert_eq!(Value::Object(data), json!({"spend": 30, "double": 60, "quad": 120}));
        assert_eq!(Value::Object(segs), json!({"tier": "A", "vip": true, "tags": ["x", "y"]}));
    }

    #[test]
    fn compile_errors_point_at_the_rule() {
        let issues = rules(json!({"computed": {"a": "1 +"}, "segments": {"t": {"kind": "label", "script": "let = 2"}}})).unwrap_err();
        let pointers: Vec<_> = issues.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(pointers, ["/computed/a", "/segments/t/script"]);
        // The position is in `line` and `column`; the message does not say it again.
        assert_eq!(issues[0].line, Some(1));
        assert!(issues[0].column.is_some());
        assert!(!issues[0].message.contains("line"), "{}", issues[0].message);
    }

    #[test]
    fn wrong_kinds_and_runtime_errors_name_the_rule() {
        let r = rules(json!({"segments": {"score": {"kind": "score", "script": "\"high\""}}})).unwrap();
        let e = r.evaluate("customer", &mut Map::new(), now()).unwrap_err();
        assert_eq!(e.rule, "segments.score");
        assert!(e.message().contains("a score segment must give a number"), "{}", e.message());
        let r = rules(json!({"computed": {"x": "record.a.len()"}})).unwrap();
        let e = r.evaluate("customer", &mut Map::new(), now()).unwrap_err();
        assert_eq!(e.pointer, "/computed/x");
        assert_eq!(e.error.line, Some(1));
    }

    fn child(data: Value, created: &str) -> Record {
        let at: Timestamp = created.parse().unwrap();
        Record {
            id: Uuid::nil(),
            form: "order".into(),
            form_version: 1,
            rev: 1,
            data: data.as_object().unwrap().clone(),
            segments: Map::new(),
            owner: None,
            created_by: Uuid::nil(),
            updated_by: Uuid::nil(),
            created_at: at,
            updated_at: at,
            deleted_at: None,
        }
    }

    #[test]
    fn rollups_aggregate_with_filter_and_window() {
        let kids = vec![
            child(json!({"amount": 100, "date": "2026-11-01", "paid": true}), "2026-11-01T00:00:00Z"),
            child(json!({"amount": 50.5, "date": "2026-06-01", "paid": false}), "2026-06-01T00:00:00Z"),
            child(json!({"amount": "1,000", "date": "2026-11-20", "paid": true}), "2026-11-20T00:00:00Z"),
        ];
        let r = rules(json!({"rollups": {
            "n": {"from": "order", "via": "customer", "op": "count"},
            "n90": {"from": "order", "via": "customer", "op": "count", "within_days": 90, "date": "date"},
            "paid_sum": {"from": "order", "via": "customer", "op": "sum", "field": "amount", "filter": "record.paid"},
            "avg": {"from": "order", "via": "customer", "op": "avg", "field": "amount"},
            "last": {"from": "order", "via": "customer", "op": "max", "field": "date"},
            "first": {"from": "order", "via": "customer", "op": "min", "field": "date"},
            "latest_amount": {"from": "order", "via": "customer", "op": "latest", "field": "amount", "date": "date"}}}))
        .unwrap();
        let got: Vec<Value> = r.rollups.iter().map(|x| x.aggregate("customer", &kids, now()).unwrap()).collect();
        assert_eq!(got, [json!(3), json!(2), json!(1100.0), json!(383.5), json!("2026-11-20"), json!("2026-06-01"), json!("1,000")]);
        let none: Vec<Value> = r.rollups.iter().map(|x| x.aggregate("customer", &[], now()).unwrap()).collect();
        assert_eq!(none, [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null, Value::Null]);
    }
}

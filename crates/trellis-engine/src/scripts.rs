//! Trying rules before they are in force: run one script against a sample
//! record, or run a changed form's rules over every record of the form and
//! report how the segment values would move, and which records would stop
//! validating, which fields' data would be dropped or retyped and which
//! newly required fields records lack — writing nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};
use trellis_core::rules::{SegmentKind, kind_name};
use trellis_core::script::{self, Inputs, ScriptError};
use trellis_core::{CompiledForm, Issue, Record, publish, validate};
use uuid::Uuid;

use crate::derive::{evaluate, input_of, set_rollups};
use crate::{Actor, Engine, EngineError, Result};

/// What a script is tried against.
#[derive(Debug, Clone, Default)]
pub struct ScriptTrial {
    pub script: String,
    /// A sample record's data; or
    pub record: Option<Map<String, Value>>,
    /// a stored record (its data with derived values, and its segments).
    pub stored: Option<(String, Uuid)>,
    pub segments: Option<Map<String, Value>>,
    /// The time the script sees (RFC 3339); the engine clock's when absent.
    pub now: Option<String>,
}

/// How a changed form's segments would move.
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub form: String,
    pub records: i64,
    /// Records whose rules failed under the changed definition.
    pub failed: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Why the simulation stopped before the last record (too many failures,
    /// or its time was up); the counts cover the records seen until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub segments: Vec<SegmentShift>,
    /// What the changed definition does to the stored data itself.
    pub validation: ValidationImpact,
}

impl Simulation {
    /// The same report with problems said in Chinese (their `message`), for zh readers.
    pub fn in_chinese(mut self) -> Simulation {
        for e in self.validation.examples.iter_mut().flat_map(|x| x.errors.iter_mut()) {
            if let Some(zh) = e.zh.take() {
                e.message = zh;
            }
        }
        self
    }
}

/// How the stored records would fare under the changed definition, each
/// record's typed-in fields validated as its next write would validate them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidationImpact {
    /// Records that validate now and would not under the change: each would
    /// be refused at its next write until fixed. Records already refused by
    /// the version in force are not counted here but in `already_invalid`.
    pub invalid: i64,
    /// Records the version in force refuses already (and the change too).
    pub already_invalid: i64,
    /// Up to 5 of the `invalid` records, with their problems.
    pub examples: Vec<InvalidExample>,
    /// Fields the change removes that records still hold data in.
    pub dropped: Vec<DroppedField>,
    /// Fields whose JSON type the change alters, with how many records hold a value.
    pub retyped: Vec<RetypedField>,
    /// Fields the change newly requires, with how many records lack a value.
    pub required: Vec<crate::forms::MissingField>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InvalidExample {
    pub id: Uuid,
    /// The record's `title_field` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Value>,
    pub errors: Vec<ExampleError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExampleError {
    pub pointer: String,
    pub message: String,
    #[serde(skip)]
    pub zh: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DroppedField {
    pub field: String,
    pub title: String,
    /// Records holding a value in it.
    pub records: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetypedField {
    pub field: String,
    pub title: String,
    /// JSON Schema types before and after (empty: any).
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// Records holding a value in it.
    pub records: i64,
}

/// Tallies [`ValidationImpact`] record by record.
struct Validation<'a> {
    current: &'a CompiledForm,
    candidate: &'a CompiledForm,
    change: publish::SchemaChange,
    out: ValidationImpact,
}

impl<'a> Validation<'a> {
    fn new(current: &'a CompiledForm, candidate: &'a CompiledForm) -> Validation<'a> {
        let change = publish::schema_change(&current.def, &candidate.def);
        let out = ValidationImpact {
            dropped: change.dropped.iter().map(|f| DroppedField { field: f.clone(), title: publish::field_title(&current.def, f), records: 0 }).collect(),
            retyped: change.retyped.iter().map(|r| RetypedField { field: r.field.clone(), title: publish::field_title(&candidate.def, &r.field), from: r.from.clone(), to: r.to.clone(), records: 0 }).collect(),
            required: change.newly_required.iter().map(|f| crate::forms::MissingField { field: f.clone(), title: publish::field_title(&candidate.def, f), missing: 0 }).collect(),
            ..ValidationImpact::default()
        };
        Validation { current, candidate, change, out }
    }

    fn add(&mut self, rec: &Record) {
        // What a write validates: the typed-in fields (derived values of either version left out).
        let input: Map<String, Value> = input_of(self.current, &input_of(self.candidate, &rec.data));
        for (d, f) in self.out.dropped.iter_mut().zip(&self.change.dropped) {
            d.records += i64::from(publish::has_value(&rec.data, f));
        }
        for (r, f) in self.out.retyped.iter_mut().zip(&self.change.retyped) {
            r.records += i64::from(publish::has_value(&rec.data, &f.field));
        }
        for m in &mut self.out.required {
            m.missing += i64::from(!publish::has_value(&input, &m.field));
        }
        let input = Value::Object(input);
        let after = validate::validate(self.candidate, &input);
        if after.is_empty() {
            return;
        }
        if !validate::validate(self.current, &input).is_empty() {
            self.out.already_invalid += 1;
            return;
        }
        self.out.invalid += 1;
        if self.out.examples.len() < EXAMPLES {
            let title = self.candidate.def.title_field.as_ref().or(self.current.def.title_field.as_ref()).and_then(|t| rec.data.get(t)).cloned();
            let errors = after.into_iter().map(|i| ExampleError { pointer: i.pointer, message: i.message, zh: i.zh }).collect();
            self.out.examples.push(InvalidExample { id: rec.id, title, errors });
        }
    }

    fn finish(mut self) -> ValidationImpact {
        self.out.dropped.retain(|d| d.records > 0);
        self.out.required.retain(|m| m.missing > 0);
        self.out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentShift {
    pub segment: String,
    pub kind: &'static str,
    /// Records per value now and under the change (scores in bands of ten; labels counted each).
    pub before: BTreeMap<String, i64>,
    pub after: BTreeMap<String, i64>,
    /// Records whose value would change.
    pub changed: i64,
    /// `"A → B"`: how many records would move that way.
    pub moves: BTreeMap<String, i64>,
    /// A few records that would move.
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Value>,
    pub from: Value,
    pub to: Value,
}

const EXAMPLES: usize = 5;

/// A simulation stops once this many records have failed: a rule that
/// fails on these fails on the rest, and each failure may have used the
/// whole deadline (an endless loop costs 50 ms a record).
const MAX_FAILED: i64 = 20;

/// A simulation stops after this long and reports what it saw so far.
const SIMULATION_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);

/// The distribution bucket(s) of one value.
fn buckets(kind: Option<SegmentKind>, v: &Value) -> Vec<String> {
    match (kind, v) {
        (_, Value::Null) => vec!["(none)".into()],
        (Some(SegmentKind::Score), Value::Number(n)) => {
            let band = (n.as_f64().unwrap_or(0.0) / 10.0).floor() as i64 * 10;
            vec![format!("{band}–{}", band + 9)]
        }
        (_, Value::Array(items)) if items.is_empty() => vec!["(none)".into()],
        (_, Value::Array(items)) => items.iter().map(show).collect(),
        (_, v) => vec![show(v)],
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

struct Tally {
    key: String,
    kind: Option<SegmentKind>,
    shift: SegmentShift,
}

impl Tally {
    fn add(&mut self, rec: &Record, title: Option<&str>, before: &Value, after: &Value) {
        for b in buckets(self.kind, before) {
            *self.shift.before.entry(b).or_default() += 1;
        }
        for a in buckets(self.kind, after) {
            *self.shift.after.entry(a).or_default() += 1;
        }
        if before != after {
            self.shift.changed += 1;
            *self.shift.moves.entry(format!("{} → {}", show(before), show(after))).or_default() += 1;
            if self.shift.examples.len() < EXAMPLES {
                let title = title.and_then(|t| rec.data.get(t)).cloned();
                self.shift.examples.push(Example { id: rec.id, title, from: before.clone(), to: after.clone() });
            }
        }
    }
}

impl Engine {
    /// Runs one script. The outer error is the request's; the inner one the script's.
    pub async fn try_script(&self, actor: &Actor, trial: ScriptTrial) -> Result<std::result::Result<Value, ScriptError>> {
        actor.require_admin("test scripts")?;
        let (data, mut segments) = match (&trial.stored, trial.record) {
            (Some((form, id)), None) => {
                let r = self.get_record(actor, form, *id).await?;
                (r.data, r.segments)
            }
            (None, record) => (record.unwrap_or_default(), Map::new()),
            (Some(_), Some(_)) => return Err(EngineError::Invalid(vec![Issue::new("/record", "conflict", "give either a sample record or a stored one (form and record_id), not both").zh("示例记录和已保存的记录（form 与 record_id）只能二选一")])),
        };
        if let Some(s) = trial.segments {
            segments = s;
        }
        let now = match trial.now {
            None => self.clock.now(),
            Some(s) => s.parse::<Timestamp>().map_err(|e| EngineError::Invalid(vec![Issue::new("/now", "format", format!("'{s}' is not an RFC 3339 time: {e}")).zh(format!("「{s}」不是 RFC 3339 格式的时间"))]))?,
        };
        // Compiling and running take up to the sandbox's limits: not on an async worker.
        crate::blocking(move || {
            let sandbox = script::sandbox();
            let compiled = sandbox.compile(&trial.script)?;
            sandbox.run(&compiled, &Inputs { record: &data, segments: &segments, now })
        })
        .await
    }

    /// Evaluates a candidate definition of `form` over all its live records
    /// and reports how each segment's values would move. Writes nothing.
    pub async fn simulate(&self, actor: &Actor, form: &str, definition: Value) -> Result<Simulation> {
        actor.require_admin("simulate rule changes")?;
        let current = self.form(form).await?;
        let def = crate::forms::definition_for(current.key(), definition)?;
        let candidate = Arc::new(self.check(def, current.version + 1).await?);
        let mut keys: Vec<(String, Option<SegmentKind>)> = candidate.def.segments.iter().map(|(k, s)| (k.clone(), Some(s.kind))).collect();
        keys.extend(current.def.segments.keys().filter(|k| !candidate.def.segments.contains_key(*k)).map(|k| (k.clone(), None)));
        let mut tallies: Vec<Tally> = keys
            .into_iter()
            .map(|(key, kind)| Tally {
                shift: SegmentShift {
                    segment: key.clone(),
                    kind: kind.map_or("removed", kind_name),
                    before: BTreeMap::new(),
                    after: BTreeMap::new(),
                    changed: 0,
                    moves: BTreeMap::new(),
                    examples: Vec::new(),
                },
                key,
                kind,
            })
            .collect();
        // Rollups that are new or defined differently are recomputed from the children; the others are carried.
        let recompute: Vec<&str> = candidate
            .rules
            .rollups
            .iter()
            .filter(|r| current.rules.rollups.iter().find(|c| c.key == r.key).is_none_or(|c| c.def != r.def))
            .map(|r| r.key.as_str())
            .collect();
        let now = self.clock.now();
        let title = candidate.def.title_field.clone();
        let mut validation = Validation::new(&current, &candidate);
        let (mut records, mut failed, mut first_error, mut stopped) = (0i64, 0i64, None, None);
        let mut after = None;
        let started = std::time::Instant::now();
        while stopped.is_none() {
            let batch = self.store.list(form, &crate::sweep::batch_query(after)).await?;
            let Some(last) = batch.last().map(|r| r.id) else { break };
            after = Some(last);
            let by_parent = if recompute.is_empty() { HashMap::new() } else { self.batch_children(&candidate, &batch).await? };
            let mut inputs = Vec::with_capacity(batch.len());
            for rec in &batch {
                let mut data = input_of(&current, &rec.data);
                for r in &candidate.rules.rollups {
                    if let Some(v) = rec.data.get(&r.key).filter(|_| !recompute.contains(&r.key.as_str())) {
                        data.insert(r.key.clone(), v.clone());
                    }
                }
                let id = rec.id.to_string();
                let children: HashMap<String, Vec<Record>> = by_parent.iter().map(|(k, m)| (k.clone(), m.get(&id).cloned().unwrap_or_default())).collect();
                inputs.push((data, children));
            }
            let form = Arc::clone(&candidate);
            let recompute_now = !recompute.is_empty();
            let failed_before = failed;
            // Stops within the batch too: a batch of records whose rules all
            // run to their deadline would otherwise take minutes.
            let results = tokio::task::spawn_blocking(move || {
                let mut out = Vec::with_capacity(inputs.len());
                let mut failed = failed_before;
                for (mut data, children) in inputs {
                    let result = if recompute_now { set_rollups(&form, &mut data, &children, None, now) } else { Ok(()) }.and_then(|()| evaluate(&form, &mut data, now));
                    failed += i64::from(result.is_err());
                    out.push(result);
                    if failed >= MAX_FAILED || started.elapsed() > SIMULATION_BUDGET {
                        break;
                    }
                }
                out
            })
            .await
            .map_err(|e| EngineError::Internal(format!("simulation: {e}")))?;
            for (rec, result) in batch.iter().zip(results) {
                records += 1;
                validation.add(rec);
                let after = match result {
                    Ok(segments) => segments,
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| format!("record {}: {e}", rec.id));
                        if failed >= MAX_FAILED {
                            stopped = Some(format!("stopped after {failed} records failed"));
                            break;
                        }
                        continue;
                    }
                };
                for t in &mut tallies {
                    let before = rec.segments.get(&t.key).cloned().unwrap_or(Value::Null);
                    let now_value = after.get(&t.key).cloned().unwrap_or(Value::Null);
                    t.add(rec, title.as_deref(), &before, &now_value);
                }
            }
            if stopped.is_none() && started.elapsed() > SIMULATION_BUDGET {
                stopped = Some(format!("stopped after {} s, at {records} records", SIMULATION_BUDGET.as_secs()));
            }
        }
        let validation = validation.finish();
        Ok(Simulation { form: form.to_owned(), records, failed, first_error, stopped, segments: tallies.into_iter().map(|t| t.shift).collect(), validation })
    }
}

//! The figures of a dashboard: each widget's measure over its form's live
//! records (within its filter), grouped by a field, a segment or a date
//! bucket; a funnel counts a workflow's instances (ended ones too) by state, in the
//! workflow's order; a table lists records.
//!
//! Widgets are computed by reading the form's records in batches of 1,000
//! and aggregating in memory — linear in the form's size, fine for the
//! thousands to tens of thousands of customers of a team; SQL aggregates per
//! backend would be the next step for a million (see ARCHITECTURE.md).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use trellis_core::dashboard::{Bucket, DashboardDef, MeasureOp, WidgetDef, WidgetKind};
use trellis_core::query::{self, Filter, ListQuery};
use trellis_core::record::Record;

use crate::packs::DASHBOARD;
use crate::{Actor, Engine, EngineError, Result};

/// One point of a chart.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub label: String,
    pub value: f64,
}

/// A widget's figures, ready to draw.
#[derive(Debug, Clone, Serialize)]
pub struct WidgetData {
    pub key: String,
    pub title: String,
    pub kind: WidgetKind,
    /// For a metric: the number (none when there is nothing to average).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// For charts: the groups, in their order (buckets by time, funnels by state, others by size).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<Point>,
    /// For tables: the records, each `{id, values}` in the widget's columns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<Value>,
    /// The records the widget counted.
    pub records: u64,
    /// Why the widget shows nothing to this user: it reads a field hidden from
    /// their role, or counts records beyond their read scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DashboardData {
    pub key: String,
    pub title: String,
    pub widgets: Vec<WidgetData>,
}

/// The value a widget reads from a record: a field, `segments.KEY`, or a bookkeeping column.
fn read(r: &Record, name: &str) -> Option<Value> {
    if let Some(s) = name.strip_prefix("segments.") {
        return r.segments.get(s).cloned();
    }
    match name {
        "owner" => r.owner.map(|o| Value::String(o.to_string())),
        "created_at" => Some(Value::String(r.created_at.to_string())),
        "updated_at" => Some(Value::String(r.updated_at.to_string())),
        _ => r.data.get(name).cloned(),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The group labels of one value: each item of a list (labels, tags), a date's bucket, or the value as text.
fn labels(v: Option<Value>, bucket: Option<Bucket>) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match v {
        None | Some(Value::Null) => vec!["—".into()],
        Some(Value::Array(items)) if items.is_empty() => vec!["—".into()],
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(v) => {
            let s = text(&v);
            match bucket {
                None => vec![s],
                Some(b) => vec![bucket_of(&s, b).unwrap_or(s)],
            }
        }
    }
}

/// `2026-03-04` or a time → its day, the Monday of its week, or its month.
fn bucket_of(s: &str, b: Bucket) -> Option<String> {
    // An instant first (a plain-date parse would keep a time's own offset's date), then a plain date.
    let day = s.parse::<jiff::Timestamp>().ok().map(|t| t.to_zoned(jiff::tz::TimeZone::get(trellis_core::trigger::DEFAULT_TZ).unwrap_or(jiff::tz::TimeZone::UTC)).date()).or_else(|| s.parse::<jiff::civil::Date>().ok())?;
    Some(match b {
        Bucket::Day => day.to_string(),
        Bucket::Week => {
            let back = i64::from(day.weekday().to_monday_zero_offset());
            day.checked_sub(jiff::Span::new().days(back)).ok()?.to_string()
        }
        Bucket::Month => format!("{:04}-{:02}", day.year(), day.month()),
    })
}

/// Every bucket label from `first` to `last` (both bucket labels of kind `b`), at most 1,000.
fn buckets_between(first: &str, last: &str, b: Bucket) -> Vec<String> {
    let start = match b {
        Bucket::Month => format!("{first}-01").parse::<jiff::civil::Date>().ok(),
        _ => first.parse::<jiff::civil::Date>().ok(),
    };
    let Some(mut d) = start else { return vec![] };
    let step = match b {
        Bucket::Day => jiff::Span::new().days(1),
        Bucket::Week => jiff::Span::new().weeks(1),
        Bucket::Month => jiff::Span::new().months(1),
    };
    let mut out = Vec::new();
    while out.len() < 1000 {
        let label = match b {
            Bucket::Month => format!("{:04}-{:02}", d.year(), d.month()),
            _ => d.to_string(),
        };
        let done = label.as_str() >= last;
        out.push(label);
        if done {
            break;
        }
        match d.checked_add(step) {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    out
}

/// Sum and count, for every measure.
#[derive(Default, Clone, Copy)]
struct Acc {
    n: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
    seen: u64,
}

impl Acc {
    fn add(&mut self, v: Option<f64>) {
        self.seen += 1;
        if let Some(x) = v {
            self.n += 1;
            self.sum += x;
            self.min = Some(self.min.map_or(x, |m| m.min(x)));
            self.max = Some(self.max.map_or(x, |m| m.max(x)));
        }
    }

    /// The measure; `count` of a field counts the records that have it.
    fn value(&self, op: MeasureOp, of_field: bool) -> Option<f64> {
        match op {
            MeasureOp::Count if of_field => Some(self.n as f64),
            MeasureOp::Count => Some(self.seen as f64),
            MeasureOp::Sum => Some(self.sum),
            MeasureOp::Avg => (self.n > 0).then(|| (self.sum / self.n as f64 * 100.0).round() / 100.0),
            MeasureOp::Min => self.min,
            MeasureOp::Max => self.max,
        }
    }
}

impl Engine {
    /// A dashboard's figures, computed now over the records `actor` may read:
    /// a sales rep's dashboard counts their own customers, a manager's their team's.
    pub async fn dashboard_data(&self, actor: &Actor, key: &str) -> Result<DashboardData> {
        let stored = self.get_definition(actor, DASHBOARD, key).await?;
        let def: DashboardDef = serde_json::from_value(stored.definition).map_err(|e| EngineError::Internal(format!("stored dashboard {key}: {e}")))?;
        let mut widgets = Vec::with_capacity(def.widgets.len());
        for w in &def.widgets {
            widgets.push(self.widget_data(actor, w).await?);
        }
        Ok(DashboardData { key: def.key, title: def.title, widgets })
    }

    async fn widget_data(&self, actor: &Actor, w: &WidgetDef) -> Result<WidgetData> {
        let form = self.form(&w.form).await?;
        let filter: Option<Filter> = w.filter.as_ref().map(|f| query::parse_filter(&form, f)).transpose()?;
        let mut out = WidgetData { key: w.key.clone(), title: w.title.clone(), kind: w.kind, value: None, points: vec![], rows: vec![], records: 0, withheld: None };
        let grant = self.grant(actor, &form).await?;
        let named = w.measure.iter().filter_map(|m| m.field.clone()).chain(w.group_by.clone()).chain(w.columns.iter().cloned());
        let reads_hidden = named.chain(filter.iter().flat_map(|f| f.targets()).filter_map(|t| match t {
            query::Target::Data(k) => Some(k.clone()),
            query::Target::Segment(k) => Some(format!("segments.{k}")),
            query::Target::Meta(_) => None,
        }));
        if let Some(field) = reads_hidden.into_iter().find(|f| !grant.access.sees(f)) {
            out.withheld = Some(format!("reads '{field}', which is hidden for role {}", grant.access.role));
            return Ok(out);
        }
        if grant.access.read == trellis_core::permission::Scope::None {
            out.withheld = Some(format!("role {} may not read {} records", grant.access.role, form.key()));
            return Ok(out);
        }
        let filter = grant.narrow(filter);
        if let (WidgetKind::Funnel, Some(wf)) = (w.kind, &w.workflow) {
            if grant.access.read != trellis_core::permission::Scope::All {
                // The funnel counts every instance of the workflow; narrowing it per record is not built yet.
                out.withheld = Some(format!("counts every {} record; shown to roles that read them all", form.key()));
                return Ok(out);
            }
            let defs = self.defs().await?;
            let order: Vec<String> = defs.workflows.get(wf).map(|c| c.def.states.keys().cloned().collect()).unwrap_or_default();
            let titles: BTreeMap<String, String> = defs.workflows.get(wf).map(|c| c.def.states.iter().map(|(k, s)| (k.clone(), s.title.clone().unwrap_or_else(|| k.clone()))).collect()).unwrap_or_default();
            let counts: BTreeMap<String, i64> = self.store.instance_states(wf).await?.into_iter().collect();
            out.points = order.iter().map(|s| Point { label: titles.get(s).cloned().unwrap_or_else(|| s.clone()), value: *counts.get(s).unwrap_or(&0) as f64 }).collect();
            out.records = counts.values().sum::<i64>().max(0) as u64;
            return Ok(out);
        }
        let op = w.measure.as_ref().map_or(MeasureOp::Count, |m| m.op);
        let field = w.measure.as_ref().and_then(|m| m.field.clone());
        let mut total = Acc::default();
        let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
        let limit = w.limit.unwrap_or(10).clamp(1, 500) as usize;
        let mut after = None;
        loop {
            let mut q: ListQuery = crate::sweep::batch_query(after);
            q.filter = filter.clone();
            let batch = self.store.list(&w.form, &q).await?;
            for r in &batch {
                out.records += 1;
                let v = field.as_deref().and_then(|f| read(r, f)).as_ref().and_then(number);
                total.add(v);
                if let Some(g) = &w.group_by {
                    for label in labels(read(r, g), w.bucket) {
                        groups.entry(label).or_default().add(v);
                    }
                }
                if w.kind == WidgetKind::Table && out.rows.len() < limit {
                    let values: Map<String, Value> = w.columns.iter().map(|c| (c.clone(), read(r, c).unwrap_or(Value::Null))).collect();
                    out.rows.push(serde_json::json!({"id": r.id, "values": values}));
                }
            }
            if batch.len() < q.limit as usize {
                break;
            }
            after = batch.last().map(|r| r.id);
        }
        let of_field = field.is_some();
        out.value = total.value(op, of_field);
        if let Some(b) = w.bucket {
            // Time runs left to right, every bucket from the first to the last shown, empty ones as 0.
            groups.remove("—");
            let zero = matches!(op, MeasureOp::Count | MeasureOp::Sum);
            let keys: Vec<String> = groups.keys().cloned().collect();
            if let (true, Some(first), Some(last)) = (zero, keys.first(), keys.last()) {
                for k in buckets_between(first, last, b) {
                    groups.entry(k).or_default();
                }
            }
            out.points = groups.into_iter().filter_map(|(label, acc)| acc.value(op, of_field).map(|value| Point { label, value })).collect();
            return Ok(out);
        }
        let mut points: Vec<Point> = groups.iter().filter_map(|(label, acc)| acc.value(op, of_field).map(|value| Point { label: label.clone(), value })).collect();
        points.sort_by(|a, b| b.value.total_cmp(&a.value));
        let keep = w.limit.map_or(12, |l| l as usize);
        if points.len() > keep {
            // The rest as one group, so shares (a donut's percentages) stay true.
            let rest: Vec<&String> = points[keep..].iter().map(|p| &p.label).collect();
            let mut other = Acc::default();
            for l in rest {
                let a = groups[l];
                other.n += a.n;
                other.sum += a.sum;
                other.seen += a.seen;
            }
            points.truncate(keep);
            if matches!(op, MeasureOp::Count | MeasureOp::Sum)
                && let Some(value) = other.value(op, of_field)
            {
                points.push(Point { label: "其他".into(), value });
            }
        }
        out.points = points;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_fall_in_their_buckets() {
        assert_eq!(bucket_of("2026-12-03", Bucket::Week).as_deref(), Some("2026-11-30"));
        assert_eq!(bucket_of("2026-11-30", Bucket::Week).as_deref(), Some("2026-11-30"));
        assert_eq!(bucket_of("2026-12-03T01:00:00Z", Bucket::Month).as_deref(), Some("2026-12"));
        // 2026-12-06T20:00Z is already Monday the 7th in Shanghai.
        assert_eq!(bucket_of("2026-12-06T20:00:00Z", Bucket::Week).as_deref(), Some("2026-12-07"));
        assert_eq!(bucket_of("2026-12-06T20:00:00+00:00", Bucket::Week).as_deref(), Some("2026-12-07"), "an offset time is placed by its instant");
        assert_eq!(buckets_between("2026-11-16", "2026-12-07", Bucket::Week), ["2026-11-16", "2026-11-23", "2026-11-30", "2026-12-07"]);
        assert_eq!(buckets_between("2026-11", "2027-01", Bucket::Month), ["2026-11", "2026-12", "2027-01"]);
        assert_eq!(labels(Some(serde_json::json!(["a", "b"])), None), ["a", "b"]);
        assert_eq!(labels(None, None), ["—"]);
    }
}

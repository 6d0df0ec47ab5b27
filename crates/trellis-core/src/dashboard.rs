//! Dashboards (数据看板): metric cards, charts and lists over a form's
//! records, as a definition. This module holds the stored shape and its
//! checks (forms, fields, segments, workflows, filters exist); computing the
//! figures is the engine's, drawing them the browser's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::WorkflowRef;
use crate::form::CompiledForm;
use crate::issue::Issue;
use crate::{key, query};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardDef {
    pub key: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub widgets: Vec<WidgetDef>,
}

/// How a widget shows its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WidgetKind {
    /// One number (count, average, …), e.g. 平均满意度.
    Metric,
    Bar,
    Pie,
    Line,
    /// Records by workflow state, in the workflow's order (销售漏斗).
    Funnel,
    /// A list of records (流失预警名单).
    Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeasureOp {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub op: MeasureOp,
    /// A field or `segments.KEY`; not needed for `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Buckets for grouping by a date: 每周跟进数.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetDef {
    pub key: String,
    #[serde(default)]
    pub title: String,
    pub kind: WidgetKind,
    pub form: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measure>,
    /// A field or `segments.KEY` to group by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Bucket>,
    /// A list filter (the records API's language) the widget counts within.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    /// For a funnel: the workflow whose states are its steps (else the values of `group_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// For a table: the fields shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Free-form display hints for the browser (unit, colours, size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<Value>,
}

/// What a dashboard may refer to.
pub struct DashboardCatalog<'a> {
    pub forms: &'a HashMap<String, Arc<CompiledForm>>,
    pub workflows: &'a BTreeMap<String, WorkflowRef>,
}

/// Checks a dashboard against the forms and workflows that exist.
pub fn check(def: &DashboardDef, catalog: &DashboardCatalog<'_>) -> Vec<Issue> {
    let mut issues = Vec::new();
    if !key::is_valid(&def.key, key::MAX_FORM_KEY) {
        issues.push(Issue::new("/key", "key", format!("dashboard key '{}' {}", def.key, key::rule(key::MAX_FORM_KEY))).zh(format!("仪表盘标识「{}」只能用 1 到 {} 个小写字母、数字和 _ 组成，以字母开头，且不能连续两个 _", def.key, key::MAX_FORM_KEY)));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, w) in def.widgets.iter().enumerate() {
        let at = format!("/widgets/{i}");
        if !seen.insert(w.key.as_str()) {
            issues.push(Issue::new(format!("{at}/key"), "duplicate", format!("two widgets are called '{}'", w.key)).zh(format!("有两个组件都叫「{}」", w.key)));
        }
        let Some(form) = catalog.forms.get(&w.form) else {
            issues.push(Issue::new(format!("{at}/form"), "form", format!("there is no form '{}'", w.form)).zh(format!("表单「{}」不存在", w.form)));
            continue;
        };
        let addressable = |name: &str| -> bool {
            match name.strip_prefix("segments.") {
                Some(s) => form.segment(s).is_some(),
                None => form.field(name).is_some() || matches!(name, "owner" | "created_at" | "updated_at"),
            }
        };
        if let Some(m) = &w.measure {
            match (&m.field, m.op) {
                (None, MeasureOp::Count) => {}
                (None, _) => issues.push(Issue::new(format!("{at}/measure/field"), "required", "this measure needs a field").zh("这个统计指标需要指定字段")),
                (Some(f), _) if !addressable(f) => issues.push(Issue::new(format!("{at}/measure/field"), "field", format!("form '{}' has no field or segment '{f}'", w.form)).zh(format!("表单「{}」没有字段或分层「{f}」", w.form))),
                _ => {}
            }
        }
        if let Some(g) = &w.group_by
            && !addressable(g)
        {
            issues.push(Issue::new(format!("{at}/group_by"), "field", format!("form '{}' has no field or segment '{g}'", w.form)).zh(format!("表单「{}」没有字段或分层「{g}」", w.form)));
        }
        if w.bucket.is_some() && w.group_by.is_none() {
            issues.push(Issue::new(format!("{at}/bucket"), "bucket", "a bucket groups by a date: name the date field in group_by").zh("按日期分段统计时，要在 group_by 中指定日期字段"));
        }
        if let Some(f) = &w.filter
            && let Err(e) = query::parse_filter(form, f)
        {
            issues.push(Issue::new(format!("{at}/filter{}", e.pointer.unwrap_or_default()), "filter", e.message).zh(format!("组件「{}」的筛选条件有误", w.key)));
        }
        match (w.kind, &w.workflow) {
            (WidgetKind::Funnel, None) if w.group_by.is_none() => issues.push(Issue::new(format!("{at}/workflow"), "required", "a funnel's steps are a workflow's states (name the workflow) or the values of a field (name it in group_by)").zh("漏斗的各步是流程的阶段（请指定流程）或某个字段的取值（请在 group_by 中指定该字段）")),
            (_, Some(wf)) => match catalog.workflows.get(wf) {
                None => issues.push(Issue::new(format!("{at}/workflow"), "workflow", format!("there is no workflow '{wf}'")).zh(format!("流程「{wf}」不存在"))),
                Some(r) if r.form != w.form => issues.push(Issue::new(format!("{at}/workflow"), "workflow", format!("workflow '{wf}' runs on form '{}', not '{}'", r.form, w.form)).zh(format!("流程「{wf}」用于表单「{}」，不是「{}」", r.form, w.form))),
                _ => {}
            },
            _ => {}
        }
        for (j, c) in w.columns.iter().enumerate() {
            if !addressable(c) {
                issues.push(Issue::new(format!("{at}/columns/{j}"), "field", format!("form '{}' has no field or segment '{c}'", w.form)).zh(format!("表单「{}」没有字段或分层「{c}」", w.form)));
            }
        }
    }
    issues
}

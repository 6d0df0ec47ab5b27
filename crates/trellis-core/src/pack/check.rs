//! Checks a read pack as the engine would check each definition on save, but
//! against the pack's own forms, messages, workflows and calendars instead of
//! the database's: schemas are valid, scripts compile, templates parse, and
//! every reference resolves.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::{CALENDAR, DASHBOARD, FORM, MESSAGE, Pack, PackIssue, ROLE, TRIGGER, WORKFLOW};
use crate::action::{Catalog, WorkflowRef};
use crate::dashboard::{self, DashboardCatalog, DashboardDef};
use crate::form::{self, CompiledForm, FormDef};
use crate::issue::Issue;
use crate::message::Message;
use crate::trigger::{self, TriggerDef};
use crate::workdays::{self, CalendarDef};
use crate::workflow::{self, BUILT_IN_ROLES, WorkflowDef};
use crate::{script, workdays::BUILT_IN};

/// Every problem of the pack, each at its file, line and column. `tz_ok` says
/// whether an IANA zone name exists (the caller has the tz database).
pub fn check(pack: &Pack, tz_ok: &dyn Fn(&str) -> bool) -> Vec<PackIssue> {
    let mut out = Vec::new();
    let report = |index: usize, issues: Vec<Issue>, out: &mut Vec<PackIssue>| {
        for i in issues {
            let message = if i.pointer.is_empty() { i.message.clone() } else { format!("{} (at {})", i.message, i.pointer) };
            // serde names an unknown key but gives no place: find it at the top level.
            let pointer = match i.message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
                Some(k) if i.pointer.is_empty() => format!("/{}", crate::issue::escape_token(k)),
                _ => i.pointer.clone(),
            };
            out.push(pack.place(index, &pointer, i.line, i.column, message));
        }
    };
    let of = |kind: &'static str| pack.definitions.iter().enumerate().filter(move |(_, d)| d.kind == kind);

    // Forms: compiled alone first, then their links and rollups against each other.
    let mut forms: HashMap<String, Arc<CompiledForm>> = HashMap::new();
    let mut form_index = BTreeMap::new();
    for (i, d) in of(FORM) {
        match serde_json::from_value::<FormDef>(d.value.clone()) {
            Err(e) => report(i, vec![Issue::new("", "definition", e.to_string()).zh(format!("表单定义的格式不对：{e}"))], &mut out),
            Ok(def) => match form::compile(def, 1) {
                Ok(c) => {
                    form_index.insert(d.key.clone(), i);
                    forms.insert(d.key.clone(), Arc::new(c));
                }
                Err(issues) => report(i, issues, &mut out),
            },
        }
    }
    for (key, i) in &form_index {
        let issues = form::check_references(&forms[key], &|k| forms.get(k).cloned());
        report(*i, issues, &mut out);
    }

    let mut messages = BTreeSet::new();
    for (i, d) in of(MESSAGE) {
        let template = d.value.get("template").and_then(Value::as_str).unwrap_or_default();
        if !crate::key::is_valid(&d.key, crate::key::MAX_FORM_KEY) {
            report(i, vec![Issue::new("", "key", format!("message key '{}' {}", d.key, crate::key::rule(crate::key::MAX_FORM_KEY))).zh(format!("消息模板标识「{}」只能用 1 到 {} 个小写字母、数字和 _（_ 不能连用），并以字母开头", d.key, crate::key::MAX_FORM_KEY))], &mut out);
        }
        match Message::parse(template) {
            Ok(_) => {
                messages.insert(d.key.clone());
            }
            Err(e) => report(i, vec![Issue::new("", "template", e.message.clone()).at(e.line, None)], &mut out),
        }
    }

    let mut calendars = BTreeSet::from([BUILT_IN.to_owned()]);
    for (i, d) in of(CALENDAR) {
        match serde_json::from_value::<CalendarDef>(d.value.clone()) {
            Err(e) => report(i, vec![Issue::new("", "definition", e.to_string()).zh(format!("日历定义的格式不对：{e}"))], &mut out),
            Ok(def) => match workdays::compile(&def) {
                Ok(_) => {
                    calendars.insert(d.key.clone());
                }
                Err(issues) => report(i, issues, &mut out),
            },
        }
    }

    for (i, d) in of(ROLE) {
        let mut issues = Vec::new();
        if !BUILT_IN_ROLES.contains(&d.key.as_str()) {
            issues.push(Issue::new("", "role", format!("role '{}' is not one of {}: custom roles are not supported yet", d.key, BUILT_IN_ROLES.join(", "))).zh(format!("角色「{}」不是内置角色（{}）之一，暂不支持自定义角色", d.key, BUILT_IN_ROLES.join(", "))));
        }
        match d.value.as_object() {
            Some(o) => {
                for (k, v) in o {
                    if !matches!(k.as_str(), "key" | "title" | "description") {
                        issues.push(Issue::new(format!("/{k}"), "unknown", format!("a role has a title and a description, not '{k}'")).zh(format!("角色只有 title 和 description 两项，没有「{k}」")));
                    } else if !v.is_string() {
                        issues.push(Issue::new(format!("/{k}"), "type", format!("'{k}' is text")).zh(format!("「{k}」应是文本")));
                    }
                }
            }
            None => issues.push(Issue::new("", "type", "a role is {\"title\": …, \"description\": …}").zh("角色应写成 {\"title\": …, \"description\": …}")),
        }
        report(i, issues, &mut out);
    }

    // Workflows may start and move each other: the catalog holds them all before any is compiled.
    let mut parsed_workflows = Vec::new();
    let mut workflows = BTreeMap::new();
    for (i, d) in of(WORKFLOW) {
        match serde_json::from_value::<WorkflowDef>(d.value.clone()) {
            Err(e) => report(i, vec![Issue::new("", "definition", e.to_string()).zh(format!("流程定义的格式不对：{e}"))], &mut out),
            Ok(def) => {
                workflows.insert(def.key.clone(), WorkflowRef { form: def.form.clone(), transitions: def.transitions.iter().map(|t| t.key.clone()).collect() });
                parsed_workflows.push((i, def));
            }
        }
    }
    let catalog = Catalog { forms: &forms, messages: &messages, workflows: &workflows, roles: BUILT_IN_ROLES, calendars: &calendars };
    for (i, def) in parsed_workflows {
        if let Err(issues) = workflow::compile(def, 1, Some(catalog)) {
            report(i, issues, &mut out);
        }
    }
    for (i, d) in of(TRIGGER) {
        match serde_json::from_value::<TriggerDef>(d.value.clone()) {
            Err(e) => report(i, vec![Issue::new("", "definition", e.to_string()).zh(format!("提醒定义的格式不对：{e}"))], &mut out),
            Ok(def) => {
                if let Err(issues) = trigger::compile(def, 1, Some(catalog), tz_ok) {
                    report(i, issues, &mut out);
                }
            }
        }
    }
    let dashboards = DashboardCatalog { forms: &forms, workflows: &workflows };
    for (i, d) in of(DASHBOARD) {
        match serde_json::from_value::<DashboardDef>(d.value.clone()) {
            Err(e) => report(i, vec![Issue::new("", "definition", e.to_string()).zh(format!("仪表盘定义的格式不对：{e}"))], &mut out),
            Ok(def) => report(i, dashboard::check(&def, &dashboards), &mut out),
        }
    }

    check_data(pack, &forms, &mut out);
    check_migrations(pack, &mut out);
    out
}

/// Sample data: each file names a form of the pack, and its header names fields of it.
fn check_data(pack: &Pack, forms: &HashMap<String, Arc<CompiledForm>>, out: &mut Vec<PackIssue>) {
    for d in &pack.data {
        let Some(form) = forms.get(&d.form) else {
            if pack.definition(FORM, &d.form).is_none() {
                out.push(super::issue(&d.file, 1, 1, format!("sample data for form '{}', which the pack does not define", d.form)));
            }
            continue;
        };
        let header = d.text.lines().next().unwrap_or_default();
        let mut col = 1;
        for name in header.split(',') {
            let name = name.trim().trim_matches('"');
            if form.field(name).is_none() {
                out.push(super::issue(&d.file, 1, col, format!("form '{}' has no field '{name}'", d.form)));
            } else if form.def.computed.contains_key(name) || form.def.rollups.contains_key(name) {
                out.push(super::issue(&d.file, 1, col, format!("'{name}' is computed by the form's rules; sample data cannot set it")));
            }
            col += name.chars().count() + 1;
        }
    }
    if let Some(u) = &pack.users {
        let header: Vec<&str> = u.text.lines().next().unwrap_or_default().split(',').map(str::trim).collect();
        if header.first() != Some(&"email") || header.iter().any(|h| !matches!(*h, "email" | "name" | "role" | "manager")) {
            out.push(super::issue(&u.file, 1, 1, "users.csv has the columns email,name,role,manager (email first)"));
        }
        let role_at = header.iter().position(|h| *h == "role");
        for (n, line) in u.text.lines().enumerate().skip(1) {
            if let Some(role) = role_at.and_then(|r| line.split(',').nth(r)).map(str::trim)
                && !BUILT_IN_ROLES.contains(&role)
            {
                out.push(super::issue(&u.file, n + 1, 1, format!("role '{role}' is not one of {}", BUILT_IN_ROLES.join(", "))));
            }
        }
    }
}

fn check_migrations(pack: &Pack, out: &mut Vec<PackIssue>) {
    let mut spans: Vec<&super::Migration> = pack.migrations.iter().collect();
    spans.sort_by(|a, b| a.from.cmp(&b.from));
    for pair in spans.windows(2) {
        if pair[1].from < pair[0].to {
            out.push(super::issue(&pair[1].file, 1, 1, format!("this migration overlaps {}: each version step is migrated once", pair[0].file)));
        }
    }
    for m in &pack.migrations {
        if m.to > pack.version {
            out.push(super::issue(&m.file, 1, 1, format!("this migration leads to {}, after the pack's version {}", m.to, pack.version)));
        }
        if let Err(e) = script::sandbox().compile_migration(&m.source) {
            out.push(super::issue(&m.file, e.line.unwrap_or(1), e.column.unwrap_or(1), e.message));
        }
    }
}

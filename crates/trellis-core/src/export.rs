//! A list of records as spreadsheet columns and cells.
//!
//! Headers are the fields' titles (the key where a title is missing or
//! shared), then the segments, then the record's id and times — the columns
//! [`crate::import`] recognises, so an export imports back cleanly: user
//! fields are written as emails, links as the linked record's id, several
//! values joined by `|`, date-times with their offset in the export's zone.

use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use crate::import::{BOOKKEEPING, header_of, segment_header};
use crate::{CompiledForm, Record};

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Field(String),
    Segment(String),
    /// `id`, `created_at` or `updated_at`.
    Meta(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub header: String,
    pub source: Source,
}

/// One cell, typed for a workbook; CSV writes [`Cell::text`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
            Cell::Bool(true) => "是".into(),
            Cell::Bool(false) => "否".into(),
        }
    }
}

/// Every field (typed and derived) in the order of the form's layout, then
/// any the layout leaves out, its segments, then the bookkeeping columns.
pub fn columns(form: &CompiledForm) -> Vec<Column> {
    let mut keys: Vec<&str> = Vec::with_capacity(form.fields.len());
    let laid_out = form.def.ui.get("layout").and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.get("fields").and_then(Value::as_array)).flatten().filter_map(Value::as_str);
    for k in laid_out.chain(form.fields.iter().map(|f| f.key.as_str())) {
        if form.field(k).is_some() && !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut out: Vec<Column> = keys.into_iter().map(|k| Column { header: header_of(form, k), source: Source::Field(k.to_owned()) }).collect();
    out.extend(form.def.segments.keys().map(|k| Column { header: segment_header(form, k), source: Source::Segment(k.clone()) }));
    out.extend(BOOKKEEPING.iter().map(|(k, title)| Column { header: (*title).to_owned(), source: Source::Meta(k) }));
    out
}

/// The cell of `record` in column `c`. `users` names user ids by email;
/// `tz` is the zone date-times are written in.
pub fn cell(form: &CompiledForm, record: &Record, c: &Column, users: &HashMap<Uuid, String>, tz: &jiff::tz::TimeZone) -> Cell {
    let zoned = |t: jiff::Timestamp| t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    match &c.source {
        Source::Meta("id") => Cell::Text(record.id.to_string()),
        Source::Meta("created_at") => Cell::Text(zoned(record.created_at)),
        Source::Meta(_) => Cell::Text(zoned(record.updated_at)),
        Source::Segment(k) => value_cell(record.segments.get(k)),
        Source::Field(k) => {
            let info = form.field(k);
            let value = record.data.get(k);
            match (info.and_then(|f| f.format.as_deref()), value) {
                (Some("user"), Some(Value::String(id))) => Cell::Text(Uuid::parse_str(id).ok().and_then(|u| users.get(&u).cloned()).unwrap_or_else(|| id.clone())),
                (Some("date-time"), Some(Value::String(s))) => Cell::Text(s.parse::<jiff::Timestamp>().map(zoned).unwrap_or_else(|_| s.clone())),
                _ => value_cell(value),
            }
        }
    }
}

fn value_cell(v: Option<&Value>) -> Cell {
    match v {
        None | Some(Value::Null) => Cell::Empty,
        Some(Value::String(s)) => Cell::Text(s.clone()),
        Some(Value::Number(n)) => n.as_f64().map_or(Cell::Empty, Cell::Number),
        Some(Value::Bool(b)) => Cell::Bool(*b),
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            Cell::Text(items.iter().map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }).collect::<Vec<_>>().join("|"))
        }
        Some(other) => Cell::Text(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{FormDef, compile};
    use serde_json::json;

    #[test]
    fn an_exported_row_reads_back_as_the_same_data() {
        let def: FormDef = serde_json::from_value(json!({"key": "c", "schema": {"type": "object", "properties": {
            "name": {"type": "string", "title": "姓名"}, "spend": {"type": "number"}, "vip": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}}, "owner": {"type": "string", "format": "user"},
            "seen": {"type": "string", "format": "date-time"}}}}))
        .unwrap();
        let form = compile(def, 1).unwrap();
        let owner = Uuid::nil();
        let data = json!({"name": "张三", "spend": 12.5, "vip": true, "tags": ["a", "b"], "owner": owner.to_string(), "seen": "2026-01-31T02:30:00Z"});
        let at: jiff::Timestamp = "2026-01-31T00:00:00Z".parse().unwrap();
        let record = Record {
            id: Uuid::nil(), form: "c".into(), form_version: 1, rev: 1, data: data.as_object().unwrap().clone(), segments: Default::default(),
            owner: None, created_by: owner, updated_by: owner, created_at: at, updated_at: at, deleted_at: None,
        };
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let users = HashMap::from([(owner, "a@example.com".to_owned())]);
        let cols = columns(&form);
        let cells: Vec<String> = cols.iter().map(|c| cell(&form, &record, c, &users, &tz).text()).collect();
        assert_eq!(cols[0].header, "姓名");
        assert_eq!(&cells[..6], ["张三", "12.5", "是", "a|b", "a@example.com", "2026-01-31T10:30:00+08:00"]);
        let headers: Vec<String> = cols.iter().map(|c| c.header.clone()).collect();
        let mapping = crate::import::map_columns(&form, &headers, &Default::default()).unwrap();
        let back = crate::import::row_data(&form, &mapping, &cells, &tz).unwrap();
        let mut want = data.as_object().unwrap().clone();
        want.insert("owner".into(), json!("a@example.com"));
        assert_eq!(back, want);
    }
}

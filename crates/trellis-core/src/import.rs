//! From a spreadsheet's columns and cells to a form's fields and values.
//!
//! A column maps to a field by an explicit `COLUMN=field`, else by the
//! field's key, else by its title (`手机号`), ignoring case and spaces.
//! Columns an export writes that no one types (computed fields, rollups,
//! segments, the record's id and times) are recognised and left out, so an
//! export imports back cleanly. A cell is typed by its field: numbers may
//! carry thousands separators and currency signs, dates come in the common
//! spellings (`2026-01-31`, `2026/1/31`, `2026年1月31日`, an Excel serial),
//! choices match their option ignoring case. An empty cell is no value.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::CompiledForm;
use crate::form::Derived;

/// The columns an export adds beside the fields: the record's id and times.
pub const BOOKKEEPING: [(&str, &str); 3] = [("id", "记录 ID"), ("created_at", "创建时间"), ("updated_at", "更新时间")];

/// Where one column goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnMap {
    pub column: String,
    /// The field the column fills; `None` when it is left out.
    pub field: Option<String>,
    /// `map` (given), `key`, `title`, or why it is left out: `derived`,
    /// `segment`, `bookkeeping`, `skipped` (mapped to nothing), `unknown`.
    pub by: &'static str,
}

/// The problem with a mapping given by hand, or two columns filling one field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MapError(pub String);

fn norm(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

fn title_of(form: &CompiledForm, field: &str) -> Option<String> {
    form.def.schema.pointer(&format!("/properties/{field}/title")).and_then(Value::as_str).map(str::to_owned)
}

/// The header an export writes for a field: its title, or its key when the
/// title is missing or shared with another field (so it maps back to one field).
pub fn header_of(form: &CompiledForm, field: &str) -> String {
    match title_of(form, field) {
        Some(t) if !t.trim().is_empty() && form.fields.iter().filter(|f| title_of(form, &f.key).is_some_and(|o| norm(&o) == norm(&t))).count() == 1 => t,
        _ => field.to_owned(),
    }
}

/// The header an export writes for a segment.
pub fn segment_header(form: &CompiledForm, key: &str) -> String {
    form.segment(key).and_then(|s| s.title.clone()).filter(|t| !t.trim().is_empty()).unwrap_or_else(|| format!("segments.{key}"))
}

/// Maps the sheet's columns to the form's fields. `given` is `COLUMN → field`;
/// an empty field leaves the column out.
pub fn map_columns(form: &CompiledForm, columns: &[String], given: &BTreeMap<String, String>) -> Result<Vec<ColumnMap>, MapError> {
    for (column, field) in given {
        if !columns.iter().any(|c| c == column) {
            return Err(MapError(format!("--map {column}={field}: the file has no column '{column}' (its columns: {})", list(columns))));
        }
        if field.is_empty() {
            continue;
        }
        match form.field(field) {
            None => return Err(MapError(format!("--map {column}={field}: form '{}' has no field '{field}'", form.key()))),
            Some(f) if f.derived.is_some() => return Err(MapError(format!("--map {column}={field}: '{field}' is computed by the form's rules and cannot be imported"))),
            Some(_) => {}
        }
    }
    let mut out: Vec<ColumnMap> = Vec::with_capacity(columns.len());
    for column in columns {
        let (field, by) = match given.get(column) {
            Some(f) if f.is_empty() => (None, "skipped"),
            Some(f) => (Some(f.clone()), "map"),
            None => guess(form, column),
        };
        if let Some(f) = &field
            && let Some(other) = out.iter().find(|m| m.field.as_ref() == Some(f))
        {
            return Err(MapError(format!(
                "columns '{}' and '{column}' both fill field '{f}'; map one of them elsewhere or to nothing (--map \"{column}=\")",
                other.column
            )));
        }
        out.push(ColumnMap { column: column.clone(), field, by });
    }
    Ok(out)
}

/// At most `n` characters of `s`, with `…` where it was cut: a cell in a message, not the whole cell.
pub fn clip(s: &str, n: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]).into(),
        None => s.into(),
    }
}

/// The first columns of a file, for a message (a file may have a thousand).
pub fn list(columns: &[String]) -> String {
    let shown: Vec<&str> = columns.iter().take(20).map(String::as_str).collect();
    let more = columns.len().saturating_sub(shown.len());
    if more > 0 { format!("{}, … ({more} more)", shown.join(", ")) } else { shown.join(", ") }
}

/// Rows that repeat a unique key of an earlier row, found one row at a time
/// (a file is read as a stream). Keys are kept as 128-bit hashes of their
/// text, so a million rows hold a few tens of MB, not their values.
#[derive(Debug, Default)]
pub struct Repeats {
    seen: Vec<std::collections::HashMap<u128, usize>>,
}

impl Repeats {
    /// When row `number` (its data, `None` when its cells could not be typed)
    /// repeats a unique key of an earlier row: the key's fields and that row's number.
    /// Otherwise its keys are remembered.
    pub fn check(&mut self, form: &CompiledForm, data: Option<&Map<String, Value>>, number: usize) -> Option<(Vec<String>, usize)> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let keys = &form.def.unique;
        self.seen.resize_with(keys.len(), Default::default);
        let data = data?;
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.as_f64().map(|n| n.to_string()).unwrap_or_else(|| other.to_string()),
        };
        let hashes: Vec<Option<u128>> = keys
            .iter()
            .map(|key| {
                let values: Option<Vec<String>> = key.iter().map(|f| data.get(f).map(text)).collect();
                values.map(|v| {
                    let half = |salt: u8| {
                        let mut h = DefaultHasher::new();
                        (salt, &v).hash(&mut h);
                        h.finish()
                    };
                    (u128::from(half(0)) << 64) | u128::from(half(1))
                })
            })
            .collect();
        if let Some((k, first)) = hashes.iter().enumerate().find_map(|(k, h)| h.and_then(|h| self.seen[k].get(&h).map(|first| (k, *first)))) {
            return Some((keys[k].clone(), first));
        }
        for (k, h) in hashes.into_iter().enumerate() {
            if let Some(h) = h {
                self.seen[k].insert(h, number);
            }
        }
        None
    }
}

fn guess(form: &CompiledForm, column: &str) -> (Option<String>, &'static str) {
    let n = norm(column);
    let by_key = form.fields.iter().find(|f| f.key == column).or_else(|| form.fields.iter().find(|f| norm(&f.key) == n));
    let found = by_key.map(|f| (f, "key")).or_else(|| form.fields.iter().find(|f| title_of(form, &f.key).is_some_and(|t| norm(&t) == n)).map(|f| (f, "title")));
    match found {
        Some((f, _)) if f.derived.is_some() => (None, "derived"),
        Some((f, by)) => (Some(f.key.clone()), by),
        None if form.def.segments.iter().any(|(k, s)| norm(k) == n || norm(&format!("segments.{k}")) == n || s.title.as_deref().is_some_and(|t| norm(t) == n)) => (None, "segment"),
        None if BOOKKEEPING.iter().any(|(k, t)| norm(k) == n || norm(t) == n) => (None, "bookkeeping"),
        None => (None, "unknown"),
    }
}

/// A cell that could not be typed.
#[derive(Debug, Clone, PartialEq)]
pub struct CellError {
    pub column: String,
    pub field: String,
    pub message: String,
    /// The message in Chinese.
    pub zh: String,
}

/// Why a cell could not be typed, said in English (`Display`) or Chinese ([`CellProblem::zh`]).
#[derive(Debug, Clone, PartialEq)]
pub enum CellProblem {
    NotList(String),
    NotObject(String),
    NotWhole,
    NotNumber,
    NotBoolean,
    NotDate,
    NotDateTime,
    /// The options shown (at most eight, `…` after them when there are more).
    NotOption(String),
}

impl std::fmt::Display for CellProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellProblem::NotList(e) => write!(f, "is not a JSON list: {e}"),
            CellProblem::NotObject(e) => write!(f, "is not a JSON object: {e}"),
            CellProblem::NotWhole => f.write_str("is not a whole number"),
            CellProblem::NotNumber => f.write_str("is not a number"),
            CellProblem::NotBoolean => f.write_str("is not yes or no (是/否, true/false, 1/0)"),
            CellProblem::NotDate => f.write_str("is not a date (2026-01-31, 2026/1/31, 2026年1月31日)"),
            CellProblem::NotDateTime => f.write_str("is not a date and time (2026-01-31 10:30, or RFC 3339)"),
            CellProblem::NotOption(shown) => write!(f, "is not one of the options ({shown})"),
        }
    }
}

impl CellProblem {
    pub fn zh(&self) -> String {
        match self {
            CellProblem::NotList(_) => "不是列表（多个值用 | 或 、 隔开）".into(),
            CellProblem::NotObject(_) => "不是一组字段（JSON 对象）".into(),
            CellProblem::NotWhole => "不是整数".into(),
            CellProblem::NotNumber => "不是数字".into(),
            CellProblem::NotBoolean => "不是「是」或「否」".into(),
            CellProblem::NotDate => "不是日期（如 2026-01-31、2026/1/31、2026年1月31日）".into(),
            CellProblem::NotDateTime => "不是日期时间（如 2026-01-31 10:30）".into(),
            CellProblem::NotOption(shown) => format!("不是可选的值（{}）", shown.replace(", ", "、")),
        }
    }
}

/// A row as record data: the non-empty cells of mapped columns, typed.
/// `tz` is the zone a date-time without an offset is read in.
pub fn row_data(form: &CompiledForm, mapping: &[ColumnMap], cells: &[String], tz: &jiff::tz::TimeZone) -> Result<Map<String, Value>, Vec<CellError>> {
    let mut data = Map::new();
    let mut errors = Vec::new();
    let props = form.def.schema.get("properties");
    for (i, m) in mapping.iter().enumerate() {
        let Some(field) = &m.field else { continue };
        let cell = cells.get(i).map_or("", |c| c.trim());
        if cell.is_empty() {
            continue;
        }
        let schema = props.and_then(|p| p.get(field)).unwrap_or(&Value::Null);
        match coerce(schema, cell, tz) {
            Ok(v) => {
                data.insert(field.clone(), v);
            }
            Err(problem) => {
                let shown = clip(cell, 100);
                errors.push(CellError { column: m.column.clone(), field: field.clone(), message: format!("'{shown}' {problem}"), zh: format!("「{shown}」{}", problem.zh()) });
            }
        }
    }
    if errors.is_empty() { Ok(data) } else { Err(errors) }
}

/// Whether the field is written by the form's rules.
pub fn is_derived(form: &CompiledForm, field: &str) -> bool {
    form.field(field).is_some_and(|f| matches!(f.derived, Some(Derived::Computed | Derived::Rollup)))
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// One cell typed by its field's schema; the error says what was expected.
pub fn coerce(schema: &Value, cell: &str, tz: &jiff::tz::TimeZone) -> Result<Value, CellProblem> {
    let ty = types(schema);
    let has = |t: &str| ty.contains(&t);
    if schema.get("x-link").is_some() || schema.get("format").and_then(Value::as_str) == Some("user") {
        // Resolved by the engine: an id, a linked record's key, a user's email.
        return Ok(json!(cell));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        return choose(options, cell);
    }
    if has("array") {
        let items = schema.get("items").cloned().unwrap_or(Value::Null);
        if cell.starts_with('[') {
            return serde_json::from_str::<Value>(cell).map_err(|e| CellProblem::NotList(e.to_string()));
        }
        let parts = cell.split(['|', ',', '，', '、', ';', '；', '\n']).map(str::trim).filter(|s| !s.is_empty());
        return parts.map(|p| coerce(&items, p, tz)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if has("object") {
        return serde_json::from_str::<Value>(cell).map_err(|e| CellProblem::NotObject(e.to_string()));
    }
    if has("integer") {
        let n = number(cell).ok_or(CellProblem::NotWhole)?;
        if n.fract() != 0.0 || n.abs() > 9.007e15 {
            return Err(CellProblem::NotWhole);
        }
        return Ok(json!(n as i64));
    }
    if has("number") {
        return number(cell).map(|n| json!(n)).ok_or(CellProblem::NotNumber);
    }
    if has("boolean") {
        return boolean(cell).map(Value::Bool).ok_or(CellProblem::NotBoolean);
    }
    match schema.get("format").and_then(Value::as_str) {
        Some("date") => date(cell).map(|d| json!(d.to_string())).ok_or(CellProblem::NotDate),
        Some("date-time") => date_time(cell, tz).map(|t| json!(t.to_string())).ok_or(CellProblem::NotDateTime),
        Some("phone") => Ok(json!(cell.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect::<String>())),
        _ => Ok(json!(cell)),
    }
}

fn choose(options: &[Value], cell: &str) -> Result<Value, CellProblem> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(v) = options.iter().find(|o| text(o) == cell).or_else(|| options.iter().find(|o| norm(&text(o)) == norm(cell))) {
        return Ok(v.clone());
    }
    let shown: Vec<String> = options.iter().take(8).map(text).collect();
    Err(CellProblem::NotOption(format!("{}{}", shown.join(", "), if options.len() > 8 { ", …" } else { "" })))
}

/// `1,234.50`, `￥1,234`, `1 234`, `12元` → a number. A comma only groups
/// thousands: `1,5` or `1.234,5` (a decimal comma) is refused, not misread.
pub fn number(cell: &str) -> Option<f64> {
    let t: String = cell.trim().trim_start_matches(['¥', '￥', '$', '€', '+']).trim_end_matches(['元', '¥', '￥']).chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '_')).collect();
    let t = t.replace('，', ",");
    if t.contains(',') {
        if t.find('.').is_some_and(|dot| t.rfind(',').is_some_and(|comma| comma > dot)) {
            return None;
        }
        let whole = t.split('.').next().unwrap_or("");
        let mut groups = whole.trim_start_matches('-').split(',');
        let head = groups.next().unwrap_or("");
        if head.is_empty() || head.len() > 3 || !groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
    }
    t.replace(',', "").parse::<f64>().ok().filter(|n| n.is_finite())
}

fn boolean(cell: &str) -> Option<bool> {
    match norm(cell).as_str() {
        "true" | "yes" | "y" | "1" | "是" | "对" | "√" | "✓" | "✔" | "on" => Some(true),
        "false" | "no" | "n" | "0" | "否" | "错" | "×" | "✗" | "off" => Some(false),
        _ => None,
    }
}

/// A date in the spellings spreadsheets use, or an Excel serial.
pub fn date(cell: &str) -> Option<jiff::civil::Date> {
    let t = cell.trim();
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        return Some(d);
    }
    // A whole-number serial (Excel wrote a date cell as a number), from 1927 on: `2026` is a year, not 1905-07-18.
    if let Ok(n) = t.parse::<f64>()
        && n.fract() == 0.0
        && !t.contains('-')
        && (10_000.0..2_958_466.0).contains(&n)
    {
        return crate::sheet::serial_text(n).and_then(|s| s.parse().ok());
    }
    // `2026/1/31`, `2026.1.31`, `2026年1月31日`, and any of them followed by a time of 00:00.
    let head = t.split([' ', 'T']).next().unwrap_or(t);
    let parts: Vec<&str> = head.split(['/', '.', '-', '年', '月', '日']).filter(|p| !p.is_empty()).collect();
    if let [y, m, d] = parts.as_slice()
        && y.len() == 4
    {
        return jiff::civil::Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok();
    }
    None
}

/// A moment: RFC 3339 as is, a wall time (`2026-01-31 10:30[:00]`) in `tz`, an Excel serial in `tz`.
pub fn date_time(cell: &str, tz: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
    let t = cell.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    if let Ok(n) = t.parse::<f64>()
        && n >= 10_000.0
        && let Some(s) = crate::sheet::serial_text(n)
    {
        return date_time(&s, tz);
    }
    let (day, time) = match t.split_once([' ', 'T']) {
        Some((d, rest)) => (d, rest.trim()),
        None => (t, "00:00"),
    };
    let date = date(day)?;
    let mut hms = time.split(':').map(|p| p.trim().parse::<i8>());
    let (h, m, s) = (hms.next()?.ok()?, hms.next().unwrap_or(Ok(0)).ok()?, hms.next().unwrap_or(Ok(0)).ok()?);
    let civil = date.to_datetime(jiff::civil::Time::new(h, m, s, 0).ok()?);
    civil.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{FormDef, compile};

    fn form() -> CompiledForm {
        let def: FormDef = serde_json::from_value(json!({"key": "customer", "schema": {"type": "object", "properties": {
            "name": {"type": "string", "title": "姓名"},
            "phone": {"type": "string", "format": "phone", "title": "手机号"},
            "level": {"type": "string", "enum": ["VIP", "普通"], "title": "等级"},
            "spend": {"type": "number", "title": "年度消费"},
            "visits": {"type": "integer"},
            "birthday": {"type": "string", "format": "date", "title": "生日"},
            "last_seen": {"type": "string", "format": "date-time"},
            "vip": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}}
        }}, "computed": {"score": "1"}, "segments": {"tier": {"kind": "label", "title": "客户分层", "script": "\"A\""}}}))
        .unwrap();
        compile(def, 1).unwrap()
    }

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn repeats_are_found_a_row_at_a_time() {
        let def: FormDef = serde_json::from_value(json!({"key": "c", "schema": {"type": "object", "properties": {"phone": {"type": "string"}}}, "unique": [["phone"]]})).unwrap();
        let f = compile(def, 1).unwrap();
        let mut r = Repeats::default();
        let row = |phone: &str| json!({"phone": phone}).as_object().cloned();
        assert_eq!(r.check(&f, row("13800000000").as_ref(), 2), None);
        assert_eq!(r.check(&f, None, 3), None, "a row that could not be typed has no key");
        assert_eq!(r.check(&f, row("13900000000").as_ref(), 4), None);
        assert_eq!(r.check(&f, row("13800000000").as_ref(), 5), Some((vec!["phone".to_owned()], 2)));
        assert_eq!(clip("一二三四", 2), "一二…");
        assert_eq!(clip("ab", 2), "ab");
        let many: Vec<String> = (0..25).map(|i| format!("c{i}")).collect();
        assert!(list(&many).ends_with("c19, … (5 more)"), "{}", list(&many));
    }

    #[test]
    fn columns_map_by_key_title_and_hand() {
        let f = form();
        let m = map_columns(&f, &cols(&["姓名", "PHONE", "备注", "score", "客户分层", "记录 ID", "Level"]), &BTreeMap::new()).unwrap();
        let got: Vec<(Option<&str>, &str)> = m.iter().map(|c| (c.field.as_deref(), c.by)).collect();
        assert_eq!(got, [(Some("name"), "title"), (Some("phone"), "key"), (None, "unknown"), (None, "derived"), (None, "segment"), (None, "bookkeeping"), (Some("level"), "key")]);
        let given = BTreeMap::from([("备注".to_owned(), "name".to_owned()), ("姓名".to_owned(), String::new())]);
        let m = map_columns(&f, &cols(&["姓名", "备注"]), &given).unwrap();
        assert_eq!((m[0].by, m[1].field.as_deref()), ("skipped", Some("name")));
    }

    #[test]
    fn bad_mappings_are_refused_with_the_reason() {
        let f = form();
        let e = map_columns(&f, &cols(&["姓名"]), &BTreeMap::from([("电话".into(), "phone".into())])).unwrap_err();
        assert!(e.0.contains("no column '电话'"), "{e}");
        let e = map_columns(&f, &cols(&["x"]), &BTreeMap::from([("x".into(), "nope".into())])).unwrap_err();
        assert!(e.0.contains("no field 'nope'"), "{e}");
        let e = map_columns(&f, &cols(&["x"]), &BTreeMap::from([("x".into(), "score".into())])).unwrap_err();
        assert!(e.0.contains("computed"), "{e}");
        let e = map_columns(&f, &cols(&["name", "姓名"]), &BTreeMap::new()).unwrap_err();
        assert!(e.0.contains("both fill field 'name'"), "{e}");
    }

    #[test]
    fn cells_are_typed_by_their_field() {
        let f = form();
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let m = map_columns(&f, &cols(&["name", "phone", "level", "spend", "visits", "birthday", "last_seen", "vip", "tags"]), &BTreeMap::new()).unwrap();
        let row = cols(&[" 张三 ", "138-0000-0000", "vip", "￥12,345.5", "1,200", "2026/1/31", "2026-01-31 10:30", "是", "a、b|c"]);
        let data = row_data(&f, &m, &row, &tz).unwrap();
        assert_eq!(
            Value::Object(data),
            json!({"name": "张三", "phone": "13800000000", "level": "VIP", "spend": 12345.5, "visits": 1200, "birthday": "2026-01-31",
                   "last_seen": "2026-01-31T02:30:00Z", "vip": true, "tags": ["a", "b", "c"]})
        );
        let errors = row_data(&f, &m, &cols(&["x", "", "金卡", "many", "1.5", "31/31/2026", "soon", "maybe"]), &tz).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["level", "spend", "visits", "birthday", "last_seen", "vip"]);
        assert!(errors[0].message.contains("not one of the options (VIP, 普通)"), "{}", errors[0].message);
    }

    #[test]
    fn dates_come_in_many_spellings() {
        let d = |s: &str| date(s).map(|d| d.to_string());
        for s in ["2026-01-31", "2026/1/31", "2026.01.31", "2026年1月31日", "46053", "2026-01-31 00:00:00"] {
            assert_eq!(d(s).as_deref(), Some("2026-01-31"), "{s}");
        }
        assert_eq!(d("2026/2/30"), None);
        assert_eq!(d("2026"), None, "a year is not a serial");
        assert_eq!(number("1,234.5"), Some(1234.5));
        assert_eq!(number("1,5"), None, "a decimal comma is refused, not read as 15");
        assert_eq!(number("1.234,5"), None);
        assert_eq!(number("12,34,567"), None);
        let tz = jiff::tz::TimeZone::UTC;
        assert_eq!(date_time("46053.4375", &tz).map(|t| t.to_string()).as_deref(), Some("2026-01-31T10:30:00Z"));
        assert_eq!(date_time("2026-01-31T10:30:00+08:00", &tz).map(|t| t.to_string()).as_deref(), Some("2026-01-31T02:30:00Z"));
    }

    #[test]
    fn export_headers_map_back() {
        let f = form();
        assert_eq!(header_of(&f, "phone"), "手机号");
        assert_eq!(header_of(&f, "visits"), "visits");
        assert_eq!(segment_header(&f, "tier"), "客户分层");
    }
}

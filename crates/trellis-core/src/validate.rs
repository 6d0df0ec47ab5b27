//! A record's data against its compiled form.

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use uuid::Uuid;

use crate::form::CompiledForm;
use crate::formats::{self, TRELLIS_FORMATS};
use crate::issue::{Issue, escape_token};

/// Every problem with `data` as a record of `form`: JSON Schema errors, fields
/// the form does not have, the numeric Trellis formats, and link values that
/// are not record ids. Lookups that need the database (does the user exist,
/// does the linked record exist) are the engine's, on [`references`].
pub fn validate(form: &CompiledForm, data: &Value) -> Vec<Issue> {
    let Some(obj) = data.as_object() else {
        return vec![Issue::new("", "type", "a record's data must be a JSON object")];
    };
    let mut issues = Vec::new();
    for k in obj.keys() {
        match form.field(k) {
            Some(f) if f.derived.is_some() => {
                issues.push(Issue::new(format!("/{}", escape_token(k)), "derived", format!("'{k}' is computed by the form's rules; it cannot be written")).zh(format!("「{}」由规则自动计算，不能填写", title_of(form, k))));
            }
            None if !form.open => {
                issues.push(Issue::new(format!("/{}", escape_token(k)), "unknown_field", format!("'{k}' is not a field of form '{}'", form.key())).zh(format!("表单「{}」没有字段「{k}」", form.def.title)));
            }
            _ => {}
        }
    }
    for err in form.validator.iter_errors(data) {
        let at = err.instance_path().as_str().to_owned();
        let issue = match err.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().map(str::to_owned).unwrap_or_else(|| property.to_string());
                let pointer = format!("{at}/{}", escape_token(&name));
                let zh = format!("请填写「{}」", title_at(form, &pointer));
                Issue::new(pointer, "required", format!("'{name}' is required")).zh(zh)
            }
            ValidationErrorKind::Format { format } => {
                let message = match TRELLIS_FORMATS.iter().find(|(f, _)| f == format) {
                    Some((_, expected)) => format!("{} is not a valid {format}: expected {expected}", err.instance()),
                    None => err.to_string(),
                };
                let zh = format!("「{}」{}", title_at(form, &at), zh_format(format, err.instance()));
                Issue::new(at, "format", message).zh(zh)
            }
            other => {
                let zh = zh_kind(other).map(|m| format!("「{}」{m}", title_at(form, &at)));
                let issue = Issue::new(at, static_code(other.keyword()), err.to_string());
                match zh {
                    Some(m) => issue.zh(m),
                    None => issue,
                }
            }
        };
        issues.push(issue);
    }
    let mut numeric = Vec::new();
    formats::check_numeric(&form.def.schema, data, "", &mut numeric);
    issues.extend(numeric.into_iter().map(|(p, m)| {
        let zh = format!("「{}」{}", title_at(form, &p), zh_numeric(&form.def.schema, &p));
        Issue::new(p, "format", m).zh(zh)
    }));
    for f in form.fields.iter().filter(|f| f.link.is_some()) {
        if let Some(Value::String(s)) = obj.get(&f.key)
            && Uuid::parse_str(s).is_err() {
                issues.push(Issue::new(format!("/{}", f.key), "link", format!("'{s}' is not a record id")).zh(format!("「{}」要选一条记录，「{s}」不是记录编号", title_of(form, &f.key))));
            }
    }
    issues
}

/// Every problem with `data` as a *new* record of `form`: [`validate`], and
/// the fields of `required_for_new` it lacks, refused exactly as a field of
/// `schema.required` would be (the same pointer, code and words). Updates use
/// [`validate`] alone: records stored before such a field may stay without it.
pub fn validate_new(form: &CompiledForm, data: &Value) -> Vec<Issue> {
    let mut issues = validate(form, data);
    let Some(obj) = data.as_object() else { return issues };
    for f in &form.def.required_for_new {
        let pointer = format!("/{}", escape_token(f));
        if obj.get(f).is_none_or(Value::is_null) && !issues.iter().any(|i| i.pointer == pointer && i.code == "required") {
            issues.push(Issue::new(pointer, "required", format!("'{f}' is required")).zh(format!("请填写「{}」", title_of(form, f))));
        }
    }
    issues
}

/// The JSON Schema keyword that failed, as a stable `'static` code.
fn static_code(keyword: &str) -> &'static str {
    const KEYWORDS: &[&str] = &[
        "type", "enum", "const", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "contains", "minProperties",
        "maxProperties", "additionalProperties", "unevaluatedProperties", "propertyNames", "dependentRequired",
        "oneOf", "anyOf", "allOf", "not", "if", "items", "prefixItems",
    ];
    KEYWORDS.iter().find(|k| **k == keyword).copied().unwrap_or("schema")
}

/// A value in a record that names something elsewhere, to be looked up by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A `user` field: an email or a user id.
    User { field: String, value: String },
    /// An `x-link` field: a record of `form`.
    Link { field: String, form: String, id: Uuid },
}

/// The references in valid `data` (top-level fields).
pub fn references(form: &CompiledForm, data: &serde_json::Map<String, Value>) -> Vec<Reference> {
    let mut out = Vec::new();
    for f in &form.fields {
        let Some(Value::String(s)) = data.get(&f.key) else { continue };
        if f.format.as_deref() == Some("user") {
            out.push(Reference::User { field: f.key.clone(), value: s.clone() });
        }
        if let (Some(target), Ok(id)) = (&f.link, Uuid::parse_str(s)) {
            out.push(Reference::Link { field: f.key.clone(), form: target.clone(), id });
        }
    }
    out
}

/// The first item that repeats a unique key of an earlier item in the same
/// batch (the database would refuse the batch anyway, with a less useful message).
pub fn repeated_unique_key(form: &CompiledForm, items: &[serde_json::Map<String, Value>]) -> Option<(usize, Vec<String>)> {
    unique_key_repeats(form, items.iter().map(Some)).into_iter().next().map(|(i, key, _)| (i, key))
}

/// Every item that repeats a unique key of an earlier one, in order, as
/// (item, the key's fields, the earlier item). The first holder of a value
/// keeps it; an item that repeats one key claims none of its other keys, so a
/// later item is not blamed on one that is itself refused. `None` items (rows
/// that could not be read) take part in nothing. Numbers compare by value
/// (100 and 100.0 are one key), as in the database.
pub fn unique_key_repeats<'a>(form: &CompiledForm, items: impl IntoIterator<Item = Option<&'a serde_json::Map<String, Value>>>) -> Vec<(usize, Vec<String>, usize)> {
    let keys = &form.def.unique;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.as_f64().map(|n| n.to_string()).unwrap_or_else(|| other.to_string()),
    };
    let mut seen: Vec<std::collections::HashMap<Vec<String>, usize>> = vec![Default::default(); keys.len()];
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Some(item) = item else { continue };
        let values: Vec<Option<Vec<String>>> = keys.iter().map(|key| key.iter().map(|f| item.get(f).map(text)).collect()).collect();
        let repeated = values.iter().enumerate().find_map(|(k, v)| v.as_ref().and_then(|v| seen[k].get(v).map(|first| (k, *first))));
        match repeated {
            Some((k, first)) => out.push((i, keys[k].clone(), first)),
            None => {
                for (k, v) in values.into_iter().enumerate() {
                    if let Some(v) = v {
                        seen[k].insert(v, i);
                    }
                }
            }
        }
    }
    out
}

/// A field's title (its key when it has none), for messages people read.
fn title_of(form: &crate::form::CompiledForm, key: &str) -> String {
    form.def.schema.get("properties").and_then(|p| p.get(key)).and_then(|p| p.get("title")).and_then(Value::as_str).unwrap_or(key).to_owned()
}

/// The title of what a pointer names: a field, or a column of a sub-table row (`/items/2/qty` → 明细 第 3 行 数量).
fn title_at(form: &crate::form::CompiledForm, pointer: &str) -> String {
    let tokens: Vec<String> = pointer.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    let props = form.def.schema.get("properties");
    match tokens.as_slice() {
        [] => form.def.title.clone(),
        [field] => title_of(form, field),
        [field, row, rest @ ..] => {
            let outer = title_of(form, field);
            let at_row = row.parse::<usize>().map(|n| format!(" 第 {} 行", n + 1)).unwrap_or_default();
            let inner = rest.first().map(|c| {
                let t = props.and_then(|p| p.get(field)).and_then(|f| f.pointer(&format!("/items/properties/{}", escape_token(c)))).and_then(|c| c.get("title")).and_then(Value::as_str);
                format!(" {}", t.unwrap_or(c))
            });
            format!("{outer}{at_row}{}", inner.unwrap_or_default())
        }
    }
}

/// What a value of `format` should look like, in Chinese.
fn zh_format(format: &str, value: &Value) -> String {
    let v = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let expected = match format {
        "phone" => "应为 11 位手机号（如 13800138000）或带国家码的号码（如 +85291234567）",
        "email" => "应为邮箱地址（如 name@example.com）",
        "date" => "应为日期（如 2026-08-20）",
        "date-time" => "应为日期和时间（如 2026-08-20T09:30:00+08:00）",
        "time" => "应为时间（如 09:30:00）",
        "user" => "应为系统中的用户",
        "money" => "应为金额，最多两位小数",
        "uri" => "应为网址（如 https://example.com）",
        "uuid" => "应为记录编号",
        _ => "格式不正确",
    };
    format!("填写的「{v}」格式不对：{expected}")
}

/// The numeric Trellis formats, in Chinese (`check_numeric` says which field; its schema says which format).
fn zh_numeric(schema: &Value, pointer: &str) -> String {
    let field = pointer.split('/').nth(1).unwrap_or_default();
    let s = schema.get("properties").and_then(|p| p.get(field));
    match s.and_then(|s| s.get("format")).and_then(Value::as_str) {
        Some("money") => "应为金额，最多两位小数".into(),
        Some("rating") => format!("应为 1 到 {} 之间的整数星级", s.and_then(|s| s.get("maximum")).and_then(Value::as_u64).unwrap_or(5)),
        Some("nps") => "应为 0 到 10 之间的整数".into(),
        _ => "格式不正确".into(),
    }
}

/// The other JSON Schema refusals, in Chinese; `None` keeps the English (rare keywords).
fn zh_kind(kind: &ValidationErrorKind) -> Option<String> {
    let num = |v: &Value| v.as_f64().map(|n| if n.fract() == 0.0 { format!("{n:.0}") } else { n.to_string() }).unwrap_or_else(|| v.to_string());
    Some(match kind {
        ValidationErrorKind::Enum { options } => {
            let list: Vec<String> = options.as_array().map(|a| a.iter().map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned)).collect()).unwrap_or_default();
            format!("只能选：{}", list.join("、"))
        }
        ValidationErrorKind::Type { kind } => {
            let t = format!("{kind:?}").to_lowercase();
            let name = if t.contains("number") || t.contains("integer") { if t.contains("integer") && !t.contains("number") { "整数" } else { "数字" } } else if t.contains("boolean") { "是或否" } else if t.contains("array") { "多个值的列表" } else if t.contains("object") { "一组字段" } else { "文字" };
            format!("应填{name}")
        }
        ValidationErrorKind::MinLength { limit } => format!("至少 {limit} 个字"),
        ValidationErrorKind::MaxLength { limit } => format!("最多 {limit} 个字"),
        ValidationErrorKind::Minimum { limit } => format!("不能小于 {}", num(limit)),
        ValidationErrorKind::Maximum { limit } => format!("不能大于 {}", num(limit)),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("必须大于 {}", num(limit)),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("必须小于 {}", num(limit)),
        ValidationErrorKind::Pattern { .. } => "格式不对".into(),
        ValidationErrorKind::MaxItems { limit } => format!("最多 {limit} 项"),
        ValidationErrorKind::MinItems { limit } => format!("至少 {limit} 项"),
        ValidationErrorKind::UniqueItems => "不能有重复的项".into(),
        ValidationErrorKind::MultipleOf { .. } => "数值的精度不对".into(),
        ValidationErrorKind::Constant { .. } => "的值不对".into(),
        ValidationErrorKind::AdditionalProperties { unexpected } => format!("没有这些列：{}", unexpected.join("、")),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{FormDef, compile};
    use serde_json::json;

    fn customer() -> CompiledForm {
        let def: FormDef = serde_json::from_value(json!({"key": "customer", "schema": {"type": "object", "required": ["name", "phone"], "properties": {
            "name": {"type": "string", "minLength": 1}, "phone": {"type": "string", "format": "phone"},
            "email": {"type": "string", "format": "email"}, "birthday": {"type": "string", "format": "date"},
            "owner": {"type": "string", "format": "user"}, "company": {"type": "string", "x-link": "company"},
            "spend": {"type": "number", "format": "money"}, "nps": {"type": "integer", "format": "nps"}}}}))
        .unwrap();
        compile(def, 1).unwrap()
    }

    /// One check helper for every case: data in, `(pointer, code)` pairs out.
    fn check(data: Value, expected: &[(&str, &str)]) {
        let got: Vec<(String, &str)> = validate(&customer(), &data).into_iter().map(|i| (i.pointer, i.code)).collect();
        let want: Vec<(String, &str)> = expected.iter().map(|(p, c)| (p.to_string(), *c)).collect();
        assert_eq!(got, want, "for {data}");
    }

    #[test]
    fn valid_record() {
        check(json!({"name": "张三", "phone": "13800138000", "email": "z@example.com", "birthday": "1990-02-28", "spend": 12.5, "nps": 9}), &[]);
    }

    #[test]
    fn missing_required_points_at_the_field() {
        check(json!({"name": "A"}), &[("/phone", "required")]);
    }

    #[test]
    fn formats_are_asserted() {
        check(json!({"name": "A", "phone": "123"}), &[("/phone", "format")]);
        check(json!({"name": "A", "phone": "+8613800138000", "email": "nope"}), &[("/email", "format")]);
        check(json!({"name": "A", "phone": "13800138000", "birthday": "1990-13-01"}), &[("/birthday", "format")]);
        check(json!({"name": "A", "phone": "13800138000", "spend": 1.234, "nps": 11}), &[("/spend", "format"), ("/nps", "format")]);
    }

    #[test]
    fn unknown_fields_types_and_links() {
        check(json!({"name": "A", "phone": "13800138000", "nmae": "x"}), &[("/nmae", "unknown_field")]);
        check(json!({"name": 5, "phone": "13800138000"}), &[("/name", "type")]);
        check(json!({"name": "A", "phone": "13800138000", "company": "acme"}), &[("/company", "link")]);
        check(json!([1]), &[("", "type")]);
    }

    #[test]
    fn required_for_new_is_asked_of_new_records_only() {
        let def: FormDef = serde_json::from_value(json!({"key": "c", "required_for_new": ["level"], "schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "level": {"type": "string", "title": "等级"}}}})).unwrap();
        let form = compile(def, 1).unwrap();
        let codes = |issues: Vec<Issue>| issues.into_iter().map(|i| (i.pointer, i.code, i.zh)).collect::<Vec<_>>();
        assert_eq!(codes(validate(&form, &json!({"name": "A"}))), []);
        assert_eq!(codes(validate_new(&form, &json!({"name": "A"}))), [("/level".to_owned(), "required", Some("请填写「等级」".to_owned()))]);
        assert_eq!(codes(validate_new(&form, &json!({"name": "A", "level": "B"}))), []);
        // The same shape as a field of `required`.
        assert_eq!(codes(validate_new(&form, &json!({"level": "B"}))), [("/name".to_owned(), "required", Some("请填写「name」".to_owned()))]);
    }

    #[test]
    fn repeated_unique_keys_in_a_batch() {
        let def: FormDef = serde_json::from_value(json!({"key": "c", "unique": [["phone"]], "schema": {"type": "object", "properties": {"phone": {"type": "string"}}}})).unwrap();
        let form = compile(def, 1).unwrap();
        let items: Vec<_> = [json!({"phone": "1"}), json!({}), json!({}), json!({"phone": "2"}), json!({"phone": "1"})]
            .into_iter()
            .map(|v| v.as_object().unwrap().clone())
            .collect();
        assert_eq!(repeated_unique_key(&form, &items), Some((4, vec!["phone".to_string()])));
        assert_eq!(repeated_unique_key(&form, &items[..4]), None);
    }

    #[test]
    fn references_are_listed() {
        let id = Uuid::from_u128(42);
        let data = json!({"name": "A", "owner": "a@b.c", "company": id.to_string()});
        let refs = references(&customer(), data.as_object().unwrap());
        assert_eq!(
            refs,
            [
                Reference::User { field: "owner".into(), value: "a@b.c".into() },
                Reference::Link { field: "company".into(), form: "company".into(), id }
            ]
        );
    }
}

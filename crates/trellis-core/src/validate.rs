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
                issues.push(Issue::new(format!("/{}", escape_token(k)), "derived", format!("'{k}' is computed by the form's rules; it cannot be written")));
            }
            None if !form.open => {
                issues.push(Issue::new(format!("/{}", escape_token(k)), "unknown_field", format!("'{k}' is not a field of form '{}'", form.key())));
            }
            _ => {}
        }
    }
    for err in form.validator.iter_errors(data) {
        let at = err.instance_path().as_str().to_owned();
        let issue = match err.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().map(str::to_owned).unwrap_or_else(|| property.to_string());
                Issue::new(format!("{at}/{}", escape_token(&name)), "required", format!("'{name}' is required"))
            }
            ValidationErrorKind::Format { format } => {
                let message = match TRELLIS_FORMATS.iter().find(|(f, _)| f == format) {
                    Some((_, expected)) => format!("{} is not a valid {format}: expected {expected}", err.instance()),
                    None => err.to_string(),
                };
                Issue::new(at, "format", message)
            }
            other => Issue::new(at, static_code(other.keyword()), err.to_string()),
        };
        issues.push(issue);
    }
    let mut numeric = Vec::new();
    formats::check_numeric(&form.def.schema, data, "", &mut numeric);
    issues.extend(numeric.into_iter().map(|(p, m)| Issue::new(p, "format", m)));
    for f in form.fields.iter().filter(|f| f.link.is_some()) {
        if let Some(Value::String(s)) = obj.get(&f.key)
            && Uuid::parse_str(s).is_err() {
                issues.push(Issue::new(format!("/{}", f.key), "link", format!("'{s}' is not a record id")));
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

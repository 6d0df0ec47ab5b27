//! What publishing a new version of a form does to the records already
//! stored, as far as the two definitions tell it: fields whose data would be
//! dropped or retyped, and fields that become required. Pure: the engine
//! counts the records (a dry run over them, or a count query per field).

use serde_json::{Map, Value};

use crate::form::FormDef;

/// How a new version's schema differs from the one in force, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaChange {
    /// Top-level properties the new version no longer has: data records hold in them is left behind.
    pub dropped: Vec<String>,
    /// Properties in both whose JSON types differ.
    pub retyped: Vec<Retyped>,
    /// Fields in the new `schema.required` that the version in force does not require.
    pub newly_required: Vec<String>,
}

/// A property whose JSON Schema `type` changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retyped {
    pub field: String,
    /// The types allowed before and after (empty: the schema does not say, any type).
    pub from: Vec<String>,
    pub to: Vec<String>,
}

fn properties(def: &FormDef) -> Option<&Map<String, Value>> {
    def.schema.get("properties").and_then(Value::as_object)
}

/// The `type` of a property as a sorted list (`"string"` and `["string"]` are one).
fn types(schema: &Value) -> Vec<String> {
    let mut out: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    out.sort();
    out.dedup();
    out
}

/// The fields a definition's `schema.required` lists.
pub fn required(def: &FormDef) -> Vec<String> {
    def.schema.get("required").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

/// What changes for stored data between the version in force and a new one.
/// A field moved from `required` to `required_for_new` is not newly required;
/// one moved the other way is.
pub fn schema_change(before: &FormDef, after: &FormDef) -> SchemaChange {
    let empty = Map::new();
    let (old, new) = (properties(before).unwrap_or(&empty), properties(after).unwrap_or(&empty));
    let dropped = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let retyped = old
        .iter()
        .filter_map(|(k, s)| new.get(k).map(|n| (k, types(s), types(n))))
        .filter(|(_, from, to)| from != to)
        .map(|(k, from, to)| Retyped { field: k.clone(), from, to })
        .collect();
    let was = required(before);
    let newly_required = required(after).into_iter().filter(|f| !was.contains(f)).collect();
    SchemaChange { dropped, retyped, newly_required }
}

/// Whether a record's data holds a value in `field` (absent and `null` are
/// the same, as on the write path; an empty text is a value, as `required` sees it).
pub fn has_value(data: &Map<String, Value>, field: &str) -> bool {
    data.get(field).is_some_and(|v| !v.is_null())
}

/// A field's title in a definition (its key when it has none), for people.
pub fn field_title(def: &FormDef, field: &str) -> String {
    properties(def).and_then(|p| p.get(field)).and_then(|p| p.get("title")).and_then(Value::as_str).unwrap_or(field).to_owned()
}

/// The `default` a new version's schema gives a field, if any.
pub fn default_of(def: &FormDef, field: &str) -> Option<Value> {
    properties(def).and_then(|p| p.get(field)).and_then(|p| p.get("default")).filter(|v| !v.is_null()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(required: Value, properties: Value) -> FormDef {
        serde_json::from_value(json!({"key": "c", "schema": {"type": "object", "required": required, "properties": properties}})).unwrap()
    }

    /// One helper for every case: two schemas in, what changes out.
    fn check(before: FormDef, after: FormDef, dropped: &[&str], retyped: &[(&str, &[&str], &[&str])], newly: &[&str]) {
        let got = schema_change(&before, &after);
        assert_eq!(got.dropped, dropped);
        let r: Vec<(String, Vec<String>, Vec<String>)> = got.retyped.into_iter().map(|r| (r.field, r.from, r.to)).collect();
        let want: Vec<(String, Vec<String>, Vec<String>)> = retyped.iter().map(|(f, a, b)| (f.to_string(), a.iter().map(|s| s.to_string()).collect(), b.iter().map(|s| s.to_string()).collect())).collect();
        assert_eq!(r, want);
        assert_eq!(got.newly_required, newly);
    }

    #[test]
    fn nothing_changes_for_the_same_schema() {
        let d = def(json!(["a"]), json!({"a": {"type": "string"}, "b": {"type": ["number", "null"]}}));
        check(d.clone(), d, &[], &[], &[]);
    }

    #[test]
    fn a_new_required_field_is_newly_required() {
        check(def(json!(["a"]), json!({"a": {"type": "string"}})), def(json!(["a", "level"]), json!({"a": {"type": "string"}, "level": {"type": "string"}})), &[], &[], &["level"]);
    }

    #[test]
    fn an_existing_field_made_required_is_newly_required() {
        check(def(json!([]), json!({"a": {"type": "string"}})), def(json!(["a"]), json!({"a": {"type": "string"}})), &[], &[], &["a"]);
    }

    #[test]
    fn dropped_and_retyped_fields() {
        check(
            def(json!([]), json!({"a": {"type": "string"}, "b": {"type": "number"}, "c": {"type": ["string", "null"]}, "d": {}})),
            def(json!([]), json!({"b": {"type": "string"}, "c": {"type": ["null", "string"]}, "d": {"type": "integer"}})),
            &["a"],
            &[("b", &["number"], &["string"]), ("d", &[], &["integer"])],
            &[],
        );
    }

    #[test]
    fn values_titles_and_defaults() {
        let d: FormDef = serde_json::from_value(json!({"key": "c", "schema": {"type": "object", "properties": {"level": {"type": "string", "title": "等级", "default": "B"}, "x": {"default": null}}}})).unwrap();
        assert_eq!(field_title(&d, "level"), "等级");
        assert_eq!(field_title(&d, "x"), "x");
        assert_eq!(default_of(&d, "level"), Some(json!("B")));
        assert_eq!(default_of(&d, "x"), None);
        let data = json!({"a": "", "b": null}).as_object().unwrap().clone();
        assert!(has_value(&data, "a"));
        assert!(!has_value(&data, "b"));
        assert!(!has_value(&data, "c"));
    }
}

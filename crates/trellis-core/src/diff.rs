//! What changed between two revisions of a record's data.

use serde_json::{Map, Value, json};

/// The top-level fields whose values differ, as
/// `{"field": {"from": old, "to": new}}`; a missing side is `null`. Fields are
/// listed in the order of the new data, then the removed ones.
pub fn changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in new {
        match old.get(k) {
            Some(o) if o == v => {}
            o => {
                out.insert(k.clone(), json!({"from": o.cloned().unwrap_or(Value::Null), "to": v}));
            }
        }
    }
    for (k, o) in old {
        if !new.contains_key(k) {
            out.insert(k.clone(), json!({"from": o, "to": Value::Null}));
        }
    }
    out
}

/// The changes of a record's data and of its segments together, segments
/// under `segments.KEY`: a changed segment is an event (`segment_changed`)
/// with its old and new value, kept in the history like any change.
pub fn record_changes(old: (&Map<String, Value>, &Map<String, Value>), new: (&Map<String, Value>, &Map<String, Value>)) -> Map<String, Value> {
    let mut out = changes(old.0, new.0);
    for (k, v) in changes(old.1, new.1) {
        out.insert(format!("segments.{k}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reports_changed_added_and_removed_fields() {
        let old = obj(json!({"name": "A", "level": 1, "note": "x"}));
        let new = obj(json!({"name": "A", "level": 2, "phone": "13800138000"}));
        assert_eq!(
            Value::Object(changes(&old, &new)),
            json!({
                "level": {"from": 1, "to": 2},
                "phone": {"from": null, "to": "13800138000"},
                "note": {"from": "x", "to": null}
            })
        );
    }

    #[test]
    fn nothing_changed_is_empty() {
        let a = obj(json!({"tags": ["a", "b"], "n": {"x": 1}}));
        assert!(changes(&a, &a.clone()).is_empty());
    }
}

//! Three-way merge of definitions, for pack upgrades: what the pack shipped
//! before (`base`), what is in force now (`local`, with an admin's changes)
//! and what the new pack version ships (`theirs`).
//!
//! Frappe's fixtures overwrite local changes; Jiandaoyun copies a template and
//! never upgrades it. Here a change on one side only is taken, the same
//! change on both sides is taken once, and different changes to the same
//! value are a conflict: the local value stays and the conflict is reported.
//! Objects merge key by key, recursively; arrays and scalars are one value
//! each (merging list items by position would silently mix two lists).

use serde_json::{Map, Value};

use crate::issue::escape_token;

/// Two different changes to one value: the local one was kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Conflict {
    /// JSON Pointer into the definition.
    pub pointer: String,
    /// The value in force (kept); `None` when the admin removed it.
    pub local: Option<Value>,
    /// The new pack version's value (not applied); `None` when it removes it.
    pub theirs: Option<Value>,
}

/// The merged value (`None`: removed) and the conflicts found.
pub fn merge(base: Option<&Value>, local: Option<&Value>, theirs: Option<&Value>) -> (Option<Value>, Vec<Conflict>) {
    let mut conflicts = Vec::new();
    let merged = merge_at("", base, local, theirs, &mut conflicts);
    (merged, conflicts)
}

fn merge_at(pointer: &str, base: Option<&Value>, local: Option<&Value>, theirs: Option<&Value>, conflicts: &mut Vec<Conflict>) -> Option<Value> {
    if local == base || local == theirs {
        return theirs.cloned();
    }
    if theirs == base {
        return local.cloned();
    }
    if let (Some(Value::Object(b)), Some(Value::Object(l)), Some(Value::Object(t))) = (base, local, theirs) {
        return Some(Value::Object(merge_objects(pointer, b, l, t, conflicts)));
    }
    if let (None, Some(Value::Object(l)), Some(Value::Object(t))) = (base, local, theirs) {
        // Both added the same key: merge what they added as if from an empty object.
        return Some(Value::Object(merge_objects(pointer, &Map::new(), l, t, conflicts)));
    }
    conflicts.push(Conflict { pointer: pointer.to_owned(), local: local.cloned(), theirs: theirs.cloned() });
    local.cloned()
}

fn merge_objects(pointer: &str, base: &Map<String, Value>, local: &Map<String, Value>, theirs: &Map<String, Value>, conflicts: &mut Vec<Conflict>) -> Map<String, Value> {
    // Local order first (the admin's arrangement), then keys only the new version has, in its order.
    let keys = local.keys().chain(theirs.keys().filter(|k| !local.contains_key(*k))).chain(base.keys().filter(|k| !local.contains_key(*k) && !theirs.contains_key(*k)));
    let mut out = Map::new();
    for k in keys.cloned().collect::<Vec<_>>() {
        let at = format!("{pointer}/{}", escape_token(&k));
        if let Some(v) = merge_at(&at, base.get(&k), local.get(&k), theirs.get(&k), conflicts) {
            out.insert(k, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn m(base: Value, local: Value, theirs: Value) -> (Option<Value>, Vec<Conflict>) {
        merge(Some(&base), Some(&local), Some(&theirs))
    }

    #[test]
    fn one_sided_changes_are_taken() {
        let base = json!({"title": "客户", "fields": {"a": 1}});
        assert_eq!(m(base.clone(), base.clone(), json!({"title": "客户档案", "fields": {"a": 1}})).0.unwrap()["title"], "客户档案");
        assert_eq!(m(base.clone(), json!({"title": "我的客户", "fields": {"a": 1}}), base.clone()).0.unwrap()["title"], "我的客户");
    }

    #[test]
    fn changes_to_different_keys_both_land() {
        let base = json!({"title": "客户", "schema": {"name": {"type": "string"}}});
        let local = json!({"title": "我的客户", "schema": {"name": {"type": "string"}}});
        let theirs = json!({"title": "客户", "schema": {"name": {"type": "string"}, "email": {"type": "string"}}});
        let (merged, conflicts) = m(base, local, theirs);
        assert!(conflicts.is_empty());
        assert_eq!(merged.unwrap(), json!({"title": "我的客户", "schema": {"name": {"type": "string"}, "email": {"type": "string"}}}));
    }

    #[test]
    fn different_changes_to_one_value_keep_the_local_one_and_report_it() {
        let (merged, conflicts) = m(json!({"a": {"b": 1}}), json!({"a": {"b": 2}}), json!({"a": {"b": 3}}));
        assert_eq!(merged.unwrap(), json!({"a": {"b": 2}}));
        assert_eq!(conflicts, vec![Conflict { pointer: "/a/b".into(), local: Some(json!(2)), theirs: Some(json!(3)) }]);
    }

    #[test]
    fn removals_merge_like_changes() {
        // The admin removed a key the new version left alone: it stays removed.
        assert_eq!(m(json!({"a": 1, "b": 2}), json!({"a": 1}), json!({"a": 1, "b": 2})).0.unwrap(), json!({"a": 1}));
        // The new version removes a key the admin changed: conflict, local kept.
        let (merged, conflicts) = m(json!({"a": 1, "b": 2}), json!({"a": 1, "b": 5}), json!({"a": 1}));
        assert_eq!(merged.unwrap(), json!({"a": 1, "b": 5}));
        assert_eq!(conflicts[0].theirs, None);
    }

    #[test]
    fn arrays_are_one_value() {
        let (_, conflicts) = m(json!({"l": [1]}), json!({"l": [1, 2]}), json!({"l": [1, 3]}));
        assert_eq!(conflicts.len(), 1);
        assert_eq!(m(json!({"l": [1]}), json!({"l": [1, 2]}), json!({"l": [1, 2]})).1, vec![]);
    }

    #[test]
    fn a_definition_new_on_both_sides_merges_from_nothing() {
        let (merged, conflicts) = merge(None, Some(&json!({"a": 1})), Some(&json!({"b": 2})));
        assert!(conflicts.is_empty());
        assert_eq!(merged.unwrap(), json!({"a": 1, "b": 2}));
        assert_eq!(merge(None, None, Some(&json!(1))).0, Some(json!(1)));
    }
}

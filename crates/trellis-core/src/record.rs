//! A record as the engine and the store exchange it.

use jiff::Timestamp;
use serde_json::{Map, Value};
use uuid::Uuid;

/// One stored JSON document of a form, with its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Uuid,
    pub form: String,
    /// The form version the data was last validated against.
    pub form_version: i64,
    /// Starts at 1; every change (update, delete, restore) adds one.
    pub rev: i64,
    pub data: Map<String, Value>,
    pub segments: Map<String, Value>,
    pub owner: Option<Uuid>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
    Restore,
    /// A workflow started or moved on the record.
    Transition,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Restore => "restore",
            Op::Transition => "transition",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "create" => Op::Create,
            "update" => Op::Update,
            "delete" => Op::Delete,
            "restore" => Op::Restore,
            "transition" => Op::Transition,
            _ => return None,
        })
    }
}

/// One change of one record: who, when, and for updates the fields that
/// changed as `{"field": {"from": old, "to": new}}` (absent values are `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub record_id: Uuid,
    pub rev: i64,
    pub op: Op,
    pub actor: Uuid,
    pub actor_email: Option<String>,
    pub at: Timestamp,
    pub changes: Map<String, Value>,
}

/// Removes top-level `null`s: in Trellis an absent field and a `null` field are
/// the same thing (as in a JSON merge patch), so both backends compare, sort
/// and index them alike.
pub fn strip_nulls(data: &mut Map<String, Value>) {
    data.retain(|_, v| !v.is_null());
}

/// Applies a JSON merge patch (RFC 7396) to a record's data: fields in the
/// patch replace, `null` removes, nested objects merge.
pub fn merge_patch(data: &Map<String, Value>, patch: &Value) -> Map<String, Value> {
    let mut merged = Value::Object(data.clone());
    json_patch::merge(&mut merged, patch);
    let Value::Object(mut out) = merged else { unreachable!("merging into an object keeps an object") };
    strip_nulls(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_replaces_removes_and_merges() {
        let data = json!({"name": "A", "note": "x", "address": {"city": "杭州", "zip": "310000"}});
        let out = merge_patch(data.as_object().unwrap(), &json!({"note": null, "name": "B", "address": {"zip": null}}));
        assert_eq!(Value::Object(out), json!({"name": "B", "address": {"city": "杭州"}}));
    }
}

//! Derived values on the write path: computed fields, rollups and segments.
//!
//! A record's own write evaluates its computed fields and segments (its
//! rollup values are carried over). A child's write — create, update, delete,
//! restore, or a move to another parent — recomputes the rollups of every
//! parent it links to, before and after, in the same transaction, and then
//! the parent's computed fields and segments; a parent that is itself a child
//! passes the change up, a bounded number of levels.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use serde_json::{Map, Value};
use trellis_core::query::{Cmp, Filter, ListQuery, Lit, Meta, SortKey, Target};
use trellis_core::{CompiledForm, HistoryEntry, Op, Record, diff};
use trellis_store::Tx;
use uuid::Uuid;

use crate::flow::Written;
use crate::{Engine, EngineError, Result};

/// How far a child's change travels up (follow-up → customer → company → group).
const MAX_ROLLUP_DEPTH: usize = 4;

/// The live records of `form` whose `via` field links to `parent`, oldest first.
pub(crate) fn children_query(via: &str, parent: Uuid) -> ListQuery {
    ListQuery {
        filter: Some(Filter::Compare { target: Target::Data(via.to_owned()), op: Cmp::Eq, value: Lit::Json(Value::String(parent.to_string())) }),
        sort: vec![SortKey { target: Target::Meta(Meta::Id), desc: false }],
        after: None,
        limit: u32::MAX,
        deleted: false,
    }
}

/// Drops the values the engine derives, leaving what people typed in.
pub(crate) fn input_of(form: &CompiledForm, data: &Map<String, Value>) -> Map<String, Value> {
    data.iter().filter(|(k, _)| form.field(k).is_none_or(|f| f.derived.is_none())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Evaluates computed fields into `data` and returns the segments.
pub(crate) fn evaluate(form: &CompiledForm, data: &mut Map<String, Value>, now: Timestamp) -> Result<Map<String, Value>> {
    if form.rules.is_empty() {
        return Ok(Map::new());
    }
    crate::off_async(|| form.rules.evaluate(form.key(), data, now)).map_err(EngineError::Rule)
}

/// Sets the rollup values of a record from its children (none for a new record).
pub(crate) fn set_rollups(form: &CompiledForm, data: &mut Map<String, Value>, children: &HashMap<String, Vec<Record>>, from: Option<&str>, now: Timestamp) -> Result<()> {
    for r in form.rules.rollups.iter().filter(|r| from.is_none_or(|f| r.def.from == f)) {
        let kids = children.get(&format!("{}.{}", r.def.from, r.def.via)).map(Vec::as_slice).unwrap_or(&[]);
        match r.aggregate(form.key(), kids, now).map_err(EngineError::Rule)? {
            Value::Null => data.remove(&r.key),
            v => data.insert(r.key.clone(), v),
        };
    }
    Ok(())
}

impl Engine {
    /// The forms with a rollup over records of `child`, by key: every writer
    /// locks parents in the same order.
    pub(crate) async fn rollup_parents(&self, child: &str) -> Result<Vec<std::sync::Arc<CompiledForm>>> {
        let mut parents: Vec<_> = self.all_forms().await?.into_iter().filter(|p| p.rules.rollups.iter().any(|r| r.def.from == child)).collect();
        parents.sort_by(|a, b| a.key().cmp(b.key()));
        Ok(parents)
    }

    /// Loads, inside `tx`, the children every rollup of `parent` over `from` needs, keyed `form.via`.
    pub(crate) async fn load_children(tx: &mut Tx, parent: &CompiledForm, id: Uuid, from: Option<&str>) -> Result<HashMap<String, Vec<Record>>> {
        let mut out = HashMap::new();
        for r in parent.rules.rollups.iter().filter(|r| from.is_none_or(|f| r.def.from == f)) {
            let k = format!("{}.{}", r.def.from, r.def.via);
            if let Entry::Vacant(slot) = out.entry(k) {
                slot.insert(tx.list(&r.def.from, &children_query(&r.def.via, id)).await?);
            }
        }
        Ok(out)
    }

    /// Recomputes the rollups of the parents that the child records `datas`
    /// (of form `child`, before and after their change) link to; returns the
    /// parents that changed, so workflows can look at them too.
    pub(crate) async fn update_parents(&self, tx: &mut Tx, child: &str, datas: &[&Map<String, Value>], actor: Uuid, now: Timestamp) -> Result<Vec<Written>> {
        let mut written = Vec::new();
        let mut pending: Vec<(String, Vec<Map<String, Value>>)> = vec![(child.to_owned(), datas.iter().map(|d| (*d).clone()).collect())];
        for _ in 0..MAX_ROLLUP_DEPTH {
            let mut next = Vec::new();
            for (child, datas) in pending {
                for parent in self.rollup_parents(&child).await? {
                    let mut ids = BTreeSet::new();
                    for r in parent.rules.rollups.iter().filter(|r| r.def.from == child) {
                        ids.extend(datas.iter().filter_map(|d| d.get(&r.def.via)?.as_str()).filter_map(|s| Uuid::parse_str(s).ok()));
                    }
                    let mut changed = Vec::new();
                    for id in ids {
                        if let Some((prev, next)) = self.refresh_record(tx, &parent, id, Some(&child), actor, now).await? {
                            written.push(Written::updated(&prev));
                            changed.push(next.data);
                        }
                    }
                    if !changed.is_empty() {
                        next.push((parent.key().to_owned(), changed));
                    }
                }
            }
            if next.is_empty() {
                return Ok(written);
            }
            pending = next;
        }
        Ok(written)
    }

    /// Locks a live record and recomputes its rollups (over the children of
    /// `from` only, or all), computed fields and segments from what is in the
    /// transaction; stores it with a history entry when anything changed, and
    /// returns it before and after.
    pub(crate) async fn refresh_record(&self, tx: &mut Tx, parent: &CompiledForm, id: Uuid, from: Option<&str>, actor: Uuid, now: Timestamp) -> Result<Option<(Record, Record)>> {
        let Some(prev) = tx.record_for_update(parent.key(), id).await? else { return Ok(None) };
        if prev.deleted_at.is_some() {
            return Ok(None);
        }
        let children = Self::load_children(tx, parent, id, from).await?;
        let mut data = prev.data.clone();
        set_rollups(parent, &mut data, &children, from, now)?;
        let segments = evaluate(parent, &mut data, now)?;
        let changes = diff::record_changes((&prev.data, &prev.segments), (&data, &segments));
        if changes.is_empty() {
            return Ok(None);
        }
        let next = Record { rev: prev.rev + 1, data, segments, updated_by: actor, updated_at: now, ..prev.clone() };
        if !tx.update_record(&next, prev.rev).await? {
            return Err(EngineError::Stale { expected: prev.rev, current: prev.rev + 1 });
        }
        tx.insert_history(&[HistoryEntry { record_id: id, rev: next.rev, op: Op::Update, actor, actor_email: None, at: now, changes }]).await?;
        Ok(Some((prev, next)))
    }
}

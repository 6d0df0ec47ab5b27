//! The write path and the reads beside it.
//!
//! Every write is one transaction: validate against the form's current
//! version → resolve `user` fields → check `x-link` targets inside the
//! transaction → write the record(s) → append history → commit. A unique key
//! is enforced by the database's index, so two concurrent writers cannot both
//! win; the loser gets a conflict naming the key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};
use trellis_core::query::{self, ListParams};
use trellis_core::record::{merge_patch, strip_nulls};
use trellis_core::validate::{self, Reference};
use trellis_core::{CompiledForm, HistoryEntry, Issue, Op, Record, diff};
use trellis_store::{StoreError, Tx, index};
use uuid::Uuid;

use trellis_core::permission::Action;

use crate::access::Grant;
use crate::flow::Written;
use crate::{Actor, Engine, EngineError, Result, derive};

/// Points a rule failure at the batch item it happened on.
fn in_item(e: EngineError, item: Option<usize>) -> EngineError {
    match (e, item) {
        (EngineError::Rule(mut f), Some(i)) => {
            f.error.message = format!("item {i}: {}", f.error.message);
            EngineError::Rule(f)
        }
        (e, _) => e,
    }
}

/// A change to one stored record: the new state, the revision it replaces,
/// and what the history entry says.
struct Change {
    next: Record,
    prev_rev: i64,
    op: Op,
    changes: Map<String, Value>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Record>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Maps a unique-index refusal to a conflict that names the key.
fn unique_conflict(form: &CompiledForm, e: StoreError) -> EngineError {
    match e {
        StoreError::Unique { index } => {
            let key = index::specs(&form.def).into_iter().find(|s| s.name == index).map(|s| s.fields);
            let message = match &key {
                Some(fields) => format!("another {} record already has this {}", form.key(), fields.join(" + ")),
                None => format!("the write conflicts with an existing record ({index})"),
            };
            let zh = key.as_ref().map(|fields| {
                let titles: Vec<String> = fields.iter().map(|f| form.def.schema.pointer(&format!("/properties/{f}/title")).and_then(serde_json::Value::as_str).unwrap_or(f).to_owned()).collect();
                format!("已有{}使用了相同的「{}」", form.def.title, titles.join("＋"))
            });
            EngineError::Conflict { message, key, zh }
        }
        e => e.into(),
    }
}

fn gone(form: &str, id: Uuid) -> EngineError {
    EngineError::Gone(format!("record {id} of form '{form}' was deleted; POST …/records/{id}/restore brings it back"))
}

fn not_found(form: &str, id: Uuid) -> EngineError {
    EngineError::NotFound(format!("there is no record {id} in form '{form}'"))
}

impl Engine {
    /// Resolves the `user` fields of `data` to user ids in place (a user field
    /// takes an email or an id; it is stored as the id). Only `fields` are
    /// looked at when given.
    pub(crate) async fn resolve_users(
        &self,
        form: &CompiledForm,
        data: &mut Map<String, Value>,
        only: Option<&Map<String, Value>>,
        cache: &mut HashMap<String, Option<Uuid>>,
        prefix: &str,
        issues: &mut Vec<Issue>,
    ) -> Result<()> {
        for r in validate::references(form, data) {
            let (field, value) = match r {
                Reference::User { field, value } => (field, value),
                // Links are stored in one spelling, so children are found by plain equality.
                Reference::Link { field, id, .. } => {
                    data.insert(field, Value::String(id.to_string()));
                    continue;
                }
            };
            if only.is_some_and(|c| !c.contains_key(&field)) {
                continue;
            }
            let id = match cache.get(&value) {
                Some(id) => *id,
                None => {
                    let id = self.store.find_user(&value).await?.map(|u| u.id);
                    cache.insert(value.clone(), id);
                    id
                }
            };
            match id {
                Some(id) => {
                    data.insert(field, Value::String(id.to_string()));
                }
                None => issues.push(Issue::new(format!("{prefix}/{field}"), "user", format!("there is no user with email or id '{value}'")).zh(format!("系统中没有用户「{value}」"))),
            }
        }
        Ok(())
    }

    /// Checks inside `tx` that every linked record exists and is live.
    pub(crate) async fn check_links(tx: &mut Tx, form: &CompiledForm, items: &[(String, &Map<String, Value>)], only: Option<&Map<String, Value>>) -> Result<Vec<Issue>> {
        let mut wanted: BTreeMap<String, Vec<(String, Uuid)>> = BTreeMap::new();
        for (prefix, data) in items {
            for r in validate::references(form, data) {
                if let Reference::Link { field, form: target, id } = r
                    && only.is_none_or(|c| c.contains_key(&field)) {
                        wanted.entry(target).or_default().push((format!("{prefix}/{field}"), id));
                    }
            }
        }
        let mut issues = Vec::new();
        for (target, refs) in wanted {
            let mut ids: Vec<Uuid> = refs.iter().map(|(_, id)| *id).collect();
            ids.sort();
            ids.dedup();
            let found = tx.existing_ids(&target, &ids).await?;
            for (pointer, id) in refs {
                if !found.contains(&id) {
                    issues.push(Issue::new(pointer, "link", format!("there is no record {id} in form '{target}'")).zh("选择的记录不存在或已被删除"));
                }
            }
        }
        Ok(issues)
    }

    fn owner_of(form: &CompiledForm, data: &Map<String, Value>) -> Option<Uuid> {
        form.owner_field().and_then(|f| data.get(&f.key)).and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
    }

    /// Creates records, all or nothing. With `batch`, problems point into the
    /// array (`/3/phone`); otherwise into the one record (`/phone`).
    pub async fn create_records(&self, actor: &Actor, form: &str, items: Vec<Value>, batch: bool) -> Result<Vec<Record>> {
        let form = self.form(form).await?;
        let grant = self.grant(actor, &form).await?;
        self.create_granted(&grant, actor.id, None, &form, items, batch).await
    }

    /// Creates records as `actor` (who the history names) within `grant`,
    /// owned by `owner` when given (else by their owner field, else the actor).
    pub(crate) async fn create_granted(&self, grant: &Grant, actor: Uuid, owner: Option<Uuid>, form: &Arc<CompiledForm>, items: Vec<Value>, batch: bool) -> Result<Vec<Record>> {
        let form = form.clone();
        grant.require_create()?;
        let mut refused = Vec::new();
        let mut issues = Vec::new();
        let mut prefixes = Vec::with_capacity(items.len());
        let mut datas: Vec<Map<String, Value>> = Vec::with_capacity(items.len());
        let mut users = HashMap::new();
        for (i, item) in items.into_iter().enumerate() {
            let prefix = if batch { format!("/{i}") } else { String::new() };
            let mut item = item;
            if let Some(obj) = item.as_object_mut() {
                strip_nulls(obj);
                refused.extend(grant.access.refused_fields(obj, &prefix));
            }
            let found = validate::validate_new(&form, &item);
            if !found.is_empty() {
                issues.extend(found.into_iter().map(|x| x.prefixed(&prefix)));
                continue;
            }
            let Value::Object(mut data) = item else { unreachable!("validated as an object") };
            self.resolve_users(&form, &mut data, None, &mut users, &prefix, &mut issues).await?;
            prefixes.push(prefix);
            datas.push(data);
        }
        if !refused.is_empty() {
            return Err(EngineError::Refused(refused));
        }
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        if let Some((i, key)) = validate::repeated_unique_key(&form, &datas) {
            return Err(EngineError::Conflict { zh: None, message: format!("item {i} repeats the {} of an earlier item in this batch", key.join(" + ")), key: Some(key) });
        }

        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let (records, wrote) = self.insert_new(&mut tx, (actor, owner), &form, prefixes, datas, now, batch.then_some(0), true).await?;
        let records = if wrote { Self::reread(&mut tx, records).await? } else { records };
        tx.commit().await?;
        if batch {
            self.wrote_in_bulk(records.len());
        }
        Ok(records.into_iter().map(|r| grant.redact(r)).collect())
    }

    /// Stores new records inside `tx` — data already validated, users
    /// resolved: checks their links, derives rollups, computed fields and
    /// segments, writes them with their history, moves the parents' rollups
    /// and lets workflows and triggers react (event triggers only when
    /// `events`). `first_item` numbers rule failures (`item 3: …`) in a batch.
    /// `owner` (when given) owns records whose owner field is empty; else the actor does.
    /// Returns the records and whether the reaction wrote any record.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_new(
        &self,
        tx: &mut Tx,
        (actor, owner): (Uuid, Option<Uuid>),
        form: &CompiledForm,
        prefixes: Vec<String>,
        mut datas: Vec<Map<String, Value>>,
        now: jiff::Timestamp,
        first_item: Option<usize>,
        events: bool,
    ) -> Result<(Vec<Record>, bool)> {
        let mut derived = Vec::with_capacity(datas.len());
        for (i, data) in datas.iter_mut().enumerate() {
            derive::set_rollups(form, data, &HashMap::new(), None, now)?;
            derived.push(derive::evaluate(form, data, now).map_err(|e| in_item(e, first_item.map(|f| f + i)))?);
        }
        let refs: Vec<(String, &Map<String, Value>)> = prefixes.into_iter().zip(&datas).collect();
        let issues = Self::check_links(tx, form, &refs, None).await?;
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        let records: Vec<Record> = datas
            .into_iter()
            .zip(derived)
            .map(|(data, segments)| Record {
                id: Uuid::now_v7(),
                form: form.key().to_owned(),
                form_version: form.version,
                rev: 1,
                owner: Some(Self::owner_of(form, &data).or(owner).unwrap_or(actor)),
                data,
                segments,
                created_by: actor,
                updated_by: actor,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            })
            .collect();
        let history: Vec<HistoryEntry> = records
            .iter()
            .map(|r| HistoryEntry { record_id: r.id, rev: 1, op: Op::Create, actor, actor_email: None, at: now, changes: Map::new() })
            .collect();
        tx.insert_records(&records).await.map_err(|e| unique_conflict(form, e))?;
        tx.insert_history(&history).await?;
        let datas: Vec<&Map<String, Value>> = records.iter().map(|r| &r.data).collect();
        let parents = self.update_parents(tx, form.key(), &datas, actor, now).await?;
        // A new record whose rollups moved (it is its own form's parent) is read back as it is now.
        let mut written: Vec<Written> = records.iter().map(|r| if parents.iter().any(|p| p.id == r.id) { Written::created(r) } else { Written::created_as(r) }).collect();
        written.extend(parents);
        let wrote = self.after_writes(tx, actor, now, written, events).await?;
        Ok((records, wrote))
    }

    /// The records as the transaction holds them now: workflows may have
    /// moved their revision (a start, a transition) or changed them (`set`, `assign`).
    async fn reread(tx: &mut Tx, records: Vec<Record>) -> Result<Vec<Record>> {
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(tx.record_for_update(&r.form, r.id).await?.unwrap_or(r));
        }
        Ok(out)
    }

    /// Creates one record inside `tx` (for workflow actions and task
    /// outcomes): the same checks and derived values as [`Engine::create_records`].
    /// Without an `owner` field value it is owned by `owner` (the record it
    /// came from's owner: a timer's actor is the system, which owns nothing).
    /// Returns it with every record written on the way (it, and parents whose rollups moved).
    pub(crate) async fn create_in(&self, tx: &mut Tx, actor: Uuid, owner: Uuid, form: &CompiledForm, item: Value, now: jiff::Timestamp) -> Result<(Record, Vec<Written>)> {
        let mut item = item;
        if let Some(obj) = item.as_object_mut() {
            strip_nulls(obj);
        }
        let issues = validate::validate_new(form, &item);
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        let Value::Object(mut data) = item else { unreachable!("validated as an object") };
        let mut issues = Vec::new();
        self.resolve_users(form, &mut data, None, &mut HashMap::new(), "", &mut issues).await?;
        issues.extend(Self::check_links(tx, form, &[(String::new(), &data)], None).await?);
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        derive::set_rollups(form, &mut data, &HashMap::new(), None, now)?;
        let segments = derive::evaluate(form, &mut data, now)?;
        let record = Record {
            id: Uuid::now_v7(),
            form: form.key().to_owned(),
            form_version: form.version,
            rev: 1,
            owner: Some(Self::owner_of(form, &data).unwrap_or(owner)),
            data,
            segments,
            created_by: actor,
            updated_by: actor,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        tx.insert_records(std::slice::from_ref(&record)).await.map_err(|e| unique_conflict(form, e))?;
        tx.insert_history(&[HistoryEntry { record_id: record.id, rev: 1, op: Op::Create, actor, actor_email: None, at: now, changes: Map::new() }]).await?;
        let mut written = vec![Written::created(&record)];
        written.extend(self.update_parents(tx, form.key(), &[&record.data], actor, now).await?);
        Ok((record, written))
    }

    /// A live record as `actor` may see it. A deleted one answers [`EngineError::Gone`].
    pub async fn get_record(&self, actor: &Actor, form: &str, id: Uuid) -> Result<Record> {
        let compiled = self.form(form).await?;
        let grant = self.grant(actor, &compiled).await?;
        let r = self.store.record(compiled.key(), id).await?.ok_or_else(|| not_found(form, id))?;
        grant.check(Action::Read, &r)?;
        if r.deleted_at.is_some() {
            return Err(gone(form, id));
        }
        Ok(grant.redact(r))
    }

    /// Opens a transaction holding the record, checking it exists, its
    /// deletion state and the expected revision.
    /// `grant` must allow `action` on it.
    async fn lock(&self, form: &CompiledForm, id: Uuid, want_deleted: bool, expected_rev: Option<i64>, (grant, action): (&Grant, Action)) -> Result<(Tx, Record)> {
        let mut tx = self.store.begin().await?;
        let r = tx.record_for_update(form.key(), id).await?.ok_or_else(|| not_found(form.key(), id))?;
        grant.check(action, &r)?;
        match (r.deleted_at.is_some(), want_deleted) {
            (true, false) => return Err(gone(form.key(), id)),
            (false, true) => return Err(EngineError::Conflict { zh: None, message: format!("record {id} is not deleted"), key: None }),
            _ => {}
        }
        if let Some(expected) = expected_rev
            && expected != r.rev {
                return Err(EngineError::Stale { expected, current: r.rev });
            }
        Ok((tx, r))
    }

    /// Stores a change with its history entry and brings the parents' rollups
    /// in line (from the record's links before and after). Returns every
    /// record written: this one first, then the parents.
    async fn write_change(&self, form: &CompiledForm, tx: &mut Tx, prev: &Record, c: &Change) -> Result<Vec<Written>> {
        if !tx.update_record(&c.next, c.prev_rev).await.map_err(|e| unique_conflict(form, e))? {
            return Err(EngineError::Stale { expected: c.prev_rev, current: c.prev_rev + 1 });
        }
        let entry = HistoryEntry { record_id: c.next.id, rev: c.next.rev, op: c.op, actor: c.next.updated_by, actor_email: None, at: c.next.updated_at, changes: c.changes.clone() };
        tx.insert_history(&[entry]).await?;
        let mut written = vec![Written::updated(prev)];
        written.extend(self.update_parents(tx, form.key(), &[&prev.data, &c.next.data], c.next.updated_by, c.next.updated_at).await?);
        Ok(written)
    }

    /// Writes a change, lets workflows react to it, and commits. A deleted
    /// record's running workflows end (its parents' still react).
    async fn commit_change(&self, form: &CompiledForm, mut tx: Tx, prev: &Record, c: Change) -> Result<Record> {
        let written = self.write_change(form, &mut tx, prev, &c).await?;
        if c.op == Op::Delete {
            tx.cancel_instances(c.next.id, c.next.updated_at).await?;
        }
        let ran = self.after_writes(&mut tx, c.next.updated_by, c.next.updated_at, written, true).await?;
        let next = if ran { Self::reread(&mut tx, vec![c.next]).await?.remove(0) } else { c.next };
        tx.commit().await?;
        Ok(next)
    }

    /// Applies a JSON merge patch (RFC 7396) and revalidates the result
    /// against the form's current version. A patch that changes nothing
    /// leaves the revision alone.
    pub async fn patch_record(&self, actor: &Actor, form: &str, id: Uuid, patch: Value, expected_rev: Option<i64>) -> Result<Record> {
        let form = self.form(form).await?;
        let grant = self.grant(actor, &form).await?;
        self.patch_granted(&grant, actor.id, &form, id, patch, expected_rev).await
    }

    /// Applies a merge patch as `actor` (who the history names) within `grant`.
    pub(crate) async fn patch_granted(&self, grant: &Grant, actor: Uuid, form: &CompiledForm, id: Uuid, patch: Value, expected_rev: Option<i64>) -> Result<Record> {
        let Some(fields) = patch.as_object() else {
            return Err(EngineError::Invalid(vec![Issue::new("", "type", "a merge patch is a JSON object of the fields to change (null removes one)").zh("修改的内容格式不对")]));
        };
        let (mut tx, prev) = self.lock(form, id, false, expected_rev, (grant, Action::Write)).await?;
        // Checked on the patch's keys, not on what changed: "no change" would tell a hidden value.
        let refused = grant.access.refused_fields(fields, "");
        if !refused.is_empty() {
            return Err(EngineError::Refused(refused));
        }
        let now = self.clock.now();
        let Some((next, written)) = self.patch_in(&mut tx, actor, form, &prev, &patch, now).await? else { return Ok(grant.redact(prev)) };
        let next = if self.after_writes(&mut tx, actor, now, written, true).await? { Self::reread(&mut tx, vec![next]).await?.remove(0) } else { next };
        tx.commit().await?;
        Ok(grant.redact(next))
    }

    /// Applies a merge patch to a record locked in `tx`, revalidating the
    /// result; `None` when it changes nothing (the revision stays).
    pub(crate) async fn patch_in(&self, tx: &mut Tx, actor: Uuid, form: &CompiledForm, prev: &Record, patch: &Value, now: jiff::Timestamp) -> Result<Option<(Record, Vec<Written>)>> {
        let input = derive::input_of(form, &prev.data);
        let mut data = merge_patch(&input, patch);
        let issues = validate::validate(form, &Value::Object(data.clone()));
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        let touched = diff::changes(&input, &data);
        let mut issues = Vec::new();
        self.resolve_users(form, &mut data, Some(&touched), &mut HashMap::new(), "", &mut issues).await?;
        issues.extend(Self::check_links(tx, form, &[(String::new(), &data)], Some(&touched)).await?);
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        for r in &form.rules.rollups {
            if let Some(v) = prev.data.get(&r.key) {
                data.insert(r.key.clone(), v.clone());
            }
        }
        let segments = derive::evaluate(form, &mut data, now)?;
        let changes = diff::record_changes((&prev.data, &prev.segments), (&data, &segments));
        if changes.is_empty() {
            return Ok(None);
        }
        let next = Record {
            form_version: form.version,
            rev: prev.rev + 1,
            owner: if form.owner_field().is_some_and(|f| changes.contains_key(&f.key)) {
                Some(Self::owner_of(form, &data).unwrap_or(prev.created_by))
            } else {
                prev.owner
            },
            data,
            segments,
            updated_by: actor,
            updated_at: now,
            ..prev.clone()
        };
        let change = Change { next, prev_rev: prev.rev, op: Op::Update, changes };
        let written = self.write_change(form, tx, prev, &change).await?;
        Ok(Some((change.next, written)))
    }

    /// Gives a record a new owner inside `tx`: through its `owner` field when
    /// the form has one (so the field and the column agree), else the column alone.
    pub(crate) async fn set_owner_in(&self, tx: &mut Tx, actor: Uuid, form: &CompiledForm, prev: &Record, owner: Uuid, now: jiff::Timestamp) -> Result<Vec<Written>> {
        if form.owner_field().is_some() {
            let patch = serde_json::json!({"owner": owner.to_string()});
            return Ok(self.patch_in(tx, actor, form, prev, &patch, now).await?.map(|(_, w)| w).unwrap_or_default());
        }
        if prev.owner == Some(owner) {
            return Ok(Vec::new());
        }
        let mut changes = Map::new();
        changes.insert("owner".into(), serde_json::json!({"from": prev.owner, "to": owner}));
        let next = Record { rev: prev.rev + 1, owner: Some(owner), updated_by: actor, updated_at: now, ..prev.clone() };
        self.write_change(form, tx, prev, &Change { next, prev_rev: prev.rev, op: Op::Update, changes }).await
    }

    /// Moves a record to the trash (a soft delete; it keeps its history).
    pub async fn delete_record(&self, actor: &Actor, form: &str, id: Uuid, expected_rev: Option<i64>) -> Result<Record> {
        let form = self.form(form).await?;
        let grant = self.grant(actor, &form).await?;
        let (tx, prev) = self.lock(&form, id, false, expected_rev, (&grant, Action::Delete)).await?;
        let now = self.clock.now();
        let next = Record { rev: prev.rev + 1, updated_by: actor.id, updated_at: now, deleted_at: Some(now), ..prev.clone() };
        Ok(grant.redact(self.commit_change(&form, tx, &prev, Change { next, prev_rev: prev.rev, op: Op::Delete, changes: Map::new() }).await?))
    }

    /// Brings a deleted record back, unless a live record took its unique key meanwhile.
    pub async fn restore_record(&self, actor: &Actor, form: &str, id: Uuid) -> Result<Record> {
        let form = self.form(form).await?;
        let grant = self.grant(actor, &form).await?;
        let (mut tx, prev) = self.lock(&form, id, true, None, (&grant, Action::Delete)).await?;
        let now = self.clock.now();
        // Its children may have changed while it was in the trash.
        let mut data = prev.data.clone();
        let children = Self::load_children(&mut tx, &form, id, None).await?;
        derive::set_rollups(&form, &mut data, &children, None, now)?;
        let segments = derive::evaluate(&form, &mut data, now)?;
        let changes = diff::record_changes((&prev.data, &prev.segments), (&data, &segments));
        let next = Record { rev: prev.rev + 1, data, segments, updated_by: actor.id, updated_at: now, deleted_at: None, ..prev.clone() };
        Ok(grant.redact(self.commit_change(&form, tx, &prev, Change { next, prev_rev: prev.rev, op: Op::Restore, changes }).await?))
    }

    /// One page of the records `actor` may read matching a filter, in a sort order, after a cursor.
    pub async fn list_records(&self, actor: &Actor, form: &str, params: &ListParams<'_>) -> Result<Page> {
        let compiled = self.form(form).await?;
        let grant = self.grant(actor, &compiled).await?;
        let mut q = query::parse_list(&compiled, params)?;
        grant.check_list(q.filter.as_ref(), &q.sort)?;
        q.filter = grant.narrow(q.filter.take());
        let limit = q.limit as usize;
        q.limit += 1;
        let mut items = self.store.list(compiled.key(), &q).await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|r| query::encode_cursor(r, &q.sort))
        } else {
            None
        };
        Ok(Page { items: items.into_iter().map(|r| grant.redact(r)).collect(), next_cursor })
    }

    /// How many live records `actor` may read match a list filter (the list's count).
    pub async fn count_records(&self, actor: &Actor, form: &str, filter: Option<&str>) -> Result<i64> {
        let compiled = self.form(form).await?;
        let grant = self.grant(actor, &compiled).await?;
        let parsed = match filter {
            Some(f) => {
                let v: serde_json::Value = serde_json::from_str(f).map_err(|e| EngineError::BadRequest { param: "filter", message: format!("filter is not JSON: {e}") })?;
                Some(query::parse_filter(&compiled, &v)?)
            }
            None => None,
        };
        grant.check_list(parsed.as_ref(), &[])?;
        Ok(self.store.count_matching(compiled.key(), grant.narrow(parsed).as_ref()).await?)
    }

    /// Every change of a record, oldest first (deleted records included), as `actor` may see it.
    pub async fn history(&self, actor: &Actor, form: &str, id: Uuid) -> Result<Vec<HistoryEntry>> {
        let compiled = self.form(form).await?;
        let grant = self.grant(actor, &compiled).await?;
        let r = self.store.record(compiled.key(), id).await?.ok_or_else(|| not_found(form, id))?;
        grant.check(Action::Read, &r)?;
        Ok(grant.redact_history(self.store.history(id).await?))
    }
}

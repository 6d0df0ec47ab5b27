//! The sweep: re-evaluates a form's rules — rollups, computed fields,
//! segments — over every live record, in batches, and stores what changed.
//!
//! Rules that read the time (`now()`, `days_since`, windowed rollups) change
//! value without any write, so those forms are swept once a day; a form whose
//! rules were changed is swept once so that existing records follow the new
//! rules; an admin can sweep any form on demand (`trellis segments refresh`).
//! The position is stored after every batch, in the batch's transaction: a
//! sweep cut off by a crash resumes after the last batch it committed.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use trellis_core::query::{Cmp, Filter, ListQuery, Lit, Meta, SortKey, Target};
use trellis_core::{CompiledForm, HistoryEntry, Op, Record, diff};
use trellis_store::SweepState;
use uuid::Uuid;

use crate::derive::{evaluate, set_rollups};
use crate::{Engine, EngineError, Result};

/// Records per batch: one read, one evaluation on a blocking thread, one transaction.
const BATCH: u32 = 1000;

/// The actor of changes the engine makes by itself.
pub const SYSTEM_ACTOR: Uuid = Uuid::nil();

/// What moving the manual clock ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClockReport {
    pub swept: Vec<SweepReport>,
    pub timers_fired: usize,
    /// Trigger moments whose actions ran.
    pub triggers_fired: usize,
    /// Deliveries sent, and attempts that failed.
    pub delivered: usize,
    pub delivery_failures: usize,
}

/// What a sweep did.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub form: String,
    /// Live records re-evaluated, counting those done before a resume.
    pub scanned: i64,
    /// Records whose stored values changed.
    pub changed: i64,
    /// Records whose rules failed; they keep their previous values.
    pub failed: i64,
    /// Whether this sweep continued one that was cut off.
    pub resumed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// One record's re-evaluation.
enum Outcome {
    Same,
    Changed(Box<Record>, serde_json::Map<String, serde_json::Value>),
    Failed(String),
}

pub(crate) fn batch_query(after: Option<Uuid>) -> ListQuery {
    ListQuery { filter: None, sort: vec![SortKey { target: Target::Meta(Meta::Id), desc: false }], after: after.map(|id| vec![Some(Lit::Id(id))]), limit: BATCH, deleted: false }
}

/// Re-evaluates one batch (CPU only; runs on a blocking thread).
fn reevaluate(form: &CompiledForm, batch: Vec<Record>, children: &HashMap<String, HashMap<String, Vec<Record>>>, now: Timestamp) -> Vec<(Record, Outcome)> {
    batch
        .into_iter()
        .map(|rec| {
            let id = rec.id.to_string();
            let mine: HashMap<String, Vec<Record>> = children.iter().map(|(k, by_parent)| (k.clone(), by_parent.get(&id).cloned().unwrap_or_default())).collect();
            let mut data = rec.data.clone();
            let outcome = match set_rollups(form, &mut data, &mine, None, now).and_then(|()| evaluate(form, &mut data, now)) {
                Err(e) => Outcome::Failed(format!("record {}: {e}", rec.id)),
                Ok(segments) => {
                    let changes = diff::record_changes((&rec.data, &rec.segments), (&data, &segments));
                    if changes.is_empty() {
                        Outcome::Same
                    } else {
                        let next = Record { rev: rec.rev + 1, data, segments, updated_by: SYSTEM_ACTOR, updated_at: now, ..rec.clone() };
                        Outcome::Changed(Box::new(next), changes)
                    }
                }
            };
            (rec, outcome)
        })
        .collect()
}

impl Engine {
    /// The children every rollup of `form` needs for a batch of parents, by `from.via` and parent id.
    /// A batch is a run of consecutive ids, and a link is stored as the id's
    /// text, whose order is the id's order: one range scan over the link's
    /// index finds every child of the batch (and of no other live parent).
    pub(crate) async fn batch_children(&self, form: &CompiledForm, parents: &[Record]) -> Result<HashMap<String, HashMap<String, Vec<Record>>>> {
        let mut out: HashMap<String, HashMap<String, Vec<Record>>> = HashMap::new();
        let (Some(first), Some(last)) = (parents.first(), parents.last()) else { return Ok(out) };
        for r in &form.rules.rollups {
            let k = format!("{}.{}", r.def.from, r.def.via);
            if out.contains_key(&k) {
                continue;
            }
            let via = || Target::Data(r.def.via.clone());
            let bound = |id: Uuid| Lit::Json(id.to_string().into());
            let q = ListQuery {
                filter: Some(Filter::All(vec![
                    Filter::Compare { target: via(), op: Cmp::Gte, value: bound(first.id) },
                    Filter::Compare { target: via(), op: Cmp::Lte, value: bound(last.id) },
                ])),
                // By the link first: the link's index then gives the range and the order,
                // which no planner passes over for the form's id order and a sort.
                sort: vec![SortKey { target: via(), desc: false }, SortKey { target: Target::Meta(Meta::Id), desc: false }],
                after: None,
                limit: u32::MAX,
                deleted: false,
            };
            let mut by_parent: HashMap<String, Vec<Record>> = HashMap::new();
            for child in self.store.list(&r.def.from, &q).await? {
                if let Some(p) = child.data.get(&r.def.via).and_then(|v| v.as_str()) {
                    by_parent.entry(p.to_owned()).or_default().push(child);
                }
            }
            out.insert(k, by_parent);
        }
        Ok(out)
    }

    /// The batch of records after `after`, with the children their rollups need.
    async fn fetch(&self, form: &CompiledForm, after: Option<Uuid>) -> Result<(Vec<Record>, HashMap<String, HashMap<String, Vec<Record>>>)> {
        let batch = self.store.list(form.key(), &batch_query(after)).await?;
        let children = self.batch_children(form, &batch).await?;
        Ok((batch, children))
    }

    /// Sweeps one form now, resuming an unfinished sweep. `progress` hears
    /// `(records done, live records)` after every batch.
    pub async fn sweep_form(&self, form: &str, progress: &(dyn Fn(i64, i64) + Send + Sync)) -> Result<SweepReport> {
        let form = self.form(form).await?;
        let now = self.clock.now();
        let total = self.store.count(form.key()).await?;
        let (mut state, resumed) = match self.store.sweep(form.key()).await? {
            Some(s) if s.finished_at.is_none() && s.after.is_some() => (s, true),
            _ => (SweepState { form: form.key().to_owned(), started_at: now, after: None, scanned: 0, changed: 0, failed: 0, finished_at: None }, false),
        };
        let has_parents = !self.all_forms().await?.iter().all(|p| p.rules.rollups.iter().all(|r| r.def.from != form.key()));
        // Claim the row: a rules change that resets it later stops this sweep (checked per batch).
        let mut tx = self.store.begin().await?;
        tx.save_sweep(&state).await?;
        tx.commit().await?;
        let mut first_error = None;
        let mut current = self.fetch(&form, state.after).await?;
        loop {
            let (batch, children) = current;
            let Some(last) = batch.last().map(|r| r.id) else { break };
            // Evaluate this batch in two halves on blocking threads while the next one is read.
            let children = Arc::new(children);
            let mut batch = batch;
            let second = batch.split_off(batch.len() / 2);
            let half = |part: Vec<Record>| {
                let (form, children) = (Arc::clone(&form), Arc::clone(&children));
                tokio::task::spawn_blocking(move || reevaluate(&form, part, &children, now))
            };
            let (a, b, next) = tokio::join!(half(batch), half(second), self.fetch(&form, Some(last)));
            let failed = |e: tokio::task::JoinError| EngineError::Internal(format!("sweep evaluation: {e}"));
            let mut outcomes = a.map_err(failed)?;
            outcomes.extend(b.map_err(failed)?);
            current = next?;
            // A rules change since this sweep began resets its row; the new sweep takes over.
            let row = self.store.sweep(form.key()).await?;
            if row.as_ref().is_none_or(|r| r.started_at != state.started_at || r.after != state.after) {
                tracing::info!(form = %form.key(), "sweep superseded by a newer one (the rules changed)");
                return Ok(SweepReport { form: form.key().to_owned(), scanned: state.scanned, changed: state.changed, failed: state.failed, resumed, first_error });
            }
            let mut tx = self.store.begin().await?;
            let mut history = Vec::new();
            let mut moved = Vec::new();
            // The batch's own rows first (in one statement where the backend allows), parents
            // after: the same lock order as a user's write (child, then parent).
            let mut writes = Vec::new();
            for (prev, outcome) in &outcomes {
                match outcome {
                    Outcome::Same => {}
                    Outcome::Failed(e) => {
                        state.failed += 1;
                        first_error.get_or_insert_with(|| e.clone());
                    }
                    Outcome::Changed(next, _) => writes.push(((**next).clone(), prev.rev)),
                }
            }
            let written: std::collections::HashSet<Uuid> = tx.update_derived(&writes).await?.into_iter().collect();
            for (prev, outcome) in &outcomes {
                let Outcome::Changed(next, changes) = outcome else { continue };
                if written.contains(&next.id) {
                    history.push(HistoryEntry { record_id: next.id, rev: next.rev, op: Op::Update, actor: SYSTEM_ACTOR, actor_email: None, at: now, changes: changes.clone() });
                    moved.push(next.data.clone());
                    state.changed += 1;
                    continue;
                }
                // Written since the batch was read: evaluate again from what is stored now.
                match self.refresh_record(&mut tx, &form, prev.id, None, SYSTEM_ACTOR, now).await {
                    Ok(Some((_, r))) => {
                        moved.push(r.data);
                        state.changed += 1;
                    }
                    Ok(None) => {}
                    Err(EngineError::Rule(f)) => {
                        state.failed += 1;
                        first_error.get_or_insert_with(|| f.message());
                    }
                    Err(e) => return Err(e),
                }
            }
            tx.insert_history(&history).await?;
            if has_parents && !moved.is_empty() {
                let datas: Vec<&serde_json::Map<String, serde_json::Value>> = moved.iter().collect();
                match self.update_parents(&mut tx, form.key(), &datas, SYSTEM_ACTOR, now).await {
                    Ok(_) => {}
                    // A parent's rule fails: its parents keep their values; the sweep goes on.
                    Err(EngineError::Rule(f)) => {
                        state.failed += 1;
                        first_error.get_or_insert_with(|| f.message());
                    }
                    Err(e) => return Err(e),
                }
            }
            state.scanned += outcomes.len() as i64;
            state.after = Some(last);
            tx.save_sweep(&state).await?;
            tx.commit().await?;
            progress(state.scanned, total.max(state.scanned));
        }
        state.finished_at = Some(self.clock.now());
        let mut tx = self.store.begin().await?;
        tx.save_sweep(&state).await?;
        tx.commit().await?;
        if let Some(e) = &first_error {
            tracing::warn!(form = %form.key(), failed = state.failed, first = %e, "rules failed during the sweep");
        }
        tracing::info!(form = %form.key(), scanned = state.scanned, changed = state.changed, "sweep finished");
        Ok(SweepReport { form: form.key().to_owned(), scanned: state.scanned, changed: state.changed, failed: state.failed, resumed, first_error })
    }

    /// Sweeps a form now, for an admin (`segments refresh`).
    pub async fn refresh_segments(&self, actor: &crate::Actor, form: &str) -> Result<SweepReport> {
        actor.require_admin("refresh segments")?;
        self.sweep_form(form, &|_, _| {}).await
    }

    /// Moves a manual clock (an admin, in tests and demos) and runs what
    /// became due: workflow timers, trigger moments, deliveries, then sweeps.
    pub async fn advance_clock(&self, actor: &crate::Actor, now: &str) -> Result<ClockReport> {
        actor.require_admin("set the clock")?;
        let now: Timestamp = now.parse().map_err(|e| EngineError::Invalid(vec![trellis_core::Issue::new("/now", "format", format!("'{now}' is not an RFC 3339 time: {e}")).zh(format!("「{now}」不是 RFC 3339 格式的时间"))]))?;
        if !self.clock.set(now) {
            return Err(EngineError::Forbidden("the clock can be set only when the server runs with --clock manual".into()));
        }
        self.notice_changes().await?;
        let timers_fired = self.fire_due_timers().await?;
        let triggers_fired = self.fire_due_triggers().await?;
        let (delivered, delivery_failures) = self.deliver_due().await?;
        Ok(ClockReport { swept: self.sweep_due().await?, timers_fired, triggers_fired, delivered, delivery_failures })
    }

    /// Sweeps every form that is due: rules changed since the last sweep, a
    /// sweep was cut off, or rules read the time and the form was not swept
    /// yet today (UTC).
    pub async fn sweep_due(&self) -> Result<Vec<SweepReport>> {
        let today = self.clock.now().to_zoned(TimeZone::UTC).date();
        let mut reports = Vec::new();
        for form in self.all_forms().await? {
            if form.rules.is_empty() {
                continue;
            }
            let due = match self.store.sweep(form.key()).await? {
                Some(s) if s.finished_at.is_none() => true,
                Some(s) => form.rules.time_dependent() && s.started_at.to_zoned(TimeZone::UTC).date() < today,
                None => form.rules.time_dependent(),
            };
            if due {
                // One form's failure must not keep the others from their sweep.
                match self.sweep_form(form.key(), &|_, _| {}).await {
                    Ok(r) => reports.push(r),
                    Err(e) => tracing::error!(form = %form.key(), error = %e, "sweep failed; it resumes at the next check"),
                }
            }
        }
        Ok(reports)
    }
}

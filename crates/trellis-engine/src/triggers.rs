//! Triggers on the engine clock: scheduling each (trigger, record)'s next
//! moment, and the tick that handles what is due.
//!
//! The next moment is stored per (trigger, record) in `trigger_schedule`: the
//! write path recomputes it when a field it depends on changes (see `flow`),
//! saving a trigger computes it for every record of its form, and handling a
//! moment computes the one after. The tick reads only due rows through an
//! index. Each moment is an occurrence, unique per (trigger, record, moment)
//! in the database: a retry, a restart or a second instance never handles it
//! twice. A moment found later than the trigger's `max_lateness` (the server
//! was down, the clock jumped) is recorded as missed and not sent.

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use trellis_core::script::Inputs;
use trellis_core::trigger::{CompiledTrigger, When, next_fire, zone_of};
use trellis_store::{Occurrence, Scheduled};
use uuid::Uuid;

use crate::flow::{Flow, Site};
use crate::sweep::{SYSTEM_ACTOR, batch_query};
use crate::{Actor, Engine, EngineError, Result};

/// A record's next moment for a trigger, after `after`; `None` for event triggers.
/// Moments are kept to the microsecond, as both databases store them: a
/// moment read back from the schedule must compare equal to the one computed.
pub(crate) fn next_moment(t: &CompiledTrigger, data: &serde_json::Map<String, serde_json::Value>, after: Timestamp) -> Option<Timestamp> {
    let When::Moment(m, zone) = &t.when else { return None };
    let tz = zone_of(zone, data, &|n| TimeZone::get(n).ok())?;
    let next = next_fire(m, data, &tz, after)?;
    Timestamp::from_microsecond(next.as_microsecond()).ok().filter(|t| *t > after)
}

impl Engine {
    /// Computes a trigger's next moment for every live record of its form, in
    /// batches of 1,000 (one transaction each).
    pub(crate) async fn reschedule(&self, key: &str) -> Result<usize> {
        let defs = self.defs().await?;
        // What an earlier version stored (another form, another moment, or none now) goes first.
        let mut tx = self.store.begin().await?;
        tx.clear_schedules(key).await?;
        tx.commit().await?;
        let Some(t) = defs.triggers.get(key).cloned() else { return Ok(0) };
        if !matches!(t.when, When::Moment(..)) {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut after = None;
        let mut scheduled = 0;
        loop {
            let batch = self.store.list(&t.def.form, &batch_query(after)).await?;
            let Some(last) = batch.last() else { return Ok(scheduled) };
            after = Some(last.id);
            let mut tx = self.store.begin().await?;
            for r in &batch {
                let next = next_moment(&t, &r.data, now);
                scheduled += usize::from(next.is_some());
                tx.set_schedule(t.key(), r.id, &r.form, next).await?;
            }
            tx.commit().await?;
        }
    }

    /// Handles every trigger moment due at the engine clock's time, one per
    /// transaction, earliest first; returns how many fired.
    pub async fn fire_due_triggers(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut fired = 0;
        let mut tried = HashSet::new();
        loop {
            let due: Vec<Scheduled> = self.store.due_schedules(now, 200).await?.into_iter().filter(|s| tried.insert((s.trigger.clone(), s.record_id, s.fire_at))).collect();
            if due.is_empty() {
                return Ok(fired);
            }
            for s in due {
                match self.handle_moment(&s, now).await {
                    Ok(true) => fired += 1,
                    Ok(false) => {}
                    Err(e @ EngineError::Store(_)) => tracing::warn!(trigger = %s.trigger, record = %s.record_id, error = %e, "a trigger moment hit a database error; it stays due"),
                    Err(e) => {
                        // The condition or the actions failed: record the occurrence as failed (not retried
                        // forever) and go on to the next moment, so next year's birthday still comes.
                        tracing::error!(trigger = %s.trigger, record = %s.record_id, error = %e, "a trigger's condition or actions failed; the occurrence is recorded as failed");
                        let mut tx = self.store.begin().await?;
                        let data = tx.record_for_update(&s.form, s.record_id).await?.map(|r| r.data).unwrap_or_default();
                        if tx.lock_schedule(&s.trigger, s.record_id, s.fire_at).await?.is_some() {
                            let o = Occurrence { trigger: s.trigger.clone(), record_id: s.record_id, at: s.fire_at, status: "failed".into(), handled_at: now };
                            tx.insert_occurrence(&o).await?;
                            let next = self.defs().await?.triggers.get(&s.trigger).and_then(|t| next_moment(t, &data, s.fire_at));
                            tx.set_schedule(&s.trigger, s.record_id, &s.form, next).await?;
                        }
                        tx.commit().await?;
                    }
                }
            }
        }
    }

    /// Handles one due moment: record, then schedule row, locked in that order.
    async fn handle_moment(&self, s: &Scheduled, now: Timestamp) -> Result<bool> {
        let mut tx = self.store.begin().await?;
        let record = tx.record_for_update(&s.form, s.record_id).await?;
        if tx.lock_schedule(&s.trigger, s.record_id, s.fire_at).await?.is_none() {
            return Ok(false);
        }
        let mut flow = Flow::new(self, SYSTEM_ACTOR, now).await?;
        let t = flow.defs().triggers.get(&s.trigger).cloned();
        // A trigger changed since the row was stored (now an event, or on another form) keeps nothing.
        let t = t.filter(|t| matches!(t.when, When::Moment(..)) && t.def.form == s.form);
        let (Some(t), Some(record)) = (t, record.filter(|r| r.deleted_at.is_none())) else {
            tx.set_schedule(&s.trigger, s.record_id, &s.form, None).await?;
            tx.commit().await?;
            return Ok(false);
        };
        let late = now.duration_since(s.fire_at) > t.max_lateness;
        let holds = !late && t.holds(&Inputs { record: &record.data, segments: &record.segments, now }).map_err(|e| EngineError::Workflow(format!("trigger '{}', condition: {}", t.key(), e.describe())))?;
        let status = if late { "missed" } else if holds { "fired" } else { "skipped" };
        let o = Occurrence { trigger: s.trigger.clone(), record_id: s.record_id, at: s.fire_at, status: status.into(), handled_at: now };
        let first = tx.insert_occurrence(&o).await?;
        if first && holds {
            let by = format!("trigger '{}'", t.key());
            let site = Site { form: &record.form, record_id: record.id, workflow: None, state: None, instance: None, by: &by, deleted_ok: false };
            let occurrence = format!("trigger:{}:{}:{}", t.key(), record.id, s.fire_at);
            flow.run(&mut tx, site, &t.actions, &occurrence, "actions").await?;
            flow.settle(&mut tx).await?;
        }
        // The next moment counts from this one, from the record as it is now.
        let data = tx.record_for_update(&s.form, s.record_id).await?.map(|r| r.data).unwrap_or_default();
        tx.set_schedule(&s.trigger, s.record_id, &s.form, next_moment(&t, &data, s.fire_at)).await?;
        tx.commit().await?;
        if late {
            tracing::warn!(trigger = %s.trigger, record = %s.record_id, due = %s.fire_at, "a trigger moment was found later than its max_lateness and recorded as missed");
        }
        Ok(first && holds)
    }

    /// Occurrences (admins), newest first: what each trigger did, skipped or missed.
    pub async fn occurrences(&self, actor: &Actor, trigger: Option<&str>, record: Option<Uuid>, limit: Option<i64>) -> Result<Vec<Occurrence>> {
        actor.require_admin("read trigger occurrences")?;
        Ok(self.store.occurrences(trigger, record, limit.unwrap_or(100).clamp(1, 500)).await?)
    }
}

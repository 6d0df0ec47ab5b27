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

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use trellis_core::Record;
use trellis_core::action::{Action, DigestSpec};
use trellis_core::script::Inputs;
use trellis_core::trigger::{CompiledTrigger, When, next_allowed, next_cron, next_fire, zone_of};
use trellis_store::{Occurrence, Scheduled, Tx};
use uuid::Uuid;

use crate::definitions::Defs;
use crate::flow::{Flow, Site};
use crate::sweep::{SYSTEM_ACTOR, batch_query};
use crate::{Actor, Engine, EngineError, Result};

/// Kept to the microsecond, as both databases store instants: a moment read
/// back from the schedule must compare equal to the one computed.
fn to_micros(t: Timestamp) -> Option<Timestamp> {
    Timestamp::from_microsecond(t.as_microsecond()).ok()
}

/// A record's next moment for a moment trigger, after `after`, moved off
/// days off and out of quiet hours; `None` for other triggers.
pub(crate) fn next_moment(t: &CompiledTrigger, data: &Map<String, Value>, after: Timestamp, defs: &Defs) -> Option<Timestamp> {
    let When::Moment(m, zone) = &t.when else { return None };
    let tz = zone_of(zone, data, &|n| TimeZone::get(n).ok())?;
    let next = next_allowed(|from| next_fire(m, data, &tz, from), &t.days, defs.calendars.get(&t.days.calendar).map(|c| &**c), &tz, after)?;
    to_micros(next).filter(|t| *t > after)
}

/// A cron trigger's next run after `after`; `None` for other triggers.
fn next_run(t: &CompiledTrigger, after: Timestamp, defs: &Defs) -> Option<Timestamp> {
    let When::Cron(cron, zone) = &t.when else { return None };
    let tz = TimeZone::get(zone).ok()?;
    let next = next_allowed(|from| next_cron(cron, &tz, from), &t.days, defs.calendars.get(&t.days.calendar).map(|c| &**c), &tz, after)?;
    to_micros(next).filter(|t| *t > after)
}

/// Due moments handled per transaction.
const MOMENTS_PER_TX: usize = 50;

/// One recipient's digest, as it is gathered.
#[derive(Default)]
struct Gathered {
    count: usize,
    items: Vec<Value>,
}

impl Engine {
    /// Computes a trigger's next moment for every live record of its form, in
    /// batches of 1,000 (one transaction each).
    pub(crate) async fn reschedule(&self, key: &str) -> Result<usize> {
        let defs = self.defs().await?;
        // What an earlier version stored (another form, another moment, or none now) goes first.
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.clear_schedules(key, now).await?;
        tx.commit().await?;
        // Switched off: nothing is kept to fire (a cron run already due is forgotten when it comes up).
        let Some(t) = defs.triggers.get(key).filter(|t| t.def.enabled).cloned() else { return Ok(0) };
        if matches!(t.when, When::Cron(..)) {
            let mut tx = self.store.begin().await?;
            // A run that is due stays: it finishes, then the next is computed from the new version.
            if tx.cron_of(key).await?.is_some() {
                tx.commit().await?;
                return Ok(1);
            }
            let next = next_run(&t, now, &defs);
            tx.set_cron(key, &t.def.form, next).await?;
            tx.commit().await?;
            if next.is_none() {
                tracing::warn!(trigger = %key, "a cron trigger has no run in the next 400 days that its working days and quiet hours allow");
            }
            return Ok(usize::from(next.is_some()));
        }
        if !matches!(t.when, When::Moment(..)) {
            return Ok(0);
        }
        let mut after = None;
        let mut scheduled = 0;
        loop {
            let batch = self.store.list(&t.def.form, &batch_query(after)).await?;
            let Some(last) = batch.last() else { return Ok(scheduled) };
            after = Some(last.id);
            let mut tx = self.store.begin().await?;
            for r in &batch {
                let next = next_moment(&t, &r.data, now, &defs);
                scheduled += usize::from(next.is_some());
                tx.set_schedule(t.key(), r.id, &r.form, next).await?;
            }
            tx.commit().await?;
        }
    }

    /// Handles every trigger moment and cron run due at the engine clock's
    /// time, moments 50 to a transaction, earliest first; returns how many
    /// fired (a cron run counts once, plus once per record its actions ran on).
    pub async fn fire_due_triggers(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut fired = self.fire_due_crons(now).await?;
        let mut tried = HashSet::new();
        loop {
            let due: Vec<Scheduled> = self.store.due_schedules(now, 200).await?.into_iter().filter(|s| tried.insert((s.trigger.clone(), s.record_id, s.fire_at))).collect();
            if due.is_empty() {
                return Ok(fired);
            }
            for chunk in due.chunks(MOMENTS_PER_TX) {
                // Many moments per transaction (a commit is the dearest statement); when one of them
                // fails, none of the chunk is kept and each is handled on its own below.
                match self.handle_moments(chunk, now).await {
                    Ok(n) => {
                        fired += n;
                        continue;
                    }
                    Err(e) => tracing::debug!(error = %e, "a batch of trigger moments failed; handling them one by one"),
                }
                for s in chunk {
                    match self.handle_moment(s, now).await {
                        Ok(true) => fired += 1,
                        Ok(false) => {}
                        Err(e @ EngineError::Store(_)) => tracing::warn!(trigger = %s.trigger, record = %s.record_id, error = %e, "a trigger moment hit a database error; it stays due"),
                        Err(e) => {
                            // The condition or the actions failed: record the occurrence as failed (not retried
                            // forever) and go on to the next moment, so next year's birthday still comes.
                            tracing::error!(trigger = %s.trigger, record = %s.record_id, error = %e, "a trigger's condition or actions failed; the occurrence is recorded as failed");
                            self.record_failed_moment(s, now).await?;
                        }
                    }
                }
            }
        }
    }

    async fn record_failed_moment(&self, s: &Scheduled, now: Timestamp) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let data = tx.record_for_update(&s.form, s.record_id).await?.map(|r| r.data).unwrap_or_default();
        if tx.lock_schedule(&s.trigger, s.record_id, s.fire_at).await?.is_some() {
            let o = Occurrence { trigger: s.trigger.clone(), record_id: s.record_id, at: s.fire_at, status: "failed".into(), handled_at: now };
            tx.insert_occurrence(&o).await?;
            let defs = self.defs().await?;
            let next = defs.triggers.get(&s.trigger).and_then(|t| next_moment(t, &data, s.fire_at, &defs));
            tx.set_schedule(&s.trigger, s.record_id, &s.form, next).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Handles due moments in one transaction; how many fired.
    async fn handle_moments(&self, chunk: &[Scheduled], now: Timestamp) -> Result<usize> {
        let mut tx = self.store.begin().await?;
        let mut fired = 0;
        for s in chunk {
            fired += usize::from(self.handle_moment_in(&mut tx, s, now).await?);
        }
        tx.commit().await?;
        Ok(fired)
    }

    /// Handles one due moment in its own transaction.
    async fn handle_moment(&self, s: &Scheduled, now: Timestamp) -> Result<bool> {
        let mut tx = self.store.begin().await?;
        let fired = self.handle_moment_in(&mut tx, s, now).await?;
        tx.commit().await?;
        Ok(fired)
    }

    /// Handles one due moment inside `tx`: record, then schedule row, locked in that order.
    async fn handle_moment_in(&self, tx: &mut Tx, s: &Scheduled, now: Timestamp) -> Result<bool> {
        let record = tx.record_for_update(&s.form, s.record_id).await?;
        if tx.lock_schedule(&s.trigger, s.record_id, s.fire_at).await?.is_none() {
            return Ok(false);
        }
        let mut flow = Flow::new(self, SYSTEM_ACTOR, now).await?;
        let t = flow.defs().triggers.get(&s.trigger).cloned();
        // A trigger changed since the row was stored (now an event, or on another form) keeps nothing.
        let t = t.filter(|t| matches!(t.when, When::Moment(..)) && t.def.form == s.form && t.def.enabled);
        let (Some(t), Some(record)) = (t, record.filter(|r| r.deleted_at.is_none())) else {
            tx.set_schedule(&s.trigger, s.record_id, &s.form, None).await?;
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
            flow.run(tx, site, &t.actions, &occurrence, "actions").await?;
            flow.settle(tx).await?;
        }
        // The next moment counts from this one, from the record as it is now.
        let data = if flow.wrote() { tx.record_for_update(&s.form, s.record_id).await?.map(|r| r.data).unwrap_or_default() } else { record.data };
        let next = next_moment(&t, &data, s.fire_at, flow.defs());
        tx.set_schedule(&s.trigger, s.record_id, &s.form, next).await?;
        if late {
            tracing::warn!(trigger = %s.trigger, record = %s.record_id, due = %s.fire_at, "a trigger moment was found later than its max_lateness and recorded as missed");
        }
        Ok(first && holds)
    }

    /// A record's next reminders: each moment trigger's next moment for it, earliest first.
    pub async fn next_reminders(&self, actor: &Actor, form: &str, id: Uuid) -> Result<Vec<Scheduled>> {
        self.get_record(actor, form, id).await?;
        Ok(self.store.schedules_of(id).await?)
    }

    /// The reminder moments in `[from, to)` of records `actor` may read,
    /// earliest first: a calendar's reminders. At most `limit` moments are
    /// looked at; the flag says there were more.
    pub async fn reminders_between(&self, actor: &Actor, from: Timestamp, to: Timestamp, limit: usize) -> Result<(Vec<(Scheduled, Option<String>)>, bool)> {
        let moments = self.store.schedules_between(from, to, limit as i64 + 1).await?;
        let more = moments.len() > limit;
        let defs = self.defs().await?;
        // One grant per form (a team scope reads every user), not one per moment.
        let mut grants: std::collections::HashMap<String, Option<crate::access::Grant>> = std::collections::HashMap::new();
        let mut out = Vec::new();
        for m in moments.into_iter().take(limit) {
            if !grants.contains_key(&m.form) {
                let grant = match self.form(&m.form).await {
                    Ok(compiled) => Some(self.grant(actor, &compiled).await?),
                    Err(_) => None,
                };
                grants.insert(m.form.clone(), grant);
            }
            let Some(grant) = grants.get(&m.form).and_then(Option::as_ref) else { continue };
            // A record the caller may not read (or gone meanwhile) is not on their calendar.
            let readable = self.store.record(&m.form, m.record_id).await?.is_some_and(|r| r.deleted_at.is_none() && grant.allows(trellis_core::permission::Action::Read, &r));
            if readable {
                let title = defs.triggers.get(&m.trigger).and_then(|t| t.def.title.clone());
                out.push((m, title));
            }
        }
        Ok((out, more))
    }

    /// Occurrences (admins), newest first: what each trigger did, skipped or missed.
    pub async fn occurrences(&self, actor: &Actor, trigger: Option<&str>, record: Option<Uuid>, limit: Option<i64>) -> Result<Vec<Occurrence>> {
        actor.require_admin("read trigger occurrences")?;
        Ok(self.store.occurrences(trigger, record, limit.unwrap_or(100).clamp(1, 500)).await?)
    }

    /// Runs the cron triggers due at `now`.
    async fn fire_due_crons(&self, now: Timestamp) -> Result<usize> {
        let mut fired = 0;
        let mut tried = HashSet::new();
        // A run handled late stores the next one, which may be due already (at `now`): loop until none is new.
        loop {
            let due: Vec<Scheduled> = self.store.due_crons(now, 100).await?.into_iter().filter(|s| tried.insert((s.trigger.clone(), s.fire_at))).collect();
            if due.is_empty() {
                return Ok(fired);
            }
            for s in due {
                match self.run_cron(&s, now).await {
                    Ok(n) => fired += n,
                    Err(e @ EngineError::Store(_)) => tracing::warn!(trigger = %s.trigger, error = %e, "a cron run hit a database error; it stays due"),
                    Err(e) => {
                        tracing::error!(trigger = %s.trigger, error = %e, "a cron trigger's digest failed; the run is recorded as failed");
                        if let Err(e) = self.finish_cron(&s, now, "failed").await {
                            tracing::warn!(trigger = %s.trigger, error = %e, "recording a failed cron run hit an error; it stays due");
                        }
                    }
                }
            }
        }
    }

    /// One cron run: every live record of the form whose condition holds is
    /// picked (an occurrence each, so a run resumed after a crash, or run by
    /// two instances, acts on each record once), the per-record actions run
    /// on it, then the run itself is recorded and its digests sent.
    async fn run_cron(&self, s: &Scheduled, now: Timestamp) -> Result<usize> {
        let defs = self.defs().await?;
        let t = defs.triggers.get(&s.trigger).filter(|t| matches!(t.when, When::Cron(..)) && t.def.form == s.form && t.def.enabled).cloned();
        let Some(t) = t else {
            // Gone, or no longer a cron of this form: forget the run.
            let mut tx = self.store.begin().await?;
            if tx.lock_cron(&s.trigger, s.fire_at).await?.is_some() {
                tx.set_cron(&s.trigger, &s.form, None).await?;
            }
            tx.commit().await?;
            return Ok(0);
        };
        if now.duration_since(s.fire_at) > t.max_lateness {
            tracing::warn!(trigger = %s.trigger, due = %s.fire_at, "a cron run was found later than its max_lateness and recorded as missed");
            self.finish_cron(s, now, "missed").await?;
            return Ok(0);
        }
        let per_record: Vec<Action> = t.actions.iter().filter(|a| !matches!(a, Action::Digest(_))).cloned().collect();
        // Records created from here on (by this run's own actions, say) are not
        // part of it: ids are time-ordered (UUIDv7), so the scan stops at this one.
        let horizon = Uuid::now_v7();
        let mut fired = 0;
        let mut after = None;
        loop {
            let batch = self.store.list(&t.def.form, &batch_query(after)).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let mut picked = Vec::new();
            for r in batch.iter().filter(|r| r.id < horizon) {
                match t.holds(&Inputs { record: &r.data, segments: &r.segments, now }) {
                    Ok(true) => picked.push((r.id, "fired")),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(trigger = %s.trigger, record = %r.id, error = %e.describe(), "a cron trigger's condition failed on a record; it is left out");
                        picked.push((r.id, "failed"));
                    }
                }
            }
            if per_record.is_empty() {
                let mut tx = self.store.begin().await?;
                for (id, status) in picked {
                    tx.insert_occurrence(&Occurrence { trigger: s.trigger.clone(), record_id: id, at: s.fire_at, status: status.into(), handled_at: now }).await?;
                }
                tx.commit().await?;
                continue;
            }
            for (id, status) in picked {
                let ran = match status {
                    "fired" => self.cron_record(&t, &per_record, s, id, now).await,
                    _ => Err(EngineError::Workflow("the condition failed".into())),
                };
                match ran {
                    Ok(first) => fired += usize::from(first),
                    Err(e @ EngineError::Store(_)) => return Err(e),
                    Err(e) => {
                        tracing::error!(trigger = %s.trigger, record = %id, error = %e, "a cron trigger's actions failed on a record; its occurrence is recorded as failed");
                        let mut tx = self.store.begin().await?;
                        tx.insert_occurrence(&Occurrence { trigger: s.trigger.clone(), record_id: id, at: s.fire_at, status: "failed".into(), handled_at: now }).await?;
                        tx.commit().await?;
                    }
                }
            }
        }
        Ok(fired + usize::from(self.finish_cron(s, now, "fired").await?))
    }

    /// The digests of a run, per action: each recipient with the records the
    /// run picked for them. Read from committed occurrences before the run's
    /// last transaction, so the writer is not held while reading.
    async fn gather_digests(&self, t: &CompiledTrigger, s: &Scheduled, flow: &Flow<'_>) -> Result<Vec<(usize, BTreeMap<Uuid, Gathered>)>> {
        let specs: Vec<(usize, &DigestSpec)> = t.actions.iter().enumerate().filter_map(|(i, a)| if let Action::Digest(d) = a { Some((i, d)) } else { None }).collect();
        let mut out: Vec<(usize, BTreeMap<Uuid, Gathered>)> = specs.iter().map(|(i, _)| (*i, BTreeMap::new())).collect();
        if specs.is_empty() {
            return Ok(out);
        }
        let hides = !trellis_core::permission::Access::common(&self.form(&s.form).await?.def).hidden.is_empty();
        let roles = if hides { flow.roles().await? } else { Default::default() };
        let mut after = None;
        loop {
            let ids = self.store.fired_records(&s.trigger, s.fire_at, after, 500).await?;
            let Some(last) = ids.last() else { break };
            after = Some(*last);
            for id in ids {
                let Some(record) = self.store.record(&s.form, id).await?.filter(|r| r.deleted_at.is_none()) else { continue };
                for ((_, spec), (_, groups)) in specs.iter().zip(out.iter_mut()) {
                    for user in flow.recipients(&spec.to, &record).await? {
                        let g = groups.entry(user).or_default();
                        g.count += 1;
                        if g.items.len() < spec.limit {
                            // Each recipient's digest shows the record as their role may see it.
                            let role = roles.get(&user).map_or("staff", String::as_str);
                            let shown = if hides { flow.as_seen(&record, Some(role)).await? } else { record.clone() };
                            g.items.push(digest_item(&shown));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Runs a cron trigger's per-record actions on one record it picked, once.
    async fn cron_record(&self, t: &CompiledTrigger, actions: &[Action], s: &Scheduled, id: Uuid, now: Timestamp) -> Result<bool> {
        let mut tx = self.store.begin().await?;
        let Some(record) = tx.record_for_update(&s.form, id).await?.filter(|r| r.deleted_at.is_none()) else { return Ok(false) };
        let o = Occurrence { trigger: s.trigger.clone(), record_id: id, at: s.fire_at, status: "fired".into(), handled_at: now };
        if !tx.insert_occurrence(&o).await? {
            return Ok(false);
        }
        let mut flow = Flow::new(self, SYSTEM_ACTOR, now).await?;
        let by = format!("trigger '{}'", t.key());
        let site = Site { form: &record.form, record_id: record.id, workflow: None, state: None, instance: None, by: &by, deleted_ok: false };
        flow.run(&mut tx, site, actions, &format!("trigger:{}:{}:{}", t.key(), record.id, s.fire_at), "actions").await?;
        flow.settle(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a cron run (the nil record) with `status`, sends its digests
    /// when it fired, and schedules the next run — in one transaction, so
    /// the digests go out once. False when another instance finished it.
    async fn finish_cron(&self, s: &Scheduled, now: Timestamp, status: &str) -> Result<bool> {
        let flow = Flow::new(self, SYSTEM_ACTOR, now).await?;
        let defs = flow.defs().clone();
        let t = defs.triggers.get(&s.trigger).cloned();
        let digests = match (&t, status) {
            (Some(t), "fired") => self.gather_digests(t, s, &flow).await?,
            _ => Vec::new(),
        };
        let mut tx = self.store.begin().await?;
        if tx.lock_cron(&s.trigger, s.fire_at).await?.is_none() {
            return Ok(false);
        }
        let o = Occurrence { trigger: s.trigger.clone(), record_id: Uuid::nil(), at: s.fire_at, status: status.into(), handled_at: now };
        let first = tx.insert_occurrence(&o).await?;
        if let Some(t) = t.as_ref().filter(|_| first) {
            for (i, groups) in digests {
                let Some(Action::Digest(spec)) = t.actions.get(i) else { continue };
                let by = format!("trigger '{}', digest action {i}", t.key());
                for (user, g) in groups {
                    flow.send_digest(&mut tx, spec, user, &s.form, g.items, g.count, &format!("cron:{}:{}:{i}", t.key(), s.fire_at)).await.map_err(|e| match e {
                        EngineError::Workflow(m) => EngineError::Workflow(format!("{by}: {m}")),
                        e => e,
                    })?;
                }
            }
        }
        // After downtime the next run is the first still to come (one due right now included), not each one missed.
        let from = s.fire_at.max(now.checked_sub(jiff::SignedDuration::from_micros(1)).unwrap_or(now));
        let next = t.as_ref().and_then(|t| next_run(t, from, &defs));
        if next.is_none() && t.is_some() {
            tracing::warn!(trigger = %s.trigger, "a cron trigger has no run in the next 400 days that its working days and quiet hours allow");
        }
        tx.set_cron(&s.trigger, &s.form, next).await?;
        tx.commit().await?;
        Ok(first && status == "fired")
    }
}

/// A record as a digest lists it: what a record's own template sees.
fn digest_item(r: &Record) -> Value {
    json!({"id": r.id, "record": r.data, "segments": r.segments, "owner": r.owner})
}

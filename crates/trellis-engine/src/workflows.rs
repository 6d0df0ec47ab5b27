//! Workflow instances as people see and move them: the workflows on a
//! record with their state and the transitions open from it, starting one
//! by hand, taking a transition by hand, and the timers that fire by the
//! engine clock.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::Serialize;
use trellis_core::workflow::{Refusal, StartOn, guard};
use trellis_store::{Instance, Timer};
use uuid::Uuid;

use crate::flow::Flow;
use crate::sweep::SYSTEM_ACTOR;
use crate::{Actor, Engine, EngineError, Result, Role};

/// A transition as the record page offers it.
#[derive(Debug, Clone, Serialize)]
pub struct Offered {
    pub key: String,
    pub title: Option<String>,
    pub to: String,
    /// It fires by itself when its condition holds.
    pub automatic: bool,
    /// Why it cannot be taken now (its guard's message), if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

/// A workflow on a record.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub id: Uuid,
    pub workflow: String,
    pub title: Option<String>,
    pub state: String,
    pub state_title: Option<String>,
    /// `active`, `finished` or `cancelled`.
    pub status: String,
    pub started_at: Timestamp,
    pub entered_at: Timestamp,
    pub transitions: Vec<Offered>,
    /// The workflow's states in order, for a stage bar (anyone who may read the record may see them).
    pub states: Vec<StageView>,
    /// When the state's next timer fires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_timer_at: Option<Timestamp>,
}

/// One state of a workflow as a stage bar shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StageView {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "final")]
    pub is_final: bool,
}

impl Engine {
    async fn view(&self, inst: Instance) -> Result<InstanceView> {
        let defs = self.defs().await?;
        let wf = defs.workflows.get(&inst.workflow);
        let record = self.store.record(&inst.form, inst.record_id).await?;
        let mut transitions = Vec::new();
        if let (Some(wf), Some(record), true) = (wf, &record, inst.status == "active") {
            let inputs = trellis_core::script::Inputs { record: &record.data, segments: &record.segments, now: self.clock.now() };
            for t in wf.leaving(&inst.state) {
                let blocked = match guard(t, &inputs) {
                    Ok(()) => None,
                    Err(Refusal::Guard(m)) => Some(m),
                    Err(Refusal::GuardFailed(e)) => Some(format!("the guard failed: {}", e.describe())),
                    Err(_) => None,
                };
                transitions.push(Offered { key: t.key.clone(), title: t.title.clone(), to: t.to.clone(), automatic: t.when.is_some(), blocked });
            }
        }
        let next_timer_at = self.store.pending_timers(inst.id).await?.first().map(|t| t.fire_at);
        Ok(InstanceView {
            id: inst.id,
            title: wf.and_then(|w| w.def.title.clone()),
            state_title: wf.and_then(|w| w.state(&inst.state)).and_then(|s| s.title.clone()),
            workflow: inst.workflow,
            state: inst.state,
            status: inst.status,
            started_at: inst.started_at,
            entered_at: inst.entered_at,
            transitions,
            states: wf.map(|w| w.states.values().map(|s| StageView { key: s.key.clone(), title: s.title.clone(), is_final: s.is_final }).collect()).unwrap_or_default(),
            next_timer_at,
        })
    }

    /// The workflows on a record (running and ended), oldest first.
    pub async fn record_workflows(&self, actor: &Actor, form: &str, id: Uuid) -> Result<Vec<InstanceView>> {
        self.get_record(actor, form, id).await?;
        let mut out = Vec::new();
        for inst in self.store.instances_of(id).await? {
            out.push(self.view(inst).await?);
        }
        Ok(out)
    }

    /// Starts a workflow on a record by hand.
    pub async fn start_workflow(&self, actor: &Actor, form: &str, id: Uuid, workflow: &str) -> Result<InstanceView> {
        let compiled = self.form(form).await?;
        let mut tx = self.store.begin().await?;
        let record = tx.record_for_update(compiled.key(), id).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(|| EngineError::NotFound(format!("there is no live record {id} in form '{form}'")))?;
        self.grant(actor, &compiled).await?.check(trellis_core::permission::Action::Write, &record)?;
        let now = self.clock.now();
        let mut flow = Flow::new(self, actor.id, now).await?;
        let wf = flow.defs().workflows.get(workflow).cloned().ok_or_else(|| EngineError::NotFound(format!("there is no workflow '{workflow}'")))?;
        if wf.def.form != compiled.key() {
            return Err(EngineError::Invalid(vec![trellis_core::Issue::new("/workflow", "workflow", format!("workflow '{workflow}' runs on form '{}', not '{form}'", wf.def.form))]));
        }
        if actor.role == Role::Staff && wf.def.start.on != StartOn::Manual {
            return Err(EngineError::Forbidden(format!("workflow '{workflow}' starts by itself; only managers and admins may start it by hand")));
        }
        let inst = flow.start(&mut tx, &wf, &record).await?;
        flow.automatic(&mut tx, inst.id).await?;
        flow.settle(&mut tx).await?;
        let inst = tx.instance_for_update(inst.id).await?.ok_or_else(|| EngineError::Internal("the started instance vanished".into()))?;
        tx.commit().await?;
        self.view(inst).await
    }

    /// Takes a transition by hand: 404 for an unknown instance or transition,
    /// 409 when it does not leave the current state (or the workflow ended),
    /// 403 when the transition is for other roles, 422 with the guard's message.
    pub async fn take_transition(&self, actor: &Actor, instance: Uuid, key: &str) -> Result<InstanceView> {
        let missing = || EngineError::NotFound(format!("there is no workflow instance {instance}"));
        let first = self.store.instance(instance).await?.ok_or_else(missing)?;
        // Record, then instance: the order every write locks them in.
        let mut tx = self.store.begin().await?;
        tx.record_for_update(&first.form, first.record_id).await?;
        let inst = tx.instance_for_update(instance).await?.ok_or_else(missing)?;
        let now = self.clock.now();
        let mut flow = Flow::new(self, actor.id, now).await?;
        let wf = flow.defs().workflows.get(&inst.workflow).cloned().ok_or_else(|| EngineError::NotFound(format!("workflow '{}' no longer exists", inst.workflow)))?;
        if inst.status != "active" {
            let zh = format!("「{}」已经{}", wf.def.title.as_deref().unwrap_or(&inst.workflow), if inst.status == "finished" { "结束" } else { "取消" });
            return Err(EngineError::Conflict { zh: Some(zh), message: format!("workflow '{}' on this record has {} (in state '{}')", inst.workflow, inst.status, inst.state), key: None });
        }
        let record = tx.record_for_update(&inst.form, inst.record_id).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(|| EngineError::Gone(format!("record {} was deleted", inst.record_id)))?;
        let compiled = self.form(&inst.form).await?;
        self.grant(actor, &compiled).await?.check(trellis_core::permission::Action::Write, &record)?;
        if let Some(t) = wf.transition(key)
            && !t.roles.is_empty()
            && actor.role != Role::Admin
            && !t.roles.iter().any(|r| r == actor.role.as_str())
        {
            return Err(EngineError::Forbidden(format!("transition '{key}' is for {}; {} is {}", t.roles.join(", "), actor.email, actor.role.as_str())));
        }
        let inputs = trellis_core::script::Inputs { record: &record.data, segments: &record.segments, now };
        let t = match wf.check(&inst.state, key, &inputs) {
            Ok(t) => t.clone(),
            Err(Refusal::Unknown) => return Err(EngineError::NotFound(format!("workflow '{}' has no transition '{key}'", inst.workflow))),
            Err(Refusal::NotFrom) => {
                let open: Vec<&str> = wf.leaving(&inst.state).map(|t| t.key.as_str()).collect();
                let open = if open.is_empty() { "none".to_owned() } else { open.join(", ") };
                let title = |k: &str| wf.state(k).and_then(|s| s.title.clone()).unwrap_or_else(|| k.to_owned());
                let named = wf.transition(key).and_then(|t| t.title.clone()).unwrap_or_else(|| key.to_owned());
                let zh = format!("当前在「{}」，无法「{named}」", title(&inst.state));
                return Err(EngineError::Conflict { zh: Some(zh), message: format!("transition '{key}' does not leave state '{}'; from here: {open}", inst.state), key: None });
            }
            Err(Refusal::Guard(m)) => return Err(EngineError::Guard(m)),
            Err(Refusal::GuardFailed(e)) => {
                let i = wf.transitions.iter().position(|t| t.key == key).unwrap_or(0);
                return Err(EngineError::Rule(Box::new(trellis_core::rules::RuleFailure {
                    form: wf.def.form.clone(),
                    rule: format!("workflows.{}.transitions.{key}", wf.key()),
                    pointer: format!("/transitions/{i}/guard"),
                    error: e,
                })));
            }
        };
        let moved = flow.take(&mut tx, &wf, inst, &t).await?;
        flow.automatic(&mut tx, moved.id).await?;
        flow.settle(&mut tx).await?;
        let inst = tx.instance_for_update(moved.id).await?.ok_or_else(|| EngineError::Internal("the instance vanished".into()))?;
        tx.commit().await?;
        self.view(inst).await
    }

    /// Fires every timer due at the engine clock's time, one per transaction,
    /// oldest first; returns how many fired. A timer whose actions fail is
    /// marked failed with the reason (it is not retried forever); one that hit
    /// a database error (a deadlock, a lost connection) stays pending for the next tick.
    pub async fn fire_due_timers(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut fired = 0;
        let mut tried = HashSet::new();
        loop {
            let due = self.store.due_timers(now, 200).await?;
            let fresh: Vec<_> = due.into_iter().filter(|(t, _, _)| tried.insert(t.id)).collect();
            if fresh.is_empty() {
                return Ok(fired);
            }
            for (timer, form, record) in fresh {
                match self.fire(&timer, &form, record, now).await {
                    Ok(true) => fired += 1,
                    Ok(false) => {}
                    Err(e @ EngineError::Store(_)) => tracing::warn!(timer = %timer.id, error = %e, "a workflow timer hit a database error; it stays due"),
                    Err(e) => {
                        tracing::error!(timer = %timer.id, error = %e, "a workflow timer failed; it is marked failed");
                        let mut tx = self.store.begin().await?;
                        if let Some(seen) = tx.lock_pending_timer(timer.id).await? {
                            let failed = Timer { status: "failed".into(), last_error: Some(e.to_string()), ..seen.clone() };
                            tx.update_timer(&failed, &seen).await?;
                        }
                        tx.commit().await?;
                    }
                }
            }
        }
    }

    /// Fires one timer in its own transaction, locking record, instance and
    /// timer in the order every write locks them. False when it was not fired
    /// (another instance holds it, or its state was left and it is cancelled).
    async fn fire(&self, candidate: &Timer, form: &str, record: Uuid, now: Timestamp) -> Result<bool> {
        let mut tx = self.store.begin().await?;
        let live = tx.record_for_update(form, record).await?.is_some_and(|r| r.deleted_at.is_none());
        let inst = tx.instance_for_update(candidate.instance_id).await?;
        let Some(seen) = tx.lock_pending_timer(candidate.id).await? else { return Ok(false) };
        let mut flow = Flow::new(self, SYSTEM_ACTOR, now).await?;
        let wf = inst.as_ref().and_then(|i| flow.defs().workflows.get(&i.workflow).cloned());
        let def = wf.as_ref().and_then(|w| w.state(&seen.state)).and_then(|s| s.timers.get(seen.timer as usize)).cloned();
        let mut t = seen.clone();
        let (Some(inst), Some(wf), Some(def)) = (inst, wf, def) else {
            t.status = "cancelled".into();
            tx.update_timer(&t, &seen).await?;
            tx.commit().await?;
            return Ok(false);
        };
        if inst.status != "active" || inst.state != seen.state || !live {
            t.status = "cancelled".into();
            tx.update_timer(&t, &seen).await?;
            tx.commit().await?;
            return Ok(false);
        }
        let occurrence = format!("timer:{}:{}", t.id, t.fired);
        let place = format!("state '{}' timer {}", seen.state, seen.timer);
        let by = format!("workflow '{}'", wf.key());
        flow.run(&mut tx, crate::flow::Site::of(&inst, &by), &def.actions, &occurrence, &place).await?;
        flow.settle(&mut tx).await?;
        t.fired += 1;
        // The actions may have moved the workflow on, which cancelled this timer.
        let still = tx.instance_for_update(inst.id).await?.is_some_and(|i| i.status == "active" && i.state == inst.state && i.entered_at == inst.entered_at);
        let seen_now = tx.lock_pending_timer(seen.id).await?;
        match (seen.every_seconds, still, &seen_now) {
            (Some(every), true, Some(_)) => {
                // After downtime, fire once and go on from now: a missed quarter is not three revisits at once.
                let every = jiff::SignedDuration::from_secs(every.max(60));
                while t.fire_at <= now {
                    t.fire_at += every;
                }
            }
            (_, true, Some(_)) => t.status = "done".into(),
            _ => {
                tx.commit().await?;
                return Ok(true);
            }
        }
        if !tx.update_timer(&t, &seen).await? {
            return Err(EngineError::Internal(format!("timer {} moved while it was held", t.id)));
        }
        tx.commit().await?;
        Ok(true)
    }
}

//! Running workflows inside a write's transaction.
//!
//! Every write of a record hands the records it wrote (the record and any
//! parent whose rollups moved) to a [`Flow`], which, before the transaction
//! commits: starts the workflows whose start says so (`created`, or a
//! condition that became true), then takes the automatic (`when`)
//! transitions of every running workflow on those records. Taking a
//! transition runs the old state's `on_exit`, cancels its timers, writes a
//! history entry, runs the transition's actions, then the new state's
//! `on_enter` and schedules its timers. Actions that write records (`set`,
//! `assign`, `create_record`) queue those records, so their workflows react
//! too. Everything happens in the one transaction: a write and all it sets
//! off land together or not at all. A budget of steps per write, and of
//! automatic transitions per record, turns a definition that loops into a
//! clear refusal instead of a hung request.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use trellis_core::action::{Action, Assign, DigestSpec, Recipient, TaskSpec, WebhookFormat};
use trellis_core::permission::Access;
use trellis_core::rules::RuleFailure;
use trellis_core::script::{self, Inputs, ScriptError};
use trellis_core::trigger::{CompiledTrigger, Event, When};
use trellis_core::workflow::{CompiledTransition, CompiledWorkflow, MAX_CHAIN, StartOn};
use trellis_core::{HistoryEntry, Op, Record};
use trellis_store::{Delivery, Instance, Notification, StoreError, Task, Timer, Tx};
use uuid::Uuid;

use crate::definitions::Defs;
use crate::{Engine, EngineError, Result};

/// Steps (starts, transitions, actions, reactions to writes) one written record
/// may set off; a batch gets this much per record.
const MAX_STEPS: usize = 500;

/// A record some write changed, for workflows to look at.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) form: String,
    pub(crate) id: Uuid,
    /// Data and segments before the write; `None` when it was created.
    pub(crate) before: Option<(Map<String, Value>, Map<String, Value>)>,
    /// The record as written, when nothing wrote it since: spares reading it
    /// back (a batch of new records would read each one again).
    pub(crate) record: Option<Box<Record>>,
}

impl Written {
    pub(crate) fn created(r: &Record) -> Written {
        Written { form: r.form.clone(), id: r.id, before: None, record: None }
    }

    /// A new record as it was stored, for [`Written::record`].
    pub(crate) fn created_as(r: &Record) -> Written {
        Written { record: Some(Box::new(r.clone())), ..Written::created(r) }
    }

    /// `prev` is the record as it was before the write.
    pub(crate) fn updated(prev: &Record) -> Written {
        Written { form: prev.form.clone(), id: prev.id, before: Some((prev.data.clone(), prev.segments.clone())), record: None }
    }
}

/// The record a message is rendered for (a sample one has no id or form).
pub(crate) struct Subject<'a> {
    pub(crate) data: &'a serde_json::Map<String, Value>,
    pub(crate) segments: &'a serde_json::Map<String, Value>,
    pub(crate) id: Option<Uuid>,
    pub(crate) form: Option<&'a str>,
}

/// What templates see — one shape for the messages sent and for the designer's preview.
/// `at` is the running workflow and its state, if any.
pub(crate) fn template_context(s: &Subject<'_>, at: (Option<&str>, Option<&str>), now: Timestamp) -> Value {
    json!({"record": s.data, "segments": s.segments, "id": s.id, "form": s.form, "now": now.to_string(), "workflow": at.0, "state": at.1})
}

/// Where actions run: the record, and the workflow (or trigger) that runs them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    pub(crate) form: &'a str,
    pub(crate) record_id: Uuid,
    /// The running workflow: the default for a `transition` action, and what templates see.
    pub(crate) workflow: Option<&'a str>,
    pub(crate) state: Option<&'a str>,
    pub(crate) instance: Option<Uuid>,
    /// Who runs them, for errors: `workflow 'pipeline'`, `trigger 'birthday'`.
    pub(crate) by: &'a str,
    /// Run them on a record in the trash too (a `deleted` event).
    pub(crate) deleted_ok: bool,
}

impl<'a> Site<'a> {
    pub(crate) fn of(inst: &'a Instance, by: &'a str) -> Site<'a> {
        Site { form: &inst.form, record_id: inst.record_id, workflow: Some(&inst.workflow), state: Some(&inst.state), instance: Some(inst.id), by, deleted_ok: false }
    }
}

/// Whom an action addresses, once resolved.
enum Audience {
    Users(Vec<Uuid>),
    Role(String),
}

fn inputs(r: &Record, now: Timestamp) -> Inputs<'_> {
    Inputs { record: &r.data, segments: &r.segments, now }
}

/// A workflow script that failed: refused like a failing rule, pointing into the workflow.
fn failure(wf: &CompiledWorkflow, what: &str, pointer: String, error: ScriptError) -> EngineError {
    EngineError::Rule(Box::new(RuleFailure { form: wf.def.form.clone(), rule: format!("workflows.{}.{what}", wf.key()), pointer, error }))
}

fn transition_pointer(wf: &CompiledWorkflow, key: &str, part: &str) -> String {
    let i = wf.transitions.iter().position(|t| t.key == key).unwrap_or(0);
    format!("/transitions/{i}/{part}")
}

pub(crate) struct Flow<'e> {
    engine: &'e Engine,
    defs: Arc<Defs>,
    actor: Uuid,
    now: Timestamp,
    steps: usize,
    budget: usize,
    queue: VecDeque<Written>,
    /// Workflows started by this flow, so a cached list of a record's instances knows it is stale.
    starts: u64,
    /// Transitions taken per instance in this flow: an action that moves the
    /// instance on while its transition is under way ends that transition's work.
    moves: HashMap<Uuid, u64>,
    /// Whether the flow wrote a record (a workflow started or moved, an action changed data).
    wrote: bool,
    /// Whether event triggers fire (see [`Engine::after_writes`]).
    events: bool,
    /// Next moments of (trigger, record) to store, with the record's form:
    /// kept until [`Flow::settle`] ends, then written in one statement.
    schedules: std::collections::BTreeMap<(String, Uuid), (String, Option<Timestamp>)>,
}

impl Engine {
    /// Lets workflows and triggers react to the records a write changed,
    /// inside its transaction; true when their reaction wrote a record (so
    /// the caller reads its records again before answering). Without
    /// `events`, event triggers stay quiet (an import that should not greet
    /// every customer it brings in); workflows and moment triggers still react.
    pub(crate) async fn after_writes(&self, tx: &mut Tx, actor: Uuid, now: Timestamp, written: Vec<Written>, events: bool) -> Result<bool> {
        let defs = self.defs().await?;
        if !written.iter().any(|w| defs.has_form(&w.form)) {
            return Ok(false);
        }
        let mut flow = Flow::with(self, defs, actor, now);
        flow.events = events;
        flow.extend(written);
        flow.settle(tx).await?;
        Ok(flow.wrote)
    }
}

impl<'e> Flow<'e> {
    pub(crate) async fn new(engine: &'e Engine, actor: Uuid, now: Timestamp) -> Result<Flow<'e>> {
        Ok(Flow::with(engine, engine.defs().await?, actor, now))
    }

    fn with(engine: &'e Engine, defs: Arc<Defs>, actor: Uuid, now: Timestamp) -> Flow<'e> {
        Flow { engine, defs, actor, now, steps: 0, starts: 0, budget: MAX_STEPS, queue: VecDeque::new(), moves: HashMap::new(), wrote: false, events: true, schedules: Default::default() }
    }

    /// Queues records a write outside the flow changed, for [`Flow::settle`].
    pub(crate) fn extend(&mut self, written: Vec<Written>) {
        self.budget += MAX_STEPS * written.len();
        self.queue.extend(written);
    }

    /// Whether the flow wrote a record so far.
    pub(crate) fn wrote(&self) -> bool {
        self.wrote
    }

    pub(crate) fn defs(&self) -> &Arc<Defs> {
        &self.defs
    }

    fn step(&mut self) -> Result<()> {
        self.steps += 1;
        if self.steps > self.budget {
            return Err(EngineError::Workflow(format!(
                "workflows took more than {MAX_STEPS} steps per written record and were stopped; do actions start or move each other in a circle?"
            )));
        }
        Ok(())
    }

    /// Reacts to every queued write, and to the writes that reaction makes.
    pub(crate) async fn settle(&mut self, tx: &mut Tx) -> Result<()> {
        while let Some(w) = self.queue.pop_front() {
            self.step()?;
            self.on_written(tx, w).await?;
        }
        if !self.schedules.is_empty() {
            let items: Vec<(String, Uuid, String, Option<Timestamp>)> = std::mem::take(&mut self.schedules).into_iter().map(|((t, r), (f, at))| (t, r, f, at)).collect();
            tx.set_schedules(&items).await?;
        }
        Ok(())
    }

    async fn live(tx: &mut Tx, form: &str, id: Uuid) -> Result<Option<Record>> {
        Ok(tx.record_for_update(form, id).await?.filter(|r| r.deleted_at.is_none()))
    }

    async fn on_written(&mut self, tx: &mut Tx, w: Written) -> Result<()> {
        let workflows: Vec<Arc<CompiledWorkflow>> = self.defs.for_form(&w.form).cloned().collect();
        let triggers: Vec<Arc<CompiledTrigger>> = self.defs.triggers_for(&w.form).cloned().collect();
        if workflows.is_empty() && triggers.is_empty() {
            return Ok(());
        }
        // What was written is what the transaction holds, unless the flow wrote records since.
        let carried = if self.wrote { None } else { w.record.clone() };
        let record = match carried {
            Some(r) => *r,
            None => match tx.record_for_update(&w.form, w.id).await? {
                Some(r) => r,
                None => return Ok(()),
            },
        };
        if record.deleted_at.is_some() {
            if w.before.is_some() {
                for t in triggers.iter().filter(|t| t.when == When::Event(Event::Deleted)) {
                    self.fire_event(tx, t, &record, "deleted").await?;
                }
            }
            return Ok(());
        }
        let now = self.now;
        // The record's instances, read when first needed and again after any start
        // (a start's actions may start other workflows).
        let mut instances: Option<(u64, Vec<Instance>)> = None;
        for wf in &workflows {
            let holds = |data: &Map<String, Value>, segments: &Map<String, Value>| {
                crate::off_async(|| wf.start_holds(&Inputs { record: data, segments, now })).map_err(|e| failure(wf, "start", "/start/condition".into(), e))
            };
            let start = match wf.def.start.on {
                StartOn::Manual => false,
                StartOn::Created => w.before.is_none() && holds(&record.data, &record.segments)?,
                StartOn::Condition => {
                    holds(&record.data, &record.segments)?
                        && match &w.before {
                            None => true,
                            Some((data, segments)) => !holds(data, segments)?,
                        }
                }
            };
            if !start {
                continue;
            }
            if instances.as_ref().is_none_or(|(starts, _)| *starts != self.starts) {
                instances = Some((self.starts, tx.instances_of(w.id).await?));
            }
            if instances.as_ref().is_some_and(|(_, list)| list.iter().any(|i| i.workflow == wf.key() && i.status == "active")) {
                continue;
            }
            self.start(tx, wf, &record).await?;
        }
        if workflows.is_empty() {
            // Nothing ran on the record since it was read: the triggers see it as it is.
            return self.triggers_react(tx, &w, &record, &triggers).await;
        }
        let running = match instances {
            Some((starts, list)) if starts == self.starts => list,
            _ => tx.instances_of(w.id).await?,
        };
        for inst in running {
            if inst.status == "active" {
                Box::pin(self.automatic(tx, inst.id)).await?;
            }
        }
        if !triggers.is_empty() {
            // The workflows' actions may have changed the record.
            let Some(record) = Self::live(tx, &w.form, w.id).await? else { return Ok(()) };
            self.triggers_react(tx, &w, &record, &triggers).await?;
        }
        Ok(())
    }

    /// Fires the event triggers this write sets off, and moves the next
    /// moment of the moment triggers whose fields changed.
    async fn triggers_react(&mut self, tx: &mut Tx, w: &Written, record: &Record, triggers: &[Arc<CompiledTrigger>]) -> Result<()> {
        let before_data = w.before.as_ref().map(|(d, _)| d);
        let before_segments = w.before.as_ref().map(|(_, s)| s);
        for t in triggers {
            match &t.when {
                When::Event(_) if !self.events => {}
                When::Event(e) => {
                    let (fires, name) = match e {
                        Event::Created => (w.before.is_none(), "created"),
                        Event::Updated => (w.before.is_some(), "updated"),
                        Event::Deleted => (false, "deleted"),
                        Event::Changed(f) => (before_data.is_some_and(|d| d.get(f) != record.data.get(f)), "changed"),
                        Event::SegmentChanged { segment, from, to } => {
                            let old = before_segments.and_then(|s| s.get(segment)).filter(|v| !v.is_null());
                            let new = record.segments.get(segment).filter(|v| !v.is_null());
                            (old != new && from.as_ref().is_none_or(|v| old == Some(v)) && to.as_ref().is_none_or(|v| new == Some(v)), "segment_changed")
                        }
                    };
                    if fires {
                        self.fire_event(tx, t, record, name).await?;
                    }
                }
                When::Moment(..) => {
                    let moved = before_data.is_none_or(|d| t.depends_on().iter().any(|f| d.get(*f) != record.data.get(*f)));
                    if moved {
                        let next = crate::triggers::next_moment(t, &record.data, self.now, &self.defs);
                        self.schedules.insert((t.key().to_owned(), record.id), (record.form.clone(), next));
                    }
                }
                // A cron runs by the clock, over the whole form.
                When::Cron(..) => {}
            }
        }
        Ok(())
    }

    /// Runs an event trigger's actions on `record` when its condition holds.
    async fn fire_event(&mut self, tx: &mut Tx, t: &Arc<CompiledTrigger>, record: &Record, event: &str) -> Result<()> {
        self.step()?;
        let holds = crate::off_async(|| t.holds(&inputs(record, self.now)))
            .map_err(|e| EngineError::Rule(Box::new(RuleFailure { form: record.form.clone(), rule: format!("triggers.{}.condition", t.key()), pointer: "/condition".into(), error: e })))?;
        if !holds {
            return Ok(());
        }
        let by = format!("trigger '{}'", t.key());
        let site = Site { form: &record.form, record_id: record.id, workflow: None, state: None, instance: None, by: &by, deleted_ok: event == "deleted" };
        let occurrence = format!("trigger:{}:{}:{}:{event}", t.key(), record.id, record.rev);
        self.run(tx, site, &t.actions, &occurrence, &format!("{event} actions")).await
    }

    /// Takes automatic transitions of one instance while their conditions hold.
    pub(crate) async fn automatic(&mut self, tx: &mut Tx, instance: Uuid) -> Result<()> {
        for taken in 0..=MAX_CHAIN {
            let Some(inst) = tx.instance_for_update(instance).await?.filter(|i| i.status == "active") else { return Ok(()) };
            let Some(wf) = self.defs.workflows.get(&inst.workflow).cloned() else { return Ok(()) };
            let Some(record) = Self::live(tx, &inst.form, inst.record_id).await? else { return Ok(()) };
            let next = wf
                .next_automatic(&inst.state, &inputs(&record, self.now))
                .map_err(|(key, part, e)| failure(&wf, &format!("transitions.{key}"), transition_pointer(&wf, &key, part), e))?;
            let Some(t) = next.cloned() else { return Ok(()) };
            if taken == MAX_CHAIN {
                break;
            }
            self.take(tx, &wf, inst, &t).await?;
        }
        let name = tx.instance_for_update(instance).await?.map(|i| i.workflow).unwrap_or_default();
        Err(EngineError::Workflow(format!(
            "workflow '{name}' took more than {MAX_CHAIN} automatic transitions in one write and was stopped; do two `when` conditions send it back and forth?"
        )))
    }

    /// Starts `wf` on `record` and enters its initial state.
    pub(crate) async fn start(&mut self, tx: &mut Tx, wf: &Arc<CompiledWorkflow>, record: &Record) -> Result<Instance> {
        self.step()?;
        self.starts += 1;
        let initial = wf.def.initial.clone();
        let is_final = wf.state(&initial).is_some_and(|s| s.is_final);
        let inst = Instance {
            id: Uuid::now_v7(),
            workflow: wf.key().to_owned(),
            form: record.form.clone(),
            record_id: record.id,
            state: initial.clone(),
            status: if is_final { "finished" } else { "active" }.into(),
            started_at: self.now,
            started_by: self.actor,
            entered_at: self.now,
            updated_at: self.now,
        };
        tx.insert_instance(&inst).await.map_err(|e| match e {
            StoreError::Unique { .. } => EngineError::Conflict { zh: None, message: format!("workflow '{}' is already running on record {}", wf.key(), record.id), key: None },
            e => e.into(),
        })?;
        let rev = self.log(tx, &inst, None, &initial, None).await?;
        self.enter(tx, wf, &inst, rev).await?;
        Ok(inst)
    }

    /// Takes transition `t` (already allowed) from the instance's state: the
    /// instance moves and the old state's timers are cancelled first, then the
    /// old state's `on_exit`, the transition's actions and the new state's
    /// `on_enter` run. An action that moves this instance on again ends the
    /// rest of this transition's work (the later move has done its own).
    pub(crate) async fn take(&mut self, tx: &mut Tx, wf: &Arc<CompiledWorkflow>, mut inst: Instance, t: &CompiledTransition) -> Result<Instance> {
        self.step()?;
        let from = inst.state.clone();
        let rev = self.log(tx, &inst, Some(&from), &t.to, Some(&t.key)).await?;
        tx.cancel_timers(inst.id).await?;
        let is_final = wf.state(&t.to).is_some_and(|s| s.is_final);
        inst.state = t.to.clone();
        inst.entered_at = self.now;
        inst.updated_at = self.now;
        inst.status = if is_final { "finished" } else { "active" }.into();
        tx.update_instance(&inst).await?;
        let generation = {
            let n = self.moves.entry(inst.id).or_default();
            *n += 1;
            *n
        };
        if let Some(s) = wf.state(&from) {
            let exit = s.on_exit.clone();
            let by = format!("workflow '{}'", wf.key());
            self.run(tx, Site::of(&inst, &by), &exit, &format!("{}:{rev}:exit", inst.id), &format!("state '{from}' on_exit")).await?;
        }
        if self.moves.get(&inst.id) != Some(&generation) {
            return Ok(inst);
        }
        let by = format!("workflow '{}'", wf.key());
        self.run(tx, Site::of(&inst, &by), &t.actions, &format!("{}:{rev}:t", inst.id), &format!("transition '{}' actions", t.key)).await?;
        if self.moves.get(&inst.id) != Some(&generation) {
            return Ok(inst);
        }
        self.enter(tx, wf, &inst, rev).await?;
        Ok(inst)
    }

    /// Schedules the state's timers and runs its `on_enter`.
    async fn enter(&mut self, tx: &mut Tx, wf: &Arc<CompiledWorkflow>, inst: &Instance, rev: i64) -> Result<()> {
        let Some(state) = wf.state(&inst.state) else { return Ok(()) };
        let timers: Vec<Timer> = state
            .timers
            .iter()
            .enumerate()
            .map(|(i, t)| Timer {
                id: Uuid::now_v7(),
                instance_id: inst.id,
                state: inst.state.clone(),
                timer: i as i64,
                fire_at: self.now + t.after,
                every_seconds: t.every.map(|e| e.as_secs()),
                fired: 0,
                status: "pending".into(),
                last_error: None,
            })
            .collect();
        tx.insert_timers(&timers).await?;
        let actions = state.on_enter.clone();
        let by = format!("workflow '{}'", wf.key());
        self.run(tx, Site::of(inst, &by), &actions, &format!("{}:{rev}:enter", inst.id), &format!("state '{}' on_enter", inst.state)).await
    }

    /// Writes the history entry of a workflow starting or moving on a record;
    /// returns the record's new revision.
    async fn log(&mut self, tx: &mut Tx, inst: &Instance, from: Option<&str>, to: &str, transition: Option<&str>) -> Result<i64> {
        let prev = tx
            .record_for_update(&inst.form, inst.record_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("record {} of workflow '{}' is gone", inst.record_id, inst.workflow)))?;
        let next = Record { rev: prev.rev + 1, updated_by: self.actor, updated_at: self.now, ..prev.clone() };
        if !tx.update_record(&next, prev.rev).await? {
            return Err(EngineError::Stale { expected: prev.rev, current: prev.rev + 1 });
        }
        self.wrote = true;
        let mut change = json!({"from": from, "to": to});
        if let Some(t) = transition {
            change["transition"] = json!(t);
        }
        let mut changes = Map::new();
        changes.insert(format!("workflows.{}", inst.workflow), change);
        tx.insert_history(&[HistoryEntry { record_id: inst.record_id, rev: next.rev, op: Op::Transition, actor: self.actor, actor_email: None, at: self.now, changes }]).await?;
        Ok(next.rev)
    }

    /// What templates see.
    fn context(record: &Record, site: Site<'_>, now: Timestamp) -> Value {
        template_context(&Subject { data: &record.data, segments: &record.segments, id: Some(record.id), form: Some(&record.form) }, (site.workflow, site.state), now)
    }

    /// Runs actions in order. `occurrence` is unique to this moment (an
    /// instance's revision or a timer's firing): deliveries are keyed by it,
    /// so a retried occurrence never sends twice. `place` names where they
    /// sit in the definition, for errors.
    pub(crate) async fn run(&mut self, tx: &mut Tx, site: Site<'_>, actions: &[Action], occurrence: &str, place: &str) -> Result<()> {
        for (i, action) in actions.iter().enumerate() {
            self.step()?;
            let Some(record) = tx.record_for_update(site.form, site.record_id).await?.filter(|r| site.deleted_ok || r.deleted_at.is_none()) else { return Ok(()) };
            let occ = format!("{occurrence}:{i}");
            let fail = |m: String| EngineError::Workflow(format!("{}, {place}, action {i}: {m}", site.by));
            match action {
                Action::Notify { to, message, title } => {
                    let users = self.recipients(to, &record).await.map_err(|e| only_workflow(e, &fail))?;
                    // Rendered once per role: each sees the record as their role may.
                    for (role, users) in self.by_role(&record.form, users).await? {
                        let shown = self.as_seen(&record, role.as_deref()).await?;
                        let (title, body) = self.render_notice(&shown, site, message.as_deref(), title.as_deref()).await.map_err(fail)?;
                        self.notify(tx, &users, &title, &body, &record, None).await?;
                    }
                }
                Action::Email { to, message } => {
                    let msg = self.defs.messages.get(message).cloned().ok_or_else(|| fail(format!("there is no message '{message}'")))?;
                    let shown = self.as_seen(&record, None).await?;
                    let out = self.engine.templates().message(&msg, &Self::context(&shown, site, self.now)).await.map_err(|e| fail(e.describe()))?;
                    let addresses = self.addresses(to, &record).await.map_err(|e| only_workflow(e, &fail))?;
                    let list: Vec<Delivery> = addresses
                        .into_iter()
                        .map(|a| self.delivery("email", &a, out.subject.clone(), out.body.clone(), None, format!("{occ}:{a}"), Some(record.id)))
                        .collect();
                    tx.enqueue(&list).await?;
                }
                Action::Webhook { url, message, format } => {
                    let record = self.as_seen(&record, None).await?;
                    let text = match message {
                        Some(m) => {
                            let msg = self.defs.messages.get(m).cloned().ok_or_else(|| fail(format!("there is no message '{m}'")))?;
                            self.engine.templates().message(&msg, &Self::context(&record, site, self.now)).await.map_err(|e| fail(e.describe()))?.body
                        }
                        None => format!("{}: {}", site.by, record.id),
                    };
                    let (body, name) = match format {
                        WebhookFormat::Json => (json!({"text": text, "form": record.form, "id": record.id, "record": record.data, "workflow": site.workflow, "state": site.state}), "json"),
                        WebhookFormat::Wecom => (json!({"msgtype": "text", "text": {"content": text}}), "wecom"),
                        WebhookFormat::Dingtalk => (json!({"msgtype": "text", "text": {"content": text}}), "dingtalk"),
                        WebhookFormat::Feishu => (json!({"msg_type": "text", "content": {"text": text}}), "feishu"),
                    };
                    tx.enqueue(&[self.delivery("webhook", url, None, body.to_string(), Some(name.into()), occ, Some(record.id))]).await?;
                }
                Action::CreateTask(spec) => {
                    self.create_task(tx, spec, &record, site).await.map_err(|e| only_workflow(e, &fail))?;
                }
                Action::Set(assignments) => {
                    let mut patch = Map::new();
                    for a in assignments {
                        let v = crate::off_async(|| script::sandbox().run(&a.script, &inputs(&record, self.now))).map_err(|e| fail(format!("set {}: {}", a.field, e.describe())))?;
                        patch.insert(a.field.clone(), v);
                    }
                    let form = self.engine.form(site.form).await?;
                    if let Some((_, written)) = self.engine.patch_in(tx, self.actor, &form, &record, &Value::Object(patch), self.now).await? {
                        self.wrote = true;
                        self.queue.extend(written);
                    }
                }
                Action::CreateRecord { form, data } => {
                    let target = self.engine.form(form).await?;
                    let mut values = Map::new();
                    for a in data {
                        let v = crate::off_async(|| script::sandbox().run(&a.script, &inputs(&record, self.now))).map_err(|e| fail(format!("{form}.{}: {}", a.field, e.describe())))?;
                        values.insert(a.field.clone(), v);
                    }
                    link_back(&target, &mut values, &record);
                    let owner = record.owner.unwrap_or(self.actor);
                    let (_, written) = self.engine.create_in(tx, self.actor, owner, &target, Value::Object(values), self.now).await?;
                    self.wrote = true;
                    self.queue.extend(written);
                }
                Action::StartWorkflow(key) => {
                    let other = self.defs.workflows.get(key).cloned().ok_or_else(|| fail(format!("there is no workflow '{key}'")))?;
                    let running = tx.instances_of(record.id).await?.iter().any(|i| i.workflow == *key && i.status == "active");
                    if !running && other.def.form == record.form {
                        let started = Box::pin(self.start(tx, &other, &record)).await?;
                        Box::pin(self.automatic(tx, started.id)).await?;
                    }
                }
                Action::Transition { workflow, transition } => {
                    let Some(key) = workflow.as_deref().or(site.workflow) else { continue };
                    let Some(other) = self.defs.workflows.get(key).cloned() else { continue };
                    let Some(target) = tx.instances_of(record.id).await?.into_iter().find(|i| i.workflow == key && i.status == "active") else { continue };
                    // A transition that does not apply now is skipped, as a person's click would be refused.
                    if let Ok(t) = other.check(&target.state, transition, &inputs(&record, self.now)) {
                        let t = t.clone();
                        let moved = Box::pin(self.take(tx, &other, target, &t)).await?;
                        Box::pin(self.automatic(tx, moved.id)).await?;
                    }
                }
                // Parsing keeps digests to cron triggers, which send them at the end of a run.
                Action::Digest(_) => return Err(fail("a digest is sent at the end of a cron trigger's run, not for one record".into())),
                Action::Assign(by) => {
                    let user = match by {
                        Assign::RoundRobin(role) => tx.next_turn(&format!("role:{role}"), role).await?,
                        Assign::User(u) => self.engine.store().find_user(u).await?.map(|u| u.id),
                        Assign::Script(s) => {
                            let v = crate::off_async(|| script::sandbox().run(s, &inputs(&record, self.now))).map_err(|e| fail(format!("assign: {}", e.describe())))?;
                            match v.as_str() {
                                Some(r) if r.starts_with("role:") => tx.next_turn(r, &r[5..]).await?,
                                Some(u) => self.engine.store().find_user(u).await?.map(|u| u.id),
                                None if v.is_null() => None,
                                None => return Err(fail(format!("assign: the script must give a user's email or role:ROLE, not {v}"))),
                            }
                        }
                    };
                    let Some(user) = user else {
                        tracing::warn!(by = %site.by, record = %record.id, "assign found nobody to give the record to; the owner stays");
                        continue;
                    };
                    let form = self.engine.form(site.form).await?;
                    let written = self.engine.set_owner_in(tx, self.actor, &form, &record, user, self.now).await?;
                    self.wrote = true;
                    self.queue.extend(written);
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn delivery(&self, channel: &str, target: &str, subject: Option<String>, body: String, format: Option<String>, key: String, record: Option<Uuid>) -> Delivery {
        Delivery {
            id: Uuid::now_v7(),
            channel: channel.into(),
            target: target.into(),
            subject,
            body,
            format,
            idempotency_key: key,
            record_id: record,
            status: "pending".into(),
            attempts: 0,
            created_at: self.now,
            next_attempt_at: Some(self.now),
            sent_at: None,
            last_error: None,
            attempt_log: Vec::new(),
        }
    }

    /// A notification's title and body: from a message (its subject, or its
    /// first line, is the title) or from a title template.
    async fn render_notice(&self, record: &Record, site: Site<'_>, message: Option<&str>, title: Option<&str>) -> std::result::Result<(String, String), String> {
        self.render_with(&Self::context(record, site, self.now), message, title).await
    }

    async fn render_with(&self, ctx: &Value, message: Option<&str>, title: Option<&str>) -> std::result::Result<(String, String), String> {
        let templates = self.engine.templates();
        if let Some(key) = message {
            let msg = self.defs.messages.get(key).ok_or_else(|| format!("there is no message '{key}'"))?;
            let out = templates.message(msg, ctx).await.map_err(|e| format!("message '{key}': {}", e.describe()))?;
            let title = match (out.subject, title) {
                (Some(s), _) => s,
                (None, Some(t)) => templates.render(t, ctx).await.map_err(|e| format!("title: {}", e.describe()))?,
                (None, None) => out.body.lines().next().unwrap_or_default().to_owned(),
            };
            return Ok((title, out.body));
        }
        let title = templates.render(title.unwrap_or_default(), ctx).await.map_err(|e| format!("title: {}", e.describe()))?;
        Ok((title, String::new()))
    }

    /// `users` grouped by their role, for what `form`'s records show them;
    /// one group with no role when the form hides nothing from anyone.
    pub(crate) async fn by_role(&self, form: &str, users: Vec<Uuid>) -> Result<Vec<(Option<String>, Vec<Uuid>)>> {
        if Access::common(&self.engine.form(form).await?.def).hidden.is_empty() {
            return Ok(vec![(None, users)]);
        }
        let roles = self.roles().await?;
        let mut out: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for u in users {
            // A user who is gone sees least.
            out.entry(roles.get(&u).cloned().unwrap_or_else(|| "staff".into())).or_default().push(u);
        }
        Ok(out.into_iter().map(|(r, u)| (Some(r), u)).collect())
    }

    /// Every user's role.
    pub(crate) async fn roles(&self) -> Result<HashMap<Uuid, String>> {
        Ok(self.engine.store().users().await?.into_iter().map(|u| (u.id, u.role)).collect())
    }

    /// The record as `role` may see it; with `None`, as every role may (for
    /// emails and webhooks, which leave the engine where no role is checked).
    pub(crate) async fn as_seen(&self, record: &Record, role: Option<&str>) -> Result<Record> {
        let form = self.engine.form(&record.form).await?;
        let access = match role {
            Some(r) => Access::of(&form.def, r),
            None => Access::common(&form.def),
        };
        if access.hidden.is_empty() {
            return Ok(record.clone());
        }
        let mut shown = record.clone();
        access.redact(&mut shown);
        Ok(shown)
    }

    /// The users a recipient names for a record (every user of a role for `role:R`).
    pub(crate) async fn recipients(&self, to: &Recipient, record: &Record) -> Result<Vec<Uuid>> {
        Ok(match self.audience(to, record).await? {
            Audience::Users(u) => u,
            Audience::Role(r) => self.engine.store().users_with_role(&r).await?,
        })
    }

    /// One recipient's digest: a notification listing the records they get
    /// (`records`, at most the digest's limit; `count`, all of them), and an
    /// email when the digest says so. `key` is unique to the run and action.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_digest(&self, tx: &mut Tx, spec: &DigestSpec, user: Uuid, form: &str, records: Vec<Value>, count: usize, key: &str) -> Result<()> {
        let Some(u) = self.engine.store().find_user(&user.to_string()).await? else { return Ok(()) };
        let ctx = json!({"records": records, "count": count, "form": form, "now": self.now.to_string(), "recipient": {"id": u.id, "email": u.email}});
        let (title, body) = self.render_with(&ctx, spec.message.as_deref(), spec.title.as_deref()).await.map_err(EngineError::Workflow)?;
        let n = Notification {
            id: Uuid::now_v7(),
            user_id: u.id,
            title: title.clone(),
            body: body.clone(),
            record_form: Some(form.to_owned()),
            record_id: None,
            task_id: None,
            created_at: self.now,
            read_at: None,
        };
        tx.insert_notifications(&[n]).await?;
        if spec.email {
            let text = if body.is_empty() { title.clone() } else { body };
            tx.enqueue(&[self.delivery("email", &u.email, Some(title), text, None, format!("{key}:{}", u.email), None)]).await?;
        }
        Ok(())
    }

    async fn notify(&self, tx: &mut Tx, users: &[Uuid], title: &str, body: &str, record: &Record, task: Option<Uuid>) -> Result<()> {
        let list: Vec<Notification> = users
            .iter()
            .map(|u| Notification {
                id: Uuid::now_v7(),
                user_id: *u,
                title: title.to_owned(),
                body: body.to_owned(),
                record_form: Some(record.form.clone()),
                record_id: Some(record.id),
                task_id: task,
                created_at: self.now,
                read_at: None,
            })
            .collect();
        Ok(tx.insert_notifications(&list).await?)
    }

    /// Resolves a recipient against a record. The owner's manager falls back
    /// to every manager when the owner has none.
    async fn audience(&self, to: &Recipient, record: &Record) -> Result<Audience> {
        let store = self.engine.store();
        Ok(match to {
            // The system (a timer's actor) owns nothing a person should hear about.
            Recipient::Owner => Audience::Users(record.owner.filter(|o| !o.is_nil()).into_iter().collect()),
            Recipient::Manager => {
                let manager = match record.owner {
                    Some(o) => store.find_user(&o.to_string()).await?.and_then(|u| u.manager),
                    None => None,
                };
                match manager {
                    Some(m) => Audience::Users(vec![m]),
                    None => Audience::Role("manager".into()),
                }
            }
            Recipient::Role(r) => Audience::Role(r.clone()),
            Recipient::User(u) => Audience::Users(vec![store.find_user(u).await?.ok_or_else(|| EngineError::Workflow(format!("there is no user '{u}'")))?.id]),
            Recipient::Field(f) => {
                let value = record.data.get(f).and_then(Value::as_str).unwrap_or_default();
                Audience::Users(store.find_user(value).await?.map(|u| u.id).into_iter().collect())
            }
        })
    }

    /// Email addresses for a recipient: users' emails, or a field holding an address.
    async fn addresses(&self, to: &Recipient, record: &Record) -> Result<Vec<String>> {
        let store = self.engine.store();
        if let Recipient::Field(f) = to {
            let value = record.data.get(f).and_then(Value::as_str).unwrap_or_default();
            if let Some(u) = store.find_user(value).await? {
                return Ok(vec![u.email]);
            }
            return Ok(if value.contains('@') { vec![value.to_owned()] } else { Vec::new() });
        }
        let ids = self.recipients(to, record).await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(u) = store.find_user(&id.to_string()).await? {
                out.push(u.email);
            }
        }
        Ok(out)
    }

    async fn create_task(&mut self, tx: &mut Tx, spec: &TaskSpec, record: &Record, site: Site<'_>) -> Result<()> {
        // A task's text is written once and may pass to others (reassigned,
        // or taken from a role's queue): it names only what no role has hidden.
        let shown = self.as_seen(record, None).await?;
        let ctx = Self::context(&shown, site, self.now);
        let templates = self.engine.templates();
        let title = templates.render(&spec.title, &ctx).await.map_err(|e| EngineError::Workflow(format!("task title: {}", e.describe())))?;
        let description = match spec.description.as_deref() {
            Some(d) => Some(templates.render(d, &ctx).await.map_err(|e| EngineError::Workflow(format!("task description: {}", e.describe())))?),
            None => None,
        };
        let (assignee, role) = match self.audience(&spec.assignee, record).await? {
            Audience::Users(u) => match u.first() {
                Some(u) => (Some(*u), None),
                None => (None, Some("manager".to_owned())),
            },
            Audience::Role(r) => (None, Some(r)),
        };
        let task = Task {
            id: Uuid::now_v7(),
            title: title.clone(),
            description,
            assignee,
            assignee_role: role,
            status: "open".into(),
            due_at: spec.due.map(|d: SignedDuration| self.now + d),
            form: spec.form.clone(),
            record_form: Some(record.form.clone()),
            record_id: Some(record.id),
            instance_id: site.instance,
            outcome_id: None,
            created_at: self.now,
            created_by: self.actor,
            updated_at: self.now,
            completed_at: None,
            completed_by: None,
        };
        tx.insert_task(&task).await?;
        if let Some(user) = assignee {
            self.notify(tx, &[user], &format!("新任务：{title}"), task.description.as_deref().unwrap_or_default(), record, Some(task.id)).await?;
        }
        Ok(())
    }
}

/// Places a workflow's own error in its definition; other errors (the store's) pass unchanged.
fn only_workflow(e: EngineError, fail: &impl Fn(String) -> EngineError) -> EngineError {
    match e {
        EngineError::Workflow(m) => fail(m),
        e => e,
    }
}

/// A record created from another links back to it: every empty field of the
/// new record that links to the source's form gets the source's id.
pub(crate) fn link_back(target: &trellis_core::CompiledForm, values: &mut Map<String, Value>, source: &Record) {
    for f in target.fields.iter().filter(|f| f.link.as_deref() == Some(source.form.as_str())) {
        if values.get(&f.key).is_none_or(Value::is_null) {
            values.insert(f.key.clone(), Value::String(source.id.to_string()));
        }
    }
}

//! Definitions beside forms: workflows, messages, triggers and working-day calendars. Checked when saved
//! (the version in force stays when a new one does not check), a new version
//! on every change, and cached compiled per process — on PostgreSQL the cache
//! is dropped when another instance saves one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::Value;
use trellis_core::action::{Catalog, WorkflowRef};
use trellis_core::message::Message;
use trellis_core::trigger::{self, CompiledTrigger, TriggerDef};
use trellis_core::workdays::{self, CalendarDef, WorkCalendar};
use trellis_core::workflow::{self, BUILT_IN_ROLES, CompiledWorkflow, WorkflowDef};
use trellis_core::{Issue, key};
use trellis_store::StoredDefinition;

use crate::{Actor, Engine, EngineError, Result};

pub const WORKFLOW: &str = "workflow";
pub const MESSAGE: &str = "message";
pub const TRIGGER: &str = "trigger";
pub const CALENDAR: &str = "calendar";

/// Whether `name` is an IANA time zone the engine knows.
pub(crate) fn tz_known(name: &str) -> bool {
    jiff::tz::TimeZone::get(name).is_ok()
}

/// Every workflow, message, trigger and calendar, compiled.
pub(crate) struct Defs {
    pub(crate) workflows: BTreeMap<String, Arc<CompiledWorkflow>>,
    pub(crate) messages: BTreeMap<String, Arc<Message>>,
    pub(crate) triggers: BTreeMap<String, Arc<CompiledTrigger>>,
    /// The built-in `cn`, or the saved calendar of that key built on it, and every saved one.
    pub(crate) calendars: BTreeMap<String, Arc<WorkCalendar>>,
}

impl Default for Defs {
    fn default() -> Self {
        let calendars = BTreeMap::from([(workdays::BUILT_IN.to_owned(), Arc::new(WorkCalendar::china()))]);
        Defs { workflows: BTreeMap::new(), messages: BTreeMap::new(), triggers: BTreeMap::new(), calendars }
    }
}

impl Defs {
    /// The workflows that run on records of `form`.
    pub(crate) fn for_form<'a>(&'a self, form: &'a str) -> impl Iterator<Item = &'a Arc<CompiledWorkflow>> + 'a {
        self.workflows.values().filter(move |w| w.def.form == form)
    }

    pub(crate) fn triggers_for<'a>(&'a self, form: &'a str) -> impl Iterator<Item = &'a Arc<CompiledTrigger>> + 'a {
        self.triggers.values().filter(move |t| t.def.form == form && t.def.enabled)
    }

    /// Whether workflows or triggers look at writes of `form`.
    pub(crate) fn has_form(&self, form: &str) -> bool {
        self.for_form(form).next().is_some() || self.triggers_for(form).next().is_some()
    }
}

#[derive(Default)]
pub(crate) struct DefCache {
    snapshot: RwLock<Option<Arc<Defs>>>,
    epoch: AtomicU64,
}

impl DefCache {
    pub(crate) fn forget(&self) {
        let mut s = self.snapshot.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        *s = None;
    }
}

/// A span of days as a working-day calendar sees them.
#[derive(Debug, serde::Serialize)]
pub struct CalendarDays {
    pub key: String,
    /// The last year with holidays or make-up days listed: after it, only weekends are known.
    pub last_year: Option<i16>,
    pub days: Vec<Day>,
}

#[derive(Debug, serde::Serialize)]
pub struct Day {
    pub date: String,
    pub working: bool,
}

/// A sample record a message is previewed against: its data and segments.
#[derive(Debug, Clone, Default)]
pub struct MessageSample {
    pub record: Option<serde_json::Map<String, Value>>,
    pub segments: Option<serde_json::Map<String, Value>>,
}

/// A message definition: `{"key", "template"}`; the template may start with `subject: …`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageDef {
    key: String,
    template: String,
}

/// What a definition being saved may refer to, owned, for [`Catalog`].
struct Known {
    forms: HashMap<String, Arc<trellis_core::CompiledForm>>,
    messages: BTreeSet<String>,
    workflows: BTreeMap<String, WorkflowRef>,
    calendars: BTreeSet<String>,
}

impl Known {
    fn catalog(&self) -> Catalog<'_> {
        Catalog { forms: &self.forms, messages: &self.messages, workflows: &self.workflows, roles: BUILT_IN_ROLES, calendars: &self.calendars }
    }
}

fn workflow_ref(form: &str, transitions: impl Iterator<Item = String>) -> WorkflowRef {
    WorkflowRef { form: form.to_owned(), transitions: transitions.collect() }
}

/// A refused definition, said in English and in Chinese.
fn invalid(pointer: &str, code: &'static str, message: impl Into<String>, zh: impl Into<String>) -> EngineError {
    EngineError::Invalid(vec![Issue::new(pointer, code, message).zh(zh)])
}

/// Fills in `key` from the URL, and refuses a body whose key differs from it.
pub(crate) fn keyed(kind: &str, url_key: Option<&str>, mut body: Value) -> Result<Value> {
    let Some(obj) = body.as_object_mut() else { return Err(invalid("", "type", format!("a {kind} definition is a JSON object"), "定义应是一个 JSON 对象")) };
    if let Some(k) = url_key {
        let given = obj.entry("key").or_insert_with(|| Value::String(k.to_owned()));
        if given.as_str() != Some(k) {
            return Err(invalid("/key", "key", format!("the definition's key {given} differs from '{k}' in the URL"), format!("定义里的标识 {given} 与地址里的「{k}」不一致")));
        }
    }
    Ok(body)
}

fn parse_workflow(v: Value) -> Result<WorkflowDef> {
    serde_json::from_value(v).map_err(|e| invalid("", "definition", e.to_string(), format!("定义的格式不对：{e}")))
}

fn compile_stored_workflow(s: &StoredDefinition) -> Result<CompiledWorkflow> {
    let def = parse_workflow(s.definition.clone()).map_err(|e| EngineError::Internal(format!("stored workflow {}: {e}", s.key)))?;
    workflow::compile(def, s.version, None).map_err(|issues| EngineError::Internal(format!("stored workflow {} no longer compiles: {issues:?}", s.key)))
}

fn compile_stored_message(s: &StoredDefinition) -> Result<Message> {
    let template = s.definition.get("template").and_then(Value::as_str).unwrap_or_default();
    Message::parse(template).map_err(|e| EngineError::Internal(format!("stored message {}: {}", s.key, e.describe())))
}

impl Engine {
    /// Every workflow and message, compiled (cached until one changes).
    pub(crate) async fn defs(&self) -> Result<Arc<Defs>> {
        if let Some(d) = self.defs.snapshot.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Ok(d.clone());
        }
        self.load_defs().await
    }

    /// Every workflow and message as the database holds them now, compiled
    /// (and cached, unless a change was heard meanwhile).
    async fn load_defs(&self) -> Result<Arc<Defs>> {
        let epoch = self.defs.epoch.load(Ordering::SeqCst);
        let mut defs = Defs::default();
        // A stored definition that no longer compiles (a newer engine refusing what an
        // older one took) is left out and logged: it must not stop every write.
        for s in self.store.definitions(WORKFLOW).await? {
            match compile_stored_workflow(&s) {
                Ok(w) => {
                    defs.workflows.insert(s.key.clone(), Arc::new(w));
                }
                Err(e) => tracing::error!(workflow = %s.key, error = %e, "a stored workflow does not compile; it does not run until it is saved again"),
            }
        }
        for s in self.store.definitions(TRIGGER).await? {
            let compiled = serde_json::from_value::<TriggerDef>(s.definition.clone())
                .map_err(|e| e.to_string())
                .and_then(|def| trigger::compile(def, s.version, None, &tz_known).map_err(|issues| format!("{issues:?}")));
            match compiled {
                Ok(t) => {
                    defs.triggers.insert(s.key.clone(), Arc::new(t));
                }
                Err(e) => tracing::error!(trigger = %s.key, error = %e, "a stored trigger does not compile; it does not run until it is saved again"),
            }
        }
        for s in self.store.definitions(CALENDAR).await? {
            let compiled = serde_json::from_value::<CalendarDef>(s.definition.clone()).map_err(|e| e.to_string()).and_then(|def| workdays::compile(&def).map_err(|issues| format!("{issues:?}")));
            match compiled {
                Ok(c) => {
                    defs.calendars.insert(s.key.clone(), Arc::new(c));
                }
                Err(e) => tracing::error!(calendar = %s.key, error = %e, "a stored calendar does not compile; triggers use the built-in one until it is saved again"),
            }
        }
        for s in self.store.definitions(MESSAGE).await? {
            match compile_stored_message(&s) {
                Ok(m) => {
                    defs.messages.insert(s.key.clone(), Arc::new(m));
                }
                Err(e) => tracing::error!(message = %s.key, error = %e, "a stored message does not parse; it is left out until it is saved again"),
            }
        }
        let defs = Arc::new(defs);
        let mut slot = self.defs.snapshot.write().unwrap_or_else(PoisonError::into_inner);
        // A definition saved while this one was loading makes what was read stale: use it once, keep nothing.
        if self.defs.epoch.load(Ordering::SeqCst) == epoch {
            *slot = Some(defs.clone());
        }
        Ok(defs)
    }

    /// The forms, messages and workflows in force, for checking a definition's
    /// references: read from the database, not the cache, which may not yet
    /// have heard what another instance saved a moment ago (a trigger saved
    /// on one instance right after its form was saved on another).
    async fn known(&self) -> Result<Known> {
        let forms = self.current_forms().await?.into_iter().map(|f| (f.key().to_owned(), f)).collect();
        let defs = self.load_defs().await?;
        let messages = defs.messages.keys().cloned().collect();
        let workflows = defs.workflows.iter().map(|(k, w)| (k.clone(), workflow_ref(&w.def.form, w.transitions.iter().map(|t| t.key.clone())))).collect();
        let calendars = defs.calendars.keys().cloned().collect();
        Ok(Known { forms, messages, workflows, calendars })
    }

    /// Workflows and triggers are read by admins only: their webhook URLs carry the robots' access tokens.
    fn may_read(actor: &Actor, kind: &str) -> Result<()> {
        if matches!(kind, MESSAGE | CALENDAR | crate::packs::DASHBOARD | crate::packs::ROLE) { Ok(()) } else { actor.require_admin(&format!("read {kind} definitions")) }
    }

    pub async fn list_definitions(&self, actor: &Actor, kind: &str) -> Result<Vec<StoredDefinition>> {
        Self::may_read(actor, kind)?;
        Ok(self.store.definitions(kind).await?)
    }

    pub async fn get_definition(&self, actor: &Actor, kind: &str, key: &str) -> Result<StoredDefinition> {
        Self::may_read(actor, kind)?;
        self.store.definition(kind, key).await?.ok_or_else(|| EngineError::NotFound(format!("there is no {kind} '{key}'")))
    }

    /// Saves a workflow (admins): checked against the forms, messages and
    /// workflows in force. `create` refuses a key that exists; otherwise the
    /// definition replaces (or creates) the one at `url_key`. Returns the
    /// stored definition and whether it was new.
    pub async fn save_workflow(&self, actor: &Actor, url_key: Option<&str>, body: Value, create: bool) -> Result<(StoredDefinition, bool)> {
        actor.require_admin("change workflows")?;
        let body = keyed(WORKFLOW, url_key, body)?;
        let def = parse_workflow(body.clone())?;
        let mut known = self.known().await?;
        // The workflow may start or move itself.
        known.workflows.insert(def.key.clone(), workflow_ref(&def.form, def.transitions.iter().map(|t| t.key.clone())));
        let key = def.key.clone();
        let compiled = crate::blocking(move || workflow::compile(def, 0, Some(known.catalog()))).await?.map_err(EngineError::Invalid)?;
        // Records in a state the new version drops would be stranded there.
        let mut issues = Vec::new();
        for (state, n) in self.store.active_states(&key).await? {
            if compiled.state(&state).is_none() {
                issues.push(Issue::new(format!("/states/{}", trellis_core::issue::escape_token(&state)), "in_use", format!("{n} record(s) are in state '{state}'; keep it, or move them on first")).zh(format!("还有 {n} 条记录处于状态「{state}」；请保留这个状态，或先把这些记录移走")));
            }
        }
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        self.store_definition(actor, WORKFLOW, &key, body, create).await
    }

    /// Saves a trigger (admins), checked against the forms, messages and roles
    /// in force, then schedules its next moment for every record of its form.
    pub async fn save_trigger(&self, actor: &Actor, url_key: Option<&str>, body: Value, create: bool) -> Result<(StoredDefinition, bool)> {
        actor.require_admin("change triggers")?;
        let body = keyed(TRIGGER, url_key, body)?;
        let def: TriggerDef = serde_json::from_value(body.clone()).map_err(|e| invalid("", "definition", e.to_string(), format!("提醒的定义格式不对：{e}")))?;
        let known = self.known().await?;
        let key = def.key.clone();
        crate::blocking(move || trigger::compile(def, 0, Some(known.catalog()), &tz_known).map(|_| ())).await?.map_err(EngineError::Invalid)?;
        let saved = self.store_definition(actor, TRIGGER, &key, body, create).await?;
        self.reschedule(&key).await?;
        Ok(saved)
    }

    /// Saves a working-day calendar (admins), then moves the moments of the
    /// triggers that keep to it.
    pub async fn save_calendar(&self, actor: &Actor, url_key: Option<&str>, body: Value, create: bool) -> Result<(StoredDefinition, bool)> {
        actor.require_admin("change calendars")?;
        let body = keyed(CALENDAR, url_key, body)?;
        let def: CalendarDef = serde_json::from_value(body.clone()).map_err(|e| invalid("", "definition", e.to_string(), format!("日历的定义格式不对：{e}")))?;
        workdays::compile(&def).map_err(EngineError::Invalid)?;
        let saved = self.store_definition(actor, CALENDAR, &def.key, body, create).await?;
        let users: Vec<String> = self.defs().await?.triggers.values().filter(|t| t.days.needs_calendar() && t.days.calendar == def.key).map(|t| t.key().to_owned()).collect();
        for key in users {
            self.reschedule(&key).await?;
        }
        Ok(saved)
    }

    /// Each day from `from` to `to` (at most 366 days) and whether calendar `key` counts it as a working day.
    pub async fn calendar_days(&self, key: &str, from: &str, to: &str) -> Result<CalendarDays> {
        let defs = self.defs().await?;
        let cal = defs.calendars.get(key).ok_or_else(|| EngineError::NotFound(format!("there is no calendar '{key}'")))?;
        let day = |param: &'static str, v: &str| v.parse::<jiff::civil::Date>().map_err(|_| EngineError::BadRequest { param, message: format!("'{v}' is not a date: write 2026-10-01") });
        let (first, last) = (day("from", from)?, day("to", to)?);
        if last < first || first.until(last).map_or(true, |s| s.get_days() > 366) {
            return Err(EngineError::BadRequest { param: "to", message: "`to` is a day from `from` to 366 days after it".into() });
        }
        let mut days = Vec::new();
        let mut d = first;
        loop {
            days.push(Day { date: d.to_string(), working: cal.is_working(d) });
            if d >= last {
                break;
            }
            d = d.tomorrow().map_err(|e| EngineError::Internal(e.to_string()))?;
        }
        Ok(CalendarDays { key: key.to_owned(), last_year: cal.last_year(), days })
    }

    /// Renders a message template against a sample record (`record`, `segments`) or a
    /// stored one, as a notification or email would see it, writing nothing.
    /// A template that does not parse or render is refused with its line.
    pub async fn preview_message(&self, actor: &Actor, template: &str, sample: MessageSample, stored: Option<(&str, uuid::Uuid)>) -> Result<(Option<String>, String)> {
        actor.require_admin("preview messages")?;
        let (data, segments, id, form) = match stored {
            Some((form, id)) => {
                let r = self.get_record(actor, form, id).await?;
                (r.data, r.segments, Some(r.id), Some(r.form))
            }
            None => (sample.record.unwrap_or_default(), sample.segments.unwrap_or_default(), None, None),
        };
        let m = Message::parse(template).map_err(|e| EngineError::Invalid(vec![Issue::new("/template", "template", e.message.clone()).at(e.line, None)]))?;
        let ctx = crate::flow::template_context(&crate::flow::Subject { data: &data, segments: &segments, id, form: form.as_deref() }, (None, None), self.clock.now());
        let out = self.templates().message(&m, &ctx).await.map_err(|e| EngineError::Invalid(vec![Issue::new("/template", "template", e.message.clone()).at(e.line, None)]))?;
        Ok((out.subject, out.body))
    }

    /// Saves a message template (admins); a template that does not parse is refused with its line.
    pub async fn save_message(&self, actor: &Actor, url_key: Option<&str>, body: Value, create: bool) -> Result<(StoredDefinition, bool)> {
        actor.require_admin("change messages")?;
        let body = keyed(MESSAGE, url_key, body)?;
        let def: MessageDef = serde_json::from_value(body.clone()).map_err(|e| invalid("", "definition", e.to_string(), format!("消息模板的定义格式不对：{e}")))?;
        if !key::is_valid(&def.key, key::MAX_FORM_KEY) {
            return Err(invalid("/key", "key", format!("message key '{}' {}", def.key, key::rule(key::MAX_FORM_KEY)), format!("消息模板的标识「{}」不合规：以小写字母开头，只用小写字母、数字和下划线，最多 {} 个字符", def.key, key::MAX_FORM_KEY)));
        }
        let message = Message::parse(&def.template).map_err(|e| invalid("/template", "template", e.describe(), format!("模板有误：{}", e.describe())))?;
        self.templates().trial(&message).await.map_err(|e| invalid("/template", "template_limit", e.describe(), format!("模板超出了运行限制：{}", e.describe())))?;
        self.store_definition(actor, MESSAGE, &def.key, body, create).await
    }

    pub(crate) async fn store_definition(&self, actor: &Actor, kind: &str, key: &str, body: Value, create: bool) -> Result<(StoredDefinition, bool)> {
        let current = self.store.definition(kind, key).await?;
        if let Some(c) = &current {
            if create {
                return Err(EngineError::Conflict { zh: None, message: format!("a {kind} '{key}' already exists; PUT /api/v1/{kind}s/{key} changes it"), key: Some(vec!["key".into()]) });
            }
            if c.definition == body {
                return Ok((c.clone(), false));
            }
        }
        let version = match &current {
            Some(c) => c.version + 1,
            // A definition removed (by uninstalling its pack) and made again continues its history.
            None => self.store.last_definition_version(kind, key).await?.map_or(1, |v| v + 1),
        };
        let at = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.save_definition(kind, key, version, &body, at, actor.id).await.map_err(|e| match e {
            trellis_store::StoreError::Unique { .. } => EngineError::Conflict { zh: None, message: format!("{kind} '{key}' was changed at the same time; reload and try again"), key: None },
            e => e.into(),
        })?;
        tx.audit(&self.audit_entry(Some(actor), "definition_saved", Some(format!("{kind}/{key}")), serde_json::json!({"version": version}))).await?;
        tx.commit().await?;
        self.defs.forget();
        Ok((StoredDefinition { kind: kind.to_owned(), key: key.to_owned(), version, definition: body, updated_at: at }, current.is_none()))
    }
}

//! Workflows: state machines over records — follow-up pipelines (跟进阶段),
//! revisit plans (回访计划), complaint handling.
//!
//! A definition names its form, an initial state, states (with actions on
//! enter and exit, timers relative to entering, and `final`), and
//! transitions (`from` one state, a list, or `"*"` for any state that is not
//! final; an optional `guard` that must hold; an optional `when` that makes
//! the transition fire by itself after a write). [`compile`] checks all of
//! it and compiles every script once; the engine then asks the compiled
//! workflow which transitions apply, and runs what they say.

use std::collections::{BTreeSet, VecDeque};

use indexmap::IndexMap;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{self, Action, Catalog, Site};
use crate::issue::{Issue, escape_token};
use crate::key;
use crate::script::{self, Inputs, Script, ScriptError};
use crate::duration;

/// Longest chain of automatic transitions one write may cause on one record.
pub const MAX_CHAIN: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDef {
    pub key: String,
    pub form: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub start: StartDef,
    pub initial: String,
    pub states: IndexMap<String, StateDef>,
    #[serde(default)]
    pub transitions: Vec<TransitionDef>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartDef {
    #[serde(default)]
    pub on: StartOn,
    /// With `on: created`, start only when it holds; with `on: condition`,
    /// start whenever a write makes it hold (and the workflow is not running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartOn {
    Created,
    Condition,
    /// Only by hand or by another workflow's `start_workflow`.
    #[default]
    Manual,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, rename = "final")]
    pub is_final: bool,
    #[serde(default)]
    pub on_enter: Vec<Value>,
    #[serde(default)]
    pub on_exit: Vec<Value>,
    #[serde(default)]
    pub timers: Vec<TimerDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerDef {
    /// Time after entering the state, e.g. `72h`, `7d`.
    pub after: String,
    /// Repeat this often after the first firing, while the state lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub actions: Vec<Value>,
}

/// `from`: one state, several, or `"*"` (any state that is not final).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum From {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionDef {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub from: From,
    pub to: String,
    /// Must give `true`; `false` refuses with `message`, text refuses with that text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Fire by itself once this holds after a write of the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Who may take it by hand (admins always may); anyone when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default)]
    pub actions: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct CompiledWorkflow {
    pub def: WorkflowDef,
    pub version: i64,
    pub start_condition: Option<Script>,
    pub states: IndexMap<String, CompiledState>,
    pub transitions: Vec<CompiledTransition>,
}

#[derive(Debug, Clone)]
pub struct CompiledState {
    pub key: String,
    pub title: Option<String>,
    pub is_final: bool,
    pub on_enter: Vec<Action>,
    pub on_exit: Vec<Action>,
    pub timers: Vec<CompiledTimer>,
}

#[derive(Debug, Clone)]
pub struct CompiledTimer {
    pub after: SignedDuration,
    pub every: Option<SignedDuration>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone)]
pub struct CompiledTransition {
    pub key: String,
    pub title: Option<String>,
    /// Empty: from any state that is not final.
    pub from: Vec<String>,
    pub to: String,
    pub guard: Option<Script>,
    pub message: Option<String>,
    pub when: Option<Script>,
    pub roles: Vec<String>,
    pub actions: Vec<Action>,
}

/// Why a transition may not be taken now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// There is no such transition.
    Unknown,
    /// It does not leave the current state.
    NotFrom,
    /// The guard said no, with this message.
    Guard(String),
    /// The guard failed to run.
    GuardFailed(ScriptError),
}

impl CompiledWorkflow {
    pub fn key(&self) -> &str {
        &self.def.key
    }

    pub fn state(&self, key: &str) -> Option<&CompiledState> {
        self.states.get(key)
    }

    pub fn transition(&self, key: &str) -> Option<&CompiledTransition> {
        self.transitions.iter().find(|t| t.key == key)
    }

    /// The transitions that leave `state`, in definition order.
    pub fn leaving<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a CompiledTransition> + 'a {
        let is_final = self.state(state).is_some_and(|s| s.is_final);
        self.transitions.iter().filter(move |t| if t.from.is_empty() { !is_final } else { t.from.iter().any(|f| f == state) })
    }

    /// Checks that `key` may be taken from `state` now.
    pub fn check<'a>(&'a self, state: &'a str, key: &str, inputs: &Inputs<'_>) -> Result<&'a CompiledTransition, Refusal> {
        let t = self.transition(key).ok_or(Refusal::Unknown)?;
        if !self.leaving(state).any(|l| l.key == key) {
            return Err(Refusal::NotFrom);
        }
        guard(t, inputs)?;
        Ok(t)
    }

    /// Whether a start condition holds (no condition: it does).
    pub fn start_holds(&self, inputs: &Inputs<'_>) -> Result<bool, ScriptError> {
        match &self.start_condition {
            None => Ok(true),
            Some(s) => truthy(script::sandbox().run(s, inputs)?, "start condition"),
        }
    }

    /// The first automatic transition out of `state` whose `when` and guard
    /// hold. A script that fails names its transition and part (`when`, `guard`).
    pub fn next_automatic<'a>(&'a self, state: &'a str, inputs: &Inputs<'_>) -> Result<Option<&'a CompiledTransition>, (String, &'static str, ScriptError)> {
        for t in self.leaving(state) {
            let Some(when) = &t.when else { continue };
            let holds = script::sandbox().run(when, inputs).and_then(|v| truthy(v, "when")).map_err(|e| (t.key.clone(), "when", e))?;
            if !holds {
                continue;
            }
            match guard(t, inputs) {
                Ok(()) => return Ok(Some(t)),
                Err(Refusal::GuardFailed(e)) => return Err((t.key.clone(), "guard", e)),
                Err(_) => continue,
            }
        }
        Ok(None)
    }
}

/// Runs a transition's guard: `true` lets it pass, `false` or `()` refuses
/// with the transition's message, text refuses with that text.
pub fn guard(t: &CompiledTransition, inputs: &Inputs<'_>) -> Result<(), Refusal> {
    let Some(g) = &t.guard else { return Ok(()) };
    let refused = || Refusal::Guard(t.message.clone().unwrap_or_else(|| format!("the condition of '{}' does not hold", t.key)));
    match script::sandbox().run(g, inputs).map_err(Refusal::GuardFailed)? {
        Value::Bool(true) => Ok(()),
        Value::Bool(false) | Value::Null => Err(refused()),
        Value::String(s) if s.is_empty() => Err(refused()),
        Value::String(s) => Err(Refusal::Guard(s)),
        other => Err(Refusal::GuardFailed(ScriptError::plain(format!("a guard must give true, false or a message, not {other}")))),
    }
}

fn truthy(v: Value, what: &str) -> Result<bool, ScriptError> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(false),
        other => Err(ScriptError::plain(format!("a {what} must give true or false, not {other}"))),
    }
}

/// The roles every installation has.
pub const BUILT_IN_ROLES: &[&str] = &["admin", "manager", "staff"];

/// Checks a workflow and compiles its scripts. With a catalog, every form,
/// field, message, workflow and role it names must exist; without one (a
/// stored definition being loaded) only its own shape is checked.
pub fn compile(def: WorkflowDef, version: i64, catalog: Option<Catalog<'_>>) -> Result<CompiledWorkflow, Vec<Issue>> {
    let mut issues = Vec::new();
    if !key::is_valid(&def.key, key::MAX_FORM_KEY) {
        issues.push(Issue::new("/key", "key", format!("workflow key '{}' {}", def.key, key::rule(key::MAX_FORM_KEY))).zh(format!("流程标识「{}」不合规：须为 1 到 {} 个小写字母、数字或下划线，以字母开头，下划线不能连用", def.key, key::MAX_FORM_KEY)));
    }
    if let Some(c) = catalog
        && !c.forms.contains_key(&def.form)
    {
        issues.push(Issue::new("/form", "form", format!("there is no form '{}'", def.form)).zh(format!("没有表单「{}」", def.form)));
    }
    let site = Site { form: &def.form, workflow: Some(&def.key) };
    let compile_script = |source: &str, pointer: String, issues: &mut Vec<Issue>| match script::sandbox().compile(source) {
        Ok(s) => Some(s),
        Err(e) => {
            issues.push(Issue::new(pointer, "script", e.message.clone()).at(e.line, e.column));
            None
        }
    };

    let start_condition = def.start.condition.as_deref().and_then(|s| compile_script(s, "/start/condition".into(), &mut issues));
    if def.start.on == StartOn::Condition && def.start.condition.is_none() {
        issues.push(Issue::new("/start/condition", "required", "a workflow started on a condition needs the condition").zh("流程设为按条件启动，需要填写启动条件"));
    }
    if def.states.is_empty() {
        issues.push(Issue::new("/states", "required", "a workflow needs at least one state").zh("流程至少要有一个状态"));
    }
    if !def.states.contains_key(&def.initial) {
        issues.push(Issue::new("/initial", "state", format!("the initial state '{}' is not one of the states", def.initial)).zh(format!("初始状态「{}」不在流程的状态里", def.initial)));
    }

    let mut states = IndexMap::new();
    for (k, s) in &def.states {
        let at = format!("/states/{}", escape_token(k));
        if !key::is_valid(k, key::MAX_FIELD_KEY) {
            issues.push(Issue::new(at.clone(), "key", format!("state key '{k}' {}", key::rule(key::MAX_FIELD_KEY))).zh(format!("状态标识「{k}」不合规：须为 1 到 {} 个小写字母、数字或下划线，以字母开头，下划线不能连用", key::MAX_FIELD_KEY)));
        }
        let on_enter = action::parse_actions(&s.on_enter, &format!("{at}/on_enter"), site, catalog, &mut issues);
        let on_exit = action::parse_actions(&s.on_exit, &format!("{at}/on_exit"), site, catalog, &mut issues);
        let mut timers = Vec::new();
        for (i, t) in s.timers.iter().enumerate() {
            let tat = format!("{at}/timers/{i}");
            let after = duration::parse(&t.after).map_err(|m| issues.push(Issue::new(format!("{tat}/after"), "duration", m).zh(format!("定时器时长「{}」无效，请写成 72h、7d、30m 这样的格式", t.after)))).ok();
            if after.is_some_and(|a| a.is_negative()) {
                issues.push(Issue::new(format!("{tat}/after"), "duration", "a timer fires after entering the state, so 'after' cannot be negative").zh("定时器在进入状态后开始计时，时长（after）不能是负数"));
            }
            let every = t.every.as_deref().and_then(|e| duration::parse(e).map_err(|m| issues.push(Issue::new(format!("{tat}/every"), "duration", m).zh(format!("重复间隔「{e}」无效，请写成 1h、1d 这样的格式")))).ok());
            if every.is_some_and(|e| e < SignedDuration::from_mins(1)) {
                issues.push(Issue::new(format!("{tat}/every"), "duration", "a repeating timer repeats at most once a minute").zh("重复定时器的间隔不能短于 1 分钟"));
            }
            if s.is_final {
                issues.push(Issue::new(tat.clone(), "final", "a final state ends the workflow, so its timers would never fire").zh("结束状态会结束流程，它的定时器永远不会触发"));
            }
            let actions = action::parse_actions(&t.actions, &format!("{tat}/actions"), site, catalog, &mut issues);
            if let Some(after) = after {
                timers.push(CompiledTimer { after, every, actions });
            }
        }
        states.insert(k.clone(), CompiledState { key: k.clone(), title: s.title.clone(), is_final: s.is_final, on_enter, on_exit, timers });
    }

    let mut transitions = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, t) in def.transitions.iter().enumerate() {
        let at = format!("/transitions/{i}");
        if !key::is_valid(&t.key, key::MAX_FIELD_KEY) {
            issues.push(Issue::new(format!("{at}/key"), "key", format!("transition key '{}' {}", t.key, key::rule(key::MAX_FIELD_KEY))).zh(format!("流转标识「{}」不合规：须为 1 到 {} 个小写字母、数字或下划线，以字母开头，下划线不能连用", t.key, key::MAX_FIELD_KEY)));
        }
        if !seen.insert(t.key.clone()) {
            issues.push(Issue::new(format!("{at}/key"), "unique", format!("another transition is already called '{}'", t.key)).zh(format!("已有另一个流转使用标识「{}」", t.key)));
        }
        let from: Vec<String> = match &t.from {
            From::One(s) if s == "*" => Vec::new(),
            From::One(s) => vec![s.clone()],
            From::Many(v) => v.clone(),
        };
        if matches!(&t.from, From::Many(v) if v.is_empty()) {
            issues.push(Issue::new(format!("{at}/from"), "required", "name at least one state to leave, or \"*\"").zh("请至少填写一个出发状态，或填 \"*\" 表示任意状态"));
        }
        for (j, f) in from.iter().enumerate() {
            let fat = if matches!(t.from, From::One(_)) { format!("{at}/from") } else { format!("{at}/from/{j}") };
            match def.states.get(f) {
                None => issues.push(Issue::new(fat, "state", format!("there is no state '{f}'")).zh(format!("没有状态「{f}」"))),
                Some(s) if s.is_final => issues.push(Issue::new(fat, "final", format!("'{f}' is final: no transition leaves it")).zh(format!("「{f}」是结束状态，不能再从它流转出去"))),
                Some(_) => {}
            }
        }
        if !def.states.contains_key(&t.to) {
            issues.push(Issue::new(format!("{at}/to"), "state", format!("there is no state '{}'", t.to)).zh(format!("没有状态「{}」", t.to)));
        }
        if let Some(c) = catalog {
            for (j, r) in t.roles.iter().enumerate() {
                if !c.roles.contains(&r.as_str()) {
                    issues.push(Issue::new(format!("{at}/roles/{j}"), "role", format!("there is no role '{r}'; roles are {}", c.roles.join(", "))).zh(format!("没有角色「{r}」；可用的角色有：{}", c.roles.join("、"))));
                }
            }
        }
        let guard = t.guard.as_deref().and_then(|s| compile_script(s, format!("{at}/guard"), &mut issues));
        let when = t.when.as_deref().and_then(|s| compile_script(s, format!("{at}/when"), &mut issues));
        let actions = action::parse_actions(&t.actions, &format!("{at}/actions"), site, catalog, &mut issues);
        transitions.push(CompiledTransition { key: t.key.clone(), title: t.title.clone(), from, to: t.to.clone(), guard, message: t.message.clone(), when, roles: t.roles.clone(), actions });
    }

    if issues.is_empty() {
        for unreachable in unreachable_states(&def.initial, &states, &transitions) {
            issues.push(Issue::new(format!("/states/{}", escape_token(&unreachable)), "unreachable", format!("no transition leads from '{}' to '{unreachable}'", def.initial)).zh(format!("从初始状态「{}」出发，没有任何流转能到达「{unreachable}」", def.initial)));
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(CompiledWorkflow { def, version, start_condition, states, transitions })
}

/// States no path of transitions reaches from the initial one.
fn unreachable_states(initial: &str, states: &IndexMap<String, CompiledState>, transitions: &[CompiledTransition]) -> Vec<String> {
    let mut reached = BTreeSet::from([initial.to_owned()]);
    let mut queue = VecDeque::from([initial.to_owned()]);
    while let Some(s) = queue.pop_front() {
        let is_final = states.get(&s).is_some_and(|st| st.is_final);
        for t in transitions {
            let leaves = if t.from.is_empty() { !is_final } else { t.from.contains(&s) };
            if leaves && reached.insert(t.to.clone()) {
                queue.push_back(t.to.clone());
            }
        }
    }
    states.keys().filter(|k| !reached.contains(*k)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn pipeline() -> Value {
        json!({
            "key": "pipeline", "form": "customer", "title": "跟进阶段",
            "start": {"on": "created"},
            "initial": "new_lead",
            "states": {
                "new_lead": {"title": "新线索", "timers": [{"after": "72h", "actions": [{"notify": "manager", "title": "72 小时未联系"}]}]},
                "contacted": {}, "proposal": {}, "negotiation": {},
                "won": {"final": true}, "lost": {"final": true}
            },
            "transitions": [
                {"key": "contact", "from": "new_lead", "to": "contacted"},
                {"key": "propose", "from": "contacted", "to": "proposal"},
                {"key": "quote", "from": "proposal", "to": "negotiation", "guard": "present(record.quote_amount)", "message": "报价需要填写金额"},
                {"key": "win", "from": "negotiation", "to": "won"},
                {"key": "lose", "from": "*", "to": "lost"},
                {"key": "auto_contact", "from": "new_lead", "to": "contacted", "when": "present(record.last_contact_at)"}
            ]
        })
    }

    fn compiled(v: Value) -> Result<CompiledWorkflow, Vec<Issue>> {
        compile(serde_json::from_value(v).unwrap(), 1, None)
    }

    fn inputs(record: &Map<String, Value>) -> Inputs<'_> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        Inputs { record, segments: &EMPTY, now: "2026-01-01T00:00:00Z".parse().unwrap() }
    }

    #[test]
    fn transitions_leave_only_their_states_and_guards_speak() {
        let w = compiled(pipeline()).unwrap();
        let empty = Map::new();
        assert_eq!(w.check("new_lead", "quote", &inputs(&empty)).unwrap_err(), Refusal::NotFrom);
        assert_eq!(w.check("new_lead", "nope", &inputs(&empty)).unwrap_err(), Refusal::Unknown);
        assert_eq!(w.check("proposal", "quote", &inputs(&empty)).unwrap_err(), Refusal::Guard("报价需要填写金额".into()));
        let quoted = json!({"quote_amount": 5000}).as_object().unwrap().clone();
        assert_eq!(w.check("proposal", "quote", &inputs(&quoted)).unwrap().to, "negotiation");
        // "*" leaves every state but the final ones.
        assert!(w.check("negotiation", "lose", &inputs(&empty)).is_ok());
        assert_eq!(w.check("won", "lose", &inputs(&empty)).unwrap_err(), Refusal::NotFrom);
    }

    #[test]
    fn automatic_transitions_fire_when_their_condition_holds() {
        let w = compiled(pipeline()).unwrap();
        assert!(w.next_automatic("new_lead", &inputs(&Map::new())).unwrap().is_none());
        let touched = json!({"last_contact_at": "2026-01-02"}).as_object().unwrap().clone();
        assert_eq!(w.next_automatic("new_lead", &inputs(&touched)).unwrap().unwrap().key, "auto_contact");
    }

    #[test]
    fn a_guard_can_answer_with_its_own_message() {
        let mut def = pipeline();
        def["transitions"][2]["guard"] = json!("if record.quote_amount == () { \"先填写报价金额\" } else { true }");
        let w = compiled(def).unwrap();
        assert_eq!(w.check("proposal", "quote", &inputs(&Map::new())).unwrap_err(), Refusal::Guard("先填写报价金额".into()));
    }

    #[test]
    fn checks_name_each_problem() {
        let mut def = pipeline();
        def["initial"] = json!("start");
        def["transitions"][0]["to"] = json!("nowhere");
        def["transitions"][1]["key"] = json!("contact");
        def["transitions"][2]["guard"] = json!("record.");
        def["states"]["new_lead"]["timers"][0]["after"] = json!("3 days");
        let issues = compiled(def).unwrap_err();
        let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        for p in ["/initial", "/transitions/0/to", "/transitions/1/key", "/transitions/2/guard", "/states/new_lead/timers/0/after"] {
            assert!(pointers.contains(&p), "{p} missing from {issues:?}");
        }
    }

    #[test]
    fn unreachable_states_are_named() {
        let mut def = pipeline();
        def["states"]["dormant"] = json!({});
        let issues = compiled(def).unwrap_err();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].pointer, "/states/dormant");
        assert_eq!(issues[0].code, "unreachable");
    }

    #[test]
    fn a_final_state_cannot_be_left_or_timed() {
        let mut def = pipeline();
        def["transitions"][3]["from"] = json!(["negotiation", "won"]);
        def["states"]["lost"]["timers"] = json!([{"after": "1d", "actions": []}]);
        let issues = compiled(def).unwrap_err();
        let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        assert!(pointers.contains(&"/transitions/3/from/1"), "{issues:?}");
        assert!(pointers.contains(&"/states/lost/timers/0"), "{issues:?}");
    }
}

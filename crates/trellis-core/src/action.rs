//! Actions, shared by workflows (on enter, on exit, on a timer, on a
//! transition) and triggers: what the engine does when something happens.
//!
//! An action is one JSON object whose kind is its one main key:
//! `{"notify": "manager", "message": "escalation"}`, `{"create_task": {…}}`,
//! `{"set": {"field": "script"}}`, `{"create_record": {"form", "data"}}`,
//! `{"start_workflow": "revisit_plan"}`, `{"transition": {"workflow", "transition"}}`,
//! `{"assign": {"role": "staff"}}`, `{"email": {"to", "message"}}`,
//! `{"webhook": {"url", "message", "format"}}`. Parsing compiles its scripts
//! and checks its templates; given a [`Catalog`] it also checks that every
//! form, field, message, workflow and role it names exists.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::SignedDuration;
use serde_json::{Map, Value};

use crate::form::CompiledForm;
use crate::issue::{Issue, escape_token};
use crate::script::{self, Script};
use crate::{duration, message};

/// Who a notification, a task or an email goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The record's owner.
    Owner,
    /// The manager of the record's owner.
    Manager,
    /// Every user of a role (a task for a role waits in each of their inboxes until one takes it).
    Role(String),
    /// A user by email or id.
    User(String),
    /// The value of a field of the record: a user field, or an email address for email.
    Field(String),
}

impl Recipient {
    pub fn parse(text: &str) -> Result<Recipient, String> {
        let t = text.trim();
        Ok(match t {
            "owner" => Recipient::Owner,
            "manager" => Recipient::Manager,
            _ if t.starts_with("role:") && t.len() > 5 => Recipient::Role(t[5..].to_owned()),
            _ if t.starts_with("field:") && t.len() > 6 => Recipient::Field(t[6..].to_owned()),
            _ if t.contains('@') || uuid::Uuid::parse_str(t).is_ok() => Recipient::User(t.to_owned()),
            _ => return Err(format!("'{text}' is not a recipient: write owner, manager, role:ROLE, field:FIELD or a user's email")),
        })
    }
}

/// The body a webhook posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// `{"text", "record", …}` as plain JSON.
    Json,
    /// A WeCom (企业微信) group robot's text message.
    Wecom,
    /// A DingTalk (钉钉) group robot's text message.
    Dingtalk,
    /// A Feishu (飞书) group robot's text message.
    Feishu,
}

/// A task to create.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// A template.
    pub title: String,
    pub assignee: Recipient,
    pub due: Option<SignedDuration>,
    /// The form to fill when completing the task.
    pub form: Option<String>,
    /// A template.
    pub description: Option<String>,
}

/// How `assign` picks the new owner.
#[derive(Debug, Clone)]
pub enum Assign {
    /// The next user of the role, in turn.
    RoundRobin(String),
    /// A script gives a user's email or id, or `role:R` to take turns among R.
    Script(Script),
    User(String),
}

/// A field or data value computed by a script.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub field: String,
    pub script: Script,
}

#[derive(Debug, Clone)]
pub enum Action {
    Notify { to: Recipient, message: Option<String>, title: Option<String> },
    Email { to: Recipient, message: String },
    Webhook { url: String, message: Option<String>, format: WebhookFormat },
    CreateTask(TaskSpec),
    Set(Vec<Assignment>),
    CreateRecord { form: String, data: Vec<Assignment> },
    StartWorkflow(String),
    /// `workflow` is the running workflow when the definition leaves it out.
    Transition { workflow: Option<String>, transition: String },
    Assign(Assign),
    /// One notification per recipient listing the records a cron trigger picked (the Monday digest).
    Digest(DigestSpec),
}

/// A digest: the records a cron run picked, grouped by recipient.
#[derive(Debug, Clone)]
pub struct DigestSpec {
    pub to: Recipient,
    pub message: Option<String>,
    /// A template, when there is no message (or it has no subject).
    pub title: Option<String>,
    /// Also email it to each recipient's address.
    pub email: bool,
    /// At most this many records are listed per recipient (`count` has them all).
    pub limit: usize,
}

/// Records a digest lists per recipient unless it says otherwise.
pub const DIGEST_LIMIT: usize = 100;

const KINDS: &[&str] = &["notify", "email", "webhook", "create_task", "set", "create_record", "start_workflow", "transition", "assign", "digest"];

/// A workflow as other definitions see it: its form and its transitions.
#[derive(Debug, Clone)]
pub struct WorkflowRef {
    pub form: String,
    pub transitions: BTreeSet<String>,
}

/// What exists, for checking references when a definition is saved.
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    pub forms: &'a HashMap<String, Arc<CompiledForm>>,
    pub messages: &'a BTreeSet<String>,
    pub workflows: &'a BTreeMap<String, WorkflowRef>,
    pub roles: &'a [&'a str],
    /// Working-day calendars, the built-in `cn` included.
    pub calendars: &'a BTreeSet<String>,
}

/// Where actions run: the form of the record they act on, and the workflow (if any).
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    pub form: &'a str,
    pub workflow: Option<&'a str>,
}

struct Reader<'a> {
    pointer: &'a str,
    issues: &'a mut Vec<Issue>,
}

impl Reader<'_> {
    fn issue(&mut self, at: &str, code: &'static str, message: impl Into<String>, zh: impl Into<String>) {
        self.issues.push(Issue::new(format!("{}{at}", self.pointer), code, message).zh(zh));
    }

    fn text<'v>(&mut self, v: &'v Value, at: &str) -> Option<&'v str> {
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.issue(at, "type", format!("must be text, not {v}"), format!("应填写文字，不能是 {v}"));
                None
            }
        }
    }

    fn object<'v>(&mut self, v: &'v Value, at: &str, allowed: &[&str], required: &[&str]) -> Option<&'v Map<String, Value>> {
        let Some(obj) = v.as_object() else {
            self.issue(at, "type", format!("must be an object with {}", allowed.join(", ")), format!("应是一个对象，可包含：{}", allowed.join("、")));
            return None;
        };
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                self.issue(&format!("{at}/{}", escape_token(k)), "unknown", format!("'{k}' is not understood here; use {}", allowed.join(", ")), format!("这里不能填写「{k}」；可用的有：{}", allowed.join("、")));
            }
        }
        for r in required {
            if !obj.contains_key(*r) {
                self.issue(at, "required", format!("'{r}' is required"), format!("缺少「{r}」"));
            }
        }
        Some(obj)
    }

    fn script(&mut self, source: &Value, at: &str) -> Option<Script> {
        let source = self.text(source, at)?;
        match script::sandbox().compile(source) {
            Ok(s) => Some(s),
            Err(e) => {
                self.issues.push(Issue::new(format!("{}{at}", self.pointer), "script", e.message.clone()).at(e.line, e.column));
                None
            }
        }
    }

    fn template(&mut self, source: &Value, at: &str) -> Option<String> {
        let source = self.text(source, at)?;
        match message::check(source) {
            Ok(()) => Some(source.to_owned()),
            Err(e) => {
                self.issues.push(Issue::new(format!("{}{at}", self.pointer), "template", e.message.clone()).at(e.line, None));
                None
            }
        }
    }

    fn recipient(&mut self, v: &Value, at: &str, site: Site<'_>, catalog: Option<Catalog<'_>>) -> Option<Recipient> {
        let text = self.text(v, at)?;
        let r = match Recipient::parse(text) {
            Ok(r) => r,
            Err(m) => {
                self.issue(at, "recipient", m, format!("「{text}」不是有效的收件人：请写 owner（负责人）、manager（负责人的主管）、role:角色、field:字段，或用户的邮箱"));
                return None;
            }
        };
        if let Some(c) = catalog {
            match &r {
                Recipient::Role(role) if !c.roles.contains(&role.as_str()) => {
                    self.issue(at, "role", format!("there is no role '{role}'; roles are {}", c.roles.join(", ")), format!("没有角色「{role}」；可用的角色有：{}", c.roles.join("、")));
                }
                Recipient::Field(f) if c.forms.get(site.form).is_some_and(|form| form.field(f).is_none()) => {
                    self.issue(at, "field", format!("form '{}' has no field '{f}'", site.form), format!("表单「{}」没有字段「{f}」", site.form));
                }
                _ => {}
            }
        }
        Some(r)
    }

    fn message_key(&mut self, v: &Value, at: &str, catalog: Option<Catalog<'_>>) -> Option<String> {
        let key = self.text(v, at)?.to_owned();
        if let Some(c) = catalog
            && !c.messages.contains(&key)
        {
            self.issue(at, "message", format!("there is no message '{key}'; save it under /api/v1/messages first"), format!("没有消息模板「{key}」，请先保存该消息模板"));
        }
        Some(key)
    }

    fn assignments(&mut self, v: &Value, at: &str, form: &str, catalog: Option<Catalog<'_>>) -> Vec<Assignment> {
        let Some(obj) = v.as_object() else {
            self.issue(at, "type", "must be an object of field → script", "应是一个「字段: 脚本」的对象");
            return Vec::new();
        };
        let target = catalog.and_then(|c| c.forms.get(form));
        let mut out = Vec::new();
        for (field, source) in obj {
            let here = format!("{at}/{}", escape_token(field));
            if let Some(f) = target {
                match f.field(field) {
                    None => self.issue(&here, "field", format!("form '{form}' has no field '{field}'"), format!("表单「{form}」没有字段「{field}」")),
                    Some(info) if info.derived.is_some() => self.issue(&here, "derived", format!("'{field}' is computed by the form's rules and cannot be set"), format!("「{field}」由表单规则自动计算，不能设置")),
                    Some(_) => {}
                }
            }
            if let Some(script) = self.script(source, &here) {
                out.push(Assignment { field: field.clone(), script });
            }
        }
        out
    }

    fn form_exists(&mut self, form: &str, at: &str, catalog: Option<Catalog<'_>>) {
        if let Some(c) = catalog
            && !c.forms.contains_key(form)
        {
            self.issue(at, "form", format!("there is no form '{form}'"), format!("没有表单「{form}」"));
        }
    }

    fn action(&mut self, v: &Value, site: Site<'_>, catalog: Option<Catalog<'_>>) -> Option<Action> {
        let Some(obj) = v.as_object() else {
            self.issue("", "type", format!("an action is an object with one of {}", KINDS.join(", ")), format!("动作应是一个对象，包含以下之一：{}", KINDS.join("、")));
            return None;
        };
        let kinds: Vec<&str> = obj.keys().map(String::as_str).filter(|k| KINDS.contains(k)).collect();
        let kind = match kinds.as_slice() {
            [one] => *one,
            [] => {
                self.issue("", "action", format!("an action needs one of {}", KINDS.join(", ")), format!("动作需要以下之一：{}", KINDS.join("、")));
                return None;
            }
            many => {
                self.issue("", "action", format!("an action does one thing; this one has {}", many.join(" and ")), format!("一个动作只能做一件事，这里同时有 {}", many.join(" 和 ")));
                return None;
            }
        };
        let extra: &[&str] = if kind == "notify" { &["notify", "message", "title"] } else { &[kind] };
        for k in obj.keys() {
            if !extra.contains(&k.as_str()) {
                self.issue(&format!("/{}", escape_token(k)), "unknown", format!("'{k}' is not understood in a {kind} action"), format!("{kind} 动作里不能填写「{k}」"));
            }
        }
        let at = format!("/{kind}");
        let body = &obj[kind];
        Some(match kind {
            "notify" => {
                let to = self.recipient(body, &at, site, catalog)?;
                let message = obj.get("message").and_then(|m| self.message_key(m, "/message", catalog));
                let title = obj.get("title").and_then(|t| self.template(t, "/title"));
                if message.is_none() && title.is_none() {
                    self.issue("", "required", "a notification needs a 'message' (a message key) or a 'title'", "通知需要消息模板（message）或标题（title）");
                }
                Action::Notify { to, message, title }
            }
            "email" => {
                let o = self.object(body, &at, &["to", "message"], &["to", "message"])?;
                let to = self.recipient(o.get("to")?, &format!("{at}/to"), site, catalog)?;
                let message = self.message_key(o.get("message")?, &format!("{at}/message"), catalog)?;
                Action::Email { to, message }
            }
            "webhook" => {
                let o = self.object(body, &at, &["url", "message", "format"], &["url"])?;
                let url = self.text(o.get("url")?, &format!("{at}/url"))?.to_owned();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    self.issue(&format!("{at}/url"), "url", format!("'{url}' is not an http(s) URL"), format!("「{url}」不是 http(s) 网址"));
                }
                let message = o.get("message").and_then(|m| self.message_key(m, &format!("{at}/message"), catalog));
                let format = match o.get("format").map(|f| f.as_str()) {
                    None | Some(Some("json")) => WebhookFormat::Json,
                    Some(Some("wecom")) => WebhookFormat::Wecom,
                    Some(Some("dingtalk")) => WebhookFormat::Dingtalk,
                    Some(Some("feishu")) => WebhookFormat::Feishu,
                    Some(_) => {
                        self.issue(&format!("{at}/format"), "enum", "format is one of json, wecom, dingtalk, feishu", "format 只能是 json、wecom（企业微信）、dingtalk（钉钉）或 feishu（飞书）");
                        WebhookFormat::Json
                    }
                };
                Action::Webhook { url, message, format }
            }
            "create_task" => {
                let o = self.object(body, &at, &["title", "assignee", "due", "form", "description"], &["title", "assignee"])?;
                let title = self.template(o.get("title")?, &format!("{at}/title"));
                let assignee = self.recipient(o.get("assignee")?, &format!("{at}/assignee"), site, catalog);
                let due = o.get("due").and_then(|d| {
                    let text = self.text(d, &format!("{at}/due"))?;
                    duration::parse(text).map_err(|m| self.issue(&format!("{at}/due"), "duration", m, format!("任务期限「{text}」不是有效的时长，请写成 72h、7d 这样的格式"))).ok()
                });
                let form = o.get("form").and_then(|f| self.text(f, &format!("{at}/form"))).map(str::to_owned);
                if let Some(f) = &form {
                    self.form_exists(f, &format!("{at}/form"), catalog);
                }
                let description = o.get("description").and_then(|d| self.template(d, &format!("{at}/description")));
                Action::CreateTask(TaskSpec { title: title?, assignee: assignee?, due, form, description })
            }
            "set" => Action::Set(self.assignments(body, &at, site.form, catalog)),
            "create_record" => {
                let o = self.object(body, &at, &["form", "data"], &["form"])?;
                let form = self.text(o.get("form")?, &format!("{at}/form"))?.to_owned();
                self.form_exists(&form, &format!("{at}/form"), catalog);
                let data = o.get("data").map(|d| self.assignments(d, &format!("{at}/data"), &form, catalog)).unwrap_or_default();
                Action::CreateRecord { form, data }
            }
            "start_workflow" => {
                let key = self.text(body, &at)?.to_owned();
                if let Some(c) = catalog {
                    match c.workflows.get(&key) {
                        None => self.issue(&at, "workflow", format!("there is no workflow '{key}'; save it first"), format!("没有流程「{key}」，请先保存该流程")),
                        Some(w) if w.form != site.form => self.issue(&at, "workflow", format!("workflow '{key}' runs on form '{}', not '{}'", w.form, site.form), format!("流程「{key}」用于表单「{}」，不是「{}」", w.form, site.form)),
                        Some(_) => {}
                    }
                }
                Action::StartWorkflow(key)
            }
            "transition" => {
                let o = self.object(body, &at, &["workflow", "transition"], &["transition"])?;
                let workflow = o.get("workflow").and_then(|w| self.text(w, &format!("{at}/workflow"))).map(str::to_owned);
                let transition = self.text(o.get("transition")?, &format!("{at}/transition"))?.to_owned();
                let target = workflow.as_deref().or(site.workflow);
                match (catalog, target) {
                    (_, None) => self.issue(&at, "workflow", "name the 'workflow' whose transition to take", "请写明要执行哪个流程（workflow）的流转"),
                    (Some(c), Some(w)) => match c.workflows.get(w) {
                        None => self.issue(&format!("{at}/workflow"), "workflow", format!("there is no workflow '{w}'; save it first"), format!("没有流程「{w}」，请先保存该流程")),
                        Some(r) if r.form != site.form => self.issue(&format!("{at}/workflow"), "workflow", format!("workflow '{w}' runs on form '{}', not '{}'", r.form, site.form), format!("流程「{w}」用于表单「{}」，不是「{}」", r.form, site.form)),
                        Some(r) if !r.transitions.contains(&transition) => {
                            self.issue(&format!("{at}/transition"), "transition", format!("workflow '{w}' has no transition '{transition}'"), format!("流程「{w}」没有流转「{transition}」"))
                        }
                        Some(_) => {}
                    },
                    (None, Some(_)) => {}
                }
                Action::Transition { workflow, transition }
            }
            "digest" => {
                if site.workflow.is_some() {
                    self.issue("", "digest", "a digest lists the records a cron trigger picked; a workflow acts on one record: use notify", "汇总（digest）列出定时规则选出的多条记录，而流程只处理一条记录：请改用通知（notify）");
                }
                let o = self.object(body, &at, &["to", "message", "title", "email", "limit"], &["to"])?;
                let to = self.recipient(o.get("to")?, &format!("{at}/to"), site, catalog)?;
                let message = o.get("message").and_then(|m| self.message_key(m, &format!("{at}/message"), catalog));
                let title = o.get("title").and_then(|t| self.template(t, &format!("{at}/title")));
                if message.is_none() && title.is_none() {
                    self.issue(&at, "required", "a digest needs a 'message' (a message key) or a 'title'", "汇总需要消息模板（message）或标题（title）");
                }
                let email = match o.get("email") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(v) => {
                        self.issue(&format!("{at}/email"), "type", format!("must be true or false, not {v}"), format!("只能是 true 或 false，不能是 {v}"));
                        false
                    }
                };
                let limit = match o.get("limit") {
                    None => DIGEST_LIMIT,
                    Some(v) => match v.as_u64().filter(|n| (1..=1000).contains(n)) {
                        Some(n) => n as usize,
                        None => {
                            self.issue(&format!("{at}/limit"), "range", format!("must be a whole number from 1 to 1000, not {v}"), format!("须为 1 到 1000 的整数，不能是 {v}"));
                            DIGEST_LIMIT
                        }
                    },
                };
                Action::Digest(DigestSpec { to, message, title, email, limit })
            }
            "assign" => {
                let o = self.object(body, &at, &["role", "script", "user"], &[])?;
                let by: Vec<&str> = ["role", "script", "user"].into_iter().filter(|k| o.contains_key(*k)).collect();
                if by.len() != 1 {
                    self.issue(&at, "assign", "assign by exactly one of: role (take turns), script (a rule), user", "分配方式只能选一种：role（角色内轮流）、script（规则脚本）或 user（指定用户）");
                    return None;
                }
                let here = format!("{at}/{}", by[0]);
                let v = &o[by[0]];
                Action::Assign(match by[0] {
                    "role" => {
                        let role = self.text(v, &here)?.to_owned();
                        if let Some(c) = catalog
                            && !c.roles.contains(&role.as_str())
                        {
                            self.issue(&here, "role", format!("there is no role '{role}'; roles are {}", c.roles.join(", ")), format!("没有角色「{role}」；可用的角色有：{}", c.roles.join("、")));
                        }
                        Assign::RoundRobin(role)
                    }
                    "script" => Assign::Script(self.script(v, &here)?),
                    _ => Assign::User(self.text(v, &here)?.to_owned()),
                })
            }
            _ => unreachable!("kinds are listed in KINDS"),
        })
    }
}

/// Parses a list of actions at `pointer` (e.g. `/states/won/on_enter`).
pub fn parse_actions(list: &[Value], pointer: &str, site: Site<'_>, catalog: Option<Catalog<'_>>, issues: &mut Vec<Issue>) -> Vec<Action> {
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let at = format!("{pointer}/{i}");
        let mut reader = Reader { pointer: &at, issues };
        out.extend(reader.action(v, site, catalog));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> (Vec<Action>, Vec<Issue>) {
        let mut issues = Vec::new();
        let list = v.as_array().unwrap().clone();
        let actions = parse_actions(&list, "/on_enter", Site { form: "customer", workflow: Some("pipeline") }, None, &mut issues);
        (actions, issues)
    }

    #[test]
    fn reads_every_kind() {
        let (actions, issues) = parse(json!([
            {"notify": "manager", "message": "escalation"},
            {"email": {"to": "field:email", "message": "welcome"}},
            {"webhook": {"url": "https://qyapi.weixin.qq.com/x", "format": "wecom"}},
            {"create_task": {"title": "回访 {{ record.name }}", "assignee": "role:staff", "due": "2d", "form": "revisit"}},
            {"set": {"stage": "\"won\""}},
            {"create_record": {"form": "complaint", "data": {"reason": "record.feedback"}}},
            {"start_workflow": "revisit_plan"},
            {"transition": {"transition": "close"}},
            {"assign": {"role": "staff"}},
        ]));
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(actions.len(), 9);
        assert!(matches!(&actions[3], Action::CreateTask(t) if t.due == Some(SignedDuration::from_hours(48))));
    }

    #[test]
    fn problems_point_at_the_action_and_key() {
        let (_, issues) = parse(json!([
            {"notify": "nobody"},
            {"set": {"x": "1 +"}},
            {"create_task": {"title": "{{ x", "assignee": "owner", "due": "soon"}},
            {"assign": {"role": "staff", "user": "a@b.c"}},
            {"notify": "owner", "set": {}},
            {"launch": true},
        ]));
        let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        assert!(pointers.contains(&"/on_enter/0/notify"), "{issues:?}");
        assert!(pointers.contains(&"/on_enter/1/set/x"), "{issues:?}");
        assert!(pointers.contains(&"/on_enter/2/create_task/title"), "{issues:?}");
        assert!(pointers.contains(&"/on_enter/2/create_task/due"), "{issues:?}");
        assert!(pointers.contains(&"/on_enter/3/assign"), "{issues:?}");
        assert!(pointers.contains(&"/on_enter/4"), "{issues:?}");
        assert!(pointers.contains(&"/on_enter/5"), "{issues:?}");
    }

    #[test]
    fn recipients() {
        assert_eq!(Recipient::parse("role:manager").unwrap(), Recipient::Role("manager".into()));
        assert_eq!(Recipient::parse("li@example.com").unwrap(), Recipient::User("li@example.com".into()));
        assert!(Recipient::parse("role:").is_err());
    }
}

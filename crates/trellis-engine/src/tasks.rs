//! Tasks, notifications and the outbox as people see them.
//!
//! A task belongs to one user, or waits for every user of a role until one
//! completes it or it is reassigned. Staff see their own tasks (and their
//! role's); managers and admins may look at anyone's. Completing a task
//! that names a form stores the outcome as a record of that form, linked to
//! the task's customer, through the full write path — so the outcome's own
//! workflows run (an NPS of 6 opens a complaint).

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use trellis_core::{HistoryEntry, Issue};
use trellis_store::{Comment, Delivery, Notification, Task, TaskQuery};
use uuid::Uuid;

use crate::flow::{Flow, link_back};
use crate::{Actor, Engine, EngineError, Result, Role};

/// Longest list answered at once.
const MAX_LIMIT: i64 = 500;

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// `me` (the default), `all` (managers and admins), or a user's email or id.
    pub assignee: Option<String>,
    /// `open` (the default), `done`, `cancelled` or `any`.
    pub status: Option<String>,
    pub due_before: Option<String>,
    pub due_after: Option<String>,
    pub record: Option<Uuid>,
    pub limit: Option<i64>,
}

/// A task with its people spelled out.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub assignee: Option<String>,
    pub assignee_role: Option<String>,
    pub status: String,
    pub due_at: Option<Timestamp>,
    pub overdue: bool,
    pub form: Option<String>,
    pub record_form: Option<String>,
    pub record_id: Option<Uuid>,
    pub instance_id: Option<Uuid>,
    pub outcome_id: Option<Uuid>,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub completed_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommentView {
    pub id: Uuid,
    pub author: Option<String>,
    pub body: String,
    pub at: Timestamp,
}

/// A task with its comments and the history of its record (a handoff carries the whole story).
#[derive(Debug, Clone, Serialize)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub task: TaskView,
    pub comments: Vec<CommentView>,
    pub history: Vec<HistoryView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    pub rev: i64,
    pub op: &'static str,
    pub actor: Uuid,
    pub actor_email: Option<String>,
    pub at: Timestamp,
    pub changes: serde_json::Map<String, Value>,
}

impl From<HistoryEntry> for HistoryView {
    fn from(h: HistoryEntry) -> Self {
        HistoryView { rev: h.rev, op: h.op.as_str(), actor: h.actor, actor_email: h.actor_email, at: h.at, changes: h.changes }
    }
}

fn parse_time(param: &'static str, s: &str) -> Result<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| EngineError::BadRequest { param, message: format!("'{s}' is not a date (2026-01-31) or an RFC 3339 time") })
}

impl Engine {
    async fn email_of(&self, id: Option<Uuid>) -> Result<Option<String>> {
        match id {
            Some(id) => Ok(self.store.find_user(&id.to_string()).await?.map(|u| u.email)),
            None => Ok(None),
        }
    }

    async fn task_view(&self, t: Task) -> Result<TaskView> {
        let now = self.clock.now();
        Ok(TaskView {
            assignee: self.email_of(t.assignee).await?,
            completed_by: self.email_of(t.completed_by).await?,
            overdue: t.status == "open" && t.due_at.is_some_and(|d| d < now),
            id: t.id,
            title: t.title,
            description: t.description,
            assignee_role: t.assignee_role,
            status: t.status,
            due_at: t.due_at,
            form: t.form,
            record_form: t.record_form,
            record_id: t.record_id,
            instance_id: t.instance_id,
            outcome_id: t.outcome_id,
            created_at: t.created_at,
            completed_at: t.completed_at,
        })
    }

    /// Whether `actor` may see and work on `t`: it is theirs or their role's, or they lead (managers, admins).
    fn may_work(actor: &Actor, t: &Task) -> bool {
        t.assignee == Some(actor.id)
            || (t.assignee.is_none() && t.assignee_role.as_deref() == Some(actor.role.as_str()))
            || matches!(actor.role, Role::Admin | Role::Manager)
    }

    /// Whether `actor` may cancel or hand on `t`: their own task, or they lead.
    fn may_manage(actor: &Actor, t: &Task) -> bool {
        t.assignee == Some(actor.id) || matches!(actor.role, Role::Admin | Role::Manager)
    }

    async fn visible_task(&self, actor: &Actor, id: Uuid) -> Result<Task> {
        let missing = || EngineError::NotFound(format!("there is no task {id}"));
        let t = self.store.task(id).await?.ok_or_else(missing)?;
        if !Self::may_work(actor, &t) {
            return Err(missing());
        }
        Ok(t)
    }

    /// Locks an open task `actor` may work on; with `handing`, one they may also
    /// cancel or hand on (its assignee, a manager, an admin), else 403 naming `handing`.
    async fn open_task(tx: &mut trellis_store::Tx, actor: &Actor, id: Uuid, handing: Option<&str>) -> Result<Task> {
        let t = tx.task_for_update(id).await?.filter(|t| Self::may_work(actor, t)).ok_or_else(|| EngineError::NotFound(format!("there is no task {id}")))?;
        if let Some(verb) = handing
            && !Self::may_manage(actor, &t)
        {
            return Err(EngineError::Forbidden(format!("a task for a role is {verb} by a manager or an admin; {} is {}", actor.email, actor.role.as_str())));
        }
        if t.status != "open" {
            let zh = if t.status == "done" { "这个任务已经完成了" } else { "这个任务已经取消了" };
            return Err(EngineError::Conflict { zh: Some(zh.into()), message: format!("the task is already {}", t.status), key: None });
        }
        Ok(t)
    }

    /// Tasks by due date (no due date last).
    pub async fn list_tasks(&self, actor: &Actor, f: &TaskFilter) -> Result<Vec<TaskView>> {
        let mut q = TaskQuery { limit: f.limit.unwrap_or(100).clamp(1, MAX_LIMIT), record_id: f.record, ..TaskQuery::default() };
        q.for_user = match f.assignee.as_deref().unwrap_or("me") {
            "me" => Some((actor.id, actor.role.as_str().to_owned())),
            "all" if matches!(actor.role, Role::Admin | Role::Manager) => None,
            "all" => return Err(EngineError::Forbidden(format!("only managers and admins may list everyone's tasks; {} is {}", actor.email, actor.role.as_str()))),
            other => {
                let u = self.store.find_user(other).await?.ok_or_else(|| EngineError::BadRequest { param: "assignee", message: format!("there is no user '{other}'") })?;
                if u.id != actor.id && !matches!(actor.role, Role::Admin | Role::Manager) {
                    return Err(EngineError::Forbidden(format!("only managers and admins may list another user's tasks; {} is {}", actor.email, actor.role.as_str())));
                }
                Some((u.id, u.role))
            }
        };
        q.status = match f.status.as_deref().unwrap_or("open") {
            "any" => None,
            s @ ("open" | "done" | "cancelled") => Some(s.to_owned()),
            other => return Err(EngineError::BadRequest { param: "status", message: format!("status '{other}' is not one of open, done, cancelled, any") }),
        };
        q.due_before = f.due_before.as_deref().map(|s| parse_time("due_before", s)).transpose()?;
        q.due_after = f.due_after.as_deref().map(|s| parse_time("due_after", s)).transpose()?;
        let mut out = Vec::new();
        for t in self.store.tasks(&q).await? {
            out.push(self.task_view(t).await?);
        }
        Ok(out)
    }

    pub async fn task_detail(&self, actor: &Actor, id: Uuid) -> Result<TaskDetail> {
        let t = self.visible_task(actor, id).await?;
        self.detail_of(actor, t).await
    }

    /// A task with its comments and its record's history: the assignee
    /// sees the history even outside their read scope (the task is theirs to
    /// work), but never the fields hidden from their role.
    async fn detail_of(&self, actor: &Actor, t: Task) -> Result<TaskDetail> {
        let id = t.id;
        let history = match (t.record_id, &t.record_form) {
            // A form removed since (its pack uninstalled) takes its rules along: no history to show.
            (Some(r), Some(form)) => match self.form(form).await {
                Ok(f) => self.grant(actor, &f).await?.redact_history(self.store.history(r).await?).into_iter().map(HistoryView::from).collect(),
                Err(EngineError::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e),
            },
            _ => Vec::new(),
        };
        let comments = self.store.comments(id).await?.into_iter().map(|c: Comment| CommentView { id: c.id, author: c.author_email, body: c.body, at: c.at }).collect();
        Ok(TaskDetail { task: self.task_view(t).await?, comments, history })
    }

    /// Completes an open task. A task with a form needs `data` for it: the
    /// outcome record is created (linked to the task's record) and its
    /// workflows run, all in one transaction with the completion.
    pub async fn complete_task(&self, actor: &Actor, id: Uuid, data: Option<Value>) -> Result<TaskDetail> {
        let mut tx = self.store.begin().await?;
        let mut t = Self::open_task(&mut tx, actor, id, None).await?;
        let now = self.clock.now();
        match (&t.form, data) {
            (Some(form), Some(data)) => {
                let target = self.form(form).await?;
                let Value::Object(mut values) = data else {
                    return Err(EngineError::Invalid(vec![Issue::new("/data", "type", format!("the outcome is an object of the fields of form '{form}'")).zh("任务的结果格式不对")]));
                };
                // The outcome is a record like any other: the completer's role must be allowed to write it.
                let grant = self.grant(actor, &target).await?;
                grant.require_create()?;
                let refused = grant.access.refused_fields(&values, "/data");
                if !refused.is_empty() {
                    return Err(EngineError::Refused(refused));
                }
                if let (Some(rf), Some(rid)) = (&t.record_form, t.record_id)
                    && let Some(source) = tx.record_for_update(rf, rid).await?
                {
                    link_back(&target, &mut values, &source);
                }
                let (outcome, written) = self.create_in(&mut tx, actor.id, actor.id, &target, Value::Object(values), now).await.map_err(|e| match e {
                    EngineError::Invalid(issues) => EngineError::Invalid(issues.into_iter().map(|i| i.prefixed("/data")).collect()),
                    e => e,
                })?;
                t.outcome_id = Some(outcome.id);
                let mut flow = Flow::new(self, actor.id, now).await?;
                flow.extend(written);
                flow.settle(&mut tx).await?;
            }
            (Some(form), None) => {
                return Err(EngineError::Invalid(vec![Issue::new("/data", "required", format!("this task is completed by filling in form '{form}'; send its fields as data")).zh("完成这个任务要先填写它的表单")]));
            }
            (None, Some(_)) => return Err(EngineError::Invalid(vec![Issue::new("/data", "unknown", "this task has no form to fill; complete it without data").zh("这个任务没有要填写的表单")])),
            (None, None) => {}
        }
        t.status = "done".into();
        t.completed_at = Some(now);
        t.completed_by = Some(actor.id);
        t.updated_at = now;
        tx.update_task(&t).await?;
        tx.commit().await?;
        self.task_detail(actor, id).await
    }

    /// Takes back a completion (the 撤销 after 完成): the task is open again.
    /// Only its completer, a manager or an admin may, and only when completing
    /// it wrote nothing else — an outcome record is a record of its own, with
    /// its own history and reactions, deleted (and restored) as records are.
    pub async fn reopen_task(&self, actor: &Actor, id: Uuid) -> Result<TaskDetail> {
        let mut tx = self.store.begin().await?;
        let mut t = tx.task_for_update(id).await?.filter(|t| Self::may_work(actor, t)).ok_or_else(|| EngineError::NotFound(format!("there is no task {id}")))?;
        if t.status != "done" {
            return Err(EngineError::Conflict { zh: Some("只有已完成的任务才能撤销完成".into()), message: format!("the task is {}, not done", t.status), key: None });
        }
        if t.outcome_id.is_some() {
            return Err(EngineError::Conflict {
                zh: Some("完成这个任务时填写了一条记录；要撤销，请删除那条记录".into()),
                message: "completing the task created an outcome record; delete that record instead".into(),
                key: None,
            });
        }
        if t.completed_by != Some(actor.id) && !matches!(actor.role, Role::Admin | Role::Manager) {
            return Err(EngineError::Forbidden(format!("only whoever completed the task, a manager or an admin may reopen it; {} did not", actor.email)));
        }
        t.status = "open".into();
        t.completed_at = None;
        t.completed_by = None;
        t.updated_at = self.clock.now();
        tx.update_task(&t).await?;
        tx.commit().await?;
        self.task_detail(actor, id).await
    }

    /// Cancels an open task (managers and admins, or its assignee).
    pub async fn cancel_task(&self, actor: &Actor, id: Uuid) -> Result<TaskDetail> {
        let mut tx = self.store.begin().await?;
        let mut t = Self::open_task(&mut tx, actor, id, Some("cancelled")).await?;
        t.status = "cancelled".into();
        t.updated_at = self.clock.now();
        tx.update_task(&t).await?;
        tx.commit().await?;
        self.task_detail(actor, id).await
    }

    /// Gives an open task to another user, who is notified.
    pub async fn reassign_task(&self, actor: &Actor, id: Uuid, to: &str) -> Result<TaskDetail> {
        let user = self.store.find_user(to).await?.ok_or_else(|| EngineError::Invalid(vec![Issue::new("/assignee", "user", format!("there is no user with email or id '{to}'")).zh(format!("系统中没有用户「{to}」"))]))?;
        let mut tx = self.store.begin().await?;
        let mut t = Self::open_task(&mut tx, actor, id, Some("handed on")).await?;
        let now = self.clock.now();
        t.assignee = Some(user.id);
        t.assignee_role = None;
        t.updated_at = now;
        tx.update_task(&t).await?;
        tx.insert_comment(&Comment { id: Uuid::now_v7(), task_id: id, author: actor.id, author_email: None, body: format!("转交给 {}", user.email), at: now }).await?;
        let note = Notification {
            id: Uuid::now_v7(),
            user_id: user.id,
            title: format!("新任务：{}", t.title),
            body: format!("{} 把任务转交给了你", actor.email),
            record_form: t.record_form.clone(),
            record_id: t.record_id,
            task_id: Some(id),
            created_at: now,
            read_at: None,
        };
        tx.insert_notifications(&[note]).await?;
        tx.commit().await?;
        // Answered whether or not the actor can still see it: they may just have given it away.
        self.detail_of(actor, t).await
    }

    pub async fn comment_task(&self, actor: &Actor, id: Uuid, body: &str) -> Result<TaskDetail> {
        let body = body.trim();
        if body.is_empty() || body.chars().count() > 10_000 {
            return Err(EngineError::Invalid(vec![Issue::new("/body", "length", "a comment is 1 to 10,000 characters").zh("评论要有 1 到 10,000 个字")]));
        }
        self.visible_task(actor, id).await?;
        let mut tx = self.store.begin().await?;
        tx.insert_comment(&Comment { id: Uuid::now_v7(), task_id: id, author: actor.id, author_email: None, body: body.to_owned(), at: self.clock.now() }).await?;
        tx.commit().await?;
        self.task_detail(actor, id).await
    }

    /// The actor's notifications, newest first, with the unread count.
    pub async fn notifications(&self, actor: &Actor, unread_only: bool, limit: Option<i64>) -> Result<(Vec<Notification>, i64)> {
        let list = self.store.notifications(actor.id, unread_only, limit.unwrap_or(50).clamp(1, MAX_LIMIT)).await?;
        Ok((list, self.store.unread_count(actor.id).await?))
    }

    pub async fn mark_read(&self, actor: &Actor, id: Uuid) -> Result<()> {
        if !self.store.mark_read(actor.id, id, self.clock.now()).await? {
            return Err(EngineError::NotFound(format!("there is no notification {id} of yours")));
        }
        Ok(())
    }

    /// Marks all of my notifications read; answers how many were unread.
    pub async fn mark_all_read(&self, actor: &Actor) -> Result<u64> {
        Ok(self.store.mark_all_read(actor.id, self.clock.now()).await?)
    }

    /// The delivery outbox (admins), newest first.
    pub async fn deliveries(&self, actor: &Actor, record: Option<Uuid>, limit: Option<i64>) -> Result<Vec<Delivery>> {
        actor.require_admin("read the delivery outbox")?;
        let mut list = self.store.deliveries(record, limit.unwrap_or(100).clamp(1, MAX_LIMIT)).await?;
        let ids: Vec<Uuid> = list.iter().map(|d| d.id).collect();
        for a in self.store.attempts_of(&ids).await? {
            if let Some(d) = list.iter_mut().find(|d| d.id == a.delivery_id) {
                d.attempt_log.push(a);
            }
        }
        Ok(list)
    }
}

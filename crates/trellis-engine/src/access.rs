//! Form permissions applied to one signed-in user: what they may see and
//! change, enforced here so that every path (lists, records, history,
//! exports, imports, dashboards, notifications) asks the same question.
//!
//! A record outside a user's read scope answers "not found", as if it were
//! not there; one they can see but not change answers "forbidden".

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use trellis_core::permission::{self, Access, Action, Relation, Scope};
use trellis_core::query::{Filter, SortKey};
use trellis_core::{CompiledForm, HistoryEntry, Record};
use uuid::Uuid;

use crate::{Actor, Engine, EngineError, Result};

/// One user's access to one form, with the people their scopes reach.
#[derive(Debug, Clone)]
pub struct Grant {
    pub access: Access,
    pub user: Uuid,
    pub email: String,
    /// The user and everyone in the team they lead (for `team` scopes).
    pub team: BTreeSet<Uuid>,
    form: String,
}

impl Grant {
    pub fn relation(&self, r: &Record) -> Relation {
        Relation::of(r, self.user, &self.team)
    }

    /// Whether `action` on `r` is allowed.
    pub fn allows(&self, action: Action, r: &Record) -> bool {
        self.access.scope(action).covers(self.relation(r))
    }

    /// Refuses a record the user may not `action`. Out of read scope it is
    /// not found; readable but out of write or delete scope it is forbidden.
    pub fn check(&self, action: Action, r: &Record) -> Result<()> {
        if !self.allows(Action::Read, r) {
            return Err(EngineError::NotFound(format!("there is no record {} in form '{}'", r.id, self.form)));
        }
        if !self.allows(action, r) {
            return Err(EngineError::Forbidden(format!(
                "{} ({}) may {} only {} {} records (rule {}); record {} is {}",
                self.email,
                self.access.role,
                action.as_str(),
                scope_words(self.access.scope(action)),
                self.form,
                self.access.rule,
                r.id,
                relation_words(self.relation(r))
            )));
        }
        Ok(())
    }

    pub fn require_create(&self) -> Result<()> {
        if self.access.create {
            return Ok(());
        }
        Err(EngineError::Forbidden(format!("{} ({}) may not create {} records ({})", self.email, self.access.role, self.form, self.access.rule)))
    }

    /// Refuses a list (or count, export) the user may not make: no read
    /// scope, or a filter or sort on a field hidden from them.
    pub fn check_list(&self, filter: Option<&Filter>, sort: &[SortKey]) -> Result<()> {
        if self.access.read == Scope::None {
            return Err(EngineError::Forbidden(format!("{} ({}) may not read {} records ({})", self.email, self.access.role, self.form, self.access.rule)));
        }
        let targets = filter.map(Filter::targets).unwrap_or_default().into_iter().chain(sort.iter().map(|s| &s.target));
        if let Some(field) = self.access.hidden_target(targets) {
            return Err(EngineError::Forbidden(format!("'{field}' is hidden for role {} ({}); it cannot be filtered or sorted on", self.access.role, self.access.rule)));
        }
        Ok(())
    }

    /// A filter narrowed to the records the user may read.
    pub fn narrow(&self, filter: Option<Filter>) -> Option<Filter> {
        match (filter, permission::scope_filter(self.access.read, &self.people(self.access.read))) {
            (f, None) => f,
            (None, s) => s,
            (Some(f), Some(s)) => Some(Filter::All(vec![f, s])),
        }
    }

    fn people(&self, scope: Scope) -> BTreeSet<Uuid> {
        if scope >= Scope::Team { self.team.clone() } else { BTreeSet::from([self.user]) }
    }

    pub fn redact(&self, mut r: Record) -> Record {
        self.access.redact(&mut r);
        r
    }

    pub fn redact_history(&self, mut entries: Vec<HistoryEntry>) -> Vec<HistoryEntry> {
        for e in &mut entries {
            self.access.redact_entry(e);
        }
        entries
    }
}

fn scope_words(s: Scope) -> &'static str {
    match s {
        Scope::None => "no",
        Scope::Own => "their own",
        Scope::Team => "their team's",
        Scope::All => "all",
    }
}

/// A role as the Chinese pages name it.
fn role_zh(role: &str) -> &str {
    match role {
        "admin" => "管理员",
        "manager" => "主管",
        "staff" => "员工",
        other => other,
    }
}

/// What a scope lets a role do with records, in Chinese (`读取`, `修改`, `删除`).
fn scope_zh(s: Scope, verb: &str) -> String {
    match s {
        Scope::None => format!("不能{verb}任何记录"),
        Scope::Own => format!("可以{verb}自己的记录"),
        Scope::Team => format!("可以{verb}自己和团队的记录"),
        Scope::All => format!("可以{verb}所有记录"),
    }
}

fn relation_zh(r: Relation) -> &'static str {
    match r {
        Relation::Own => "他自己的",
        Relation::Team => "他团队的",
        Relation::Other => "既不是他的，也不是他团队的",
    }
}

fn relation_words(r: Relation) -> &'static str {
    match r {
        Relation::Own => "theirs",
        Relation::Team => "their team's",
        Relation::Other => "neither theirs nor their team's",
    }
}

/// What a user may do with a record and each of its fields, and why (`GET /api/v1/permissions/explain`).
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub user: String,
    pub role: String,
    pub form: String,
    /// Which rule decides: `/permissions/staff`, or why none applies.
    pub rule: String,
    pub record: Option<Uuid>,
    /// How the record stands to the user: own, team or other.
    pub relation: Option<&'static str>,
    pub create: bool,
    /// read, write, delete: the scope and, given a record, whether it reaches it.
    pub operations: BTreeMap<&'static str, OperationAnswer>,
    pub fields: BTreeMap<String, FieldAnswer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OperationAnswer {
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    pub why: String,
    /// `why` in Chinese ([`Explanation::in_chinese`]).
    #[serde(skip)]
    pub why_zh: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldAnswer {
    pub read: bool,
    pub write: bool,
    pub why: String,
    #[serde(skip)]
    pub why_zh: String,
}

impl Explanation {
    /// The same answers with their reasons in Chinese, for zh readers.
    pub fn in_chinese(mut self) -> Explanation {
        for o in self.operations.values_mut() {
            o.why = std::mem::take(&mut o.why_zh);
        }
        for f in self.fields.values_mut() {
            f.why = std::mem::take(&mut f.why_zh);
        }
        self
    }
}

impl Engine {
    /// `actor`'s access to `form`.
    pub async fn grant(&self, actor: &Actor, form: &CompiledForm) -> Result<Grant> {
        let access = Access::of(&form.def, actor.role.as_str());
        let needs_team = [access.read, access.write, access.delete].contains(&Scope::Team);
        let team = if needs_team {
            let managers: BTreeMap<Uuid, Uuid> = self.store.users().await?.into_iter().filter_map(|u| u.manager.map(|m| (u.id, m))).collect();
            permission::people_in_scope(Scope::Team, actor.id, &managers)
        } else {
            BTreeSet::from([actor.id])
        };
        Ok(Grant { access, user: actor.id, email: actor.email.clone(), team, form: form.key().to_owned() })
    }

    /// Explains what `user` may do with `form` (and `record`), field by field (admins).
    pub async fn explain(&self, actor: &Actor, user: &str, form: &str, record: Option<Uuid>) -> Result<Explanation> {
        actor.require_admin("explain permissions")?;
        let who = self.store.find_user(user).await?.ok_or_else(|| EngineError::NotFound(format!("there is no user '{user}'")))?;
        let who = Actor::from_user(who)?;
        let compiled = self.form(form).await?;
        let grant = self.grant(&who, &compiled).await?;
        let record = match record {
            Some(id) => Some(self.store.record(compiled.key(), id).await?.ok_or_else(|| EngineError::NotFound(format!("there is no record {id} in form '{form}'")))?),
            None => None,
        };
        let relation = record.as_ref().map(|r| grant.relation(r));
        let a = &grant.access;
        let mut operations = BTreeMap::new();
        for action in [Action::Read, Action::Write, Action::Delete] {
            let scope = a.scope(action);
            let allowed = relation.map(|rel| scope.covers(rel) && (action == Action::Read || a.read.covers(rel)));
            let why = match relation {
                None => format!("role {} may {} {} records ({})", a.role, action.as_str(), scope_words(scope), a.rule),
                Some(rel) => format!("role {} may {} {} records ({}); this record is {}", a.role, action.as_str(), scope_words(scope), a.rule, relation_words(rel)),
            };
            let verb = match action {
                Action::Read => "读取",
                Action::Write => "修改",
                Action::Delete => "删除",
            };
            let why_zh = match relation {
                None => format!("{}{}（{}）", role_zh(&a.role), scope_zh(scope, verb), a.rule),
                Some(rel) => format!("{}{}（{}）；这条记录是{}", role_zh(&a.role), scope_zh(scope, verb), a.rule, relation_zh(rel)),
            };
            operations.insert(action.as_str(), OperationAnswer { scope: scope.as_str(), allowed, why, why_zh });
        }
        let readable = relation.is_none_or(|rel| a.read.covers(rel));
        let writable = relation.is_none_or(|rel| a.write.covers(rel));
        let mut fields = BTreeMap::new();
        let keys = compiled.fields.iter().map(|f| (f.key.clone(), f.derived.is_some())).chain(compiled.def.segments.keys().map(|k| (format!("segments.{k}"), true)));
        for (key, derived) in keys {
            let role = role_zh(&a.role);
            let (read, write, why, why_zh) = if !a.sees(&key) {
                (false, false, format!("hidden for role {} ({}/hidden)", a.role, a.rule), format!("对{role}隐藏（{}/hidden）", a.rule))
            } else if a.read == Scope::None {
                (false, false, format!("role {} has no read scope ({})", a.role, a.rule), format!("{role}不能读取任何记录（{}）", a.rule))
            } else if !readable {
                (false, false, "the record is outside the read scope".to_owned(), "这条记录不在他的读取范围内".to_owned())
            } else if derived {
                (true, false, "computed by the engine; nobody writes it".to_owned(), "由系统自动计算，谁都不能填写".to_owned())
            } else if !a.writes(&key) {
                (true, false, format!("read-only for role {} ({}/readonly)", a.role, a.rule), format!("对{role}只读（{}/readonly）", a.rule))
            } else if !writable || a.write == Scope::None {
                (true, false, "the record is outside the write scope".to_owned(), "这条记录不在他的修改范围内".to_owned())
            } else {
                (true, true, format!("role {} reads and writes it ({})", a.role, a.rule), format!("{role}可以读取和修改（{}）", a.rule))
            };
            fields.insert(key, FieldAnswer { read, write, why, why_zh });
        }
        Ok(Explanation {
            user: who.email,
            role: a.role.clone(),
            form: compiled.key().to_owned(),
            rule: a.rule.clone(),
            record: record.as_ref().map(|r| r.id),
            relation: relation.map(Relation::as_str),
            create: a.create,
            operations,
            fields,
        })
    }
}

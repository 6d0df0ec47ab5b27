//! Who may do what with a form's records: rules per role in the form
//! definition (`"permissions"`), resolved for one user into an [`Access`].
//!
//! A form without `permissions` is open to every signed-in user, as before
//! permissions existed. Once it has them, a role it does not name has no
//! access at all — forgetting a role must not open the form to it. Admins
//! always have everything. Everything here is pure: the engine supplies the
//! user's team and the record, and enforces the answer on every path.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::form::FormDef;
use crate::issue::{Issue, escape_token};
use crate::query::{Filter, Lit, Meta, Target};
use crate::record::{HistoryEntry, Record};

/// Which records a rule reaches. Ordered from nothing to everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    None,
    /// Records the user owns or created.
    Own,
    /// Records owned or created by the user or anyone in the team they lead (at any depth).
    Team,
    All,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::None => "none",
            Scope::Own => "own",
            Scope::Team => "team",
            Scope::All => "all",
        }
    }

    /// Whether a record in `relation` to the user is within this scope.
    pub fn covers(self, relation: Relation) -> bool {
        match relation {
            Relation::Own => self >= Scope::Own,
            Relation::Team => self >= Scope::Team,
            Relation::Other => self == Scope::All,
        }
    }
}

fn yes() -> bool {
    true
}

fn own() -> Scope {
    Scope::Own
}

/// One role's rule, as written in a form definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    #[serde(default = "yes")]
    pub create: bool,
    #[serde(default = "own")]
    pub read: Scope,
    #[serde(default = "own")]
    pub write: Scope,
    /// Delete and restore; the write scope when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<Scope>,
    /// Fields (and `segments.KEY`) absent from every answer to this role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// Fields this role sees but may not write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readonly: Vec<String>,
}

/// The roles a form's permissions may name (admins are not among them: they always have all).
pub const RULED_ROLES: [&str; 2] = ["manager", "staff"];

/// Checks a form's permissions against its fields; problems point into the definition.
pub fn check(def: &FormDef, fields: &BTreeSet<&str>, issues: &mut Vec<Issue>) {
    for (role, rule) in &def.permissions {
        let at = format!("/permissions/{}", escape_token(role));
        if role == "admin" {
            issues.push(Issue::new(&at, "admin_rule", "admins always have every permission; leave them out of \"permissions\"").zh("管理员始终拥有全部权限，不用写进 \"permissions\""));
            continue;
        }
        if !RULED_ROLES.contains(&role.as_str()) {
            issues.push(Issue::new(&at, "unknown_role", format!("role '{role}' is not one of {}", RULED_ROLES.join(", "))).zh(format!("角色「{role}」无效，只能是 {}（主管、员工）", RULED_ROLES.join("、"))));
        }
        if rule.write > rule.read {
            issues.push(Issue::new(format!("{at}/write"), "write_beyond_read", format!("write scope '{}' reaches further than read scope '{}'; a role cannot change records it cannot see", rule.write.as_str(), rule.read.as_str())).zh(format!("修改范围「{}」超出了读取范围「{}」；角色不能修改自己看不到的记录", rule.write.as_str(), rule.read.as_str())));
        }
        if let Some(d) = rule.delete
            && d > rule.read
        {
            issues.push(Issue::new(format!("{at}/delete"), "delete_beyond_read", format!("delete scope '{}' reaches further than read scope '{}'", d.as_str(), rule.read.as_str())).zh(format!("删除范围「{}」超出了读取范围「{}」", d.as_str(), rule.read.as_str())));
        }
        for (list, keys) in [("hidden", &rule.hidden), ("readonly", &rule.readonly)] {
            for (i, k) in keys.iter().enumerate() {
                let known = match k.strip_prefix("segments.") {
                    Some(s) => list == "hidden" && def.segments.contains_key(s),
                    None => fields.contains(k.as_str()),
                };
                if !known {
                    issues.push(Issue::new(format!("{at}/{list}/{i}"), "unknown_field", format!("{list} names '{k}', which is not a field of this form")).zh(format!("{}中的「{k}」不是本表单的字段", if list == "hidden" { "隐藏字段" } else { "只读字段" })));
                }
            }
        }
    }
}

/// How a record stands to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// They own it or created it.
    Own,
    /// Someone in the team they lead owns or created it.
    Team,
    Other,
}

impl Relation {
    pub fn of(record: &Record, user: Uuid, team: &BTreeSet<Uuid>) -> Relation {
        let people = [record.owner, Some(record.created_by)];
        if people.contains(&Some(user)) {
            Relation::Own
        } else if people.iter().flatten().any(|p| team.contains(p)) {
            Relation::Team
        } else {
            Relation::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Own => "own",
            Relation::Team => "team",
            Relation::Other => "other",
        }
    }
}

/// An operation on records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
        }
    }
}

/// What one role may do with one form, and the rule that says so.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Access {
    pub role: String,
    /// Where the answer comes from: `/permissions/staff`, or why no rule applies.
    pub rule: String,
    pub create: bool,
    pub read: Scope,
    pub write: Scope,
    pub delete: Scope,
    pub hidden: BTreeSet<String>,
    pub readonly: BTreeSet<String>,
}

impl Access {
    /// The access `role` has to forms defined as `def`.
    pub fn of(def: &FormDef, role: &str) -> Access {
        let full = |rule: &str| Access {
            role: role.to_owned(),
            rule: rule.to_owned(),
            create: true,
            read: Scope::All,
            write: Scope::All,
            delete: Scope::All,
            hidden: BTreeSet::new(),
            readonly: BTreeSet::new(),
        };
        if role == "admin" {
            return full("admins have every permission");
        }
        if def.permissions.is_empty() {
            return full("the form has no permissions, so it is open to every signed-in user");
        }
        match def.permissions.get(role) {
            // Such a role still meets records in what is sent to it (a
            // notification, a task): it sees no more of them than any role may.
            None => Access {
                create: false,
                read: Scope::None,
                write: Scope::None,
                delete: Scope::None,
                hidden: Access::common(def).hidden,
                ..full(&format!("the form's permissions do not name role '{role}', so it has no access"))
            },
            Some(r) => Access {
                role: role.to_owned(),
                rule: format!("/permissions/{}", escape_token(role)),
                create: r.create,
                read: r.read,
                write: r.write,
                delete: r.delete.unwrap_or(r.write),
                hidden: r.hidden.iter().cloned().collect(),
                readonly: r.readonly.iter().cloned().collect(),
            },
        }
    }

    /// What every role may see of `def`'s records: the fields hidden from
    /// any role are hidden. For what leaves the engine (emails, webhooks),
    /// where nobody's role is checked.
    pub fn common(def: &FormDef) -> Access {
        Access {
            hidden: def.permissions.values().flat_map(|r| r.hidden.iter().cloned()).collect(),
            rule: "what leaves the engine shows only the fields no role has hidden".into(),
            ..Access::of(def, "admin")
        }
    }

    pub fn scope(&self, action: Action) -> Scope {
        match action {
            Action::Read => self.read,
            Action::Write => self.write,
            Action::Delete => self.delete,
        }
    }

    /// Whether a field (or `segments.KEY`) is seen by this role.
    pub fn sees(&self, field: &str) -> bool {
        !self.hidden.contains(field)
    }

    /// Whether this role may write a field.
    pub fn writes(&self, field: &str) -> bool {
        self.sees(field) && !self.readonly.contains(field)
    }

    /// Removes what this role may not see from a record.
    pub fn redact(&self, r: &mut Record) {
        if self.hidden.is_empty() {
            return;
        }
        r.data.retain(|k, _| self.sees(k));
        r.segments.retain(|k, _| self.sees(&format!("segments.{k}")));
    }

    /// Removes hidden fields from a history entry's changes.
    pub fn redact_entry(&self, e: &mut HistoryEntry) {
        if !self.hidden.is_empty() {
            e.changes.retain(|k, _| self.sees(k));
        }
    }

    /// The fields of a submission this role may not write, each as a problem
    /// at its pointer (`prefix` is the item's, in a batch).
    pub fn refused_fields(&self, data: &Map<String, Value>, prefix: &str) -> Vec<Issue> {
        data.keys()
            .filter(|k| !self.writes(k))
            .map(|k| {
                let (code, why) = if self.sees(k) { ("readonly", "read-only") } else { ("hidden", "hidden") };
                Issue::new(format!("{prefix}/{}", escape_token(k)), code, format!("'{k}' is {why} for role {} ({})", self.role, self.rule))
                    .zh(if code == "readonly" { format!("你的角色不能修改「{k}」") } else { format!("你的角色不能填写「{k}」") })
            })
            .collect()
    }

    /// The first field a filter or sort looks at that this role may not see.
    pub fn hidden_target<'a>(&self, targets: impl IntoIterator<Item = &'a Target>) -> Option<String> {
        targets.into_iter().filter_map(target_name).find(|n| !self.sees(n))
    }
}

fn target_name(t: &Target) -> Option<String> {
    match t {
        Target::Data(k) => Some(k.clone()),
        Target::Segment(k) => Some(format!("segments.{k}")),
        Target::Meta(_) => None,
    }
}

/// The condition that keeps a list to the records `people` own or created;
/// `None` means every record.
pub fn scope_filter(scope: Scope, people: &BTreeSet<Uuid>) -> Option<Filter> {
    if scope == Scope::All {
        return None;
    }
    let ids: Vec<Lit> = people.iter().map(|id| Lit::Id(*id)).collect();
    Some(Filter::Any(vec![
        Filter::In { target: Target::Meta(Meta::Owner), values: ids.clone(), negated: false },
        Filter::In { target: Target::Meta(Meta::CreatedBy), values: ids, negated: false },
    ]))
}

/// The people whose records `scope` reaches for `user`, given who manages
/// whom (`managers`: user → their manager). Every level of the team counts.
pub fn people_in_scope(scope: Scope, user: Uuid, managers: &BTreeMap<Uuid, Uuid>) -> BTreeSet<Uuid> {
    let mut people = BTreeSet::from([user]);
    if scope >= Scope::Team {
        loop {
            let more: Vec<Uuid> = managers.iter().filter(|(u, m)| people.contains(m) && !people.contains(u)).map(|(u, _)| *u).collect();
            if more.is_empty() {
                break;
            }
            people.extend(more);
        }
    }
    people
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn def(permissions: Value) -> FormDef {
        serde_json::from_value(json!({
            "key": "customer",
            "schema": {"type": "object", "properties": {"name": {"type": "string"}, "annual_spend": {"type": "number"}, "level": {"type": "string"}}},
            "segments": {"tier": {"kind": "label", "script": "\"A\""}},
            "permissions": permissions,
        }))
        .unwrap()
    }

    fn issues_of(d: &FormDef) -> Vec<String> {
        let fields = BTreeSet::from(["name", "annual_spend", "level"]);
        let mut issues = Vec::new();
        check(d, &fields, &mut issues);
        issues.into_iter().map(|i| format!("{} {}", i.pointer, i.code)).collect()
    }

    #[test]
    fn a_rule_names_known_roles_and_fields_and_never_writes_beyond_what_it_reads() {
        let d = def(json!({
            "admin": {},
            "boss": {},
            "staff": {"read": "own", "write": "all", "hidden": ["annual_spend", "segments.tier", "segments.nope"], "readonly": ["segments.tier", "nope"]},
            "manager": {"read": "team", "delete": "all"},
        }));
        assert_eq!(
            issues_of(&d),
            [
                "/permissions/admin admin_rule",
                "/permissions/boss unknown_role",
                "/permissions/manager/delete delete_beyond_read",
                "/permissions/staff/write write_beyond_read",
                "/permissions/staff/hidden/2 unknown_field",
                "/permissions/staff/readonly/0 unknown_field",
                "/permissions/staff/readonly/1 unknown_field",
            ]
        );
    }

    #[test]
    fn unnamed_roles_get_nothing_admins_everything_and_open_forms_stay_open() {
        let d = def(json!({"staff": {"hidden": ["annual_spend"], "readonly": ["level"]}}));
        let staff = Access::of(&d, "staff");
        assert_eq!((staff.create, staff.read, staff.write, staff.delete), (true, Scope::Own, Scope::Own, Scope::Own));
        assert_eq!(staff.rule, "/permissions/staff");
        let manager = Access::of(&d, "manager");
        assert_eq!((manager.create, manager.read), (false, Scope::None));
        assert!(manager.rule.contains("do not name role 'manager'"), "{}", manager.rule);
        assert!(!manager.sees("annual_spend"), "what is sent to an unnamed role hides what any role hides");
        assert_eq!(Access::of(&d, "admin").read, Scope::All);
        assert_eq!(Access::of(&def(json!({})), "staff").write, Scope::All);
    }

    #[test]
    fn hidden_fields_leave_records_and_history_and_cannot_be_written() {
        let d = def(json!({"staff": {"hidden": ["annual_spend", "segments.tier"], "readonly": ["level"]}}));
        let a = Access::of(&d, "staff");
        let t = jiff::Timestamp::UNIX_EPOCH;
        let mut r = Record {
            id: Uuid::nil(),
            form: "customer".into(),
            form_version: 1,
            rev: 1,
            data: json!({"name": "A", "annual_spend": 9, "level": "VIP"}).as_object().unwrap().clone(),
            segments: json!({"tier": "A"}).as_object().unwrap().clone(),
            owner: None,
            created_by: Uuid::nil(),
            updated_by: Uuid::nil(),
            created_at: t,
            updated_at: t,
            deleted_at: None,
        };
        a.redact(&mut r);
        assert_eq!(Value::Object(r.data), json!({"name": "A", "level": "VIP"}));
        assert!(r.segments.is_empty());
        let mut e = HistoryEntry { record_id: Uuid::nil(), rev: 2, op: crate::Op::Update, actor: Uuid::nil(), actor_email: None, at: t, changes: json!({"annual_spend": {"from": 1, "to": 2}, "segments.tier": {}, "name": {}}).as_object().unwrap().clone() };
        a.redact_entry(&mut e);
        assert_eq!(e.changes.keys().collect::<Vec<_>>(), ["name"]);
        let refused = a.refused_fields(json!({"name": "B", "level": "x", "annual_spend": 1}).as_object().unwrap(), "/3");
        let got: Vec<_> = refused.iter().map(|i| (i.pointer.as_str(), i.code)).collect();
        assert_eq!(got, [("/3/level", "readonly"), ("/3/annual_spend", "hidden")]);
        assert!(refused[0].message.contains("read-only for role staff"), "{}", refused[0].message);
        assert_eq!(a.hidden_target(&[Target::Data("name".into()), Target::Segment("tier".into())]), Some("segments.tier".into()));
    }

    #[test]
    fn scopes_reach_own_then_team_then_everyone() {
        let (me, report, their_report, stranger) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3), Uuid::from_u128(4));
        let managers = BTreeMap::from([(report, me), (their_report, report)]);
        assert_eq!(people_in_scope(Scope::Own, me, &managers), BTreeSet::from([me]));
        assert_eq!(people_in_scope(Scope::Team, me, &managers), BTreeSet::from([me, report, their_report]));
        assert!(!people_in_scope(Scope::Team, me, &managers).contains(&stranger));
        assert!(Scope::Team.covers(Relation::Own) && Scope::Team.covers(Relation::Team) && !Scope::Team.covers(Relation::Other));
        assert!(!Scope::Own.covers(Relation::Team) && Scope::All.covers(Relation::Other) && !Scope::None.covers(Relation::Own));
        assert!(scope_filter(Scope::All, &BTreeSet::new()).is_none());
    }
}

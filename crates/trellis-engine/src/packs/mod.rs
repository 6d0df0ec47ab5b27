//! Template packs in the engine: install, upgrade (three-way merge with the
//! definitions in force, then record migrations in resumable batches),
//! export and uninstall. Reading and checking a pack is the core's
//! (`trellis_core::pack`); this module saves what it says through the same
//! checked paths the API uses, so a pack can do nothing an admin could not.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};
use trellis_core::dashboard::{self, DashboardCatalog, DashboardDef};
use trellis_core::form::{CompiledForm, FormDef};
use trellis_core::pack::{self, Files, Pack, PackIssue, merge};
use trellis_core::{Issue, script};
use trellis_store::StoredPack;
use uuid::Uuid;

pub mod archive;
pub mod bundled;

use crate::definitions::{CALENDAR, MESSAGE, TRIGGER, WORKFLOW, tz_known};
use crate::{Actor, Engine, EngineError, Result};

pub const DASHBOARD: &str = "dashboard";
pub const ROLE: &str = "role";

/// Records migrated per transaction.
const MIGRATION_BATCH: u32 = 500;
/// Sample records written per batch.
const SAMPLE_BATCH: usize = 500;

/// How to install.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// Compute and report what would change; write nothing.
    pub dry_run: bool,
    /// Allow installing an older version over a newer one.
    pub force: bool,
    /// Load the pack's sample data (`data/`) and demo users, on a first install.
    pub sample_data: bool,
    /// The demo users' password, with `sample_data`; a random one (reported) when `None`.
    pub demo_password: Option<String>,
}

/// What happens to one definition.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub kind: String,
    pub key: String,
    /// `add`, `update`, `remove`, `unchanged`, or `keep` (changed here and left as it is).
    pub action: &'static str,
    /// For `update`: the top-level keys that change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// A definition changed both here and in the new version, differently.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionConflict {
    pub kind: String,
    pub key: String,
    #[serde(flatten)]
    pub conflict: merge::Conflict,
}

/// What an install did, or (dry run) would do.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    pub name: String,
    /// The version installed before, if any.
    pub from: Option<String>,
    pub to: String,
    pub dry_run: bool,
    pub changes: Vec<Change>,
    /// Kept local values; the new version's value is in `theirs`.
    pub conflicts: Vec<DefinitionConflict>,
    /// Migration steps run (or to run), `1.0.0-1.1.0`, with the records each changed.
    pub migrations: Vec<MigrationReport>,
    /// Sample records written, per form.
    pub sample_records: BTreeMap<String, usize>,
    pub demo_users: Vec<String>,
    /// The password of the demo users created, when it was made up here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo_password: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub step: String,
    pub form: String,
    pub migrated: i64,
}

/// Progress of long pack work, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A migration step over one form: records done of the total.
    Migrating { step: String, form: String, done: u64, total: u64 },
    /// Sample data: records written of a form's file.
    Loading { form: String, done: u64, total: u64 },
}

/// An installed pack as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledPack {
    pub name: String,
    pub version: String,
    pub title: String,
    pub description: Option<String>,
    pub definitions: Vec<String>,
    pub installed_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

fn slot(kind: &str, key: &str) -> String {
    format!("{kind}/{key}")
}

/// The problems of a pack, as one error.
pub fn invalid_pack(issues: Vec<PackIssue>) -> EngineError {
    EngineError::Pack(issues)
}

/// Reads and checks a pack's files.
pub fn read_checked(files: &Files) -> Result<Pack> {
    let pack = pack::read(files).map_err(invalid_pack)?;
    let issues = pack::check(&pack, &tz_known);
    if issues.is_empty() { Ok(pack) } else { Err(invalid_pack(issues)) }
}

/// [`read_checked`], and every message rendered once for an empty record in
/// a template worker: one that runs past a limit even then is a problem of
/// the pack, at its file (`trellis pack check` and installs both say so).
pub async fn read_tried(files: &Files, templates: &crate::templates::Templates) -> Result<Pack> {
    let pack = read_checked(files)?;
    let mut issues = Vec::new();
    for d in pack.definitions.iter().filter(|d| d.kind == pack::MESSAGE) {
        let source = d.value.get("template").and_then(Value::as_str).unwrap_or_default();
        if let Ok(message) = trellis_core::message::Message::parse(source)
            && let Err(e) = templates.trial(&message).await
        {
            issues.push(pack::PackIssue { file: d.file.clone(), line: e.line.unwrap_or(1), column: 1, message: e.message });
        }
    }
    if issues.is_empty() { Ok(pack) } else { Err(invalid_pack(issues)) }
}

impl Engine {
    /// The packs installed.
    pub async fn list_packs(&self) -> Result<Vec<InstalledPack>> {
        let mut out = Vec::new();
        for p in self.store.packs().await? {
            let manifest: pack::Manifest = serde_json::from_value(p.manifest.clone()).map_err(|e| EngineError::Internal(format!("stored pack {}: {e}", p.name)))?;
            let definitions = p.definitions.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            out.push(InstalledPack { name: p.name, version: p.version, title: manifest.title, description: manifest.description, definitions, installed_at: p.installed_at, updated_at: p.updated_at });
        }
        Ok(out)
    }

    /// The definition in force of `kind`/`key`, as a pack file holds it.
    async fn in_force(&self, kind: &str, key: &str) -> Result<Option<Value>> {
        if kind == pack::FORM {
            return match self.store.form(key).await? {
                Some(f) => Ok(Some(f.definition)),
                None => Ok(None),
            };
        }
        Ok(self.store.definition(kind, key).await?.map(|d| d.definition))
    }

    /// Installs or upgrades a pack uploaded as a `.tar.gz` or `.zip` (admins):
    /// who may install is checked before anything is unpacked, and unpacking
    /// (bounded by [`archive::MAX_UNPACKED`]) runs on the blocking pool.
    pub async fn install_archive(&self, actor: &Actor, bytes: Vec<u8>, opts: &InstallOptions, progress: &(dyn Fn(Progress) + Sync)) -> Result<InstallReport> {
        actor.require_admin("install packs")?;
        let files = tokio::task::spawn_blocking(move || archive::read_archive("upload", &bytes)).await.map_err(|e| EngineError::Internal(format!("unpacking: {e}")))??;
        self.install_pack(actor, &files, opts, progress).await
    }

    /// Installs or upgrades a pack (admins). See the module documentation and `docs/packs.md`.
    pub async fn install_pack(&self, actor: &Actor, files: &Files, opts: &InstallOptions, progress: &(dyn Fn(Progress) + Sync)) -> Result<InstallReport> {
        actor.require_admin("install packs")?;
        let pack = read_tried(files, self.templates()).await?;
        let name = pack.manifest.name.clone();
        let installed = self.store.pack(&name).await?;
        let from = match &installed {
            Some(p) => Some(semver::Version::parse(&p.version).map_err(|e| EngineError::Internal(format!("stored pack {name}: {e}")))?),
            None => None,
        };
        if let Some(f) = &from
            && *f > pack.version
            && !opts.force
        {
            return Err(EngineError::Conflict { zh: None, message: format!("pack {name} {f} is installed; installing the older {} is refused unless forced", pack.version), key: None });
        }
        let base: Map<String, Value> = installed.as_ref().and_then(|p| p.definitions.as_object().cloned()).unwrap_or_default();

        // The merge: for each definition the new version ships, and each the old one shipped.
        let mut report = InstallReport { name: name.clone(), from: from.as_ref().map(ToString::to_string), to: pack.version.to_string(), dry_run: opts.dry_run, changes: vec![], conflicts: vec![], migrations: vec![], sample_records: BTreeMap::new(), demo_users: vec![], demo_password: None };
        let mut plan: Vec<(&'static str, String, Option<Value>)> = Vec::new();
        let mut shipped = Map::new();
        for kind in pack::INSTALL_ORDER {
            for d in pack.definitions.iter().filter(|d| d.kind == *kind) {
                let at = slot(kind, &d.key);
                let theirs = normalized(kind, &d.value)?;
                shipped.insert(at.clone(), theirs.clone());
                let local = self.in_force(kind, &d.key).await?;
                let (merged, conflicts) = merge::merge(base.get(&at), local.as_ref(), Some(&theirs));
                report.conflicts.extend(conflicts.into_iter().map(|c| DefinitionConflict { kind: kind.to_string(), key: d.key.clone(), conflict: c }));
                let action = match (&local, &merged) {
                    (None, Some(_)) => "add",
                    // What is in force stays: the pack's own (unchanged) or changed here (kept).
                    (Some(l), Some(m)) if l == m => if *l == theirs { "unchanged" } else { "keep" },
                    (Some(_), Some(_)) => "update",
                    _ => "unchanged",
                };
                let fields = match (&local, &merged, action) {
                    (Some(Value::Object(l)), Some(Value::Object(m)), "update") => m.keys().chain(l.keys()).filter(|k| l.get(*k) != m.get(*k)).cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect(),
                    _ => vec![],
                };
                report.changes.push(Change { kind: kind.to_string(), key: d.key.clone(), action, fields });
                if matches!(action, "add" | "update") {
                    plan.push((kind, d.key.clone(), merged));
                }
            }
        }
        let others = self.store.packs().await?.into_iter().filter(|p| p.name != name).collect::<Vec<_>>();
        for (at, old) in &base {
            if shipped.contains_key(at) {
                continue;
            }
            let Some((kind, key)) = at.split_once('/') else { continue };
            let Some(kind) = pack::INSTALL_ORDER.iter().find(|k| **k == kind) else { continue };
            let local = self.in_force(kind, key).await?;
            // Forms are never removed by an upgrade (their records would be stranded), nor
            // what another installed pack also ships, nor what something kept still names.
            let shared = others.iter().any(|p| p.definitions.get(at).is_some());
            let action = if local.is_none() {
                "unchanged"
            } else if local.as_ref() == Some(old) && *kind != pack::FORM && !shared && !self.referenced(kind, key, &shipped).await? {
                "remove"
            } else {
                "keep"
            };
            report.changes.push(Change { kind: kind.to_string(), key: key.to_owned(), action, fields: vec![] });
            if action == "remove" {
                plan.push((kind, key.to_owned(), None));
            }
        }
        let steps: Vec<&pack::Migration> = from.as_ref().map(|f| pack.migrations_from(f)).unwrap_or_default();
        let chain = match (&from, steps.is_empty()) {
            (Some(f), false) => Some(Chain::compile(f, &pack.version, &steps)?),
            _ => None,
        };
        if opts.dry_run {
            if let Some(c) = &chain {
                report.migrations.push(MigrationReport { step: c.key.clone(), form: "*".into(), migrated: 0 });
            }
            return Ok(report);
        }

        // Forms first, all together; then records move to their new shape; then
        // what reads records (workflows, triggers: their schedules see migrated data).
        let forms: Vec<FormDef> = plan
            .iter()
            .filter(|(k, _, v)| *k == pack::FORM && v.is_some())
            .map(|(_, key, v)| serde_json::from_value(v.clone().unwrap_or_default()).map_err(|e| EngineError::Invalid(vec![Issue::new(format!("/forms/{key}"), "definition", e.to_string())])))
            .collect::<Result<_>>()?;
        self.save_forms(actor, forms).await?;
        for (kind, key, value) in plan.iter().filter(|(k, _, v)| matches!(*k, pack::CALENDAR | pack::ROLE) && v.is_some()) {
            self.apply(actor, kind, key, value.clone()).await?;
        }
        let form_keys: Vec<String> = pack.definitions.iter().filter(|d| d.kind == pack::FORM).map(|d| d.key.clone()).collect();
        if let Some(chain) = &chain {
            for form in &form_keys {
                let mut migrated = 0;
                for trash in [false, true] {
                    migrated += self.migrate_form(actor, &name, chain, form, trash, progress).await?;
                }
                report.migrations.push(MigrationReport { step: chain.key.clone(), form: form.clone(), migrated });
            }
        }
        for kind in [pack::MESSAGE, pack::WORKFLOW, pack::TRIGGER, pack::DASHBOARD] {
            // Workflows start and move each other: save those whose references exist, then the rest, until none is left.
            let mut pending: Vec<&(&'static str, String, Option<Value>)> = plan.iter().filter(|(k, _, v)| *k == kind && v.is_some()).collect();
            while !pending.is_empty() {
                let mut left = Vec::new();
                let mut last = None;
                for item in &pending {
                    match self.apply(actor, item.0, &item.1, item.2.clone()).await {
                        Ok(()) => {}
                        Err(EngineError::Invalid(issues)) if kind == pack::WORKFLOW && issues.iter().all(|i| i.code == "workflow") => {
                            left.push(*item);
                            last = Some(EngineError::Invalid(issues));
                        }
                        Err(e) => return Err(e),
                    }
                }
                if left.len() == pending.len() {
                    return Err(last.unwrap_or_else(|| EngineError::Internal("workflows refer to each other in a circle".into())));
                }
                pending = left;
            }
        }
        // Removals last, dependents first, once what replaces them is in place.
        for kind in pack::INSTALL_ORDER.iter().rev() {
            for (k, key, _) in plan.iter().filter(|(k, _, v)| k == kind && v.is_none()) {
                self.apply(actor, k, key, None).await?;
            }
        }
        // Migrated records' moments move with their data, for the triggers the upgrade left alone too.
        if chain.is_some() {
            let saved: std::collections::BTreeSet<&str> = plan.iter().filter(|(k, _, _)| *k == pack::TRIGGER).map(|(_, key, _)| key.as_str()).collect();
            let stale: Vec<String> = self.defs().await?.triggers.values().filter(|t| form_keys.contains(&t.def.form) && !saved.contains(t.key())).map(|t| t.key().to_owned()).collect();
            for key in stale {
                self.reschedule(&key).await?;
            }
        }
        let now = self.clock.now();
        let stored = StoredPack {
            name: name.clone(),
            version: pack.version.to_string(),
            manifest: serde_json::to_value(&pack.manifest).map_err(|e| EngineError::Internal(e.to_string()))?,
            definitions: Value::Object(shipped),
            installed_at: installed.as_ref().map_or(now, |p| p.installed_at),
            updated_at: now,
        };
        if installed.as_ref().is_none_or(|p| p.version != stored.version || p.definitions != stored.definitions || p.manifest != stored.manifest) {
            let mut tx = self.store.begin().await?;
            tx.save_pack(&stored).await?;
            let from = installed.as_ref().map(|p| p.version.clone());
            tx.audit(&self.audit_entry(Some(actor), "pack_installed", Some(name.clone()), serde_json::json!({"from": from, "to": stored.version}))).await?;
            // The migrations to this version are done: a later upgrade starts its own afresh.
            tx.clear_pack_migrations(&name).await?;
            tx.commit().await?;
        }
        // Sample data last, once the pack is recorded: a failure leaves an installed pack, not a half one.
        if opts.sample_data && installed.is_none() {
            self.load_sample(actor, &pack, opts, progress, &mut report).await?;
            self.refresh_statistics();
        }
        tracing::info!(pack = %name, from = ?report.from, to = %report.to, actor = %actor.email, "pack installed");
        Ok(report)
    }

    /// Saves (or, with `None`, removes) one definition through its checked path.
    async fn apply(&self, actor: &Actor, kind: &str, key: &str, value: Option<Value>) -> Result<()> {
        let Some(value) = value else {
            let mut tx = self.store.begin().await?;
            tx.delete_definition(kind, key).await?;
            if kind == TRIGGER {
                tx.clear_schedules(key, self.clock.now()).await?;
            }
            tx.commit().await?;
            self.defs.forget();
            return Ok(());
        };
        let at = |e: EngineError| match e {
            EngineError::Invalid(issues) => EngineError::Invalid(issues.into_iter().map(|i| i.prefixed(&format!("/{kind}s/{key}"))).collect()),
            e => e,
        };
        match kind {
            WORKFLOW => self.save_workflow(actor, Some(key), value, false).await.map(drop),
            TRIGGER => self.save_trigger(actor, Some(key), value, false).await.map(drop),
            MESSAGE => self.save_message(actor, Some(key), value, false).await.map(drop),
            CALENDAR => self.save_calendar(actor, Some(key), value, false).await.map(drop),
            DASHBOARD => self.save_dashboard(actor, Some(key), value, false).await.map(drop),
            ROLE => self.save_role(actor, key, value).await,
            other => Err(EngineError::Internal(format!("a pack cannot save a {other}"))),
        }
        .map_err(at)
    }

    /// Saves a role's title and description (admins). Only the built-in roles exist.
    async fn save_role(&self, actor: &Actor, key: &str, value: Value) -> Result<()> {
        actor.require_admin("change roles")?;
        if !trellis_core::workflow::BUILT_IN_ROLES.contains(&key) {
            return Err(EngineError::Invalid(vec![Issue::new("/key", "role", format!("role '{key}' is not one of admin, manager, staff"))]));
        }
        self.store_definition(actor, ROLE, key, value, false).await.map(drop)
    }

    /// Saves a dashboard (admins), checked against the forms and workflows in force.
    pub async fn save_dashboard(&self, actor: &Actor, url_key: Option<&str>, body: Value, create: bool) -> Result<(trellis_store::StoredDefinition, bool)> {
        actor.require_admin("change dashboards")?;
        let body = crate::definitions::keyed(DASHBOARD, url_key, body)?;
        let def: DashboardDef = serde_json::from_value(body.clone()).map_err(|e| EngineError::Invalid(vec![Issue::new("", "definition", e.to_string())]))?;
        let forms: HashMap<String, Arc<CompiledForm>> = self.all_forms().await?.into_iter().map(|f| (f.key().to_owned(), f)).collect();
        let defs = self.defs().await?;
        let workflows = defs.workflows.iter().map(|(k, w)| (k.clone(), trellis_core::action::WorkflowRef { form: w.def.form.clone(), transitions: w.transitions.iter().map(|t| t.key.clone()).collect() })).collect();
        let issues = dashboard::check(&def, &DashboardCatalog { forms: &forms, workflows: &workflows });
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        self.store_definition(actor, DASHBOARD, &def.key, body, create).await
    }

    /// Runs a chain of migration steps over the records of one form (live, or
    /// with `trash` the deleted ones), in batches. Each batch is one transaction
    /// that first locks the chain's progress row for this form, reads the batch
    /// after it, migrates it and stores the new position: a killed upgrade
    /// resumes after the last batch that committed, and two installs at once
    /// take turns instead of migrating a record twice. Returns the records changed.
    async fn migrate_form(&self, actor: &Actor, pack_name: &str, chain: &Chain, form_key: &str, trash: bool, progress: &(dyn Fn(Progress) + Sync)) -> Result<i64> {
        let form = self.form(form_key).await?;
        let row = if trash { format!("{form_key}#trash") } else { form_key.to_owned() };
        let total = if trash { 0 } else { self.store.count(form_key).await?.max(0) as u64 };
        loop {
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let mut state = tx.lock_pack_migration(pack_name, &chain.key, &row).await?;
            if state.finished_at.is_some() {
                tx.commit().await?;
                return Ok(state.migrated);
            }
            let mut q = crate::sweep::batch_query(state.after);
            q.limit = MIGRATION_BATCH;
            q.deleted = trash;
            let batch = tx.list(form_key, &q).await?;
            for listed in &batch {
                let Some(prev) = tx.record_for_update(form_key, listed.id).await? else { continue };
                let input = crate::derive::input_of(&form, &prev.data);
                let next = chain.run(form_key, &prev.id, &input, now)?;
                let patch = merge_patch_between(&input, &next);
                if patch.is_empty() {
                    continue;
                }
                let written = self.patch_in(&mut tx, actor.id, &form, &prev, &Value::Object(patch), now).await.map_err(|e| match e {
                    EngineError::Invalid(issues) => EngineError::Invalid(issues.into_iter().map(|i| Issue { message: format!("record {} of form '{form_key}' after migration {}: {}", prev.id, chain.key, i.message), ..i }).collect()),
                    e => e,
                })?;
                if written.is_some() {
                    state.migrated += 1;
                }
            }
            state.after = batch.last().map(|r| r.id).or(state.after);
            if batch.len() < MIGRATION_BATCH as usize {
                state.finished_at = Some(now);
            }
            tx.save_pack_migration(&state).await?;
            tx.commit().await?;
            if !trash {
                progress(Progress::Migrating { step: chain.key.clone(), form: form_key.into(), done: state.migrated.max(0) as u64, total });
            }
            if state.finished_at.is_some() {
                return Ok(state.migrated);
            }
        }
    }

    /// Whether a definition other than those being replaced names `key` (a
    /// message, workflow or calendar an admin's kept workflow or trigger uses).
    /// Conservative: any string equal to the key counts.
    async fn referenced(&self, kind: &str, key: &str, shipped: &Map<String, Value>) -> Result<bool> {
        if !matches!(kind, MESSAGE | WORKFLOW | CALENDAR) {
            return Ok(false);
        }
        for k in [WORKFLOW, TRIGGER, DASHBOARD] {
            for d in self.store.definitions(k).await? {
                if d.key == key && d.kind == kind {
                    continue;
                }
                // A definition the new version ships is replaced by it: its names are checked when it is saved.
                if shipped.get(&slot(k, &d.key)).is_some_and(|v| *v == d.definition) {
                    continue;
                }
                if names(&d.definition, key) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Exports an installed pack: its manifest and the definitions in force
    /// (an admin's changes included), as files that install identically elsewhere.
    pub async fn export_pack(&self, actor: &Actor, name: &str) -> Result<Files> {
        actor.require_admin("export packs")?;
        let p = self.store.pack(name).await?.ok_or_else(|| EngineError::NotFound(format!("there is no pack '{name}' installed")))?;
        let manifest: pack::Manifest = serde_json::from_value(p.manifest).map_err(|e| EngineError::Internal(e.to_string()))?;
        let mut defs = Vec::new();
        for at in p.definitions.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            let Some((kind, key)) = at.split_once('/') else { continue };
            if let Some(v) = self.in_force(kind, key).await? {
                defs.push((kind.to_owned(), key.to_owned(), v));
            }
        }
        Ok(pack::write(&manifest, &defs))
    }

    /// Uninstalls a pack: removes its workflows, triggers, messages,
    /// dashboards, calendars and roles. Its forms and their records stay
    /// unless `purge`, which deletes the records (soft, as a delete does) too.
    pub async fn uninstall_pack(&self, actor: &Actor, name: &str, purge: bool) -> Result<Vec<String>> {
        actor.require_admin("uninstall packs")?;
        let p = self.store.pack(name).await?.ok_or_else(|| EngineError::NotFound(format!("there is no pack '{name}' installed")))?;
        let mut removed = Vec::new();
        let others = self.store.packs().await?.into_iter().filter(|o| o.name != name).collect::<Vec<_>>();
        // Dependents first (dashboards, triggers, workflows…), forms last: on PostgreSQL the
        // stored map comes back in its own key order, so the order is the kinds'.
        let mut slots: Vec<(usize, String)> = p
            .definitions
            .as_object()
            .map(|o| o.keys().filter_map(|at| Some((pack::INSTALL_ORDER.iter().position(|k| at.split_once('/').is_some_and(|(kind, _)| kind == *k))?, at.clone()))).collect())
            .unwrap_or_default();
        slots.sort();
        for (_, at) in slots.iter().rev() {
            let Some((kind, key)) = at.split_once('/') else { continue };
            if others.iter().any(|o| o.definitions.get(at).is_some()) {
                continue;
            }
            if kind == pack::FORM {
                if purge {
                    let form = self.form(key).await?;
                    loop {
                        let batch = self.store.list(key, &crate::sweep::batch_query(None)).await?;
                        if batch.is_empty() {
                            break;
                        }
                        for r in batch {
                            self.delete_record(actor, form.key(), r.id, None).await?;
                        }
                    }
                }
                continue;
            }
            self.apply(actor, kind, key, None).await?;
            removed.push(at.clone());
        }
        let mut tx = self.store.begin().await?;
        tx.delete_pack(name).await?;
        tx.audit(&self.audit_entry(Some(actor), "pack_uninstalled", Some(name.to_owned()), serde_json::json!({"removed": removed, "purge": purge}))).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Loads `data/users.csv` and `data/FORM.csv` through the write path:
    /// links are given by the linked record's unique key, dates move by the
    /// days from the pack's `as_of` to today.
    async fn load_sample(&self, actor: &Actor, pack: &Pack, opts: &InstallOptions, progress: &(dyn Fn(Progress) + Sync), report: &mut InstallReport) -> Result<()> {
        if let Some(users) = &pack.users {
            // A well-known password only when the caller chose it (`serve --demo`): sample
            // data loaded on a real server must not open a door everyone knows.
            let password = match &opts.demo_password {
                Some(p) => p.clone(),
                None => {
                    let p = crate::auth::random_hex(8)?;
                    report.demo_password = Some(p.clone());
                    p
                }
            };
            let rows = csv_rows(&users.file, &users.text)?;
            for row in &rows {
                let email = row.get("email").cloned().unwrap_or_default();
                if self.store.find_user(&email).await?.is_none() {
                    self.add_user(&email, row.get("name").map(String::as_str), row.get("role").map_or("staff", String::as_str), &password).await?;
                }
                report.demo_users.push(email);
            }
            for row in &rows {
                if let Some(m) = row.get("manager").filter(|m| !m.is_empty()) {
                    self.set_manager(Some(actor), &row["email"], Some(m)).await?;
                }
            }
        }
        let today = self.clock.now().to_zoned(jiff::tz::TimeZone::get(trellis_core::trigger::DEFAULT_TZ).unwrap_or(jiff::tz::TimeZone::UTC)).date();
        let shift = pack.manifest.sample_data.as_ref().and_then(|s| s.as_of.as_deref()).and_then(|d| d.parse::<jiff::civil::Date>().ok()).map_or(0, |as_of| as_of.until(today).map_or(0, |s| s.get_days() as i64));
        // Unique key value → id, per form, for the link cells of later files.
        let mut ids: HashMap<String, HashMap<String, Uuid>> = HashMap::new();
        for file in order_by_links(&pack.data, &self.all_forms().await?) {
            let form = self.form(&file.form).await?;
            let rows = csv_rows(&file.file, &file.text)?;
            let key_field = form.def.unique.iter().find(|u| u.len() == 1).map(|u| u[0].clone());
            let mut items = Vec::with_capacity(rows.len());
            for (n, row) in rows.iter().enumerate() {
                items.push(sample_item(&form, row, shift, &ids).map_err(|message| invalid_pack(vec![PackIssue { file: file.file.clone(), line: n + 2, column: 1, message }]))?);
            }
            let total = items.len() as u64;
            let mut done = 0;
            let mut written = 0;
            for (c, chunk) in items.chunks(SAMPLE_BATCH).enumerate() {
                let records = self.create_records(actor, &file.form, chunk.to_vec(), true).await.map_err(|e| match e {
                    EngineError::Invalid(issues) => invalid_pack(
                        issues
                            .into_iter()
                            .map(|i| {
                                let item: usize = i.pointer.split('/').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                                PackIssue { file: file.file.clone(), line: c * SAMPLE_BATCH + item + 2, column: 1, message: format!("{} ({})", i.message, i.pointer) }
                            })
                            .collect(),
                    ),
                    e => e,
                })?;
                if let Some(k) = &key_field {
                    let map = ids.entry(file.form.clone()).or_default();
                    for r in &records {
                        if let Some(v) = r.data.get(k) {
                            map.insert(crate::imports::cell_text(v), r.id);
                        }
                    }
                }
                written += records.len();
                done += chunk.len() as u64;
                progress(Progress::Loading { form: file.form.clone(), done, total });
            }
            report.sample_records.insert(file.form.clone(), written);
        }
        Ok(())
    }
}

/// A definition as the engine stores it: forms go through their type, which
/// fills in defaults (`title`, `ui`), so what a pack ships compares equal to
/// what is in force when nobody changed it.
fn normalized(kind: &str, v: &Value) -> Result<Value> {
    if kind != pack::FORM {
        return Ok(v.clone());
    }
    let def: FormDef = serde_json::from_value(v.clone()).map_err(|e| EngineError::Invalid(vec![Issue::new("", "definition", e.to_string())]))?;
    serde_json::to_value(def).map_err(|e| EngineError::Internal(e.to_string()))
}

/// Whether any string in `v` is `key`.
fn names(v: &Value, key: &str) -> bool {
    match v {
        Value::String(s) => s == key,
        Value::Array(a) => a.iter().any(|x| names(x, key)),
        Value::Object(o) => o.values().any(|x| names(x, key)),
        _ => false,
    }
}

/// The migration steps from the installed version to the new one, compiled,
/// run one after the other over each record before anything is written (so
/// only the new version's schema is asked to accept the result).
struct Chain {
    /// `1.0.0-1.2.0`: names the progress rows.
    key: String,
    steps: Vec<(String, script::Script)>,
}

impl Chain {
    fn compile(from: &semver::Version, to: &semver::Version, steps: &[&pack::Migration]) -> Result<Chain> {
        let mut compiled = Vec::new();
        for m in steps {
            let s = script::sandbox().compile_migration(&m.source).map_err(|e| invalid_pack(vec![PackIssue { file: m.file.clone(), line: e.line.unwrap_or(1), column: e.column.unwrap_or(1), message: e.message }]))?;
            compiled.push((m.file.clone(), s));
        }
        Ok(Chain { key: format!("{from}-{to}"), steps: compiled })
    }

    fn run(&self, form: &str, id: &Uuid, input: &Map<String, Value>, now: jiff::Timestamp) -> Result<Map<String, Value>> {
        let mut data = input.clone();
        for (file, s) in &self.steps {
            let place = |line: Option<usize>, column: Option<usize>, message: String| invalid_pack(vec![PackIssue { file: file.clone(), line: line.unwrap_or(1), column: column.unwrap_or(1), message }]);
            match script::sandbox().run_migration(s, form, &data, now) {
                Ok(Value::Null) => {}
                Ok(Value::Object(o)) => data = o,
                Ok(other) => return Err(place(None, None, format!("record {id} of form '{form}': a migration returns the record's new data (a map) or (), not {other}"))),
                Err(e) => return Err(place(e.line, e.column, format!("record {id} of form '{form}': {}", e.message))),
            }
        }
        Ok(data)
    }
}

/// The merge patch (RFC 7396) that turns `from` into `to`: nested objects
/// are diffed too, so a key removed inside one becomes `null` there.
fn merge_patch_between(from: &Map<String, Value>, to: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = Map::new();
    for (k, v) in to {
        match (from.get(k), v) {
            (Some(a), b) if a == b => {}
            (Some(Value::Object(a)), Value::Object(b)) => {
                patch.insert(k.clone(), Value::Object(merge_patch_between(a, b)));
            }
            _ => {
                patch.insert(k.clone(), v.clone());
            }
        }
    }
    for k in from.keys() {
        if !to.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    patch
}

/// Sample files ordered so that a form's file comes after the files of the forms it links to.
fn order_by_links<'a>(files: &'a [pack::DataFile], forms: &[Arc<CompiledForm>]) -> Vec<&'a pack::DataFile> {
    let links: HashMap<&str, Vec<String>> = forms.iter().map(|f| (f.key(), f.fields.iter().filter_map(|x| x.link.clone()).collect())).collect();
    let mut out: Vec<&pack::DataFile> = Vec::new();
    let mut left: Vec<&pack::DataFile> = files.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|f| {
            let ready = links.get(f.form.as_str()).is_none_or(|l| l.iter().all(|t| t == &f.form || !files.iter().any(|o| &o.form == t) || out.iter().any(|o| &o.form == t)));
            if ready {
                out.push(f);
            }
            !ready
        });
        if left.len() == before {
            out.append(&mut left);
        }
    }
    out
}

/// Reads a CSV file into rows of column → cell.
fn csv_rows(file: &str, text: &str) -> Result<Vec<BTreeMap<String, String>>> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let bad = |e: csv::Error| {
        let line = e.position().map_or(1, |p| p.line() as usize);
        invalid_pack(vec![PackIssue { file: file.into(), line, column: 1, message: format!("not valid CSV: {e}") }])
    };
    let header: Vec<String> = reader.headers().map_err(bad)?.iter().map(|h| h.trim().to_owned()).collect();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(bad)?;
        rows.push(header.iter().cloned().zip(rec.iter().map(str::to_owned)).filter(|(_, v)| !v.is_empty()).collect());
    }
    Ok(rows)
}

/// One CSV row as a record: cells typed by the form's schema, links resolved, dates shifted.
fn sample_item(form: &CompiledForm, row: &BTreeMap<String, String>, shift_days: i64, ids: &HashMap<String, HashMap<String, Uuid>>) -> std::result::Result<Value, String> {
    let props = form.def.schema.get("properties").and_then(Value::as_object);
    let mut out = Map::new();
    for (col, cell) in row {
        let schema = props.and_then(|p| p.get(col)).cloned().unwrap_or(Value::Null);
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("string");
        let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
        let value = if let Some(target) = schema.get("x-link").and_then(Value::as_str) {
            match ids.get(target).and_then(|m| m.get(cell)) {
                Some(id) => json!(id.to_string()),
                None if cell.parse::<Uuid>().is_ok() => json!(cell),
                None => return Err(format!("column '{col}': no {target} record has the key '{cell}'")),
            }
        } else {
            match ty {
                "number" => json!(cell.parse::<f64>().map_err(|_| format!("column '{col}': '{cell}' is not a number"))?),
                "integer" => json!(cell.parse::<i64>().map_err(|_| format!("column '{col}': '{cell}' is not a whole number"))?),
                "boolean" => json!(matches!(cell.as_str(), "true" | "1" | "yes")),
                "array" => {
                    let item_ty = schema.pointer("/items/type").and_then(Value::as_str).unwrap_or("string");
                    let parts = cell.split('|').map(str::trim).filter(|s| !s.is_empty());
                    if matches!(item_ty, "number" | "integer") {
                        Value::Array(parts.filter_map(|p| p.parse::<f64>().ok()).map(|f| json!(f)).collect())
                    } else {
                        Value::Array(parts.map(|p| json!(p)).collect())
                    }
                }
                _ if format == "date" && shift_days != 0 => json!(shift_date(cell, shift_days)),
                _ if format == "date-time" && shift_days != 0 => json!(shift_time(cell, shift_days)),
                _ => json!(cell),
            }
        };
        out.insert(col.clone(), value);
    }
    Ok(Value::Object(out))
}

fn shift_date(cell: &str, days: i64) -> String {
    cell.parse::<jiff::civil::Date>().ok().and_then(|d| d.checked_add(jiff::Span::new().days(days)).ok()).map_or_else(|| cell.to_owned(), |d| d.to_string())
}

fn shift_time(cell: &str, days: i64) -> String {
    cell.parse::<jiff::Timestamp>().ok().and_then(|t| t.checked_add(jiff::SignedDuration::from_hours(24 * days)).ok()).map_or_else(|| cell.to_owned(), |t| t.to_string())
}
